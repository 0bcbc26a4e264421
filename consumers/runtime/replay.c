/* replay.c: replay mode: resolve [from, to) per partition from times or offsets, assign exactly
 * that range (resuming from the namespace's stored offsets), report progress, stop at the end. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime_int.h"

/* A bound is an offset ("o:123" or a bare integer below 10^11) or a time (RFC 3339, or epoch
 * millis, which are larger than any offset we expect). */
static int parse_bound(const char *s, int *is_time, int64_t *v) {
    if (!strncmp(s, "o:", 2) || !strncmp(s, "offset:", 7)) {
        const char *digits = strchr(s, ':') + 1;
        char *end;
        *is_time = 0;
        *v = strtoll(digits, &end, 10);
        return *digits && !*end && *v >= 0 ? SHOP_OK : SHOP_ERR_INVALID;
    }
    if (!strncmp(s, "t:", 2))
        s += 2;
    else {
        char *end;
        long long x = strtoll(s, &end, 10);
        if (!*end && x >= 0 && x < 100000000000LL) {
            *is_time = 0;
            *v = x;
            return SHOP_OK;
        }
    }
    *is_time = 1;
    return shop_parse_time_ms(s, v);
}

/* Resolves a time bound to per-partition offsets via offsetsForTimes (-1 -> high watermark). */
static int times_to_offsets(shop_runtime_t *rt, rd_kafka_topic_partition_list_t *l, int64_t ms,
                            char *errstr, size_t errstr_size) {
    for (int i = 0; i < l->cnt; i++)
        l->elems[i].offset = ms;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rt->rk, l, 10000);
    if (e)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "offsets for times: %s",
                           rd_kafka_err2str(e));
    return SHOP_OK;
}

static rd_kafka_topic_partition_list_t *all_partitions(shop_runtime_t *rt, char *errstr,
                                                       size_t errstr_size) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(32);
    for (int t = 0; t < rt->ntopics; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rt->rk, rt->topics[t].name, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rt->rk, 0, rkt, &md, 10000);
        rd_kafka_topic_destroy(rkt);
        if (e || !md || md->topic_cnt != 1 || md->topics[0].err) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "metadata for %s: %s",
                        rt->topics[t].name,
                        rd_kafka_err2str(e                     ? e
                                         : md && md->topic_cnt ? md->topics[0].err
                                                               : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
            if (md)
                rd_kafka_metadata_destroy(md);
            rd_kafka_topic_partition_list_destroy(l);
            return NULL;
        }
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, rt->topics[t].name,
                                              md->topics[0].partitions[i].id);
        rd_kafka_metadata_destroy(md);
    }
    return l;
}

static int resolve_bound(shop_runtime_t *rt, const char *spec, rd_kafka_topic_partition_list_t *l,
                         int is_end, char *errstr, size_t errstr_size) {
    for (int i = 0; i < l->cnt; i++) {
        part_t *p = shop_rt_part(rt, l->elems[i].topic, l->elems[i].partition, 0, NULL);
        l->elems[i].offset = is_end ? p->hw : p->begin;
    }
    if (!spec)
        return SHOP_OK;
    int is_time;
    int64_t v;
    if (parse_bound(spec, &is_time, &v))
        return shop_seterr(
            errstr, errstr_size, SHOP_ERR_CONFIG,
            "bad bound \"%s\": use an offset (123, o:123) or a time (2026-11-24T10:00:00Z, t:<ms>)",
            spec);
    if (is_time) {
        int rc = times_to_offsets(rt, l, v, errstr, errstr_size);
        if (rc)
            return rc;
    }
    for (int i = 0; i < l->cnt; i++) {
        part_t *p = shop_rt_part(rt, l->elems[i].topic, l->elems[i].partition, 0, NULL);
        int64_t o = is_time ? l->elems[i].offset : v;
        if (o < 0 || o > p->hw)
            o = p->hw; /* no message at or after the time */
        if (o < p->begin && !is_end)
            o = p->begin;
        if (is_end)
            p->end = o < p->begin ? p->begin : o;
        else
            p->begin = o;
    }
    return SHOP_OK;
}

