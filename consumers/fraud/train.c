/* train.c: the training set of `shopstream fraud train --events|--topic`: events collected from
 * JSON lines (`shopstream generate`, `shopstream decode [--meta]`) or Kafka messages, replayed in
 * event-time order through the worker's own engine (shop_fraud_apply), one feature row per
 * order.placed. The worker computes the same 16 features on the same events, so the model sees at
 * training time what it will see when scoring. */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud.h"

typedef struct {
    int64_t at;
    size_t seq, off, len;
    const char *topic; /* interned; "" for flat lines */
    int64_t offset;    /* Kafka offset, or the line's position */
    int32_t partition; /* -1: derived from the key */
} train_ev_t;

#define MAX_TOPICS 64

struct shop_fraud_events {
    train_ev_t *v;
    size_t n, cap;
    shop_buf_t bytes; /* framed Avro of every event, back to back */
    shop_encoded_t enc;
    char *topics[MAX_TOPICS];
    int ntopics;
};

static const char *intern(shop_fraud_events_t *e, const char *topic) {
    if (!topic || !*topic)
        return "";
    for (int i = 0; i < e->ntopics; i++)
        if (!strcmp(e->topics[i], topic))
            return e->topics[i];
    if (e->ntopics == MAX_TOPICS)
        return "?";
    return e->topics[e->ntopics++] = shop_xstrdup(topic);
}

shop_fraud_events_t *shop_fraud_events_new(void) {
    shop_fraud_events_t *e = shop_xcalloc(1, sizeof(*e));
    shop_buf_init(&e->bytes);
    shop_encoded_init(&e->enc);
    return e;
}

void shop_fraud_events_destroy(shop_fraud_events_t *e) {
    if (!e)
        return;
    free(e->v);
    shop_buf_release(&e->bytes);
    shop_encoded_release(&e->enc);
    for (int i = 0; i < e->ntopics; i++)
        free(e->topics[i]);
    free(e);
}

size_t shop_fraud_events_count(const shop_fraud_events_t *e) {
    return e->n;
}

void shop_fraud_events_add(shop_fraud_events_t *e, const void *buf, size_t len, int64_t at,
                           const char *topic, int32_t partition, int64_t offset) {
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4096;
        e->v = shop_xrealloc(e->v, e->cap * sizeof(*e->v));
    }
    e->v[e->n] = (train_ev_t){
        at,       e->n, e->bytes.len, len, intern(e, topic), offset < 0 ? (int64_t)e->n : offset,
        partition};
    e->n++;
    shop_buf_append(&e->bytes, buf, len);
}

int shop_fraud_events_add_json(shop_fraud_events_t *e, shop_codec_t *codec, const char *line,
                               size_t len, char *errstr, size_t errstr_size) {
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, 0, &jerr);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "not a JSON object: %s",
                           obj ? "" : jerr.text);
    }
    json_t *ev = obj;
    int32_t partition = -1;
    int64_t offset = -1;
    const char *topic = NULL;
    json_t *value = json_object_get(obj, "value"); /* `shopstream decode --meta` wraps events */
    if (json_is_object(value) && !json_object_get(obj, "type")) {
        json_t *p = json_object_get(obj, "partition"), *o = json_object_get(obj, "offset");
        topic = json_string_value(json_object_get(obj, "topic"));
        if (json_is_integer(p) && json_is_integer(o) && topic) {
            partition = (int32_t)json_integer_value(p);
            offset = json_integer_value(o);
        } else {
            topic = NULL;
        }
        ev = value;
    }
    int rc =
        shop_codec_encode_json(codec, ev, SHOP_FRAMING_SINGLE_OBJECT, &e->enc, errstr, errstr_size);
    if (!rc)
        shop_fraud_events_add(e, e->enc.bytes.buf, e->enc.bytes.len, e->enc.occurred_at, topic,
                              partition, offset);
    json_decref(obj);
    return rc ? SHOP_ERR_INVALID : SHOP_OK;
}

