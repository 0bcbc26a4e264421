# The recommendation model against the UCI Online Retail days in ../shared/data/retail (issue 6):
# hit rate@10 >= 1.3x popularity and nDCG@10 above it; skips (exit 77) when the folder is absent.
add_executable(eval_reco ${CMAKE_CURRENT_LIST_DIR}/eval_reco.c)
target_link_libraries(eval_reco PRIVATE shop_reco)
target_compile_definitions(eval_reco PRIVATE SHOP_SHARED_DATA="${SHOP_SHARED_DATA}")
add_test(NAME eval_reco COMMAND eval_reco)
set_tests_properties(eval_reco PROPERTIES LABELS eval SKIP_RETURN_CODE 77 TIMEOUT 300)
add_test(NAME eval_reco_cosine COMMAND eval_reco ${SHOP_SHARED_DATA}/retail cosine)
set_tests_properties(eval_reco_cosine PROPERTIES LABELS eval SKIP_RETURN_CODE 77 TIMEOUT 300)
