# Unit tests of the analytics worker's computation (sums per grain, lateness, watermarks, stock-outs,
# user sets, A/B variants, the Redis commands it emits, /metrics parsing).
shop_unit_test(test_analytics SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_analytics.c LIBS shop_workers shop_codec)
