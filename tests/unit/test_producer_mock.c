/* test_producer_mock.c: the producer library against librdkafka's built-in mock cluster: delivery
 * counts and reports, Java-compatible key partitioning, Avro values, rejections, failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "shop_producer.h"

#define NPART 4

typedef struct {
    rd_kafka_t *owner; /* the mock cluster lives inside this handle */
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[256];
} mock_t;

typedef struct {
    int reports, ok, failed, last_err;
    int32_t partition_of[64]; /* by user number */
    char topic[64];
} reports_t;

static void on_report(const shop_producer_report_t *r, void *opaque) {
    reports_t *rep = opaque;
    rep->reports++;
    rep->last_err = r->err;
    if (r->err) {
        rep->failed++;
        return;
    }
    rep->ok++;
    snprintf(rep->topic, sizeof(rep->topic), "%s", r->topic);
    int user = 0;
    if (r->key_len > 2 && sscanf((const char *)r->key, "u-%d", &user) == 1 && user >= 0 &&
        user < 64) {
        if (rep->partition_of[user] >= 0)
            assert_int_equal(rep->partition_of[user], r->partition);
        rep->partition_of[user] = r->partition;
    }
}

static int mock_setup(void **state) {
    static const char *const topics[] = {"shop.user.events", "shop.order.events",
                                         "shop.search.events", "shop.inventory.events",
                                         "shop.catalog.events"};
    mock_t *m = calloc(1, sizeof(*m));
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "log_level", "0", err, sizeof(err));
    m->owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    assert_non_null(m->owner);
    m->mc = rd_kafka_mock_cluster_new(m->owner, 1);
    assert_non_null(m->mc);
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        assert_int_equal(rd_kafka_mock_topic_create(m->mc, topics[i], NPART, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(m->mc, "ci7.shop.order.events", NPART, 1), 0);
    snprintf(m->bootstraps, sizeof(m->bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
    *state = m;
    return 0;
}

static int mock_teardown(void **state) {
    mock_t *m = *state;
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->owner);
    free(m);
    return 0;
}

static shop_producer_t *new_producer(const char *bootstraps, reports_t *rep, const char *extra_k,
                                     const char *extra_v) {
    char err[512];
    shop_producer_conf_t *conf = shop_producer_conf_new();
    assert_int_equal(
        shop_producer_conf_set(conf, "kafka.bootstrap.servers", bootstraps, err, sizeof(err)), 0);
    assert_int_equal(shop_producer_conf_set(conf, "log_level", "2", err, sizeof(err)), 0);
    if (extra_k)
        assert_int_equal(shop_producer_conf_set(conf, extra_k, extra_v, err, sizeof(err)), 0);
    if (rep)
        shop_producer_conf_set_report_cb(conf, on_report, rep);
    shop_producer_t *p = shop_producer_new(conf, err, sizeof(err));
    shop_producer_conf_destroy(conf); /* the producer keeps its own copy */
    if (!p)
        fail_msg("shop_producer_new: %s", err);
    return p;
}

static void reports_init(reports_t *rep) {
    memset(rep, 0, sizeof(*rep));
    for (int i = 0; i < 64; i++)
        rep->partition_of[i] = -1;
}

/* Apache Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), which the Java client's
 * default partitioner uses: partition = (murmur2(key) & 0x7fffffff) % partitions. */
static int32_t kafka_murmur2(const void *key, size_t len) {
    const uint32_t seed = 0x9747b28c, m = 0x5bd1e995;
    const int r = 24;
    const unsigned char *d = key;
    uint32_t h = seed ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        uint32_t k = (uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 |
                     (uint32_t)d[4 * i + 2] << 16 | (uint32_t)d[4 * i + 3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)d[n4 * 4 + 2] << 16; /* fall through */
    case 2:
        h ^= (uint32_t)d[n4 * 4 + 1] << 8; /* fall through */
    case 1:
        h ^= d[n4 * 4];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

static void emit_orders(shop_producer_t *p, int n) {
    char err[512], text[512];
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":\"order.paid\",\"user_id\":\"u-%d\",\"order_id\":\"o-%d\","
                 "\"amount_minor\":%d,\"currency\":\"KRW\",\"occurred_at\":1793491200000}",
                 i % 50, i, 1000 + i);
        int r = shop_producer_emit_json_text(p, text, strlen(text), err, sizeof(err));
        if (r)
            fail_msg("emit %d: %s", i, err);
    }
}

static void test_delivery_counts(void **state) {
    mock_t *m = *state;
    reports_t rep;
    reports_init(&rep);
    shop_producer_t *p = new_producer(m->bootstraps, &rep, NULL, NULL);
    emit_orders(p, 1000);
    assert_int_equal(shop_producer_flush(p, 20000), 0);
    shop_producer_stats_t st;
    shop_producer_stats(p, &st);
    assert_int_equal(st.produced, 1000);
    assert_int_equal(st.delivered, 1000);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(rep.reports, 1000);
    assert_int_equal(rep.ok, 1000);
    assert_string_equal(rep.topic, "shop.order.events");
    /* keys land where the Java client would put them */
    for (int u = 0; u < 50; u++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "u-%d", u);
        int32_t want = (kafka_murmur2(key, (size_t)n) & 0x7fffffff) % NPART;
        assert_int_equal(rep.partition_of[u], want);
    }
    shop_producer_destroy(p);
}