int shop_fraud_events_read_jsonl(shop_fraud_events_t *e, shop_codec_t *codec, FILE *fp,
                                 const char *name, size_t *bad, char *errstr, size_t errstr_size) {
    char *line = NULL, err[512];
    size_t cap = 0, lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        lineno++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!n)
            continue;
        if (shop_fraud_events_add_json(e, codec, line, (size_t)n, err, sizeof(err))) {
            if (bad && *bad < 5)
                SHOP_WARN("msg=\"%s:%zu: skipped: %s\"", name, lineno, err);
            if (bad)
                (*bad)++;
        }
    }
    int failed = ferror(fp);
    free(line);
    if (failed)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: read error", name);
    return SHOP_OK;
}

/* Event time; ties by topic, partition and offset (so a topic range read from Kafka and the
 * same range written by `decode --meta` replay alike), flat lines in their order. */
static int by_time(const void *a, const void *b) {
    const train_ev_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    int c = x->topic == y->topic ? 0 : strcmp(x->topic, y->topic);
    if (c)
        return c;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The partition of an event without one: librdkafka's murmur2 (Java-compatible), as the
 * producers' murmur2_random partitioner places keyed events. */
static int32_t partition_of(const train_ev_t *t, const shop_event_t *ev, int partitions) {
    if (t->partition >= 0)
        return t->partition;
    if (partitions <= 1 || !ev->key)
        return 0;
    return rd_kafka_msg_partitioner_murmur2(NULL, ev->key, strlen(ev->key), partitions, NULL, NULL);
}

static shop_fraud_part_t *part_for(shop_fraud_part_t ***parts, size_t *nparts, int32_t p) {
    if (p < 0)
        p = 0;
    if ((size_t)p >= *nparts) {
        size_t n = (size_t)p + 1;
        *parts = shop_xrealloc(*parts, n * sizeof(**parts));
        memset(*parts + *nparts, 0, (n - *nparts) * sizeof(**parts));
        *nparts = n;
    }
    if (!(*parts)[p])
        (*parts)[p] = shop_fraud_part_new(p);
    return (*parts)[p];
}

int shop_fraud_events_features(shop_fraud_events_t *e, shop_codec_t *codec,
                               const shop_fraud_engine_t *eng, int partitions,
                               shop_fraud_data_t *out, shop_fraud_train_stats_t *st, char *errstr,
                               size_t errstr_size) {
    shop_fraud_train_stats_t tmp;
    if (!st)
        st = &tmp;
    memset(st, 0, sizeof(*st));
    shop_sort(e->v, e->n, sizeof(*e->v), by_time); /* the time-ordered merge of the topics */
    shop_decoder_t *dec = shop_decoder_new(codec);
    shop_fraud_part_t **parts = NULL;
    size_t nparts = 0, cap = 0;
    char err[512];
    shop_fraud_data_release(out);
    out->dims = FRAUD_NFEAT;
    for (size_t i = 0; i < e->n; i++) {
        const train_ev_t *t = &e->v[i];
        const shop_event_t *ev;
        st->events++;
        if (shop_decoder_decode(dec, e->bytes.buf + t->off, t->len, &ev, err, sizeof(err))) {
            st->invalid++;
            continue;
        }
        shop_fraud_part_t *p = part_for(&parts, &nparts, partition_of(t, ev, partitions));
        shop_fraud_decision_t d;
        shop_fraud_features_t f;
        int rc = shop_fraud_apply(eng, p, ev, 1, &d, &f, err, sizeof(err));
        if (rc < 0) {
            st->invalid++;
            continue;
        }
        shop_fraud_part_clear_dirty(p); /* no sink here: keep the list short */
        shop_fraud_part_sweep(p, eng->conf.idle_ms);
        if (rc != 1)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 4096;
            out->x = shop_xrealloc(out->x, cap * FRAUD_NFEAT * sizeof(double));
        }
        memcpy(out->x + out->n * FRAUD_NFEAT, f.v, sizeof(f.v));
        out->n++;
    }
    st->orders = out->n;
    st->partitions = nparts;
    for (size_t i = 0; i < nparts; i++)
        shop_fraud_part_destroy(parts[i]);
    free(parts);
    shop_decoder_destroy(dec);
    if (out->n < 2)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%zu order.placed events among %zu events: at least 2 are needed",
                           out->n, st->events);
    return SHOP_OK;
}

