/* fraud_worker.c: the fraud worker's registration with the runtime: per-partition user state
 * restored from and flushed to Redis with the offsets, decisions to Redis (fraud:order:*,
 * fraud:user:*), PostgreSQL (fraud_decisions) and Kafka (shop.fraud.scores, produced inside the
 * PostgreSQL flush before its commit: at least once, identical duplicates, dedupe by order_id),
 * and the model reloaded on SIGHUP. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud.h"
#include "fraud_global.h"
#include "fraud_worker.h"
#include "redis_keys.h"
#include "store.h"

static const char *const topics[] = {"shop.order.events", "shop.user.events", NULL};

static const shop_conf_def_t conf[] = {
    {"fraud.rules", SHOP_CONF_STRING, "deploy/fraud-rules.conf",
     "rules file (code threshold weight reason); missing default path = built-in rules"},
    {"fraud.model", SHOP_CONF_STRING, NULL,
     "Isolation Forest model from `shopstream fraud train` (reloaded on SIGHUP)"},
    {"fraud.order.ttl.s", SHOP_CONF_INT, "2592000", "TTL of fraud:order:<id> (0 = keep)"},
    {"fraud.user.ttl.s", SHOP_CONF_INT, "2592000", "TTL of fraud:user:<id> (0 = keep)"},
    {"fraud.idle.days", SHOP_CONF_INT, "30", "users idle this long (event time) are dropped"},
    {"fraud.amount.max", SHOP_CONF_INT, "100000000000", "larger amount_minor is refused"},
    {"fraud.currencies", SHOP_CONF_STRING, "KRW,USD,EUR,JPY,GBP,CNY,SGD,CAD,BRL,RUB,NGN",
     "accepted currencies (empty = any ISO 4217 shaped code)"},
    {"fraud.forest.weight", SHOP_CONF_INT, "40", "score points of a maximally anomalous order"},
    {"fraud.level.medium", SHOP_CONF_INT, "40", "score from which the level is medium (review)"},
    {"fraud.level.high", SHOP_CONF_INT, "60", "score from which the level is high (decline)"},
    {"fraud.device.scope", SHOP_CONF_STRING, "partition",
     "device_accounts rule: partition (this partition's accounts: deterministic, replay-exact) "
     "or global (max with every instance's 24 h count from Redis: depends on timing)"},
    {"fraud.global.summary", SHOP_CONF_BOOL, "false",
     "refresh writes every instance's 24 h accounts per device and IP into fraud:user:<id> "
     "(2 PFCOUNTs of 24 keys per order; `query fraud` shows them either way)"},
    {"fraud.pg.synchronous_commit", SHOP_CONF_BOOL, "false",
     "wait for PostgreSQL's WAL flush at each commit (off is exact too: a lost commit rewinds "
     "the PostgreSQL sink, which redoes it)"},
    {"fraud.scores.produce", SHOP_CONF_STRING, "auto",
     "produce to shop.fraud.scores: on, off, auto (on except in bt: namespaces)"},
    /* the PostgreSQL flush waits for the scores' acks: on the scoring path unless
     * pg.flush.async, where a linger of a few ms batches them at no cost to Redis latency and
     * spares the broker a produce request per order */
    {"fraud.scores.linger.ms", SHOP_CONF_INT, "0",
     "linger.ms of the scores producer (each synchronous flush waits it; 5 with pg.flush.async)"},
    /* latency (produce -> score in Redis, tests/bench/bench_fraud_latency.sh): a score is visible
     * after the flush that carries it, so flush.ms bounds the wait (the runtime's batch is what
     * has arrived; it never waits for a batch to fill). Bulk replays may --set flush.ms=500. */
    {"flush.ms", SHOP_CONF_INT, "10", "flush at least this often (ms): bounds score latency"},
    /* an order is scored with the user's facts that precede it in event time, whatever order the
     * fetches of the two topics give: the same decisions in every run over the same offsets */
    {"consume.ordered", SHOP_CONF_BOOL, "true",
     "process a user's topics in event-time order (see the runtime's merge.c)"},
    /* the order and user topics must be co-partitioned in one instance: range assigns equal
     * partition numbers of both topics to the same member */
    {"kafka.partition.assignment.strategy", SHOP_CONF_STRING, "range",
     "fraud keeps one state per user across two topics: keep partitions co-assigned"},
    {NULL, 0, NULL, NULL},
};

/* A decision waiting for a sink. */
typedef struct fraud_out {
    char *order_id, *user_id;
    char *device, *ip; /* NULL when the order has none */
    int64_t at, amount;
    int64_t device_accounts; /* what the device_accounts rule saw, -1 unknown */
    char currency[4];
    shop_fraud_decision_t d;
} fraud_out_t;

typedef struct fraud_outs {
    fraud_out_t *v;
    size_t n, cap;
} fraud_outs_t;

typedef struct fraud_slot {
    shop_fraud_part_t *part;
    unsigned topics; /* bit 0 order topic, bit 1 user topic: assigned */
} fraud_slot_t;

typedef struct shop_fraud_w {
    shop_fraud_engine_t eng;
    shop_iforest_t *forest;
    char *model_path;
    char prefix[128];
    int64_t order_ttl, user_ttl;
    int pg_sync_commit; /* fraud.pg.synchronous_commit */
    int global_summary; /* fraud.global.summary */
    fraud_slot_t *slots;
    int32_t nslots;
    fraud_outs_t out[SHOP_SINK_COUNT];
    shop_fraud_global_t *global; /* cross-user counts in Redis */
    /* shop.fraud.scores */
    rd_kafka_t *rk;
    size_t scores_sent;           /* of out[SHOP_SINK_PG], encoded into sb */
    struct score_batch *sb;       /* their score events (the next PostgreSQL job waits for acks) */
    rd_kafka_topic_t *scores_rkt; /* held so its metadata stays known (warm_producer) */
    char scores_topic[256];
    shop_codec_t *codec;
    shop_encoded_t enc;
    /* HTTP thread */
    char *redis_url;
    pthread_mutex_t http_lock;
    shop_redis_store_t *http_store;
} shop_fraud_w_t;

