/* sink.c: the analytics worker's outputs: Redis hashes, HyperLogLogs and sets per bucket (with a
 * TTL) and PostgreSQL multi-row upserts (analytics_minute, analytics_rollup and friends), plus the
 * partition state both carry with the offsets. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "redis_keys.h"

static const char *const grain_names[] = {"minute", "hour", "day", "total"};
static const char *const grain_short[] = {"min", "hour", "day", "all"};

/* Remembers that `key` was written in this flush (its TTL is set once at the end). */
static void touch(shop_an_cells_t *keys, int grain, const char *key) {
    shop_an_cells_get(keys, grain, 0, 0, key, "")->value = 1;
}

static void count_to_redis(shop_analytics_t *a, shop_redis_batch_t *b, const shop_an_cell_t *c,
                           shop_an_cells_t *keys) {
    char key[256], bk[16], field[512];
    shop_an_bucket_key(c->grain, c->bucket_ms, bk, sizeof(bk));
    if (!strncmp(c->metric, "p_", 2)) {
        snprintf(key, sizeof(key), SHOP_KEY_AN_PROD, a->redis_prefix, bk);
        snprintf(field, sizeof(field), "%s:%s", c->metric + 2, c->dim);
        shop_redis_batch_cmd(b, "HINCRBY %s %s %lld", key, field, (long long)c->value);
        touch(keys, c->grain, key);
        if (!strcmp(c->metric, "p_buys")) {
            snprintf(key, sizeof(key), SHOP_KEY_AN_TOP, a->redis_prefix, bk);
            shop_redis_batch_cmd(b, "ZINCRBY %s %lld %s", key, (long long)c->value, c->dim);
            touch(keys, c->grain, key);
        }
        return;
    }
    if (c->grain == SHOP_AN_TOTAL)
        snprintf(key, sizeof(key), SHOP_KEY_AN_TOTAL, a->redis_prefix);
    else
        snprintf(key, sizeof(key),
                 c->grain == SHOP_AN_MINUTE ? SHOP_KEY_AN_MINUTE
                 : c->grain == SHOP_AN_HOUR ? SHOP_KEY_AN_HOUR
                                            : SHOP_KEY_AN_DAY,
                 a->redis_prefix, bk);
    if (c->dim[0])
        snprintf(field, sizeof(field), "%s:%s", c->metric, c->dim);
    else
        snprintf(field, sizeof(field), "%s", c->metric);
    shop_redis_batch_cmd(b, "HINCRBY %s %s %lld", key, field, (long long)c->value);
    if (c->grain == SHOP_AN_TOTAL)
        return;
    touch(keys, c->grain, key);
    if (c->grain == SHOP_AN_MINUTE) {
        char minutes[256];
        snprintf(minutes, sizeof(minutes), SHOP_KEY_AN_MINUTES, a->redis_prefix);
        shop_redis_batch_cmd(b, "ZADD %s %lld %s", minutes, (long long)(c->bucket_ms / 60000), bk);
    }
}

static void member_to_redis(shop_analytics_t *a, shop_redis_batch_t *b, const shop_an_cell_t *c,
                            shop_an_cells_t *keys) {
    char key[256], bk[16];
    shop_an_bucket_key(c->grain, c->bucket_ms, bk, sizeof(bk));
    if (c->kind == SHOP_AN_HLL) {
        snprintf(key, sizeof(key), SHOP_KEY_AN_HLL, a->redis_prefix, grain_short[c->grain], bk);
        shop_redis_batch_cmd(b, "PFADD %s %s", key, c->dim);
    } else {
        if (!strcmp(c->metric, "active")) /* the HyperLogLogs count active users in Redis */
            return;
        snprintf(key, sizeof(key), SHOP_KEY_AN_SET, a->redis_prefix, c->metric, bk);
        shop_redis_batch_cmd(b, "SADD %s %s", key, c->dim);
    }
    touch(keys, c->grain, key);
}

static void state_to_redis(shop_analytics_t *a, shop_redis_batch_t *b) {
    shop_an_sink_state_t *st = &a->sink[SHOP_SINK_REDIS];
    char key[256], field[256];
    snprintf(key, sizeof(key), SHOP_KEY_AN_WM, a->redis_prefix);
    for (size_t i = 0; i < st->wm_dirty.n; i++) {
        const shop_an_cell_t *c = &st->wm_dirty.cells[i];
        snprintf(field, sizeof(field), "%s:%lld", shop_an_topic_names[c->grain],
                 (long long)c->bucket_ms);
        shop_redis_batch_cmd(b, "HSET %s %s %lld", key, field, (long long)c->value);
    }
    for (size_t i = 0; i < st->oos_dirty.n; i++) {
        const shop_an_cell_t *c = &st->oos_dirty.cells[i];
        snprintf(key, sizeof(key), SHOP_KEY_AN_OOS, a->redis_prefix, (int)c->bucket_ms);
        if (c->value >= 0)
            shop_redis_batch_cmd(b, "HSET %s %s %lld", key, c->dim, (long long)c->value);
        else
            shop_redis_batch_cmd(b, "HDEL %s %s", key, c->dim);
    }
    char titles[256], cats[256];
    snprintf(titles, sizeof(titles), SHOP_KEY_AN_TITLES, a->redis_prefix);
    snprintf(cats, sizeof(cats), SHOP_KEY_AN_CATS, a->redis_prefix);
    for (size_t i = 0; i < st->titles.n; i++) {
        char buf[600], *pid = buf, *title, *cat;
        snprintf(buf, sizeof(buf), "%s", st->titles.cells[i].dim);
        if (!(title = strchr(pid, '\t')) || !(cat = strchr(title + 1, '\t')))
            continue;
        *title++ = 0;
        *cat++ = 0;
        shop_redis_batch_cmd(b, "HSET %s %s %s", titles, pid, title);
        shop_redis_batch_cmd(b, "HSET %s %s %s", cats, pid, cat);
    }
}

