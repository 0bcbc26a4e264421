/* producer.c: the producer library: codec-validated events into librdkafka (idempotent, acks=all,
 * murmur2_random keys, lz4), with delivery counts and an optional per-message report callback. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "producer_int.h"
#include "shop_producer.h"

#define MAX_TOPICS 16
#define POLL_EVERY 256

struct shop_producer_conf {
    rd_kafka_conf_t *rk;
    char *registry_url;
    char *topic_prefix;
    shop_codec_t *codec; /* borrowed */
    shop_producer_report_cb_t *cb;
    void *cb_opaque;
};

typedef struct {
    const char *name; /* heap copy */
    rd_kafka_topic_t *rkt;
} topic_slot_t;

typedef struct {
    char type[64];
    int branch;
} branch_slot_t;

struct shop_producer {
    rd_kafka_t *rk;
    shop_codec_t *codec;
    char *topic_prefix; /* "" or what goes before every topic name */
    int own_codec;
    shop_framing_t framing;
    shop_producer_report_cb_t *cb;
    void *cb_opaque;
    pthread_mutex_t lock; /* guards the topic and branch caches */
    topic_slot_t topics[MAX_TOPICS];
    int ntopics;
    branch_slot_t branches[SHOP_EV__COUNT];
    int nbranches;
    atomic_uint_fast64_t produced, delivered, failed, since_poll;
};

/* ---- configuration ---- */

static const char *const defaults[][2] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"partitioner", "murmur2_random"},
    {"compression.codec", "lz4"},
    {"linger.ms", "50"},
    {"batch.num.messages", "50000"},
    {"queue.buffering.max.messages", "500000"},
};

shop_producer_conf_t *shop_producer_conf_new(void) {
    shop_producer_conf_t *conf = shop_xcalloc(1, sizeof(*conf));
    conf->rk = rd_kafka_conf_new();
    char err[256];
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (rd_kafka_conf_set(conf->rk, defaults[i][0], defaults[i][1], err, sizeof(err)) !=
            RD_KAFKA_CONF_OK)
            SHOP_WARN("component=producer msg=\"default %s: %s\"", defaults[i][0], err);
    return conf;
}

void shop_producer_conf_destroy(shop_producer_conf_t *conf) {
    if (!conf)
        return;
    rd_kafka_conf_destroy(conf->rk);
    free(conf->registry_url);
    free(conf->topic_prefix);
    free(conf);
}

int shop_producer_conf_set(shop_producer_conf_t *conf, const char *key, const char *value,
                           char *errstr, size_t errstr_size) {
    if (!strcmp(key, "schema.registry.url")) {
        free(conf->registry_url);
        conf->registry_url = value && *value ? shop_xstrdup(value) : NULL;
        return SHOP_OK;
    }
    if (!strcmp(key, "topic.prefix")) {
        free(conf->topic_prefix);
        conf->topic_prefix = shop_xstrdup(value ? value : "");
        return SHOP_OK;
    }
    if (!strncmp(key, "kafka.", 6))
        key += 6;
    char err[512];
    if (rd_kafka_conf_set(conf->rk, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "kafka.%s: %s", key, err);
    return SHOP_OK;
}

void shop_producer_conf_set_report_cb(shop_producer_conf_t *conf, shop_producer_report_cb_t *cb,
                                      void *opaque) {
    conf->cb = cb;
    conf->cb_opaque = opaque;
}

void shop_producer_conf_set_codec(shop_producer_conf_t *conf, shop_codec_t *codec) {
    conf->codec = codec;
}

/* ---- librdkafka callbacks ---- */

static int map_err(rd_kafka_resp_err_t e) {
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return SHOP_OK;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return SHOP_ERR_INVALID;
    case RD_KAFKA_RESP_ERR__FATAL:
        return SHOP_ERR_FATAL;
    default:
        return SHOP_ERR_RETRYABLE;
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    shop_producer_t *p = opaque;
    if (m->err)
        atomic_fetch_add(&p->failed, 1);
    else
        atomic_fetch_add(&p->delivered, 1);
    if (!p->cb)
        return;
    shop_producer_report_t r = {
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = m->partition,
        .offset = m->err ? -1 : m->offset,
        .key = m->key,
        .key_len = m->key_len,
        .err = map_err(m->err),
        .errstr = m->err ? rd_kafka_err2str(m->err) : "",
        .msg_opaque = m->_private,
    };
    p->cb(&r, p->cb_opaque);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)opaque;
    char q[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[512];
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        SHOP_ERROR("component=producer error=fatal msg=%s", shop_log_quote(q, sizeof(q), fatal));
        return;
    }
    SHOP_WARN("component=producer error=%s msg=%s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
              shop_log_quote(q, sizeof(q), reason));
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    char q[512];
    shop_log_level_t lvl = level <= 3   ? SHOP_LOG_ERROR
                           : level <= 5 ? SHOP_LOG_WARN
                           : level == 6 ? SHOP_LOG_INFO
                                        : SHOP_LOG_DEBUG;
    shop_log(lvl, "component=rdkafka fac=%s msg=%s", fac, shop_log_quote(q, sizeof(q), buf));
}

