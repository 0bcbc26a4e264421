/* test_analytics.c: the analytics worker's computation on real decoded events: sums per minute and
 * currency, per-sink masks, invalid events rejected with a reason, lateness against the partition
 * watermark, stock-outs, user sets, and the Redis commands it emits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analytics/analytics.h"
#include "analytics/dashboard.h"

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

/* A pending counter of sink `s` (0 when absent). */
static long long count(shop_analytics_t *a, int s, int grain, long long bucket, const char *metric,
                       const char *dim) {
    shop_an_cell_t *c =
        shop_an_cells_find(&a->sink[s].cells, grain, SHOP_AN_COUNT, bucket, metric, dim);
    return c ? c->value : 0;
}

/* Applies `json` as if read from `topic` partition 0 at `offset`. */
static int apply_at(shop_analytics_t *a, const char *json, const char *topic, unsigned sinks,
                    char *err, size_t errsz) {
    shop_event_t *ev = (shop_event_t *)event(json);
    ev->topic = topic;
    ev->partition = 0;
    ev->offset = 1;
    return shop_analytics_apply(a, ev, sinks, err, errsz);
}

static void test_sums_per_minute_and_currency(void **state) {
    (void)state;
    shop_analytics_t a;
    shop_analytics_init(&a, "shop:");
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
        shop_an_table_t *t = &a.sink[s].rows;
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
        assert_int_equal(count(&a, s, SHOP_AN_HOUR, 1795514400000LL, "revenue", "KRW"), 2200);
        assert_int_equal(count(&a, s, SHOP_AN_DAY, 1795478400000LL, "orders", ""), 4);
        assert_int_equal(count(&a, s, SHOP_AN_TOTAL, 0, "items", ""), 7);
        assert_int_equal(count(&a, s, SHOP_AN_TOTAL, 0, "p_buys", "p1"), 7);
    }
    shop_analytics_release(&a);
}

static void test_sink_mask(void **state) {
    (void)state;
    shop_analytics_t a;
    shop_analytics_init(&a, "shop:");
    char err[256];
    /* A sink whose stored offset is past the event must not count it again. */
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514405000", "1000", "KRW", "1")),
                                          SHOP_SINK_BIT(SHOP_SINK_PG), err, sizeof(err)),
                     0);
    assert_int_equal(a.sink[SHOP_SINK_REDIS].rows.n, 0);
    assert_int_equal(a.sink[SHOP_SINK_REDIS].cells.n, 0);
    assert_int_equal(a.sink[SHOP_SINK_PG].rows.n, 1);
    shop_analytics_release(&a);
}

static void test_invalid_events(void **state) {
    (void)state;
    shop_analytics_t a;
    shop_analytics_init(&a, "shop:");
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
    assert_int_equal(a.sink[0].rows.n + a.sink[1].rows.n, 0);
    assert_int_equal(a.sink[0].cells.n + a.sink[1].cells.n, 0);
    shop_analytics_release(&a);
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
    size_t before = shop_worker_analytics.pending(w);
    assert_true(before > 2);
    assert_non_null(strstr(b.resp.buf, "PFADD"));
    assert_non_null(strstr(b.resp.buf, "bt:t1:an:hour:2026112410"));
    assert_non_null(strstr(b.resp.buf, "bt:t1:an:top:20261124"));
    assert_non_null(strstr(b.resp.buf, "EXPIRE"));
    shop_worker_analytics.flushed(w, SHOP_SINK_REDIS);
    assert_true(shop_worker_analytics.pending(w) > 0);
    assert_true(shop_worker_analytics.pending(w) < before);
    shop_worker_analytics.discard(w);
    assert_int_equal(shop_worker_analytics.pending(w), 0);
    shop_buf_release(&b.resp);
    shop_worker_analytics.destroy(w);
    shop_config_destroy(cfg);
}

#define VIEW(t, user, variant)                                                                     \
    "{\"type\":\"user.product_viewed\",\"occurred_at\":" t ",\"user_id\":\"" user "\","            \
    "\"ab_variant\":\"" variant "\",\"product_id\":\"p9\"}"

