/* test_fraud_engine.c: the fraud worker's pure parts: rules file parsing, state serialization round
 * trip, score combination and levels, validation of order events, rules on a scripted user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fraud.h"

static shop_codec_t *codec;
static shop_decoder_t *dec;
static shop_encoded_t enc;

static const shop_event_t *event(const char *json) {
    char err[512];
    const shop_event_t *ev = NULL;
    json_t *o = json_loads(json, 0, NULL);
    assert_non_null(o);
    assert_int_equal(
        shop_codec_encode_json(codec, o, SHOP_FRAMING_SINGLE_OBJECT, &enc, err, sizeof(err)), 0);
    json_decref(o);
    assert_int_equal(shop_decoder_decode(dec, enc.bytes.buf, enc.bytes.len, &ev, err, sizeof(err)),
                     0);
    return ev;
}

static void test_rules_parse(void **state) {
    (void)state;
    shop_fraud_rules_t rs;
    char err[256];
    assert_int_equal(shop_fraud_rules_parse(&rs, "# c\nhoarding 5 40 lots of one SKU\n\n", "t", err,
                                            sizeof(err)),
                     0);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].code, FRAUD_R_HOARDING);
    assert_int_equal(rs.r[0].weight, 40);
    assert_string_equal(rs.r[0].reason, "lots of one SKU");
    assert_int_equal(shop_fraud_rules_parse(&rs, "nope 1 2 x\n", "t", err, sizeof(err)),
                     SHOP_ERR_CONFIG);
    assert_non_null(strstr(err, "t:1: unknown rule"));
    assert_int_equal(shop_fraud_rules_parse(&rs, "hoarding 5 400 x\n", "t", err, sizeof(err)),
                     SHOP_ERR_CONFIG);
    /* the built-in set equals deploy/fraud-rules.conf */
    shop_fraud_rules_t def, file;
    shop_fraud_rules_default(&def);
    assert_int_equal(shop_fraud_rules_load(&file, SHOP_TEST_DATA "/../../deploy/fraud-rules.conf",
                                           err, sizeof(err)),
                     0);
    assert_int_equal(def.n, file.n);
    assert_memory_equal(def.r, file.r, sizeof(def.r[0]) * (size_t)def.n);
}

static void test_combine_levels(void **state) {
    (void)state;
    shop_fraud_conf_t c;
    shop_fraud_conf_default(&c);
    assert_int_equal(shop_fraud_combine(&c, 0, -1), 0);
    assert_int_equal(shop_fraud_combine(&c, 30, 0.4), 30);
    assert_int_equal(shop_fraud_combine(&c, 30, 0.75), 70);
    assert_int_equal(shop_fraud_combine(&c, 90, 0.9), 100);
    assert_string_equal(shop_fraud_level_name(2), "high");
    assert_string_equal(shop_fraud_recommendation(1), "review");
    assert_string_equal(shop_fraud_recommendation(0), "approve");
}

/* The state text as printf wrote it before shop_fraud_user_encode() stopped using printf. */
static void ref_set(shop_buf_t *b, const shop_fraud_seen_t *s) {
    int n = 0;
    for (int i = 0; i < FRAUD_SET_N; i++)
        n += s[i].h != 0;
    shop_buf_printf(b, " %d", n);
    for (int i = 0; i < FRAUD_SET_N; i++)
        if (s[i].h)
            shop_buf_printf(b, " %" PRIx64 " %" PRId64 " %" PRId64, s[i].h, s[i].first_at,
                            s[i].last_at);
}

static void ref_encode(const shop_fraud_user_t *u, shop_buf_t *b) {
    shop_buf_printf(b, "f1 %" PRId64 " %" PRId64 " %" PRId64 " %.17g %.17g %d", u->last_at,
                    u->signup_at, u->norders, u->mean, u->m2, u->nring);
    for (int i = 0; i < u->nring; i++)
        shop_buf_printf(b, " %" PRId64 " %" PRId64, u->ring_at[i], u->ring_amt[i]);
    shop_buf_printf(b, " %d", u->nfail);
    for (int i = 0; i < u->nfail; i++)
        shop_buf_printf(b, " %" PRId64, u->fail_at[i]);
    shop_buf_printf(b, " %d", u->npts);
    for (int i = 0; i < u->npts; i++)
        shop_buf_printf(b, " %" PRId64 " %" PRId64, u->pts_at[i], u->pts_delta[i]);
    ref_set(b, u->dev);
    ref_set(b, u->ip);
    ref_set(b, u->addr);
    ref_set(b, u->ctry);
    shop_buf_printf(b, " %" PRId64 " %" PRIx64 " %" PRIx64 " %d", u->login_at, u->login_dev,
                    u->login_ctry, u->ndec);
    for (int i = 0; i < u->ndec; i++) {
        const shop_fraud_decision_t *d = &u->dec[i];
        shop_buf_printf(b, " %" PRIx64 " %d %d %" PRIx32 " %.17g %s", d->order_h, d->score,
                        d->level, d->fired, d->anomaly, d->model[0] ? d->model : "none");
    }
}