static volatile sig_atomic_t reload_requested;

static void on_sighup(int sig) {
    (void)sig;
    reload_requested = 1;
}

/* ---- model ---- */

static int load_model(shop_fraud_w_t *w, char *errstr, size_t errstr_size) {
    shop_iforest_t *f = shop_iforest_load(w->model_path, errstr, errstr_size);
    if (!f)
        return SHOP_ERR_CONFIG;
    if (shop_iforest_dims(f) != FRAUD_NFEAT) {
        shop_iforest_destroy(f);
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "%s: model has %zu features, the worker computes %d (train it with "
                           "`shopstream fraud train --events`)",
                           w->model_path, shop_iforest_dims(f), FRAUD_NFEAT);
    }
    FILE *fp = fopen(w->model_path, "rb");
    uint64_t h = 0xcbf29ce484222325ULL;
    int ch;
    while (fp && (ch = getc(fp)) != EOF)
        h = (h ^ (unsigned)ch) * 0x100000001b3ULL;
    if (fp)
        fclose(fp);
    shop_iforest_destroy(w->forest);
    w->forest = f;
    w->eng.forest = f;
    snprintf(w->eng.model, sizeof(w->eng.model), "v%d-%08llx", SHOP_IFOREST_FILE_VERSION,
             (unsigned long long)(h & 0xffffffffu));
    return SHOP_OK;
}

static void maybe_reload(shop_fraud_w_t *w) {
    if (!reload_requested)
        return;
    reload_requested = 0;
    char err[512];
    if (!w->model_path)
        SHOP_WARN("msg=\"SIGHUP: no fraud.model configured, nothing to reload\"");
    else if (load_model(w, err, sizeof(err)))
        SHOP_ERROR("msg=\"SIGHUP: model not reloaded, keeping %s: %s\"", w->eng.model, err);
    else
        SHOP_INFO("msg=\"SIGHUP: model %s loaded from %s\"", w->eng.model, w->model_path);
}

/* ---- partitions ---- */

static fraud_slot_t *slot_of(shop_fraud_w_t *w, int32_t partition) {
    if (partition < 0)
        partition = 0;
    if (partition >= w->nslots) {
        int32_t n = partition + 8;
        w->slots = shop_xrealloc(w->slots, (size_t)n * sizeof(*w->slots));
        memset(w->slots + w->nslots, 0, (size_t)(n - w->nslots) * sizeof(*w->slots));
        w->nslots = n;
    }
    return &w->slots[partition];
}

static unsigned topic_bit(const char *topic) {
    size_t n = topic ? strlen(topic) : 0;
    return n >= 16 && !strcmp(topic + n - 16, "shop.user.events") ? 2u : 1u;
}

static void outs_clear(fraud_outs_t *o) {
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i].order_id), free(o->v[i].user_id), free(o->v[i].device), free(o->v[i].ip);
    o->n = 0;
}

static void outs_push(fraud_outs_t *o, const shop_event_t *ev, const shop_fraud_order_t *ord,
                      const shop_fraud_decision_t *d, int64_t device_accounts) {
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->v = shop_xrealloc(o->v, o->cap * sizeof(*o->v));
    }
    fraud_out_t *x = &o->v[o->n++];
    x->order_id = shop_xstrdup(ord->order_id);
    x->user_id = shop_xstrdup(ev->key);
    x->device = ord->device ? shop_xstrdup(ord->device) : NULL;
    x->ip = ord->ip ? shop_xstrdup(ord->ip) : NULL;
    x->device_accounts = device_accounts;
    x->at = ev->occurred_at;
    x->amount = ord->amount;
    snprintf(x->currency, sizeof(x->currency), "%s", ord->currency);
    x->d = *d;
}

static const char *payload_str(const shop_event_t *ev, const char *field) {
    const char *v = NULL;
    return shop_value_get_string((avro_value_t *)&ev->payload, field, &v) == SHOP_OK && v && *v
               ? v
               : NULL;
}

/* The event's user on its device and IP, for the global HyperLogLogs (the same events that put
 * a device into the user's state: orders, signups, successful logins). Once per event: only
 * called while the Redis sink is behind it. */
static void note_global(shop_fraud_w_t *w, const shop_event_t *ev) {
    int ok = 1;
    switch (ev->kind) {
    case SHOP_EV_USER_LOGIN:
        shop_value_get_bool((avro_value_t *)&ev->payload, "success", &ok);
        if (!ok)
            return;
        /* fall through */
    case SHOP_EV_USER_SIGNUP:
    case SHOP_EV_ORDER_PLACED:
        shop_fraud_global_note(w->global, ev->key, payload_str(ev, "device_id"),
                               payload_str(ev, "ip_hash"), ev->occurred_at);
        break;
    default:
        break;
    }
}

