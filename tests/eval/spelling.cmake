# Evaluation of the search worker's "did you mean" (issue 3) against Norvig's spelling test set 1,
# read from ../shared/data at run time (evaluation only: never copied into the project).
add_executable(eval_spelling ${CMAKE_CURRENT_LIST_DIR}/eval_spelling.c)
target_link_libraries(eval_spelling PRIVATE shop_trending_correct)
target_compile_definitions(eval_spelling PRIVATE SHOP_SHARED_DATA="${SHOP_SHARED_DATA}")
add_test(NAME eval_spelling COMMAND eval_spelling)
set_tests_properties(eval_spelling PROPERTIES LABELS eval SKIP_RETURN_CODE 77 TIMEOUT 300)
