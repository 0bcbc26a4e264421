/* test_runtime_parts.c: runtime pieces that need no server: the event checks every event passes
 * before a worker sees it (validate.c: the failing field is named by its path) and event-id
 * dedupe (dedupe.c: duplicates within the window, re-reads of the original, expiry written to
 * Redis at the flush) and the event-time merge of co-partitioned topics (merge.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "runtime_int.h"

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

/* Encodes JSON text and decodes it back: a real event as the runtime sees it. */
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

#define ORDER(item0, item1)                                                                        \
    "{\"type\":\"order.placed\",\"occurred_at\":1795514400000,\"user_id\":\"u1\","                 \
    "\"order_id\":\"o1\",\"amount_minor\":300,\"currency\":\"KRW\",\"items\":["                    \
    "{\"product_id\":\"" item0 "\",\"quantity\":1,\"unit_price_minor\":100},"                      \
    "{\"product_id\":\"" item1 "\",\"quantity\":2,\"unit_price_minor\":100}]}"

static void check_refused(const char *json, size_t max_bytes, const char *const *want) {
    char err[600] = "";
    assert_int_equal(shop_rt_validate_event(event(json), max_bytes, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    for (int i = 0; want[i]; i++)
        if (!strstr(err, want[i]))
            fail_msg("'%s' does not say '%s'", err, want[i]);
}

static void test_validate_names_the_field(void **state) {
    (void)state;
    char err[600] = "";
    assert_int_equal(shop_rt_validate_event(event(ORDER("p1", "p2")), 65536, err, sizeof(err)),
                     SHOP_OK);
    /* the second item's product id: the path must say [1], not the first item or a sibling */
    check_refused(ORDER("p1", "p\\u001b[2"), 65536,
                  (const char *const[]){"order.placed: ", "items[1].product_id",
                                        "control character U+001B at byte 1", NULL});
    check_refused(ORDER("p\\u0085", "p2"), 65536,
                  (const char *const[]){"items[0].product_id", "U+0085", NULL});
    check_refused(ORDER("p1", "p-0123456789-0123456789-0123456789-0123456789"), 40,
                  (const char *const[]){"items[1].product_id: a string of 45 bytes, over "
                                        "event.max.string.bytes (40)",
                                        NULL});
}

/* The RESP text of a batch, as a C string (for strstr). */
static char *resp_text(shop_redis_batch_t *b) {
    char *s = malloc(b->resp.len + 1);
    if (b->resp.len) /* an empty batch has no buffer */
        memcpy(s, b->resp.buf, b->resp.len);
    s[b->resp.len] = '\0';
    return s;
}

static void test_dedupe_window_and_expiry(void **state) {
    (void)state;
    const int64_t window = 300000, t0 = 1795514400000;
    shop_dedupe_t *d = shop_dedupe_new();
    shop_dedupe_record(d, "e1", 10, t0, window);
    assert_int_equal(shop_dedupe_check(d, "e1", 11, t0 + 1000, window), 1); /* re-sent */
    assert_int_equal(shop_dedupe_check(d, "e1", 10, t0, window), 0);        /* re-read */
    assert_int_equal(shop_dedupe_check(d, "e2", 12, t0, window), 0);
    /* a re-read below the first offset seen keeps the smaller one */
    shop_dedupe_record(d, "e1", 5, t0, window);
    assert_int_equal(shop_dedupe_check(d, "e1", 6, t0, window), 1);
    assert_int_equal(shop_dedupe_check(d, "e1", 5, t0, window), 0);

    shop_redis_batch_t b = {{NULL, 0, 0}, 0};
    shop_dedupe_flush(d, &b, "k", 60);
    char *s = resp_text(&b);
    assert_non_null(strstr(s, "HSET"));
    assert_non_null(strstr(s, "e1"));
    free(s);
    shop_buf_release(&b.resp);
    shop_dedupe_flushed(d);

    /* 20,000 more ids over ten windows of event time: e1 is forgotten in memory and in Redis */
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "x%d", i); /* as the runtime does: check, then record */
        assert_int_equal(shop_dedupe_check(d, id, 100 + i, t0 + (int64_t)i * 150, window), 0);
        shop_dedupe_record(d, id, 100 + i, t0 + (int64_t)i * 150, window);
    }
    int64_t late = t0 + 20000LL * 150;
    assert_int_equal(shop_dedupe_check(d, "e1", 99999, late, window), 0);
    assert_int_equal(shop_dedupe_check(d, "x19999", 99999, late, window), 1);
    assert_int_equal(shop_dedupe_check(d, "x0", 99999, late, window), 0); /* out of the window */
    b = (shop_redis_batch_t){{NULL, 0, 0}, 0};
    shop_dedupe_flush(d, &b, "k", 60);
    s = resp_text(&b);
    assert_non_null(strstr(s, "HDEL"));
    assert_non_null(strstr(s, "\r\ne1\r\n")); /* written at the first flush, so deleted now */
    free(s);
    shop_buf_release(&b.resp);
    shop_dedupe_destroy(d);
}

