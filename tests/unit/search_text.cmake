# Unit tests of the search worker's query text (issue 3): normalisation and refusals, folding, Hangul
# keystroke and initial-consonant keys, and the typed-prefix property.
shop_unit_test(test_search_text SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_search_text.c
               LIBS shop_search_text)
