# Browser test of the analytics dashboard: headless Debian chromium driven by playwright-core
# (installed from npm into build/web-deps by deploy/web-deps.sh, which the test runs).
add_test(NAME browser_dashboard COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_dashboard.sh)
set_tests_properties(browser_dashboard PROPERTIES LABELS integration TIMEOUT 900 RUN_SERIAL TRUE
                     ENVIRONMENT "SHOPSTREAM_BIN=$<TARGET_FILE:shopstream>")
