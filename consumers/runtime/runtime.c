/* runtime.c: the consume loop: batch consume, decode, dispatch to the worker, flush results and
 * offsets to each sink atomically, back off and pause while a sink is down, drain on SIGTERM. */
#define _GNU_SOURCE
#include "runtime_int.h"
#include "redis_keys.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t shop_runtime_stop;

#define SHOP_MIN_EVENT_MS 946684800000LL  /* 2000-01-01T00:00:00Z */
#define SHOP_MAX_EVENT_MS 4102444800000LL /* 2100-01-01T00:00:00Z */

const shop_conf_def_t shop_runtime_conf[] = {
    {"kafka.bootstrap.servers", SHOP_CONF_STRING, "127.0.0.1:19092",
     "Kafka brokers (any kafka.* key goes to librdkafka)"},
    {"redis.url", SHOP_CONF_STRING, "redis://127.0.0.1:16379/0",
     "Redis: redis://[:password@]host[:port][/db]"},
    {"pg.url", SHOP_CONF_STRING, "postgresql://shopstream@127.0.0.1:15432/shopstream",
     "PostgreSQL connection URI"},
    {"redis.timeout.ms", SHOP_CONF_INT, "5000", "Redis connect and command timeout"},
    {"pg.timeout.ms", SHOP_CONF_INT, "5000", "PostgreSQL connect timeout (statements get 6x)"},
    {"group.id", SHOP_CONF_STRING, NULL, "consumer group [default shopstream-<worker>]"},
    {"instance.id", SHOP_CONF_STRING, "auto",
     "static membership id: auto = <worker>@<hostname>, none = dynamic"},
    {"start.from", SHOP_CONF_STRING, "earliest",
     "where a partition with no stored offset starts: earliest or latest"},
    {"flush.events", SHOP_CONF_INT, "20000", "flush after this many events"},
    {"flush.ms", SHOP_CONF_INT, "500", "flush at least this often (ms)"},
    {"flush.drained.ms", SHOP_CONF_INT, "0",
     "flush once everything that has arrived is processed, if the last flush is at least this old "
     "(ms; -1: only by flush.events and flush.ms)"},
    {"pg.flush.async", SHOP_CONF_BOOL, "false",
     "workers that support it (fraud, search) commit to PostgreSQL on a thread of their own while "
     "consumption and the Redis flushes go on (false: each flush waits for PostgreSQL)"},
    {"redis.flush.async", SHOP_CONF_BOOL, "false",
     "commit each Redis flush on a thread of its own while consumption goes on (one flush in "
     "flight; false: each flush waits for Redis)"},
    {"refresh.ms", SHOP_CONF_INT, "1000",
     "recompute derived views (windows, rankings) at most this often (ms)"},
    {"refresh.nice", SHOP_CONF_INT, "10",
     "scheduling niceness of the refresh thread (0..19): recomputing views yields the CPU to "
     "consumption and to the HTTP queries"},
    {"consume.ordered", SHOP_CONF_BOOL, "false",
     "process the topics' partitions of one number in event-time order (merge.c)"},
    {"consume.ordered.idle.ms", SHOP_CONF_INT, "500",
     "consume.ordered: longest wait for a topic whose fetch is late"},
    {"consume.batch", SHOP_CONF_INT, "2000",
     "most messages taken at once (what has arrived; no wait for a batch to fill)"},
    {"retry.backoff.max.ms", SHOP_CONF_INT, "10000",
     "longest wait between retries while a sink is down"},
    {"revoke.flush.timeout.ms", SHOP_CONF_INT, "5000",
     "how long a revoke tries to flush before rewinding"},
    {"dlq.enabled", SHOP_CONF_BOOL, "true", "send undecodable or invalid events to <topic>.dlq"},
    {"event.max.string.bytes", SHOP_CONF_INT, "65536",
     "a longer string in an event sends it to the dead-letter topic"},
    {"dlq.max.bytes", SHOP_CONF_INT, "900000",
     "a dead letter carries at most this many bytes of the original value (the rest stays at its "
     "source offset, named in the headers)"},
    {"dedupe.window.ms", SHOP_CONF_INT, "300000",
     "drop an event whose event_id was processed in its partition within this much event time "
     "(0: off; needs the Redis sink)"},
    {"topic.prefix", SHOP_CONF_STRING, "",
     "prefix of every topic name (environments sharing a cluster)"},
    {"namespace", SHOP_CONF_STRING, NULL,
     "write under bt:<ns>: and schema bt_<ns> instead of live"},
    {"migrate.auto", SHOP_CONF_BOOL, "true", "apply SQL migrations to the schema at start"},
    {"schema.registry.url", SHOP_CONF_STRING, NULL,
     "Confluent schema registry for 0x00-framed events"},
    {"http.port", SHOP_CONF_INT, "0",
     "metrics/health/query port: 0 = the worker's default, -1 = off"},
    {"http.bind", SHOP_CONF_STRING, "0.0.0.0", "address the HTTP server binds"},
    {"http.max.connections", SHOP_CONF_INT, "256",
     "HTTP connections served at once (a thread each, dashboard streams included)"},
    {"log.level", SHOP_CONF_STRING, "info", "debug, info, warn or error"},
    {NULL, 0, NULL, NULL},
};

shop_conf_def_t *shop_runtime_conf_table(const shop_worker_ops_t *ops) {
    size_t n = 0, m = 0;
    while (shop_runtime_conf[n].name)
        n++;
    while (ops && ops->conf && ops->conf[m].name)
        m++;
    shop_conf_def_t *t = shop_xcalloc(n + m + 1, sizeof(*t));
    memcpy(t, shop_runtime_conf, n * sizeof(*t));
    size_t k = n;
    for (size_t i = 0; i < m; i++) { /* a worker's row for a runtime key sets its default */
        size_t j = 0;
        while (j < n && strcmp(t[j].name, ops->conf[i].name))
            j++;
        if (j < n)
            t[j].def = ops->conf[i].def;
        else
            t[k++] = ops->conf[i];
    }
    return t;
}

int shop_worker_acts(const shop_worker_env_t *env, const char *key) {
    const char *v = shop_config_get(env->cfg, key);
    if (v && !strcmp(v, "on"))
        return 1;
    if (v && !strcmp(v, "off"))
        return 0;
    return strncmp(env->redis_prefix, "bt:", 3) != 0;
}

int shop_namespace(const char *name, char *redis_prefix, size_t rsize, char *pg_schema,
                   size_t psize, char *errstr, size_t errstr_size) {
    if (!name || !*name) {
        snprintf(redis_prefix, rsize, "shop:");
        snprintf(pg_schema, psize, "shop");
        return SHOP_OK;
    }
    size_t len = strlen(name);
    int ok = len <= 40;
    for (const char *p = name; ok && *p; p++)
        ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
    if (!ok)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "namespace \"%s\": use 1 to 40 of a-z, 0-9 and _", name);
    snprintf(redis_prefix, rsize, "bt:%s:", name);
    snprintf(pg_schema, psize, "bt_%s", name);
    return SHOP_OK;
}

