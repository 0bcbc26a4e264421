/* worker.c: the analytics worker's registration with the runtime: topics, configuration, and the
 * hooks that tie the computation (analytics.c), the sinks (sink.c), the partition state (state.c)
 * and the dashboard (dashboard.c) together. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "dashboard.h"

#ifndef SHOP_SOURCE_DIR
#define SHOP_SOURCE_DIR "."
#endif

static const shop_conf_def_t conf[] = {
    {"analytics.minute.ttl.s", SHOP_CONF_INT, "604800",
     "TTL of the per-minute Redis keys (0 = keep)"},
    {"analytics.hour.ttl.s", SHOP_CONF_INT, "2764800", "TTL of the per-hour Redis keys (0 = keep)"},
    {"analytics.day.ttl.s", SHOP_CONF_INT, "34560000",
     "TTL of the per-day Redis keys, user sets and HyperLogLogs (0 = keep; MAU needs 30 days)"},
    {"analytics.lateness.s", SHOP_CONF_INT, "300",
     "allowed lateness: events older than the partition's watermark minus this are counted as "
     "late, not in the rollups"},
    {"analytics.past.max.s", SHOP_CONF_INT, "7776000",
     "events older than the partition's watermark minus this are invalid (dead-lettered)"},
    {"analytics.future.max.s", SHOP_CONF_INT, "7776000",
     "events newer than the partition's watermark plus this are invalid (dead-lettered)"},
    {"analytics.web.dir", SHOP_CONF_STRING, SHOP_SOURCE_DIR "/web/dashboard",
     "the dashboard's HTML, CSS and JavaScript"},
    {"analytics.web.deps.dir", SHOP_CONF_STRING, SHOP_SOURCE_DIR "/build/web-deps/node_modules",
     "npm packages installed by deploy/web-deps.sh (uPlot)"},
    {"analytics.health.workers", SHOP_CONF_STRING,
     "analytics=http://127.0.0.1:9401,search=http://127.0.0.1:9402,"
     "fraud=http://127.0.0.1:9403,recommend=http://127.0.0.1:9404,"
     "notify=http://127.0.0.1:9405",
     "name=URL list of the workers whose /metrics the dashboard shows"},
    {NULL, 0, NULL, NULL},
};

static void *create(const shop_worker_env_t *env, char *errstr, size_t errstr_size) {
    (void)errstr;
    (void)errstr_size;
    shop_analytics_t *a = shop_xcalloc(1, sizeof(*a));
    shop_analytics_init(a, env->redis_prefix);
    const shop_config_t *cfg = env->cfg;
    a->ttl_s[SHOP_AN_MINUTE] = shop_config_get_int(cfg, "analytics.minute.ttl.s");
    a->ttl_s[SHOP_AN_HOUR] = shop_config_get_int(cfg, "analytics.hour.ttl.s");
    a->ttl_s[SHOP_AN_DAY] = shop_config_get_int(cfg, "analytics.day.ttl.s");
    a->conf.lateness_ms = shop_config_get_int(cfg, "analytics.lateness.s") * 1000;
    a->conf.past_max_ms = shop_config_get_int(cfg, "analytics.past.max.s") * 1000;
    a->conf.future_max_ms = shop_config_get_int(cfg, "analytics.future.max.s") * 1000;
    if (a->conf.past_max_ms < a->conf.lateness_ms)
        a->conf.past_max_ms = a->conf.lateness_ms;
    a->dash = shop_an_dash_new(env, &a->late_total);
    return a;
}

static void destroy(void *w) {
    shop_analytics_t *a = w;
    if (!a)
        return;
    shop_an_dash_destroy(a->dash);
    shop_analytics_release(a);
    free(a);
}

static int process(void *w, const shop_event_t *ev, unsigned sinks, char *errstr,
                   size_t errstr_size) {
    return shop_analytics_apply(w, ev, sinks, errstr, errstr_size);
}

static void flush_redis(void *w, shop_redis_batch_t *b) {
    shop_an_flush_redis(w, b);
}

static int flush_pg(void *w, PGconn *conn, char *errstr, size_t errstr_size) {
    return shop_an_flush_pg(w, conn, errstr, errstr_size);
}

static void flushed(void *w, int sink) {
    shop_analytics_clear_pending(w, sink);
}

static void discard(void *w) {
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        shop_analytics_clear_pending(w, s);
}

static size_t pending(void *w) {
    shop_analytics_t *a = w;
    size_t n = 0;
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        n += a->sink[s].cells.n + a->sink[s].titles.n + a->sink[s].rows.n;
    return n;
}

static int restore(void *w, const char *const *topics, const int32_t *partitions, int n,
                   struct redisContext *redis, PGconn *pg, char *errstr, size_t errstr_size) {
    return shop_an_state_restore(w, topics, partitions, n, redis, pg, errstr, errstr_size);
}

static void release(void *w, const char *topic, int32_t partition) {
    int tidx = shop_an_topic_index(topic);
    if (tidx >= 0)
        for (int s = 0; s < SHOP_SINK_COUNT; s++)
            shop_an_state_forget(w, s, tidx, partition);
}

static int route(void *opaque, const char *path, const char *(*query)(void *req, const char *name),
                 void *req, shop_buf_t *body, const char **content_type) {
    shop_analytics_t *a = opaque;
    return shop_an_dash_route(a->dash, path, query, req, body, content_type);
}

const shop_worker_ops_t shop_worker_analytics = {
    .name = "analytics",
    .description = "shop metrics per event-time minute, hour and day; live dashboard on its port",
    .topics = shop_an_topic_names,
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
    .restore = restore,
    .release = release,
    .route = route,
};
