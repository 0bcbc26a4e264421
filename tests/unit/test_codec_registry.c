/* test_codec_registry.c: Confluent framing against a tiny in-test schema registry (libmicrohttpd
 * on a loopback port): registration on encode, fetch-and-cache on decode, an older schema matched
 * to its topic by full name, 404, 500, wrong schema type and an unreachable registry. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
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
    struct MHD_Daemon *daemon;
    char url[64];
    char *schema_current; /* served as id 7 */
    char *schema_old;     /* served as id 9: older OrderEvent without the shop.* attributes */
    char *schema_new;     /* served as id 10: newer OrderEvent with an order.returned branch */
    int gets[16];         /* per id */
    int posts;
    char last_post[64];
} registry_t;

static registry_t reg;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, json_t *body) {
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/vnd.schemaregistry.v1+json");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls) {
    (void)cls;
    (void)version;
    (void)upload;
    if (!strcmp(method, "POST")) {
        if (!*con_cls) { /* first call: headers only */
            *con_cls = &reg;
            return MHD_YES;
        }
        if (*upload_size) { /* the body; this test only needs to know it came */
            *upload_size = 0;
            return MHD_YES;
        }
        __atomic_add_fetch(&reg.posts, 1, __ATOMIC_SEQ_CST);
        snprintf(reg.last_post, sizeof(reg.last_post), "%s", url);
        if (!strcmp(url, "/subjects/shop.order.events-value/versions"))
            return reply(conn, 200, json_pack("{si}", "id", 7));
        return reply(conn, 409, json_pack("{siss}", "error_code", 409, "message", "incompatible"));
    }
    int id = -1;
    if (sscanf(url, "/schemas/ids/%d", &id) != 1 || id < 0 || id >= 16)
        return reply(conn, 404, json_pack("{siss}", "error_code", 404, "message", "HTTP 404"));
    __atomic_add_fetch(&reg.gets[id], 1, __ATOMIC_SEQ_CST);
    if (id == 7)
        return reply(conn, 200, json_pack("{ss}", "schema", reg.schema_current));
    if (id == 9)
        return reply(conn, 200, json_pack("{ss}", "schema", reg.schema_old));
    if (id == 10)
        return reply(conn, 200, json_pack("{ss}", "schema", reg.schema_new));
    if (id == 13)
        return reply(conn, 200,
                     json_pack("{ss}", "schema",
                               "{\"type\":\"record\",\"name\":\"Other\",\"fields\":[{\"name\":"
                               "\"a\",\"type\":\"int\"}]}"));
    if (id == 11)
        return reply(conn, 200, json_pack("{ssss}", "schemaType", "PROTOBUF", "schema", "syntax"));
    if (id == 12)
        return reply(conn, 500, json_pack("{siss}", "error_code", 50001, "message", "store"));
    return reply(conn, 404,
                 json_pack("{siss}", "error_code", 40403, "message", "Schema not found"));
}

/* The order schema as an older version: OrderPlaced without "country", and without the shop.*
 * attributes (as another team's producer might have registered it). */
static char *old_order_schema(const char *current, int keep_attrs) {
    json_t *doc = json_loads(current, 0, NULL);
    if (!keep_attrs) {
        json_object_del(doc, "shop.topic");
        json_object_del(doc, "shop.key");
        json_object_del(doc, "shop.version");
    } else {
        json_object_set_new(doc, "shop.version", json_integer(0));
    }
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(doc, "fields"), i, f) {
        if (strcmp(json_string_value(json_object_get(f, "name")), "payload"))
            continue;
        json_t *placed = json_array_get(json_object_get(f, "type"), 0);
        json_t *pfields = json_object_get(placed, "fields");
        for (size_t j = 0; j < json_array_size(pfields); j++)
            if (!strcmp(json_string_value(json_object_get(json_array_get(pfields, j), "name")),
                        "country"))
                json_array_remove(pfields, j);
    }
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    return text;
}

