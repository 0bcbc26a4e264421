/* metrics.c: counters, the flush latency histogram and lag, rendered as Prometheus text. */
#include "metrics.h"

#include <string.h>

#include "worker.h"

static const double bucket_le_s[SHOP_FLUSH_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,   0.25,   0.5,   1,    2.5,   5};
static const char *sink_names[2] = {"redis", "postgresql"};

void shop_metrics_init(shop_metrics_t *m, const char *worker, const char *const *topics) {
    memset(m, 0, sizeof(*m));
    m->worker = worker;
    for (int i = 0; topics && topics[i] && i < SHOP_METRICS_MAX_TOPICS; i++)
        m->topics[m->ntopics++] = topics[i];
    pthread_mutex_init(&m->lock, NULL);
    for (int t = 0; t < SHOP_METRICS_MAX_TOPICS; t++)
        for (int p = 0; p < SHOP_METRICS_MAX_PARTS; p++)
            m->lag[t][p] = -1;
}

void shop_metrics_release(shop_metrics_t *m) {
    pthread_mutex_destroy(&m->lock);
}

void shop_metrics_observe_flush(shop_metrics_t *m, int sink, int64_t micros) {
    shop_histogram_t *h = &m->flush_latency[sink];
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, micros);
    for (int i = 0; i < SHOP_FLUSH_BUCKETS; i++)
        if ((double)micros <= bucket_le_s[i] * 1e6) {
            atomic_fetch_add(&h->buckets[i], 1);
            break;
        }
}

void shop_metrics_set_lag(shop_metrics_t *m, int topic, int32_t partition, int64_t lag) {
    if (topic < 0 || topic >= SHOP_METRICS_MAX_TOPICS || partition < 0 ||
        partition >= SHOP_METRICS_MAX_PARTS)
        return;
    pthread_mutex_lock(&m->lock);
    m->lag[topic][partition] = lag;
    pthread_mutex_unlock(&m->lock);
}

