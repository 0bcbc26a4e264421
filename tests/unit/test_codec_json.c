/* test_codec_json.c: the flat JSON form: a round trip JSON -> Avro -> JSON for one event of every
 * type, the exact validation messages, defaults, generated fields, keys, topics and framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shop_codec.h"

typedef struct {
    shop_codec_t *codec;
    shop_decoder_t *dec;
    shop_encoded_t enc;
    char err[512];
} fixture_t;

static int setup(void **state) {
    fixture_t *f = shop_xcalloc(1, sizeof(*f));
    f->codec = shop_codec_new(NULL, f->err, sizeof(f->err));
    if (!f->codec)
        return -1;
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

static int encode_text(fixture_t *f, const char *text) {
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!obj)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    int r = shop_codec_encode_json(f->codec, obj, SHOP_FRAMING_SINGLE_OBJECT, &f->enc, f->err,
                                   sizeof(f->err));
    json_decref(obj);
    return r;
}

#define ENVELOPE                                                                                   \
    "\"event_id\":\"0b7e7d6a-3c1f-4e0c-9d8a-2a9f3b4c5d6e\",\"occurred_at\":1764000000000,"

/* One event of every type; every field the schema has is given here unless it is nullable. */
static const char *const every_type[] = {
    "{" ENVELOPE
    "\"type\":\"user.signup\",\"user_id\":\"u1\",\"session_id\":\"s1\",\"source\":\"web\","
    "\"ab_variant\":\"A\",\"locale\":\"ko-KR\",\"country\":\"KR\",\"device_id\":\"d1\",\"ip_hash\":"
    "\"ih\","
    "\"referrer\":\"ads\"}",
    "{" ENVELOPE
    "\"type\":\"user.login\",\"user_id\":\"u1\",\"success\":false,\"device_id\":\"d1\","
    "\"country\":\"KR\",\"trace_parent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-"
    "01\"}",
    "{" ENVELOPE "\"type\":\"user.product_viewed\",\"user_id\":\"u1\",\"product_id\":\"p1\","
    "\"category\":\"shoes\",\"price_minor\":59000,\"referrer\":\"search\"}",
    "{" ENVELOPE
    "\"type\":\"user.cart_added\",\"user_id\":\"u1\",\"product_id\":\"p1\",\"quantity\":2,"
    "\"unit_price_minor\":59000,\"currency\":\"KRW\"}",
    "{" ENVELOPE
    "\"type\":\"user.cart_removed\",\"user_id\":\"u1\",\"product_id\":\"p1\",\"quantity\":1}",
    "{" ENVELOPE
    "\"type\":\"user.wishlist_added\",\"user_id\":\"u1\",\"product_id\":\"p1\",\"region\":\"kr\"}",
    "{" ENVELOPE
    "\"type\":\"user.points_earned\",\"user_id\":\"u1\",\"points\":120,\"reason\":\"review\","
    "\"order_id\":\"o1\"}",
    "{" ENVELOPE "\"type\":\"user.points_spent\",\"user_id\":\"u1\",\"points\":-5000000000}",
    "{" ENVELOPE "\"type\":\"user.level_up\",\"user_id\":\"u1\",\"level\":3,\"tier\":\"silver\","
    "\"badge\":\"b\"}",
    "{" ENVELOPE "\"type\":\"user.notification_prefs_changed\",\"user_id\":\"u1\","
    "\"notification_type\":\"restock\",\"channel\":\"email\",\"enabled\":true,\"quiet_start\":\"22:"
    "00\","
    "\"quiet_end\":\"07:00\",\"timezone\":\"Asia/Seoul\",\"max_per_day\":3}",
    "{" ENVELOPE
    "\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1250,"
    "\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p1\",\"sku\":\"s-1\",\"quantity\":1,"
    "\"unit_price_minor\":1000},{\"product_id\":\"p2\",\"sku\":null,\"quantity\":1,\"unit_price_"
    "minor\":250}],"
    "\"points_used\":10,\"payment_method\":\"card\",\"shipping_address_hash\":\"sa\",\"device_id\":"
    "\"d\","
    "\"ip_hash\":\"i\",\"country\":\"KR\"}",
    "{" ENVELOPE
    "\"type\":\"order.paid\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1250,"
    "\"currency\":\"KRW\",\"payment_method\":\"card\"}",
    "{" ENVELOPE "\"type\":\"order.payment_failed\",\"user_id\":\"u1\",\"order_id\":\"o1\","
    "\"amount_minor\":1250,\"currency\":\"KRW\",\"reason\":\"declined\"}",
    "{" ENVELOPE "\"type\":\"order.cancelled\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"reason\":"
    "\"changed mind\"}",
    "{" ENVELOPE
    "\"type\":\"order.refunded\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1250,"
    "\"currency\":\"KRW\",\"reason\":null}",
    "{" ENVELOPE
    "\"type\":\"order.chargeback\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1250,"
    "\"currency\":\"USD\",\"reason\":\"fraud\"}",
    "{" ENVELOPE
    "\"type\":\"order.shipped\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"carrier\":\"cj\","
    "\"tracking_id\":\"t1\"}",
    "{" ENVELOPE "\"type\":\"order.delivered\",\"user_id\":\"u1\",\"order_id\":\"o1\"}",
    "{" ENVELOPE "\"type\":\"search.query\",\"user_id\":\"u1\",\"query\":"
    "\"\xeb\x82\x98\xec\x9d\xb4\xed\x82\xa4 \\\"air\\\"\","
    "\"result_count\":42,\"category\":\"shoes\"}",
    "{" ENVELOPE "\"type\":\"search.suggestion_clicked\",\"user_id\":\"u1\",\"prefix\":\"ni\","
    "\"suggestion\":\"nike\",\"position\":0}",
    "{" ENVELOPE "\"type\":\"search.result_clicked\",\"user_id\":\"u1\",\"query\":\"nike\","
    "\"product_id\":\"p1\","
    "\"position\":3}",
    "{" ENVELOPE "\"type\":\"search.visual\",\"user_id\":\"u1\",\"image_id\":\"img1\","
    "\"matched_product_ids\":[\"p1\",\"p2\"],\"top_score\":0.875}",
    "{" ENVELOPE
    "\"type\":\"inventory.stock_level\",\"product_id\":\"p1\",\"region\":\"kr\",\"quantity\":-3,"
    "\"previous_quantity\":4}",
    "{" ENVELOPE "\"type\":\"catalog.product_upserted\",\"product_id\":\"p1\",\"title\":\"Shoe\","
    "\"category\":\"shoes\",\"brand\":\"acme\",\"price_minor\":59000,\"currency\":\"KRW\","
    "\"points_price\":5900,\"locale_titles\":{\"ko\":\"\xec\x8b\xa0\xeb\xb0\x9c\",\"en\":\"Shoe\"}"
    "}",
};

