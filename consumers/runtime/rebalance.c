/* rebalance.c: partition assignment and revocation: offsets are read back from the sinks (Kafka's
 * committed offsets are advisory), pending state is flushed on revoke or rewound when it cannot be.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_keys.h"
#include "runtime_int.h"

int64_t shop_rt_start_offset(const shop_runtime_t *rt, const part_t *p, int64_t fallback) {
    int64_t lo = INT64_MAX;
    for (int s = 0; s < SHOP_SINK_COUNT; s++) {
        if (!(rt->ops->sinks & SHOP_SINK_BIT(s)))
            continue;
        if (p->stored[s] < 0)
            return fallback;
        if (p->stored[s] < lo)
            lo = p->stored[s];
    }
    return lo == INT64_MAX ? fallback : lo;
}

void shop_rt_dedupe_key(const shop_runtime_t *rt, const char *topic, int32_t partition, char *buf,
                        size_t size) {
    snprintf(buf, size, SHOP_KEY_OFFSETS ":%s:%d:ids", rt->redis_prefix, rt->ops->name, topic,
             (int)partition);
}

void shop_rt_part_reset(part_t *p) {
    shop_dedupe_destroy(p->dd);
    memset(p, 0, sizeof(*p));
}

/* The event ids each partition's stored Redis offset covers (dedupe.c). */
static int load_dedupe(shop_runtime_t *rt, const shop_offset_entry_t *e, int n, char *errstr,
                       size_t errstr_size) {
    struct redisContext *c = shop_redis_store_conn(rt->redis, errstr, errstr_size);
    if (!c)
        return SHOP_ERR_RETRYABLE;
    for (int i = 0; i < n; i++) {
        part_t *p = shop_rt_part(rt, e[i].topic, e[i].partition, 0, NULL);
        if (!p->dd)
            p->dd = shop_dedupe_new();
        char key[512];
        shop_rt_dedupe_key(rt, e[i].topic, e[i].partition, key, sizeof(key));
        int rc = shop_dedupe_load(p->dd, c, key, rt->dedupe_window_ms, errstr, errstr_size);
        if (rc)
            return rc;
    }
    return SHOP_OK;
}

/* The worker's per-partition state, read back from the sinks with the offsets. */
static int restore_state(shop_runtime_t *rt, const shop_offset_entry_t *e, int n, char *errstr,
                         size_t errstr_size) {
    const char **topics = shop_xcalloc((size_t)n, sizeof(*topics));
    int32_t *parts = shop_xcalloc((size_t)n, sizeof(*parts));
    for (int i = 0; i < n; i++) {
        topics[i] = e[i].topic;
        parts[i] = e[i].partition;
    }
    struct redisContext *rc = NULL;
    PGconn *pg = NULL;
    int err = SHOP_OK;
    if (rt->redis && !(rc = shop_redis_store_conn(rt->redis, errstr, errstr_size)))
        err = SHOP_ERR_RETRYABLE;
    if (!err && rt->pg && !(pg = shop_pg_store_conn(rt->pg, errstr, errstr_size)))
        err = SHOP_ERR_RETRYABLE;
    if (!err)
        err = rt->ops->restore(rt->w, topics, parts, n, rc, pg, errstr, errstr_size);
    free(topics);
    free(parts);
    return err;
}

/* Reads the stored offsets of `n` partitions from every sink into their part_t, then has the
 * worker restore its state for them. */
