/* dashboard.c: the analytics worker's HTTP routes: the live dashboard (static files from
 * analytics.web.dir, uPlot from the npm install), /events (one long-lived Server-Sent Events
 * response per client: a snapshot each second when something changed, a keep-alive comment when
 * not), /api/live, /api/stats (PostgreSQL rollups, shared with `shopstream query stats`) and
 * /api/health. The snapshot is built at most once a second whatever the number of clients, on
 * one Redis and one PostgreSQL connection shared under a lock (every HTTP connection has a thread
 * of its own, so per-thread connections would mean one database session per client); /api/stats
 * has its own PostgreSQL connection. Both reconnect after an outage; the page shows the outage.
 */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "dashboard.h"
#include "redis_keys.h"

typedef struct conns {
    redisContext *redis;
    PGconn *pg;
} conns_t;

struct shop_an_dash {
    char prefix[128], schema[64];
    char *redis_url, *pg_url, *web_dir, *deps_dir;
    atomic_llong *late_total;
    shop_an_health_t *health;
    /* the shared snapshot, rebuilt at most every SNAP_MAX_AGE_US */
    pthread_mutex_t snap_lock;
    conns_t live;    /* under snap_lock */
    char *snap;      /* compact JSON object with sorted keys, without seq; NULL before the first */
    int64_t snap_us; /* monotonic time it was built */
    long long seq;   /* snapshots built */
    long long gen;   /* times the snapshot changed */
    atomic_int sse_open;     /* /events responses open now */
    atomic_llong sse_opened; /* /events responses opened since start */
    pthread_mutex_t query_lock;
    conns_t query; /* /api/stats, under query_lock */
};

#define SNAP_MAX_AGE_US 900000 /* a stream asks every second; a little slack for its timer */
#define SSE_INTERVAL_MS 1000
#define SSE_RETRY_MS    1000

static void conns_close(conns_t *c) {
    if (c->redis)
        redisFree(c->redis);
    if (c->pg)
        PQfinish(c->pg);
    c->redis = NULL;
    c->pg = NULL;
}

static char *dup_or(const char *s, const char *dflt) {
    return shop_xstrdup(s ? s : dflt);
}

shop_an_dash_t *shop_an_dash_new(const shop_worker_env_t *env, atomic_llong *late_total) {
    shop_an_dash_t *d = shop_xcalloc(1, sizeof(*d));
    snprintf(d->prefix, sizeof(d->prefix), "%s", env->redis_prefix ? env->redis_prefix : "shop:");
    snprintf(d->schema, sizeof(d->schema), "%s", env->pg_schema ? env->pg_schema : "shop");
    d->redis_url = dup_or(shop_config_get(env->cfg, "redis.url"), "redis://127.0.0.1:16379/0");
    d->pg_url = dup_or(shop_config_get(env->cfg, "pg.url"),
                       "postgresql://shopstream@127.0.0.1:15432/shopstream");
    d->web_dir = dup_or(shop_config_get(env->cfg, "analytics.web.dir"), "web/dashboard");
    d->deps_dir = dup_or(shop_config_get(env->cfg, "analytics.web.deps.dir"), "");
    d->late_total = late_total;
    d->health = shop_an_health_new(shop_config_get(env->cfg, "analytics.health.workers"));
    pthread_mutex_init(&d->snap_lock, NULL);
    pthread_mutex_init(&d->query_lock, NULL);
    return d;
}

void shop_an_dash_destroy(shop_an_dash_t *d) {
    if (!d)
        return;
    shop_an_health_destroy(d->health);
    conns_close(&d->live);
    conns_close(&d->query);
    pthread_mutex_destroy(&d->snap_lock);
    pthread_mutex_destroy(&d->query_lock);
    free(d->snap);
    free(d->redis_url);
    free(d->pg_url);
    free(d->web_dir);
    free(d->deps_dir);
    free(d);
}

