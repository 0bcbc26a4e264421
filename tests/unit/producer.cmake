# Unit tests of producers/: the producer library (librdkafka mock cluster), emit, the generator,
# the UCI retail replayer, and the installed libshopstream.
shop_unit_test(test_producer_mock SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_producer_mock.c
               LIBS shop_producer)
shop_unit_test(test_producer_emit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_producer_emit.c
               LIBS shop_producer_cli)
shop_unit_test(test_generate_stream SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_generate_stream.c
               LIBS shop_producer_cli)
shop_unit_test(test_generate_retail SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_generate_retail.c
               LIBS shop_producer_cli)

# Installs libshopstream into a scratch prefix, then builds and runs the README example against
# it, once through pkg-config and once through find_package(shopstream).
add_test(NAME test_producer_install
         COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR}
                 -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/producer_install_test
                 -DREADME=${PROJECT_SOURCE_DIR}/producers/README.md -DCC=${CMAKE_C_COMPILER}
                 -DSANITIZE=${SHOP_ASAN} -P ${PROJECT_SOURCE_DIR}/producers/cmake/install_test.cmake)
set_tests_properties(test_producer_install PROPERTIES LABELS unit TIMEOUT 300
                     SKIP_REGULAR_EXPRESSION "SKIPPED:")
shop_unit_test(test_producer_json SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_producer_json.c
               LIBS shop_producer_cli)
