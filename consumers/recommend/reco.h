/* reco.h: the recommendation model (issue 6), pure and shared by the worker and the offline
 * evaluation: per-partition signal state, item-to-item similarity and per-user ranking.
 *
 * Item-to-item collaborative filtering (Linden, Smith & York, "Amazon.com recommendations:
 * item-to-item collaborative filtering", IEEE Internet Computing 2003). Co-occurrence is counted
 * incrementally, as each signal arrives, at two levels: within a session (or one order's basket)
 * and across a user's bounded history. A pair's credit for one user is min(w_i, w_j) of the two
 * items' strongest signals (view 1, wishlist 2, cart 3, purchase 5), so a repeated signal adds
 * nothing and the sum over users does not depend on the order the users' events interleave.
 *
 * Normalisation: cosine, sim(i,j) = C_ij / sqrt(O_i O_j). Chosen over Dunning's log-likelihood
 * ratio (1993) because (a) the credits are weighted, not 2x2 event counts, which the LLR's
 * multinomial model assumes; (b) the LLR scores significance, so it ranks a popular, weakly
 * related pair above a rare, strongly related one, which is popularity again; cosine needs only
 * the sums we keep, per item and per pair, so partitions add up exactly.
 *
 * State lives per unit (one Kafka topic partition): items, pairs, per-day popularity and users.
 * Views read the sum of every unit in a fixed order (reco_model_t), so any assignment of units to
 * instances gives the same similarity table. */
#ifndef SHOP_RECO_H
#define SHOP_RECO_H

#include <stddef.h>
#include <stdint.h>

#include "shop.h"

#define RECO_MAX_ID      200 /* bytes of a user, item, session id */
#define RECO_HIST_MAX    50  /* items kept per user history (oldest signal evicted) */
#define RECO_SESSION_MAX 30  /* items per session counted for co-occurrence */

/* Signal weights. */
#define RECO_W_VISUAL   0.5
#define RECO_W_VIEW     1.0
#define RECO_W_WISHLIST 2.0
#define RECO_W_CART     3.0
#define RECO_W_PURCHASE 5.0

/* ---- a string-keyed open-addressing table of fixed-size values ---- */
typedef struct reco_dict {
    char **keys;
    unsigned char *vals; /* n * vsize */
    size_t vsize, n, cap;
    uint32_t *slots; /* index + 1, 0 empty */
    size_t nslots;
} reco_dict_t;

void reco_dict_init(reco_dict_t *d, size_t vsize);
void reco_dict_release(reco_dict_t *d);
/* Index of `key` (borrowed), or -1 when absent and !create (created zeroed otherwise). */
long reco_dict_find(reco_dict_t *d, const char *key, int create);
/* Value of entry i (valid until the next insertion). */
static inline void *reco_dict_val(const reco_dict_t *d, size_t i) {
    return d->vals + i * d->vsize;
}

/* ---- one user's state ---- */
typedef struct reco_hitem {
    uint32_t item; /* unit item id */
    float w;       /* strongest signal so far */
    int64_t at;    /* last signal time, ms */
    int bought;
} reco_hitem_t;

typedef struct reco_user {
    char session[RECO_MAX_ID + 1];
    int nsess, nhist;
    reco_hitem_t sess[RECO_SESSION_MAX]; /* `at` unused */
    reco_hitem_t hist[RECO_HIST_MAX];
    int tier;   /* points tier rank (0 none) */
    int dirty;  /* changed since the last flush */
    int64_t at; /* last signal */
} reco_user_t;

/* Per-item sums of one unit. */
typedef struct reco_occ {
    double s, h; /* session and history credit */
    int dirty;
} reco_occ_t;

/* Per-pair sums (key "i<US>j" with i < j byte-wise). */
typedef struct reco_pair {
    double s, h;
    int dirty;
} reco_pair_t;

typedef struct reco_pop {
    double w;
    int dirty;
} reco_pop_t;

typedef struct reco_meta {
    char category[64];
    char brand[64];
    int points; /* payable with points */
    int dirty;
} reco_meta_t;

/* The matched products of a user's last visual search. */
typedef struct reco_visual {
    char list[4 * (RECO_MAX_ID + 1)]; /* up to 4 ids, \x1f-separated */
    int dirty;
} reco_visual_t;

/* One unit's state: owned by its worker; everything reproducible from its events in order. */
typedef struct reco_unit {
    char tag; /* 'u' user, 'o' order, 's' search, 'c' catalog events */
    int32_t partition;
    reco_dict_t items;  /* item id -> reco_occ_t (index = unit item id) */
    reco_dict_t pairs;  /* "i\x1fj" -> reco_pair_t */
    reco_dict_t pop;    /* "item\x1fday" -> reco_pop_t */
    reco_dict_t users;  /* user id -> reco_user_t* */
    reco_dict_t meta;   /* item -> reco_meta_t (catalog units) */
    reco_dict_t visual; /* user -> reco_visual_t (search units) */
    int64_t wm;         /* largest event time */
    int wm_dirty;
    struct reco_unit *next;
} reco_unit_t;

