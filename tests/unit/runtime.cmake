# Unit tests of common/ and the consumer side (runtime pieces that need no server, workers' logic).
shop_unit_test(test_common SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_common.c LIBS shop_common)
# The runtime's event checks (paths in the reasons) and event-id dedupe.
shop_unit_test(test_runtime_parts SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_runtime_parts.c
               LIBS shop_runtime)
