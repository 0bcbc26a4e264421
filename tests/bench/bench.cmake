# Benchmarks: tests/bench/bench_foundation.sh prints the figures; CI runs a short smoke (label bench).
add_executable(raw_consume ${CMAKE_CURRENT_LIST_DIR}/raw_consume.c)
# the ceiling gets the worker's allocator too (jemalloc: raw consume 1.06-1.10M -> 1.29-1.61M/s)
target_link_libraries(raw_consume PRIVATE PkgConfig::RDKAFKA)
shop_use_malloc(raw_consume)
add_test(NAME bench_foundation_smoke COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench_foundation.sh 20000)
set_tests_properties(bench_foundation_smoke PROPERTIES LABELS "bench;integration" TIMEOUT 600 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>;RAW_CONSUME=$<TARGET_FILE:raw_consume>")
add_test(NAME bench_search_smoke COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench_search.sh 20000)
set_tests_properties(bench_search_smoke PROPERTIES LABELS "bench;integration" TIMEOUT 600 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>;RAW_CONSUME=$<TARGET_FILE:raw_consume>;WRK_SECONDS=3")
