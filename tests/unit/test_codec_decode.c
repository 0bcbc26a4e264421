/* test_codec_decode.c: the decoder: a Java-written single-object message, schema evolution from
 * user_events v1 to v2, every structural error path, value accessors and decode throughput. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_internal.h"
#include "shop_codec.h"

typedef struct {
    shop_codec_t *codec;
    shop_decoder_t *dec;
    shop_encoded_t enc;
    char err[512];
} fixture_t;

static char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    shop_buf_t b;
    shop_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        shop_buf_append(&b, chunk, n);
    fclose(fp);
    if (len)
        *len = b.len;
    return b.buf ? b.buf : shop_xstrdup("");
}

static int setup(void **state) {
    fixture_t *f = shop_xcalloc(1, sizeof(*f));
    f->codec = shop_codec_new(NULL, f->err, sizeof(f->err));
    if (!f->codec) {
        fprintf(stderr, "shop_codec_new: %s\n", f->err);
        return -1;
    }
    f->dec = shop_decoder_new(f->codec);
    shop_encoded_init(&f->enc);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    shop_encoded_release(&f->enc);
    shop_decoder_destroy(f->dec);
    shop_codec_destroy(f->codec);
    free(f);
    return 0;
}

/* Encodes the flat JSON `text` into f->enc with `schema` (NULL: the current one). */
static void encode(fixture_t *f, const shop_schema_info_t *schema, const char *text) {
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    assert_non_null(obj);
    int r = schema ? shop_codec_encode_json_with(f->codec, schema, obj, SHOP_FRAMING_SINGLE_OBJECT,
                                                 &f->enc, f->err, sizeof(f->err))
                   : shop_codec_encode_json(f->codec, obj, SHOP_FRAMING_SINGLE_OBJECT, &f->enc,
                                            f->err, sizeof(f->err));
    if (r)
        fprintf(stderr, "encode: %s\n", f->err);
    assert_int_equal(r, 0);
    json_decref(obj);
}