/* The order schema one version ahead: a new payload type this reader does not know. */
static char *new_order_schema(const char *current) {
    json_t *doc = json_loads(current, 0, NULL);
    json_object_set_new(doc, "shop.version", json_integer(99));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(doc, "fields"), i, f) {
        if (!strcmp(json_string_value(json_object_get(f, "name")), "payload"))
            json_array_append_new(json_object_get(f, "type"),
                                  json_pack("{sssssss[]}", "type", "record", "name",
                                            "OrderReturned", "shop.type", "order.returned",
                                            "fields"));
    }
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    return text;
}

static int group_setup(void **state) {
    (void)state;
    char err[256];
    shop_codec_t *c = shop_codec_new(NULL, err, sizeof(err));
    if (!c)
        return -1;
    reg.schema_current = shop_xstrdup(shop_codec_current_for_topic(c, "shop.order.events")->json);
    reg.schema_old = old_order_schema(reg.schema_current, 0);
    reg.schema_new = new_order_schema(reg.schema_current);
    shop_codec_destroy(c);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    reg.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
    if (!reg.daemon)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(reg.daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(reg.url, sizeof(reg.url), "http://127.0.0.1:%u/", (unsigned)info->port);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    MHD_stop_daemon(reg.daemon);
    free(reg.schema_current);
    free(reg.schema_old);
    free(reg.schema_new);
    return 0;
}

static int gets(int id) {
    return __atomic_load_n(&reg.gets[id], __ATOMIC_SEQ_CST);
}

static void encode(shop_codec_t *c, const char *text, shop_framing_t framing, shop_encoded_t *out) {
    char err[512];
    json_t *obj = json_loads(text, 0, NULL);
    assert_non_null(obj);
    int r = shop_codec_encode_json(c, obj, framing, out, err, sizeof(err));
    if (r)
        fail_msg("encode: %s", err);
    json_decref(obj);
}

static const char paid[] = "{\"type\":\"order.paid\",\"user_id\":\"u1\",\"order_id\":\"o1\","
                           "\"amount_minor\":1250,\"currency\":\"KRW\"}";

/* Encoding registers the schema once; decoding our own id needs no fetch. */
static void test_encode_registers(void **state) {
    (void)state;
    char err[512];
    shop_codec_t *c = shop_codec_new(reg.url, err, sizeof(err));
    assert_non_null(c);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    int posts = reg.posts;
    for (int i = 0; i < 3; i++)
        encode(c, paid, SHOP_FRAMING_CONFLUENT, &enc);
    assert_int_equal(reg.posts, posts + 1);
    assert_string_equal(reg.last_post, "/subjects/shop.order.events-value/versions");
    const unsigned char want[5] = {0x00, 0, 0, 0, 7};
    assert_memory_equal(enc.bytes.buf, want, 5);
    shop_decoder_t *dec = shop_decoder_new(c);
    const shop_event_t *ev = NULL;
    int before = gets(7);
    assert_int_equal(shop_decoder_decode(dec, enc.bytes.buf, enc.bytes.len, &ev, err, sizeof(err)),
                     0);
    assert_int_equal(ev->kind, SHOP_EV_ORDER_PAID);
    assert_int_equal(gets(7), before);
    shop_decoder_destroy(dec);
    shop_encoded_release(&enc);
    shop_codec_destroy(c);
}

/* A fresh consumer fetches id 7 once and then serves it from its cache. */
static void test_decode_fetches_once(void **state) {
    (void)state;
    char err[512];
    shop_codec_t *producer = shop_codec_new(NULL, err, sizeof(err));
    shop_codec_t *c = shop_codec_new(reg.url, err, sizeof(err));
    assert_non_null(c);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    encode(producer, paid, SHOP_FRAMING_SINGLE_OBJECT, &enc);
    shop_buf_t msg;
    shop_buf_init(&msg);
    shop_buf_append(&msg, "\x00\x00\x00\x00\x07", 5);
    shop_buf_append(&msg, enc.bytes.buf + 10, enc.bytes.len - 10);
    shop_decoder_t *dec = shop_decoder_new(c), *dec2 = shop_decoder_new(c);
    const shop_event_t *ev = NULL;
    int before = gets(7);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            shop_decoder_decode(i % 2 ? dec2 : dec, msg.buf, msg.len, &ev, err, sizeof(err)), 0);
        assert_string_equal(ev->type, "order.paid");
        assert_ptr_equal(ev->writer, ev->reader); /* same canonical form: the same schema */
    }
    assert_int_equal(gets(7), before + 1);
    shop_decoder_destroy(dec);
    shop_decoder_destroy(dec2);
    shop_buf_release(&msg);
    shop_encoded_release(&enc);
    shop_codec_destroy(c);
    shop_codec_destroy(producer);
}