/* The Redis connection of `c`, (re)connected with a short timeout; NULL when down. */
static redisContext *redis_conn(shop_an_dash_t *d, conns_t *c) {
    if (c->redis && !c->redis->err)
        return c->redis;
    if (c->redis)
        redisFree(c->redis);
    c->redis = NULL;
    char host[256] = "127.0.0.1";
    int port = 6379, db = 0;
    const char *u = d->redis_url;
    if (!strncmp(u, "redis://", 8))
        u += 8;
    const char *at = strrchr(u, '@');
    if (at)
        u = at + 1;
    sscanf(u, "%255[^:/]:%d/%d", host, &port, &db);
    struct timeval tv = {0, 500000};
    redisContext *r = redisConnectWithTimeout(host, port, tv);
    if (!r || r->err) {
        if (r)
            redisFree(r);
        return NULL;
    }
    redisSetTimeout(r, tv);
    if (db) {
        redisReply *rep = redisCommand(r, "SELECT %d", db);
        if (rep)
            freeReplyObject(rep);
    }
    return c->redis = r;
}

static PGconn *pg_conn(shop_an_dash_t *d, conns_t *c) {
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
        return c->pg;
    if (c->pg)
        PQfinish(c->pg);
    char opts[160];
    snprintf(opts, sizeof(opts), "-c statement_timeout=2000 -c search_path=%s", d->schema);
    const char *keys[] = {"dbname", "options", "connect_timeout", NULL};
    const char *vals[] = {d->pg_url, opts, "2", NULL};
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    return c->pg;
}

/* pg_conn, and a round trip to be sure (a server that went away leaves CONNECTION_OK until the
 * next query); NULL when down. */
static PGconn *pg_alive(shop_an_dash_t *d, conns_t *c) {
    PGconn *pg = pg_conn(d, c);
    if (!pg)
        return NULL;
    PGresult *r = PQexec(pg, "SELECT 1");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (ok)
        return pg;
    PQfinish(pg);
    c->pg = NULL;
    return pg_conn(d, c); /* a restarted server answers a new connection */
}

/* ---- Redis reads (each returns NULL/0 and marks the connection broken on an error) ---- */

static redisReply *cmd(redisContext *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r, fmt, ap);
    va_end(ap);
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

static json_t *hash_json(redisContext *r, const char *key) {
    redisReply *rep = cmd(r, "HGETALL %s", key);
    json_t *o = json_object();
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2)
        json_object_set_new(o, rep->element[i]->str,
                            json_integer(strtoll(rep->element[i + 1]->str, NULL, 10)));
    if (rep)
        freeReplyObject(rep);
    return o;
}

static long long int_reply(redisContext *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r, fmt, ap);
    va_end(ap);
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    if (rep)
        freeReplyObject(rep);
    return v;
}

/* PFCOUNT over the day keys of the `days` days ending with `day_ms` (a union: DAU, WAU, MAU). */
static long long users_over(shop_an_dash_t *d, redisContext *r, int64_t day_ms, int days) {
    const char *argv[32];
    size_t lens[32];
    char keys[32][160], bk[16];
    argv[0] = "PFCOUNT";
    lens[0] = 7;
    for (int i = 0; i < days && i < 31; i++) {
        shop_an_bucket_key(SHOP_AN_DAY, day_ms - (int64_t)i * 86400000, bk, sizeof(bk));
        snprintf(keys[i], sizeof(keys[i]), SHOP_KEY_AN_HLL, d->prefix, "day", bk);
        argv[i + 1] = keys[i];
        lens[i + 1] = strlen(keys[i]);
    }
    redisReply *rep = redisCommandArgv(r, days + 1, argv, lens);
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    if (rep)
        freeReplyObject(rep);
    return v;
}

static long long field(json_t *o, const char *k) {
    return json_integer_value(json_object_get(o, k));
}

/* Per-minute series of the last `n` minutes with data. */
static json_t *minutes_json(shop_an_dash_t *d, redisContext *r, int n) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_AN_MINUTES, d->prefix);
    redisReply *rep = cmd(r, "ZRANGE %s -%d -1 WITHSCORES", key, n);
    json_t *arr = json_array();
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
        snprintf(key, sizeof(key), SHOP_KEY_AN_MINUTE, d->prefix, rep->element[i]->str);
        json_t *m = hash_json(r, key);
        char hk[256];
        snprintf(hk, sizeof(hk), SHOP_KEY_AN_HLL, d->prefix, "min", rep->element[i]->str);
        json_object_set_new(m, "users", json_integer(int_reply(r, "PFCOUNT %s", hk)));
        json_object_set_new(m, "minute", json_string(rep->element[i]->str));
        json_object_set_new(m, "t", json_integer(strtoll(rep->element[i + 1]->str, NULL, 10) * 60));
        json_array_append_new(arr, m);
    }
    if (rep)
        freeReplyObject(rep);
    return arr;
}