static const shop_schema_info_t *schema_version(shop_codec_t *codec, const char *topic, int v) {
    const shop_schema_info_t *all[64];
    size_t n = shop_codec_schemas(codec, all, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        if (all[i]->topic && !strcmp(all[i]->topic, topic) && all[i]->version == v)
            return all[i];
    return NULL;
}

static void expect_invalid(fixture_t *f, const void *buf, size_t len, const char *reason) {
    const shop_event_t *ev = NULL;
    int r = shop_decoder_decode(f->dec, buf, len, &ev, f->err, sizeof(f->err));
    assert_int_equal(r, SHOP_ERR_INVALID);
    if (!strstr(f->err, reason))
        fprintf(stderr, "got \"%s\", want \"%s\"\n", f->err, reason);
    assert_non_null(strstr(f->err, reason));
}

/* Java wrote it (Avro's own test data); we add its schema and read the fields back. */
static void test_java_single_object(void **state) {
    fixture_t *f = *state;
    size_t len = 0;
    char *schema = slurp(SHOP_TEST_DATA "/avro/single-object/test_schema.avsc", NULL);
    char *msg = slurp(SHOP_TEST_DATA "/avro/single-object/test_message.bin", &len);
    assert_non_null(schema);
    assert_non_null(msg);
    const shop_event_t *ev = NULL;
    expect_invalid(f, msg, len, "unknown schema fingerprint");
    assert_int_equal(shop_codec_add_schema(f->codec, schema, f->err, sizeof(f->err)), 0);
    assert_int_equal(shop_decoder_decode(f->dec, msg, len, &ev, f->err, sizeof(f->err)), 0);
    assert_string_equal(ev->reader->name, "org.apache.avro.TestMessage");
    assert_int_equal(ev->kind, SHOP_EV_UNKNOWN);
    int64_t id = 0;
    const char *name = NULL;
    assert_int_equal(shop_value_get_long(ev->value, "id", &id), 0);
    assert_int_equal(id, 42);
    assert_int_equal(shop_value_get_string(ev->value, "name", &name), 0);
    assert_string_equal(name, "Bill");
    avro_value_t tags, tag;
    size_t n = 0, size = 0;
    const char *s = NULL;
    assert_int_equal(avro_value_get_by_name(ev->value, "tags", &tags, NULL), 0);
    assert_int_equal(avro_value_get_size(&tags, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(avro_value_get_by_index(&tags, 1, &tag, NULL), 0);
    assert_int_equal(avro_value_get_string(&tag, &s, &size), 0);
    assert_string_equal(s, "cat_hater");
    json_t *j = shop_event_to_json(ev);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(text,
                        "{\"id\":42,\"name\":\"Bill\",\"tags\":[\"dog_lover\",\"cat_hater\"]}");
    free(text);
    json_decref(j);
    assert_int_equal(shop_value_get_long(ev->value, "nope", &id), SHOP_ERR_NOTFOUND);
    assert_int_equal(shop_value_get_int(ev->value, "name", (int32_t *)&id), SHOP_ERR_INVALID);
    free(schema);
    free(msg);
}

/* An event written by user_events v1 comes out in the v2 reader, new fields null. */
static void test_evolution_v1_to_v2(void **state) {
    fixture_t *f = *state;
    const shop_schema_info_t *v1 = schema_version(f->codec, "shop.user.events", 1);
    const shop_schema_info_t *v2 = shop_codec_current_for_topic(f->codec, "shop.user.events");
    assert_non_null(v1);
    assert_non_null(v2);
    assert_int_equal(v2->version, 2);
    assert_false(v1->is_current);
    for (int round = 0; round < 3; round++) { /* the cached resolver is reused */
        encode(f, v1,
               "{\"type\":\"user.signup\",\"user_id\":\"u1\",\"country\":\"KR\","
               "\"locale\":\"ko-KR\",\"event_id\":\"6f1c2a44-7d0e-4a53-9b55-0e1f7c1d2e3f\","
               "\"occurred_at\":1700000000123}");
        uint64_t fp = 0;
        for (int i = 7; i >= 0; i--)
            fp = (fp << 8) | (unsigned char)f->enc.bytes.buf[2 + i];
        assert_true((int64_t)fp == v1->fingerprint);
        const shop_event_t *ev = NULL;
        assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev,
                                             f->err, sizeof(f->err)),
                         0);
        assert_ptr_equal(ev->writer, v1);
        assert_ptr_equal(ev->reader, v2);
        assert_int_equal(ev->kind, SHOP_EV_USER_SIGNUP);
        assert_string_equal(ev->type, "user.signup");
        assert_string_equal(ev->key, "u1");
        assert_int_equal(ev->occurred_at, 1700000000123LL);
        assert_true(avro_value_get_schema(ev->value) == v2->schema);
        const char *s = NULL;
        assert_int_equal(shop_value_get_string(ev->value, "ab_variant", &s), SHOP_ERR_NOTFOUND);
        assert_int_equal(shop_value_get_string(ev->value, "locale", &s), SHOP_ERR_NOTFOUND);
        assert_int_equal(shop_value_get_string(&((shop_event_t *)ev)->payload, "locale", &s), 0);
        assert_string_equal(s, "ko-KR");
        json_t *j = shop_event_to_json(ev);
        assert_true(json_is_null(json_object_get(j, "ab_variant")));
        assert_string_equal(json_string_value(json_object_get(j, "locale")), "ko-KR");
        json_decref(j);

        /* Interleave a v2 event and another v1 type through the same decoder. */
        encode(f, NULL,
               "{\"type\":\"user.cart_added\",\"user_id\":\"u2\",\"product_id\":\"p1\","
               "\"quantity\":2,\"unit_price_minor\":1500,\"currency\":\"KRW\","
               "\"ab_variant\":\"B\"}");
        assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev,
                                             f->err, sizeof(f->err)),
                         0);
        assert_ptr_equal(ev->writer, v2);
        assert_int_equal(shop_value_get_string(ev->value, "ab_variant", &s), 0);
        assert_string_equal(s, "B");
        int32_t q = 0;
        assert_int_equal(shop_value_get_int(&((shop_event_t *)ev)->payload, "quantity", &q), 0);
        assert_int_equal(q, 2);
        encode(f, v1,
               "{\"type\":\"user.level_up\",\"user_id\":\"u3\",\"level\":7,\"tier\":\"gold\"}");
        assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev,
                                             f->err, sizeof(f->err)),
                         0);
        assert_int_equal(ev->kind, SHOP_EV_USER_LEVEL_UP);
        assert_int_equal(shop_value_get_string(ev->value, "ab_variant", &s), SHOP_ERR_NOTFOUND);
        assert_int_equal(shop_value_get_string(&((shop_event_t *)ev)->payload, "badge", &s),
                         SHOP_ERR_NOTFOUND);
    }
}

