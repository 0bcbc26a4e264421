/* shop_producer.h: the producer library apps link: validate an event against its schema, encode it
 * (Avro single-object, or Confluent framing with a schema registry) and produce it to its topic,
 * keyed by user_id or product_id, with delivery reports. */
#ifndef SHOP_PRODUCER_H
#define SHOP_PRODUCER_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "shop.h"
#include "shop_codec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shop_producer shop_producer_t;
typedef struct shop_producer_conf shop_producer_conf_t;

/* The outcome of one message, handed to the report callback. Every pointer is borrowed and valid
 * only during the callback. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset; /* -1 when the message failed */
    const void *key;
    size_t key_len;
    int err;            /* 0, SHOP_ERR_RETRYABLE (timed out, brokers down: produce it again later),
                         * SHOP_ERR_INVALID (the broker will never take it, e.g. too large) or
                         * SHOP_ERR_FATAL (the idempotent producer hit a fatal error) */
    const char *errstr; /* "" on success */
    void *msg_opaque;   /* as passed to shop_producer_emit_encoded(), else NULL */
} shop_producer_report_t;

typedef void(shop_producer_report_cb_t)(const shop_producer_report_t *report, void *opaque);

/* ---- configuration ---- */

/* A configuration with shopstream's defaults: enable.idempotence=true, acks=all,
 * partitioner=murmur2_random (Java-compatible partitions), compression.codec=lz4, linger.ms=50,
 * batch.num.messages=50000, queue.buffering.max.messages=500000. Caller destroys it with
 * shop_producer_conf_destroy(); shop_producer_new() copies what it needs. */
shop_producer_conf_t *shop_producer_conf_new(void);
void shop_producer_conf_destroy(shop_producer_conf_t *conf);

/* Sets one property. "schema.registry.url" switches to Confluent framing through that registry;
 * "topic.prefix" goes before every topic name (environments sharing a cluster: "ci42." produces
 * to "ci42.shop.order.events"); every other key is a librdkafka property ("bootstrap.servers",
 * "linger.ms", "test.mock.num.brokers"
 * ...), with an optional "kafka." prefix stripped so shopstream config keys pass unchanged.
 * `key` and `value` are copied. Returns 0 or SHOP_ERR_CONFIG with errstr. */
int shop_producer_conf_set(shop_producer_conf_t *conf, const char *key, const char *value,
                           char *errstr, size_t errstr_size);

/* Optional per-message callback, run in whichever thread calls shop_producer_poll(), _flush() or
 * an emit function. `opaque` is borrowed and passed back untouched. */
void shop_producer_conf_set_report_cb(shop_producer_conf_t *conf, shop_producer_report_cb_t *cb,
                                      void *opaque);

/* Use an existing codec instead of creating one. Borrowed: it must outlive the producer. */
void shop_producer_conf_set_codec(shop_producer_conf_t *conf, shop_codec_t *codec);

/* ---- the producer ---- */

/* Creates a producer (and, unless one was given, a codec). `conf` is only read; the caller still
 * owns and destroys it. Returns NULL with errstr on a bad configuration. Thread-safe once created:
 * any thread may emit. Caller destroys it with shop_producer_destroy(). */
shop_producer_t *shop_producer_new(const shop_producer_conf_t *conf, char *errstr,
                                   size_t errstr_size);

/* Drops whatever is still queued (reported as failed: call shop_producer_flush() first) and frees
 * the producer. NULL is a no-op. */
void shop_producer_destroy(shop_producer_t *p);

/* Validates and encodes the flat JSON form of one event (see shop_codec_encode_json) and queues it.
 * `event` is borrowed; the producer keeps no reference. When the local queue is full it serves
 * delivery reports and retries, so it blocks rather than fails. Returns 0 once queued,
 * SHOP_ERR_INVALID with the codec's message ("order.placed: field amount_minor: expected long,
 * got \"12.5\""), SHOP_ERR_RETRYABLE if the schema registry is unreachable, SHOP_ERR_FATAL if the
 * producer can no longer produce. */
int shop_producer_emit_json(shop_producer_t *p, json_t *event, char *errstr, size_t errstr_size);

/* The same from JSON text of `len` bytes (borrowed); a parse error is SHOP_ERR_INVALID
 * ("invalid JSON: ..."). */
int shop_producer_emit_json_text(shop_producer_t *p, const char *text, size_t len, char *errstr,
                                 size_t errstr_size);

/* Produces an Avro record of the current schema of `type`'s topic, as made by
 * shop_producer_value_new() (borrowed; serialised before returning). Its "type" field must be
 * `type`. Single-object framing only: with a schema registry use the JSON functions. */
int shop_producer_emit(shop_producer_t *p, const char *type, avro_value_t *value, char *errstr,
                       size_t errstr_size);

/* Produces an already encoded event (borrowed; copied), with enc->occurred_at as the Kafka message
 * timestamp (0: now). `msg_opaque` comes back in the report. */
int shop_producer_emit_encoded(shop_producer_t *p, const shop_encoded_t *enc, void *msg_opaque,
                               char *errstr, size_t errstr_size);

/* A fresh record of the current schema for `type`: "type" set, event_id a random UUID, occurred_at
 * now, every nullable field null, the payload branch selected. Fill the rest with avro-c's setters
 * (avro_value_get_by_name / avro_value_set_*), or the payload via the branch:
 *   avro_value_t payload, branch; avro_value_get_by_name(&rec, "payload", &payload, NULL);
 *   avro_value_get_current_branch(&payload, &branch);
 * On success *out is a new value the caller releases with avro_value_decref(). */
int shop_producer_value_new(shop_producer_t *p, const char *type, avro_value_t *out, char *errstr,
                            size_t errstr_size);

/* Serves delivery reports for up to timeout_ms; returns how many were served. */
int shop_producer_poll(shop_producer_t *p, int timeout_ms);

/* Waits up to timeout_ms for every queued message to be delivered or to fail. Returns 0, or
 * SHOP_ERR_RETRYABLE when messages remain in flight. */
int shop_producer_flush(shop_producer_t *p, int timeout_ms);

typedef struct {
    uint64_t produced;  /* accepted into the local queue */
    uint64_t delivered; /* acknowledged by the brokers (acks=all) */
    uint64_t failed;    /* reported failed */
    int64_t in_flight;  /* queued or waiting for an acknowledgement */
} shop_producer_stats_t;

void shop_producer_stats(const shop_producer_t *p, shop_producer_stats_t *out);

/* The codec in use; borrowed from the producer (or from the conf, when given there). */
shop_codec_t *shop_producer_codec(shop_producer_t *p);

#ifdef __cplusplus
}
#endif

#endif