/* The decoder's own one-pass reader must agree with avro-c's avro_value_read on the same body. */
static void same_as_avro_c(const shop_event_t *ev, const shop_buf_t *bytes) {
    avro_value_iface_t *iface = avro_generic_class_from_schema(ev->reader->schema);
    avro_value_t ref;
    assert_int_equal(avro_generic_value_new(iface, &ref), 0);
    avro_reader_t rd = avro_reader_memory(bytes->buf + 10, (int64_t)bytes->len - 10);
    assert_int_equal(avro_value_read(rd, &ref), 0);
    assert_true(avro_value_equal(&ref, ev->value));
    avro_reader_free(rd);
    avro_value_decref(&ref);
    avro_value_iface_decref(iface);
}

/* Every key given comes back equal; every other key comes back null (a nullable left out). */
static int same_event(json_t *in, json_t *out) {
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v) {
        if (!json_equal(v, json_object_get(out, key)))
            return 0;
    }
    json_object_foreach(out, key, v) {
        if (!json_object_get(in, key) && !json_is_null(v))
            return 0;
    }
    return 1;
}

static void test_round_trip_every_type(void **state) {
    fixture_t *f = *state;
    int covered[SHOP_EV__COUNT] = {0};
    size_t n = sizeof(every_type) / sizeof(every_type[0]);
    for (size_t i = 0; i < n; i++) {
        json_t *in = json_loads(every_type[i], 0, NULL);
        assert_non_null(in);
        const char *type = json_string_value(json_object_get(in, "type"));
        if (shop_codec_encode_json(f->codec, in, SHOP_FRAMING_SINGLE_OBJECT, &f->enc, f->err,
                                   sizeof(f->err)))
            fail_msg("%s: %s", type, f->err);
        assert_string_equal(f->enc.type, type);
        assert_string_equal(f->enc.topic, shop_codec_topic_for_type(f->codec, type));
        const shop_schema_info_t *cur = shop_codec_current_for_topic(f->codec, f->enc.topic);
        assert_string_equal(f->enc.key, json_string_value(json_object_get(in, cur->key_field)));
        const shop_event_t *ev = NULL;
        if (shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, f->err,
                                sizeof(f->err)))
            fail_msg("%s: %s", type, f->err);
        assert_int_equal(ev->kind, shop_event_kind_from_name(type));
        same_as_avro_c(ev, &f->enc.bytes);
        assert_string_equal(shop_event_kind_name(ev->kind), type);
        covered[ev->kind]++;
        json_t *out = shop_event_to_json(ev);
        if (!same_event(in, out)) {
            char *a = json_dumps(in, JSON_SORT_KEYS), *b = json_dumps(out, JSON_SORT_KEYS);
            fail_msg("%s round trip differs:\n in  %s\n out %s", type, a, b);
        }
        json_decref(out);
        json_decref(in);
    }
    for (int k = SHOP_EV_UNKNOWN + 1; k < SHOP_EV__COUNT; k++)
        if (covered[k] != 1)
            fail_msg("event kind %s covered %d times", shop_event_kind_name(k), covered[k]);
    printf("round trip: %zu event types, every SHOP_EV_* kind once\n", n);
}

