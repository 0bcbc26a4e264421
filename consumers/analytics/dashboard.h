/* dashboard.h: the analytics worker's HTTP side: the live dashboard (static files, Server-Sent
 * Events), JSON APIs over Redis and PostgreSQL, and the service-health scraper. */
#ifndef SHOP_AN_DASHBOARD_H
#define SHOP_AN_DASHBOARD_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "worker.h"

typedef struct shop_an_dash shop_an_dash_t;

/* Dashboard state for a worker environment; `late_total` (the worker's late-event counter) is
 * borrowed and must outlive it. Never NULL. */
shop_an_dash_t *shop_an_dash_new(const shop_worker_env_t *env, atomic_llong *late_total);
void shop_an_dash_destroy(shop_an_dash_t *d);
/* The worker's HTTP routes (see shop_http_route_fn): /, /static/..., /vendor/uplot.{js,css},
 * /events (Server-Sent Events: `retry:`, then `id: N` + `data: {snapshot}` each second when the
 * snapshot changed, else a `: keep-alive` comment; one response for as long as the client stays),
 * /api/live (the snapshot), /api/health and /api/stats. */
int shop_an_dash_route(shop_an_dash_t *d, const char *path,
                       const char *(*query)(void *req, const char *name), void *req,
                       shop_buf_t *body, const char **content_type);

/* The PostgreSQL rollups (analytics_rollup, per-product metrics left out) of grain `by`
 * ("minute", "hour" or "day") with a bucket in [from_ms, to_ms) (INT64_MIN, INT64_MAX: open), on
 * a connection whose search_path is the namespace's schema. Sets `*out` (new reference) to
 * {"by", "from_ms", "to_ms" (null when open), "buckets": [{"bucket_ms": T, "<metric>[:<dim>]": n,
 * ...}], "total": {"<metric>[:<dim>]": sum over the buckets}} and returns 200, or to {"error"}
 * and returns 400 (bad grain), 500 (SQL error) or 503 (PostgreSQL down; `pg` may be NULL). The
 * query behind both /api/stats and `shopstream query stats --by`. */
int shop_an_stats_query(PGconn *pg, const char *by, int64_t from_ms, int64_t to_ms, json_t **out);

/* ---- health.c: every worker's /metrics, scraped once a second on a thread of its own ---- */

typedef struct shop_an_health shop_an_health_t;

/* `workers` is "name=URL,name=URL"; the scraper thread starts on the first snapshot call. */
shop_an_health_t *shop_an_health_new(const char *workers);
void shop_an_health_destroy(shop_an_health_t *h);
/* The latest scrape as JSON (new reference, caller owns it). */
json_t *shop_an_health_snapshot(shop_an_health_t *h);
/* Parses one Prometheus text exposition into the health JSON of one worker (new reference);
 * `prev` (may be NULL) is the previous result, for rates over `dt_s` seconds. */
json_t *shop_an_health_parse(const char *name, const char *text, const json_t *prev, double dt_s);

#endif
