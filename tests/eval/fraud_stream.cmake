# Fraud worker on the generator's labelled stream: precision and recall of level `high` against
# the fraud chargebacks, rules alone and rules + Isolation Forest (offline, no Kafka).
add_executable(eval_fraud_stream ${CMAKE_CURRENT_LIST_DIR}/eval_fraud_stream.c)
target_link_libraries(eval_fraud_stream PRIVATE shop_fraud shop_producer_cli shop_codec)
add_test(NAME eval_fraud_stream COMMAND eval_fraud_stream 400000 0.01)
set_tests_properties(eval_fraud_stream PROPERTIES LABELS eval TIMEOUT 300)
