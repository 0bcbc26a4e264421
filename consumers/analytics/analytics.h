/* analytics.h: the analytics worker's pure computation: shop metrics per event-time minute, hour
 * and day (orders, revenue, refunds, funnel, users, points, visual search, stock-outs, A/B
 * variants), with per-partition watermarks and an allowed lateness, accumulated per sink until the
 * runtime flushes. */
#ifndef SHOP_ANALYTICS_H
#define SHOP_ANALYTICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "worker.h"

/* ---- the legacy per-minute, per-currency rows (analytics_minute, an:min:*, an:total) ---- */

typedef struct shop_an_row {
    int64_t minute_ms; /* start of the event-time minute, UTC */
    char currency[4];
    int64_t orders, revenue_minor, items, refunds, refund_minor;
} shop_an_row_t;

/* Rows keyed by (minute, currency), open addressing. Caller-owned: _init/_release. */
typedef struct shop_an_table {
    shop_an_row_t *rows;
    size_t n, cap;
    int32_t *slots; /* index into rows, -1 empty */
    size_t nslots;
} shop_an_table_t;

void shop_an_table_init(shop_an_table_t *t);
void shop_an_table_release(shop_an_table_t *t);
void shop_an_table_clear(shop_an_table_t *t);
/* Returns the row for (minute, currency), created zeroed when absent; borrowed. */
shop_an_row_t *shop_an_table_get(shop_an_table_t *t, int64_t minute_ms, const char *currency);

/* ---- cells: one counter (or set member) of one metric in one bucket ---- */

typedef enum {
    SHOP_AN_MINUTE = 0,
    SHOP_AN_HOUR,
    SHOP_AN_DAY,
    SHOP_AN_TOTAL, /* all time: bucket 0 */
    SHOP_AN_GRAINS
} shop_an_grain_t;

typedef enum {
    SHOP_AN_COUNT = 0, /* value adds up */
    SHOP_AN_HLL,       /* dim is a user id: Redis PFADD only */
    SHOP_AN_SET,       /* dim is a user id: a day's exact set (Redis SADD, analytics_day_users) */
} shop_an_kind_t;

typedef struct shop_an_cell {
    int64_t bucket_ms; /* bucket start (0 for SHOP_AN_TOTAL) */
    uint8_t grain, kind;
    char *metric; /* heap, owned by the table */
    char *dim;    /* heap, owned by the table; "" when none */
    int64_t value;
} shop_an_cell_t;

/* Cells keyed by (grain, kind, bucket, metric, dim), open addressing; also used as a plain map by
 * the partition state (bucket = partition). Caller-owned: _init/_release. */
typedef struct shop_an_cells {
    shop_an_cell_t *cells;
    size_t n, cap;
    int32_t *slots;
    size_t nslots;
} shop_an_cells_t;

void shop_an_cells_init(shop_an_cells_t *t);
void shop_an_cells_release(shop_an_cells_t *t);
void shop_an_cells_clear(shop_an_cells_t *t);
/* Returns the cell, created with value 0 when absent (strings copied); borrowed. */
shop_an_cell_t *shop_an_cells_get(shop_an_cells_t *t, int grain, int kind, int64_t bucket_ms,
                                  const char *metric, const char *dim);
/* The cell or NULL; borrowed. */
shop_an_cell_t *shop_an_cells_find(const shop_an_cells_t *t, int grain, int kind, int64_t bucket_ms,
                                   const char *metric, const char *dim);

/* Start of the bucket of `ms` in `grain` (UTC). */
int64_t shop_an_bucket(int grain, int64_t ms);
/* The bucket as text: YYYYMMDDHHMM, YYYYMMDDHH, YYYYMMDD or "all"; buf >= 16 bytes. */
const char *shop_an_bucket_key(int grain, int64_t bucket_ms, char *buf, size_t size);
/* Formats a minute as YYYYMMDDHHMM into buf (>= 13 bytes). */
const char *shop_an_minute_key(int64_t minute_ms, char *buf, size_t size);
/* 1 when `code` is an active ISO 4217 currency code. */
int shop_an_currency_known(const char *code);

/* ---- the worker state ---- */

#define SHOP_AN_TOPICS 5 /* order, user, search, inventory, catalog */

typedef struct shop_an_sink_state {
    shop_an_table_t rows;   /* pending legacy rows */
    shop_an_cells_t cells;  /* pending cells */
    shop_an_cells_t titles; /* pending product titles: dim = product id, metric = title */
    /* Per-partition state, kept across flushes: watermark (grain = topic index, bucket =
     * partition, value = largest event time) and open stock-outs (metric "oos", bucket =
     * partition, dim = "product\tregion", value = since ms, -1 once closed). */
    shop_an_cells_t wm, oos;
    shop_an_cells_t wm_dirty, oos_dirty; /* what changed since the last committed flush */
} shop_an_sink_state_t;

typedef struct shop_analytics_conf {
    int64_t lateness_ms;   /* events older than watermark - lateness are late: counted only */
    int64_t past_max_ms;   /* older than watermark - this: invalid */
    int64_t future_max_ms; /* newer than watermark + this: invalid */
} shop_analytics_conf_t;

typedef struct shop_analytics {
    shop_an_sink_state_t sink[SHOP_SINK_COUNT];
    shop_analytics_conf_t conf;
    char redis_prefix[128];
    int64_t ttl_s[SHOP_AN_GRAINS]; /* TTL of the Redis bucket keys per grain (0 = keep) */
    atomic_llong late_total;       /* late events seen by this process (dashboard) */
    void *dash;                    /* the dashboard's state (dashboard.c), NULL in tests */
} shop_analytics_t;

/* Initialises `a` with default configuration (lateness 5 min, past/future 90 days). */
void shop_analytics_init(shop_analytics_t *a, const char *redis_prefix);
void shop_analytics_release(shop_analytics_t *a);
/* Drops every sink's pending updates (not the partition state). */
void shop_analytics_clear_pending(shop_analytics_t *a, int sink);

/* Applies one event to the pending state of the sinks in `sinks`.
 * Returns 0, SHOP_ERR_INVALID with the reason (negative amount, unknown currency, far from the
 * partition's watermark, ...), leaving the state untouched. A late event (older than the
 * watermark minus the lateness) is counted under metric "late" only, and logged. */
int shop_analytics_apply(shop_analytics_t *a, const shop_event_t *ev, unsigned sinks, char *errstr,
                         size_t errstr_size);

/* The topics the worker reads, NULL-terminated: order, user, search, inventory, catalog. */
extern const char *const shop_an_topic_names[];

/* Index of a topic name (with or without a topic prefix) in the worker's topic list; -1. */
int shop_an_topic_index(const char *topic);

/* Partition state (state.c). Forget partitions / load them back from a sink. */
void shop_an_state_forget(shop_analytics_t *a, int sink, int topic_idx, int32_t partition);
int shop_an_state_restore(shop_analytics_t *a, const char *const *topics, const int32_t *partitions,
                          int n, struct redisContext *redis, PGconn *pg, char *errstr,
                          size_t errstr_size);

/* Sink writers (sink.c). */
void shop_an_flush_redis(shop_analytics_t *a, shop_redis_batch_t *b);
int shop_an_flush_pg(shop_analytics_t *a, PGconn *conn, char *errstr, size_t errstr_size);

extern const shop_worker_ops_t shop_worker_analytics;

#endif