void shop_an_flush_redis(shop_analytics_t *a, shop_redis_batch_t *b) {
    shop_an_sink_state_t *st = &a->sink[SHOP_SINK_REDIS];
    shop_an_cells_t keys;
    shop_an_cells_init(&keys);
    for (size_t i = 0; i < st->cells.n; i++) {
        const shop_an_cell_t *c = &st->cells.cells[i];
        if (c->kind == SHOP_AN_COUNT)
            count_to_redis(a, b, c, &keys);
        else
            member_to_redis(a, b, c, &keys);
    }
    for (size_t i = 0; i < keys.n; i++) {
        int64_t ttl = a->ttl_s[keys.cells[i].grain];
        if (ttl > 0)
            shop_redis_batch_cmd(b, "EXPIRE %s %lld", keys.cells[i].metric, (long long)ttl);
    }
    shop_an_cells_release(&keys);
    state_to_redis(a, b);
}

/* ---- PostgreSQL ---- */

static void lit(PGconn *conn, shop_buf_t *sql, const char *s) {
    char *q = conn ? PQescapeLiteral(conn, s, strlen(s)) : NULL;
    shop_buf_puts(sql, q ? q : "''");
    if (q)
        PQfreemem(q);
}

static int run(PGconn *conn, shop_buf_t *sql, char *errstr, size_t errstr_size) {
    int rc = shop_pg_exec(conn, sql->buf, 0, NULL, errstr, errstr_size);
    shop_buf_reset(sql);
    return rc;
}

static int legacy_pg(shop_an_table_t *t, PGconn *conn, shop_buf_t *sql, char *errstr,
                     size_t errstr_size) {
    for (size_t start = 0; start < t->n; start += 500) {
        size_t end = start + 500 < t->n ? start + 500 : t->n;
        shop_buf_puts(sql, "INSERT INTO analytics_minute (bucket, currency, orders, revenue_minor, "
                           "items, refunds, refund_minor) VALUES ");
        for (size_t i = start; i < end; i++) {
            const shop_an_row_t *r = &t->rows[i];
            shop_buf_printf(sql, "%s(to_timestamp(%lld), '%.3s', %lld, %lld, %lld, %lld, %lld)",
                            i > start ? ", " : "", (long long)(r->minute_ms / 1000), r->currency,
                            (long long)r->orders, (long long)r->revenue_minor, (long long)r->items,
                            (long long)r->refunds, (long long)r->refund_minor);
        }
        shop_buf_puts(sql,
                      " ON CONFLICT (bucket, currency) DO UPDATE SET "
                      "orders = analytics_minute.orders + EXCLUDED.orders, "
                      "revenue_minor = analytics_minute.revenue_minor + EXCLUDED.revenue_minor, "
                      "items = analytics_minute.items + EXCLUDED.items, "
                      "refunds = analytics_minute.refunds + EXCLUDED.refunds, "
                      "refund_minor = analytics_minute.refund_minor + EXCLUDED.refund_minor");
        int rc = run(conn, sql, errstr, errstr_size);
        if (rc)
            return rc;
    }
    return SHOP_OK;
}