static int process(void *vw, const shop_event_t *ev, unsigned sinks, char *errstr,
                   size_t errstr_size) {
    shop_fraud_w_t *w = vw;
    maybe_reload(w);
    fraud_slot_t *s = slot_of(w, ev->partition);
    if (!s->part)
        s->part = shop_fraud_part_new(ev->partition);
    int update = (sinks & SHOP_SINK_BIT(SHOP_SINK_REDIS)) != 0;
    shop_fraud_decision_t d;
    shop_fraud_features_t f;
    f.device_accounts = -1; /* not computed when the decision is reused */
    int rc = shop_fraud_apply(&w->eng, s->part, ev, update, &d, &f, errstr, errstr_size);
    if (rc < 0)
        return rc;
    if (update) {
        shop_fraud_part_sweep(s->part, w->eng.conf.idle_ms);
        note_global(w, ev);
    }
    if (rc == 1) {
        shop_fraud_order_t o;
        shop_fraud_validate(&w->eng.conf, ev, &o, NULL, 0);
        for (int k = 0; k < SHOP_SINK_COUNT; k++)
            if (sinks & SHOP_SINK_BIT(k))
                outs_push(&w->out[k], ev, &o, &d, f.device_accounts);
        /* the refresh reads global counts only when the rule or the summary uses them */
        if (update && (w->global_summary || w->eng.device_scope == FRAUD_SCOPE_GLOBAL))
            shop_fraud_global_want(w->global, ev->key, o.device, o.ip, ev->occurred_at);
    }
    return SHOP_OK;
}

/* ---- Redis ---- */

static void decision_hash(shop_fraud_w_t *w, shop_redis_batch_t *b, const fraud_out_t *x) {
    char key[512], score[16], anomaly[32], at[24], rules[512] = "", reasons[1024], dacc[24];
    snprintf(key, sizeof(key), SHOP_KEY_FRAUD_ORDER, w->prefix, x->order_id);
    snprintf(score, sizeof(score), "%d", x->d.score);
    snprintf(anomaly, sizeof(anomaly), x->d.anomaly < 0 ? "" : "%.4f", x->d.anomaly);
    snprintf(at, sizeof(at), "%lld", (long long)x->at);
    snprintf(dacc, sizeof(dacc), x->device_accounts < 0 ? "" : "%lld",
             (long long)x->device_accounts);
    size_t len = 0;
    for (int i = 0; i < w->eng.conf.rules.n; i++)
        if (x->d.fired & (1u << i))
            len +=
                (size_t)snprintf(rules + len, len < sizeof(rules) ? sizeof(rules) - len : 0, "%s%s",
                                 len ? "," : "", shop_fraud_rule_name(w->eng.conf.rules.r[i].code));
    shop_fraud_reasons(&w->eng, &x->d, 3, reasons, sizeof(reasons));
    const char *argv[] = {"HSET",
                          key,
                          "score",
                          score,
                          "level",
                          shop_fraud_level_name(x->d.level),
                          "recommendation",
                          shop_fraud_recommendation(x->d.level),
                          "reasons",
                          reasons,
                          "rules",
                          rules,
                          "anomaly",
                          anomaly,
                          "model",
                          x->d.model,
                          "user_id",
                          x->user_id,
                          "occurred_at",
                          at,
                          "device_accounts",
                          dacc,
                          "device",
                          x->device ? x->device : "",
                          "ip",
                          x->ip ? x->ip : ""};
    size_t lens[sizeof(argv) / sizeof(argv[0])];
    for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
        lens[i] = strlen(argv[i]);
    shop_redis_batch_argv(b, (int)(sizeof(argv) / sizeof(argv[0])), argv, lens);
    if (w->order_ttl > 0)
        shop_redis_batch_cmd(b, "EXPIRE %s %lld", key, (long long)w->order_ttl);
}

typedef struct {
    shop_fraud_w_t *w;
    shop_redis_batch_t *b;
    int32_t partition;
    shop_buf_t buf;
} flush_ctx_t;

/* The user's state (one field of the partition's hash) and summary, as argv commands: this runs
 * for every changed user at every flush, and hiredis' printf-style formatting was a fifth of
 * the worker's CPU. */
static void flush_user(shop_fraud_user_t *u, void *a) {
    flush_ctx_t *c = a;
    if (!u->dirty)
        return;
    char key[256], skey[512];
    snprintf(key, sizeof(key), SHOP_KEY_FRAUD_STATE, c->w->prefix, (int)c->partition);
    shop_buf_reset(&c->buf);
    shop_fraud_user_encode(u, &c->buf);
    const char *hs[] = {"HSET", key, u->id, c->buf.buf};
    size_t hl[] = {4, strlen(key), strlen(u->id), c->buf.len};
    shop_redis_batch_argv(c->b, 4, hs, hl);
    size_t klen = (size_t)snprintf(skey, sizeof(skey), SHOP_KEY_FRAUD_USER, c->w->prefix, u->id);
    if (klen >= sizeof(skey))
        klen = sizeof(skey) - 1;
    int ndev = 0;
    for (int i = 0; i < FRAUD_SET_N; i++)
        ndev += u->dev[i].h != 0;
    const shop_fraud_decision_t *d = u->ndec ? &u->dec[u->ndec - 1] : NULL;
    char n[5][24];
    size_t nl[5] = {shop_fmt_i64(n[0], u->norders), shop_fmt_i64(n[1], (int64_t)(u->mean + 0.5)),
                    shop_fmt_i64(n[2], u->last_at), shop_fmt_i64(n[3], ndev),
                    shop_fmt_i64(n[4], d ? d->score : 0)};
    const char *level = d ? shop_fraud_level_name(d->level) : "none";
    const char *us[] = {"HSET",    skey, "orders",     n[0], "mean_amount", n[1], "last_at", n[2],
                        "devices", n[3], "last_score", n[4], "last_level",  level};
    size_t ul[] = {4, klen, 6, nl[0], 11, nl[1], 7, nl[2], 7, nl[3], 10, nl[4], 10, strlen(level)};
    shop_redis_batch_argv(c->b, 14, us, ul);
    if (c->w->user_ttl > 0) {
        char ttl[24];
        const char *ex[] = {"EXPIRE", skey, ttl};
        size_t el[] = {6, klen, shop_fmt_i64(ttl, c->w->user_ttl)};
        shop_redis_batch_argv(c->b, 3, ex, el);
    }
}

