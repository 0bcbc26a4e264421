/* test_runtime_parts.c: runtime pieces that need no server: the event checks every event passes
 * before a worker sees it (validate.c: the failing field is named by its path) and event-id
 * dedupe (dedupe.c: duplicates within the window, re-reads of the original, what a flush writes
 * read back as at a restart, expiry written to Redis at the flush, the old per-id format) and the
 * event-time merge of co-partitioned topics (merge.c). */
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

/* Every position of a string: a control character, DEL or a C1 control anywhere is refused at its
 * byte; TAB, LF, CR and Hangul pass. */
static void test_validate_every_position(void **state) {
    (void)state;
    const char *bad[] = {"\\u0001", "\\u001f", "\\u007f", "\\u0085"};
    const char *good[] = {"\\t", "\\n", "\\r", "한", " ", "~"};
    char json[512], s[64], want[64], err[600];
    for (int pos = 0; pos < 24; pos++) {
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]) + sizeof(good) / sizeof(good[0]); k++) {
            int isbad = k < sizeof(bad) / sizeof(bad[0]);
            const char *ins = isbad ? bad[k] : good[k - sizeof(bad) / sizeof(bad[0])];
            snprintf(s, sizeof(s), "%.*s%s%.*s", pos, "abcdefghijklmnopqrstuvwxyz", ins, 24 - pos,
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
            snprintf(json, sizeof(json), ORDER("%s", "p2"), s);
            err[0] = '\0';
            int rc = shop_rt_validate_event(event(json), 65536, err, sizeof(err));
            if (!isbad) {
                assert_int_equal(rc, SHOP_OK);
                continue;
            }
            assert_int_equal(rc, SHOP_ERR_INVALID);
            snprintf(want, sizeof(want), "at byte %d", pos);
            if (!strstr(err, want) || !strstr(err, "items[0].product_id"))
                fail_msg("'%s' does not say '%s'", err, want);
        }
    }
}

/* The decoder scans the text as it reads (the check then skips its walk): a clean event is marked
 * clean with its longest string; a NaN double or a control character is not, and the check's walk
 * refuses it naming the field. */
static void test_validate_decoder_scan(void **state) {
    (void)state;
    const char *json = "{\"type\":\"search.visual\",\"occurred_at\":1795514400000,"
                       "\"user_id\":\"u1\",\"image_id\":\"img-12345\","
                       "\"matched_product_ids\":[\"p1\",\"p-0123456789\"],\"top_score\":0.5}";
    const shop_event_t *ev = event(json);
    char err[600] = "";
    assert_int_equal(ev->text_clean, 1);
    assert_true(ev->longest_string >= strlen("p-0123456789"));
    assert_int_equal(shop_rt_validate_event(ev, 65536, err, sizeof(err)), SHOP_OK);
    /* the same longest string over the limit is refused by the walk, with its path */
    assert_int_equal(shop_rt_validate_event(ev, 10, err, sizeof(err)), SHOP_ERR_INVALID);
    assert_non_null(strstr(err, "a string of"));
    /* 0.5 as a little-endian double, patched to a NaN in the encoded bytes */
    const unsigned char half[8] = {0, 0, 0, 0, 0, 0, 0xE0, 0x3F};
    unsigned char *b = (unsigned char *)enc.bytes.buf, *at = NULL;
    for (size_t i = 0; i + 8 <= enc.bytes.len && !at; i++)
        if (!memcmp(b + i, half, 8))
            at = b + i;
    assert_non_null(at);
    const unsigned char nan_bits[8] = {0, 0, 0, 0, 0, 0, 0xF8, 0x7F};
    memcpy(at, nan_bits, 8);
    assert_int_equal(shop_decoder_decode(dec, enc.bytes.buf, enc.bytes.len, &ev, err, sizeof(err)),
                     SHOP_OK);
    assert_int_equal(ev->text_clean, 0);
    assert_int_equal(shop_rt_validate_event(ev, 65536, err, sizeof(err)), SHOP_ERR_INVALID);
    if (!strstr(err, "top_score") || !strstr(err, "not a finite number"))
        fail_msg("'%s' does not name top_score as not finite", err);
    ev = event("{\"type\":\"search.visual\",\"occurred_at\":1795514400000,\"user_id\":\"u1\","
               "\"matched_product_ids\":[\"p1\",\"p\\u0007\"]}");
    assert_int_equal(ev->text_clean, 0);
    assert_int_equal(shop_rt_validate_event(ev, 65536, err, sizeof(err)), SHOP_ERR_INVALID);
    assert_non_null(strstr(err, "matched_product_ids[1]: control character U+0007 at byte 1"));
}