static void counter(shop_buf_t *o, const char *name, const char *help) {
    shop_buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

static void gauge(shop_buf_t *o, const char *name, const char *help) {
    shop_buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void render_histograms(shop_metrics_t *m, shop_buf_t *o) {
    shop_buf_puts(o,
                  "# HELP shopstream_flush_seconds Time to commit one flush (results + offsets).\n"
                  "# TYPE shopstream_flush_seconds histogram\n");
    for (int s = 0; s < 2; s++) {
        long long cum = 0;
        for (int i = 0; i < SHOP_FLUSH_BUCKETS; i++) {
            cum += atomic_load(&m->flush_latency[s].buckets[i]);
            shop_buf_printf(
                o, "shopstream_flush_seconds_bucket{worker=\"%s\",sink=\"%s\",le=\"%g\"} %lld\n",
                m->worker, sink_names[s], bucket_le_s[i], cum);
        }
        long long n = atomic_load(&m->flush_latency[s].count);
        shop_buf_printf(
            o, "shopstream_flush_seconds_bucket{worker=\"%s\",sink=\"%s\",le=\"+Inf\"} %lld\n",
            m->worker, sink_names[s], n);
        shop_buf_printf(o, "shopstream_flush_seconds_sum{worker=\"%s\",sink=\"%s\"} %.6f\n",
                        m->worker, sink_names[s],
                        (double)atomic_load(&m->flush_latency[s].sum_us) / 1e6);
        shop_buf_printf(o, "shopstream_flush_seconds_count{worker=\"%s\",sink=\"%s\"} %lld\n",
                        m->worker, sink_names[s], n);
    }
}

void shop_metrics_render(shop_metrics_t *m, shop_buf_t *o) {
    counter(o, "shopstream_events_total", "Events consumed and processed, by topic.");
    for (int t = 0; t < m->ntopics; t++)
        shop_buf_printf(o, "shopstream_events_total{worker=\"%s\",topic=\"%s\"} %lld\n", m->worker,
                        m->topics[t], atomic_load(&m->events[t]));
    counter(o, "shopstream_dlq_total", "Events sent to the dead-letter topic, by source topic.");
    for (int t = 0; t < m->ntopics; t++)
        shop_buf_printf(o, "shopstream_dlq_total{worker=\"%s\",topic=\"%s\"} %lld\n", m->worker,
                        m->topics[t], atomic_load(&m->dlq[t]));
    counter(o, "shopstream_flush_failures_total", "Flushes that failed and were retried, by sink.");
    for (int s = 0; s < 2; s++)
        shop_buf_printf(o, "shopstream_flush_failures_total{worker=\"%s\",sink=\"%s\"} %lld\n",
                        m->worker, sink_names[s], atomic_load(&m->flush_failures[s]));
    counter(o, "shopstream_duplicates_skipped_total",
            "Messages below the next expected offset (already processed), skipped.");
    shop_buf_printf(o, "shopstream_duplicates_skipped_total{worker=\"%s\"} %lld\n", m->worker,
                    atomic_load(&m->skipped_dupes));
    counter(o, "shopstream_duplicate_events_total",
            "Events whose event_id was already processed in their partition (re-sent), dropped.");
    shop_buf_printf(o, "shopstream_duplicate_events_total{worker=\"%s\"} %lld\n", m->worker,
                    atomic_load(&m->dup_events));
    counter(o, "shopstream_rewinds_total", "Rewinds to the stored offsets after a lost flush.");
    shop_buf_printf(o, "shopstream_rewinds_total{worker=\"%s\"} %lld\n", m->worker,
                    atomic_load(&m->rewinds));
    counter(o, "shopstream_gap_rereads_total", "Offset gaps re-read from the expected offset.");
    shop_buf_printf(o, "shopstream_gap_rereads_total{worker=\"%s\"} %lld\n", m->worker,
                    atomic_load(&m->gap_rereads));
    counter(o, "shopstream_rebalances_total", "Partition assignment changes.");
    shop_buf_printf(o, "shopstream_rebalances_total{worker=\"%s\"} %lld\n", m->worker,
                    atomic_load(&m->rebalances));
    counter(o, "shopstream_refreshes_total", "Recomputations of the derived views, by result.");
    shop_buf_printf(o, "shopstream_refreshes_total{worker=\"%s\",result=\"ok\"} %lld\n", m->worker,
                    atomic_load(&m->refreshes));
    shop_buf_printf(o, "shopstream_refreshes_total{worker=\"%s\",result=\"failed\"} %lld\n",
                    m->worker, atomic_load(&m->refresh_failures));
    render_histograms(m, o);
    gauge(o, "shopstream_state_pending", "Pending state entries not yet flushed.");
    shop_buf_printf(o, "shopstream_state_pending{worker=\"%s\"} %lld\n", m->worker,
                    atomic_load(&m->pending));
    gauge(o, "shopstream_ready", "1 when Kafka, Redis and PostgreSQL answer.");
    shop_buf_printf(o, "shopstream_ready{worker=\"%s\"} %d\n", m->worker, atomic_load(&m->ready));
    gauge(o, "shopstream_sink_up", "1 when the sink answers.");
    for (int s = 0; s < 2; s++)
        shop_buf_printf(o, "shopstream_sink_up{worker=\"%s\",sink=\"%s\"} %d\n", m->worker,
                        sink_names[s], !atomic_load(&m->sink_down[s]));
    gauge(o, "shopstream_assigned_partitions", "Partitions assigned to this instance.");
    shop_buf_printf(o, "shopstream_assigned_partitions{worker=\"%s\"} %d\n", m->worker,
                    atomic_load(&m->assigned));
    gauge(o, "shopstream_consumer_lag", "Messages behind the high watermark, by partition.");
    pthread_mutex_lock(&m->lock);
    for (int t = 0; t < m->ntopics; t++)
        for (int p = 0; p < SHOP_METRICS_MAX_PARTS; p++)
            if (m->lag[t][p] >= 0)
                shop_buf_printf(
                    o,
                    "shopstream_consumer_lag{worker=\"%s\",topic=\"%s\",partition=\"%d\"} %lld\n",
                    m->worker, m->topics[t], p, (long long)m->lag[t][p]);
    pthread_mutex_unlock(&m->lock);
}