static json_t *top_products(shop_an_dash_t *d, redisContext *r, const char *day, int n) {
    char top[256], prod[256], titles[256], f[300];
    snprintf(top, sizeof(top), SHOP_KEY_AN_TOP, d->prefix, day);
    snprintf(prod, sizeof(prod), SHOP_KEY_AN_PROD, d->prefix, day);
    snprintf(titles, sizeof(titles), SHOP_KEY_AN_TITLES, d->prefix);
    redisReply *rep = cmd(r, "ZREVRANGE %s 0 %d WITHSCORES", top, n - 1);
    json_t *arr = json_array();
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
        const char *pid = rep->element[i]->str;
        json_t *p = json_pack("{sssI}", "product", pid, "units",
                              (json_int_t)strtoll(rep->element[i + 1]->str, NULL, 10));
        static const char *const what[] = {"views", "carts", "buys"};
        for (int w = 0; w < 3; w++) {
            snprintf(f, sizeof(f), "%s:%s", what[w], pid);
            redisReply *v = cmd(r, "HGET %s %s", prod, f);
            json_object_set_new(
                p, what[w],
                json_integer(v && v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : 0));
            if (v)
                freeReplyObject(v);
        }
        redisReply *t = cmd(r, "HGET %s %s", titles, pid);
        json_object_set_new(p, "title",
                            json_string(t && t->type == REDIS_REPLY_STRING ? t->str : pid));
        if (t)
            freeReplyObject(t);
        json_array_append_new(arr, p);
    }
    if (rep)
        freeReplyObject(rep);
    return arr;
}

static json_t *zset_json(redisContext *r, const char *key, int n) {
    redisReply *rep = cmd(r, "ZREVRANGE %s 0 %d WITHSCORES", key, n - 1);
    json_t *arr = json_array();
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2)
        json_array_append_new(arr, json_pack("{sssf}", "member", rep->element[i]->str, "score",
                                             strtod(rep->element[i + 1]->str, NULL)));
    if (rep)
        freeReplyObject(rep);
    return arr;
}

/* Recent high-risk orders: the fraud worker's sorted set, when it exists, with each order's hash.
 */
static json_t *fraud_json(shop_an_dash_t *d, redisContext *r) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_AN_FRAUD_RECENT, d->prefix);
    json_t *arr = zset_json(r, key, 10), *v;
    size_t i;
    json_array_foreach(arr, i, v) {
        snprintf(key, sizeof(key), "%sfraud:order:%s", d->prefix,
                 json_string_value(json_object_get(v, "member")));
        redisReply *rep = cmd(r, "HMGET %s score level reasons", key);
        static const char *const names[] = {"score", "level", "reasons"};
        for (size_t k = 0; rep && rep->type == REDIS_REPLY_ARRAY && k < rep->elements && k < 3; k++)
            if (rep->element[k]->type == REDIS_REPLY_STRING)
                json_object_set_new(v, names[k], json_string(rep->element[k]->str));
        if (rep)
            freeReplyObject(rep);
    }
    return arr;
}

/* Conversion per A/B variant and for visual search: day sets intersected with the buyers. */
static json_t *cohorts_json(shop_an_dash_t *d, redisContext *r, json_t *day, const char *dk) {
    char buyers[256], set[256];
    snprintf(buyers, sizeof(buyers), SHOP_KEY_AN_SET, d->prefix, "buyers", dk);
    json_t *ab = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(day, k, v) {
        if (strncmp(k, "ab_views:", 9))
            continue;
        char kind[80], carts[96];
        snprintf(kind, sizeof(kind), "ab:%s", k + 9);
        snprintf(set, sizeof(set), SHOP_KEY_AN_SET, d->prefix, kind, dk);
        snprintf(carts, sizeof(carts), "ab_carts:%s", k + 9);
        json_array_append_new(ab,
                              json_pack("{sssIsIsIsI}", "variant", k + 9, "users",
                                        (json_int_t)int_reply(r, "SCARD %s", set), "buyers",
                                        (json_int_t)int_reply(r, "SINTERCARD 2 %s %s", set, buyers),
                                        "views", (json_int_t)json_integer_value(v), "carts",
                                        (json_int_t)field(day, carts)));
    }
    snprintf(set, sizeof(set), SHOP_KEY_AN_SET, d->prefix, "visual", dk);
    json_t *visual = json_pack("{sIsIsIsI}", "searches", (json_int_t)field(day, "visual_searches"),
                               "matched", (json_int_t)field(day, "visual_matched"), "users",
                               (json_int_t)int_reply(r, "SCARD %s", set), "buyers",
                               (json_int_t)int_reply(r, "SINTERCARD 2 %s %s", set, buyers));
    return json_pack("{soso}", "ab", ab, "visual", visual);
}