/* ---- lifecycle ---- */

shop_producer_t *shop_producer_new(const shop_producer_conf_t *conf, char *errstr,
                                   size_t errstr_size) {
    shop_producer_t *p = shop_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->cb = conf->cb;
    p->cb_opaque = conf->cb_opaque;
    p->framing = conf->registry_url ? SHOP_FRAMING_CONFLUENT : SHOP_FRAMING_SINGLE_OBJECT;
    p->topic_prefix = shop_xstrdup(conf->topic_prefix ? conf->topic_prefix : "");
    p->codec = conf->codec;
    if (!p->codec) {
        p->codec = shop_codec_new(conf->registry_url, errstr, errstr_size);
        p->own_codec = 1;
        if (!p->codec)
            goto fail;
    }
    rd_kafka_conf_t *rc = rd_kafka_conf_dup(conf->rk);
    rd_kafka_conf_set_opaque(rc, p);
    rd_kafka_conf_set_dr_msg_cb(rc, on_delivery);
    rd_kafka_conf_set_error_cb(rc, on_error);
    rd_kafka_conf_set_log_cb(rc, on_log);
    char err[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, err, sizeof(err));
    if (!p->rk) {
        rd_kafka_conf_destroy(rc);
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "kafka: %s", err);
        goto fail;
    }
    return p;
fail:
    shop_producer_destroy(p);
    return NULL;
}

void shop_producer_destroy(shop_producer_t *p) {
    if (!p)
        return;
    if (p->rk) {
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0); /* purged messages still get their (failed) reports */
        for (int i = 0; i < p->ntopics; i++) {
            rd_kafka_topic_destroy(p->topics[i].rkt);
            free((char *)p->topics[i].name);
        }
        rd_kafka_destroy(p->rk);
    }
    if (p->own_codec)
        shop_codec_destroy(p->codec);
    pthread_mutex_destroy(&p->lock);
    free(p->topic_prefix);
    free(p);
}

/* ---- producing ---- */

/* The topic handle for the contract topic `name` (prefixed with topic.prefix), made on first use.
 */
static rd_kafka_topic_t *topic_of(shop_producer_t *p, const char *name) {
    rd_kafka_topic_t *rkt = NULL;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->ntopics && !rkt; i++)
        if (p->topics[i].name == name || !strcmp(p->topics[i].name, name))
            rkt = p->topics[i].rkt;
    if (!rkt && p->ntopics < MAX_TOPICS) {
        char *full = shop_xasprintf("%s%s", p->topic_prefix, name);
        rkt = rd_kafka_topic_new(p->rk, full, NULL);
        free(full);
        if (rkt)
            p->topics[p->ntopics++] = (topic_slot_t){shop_xstrdup(name), rkt};
    }
    pthread_mutex_unlock(&p->lock);
    return rkt;
}

/* Queues one message (librdkafka copies it), timestamped with the event's occurred_at so that
 * replays can start from a time (offsetsForTimes); 0 means now. While the local queue is full it
 * serves delivery reports and tries again, so a burst slows the caller down instead of failing.
 * No lock is held here: report callbacks may emit. */
static int produce(shop_producer_t *p, const char *topic, const char *key, const void *buf,
                   size_t len, int64_t ts, void *msg_opaque, char *errstr, size_t errstr_size) {
    rd_kafka_topic_t *rkt = topic_of(p, topic);
    if (!rkt)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "topic %s: %s", topic,
                           rd_kafka_err2str(rd_kafka_last_error()));
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)buf, len),
            RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0),
            RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (!e)
            break;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p->rk, 10);
            continue;
        }
        if (e == RD_KAFKA_RESP_ERR__FATAL) {
            char fatal[256];
            rd_kafka_fatal_error(p->rk, fatal, sizeof(fatal));
            return shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "kafka: %s", fatal);
        }
        return shop_seterr(errstr, errstr_size, map_err(e) ? map_err(e) : SHOP_ERR_RETRYABLE,
                           "kafka: %s", rd_kafka_err2str(e));
    }
    atomic_fetch_add(&p->produced, 1);
    if (atomic_fetch_add(&p->since_poll, 1) % POLL_EVERY == POLL_EVERY - 1)
        rd_kafka_poll(p->rk, 0);
    return SHOP_OK;
}