/* ---- dedupe.c ---- */

/* One command of a batch, parsed back from its RESP bytes. */
typedef struct {
    int argc;
    const char *argv[64];
    size_t len[64];
} cmd_t;

/* The batch's commands (at most `max`; arguments point into the batch). */
static int parse_cmds(const shop_redis_batch_t *b, cmd_t *out, int max) {
    const char *p = b->resp.buf, *end = p + b->resp.len;
    int n = 0;
    while (p && p < end) {
        assert_true(n < max);
        cmd_t *c = &out[n++];
        assert_int_equal(*p, '*');
        c->argc = atoi(p + 1);
        assert_true(c->argc > 0 && c->argc <= 64);
        p = strstr(p, "\r\n") + 2;
        for (int i = 0; i < c->argc; i++) {
            assert_int_equal(*p, '$');
            c->len[i] = (size_t)atol(p + 1);
            p = strstr(p, "\r\n") + 2;
            c->argv[i] = p;
            p += c->len[i] + 2;
        }
    }
    assert_true(p == end);
    return n;
}

static int is_cmd(const cmd_t *c, const char *name) {
    return c->len[0] == strlen(name) && !memcmp(c->argv[0], name, c->len[0]);
}

/* A stored hash, as the flushes left it (HSET adds, HDEL removes): what HGETALL would read. */
typedef struct {
    int n;
    char *f[64], *v[64];
    size_t fl[64], vl[64];
} hash_t;

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void hash_apply(hash_t *h, const shop_redis_batch_t *b, int *hsets, int *hdels) {
    cmd_t cmds[8];
    int n = parse_cmds(b, cmds, 8);
    *hsets = *hdels = 0;
    for (int i = 0; i < n; i++) {
        const cmd_t *c = &cmds[i];
        if (is_cmd(c, "HSET")) {
            assert_int_equal(c->argc, 4); /* one field per flush */
            assert_true(h->n < 64);
            h->f[h->n] = dupn(c->argv[2], c->len[2]);
            h->fl[h->n] = c->len[2];
            h->v[h->n] = dupn(c->argv[3], c->len[3]);
            h->vl[h->n++] = c->len[3];
            (*hsets)++;
        } else if (is_cmd(c, "HDEL")) {
            for (int a = 2; a < c->argc; a++)
                for (int j = 0; j < h->n; j++)
                    if (h->fl[j] == c->len[a] && !memcmp(h->f[j], c->argv[a], c->len[a])) {
                        free(h->f[j]);
                        free(h->v[j]);
                        h->n--;
                        h->f[j] = h->f[h->n], h->v[j] = h->v[h->n];
                        h->fl[j] = h->fl[h->n], h->vl[j] = h->vl[h->n];
                        (*hdels)++;
                        break;
                    }
        } else {
            assert_true(is_cmd(c, "EXPIRE"));
        }
    }
}

static void hash_free(hash_t *h) {
    for (int i = 0; i < h->n; i++)
        free(h->f[i]), free(h->v[i]);
    h->n = 0;
}

/* A fresh table read back from the hash, as at a restart. */
static shop_dedupe_t *reload(const hash_t *h, int64_t window) {
    shop_dedupe_t *d = shop_dedupe_new();
    assert_int_equal(shop_dedupe_load_pairs(d, (size_t)h->n, (const char *const *)h->f, h->fl,
                                            (const char *const *)h->v, h->vl, window),
                     0);
    return d;
}

/* Flushes d into h and marks it committed; returns the number of chunks written. */
static int flush_into(shop_dedupe_t *d, hash_t *h, int *hdels) {
    shop_redis_batch_t b = {{NULL, 0, 0}, 0};
    int hsets = 0, dels = 0;
    shop_dedupe_flush(d, &b, "k", 300000);
    hash_apply(h, &b, &hsets, &dels);
    shop_buf_release(&b.resp);
    shop_dedupe_flushed(d);
    if (hdels)
        *hdels = dels;
    return hsets;
}

/* The ids of one chunk, decoded here from the documented format (byte 0x01, then per id:
 * LEB128 length, bytes, LEB128 offset, LEB128 event time), each counted in seen[] by number. */