/* The live snapshot: everything the dashboard shows, from Redis (event time: "now" is the latest
 * minute with data). */
static json_t *live_json(shop_an_dash_t *d, conns_t *c) {
    json_t *out = json_object();
    redisContext *r = redis_conn(d, c);
    PGconn *pg = pg_alive(d, c);
    json_object_set_new(
        out, "status",
        json_pack("{ssss}", "redis", r ? "up" : "down", "postgresql", pg ? "up" : "down"));
    json_object_set_new(out, "sse",
                        json_pack("{sisI}", "open", atomic_load(&d->sse_open), "opened",
                                  (json_int_t)atomic_load(&d->sse_opened)));
    json_object_set_new(out, "late_seen", json_integer(atomic_load(d->late_total)));
    json_object_set_new(out, "health", shop_an_health_snapshot(d->health));
    if (!r)
        return out;
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_AN_TOTAL, d->prefix);
    json_object_set_new(out, "total", hash_json(r, key));
    json_t *mins = minutes_json(d, r, 60);
    json_object_set_new(out, "minutes", mins);
    json_t *last = json_array_get(mins, json_array_size(mins) - 1);
    int64_t now_ms = last ? json_integer_value(json_object_get(last, "t")) * 1000 : 0;
    char dk[16], hk[16];
    shop_an_bucket_key(SHOP_AN_DAY, now_ms, dk, sizeof(dk));
    shop_an_bucket_key(SHOP_AN_HOUR, now_ms, hk, sizeof(hk));
    snprintf(key, sizeof(key), SHOP_KEY_AN_DAY, d->prefix, dk);
    json_t *day = hash_json(r, key);
    snprintf(key, sizeof(key), SHOP_KEY_AN_HLL, d->prefix, "hour", hk);
    long long hour_users = int_reply(r, "PFCOUNT %s", key);
    json_object_set_new(out, "day_key", json_string(dk));
    json_object_set_new(out, "now_ms", json_integer(now_ms));
    json_object_set_new(
        out, "active",
        json_pack("{sIsIsIsIsI}", "minute", (json_int_t)(last ? field(last, "users") : 0), "hour",
                  (json_int_t)hour_users, "dau", (json_int_t)users_over(d, r, now_ms, 1), "wau",
                  (json_int_t)users_over(d, r, now_ms, 7), "mau",
                  (json_int_t)users_over(d, r, now_ms, 30)));
    json_object_set_new(out, "cohorts", cohorts_json(d, r, day, dk));
    json_object_set_new(out, "day", day);
    json_object_set_new(out, "top_products", top_products(d, r, dk, 10));
    snprintf(key, sizeof(key), "%strend:1h", d->prefix);
    json_object_set_new(out, "trending", zset_json(r, key, 10));
    json_object_set_new(out, "fraud", fraud_json(d, r));
    if (r->err) /* broken mid-way: report down, reconnect next time */
        json_object_set_new(out, "status",
                            json_pack("{ssss}", "redis", "down", "postgresql", pg ? "up" : "down"));
    return out;
}

/* ---- PostgreSQL rollups: /api/stats and `shopstream query stats --by` ---- */

static int stats_fail(json_t **out, int status, const char *msg) {
    *out = json_pack("{ss}", "error", msg);
    return status;
}

