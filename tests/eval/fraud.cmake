# Isolation Forest against the published ROC-AUC figures, one ctest (label eval) per dataset in
# ../shared/data/anomaly; each skips (exit 77) when that folder is absent, as in a fresh clone.
add_executable(eval_forest ${CMAKE_CURRENT_LIST_DIR}/eval_forest.c)
target_link_libraries(eval_forest PRIVATE shop_fraud)
foreach(ds cardio shuttle satellite mammography pima thyroid)
  add_test(NAME eval_forest_${ds} COMMAND eval_forest ${SHOP_SHARED_DATA}/anomaly ${ds})
  set_tests_properties(eval_forest_${ds} PROPERTIES LABELS eval SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