static void expect_error(fixture_t *f, const char *text, const char *message) {
    int r = encode_text(f, text);
    assert_int_equal(r, SHOP_ERR_INVALID);
    if (strcmp(f->err, message))
        fail_msg("got  %s\nwant %s", f->err, message);
}

static void test_validation_messages(void **state) {
    fixture_t *f = *state;
    expect_error(f,
                 "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_"
                 "minor\":\"12.5\","
                 "\"currency\":\"KRW\",\"items\":[]}",
                 "order.placed: field amount_minor: expected long, got \"12.5\"");
    expect_error(
        f,
        "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":12.5,"
        "\"currency\":\"KRW\",\"items\":[]}",
        "order.placed: field amount_minor: expected long, got 12.5");
    expect_error(
        f,
        "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1,"
        "\"items\":[]}",
        "order.placed: field currency: missing");
    expect_error(
        f,
        "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1,"
        "\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p1\",\"unit_price_minor\":1}]}",
        "order.placed: field items[0].quantity: missing");
    expect_error(
        f,
        "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1,"
        "\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p1\",\"quantity\":1,\"unit_price_"
        "minor\":1},"
        "{\"product_id\":\"p2\",\"quantity\":\"two\",\"unit_price_minor\":1}]}",
        "order.placed: field items[1].quantity: expected int, got \"two\"");
    expect_error(
        f,
        "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1,"
        "\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p1\",\"quantity\":1,\"unit_price_"
        "minor\":1,"
        "\"colour\":\"red\"}]}",
        "order.placed: field items[0].colour: unknown field");
    expect_error(
        f,
        "{\"type\":\"order.paid\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1,"
        "\"currency\":\"KRW\",\"colour\":\"red\"}",
        "order.paid: field colour: unknown field");
    expect_error(
        f,
        "{\"type\":\"order.paid\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1,"
        "\"currency\":\"KRW\",\"items\":[]}",
        "order.paid: field items: unknown field");
    expect_error(
        f,
        "{\"type\":\"order.paid\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1,"
        "\"currency\":\"KRW\",\"payload\":{}}",
        "order.paid: field payload: unknown field");
    expect_error(f,
                 "{\"type\":\"user.cart_added\",\"user_id\":\"u1\",\"product_id\":\"p1\","
                 "\"quantity\":3000000000,"
                 "\"unit_price_minor\":1,\"currency\":\"KRW\"}",
                 "user.cart_added: field quantity: 3000000000 out of range for int");
    expect_error(
        f,
        "{\"type\":\"user.notification_prefs_changed\",\"user_id\":\"u1\",\"notification_type\":\"*"
        "\","
        "\"channel\":\"*\",\"enabled\":true,\"max_per_day\":-2147483649}",
        "user.notification_prefs_changed: field max_per_day: -2147483649 out of range for int");
    expect_error(f, "{\"type\":\"order.teleported\",\"user_id\":\"u1\"}",
                 "unknown type \"order.teleported\"");
    expect_error(f, "{\"type\":\"x.y\"}", "unknown type \"x.y\"");
    expect_error(
        f,
        "{\"type\":\"order.paid\",\"event_id\":\"abc\",\"user_id\":\"u1\",\"order_id\":\"o1\","
        "\"amount_minor\":1,\"currency\":\"KRW\"}",
        "order.paid: field event_id: expected uuid, got \"abc\"");
    expect_error(
        f,
        "{\"type\":\"order.paid\",\"event_id\":\"0b7e7d6a-3c1f-4e0c-9d8a-2a9f3b4c5d6z\","
        "\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":1,\"currency\":\"KRW\"}",
        "order.paid: field event_id: expected uuid, got \"0b7e7d6a-3c1f-4e0c-9d8a-2a9f3b4c5d6z\"");
    expect_error(f, "{\"type\":\"user.login\",\"user_id\":\"u1\",\"success\":\"yes\"}",
                 "user.login: field success: expected boolean, got \"yes\"");
    expect_error(f, "{\"type\":\"user.login\",\"user_id\":7,\"success\":true}",
                 "user.login: field user_id: expected string, got 7");
    expect_error(f, "{\"type\":\"user.login\",\"success\":true}",
                 "user.login: field user_id: missing");
    expect_error(f,
                 "{\"type\":\"user.login\",\"user_id\":\"u\",\"success\":true,\"occurred_at\":"
                 "\"yesterday\"}",
                 "user.login: field occurred_at: expected epoch millis or an RFC 3339 time, got "
                 "\"yesterday\"");
    expect_error(f,
                 "{\"type\":\"user.product_viewed\",\"user_id\":\"u\",\"product_id\":\"p\",\"price_"
                 "minor\":\"9\"}",
                 "user.product_viewed: field price_minor: expected long, got \"9\"");
    expect_error(
        f, "{\"type\":\"search.visual\",\"user_id\":\"u\",\"matched_product_ids\":[\"p1\",2]}",
        "search.visual: field matched_product_ids[1]: expected string, got 2");
    expect_error(f,
                 "{\"type\":\"catalog.product_upserted\",\"product_id\":\"p\",\"title\":\"t\","
                 "\"category\":\"c\","
                 "\"price_minor\":1,\"currency\":\"KRW\",\"locale_titles\":{\"ko\":1}}",
                 "catalog.product_upserted: field locale_titles.ko: expected string, got 1");
    /* Field names longer than the path buffer are cut in the message, nothing more. */
    char longkey[400], text[600];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    snprintf(text, sizeof(text),
             "{\"type\":\"catalog.product_upserted\",\"product_id\":\"p\","
             "\"title\":\"t\",\"category\":\"c\",\"price_minor\":1,\"currency\":\"KRW\","
             "\"locale_titles\":{\"%s\":1}}",
             longkey);
    assert_int_equal(encode_text(f, text), SHOP_ERR_INVALID);
    assert_int_equal(strncmp(f->err, "catalog.product_upserted: field locale_titles.kkkk", 50), 0);
    assert_non_null(strstr(f->err, "kkk: expected string, got 1"));
    expect_error(f, "{\"user_id\":\"u1\"}", "missing \"type\"");
    expect_error(f, "[1,2]", "an event is a JSON object");
    assert_int_equal(encode_text(f, "{\"type\":5}"), SHOP_ERR_INVALID);
}

