/* test_notify.c: the notification hub's pure parts: every Standard Webhooks vector of
 * tests/data/standard-webhooks/test_vectors.json, template escaping, quiet hours, backoff and the
 * webhook host allowlist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"

/* One verify case, built from the sign vector (the file names the cases; their inputs are the
 * reference libraries' test constants, which are the sign vector's). Returns 1 when the outcome
 * is the expected one. */
static int run_verify_case(const char *name, const char *expect, const char *hdr,
                           const char *secret, const char *id, int64_t ts, const char *payload,
                           const char *good) {
    char err[256], ts_s[32], sig[1024];
    size_t pl = strlen(payload);
    snprintf(ts_s, sizeof(ts_s), "%lld", (long long)ts);
    int rc;
    if (strstr(name, "with or without whsec_")) {
        rc = shop_wh_verify(secret, id, ts_s, good, payload, pl, ts, err, sizeof(err));
        if (!rc)
            rc = shop_wh_verify(secret + 6, id, ts_s, good, payload, pl, ts, err, sizeof(err));
    } else if (strstr(name, "multiple space-separated")) {
        const char *mark = strstr(hdr, "v1,<valid>");
        snprintf(sig, sizeof(sig), "%.*s%s%s", (int)(mark - hdr), hdr, good,
                 mark + strlen("v1,<valid>"));
        rc = shop_wh_verify(secret, id, ts_s, sig, payload, pl, ts, err, sizeof(err));
    } else if (strstr(name, "older than")) {
        rc = shop_wh_verify(secret, id, ts_s, good, payload, pl, ts + 301, err, sizeof(err));
    } else if (strstr(name, "newer than")) {
        rc = shop_wh_verify(secret, id, ts_s, good, payload, pl, ts - 301, err, sizeof(err));
    } else if (strstr(name, "missing webhook-id")) {
        int a = shop_wh_verify(secret, NULL, ts_s, good, payload, pl, ts, err, sizeof(err));
        int b = shop_wh_verify(secret, id, NULL, good, payload, pl, ts, err, sizeof(err));
        int c = shop_wh_verify(secret, id, ts_s, NULL, payload, pl, ts, err, sizeof(err));
        rc = a && b && c ? SHOP_ERR_INVALID : SHOP_OK;
    } else if (strstr(name, "garbage")) {
        rc = shop_wh_verify(secret, id, ts_s, "v1,dawfeoifkpqwoekfpqoekf", payload, pl, ts, err,
                            sizeof(err));
    } else if (strstr(name, "truncated")) {
        snprintf(sig, sizeof(sig), "%.8s", good);
        int a = shop_wh_verify(secret, id, ts_s, sig, payload, pl, ts, err, sizeof(err));
        int b = shop_wh_verify(secret, id, ts_s, "v1,", payload, pl, ts, err, sizeof(err));
        rc = a && b ? SHOP_ERR_INVALID : SHOP_OK;
    } else if (strstr(name, "empty secret")) {
        unsigned char key[64];
        rc = shop_wh_secret_decode("whsec_", key, sizeof(key), err, sizeof(err));
        return rc < 0 && !strcmp(expect, "error at construction");
    } else if (strstr(name, "non-numeric")) {
        rc = shop_wh_verify(secret, id, "1614265330a", good, payload, pl, ts, err, sizeof(err));
    } else {
        print_message("unknown verify case: %s\n", name);
        return 0;
    }
    return !strcmp(expect, "valid") ? rc == 0 : rc != 0;
}

static void test_vectors(void **state) {
    (void)state;
    json_error_t jerr;
    json_t *root = json_load_file(SHOP_TEST_DATA "/standard-webhooks/test_vectors.json", 0, &jerr);
    assert_non_null(root);
    int total = 0, passed = 0;
    json_t *sv = json_object_get(root, "sign_vectors"), *v;
    size_t i;
    char sig[128], err[256];
    const char *secret = NULL, *id = NULL, *payload = NULL, *good = NULL;
    int64_t ts = 0;
    json_array_foreach(sv, i, v) {
        secret = json_string_value(json_object_get(v, "secret"));
        id = json_string_value(json_object_get(v, "webhook_id"));
        payload = json_string_value(json_object_get(v, "payload"));
        ts = json_integer_value(json_object_get(v, "webhook_timestamp"));
        good = json_string_value(json_object_get(v, "expected_signature"));
        total++;
        int ok = !shop_wh_sign(secret, id, ts, payload, strlen(payload), sig, sizeof(sig), err,
                               sizeof(err)) &&
                 !strcmp(sig, good);
        passed += ok;
        print_message("sign vector %zu: %s (%s)\n", i, ok ? "pass" : "FAIL", sig);
    }
    assert_non_null(good);
    json_array_foreach(json_object_get(root, "verify_cases"), i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        int ok = run_verify_case(name, json_string_value(json_object_get(v, "expect")),
                                 json_string_value(json_object_get(v, "signature_header")), secret,
                                 id, ts, payload, good);
        total++;
        passed += ok;
        print_message("verify case %-70s %s\n", name, ok ? "pass" : "FAIL");
    }
    print_message("standard-webhooks vectors: %d/%d passed\n", passed, total);
    json_decref(root);
    assert_int_equal(passed, total);
    assert_true(total >= 10);
}