shop_iforest_t *shop_fraud_train_events(shop_fraud_events_t *e, shop_codec_t *codec, int partitions,
                                        const shop_iforest_params_t *params,
                                        shop_fraud_train_stats_t *st, char *errstr,
                                        size_t errstr_size) {
    shop_fraud_engine_t eng;
    memset(&eng, 0, sizeof(eng));
    shop_fraud_conf_default(&eng.conf);
    snprintf(eng.model, sizeof(eng.model), "none");
    shop_fraud_data_t d;
    shop_fraud_data_init(&d);
    shop_iforest_t *f = NULL;
    if (!shop_fraud_events_features(e, codec, &eng, partitions, &d, st, errstr, errstr_size))
        f = shop_iforest_train(d.x, d.n, d.dims, params, errstr, errstr_size);
    shop_fraud_data_release(&d);
    return f;
}

/* ---- a replayed topic range from Kafka ---- */

/* A bound: an offset ("o:123" or a bare integer below 10^11) or a time (RFC 3339, "t:<ms>" or
 * epoch millis), as `shopstream replay` takes them. */
static int parse_bound(const char *s, int *is_time, int64_t *v) {
    char *end;
    if (!strncmp(s, "o:", 2)) {
        *is_time = 0;
        *v = strtoll(s + 2, &end, 10);
        return s[2] && !*end && *v >= 0 ? SHOP_OK : SHOP_ERR_INVALID;
    }
    if (!strncmp(s, "t:", 2))
        s += 2;
    else {
        long long x = strtoll(s, &end, 10);
        if (*s && !*end && x >= 0 && x < 100000000000LL) {
            *is_time = 0;
            *v = x;
            return SHOP_OK;
        }
    }
    *is_time = 1;
    return shop_parse_time_ms(s, v);
}

/* Resolves a bound into offsets of every partition in `l` (`dflt` when spec is NULL). */
static int resolve(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l, const char *spec,
                   int64_t *out, int64_t dflt, char *errstr, size_t errstr_size) {
    int is_time = 0;
    int64_t v = 0;
    if (!spec) {
        for (int i = 0; i < l->cnt; i++)
            out[i] = dflt;
        return SHOP_OK;
    }
    if (parse_bound(spec, &is_time, &v))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "bad bound \"%s\": an offset (123, o:123) or a time", spec);
    if (!is_time) {
        for (int i = 0; i < l->cnt; i++)
            out[i] = v;
        return SHOP_OK;
    }
    rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_copy(l);
    for (int i = 0; i < q->cnt; i++)
        q->elems[i].offset = v;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, q, 10000);
    for (int i = 0; !e && i < q->cnt; i++)
        out[i] = q->elems[i].offset; /* -1: no message at or after the time: the end */
    rd_kafka_topic_partition_list_destroy(q);
    if (e)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "kafka: offsets for %s: %s",
                           spec, rd_kafka_err2str(e));
    return SHOP_OK;
}

