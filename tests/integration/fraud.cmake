# The fraud worker end to end (test_fraud.sh). Sorted before integration.cmake, so it does not use
# shop_integration_test.
add_test(NAME integration_fraud COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_fraud.sh)
set_tests_properties(integration_fraud PROPERTIES LABELS integration TIMEOUT 900 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>")