part_t *shop_rt_part(shop_runtime_t *rt, const char *topic, int32_t partition, int create,
                     int *topic_idx) {
    for (int t = 0; t < rt->ntopics; t++) {
        topic_state_t *ts = &rt->topics[t];
        if (strcmp(ts->name, topic))
            continue;
        if (topic_idx)
            *topic_idx = t;
        if (partition < 0)
            return NULL;
        if (partition >= ts->nparts) {
            if (!create)
                return NULL;
            ts->parts = shop_xrealloc(ts->parts, (size_t)(partition + 1) * sizeof(part_t));
            memset(ts->parts + ts->nparts, 0,
                   (size_t)(partition + 1 - ts->nparts) * sizeof(part_t));
            ts->nparts = partition + 1;
        }
        return &ts->parts[partition];
    }
    return NULL;
}

void shop_rt_pause_all(shop_runtime_t *rt, int pause) {
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(rt->rk, &l) || !l)
        return;
    if (l->cnt) {
        if (pause)
            rd_kafka_pause_partitions(rt->rk, l);
        else {
            /* Partitions still waiting for offsets stay paused. The others restart at exactly the
             * next offset the worker needs: a resume alone restarts where the application last
             * read, which is not that after a rewind or a seek made while paused. */
            rd_kafka_topic_partition_list_t *r = rd_kafka_topic_partition_list_new(l->cnt);
            for (int i = 0; i < l->cnt; i++) {
                part_t *p = shop_rt_part(rt, l->elems[i].topic, l->elems[i].partition, 0, NULL);
                if (p && !p->loading)
                    rd_kafka_topic_partition_list_add(r, l->elems[i].topic, l->elems[i].partition)
                        ->offset = p->expect;
            }
            if (r->cnt) {
                rd_kafka_resume_partitions(rt->rk, r);
                rd_kafka_error_t *err = rd_kafka_seek_partitions(rt->rk, r, 5000);
                if (err) {
                    SHOP_WARN("msg=\"seek after resume: %s\"", rd_kafka_error_string(err));
                    rd_kafka_error_destroy(err);
                }
            }
            rd_kafka_topic_partition_list_destroy(r);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- dispatch ---- */

/* Exponential backoff with jitter up to retry.backoff.max.ms, for every retry of the loop (a sink
 * down at flush or at offset loading, the schema registry unreachable). */
static void schedule_retry(shop_runtime_t *rt, const char *why) {
    rt->backoff_ms = rt->backoff_ms ? rt->backoff_ms * 2 : 100;
    int64_t max = shop_config_get_int(rt->cfg, "retry.backoff.max.ms");
    if (rt->backoff_ms > max)
        rt->backoff_ms = max;
    int64_t jitter = rt->backoff_ms / 4 ? rand() % (rt->backoff_ms / 4) : 0;
    rt->next_retry_us = shop_mono_us() + (rt->backoff_ms + jitter) * 1000;
    char q[600];
    SHOP_WARN("msg=%s retry_in_ms=%lld", shop_log_quote(q, sizeof(q), why),
              (long long)rt->backoff_ms);
}

static void seek_one(shop_runtime_t *rt, const char *topic, int32_t partition, int64_t offset) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    rd_kafka_error_t *err = rd_kafka_seek_partitions(rt->rk, l, 5000);
    if (err) {
        SHOP_WARN("topic=%s partition=%d msg=\"seek: %s\"", topic, (int)partition,
                  rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* A message past the next expected offset. librdkafka can drop the queued messages of a
 * partition that stays assigned through a cooperative rebalance while its fetch position moves
 * on, so the worker re-reads from the offset it expects and drops what arrives past it for a
 * second (what was already queued); if a re-read from the same offset after that still starts
 * past it, the offsets are really missing (compaction, aborted transactions, retention).
 * Returns 1 when the message is to be dropped. */
static int gap(shop_runtime_t *rt, const rd_kafka_message_t *m, part_t *p) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    int64_t now = shop_mono_us();
    if (p->gap_state == 2) {
        SHOP_WARN("topic=%s partition=%d offset=%lld expected=%lld msg=\"offsets missing from the "
                  "log; going on\"",
                  topic, (int)m->partition, (long long)m->offset, (long long)p->expect);
        p->gap_state = 0;
        return 0;
    }
    if (p->gap_state == 1 && now < p->gap_deadline_us)
        return 1;
    if (p->gap_state == 0) {
        atomic_fetch_add(&rt->metrics.gap_rereads, 1);
        SHOP_WARN("topic=%s partition=%d offset=%lld expected=%lld msg=\"offset gap: re-reading "
                  "from the expected offset\"",
                  topic, (int)m->partition, (long long)m->offset, (long long)p->expect);
    }
    p->gap_state = p->gap_state == 0 ? 1 : 2;
    p->gap_deadline_us = now + 1000000;
    seek_one(rt, topic, m->partition, p->expect);
    return 1;
}

/* The partition of a message: the topic handle is compared first, the name only when it differs
 * (per message, so no string compares in the common case). */
static part_t *msg_part(shop_runtime_t *rt, const rd_kafka_message_t *m, int *tidx) {
    for (int t = 0; t < rt->ntopics; t++) {
        topic_state_t *ts = &rt->topics[t];
        if (ts->rkt != m->rkt) {
            if (strcmp(ts->name, rd_kafka_topic_name(m->rkt)))
                continue;
            ts->rkt = m->rkt;
        }
        *tidx = t;
        return m->partition >= 0 && m->partition < ts->nparts ? &ts->parts[m->partition] : NULL;
    }
    return NULL;
}

static void dispatch(shop_runtime_t *rt, rd_kafka_message_t *m) {
    int tidx = -1;
    part_t *p = msg_part(rt, m, &tidx);
    if (!p || !p->assigned || p->loading)
        return; /* refetched after the seek */
    if (m->offset < p->expect) {
        atomic_fetch_add(&rt->metrics.skipped_dupes, 1);
        return;
    }
    if (m->offset >= p->end) {
        p->done = 1;
        return;
    }
    const char *topic = rt->topics[tidx].name;
    if (m->offset > p->expect && p->exact && gap(rt, m, p))
        return;
    p->gap_state = 0;
    unsigned mask = 0;
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        if ((rt->ops->sinks & SHOP_SINK_BIT(s)) && m->offset >= p->pend[s])
            mask |= SHOP_SINK_BIT(s);
    if (!mask) { /* every sink stored it before a restart: already counted (and dead-lettered) */
        p->expect = m->offset + 1;
        p->exact = 1;
        return;
    }
    const shop_event_t *ev = NULL;
    char err[512];
    err[0] = '\0';
    int rc = shop_decoder_decode(rt->dec, m->payload, m->len, &ev, err, sizeof(err));
    if (rc == SHOP_ERR_RETRYABLE) {
        /* Schema registry unreachable: rewind this partition later rather than lose the event. */
        SHOP_WARN("topic=%s partition=%d offset=%lld msg=\"decode needs the schema registry: %s\"",
                  topic, (int)m->partition, (long long)m->offset, err);
        shop_rt_rewind(rt, "schema registry unreachable");
        schedule_retry(rt, err); /* reload (and decode again) after a backoff, not at once */
        return;
    }
    /* Envelope sanity shared by every worker; fixed bounds keep replays deterministic. */
    if (rc == SHOP_OK)
        rc = shop_rt_validate_event(ev, (size_t)rt->max_string_bytes, err, sizeof(err));
    if (rc == SHOP_OK &&
        (ev->occurred_at < SHOP_MIN_EVENT_MS || ev->occurred_at >= SHOP_MAX_EVENT_MS))
        rc = shop_seterr(err, sizeof(err), SHOP_ERR_INVALID,
                         "%s: occurred_at %lld is outside 2000-01-01..2100-01-01",
                         ev->type ? ev->type : "event", (long long)ev->occurred_at);
    int dup =
        rc == SHOP_OK && p->dd &&
        shop_dedupe_check(p->dd, ev->event_id, m->offset, ev->occurred_at, rt->dedupe_window_ms);
    if (dup) {
        atomic_fetch_add(&rt->metrics.dup_events, 1);
        SHOP_DEBUG("topic=%s partition=%d offset=%lld event_id=%s msg=\"duplicate event dropped\"",
                   topic, (int)m->partition, (long long)m->offset, ev->event_id);
    } else if (rc == SHOP_OK) {
        shop_event_t *e = (shop_event_t *)ev; /* the decoder's; it leaves these to us */
        e->topic = topic;
        e->partition = m->partition;
        e->offset = m->offset;
        rc = rt->ops->process(rt->w, ev, mask, err, sizeof(err));
        if (rc == SHOP_OK && p->dd && (mask & SHOP_SINK_BIT(SHOP_SINK_REDIS)))
            shop_dedupe_record(p->dd, ev->event_id, m->offset, ev->occurred_at,
                               rt->dedupe_window_ms);
    }
    if (rc != SHOP_OK)
        shop_rt_dlq_send(rt, m, err[0] ? err : shop_err_name(rc));
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        if (mask & SHOP_SINK_BIT(s))
            p->pend[s] = m->offset + 1;
    p->expect = m->offset + 1;
    p->exact = 1;
    if (p->expect >= p->end)
        p->done = 1;
    rt->pending_events++;
    rt->processed++;
    if (tidx >= 0)
        atomic_fetch_add(&rt->metrics.events[tidx], 1);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);

static void handle_error_message(shop_runtime_t *rt, rd_kafka_message_t *m) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (rt->replay && m->rkt) {
            part_t *p = shop_rt_part(rt, rd_kafka_topic_name(m->rkt), m->partition, 0, NULL);
            if (p && p->assigned && !p->loading && m->offset >= p->end)
                p->done = 1;
        }
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        /* librdkafka's consumer does nothing more after a fatal error (a static member fenced,
         * say): stop with the reason rather than wait forever (the worker used to hang here) */
        error_cb(rt->rk, RD_KAFKA_RESP_ERR__FATAL, rd_kafka_message_errstr(m), rt);
        return;
    }
    SHOP_WARN("topic=%s partition=%d msg=\"consumer: %s\"",
              m->rkt ? rd_kafka_topic_name(m->rkt) : "-", (int)m->partition,
              rd_kafka_message_errstr(m));
}

/* ---- flush ---- */

int shop_rt_collect(shop_runtime_t *rt, int s, shop_offset_entry_t **out) {
    int n = 0, cap = 16;
    shop_offset_entry_t *e = shop_xcalloc((size_t)cap, sizeof(*e));
    for (int t = 0; t < rt->ntopics; t++)
        for (int i = 0; i < rt->topics[t].nparts; i++) {
            part_t *p = &rt->topics[t].parts[i];
            if (!p->assigned || p->loading || p->pend[s] <= p->stored[s])
                continue;
            if (n == cap)
                e = shop_xrealloc(e, (size_t)(cap *= 2) * sizeof(*e));
            e[n++] = (shop_offset_entry_t){rt->topics[t].name, i, p->stored[s], p->pend[s]};
        }
    *out = e;
    return n;
}

void shop_rt_redis_batch(shop_runtime_t *rt, const shop_offset_entry_t *e, int n,
                         shop_redis_batch_t *b) {
    rt->ops->flush_redis(rt->w, b);
    for (int i = 0; i < n; i++) { /* the event ids seen, with the offsets that cover them */
        part_t *p = shop_rt_part(rt, e[i].topic, e[i].partition, 0, NULL);
        if (p && p->dd) {
            char key[512];
            shop_rt_dedupe_key(rt, e[i].topic, e[i].partition, key, sizeof(key));
            shop_dedupe_flush(p->dd, b, key, rt->dedupe_window_ms);
        }
    }
}

void shop_rt_redis_taken(shop_runtime_t *rt, const shop_offset_entry_t *e, int n) {
    for (int i = 0; i < n; i++) {
        part_t *p = shop_rt_part(rt, e[i].topic, e[i].partition, 0, NULL);
        if (p)
            shop_dedupe_flushed(p->dd);
    }
    rt->ops->flushed(rt->w, SHOP_SINK_REDIS);
}

static int flush_sink(shop_runtime_t *rt, int s, char *errstr, size_t errstr_size) {
    shop_offset_entry_t *e = NULL;
    int n = shop_rt_collect(rt, s, &e), rc = SHOP_OK;
    if (!n)
        goto out;
    int64_t t0 = shop_mono_us();
    if (s == SHOP_SINK_REDIS) {
        shop_redis_batch_t b = {{NULL, 0, 0}, 0};
        shop_rt_redis_batch(rt, e, n, &b);
        int64_t t1 = shop_mono_us();
        rc = shop_redis_store_commit(rt->redis, &b, e, n, errstr, errstr_size);
        SHOP_DEBUG("msg=\"redis flush\" commands=%d bytes=%zu build_us=%lld commit_us=%lld rc=%d",
                   b.ncmds, b.resp.len, (long long)(t1 - t0), (long long)(shop_mono_us() - t1), rc);
        shop_buf_release(&b.resp);
    } else {
        rc = shop_pg_store_commit(rt->pg, rt->ops->flush_pg, rt->w, e, n, errstr, errstr_size);
    }
    if (rc == SHOP_OK) {
        shop_metrics_observe_flush(&rt->metrics, s, shop_mono_us() - t0);
        for (int i = 0; i < n; i++)
            shop_rt_part(rt, e[i].topic, e[i].partition, 0, NULL)->stored[s] = e[i].to;
        if (s == SHOP_SINK_REDIS)
            shop_rt_redis_taken(rt, e, n);
        else
            rt->ops->flushed(rt->w, s);
        atomic_store(&rt->metrics.sink_down[s], 0);
    } else {
        atomic_fetch_add(&rt->metrics.flush_failures[s], 1);
        if (rc == SHOP_ERR_RETRYABLE)
            atomic_store(&rt->metrics.sink_down[s], 1);
    }
out:
    free(e);
    return rc;
}

/* Advisory commit to Kafka of what every sink has stored, for lag tools. */
static void commit_kafka(shop_runtime_t *rt) {
    /* Not while the brokers are down: commits queued then are sent when they are back, with a
     * group generation that may be gone by then, and a static member is fenced for it (fatal). */
    if (rt->replay || atomic_load(&rt->metrics.kafka_down))
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int t = 0; t < rt->ntopics; t++)
        for (int i = 0; i < rt->topics[t].nparts; i++) {
            part_t *p = &rt->topics[t].parts[i];
            if (!p->assigned || p->loading)
                continue;
            int64_t lo = INT64_MAX;
            for (int s = 0; s < SHOP_SINK_COUNT; s++)
                if ((rt->ops->sinks & SHOP_SINK_BIT(s)) && p->stored[s] < lo)
                    lo = p->stored[s];
            if (lo >= 0 && lo != INT64_MAX)
                rd_kafka_topic_partition_list_add(l, rt->topics[t].name, i)->offset = lo;
        }
    if (l->cnt)
        rd_kafka_commit(rt->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
}

/* A flush of the sinks in `take` (a mask of SHOP_SINK_BIT), or with none only the outcomes of the
 * flush threads' finished jobs applied. */
static int flush_all(shop_runtime_t *rt, int wait, unsigned take, char *errstr,
                     size_t errstr_size) {
    int rc = shop_rt_dlq_drain(rt, 100, errstr, errstr_size); /* before any offset can move */
    if (rc)
        return rc;
    /* State a flush thread could not take yet (its job in flight) goes with its next job: Redis's
     * keeps the events counted; PostgreSQL's (pg_left) is taken by the first call that finds its
     * job done, whatever `take` says. */
    int left[SHOP_SINK_COUNT] = {0};
    for (int s = 0; s < SHOP_SINK_COUNT && !rc; s++) {
        if (!(rt->ops->sinks & SHOP_SINK_BIT(s)))
            continue;
        int take_s = (take & SHOP_SINK_BIT(s)) || (s == SHOP_SINK_PG && rt->pg_left);
        if (rt->flushq[s].started)
            rc = shop_rt_sinkflush(rt, s, wait, take_s, &left[s], errstr, errstr_size);
        else if (take_s)
            rc = flush_sink(rt, s, errstr, errstr_size);
    }
    if (rc == SHOP_ERR_CONFLICT) {
        SHOP_WARN("msg=\"%s; rewinding to the stored offsets\"", errstr);
        shop_rt_rewind(rt, "offsets changed under us");
        return SHOP_ERR_CONFLICT;
    }
    if (rc == SHOP_OK) {
        if (take && (take & rt->ops->sinks) == rt->ops->sinks && !left[SHOP_SINK_REDIS])
            rt->pending_events = 0;
        if ((take & SHOP_SINK_BIT(SHOP_SINK_PG)) || rt->pg_left)
            rt->pg_left = left[SHOP_SINK_PG];
        shop_rt_refresh_request(rt);
        commit_kafka(rt);
    }
    atomic_store(&rt->metrics.pending, (long long)rt->ops->pending(rt->w));
    return rc;
}

int shop_rt_flush(shop_runtime_t *rt, int wait, char *errstr, size_t errstr_size) {
    return flush_all(rt, wait, rt->ops->sinks, errstr, errstr_size);
}

void shop_rt_rewind(shop_runtime_t *rt, const char *why) {
    SHOP_WARN("msg=\"rewind: %s; pending state dropped, partitions reload their stored offsets\"",
              why);
    atomic_fetch_add(&rt->metrics.rewinds, 1);
    shop_rt_sinkflush_discard(rt);
    rt->ops->discard(rt->w);
    rt->pending_events = 0;
    rt->pg_left = 0;
    for (int t = 0; t < rt->ntopics; t++)
        for (int i = 0; i < rt->topics[t].nparts; i++)
            if (rt->topics[t].parts[i].assigned)
                rt->topics[t].parts[i].loading = 1;
    rt->any_loading = 1;
    shop_rt_pause_all(rt, 1);
}

/* ---- set-up ---- */

/* librdkafka properties: the runtime's own and the user's kafka.* keys; the first one refused is
 * kept, so that a typo stops the worker at start instead of being logged and ignored. */
typedef struct {
    rd_kafka_conf_t *conf;
    char err[512];
} kafka_conf_t;

static void set_kafka(const char *key, const char *value, void *opaque) {
    kafka_conf_t *k = opaque;
    char err[400];
    if (rd_kafka_conf_set(k->conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK && !k->err[0])
        snprintf(k->err, sizeof(k->err), "kafka.%s: %s", key, err);
}

void shop_rt_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    char q[1024];
    shop_log(level <= 3   ? SHOP_LOG_ERROR
             : level <= 5 ? SHOP_LOG_WARN
                          : SHOP_LOG_DEBUG,
             "component=librdkafka facility=%s msg=%s", fac, shop_log_quote(q, sizeof(q), buf));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    shop_runtime_t *rt = opaque;
    char q[1024];
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&rt->metrics.kafka_down, 1);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fe[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fe, sizeof(fe));
        SHOP_ERROR("msg=%s", shop_log_quote(q, sizeof(q), fe));
        if (orig == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID)
            SHOP_ERROR("msg=\"another instance runs with the same instance.id; give each its own "
                       "(--set instance.id=NAME)\"");
        rt->fatal = 1;
        shop_runtime_stop = 1;
        return;
    }
    SHOP_WARN("component=kafka err=%s msg=%s", rd_kafka_err2name(err),
              shop_log_quote(q, sizeof(q), reason));
}