/* One statement per 500 cells of `kind`: rollup upserts or day-user inserts. */
static int cells_pg(const shop_an_cells_t *t, int kind, PGconn *conn, shop_buf_t *sql, char *errstr,
                    size_t errstr_size) {
    size_t rows = 0;
    for (size_t i = 0; i <= t->n; i++) {
        if (i < t->n) {
            const shop_an_cell_t *c = &t->cells[i];
            if (kind == SHOP_AN_COUNT ? c->kind != SHOP_AN_COUNT : c->kind != SHOP_AN_SET)
                continue;
            if (!rows)
                shop_buf_puts(sql, kind == SHOP_AN_COUNT
                                       ? "INSERT INTO analytics_rollup (grain, bucket, metric, "
                                         "dim, value) VALUES "
                                       : "INSERT INTO analytics_day_users (day, kind, user_id) "
                                         "VALUES ");
            if (kind == SHOP_AN_COUNT)
                shop_buf_printf(sql, "%s('%s', to_timestamp(%lld), ", rows ? ", " : "",
                                grain_names[c->grain], (long long)(c->bucket_ms / 1000));
            else
                shop_buf_printf(sql, "%s((to_timestamp(%lld) AT TIME ZONE 'UTC')::date, ",
                                rows ? ", " : "", (long long)(c->bucket_ms / 1000));
            lit(conn, sql, c->metric);
            shop_buf_puts(sql, ", ");
            lit(conn, sql, c->dim);
            if (kind == SHOP_AN_COUNT)
                shop_buf_printf(sql, ", %lld)", (long long)c->value);
            else
                shop_buf_puts(sql, ")");
            rows++;
        }
        if (rows && (rows == 500 || i == t->n)) {
            shop_buf_puts(sql, kind == SHOP_AN_COUNT
                                   ? " ON CONFLICT (grain, metric, bucket, dim) DO UPDATE SET "
                                     "value = analytics_rollup.value + EXCLUDED.value"
                                   : " ON CONFLICT DO NOTHING");
            int rc = run(conn, sql, errstr, errstr_size);
            if (rc)
                return rc;
            rows = 0;
        }
    }
    return SHOP_OK;
}

static int state_pg(shop_an_sink_state_t *st, PGconn *conn, shop_buf_t *sql, char *errstr,
                    size_t errstr_size) {
    int rc = SHOP_OK;
    for (size_t i = 0; i < st->wm_dirty.n && !rc; i++) {
        const shop_an_cell_t *c = &st->wm_dirty.cells[i];
        shop_buf_printf(sql,
                        "INSERT INTO analytics_partition_state (topic, partition, watermark) "
                        "VALUES ('%s', %lld, %lld) ON CONFLICT (topic, partition) DO UPDATE SET "
                        "watermark = EXCLUDED.watermark",
                        shop_an_topic_names[c->grain], (long long)c->bucket_ms,
                        (long long)c->value);
        rc = run(conn, sql, errstr, errstr_size);
    }
    for (size_t i = 0; i < st->oos_dirty.n && !rc; i++) {
        const shop_an_cell_t *c = &st->oos_dirty.cells[i];
        char buf[512], *region;
        snprintf(buf, sizeof(buf), "%s", c->dim);
        if (!(region = strchr(buf, '\t')))
            continue;
        *region++ = 0;
        shop_buf_printf(sql,
                        c->value >= 0 ? "INSERT INTO analytics_oos_open VALUES (%lld, "
                                      : "DELETE FROM analytics_oos_open WHERE partition = "
                                        "%lld AND product_id = ",
                        (long long)c->bucket_ms);
        lit(conn, sql, buf);
        shop_buf_puts(sql, c->value >= 0 ? ", " : " AND region = ");
        lit(conn, sql, region);
        if (c->value >= 0)
            shop_buf_printf(sql,
                            ", %lld) ON CONFLICT (partition, product_id, region) DO UPDATE "
                            "SET since = EXCLUDED.since",
                            (long long)c->value);
        rc = run(conn, sql, errstr, errstr_size);
    }
    for (size_t i = 0; i < st->titles.n && !rc; i++) {
        char buf[600], *title, *cat;
        snprintf(buf, sizeof(buf), "%s", st->titles.cells[i].dim);
        if (!(title = strchr(buf, '\t')) || !(cat = strchr(title + 1, '\t')))
            continue;
        *title++ = 0;
        *cat++ = 0;
        shop_buf_puts(sql, "INSERT INTO analytics_product VALUES (");
        lit(conn, sql, buf);
        shop_buf_puts(sql, ", ");
        lit(conn, sql, title);
        shop_buf_puts(sql, ", ");
        lit(conn, sql, cat);
        shop_buf_printf(sql,
                        ", %lld) ON CONFLICT (product_id) DO UPDATE SET title = EXCLUDED.title, "
                        "category = EXCLUDED.category, updated_ms = EXCLUDED.updated_ms WHERE "
                        "analytics_product.updated_ms <= EXCLUDED.updated_ms",
                        (long long)st->titles.cells[i].value);
        rc = run(conn, sql, errstr, errstr_size);
    }
    return rc;
}

int shop_an_flush_pg(shop_analytics_t *a, PGconn *conn, char *errstr, size_t errstr_size) {
    shop_an_sink_state_t *st = &a->sink[SHOP_SINK_PG];
    shop_buf_t sql;
    shop_buf_init(&sql);
    int rc = legacy_pg(&st->rows, conn, &sql, errstr, errstr_size);
    if (!rc)
        rc = cells_pg(&st->cells, SHOP_AN_COUNT, conn, &sql, errstr, errstr_size);
    if (!rc)
        rc = cells_pg(&st->cells, SHOP_AN_SET, conn, &sql, errstr, errstr_size);
    if (!rc)
        rc = state_pg(st, conn, &sql, errstr, errstr_size);
    shop_buf_release(&sql);
    return rc;
}