static int send_scores(shop_fraud_w_t *w, char *errstr, size_t errstr_size); /* below */

static void flush_redis(void *vw, shop_redis_batch_t *b) {
    shop_fraud_w_t *w = vw;
    maybe_reload(w);
    char err[256];
    (void)send_scores(w, err, sizeof(err)); /* a failure is the PostgreSQL job's to report */
    flush_ctx_t c = {w, b, 0, {NULL, 0, 0}};
    shop_buf_init(&c.buf);
    for (int32_t p = 0; p < w->nslots; p++) {
        shop_fraud_part_t *part = w->slots[p].part;
        if (!part)
            continue;
        c.partition = p;
        for (size_t i = 0; i < part->ndirty; i++)
            flush_user(part->dirty[i], &c);
        char key[256], skey[512];
        snprintf(key, sizeof(key), SHOP_KEY_FRAUD_STATE, w->prefix, (int)p);
        for (size_t i = 0; i < part->ngone; i++) {
            snprintf(skey, sizeof(skey), SHOP_KEY_FRAUD_USER, w->prefix, part->gone[i]);
            shop_redis_batch_cmd(b, "HDEL %s %s", key, part->gone[i]);
            shop_redis_batch_cmd(b, "DEL %s", skey);
        }
    }
    shop_buf_release(&c.buf);
    shop_fraud_global_flush(w->global, b);
    for (size_t i = 0; i < w->out[SHOP_SINK_REDIS].n; i++)
        decision_hash(w, b, &w->out[SHOP_SINK_REDIS].v[i]);
}

/* ---- Kafka: shop.fraud.scores ---- */

/* The score events of the decisions of one PostgreSQL job, kept as produced: the job waits for
 * their acknowledgements before its commit and sends them all again when one was not delivered.
 * Its messages in flight hold references (librdkafka's per-message opaque) and their delivery
 * reports are served on whichever thread polls: counts and references are atomic. */
typedef struct score_msg {
    size_t key, klen, val, vlen; /* in data */
    int64_t ts;
} score_msg_t;

typedef struct score_batch {
    int refs;     /* the holder (the worker, then its job) + each message in flight */
    int inflight; /* handed to librdkafka, not yet reported */
    int failed;   /* reported undelivered */
    shop_buf_t data;
    score_msg_t *m;
    size_t n, cap;
    size_t queued; /* m[0, queued) handed to librdkafka */
} score_batch_t;

static void batch_unref(score_batch_t *b) {
    if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        shop_buf_release(&b->data);
        free(b->m);
        free(b);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    score_batch_t *b = m->_private;
    if (!b)
        return;
    if (m->err)
        __atomic_add_fetch(&b->failed, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&b->inflight, 1, __ATOMIC_ACQ_REL);
    batch_unref(b);
}

/* Hands m[queued, n) to librdkafka (thread-safe: the job's retry runs it on the flush thread). */
static int produce_queued(rd_kafka_t *rk, const char *topic, score_batch_t *b, char *errstr,
                          size_t errstr_size) {
    while (b->queued < b->n) {
        const score_msg_t *x = &b->m[b->queued];
        __atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
        __atomic_add_fetch(&b->inflight, 1, __ATOMIC_ACQ_REL);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(b->data.buf + x->key, x->klen),
            RD_KAFKA_V_VALUE(b->data.buf + x->val, x->vlen),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(x->ts),
            RD_KAFKA_V_OPAQUE(b), RD_KAFKA_V_END);
        if (e) {
            __atomic_sub_fetch(&b->inflight, 1, __ATOMIC_ACQ_REL);
            __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL); /* the holder's stays: never 0 */
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 100);
            continue;
        }
        if (e)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "kafka produce %s: %s",
                               topic, rd_kafka_err2str(e));
        b->queued++;
    }
    return SHOP_OK;
}

static json_t *score_event(shop_fraud_w_t *w, const fraud_out_t *x) {
    char reasons[1024], eid[40];
    uint64_t h1 = shop_fraud_hash(x->order_id), h2 = shop_mix64(h1 ^ 0x5eedULL);
    /* the same order always gets the same event id: consumers dedupe duplicates by it */
    snprintf(eid, sizeof(eid), "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h1 >> 32),
             (unsigned)(h1 >> 16) & 0xffff, (unsigned)h1 & 0xfff, (unsigned)(h2 >> 52) & 0xfff,
             (unsigned long long)(h2 & 0xffffffffffffULL));
    json_t *rules = json_array(), *why = json_array();
    for (int i = 0; i < w->eng.conf.rules.n; i++)
        if (x->d.fired & (1u << i))
            json_array_append_new(rules,
                                  json_string(shop_fraud_rule_name(w->eng.conf.rules.r[i].code)));
    shop_fraud_reasons(&w->eng, &x->d, 3, reasons, sizeof(reasons));
    for (char *save = NULL, *t = strtok_r(reasons, ";", &save); t; t = strtok_r(NULL, ";", &save))
        json_array_append_new(why, json_string(t[0] == ' ' ? t + 1 : t));
    json_t *o = json_pack(
        "{ss ss sI ss ss si ss ss so so ss sI ss}", "type", "fraud.scored", "event_id", eid,
        "occurred_at", (json_int_t)x->at, "user_id", x->user_id, "order_id", x->order_id, "score",
        x->d.score, "level", shop_fraud_level_name(x->d.level), "recommendation",
        shop_fraud_recommendation(x->d.level), "reasons", why, "rules", rules, "model_version",
        x->d.model, "amount_minor", (json_int_t)x->amount, "currency", x->currency);
    json_object_set_new(o, "anomaly", x->d.anomaly < 0 ? json_null() : json_real(x->d.anomaly));
    return o;
}

