/* generate_int.h: the synthetic shop's world model (catalog, users, sessions, orders, pending
 * events), shared by the generate_*.c files only. */
#ifndef SHOP_GENERATE_INT_H
#define SHOP_GENERATE_INT_H

#include "generate.h"

enum { GEN_KR = 0, GEN_US = 1, GEN_NREGIONS = 2 }; /* stock regions */
enum { GEN_KRW = 0, GEN_USD = 1 };                 /* currencies */
#define GEN_KRW_PER_USD 1350
#define GEN_NONE        UINT32_MAX

/* ---- vocabulary (generate_world.c) ---- */

typedef struct {
    const char *id, *en, *ko;
    int64_t min_krw, max_krw;
} gen_category_t;

typedef struct {
    const char *en, *ko;
} gen_word_t;

typedef struct {
    const char *code, *locale, *tz;
    uint8_t region, currency;
} gen_country_t;

extern const gen_category_t shop_gen_categories[];
extern const int shop_gen_ncategories;
extern const gen_word_t shop_gen_colors[];
extern const int shop_gen_ncolors;
extern const gen_word_t shop_gen_adjs[];
extern const int shop_gen_nadjs;
extern const gen_word_t shop_gen_brands[];
extern const int shop_gen_nbrands;
extern const gen_country_t shop_gen_countries[];
extern const int shop_gen_nlegit_countries; /* the first ones; the rest are fraud origins */
extern const int shop_gen_ncountries;

/* Small code tables the items refer to by index. */
extern const char *const shop_gen_sources[];
enum {
    GEN_SRC_WEB,
    GEN_SRC_PWA,
    GEN_SRC_IOS,
    GEN_SRC_ANDROID,
    GEN_SRC_INVENTORY,
    GEN_SRC_POINTS,
    GEN_SRC_VISUAL,
    GEN_SRC_BACKOFFICE
};
extern const char *const shop_gen_signup_refs[]; /* the last one is a friend's referral */
extern const char *const shop_gen_referrers[];
enum { GEN_REF_DIRECT, GEN_REF_SEARCH, GEN_REF_RECO, GEN_REF_VISUAL, GEN_REF_WISHLIST };
extern const char *const shop_gen_pay_methods[];
enum {
    GEN_PAY_CARD,
    GEN_PAY_KAKAOPAY,
    GEN_PAY_NAVERPAY,
    GEN_PAY_TOSS,
    GEN_PAY_BANK,
    GEN_PAY_PAYPAL,
    GEN_PAY_APPLE,
    GEN_NPAY
};
extern const char *const shop_gen_fail_reasons[];
#define GEN_NFAIL 5
extern const char *const shop_gen_reasons[];
enum {
    GEN_R_CUSTOMER_REQUEST,
    GEN_R_PAYMENT_FAILED,
    GEN_R_RETURNED,
    GEN_R_CANCELLED,
    GEN_R_NOT_RECEIVED,
    GEN_R_FRAUD_CARD_TESTING,
    GEN_R_FRAUD_ATO,
    GEN_R_FRAUD_POINTS,
    GEN_R_FRAUD_BULK,
    GEN_R_SIGNUP_BONUS,
    GEN_R_PURCHASE,
    GEN_R_CHECKIN,
    GEN_R_REFERRAL,
    GEN_R_REVIEW
};
extern const char *const shop_gen_notif_types[];
#define GEN_NNOTIF 6
extern const char *const shop_gen_channels[];
#define GEN_NCHANNELS 5
extern const char *const shop_gen_tiers[];
extern const char *const shop_gen_badges[];
#define GEN_NLEVELS 6
extern const int64_t shop_gen_level_points[];
extern const char *const shop_gen_unsold_queries[];
extern const int shop_gen_nunsold_ko; /* the first ones are Korean */
extern const int shop_gen_nunsold;

/* ---- world state ---- */

typedef struct {
    uint8_t cat, color, brand, adj, currency;
    int64_t price;               /* listed price in minor units of `currency` */
    int32_t stock[GEN_NREGIONS]; /* as last reported by inventory.stock_level */
    int32_t avail[GEN_NREGIONS]; /* what checkouts may still take: stock minus planned sales */
} gen_product_t;

#define GEN_USER_SIGNED_UP  1
#define GEN_USER_IN_SESSION 2
#define GEN_USER_FRAUDSTER  4

typedef struct {
    uint64_t hash; /* derives devices, ip and address hashes */
    int64_t points, points_total;
    uint32_t orders;
    uint8_t country, flags, level, source, lang, ab;
} gen_user_t;

#define GEN_MAX_ITEMS 6

typedef struct {
    uint32_t user;
    uint64_t sid; /* session that placed it; 0 for none */
    int64_t amount, points_used;
    uint64_t device, ip, addr;
    uint32_t product[GEN_MAX_ITEMS];
    int64_t unit[GEN_MAX_ITEMS];
    uint16_t qty[GEN_MAX_ITEMS];
    uint8_t nitems, currency, country, pay, fraud, source, paid;
} gen_order_t;

/* One event waiting to be written. Which fields matter depends on `kind` (see render). */
typedef struct {
    uint8_t kind, code, flags, source;
    uint16_t pos;
    uint32_t user, product, order;
    int64_t n, m;
    uint64_t sid;
    const char *s1, *s2; /* borrowed from the session's str[] */
} gen_item_t;

