/* state.c: the analytics worker's per-partition state (watermarks and open stock-outs), written
 * with the offsets by every flush and read back from each sink when partitions are assigned, so
 * that lateness and time out of stock come out the same after a crash, a rebalance or a replay. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "redis_keys.h"

/* Rebuilds `t` without the cells of `partition` (and of `grain` unless grain < 0). */
static void drop_partition(shop_an_cells_t *t, int grain, int32_t partition) {
    shop_an_cells_t keep;
    shop_an_cells_init(&keep);
    for (size_t i = 0; i < t->n; i++) {
        const shop_an_cell_t *c = &t->cells[i];
        if (c->bucket_ms == partition && (grain < 0 || c->grain == grain))
            continue;
        shop_an_cells_get(&keep, c->grain, c->kind, c->bucket_ms, c->metric, c->dim)->value =
            c->value;
    }
    shop_an_cells_release(t);
    *t = keep;
}

void shop_an_state_forget(shop_analytics_t *a, int sink, int topic_idx, int32_t partition) {
    shop_an_sink_state_t *st = &a->sink[sink];
    drop_partition(&st->wm, topic_idx, partition);
    drop_partition(&st->wm_dirty, topic_idx, partition);
    if (topic_idx == 3) { /* open stock-outs live on the inventory topic's partitions */
        drop_partition(&st->oos, -1, partition);
        drop_partition(&st->oos_dirty, -1, partition);
    }
}

static int redis_err(redisContext *c, redisReply *r, char *errstr, size_t errstr_size) {
    shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s",
                !r                             ? (c->errstr[0] ? c->errstr : "no reply")
                : r->type == REDIS_REPLY_ERROR ? r->str
                                               : "unexpected reply");
    if (r)
        freeReplyObject(r);
    return SHOP_ERR_RETRYABLE;
}

static int restore_redis(shop_analytics_t *a, int tidx, int32_t part, redisContext *c, char *errstr,
                         size_t errstr_size) {
    shop_an_sink_state_t *st = &a->sink[SHOP_SINK_REDIS];
    char key[256], field[128];
    snprintf(key, sizeof(key), SHOP_KEY_AN_WM, a->redis_prefix);
    snprintf(field, sizeof(field), "%s:%d", shop_an_topic_names[tidx], (int)part);
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return redis_err(c, r, errstr, errstr_size);
    if (r->type == REDIS_REPLY_STRING)
        shop_an_cells_get(&st->wm, tidx, 0, part, "wm", "")->value = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    if (tidx != 3)
        return SHOP_OK;
    snprintf(key, sizeof(key), SHOP_KEY_AN_OOS, a->redis_prefix, (int)part);
    r = redisCommand(c, "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return redis_err(c, r, errstr, errstr_size);
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        shop_an_cells_get(&st->oos, 0, 0, part, "oos", r->element[i]->str)->value =
            strtoll(r->element[i + 1]->str, NULL, 10);
    freeReplyObject(r);
    return SHOP_OK;
}

static int pg_query(PGconn *pg, const char *sql, int n, const char *const *params, PGresult **out,
                    char *errstr, size_t errstr_size) {
    *out = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*out) == PGRES_TUPLES_OK)
        return SHOP_OK;
    shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "postgresql: %s",
                PQresultErrorMessage(*out));
    PQclear(*out);
    *out = NULL;
    return SHOP_ERR_RETRYABLE;
}

static int restore_pg(shop_analytics_t *a, int tidx, int32_t part, PGconn *pg, char *errstr,
                      size_t errstr_size) {
    shop_an_sink_state_t *st = &a->sink[SHOP_SINK_PG];
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", (int)part);
    const char *params[2] = {shop_an_topic_names[tidx], pbuf};
    PGresult *r;
    int rc = pg_query(pg,
                      "SELECT watermark FROM analytics_partition_state WHERE topic = $1 AND "
                      "partition = $2",
                      2, params, &r, errstr, errstr_size);
    if (rc)
        return rc;
    if (PQntuples(r) > 0)
        shop_an_cells_get(&st->wm, tidx, 0, part, "wm", "")->value =
            strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (tidx != 3)
        return SHOP_OK;
    rc = pg_query(pg,
                  "SELECT product_id || E'\\t' || region, since FROM analytics_oos_open "
                  "WHERE partition = $1",
                  1, params + 1, &r, errstr, errstr_size);
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        shop_an_cells_get(&st->oos, 0, 0, part, "oos", PQgetvalue(r, i, 0))->value =
            strtoll(PQgetvalue(r, i, 1), NULL, 10);
    PQclear(r);
    return SHOP_OK;
}

int shop_an_state_restore(shop_analytics_t *a, const char *const *topics, const int32_t *partitions,
                          int n, struct redisContext *redis, PGconn *pg, char *errstr,
                          size_t errstr_size) {
    for (int i = 0; i < n; i++) {
        int tidx = shop_an_topic_index(topics[i]);
        if (tidx < 0)
            continue;
        for (int s = 0; s < SHOP_SINK_COUNT; s++)
            shop_an_state_forget(a, s, tidx, partitions[i]);
        int rc = redis ? restore_redis(a, tidx, partitions[i], redis, errstr, errstr_size) : 0;
        if (!rc && pg)
            rc = restore_pg(a, tidx, partitions[i], pg, errstr, errstr_size);
        if (rc)
            return rc;
    }
    return SHOP_OK;
}