/* Id 9 is an older OrderEvent with no shop.* attributes: matched to shop.order.events by its
 * full name and resolved into the current reader (the missing "country" comes back null). */
static void test_old_schema_by_full_name(void **state) {
    (void)state;
    char err[512];
    /* A producer that still writes the old version (with our attributes, as version 0). */
    shop_codec_t *old = shop_codec_new(NULL, err, sizeof(err));
    char *old_text = old_order_schema(reg.schema_current, 1);
    assert_int_equal(shop_codec_add_schema(old, old_text, err, sizeof(err)), 0);
    int64_t fp = 0;
    assert_int_equal(shop_schema_fingerprint(old_text, &fp, err, sizeof(err)), 0);
    const shop_schema_info_t *old_info = shop_codec_schema_by_fingerprint(old, fp);
    assert_non_null(old_info);
    assert_false(old_info->is_current);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    json_t *obj =
        json_loads("{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\","
                   "\"amount_minor\":5,\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p\","
                   "\"quantity\":1,\"unit_price_minor\":5}],\"device_id\":\"d1\"}",
                   0, NULL);
    assert_int_equal(shop_codec_encode_json_with(old, old_info, obj, SHOP_FRAMING_SINGLE_OBJECT,
                                                 &enc, err, sizeof(err)),
                     0);
    json_decref(obj);
    shop_buf_t msg;
    shop_buf_init(&msg);
    shop_buf_append(&msg, "\x00\x00\x00\x00\x09", 5);
    shop_buf_append(&msg, enc.bytes.buf + 10, enc.bytes.len - 10);

    shop_codec_t *c = shop_codec_new(reg.url, err, sizeof(err));
    shop_decoder_t *dec = shop_decoder_new(c);
    const shop_event_t *ev = NULL;
    int before = gets(9);
    for (int i = 0; i < 3; i++) {
        if (shop_decoder_decode(dec, msg.buf, msg.len, &ev, err, sizeof(err)))
            fail_msg("%s", err);
        assert_int_equal(ev->kind, SHOP_EV_ORDER_PLACED);
        assert_ptr_equal(ev->reader, shop_codec_current_for_topic(c, "shop.order.events"));
        assert_true(ev->writer != ev->reader);
        assert_string_equal(ev->writer->topic, "shop.order.events");
        assert_string_equal(ev->writer->name, "shop.events.OrderEvent");
        json_t *out = shop_event_to_json(ev);
        assert_true(json_is_null(json_object_get(out, "country")));
        assert_string_equal(json_string_value(json_object_get(out, "device_id")), "d1");
        assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
        json_decref(out);
    }
    assert_int_equal(gets(9), before + 1);
    /* The current schema's bytes under the old id: one field too many, so bytes are left over. */
    shop_encoded_release(&enc);
    encode(old,
           "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_minor\":5,"
           "\"currency\":\"KRW\",\"items\":[],\"country\":\"KR\"}",
           SHOP_FRAMING_SINGLE_OBJECT, &enc);
    shop_buf_reset(&msg);
    shop_buf_append(&msg, "\x00\x00\x00\x00\x09", 5);
    shop_buf_append(&msg, enc.bytes.buf + 10, enc.bytes.len - 10);
    assert_int_equal(shop_decoder_decode(dec, msg.buf, msg.len, &ev, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_non_null(strstr(err, "trailing bytes"));
    free(old_text);
    shop_buf_release(&msg);
    shop_encoded_release(&enc);
    shop_decoder_destroy(dec);
    shop_codec_destroy(c);
    shop_codec_destroy(old);
}

static void expect(shop_codec_t *c, int32_t id, int want, const char *reason) {
    char err[512];
    unsigned char msg[8] = {0x00,
                            (unsigned char)(id >> 24),
                            (unsigned char)(id >> 16),
                            (unsigned char)(id >> 8),
                            (unsigned char)id,
                            0x02,
                            0x02,
                            0x02};
    shop_decoder_t *dec = shop_decoder_new(c);
    const shop_event_t *ev = NULL;
    int r = shop_decoder_decode(dec, msg, sizeof(msg), &ev, err, sizeof(err));
    if (r != want || !strstr(err, reason))
        fail_msg("id %d: got %s \"%s\", want %s \"%s\"", (int)id, shop_err_name(r), err,
                 shop_err_name(want), reason);
    shop_decoder_destroy(dec);
}

/* A producer already on a newer version: known types still decode, the new one is refused
 * with a reason (the consumer needs the new schema compiled in first). */
static void test_newer_writer(void **state) {
    (void)state;
    char err[512];
    shop_codec_t *newer = shop_codec_new(NULL, err, sizeof(err));
    assert_int_equal(shop_codec_add_schema(newer, reg.schema_new, err, sizeof(err)), 0);
    assert_int_equal(shop_codec_current_for_topic(newer, "shop.order.events")->version, 99);
    shop_codec_t *c = shop_codec_new(reg.url, err, sizeof(err));
    shop_decoder_t *dec = shop_decoder_new(c);
    const char *texts[2] = {paid,
                            "{\"type\":\"order.returned\",\"user_id\":\"u1\",\"order_id\":\"o1\"}"};
    for (int i = 0; i < 2; i++) {
        shop_encoded_t enc;
        shop_encoded_init(&enc);
        encode(newer, texts[i], SHOP_FRAMING_SINGLE_OBJECT, &enc);
        shop_buf_t msg;
        shop_buf_init(&msg);
        shop_buf_append(&msg, "\x00\x00\x00\x00\x0a", 5);
        shop_buf_append(&msg, enc.bytes.buf + 10, enc.bytes.len - 10);
        const shop_event_t *ev = NULL;
        int r = shop_decoder_decode(dec, msg.buf, msg.len, &ev, err, sizeof(err));
        if (i == 0) {
            if (r)
                fail_msg("%s", err);
            assert_int_equal(ev->kind, SHOP_EV_ORDER_PAID);
            assert_int_equal(ev->writer->version, 99);
            assert_int_equal(ev->reader->version, 1);
        } else {
            assert_int_equal(r, SHOP_ERR_INVALID);
            assert_non_null(
                strstr(err, "shop.events.OrderEvent version 99 cannot be read as version 1"));
        }
        shop_buf_release(&msg);
        shop_encoded_release(&enc);
    }
    shop_decoder_destroy(dec);
    shop_codec_destroy(c);
    shop_codec_destroy(newer);
}

static void test_registry_errors(void **state) {
    (void)state;
    char err[512];
    shop_codec_t *c = shop_codec_new(reg.url, err, sizeof(err));
    int before = gets(8);
    expect(c, 8, SHOP_ERR_INVALID, "schema id 8 not found in the registry");
    expect(c, 8, SHOP_ERR_INVALID, "schema id 8 not found in the registry");
    assert_int_equal(gets(8), before + 1); /* the 404 is remembered for a while */
    expect(c, 11, SHOP_ERR_INVALID, "did not return an Avro schema");
    expect(c, 12, SHOP_ERR_RETRYABLE, "HTTP 500");
    expect(c, 13, SHOP_ERR_INVALID, "schema id 13 (Other) is not a shopstream event schema");
    shop_codec_destroy(c);

    /* Nothing listens on port 1: retry later, do not dead-letter. */
    c = shop_codec_new("http://127.0.0.1:1", err, sizeof(err));
    expect(c, 7, SHOP_ERR_RETRYABLE, "schema registry GET");
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    json_t *obj = json_loads(paid, 0, NULL);
    assert_int_equal(shop_codec_encode_json(c, obj, SHOP_FRAMING_CONFLUENT, &enc, err, sizeof(err)),
                     SHOP_ERR_RETRYABLE);
    json_decref(obj);
    shop_encoded_release(&enc);
    shop_codec_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_registers),        cmocka_unit_test(test_decode_fetches_once),
        cmocka_unit_test(test_old_schema_by_full_name), cmocka_unit_test(test_newer_writer),
        cmocka_unit_test(test_registry_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
