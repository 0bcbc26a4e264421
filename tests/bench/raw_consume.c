/* raw_consume.c: the ceiling for the benchmarks: librdkafka consuming the same topics with the same
 * fetch settings as the runtime, messages discarded. Prints events, seconds and events/s.
 * usage: raw_consume BROKERS TOPIC... */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: raw_consume BROKERS TOPIC...\n");
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "shopstream-bench-raw", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "100", err, sizeof(err));
    rd_kafka_conf_set(conf, "queued.min.messages", "2000000", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "raw_consume: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
    long long total = 0;
    for (int t = 2; t < argc; t++) {
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[t], NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 10000)) {
            fprintf(stderr, "raw_consume: no metadata for %s\n", argv[t]);
            return 1;
        }
        for (int p = 0; p < md->topics[0].partition_cnt; p++) {
            int64_t lo, hi;
            rd_kafka_query_watermark_offsets(rk, argv[t], p, &lo, &hi, 10000);
            total += hi - lo;
            rd_kafka_topic_partition_list_add(l, argv[t], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    rd_kafka_assign(rk, l);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *msgs[2000];
    long long seen = 0, bytes = 0;
    double t0 = 0, t1 = 0, deadline = now_s() + 600;
    while (seen < total && now_s() < deadline) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, 2000);
        for (ssize_t i = 0; i < n; i++) {
            if (!msgs[i]->err) {
                seen++;
                bytes += (long long)msgs[i]->len;
            }
            rd_kafka_message_destroy(msgs[i]);
        }
        if (n > 0) {
            if (!t0)
                t0 = now_s();
            t1 = now_s();
        }
    }
    double secs = t1 - t0;
    printf("events=%lld bytes=%lld seconds=%.3f events_per_s=%.0f\n", seen, bytes, secs,
           secs > 0 ? (double)seen / secs : 0.0);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return seen == total ? 0 : 1;
}