static void test_error_paths(void **state) {
    fixture_t *f = *state;
    encode(f, NULL,
           "{\"type\":\"order.paid\",\"user_id\":\"u1\",\"order_id\":\"o1\","
           "\"amount_minor\":1250,\"currency\":\"KRW\"}");
    size_t len = f->enc.bytes.len;
    unsigned char *good = shop_xmalloc(len + 2), *bad = shop_xmalloc(len + 64);
    memcpy(good, f->enc.bytes.buf, len);
    const shop_event_t *ev = NULL;
    assert_int_equal(shop_decoder_decode(f->dec, good, len, &ev, f->err, sizeof(f->err)), 0);

    expect_invalid(f, good, 0, "empty message");
    memcpy(bad, good, len);
    bad[0] = 0x7f;
    expect_invalid(f, bad, len, "unknown magic byte 0x7f");
    expect_invalid(f, good, 6, "single-object header truncated");
    memcpy(bad, good, len);
    bad[1] = 0x02;
    expect_invalid(f, bad, len, "unknown single-object version");
    memcpy(bad, good, len);
    bad[5] ^= 0x55;
    expect_invalid(f, bad, len, "unknown schema fingerprint");
    for (size_t cut = 11; cut < len; cut += 7) /* truncated anywhere inside the body */
        expect_invalid(f, good, cut, "truncated or malformed");
    expect_invalid(f, good, len - 1, "truncated or malformed");
    memcpy(bad, good, len);
    bad[len] = 0x00;
    expect_invalid(f, bad, len + 1, "trailing bytes");
    /* Same length type string that names another branch than the one written. */
    memcpy(bad, good, len);
    unsigned char *t = memmem(bad, len, "order.paid", 10);
    assert_non_null(t);
    memcpy(t, "order.lost", 10);
    expect_invalid(f, bad, len, "type \"order.lost\" does not match the payload branch order.paid");
    /* Confluent framing without a registry. */
    unsigned char conf[8] = {0x00, 0, 0, 0, 7, 0x02, 0x02, 0x02};
    expect_invalid(f, conf, sizeof(conf), "no schema registry is configured");
    expect_invalid(f, conf, 3, "Confluent header truncated");
    /* A union discriminant beyond the payload branches. */
    encode(f, NULL, "{\"type\":\"order.delivered\",\"user_id\":\"u1\",\"order_id\":\"o1\"}");
    memcpy(bad, f->enc.bytes.buf, f->enc.bytes.len);
    bad[f->enc.bytes.len - 1] = 0x7e; /* payload is last; OrderDelivered has no fields */
    expect_invalid(f, bad, f->enc.bytes.len, "union branch 63 out of range");

    /* A string claiming a terabyte: refused before avro-c would allocate it. */
    memcpy(bad, good, 10);
    const unsigned char huge[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 'x'};
    memcpy(bad + 10, huge, sizeof(huge));
    expect_invalid(f, bad, 10 + sizeof(huge), "string of 2199023255552 bytes, only 1 left");
    memcpy(bad, good, len);
    bad[len] = 0x00;
    bad[len + 1] = 0x00;
    expect_invalid(f, bad, len + 2, "2 trailing bytes after the shop.events.OrderEvent record");
    /* A boolean byte that is neither 0 nor 1. */
    encode(f, NULL, "{\"type\":\"user.login\",\"user_id\":\"u1\",\"success\":true}");
    memcpy(bad, f->enc.bytes.buf, f->enc.bytes.len);
    unsigned char *flag = bad + f->enc.bytes.len - 4; /* success, then three null unions */
    assert_int_equal(*flag, 0x01);
    *flag = 0x02;
    expect_invalid(f, bad, f->enc.bytes.len, "boolean byte 0x02");

    /* The decoder still works after all that. */
    assert_int_equal(shop_decoder_decode(f->dec, good, len, &ev, f->err, sizeof(f->err)), 0);
    assert_int_equal(ev->kind, SHOP_EV_ORDER_PAID);
    free(good);
    free(bad);
}

