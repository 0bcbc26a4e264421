/* fraud_global.h: cross-user state shared by every fraud worker instance through Redis: distinct
 * accounts per device and per IP over 24 h, as hourly HyperLogLogs (SHOP_KEY_FRAUD_DEV/IP).
 *
 * Written exactly once per event: the processing thread notes each event's device and IP
 * (only when the Redis sink is behind the event), flush_redis turns the notes into PFADDs inside
 * the same MULTI/EXEC as the partition's offsets. Read by the refresh thread (its own Redis
 * connection) into a cache the engine may consult (fraud.device.scope=global), and into the
 * per-user summary; read on demand by `shopstream query fraud`. */
#ifndef SHOP_FRAUD_GLOBAL_H
#define SHOP_FRAUD_GLOBAL_H

#include <stdint.h>

#include "worker.h"

struct redisContext;

typedef struct shop_fraud_global shop_fraud_global_t;

/* `prefix` (copied) is the Redis namespace; user_ttl_s the TTL of fraud:user:<id> (0 = none);
 * with `summary` the refresh also reads the IP counts and writes both into fraud:user:<id>
 * (fraud.global.summary: 2 PFCOUNTs of 24 keys per order instead of one per distinct device). */
shop_fraud_global_t *shop_fraud_global_new(const char *prefix, int64_t user_ttl_s, int summary);
void shop_fraud_global_destroy(shop_fraud_global_t *g); /* NULL is a no-op */

/* Processing thread: user `user` was seen on `device` and `ip` (each may be NULL) at `at`. All
 * strings borrowed (copied). */
void shop_fraud_global_note(shop_fraud_global_t *g, const char *user, const char *device,
                            const char *ip, int64_t at);
/* flush_redis: one PFADD (all the flush's users of that key) and one EXPIRE per hourly key. */
void shop_fraud_global_flush(shop_fraud_global_t *g, shop_redis_batch_t *b);
/* The Redis flush committed, or was discarded: drop the notes. */
void shop_fraud_global_clear(shop_fraud_global_t *g);
size_t shop_fraud_global_pending(const shop_fraud_global_t *g);

/* Processing thread: an order of `user` was decided; the next refresh reads its device's and
 * IP's global counts (into the cache and fraud:user:<id>). Strings borrowed. */
void shop_fraud_global_want(shop_fraud_global_t *g, const char *user, const char *device,
                            const char *ip, int64_t at);
/* shop_fraud_global_fn over the cache (ctx = g): the device's count as of the last refresh, or
 * -1 when the cache has none for the order's hour or the one before. Thread-safe. */
int64_t shop_fraud_global_accounts(void *ctx, const char *device, int64_t at);
/* The refresh hook's work (refresh thread, its own connection). Returns 0 or
 * SHOP_ERR_RETRYABLE. */
int shop_fraud_global_refresh(shop_fraud_global_t *g, struct redisContext *c, char *errstr,
                              size_t errstr_size);

/* Distinct accounts on device (ip = 0) or IP (ip = 1) `value` in the 24 event-time hours up to
 * `at`'s hour: PFCOUNT of the hourly keys. Returns 0 or SHOP_ERR_RETRYABLE. */
int shop_fraud_global_count(struct redisContext *c, const char *prefix, int ip, const char *value,
                            int64_t at, int64_t *out, char *errstr, size_t errstr_size);

#endif
