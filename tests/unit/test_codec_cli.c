/* test_codec_cli.c: `shopstream schema ...` and `shopstream decode ...` run in-process with stdout
 * captured: files, length-prefixed streams, errors, and a partition range read from librdkafka's
 * mock cluster (no broker needed). */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "commands.h"
#include "shop_codec.h"

#define SO_DIR SHOP_TEST_DATA "/avro/single-object"

/* Runs cmd with the given arguments (NULL-terminated), returns its stdout; *rc gets the status. */
static char *run(int (*cmd)(int, char **), int *rc, ...) {
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, rc);
    for (const char *a; argc < 31 && (a = va_arg(ap, const char *));)
        argv[argc++] = shop_xstrdup(a);
    va_end(ap);
    char *copy[32];
    memcpy(copy, argv, sizeof(argv));
    argv[argc] = NULL;
    fflush(stdout);
    FILE *tmp = tmpfile();
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    *rc = cmd(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    shop_buf_t b;
    shop_buf_init(&b);
    rewind(tmp);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), tmp)) > 0)
        shop_buf_append(&b, chunk, n);
    fclose(tmp);
    for (int i = 0; i < argc; i++)
        free(copy[i]);
    return b.buf ? b.buf : shop_xstrdup("");
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static void encode(shop_codec_t *c, const char *text, shop_encoded_t *out) {
    char err[512];
    json_t *obj = json_loads(text, 0, NULL);
    assert_non_null(obj);
    if (shop_codec_encode_json(c, obj, SHOP_FRAMING_SINGLE_OBJECT, out, err, sizeof(err)))
        fail_msg("%s", err);
    json_decref(obj);
}

static void test_schema_fingerprint(void **state) {
    (void)state;
    int rc;
    char *out =
        run(shop_cmd_schema, &rc, "schema", "fingerprint", SO_DIR "/test_schema.avsc", NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(
        out, "{\"name\":\"org.apache.avro.TestMessage\",\"type\":\"record\",\"fields\":["
             "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"name\",\"type\":\"string\"},"
             "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]}\n"
             "4464547873335356841\n");
    free(out);
    out = run(shop_cmd_schema, &rc, "schema", "fingerprint", "/nonexistent.avsc", NULL);
    assert_int_equal(rc, 1);
    free(out);
    out = run(shop_cmd_schema, &rc, "schema", "bogus", NULL);
    assert_int_equal(rc, 2);
    free(out);
}

static void test_schema_list_show(void **state) {
    (void)state;
    int rc;
    char *out = run(shop_cmd_schema, &rc, "schema", "list", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "shop.order.events"));
    assert_non_null(strstr(out, "shop.events.UserEvent        1"));
    assert_non_null(strstr(out, "shop.events.UserEvent        2"));
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 9); /* header + 8 schemas */
    free(out);
    out = run(shop_cmd_schema, &rc, "schema", "show", "shop.user.events", "--version", "1", NULL);
    assert_int_equal(rc, 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(doc, "shop.version")), 1);
    json_decref(doc);
    free(out);
    out = run(shop_cmd_schema, &rc, "schema", "show", "shop.order.events", "--canonical", NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(strncmp(out, "{\"name\":\"shop.events.OrderEvent\",\"type\":\"record\"", 48),
                     0);
    free(out);
    out = run(shop_cmd_schema, &rc, "schema", "show", "shop.nope", NULL);
    assert_int_equal(rc, 1);
    free(out);
}

