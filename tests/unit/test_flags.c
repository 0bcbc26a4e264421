/* test_flags.c: MurmurHash3 known answers and the flags library's own edge cases: bad input,
 * unknown features, variant weights, delta events and the operand parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flags.h"
#include "flags_int.h"
#include "shop.h"

/* Reference values of MurmurHash3_x86_32 (smhasher's implementation and its commonly published
 * test vectors). */
static void test_murmur3_known_answers(void **state) {
    (void)state;
    static const struct {
        const char *key;
        size_t len;
        uint32_t seed, want;
    } kat[] = {
        {"", 0, 0, 0},
        {"", 0, 1, 0x514E28B7u},
        {"", 0, 0xffffffffu, 0x81F16F39u},
        {"\0\0\0\0", 4, 0, 0x2362F9DEu},
        {"\xff\xff\xff\xff", 4, 0, 0x76293B50u},
        {"\x21\x43\x65\x87", 4, 0, 0xF55B516Bu},
        {"\x21\x43\x65\x87", 4, 0x5082EDEEu, 0x2362F9DEu},
        {"\x21\x43\x65", 3, 0, 0x7E4A8634u},
        {"\x21\x43", 2, 0, 0xA0F7B07Au},
        {"\x21", 1, 0, 0x72661CF4u},
        {"aaaa", 4, 0x9747b28cu, 0x5A97808Au},
        {"a", 1, 0x9747b28cu, 0x7FA09EA6u},
        {"abc", 3, 0x9747b28cu, 0xC84A62DDu},
        {"abcd", 4, 0x9747b28cu, 0xF0478627u},
        {"Hello, world!", 13, 0x9747b28cu, 0x24884CBAu},
        {"The quick brown fox jumps over the lazy dog", 43, 0x9747b28cu, 0x2FA826CDu},
    };
    for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
        uint32_t got = shop_murmur3_32(kat[i].key, kat[i].len, kat[i].seed);
        if (got != kat[i].want)
            fail_msg("murmur3 vector %zu: want %08x got %08x", i, kat[i].want, got);
    }
}

/* Values from Unleash's own client tests (unleash-client-node, test/strategy/util-test.js). */
static void test_normalized_hash(void **state) {
    (void)state;
    assert_int_equal(shop_flags_normalized_hash("123", "gr1", 100, 0), 73);
    assert_int_equal(shop_flags_normalized_hash("999", "groupX", 100, 0), 25);
    assert_int_equal(shop_flags_normalized_hash("x", "g", 0, 0), 0);
    for (int i = 0; i < 1000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        uint32_t h = shop_flags_normalized_hash(id, "g", 7, SHOP_FLAGS_VARIANT_SEED);
        assert_true(h >= 1 && h <= 7);
    }
}

static void test_bad_json_rejected(void **state) {
    (void)state;
    char err[256] = "";
    assert_null(shop_flags_new_from_json("{\"features\": [", err, sizeof(err)));
    assert_non_null(strstr(err, "flags JSON"));
    err[0] = '\0';
    assert_null(shop_flags_new_from_json("[1,2]", err, sizeof(err)));
    assert_non_null(strstr(err, "not a JSON object"));
    err[0] = '\0';
    assert_null(shop_flags_new_from_json("{\"version\": 1}", err, sizeof(err)));
    assert_non_null(strstr(err, "features"));
    err[0] = '\0';
    assert_null(shop_flags_new_from_json(NULL, err, sizeof(err)));
    assert_true(err[0] != '\0');
    shop_flags_destroy(NULL);
}

static const char *basic_state =
    "{\"version\":2,\"features\":["
    " {\"name\":\"on\",\"enabled\":true,\"strategies\":[{\"name\":\"default\"}]},"
    " {\"name\":\"mystery\",\"enabled\":true,\"strategies\":[{\"name\":\"myCustomStrategy\"}]},"
    " {\"name\":\"ab\",\"enabled\":true,\"strategies\":[{\"name\":\"default\"}],"
    "  \"variants\":[{\"name\":\"A\",\"weight\":500,\"stickiness\":\"default\"},"
    "   "
    "{\"name\":\"B\",\"weight\":500,\"payload\":{\"type\":\"json\",\"value\":\"{\\\"k\\\":1}\"}}]},"
    " {\"name\":\"half\",\"enabled\":true,\"strategies\":[{\"name\":\"flexibleRollout\","
    "  \"parameters\":{\"rollout\":50,\"stickiness\":\"userId\",\"groupId\":\"half\"}}]},"
    " {\"name\":\"host\",\"enabled\":true,\"strategies\":[{\"name\":\"applicationHostname\","
    "  \"parameters\":{\"hostNames\":\"no-such-host.invalid\"}}]}"
    "]}";

