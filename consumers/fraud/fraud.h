/* fraud.h: the fraud worker's pure computation: order validation, per-user state (sliding
 * windows, Welford moments, bounded sets of known devices, IPs, addresses and countries, points,
 * failed payments, last login), the configured rules, the Isolation Forest features and the
 * combined 0..100 score. No I/O: events in, decisions out (the worker and the offline evaluation
 * and `shopstream fraud train --events` share it, so all three compute the same features).
 *
 * Event-time joins: user-topic facts (signup, logins, points) carry their event time and are read
 * "as of" the order's time, so the result equals a time-ordered merge of the two topics whenever
 * the user topic is not behind the order topic (see README.md, "Consistency"). */
#ifndef SHOP_FRAUD_H
#define SHOP_FRAUD_H

#include <stddef.h>
#include <stdint.h>

#include "eval.h"
#include "iforest.h"
#include "shop.h"
#include "shop_codec.h"

#define FRAUD_SET_N     8  /* known devices, IPs, addresses, countries per user */
#define FRAUD_RING_N    32 /* recent orders kept per user (bounds the 24 h counts) */
#define FRAUD_PTS_N     16 /* recent points movements per user */
#define FRAUD_FAIL_N    16 /* recent failed payments per user */
#define FRAUD_DEC_N     8  /* recent decisions per user (a lagging PostgreSQL sink reuses them) */
#define FRAUD_DEV_N     16 /* accounts remembered per device in the partition's device index */
#define FRAUD_NFEAT     16 /* Isolation Forest features, see shop_fraud_feature_names */
#define FRAUD_MAX_RULES 32
#define FRAUD_TAG_MAX   32
#define FRAUD_HOUR_MS   3600000LL
#define FRAUD_DAY_MS    86400000LL

/* Rule codes the engine knows how to evaluate (the file chooses which run, with what threshold,
 * weight and reason). */
typedef enum {
    FRAUD_R_VELOCITY_1H,     /* orders in the last hour (this one included) >= threshold */
    FRAUD_R_AMOUNT_ZSCORE,   /* (amount - user's mean) / stddev >= threshold, >= 3 prior orders */
    FRAUD_R_NEW_DEVICE_CTRY, /* unseen device and unseen country, the user has history */
    FRAUD_R_NEW_ADDR_YOUNG,  /* unseen shipping address on an account younger than threshold days */
    FRAUD_R_POINTS_RATIO,    /* points spent 24 h / (points earned 24 h + 1000) >= threshold */
    FRAUD_R_HOARDING,        /* quantity of one SKU >= threshold */
    FRAUD_R_DEVICE_ACCOUNTS, /* distinct accounts on the order's device in 24 h >= threshold */
    FRAUD_R_FAILED_PAYMENTS, /* failed payments in the last 24 h >= threshold */
    FRAUD_R__COUNT
} shop_fraud_rule_code_t;

typedef struct shop_fraud_rule {
    shop_fraud_rule_code_t code;
    double threshold;
    int weight;       /* points added to the 0..100 score when the rule fires */
    char reason[160]; /* in words, for people */
} shop_fraud_rule_t;

typedef struct shop_fraud_rules {
    shop_fraud_rule_t r[FRAUD_MAX_RULES];
    int n;
} shop_fraud_rules_t;

/* Static name of a rule code ("velocity_1h"); NULL when out of range. */
const char *shop_fraud_rule_name(shop_fraud_rule_code_t c);
/* Parses a rules file: `code threshold weight reason text...` per line, '#' comments. `path`
 * borrowed. Returns 0 or SHOP_ERR_CONFIG/SHOP_ERR_IO with "FILE:LINE: ..." in errstr. */
int shop_fraud_rules_load(shop_fraud_rules_t *rs, const char *path, char *errstr,
                          size_t errstr_size);
/* The same from text (`name` is used in messages). */
int shop_fraud_rules_parse(shop_fraud_rules_t *rs, const char *text, const char *name, char *errstr,
                           size_t errstr_size);
/* The built-in set (the same as deploy/fraud-rules.conf). */
void shop_fraud_rules_default(shop_fraud_rules_t *rs);