/* Loads the namespace's stored offsets for every partition of `l` and sets its start offsets. */
static int load_initial(shop_runtime_t *rt, rd_kafka_topic_partition_list_t *l, char *errstr,
                        size_t errstr_size) {
    shop_offset_entry_t *e = shop_xcalloc((size_t)l->cnt + 1, sizeof(*e));
    for (int i = 0; i < l->cnt; i++)
        e[i] = (shop_offset_entry_t){l->elems[i].topic, l->elems[i].partition, -1, -1};
    int rc = shop_rt_load_entries(rt, e, l->cnt, errstr, errstr_size);
    for (int i = 0; !rc && i < l->cnt; i++) {
        part_t *p = shop_rt_part(rt, l->elems[i].topic, l->elems[i].partition, 0, NULL);
        l->elems[i].offset = shop_rt_start_of(rt, p);
        p->loading = 0;
        p->done = p->expect >= p->end;
    }
    free(e);
    return rc;
}

int shop_rt_replay_assign(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    rd_kafka_topic_partition_list_t *l = all_partitions(rt, errstr, errstr_size);
    if (!l)
        return SHOP_ERR_RETRYABLE;
    int rc = SHOP_OK;
    for (int i = 0; i < l->cnt && !rc; i++) {
        part_t *p = shop_rt_part(rt, l->elems[i].topic, l->elems[i].partition, 1, NULL);
        shop_rt_part_reset(p);
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            rt->rk, l->elems[i].topic, l->elems[i].partition, &lo, &hi, 10000);
        if (e)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "watermarks: %s",
                             rd_kafka_err2str(e));
        p->begin = lo;
        p->hw = p->end = hi;
        p->assigned = p->loading = 1;
    }
    if (!rc)
        rc = resolve_bound(rt, rt->opts->replay_from, l, 0, errstr, errstr_size);
    if (!rc)
        rc = resolve_bound(rt, rt->opts->replay_to, l, 1, errstr, errstr_size);
    if (!rc) {
        rt->replay_total = 0;
        for (int i = 0; i < l->cnt; i++) {
            part_t *p = shop_rt_part(rt, l->elems[i].topic, l->elems[i].partition, 0, NULL);
            rt->replay_total += p->end - p->begin;
        }
        /* Start from what the namespace already stored: a rerun or a crashed replay resumes. */
        int64_t backoff = 200;
        while ((rc = load_initial(rt, l, errstr, errstr_size)) == SHOP_ERR_RETRYABLE &&
               !shop_runtime_stop) {
            SHOP_WARN("msg=\"replay waiting for the sinks: %s\"", errstr);
            usleep((useconds_t)backoff * 1000);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        }
    }
    if (!rc) {
        rd_kafka_resp_err_t e = rd_kafka_assign(rt->rk, l);
        if (e)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "assign: %s",
                             rd_kafka_err2str(e));
        SHOP_INFO("msg=\"replaying\" partitions=%d events=%lld", l->cnt,
                  (long long)rt->replay_total);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int shop_rt_replay_done(shop_runtime_t *rt) {
    for (int t = 0; t < rt->ntopics; t++)
        for (int i = 0; i < rt->topics[t].nparts; i++) {
            part_t *p = &rt->topics[t].parts[i];
            if (p->assigned && !p->done && p->expect < p->end)
                return 0;
        }
    return 1;
}

void shop_rt_progress(shop_runtime_t *rt, int final) {
    static int64_t t0;
    if (!t0)
        t0 = shop_mono_us();
    double secs = (double)(shop_mono_us() - t0) / 1e6;
    int64_t done = 0;
    for (int t = 0; t < rt->ntopics; t++)
        for (int i = 0; i < rt->topics[t].nparts; i++) {
            part_t *p = &rt->topics[t].parts[i];
            if (!p->assigned)
                continue;
            int64_t at = p->expect > p->end ? p->end : p->expect;
            done += rt->replay ? (at > p->begin ? at - p->begin : 0) : 0;
        }
    if (!rt->replay)
        done = rt->processed;
    double pct = rt->replay_total > 0 ? 100.0 * (double)done / (double)rt->replay_total : 100.0;
    fprintf(stderr, "\r%s %s: %5.1f%% %lld/%lld events, %.0f events/s%s",
            rt->replay ? "replay" : "run", rt->ops->name, pct, (long long)done,
            (long long)rt->replay_total, secs > 0 ? (double)rt->processed / secs : 0.0,
            final ? "\n" : "   ");
    fflush(stderr);
}