/* A schema of the same topic added at run time with a higher version becomes the reader, and
 * decoders drop their cached resolvers. */
static void test_new_current_version(void **state) {
    fixture_t *f = *state;
    const shop_schema_info_t *cur = shop_codec_current_for_topic(f->codec, "shop.inventory.events");
    encode(f, NULL,
           "{\"type\":\"inventory.stock_level\",\"product_id\":\"p1\",\"region\":\"kr\","
           "\"quantity\":5}");
    const shop_event_t *ev = NULL;
    assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, f->err,
                                         sizeof(f->err)),
                     0);
    json_t *doc = json_loads(cur->json, 0, NULL);
    json_object_set_new(doc, "shop.version", json_integer(cur->version + 1));
    json_t *fields = json_object_get(doc, "fields");
    json_array_insert_new(fields, 4,
                          json_pack("{ss s[ss] so}", "name", "warehouse", "type", "null", "string",
                                    "default", json_null()));
    char *text = json_dumps(doc, 0);
    assert_int_equal(shop_codec_add_schema(f->codec, text, f->err, sizeof(f->err)), 0);
    const shop_schema_info_t *next =
        shop_codec_current_for_topic(f->codec, "shop.inventory.events");
    assert_int_equal(next->version, cur->version + 1);
    assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, f->err,
                                         sizeof(f->err)),
                     0);
    assert_ptr_equal(ev->reader, next);
    assert_ptr_equal(ev->writer, cur);
    int32_t q = 0;
    assert_int_equal(shop_value_get_int(&((shop_event_t *)ev)->payload, "quantity", &q), 0);
    assert_int_equal(q, 5);
    const char *s;
    assert_int_equal(shop_value_get_string(ev->value, "warehouse", &s), SHOP_ERR_NOTFOUND);
    /* Same version twice with different content is refused. */
    json_object_set_new(json_array_get(fields, 4), "name", json_string("depot"));
    free(text);
    text = json_dumps(doc, 0);
    assert_int_equal(shop_codec_add_schema(f->codec, text, f->err, sizeof(f->err)),
                     SHOP_ERR_INVALID);
    free(text);
    json_decref(doc);
}

/* A known older writer whose field type changed incompatibly: refused with the reason, and
 * the verdict is cached per writer (the same message again gives the same answer). */