/* Encodes the decisions not yet encoded into the worker's batch and hands them to librdkafka
 * without waiting for the broker: the Redis flush starts them, so their acknowledgement overlaps
 * Redis' and PostgreSQL's work; the PostgreSQL job waits for it before its commit. A produce
 * error is the job's to retry; an encoding error is a bug (our event against our schema). */
static int send_scores(shop_fraud_w_t *w, char *errstr, size_t errstr_size) {
    fraud_outs_t *o = &w->out[SHOP_SINK_PG];
    if (!w->rk || w->scores_sent == o->n)
        return SHOP_OK;
    if (!w->sb) {
        w->sb = shop_xcalloc(1, sizeof(*w->sb));
        w->sb->refs = 1;
    }
    score_batch_t *b = w->sb;
    for (; w->scores_sent < o->n; w->scores_sent++) {
        json_t *ev = score_event(w, &o->v[w->scores_sent]);
        int rc = shop_codec_encode_json(w->codec, ev, SHOP_FRAMING_SINGLE_OBJECT, &w->enc, errstr,
                                        errstr_size);
        json_decref(ev);
        if (rc)
            return SHOP_ERR_FATAL;
        if (b->n == b->cap)
            b->m = shop_xrealloc(b->m, (b->cap = b->cap ? 2 * b->cap : 64) * sizeof(*b->m));
        score_msg_t *x = &b->m[b->n++];
        x->klen = strlen(w->enc.key);
        x->key = b->data.len;
        shop_buf_append(&b->data, w->enc.key, x->klen);
        x->vlen = w->enc.bytes.len;
        x->val = b->data.len;
        shop_buf_append(&b->data, w->enc.bytes.buf, x->vlen);
        x->ts = w->enc.occurred_at;
    }
    return produce_queued(w->rk, w->scores_topic, b, errstr, errstr_size);
}

/* Forgets the worker's scores in progress (those in flight finish on their own). */
static void drop_scores(shop_fraud_w_t *w) {
    batch_unref(w->sb);
    w->sb = NULL;
    w->scores_sent = 0;
}

/* ---- PostgreSQL: a job per flush (runs on the runtime's flush thread) ---- */

enum { C_ORDER, C_USER, C_AT, C_SCORE, C_LEVEL, C_REC, C_WHY, C_MODEL, C_ANOM, C_AMT, C_CUR, NCOL };

typedef struct fraud_job {
    rd_kafka_t *rk;    /* NULL: no score events */
    const char *topic; /* the worker's: it outlives its jobs */
    int sync_commit;   /* fraud.pg.synchronous_commit */
    size_t rows;
    shop_buf_t col[NCOL];  /* fraud_decisions' columns as array literals */
    score_batch_t *scores; /* these decisions' score events (NULL when none) */
    int rc;                /* an error found while taking the job (a bug), else 0 */
    char err[256];
} fraud_job_t;

size_t shop_fraud_job_rows(const void *job) {
    return ((const fraud_job_t *)job)->rows;
}

/* The decisions since the last job, their columns formatted here (the reasons' words need the
 * engine, which only the consume thread may read). */
static void *pg_take(void *vw) {
    shop_fraud_w_t *w = vw;
    fraud_job_t *j = shop_xcalloc(1, sizeof(*j));
    j->rk = w->rk;
    j->topic = w->scores_topic;
    j->sync_commit = w->pg_sync_commit;
    char err[256] = "";
    if (send_scores(w, err, sizeof(err)) == SHOP_ERR_FATAL) {
        j->rc = SHOP_ERR_FATAL;
        snprintf(j->err, sizeof(j->err), "%s", err);
    }
    j->scores = w->sb;
    w->sb = NULL;
    w->scores_sent = 0;
    fraud_outs_t *o = &w->out[SHOP_SINK_PG];
    char reasons[1024], num[4][32];
    for (int c = 0; c < NCOL; c++)
        shop_buf_init(&j->col[c]);
    for (size_t i = 0; i < o->n; i++) {
        const fraud_out_t *x = &o->v[i];
        shop_fraud_reasons(&w->eng, &x->d, 3, reasons, sizeof(reasons));
        shop_fmt_i64(num[0], x->at);
        shop_fmt_i64(num[1], x->d.score);
        shop_fmt_i64(num[2], x->amount);
        snprintf(num[3], sizeof(num[3]), "%.6f", x->d.anomaly);
        shop_pg_array_add(&j->col[C_ORDER], x->order_id);
        shop_pg_array_add(&j->col[C_USER], x->user_id);
        shop_pg_array_add(&j->col[C_AT], num[0]);
        shop_pg_array_add(&j->col[C_SCORE], num[1]);
        shop_pg_array_add(&j->col[C_LEVEL], shop_fraud_level_name(x->d.level));
        shop_pg_array_add(&j->col[C_REC], shop_fraud_recommendation(x->d.level));
        shop_pg_array_add(&j->col[C_WHY], reasons);
        shop_pg_array_add(&j->col[C_MODEL], x->d.model);
        shop_pg_array_add(&j->col[C_ANOM], x->d.anomaly < 0 ? NULL : num[3]);
        shop_pg_array_add(&j->col[C_AMT], num[2]);
        shop_pg_array_add(&j->col[C_CUR], x->currency);
    }
    for (int c = 0; c < NCOL; c++)
        shop_pg_array_end(&j->col[c]);
    j->rows = o->n;
    outs_clear(o);
    return j;
}