#define GEN_F_RESTOCK  1 /* stock_level: n is a delta to apply when written */
#define GEN_F_SNAPSHOT 2 /* stock_level: the initial level, no previous quantity */
#define GEN_F_PRICE    4 /* product_upserted: a price change */
#define GEN_F_QUIET    8 /* notification prefs: with quiet hours */

#define GEN_QMAX 32
#define GEN_CART 6
#define GEN_STR  128

typedef struct {
    uint32_t user;
    uint64_t sid;
    uint8_t fraud, source, started, ncart, country;
    uint16_t steps_left, phase, rounds;
    uint32_t last_product, target;
    uint32_t cart[GEN_CART];
    uint16_t cart_qty[GEN_CART];
    uint64_t device, ip;
    gen_item_t q[GEN_QMAX];
    uint8_t qhead, qlen;
    char str[4][GEN_STR];
} gen_session_t;

typedef struct {
    int64_t due_us;
    uint64_t seq;
    gen_item_t item;
} gen_due_t;

struct shop_gen {
    shop_gen_conf_t conf;
    shop_gen_rng_t rng;
    shop_gen_zipf_t product_pop, user_pop;
    gen_product_t *products;
    uint32_t nproducts;
    uint32_t *by_rank;      /* popularity rank -> product */
    uint32_t *cat_products; /* products grouped by category, by rank within */
    uint32_t *cat_off;      /* ncategories + 1 offsets into cat_products */
    uint32_t *cheap;        /* products under 20000 KRW, for card testing */
    uint32_t ncheap;
    gen_user_t *users;
    uint32_t nusers, nlegit, cap_users;
    gen_order_t *orders;
    uint32_t norders, cap_orders;
    gen_session_t *pool;
    uint32_t npool;
    gen_due_t *heap;
    size_t nheap, cap_heap;
    uint64_t heap_seq;
    int64_t clock_us, next_us;
    uint64_t emitted, nsessions;
    uint32_t init_cursor;
    uint64_t fraud_actors[SHOP_FRAUD__COUNT], fraud_chargebacks;
};

/* generate_world.c */
void shop_gen_world_init(shop_gen_t *g);
void shop_gen_world_release(shop_gen_t *g);
void shop_gen_user_id(char out[24], uint32_t user);
void shop_gen_product_id(char out[24], uint32_t product);
/* Unit price of a product in `currency` (converted at GEN_KRW_PER_USD, rounded like a shop would).
 */
int64_t shop_gen_price_in(const shop_gen_t *g, uint32_t product, int currency);
uint32_t shop_gen_pick_product(shop_gen_t *g);
/* A popular product matching the filters (-1 for any), and its 1-based position among the
 * matches in popularity order; GEN_NONE when nothing matches. */
uint32_t shop_gen_pick_matching(shop_gen_t *g, int cat, int color, int brand, int *position);
int shop_gen_count_matching(const shop_gen_t *g, int cat, int color, int brand);
uint32_t shop_gen_new_user(shop_gen_t *g, uint8_t country, int fraudster);
const gen_country_t *shop_gen_user_country(const shop_gen_t *g, uint32_t user);

/* generate_search.c: queue the events of a text or visual search in session `s`. */
void shop_gen_plan_search(shop_gen_t *g, gen_session_t *s);
void shop_gen_plan_visual(shop_gen_t *g, gen_session_t *s);

/* generate_session.c */
void shop_gen_session_start(shop_gen_t *g, gen_session_t *s);
/* Sets *out to the session's next event; returns 0 when the session is over. */
int shop_gen_session_step(shop_gen_t *g, gen_session_t *s, gen_item_t *out);
gen_item_t *shop_gen_queue(gen_session_t *s, uint8_t kind, uint32_t product);
/* Queues cart_added and puts the product in the session's cart. */
void shop_gen_cart_add(gen_session_t *s, uint32_t product, uint16_t qty);
/* Credits points (points_earned) and queues the level-ups they unlock. */
void shop_gen_add_points(shop_gen_t *g, gen_session_t *s, uint32_t user, int64_t pts, int reason,
                         uint32_t order);
/* Turns the cart into an order (placed, payment outcome, points, stock), buying no more than is
 * available; returns the order, or GEN_NONE when nothing in the cart is in stock. */
uint32_t shop_gen_checkout(shop_gen_t *g, gen_session_t *s, uint8_t fraud, double fail_p);
/* Side effects of writing `it` (stock levels, the lifecycle after payment, label counts). */
void shop_gen_apply(shop_gen_t *g, gen_item_t *it);

/* generate_fraud.c */
void shop_gen_fraud_start(shop_gen_t *g, gen_session_t *s, shop_fraud_kind_t kind);
/* Plans the fraud actor's next events; returns 0 when it is done. */
int shop_gen_fraud_plan(shop_gen_t *g, gen_session_t *s);

/* generate_sim.c */
/* Schedules `it` at absolute simulated time due_us when the event budget allows; returns 0 if
 * the run ends before there is room for it. */
int shop_gen_schedule(shop_gen_t *g, int64_t due_us, const gen_item_t *it);
uint64_t shop_gen_new_sid(shop_gen_t *g);

/* generate_render.c */
void shop_gen_render(shop_gen_t *g, const gen_item_t *it, int64_t at_ms, shop_buf_t *out);

#endif