int shop_rt_load_entries(shop_runtime_t *rt, shop_offset_entry_t *e, int n, char *errstr,
                         size_t errstr_size) {
    int64_t *vals[SHOP_SINK_COUNT] = {0};
    int rc = SHOP_OK;
    for (int s = 0; s < SHOP_SINK_COUNT && !rc; s++) {
        if (!(rt->ops->sinks & SHOP_SINK_BIT(s)))
            continue;
        rc = s == SHOP_SINK_REDIS ? shop_redis_store_load(rt->redis, e, n, errstr, errstr_size)
                                  : shop_pg_store_load(rt->pg, e, n, errstr, errstr_size);
        if (rc) {
            atomic_store(&rt->metrics.sink_down[s], 1);
            break;
        }
        atomic_store(&rt->metrics.sink_down[s], 0);
        vals[s] = shop_xcalloc((size_t)n + 1, sizeof(int64_t));
        for (int i = 0; i < n; i++)
            vals[s][i] = e[i].from;
    }
    if (!rc && rt->ops->restore && n)
        rc = restore_state(rt, e, n, errstr, errstr_size);
    if (!rc && rt->dedupe_window_ms > 0 && rt->redis && n)
        rc = load_dedupe(rt, e, n, errstr, errstr_size);
    if (!rc)
        for (int i = 0; i < n; i++) {
            part_t *p = shop_rt_part(rt, e[i].topic, e[i].partition, 0, NULL);
            for (int s = 0; s < SHOP_SINK_COUNT; s++)
                p->stored[s] = p->pend[s] = vals[s] ? vals[s][i] : SHOP_OFFSET_NONE;
        }
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        free(vals[s]);
    return rc;
}

/* Where partition p starts, and the matching `expect`. */
int64_t shop_rt_start_of(shop_runtime_t *rt, part_t *p) {
    int64_t fallback = RD_KAFKA_OFFSET_BEGINNING;
    if (rt->replay)
        fallback = p->begin;
    else if (!strcmp(shop_config_get(rt->cfg, "start.from"), "latest"))
        fallback = RD_KAFKA_OFFSET_END;
    int64_t start = shop_rt_start_offset(rt, p, fallback);
    if (rt->replay && start < p->begin)
        start = p->begin;
    p->expect = start >= 0 ? start : 0;
    p->exact = start >= 0;
    p->gap_state = 0;
    return start;
}

int shop_rt_load_offsets(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    int n = 0, cap = 16;
    shop_offset_entry_t *e = shop_xcalloc((size_t)cap, sizeof(*e));
    for (int t = 0; t < rt->ntopics; t++)
        for (int i = 0; i < rt->topics[t].nparts; i++) {
            part_t *p = &rt->topics[t].parts[i];
            if (!p->assigned || !p->loading)
                continue;
            if (n == cap)
                e = shop_xrealloc(e, (size_t)(cap *= 2) * sizeof(*e));
            e[n++] = (shop_offset_entry_t){rt->topics[t].name, i, -1, -1};
        }
    int rc = n ? shop_rt_load_entries(rt, e, n, errstr, errstr_size) : SHOP_OK;
    if (!rc && n) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++) {
            part_t *p = shop_rt_part(rt, e[i].topic, e[i].partition, 0, NULL);
            rd_kafka_topic_partition_list_add(l, e[i].topic, e[i].partition)->offset =
                shop_rt_start_of(rt, p);
        }
        /* Resume before seeking: a resume restarts fetching where the application last read,
         * which would override an earlier seek and skip [start, last read). */
        if (!rt->paused)
            rd_kafka_resume_partitions(rt->rk, l);
        rd_kafka_error_t *err = rd_kafka_seek_partitions(rt->rk, l, 5000);
        int bad = err != NULL;
        for (int i = 0; !bad && i < l->cnt; i++)
            bad = l->elems[i].err != 0;
        if (bad) {
            rc =
                shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "seek after reload failed: %s",
                            err ? rd_kafka_error_string(err) : rd_kafka_err2str(l->elems[0].err));
        } else {
            for (int i = 0; i < n; i++)
                shop_rt_part(rt, e[i].topic, e[i].partition, 0, NULL)->loading = 0;
            SHOP_INFO("msg=\"resumed from stored offsets\" partitions=%d", n);
        }
        if (err)
            rd_kafka_error_destroy(err);
        rd_kafka_topic_partition_list_destroy(l);
    }
    free(e);
    return rc;
}