int shop_producer_emit_encoded(shop_producer_t *p, const shop_encoded_t *enc, void *msg_opaque,
                               char *errstr, size_t errstr_size) {
    return produce(p, enc->topic, enc->key, enc->bytes.buf, enc->bytes.len, enc->occurred_at,
                   msg_opaque, errstr, errstr_size);
}

int shop_producer_emit_json(shop_producer_t *p, json_t *event, char *errstr, size_t errstr_size) {
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    int r = shop_codec_encode_json(p->codec, event, p->framing, &enc, errstr, errstr_size);
    if (!r)
        r = shop_producer_emit_encoded(p, &enc, NULL, errstr, errstr_size);
    shop_encoded_release(&enc);
    return r;
}

int shop_producer_emit_json_text(shop_producer_t *p, const char *text, size_t len, char *errstr,
                                 size_t errstr_size) {
    json_error_t jerr;
    json_t *obj = shop_producer_json_parse(text, len, &jerr);
    if (!obj)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "invalid JSON: %s", jerr.text);
    shop_producer_json_fast_time(obj); /* ours to change: saves the codec a sscanf */
    int r = shop_producer_emit_json(p, obj, errstr, errstr_size);
    json_decref(obj);
    return r;
}

int shop_producer_poll(shop_producer_t *p, int timeout_ms) {
    return rd_kafka_poll(p->rk, timeout_ms);
}

int shop_producer_flush(shop_producer_t *p, int timeout_ms) {
    if (rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return SHOP_OK;
    return SHOP_ERR_RETRYABLE;
}

void shop_producer_stats(const shop_producer_t *p, shop_producer_stats_t *out) {
    out->produced = atomic_load(&((shop_producer_t *)p)->produced);
    out->delivered = atomic_load(&((shop_producer_t *)p)->delivered);
    out->failed = atomic_load(&((shop_producer_t *)p)->failed);
    /* Derived: rd_kafka_outq_len() also counts requests and unserved delivery reports. */
    out->in_flight = (int64_t)(out->produced - out->delivered - out->failed);
}

shop_codec_t *shop_producer_codec(shop_producer_t *p) {
    return p->codec;
}

/* ---- Avro values ---- */

/* Index of the payload branch whose "shop.type" is `type`, read from the schema text once. */
static int branch_of(shop_producer_t *p, const shop_schema_info_t *info, const char *type) {
    int branch = -1;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->nbranches && branch < 0; i++)
        if (!strcmp(p->branches[i].type, type))
            branch = p->branches[i].branch;
    if (branch < 0) {
        json_t *root = json_loads(info->json, 0, NULL), *f;
        size_t i, j;
        json_array_foreach(json_object_get(root, "fields"), i, f) {
            const char *name = json_string_value(json_object_get(f, "name"));
            if (!name || strcmp(name, "payload"))
                continue;
            json_t *b;
            json_array_foreach(json_object_get(f, "type"), j, b) {
                const char *t = json_string_value(json_object_get(b, "shop.type"));
                if (t && !strcmp(t, type))
                    branch = (int)j;
            }
        }
        json_decref(root);
        if (branch >= 0 && p->nbranches < SHOP_EV__COUNT &&
            strlen(type) < sizeof(p->branches[0].type)) {
            strcpy(p->branches[p->nbranches].type, type);
            p->branches[p->nbranches++].branch = branch;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return branch;
}

/* The current schema of `type`'s topic and its payload branch. */
static const shop_schema_info_t *route(shop_producer_t *p, const char *type, int *branch,
                                       char *errstr, size_t errstr_size) {
    const char *topic = shop_codec_topic_for_type(p->codec, type);
    const shop_schema_info_t *info = topic ? shop_codec_current_for_topic(p->codec, topic) : NULL;
    if (info)
        *branch = branch_of(p, info, type);
    if (!info || *branch < 0) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "unknown type \"%s\"", type);
        return NULL;
    }
    return info;
}

