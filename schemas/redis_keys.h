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

/* ---- Search worker (consumers/trending). Authoritative, per partition, written with its offset:
 * <tag> is 's' (shop.search.events) or 'c' (shop.catalog.events). ---- */
/* Space-Saving summary of one event-time bucket: sorted set query -> count; "<key>:err" is a
 * hash query -> overestimation bound (members with a non-zero one). Levels: 1m, 5m, 1h, cat
 * (members "<category>\t<query>"). Bucket start in ms. */
#define SHOP_KEY_SRCH_BUCKET "%ssrch:ss:%s:%lld:%c%d" /* prefix, level, start, tag, partition */
/* Recency-weighted summary (forward decay): levels pop (finished queries and catalog titles),
 * zero (zero-result queries), few (queries with few results). Same layout. */
#define SHOP_KEY_SRCH_DECAYED "%ssrch:ss:%s:%c%d" /* prefix, level, tag, partition */
/* Hash "<tag><partition>" -> largest event time seen in that partition, ms. */
#define SHOP_KEY_SRCH_WM "%ssrch:wm" /* prefix */
/* A user's recent searches: sorted set query -> last search time (ms), newest search.recent.n. */
#define SHOP_KEY_SRCH_USER "%ssrch:user:%s" /* prefix, user id */

/* ---- Search worker: views derived from the above (rewritten by every refresh) ---- */
/* Sorted sets query -> searches in the window (5m, 1h, 24h), top search.top.n. */
#define SHOP_KEY_TREND "%strend:%s" /* prefix, window */
/* Sorted set query -> rising score (recent + 1) / (baseline + prior). */
#define SHOP_KEY_TREND_RISING "%strend:rising" /* prefix */
/* Sorted set query -> searches in the last hour for one category. */
#define SHOP_KEY_TREND_CAT "%strend:cat:%s" /* prefix, category */
/* Set of the categories that have a trend:cat key. */
#define SHOP_KEY_TREND_CATS "%strend:cats" /* prefix */
/* Sorted set query -> recency-weighted count of zero-result searches. */
#define SHOP_KEY_TREND_ZERO "%strend:zero" /* prefix */
/* Hash: watermark (ms), refreshed (wall clock ms), partitions, members of the summaries read. */
#define SHOP_KEY_TREND_META "%strend:meta" /* prefix */
/* Sorted set completion -> recency-weighted popularity, for one suggestion key (see text.h:
 * folded, keystroke-jamo form of a prefix, or initial consonants). */
#define SHOP_KEY_SUGGEST "%ssugg:%s" /* prefix, key */
/* Set of the suggestion keys that exist (so that keys left without completions are deleted). */
#define SHOP_KEY_SUGGEST_KEYS "%ssugg:keys" /* prefix */
/* Hash: misspelt query (zero or few results) -> suggested correction. */
#define SHOP_KEY_DYM "%sdym" /* prefix */

/* ---- Fraud worker (consumers/fraud). Authoritative, per partition, written with its offsets:
 * hash user id -> the user's state (consumers/fraud/state.c text form "f1 ..."). ---- */
#define SHOP_KEY_FRAUD_STATE "%sfraud:state:%d" /* prefix, partition */
/* Hash of one order's decision: score, level, recommendation, reasons, rules, anomaly, model,
 * user, occurred_at; TTL fraud.order.ttl.s. */
#define SHOP_KEY_FRAUD_ORDER "%sfraud:order:%s" /* prefix, order id */
/* Hash per user: orders, mean_amount, last_order, last_score, last_level, last_at, devices. */
#define SHOP_KEY_FRAUD_USER "%sfraud:user:%s" /* prefix, user id */

#endif
