/* test_generate_retail.c: UCI Online Retail invoices as order events: grouping, pence, guests,
 * cancellations, quoted CSV fields, codec acceptance; the full sample when ../shared is present. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "commands.h"
#include "generate.h"
#include "shop_codec.h"

#define SLICE  SHOP_TEST_DATA "/retail"
#define SHARED SHOP_SHARED_DATA "/retail"

typedef struct {
    json_t *events;   /* array of every event */
    json_t *orders;   /* order_id -> event */
    json_t *products; /* product_id -> upsert */
    shop_buf_t raw;
} replay_t;

/* Replays dir, checking each line against the codec; fills r. */
static void replay(const char *dir, uint64_t seed, replay_t *r) {
    char err[512];
    shop_codec_t *codec = shop_codec_new(NULL, err, sizeof(err));
    assert_non_null(codec);
    shop_retail_t *rt = shop_retail_open(dir, seed, err, sizeof(err));
    if (!rt)
        fail_msg("%s", err);
    r->events = json_array(), r->orders = json_object(), r->products = json_object();
    shop_buf_init(&r->raw);
    shop_buf_t line;
    shop_buf_init(&line);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    shop_event_kind_t kind;
    int64_t at;
    int rc;
    while ((rc = shop_retail_next(rt, &line, &kind, &at, err, sizeof(err))) == 1) {
        json_error_t jerr;
        json_t *o = json_loads(line.buf, 0, &jerr);
        if (!o)
            fail_msg("%s: %s", jerr.text, line.buf);
        if (shop_codec_encode_json(codec, o, SHOP_FRAMING_SINGLE_OBJECT, &enc, err, sizeof(err)))
            fail_msg("rejected: %s\n%s", err, line.buf);
        assert_int_equal(shop_event_kind_from_name(json_string_value(json_object_get(o, "type"))),
                         kind);
        const char *oid = json_string_value(json_object_get(o, "order_id"));
        if (oid) {
            if (json_object_get(r->orders, oid))
                fail_msg("order %s twice", oid);
            json_object_set(r->orders, oid, o);
        } else {
            json_object_set(r->products, json_string_value(json_object_get(o, "product_id")), o);
        }
        json_array_append_new(r->events, o);
        shop_buf_append(&r->raw, line.buf, line.len);
        shop_buf_reset(&line);
    }
    if (rc < 0)
        fail_msg("%s", err);
    shop_encoded_release(&enc);
    shop_buf_release(&line);
    shop_retail_close(rt);
    shop_codec_destroy(codec);
}

static void replay_release(replay_t *r) {
    json_decref(r->events), json_decref(r->orders), json_decref(r->products);
    shop_buf_release(&r->raw);
}

static json_int_t num(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("field %s is not an integer", k);
    return json_integer_value(v);
}

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    if (!s)
        fail_msg("field %s is not a string", k);
    return s;
}

static void test_slice(void **state) {
    (void)state;
    replay_t r;
    replay(SLICE, 1, &r);
    /* 536365: seven lines, 139.12 GBP */
    json_t *o = json_object_get(r.orders, "536365");
    assert_non_null(o);
    assert_string_equal(str(o, "type"), "order.placed");
    assert_string_equal(str(o, "user_id"), "17850");
    assert_int_equal(num(o, "amount_minor"), 13912);
    assert_string_equal(str(o, "currency"), "GBP");
    assert_string_equal(str(o, "country"), "GB");
    assert_int_equal(num(o, "occurred_at"), 1291191960000LL); /* 2010-12-01T08:26:00Z */
    json_t *items = json_object_get(o, "items");
    assert_int_equal(json_array_size(items), 7);
    json_t *first = json_array_get(items, 0);
    assert_string_equal(str(first, "product_id"), "85123A");
    assert_int_equal(num(first, "quantity"), 6);
    assert_int_equal(num(first, "unit_price_minor"), 255);
    /* cancellations become refunds of the positive amount */
    o = json_object_get(r.orders, "C536391");
    assert_non_null(o);
    assert_string_equal(str(o, "type"), "order.refunded");
    assert_int_equal(num(o, "amount_minor"), 14148);
    assert_int_equal(num(json_object_get(r.orders, "C536379"), "amount_minor"), 2750);
    /* no CustomerID: a guest per invoice */
    o = json_object_get(r.orders, "536414");
    assert_string_equal(str(o, "user_id"), "guest-536414");
    assert_int_equal(num(o, "amount_minor"), 0);
    /* quoted CSV fields: embedded commas and doubled quotes */
    assert_string_equal(str(json_object_get(r.products, "22041"), "title"),
                        "RECORD FRAME 7\" SINGLE SIZE");
    assert_string_equal(str(json_object_get(r.products, "82567"), "title"),
                        "AIRLINE LOUNGE,METAL SIGN");
    assert_string_equal(str(json_object_get(r.products, "21134"), "title"),
                        "21134"); /* no description */
    /* every invoice of both files, once; the catalog entry before the first order of a code */
    assert_int_equal(json_object_size(r.orders), 10);
    assert_non_null(json_object_get(r.orders, "536599"));
    assert_string_equal(str(json_array_get(r.events, 0), "type"), "catalog.product_upserted");
    assert_string_equal(str(json_array_get(r.events, 0), "product_id"), "85123A");
    /* same seed, same bytes; another seed changes only the event ids */
    replay_t again, other;
    replay(SLICE, 1, &again);
    replay(SLICE, 2, &other);
    assert_int_equal(r.raw.len, again.raw.len);
    assert_memory_equal(r.raw.buf, again.raw.buf, r.raw.len);
    assert_int_equal(r.raw.len, other.raw.len);
    assert_true(memcmp(r.raw.buf, other.raw.buf, r.raw.len) != 0);
    replay_release(&again);
    replay_release(&other);
    replay_release(&r);
}

static void test_cli_limit(void **state) {
    (void)state;
    char path[] = "/tmp/test_retail_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char a0[] = "generate", a1[] = "--from-retail", a2[] = SLICE, a3[] = "--events", a4[] = "5",
         a5[] = "--out";
    char *argv[] = {a0, a1, a2, a3, a4, a5, path, NULL};
    FILE *err = tmpfile();
    int save = dup(2);
    dup2(fileno(err), 2);
    int rc = shop_cmd_generate(7, argv);
    char b2[] = "/nonexistent/retail";
    char *argv2[] = {a0, a1, b2, a5, path, NULL};
    int rc2 = shop_cmd_generate(5, argv2);
    fflush(stderr);
    dup2(save, 2);
    close(save);
    fclose(err);
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, 1);
    FILE *fp = fopen(path, "r");
    int lines = 0, c;
    while ((c = fgetc(fp)) != EOF)
        lines += c == '\n';
    fclose(fp);
    unlink(path);
    assert_int_equal(lines, 5);
}

/* The whole sample under ../shared/data/retail, when this checkout has it. */
static void test_shared_sample(void **state) {
    (void)state;
    struct stat sb;
    if (stat(SHARED, &sb) != 0) {
        print_message("SKIPPED: %s is absent (a fresh clone has no ../shared)\n", SHARED);
        skip();
    }
    replay_t r;
    replay(SHARED, 1, &r);
    size_t refunds = 0;
    const char *k;
    json_t *o;
    json_object_foreach(r.orders, k, o) refunds += k[0] == 'C';
    assert_true(json_object_size(r.orders) > 1000);
    assert_true(refunds > 100);
    assert_true(json_object_size(r.products) > 1000);
    replay_release(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_cli_limit),
        cmocka_unit_test(test_shared_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