/* Absent event_id/occurred_at are generated; defaults fill what the JSON leaves out. */
static void test_defaults_and_generated(void **state) {
    fixture_t *f = *state;
    int64_t before = shop_now_ms();
    assert_int_equal(
        encode_text(f, "{\"type\":\"order.placed\",\"user_id\":\"u9\",\"order_id\":\"o9\","
                       "\"amount_minor\":5,\"currency\":\"KRW\",\"items\":[]}"),
        0);
    assert_string_equal(f->enc.key, "u9");
    assert_string_equal(f->enc.topic, "shop.order.events");
    assert_int_equal((unsigned char)f->enc.bytes.buf[0], 0xC3);
    assert_int_equal((unsigned char)f->enc.bytes.buf[1], 0x01);
    uint64_t fp = 0;
    for (int i = 7; i >= 0; i--)
        fp = (fp << 8) | (unsigned char)f->enc.bytes.buf[2 + i];
    assert_true((int64_t)fp ==
                shop_codec_current_for_topic(f->codec, "shop.order.events")->fingerprint);
    const shop_event_t *ev = NULL;
    assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, f->err,
                                         sizeof(f->err)),
                     0);
    assert_int_equal(strlen(ev->event_id), 36);
    assert_int_equal(ev->event_id[14], '4'); /* UUID version 4 */
    assert_true(ev->occurred_at >= before && ev->occurred_at <= shop_now_ms());
    int64_t points = -1;
    avro_value_t payload = ev->payload;
    assert_int_equal(shop_value_get_long(&payload, "points_used", &points), 0);
    assert_int_equal(points, 0);
    const char *s;
    assert_int_equal(shop_value_get_string(&payload, "payment_method", &s), SHOP_ERR_NOTFOUND);

    /* RFC 3339 occurred_at, with an offset. */
    assert_int_equal(
        encode_text(f, "{\"type\":\"catalog.product_upserted\",\"product_id\":\"p1\","
                       "\"occurred_at\":\"2026-11-24T19:00:00.250+09:00\",\"title\":\"t\","
                       "\"category\":\"c\",\"price_minor\":1,\"currency\":\"KRW\"}"),
        0);
    assert_string_equal(f->enc.key, "p1");
    assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, f->err,
                                         sizeof(f->err)),
                     0);
    int64_t want = 0;
    assert_int_equal(shop_parse_time_ms("2026-11-24T10:00:00.250Z", &want), 0);
    assert_int_equal(ev->occurred_at, want);
    json_t *out = shop_event_to_json(ev);
    assert_int_equal(json_integer_value(json_object_get(out, "occurred_at")), want);
    assert_int_equal(json_object_size(json_object_get(out, "locale_titles")), 0);
    assert_true(json_is_null(json_object_get(out, "brand")));
    json_decref(out);
}