/* Every score event of the job acknowledged by the broker, within 10 s; an undelivered one sends
 * them all again (their ids are per order, so a consumer drops what it has already seen). */
static int deliver(fraud_job_t *j, char *errstr, size_t errstr_size) {
    score_batch_t *b = j->scores;
    int64_t deadline = shop_mono_us() + 10 * 1000000LL;
    for (;;) {
        int rc = produce_queued(j->rk, j->topic, b, errstr, errstr_size);
        if (rc)
            return rc;
        while (__atomic_load_n(&b->inflight, __ATOMIC_ACQUIRE) > 0 && shop_mono_us() < deadline)
            rd_kafka_poll(j->rk, 1);
        int inflight = __atomic_load_n(&b->inflight, __ATOMIC_ACQUIRE);
        int failed = __atomic_load_n(&b->failed, __ATOMIC_ACQUIRE);
        if (inflight > 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                               "kafka: %d decisions not acknowledged by %s in 10 s", inflight,
                               j->topic);
        if (!failed)
            return SHOP_OK;
        __atomic_store_n(&b->failed, 0, __ATOMIC_RELEASE);
        b->queued = 0;
        if (shop_mono_us() >= deadline)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                               "kafka: %d decisions not delivered to %s", failed, j->topic);
    }
}

/* The decisions to fraud_decisions and shop.fraud.scores, all delivered before the offsets that
 * cover them commit. */
static int pg_job_run(void *job, PGconn *conn, char *errstr, size_t errstr_size) {
    fraud_job_t *j = job;
    if (j->rc)
        return shop_seterr(errstr, errstr_size, j->rc, "fraud: %s", j->err);
    /* The decisions and the offsets commit together, so a commit PostgreSQL loses in a crash
     * only rewinds the PostgreSQL sink, which then redoes those orders (ON CONFLICT DO NOTHING):
     * exactness does not need the WAL flush each commit would otherwise wait for. */
    int rc = SHOP_OK;
    if (!j->sync_commit && (rc = shop_pg_exec(conn, "SET LOCAL synchronous_commit TO off", 0, NULL,
                                              errstr, errstr_size)))
        return rc;
    /* one statement over arrays: a VALUES list of a few hundred rows cost PostgreSQL 2-3 times
     * as much (its parse), and a flush of a few hundred orders is common */
    const char *params[NCOL];
    for (int c = 0; c < NCOL; c++)
        params[c] = j->col[c].buf;
    if (j->rows &&
        (rc = shop_pg_exec(conn,
                           "INSERT INTO fraud_decisions (order_id, user_id, occurred_at, score, "
                           "level, recommendation, reasons, model_version, anomaly, amount_minor, "
                           "currency) "
                           "SELECT o, u, to_timestamp(a / 1000.0), s, l, r, why, m, an, amt, c "
                           "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], "
                           "$5::text[], $6::text[], $7::text[], $8::text[], $9::float8[], "
                           "$10::bigint[], $11::text[]) AS t(o, u, a, s, l, r, why, m, an, amt, c) "
                           "ON CONFLICT (order_id) DO NOTHING",
                           NCOL, params, errstr, errstr_size)))
        return rc;
    return j->rk && j->scores ? deliver(j, errstr, errstr_size) : SHOP_OK;
}

static void pg_job_free(void *job) {
    fraud_job_t *j = job;
    for (int c = 0; c < NCOL; c++)
        shop_buf_release(&j->col[c]);
    batch_unref(j->scores);
    free(j);
}

/* ---- flush bookkeeping ---- */

/* The Redis sink committed (PostgreSQL's rows leave in jobs: pg_take). */
static void flushed(void *vw, int sink) {
    shop_fraud_w_t *w = vw;
    if (sink != SHOP_SINK_REDIS)
        return;
    outs_clear(&w->out[SHOP_SINK_REDIS]);
    shop_fraud_global_clear(w->global);
    for (int32_t p = 0; p < w->nslots; p++)
        if (w->slots[p].part) {
            shop_fraud_part_clear_dirty(w->slots[p].part);
            shop_fraud_part_clear_gone(w->slots[p].part);
        }
}

static void discard(void *vw) {
    shop_fraud_w_t *w = vw;
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        outs_clear(&w->out[s]);
    drop_scores(w);
    if (w->global)
        shop_fraud_global_clear(w->global);
    for (int32_t p = 0; p < w->nslots; p++) {
        shop_fraud_part_destroy(w->slots[p].part);
        w->slots[p].part = NULL;
    }
}

static size_t pending(void *vw) {
    shop_fraud_w_t *w = vw;
    size_t n = w->out[0].n + w->out[1].n + shop_fraud_global_pending(w->global);
    for (int32_t p = 0; p < w->nslots; p++)
        if (w->slots[p].part) {
            n += w->slots[p].part->ndirty;
            n += w->slots[p].part->ngone;
        }
    return n;
}

/* ---- restore / release ---- */

