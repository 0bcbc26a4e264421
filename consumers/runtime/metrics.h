/* metrics.h: the runtime's Prometheus metrics, safe to update from the consume thread and read
 * from the HTTP thread. */
#ifndef SHOP_METRICS_H
#define SHOP_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "shop.h"

#define SHOP_METRICS_MAX_TOPICS 16
#define SHOP_METRICS_MAX_PARTS  256
#define SHOP_FLUSH_BUCKETS      12

typedef struct {
    atomic_llong count;
    atomic_llong sum_us;
    atomic_llong buckets[SHOP_FLUSH_BUCKETS]; /* cumulative at render time */
} shop_histogram_t;

typedef struct shop_metrics {
    const char *worker;
    int ntopics;
    const char *topics[SHOP_METRICS_MAX_TOPICS];
    atomic_llong events[SHOP_METRICS_MAX_TOPICS];
    atomic_llong dlq[SHOP_METRICS_MAX_TOPICS];
    atomic_llong skipped_dupes;
    atomic_llong dup_events; /* re-sent events (same event_id) dropped by the dedupe */
    atomic_llong flush_failures[2];
    atomic_llong rewinds;
    atomic_llong gap_rereads;
    atomic_llong rebalances;
    atomic_llong refreshes;        /* derived-view recomputations that committed */
    atomic_llong refresh_failures; /* and those that failed (retried) */
    shop_histogram_t flush_latency[2];
    atomic_llong pending;
    atomic_int ready; /* 1 when sinks and broker answer */
    atomic_int sink_down[2];
    atomic_int kafka_down;
    atomic_int assigned;
    /* lag per topic/partition; -1 when not assigned */
    pthread_mutex_t lock;
    int64_t lag[SHOP_METRICS_MAX_TOPICS][SHOP_METRICS_MAX_PARTS];
} shop_metrics_t;

void shop_metrics_init(shop_metrics_t *m, const char *worker, const char *const *topics);
void shop_metrics_release(shop_metrics_t *m);
void shop_metrics_observe_flush(shop_metrics_t *m, int sink, int64_t micros);
void shop_metrics_set_lag(shop_metrics_t *m, int topic, int32_t partition, int64_t lag);
/* Renders the Prometheus text exposition format into `out`. */
void shop_metrics_render(shop_metrics_t *m, shop_buf_t *out);

#endif
