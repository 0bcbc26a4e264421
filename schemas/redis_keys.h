/* redis_keys.h: every Redis key format shopstream writes, in one place (documented in redis.md).
 * Every key starts with the namespace prefix: "shop:" live, "bt:<name>:" for a backtest. */
#ifndef SHOP_REDIS_KEYS_H
#define SHOP_REDIS_KEYS_H

/* String per partition: "<prefix>offsets:<worker>:<topic>:<partition>" -> next offset to consume,
 * written in the same MULTI/EXEC as the worker's results, WATCHed per partition. This is the base
 * (prefix, worker); the store appends ":<topic>:<partition>". */
#define SHOP_KEY_OFFSETS "%soffsets:%s" /* prefix, worker */

/* Analytics, per event-time minute "YYYYMMDDHHMM" (UTC). Hash fields: orders, items,
 * revenue:<CUR>, refunds, refund:<CUR>, orders:<CUR>. */
#define SHOP_KEY_AN_MINUTE "%san:min:%s" /* prefix, minute */
/* Analytics all-time totals, same fields as a minute. */
#define SHOP_KEY_AN_TOTAL "%san:total" /* prefix */
/* Sorted set of minutes that have data: member "YYYYMMDDHHMM", score epoch minute. */
#define SHOP_KEY_AN_MINUTES "%san:minutes" /* prefix */

#endif
