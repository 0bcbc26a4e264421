# Unit tests of the flag storage side (consumers/flags/flag_store.c): the CLI's short form of a
# flag, evaluated by the Unleash evaluator (broker- and database-free).
shop_unit_test(test_flags_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_flags_store.c LIBS shop_flags_store)