static void test_unknown_and_custom(void **state) {
    (void)state;
    char err[256] = "";
    shop_flags_t *f = shop_flags_new_from_json(basic_state, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(shop_flags_count(f), 5);
    assert_true(shop_flags_has(f, "on"));
    assert_false(shop_flags_has(f, "off"));
    assert_true(shop_flags_is_enabled(f, "on", NULL));
    assert_false(shop_flags_is_enabled(f, "nope", NULL));
    assert_false(shop_flags_is_enabled(f, NULL, NULL));
    assert_false(shop_flags_is_enabled(f, "mystery", NULL)); /* unknown strategy: off */
    assert_false(shop_flags_is_enabled(f, "host", NULL));
    shop_flag_variant_t v = shop_flags_get_variant(f, "nope", NULL);
    assert_string_equal(v.name, "disabled");
    assert_false(v.enabled);
    assert_false(v.feature_enabled);
    assert_null(v.payload_type);
    v = shop_flags_get_variant(f, "on", NULL);
    assert_string_equal(v.name, "disabled");
    assert_true(v.feature_enabled);
    shop_flags_destroy(f);
}

/* Weights split users evenly, the same user always gets the same variant, and payloads of every
 * type come back as text. */
static void test_variant_weights_sticky(void **state) {
    (void)state;
    char err[256] = "", id[16];
    shop_flags_t *f = shop_flags_new_from_json(basic_state, err, sizeof(err));
    assert_non_null(f);
    int a = 0, on = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "u%d", i);
        shop_flag_context_t ctx = {.user_id = id};
        shop_flag_variant_t v = shop_flags_get_variant(f, "ab", &ctx);
        shop_flag_variant_t again = shop_flags_get_variant(f, "ab", &ctx);
        assert_string_equal(v.name, again.name);
        if (strcmp(v.name, "A") == 0)
            a++;
        else
            assert_string_equal(v.payload_value, "{\"k\":1}");
        on += shop_flags_is_enabled(f, "half", &ctx);
        assert_int_equal(shop_flags_is_enabled(f, "half", &ctx),
                         shop_flags_normalized_hash(id, "half", 100, 0) <= 50);
    }
    assert_in_range(a, 4700, 5300);
    assert_in_range(on, 4700, 5300);
    shop_flag_context_t anon = {0};
    assert_false(shop_flags_is_enabled(f, "half", &anon)); /* userId stickiness, no userId */
    shop_flags_destroy(f);
}

static void test_delta_events(void **state) {
    (void)state;
    char err[256] = "";
    const char *json =
        "{\"events\":["
        "{\"type\":\"hydration\",\"features\":[{\"name\":\"x\",\"enabled\":true,"
        " \"strategies\":[{\"name\":\"default\",\"segments\":[7]}]}],"
        " \"segments\":[{\"id\":7,\"constraints\":[{\"contextName\":\"appName\","
        " \"operator\":\"IN\",\"values\":[\"web\"]}]}]},"
        "{\"type\":\"segment-updated\",\"segment\":{\"id\":7,\"constraints\":"
        " [{\"contextName\":\"appName\",\"operator\":\"IN\",\"values\":[\"pwa\"]}]}},"
        "{\"type\":\"feature-updated\",\"feature\":{\"name\":\"y\",\"enabled\":true}},"
        "{\"type\":\"feature-removed\",\"featureName\":\"y\"}]}";
    shop_flags_t *f = shop_flags_new_from_json(json, err, sizeof(err));
    assert_non_null(f);
    shop_flag_context_t web = {.app_name = "web"}, pwa = {.app_name = "pwa"};
    assert_false(shop_flags_is_enabled(f, "x", &web));
    assert_true(shop_flags_is_enabled(f, "x", &pwa));
    assert_false(shop_flags_has(f, "y"));
    shop_flags_destroy(f);
    assert_null(shop_flags_new_from_json("{\"events\":[{\"id\":1}]}", err, sizeof(err)));
    assert_non_null(strstr(err, "no type"));
}