/* A known value with when it was first and last seen (event time). */
typedef struct shop_fraud_seen {
    uint64_t h; /* 0 = empty slot */
    int64_t first_at, last_at;
} shop_fraud_seen_t;

typedef struct shop_fraud_decision {
    uint64_t order_h; /* hash of the order id */
    int score;        /* 0..100 */
    int level;        /* 0 low, 1 medium, 2 high */
    uint32_t fired;   /* bit i: rules.r[i] fired */
    double anomaly;   /* forest score (0, 1], or -1 without a model */
    char model[FRAUD_TAG_MAX];
} shop_fraud_decision_t;

/* One user's state. Heap objects owned by their partition. */
typedef struct shop_fraud_user {
    char *id;
    uint64_t idh;
    int64_t last_at;   /* last event time: idle users are dropped after fraud.idle.days */
    int64_t signup_at; /* 0 unknown */
    int64_t norders;   /* Welford over order amounts */
    double mean, m2;
    int nring;
    int64_t ring_at[FRAUD_RING_N], ring_amt[FRAUD_RING_N]; /* oldest first */
    int nfail;
    int64_t fail_at[FRAUD_FAIL_N];
    int npts;
    int64_t pts_at[FRAUD_PTS_N], pts_delta[FRAUD_PTS_N]; /* > 0 earned, < 0 spent */
    shop_fraud_seen_t dev[FRAUD_SET_N], ip[FRAUD_SET_N], addr[FRAUD_SET_N], ctry[FRAUD_SET_N];
    int64_t login_at;
    uint64_t login_dev, login_ctry;
    int ndec;
    shop_fraud_decision_t dec[FRAUD_DEC_N]; /* newest last */
    int dirty;
    struct shop_fraud_user *next; /* hash chain */
} shop_fraud_user_t;

/* Accounts seen on one device (partition-local: see README.md). */
typedef struct shop_fraud_device {
    uint64_t h;
    uint64_t user[FRAUD_DEV_N];
    int64_t at[FRAUD_DEV_N];
    struct shop_fraud_device *next;
} shop_fraud_device_t;

/* One Kafka partition's users (the user and order topics are co-partitioned by user_id). */
typedef struct shop_fraud_part {
    int32_t partition;
    int64_t wm; /* largest event time seen */
    int64_t swept_day;
    shop_fraud_user_t **slots;
    size_t nslots, nusers;
    shop_fraud_device_t **dslots;
    size_t ndslots;
    char **gone; /* idle users dropped since the last flush (HDEL) */
    size_t ngone, capgone;
    shop_fraud_user_t **dirty; /* users changed since the last Redis flush (borrowed) */
    size_t ndirty, capdirty;
} shop_fraud_part_t;

/* Settings of the engine, from the worker's config (or defaults). */
typedef struct shop_fraud_conf {
    shop_fraud_rules_t rules;
    int64_t amount_max;   /* larger amount_minor is refused as absurd */
    char currencies[256]; /* comma-separated allowlist, "" = any ISO-4217-shaped code */
    int forest_weight;    /* points of a maximally anomalous order */
    double forest_floor;  /* forest scores at or below add nothing */
    int level_medium, level_high;
    int64_t idle_ms;
} shop_fraud_conf_t;

void shop_fraud_conf_default(shop_fraud_conf_t *c);

/* What validation extracts from an order.placed. Strings borrowed from the event. */
typedef struct shop_fraud_order {
    const char *order_id, *currency, *device, *ip, *addr, *country;
    int64_t amount, points_used, max_qty, nlines, items_total;
} shop_fraud_order_t;

/* Validates an order-topic event with money (placed, paid, payment_failed, refunded,
 * chargeback) and any event's user id. Returns 0 or SHOP_ERR_INVALID with the reason: missing user
 * id, negative or absurd amount, unknown currency, line items whose quantity * unit price do not
 * sum to amount_minor + points_used. `o` may be NULL. */
int shop_fraud_validate(const shop_fraud_conf_t *c, const shop_event_t *ev, shop_fraud_order_t *o,
                        char *errstr, size_t errstr_size);

/* Where the device_accounts rule and feature count accounts (fraud.device.scope). */
#define FRAUD_SCOPE_PARTITION 0 /* this partition's device index: deterministic, replay-exact */
#define FRAUD_SCOPE_GLOBAL    1 /* max(partition, Redis HyperLogLogs of all partitions): timing */