static rd_kafka_t *consumer_new(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    /* Offsets live in the sinks: Kafka's are written by the runtime, advisory only.
     * The queue size: librdkafka before 2.2 (Debian 12 has 2.0.2) stops fetching for a whole
     * second (no fetch.queue.backoff.ms yet) as soon as the consumer queue holds
     * queued.min.messages messages or queued.max.messages.kbytes, and the high-level consumer
     * checks them against the queue all partitions share. With 200000 messages a worker that
     * drained them in 0.2-0.6 s then sat idle for the rest of the second: the no-op worker ran
     * at 254-321k events/s on a 2M-event backlog with the machine 50-90 % idle, 430-557k with
     * the bound left to the bytes (librdkafka's 64 MB: about 470k of our events, more than a
     * second of any worker's processing but the no-op one's). */
    static const char *const defaults[][2] = {
        {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"}, {"partition.assignment.strategy", "cooperative-sticky"},
        {"fetch.wait.max.ms", "100"},      {"queued.min.messages", "2000000"},
        {"session.timeout.ms", "10000"},   {"heartbeat.interval.ms", "1000"},
    };
    kafka_conf_t k = {.conf = rd_kafka_conf_new()};
    char host[128] = "localhost", inst[300];
    gethostname(host, sizeof(host) - 1);
    const char *iid = shop_config_get(rt->cfg, "instance.id");
    set_kafka("group.id", rt->group, &k);
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        set_kafka(defaults[i][0], defaults[i][1], &k);
    set_kafka("enable.partition.eof", rt->replay ? "true" : "false", &k);
    if (!rt->replay && iid && strcmp(iid, "none")) {
        if (!strcmp(iid, "auto"))
            snprintf(inst, sizeof(inst), "%s@%s", rt->ops->name, host);
        else
            snprintf(inst, sizeof(inst), "%s", iid);
        set_kafka("group.instance.id", inst, &k);
    }
    shop_config_each_kafka(rt->cfg, set_kafka, &k);
    if (k.err[0]) {
        rd_kafka_conf_destroy(k.conf);
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s", k.err);
        return NULL;
    }
    rd_kafka_conf_set_opaque(k.conf, rt);
    rd_kafka_conf_set_log_cb(k.conf, shop_rt_kafka_log_cb);
    rd_kafka_conf_set_error_cb(k.conf, error_cb);
    if (!rt->replay)
        rd_kafka_conf_set_rebalance_cb(k.conf, shop_rt_rebalance_cb);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, k.conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(k.conf);
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "kafka consumer: %s", err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

shop_redis_store_t *shop_rt_redis_open(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_OFFSETS, rt->redis_prefix, rt->ops->name);
    return shop_redis_store_new(shop_config_get(rt->cfg, "redis.url"), key,
                                (int)shop_config_get_int(rt->cfg, "redis.timeout.ms"), errstr,
                                errstr_size);
}

shop_pg_store_t *shop_rt_pg_open(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    return shop_pg_store_new(shop_config_get(rt->cfg, "pg.url"), rt->pg_schema, rt->ops->name,
                             (int)shop_config_get_int(rt->cfg, "pg.timeout.ms"), errstr,
                             errstr_size);
}

static int setup_sinks(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    if (rt->ops->sinks & SHOP_SINK_BIT(SHOP_SINK_REDIS)) {
        if (!(rt->redis = shop_rt_redis_open(rt, errstr, errstr_size)))
            return SHOP_ERR_CONFIG;
    }
    if (rt->ops->sinks & SHOP_SINK_BIT(SHOP_SINK_PG)) {
        if (!(rt->pg = shop_rt_pg_open(rt, errstr, errstr_size)))
            return SHOP_ERR_CONFIG;
        if (shop_config_get_bool(rt->cfg, "migrate.auto")) {
            /* Wait for PostgreSQL rather than fail: a worker may start before its database. */
            int64_t backoff = 200;
            PGconn *c;
            while (!(c = shop_pg_store_conn(rt->pg, errstr, errstr_size)) && !shop_runtime_stop) {
                SHOP_WARN("sink=postgresql msg=\"waiting: %s\"", errstr);
                usleep((useconds_t)backoff * 1000);
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
            }
            if (!c)
                return SHOP_ERR_RETRYABLE;
            int rc = shop_migrate(c, rt->pg_schema, 0, errstr, errstr_size);
            if (rc)
                return rc;
        }
    }
    return SHOP_OK;
}

static void on_signal(int sig) {
    (void)sig;
    shop_runtime_stop = 1;
}

/* ---- the loop ---- */

static void update_ready(shop_runtime_t *rt) {
    int ok = !rt->paused && !rt->any_loading && !atomic_load(&rt->metrics.kafka_down);
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        ok = ok && !atomic_load(&rt->metrics.sink_down[s]);
    atomic_store(&rt->metrics.ready, ok);
}

/* Refreshes lag from the high watermarks; returns 1 when every assigned partition is consumed. */
static int refresh_lag(shop_runtime_t *rt, int query) {
    int caught_up = 1, assigned = 0;
    for (int t = 0; t < rt->ntopics; t++)
        for (int i = 0; i < rt->topics[t].nparts; i++) {
            part_t *p = &rt->topics[t].parts[i];
            if (!p->assigned)
                continue;
            assigned++;
            int64_t lo = -1, hi = -1;
            rd_kafka_resp_err_t e =
                query ? rd_kafka_query_watermark_offsets(rt->rk, rt->topics[t].name, i, &lo, &hi,
                                                         2000)
                      : rd_kafka_get_watermark_offsets(rt->rk, rt->topics[t].name, i, &lo, &hi);
            if (!e && hi >= 0)
                p->hw = hi;
            /* Offsets below the log start were deleted by retention: nothing to wait for. */
            if (!e && lo > p->expect && !p->loading)
                p->expect = lo;
            int64_t lag = p->loading || p->hw < 0 ? -1 : p->hw - p->expect;
            if (lag < 0 && !p->loading)
                lag = 0;
            shop_metrics_set_lag(&rt->metrics, t, i, lag);
            /* Cached watermarks may be missing: only a failed broker query says "not yet". */
            if (p->loading || (query && e) || (p->hw >= 0 && p->expect < p->hw))
                caught_up = 0;
        }
    atomic_store(&rt->metrics.assigned, assigned);
    return caught_up && assigned > 0;
}

/* After "all brokers down", an idle worker learns that Kafka is back from a metadata request
 * (a busy one from the next message). */
/* Once a second: while Kafka is marked down, whether it answers again; while it is up but no
 * message came for 2 s, whether it still answers (librdkafka reports "all brokers down" only
 * after its own reconnect attempts, which an idle consumer may not make for a while). */
static void check_kafka(shop_runtime_t *rt) {
    const struct rd_kafka_metadata *md = NULL;
    int down = atomic_load(&rt->metrics.kafka_down);
    if (!down && shop_mono_us() - rt->last_msg_us < 2000000)
        return;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rt->rk, 0, NULL, &md, down ? 1000 : 2000);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (!e && down) {
        atomic_store(&rt->metrics.kafka_down, 0);
        SHOP_INFO("msg=\"kafka answers again\"");
    } else if (e && !down) {
        atomic_store(&rt->metrics.kafka_down, 1);
        SHOP_WARN("msg=\"kafka does not answer: %s\"", rd_kafka_err2str(e));
    }
}

