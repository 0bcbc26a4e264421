/* generate_fraud.c: labelled fraud actors: card testing, account takeover, points abuse and bulk
 * buying. Their paid orders come back days later as order.chargeback with reason fraud_<pattern>.
 */
#include <string.h>

#include "generate_int.h"

static const char *const fraud_names[SHOP_FRAUD__COUNT] = {
    "none", "card_testing", "account_takeover", "points_abuse", "bulk_buying"};

const char *shop_fraud_kind_name(shop_fraud_kind_t kind) {
    return kind < SHOP_FRAUD__COUNT ? fraud_names[kind] : "unknown";
}

static uint8_t foreign_country(shop_gen_t *g) {
    uint32_t n = (uint32_t)(shop_gen_ncountries - shop_gen_nlegit_countries);
    return (uint8_t)(shop_gen_nlegit_countries + (int)shop_gen_rng_below(&g->rng, n));
}

/* A signed-up customer with some history who is not shopping right now; GEN_NONE if none. */
static uint32_t pick_victim(shop_gen_t *g) {
    for (int tries = 0; tries < 64; tries++) {
        uint32_t u = shop_gen_zipf_draw(&g->user_pop, &g->rng);
        gen_user_t *usr = &g->users[u];
        if ((usr->flags & GEN_USER_SIGNED_UP) && !(usr->flags & GEN_USER_IN_SESSION))
            return u;
    }
    return GEN_NONE;
}

/* A popular product priced at 200000 KRW or more, or the most popular product at all. */
static uint32_t pick_expensive(shop_gen_t *g) {
    uint32_t lim = g->nproducts < 300 ? g->nproducts : 300;
    uint32_t start = shop_gen_rng_below(&g->rng, lim);
    for (uint32_t i = 0; i < lim; i++) {
        uint32_t p = g->by_rank[(start + i) % lim];
        if (shop_gen_price_in(g, p, GEN_KRW) >= 200000)
            return p;
    }
    return g->by_rank[0];
}

static void queue_signup(shop_gen_t *g, gen_session_t *s, uint32_t user, int referrer) {
    gen_item_t *it = shop_gen_queue(s, SHOP_EV_USER_SIGNUP, GEN_NONE);
    it->user = user, it->code = s->country, it->pos = (uint16_t)referrer;
    it->n = (int64_t)s->device, it->m = (int64_t)s->ip;
    g->users[user].flags |= GEN_USER_SIGNED_UP;
    shop_gen_add_points(g, s, user, 1000, GEN_R_SIGNUP_BONUS, GEN_NONE);
}

void shop_gen_fraud_start(shop_gen_t *g, gen_session_t *s, shop_fraud_kind_t kind) {
    memset(s, 0, sizeof(*s));
    s->sid = shop_gen_new_sid(g);
    s->last_product = GEN_NONE;
    s->device = shop_gen_rng_next(&g->rng);
    s->ip = shop_gen_rng_next(&g->rng);
    s->source = GEN_SRC_WEB; /* scripts and stolen sessions mostly drive the web shop */
    if (kind == SHOP_FRAUD_ACCOUNT_TAKEOVER) {
        uint32_t v = pick_victim(g);
        if (v == GEN_NONE)
            kind = SHOP_FRAUD_CARD_TESTING; /* nobody to take over yet */
        else
            s->user = v, s->country = foreign_country(g), g->users[v].flags |= GEN_USER_IN_SESSION;
    }
    s->fraud = (uint8_t)kind;
    switch (kind) {
    case SHOP_FRAUD_CARD_TESTING:
        s->country = shop_gen_rng_chance(&g->rng, 0.5) ? 0 : foreign_country(g);
        s->rounds = (uint16_t)shop_gen_rng_range(&g->rng, 6, 20);
        break;
    case SHOP_FRAUD_POINTS_ABUSE:
        s->rounds = (uint16_t)shop_gen_rng_range(&g->rng, 3, 6);
        break;
    case SHOP_FRAUD_BULK_BUYING:
        s->rounds = (uint16_t)shop_gen_rng_range(&g->rng, 3, 6);
        s->target = g->by_rank[shop_gen_rng_below(&g->rng, g->nproducts < 10 ? g->nproducts : 10)];
        break;
    default:
        break;
    }
    if (kind != SHOP_FRAUD_ACCOUNT_TAKEOVER) { /* a fresh account, made for the purpose */
        s->user = shop_gen_new_user(g, s->country, 1);
        g->users[s->user].source = s->source;
    }
}

