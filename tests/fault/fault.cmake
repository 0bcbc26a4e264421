# The fault suite (tests/fault/fault_suite.sh): crashes, scaling, outages and hostile input against
# a clean reference run. It stops and restarts the shared stack's servers, so it runs alone. CI
# runs crashes, scaling and outages on 30,000 events for analytics and reco (the command's
# defaults are 500,000 events, every worker, every scenario; tests/fault/README.md says why search,
# fraud and the hostile scenario are not in CI yet: divergences found and not fixed). kafka_raw is defined by
# integration/integration.cmake, included later; generator expressions resolve it at generate time.
add_test(NAME fault_suite COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/fault_suite.sh)
set_tests_properties(fault_suite PROPERTIES LABELS fault TIMEOUT 1200 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>;KAFKA_RAW=$<TARGET_FILE:kafka_raw>;FAULT_EVENTS=30000;FAULT_WORKERS=analytics search fraud reco;FAULT_SCENARIOS=crash scale outage hostile")