/* An idle worker still reports a sink outage on /readyz: one PING or SELECT 1 a second. */
static void ping_sinks(shop_runtime_t *rt) {
    char err[512];
    if (rt->redis)
        atomic_store(&rt->metrics.sink_down[SHOP_SINK_REDIS],
                     shop_redis_store_ping(rt->redis, err, sizeof(err)) != 0);
    if (rt->pg)
        atomic_store(&rt->metrics.sink_down[SHOP_SINK_PG],
                     shop_pg_store_ping(rt->pg, err, sizeof(err)) != 0);
}

static void maybe_flush(shop_runtime_t *rt, int force) {
    int64_t now = shop_mono_us();
    if (rt->paused && now < rt->next_retry_us)
        return;
    int due = force || rt->pending_events >= rt->flush_events ||
              (rt->pending_events > 0 && now - rt->last_flush_us >= rt->flush_ms * 1000);
    /* a flush thread's finished job is applied at once (offsets stored, views refreshed); the
     * next one is taken when a flush is due, so that batches stay as large as inline */
    int done = shop_rt_sinkflush_done(rt, -1);
    if (!due && !done && !rt->paused)
        return;
    /* a Redis job in flight: the next flush waits for it (its end wakes the loop) */
    if (!done && !rt->paused && shop_rt_sinkflush_busy(rt, SHOP_SINK_REDIS))
        return;
    /* A finished job has its outcome applied (and PostgreSQL's left-behind rows taken: pg_left);
     * every sink takes its next job only when a flush is due. Taking every sink whenever
     * PostgreSQL finished made Redis flushes as frequent as PostgreSQL's commits (search's
     * catch-up with pg.flush.async: 155-171k against 179-207k events/s, Redis's CPU 1.2 -> 1.5 s).
     */
    unsigned take = due || rt->paused ? rt->ops->sinks : 0;
    char err[512] = "";
    int rc = flush_all(rt, 0, take, err, sizeof(err));
    if (take)
        rt->last_flush_us = shop_mono_us();
    if (rc == SHOP_OK || rc == SHOP_ERR_CONFLICT) {
        if (rt->paused) {
            SHOP_INFO("msg=\"flush succeeded again; resuming consumption\"");
            rt->paused = 0;
            rt->backoff_ms = 0;
            shop_rt_pause_all(rt, 0);
        }
        return;
    }
    if (rc != SHOP_ERR_RETRYABLE) {
        SHOP_ERROR("msg=\"flush failed: %s\"", err);
        rt->fatal = 1;
        shop_runtime_stop = 1;
        return;
    }
    schedule_retry(rt, err);
    if (!rt->paused) {
        rt->paused = 1;
        shop_rt_pause_all(rt, 1);
    }
}

