/* test_analytics.c: the analytics worker's computation on real decoded events: sums per minute and
 * currency, per-sink masks, invalid events rejected with a reason, and the Redis commands it emits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analytics/analytics.h"

static shop_codec_t *codec;
static shop_decoder_t *dec;
static shop_encoded_t enc;

static int setup(void **state) {
    (void)state;
    char err[256];
    codec = shop_codec_new(NULL, err, sizeof(err));
    if (!codec)
        fprintf(stderr, "codec: %s\n", err);
    dec = shop_decoder_new(codec);
    shop_encoded_init(&enc);
    return codec ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    shop_encoded_release(&enc);
    shop_decoder_destroy(dec);
    shop_codec_destroy(codec);
    return 0;
}

/* Encodes JSON text and decodes it back: a real event as a worker sees it. */
static const shop_event_t *event(const char *json) {
    char err[512];
    json_error_t jerr;
    json_t *obj = json_loads(json, 0, &jerr);
    assert_non_null(obj);
    shop_encoded_release(&enc);
    shop_encoded_init(&enc);
    int rc = shop_codec_encode_json(codec, obj, SHOP_FRAMING_SINGLE_OBJECT, &enc, err, sizeof(err));
    if (rc)
        fprintf(stderr, "encode: %s\n", err);
    assert_int_equal(rc, SHOP_OK);
    json_decref(obj);
    const shop_event_t *ev = NULL;
    assert_int_equal(shop_decoder_decode(dec, enc.bytes.buf, enc.bytes.len, &ev, err, sizeof(err)),
                     SHOP_OK);
    return ev;
}

#define PLACED(t, amount, cur, qty)                                                                \
    "{\"type\":\"order.placed\",\"occurred_at\":" t ",\"user_id\":\"u1\",\"order_id\":\"o1\","     \
    "\"amount_minor\":" amount ",\"currency\":\"" cur "\",\"items\":[{\"product_id\":\"p1\","      \
    "\"quantity\":" qty ",\"unit_price_minor\":100}]}"

static const unsigned BOTH = SHOP_SINK_BIT(SHOP_SINK_REDIS) | SHOP_SINK_BIT(SHOP_SINK_PG);

static void test_sums_per_minute_and_currency(void **state) {
    (void)state;
    shop_analytics_t a;
    memset(&a, 0, sizeof(a));
    char err[256];
    /* 2026-11-24T10:00:05Z and :59.999 share a minute; 10:01:00 starts the next. */
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514405000", "1000", "KRW", "2")),
                                          BOTH, err, sizeof(err)),
                     0);
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514459999", "500", "KRW", "1")),
                                          BOTH, err, sizeof(err)),
                     0);
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514460000", "700", "KRW", "3")),
                                          BOTH, err, sizeof(err)),
                     0);
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514406000", "250", "USD", "1")),
                                          BOTH, err, sizeof(err)),
                     0);
    assert_int_equal(
        shop_analytics_apply(&a,
                             event("{\"type\":\"order.refunded\",\"occurred_at\":1795514407000,"
                                   "\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":300,"
                                   "\"currency\":\"KRW\"}"),
                             BOTH, err, sizeof(err)),
        0);
    /* Events the worker does not count are accepted and ignored. */
    assert_int_equal(
        shop_analytics_apply(
            &a, event("{\"type\":\"order.shipped\",\"user_id\":\"u1\",\"order_id\":\"o1\"}"), BOTH,
            err, sizeof(err)),
        0);
    for (int s = 0; s < SHOP_SINK_COUNT; s++) {
        shop_an_table_t *t = &a.pend[s];
        assert_int_equal(t->n, 3);
        shop_an_row_t *k0 = shop_an_table_get(t, 1795514400000LL, "KRW");
        assert_int_equal(k0->orders, 2);
        assert_int_equal(k0->revenue_minor, 1500);
        assert_int_equal(k0->items, 3);
        assert_int_equal(k0->refunds, 1);
        assert_int_equal(k0->refund_minor, 300);
        shop_an_row_t *k1 = shop_an_table_get(t, 1795514460000LL, "KRW");
        assert_int_equal(k1->orders, 1);
        assert_int_equal(k1->items, 3);
        assert_int_equal(shop_an_table_get(t, 1795514400000LL, "USD")->revenue_minor, 250);
        shop_an_table_release(t);
    }
}