static uint64_t leb(const unsigned char **p) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80))
            return v;
    }
}

static int chunk_count(const char *v, size_t n, char prefix, int *seen, int nseen) {
    const unsigned char *p = (const unsigned char *)v, *end = p + n;
    assert_int_equal(*p++, 0x01);
    int ids = 0;
    while (p < end) {
        size_t len = (size_t)leb(&p);
        assert_true(len < 32 && p + len <= end);
        char id[32];
        memcpy(id, p, len);
        id[len] = '\0';
        p += len;
        (void)leb(&p);
        (void)leb(&p);
        if (id[0] == prefix && atoi(id + 1) < nseen)
            seen[atoi(id + 1)]++;
        ids++;
    }
    return ids;
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

    hash_t h = {0};
    assert_int_equal(flush_into(d, &h, NULL), 1);
    /* what a restart reads back answers as the table did */
    shop_dedupe_t *r = reload(&h, window);
    assert_int_equal(shop_dedupe_check(r, "e1", 6, t0, window), 1);
    assert_int_equal(shop_dedupe_check(r, "e1", 5, t0, window), 0);
    assert_int_equal(shop_dedupe_check(r, "e2", 12, t0, window), 0);
    shop_dedupe_destroy(r);
    char first[72];
    snprintf(first, sizeof(first), "%s", h.f[0]);

    /* 20,000 more ids over ten windows of event time, a flush every 1,000: e1 is forgotten in
     * memory, and its chunk deleted from the hash once all its ids have left the window */
    char id[32];
    int deleted = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "x%d", i); /* as the runtime does: check, then record */
        assert_int_equal(shop_dedupe_check(d, id, 100 + i, t0 + (int64_t)i * 150, window), 0);
        shop_dedupe_record(d, id, 100 + i, t0 + (int64_t)i * 150, window);
        if (i % 1000 == 999) {
            int dels;
            assert_int_equal(flush_into(d, &h, &dels), 1);
            deleted += dels;
        }
    }
    int64_t late = t0 + 20000LL * 150;
    assert_int_equal(shop_dedupe_check(d, "e1", 99999, late, window), 0);
    assert_int_equal(shop_dedupe_check(d, "x19999", 99999, late, window), 1);
    assert_int_equal(shop_dedupe_check(d, "x0", 99999, late, window), 0); /* out of the window */
    for (int j = 0; j < h.n; j++)
        assert_string_not_equal(h.f[j], first);
    /* a window holds 2,000 ids: the hash keeps the chunks that still hold any of them */
    assert_true(h.n >= 2 && h.n <= 4);
    assert_int_equal(deleted + h.n, 21);
    r = reload(&h, window);
    assert_int_equal(shop_dedupe_check(r, "x19999", 99999, late, window), 1);
    assert_int_equal(shop_dedupe_check(r, "x18500", 99999, late, window), 1);
    assert_int_equal(shop_dedupe_check(r, "e1", 99999, late, window), 0);
    shop_dedupe_destroy(r);
    hash_free(&h);
    shop_dedupe_destroy(d);
}

/* A flush writes the ids recorded since the last one, each once, whatever grows, sweeps and slot
 * reuse happened in between (it walks a list of pending slots, not the table); ids swept before
 * they were ever written are not written. */
