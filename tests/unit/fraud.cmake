# Unit tests of the fraud worker's building blocks (Isolation Forest, CSV, ROC-AUC, CLI).
shop_unit_test(test_iforest SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_iforest.c LIBS shop_fraud)
