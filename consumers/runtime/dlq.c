/* dlq.c: the dead-letter topic <topic>.dlq: the original key and bytes, the reason and the source
 * position in headers; acknowledged by the broker before the offsets past it are stored. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "runtime_int.h"

/* A dead letter Kafka will not take is an event that would be lost: remembered, so that the
 * next flush refuses to store offsets past it and the worker stops (a restart retries it). */
static void dlq_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    shop_runtime_t *rt = opaque;
    if (!m->err)
        return;
    SHOP_ERROR("component=dlq msg=\"dead-letter delivery failed: %s\"", rd_kafka_err2str(m->err));
    rt->dlq_failed = 1;
}

static void dlq_conf_set(const char *key, const char *value, void *opaque) {
    char err[256];
    rd_kafka_conf_set(opaque, key, value, err, sizeof(err));
}

rd_kafka_t *shop_rt_dlq_new(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    /* The user's kafka.* keys (brokers, security settings for a managed cluster) (security settings
     * for a managed cluster, say); the consumer has already refused unknown ones, and consumer-only
     * keys are ignored by a producer. */
    shop_config_each_kafka(rt->cfg, dlq_conf_set, conf);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
    rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err));
    rd_kafka_conf_set(conf, "message.timeout.ms", "0", err, sizeof(err)); /* never give up */
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
    rd_kafka_conf_set_opaque(conf, rt);
    rd_kafka_conf_set_dr_msg_cb(conf, dlq_dr);
    rd_kafka_conf_set_log_cb(conf, shop_rt_kafka_log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk)
        rd_kafka_conf_destroy(conf);
    if (!rk)
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "dead-letter producer: %s", err);
    return rk;
}

void shop_rt_dlq_send(shop_runtime_t *rt, const rd_kafka_message_t *m, const char *reason) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    int tidx = -1;
    shop_rt_part(rt, topic, -1, 0, &tidx);
    if (tidx >= 0)
        atomic_fetch_add(&rt->metrics.dlq[tidx], 1);
    char q[600];
    SHOP_WARN("topic=%s partition=%d offset=%lld msg=%s action=%s", topic, (int)m->partition,
              (long long)m->offset, shop_log_quote(q, sizeof(q), reason),
              rt->dlq ? "dead-lettered" : "skipped (replay: counted, not dead-lettered)");
    if (!rt->dlq)
        return;
    char dtopic[300], part[16], off[24], ts[24];
    snprintf(dtopic, sizeof(dtopic), "%s.dlq", topic);
    snprintf(part, sizeof(part), "%d", (int)m->partition);
    snprintf(off, sizeof(off), "%lld", (long long)m->offset);
    snprintf(ts, sizeof(ts), "%lld", (long long)shop_now_ms());
    rd_kafka_headers_t *h = rd_kafka_headers_new(9);
    rd_kafka_header_add(h, "shop.error", -1, reason, -1);
    rd_kafka_header_add(h, "shop.error.class", -1, "invalid", -1);
    rd_kafka_header_add(h, "shop.source.topic", -1, topic, -1);
    rd_kafka_header_add(h, "shop.source.partition", -1, part, -1);
    rd_kafka_header_add(h, "shop.source.offset", -1, off, -1);
    rd_kafka_header_add(h, "shop.worker", -1, rt->ops->name, -1);
    rd_kafka_header_add(h, "shop.failed_at", -1, ts, -1);
    size_t len = m->len;
    if (rt->dlq_max_bytes > 0 && len > (size_t)rt->dlq_max_bytes) {
        /* too big for the dead-letter topic: its head, the size, and where the whole one is */
        char size[24];
        snprintf(size, sizeof(size), "%zu", m->len);
        rd_kafka_header_add(h, "shop.value.size", -1, size, -1);
        rd_kafka_header_add(h, "shop.value.truncated", -1, "true", -1);
        len = (size_t)rt->dlq_max_bytes;
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rt->dlq, RD_KAFKA_V_TOPIC(dtopic), RD_KAFKA_V_PARTITION(m->partition),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (!e)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* e.g. the .dlq topic has fewer partitions: let the partitioner choose */
            e = rd_kafka_producev(
                rt->dlq, RD_KAFKA_V_TOPIC(dtopic), RD_KAFKA_V_KEY(m->key, m->key_len),
                RD_KAFKA_V_VALUE(m->payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
            if (!e)
                break;
            SHOP_ERROR("component=dlq msg=\"cannot produce to %s: %s\"", dtopic,
                       rd_kafka_err2str(e));
            rd_kafka_headers_destroy(h);
            rt->dlq_failed = 1;
            return;
        }
        rd_kafka_poll(rt->dlq, 100);
    }
}

int shop_rt_dlq_drain(shop_runtime_t *rt, int timeout_ms, char *errstr, size_t errstr_size) {
    if (!rt->dlq)
        return SHOP_OK;
    if (rd_kafka_outq_len(rt->dlq) == 0)
        rd_kafka_poll(rt->dlq, 0); /* serves the last delivery reports */
    else
        rd_kafka_flush(rt->dlq, timeout_ms);
    if (rt->dlq_failed)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL,
                           "a dead letter could not be produced (see above); stopping without "
                           "storing offsets past it, so a restart dead-letters it again");
    if (rd_kafka_outq_len(rt->dlq) == 0)
        return SHOP_OK;
    return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                       "%d dead-letter messages not yet acknowledged by Kafka",
                       rd_kafka_outq_len(rt->dlq));
}
