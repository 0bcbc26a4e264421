# Unit tests of the recommendation model (consumers/recommend): incremental co-occurrence,
# partition independence, state text form, ranking and the evaluation's figures.
shop_unit_test(test_reco SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_reco.c LIBS shop_reco)
