# Unit tests of the search worker's Space-Saving summaries (issue 3): eviction rule, error
# guarantee, Zipf top-10 over merged partition summaries, snapshot/restore determinism, dirty
# tracking and bounded memory.
shop_unit_test(test_spacesaving SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_spacesaving.c
               LIBS shop_spacesaving)
