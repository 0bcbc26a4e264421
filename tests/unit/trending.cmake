# Unit tests of the search worker (issue 3): so far the "did you mean" corrector (SymSpell, its
# error model, word-by-word correction, the offline `correct` command).
shop_unit_test(test_symspell SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_symspell.c
               LIBS shop_trending_correct)
# The search worker's lexicon: misspelt variants and "did you mean".
shop_unit_test(test_search_lex SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_search_lex.c LIBS shop_search)
# The search worker's Redis batch for users' recent searches, replayed on a model of the sorted
# sets against the stream's newest queries per user (no servers).
shop_unit_test(test_search_worker SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_search_worker.c
               LIBS shop_search shop_codec)