static int restore_part(shop_fraud_w_t *w, redisContext *c, int32_t partition, char *errstr,
                        size_t errstr_size) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_FRAUD_STATE, w->prefix, (int)partition);
    shop_fraud_part_t *p = shop_fraud_part_new(partition);
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "HSCAN %s %s COUNT 1000", key, cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            shop_fraud_part_destroy(p);
            if (r)
                freeReplyObject(r);
            return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s",
                               c->errstr[0] ? c->errstr : "unexpected HSCAN reply");
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        const redisReply *kv = r->element[1];
        for (size_t i = 0; i + 1 < kv->elements; i += 2) {
            char err[256];
            shop_fraud_user_t *u =
                shop_fraud_user_decode(kv->element[i]->str, kv->element[i + 1]->str,
                                       kv->element[i + 1]->len, err, sizeof(err));
            if (u)
                shop_fraud_part_put(p, u);
            else
                SHOP_WARN("partition=%d msg=\"fraud state dropped: %s\"", (int)partition, err);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0"));
    p->swept_day = p->wm / FRAUD_DAY_MS;
    fraud_slot_t *s = slot_of(w, partition);
    shop_fraud_part_destroy(s->part);
    s->part = p;
    return SHOP_OK;
}

static int restore(void *vw, const char *const *tps, const int32_t *parts, int n,
                   struct redisContext *c, PGconn *pg, char *errstr, size_t errstr_size) {
    (void)pg;
    shop_fraud_w_t *w = vw;
    for (int i = 0; i < n; i++) {
        fraud_slot_t *s = slot_of(w, parts[i]);
        /* the other topic of this partition already brought the state in, and it may be ahead
         * of what is committed (its pending events): keep it */
        if (!s->part || !(s->topics & ~topic_bit(tps[i]))) {
            int rc = restore_part(w, c, parts[i], errstr, errstr_size);
            if (rc)
                return rc;
        }
        slot_of(w, parts[i])->topics |= topic_bit(tps[i]);
    }
    return SHOP_OK;
}

static void release(void *vw, const char *topic, int32_t partition) {
    shop_fraud_w_t *w = vw;
    fraud_slot_t *s = slot_of(w, partition);
    s->topics &= ~topic_bit(topic);
    if (!s->topics) {
        shop_fraud_part_destroy(s->part);
        s->part = NULL;
    }
}

/* ---- lifecycle ---- */

static void destroy(void *vw) {
    shop_fraud_w_t *w = vw;
    if (!w)
        return;
    discard(w);
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        free(w->out[s].v);
    free(w->slots);
    shop_fraud_global_destroy(w->global);
    if (w->rk) {
        rd_kafka_flush(w->rk, 5000);
        /* what could not be delivered reports now, dropping its batch references */
        rd_kafka_purge(w->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(w->rk, 0);
        if (w->scores_rkt)
            rd_kafka_topic_destroy(w->scores_rkt);
        rd_kafka_destroy(w->rk);
    }
    shop_encoded_release(&w->enc);
    shop_codec_destroy(w->codec);
    shop_iforest_destroy(w->forest);
    free(w->model_path);
    free(w->redis_url);
    shop_redis_store_destroy(w->http_store);
    pthread_mutex_destroy(&w->http_lock);
    free(w);
}

static void kafka_conf_set(const char *key, const char *value, void *opaque) {
    char err[256];
    rd_kafka_conf_set(opaque, key, value, err, sizeof(err)); /* consumer-only keys: ignored */
}

static rd_kafka_t *producer_new(const shop_config_t *cfg, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[512], linger[24];
    shop_fmt_i64(linger, shop_config_get_int(cfg, "fraud.scores.linger.ms"));
    /* the user's kafka.* keys (brokers, a managed cluster's security settings), then ours */
    shop_config_each_kafka(cfg, kafka_conf_set, kc);
    if (rd_kafka_conf_set(kc, "enable.idempotence", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "linger.ms", linger, err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "partitioner", "murmur2_random", err, sizeof(err))) {
        rd_kafka_conf_destroy(kc);
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "kafka producer: %s", err);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "kafka producer: %s", err);
    }
    return rk;
}

/* Learns the scores topic's partitions and leaders before the first order: otherwise the first
 * flush that produces a score waits for that metadata and the idempotent producer's id (360 ms
 * measured), and every order behind it. A failure is only logged: produce() retries anyway. */
static void warm_producer(shop_fraud_w_t *w) {
    const struct rd_kafka_metadata *md = NULL;
    w->scores_rkt = rd_kafka_topic_new(w->rk, w->scores_topic, NULL);
    rd_kafka_resp_err_t e = w->scores_rkt ? rd_kafka_metadata(w->rk, 0, w->scores_rkt, &md, 5000)
                                          : rd_kafka_last_error();
    if (md)
        rd_kafka_metadata_destroy(md);
    if (e)
        SHOP_WARN("msg=\"fraud: no metadata for %s yet: %s\"", w->scores_topic,
                  rd_kafka_err2str(e));
}