/* Distinct accounts seen on `device` by every instance in the 24 hours up to `at`, as last read
 * from Redis; -1 when unknown. `device` borrowed. Must be cheap: it runs per order. */
typedef int64_t (*shop_fraud_global_fn)(void *ctx, const char *device, int64_t at);

/* The engine: configuration plus an optional forest (borrowed, may be NULL). */
typedef struct shop_fraud_engine {
    shop_fraud_conf_t conf;
    const shop_iforest_t *forest;
    char model[FRAUD_TAG_MAX]; /* "none" or "v<file version>-<checksum>" */
    int device_scope;          /* FRAUD_SCOPE_*; GLOBAL needs global_accounts */
    shop_fraud_global_fn global_accounts;
    void *global_ctx;
} shop_fraud_engine_t;

/* Partitions. */
shop_fraud_part_t *shop_fraud_part_new(int32_t partition);
void shop_fraud_part_destroy(shop_fraud_part_t *p);
shop_fraud_user_t *shop_fraud_user_get(shop_fraud_part_t *p, const char *id, int create);
/* Puts a decoded user in (replacing one with the same id); takes ownership. */
void shop_fraud_part_put(shop_fraud_part_t *p, shop_fraud_user_t *u);
/* Drops users idle for conf.idle_ms of event time (once per event-time day); their ids go to
 * p->gone. Deterministic: depends only on the partition's watermark. */
void shop_fraud_part_sweep(shop_fraud_part_t *p, int64_t idle_ms);
void shop_fraud_part_clear_gone(shop_fraud_part_t *p);
/* Marks u changed (p->dirty lists it once), so a flush costs the changed users, not all. */
void shop_fraud_part_touch(shop_fraud_part_t *p, shop_fraud_user_t *u);
/* Clears every user's mark and the list (the Redis flush committed). */
void shop_fraud_part_clear_dirty(shop_fraud_part_t *p);
/* The partition's device index: user `uh` used device `dh` at `at`; and the distinct accounts
 * seen on `dh` in (at - 24 h, at]. */
void shop_fraud_device_note(shop_fraud_part_t *p, uint64_t dh, uint64_t uh, int64_t at);
int64_t shop_fraud_device_accounts(const shop_fraud_part_t *p, uint64_t dh, int64_t at);
/* Calls fn for every user (unordered). */
void shop_fraud_part_each(shop_fraud_part_t *p, void (*fn)(shop_fraud_user_t *u, void *a), void *a);

/* Feature vector of an order for the forest and the rules. */
typedef struct shop_fraud_features {
    double v[FRAUD_NFEAT];
    double zscore; /* 0 with < 3 prior orders */
    int new_device, new_ip, new_country, new_addr, has_history;
    double age_days; /* 3650 when the signup is unknown */
    int64_t orders_1h, orders_24h, failed_24h, device_accounts;
    double points_ratio;
} shop_fraud_features_t;
extern const char *const shop_fraud_feature_names[FRAUD_NFEAT];

/* Processes one event for a partition. With `update` the user's state changes (the Redis sink
 * is behind); either way an order.placed yields a decision in *dec (returns 1), taken from the
 * user's recent decisions when the state is already past it. `feat` (may be NULL) receives the
 * features. Returns 0 (no decision), 1, or SHOP_ERR_INVALID with the reason (state untouched). */
int shop_fraud_apply(const shop_fraud_engine_t *e, shop_fraud_part_t *p, const shop_event_t *ev,
                     int update, shop_fraud_decision_t *dec, shop_fraud_features_t *feat,
                     char *errstr, size_t errstr_size);

/* Scores features: rules plus forest into dec (score, level, fired, anomaly, model). */
void shop_fraud_score(const shop_fraud_engine_t *e, const shop_fraud_features_t *f,
                      const shop_fraud_order_t *o, shop_fraud_decision_t *dec);
/* Combines a rules total and a forest score into 0..100. */
int shop_fraud_combine(const shop_fraud_conf_t *c, int rules_points, double anomaly);
const char *shop_fraud_level_name(int level);
const char *shop_fraud_recommendation(int level);
/* The top `max` reasons (by weight, then rule order) in words, joined by "; " into buf. */
const char *shop_fraud_reasons(const shop_fraud_engine_t *e, const shop_fraud_decision_t *d,
                               int max, char *buf, size_t size);