/* Fields of the HSET in a flush's commands (0 when there is none). */
static int hset_fields(const char *s) {
    const char *h = strstr(s, "\r\nHSET\r\n");
    if (!h)
        return 0;
    const char *star = h;
    while (star > s && *star != '*')
        star--;
    return (atoi(star + 1) - 2) / 2;
}

/* A flush writes the ids recorded since the last one, each once, whatever grows, sweeps and slot
 * reuse happened in between (it walks a list of pending slots, not the table); ids swept before
 * they were ever written are neither written nor deleted. */
static void test_dedupe_flush_writes_pending_once(void **state) {
    (void)state;
    const int64_t window = 300000, t0 = 1795514400000;
    shop_dedupe_t *d = shop_dedupe_new();
    char id[32], pat[40];
    for (int i = 0; i < 100; i++) {         /* pending, then expired before any flush */
        snprintf(id, sizeof(id), "a%d", i); /* as the runtime does: check, then record */
        assert_int_equal(shop_dedupe_check(d, id, i, t0, window), 0);
        shop_dedupe_record(d, id, i, t0, window);
    }
    int64_t t = t0 + 2 * window;
    for (int i = 0; i < 300; i++) { /* enough inserts for a sweep */
        snprintf(id, sizeof(id), "y%d", i);
        assert_int_equal(shop_dedupe_check(d, id, 200 + i, t, window), 0);
        shop_dedupe_record(d, id, 200 + i, t, window);
    }
    shop_redis_batch_t b0 = {{NULL, 0, 0}, 0};
    shop_dedupe_flush(d, &b0, "k", 60);
    char *s0 = resp_text(&b0);
    assert_int_equal(hset_fields(s0), 300);
    assert_null(strstr(s0, "\r\na0\r\n"));
    assert_null(strstr(s0, "\r\na99\r\n"));
    assert_null(strstr(s0, "HDEL"));
    free(s0);
    shop_buf_release(&b0.resp);
    shop_dedupe_flushed(d);
    for (int i = 0, since = 0; i < 6000; i++, since++) {
        snprintf(id, sizeof(id), "x%d", i);
        assert_int_equal(shop_dedupe_check(d, id, 1000 + i, t + (int64_t)i * 150, window), 0);
        shop_dedupe_record(d, id, 1000 + i, t + (int64_t)i * 150, window);
        if (since + 1 < 7 && i + 1 < 6000)
            continue;
        shop_redis_batch_t b = {{NULL, 0, 0}, 0};
        shop_dedupe_flush(d, &b, "k", 60);
        char *s = resp_text(&b);
        assert_int_equal(hset_fields(s), since + 1);
        for (int j = i - since; j <= i; j++) {
            snprintf(pat, sizeof(pat), "\r\nx%d\r\n", j);
            const char *at = strstr(s, pat);
            assert_non_null(at);
            assert_null(strstr(at + 1, pat));
        }
        free(s);
        shop_buf_release(&b.resp);
        shop_dedupe_flushed(d);
        since = -1;
    }
    shop_redis_batch_t b = {{NULL, 0, 0}, 0}; /* nothing left to write */
    shop_dedupe_flush(d, &b, "k", 60);
    char *s = resp_text(&b);
    assert_int_equal(hset_fields(s), 0);
    free(s);
    shop_buf_release(&b.resp);
    shop_dedupe_destroy(d);
}

/* ---- store_pg.c: array literals ---- */

static void test_pg_array_literals(void **state) {
    (void)state;
    shop_buf_t b;
    shop_buf_init(&b);
    shop_pg_array_end(&b);
    assert_string_equal(b.buf, "{}");
    shop_buf_reset(&b);
    shop_pg_array_add(&b, "o-1");
    shop_pg_array_add(&b, NULL);
    shop_pg_array_add(&b, "");
    shop_pg_array_add(&b, "a\"b\\c,{d} NULL");
    shop_pg_array_add(&b, "빨간색");
    shop_pg_array_end(&b);
    assert_string_equal(b.buf, "{\"o-1\",NULL,\"\",\"a\\\"b\\\\c,{d} NULL\",\"빨간색\"}");
    shop_buf_release(&b);
}