static void retry_loading(shop_runtime_t *rt) {
    if (!rt->any_loading || shop_mono_us() < rt->next_retry_us)
        return;
    char err[512] = "";
    if (shop_rt_load_offsets(rt, err, sizeof(err)) == SHOP_OK) {
        rt->any_loading = 0;
        rt->backoff_ms = 0;
        return;
    }
    schedule_retry(rt, err);
}

/* What the queue holds now, up to `size` messages; waits up to `wait_ms` only when it is empty.
 * rd_kafka_consume_batch_queue() with a timeout waits until the batch is full or the timeout has
 * passed, so at a few thousand events/s every event waited up to that timeout before it was
 * processed (the fraud score's latency was the timeout, not the work). */
static ssize_t next_batch(rd_kafka_queue_t *q, rd_kafka_message_t **msgs, size_t size,
                          int wait_ms) {
    ssize_t n = rd_kafka_consume_batch_queue(q, 0, msgs, size);
    if (n != 0)
        return n;
    rd_kafka_message_t *m = rd_kafka_consume_queue(q, wait_ms);
    if (!m)
        return 0;
    msgs[0] = m;
    n = size > 1 ? rd_kafka_consume_batch_queue(q, 0, msgs + 1, size - 1) : 0;
    return 1 + (n > 0 ? n : 0);
}

