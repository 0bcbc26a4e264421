# Unit tests of the notification hub's pure parts (Standard Webhooks vectors, templates, quiet
# hours, backoff, allowlist).
shop_unit_test(test_notify SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_notify.c LIBS shop_notify PkgConfig::JANSSON)
target_compile_definitions(test_notify PRIVATE SHOP_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
