/* generate.h: the synthetic shop-traffic generator and the UCI Online Retail replayer, as used by
 * `shopstream generate` (generate.c) and the unit tests. */
#ifndef SHOP_GENERATE_H
#define SHOP_GENERATE_H

#include <stdint.h>

#include "shop.h"
#include "shop_codec.h"

/* ---- seeded PRNG: xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", 2018), seeded through splitmix64. Same seed, same sequence, on every platform. ----
 */
typedef shop_rng_t shop_gen_rng_t; /* common/shop.h */

void shop_gen_rng_seed(shop_gen_rng_t *r, uint64_t seed);
uint64_t shop_gen_rng_next(shop_gen_rng_t *r);
double shop_gen_rng_unit(shop_gen_rng_t *r);                           /* [0, 1) */
uint32_t shop_gen_rng_below(shop_gen_rng_t *r, uint32_t n);            /* [0, n), n > 0 */
int64_t shop_gen_rng_range(shop_gen_rng_t *r, int64_t lo, int64_t hi); /* [lo, hi] */
int shop_gen_rng_chance(shop_gen_rng_t *r, double p);
double shop_gen_rng_exp(shop_gen_rng_t *r, double mean); /* exponential */
/* A version-4-shaped UUID whose 122 free bits come from the PRNG, into out[37]. */
void shop_gen_rng_uuid(shop_gen_rng_t *r, char out[37]);
/* splitmix64 finaliser: a stateless 64-bit mix, for values derived from ids. */
uint64_t shop_gen_mix64(uint64_t x);

/* Zipf(s) over ranks 0..n-1 by inverse CDF (binary search). Caller-owned storage. */
typedef struct {
    double *cdf;
    uint32_t n;
} shop_gen_zipf_t;
void shop_gen_zipf_init(shop_gen_zipf_t *z, uint32_t n, double s);
void shop_gen_zipf_release(shop_gen_zipf_t *z);
uint32_t shop_gen_zipf_draw(const shop_gen_zipf_t *z, shop_gen_rng_t *r);

/* ---- flat JSON writer into a shop_buf_t (no allocation beyond the buffer's growth) ---- */
typedef struct {
    shop_buf_t *b;
    int first;
} shop_gen_json_t;
void shop_gen_json_begin(shop_gen_json_t *w, shop_buf_t *b);
void shop_gen_json_key(shop_gen_json_t *w, const char *key); /* "key": */
void shop_gen_json_str(shop_gen_json_t *w, const char *key, const char *val);
void shop_gen_json_int(shop_gen_json_t *w, const char *key, int64_t val);
void shop_gen_json_bool(shop_gen_json_t *w, const char *key, int val);
void shop_gen_json_fixed(shop_gen_json_t *w, const char *key, int64_t thousandths); /* 0.873 */
void shop_gen_json_end(shop_gen_json_t *w);                                         /* "}\n" */
/* Appends `s` as a JSON string literal (quotes, escapes). */
void shop_gen_json_quote(shop_buf_t *b, const char *s, size_t n);
void shop_gen_json_uint(shop_buf_t *b, uint64_t v);

/* ---- the synthetic shop ---- */

typedef struct {
    uint64_t events; /* lines to write in total */
    uint64_t seed;
    int64_t start_ms;  /* simulated clock start */
    double rate;       /* mean events per simulated second */
    uint32_t users;    /* distinct legit customers */
    uint32_t products; /* catalog size */
    double fraud_rate; /* share of new sessions that are fraud actors */
} shop_gen_conf_t;

/* Defaults: 100000 events, seed 1, 2026-11-01T00:00:00Z, 200/s, 20000 users, 2000 products,
 * fraud rate 0.005. */
void shop_gen_conf_init(shop_gen_conf_t *conf);

/* Fraud patterns; the chargeback reason of each labelled order is "fraud_<name>". */
typedef enum {
    SHOP_FRAUD_NONE = 0,
    SHOP_FRAUD_CARD_TESTING,
    SHOP_FRAUD_ACCOUNT_TAKEOVER,
    SHOP_FRAUD_POINTS_ABUSE,
    SHOP_FRAUD_BULK_BUYING,
    SHOP_FRAUD__COUNT
} shop_fraud_kind_t;
/* "card_testing"; static storage. */
const char *shop_fraud_kind_name(shop_fraud_kind_t kind);

typedef struct shop_gen shop_gen_t;

/* The configuration is copied. Returns NULL and fills errstr on a bad configuration.
 * Caller destroys with shop_gen_destroy(). */
shop_gen_t *shop_gen_new(const shop_gen_conf_t *conf, char *errstr, size_t errstr_size);
void shop_gen_destroy(shop_gen_t *g);

/* Appends the next event, one flat JSON object and '\n', to `out`. Sets *kind and *occurred_at_ms
 * (either may be NULL). Returns 1, or 0 once conf.events lines have been produced. */
int shop_gen_next(shop_gen_t *g, shop_buf_t *out, shop_event_kind_t *kind, int64_t *occurred_at_ms);

/* Fraud actors that have acted so far, per pattern, and fraud-labelled chargebacks emitted so far.
 */
uint64_t shop_gen_fraud_actors(const shop_gen_t *g, shop_fraud_kind_t kind);
uint64_t shop_gen_fraud_chargebacks(const shop_gen_t *g);

/* Writes `ko` (UTF-8 Hangul) as typed on a QWERTY keyboard left in English mode (2-beolsik):
 * "선글라스" -> "tjsrmffktm". Other characters are copied. */
void shop_gen_hangul_to_qwerty(const char *ko, char *out, size_t size);

/* "order.placed" for SHOP_EV_ORDER_PLACED (the codec's table); static storage. */
const char *shop_gen_type_name(shop_event_kind_t kind);

/* ---- UCI Online Retail (Chen, Sain & Guo 2012, CC BY 4.0) as real order events ---- */

typedef struct shop_retail shop_retail_t;

/* Reads every *.csv in `dir` in name order. `seed` drives the event ids. Returns NULL and fills
 * errstr when the folder cannot be read. Caller closes with shop_retail_close(). */
shop_retail_t *shop_retail_open(const char *dir, uint64_t seed, char *errstr, size_t errstr_size);
void shop_retail_close(shop_retail_t *r);

/* Like shop_gen_next(); returns 1, 0 at the end, or SHOP_ERR_IO / SHOP_ERR_INVALID with errstr. */
int shop_retail_next(shop_retail_t *r, shop_buf_t *out, shop_event_kind_t *kind,
                     int64_t *occurred_at_ms, char *errstr, size_t errstr_size);
/* Rows read and rows skipped (no usable quantity or price, adjustment invoices). */
void shop_retail_stats(const shop_retail_t *r, uint64_t *rows, uint64_t *skipped);

#endif