static void test_unresolvable_writer(void **state) {
    fixture_t *f = *state;
    const shop_schema_info_t *cur = shop_codec_current_for_topic(f->codec, "shop.inventory.events");
    json_t *doc = json_loads(cur->json, 0, NULL);
    json_object_set_new(doc, "shop.version", json_integer(0));
    json_t *payload = json_array_get(json_object_get(doc, "fields"), 7);
    json_t *stock = json_array_get(json_object_get(payload, "type"), 0);
    json_object_set_new(json_array_get(json_object_get(stock, "fields"), 1), "type",
                        json_string("string")); /* quantity was a string back then */
    char *text = json_dumps(doc, 0);
    assert_int_equal(shop_codec_add_schema(f->codec, text, f->err, sizeof(f->err)), 0);
    int64_t fp = 0;
    assert_int_equal(shop_schema_fingerprint(text, &fp, f->err, sizeof(f->err)), 0);
    const shop_schema_info_t *v0 = shop_codec_schema_by_fingerprint(f->codec, fp);
    assert_non_null(v0);
    assert_ptr_equal(shop_codec_current_for_topic(f->codec, "shop.inventory.events"), cur);
    encode(f, v0,
           "{\"type\":\"inventory.stock_level\",\"product_id\":\"p1\",\"region\":\"kr\","
           "\"quantity\":\"5\"}");
    for (int i = 0; i < 2; i++)
        expect_invalid(f, f->enc.bytes.buf, f->enc.bytes.len,
                       "cannot read shop.events.InventoryEvent version 0 as version 1");
    free(text);
    json_decref(doc);
}

/* One codec, several threads each with its own decoder, encoding and decoding at once (the
 * encoder pool, the registry-free lookups and the per-thread caches). */
typedef struct {
    shop_codec_t *codec;
    int id, failures;
} worker_arg_t;

static void *worker(void *opaque) {
    worker_arg_t *a = opaque;
    char err[256], text[256];
    shop_decoder_t *dec = shop_decoder_new(a->codec);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    const shop_schema_info_t *v1 = schema_version(a->codec, "shop.user.events", 1);
    for (int i = 0; i < 3000; i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":\"user.cart_added\",\"user_id\":\"t%d-%d\",\"product_id\":\"p\","
                 "\"quantity\":%d,\"unit_price_minor\":1,\"currency\":\"KRW\"}",
                 a->id, i, i);
        json_t *obj = json_loads(text, 0, NULL);
        int r = i % 3 ? shop_codec_encode_json(a->codec, obj, SHOP_FRAMING_SINGLE_OBJECT, &enc, err,
                                               sizeof(err))
                      : shop_codec_encode_json_with(a->codec, v1, obj, SHOP_FRAMING_SINGLE_OBJECT,
                                                    &enc, err, sizeof(err));
        json_decref(obj);
        const shop_event_t *ev = NULL;
        int32_t q = -1;
        if (r || shop_decoder_decode(dec, enc.bytes.buf, enc.bytes.len, &ev, err, sizeof(err)) ||
            shop_value_get_int(&((shop_event_t *)ev)->payload, "quantity", &q) || q != i ||
            strcmp(ev->key, enc.key))
            a->failures++;
    }
    shop_encoded_release(&enc);
    shop_decoder_destroy(dec);
    return NULL;
}

static void test_threads(void **state) {
    fixture_t *f = *state;
    pthread_t t[4];
    worker_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg_t){f->codec, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

/* Informational: small events per second through one decoder (no allocation per message on the
 * same-version path beyond what avro-c does for strings). */
static void test_decode_throughput(void **state) {
    fixture_t *f = *state;
    encode(f, NULL,
           "{\"type\":\"user.product_viewed\",\"user_id\":\"u12345\",\"product_id\":\"p987\","
           "\"session_id\":\"s1\",\"category\":\"shoes\",\"price_minor\":59000}");
    const shop_event_t *ev = NULL;
    const int n = 300000;
    int64_t t0 = shop_mono_us();
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, f->err,
                                sizeof(f->err)))
            fail_msg("decode: %s", f->err);
        sum += ev->kind;
    }
    int64_t us = shop_mono_us() - t0;
    assert_int_equal(sum, (int64_t)n * SHOP_EV_USER_PRODUCT_VIEWED);
    printf("decode: %d events of %zu bytes in %.3f s = %.0f events/s\n", n, f->enc.bytes.len,
           (double)us / 1e6, (double)n * 1e6 / (double)(us ? us : 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_java_single_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evolution_v1_to_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_current_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unresolvable_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_throughput, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
