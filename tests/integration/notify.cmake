# The notification hub end to end (test_notify.sh): triggers to a local webhook receiver that
# verifies signatures with the reference `standardwebhooks` library (installed by the test into a
# venv under the build folder; stdlib HMAC when PyPI is unreachable). Sorted before
# integration.cmake, so it does not use shop_integration_test.
add_test(NAME integration_notify COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_notify.sh)
set_tests_properties(integration_notify PROPERTIES LABELS integration TIMEOUT 300 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>;NOTIFY_VENV=${CMAKE_BINARY_DIR}/notify-venv")
# E-mail to a local SMTP sink (aiosmtpd: Debian python3-aiosmtpd, else PyPI into the same venv,
# else a stdlib sink), quiet hours (waits up to 2 min for them to end) and bad input
# (test_notify_channels.sh).
add_test(NAME integration_notify_channels COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_notify_channels.sh)
set_tests_properties(integration_notify_channels PROPERTIES LABELS integration TIMEOUT 420 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>;NOTIFY_VENV=${CMAKE_BINARY_DIR}/notify-venv")
