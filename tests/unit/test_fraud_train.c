/* test_fraud_train.c: `shopstream fraud train --events`: the training rows are exactly the
 * features the worker's engine computes on the same stream (flat lines and `decode --meta` lines
 * alike), the model round-trips through its file; the device scope (partition or global counts)
 * and the global HyperLogLog writes (one PFADD per hourly key and flush). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fraud.h"
#include "fraud_global.h"
#include "generate.h"

static shop_codec_t *codec;

/* A generated stream as JSON lines in memory, and its features computed the worker's way: each
 * event through shop_fraud_apply in stream order, one partition. */
static void stream(uint64_t seed, uint64_t events, shop_buf_t *lines, shop_fraud_data_t *feat) {
    char err[512];
    shop_gen_conf_t gc;
    shop_gen_conf_init(&gc);
    gc.seed = seed, gc.events = events, gc.fraud_rate = 0.05;
    shop_gen_t *g = shop_gen_new(&gc, err, sizeof(err));
    assert_non_null(g);
    shop_decoder_t *dec = shop_decoder_new(codec);
    shop_fraud_part_t *part = shop_fraud_part_new(0);
    shop_fraud_engine_t eng;
    memset(&eng, 0, sizeof(eng));
    shop_fraud_conf_default(&eng.conf);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    shop_buf_t line;
    shop_buf_init(&line);
    size_t cap = 0;
    feat->dims = FRAUD_NFEAT;
    while (shop_gen_next(g, &line, NULL, NULL) == 1) {
        shop_buf_append(lines, line.buf, line.len);
        json_t *o = json_loadb(line.buf, line.len, 0, NULL);
        shop_buf_reset(&line);
        const shop_event_t *ev;
        assert_int_equal(
            shop_codec_encode_json(codec, o, SHOP_FRAMING_SINGLE_OBJECT, &enc, err, sizeof(err)),
            0);
        json_decref(o);
        assert_int_equal(shop_decoder_decode(dec, enc.bytes.buf, enc.bytes.len, &ev, err, 512), 0);
        shop_fraud_decision_t d;
        shop_fraud_features_t f;
        if (shop_fraud_apply(&eng, part, ev, 1, &d, &f, err, sizeof(err)) != 1)
            continue;
        shop_fraud_part_clear_dirty(part);
        shop_fraud_part_sweep(part, eng.conf.idle_ms);
        if (feat->n == cap) {
            cap = cap ? cap * 2 : 1024;
            feat->x = realloc(feat->x, cap * FRAUD_NFEAT * sizeof(double));
        }
        memcpy(feat->x + feat->n++ * FRAUD_NFEAT, f.v, sizeof(f.v));
    }
    shop_buf_release(&line);
    shop_encoded_release(&enc);
    shop_fraud_part_destroy(part);
    shop_decoder_destroy(dec);
    shop_gen_destroy(g);
}

static void test_train_events_equals_engine(void **state) {
    (void)state;
    char err[512], path[] = "/tmp/test_fraud_train.XXXXXX";
    shop_buf_t lines;
    shop_buf_init(&lines);
    shop_fraud_data_t want, got;
    shop_fraud_data_init(&want);
    shop_fraud_data_init(&got);
    stream(5, 40000, &lines, &want);
    assert_true(want.n > 100);
    FILE *fp = fmemopen(lines.buf, lines.len, "r");
    shop_fraud_events_t *ev = shop_fraud_events_new();
    size_t bad = 0;
    assert_int_equal(shop_fraud_events_read_jsonl(ev, codec, fp, "mem", &bad, err, sizeof(err)), 0);
    fclose(fp);
    assert_int_equal(bad, 0);
    assert_int_equal(shop_fraud_events_count(ev), 40000);
    shop_fraud_engine_t eng;
    memset(&eng, 0, sizeof(eng));
    shop_fraud_conf_default(&eng.conf);
    shop_fraud_train_stats_t st;
    assert_int_equal(shop_fraud_events_features(ev, codec, &eng, 1, &got, &st, err, sizeof(err)),
                     0);
    assert_int_equal(st.orders, want.n);
    assert_int_equal(got.dims, FRAUD_NFEAT);
    assert_memory_equal(got.x, want.x, want.n * FRAUD_NFEAT * sizeof(double));
    /* the model: trained on those rows, saved, loaded, scores alike */
    shop_iforest_params_t p;
    shop_iforest_params_init(&p);
    p.seed = 3;
    shop_iforest_t *f = shop_fraud_train_events(ev, codec, 1, &p, &st, err, sizeof(err));
    assert_non_null(f);
    shop_iforest_t *g = shop_iforest_train(want.x, want.n, FRAUD_NFEAT, &p, err, sizeof(err));
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(shop_iforest_save(f, path, err, sizeof(err)), 0);
    shop_iforest_t *h = shop_iforest_load(path, err, sizeof(err));
    assert_non_null(h);
    assert_int_equal(shop_iforest_dims(h), FRAUD_NFEAT);
    for (size_t i = 0; i < want.n; i += 97) {
        assert_true(shop_iforest_score(f, want.x + i * FRAUD_NFEAT) ==
                    shop_iforest_score(g, want.x + i * FRAUD_NFEAT));
        assert_true(shop_iforest_score(f, want.x + i * FRAUD_NFEAT) ==
                    shop_iforest_score(h, want.x + i * FRAUD_NFEAT));
    }
    unlink(path);
    shop_iforest_destroy(f);
    shop_iforest_destroy(g);
    shop_iforest_destroy(h);
    shop_fraud_events_destroy(ev);
    shop_fraud_data_release(&want);
    shop_fraud_data_release(&got);
    shop_buf_release(&lines);
}