/* user.signup's payload repeats the v2 envelope's "locale": one flat key sets both. */
static void test_shared_key(void **state) {
    fixture_t *f = *state;
    assert_int_equal(
        encode_text(f, "{\"type\":\"user.signup\",\"user_id\":\"u1\",\"locale\":\"ja-JP\"}"), 0);
    const shop_event_t *ev = NULL;
    assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, f->err,
                                         sizeof(f->err)),
                     0);
    const char *env = NULL, *pay = NULL;
    avro_value_t payload = ev->payload;
    assert_int_equal(shop_value_get_string(ev->value, "locale", &env), 0);
    assert_int_equal(shop_value_get_string(&payload, "locale", &pay), 0);
    assert_string_equal(env, "ja-JP");
    assert_string_equal(pay, "ja-JP");
}

/* Every Avro type through the flat form, in a schema added at run time for a new topic. */
static void test_all_avro_types(void **state) {
    fixture_t *f = *state;
    const char *schema =
        "{\"type\":\"record\",\"name\":\"MiscEvent\",\"namespace\":\"test\",\"shop.topic\":"
        "\"test.misc\",\"shop.key\":\"user_id\",\"shop.version\":1,\"fields\":["
        "{\"name\":\"event_id\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"}},"
        "{\"name\":\"occurred_at\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-"
        "millis\"}},"
        "{\"name\":\"type\",\"type\":\"string\"},{\"name\":\"user_id\",\"type\":\"string\"},"
        "{\"name\":\"payload\",\"type\":[{\"type\":\"record\",\"name\":\"Misc\",\"shop.type\":"
        "\"test.misc\",\"fields\":[{\"name\":\"b\",\"type\":\"bytes\"},"
        "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F4\",\"size\":4}},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\","
        "\"GREEN\"]}},"
        "{\"name\":\"e2\",\"type\":\"Color\"},{\"name\":\"f\",\"type\":\"float\"},"
        "{\"name\":\"d\",\"type\":\"double\"},{\"name\":\"m\",\"type\":{\"type\":\"map\","
        "\"values\":\"long\"}},"
        "{\"name\":\"u\",\"type\":[\"null\",\"int\",\"string\"]},"
        "{\"name\":\"kids\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":"
        "\"Kid\",\"fields\":[{\"name\":\"k\",\"type\":\"int\",\"default\":7}]}}},"
        "{\"name\":\"kid\",\"type\":[\"null\",\"Kid\"],\"default\":null}]}]}]}";
    assert_int_equal(shop_codec_add_schema(f->codec, schema, f->err, sizeof(f->err)), 0);
    assert_string_equal(shop_codec_topic_for_type(f->codec, "test.misc"), "test.misc");
    const char *in =
        "{\"type\":\"test.misc\",\"user_id\":\"u\",\"occurred_at\":1,"
        "\"event_id\":\"0b7e7d6a-3c1f-4e0c-9d8a-2a9f3b4c5d6e\",\"b\":\"\\u0000\\u00ffA\","
        "\"fx\":\"abcd\",\"e\":\"GREEN\",\"e2\":\"RED\",\"f\":1.5,\"d\":-2.25,"
        "\"m\":{\"a\":1,\"b\":-1},\"u\":\"s\",\"kids\":[{\"k\":1},{}],\"kid\":{\"k\":3}}";
    assert_int_equal(encode_text(f, in), 0);
    const shop_event_t *ev = NULL;
    assert_int_equal(shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, f->err,
                                         sizeof(f->err)),
                     0);
    assert_int_equal(ev->kind, SHOP_EV_UNKNOWN);
    assert_string_equal(ev->type, "test.misc");
    same_as_avro_c(ev, &f->enc.bytes);
    json_t *out = shop_event_to_json(ev), *want = json_loads(in, JSON_ALLOW_NUL, NULL);
    json_array_set_new(json_object_get(want, "kids"), 1, json_pack("{si}", "k", 7));
    if (!json_equal(out, want)) {
        char *a = json_dumps(want, JSON_SORT_KEYS), *b = json_dumps(out, JSON_SORT_KEYS);
        fail_msg("\n want %s\n got  %s", a, b);
    }
    json_decref(out);
    json_decref(want);
    assert_int_equal(encode_text(f,
                                 "{\"type\":\"test.misc\",\"user_id\":\"u\",\"b\":\"\",\"fx\":"
                                 "\"abcd\",\"e\":\"RED\",\"e2\":\"RED\",\"f\":1,\"d\":2,\"m\":{},"
                                 "\"u\":5,\"kids\":[]}"),
                     0);
    expect_error(
        f, "{\"type\":\"test.misc\",\"user_id\":\"u\",\"b\":\"\",\"fx\":\"abcd\",\"e\":\"BLUE\"}",
        "test.misc: field e: \"BLUE\" is not a symbol of Color");
    expect_error(f, "{\"type\":\"test.misc\",\"user_id\":\"u\",\"b\":\"\",\"fx\":\"abc\"}",
                 "test.misc: field fx: expected fixed, got \"abc\"");
    expect_error(f, "{\"type\":\"test.misc\",\"user_id\":\"u\",\"b\":\"\\u0100\"}",
                 "test.misc: field b: expected bytes, got \"\xc4\x80\"");
    expect_error(
        f,
        "{\"type\":\"test.misc\",\"user_id\":\"u\",\"b\":\"\",\"fx\":\"abcd\",\"e\":\"RED\","
        "\"e2\":\"RED\",\"f\":1,\"d\":2,\"m\":{},\"u\":true,\"kids\":[]}",
        "test.misc: field u: expected null or int or string, got true");
    expect_error(
        f,
        "{\"type\":\"test.misc\",\"user_id\":\"u\",\"b\":\"\",\"fx\":\"abcd\",\"e\":\"RED\","
        "\"e2\":\"RED\",\"f\":\"x\"}",
        "test.misc: field f: expected float, got \"x\"");
}