static void test_sink_mask(void **state) {
    (void)state;
    shop_analytics_t a;
    memset(&a, 0, sizeof(a));
    char err[256];
    /* A sink whose stored offset is past the event must not count it again. */
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514405000", "1000", "KRW", "1")),
                                          SHOP_SINK_BIT(SHOP_SINK_PG), err, sizeof(err)),
                     0);
    assert_int_equal(a.pend[SHOP_SINK_REDIS].n, 0);
    assert_int_equal(a.pend[SHOP_SINK_PG].n, 1);
    shop_an_table_release(&a.pend[SHOP_SINK_PG]);
}

static void test_invalid_events(void **state) {
    (void)state;
    shop_analytics_t a;
    memset(&a, 0, sizeof(a));
    char err[256];
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514405000", "-5", "KRW", "1")),
                                          BOTH, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "order.placed: amount_minor -5 is negative");
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514405000", "5", "krw", "1")), BOTH,
                                          err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "order.placed: currency \"krw\" is not an ISO 4217 code");
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514405000", "5", "KRW", "0")), BOTH,
                                          err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "order.placed: items[0].quantity 0 is not positive");
    assert_int_equal(
        shop_analytics_apply(&a, event(PLACED("1795514405000", "9000000000000000000", "KRW", "1")),
                             BOTH, err, sizeof(err)),
        SHOP_ERR_INVALID);
    /* Nothing of a rejected event is counted. */
    assert_int_equal(a.pend[0].n + a.pend[1].n, 0);
}

static void test_table_growth(void **state) {
    (void)state;
    shop_an_table_t t;
    shop_an_table_init(&t);
    for (int64_t m = 0; m < 5000; m++)
        shop_an_table_get(&t, m * 60000, m % 2 ? "KRW" : "USD")->orders += m;
    assert_int_equal(t.n, 5000);
    for (int64_t m = 0; m < 5000; m++)
        assert_int_equal(shop_an_table_get(&t, m * 60000, m % 2 ? "KRW" : "USD")->orders, m);
    assert_int_equal(t.n, 5000);
    shop_an_table_clear(&t);
    assert_int_equal(t.n, 0);
    assert_int_equal(shop_an_table_get(&t, 0, "USD")->orders, 0);
    shop_an_table_release(&t);
}

static void test_redis_commands(void **state) {
    (void)state;
    shop_config_t *cfg = shop_config_new(shop_worker_analytics.conf);
    shop_worker_env_t env = {cfg, "bt:t1:", "bt_t1", "analytics"};
    char err[256];
    void *w = shop_worker_analytics.create(&env, err, sizeof(err));
    assert_int_equal(
        shop_worker_analytics.process(w, event(PLACED("1795514405000", "1000", "KRW", "2")), BOTH,
                                      err, sizeof(err)),
        0);
    shop_redis_batch_t b;
    memset(&b, 0, sizeof(b));
    shop_worker_analytics.flush_redis(w, &b);
    assert_non_null(strstr(b.resp.buf, "bt:t1:an:min:202611241000"));
    assert_non_null(strstr(b.resp.buf, "revenue:KRW"));
    assert_non_null(strstr(b.resp.buf, "bt:t1:an:total"));
    assert_null(strstr(b.resp.buf, "refund")); /* zero fields are not written */
    /* flush_redis must not clear: a failed flush is retried with the same state */
    assert_int_equal(shop_worker_analytics.pending(w), 2);
    shop_worker_analytics.flushed(w, SHOP_SINK_REDIS);
    assert_int_equal(shop_worker_analytics.pending(w), 1);
    shop_worker_analytics.discard(w);
    assert_int_equal(shop_worker_analytics.pending(w), 0);
    shop_buf_release(&b.resp);
    shop_worker_analytics.destroy(w);
    shop_config_destroy(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums_per_minute_and_currency),
        cmocka_unit_test(test_sink_mask),
        cmocka_unit_test(test_invalid_events),
        cmocka_unit_test(test_table_growth),
        cmocka_unit_test(test_redis_commands),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
