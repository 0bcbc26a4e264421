/* test_producer_json.c: the fast JSON line parser agrees with jansson on every input (values and
 * error messages), and the occurred_at fast path agrees with shop_parse_time_ms(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "generate.h"
#include "producer_int.h"

/* Both parsers on the same bytes: equal values, or both failing with the same message. */
static void same_as_jansson(const char *text, size_t len) {
    json_error_t e1, e2;
    json_t *a = shop_producer_json_parse(text, len, &e1);
    json_t *b = json_loadb(text, len, 0, &e2);
    if (!a || !b) {
        if (a || b)
            fail_msg("one parser accepted: %.*s", (int)len, text);
        assert_string_equal(e1.text, e2.text);
    } else if (!json_equal(a, b)) {
        fail_msg("different values for: %.*s", (int)len, text);
    } else if (json_is_object(
                   a)) { /* json_equal says 1 == 1.0 is false, but be sure of types too */
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v)
            assert_int_equal(json_typeof(v), json_typeof(json_object_get(b, k)));
    }
    json_decref(a);
    json_decref(b);
}

static void test_cases(void **state) {
    (void)state;
    static const char *const cases[] = {
        "{}",
        " {\"a\":1} ",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":01}",
        "{\"a\":-0}",
        "{\"a\":-0.0}",
        "{\"a\":1.5e3}",
        "{\"a\":1e}",
        "{\"a\":.5}",
        "{\"a\":1.}",
        "{\"a\":9223372036854775807}",
        "{\"a\":9223372036854775808}",
        "{\"a\":-9223372036854775808}",
        "{\"a\":-9223372036854775809}",
        "{\"a\":1e400}",
        "{\"a\":1e-400}",
        "{\"a\":tru}",
        "{\"a\":true}",
        "{\"a\":nullx}",
        "{\"a\":[1,2,[3,{}]]}",
        "{\"a\":[1,]}",
        "{\"a\":[]}",
        "{\"a\":\"x\\\"y\"}",
        "{\"a\":\"\\u00e9\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"\xc3\xa9\"}",
        "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xe0\x80\xaf\"}",
        "{\"a\":\"\xf0\x9f\x98\x80\"}",
        "{\"a\":1}{",
        "{\"a\":1} x",
        "[1,2]",
        "\"str\"",
        "42",
        "",
        "   ",
        "{\"a\":1,\"a\":2}",
        "{\"빨간색\":\"선글라스\"}",
        "{\"a\":{\"b\":{\"c\":{}}}}",
        "{\"a\":\"\x7f\"}",
        "{\"a\"\n:\n1\r\n}",
        "{\"a\":-}",
        "{\"a\":-a}",
        "{\"a\":+1}",
        "{\"a\":1E+2}",
        "{\"a\":0e0}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same_as_jansson(cases[i], strlen(cases[i]));
}

/* Deeper than the fast path goes, and a raw NUL byte inside a string. */
static void test_edges(void **state) {
    (void)state;
    char deep[200];
    memset(deep, '[', 100), memset(deep + 100, ']', 100);
    char obj[210] = "{\"a\":";
    memcpy(obj + 5, deep, 200), obj[205] = '}';
    same_as_jansson(obj, 206);
    const char nul[] = "{\"a\":\"x\0y\"}";
    same_as_jansson(nul, sizeof(nul) - 1);
}

/* Generated lines, and every truncation and many single-byte corruptions of them. */
static void test_mutations(void **state) {
    (void)state;
    shop_gen_conf_t conf;
    shop_gen_conf_init(&conf);
    conf.events = 3000, conf.users = 300, conf.products = 50, conf.fraud_rate = 0.05;
    char err[256];
    shop_gen_t *g = shop_gen_new(&conf, err, sizeof(err));
    assert_non_null(g);
    shop_buf_t line;
    shop_buf_init(&line);
    shop_gen_rng_t r;
    shop_gen_rng_seed(&r, 99);
    static const char junk[] = "\"\\{}[],:0-.eE \x01\x80\xc3\xff tfn";
    int n = 0;
    while (shop_gen_next(g, &line, NULL, NULL)) {
        same_as_jansson(line.buf, line.len);
        if (n++ % 10 == 0) {
            for (size_t cut = 0; cut < line.len; cut += 7)
                same_as_jansson(line.buf, cut);
            for (int k = 0; k < 40; k++) {
                char *m = strdup(line.buf);
                m[shop_gen_rng_below(&r, (uint32_t)line.len)] =
                    junk[shop_gen_rng_below(&r, sizeof(junk) - 1)];
                same_as_jansson(m, line.len);
                free(m);
            }
        }
        shop_buf_reset(&line);
    }
    shop_buf_release(&line);
    shop_gen_destroy(g);
}

static void check_time(const char *s, int fast) {
    json_t *o = json_pack("{s:s}", "occurred_at", s);
    shop_producer_json_fast_time(o);
    json_t *v = json_object_get(o, "occurred_at");
    if (!fast) {
        assert_true(json_is_string(v));
        assert_string_equal(json_string_value(v), s);
    } else {
        int64_t want;
        assert_int_equal(shop_parse_time_ms(s, &want), 0);
        if (!json_is_integer(v))
            fail_msg("%s was not converted", s);
        assert_int_equal(json_integer_value(v), want);
    }
    json_decref(o);
}

static void test_fast_time(void **state) {
    (void)state;
    shop_gen_rng_t r;
    shop_gen_rng_seed(&r, 5);
    for (int i = 0; i < 20000; i++) {
        char buf[40];
        int64_t ms = shop_gen_rng_range(&r, 0, 4102444800000LL); /* 1970 .. 2100 */
        shop_format_time_ms(ms, buf, sizeof(buf));
        check_time(buf, 1);
        buf[19] = 'Z', buf[20] = '\0'; /* without the millis */
        check_time(buf, 1);
    }
    check_time("2024-02-29T12:00:00Z", 1);
    check_time("2000-02-29T00:00:00.999Z", 1);
    check_time("2026-02-29T00:00:00Z", 0); /* no such day: the codec decides */
    check_time("2100-02-29T00:00:00Z", 0);
    check_time("2026-13-01T00:00:00Z", 0);
    check_time("2026-11-01T24:00:00Z", 0);
    check_time("2026-11-01T00:00:60Z", 0);
    check_time("2026-11-01T00:00:00+09:00", 0);
    check_time("2026-11-01 00:00:00Z", 0);
    check_time("2026-11-01T00:00:00.5Z", 0);
    check_time("yesterday", 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_fast_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