int shop_an_stats_query(PGconn *pg, const char *by, int64_t from_ms, int64_t to_ms, json_t **out) {
    if (!by || (strcmp(by, "minute") && strcmp(by, "hour") && strcmp(by, "day")))
        return stats_fail(out, 400, "by must be minute, hour or day");
    if (!pg)
        return stats_fail(out, 503, "postgresql is down");
    char f[24], t[24];
    snprintf(f, sizeof(f), "%lld", (long long)from_ms);
    snprintf(t, sizeof(t), "%lld", (long long)to_ms);
    const char *params[3] = {by, from_ms == INT64_MIN ? NULL : f, to_ms == INT64_MAX ? NULL : t};
    PGresult *res =
        PQexecParams(pg,
                     "SELECT (extract(epoch FROM bucket) * 1000)::bigint, metric, dim, value FROM "
                     "analytics_rollup WHERE grain = $1 AND metric NOT LIKE 'p\\_%' "
                     "AND ($2::bigint IS NULL OR bucket >= to_timestamp($2::bigint / 1000.0)) "
                     "AND ($3::bigint IS NULL OR bucket < to_timestamp($3::bigint / 1000.0)) "
                     "ORDER BY bucket, metric, dim",
                     3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int status = PQstatus(pg) == CONNECTION_OK ? 500 : 503;
        char msg[512];
        snprintf(msg, sizeof(msg), "postgresql: %s", PQresultErrorMessage(res));
        msg[strcspn(msg, "\n")] = 0;
        PQclear(res);
        return stats_fail(out, status, msg);
    }
    json_t *buckets = json_array(), *total = json_object(), *cur = NULL;
    long long cur_t = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        long long bt = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (!cur || bt != cur_t) {
            cur = json_pack("{sI}", "bucket_ms", (json_int_t)bt);
            json_array_append_new(buckets, cur);
            cur_t = bt;
        }
        char name[300];
        const char *dim = PQgetvalue(res, i, 2);
        snprintf(name, sizeof(name), dim[0] ? "%s:%s" : "%s", PQgetvalue(res, i, 1), dim);
        long long v = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        json_object_set_new(cur, name, json_integer(v));
        json_object_set_new(total, name,
                            json_integer(json_integer_value(json_object_get(total, name)) + v));
    }
    PQclear(res);
    *out = json_pack("{sssoso}", "by", by, "buckets", buckets, "total", total);
    json_object_set_new(*out, "from_ms",
                        from_ms == INT64_MIN ? json_null() : json_integer(from_ms));
    json_object_set_new(*out, "to_ms", to_ms == INT64_MAX ? json_null() : json_integer(to_ms));
    return 200;
}

/* /api/stats?by=minute|hour|day&from=T&to=T (T: epoch ms or RFC 3339; [from, to)). */
static int stats_route(shop_an_dash_t *d, const char *by, const char *from, const char *to,
                       json_t **out) {
    int64_t f = INT64_MIN, t = INT64_MAX;
    if (from && shop_parse_time_ms(from, &f))
        return stats_fail(out, 400, "from: expected epoch ms or RFC 3339");
    if (to && shop_parse_time_ms(to, &t))
        return stats_fail(out, 400, "to: expected epoch ms or RFC 3339");
    pthread_mutex_lock(&d->query_lock);
    int status = shop_an_stats_query(pg_conn(d, &d->query), by ? by : "minute", f, t, out);
    if (status == 503 && d->query.pg) { /* broken mid-way: reconnect next time */
        PQfinish(d->query.pg);
        d->query.pg = NULL;
    }
    pthread_mutex_unlock(&d->query_lock);
    return status;
}

/* ---- the shared snapshot and the Server-Sent Events stream ---- */

/* The current snapshot (rebuilt when older than SNAP_MAX_AGE_US): a copy of its text (caller
 * frees), its change generation and its build number. */
static char *snapshot(shop_an_dash_t *d, long long *gen, long long *seq) {
    pthread_mutex_lock(&d->snap_lock);
    int64_t now = shop_mono_us();
    if (!d->snap || now - d->snap_us >= SNAP_MAX_AGE_US) {
        json_t *o = live_json(d, &d->live);
        char *txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(o);
        if (txt && (!d->snap || strcmp(txt, d->snap))) {
            free(d->snap);
            d->snap = txt;
            d->gen++;
        } else {
            free(txt);
        }
        d->seq++;
        d->snap_us = shop_mono_us();
    }
    char *copy = shop_xstrdup(d->snap ? d->snap : "{}");
    *gen = d->gen;
    *seq = d->seq;
    pthread_mutex_unlock(&d->snap_lock);
    return copy;
}

/* `{...snapshot}` with extra members in front: `{"seq":N,<extra>...}`. */
static void put_snapshot(shop_buf_t *out, const char *snap, long long seq, const char *extra) {
    shop_buf_printf(out, "{\"seq\":%lld%s", seq, extra);
    if (snap[0] == '{' && snap[1] && snap[1] != '}')
        shop_buf_printf(out, ",%s", snap + 1);
    else
        shop_buf_puts(out, "}");
}

