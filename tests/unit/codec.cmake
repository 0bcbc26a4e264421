# Unit tests of the event codec (schemas/codec): canonical form and fingerprints, decoding and
# schema evolution, the flat JSON form, Confluent framing against an in-test registry, the CLI.
shop_unit_test(test_codec_canonical SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_codec_canonical.c
               LIBS shop_codec)
shop_unit_test(test_codec_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_codec_decode.c
               LIBS shop_codec)
shop_unit_test(test_codec_json SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_codec_json.c
               LIBS shop_codec)
shop_unit_test(test_codec_registry SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_codec_registry.c
               LIBS shop_codec PkgConfig::MHD)
shop_unit_test(test_codec_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_codec_cli.c
               LIBS shop_codec_cli)
