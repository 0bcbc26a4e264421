/* analytics.h: the analytics worker's pure computation: orders, revenue, items and refunds per
 * event-time minute and currency, accumulated per sink until the runtime flushes. */
#ifndef SHOP_ANALYTICS_H
#define SHOP_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "worker.h"

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

typedef struct shop_analytics {
    shop_an_table_t pend[SHOP_SINK_COUNT];
    char redis_prefix[128];
    int64_t ttl_s;
} shop_analytics_t;

/* Applies one event to the pending tables of the sinks in `sinks`.
 * Returns 0, or SHOP_ERR_INVALID with the reason (negative amount, bad currency, ...). */
int shop_analytics_apply(shop_analytics_t *a, const shop_event_t *ev, unsigned sinks, char *errstr,
                         size_t errstr_size);

/* Formats a minute as YYYYMMDDHHMM into buf (>= 13 bytes). */
const char *shop_an_minute_key(int64_t minute_ms, char *buf, size_t size);

extern const shop_worker_ops_t shop_worker_analytics;

#endif
