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
/* Bookkeeping of the views, under srch: (sugg:<key> and trend:cat:<c> hold user text, so nothing
 * else may live beside them). Hash suggestion key -> fingerprint (hex) of its completions: which
 * sugg:* keys exist and what they hold, so a refresh rewrites only those that changed and deletes
 * those left empty. */
#define SHOP_KEY_SUGGEST_FP "%ssrch:sugg:fp" /* prefix */
/* Versions: srch:ver is bumped by every flush; srch:trend:ver and srch:sugg:ver hold the srch:ver
 * the trending views and the suggestions/corrections were computed from (older never overwrites
 * newer). They count flushes, so they differ between runs over the same events. */
#define SHOP_KEY_SRCH_VER    "%ssrch:ver"       /* prefix */
#define SHOP_KEY_TREND_VER   "%ssrch:trend:ver" /* prefix */
#define SHOP_KEY_SUGGEST_VER "%ssrch:sugg:ver"  /* prefix */
/* The srch:ver of the refresh now writing suggestions in several transactions (a larger change
 * than search.refresh.chunk commands): a refresh claims it, older ones stop. */
#define SHOP_KEY_SUGGEST_CLAIM "%ssrch:sugg:claim" /* prefix */
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
/* Cross-user state, shared by every instance: HyperLogLog of the user ids seen on one device or
 * IP in one event-time hour (ms / 3600000), PFADDed once per event with the partition's offsets;
 * TTL 25 h. Read with PFCOUNT over the 24 hours up to an order's hour. */
#define SHOP_KEY_FRAUD_DEV "%sfraud:dev:%s:%lld" /* prefix, device id, hour */
#define SHOP_KEY_FRAUD_IP  "%sfraud:ip:%s:%lld"  /* prefix, ip hash, hour */

/* ---- Analytics worker (consumers/analytics), beyond an:min / an:total / an:minutes above.
 * Hash fields are "<metric>" or "<metric>:<dim>" (dim: currency or A/B variant); see redis.md. */
/* Hash per event-time hour "YYYYMMDDHH" and day "YYYYMMDD": same fields as a minute. */
#define SHOP_KEY_AN_HOUR "%san:hour:%s" /* prefix, hour */
#define SHOP_KEY_AN_DAY  "%san:day:%s"  /* prefix, day */
/* Per-product counters of a day ("all" for all time): views:<pid>, carts:<pid>, buys:<pid>,
 * stockouts:<pid>, oos_ms:<pid>. */
#define SHOP_KEY_AN_PROD "%san:prod:%s" /* prefix, day or "all" */
/* Sorted set product id -> units bought in that day ("all": all time). */
#define SHOP_KEY_AN_TOP "%san:top:%s" /* prefix, day or "all" */
/* HyperLogLog of the users active in a bucket: grain "min", "hour" or "day". */
#define SHOP_KEY_AN_HLL "%san:hll:%s:%s" /* prefix, grain, bucket */
/* Exact set of a day's users of one kind: buyers, visual, ab:<variant>. */
#define SHOP_KEY_AN_SET "%san:set:%s:%s" /* prefix, kind, day */
/* Hash product id -> title, and product id -> category. */
#define SHOP_KEY_AN_TITLES "%san:titles" /* prefix */
#define SHOP_KEY_AN_CATS   "%san:cats"   /* prefix */
/* Hash "<topic>:<partition>" -> watermark (largest event time, ms): state, with the offsets. */
#define SHOP_KEY_AN_WM "%san:wm" /* prefix */
/* Hash "<product>\t<region>" -> stock-out start (ms), per inventory partition: state. */
#define SHOP_KEY_AN_OOS "%san:oos:%d" /* prefix, partition */
/* Fraud worker's recent high-risk orders, read by the dashboard: sorted set order id -> event
 * time ms (written by consumers/fraud when it does). */
#define SHOP_KEY_AN_FRAUD_RECENT "%sfraud:recent:high" /* prefix */

/* ---- Recommendation worker (consumers/recommend). <unit> is "<tag><partition>": tag u (user),
 * o (order), s (search), c (catalog events). State is written with the unit's offsets. */
/* Hash unit -> watermark (largest event time, ms): which units have state. */
#define SHOP_KEY_RECO_UNITS "%sreco:st:units" /* prefix */
/* Per-unit state hashes: kind users (user -> state text), occ (item -> "s h"), pair
 * ("a<US>b" -> "s h"), pop ("item<US>day" -> weight), meta (item -> "category<US>brand<US>points"),
 * visual (user -> last visual-search matches, <US>-separated). */
#define SHOP_KEY_RECO_STATE "%sreco:st:%s:%s" /* prefix, unit, kind */
/* Sorted set similar item -> cosine (or content fallback score), top reco.k. */
#define SHOP_KEY_RECO_ITEM "%sreco:item:%s" /* prefix, item id */
/* Sorted set recommended item -> score, top reco.n, computed with the user's A/B variant. */
#define SHOP_KEY_RECO_USER "%sreco:user:%s" /* prefix, user id */
/* Sorted set: "similar to this" for the user's last visual search. */
#define SHOP_KEY_RECO_VISUAL "%sreco:visual:%s" /* prefix, user id */
/* Hash user -> variant that computed reco:user:<id>. */
#define SHOP_KEY_RECO_VARIANT "%sreco:variant" /* prefix */
/* Sorted set item -> trending popularity (decayed by day): the new-user fallback. */
#define SHOP_KEY_RECO_TRENDING "%sreco:trending" /* prefix */
/* Hash: refreshed_at (ms of the latest event seen), items, users, flags_version. */
#define SHOP_KEY_RECO_META "%sreco:meta" /* prefix */

/* ---- Notification hub (consumers/notify). Written by its dispatcher, not with offsets. */
/* Stream per user of in-app notifications (XADD MAXLEN ~ notify.inapp.maxlen): fields id (the
 * dedupe key / webhook-id), type, subject, body (HTML), data (JSON). Apps read it with XREVRANGE.
 */
#define SHOP_KEY_NOTIFY_INAPP "%snotify:inapp:%s" /* prefix, user id */
/* Marker "this dedupe key was added to the in-app stream" (30 days): makes the XADD idempotent. */
#define SHOP_KEY_NOTIFY_SENT "%snotify:sent:%s" /* prefix, dedupe key */

#endif
