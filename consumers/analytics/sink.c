/* sink.c: the analytics worker's outputs: Redis hashes per minute and all-time totals, and a
 * PostgreSQL multi-row upsert into analytics_minute; plus its registration with the runtime. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "redis_keys.h"

static const char *const topics[] = {"shop.order.events", NULL};

static const shop_conf_def_t conf[] = {
    {"analytics.minute.ttl.s", SHOP_CONF_INT, "604800",
     "TTL of the per-minute Redis hashes (0 = keep)"},
    {NULL, 0, NULL, NULL},
};

static void *create(const shop_worker_env_t *env, char *errstr, size_t errstr_size) {
    (void)errstr;
    (void)errstr_size;
    shop_analytics_t *a = shop_xcalloc(1, sizeof(*a));
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        shop_an_table_init(&a->pend[s]);
    snprintf(a->redis_prefix, sizeof(a->redis_prefix), "%s", env->redis_prefix);
    a->ttl_s = shop_config_get_int(env->cfg, "analytics.minute.ttl.s");
    return a;
}

static void destroy(void *w) {
    shop_analytics_t *a = w;
    if (!a)
        return;
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        shop_an_table_release(&a->pend[s]);
    free(a);
}

static int process(void *w, const shop_event_t *ev, unsigned sinks, char *errstr,
                   size_t errstr_size) {
    return shop_analytics_apply(w, ev, sinks, errstr, errstr_size);
}

/* HINCRBY key field n, skipping zeros. */
static void incr(shop_redis_batch_t *b, const char *key, const char *field, int64_t n) {
    if (n)
        shop_redis_batch_cmd(b, "HINCRBY %s %s %lld", key, field, (long long)n);
}

static void row_to_redis(shop_redis_batch_t *b, const char *key, const shop_an_row_t *r) {
    char f[32];
    incr(b, key, "orders", r->orders);
    snprintf(f, sizeof(f), "orders:%s", r->currency);
    incr(b, key, f, r->orders);
    snprintf(f, sizeof(f), "revenue:%s", r->currency);
    incr(b, key, f, r->revenue_minor);
    incr(b, key, "items", r->items);
    incr(b, key, "refunds", r->refunds);
    snprintf(f, sizeof(f), "refund:%s", r->currency);
    incr(b, key, f, r->refund_minor);
}

static void flush_redis(void *w, shop_redis_batch_t *b) {
    shop_analytics_t *a = w;
    shop_an_table_t *t = &a->pend[SHOP_SINK_REDIS];
    char key[256], total[256], minutes[256], mk[16];
    snprintf(total, sizeof(total), SHOP_KEY_AN_TOTAL, a->redis_prefix);
    snprintf(minutes, sizeof(minutes), SHOP_KEY_AN_MINUTES, a->redis_prefix);
    for (size_t i = 0; i < t->n; i++) {
        const shop_an_row_t *r = &t->rows[i];
        shop_an_minute_key(r->minute_ms, mk, sizeof(mk));
        snprintf(key, sizeof(key), SHOP_KEY_AN_MINUTE, a->redis_prefix, mk);
        row_to_redis(b, key, r);
        row_to_redis(b, total, r);
        shop_redis_batch_cmd(b, "ZADD %s %lld %s", minutes, (long long)(r->minute_ms / 60000), mk);
        if (a->ttl_s > 0)
            shop_redis_batch_cmd(b, "EXPIRE %s %lld", key, (long long)a->ttl_s);
    }
}

/* One multi-row upsert per 500 rows; amounts add to what is there. */
static int flush_pg(void *w, PGconn *conn, char *errstr, size_t errstr_size) {
    shop_analytics_t *a = w;
    shop_an_table_t *t = &a->pend[SHOP_SINK_PG];
    for (size_t start = 0; start < t->n; start += 500) {
        size_t end = start + 500 < t->n ? start + 500 : t->n;
        shop_buf_t sql;
        shop_buf_init(&sql);
        shop_buf_puts(&sql,
                      "INSERT INTO analytics_minute (bucket, currency, orders, revenue_minor, "
                      "items, refunds, refund_minor) VALUES ");
        for (size_t i = start; i < end; i++) {
            const shop_an_row_t *r = &t->rows[i];
            shop_buf_printf(&sql, "%s(to_timestamp(%lld), '%.3s', %lld, %lld, %lld, %lld, %lld)",
                            i > start ? ", " : "", (long long)(r->minute_ms / 1000), r->currency,
                            (long long)r->orders, (long long)r->revenue_minor, (long long)r->items,
                            (long long)r->refunds, (long long)r->refund_minor);
        }
        shop_buf_puts(&sql,
                      " ON CONFLICT (bucket, currency) DO UPDATE SET "
                      "orders = analytics_minute.orders + EXCLUDED.orders, "
                      "revenue_minor = analytics_minute.revenue_minor + EXCLUDED.revenue_minor, "
                      "items = analytics_minute.items + EXCLUDED.items, "
                      "refunds = analytics_minute.refunds + EXCLUDED.refunds, "
                      "refund_minor = analytics_minute.refund_minor + EXCLUDED.refund_minor");
        int rc = shop_pg_exec(conn, sql.buf, 0, NULL, errstr, errstr_size);
        shop_buf_release(&sql);
        if (rc)
            return rc;
    }
    return SHOP_OK;
}

static void flushed(void *w, int sink) {
    shop_an_table_clear(&((shop_analytics_t *)w)->pend[sink]);
}

static void discard(void *w) {
    shop_analytics_t *a = w;
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        shop_an_table_clear(&a->pend[s]);
}

static size_t pending(void *w) {
    shop_analytics_t *a = w;
    return a->pend[0].n + a->pend[1].n;
}

const shop_worker_ops_t shop_worker_analytics = {
    .name = "analytics",
    .description = "orders, revenue, items and refunds per event-time minute and currency",
    .topics = topics,
    .sinks = SHOP_SINK_BIT(SHOP_SINK_REDIS) | SHOP_SINK_BIT(SHOP_SINK_PG),
    .default_port = 9401,
    .conf = conf,
    .create = create,
    .destroy = destroy,
    .process = process,
    .flush_redis = flush_redis,
    .flush_pg = flush_pg,
    .flushed = flushed,
    .discard = discard,
    .pending = pending,
};
