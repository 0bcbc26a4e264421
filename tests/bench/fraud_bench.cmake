# Fraud worker latency: produce -> score visible in Redis (fraud:order:<id>) at a fixed order rate
# (tests/bench/bench_fraud_latency.sh prints p50/p99/p99.9); CI runs a short smoke (label bench).
add_executable(fraud_latency ${CMAKE_CURRENT_LIST_DIR}/fraud_latency.c)
target_link_libraries(fraud_latency PRIVATE shop_codec shop_common PkgConfig::RDKAFKA PkgConfig::HIREDIS Threads::Threads)
add_test(NAME bench_fraud_latency_smoke COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench_fraud_latency.sh 5)
set_tests_properties(bench_fraud_latency_smoke PROPERTIES LABELS "bench;integration" TIMEOUT 300 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>;FRAUD_LATENCY=$<TARGET_FILE:fraud_latency>")