static void test_kind_names(void **state) {
    (void)state;
    for (int k = SHOP_EV_UNKNOWN + 1; k < SHOP_EV__COUNT; k++)
        assert_int_equal(shop_event_kind_from_name(shop_event_kind_name(k)), k);
    assert_int_equal(shop_event_kind_from_name("nope"), SHOP_EV_UNKNOWN);
    assert_int_equal(shop_event_kind_from_name(NULL), SHOP_EV_UNKNOWN);
    assert_string_equal(shop_event_kind_name(SHOP_EV__COUNT), "unknown");
}

static void test_routing(void **state) {
    fixture_t *f = *state;
    const char *const *topics = shop_codec_topics(f->codec);
    size_t n = 0;
    for (; topics[n]; n++) {
        const shop_schema_info_t *cur = shop_codec_current_for_topic(f->codec, topics[n]);
        assert_non_null(cur);
        assert_true(cur->is_current);
    }
    assert_int_equal(n, 7); /* five event topics, shop.fraud.scores and shop.flags */
    assert_string_equal(shop_codec_topic_for_type(f->codec, "inventory.stock_level"),
                        "shop.inventory.events");
    assert_string_equal(shop_codec_topic_for_type(f->codec, "user.signup"), "shop.user.events");
    assert_null(shop_codec_topic_for_type(f->codec, "user.teleported"));
    assert_null(shop_codec_current_for_topic(f->codec, "shop.nope"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_generated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_avro_types, setup, teardown),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