reco_unit_t *reco_unit_new(char tag, int32_t partition);
void reco_unit_destroy(reco_unit_t *u);
/* Id of item `name` in the unit (created). */
uint32_t reco_unit_item(reco_unit_t *u, const char *name);
/* Records one signal of `user` for `item`; `session` may be NULL or "" (no session). */
void reco_unit_signal(reco_unit_t *u, const char *user, const char *session, const char *item,
                      double w, int64_t at, int purchase);
/* A points tier reached by the user. */
void reco_unit_tier(reco_unit_t *u, const char *user, int tier, int64_t at);
/* Catalog data of an item. Strings borrowed. */
void reco_unit_meta(reco_unit_t *u, const char *item, const char *category, const char *brand,
                    int points, int64_t at);
/* A visual search's matches (the first few kept). */
void reco_unit_visual(reco_unit_t *u, const char *user, const char *const *items, size_t n,
                      int64_t at);
/* Clears the dirty marks (after a committed flush). */
void reco_unit_clean(reco_unit_t *u);
/* Pending dirty entries. */
size_t reco_unit_dirty(const reco_unit_t *u);

/* Text forms for the sinks: a user "<tier>\x1e<session>\x1e<at>\x1e<hist>\x1e<sess>" where hist
 * is "item\x1fw\x1fat\x1fbought" joined by \x1d. out is appended to. */
void reco_user_format(const reco_unit_t *u, const reco_user_t *us, shop_buf_t *out);
/* Parses a user's text into the unit (replacing it). 0 or SHOP_ERR_INVALID. */
int reco_user_parse(reco_unit_t *u, const char *user, const char *text);

/* Tier rank of a tier name: bronze 1, silver 2, gold 3, platinum 4, diamond 5, else 0. */
int reco_tier_rank(const char *tier);
/* Day number (UTC) of a time. */
static inline int64_t reco_day(int64_t at_ms) {
    return at_ms >= 0 ? at_ms / 86400000 : -((-at_ms + 86399999) / 86400000);
}

/* ---- the derived model: units summed in a fixed order ---- */
typedef struct reco_params {
    int k;                  /* similar items kept per item */
    int n;                  /* recommendations per user */
    double hist_weight;     /* weight of history co-occurrence against session co-occurrence */
    double pop_halflife_d;  /* trending popularity half-life, days */
    double user_halflife_d; /* recency of a user's history, days */
    double pop_blend;       /* weight of trending popularity in the blend */
    double tier_boost;      /* extra score share for points items, per tier rank */
} reco_params_t;

void reco_params_default(reco_params_t *p);

typedef struct reco_sim {
    uint32_t item;
    float score;
} reco_sim_t;

typedef struct reco_model reco_model_t;

reco_model_t *reco_model_new(const reco_params_t *p);
void reco_model_destroy(reco_model_t *m);
/* Adds a unit's sums (call in a fixed order of units). */
void reco_model_add_unit(reco_model_t *m, const reco_unit_t *u);
/* Adds one item's, pair's, popularity or catalog sums directly (the refresh reads them from
 * Redis). Strings borrowed. */
void reco_model_add_item(reco_model_t *m, const char *item, double s, double h);
void reco_model_add_pair(reco_model_t *m, const char *a, const char *b, double s, double h);
void reco_model_add_pop(reco_model_t *m, const char *item, int64_t day, double w);
void reco_model_add_meta(reco_model_t *m, const char *item, const char *category, const char *brand,
                         int points);
/* Computes top-K similar items and trending popularity. */
void reco_model_build(reco_model_t *m);
size_t reco_model_items(const reco_model_t *m);
const char *reco_model_item_name(const reco_model_t *m, uint32_t id);
/* Id of an item, or -1. */
long reco_model_item_id(const reco_model_t *m, const char *name);
/* Items similar to `item` (the content fallback for an item without co-occurrence): up to
 * `max` into out, best first; returns how many. */
size_t reco_model_similar(const reco_model_t *m, uint32_t item, reco_sim_t *out, size_t max);
/* The trending list, best first. */
size_t reco_model_trending(const reco_model_t *m, reco_sim_t *out, size_t max);

/* A user's combined history (from one or more units), for ranking. */
typedef struct reco_history {
    struct {
        uint32_t item; /* model id */
        double w;
        int64_t at;
        int bought;
    } * v;
    size_t n, cap;
    int tier;
    int64_t at;
} reco_history_t;

void reco_history_release(reco_history_t *h);
/* Adds a unit user's entries (items unknown to the model are skipped). */
void reco_history_add(reco_history_t *h, const reco_model_t *m, const reco_unit_t *u,
                      const reco_user_t *us);

enum { RECO_ALGO_BLEND = 0, RECO_ALGO_COSINE = 1 };
/* Ranks for a user: `algo` BLEND (recency-weighted similar items + trending popularity + tier
 * boost) or COSINE (plain sum of similarities, popularity to fill). Items bought are excluded;
 * an empty history gets the trending list. Returns how many were written (<= max). */
size_t reco_model_rank(const reco_model_t *m, const reco_history_t *h, int algo, reco_sim_t *out,
                       size_t max);
/* Sorts v (best first, ties by item name); returns n. */
size_t reco_model_rank_static(const reco_model_t *m, reco_sim_t *v, size_t n);
/* 1 when the history holds a purchase of item. */
int reco_history_bought(const reco_history_t *h, uint32_t item);

#endif