/* ---- merge.c ---- */

static void free_nothing(void *p) {
    assert_int_equal((intptr_t)p, 10); /* the one message still held */
}

static int drained_tab[2][4]; /* [topic][partition]: nothing more to read now */
static int tab_drained(void *arg, int topic, int32_t partition) {
    (void)arg;
    return drained_tab[topic][partition];
}

static intptr_t pop(shop_merge_t *m, int64_t now) {
    return (intptr_t)shop_merge_pop(m, tab_drained, NULL, now);
}

static void test_merge_event_time_order(void **state) {
    (void)state;
    memset(drained_tab, 0, sizeof(drained_tab));
    shop_merge_t *m = shop_merge_new(2, 4, 1000, 500000);
    /* partition 0: topic 0 (orders) arrives first, topic 1 (users) later; messages are ids */
    assert_int_equal(shop_merge_push(m, 0, 0, 300, (void *)3), 0);
    assert_int_equal(shop_merge_push(m, 0, 0, 500, (void *)5), 0);
    assert_null((void *)pop(m, 1)); /* topic 1 of partition 0 may still hold earlier events */
    assert_int_equal(shop_merge_push(m, 1, 0, 100, (void *)1), 0);
    assert_int_equal(shop_merge_push(m, 1, 0, 400, (void *)4), 0);
    assert_int_equal(pop(m, 2), 1);
    assert_int_equal(pop(m, 2), 3);
    assert_int_equal(pop(m, 2), 4);
    assert_null((void *)pop(m, 2)); /* 5 waits: topic 1 is empty and not drained */
    drained_tab[1][0] = 1;          /* topic 1 read up to its high watermark */
    assert_int_equal(pop(m, 3), 5);
    assert_int_equal(shop_merge_held(m), 0);

    /* the idle bound: a partition waits at most idle_us for a late topic, counted from when it
     * started to wait (not from the head's arrival) */
    drained_tab[1][0] = 0;
    assert_int_equal(shop_merge_push(m, 0, 0, 600, (void *)6), 0);
    assert_int_equal(shop_merge_push(m, 0, 0, 700, (void *)7), 0);
    assert_null((void *)pop(m, 1000000)); /* starts waiting */
    assert_null((void *)pop(m, 1000000 + 499999));
    assert_int_equal(pop(m, 1000000 + 500000), 6);
    assert_int_equal(pop(m, 1000000 + 500001), 7); /* still waited past the bound */
    /* a topic that has a message again is waited for afresh once it is empty */
    assert_int_equal(shop_merge_push(m, 1, 0, 800, (void *)8), 0);
    assert_null((void *)pop(m, 1000000 + 500002)); /* topic 0 is empty now: 8 waits for it */
    drained_tab[0][0] = 1;
    assert_int_equal(pop(m, 1000000 + 500003), 8);
    drained_tab[0][0] = 0;
    assert_int_equal(shop_merge_push(m, 0, 0, 900, (void *)9), 0);
    assert_null((void *)pop(m, 1000000 + 500004)); /* topic 1's wait starts over */
    assert_null((void *)pop(m, 1000000 + 999999));
    assert_int_equal(pop(m, 1000000 + 1000004), 9);

    /* partitions are independent: partition 1's topic 1 does not hold partition 2 back */
    assert_int_equal(shop_merge_push(m, 0, 1, 10, (void *)10), 0);
    assert_int_equal(shop_merge_push(m, 0, 2, 20, (void *)20), 0);
    drained_tab[1][2] = 1;
    assert_int_equal(pop(m, 2000001), 20);
    assert_null((void *)pop(m, 2000001));
    /* outside the merge: the caller dispatches it */
    assert_int_equal(shop_merge_push(m, 2, 0, 1, (void *)99), -1);
    assert_int_equal(shop_merge_push(m, 0, 4, 1, (void *)99), -1);
    shop_merge_destroy(m, free_nothing);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_names_the_field),
        cmocka_unit_test(test_dedupe_window_and_expiry),
        cmocka_unit_test(test_dedupe_flush_writes_pending_once),
        cmocka_unit_test(test_pg_array_literals),
        cmocka_unit_test(test_merge_event_time_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