/* `decode --meta` lines keep their partition; events out of order are replayed in time order. */
static void test_meta_lines_and_order(void **state) {
    (void)state;
    char err[512];
    static const char *const lines[] = {
        "{\"topic\":\"shop.order.events\",\"partition\":3,\"offset\":7,\"key\":\"u1\",\"value\":"
        "{\"type\":\"order.placed\",\"occurred_at\":5000,\"user_id\":\"u1\",\"order_id\":\"o2\","
        "\"amount_minor\":100,\"currency\":\"KRW\",\"device_id\":\"d1\",\"items\":[{"
        "\"product_id\":\"p\",\"quantity\":1,\"unit_price_minor\":100}]}}",
        "{\"type\":\"order.placed\",\"occurred_at\":1000,\"user_id\":\"u1\",\"order_id\":\"o1\","
        "\"amount_minor\":100,\"currency\":\"KRW\",\"device_id\":\"d1\",\"items\":[{"
        "\"product_id\":\"p\",\"quantity\":1,\"unit_price_minor\":100}]}",
        "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"bad\",\"amount_minor\":-1,"
        "\"currency\":\"KRW\",\"items\":[]}",
        "not json",
    };
    shop_fraud_events_t *ev = shop_fraud_events_new();
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(
            shop_fraud_events_add_json(ev, codec, lines[i], strlen(lines[i]), err, sizeof(err)), 0);
    assert_int_equal(shop_fraud_events_add_json(ev, codec, lines[3], 8, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    shop_fraud_engine_t eng;
    memset(&eng, 0, sizeof(eng));
    shop_fraud_conf_default(&eng.conf);
    shop_fraud_data_t d;
    shop_fraud_data_init(&d);
    shop_fraud_train_stats_t st;
    assert_int_equal(shop_fraud_events_features(ev, codec, &eng, 1, &d, &st, err, sizeof(err)), 0);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(d.n, 2);
    assert_int_equal(st.partitions, 4); /* the flat lines went to 0, the meta line to 3 */
    /* o1 (time 1000) first: one order in the hour each, in their own partitions */
    assert_true(d.x[1] == 1.0 && d.x[FRAUD_NFEAT + 1] == 1.0);
    shop_fraud_data_release(&d);
    /* one partition for everything: o2 sees o1 in its hour */
    shop_fraud_events_destroy(ev);
    ev = shop_fraud_events_new();
    for (size_t i = 0; i < 2; i++) {
        const char *l = strstr(lines[i], "\"value\":");
        l = l ? l + 8 : lines[i];
        assert_int_equal(
            shop_fraud_events_add_json(ev, codec, l, strlen(l) - (l != lines[i]), err, sizeof(err)),
            0);
    }
    assert_int_equal(shop_fraud_events_features(ev, codec, &eng, 1, &d, &st, err, sizeof(err)), 0);
    assert_int_equal(d.n, 2);
    assert_true(d.x[1] == 1.0 && d.x[FRAUD_NFEAT + 1] == 2.0);
    shop_fraud_data_release(&d);
    shop_fraud_events_destroy(ev);
}

static int64_t fixed_count(void *ctx, const char *device, int64_t at) {
    (void)at;
    return !strcmp(device, "shared") ? *(int64_t *)ctx : -1;
}

static const shop_event_t *decode(shop_decoder_t *dec, shop_encoded_t *enc, const char *json) {
    char err[512];
    const shop_event_t *ev = NULL;
    json_t *o = json_loads(json, 0, NULL);
    assert_int_equal(
        shop_codec_encode_json(codec, o, SHOP_FRAMING_SINGLE_OBJECT, enc, err, sizeof(err)), 0);
    json_decref(o);
    assert_int_equal(shop_decoder_decode(dec, enc->bytes.buf, enc->bytes.len, &ev, err, 512), 0);
    return ev;
}

/* fraud.device.scope: the rule reads the partition's count, or (global) the larger of it and
 * the count every instance wrote to Redis. */
static void test_device_scope(void **state) {
    (void)state;
    char err[512];
    shop_decoder_t *dec = shop_decoder_new(codec);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    int64_t global = 5;
    for (int scope = 0; scope < 2; scope++) {
        shop_fraud_engine_t eng;
        memset(&eng, 0, sizeof(eng));
        shop_fraud_conf_default(&eng.conf);
        eng.device_scope = scope ? FRAUD_SCOPE_GLOBAL : FRAUD_SCOPE_PARTITION;
        eng.global_accounts = fixed_count;
        eng.global_ctx = &global;
        shop_fraud_part_t *p = shop_fraud_part_new(0);
        const shop_event_t *ev =
            decode(dec, &enc,
                   "{\"type\":\"order.placed\",\"occurred_at\":1000,\"user_id\":\"u1\","
                   "\"order_id\":\"o1\",\"amount_minor\":100,\"currency\":\"KRW\",\"device_id\":"
                   "\"shared\",\"items\":[{\"product_id\":\"p\",\"quantity\":1,"
                   "\"unit_price_minor\":100}]}");
        shop_fraud_decision_t d;
        shop_fraud_features_t f;
        assert_int_equal(shop_fraud_apply(&eng, p, ev, 1, &d, &f, err, sizeof(err)), 1);
        assert_int_equal(f.device_accounts, scope ? 5 : 1);
        assert_true(f.v[14] == (scope ? 5.0 : 1.0));
        int fired = 0;
        for (int i = 0; i < eng.conf.rules.n; i++)
            if (eng.conf.rules.r[i].code == FRAUD_R_DEVICE_ACCOUNTS)
                fired = (d.fired >> i) & 1;
        assert_int_equal(fired, scope);
        /* unknown to the cache: the partition's count */
        ev = decode(dec, &enc,
                    "{\"type\":\"order.placed\",\"occurred_at\":2000,\"user_id\":\"u2\","
                    "\"order_id\":\"o2\",\"amount_minor\":100,\"currency\":\"KRW\",\"device_id\":"
                    "\"other\",\"items\":[{\"product_id\":\"p\",\"quantity\":1,"
                    "\"unit_price_minor\":100}]}");
        assert_int_equal(shop_fraud_apply(&eng, p, ev, 1, &d, &f, err, sizeof(err)), 1);
        assert_int_equal(f.device_accounts, 1);
        shop_fraud_part_destroy(p);
    }
    shop_encoded_release(&enc);
    shop_decoder_destroy(dec);
}

/* One PFADD with all the flush's users and one EXPIRE per hourly key; an empty cache knows no
 * count. */
static void test_global_flush(void **state) {
    (void)state;
    shop_fraud_global_t *g = shop_fraud_global_new("bt:t:", 0, 1);
    int64_t h = 7 * FRAUD_HOUR_MS;
    shop_fraud_global_note(g, "u1", "d1", "i1", h + 1);
    shop_fraud_global_note(g, "u2", "d1", NULL, h + 2);
    shop_fraud_global_note(g, "u1", "d1", "i1", h + FRAUD_HOUR_MS); /* the next hour */
    shop_fraud_global_note(g, NULL, "d9", "i9", h);                 /* no user: nothing */
    assert_int_equal(shop_fraud_global_pending(g), 5);
    shop_redis_batch_t b = {{NULL, 0, 0}, 0};
    shop_fraud_global_flush(g, &b);
    assert_int_equal(b.ncmds, 8); /* dev:d1:7, dev:d1:8, ip:i1:7, ip:i1:8, each PFADD + EXPIRE */
    shop_buf_append(&b.resp, "", 1);
    const char *pf = strstr(b.resp.buf, "bt:t:fraud:dev:d1:7\r\n");
    assert_non_null(pf);
    assert_non_null(strstr(pf, "u1\r\n$2\r\nu2\r\n"));
    assert_non_null(strstr(b.resp.buf, "bt:t:fraud:ip:i1:8\r\n"));
    assert_non_null(strstr(b.resp.buf, "90000"));
    shop_buf_release(&b.resp);
    shop_fraud_global_clear(g);
    assert_int_equal(shop_fraud_global_pending(g), 0);
    assert_int_equal(shop_fraud_global_accounts(g, "d1", h), -1);
    shop_fraud_global_destroy(g);
    shop_fraud_global_destroy(NULL);
}

int main(void) {
    char err[512];
    codec = shop_codec_new(NULL, err, sizeof(err));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_events_equals_engine),
        cmocka_unit_test(test_meta_lines_and_order),
        cmocka_unit_test(test_device_scope),
        cmocka_unit_test(test_global_flush),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    shop_codec_destroy(codec);
    return rc;
}