static void test_state_round_trip(void **state) {
    (void)state;
    shop_fraud_engine_t e;
    memset(&e, 0, sizeof(e));
    shop_fraud_conf_default(&e.conf);
    shop_fraud_part_t *p = shop_fraud_part_new(0);
    char err[256];
    shop_fraud_decision_t d;
    event("{\"type\":\"user.signup\",\"user_id\":\"u1\",\"occurred_at\":1000,\"country\":\"KR\","
          "\"device_id\":\"d1\",\"ip_hash\":\"i1\"}");
    assert_int_equal(shop_fraud_apply(&e, p,
                                      event("{\"type\":\"user.signup\",\"user_id\":\"u1\","
                                            "\"occurred_at\":1000,\"country\":\"KR\","
                                            "\"device_id\":\"d1\",\"ip_hash\":\"i1\"}"),
                                      1, &d, NULL, err, sizeof(err)),
                     0);
    for (int i = 0; i < 5; i++) {
        char js[512];
        snprintf(js, sizeof(js),
                 "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o%d\","
                 "\"occurred_at\":%d,\"amount_minor\":%d,\"currency\":\"KRW\",\"points_used\":0,"
                 "\"items\":[{\"product_id\":\"p\",\"quantity\":%d,\"unit_price_minor\":1000}],"
                 "\"device_id\":\"d1\",\"country\":\"KR\",\"shipping_address_hash\":\"a1\"}",
                 i, 2000 + i * 60000, 1000 * (i + 1), i + 1);
        assert_int_equal(shop_fraud_apply(&e, p, event(js), 1, &d, NULL, err, sizeof(err)), 1);
    }
    /* the 5th order: velocity (5 in an hour) and hoarding (5 of one SKU) fire */
    assert_true(d.fired & (1u << 0));
    assert_true(d.fired & (1u << 5));
    assert_int_equal(d.level, 2);
    shop_fraud_user_t *u = shop_fraud_user_get(p, "u1", 0);
    assert_non_null(u);
    shop_buf_t b;
    shop_buf_init(&b);
    shop_fraud_user_encode(u, &b);
    shop_fraud_user_t *v = shop_fraud_user_decode("u1", b.buf, b.len, err, sizeof(err));
    assert_non_null(v);
    shop_buf_t b2;
    shop_buf_init(&b2);
    shop_fraud_user_encode(v, &b2);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.buf, b2.buf, b.len);
    shop_buf_t r; /* the printf-made text of earlier versions, which stored states are in */
    shop_buf_init(&r);
    ref_encode(u, &r);
    assert_string_equal(b.buf, r.buf);
    shop_buf_release(&r);
    assert_int_equal(v->norders, 5);
    assert_true(v->mean == u->mean && v->m2 == u->m2);
    assert_null(shop_fraud_user_decode("u1", "f2 1", 4, err, sizeof(err)));
    assert_null(shop_fraud_user_decode("u1", b.buf, b.len / 2, err, sizeof(err)));
    /* a lagging PostgreSQL sink gets the decision the state already made */
    shop_fraud_decision_t d2;
    assert_int_equal(
        shop_fraud_apply(&e, p,
                         event("{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o4\","
                               "\"occurred_at\":242000,\"amount_minor\":5000,\"currency\":\"KRW\","
                               "\"items\":[{\"product_id\":\"p\",\"quantity\":5,"
                               "\"unit_price_minor\":1000}]}"),
                         0, &d2, NULL, err, sizeof(err)),
        1);
    assert_int_equal(d2.score, d.score);
    assert_int_equal(d2.fired, d.fired);
    shop_fraud_user_free(v);
    shop_buf_release(&b);
    shop_buf_release(&b2);
    shop_fraud_part_destroy(p);
}

static void test_validation(void **state) {
    (void)state;
    shop_fraud_conf_t c;
    shop_fraud_conf_default(&c);
    char err[256];
    static const char *const bad[][2] = {
        {"{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":-5,"
         "\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p\",\"quantity\":1,"
         "\"unit_price_minor\":1}]}",
         "negative"},
        {"{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":"
         "999999999999999,\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p\",\"quantity\":1,"
         "\"unit_price_minor\":999999999999999}]}",
         "absurd"},
        {"{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":5,"
         "\"currency\":\"krw\",\"items\":[{\"product_id\":\"p\",\"quantity\":1,"
         "\"unit_price_minor\":5}]}",
         "ISO 4217"},
        {"{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":5,"
         "\"currency\":\"XYZ\",\"items\":[{\"product_id\":\"p\",\"quantity\":1,"
         "\"unit_price_minor\":5}]}",
         "ISO 4217"},
        {"{\"type\":\"order.placed\",\"user_id\":\"\",\"order_id\":\"o1\",\"amount_minor\":5,"
         "\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p\",\"quantity\":1,"
         "\"unit_price_minor\":5}]}",
         "missing user_id"},
        {"{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":5,"
         "\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p\",\"quantity\":2,"
         "\"unit_price_minor\":5}]}",
         "sum to 10"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(shop_fraud_validate(&c, event(bad[i][0]), NULL, err, sizeof(err)),
                         SHOP_ERR_INVALID);
        if (!strstr(err, bad[i][1]))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i][1]);
    }
    /* points pay part of the order: items sum to amount + points_used */
    assert_int_equal(shop_fraud_validate(
                         &c,
                         event("{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\","
                               "\"amount_minor\":12900,\"currency\":\"KRW\",\"points_used\":1000,"
                               "\"items\":[{\"product_id\":\"p\",\"quantity\":1,"
                               "\"unit_price_minor\":13900}]}"),
                         NULL, err, sizeof(err)),
                     0);
}

int main(void) {
    char err[256];
    codec = shop_codec_new(NULL, err, sizeof(err));
    dec = shop_decoder_new(codec);
    shop_encoded_init(&enc);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_parse),
        cmocka_unit_test(test_combine_levels),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_validation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    shop_encoded_release(&enc);
    shop_decoder_destroy(dec);
    shop_codec_destroy(codec);
    return rc;
}