static const char *vars(void *ctx, const char *name) {
    (void)ctx;
    if (!strcmp(name, "title"))
        return "<script>alert('x')</script> & \"co\"";
    if (!strcmp(name, "user"))
        return "u1";
    return NULL;
}

static void test_render(void **state) {
    (void)state;
    shop_buf_t b;
    shop_buf_init(&b);
    char err[256];
    assert_int_equal(
        shop_notify_render("<p>{{ title }}</p>{{user}}", vars, NULL, &b, err, sizeof(err)), 0);
    shop_buf_append(&b, "", 1);
    assert_string_equal(b.buf, "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
                               "&quot;co&quot;</p>u1");
    shop_buf_reset(&b);
    assert_int_equal(shop_notify_render("{{{title}}}", vars, NULL, &b, err, sizeof(err)), 0);
    shop_buf_append(&b, "", 1);
    assert_string_equal(b.buf, "<script>alert('x')</script> & \"co\"");
    shop_buf_reset(&b);
    assert_int_equal(shop_notify_render("x {{nope}}", vars, NULL, &b, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_non_null(strstr(err, "nope"));
    assert_int_equal(shop_notify_render("x {{title", vars, NULL, &b, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    shop_buf_release(&b);
    /* shipped templates render with the variables the dispatcher provides */
    char *t = shop_notify_template_load(SHOP_SOURCE_DIR "/deploy/notify", "restock", "ko-KR", err,
                                        sizeof(err));
    assert_non_null(t);
    free(t);
    assert_null(shop_notify_template_load(SHOP_SOURCE_DIR "/deploy/notify", "../etc/passwd", "en",
                                          err, sizeof(err)));
}

static void test_quiet(void **state) {
    (void)state;
    int s = shop_notify_parse_hhmm("22:00"), e = shop_notify_parse_hhmm("07:30");
    assert_int_equal(s, 1320);
    assert_int_equal(e, 450);
    assert_int_equal(shop_notify_parse_hhmm("24:00"), -1);
    assert_int_equal(shop_notify_parse_hhmm("7:30"), -1);
    assert_int_equal(shop_notify_quiet_wait(21 * 60 + 59, s, e), 0);
    assert_int_equal(shop_notify_quiet_wait(22 * 60, s, e), 570);
    assert_int_equal(shop_notify_quiet_wait(0, s, e), 450);
    assert_int_equal(shop_notify_quiet_wait(450, s, e), 0); /* end is exclusive */
    assert_int_equal(shop_notify_quiet_wait(13 * 60, 12 * 60, 14 * 60), 60);
    assert_int_equal(shop_notify_quiet_wait(13 * 60, 12 * 60, 12 * 60), 0);
    assert_int_equal(shop_notify_quiet_wait(13 * 60, -1, 14 * 60), 0);
}

static void test_backoff(void **state) {
    (void)state;
    for (uint64_t r = 0; r < 1000; r += 7) {
        int64_t d1 = shop_notify_backoff_ms(1, 1000, 60000, r * 0x9e3779b97f4a7c15ULL);
        int64_t d3 = shop_notify_backoff_ms(3, 1000, 60000, r * 0x9e3779b97f4a7c15ULL);
        int64_t d20 = shop_notify_backoff_ms(20, 1000, 60000, r * 0x9e3779b97f4a7c15ULL);
        assert_true(d1 >= 500 && d1 <= 1000);
        assert_true(d3 >= 2000 && d3 <= 4000);
        assert_true(d20 >= 30000 && d20 <= 60000);
    }
    assert_int_not_equal(shop_notify_backoff_ms(5, 1000, 60000, 1),
                         shop_notify_backoff_ms(5, 1000, 60000, 12345));
}

static void test_allowlist(void **state) {
    (void)state;
    char err[256];
    const char *allow = "127.0.0.1, hooks.example.com,*.push.example.net";
    assert_true(shop_notify_url_allowed("http://127.0.0.1:8080/hook", allow, err, sizeof(err)));
    assert_true(shop_notify_url_allowed("https://HOOKS.example.com/x", allow, err, sizeof(err)));
    assert_true(shop_notify_url_allowed("https://a.push.example.net/x", allow, err, sizeof(err)));
    assert_false(
        shop_notify_url_allowed("https://push.example.net.evil.io/", allow, err, sizeof(err)));
    assert_false(
        shop_notify_url_allowed("http://hooks.example.com@evil.io/", allow, err, sizeof(err)));
    assert_false(
        shop_notify_url_allowed("http://evil.io/?hooks.example.com", allow, err, sizeof(err)));
    assert_false(shop_notify_url_allowed("file:///etc/passwd", allow, err, sizeof(err)));
    assert_false(shop_notify_url_allowed("gopher://127.0.0.1/", allow, err, sizeof(err)));
    assert_false(shop_notify_url_allowed("http://127.0.0.1/", "", err, sizeof(err)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),   cmocka_unit_test(test_render),
        cmocka_unit_test(test_quiet),     cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_allowlist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