/* How long the loop may wait for a message: 100 ms, less when pending events fall due for a
 * flush sooner (by flush.ms, or by flush.drained.ms when the partitions are read to their ends:
 * an empty queue then means all is processed). */
static int wait_budget_ms(shop_runtime_t *rt) {
    if (!rt->pending_events || shop_rt_sinkflush_busy(rt, SHOP_SINK_REDIS))
        return 100; /* a Redis job in flight wakes the loop when it ends */
    int64_t due = rt->flush_ms;
    if (rt->flush_drained_ms >= 0 && !rt->fetch_behind && rt->flush_drained_ms < due)
        due = rt->flush_drained_ms;
    int64_t left = due - (shop_mono_us() - rt->last_flush_us) / 1000;
    return left <= 0 ? 0 : left > 100 ? 100 : (int)left;
}

/* Whether some assigned partition has messages the consumer has not taken yet, by the high
 * watermarks of the last fetch responses (kept locally by librdkafka: no round trip). An empty
 * queue then means the fetcher is behind the loop, not that the loop is caught up. */
static int behind(shop_runtime_t *rt) {
    for (int t = 0; t < rt->ntopics; t++)
        for (int i = 0; i < rt->topics[t].nparts; i++) {
            part_t *p = &rt->topics[t].parts[i];
            int64_t lo = -1, hi = -1;
            if (!p->assigned || p->loading || p->done)
                continue;
            if (!rd_kafka_get_watermark_offsets(rt->rk, rt->topics[t].name, i, &lo, &hi) &&
                hi > p->expect)
                return 1;
        }
    return 0;
}

/* ---- consume.ordered (merge.c) ---- */

#define MERGE_MAX_PARTITIONS 1024
#define MERGE_CAP            100000 /* messages held per topic partition */

static void free_msg(void *m) {
    rd_kafka_message_destroy(m);
}

/* A topic partition with nothing held may be passed over when it is not ours (or waits for its
 * offsets: then nothing of its number goes out before it is loaded), or when it has been read up
 * to the high watermark its last fetch saw, or to the end of a replay's range. */
static int drained(void *arg, int topic, int32_t partition) {
    shop_runtime_t *rt = arg;
    topic_state_t *ts = &rt->topics[topic];
    if (partition >= ts->nparts || !ts->parts[partition].assigned)
        return 1;
    part_t *p = &ts->parts[partition];
    if (p->loading)
        return 0;
    if (p->done || p->expect >= p->end)
        return 1;
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(rt->rk, ts->name, partition, &lo, &hi) || hi < 0)
        return 0;
    return p->expect >= hi;
}

/* Dispatches a message now, or holds it in the merge (consume.ordered). */
static void dispatch_or_hold(shop_runtime_t *rt, rd_kafka_message_t *m) {
    int tidx = -1;
    if (rt->merge && msg_part(rt, m, &tidx) && tidx >= 0 &&
        !shop_merge_push(rt->merge, tidx, m->partition, rd_kafka_message_timestamp(m, NULL), m))
        return;
    dispatch(rt, m);
    rd_kafka_message_destroy(m);
}