/* Sets every ["null", ...] union field of a record to null, so the record can be written as is. */
static void set_nulls(avro_value_t *rec) {
    size_t n = 0;
    avro_value_get_size(rec, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t f, br;
        if (avro_value_get_by_index(rec, i, &f, NULL) || avro_value_get_type(&f) != AVRO_UNION)
            continue;
        avro_schema_t b0 = avro_schema_union_branch(avro_value_get_schema(&f), 0);
        if (b0 && is_avro_null(b0) && !avro_value_set_branch(&f, 0, &br))
            avro_value_set_null(&br);
    }
}

int shop_producer_value_new(shop_producer_t *p, const char *type, avro_value_t *out, char *errstr,
                            size_t errstr_size) {
    int branch;
    const shop_schema_info_t *info = route(p, type, &branch, errstr, errstr_size);
    if (!info)
        return SHOP_ERR_INVALID;
    avro_value_iface_t *iface = avro_generic_class_from_schema(info->schema);
    if (!iface || avro_generic_value_new(iface, out)) {
        if (iface)
            avro_value_iface_decref(iface);
        return shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "avro: %s", avro_strerror());
    }
    avro_value_iface_decref(iface); /* the value holds its own reference */
    set_nulls(out);
    avro_value_t f, pl;
    char uuid[37];
    shop_uuid4(uuid);
    if (!avro_value_get_by_name(out, "type", &f, NULL))
        avro_value_set_string(&f, type);
    if (!avro_value_get_by_name(out, "event_id", &f, NULL))
        avro_value_set_string(&f, uuid);
    if (!avro_value_get_by_name(out, "occurred_at", &f, NULL))
        avro_value_set_long(&f, shop_now_ms());
    if (!avro_value_get_by_name(out, "payload", &f, NULL) &&
        !avro_value_set_branch(&f, branch, &pl))
        set_nulls(&pl);
    return SHOP_OK;
}

/* Checks that `value` is a complete `type` event of the current schema; returns its key. */
static int check_value(const shop_schema_info_t *info, int branch, const char *type,
                       avro_value_t *value, const char **key, char *errstr, size_t errstr_size) {
    avro_value_t f;
    const char *t = NULL;
    size_t tlen;
    int disc = -1;
    if (!avro_schema_equal(avro_value_get_schema(value), info->schema))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: the value is not of the current %s schema", type, info->topic);
    if (avro_value_get_by_name(value, "type", &f, NULL) || avro_value_get_string(&f, &t, &tlen) ||
        strcmp(t, type))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: field type: expected \"%s\"",
                           type, type);
    if (avro_value_get_by_name(value, "payload", &f, NULL) ||
        avro_value_get_discriminant(&f, &disc) || disc != branch)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: payload is not the %s branch", type, type);
    if (shop_value_get_string(value, info->key_field, key) || !*key)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: field %s: missing", type,
                           info->key_field);
    return SHOP_OK;
}

int shop_producer_emit(shop_producer_t *p, const char *type, avro_value_t *value, char *errstr,
                       size_t errstr_size) {
    if (p->framing != SHOP_FRAMING_SINGLE_OBJECT)
        return shop_seterr(
            errstr, errstr_size, SHOP_ERR_CONFIG,
            "Avro values use single-object framing; with a schema registry emit JSON");
    int branch;
    const char *key;
    const shop_schema_info_t *info = route(p, type, &branch, errstr, errstr_size);
    if (!info)
        return SHOP_ERR_INVALID;
    int r = check_value(info, branch, type, value, &key, errstr, errstr_size);
    if (r)
        return r;
    size_t body = 0;
    if (avro_value_sizeof(value, &body))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s", type, avro_strerror());
    unsigned char *buf = shop_xmalloc(10 + body);
    uint64_t fp = (uint64_t)info->fingerprint;
    buf[0] = 0xC3, buf[1] = 0x01; /* single-object encoding: marker, then the fingerprint LE */
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (unsigned char)(fp >> (8 * i));
    avro_writer_t w = avro_writer_memory((const char *)buf + 10, (int64_t)body);
    if (avro_value_write(w, value))
        r = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s (is every field set?)", type,
                        avro_strerror());
    avro_writer_free(w);
    int64_t ts = 0;
    shop_value_get_long(value, "occurred_at", &ts);
    if (!r)
        r = produce(p, info->topic, key, buf, 10 + body, ts, NULL, errstr, errstr_size);
    free(buf);
    return r;
}
