# Integration tests of the analytics worker (real Kafka, Redis, PostgreSQL from deploy/stack up).
add_test(NAME integration_analytics COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_analytics.sh)
set_tests_properties(integration_analytics PROPERTIES LABELS integration TIMEOUT 900 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>")