/* Dispatches what the merge may release now. */
static void release_held(shop_runtime_t *rt) {
    if (!rt->merge)
        return;
    int64_t now = shop_mono_us();
    rd_kafka_message_t *m;
    while ((m = shop_merge_pop(rt->merge, drained, rt, now))) {
        dispatch(rt, m);
        rd_kafka_message_destroy(m);
    }
}

/* Nothing processed waits for a sink: no events since the last flush, no PostgreSQL rows left
 * behind by it, no job held by a flush thread. */
static int all_stored(shop_runtime_t *rt) {
    return !rt->pending_events && !rt->pg_left && shop_rt_sinkflush_idle(rt);
}

static void consume_loop(shop_runtime_t *rt) {
    int batch = (int)shop_config_get_int(rt->cfg, "consume.batch");
    if (batch < 1)
        batch = 1000;
    rd_kafka_message_t **msgs = shop_xcalloc((size_t)batch, sizeof(*msgs));
    int64_t last_lag_us = 0, last_query_us = 0;
    while (!shop_runtime_stop) {
        retry_loading(rt);
        ssize_t n = next_batch(rt->queue, msgs, (size_t)batch, wait_budget_ms(rt));
        if (n > 0 && !rt->first_msg_us) {
            rt->first_msg_us = shop_mono_us();
            rt->first_cpu_us = shop_thread_cpu_us();
        }
        ssize_t good = 0; /* error events (a broker down, EOF) say nothing of Kafka's health */
        for (ssize_t i = 0; i < n; i++) {
            if (msgs[i]->err) {
                handle_error_message(rt, msgs[i]);
                rd_kafka_message_destroy(msgs[i]);
            } else {
                dispatch_or_hold(rt, msgs[i]);
                good++;
            }
        }
        release_held(rt);
        if (good > 0) {
            atomic_store(&rt->metrics.kafka_down, 0);
            rt->last_msg_us = shop_mono_us();
            rt->last_cpu_us = shop_thread_cpu_us();
        }
        int idle = n <= 0;
        /* Group commit: having processed all that has arrived (fewer than a batch came) and
         * caught up with the partitions' ends, flush now rather than at flush.ms. Under a
         * backlog the fetcher can fall behind the loop for a moment; flushing then would make
         * flushes small and many (a catch-up at half speed), so it waits for flush.events. */
        int empty = n < batch && rt->flush_drained_ms >= 0 && rt->pending_events > 0;
        rt->fetch_behind = empty && behind(rt);
        maybe_flush(rt, empty && !rt->fetch_behind &&
                            shop_mono_us() - rt->last_flush_us >= rt->flush_drained_ms * 1000);
        update_ready(rt);
        int64_t now = shop_mono_us();
        if (now - last_lag_us > 1000000) {
            refresh_lag(rt, 0);
            check_kafka(rt);
            if (!rt->paused)
                ping_sinks(rt);
            last_lag_us = now;
            if (rt->opts->progress)
                shop_rt_progress(rt, 0);
        }
        /* Caught up: the cached watermarks say so, then the broker confirms (at most 3 times a
         * second: each confirmation is a round trip per partition). */
        if (idle && (rt->opts->until_caught_up || rt->replay) && all_stored(rt) && !rt->paused &&
            now - last_query_us > 300000) {
            last_query_us = now;
            if (refresh_lag(rt, 0) && refresh_lag(rt, 1) && rt->opts->until_caught_up)
                break;
        }
        if (rt->replay && shop_rt_replay_done(rt) && all_stored(rt))
            break;
    }
    free(msgs);
}

/* Final flush on a clean stop: keep trying while a sink is down, up to a bound. */
static void drain(shop_runtime_t *rt) {
    int64_t deadline = shop_mono_us() + 30 * 1000000LL;
    char err[512];
    while (!all_stored(rt) && !rt->fatal) {
        int rc = shop_rt_flush(rt, 1, err, sizeof(err));
        if (rc == SHOP_OK || rc == SHOP_ERR_CONFLICT)
            break;
        if (rc != SHOP_ERR_RETRYABLE || shop_mono_us() > deadline) {
            SHOP_ERROR("msg=\"could not flush at shutdown (%s); the unflushed events will be "
                       "processed again from the stored offsets at next start\"",
                       err);
            break;
        }
        usleep(500 * 1000);
    }
}

static int start_http(shop_runtime_t *rt, int default_port) {
    int port = (int)shop_config_get_int(rt->cfg, "http.port");
    if (port < 0)
        return SHOP_OK;
    if (port == 0)
        port = default_port;
    char err[256];
    rt->http = shop_http_start(shop_config_get(rt->cfg, "http.bind"), port,
                               (int)shop_config_get_int(rt->cfg, "http.max.connections"),
                               &rt->metrics, rt->ops->route, rt->w, err, sizeof(err));
    if (!rt->http) {
        SHOP_ERROR("msg=\"%s\"", err);
        return SHOP_ERR_CONFIG;
    }
    SHOP_INFO("msg=\"serving /metrics /healthz /readyz\" port=%d", port);
    return SHOP_OK;
}

static int subscribe(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(rt->ntopics);
    for (int t = 0; t < rt->ntopics; t++)
        rd_kafka_topic_partition_list_add(l, rt->topics[t].name, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rt->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "subscribe: %s",
                           rd_kafka_err2str(e));
    return SHOP_OK;
}

