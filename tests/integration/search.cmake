# The search worker end to end (test_search.sh): Zipf top-k, Hangul suggestions, replay, two
# instances and SIGKILL equal one clean run, dead letters, HTTP. Included after integration.cmake
# (fragments are sorted by path), which defines shop_integration_test and the kafka_raw helper.
shop_integration_test(integration_search test_search.sh)
set_property(TEST integration_search APPEND PROPERTY ENVIRONMENT "KAFKA_RAW=$<TARGET_FILE:kafka_raw>")