/* Many tiny orders in a row, most of them declined: someone checking which stolen cards work. */
static int plan_card_testing(shop_gen_t *g, gen_session_t *s) {
    if (s->phase == 0) {
        queue_signup(g, s, s->user, 0);
    } else if (s->phase <= s->rounds) {
        uint32_t p = g->ncheap ? g->cheap[shop_gen_rng_below(&g->rng, g->ncheap)] : g->by_rank[0];
        shop_gen_cart_add(s, p, 1);
        shop_gen_checkout(g, s, SHOP_FRAUD_CARD_TESTING, 0.85);
    } else {
        return 0;
    }
    s->phase++;
    return 1;
}

/* Failed logins from a new device abroad, order e-mails switched off, then a large order. */
static int plan_takeover(shop_gen_t *g, gen_session_t *s) {
    switch (s->phase++) {
    case 0: {
        int fails = (int)shop_gen_rng_range(&g->rng, 1, 3);
        for (int i = 0; i <= fails; i++) {
            gen_item_t *it = shop_gen_queue(s, SHOP_EV_USER_LOGIN, GEN_NONE);
            it->code = s->country, it->pos = (uint16_t)(i == fails);
            it->n = (int64_t)s->device, it->m = (int64_t)s->ip;
        }
        return 1;
    }
    case 1: {
        gen_item_t *it = shop_gen_queue(s, SHOP_EV_USER_NOTIFICATION_PREFS_CHANGED, GEN_NONE);
        it->code = 3 /* order_status */, it->pos = 1 /* email */, it->n = 0;
        return 1;
    }
    case 2:
    case 3: {
        uint32_t p = pick_expensive(g);
        shop_gen_queue(s, SHOP_EV_USER_PRODUCT_VIEWED, p)->code = GEN_REF_DIRECT;
        shop_gen_cart_add(s, p, (uint16_t)shop_gen_rng_range(&g->rng, 2, 4));
        return 1;
    }
    case 4:
        shop_gen_checkout(g, s, SHOP_FRAUD_ACCOUNT_TAKEOVER, 0.1);
        return 1;
    default:
        return 0;
    }
}

/* A ring of accounts on one device referring each other, the bonuses pooled into one order. */
static int plan_points_abuse(shop_gen_t *g, gen_session_t *s) {
    uint32_t leader = s->user;
    if (s->phase == 0) {
        queue_signup(g, s, leader, 0);
    } else if (s->phase <= s->rounds) {
        uint32_t sock = shop_gen_new_user(g, s->country, 1);
        queue_signup(g, s, sock, 3);
        shop_gen_add_points(g, s, leader, 3000, GEN_R_REFERRAL, GEN_NONE);
    } else if (s->phase == s->rounds + 1) {
        uint32_t p = pick_expensive(g);
        shop_gen_queue(s, SHOP_EV_USER_PRODUCT_VIEWED, p)->code = GEN_REF_DIRECT;
        shop_gen_cart_add(s, p, 1);
        shop_gen_checkout(g, s, SHOP_FRAUD_POINTS_ABUSE, 0.05);
    } else {
        return 0;
    }
    s->phase++;
    return 1;
}

/* One hot SKU bought again and again in large quantities, shipped to different addresses. */
static int plan_bulk(shop_gen_t *g, gen_session_t *s) {
    if (s->phase == 0) {
        queue_signup(g, s, s->user, 0);
    } else if (s->phase <= s->rounds) {
        shop_gen_queue(s, SHOP_EV_USER_PRODUCT_VIEWED, s->target)->code = GEN_REF_DIRECT;
        shop_gen_cart_add(s, s->target, (uint16_t)shop_gen_rng_range(&g->rng, 5, 20));
        shop_gen_checkout(g, s, SHOP_FRAUD_BULK_BUYING, 0.02);
    } else {
        return 0;
    }
    s->phase++;
    return 1;
}

int shop_gen_fraud_plan(shop_gen_t *g, gen_session_t *s) {
    if (!s->started) { /* counted once it acts, not while it waits in the pool */
        s->started = 1;
        g->fraud_actors[s->fraud]++;
    }
    switch (s->fraud) {
    case SHOP_FRAUD_CARD_TESTING:
        return plan_card_testing(g, s);
    case SHOP_FRAUD_ACCOUNT_TAKEOVER:
        return plan_takeover(g, s);
    case SHOP_FRAUD_POINTS_ABUSE:
        return plan_points_abuse(g, s);
    case SHOP_FRAUD_BULK_BUYING:
        return plan_bulk(g, s);
    default:
        return 0;
    }
}
