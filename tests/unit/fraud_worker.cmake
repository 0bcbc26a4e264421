# Unit tests of the fraud worker's pure engine (rules, state round trip, score, validation).
shop_unit_test(test_fraud_engine SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fraud_engine.c LIBS shop_fraud shop_codec)
