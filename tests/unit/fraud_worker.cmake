# Unit tests of the fraud worker's pure engine (rules, state round trip, score, validation).
shop_unit_test(test_fraud_engine SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fraud_engine.c LIBS shop_fraud shop_codec)
# `fraud train --events` (features through the worker's engine), device scope, global HyperLogLogs.
shop_unit_test(test_fraud_train SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fraud_train.c LIBS shop_fraud_worker shop_producer_cli shop_codec)
# The worker's sink bookkeeping (Redis batch per sink mask, flushed, discard, idle sweep), no servers.
shop_unit_test(test_fraud_worker SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fraud_worker.c LIBS shop_fraud_worker shop_codec)