/* Every partition of the topics, with their [low, high) watermarks. */
static rd_kafka_topic_partition_list_t *partitions_of(rd_kafka_t *rk, const char *const *topics,
                                                      int ntopics, int64_t **lo, int64_t **hi,
                                                      char *errstr, size_t errstr_size) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int t = 0; t < ntopics; t++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        if (!e && (md->topic_cnt != 1 || md->topics[0].err))
            e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        for (int i = 0; !e && i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, topics[t], md->topics[0].partitions[i].id);
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        if (e) {
            rd_kafka_topic_partition_list_destroy(l);
            shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "kafka: %s: %s", topics[t],
                        rd_kafka_err2str(e));
            return NULL;
        }
    }
    *lo = shop_xcalloc((size_t)l->cnt + 1, sizeof(int64_t));
    *hi = shop_xcalloc((size_t)l->cnt + 1, sizeof(int64_t));
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            rk, l->elems[i].topic, l->elems[i].partition, &(*lo)[i], &(*hi)[i], 10000);
        if (e) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "kafka: watermarks of %s/%d: %s",
                        l->elems[i].topic, (int)l->elems[i].partition, rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(l);
            free(*lo), free(*hi);
            return NULL;
        }
    }
    return l;
}

/* Consumes the assigned ranges: l->elems[i].offset .. end[i] (exclusive). */
static int consume_ranges(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l, const int64_t *end,
                          shop_fraud_events_t *ev, char *errstr, size_t errstr_size) {
    int open = 0;
    for (int i = 0; i < l->cnt; i++)
        open += l->elems[i].offset < end[i];
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    if (e)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "kafka: assign: %s",
                           rd_kafka_err2str(e));
    int64_t idle_since = shop_mono_us();
    while (open > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            if (shop_mono_us() - idle_since > 30000000)
                return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                                   "kafka: no message for 30 s with %d partitions unfinished",
                                   open);
            continue;
        }
        idle_since = shop_mono_us();
        int i = 0;
        while (i < l->cnt && (l->elems[i].partition != m->partition ||
                              strcmp(l->elems[i].topic, rd_kafka_topic_name(m->rkt))))
            i++;
        if (!m->err && i < l->cnt && m->offset < end[i]) {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            /* the time only orders the merge; the engine reads occurred_at from the event */
            shop_fraud_events_add(ev, m->payload, m->len, ts, rd_kafka_topic_name(m->rkt),
                                  m->partition, m->offset);
            if (m->offset + 1 >= end[i])
                open--;
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            SHOP_WARN("msg=\"kafka: %s\"", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    return SHOP_OK;
}

int shop_fraud_read_topics(shop_fraud_events_t *ev, const char *const *topics, int ntopics,
                           const char *from, const char *to, const char *brokers, char *errstr,
                           size_t errstr_size) {
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    const char *env = getenv("SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS");
    rd_kafka_conf_set(kc, "bootstrap.servers",
                      brokers ? brokers
                      : env   ? env
                              : "127.0.0.1:19092",
                      err, sizeof(err));
    rd_kafka_conf_set(kc, "group.id", "shopstream-fraud-train", err, sizeof(err));
    rd_kafka_conf_set(kc, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(kc, "enable.partition.eof", "true", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "kafka: %s", err);
    }
    int64_t *lo = NULL, *hi = NULL, *a = NULL, *b = NULL;
    int rc = SHOP_ERR_RETRYABLE;
    rd_kafka_topic_partition_list_t *l =
        partitions_of(rk, topics, ntopics, &lo, &hi, errstr, errstr_size);
    if (!l)
        goto out;
    a = shop_xcalloc((size_t)l->cnt + 1, sizeof(int64_t));
    b = shop_xcalloc((size_t)l->cnt + 1, sizeof(int64_t));
    if ((rc = resolve(rk, l, from, a, 0, errstr, errstr_size)) ||
        (rc = resolve(rk, l, to, b, INT64_MAX, errstr, errstr_size)))
        goto out;
    for (int i = 0; i < l->cnt; i++) {
        int64_t s = a[i] < 0 || a[i] > hi[i] ? hi[i] : a[i] < lo[i] ? lo[i] : a[i];
        b[i] = b[i] < 0 || b[i] > hi[i] ? hi[i] : b[i];
        l->elems[i].offset = s;
    }
    rc = consume_ranges(rk, l, b, ev, errstr, errstr_size);
out:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    free(lo), free(hi), free(a), free(b);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