static void test_lateness_and_bounds(void **state) {
    (void)state;
    shop_analytics_t a;
    shop_analytics_init(&a, "shop:");
    a.conf.lateness_ms = 120000;
    a.conf.past_max_ms = 86400000;
    a.conf.future_max_ms = 86400000;
    char err[256];
    const char *topic = "it1.shop.order.events";
    /* watermark 10:10:00 */
    assert_int_equal(
        apply_at(&a, PLACED("1795515000000", "100", "KRW", "1"), topic, BOTH, err, sizeof(err)), 0);
    /* 90 s behind: within the lateness, counted */
    assert_int_equal(
        apply_at(&a, PLACED("1795514910000", "200", "KRW", "1"), topic, BOTH, err, sizeof(err)), 0);
    /* 10 min behind: late, only in the late metric */
    assert_int_equal(
        apply_at(&a, PLACED("1795514400000", "400", "KRW", "1"), topic, BOTH, err, sizeof(err)), 0);
    /* 2 days behind or ahead: invalid, nothing counted */
    assert_int_equal(
        apply_at(&a, PLACED("1795342200000", "800", "KRW", "1"), topic, BOTH, err, sizeof(err)),
        SHOP_ERR_INVALID);
    assert_non_null(strstr(err, "behind the partition's watermark"));
    assert_int_equal(
        apply_at(&a, PLACED("1795687800000", "800", "KRW", "1"), topic, BOTH, err, sizeof(err)),
        SHOP_ERR_INVALID);
    assert_non_null(strstr(err, "ahead of the partition's watermark"));
    /* another partition has its own watermark: not late there */
    shop_event_t *ev = (shop_event_t *)event(PLACED("1795514400000", "1600", "KRW", "1"));
    ev->topic = topic;
    ev->partition = 1;
    assert_int_equal(shop_analytics_apply(&a, ev, BOTH, err, sizeof(err)), 0);
    for (int s = 0; s < SHOP_SINK_COUNT; s++) {
        assert_int_equal(count(&a, s, SHOP_AN_TOTAL, 0, "revenue", "KRW"), 1900);
        assert_int_equal(count(&a, s, SHOP_AN_TOTAL, 0, "late", ""), 1);
        assert_int_equal(count(&a, s, SHOP_AN_TOTAL, 0, "late", "order.placed"), 1);
        assert_int_equal(count(&a, s, SHOP_AN_MINUTE, 1795514400000LL, "late", ""), 1);
        assert_int_equal(a.sink[s].wm_dirty.n, 2);
    }
    assert_int_equal(atomic_load(&a.late_total), 1);
    shop_analytics_release(&a);
}