static int setup_conf(shop_fraud_w_t *w, const shop_config_t *cfg, char *errstr,
                      size_t errstr_size) {
    shop_fraud_conf_t *c = &w->eng.conf;
    shop_fraud_conf_default(c);
    const char *rules = shop_config_get(cfg, "fraud.rules");
    if (rules && *rules) {
        int rc = shop_fraud_rules_load(&c->rules, rules, errstr, errstr_size);
        if (rc == SHOP_ERR_IO && !strcmp(rules, "deploy/fraud-rules.conf"))
            shop_fraud_rules_default(&c->rules); /* not started from the source tree */
        else if (rc)
            return rc;
    }
    const char *cur = shop_config_get(cfg, "fraud.currencies");
    snprintf(c->currencies, sizeof(c->currencies), "%s", cur ? cur : "");
    c->amount_max = shop_config_get_int(cfg, "fraud.amount.max");
    c->forest_weight = (int)shop_config_get_int(cfg, "fraud.forest.weight");
    c->level_medium = (int)shop_config_get_int(cfg, "fraud.level.medium");
    c->level_high = (int)shop_config_get_int(cfg, "fraud.level.high");
    c->idle_ms = shop_config_get_int(cfg, "fraud.idle.days") * FRAUD_DAY_MS;
    w->order_ttl = shop_config_get_int(cfg, "fraud.order.ttl.s");
    w->user_ttl = shop_config_get_int(cfg, "fraud.user.ttl.s");
    w->pg_sync_commit = shop_config_get_bool(cfg, "fraud.pg.synchronous_commit");
    const char *scope = shop_config_get(cfg, "fraud.device.scope");
    if (scope && !strcmp(scope, "global"))
        w->eng.device_scope = FRAUD_SCOPE_GLOBAL;
    else if (scope && *scope && strcmp(scope, "partition"))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "fraud.device.scope: partition or global, not \"%s\"", scope);
    if (c->amount_max <= 0 || c->forest_weight < 0 || c->forest_weight > 100 ||
        c->level_medium < 0 || c->level_high < c->level_medium || c->level_high > 100)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "fraud.*: amount.max > 0, forest.weight 0..100, "
                           "0 <= level.medium <= level.high <= 100");
    return SHOP_OK;
}

static void *create(const shop_worker_env_t *env, char *errstr, size_t errstr_size) {
    shop_fraud_w_t *w = shop_xcalloc(1, sizeof(*w));
    pthread_mutex_init(&w->http_lock, NULL);
    shop_encoded_init(&w->enc);
    snprintf(w->prefix, sizeof(w->prefix), "%s", env->redis_prefix);
    snprintf(w->eng.model, sizeof(w->eng.model), "none");
    w->redis_url = shop_xstrdup(shop_config_get(env->cfg, "redis.url"));
    if (setup_conf(w, env->cfg, errstr, errstr_size))
        goto fail;
    w->global_summary = shop_config_get_bool(env->cfg, "fraud.global.summary");
    w->global = shop_fraud_global_new(w->prefix, w->user_ttl, w->global_summary);
    w->eng.global_accounts = shop_fraud_global_accounts;
    w->eng.global_ctx = w->global;
    const char *model = shop_config_get(env->cfg, "fraud.model");
    if (model && *model) {
        w->model_path = shop_xstrdup(model);
        if (load_model(w, errstr, errstr_size))
            goto fail;
    }
    if (!(w->codec = shop_codec_new(NULL, errstr, errstr_size))) /* embedded: fraud_scores.avsc */
        goto fail;
    const char *tp = shop_config_get(env->cfg, "topic.prefix");
    snprintf(w->scores_topic, sizeof(w->scores_topic), "%sshop.fraud.scores", tp ? tp : "");
    if (shop_worker_acts(env, "fraud.scores.produce") &&
        !(w->rk = producer_new(env->cfg, errstr, errstr_size)))
        goto fail;
    if (w->rk)
        warm_producer(w);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    SHOP_INFO("msg=\"fraud: %d rules, model %s, device scope %s, scores %s\"", w->eng.conf.rules.n,
              w->eng.model, w->eng.device_scope == FRAUD_SCOPE_GLOBAL ? "global" : "partition",
              w->rk ? w->scores_topic : "(not produced)");
    return w;
fail:
    destroy(w);
    return NULL;
}

/* Refresh thread: the global counts of the orders decided since the last run. */
static int refresh(void *vw, struct redisContext *c, int full, char *errstr, size_t errstr_size) {
    (void)full;
    shop_fraud_w_t *w = vw;
    return shop_fraud_global_refresh(w->global, c, errstr, errstr_size);
}

/* ---- HTTP ---- */

int fraud_http_route(void *opaque, const char *path, const char *(*query)(void *, const char *),
                     void *req, shop_buf_t *body, const char **content_type) {
    (void)query, (void)req;
    shop_fraud_w_t *w = opaque;
    static const char pfx[] = "/fraud/order/";
    if (strncmp(path, pfx, sizeof(pfx) - 1))
        return 404;
    *content_type = "application/json";
    char err[256];
    json_t *out = NULL;
    int status;
    pthread_mutex_lock(&w->http_lock);
    if (!w->http_store)
        w->http_store = shop_redis_store_new(w->redis_url, "-", 3000, err, sizeof(err));
    redisContext *c = w->http_store ? shop_redis_store_conn(w->http_store, err, sizeof(err)) : NULL;
    if (!c) {
        out = json_pack("{ss}", "error", "redis is not reachable");
        status = 503;
    } else {
        status = fraud_api_order(c, w->prefix, path + sizeof(pfx) - 1, &out);
    }
    pthread_mutex_unlock(&w->http_lock);
    char *txt = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    shop_buf_puts(body, txt ? txt : "{}");
    shop_buf_puts(body, "\n");
    free(txt);
    json_decref(out);
    return status;
}

const shop_worker_ops_t shop_worker_fraud = {
    .name = "fraud",
    .description = "per-order fraud score (rules + Isolation Forest) with reasons",
    .topics = topics,
    .sinks = SHOP_SINK_BIT(SHOP_SINK_REDIS) | SHOP_SINK_BIT(SHOP_SINK_PG),
    .default_port = 9403,
    .conf = conf,
    .create = create,
    .destroy = destroy,
    .process = process,
    .flush_redis = flush_redis,
    .flushed = flushed,
    .discard = discard,
    .pending = pending,
    .pg_take = pg_take,
    .pg_job_run = pg_job_run,
    .pg_job_free = pg_job_free,
    .restore = restore,
    .release = release,
    .refresh = refresh,
    .route = fraud_http_route,
};