static void test_decode_files(void **state) {
    (void)state;
    int rc;
    char *out = run(shop_cmd_decode, &rc, "decode", "--schema", SO_DIR "/test_schema.avsc",
                    SO_DIR "/test_message.bin", NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(out,
                        "{\"id\":42,\"name\":\"Bill\",\"tags\":[\"dog_lover\",\"cat_hater\"]}\n");
    free(out);
    out = run(shop_cmd_decode, &rc, "decode", SO_DIR "/test_message.bin", NULL);
    assert_int_equal(rc, 1); /* its schema is not compiled in */
    assert_string_equal(out, "");
    free(out);

    char err[256], path[] = "/tmp/shop_codec_cli_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    shop_codec_t *c = shop_codec_new(NULL, err, sizeof(err));
    shop_encoded_t e1, e2;
    shop_encoded_init(&e1);
    shop_encoded_init(&e2);
    encode(c,
           "{\"type\":\"order.delivered\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"occurred_at\":5,"
           "\"event_id\":\"0b7e7d6a-3c1f-4e0c-9d8a-2a9f3b4c5d6e\"}",
           &e1);
    encode(c,
           "{\"type\":\"inventory.stock_level\",\"product_id\":\"p1\",\"region\":\"kr\","
           "\"quantity\":3}",
           &e2);
    shop_buf_t stream;
    shop_buf_init(&stream);
    shop_encoded_t *all[2] = {&e1, &e2};
    for (int i = 0; i < 2; i++) {
        unsigned char len[4] = {0, 0, 0, (unsigned char)all[i]->bytes.len};
        shop_buf_append(&stream, len, 4);
        shop_buf_append(&stream, all[i]->bytes.buf, all[i]->bytes.len);
    }
    write_file(path, stream.buf, stream.len);
    out = run(shop_cmd_decode, &rc, "decode", "--length-prefixed", "--meta", path, NULL);
    assert_int_equal(rc, 0);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_t *first = json_loads(out, 0, NULL), *second = json_loads(nl + 1, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(first, "index")), 0);
    json_t *v = json_object_get(first, "value");
    assert_string_equal(json_string_value(json_object_get(v, "type")), "order.delivered");
    assert_int_equal(json_integer_value(json_object_get(v, "occurred_at")), 5);
    v = json_object_get(second, "value");
    assert_string_equal(json_string_value(json_object_get(v, "product_id")), "p1");
    json_decref(first);
    json_decref(second);
    free(out);

    /* A truncated stream: the first message prints, the tail is an error. */
    write_file(path, stream.buf, stream.len - 3);
    out = run(shop_cmd_decode, &rc, "decode", "--length-prefixed", path, NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "order.delivered"));
    assert_null(strstr(out, "inventory"));
    free(out);
    /* A bad magic byte. */
    write_file(path, "\x7f\x01\x02", 3);
    out = run(shop_cmd_decode, &rc, "decode", path, NULL);
    assert_int_equal(rc, 1);
    free(out);
    out = run(shop_cmd_decode, &rc, "decode", "--count", "0", NULL);
    assert_int_equal(rc, 2);
    free(out);
    unlink(path);
    shop_buf_release(&stream);
    shop_encoded_release(&e1);
    shop_encoded_release(&e2);
    shop_codec_destroy(c);
}

/* Produces three messages into librdkafka's mock cluster and reads offsets 1..2 back. */
static void test_decode_kafka(void **state) {
    (void)state;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(p);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(p);
    assert_non_null(mc);
    char *bootstraps = shop_xstrdup(rd_kafka_mock_cluster_bootstraps(mc));
    assert_int_equal(rd_kafka_mock_topic_create(mc, "shop.order.events", 1, 1), 0);
    shop_codec_t *c = shop_codec_new(NULL, err, sizeof(err));
    shop_encoded_t e;
    shop_encoded_init(&e);
    for (int i = 0; i < 3; i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "{\"type\":\"order.paid\",\"user_id\":\"user%d\",\"order_id\":\"o%d\","
                 "\"amount_minor\":%d,\"currency\":\"KRW\"}",
                 i, i, 100 * i);
        encode(c, text, &e);
        if (i == 2)
            e.bytes.buf[0] = 0x42; /* the last one is garbage */
        assert_int_equal(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC("shop.order.events"), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_KEY(e.key, strlen(e.key)),
                              RD_KAFKA_V_VALUE(e.bytes.buf, e.bytes.len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);

    int rc;
    char *out =
        run(shop_cmd_decode, &rc, "decode", "--topic", "shop.order.events", "--offset", "1",
            "--count", "1", "--meta", "--brokers", bootstraps, "--set", "kafka.log_level=0", NULL);
    assert_int_equal(rc, 0);
    json_t *line = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(line);
    assert_int_equal(json_integer_value(json_object_get(line, "offset")), 1);
    assert_int_equal(json_integer_value(json_object_get(line, "partition")), 0);
    assert_string_equal(json_string_value(json_object_get(line, "key")), "user1");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(line, "value"), "amount_minor")), 100);
    json_decref(line);
    free(out);
    /* From the beginning to the end of the partition: two events print, the garbage fails. */
    out =
        run(shop_cmd_decode, &rc, "decode", "--topic", "shop.order.events", "--offset", "beginning",
            "--count", "10", "--brokers", bootstraps, "--set", "kafka.log_level=0", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "\"user_id\":\"user0\""));
    assert_non_null(strstr(out, "\"user_id\":\"user1\""));
    assert_null(strstr(out, "user2"));
    free(out);
    shop_encoded_release(&e);
    shop_codec_destroy(c);
    free(bootstraps);
    rd_kafka_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_fingerprint),
        cmocka_unit_test(test_schema_list_show),
        cmocka_unit_test(test_decode_files),
        cmocka_unit_test(test_decode_kafka),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
