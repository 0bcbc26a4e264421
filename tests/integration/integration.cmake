# Integration tests: real Kafka, Redis and PostgreSQL started by deploy/stack up.
function(shop_integration_test name script)
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${script})
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT 900 RUN_SERIAL TRUE
                       ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>")
endfunction()

shop_integration_test(integration_exactly_once test_exactly_once.sh)

add_test(NAME fault_sink_outage COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_outage.sh)
set_tests_properties(fault_sink_outage PROPERTIES LABELS "fault;integration" TIMEOUT 900 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>")
shop_integration_test(integration_emit test_emit.sh)
shop_integration_test(integration_scale test_scale.sh)

add_executable(kafka_raw ${CMAKE_CURRENT_LIST_DIR}/kafka_raw.c)
target_link_libraries(kafka_raw PRIVATE PkgConfig::RDKAFKA)
add_test(NAME fault_hostile_input COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_hostile.sh)
set_tests_properties(fault_hostile_input PROPERTIES LABELS "fault;integration" TIMEOUT 600 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>;KAFKA_RAW=$<TARGET_FILE:kafka_raw>")