/* topic.prefix: an environment's own copy of every topic on a shared cluster. */
static void test_topic_prefix(void **state) {
    mock_t *m = *state;
    reports_t rep;
    reports_init(&rep);
    shop_producer_t *p = new_producer(m->bootstraps, &rep, "topic.prefix", "ci7.");
    emit_orders(p, 10);
    assert_int_equal(shop_producer_flush(p, 20000), 0);
    assert_int_equal(rep.ok, 10);
    assert_string_equal(rep.topic, "ci7.shop.order.events");
    shop_producer_destroy(p);
}

static void test_rejections(void **state) {
    mock_t *m = *state;
    char err[512];
    shop_producer_t *p = new_producer(m->bootstraps, NULL, NULL, NULL);
    const char *bad = "{\"type\":\"order.placed\",\"user_id\":\"u1\",\"order_id\":\"o1\",\"amount_"
                      "minor\":\"12.5\","
                      "\"currency\":\"KRW\",\"items\":[]}";
    assert_int_equal(shop_producer_emit_json_text(p, bad, strlen(bad), err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "order.placed: field amount_minor: expected long, got \"12.5\"");
    assert_int_equal(shop_producer_emit_json_text(p, "{nope", 5, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_true(!strncmp(err, "invalid JSON: ", 14));
    json_t *obj = json_pack("{s:s, s:s}", "type", "order.teleported", "user_id", "u1");
    assert_int_equal(shop_producer_emit_json(p, obj, err, sizeof(err)), SHOP_ERR_INVALID);
    assert_string_equal(err, "unknown type \"order.teleported\"");
    json_decref(obj);
    shop_producer_stats_t st;
    shop_producer_stats(p, &st);
    assert_int_equal(st.produced, 0);
    shop_producer_destroy(p);
}

static void set_str(avro_value_t *rec, const char *field, const char *v) {
    avro_value_t f;
    assert_int_equal(avro_value_get_by_name(rec, field, &f, NULL), 0);
    assert_int_equal(avro_value_set_string(&f, v), 0);
}

/* An Avro value goes out and comes back (consumed from the mock cluster, decoded by the codec). */
static void test_avro_value_roundtrip(void **state) {
    mock_t *m = *state;
    char err[512];
    reports_t rep;
    reports_init(&rep);
    shop_producer_t *p = new_producer(m->bootstraps, &rep, NULL, NULL);
    avro_value_t rec, payload, branch, f;
    assert_int_equal(shop_producer_value_new(p, "user.level_up", &rec, err, sizeof(err)), 0);
    set_str(&rec, "user_id", "u-63");
    assert_int_equal(avro_value_get_by_name(&rec, "occurred_at", &f, NULL), 0);
    avro_value_set_long(&f, 1793491200123LL); /* becomes the message timestamp */
    assert_int_equal(avro_value_get_by_name(&rec, "payload", &payload, NULL), 0);
    assert_int_equal(avro_value_get_current_branch(&payload, &branch), 0);
    assert_int_equal(avro_value_get_by_name(&branch, "level", &f, NULL), 0);
    avro_value_set_int(&f, 4);
    set_str(&branch, "tier", "platinum");
    /* a value whose type disagrees is refused */
    assert_int_equal(shop_producer_emit(p, "user.login", &rec, err, sizeof(err)), SHOP_ERR_INVALID);
    assert_int_equal(shop_producer_emit(p, "user.level_up", &rec, err, sizeof(err)), 0);
    avro_value_decref(&rec);
    assert_int_equal(shop_producer_flush(p, 20000), 0);
    assert_int_equal(rep.ok, 1);
    assert_string_equal(rep.topic, "shop.user.events");

    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", m->bootstraps, err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", "test", err, sizeof(err));
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    assert_non_null(cons);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, "shop.user.events", rep.partition_of[63])->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(cons, tp), 0);
    rd_kafka_topic_partition_list_destroy(tp);
    shop_decoder_t *dec = shop_decoder_new(shop_producer_codec(p));
    int found = 0;
    for (int i = 0; i < 100 && !found; i++) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(cons, 100);
        if (!msg)
            continue;
        const shop_event_t *ev;
        if (!msg->err) {
            assert_int_equal(
                shop_decoder_decode(dec, msg->payload, msg->len, &ev, err, sizeof(err)), 0);
            assert_int_equal(ev->kind, SHOP_EV_USER_LEVEL_UP);
            assert_string_equal(ev->key, "u-63");
            int32_t level;
            assert_int_equal(shop_value_get_int(&((shop_event_t *)ev)->payload, "level", &level),
                             0);
            assert_int_equal(level, 4);
            rd_kafka_timestamp_type_t tstype;
            assert_int_equal(rd_kafka_message_timestamp(msg, &tstype), 1793491200123LL);
            assert_int_equal(tstype, RD_KAFKA_TIMESTAMP_CREATE_TIME);
            found = 1;
        }
        rd_kafka_message_destroy(msg);
    }
    assert_true(found);
    shop_decoder_destroy(dec);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    shop_producer_destroy(p);
}

