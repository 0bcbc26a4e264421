# Unit tests of common/ and the consumer side (runtime pieces that need no server, workers' logic).
shop_unit_test(test_common SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_common.c LIBS shop_common)
