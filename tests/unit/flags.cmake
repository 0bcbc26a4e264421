# Unit tests of the feature-flag library (consumers/flags): the whole Unleash client
# specification, MurmurHash3 known answers and the library's own edge cases.
shop_unit_test(test_flags_spec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_flags_spec.c LIBS shop_flags)
shop_unit_test(test_flags SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_flags.c LIBS shop_flags)