static void test_semver_and_ip(void **state) {
    (void)state;
    int c = 9;
    assert_int_equal(flag_semver_cmp("1.0.0-alpha", "1.0.0-alpha.1", &c), 0);
    assert_int_equal(c, -1);
    assert_int_equal(flag_semver_cmp("1.0.0-alpha.beta", "1.0.0-beta", &c), 0);
    assert_int_equal(c, -1);
    assert_int_equal(flag_semver_cmp("1.0.0-beta.11", "1.0.0-beta.2", &c), 0);
    assert_int_equal(c, 1);
    assert_int_equal(flag_semver_cmp("1.0.0+build.5", "1.0.0", &c), 0);
    assert_int_equal(c, 0);
    assert_int_equal(flag_semver_cmp("10.0.0", "9.99.99", &c), 0);
    assert_int_equal(c, 1);
    assert_int_equal(flag_semver_cmp("01.0.0", "1.0.0", &c), -1);
    assert_int_equal(flag_semver_cmp("1.0", "1.0.0", &c), -1);
    assert_int_equal(flag_semver_cmp("1.0.0-", "1.0.0", &c), -1);
    assert_true(flag_ip_in("10.1.2.3", "10.0.0.0/8"));
    assert_true(flag_ip_in("10.1.2.3", " 10.1.2.0/23 "));
    assert_false(flag_ip_in("10.1.4.3", "10.1.2.0/23"));
    assert_false(flag_ip_in("10.1.2.3", "10.0.0.0/33"));
    assert_false(flag_ip_in("::1", "0.0.0.0/0"));
    assert_true(flag_ip_in("::1", "::/0"));
    assert_false(flag_ip_in("bogus", "10.0.0.0/8"));
}

static void test_regex_translate(void **state) {
    (void)state;
    shop_buf_t b;
    int cflags = 0;
    shop_buf_init(&b);
    assert_int_equal(flag_regex_translate("^\\d+(?:x|y)*?$", &b, &cflags), 0);
    shop_buf_puts(&b, "");
    assert_string_equal(b.buf, "^[0-9]+(x|y)*$");
    shop_buf_reset(&b);
    assert_int_equal(flag_regex_translate("(?i)[\\w.]", &b, &cflags), 0);
    assert_true(cflags & REG_ICASE);
    assert_int_equal(flag_regex_translate("(?<=a)b", &b, &cflags), -1);
    assert_int_equal(flag_regex_translate("(?!a)b", &b, &cflags), -1);
    assert_int_equal(flag_regex_translate("(a)\\1", &b, &cflags), -1);
    assert_int_equal(flag_regex_translate("[abc", &b, &cflags), -1);
    shop_buf_release(&b);
}

/* A constraint naming an operator this client does not know never enables, even inverted; a
 * numeric operator on a non-number is false and its inversion true. */
static void test_constraint_edges(void **state) {
    (void)state;
    char err[256] = "";
    const char *json =
        "{\"features\":["
        "{\"name\":\"unk\",\"enabled\":true,\"strategies\":[{\"name\":\"default\",\"constraints\":"
        " [{\"contextName\":\"a\",\"operator\":\"FUTURE_OP\",\"value\":\"1\",\"inverted\":true}]}]}"
        ","
        "{\"name\":\"num\",\"enabled\":true,\"strategies\":[{\"name\":\"default\",\"constraints\":"
        " [{\"contextName\":\"a\",\"operator\":\"NUM_GT\",\"value\":\"1\",\"inverted\":true}]}]},"
        "{\"name\":\"date\",\"enabled\":true,\"strategies\":[{\"name\":\"default\",\"constraints\":"
        " [{\"contextName\":\"currentTime\",\"operator\":\"DATE_AFTER\","
        "   \"value\":\"2020-01-01T00:00:00Z\"}]}]}]}";
    shop_flags_t *f = shop_flags_new_from_json(json, err, sizeof(err));
    assert_non_null(f);
    shop_flag_prop_t props[] = {{"a", "abc"}};
    shop_flag_context_t ctx = {.properties = props, .n_properties = 1};
    assert_false(shop_flags_is_enabled(f, "unk", &ctx));
    assert_true(shop_flags_is_enabled(f, "num", &ctx)); /* NUM_GT false, inverted */
    props[0].value = "5";
    assert_false(shop_flags_is_enabled(f, "num", &ctx));
    assert_true(shop_flags_is_enabled(f, "date", NULL)); /* wall clock is after 2020 */
    ctx.current_time_ms = 1000;
    assert_false(shop_flags_is_enabled(f, "date", &ctx));
    shop_flags_destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur3_known_answers),  cmocka_unit_test(test_normalized_hash),
        cmocka_unit_test(test_bad_json_rejected),      cmocka_unit_test(test_unknown_and_custom),
        cmocka_unit_test(test_variant_weights_sticky), cmocka_unit_test(test_delta_events),
        cmocka_unit_test(test_semver_and_ip),          cmocka_unit_test(test_regex_translate),
        cmocka_unit_test(test_constraint_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