static void test_dedupe_flush_writes_pending_once(void **state) {
    (void)state;
    const int64_t window = 300000, t0 = 1795514400000;
    shop_dedupe_t *d = shop_dedupe_new();
    char id[32];
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
    hash_t h = {0};
    assert_int_equal(flush_into(d, &h, NULL), 1);
    int seen_a[100] = {0}, seen_y[300] = {0};
    assert_int_equal(chunk_count(h.v[0], h.vl[0], 'y', seen_y, 300), 300);
    assert_int_equal(chunk_count(h.v[0], h.vl[0], 'a', seen_a, 100), 300);
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen_a[i], 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(seen_y[i], 1);
    hash_free(&h);

    int seen[6000] = {0};
    for (int i = 0, since = 0; i < 6000; i++, since++) {
        snprintf(id, sizeof(id), "x%d", i);
        assert_int_equal(shop_dedupe_check(d, id, 1000 + i, t + (int64_t)i * 150, window), 0);
        shop_dedupe_record(d, id, 1000 + i, t + (int64_t)i * 150, window);
        if (since + 1 < 7 && i + 1 < 6000)
            continue;
        shop_redis_batch_t b = {{NULL, 0, 0}, 0};
        shop_dedupe_flush(d, &b, "k", 300000);
        cmd_t cmds[8];
        int n = parse_cmds(&b, cmds, 8), hs = 0;
        for (int c = 0; c < n; c++)
            if (is_cmd(&cmds[c], "HSET")) {
                hs++;
                assert_int_equal(chunk_count(cmds[c].argv[3], cmds[c].len[3], 'x', seen, 6000),
                                 since + 1);
            }
        assert_int_equal(hs, 1);
        shop_buf_release(&b.resp);
        shop_dedupe_flushed(d);
        since = -1;
    }
    for (int i = 0; i < 6000; i++)
        assert_int_equal(seen[i], 1);
    shop_redis_batch_t b = {{NULL, 0, 0}, 0}; /* nothing left to write */
    shop_dedupe_flush(d, &b, "k", 300000);
    cmd_t cmds[8];
    int n = parse_cmds(&b, cmds, 8);
    for (int c = 0; c < n; c++)
        assert_false(is_cmd(&cmds[c], "HSET"));
    shop_buf_release(&b.resp);
    shop_dedupe_destroy(d);
}

/* The per-id format (field = event id, value "offset event_time") of earlier versions is read,
 * rewritten as a chunk at the next flush and its fields deleted; a chunk repeating an older one's
 * id at a smaller offset (a re-read of the original) wins; a damaged chunk is reported. */
static void test_dedupe_reads_old_format_and_damage(void **state) {
    (void)state;
    const int64_t window = 300000, t0 = 1795514400000;
    char v1[48], v2[48];
    snprintf(v1, sizeof(v1), "7 %lld", (long long)t0);
    snprintf(v2, sizeof(v2), "9 %lld", (long long)(t0 + 10));
    hash_t h = {2,
                {dupn("old-1", 5), dupn("old-2", 5)},
                {dupn(v1, strlen(v1)), dupn(v2, strlen(v2))},
                {5, 5},
                {strlen(v1), strlen(v2)}};
    shop_dedupe_t *d = reload(&h, window);
    assert_int_equal(shop_dedupe_check(d, "old-1", 8, t0, window), 1);
    assert_int_equal(shop_dedupe_check(d, "old-2", 9, t0, window), 0);
    int dels;
    assert_int_equal(flush_into(d, &h, &dels), 1);
    assert_int_equal(dels, 2);
    assert_int_equal(h.n, 1); /* one chunk holds both now */
    shop_dedupe_t *r = reload(&h, window);
    assert_int_equal(shop_dedupe_check(r, "old-1", 8, t0, window), 1);
    assert_int_equal(shop_dedupe_check(r, "old-2", 10, t0, window), 1);
    /* a re-read of old-2's original at offset 3: a second chunk; a reload keeps 3 */
    shop_dedupe_record(r, "old-2", 3, t0, window);
    assert_int_equal(flush_into(r, &h, NULL), 1);
    assert_int_equal(h.n, 2);
    shop_dedupe_t *r2 = reload(&h, window);
    assert_int_equal(shop_dedupe_check(r2, "old-2", 4, t0, window), 1);
    assert_int_equal(shop_dedupe_check(r2, "old-2", 3, t0, window), 0);
    shop_dedupe_destroy(r2);
    /* a chunk cut short: what precedes the damage is kept, the damage counted */
    h.vl[0] -= 1;
    r2 = shop_dedupe_new();
    assert_int_equal(shop_dedupe_load_pairs(r2, (size_t)h.n, (const char *const *)h.f, h.fl,
                                            (const char *const *)h.v, h.vl, window),
                     1);
    shop_dedupe_destroy(r2);
    shop_dedupe_destroy(r);
    shop_dedupe_destroy(d);
    hash_free(&h);
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
        cmocka_unit_test(test_validate_every_position),
        cmocka_unit_test(test_validate_decoder_scan),
        cmocka_unit_test(test_dedupe_window_and_expiry),
        cmocka_unit_test(test_dedupe_flush_writes_pending_once),
        cmocka_unit_test(test_dedupe_reads_old_format_and_damage),
        cmocka_unit_test(test_pg_array_literals),
        cmocka_unit_test(test_merge_event_time_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