static void on_assign(shop_runtime_t *rt, rd_kafka_topic_partition_list_t *parts, int cooperative) {
    int n = parts->cnt;
    shop_offset_entry_t *e = shop_xcalloc((size_t)n + 1, sizeof(*e));
    for (int i = 0; i < n; i++) {
        part_t *p = shop_rt_part(rt, parts->elems[i].topic, parts->elems[i].partition, 1, NULL);
        shop_rt_part_reset(p);
        p->assigned = p->loading = 1;
        p->end = INT64_MAX;
        p->hw = -1;
        e[i] = (shop_offset_entry_t){parts->elems[i].topic, parts->elems[i].partition, -1, -1};
    }
    char err[512] = "";
    int loaded = n == 0 || shop_rt_load_entries(rt, e, n, err, sizeof(err)) == SHOP_OK;
    for (int i = 0; i < n; i++) {
        part_t *p = shop_rt_part(rt, parts->elems[i].topic, parts->elems[i].partition, 0, NULL);
        if (loaded) {
            parts->elems[i].offset = shop_rt_start_of(rt, p);
            p->loading = 0;
        }
    }
    if (cooperative)
        rd_kafka_incremental_assign(rt->rk, parts);
    else
        rd_kafka_assign(rt->rk, parts);
    if (!loaded) {
        char q[600];
        SHOP_WARN("msg=%s partitions=%d action=\"paused until the sinks answer\"",
                  shop_log_quote(q, sizeof(q), err), n);
        rd_kafka_pause_partitions(rt->rk, parts);
        rt->any_loading = 1;
    } else if (rt->paused) {
        rd_kafka_pause_partitions(rt->rk, parts);
    } else if (n) {
        /* librdkafka keeps a partition's pause flag across unassign and assign: a partition
         * paused by a rewind before it was lost would otherwise never fetch again. */
        rd_kafka_resume_partitions(rt->rk, parts);
    }
    SHOP_INFO("msg=\"partitions assigned\" count=%d offsets=%s", n, loaded ? "loaded" : "pending");
    free(e);
}

/* Tries to flush before giving partitions away, within revoke.flush.timeout.ms. */
static int flush_before_revoke(shop_runtime_t *rt) {
    int64_t deadline =
        shop_mono_us() + shop_config_get_int(rt->cfg, "revoke.flush.timeout.ms") * 1000;
    char err[512];
    for (;;) {
        int rc = shop_rt_flush(rt, 1, err, sizeof(err));
        if (rc == SHOP_OK || rc == SHOP_ERR_CONFLICT) /* a conflict has already rewound */
            return 1;
        if (rc != SHOP_ERR_RETRYABLE || shop_mono_us() > deadline)
            return 0;
        if (rt->dlq)
            rd_kafka_poll(rt->dlq, 200); /* never the consumer: it would serve its queue here */
        else
            usleep(200 * 1000);
    }
}

static void on_revoke(shop_runtime_t *rt, rd_kafka_topic_partition_list_t *parts, int cooperative) {
    int lost = rd_kafka_assignment_lost(rt->rk);
    if (lost)
        SHOP_WARN("msg=\"partitions lost (session timed out); their pending state is dropped\"");
    if (lost || !flush_before_revoke(rt))
        shop_rt_rewind(rt, lost ? "assignment lost" : "flush failed at revoke");
    for (int i = 0; i < parts->cnt; i++) {
        int tidx = -1;
        part_t *p = shop_rt_part(rt, parts->elems[i].topic, parts->elems[i].partition, 0, &tidx);
        if (p)
            shop_rt_part_reset(p);
        if (rt->ops->release)
            rt->ops->release(rt->w, parts->elems[i].topic, parts->elems[i].partition);
        shop_metrics_set_lag(&rt->metrics, tidx, parts->elems[i].partition, -1);
    }
    if (cooperative)
        rd_kafka_incremental_unassign(rt->rk, parts);
    else
        rd_kafka_assign(rt->rk, NULL);
    SHOP_INFO("msg=\"partitions revoked\" count=%d", parts->cnt);
}

void shop_rt_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts, void *opaque) {
    shop_runtime_t *rt = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    atomic_fetch_add(&rt->metrics.rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(rt, parts, cooperative);
    else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        on_revoke(rt, parts, cooperative);
    else {
        SHOP_ERROR("msg=\"rebalance error: %s\"", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
}