static int init(shop_runtime_t *rt, const shop_runtime_opts_t *o, char *errstr,
                size_t errstr_size) {
    rt->opts = o;
    rt->ops = o->ops;
    rt->cfg = o->cfg;
    rt->replay = o->replay_from || o->replay_to;
    const char *ns = rt->replay ? o->namespace_name : shop_config_get(rt->cfg, "namespace");
    if (rt->replay && (!ns || !*ns))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "replay needs --namespace NAME");
    int rc = shop_namespace(ns, rt->redis_prefix, sizeof(rt->redis_prefix), rt->pg_schema,
                            sizeof(rt->pg_schema), errstr, errstr_size);
    if (rc)
        return rc;
    const char *g = shop_config_get(rt->cfg, "group.id");
    if (rt->replay)
        snprintf(rt->group, sizeof(rt->group), "shopstream-replay-%s-%s", ns, rt->ops->name);
    else if (g && *g)
        snprintf(rt->group, sizeof(rt->group), "%s", g);
    else
        snprintf(rt->group, sizeof(rt->group), "shopstream-%s%s%s", rt->ops->name,
                 ns && *ns ? "-" : "", ns ? ns : "");
    const char *from = shop_config_get(rt->cfg, "start.from");
    if (strcmp(from, "earliest") && strcmp(from, "latest"))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "start.from: expected earliest or latest, got \"%s\"", from);
    rt->flush_events = shop_config_get_int(rt->cfg, "flush.events");
    rt->flush_ms = shop_config_get_int(rt->cfg, "flush.ms");
    rt->flush_drained_ms = shop_config_get_int(rt->cfg, "flush.drained.ms");
    rt->dedupe_window_ms = shop_config_get_int(rt->cfg, "dedupe.window.ms");
    rt->max_string_bytes = shop_config_get_int(rt->cfg, "event.max.string.bytes");
    rt->dlq_max_bytes = shop_config_get_int(rt->cfg, "dlq.max.bytes");
    if (!(rt->ops->sinks & SHOP_SINK_BIT(SHOP_SINK_REDIS)))
        rt->dedupe_window_ms = 0; /* its ids live beside the Redis offsets */
    for (rt->ntopics = 0; rt->ops->topics[rt->ntopics]; rt->ntopics++) {
    }
    rt->topics = shop_xcalloc((size_t)rt->ntopics, sizeof(*rt->topics));
    const char *prefix = shop_config_get(rt->cfg, "topic.prefix");
    rt->topic_names = shop_xcalloc((size_t)rt->ntopics + 1, sizeof(char *));
    for (int t = 0; t < rt->ntopics; t++) {
        rt->topic_names[t] = shop_xasprintf("%s%s", prefix ? prefix : "", rt->ops->topics[t]);
        rt->topics[t].name = rt->topic_names[t];
    }
    shop_metrics_init(&rt->metrics, rt->ops->name, (const char *const *)rt->topic_names);
    rt->env = (shop_worker_env_t){rt->cfg, rt->redis_prefix, rt->pg_schema, rt->ops->name};
    if (!(rt->codec =
              shop_codec_new(shop_config_get(rt->cfg, "schema.registry.url"), errstr, errstr_size)))
        return SHOP_ERR_CONFIG;
    rt->dec = shop_decoder_new(rt->codec);
    if ((rc = setup_sinks(rt, errstr, errstr_size)))
        return rc;
    if (!(rt->w = rt->ops->create(&rt->env, errstr, errstr_size)))
        return SHOP_ERR_CONFIG;
    if (!(rt->rk = consumer_new(rt, errstr, errstr_size)))
        return SHOP_ERR_CONFIG;
    rt->queue = rd_kafka_queue_get_consumer(rt->rk);
    if (shop_config_get_bool(rt->cfg, "consume.ordered") && rt->ntopics > 1)
        rt->merge = shop_merge_new(rt->ntopics, MERGE_MAX_PARTITIONS, MERGE_CAP,
                                   shop_config_get_int(rt->cfg, "consume.ordered.idle.ms") * 1000);
    if (!rt->replay && shop_config_get_bool(rt->cfg, "dlq.enabled") &&
        !(rt->dlq = shop_rt_dlq_new(rt, errstr, errstr_size)))
        return SHOP_ERR_CONFIG;
    return shop_rt_sinkflush_start(rt, errstr, errstr_size);
}

static void teardown(shop_runtime_t *rt) {
    /* held messages first: each keeps a reference librdkafka's destroy would wait for; they were
     * not processed, so their offsets were never stored */
    shop_merge_destroy(rt->merge, free_msg);
    rt->merge = NULL;
    if (rt->rk) {
        rd_kafka_consumer_close(rt->rk); /* revokes: the callback flushes what is left */
        if (rt->queue)
            rd_kafka_queue_destroy(rt->queue);
        rd_kafka_destroy(rt->rk);
    }
    shop_rt_sinkflush_stop(rt); /* after the revoke's flush, before the worker its jobs came from */
    if (rt->dlq) {
        char err[256];
        if (shop_rt_dlq_drain(rt, 10000, err, sizeof(err)))
            SHOP_WARN("msg=\"%s\"", err);
        rd_kafka_destroy(rt->dlq);
    }
    shop_http_stop(rt->http);
    if (rt->w)
        rt->ops->destroy(rt->w);
    shop_redis_store_destroy(rt->redis);
    shop_pg_store_destroy(rt->pg);
    shop_decoder_destroy(rt->dec);
    shop_codec_destroy(rt->codec);
    for (int t = 0; t < rt->ntopics; t++) {
        for (int i = 0; i < rt->topics[t].nparts; i++)
            shop_dedupe_destroy(rt->topics[t].parts[i].dd);
        free(rt->topics[t].parts);
    }
    free(rt->topics);
    for (int t = 0; rt->topic_names && t < rt->ntopics; t++)
        free(rt->topic_names[t]);
    free(rt->topic_names);
    shop_metrics_release(&rt->metrics);
}

int shop_runtime_run(const shop_runtime_opts_t *o) {
    shop_runtime_t rt;
    memset(&rt, 0, sizeof(rt));
    char err[1024] = "";
    shop_log_set_component("worker", o->ops->name);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    int rc = init(&rt, o, err, sizeof(err));
    if (!rc)
        rc = shop_rt_refresh_start(&rt, err, sizeof(err));
    if (!rc)
        rc = start_http(&rt, o->ops->default_port);
    if (!rc)
        rc = rt.replay ? shop_rt_replay_assign(&rt, err, sizeof(err))
                       : subscribe(&rt, err, sizeof(err));
    if (rc) {
        char q[1100];
        if (err[0])
            SHOP_ERROR("msg=%s", shop_log_quote(q, sizeof(q), err));
        teardown(&rt);
        return 1;
    }
    SHOP_INFO("msg=\"started\" group=%s redis_prefix=%s pg_schema=%s mode=%s", rt.group,
              rt.redis_prefix, rt.pg_schema, rt.replay ? "replay" : "live");
    rt.last_flush_us = shop_mono_us();
    consume_loop(&rt);
    if (!rt.fatal) {
        drain(&rt);
        /* the derived views reflect everything this run stored (a replay or a caught-up run
         * waits for that; a stopped live worker gives it a few seconds) */
        int ended = (rt.replay || o->until_caught_up) && !shop_runtime_stop;
        if (shop_rt_refresh_wait(&rt, ended ? 60000 : 10000))
            SHOP_WARN("msg=\"the derived views were not refreshed after the last flush\"");
    }
    shop_rt_refresh_stop(&rt);
    if (o->progress)
        shop_rt_progress(&rt, 1);
    double secs =
        rt.last_msg_us > rt.first_msg_us ? (double)(rt.last_msg_us - rt.first_msg_us) / 1e6 : 0;
    /* cpu_s: the consume thread's CPU time over the same span (the figure to profile against;
     * the rate also depends on what else runs on the machine) */
    SHOP_INFO("msg=\"stopped\" events=%lld seconds=%.3f cpu_s=%.3f events_per_s=%.0f",
              (long long)rt.processed, secs, (double)(rt.last_cpu_us - rt.first_cpu_us) / 1e6,
              secs > 0 ? (double)rt.processed / secs : 0.0);
    int fatal = rt.fatal;
    teardown(&rt);
    return fatal ? 1 : 0;
}