/* Serialization of a user's state (text, one line, versioned "f1 "). Encode appends to `b`;
 * decode returns a heap user the caller owns (id copied) or NULL with errstr. */
void shop_fraud_user_encode(const shop_fraud_user_t *u, shop_buf_t *b);
shop_fraud_user_t *shop_fraud_user_decode(const char *id, const char *text, size_t len,
                                          char *errstr, size_t errstr_size);
void shop_fraud_user_free(shop_fraud_user_t *u);

/* ---- training from events (train.c) ---- */

/* Events collected for training, replayed in event-time order (ties: arrival order). */
typedef struct shop_fraud_events shop_fraud_events_t;
typedef struct shop_fraud_train_stats {
    size_t events, invalid, orders, partitions;
} shop_fraud_train_stats_t;

shop_fraud_events_t *shop_fraud_events_new(void);
void shop_fraud_events_destroy(shop_fraud_events_t *e); /* NULL is a no-op */
size_t shop_fraud_events_count(const shop_fraud_events_t *e);
/* Adds one framed Avro message (copied) with its event time and where it came from: `topic`
 * (borrowed, may be NULL), partition (-1 = from the key) and offset (-1 = arrival order). */
void shop_fraud_events_add(shop_fraud_events_t *e, const void *buf, size_t len, int64_t at,
                           const char *topic, int32_t partition, int64_t offset);
/* Adds one JSON line (borrowed): a flat event, or `shopstream decode --meta`'s wrapper (its
 * partition is kept). Returns 0 or SHOP_ERR_INVALID with the reason. */
int shop_fraud_events_add_json(shop_fraud_events_t *e, shop_codec_t *codec, const char *line,
                               size_t len, char *errstr, size_t errstr_size);
/* Adds every line of `fp` (borrowed); lines that do not encode are counted in *bad (may be
 * NULL) and skipped. Returns 0 or SHOP_ERR_IO. */
int shop_fraud_events_read_jsonl(shop_fraud_events_t *e, shop_codec_t *codec, FILE *fp,
                                 const char *name, size_t *bad, char *errstr, size_t errstr_size);
/* Sorts the events by time and runs them through `eng` (shop_fraud_apply, as the worker does),
 * one partition state per Kafka partition (an event without one goes to murmur2(key) %
 * `partitions`, or 0 when partitions <= 1); writes one row of the FRAUD_NFEAT features per
 * order.placed to `out` (initialised, replaced). Invalid events are counted and skipped. Returns 0
 * or SHOP_ERR_INVALID (fewer than 2 orders). */
int shop_fraud_events_features(shop_fraud_events_t *e, shop_codec_t *codec,
                               const shop_fraud_engine_t *eng, int partitions,
                               shop_fraud_data_t *out, shop_fraud_train_stats_t *st, char *errstr,
                               size_t errstr_size);
/* Reads [from, to) of every partition of the topics (bounds as `shopstream replay` takes them,
 * NULL = the start / the end) from Kafka at `brokers` (NULL: $SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS or
 * 127.0.0.1:19092), keeping each message's partition. Arguments borrowed. Returns 0,
 * SHOP_ERR_CONFIG (bad bound) or SHOP_ERR_RETRYABLE (Kafka). */
int shop_fraud_read_topics(shop_fraud_events_t *ev, const char *const *topics, int ntopics,
                           const char *from, const char *to, const char *brokers, char *errstr,
                           size_t errstr_size);
/* shop_fraud_events_features() with the default engine, then shop_iforest_train(). Returns a
 * forest the caller destroys, or NULL with errstr. */
shop_iforest_t *shop_fraud_train_events(shop_fraud_events_t *e, shop_codec_t *codec, int partitions,
                                        const shop_iforest_params_t *params,
                                        shop_fraud_train_stats_t *st, char *errstr,
                                        size_t errstr_size);

/* 64-bit FNV-1a, the hash of ids, devices, IPs, addresses. Never returns 0. */
uint64_t shop_fraud_hash(const char *s);

#endif