static void test_other_invalid_input(void **state) {
    (void)state;
    shop_analytics_t a;
    shop_analytics_init(&a, "shop:");
    char err[256];
    assert_int_equal(shop_analytics_apply(&a, event(PLACED("1795514405000", "5", "XYZ", "1")), BOTH,
                                          err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "order.placed: currency \"XYZ\" is not an ISO 4217 code");
    assert_int_equal(
        shop_analytics_apply(&a,
                             event("{\"type\":\"inventory.stock_level\",\"occurred_at\":"
                                   "1795514405000,\"product_id\":\"p1\",\"region\":\"KR\","
                                   "\"quantity\":-3}"),
                             BOTH, err, sizeof(err)),
        SHOP_ERR_INVALID);
    assert_string_equal(err, "inventory.stock_level: quantity -3 is negative");
    assert_int_equal(
        shop_analytics_apply(&a,
                             event("{\"type\":\"user.cart_added\",\"occurred_at\":1795514405000,"
                                   "\"user_id\":\"u1\",\"product_id\":\"p1\",\"quantity\":-1,"
                                   "\"unit_price_minor\":5,\"currency\":\"KRW\"}"),
                             BOTH, err, sizeof(err)),
        SHOP_ERR_INVALID);
    assert_int_equal(shop_analytics_apply(&a,
                                          event("{\"type\":\"user.points_earned\",\"occurred_at\":"
                                                "1795514405000,\"user_id\":\"u1\",\"points\":-10,"
                                                "\"reason\":\"x\"}"),
                                          BOTH, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_int_equal(a.sink[0].cells.n + a.sink[1].cells.n, 0);
    shop_analytics_release(&a);
}

#define STOCK(t, q)                                                                                \
    "{\"type\":\"inventory.stock_level\",\"occurred_at\":" t ",\"product_id\":\"p1\","             \
    "\"region\":\"KR\",\"quantity\":" q "}"

static void test_stockouts(void **state) {
    (void)state;
    shop_analytics_t a;
    shop_analytics_init(&a, "shop:");
    char err[256];
    const char *topic = "shop.inventory.events";
    assert_int_equal(apply_at(&a, STOCK("1795514400000", "3"), topic, BOTH, err, sizeof(err)), 0);
    assert_int_equal(apply_at(&a, STOCK("1795514410000", "0"), topic, BOTH, err, sizeof(err)), 0);
    assert_int_equal(apply_at(&a, STOCK("1795514420000", "0"), topic, BOTH, err, sizeof(err)), 0);
    /* the open stock-out survives a flush: only pending cells are cleared */
    shop_analytics_clear_pending(&a, SHOP_SINK_REDIS);
    assert_int_equal(apply_at(&a, STOCK("1795514470000", "5"), topic, BOTH, err, sizeof(err)), 0);
    assert_int_equal(count(&a, SHOP_SINK_PG, SHOP_AN_TOTAL, 0, "stockouts", ""), 1);
    assert_int_equal(count(&a, SHOP_SINK_PG, SHOP_AN_TOTAL, 0, "restocks", ""), 1);
    assert_int_equal(count(&a, SHOP_SINK_PG, SHOP_AN_TOTAL, 0, "oos_ms", ""), 60000);
    assert_int_equal(count(&a, SHOP_SINK_REDIS, SHOP_AN_MINUTE, 1795514460000LL, "oos_ms", ""),
                     60000);
    assert_int_equal(count(&a, SHOP_SINK_REDIS, SHOP_AN_DAY, 1795478400000LL, "p_oos_ms", "p1"),
                     60000);
    /* a revoked partition forgets its stock-outs and watermark */
    shop_an_state_forget(&a, SHOP_SINK_PG, 3, 0);
    assert_int_equal(a.sink[SHOP_SINK_PG].oos.n, 0);
    assert_int_equal(a.sink[SHOP_SINK_PG].wm.n, 0);
    assert_int_equal(a.sink[SHOP_SINK_REDIS].wm.n, 1);
    shop_analytics_release(&a);
}

static void test_users_and_variants(void **state) {
    (void)state;
    shop_analytics_t a;
    shop_analytics_init(&a, "shop:");
    char err[256];
    assert_int_equal(
        shop_analytics_apply(&a, event(VIEW("1795514405000", "u1", "A")), BOTH, err, sizeof(err)),
        0);
    assert_int_equal(
        shop_analytics_apply(&a, event(VIEW("1795514406000", "u1", "A")), BOTH, err, sizeof(err)),
        0);
    assert_int_equal(
        shop_analytics_apply(&a, event(VIEW("1795514407000", "u2", "B")), BOTH, err, sizeof(err)),
        0);
    shop_an_cells_t *t = &a.sink[SHOP_SINK_REDIS].cells;
    assert_non_null(
        shop_an_cells_find(t, SHOP_AN_MINUTE, SHOP_AN_HLL, 1795514400000LL, "users", "u1"));
    assert_non_null(shop_an_cells_find(t, SHOP_AN_DAY, SHOP_AN_SET, 1795478400000LL, "ab:A", "u1"));
    assert_null(shop_an_cells_find(t, SHOP_AN_DAY, SHOP_AN_SET, 1795478400000LL, "ab:A", "u2"));
    assert_int_equal(count(&a, 0, SHOP_AN_DAY, 1795478400000LL, "ab_views", "A"), 2);
    assert_int_equal(count(&a, 0, SHOP_AN_DAY, 1795478400000LL, "p_views", "p9"), 3);
    assert_int_equal(count(&a, 0, SHOP_AN_MINUTE, 1795514400000LL, "views", ""), 3);
    shop_analytics_release(&a);
}

static void test_buckets_and_currencies(void **state) {
    (void)state;
    char buf[16];
    assert_string_equal(shop_an_bucket_key(SHOP_AN_HOUR, 1795514405000LL, buf, sizeof(buf)),
                        "2026112410");
    assert_int_equal(shop_an_bucket(SHOP_AN_DAY, 1795514405000LL), 1795478400000LL);
    assert_true(shop_an_currency_known("KRW"));
    assert_true(shop_an_currency_known("ZWG"));
    assert_false(shop_an_currency_known("AAA"));
    assert_false(shop_an_currency_known("KR"));
    assert_int_equal(shop_an_topic_index("it5.shop.user.events"), 1);
    assert_int_equal(shop_an_topic_index("xshop.user.events"), -1);
}

static void test_health_parse(void **state) {
    (void)state;
    const char *text =
        "# TYPE shopstream_events_total counter\n"
        "shopstream_events_total{worker=\"search\",topic=\"shop.search.events\"} 100\n"
        "shopstream_dlq_total{worker=\"search\",topic=\"shop.search.events\"} 4\n"
        "shopstream_flush_seconds_sum{worker=\"search\",sink=\"redis\"} 0.5\n"
        "shopstream_flush_seconds_count{worker=\"search\",sink=\"redis\"} 10\n"
        "shopstream_ready{worker=\"search\"} 1\n"
        "shopstream_consumer_lag{worker=\"search\",topic=\"shop.search.events\",partition=\"2\"} "
        "7\n";
    json_t *prev = json_pack("{sbsfsfsfsf}", "up", 1, "events", 40.0, "dlq", 2.0, "flush_sum_redis",
                             0.3, "flush_count_redis", 6.0);
    json_t *o = shop_an_health_parse("search", text, prev, 2.0);
    assert_true(json_is_true(json_object_get(o, "ready")));
    assert_true(json_number_value(json_object_get(o, "lag")) == 7);
    assert_true(json_number_value(json_object_get(o, "events_per_s")) == 30);
    assert_true(json_number_value(json_object_get(o, "dlq_per_s")) == 1);
    double ms = json_number_value(json_object_get(o, "flush_ms_redis"));
    assert_true(ms > 49.9 && ms < 50.1);
    json_t *p = json_array_get(json_object_get(o, "partitions"), 0);
    assert_int_equal(json_integer_value(json_object_get(p, "partition")), 2);
    json_decref(o);
    json_decref(prev);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums_per_minute_and_currency),
        cmocka_unit_test(test_sink_mask),
        cmocka_unit_test(test_invalid_events),
        cmocka_unit_test(test_table_growth),
        cmocka_unit_test(test_redis_commands),
        cmocka_unit_test(test_lateness_and_bounds),
        cmocka_unit_test(test_other_invalid_input),
        cmocka_unit_test(test_stockouts),
        cmocka_unit_test(test_users_and_variants),
        cmocka_unit_test(test_buckets_and_currencies),
        cmocka_unit_test(test_health_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