typedef struct sse {
    shop_an_dash_t *d;
    long long id;       /* this stream's number (sse_opened when it opened) */
    long long messages; /* data messages sent */
    long long gen;      /* generation of the last snapshot sent */
} sse_t;

static int sse_next(void *opaque, shop_buf_t *out) {
    sse_t *s = opaque;
    long long gen, seq;
    char *snap = snapshot(s->d, &gen, &seq);
    if (!s->messages)
        shop_buf_printf(out, "retry: %d\n\n", SSE_RETRY_MS);
    if (!s->messages || gen != s->gen) {
        char extra[96];
        snprintf(extra, sizeof(extra), ",\"stream\":{\"id\":%lld,\"message\":%lld}", s->id,
                 s->messages + 1);
        shop_buf_printf(out, "id: %lld\ndata: ", seq);
        put_snapshot(out, snap, seq, extra);
        shop_buf_puts(out, "\n\n");
        s->messages++;
        s->gen = gen;
    } else {
        shop_buf_puts(out, ": keep-alive\n\n");
    }
    free(snap);
    return 0;
}

static void sse_free(void *opaque) {
    sse_t *s = opaque;
    atomic_fetch_sub(&s->d->sse_open, 1);
    free(s);
}

/* ---- static files ---- */

static int send_file(const char *dir, const char *name, shop_buf_t *body, const char **type) {
    if (!*dir || strstr(name, "..") || name[0] == '/')
        return 404;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 404;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        shop_buf_append(body, chunk, n);
    fclose(fp);
    const char *dot = strrchr(name, '.');
    *type = !dot                    ? "application/octet-stream"
            : !strcmp(dot, ".html") ? "text/html; charset=utf-8"
            : !strcmp(dot, ".css")  ? "text/css; charset=utf-8"
            : !strcmp(dot, ".js")   ? "text/javascript; charset=utf-8"
            : !strcmp(dot, ".svg")  ? "image/svg+xml"
                                    : "application/octet-stream";
    return 200;
}

static void dump(json_t *o, shop_buf_t *body) {
    char *s = json_dumps(o, JSON_COMPACT);
    shop_buf_puts(body, s ? s : "{}");
    free(s);
    json_decref(o);
}

int shop_an_dash_route(shop_an_dash_t *d, const char *path,
                       const char *(*query)(void *req, const char *name), void *req,
                       shop_buf_t *body, const char **content_type) {
    if (!d)
        return 404;
    if (!strcmp(path, "/") || !strcmp(path, "/index.html"))
        return send_file(d->web_dir, "index.html", body, content_type);
    if (!strncmp(path, "/static/", 8))
        return send_file(d->web_dir, path + 8, body, content_type);
    if (!strcmp(path, "/vendor/uplot.js"))
        return send_file(d->deps_dir, "uplot/dist/uPlot.iife.min.js", body, content_type);
    if (!strcmp(path, "/vendor/uplot.css"))
        return send_file(d->deps_dir, "uplot/dist/uPlot.min.css", body, content_type);
    if (!strcmp(path, "/events")) {
        sse_t *s = shop_xcalloc(1, sizeof(*s));
        s->d = d;
        s->id = atomic_fetch_add(&d->sse_opened, 1) + 1;
        atomic_fetch_add(&d->sse_open, 1);
        shop_http_respond_stream(req, &(shop_http_stream_t){.next = sse_next,
                                                            .free_fn = sse_free,
                                                            .opaque = s,
                                                            .interval_ms = SSE_INTERVAL_MS});
        *content_type = "text/event-stream";
        return 200;
    }
    if (!strcmp(path, "/api/live")) {
        long long gen, seq;
        char *snap = snapshot(d, &gen, &seq);
        put_snapshot(body, snap, seq, "");
        free(snap);
        return 200;
    }
    if (!strcmp(path, "/api/health")) {
        dump(json_pack("{so}", "workers", shop_an_health_snapshot(d->health)), body);
        return 200;
    }
    if (!strcmp(path, "/api/stats")) {
        json_t *out = NULL;
        int status = stats_route(d, query(req, "by"), query(req, "from"), query(req, "to"), &out);
        dump(out, body);
        return status;
    }
    return 404;
}