/* Nothing listens on the discard port: every message times out and is reported failed. */
static void test_delivery_failure(void **state) {
    (void)state;
    reports_t rep;
    reports_init(&rep);
    shop_producer_t *p = new_producer("127.0.0.1:9", &rep, "message.timeout.ms", "800");
    emit_orders(p, 5);
    assert_int_equal(shop_producer_flush(p, 15000), 0);
    shop_producer_stats_t st;
    shop_producer_stats(p, &st);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.failed, 5);
    assert_int_equal(rep.failed, 5);
    assert_int_equal(rep.last_err, SHOP_ERR_RETRYABLE);
    shop_producer_destroy(p);
}

static void test_conf(void **state) {
    (void)state;
    char err[512];
    shop_producer_conf_t *conf = shop_producer_conf_new();
    assert_int_equal(shop_producer_conf_set(conf, "kafka.no.such.property", "1", err, sizeof(err)),
                     SHOP_ERR_CONFIG);
    assert_non_null(strstr(err, "no.such.property"));
    assert_int_equal(shop_producer_conf_set(conf, "linger.ms", "soon", err, sizeof(err)),
                     SHOP_ERR_CONFIG);
    assert_int_equal(shop_producer_conf_set(conf, "kafka.linger.ms", "5", err, sizeof(err)), 0);
    assert_int_equal(
        shop_producer_conf_set(conf, "schema.registry.url", "http://127.0.0.1:1", err, sizeof(err)),
        0);
    shop_producer_conf_destroy(conf);
    shop_producer_conf_destroy(NULL);
    shop_producer_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delivery_counts, mock_setup, mock_teardown),
        cmocka_unit_test_setup_teardown(test_topic_prefix, mock_setup, mock_teardown),
        cmocka_unit_test_setup_teardown(test_rejections, mock_setup, mock_teardown),
        cmocka_unit_test_setup_teardown(test_avro_value_roundtrip, mock_setup, mock_teardown),
        cmocka_unit_test(test_delivery_failure),
        cmocka_unit_test(test_conf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
