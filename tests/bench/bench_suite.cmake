# The benchmark suite (tests/bench/bench_suite.sh): its latency probe, and a short smoke run under
# ctest (label bench). The peers (Kafka Streams, Python) are skipped with SKIP when Maven Central or
# PyPI cannot be reached.
add_executable(latency_probe ${CMAKE_CURRENT_LIST_DIR}/latency_probe.c)
target_link_libraries(latency_probe PRIVATE shop_producer PkgConfig::HIREDIS Threads::Threads)
add_test(NAME bench_suite_smoke COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench_suite.sh 20000)
set_tests_properties(bench_suite_smoke PROPERTIES LABELS "bench;integration" TIMEOUT 1200 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>;RAW_CONSUME=$<TARGET_FILE:raw_consume>;LATENCY_PROBE=$<TARGET_FILE:latency_probe>;BENCH_SMOKE=1;BENCH_OUT=${CMAKE_BINARY_DIR}/bench-smoke")
