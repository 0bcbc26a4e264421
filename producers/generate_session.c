/* generate_session.c: a legit shopper's session (arrive, browse, search, cart, checkout) and the
 * order lifecycle that follows a payment (ship, deliver, cancel, refund, chargeback). */
#include <string.h>

#include "generate_int.h"

#define MINUTE_US (60LL * 1000000)
#define HOUR_US   (60 * MINUTE_US)
#define DAY_US    (24 * HOUR_US)

gen_item_t *shop_gen_queue(gen_session_t *s, uint8_t kind, uint32_t product) {
    static gen_item_t overflow; /* a plan longer than GEN_QMAX is a bug: keep going, drop it */
    gen_item_t *it = s->qlen < GEN_QMAX ? &s->q[(s->qhead + s->qlen++) % GEN_QMAX] : &overflow;
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->user = s->user;
    it->product = product;
    it->order = GEN_NONE;
    it->sid = s->sid;
    it->source = s->source;
    return it;
}

static uint32_t pick_free_user(shop_gen_t *g) {
    for (int tries = 0; tries < 16; tries++) {
        uint32_t u = shop_gen_zipf_draw(&g->user_pop, &g->rng);
        if (!(g->users[u].flags & GEN_USER_IN_SESSION))
            return u;
    }
    uint32_t start = shop_gen_rng_below(&g->rng, g->nlegit);
    for (uint32_t i = 0; i < g->nlegit; i++) {
        uint32_t u = (start + i) % g->nlegit;
        if (!(g->users[u].flags & GEN_USER_IN_SESSION))
            return u;
    }
    return start; /* the pool is sized so that this cannot happen */
}

void shop_gen_session_start(shop_gen_t *g, gen_session_t *s) {
    memset(s, 0, sizeof(*s));
    s->user = pick_free_user(g);
    g->users[s->user].flags |= GEN_USER_IN_SESSION;
    s->sid = shop_gen_new_sid(g);
    s->source = g->users[s->user].source;
    s->steps_left = (uint16_t)(2 + shop_gen_rng_exp(&g->rng, 12.0));
    s->last_product = GEN_NONE;
    s->country = g->users[s->user].country;
}

void shop_gen_add_points(shop_gen_t *g, gen_session_t *s, uint32_t user, int64_t pts, int reason,
                         uint32_t order) {
    gen_user_t *u = &g->users[user];
    u->points += pts;
    u->points_total += pts;
    gen_item_t *it = shop_gen_queue(s, SHOP_EV_USER_POINTS_EARNED, GEN_NONE);
    it->user = user, it->n = pts, it->code = (uint8_t)reason, it->order = order;
    it->source = GEN_SRC_POINTS;
    while (u->level < GEN_NLEVELS && u->points_total >= shop_gen_level_points[u->level]) {
        u->level++;
        it = shop_gen_queue(s, SHOP_EV_USER_LEVEL_UP, GEN_NONE);
        it->user = user, it->pos = u->level, it->source = GEN_SRC_POINTS;
    }
}

static void plan_arrival(shop_gen_t *g, gen_session_t *s) {
    gen_user_t *u = &g->users[s->user];
    if (!(u->flags & GEN_USER_SIGNED_UP)) {
        u->flags |= GEN_USER_SIGNED_UP;
        gen_item_t *it = shop_gen_queue(s, SHOP_EV_USER_SIGNUP, GEN_NONE);
        it->code = u->country, it->n = (int64_t)shop_gen_mix64(u->hash),
        it->m = (int64_t)shop_gen_mix64(u->hash + 7);
        it->pos = (uint16_t)shop_gen_rng_below(&g->rng, 3); /* referrer: not a friend's */
        shop_gen_add_points(g, s, s->user, 1000, GEN_R_SIGNUP_BONUS, GEN_NONE);
        return;
    }
    if (shop_gen_rng_chance(&g->rng, 0.3)) {
        uint64_t device = shop_gen_mix64(u->hash + (shop_gen_rng_chance(&g->rng, 0.15) ? 1 : 0));
        uint64_t ip = shop_gen_mix64(u->hash + 7 + shop_gen_rng_below(&g->rng, 3));
        int failed = shop_gen_rng_chance(&g->rng, 0.03);
        for (int i = 0; i <= failed; i++) {
            gen_item_t *it = shop_gen_queue(s, SHOP_EV_USER_LOGIN, GEN_NONE);
            it->code = u->country, it->pos = (uint16_t)(i == failed), it->n = (int64_t)device,
            it->m = (int64_t)ip;
        }
    }
    if (shop_gen_rng_chance(&g->rng, 0.12))
        shop_gen_add_points(g, s, s->user, shop_gen_rng_range(&g->rng, 1, 5) * 10, GEN_R_CHECKIN,
                            GEN_NONE);
}

static void plan_view(shop_gen_t *g, gen_session_t *s) {
    uint32_t p = GEN_NONE;
    int ref = GEN_REF_DIRECT;
    if (s->last_product != GEN_NONE && shop_gen_rng_chance(&g->rng, 0.3)) {
        p = shop_gen_pick_matching(g, g->products[s->last_product].cat, -1, -1, NULL);
        ref = GEN_REF_RECO;
    }
    if (p == GEN_NONE || p == s->last_product) {
        p = shop_gen_pick_product(g);
        ref = shop_gen_rng_chance(&g->rng, 0.04) ? GEN_REF_WISHLIST : GEN_REF_DIRECT;
    }
    shop_gen_queue(s, SHOP_EV_USER_PRODUCT_VIEWED, p)->code = (uint8_t)ref;
    s->last_product = p;
}

void shop_gen_cart_add(gen_session_t *s, uint32_t p, uint16_t qty) {
    shop_gen_queue(s, SHOP_EV_USER_CART_ADDED, p)->pos = qty;
    for (int i = 0; i < s->ncart; i++)
        if (s->cart[i] == p) {
            s->cart_qty[i] = (uint16_t)(s->cart_qty[i] + qty);
            return;
        }
    if (s->ncart < GEN_CART) {
        s->cart[s->ncart] = p;
        s->cart_qty[s->ncart++] = qty;
    }
}

static void plan_cart_add(shop_gen_t *g, gen_session_t *s) {
    uint32_t p = s->last_product;
    int region = shop_gen_countries[g->users[s->user].country].region;
    if (g->products[p].avail[region] <= 0) { /* sold out: ask to be told when it is back */
        if (shop_gen_rng_chance(&g->rng, 0.5))
            shop_gen_queue(s, SHOP_EV_USER_WISHLIST_ADDED, p)->code = (uint8_t)region;
        return;
    }
    double u = shop_gen_rng_unit(&g->rng);
    uint16_t qty = (uint16_t)(u < 0.85 ? 1 : u < 0.95 ? 2 : 3);
    shop_gen_cart_add(s, p, qty);
}

static void plan_wish(shop_gen_t *g, gen_session_t *s) {
    int region = shop_gen_countries[g->users[s->user].country].region;
    shop_gen_queue(s, SHOP_EV_USER_WISHLIST_ADDED, s->last_product)->code = (uint8_t)region;
}

static void plan_cart_remove(shop_gen_t *g, gen_session_t *s) {
    int i = (int)shop_gen_rng_below(&g->rng, s->ncart);
    shop_gen_queue(s, SHOP_EV_USER_CART_REMOVED, s->cart[i])->pos = s->cart_qty[i];
    s->cart[i] = s->cart[s->ncart - 1];
    s->cart_qty[i] = s->cart_qty[s->ncart - 1];
    s->ncart--;
}

static void plan_prefs(shop_gen_t *g, gen_session_t *s) {
    gen_item_t *it = shop_gen_queue(s, SHOP_EV_USER_NOTIFICATION_PREFS_CHANGED, GEN_NONE);
    it->code = (uint8_t)shop_gen_rng_below(&g->rng, GEN_NNOTIF);
    it->pos = (uint16_t)shop_gen_rng_below(&g->rng, GEN_NCHANNELS);
    it->n = shop_gen_rng_chance(&g->rng, 0.7);
    it->flags = shop_gen_rng_chance(&g->rng, 0.3) ? GEN_F_QUIET : 0;
    it->m = shop_gen_rng_chance(&g->rng, 0.4) ? shop_gen_rng_range(&g->rng, 1, 10) : 0;
}

/* One step of a legit session; returns 0 when the shopper leaves. */
static int plan_legit(shop_gen_t *g, gen_session_t *s) {
    if (!s->started) {
        s->started = 1;
        plan_arrival(g, s);
        return 1;
    }
    if (s->steps_left == 0) { /* leaving: a last-minute checkout, or an abandoned cart */
        if (s->ncart && s->phase == 0 && shop_gen_rng_chance(&g->rng, 0.25)) {
            s->phase = 1;
            shop_gen_checkout(g, s, SHOP_FRAUD_NONE, 0.04);
            return 1;
        }
        return 0;
    }
    s->steps_left--;
    double u = shop_gen_rng_unit(&g->rng);
    int have = s->last_product != GEN_NONE;
    if (u < 0.44)
        plan_view(g, s);
    else if (u < 0.62)
        shop_gen_plan_search(g, s);
    else if (u < 0.65)
        shop_gen_plan_visual(g, s);
    else if (u < 0.75)
        have ? plan_cart_add(g, s) : plan_view(g, s);
    else if (u < 0.78)
        have ? plan_wish(g, s) : plan_view(g, s);
    else if (u < 0.80)
        s->ncart ? plan_cart_remove(g, s) : plan_view(g, s);
    else if (u < 0.90) {
        if (!s->ncart) {
            plan_view(g, s);
        } else {
            shop_gen_checkout(g, s, SHOP_FRAUD_NONE, 0.04);
            if (shop_gen_rng_chance(&g->rng, 0.6))
                s->steps_left = 0, s->phase = 1;
        }
    } else if (u < 0.903)
        plan_prefs(g, s);
    else
        plan_view(g, s);
    return 1;
}

int shop_gen_session_step(shop_gen_t *g, gen_session_t *s, gen_item_t *out) {
    while (s->qlen == 0) {
        int more = s->fraud ? shop_gen_fraud_plan(g, s) : plan_legit(g, s);
        if (!more) {
            g->users[s->user].flags &= (uint8_t)~GEN_USER_IN_SESSION;
            return 0;
        }
    }
    *out = s->q[s->qhead];
    s->qhead = (uint8_t)((s->qhead + 1) % GEN_QMAX);
    s->qlen--;
    return 1;
}

/* ---- checkout ---- */

static uint8_t pick_pay_method(shop_gen_rng_t *r, int currency) {
    double u = shop_gen_rng_unit(r);
    if (currency == GEN_USD)
        return u < 0.6 ? GEN_PAY_CARD : u < 0.85 ? GEN_PAY_PAYPAL : GEN_PAY_APPLE;
    return u < 0.45   ? GEN_PAY_CARD
           : u < 0.65 ? GEN_PAY_KAKAOPAY
           : u < 0.8  ? GEN_PAY_NAVERPAY
           : u < 0.9  ? GEN_PAY_TOSS
                      : GEN_PAY_BANK;
}

static uint32_t new_order(shop_gen_t *g, gen_session_t *s, uint8_t fraud) {
    if (g->norders == g->cap_orders) {
        g->cap_orders = g->cap_orders ? g->cap_orders * 2 : 1024;
        g->orders = shop_xrealloc(g->orders, g->cap_orders * sizeof(gen_order_t));
    }
    uint32_t id = g->norders++;
    gen_order_t *o = &g->orders[id];
    gen_user_t *u = &g->users[s->user];
    memset(o, 0, sizeof(*o));
    o->user = s->user, o->sid = s->sid, o->fraud = fraud, o->source = s->source;
    o->country = s->country; /* where it was placed from; the account's currency still applies */
    o->currency = shop_gen_countries[u->country].currency;
    o->device = s->device ? s->device : shop_gen_mix64(u->hash);
    o->ip = s->ip ? s->ip : shop_gen_mix64(u->hash + 7);
    o->addr = fraud == SHOP_FRAUD_ACCOUNT_TAKEOVER || fraud == SHOP_FRAUD_BULK_BUYING
                  ? shop_gen_rng_next(&g->rng)
                  : shop_gen_mix64(u->hash + 13);
    int64_t total = 0;
    for (int i = 0; i < s->ncart && i < GEN_MAX_ITEMS; i++) {
        o->product[i] = s->cart[i];
        o->qty[i] = s->cart_qty[i];
        o->unit[i] = shop_gen_price_in(g, s->cart[i], o->currency);
        total += o->unit[i] * o->qty[i];
        o->nitems++;
    }
    s->ncart = 0;
    o->amount = total;
    o->pay = pick_pay_method(&g->rng, o->currency);
    if (fraud == SHOP_FRAUD_CARD_TESTING || fraud == SHOP_FRAUD_BULK_BUYING)
        o->pay = GEN_PAY_CARD;
    return id;
}

/* Points the shopper spends on the order: legit ones sometimes, a takeover drains the balance. */
static int64_t points_to_use(shop_gen_t *g, gen_user_t *u, const gen_order_t *o, uint8_t fraud) {
    if (o->currency != GEN_KRW || u->points < 1000)
        return 0;
    if (fraud == SHOP_FRAUD_ACCOUNT_TAKEOVER || fraud == SHOP_FRAUD_POINTS_ABUSE)
        return u->points < o->amount - 1000 ? u->points : o->amount - 1000;
    if (!shop_gen_rng_chance(&g->rng, 0.3))
        return 0;
    int64_t cap = o->amount / 10 / 100 * 100;
    return u->points < cap ? u->points / 100 * 100 : cap;
}

static gen_item_t *queue_order_event(gen_session_t *s, uint8_t kind, uint32_t order, uint8_t code) {
    gen_item_t *it = shop_gen_queue(s, kind, GEN_NONE);
    it->order = order, it->code = code;
    return it;
}

static void plan_paid(shop_gen_t *g, gen_session_t *s, uint32_t oid, uint8_t method) {
    gen_order_t *o = &g->orders[oid];
    queue_order_event(s, SHOP_EV_ORDER_PAID, oid, 0)->pos = method;
    int region = shop_gen_countries[g->users[o->user].country].region;
    for (int i = 0; i < o->nitems; i++) {
        gen_item_t *it = shop_gen_queue(s, SHOP_EV_INVENTORY_STOCK_LEVEL, o->product[i]);
        it->code = (uint8_t)region, it->n = -(int64_t)o->qty[i], it->flags = GEN_F_RESTOCK;
        g->products[o->product[i]].avail[region] -= o->qty[i];
        it->source = GEN_SRC_INVENTORY, it->sid = 0;
    }
    int64_t krw = o->currency == GEN_KRW ? o->amount : o->amount * GEN_KRW_PER_USD / 100;
    if (krw >= 100)
        shop_gen_add_points(g, s, o->user, krw / 100, GEN_R_PURCHASE, oid);
    g->users[o->user].orders++;
}

/* Takes out of the cart what is no longer available; returns how many products remain. */
static int cart_in_stock(shop_gen_t *g, gen_session_t *s) {
    int region = shop_gen_countries[g->users[s->user].country].region, n = 0;
    for (int i = 0; i < s->ncart; i++) {
        int32_t avail = g->products[s->cart[i]].avail[region];
        if (avail <= 0)
            continue;
        s->cart[n] = s->cart[i];
        s->cart_qty[n++] = (uint16_t)(s->cart_qty[i] < avail ? s->cart_qty[i] : avail);
    }
    s->ncart = (uint8_t)n;
    return n;
}

uint32_t shop_gen_checkout(shop_gen_t *g, gen_session_t *s, uint8_t fraud, double fail_p) {
    if (!cart_in_stock(g, s))
        return GEN_NONE;
    uint32_t oid = new_order(g, s, fraud);
    gen_order_t *o = &g->orders[oid];
    gen_user_t *u = &g->users[o->user];
    o->points_used = points_to_use(g, u, o, fraud);
    o->amount -= o->points_used;
    u->points -= o->points_used;
    queue_order_event(s, SHOP_EV_ORDER_PLACED, oid, 0);
    if (o->points_used) {
        gen_item_t *it = shop_gen_queue(s, SHOP_EV_USER_POINTS_SPENT, GEN_NONE);
        it->n = o->points_used, it->order = oid, it->source = GEN_SRC_POINTS;
    }
    uint8_t method = o->pay;
    if (shop_gen_rng_chance(&g->rng, fail_p)) {
        queue_order_event(s, SHOP_EV_ORDER_PAYMENT_FAILED, oid,
                          (uint8_t)shop_gen_rng_below(&g->rng, GEN_NFAIL))
            ->pos = method;
        if (fraud != SHOP_FRAUD_NONE || !shop_gen_rng_chance(&g->rng, 0.5)) {
            if (fraud == SHOP_FRAUD_NONE)
                queue_order_event(s, SHOP_EV_ORDER_CANCELLED, oid, GEN_R_PAYMENT_FAILED);
            return oid;
        }
        method = method == GEN_PAY_CARD ? pick_pay_method(&g->rng, o->currency) : GEN_PAY_CARD;
    }
    plan_paid(g, s, oid, method);
    return oid;
}

/* ---- what happens after an event is written ---- */

static void schedule_order(shop_gen_t *g, int64_t due, uint8_t kind, uint32_t oid, uint8_t code,
                           uint8_t flags) {
    gen_item_t it;
    memset(&it, 0, sizeof(it));
    it.kind = kind, it.order = oid, it.code = code, it.flags = flags;
    it.user = g->orders[oid].user, it.product = GEN_NONE, it.source = GEN_SRC_BACKOFFICE;
    it.n = (int64_t)(shop_gen_rng_next(&g->rng) >> 1);
    shop_gen_schedule(g, due, &it);
}

/* The whole life of a paid order is decided when the payment is written, and scheduled at once:
 * when the run ends, the pending tail still holds every shipment, delivery, refund and (for fraud)
 * the labelling chargeback. Chargebacks go first, in case the event budget runs short. */
static void after_paid(shop_gen_t *g, uint32_t oid) {
    gen_order_t *o = &g->orders[oid];
    int64_t now = g->clock_us;
    o->paid = 1;
    if (o->fraud)
        schedule_order(g, now + DAY_US + (int64_t)shop_gen_rng_exp(&g->rng, 2.0 * DAY_US),
                       SHOP_EV_ORDER_CHARGEBACK, oid,
                       (uint8_t)(GEN_R_FRAUD_CARD_TESTING + o->fraud - 1), 0);
    if (!o->fraud && shop_gen_rng_chance(&g->rng, 0.015)) { /* changed their mind before shipping */
        int64_t at = now + shop_gen_rng_range(&g->rng, 10, 120) * MINUTE_US;
        schedule_order(g, at, SHOP_EV_ORDER_CANCELLED, oid, GEN_R_CUSTOMER_REQUEST, 0);
        schedule_order(g, at + shop_gen_rng_range(&g->rng, 5, 60) * MINUTE_US,
                       SHOP_EV_ORDER_REFUNDED, oid, GEN_R_CANCELLED, 0);
        return;
    }
    int64_t shipped = now + shop_gen_rng_range(&g->rng, 2 * 60, 20 * 60) * MINUTE_US;
    int64_t delivered = shipped + shop_gen_rng_range(&g->rng, 18, 72) * HOUR_US;
    schedule_order(g, shipped, SHOP_EV_ORDER_SHIPPED, oid, (uint8_t)shop_gen_rng_below(&g->rng, 5),
                   0);
    schedule_order(g, delivered, SHOP_EV_ORDER_DELIVERED, oid, 0, 0);
    if (o->fraud)
        return;
    if (shop_gen_rng_chance(&g->rng, 0.03))
        schedule_order(g, delivered + shop_gen_rng_range(&g->rng, 2, 10) * DAY_US,
                       SHOP_EV_ORDER_REFUNDED, oid, GEN_R_RETURNED, 0);
    else if (shop_gen_rng_chance(&g->rng, 0.0015))
        schedule_order(g, delivered + shop_gen_rng_range(&g->rng, 15, 40) * DAY_US,
                       SHOP_EV_ORDER_CHARGEBACK, oid, GEN_R_NOT_RECEIVED, 0);
}

static void apply_stock(shop_gen_t *g, gen_item_t *it) {
    int32_t *stock = &g->products[it->product].stock[it->code];
    int32_t *avail = &g->products[it->product].avail[it->code];
    if (it->flags & GEN_F_SNAPSHOT) {
        it->n = *stock;
        return;
    }
    int64_t prev = *stock, now = prev + it->n;
    if (it->n > 0)
        *avail += (int32_t)it->n; /* a restock; sales left avail when they were planned */
    if (now < 0)
        now = 0; /* cannot happen while checkouts respect avail; never report less than zero */
    *stock = (int32_t)now;
    it->m = prev, it->n = now;
    if (now == 0 && prev > 0) { /* sold out: the buyers restock within the hour or so */
        gen_item_t r = *it;
        r.flags = GEN_F_RESTOCK, r.sid = 0, r.source = GEN_SRC_INVENTORY;
        r.n = shop_gen_rng_range(&g->rng, 30, 300);
        shop_gen_schedule(g, g->clock_us + shop_gen_rng_range(&g->rng, 5, 90) * MINUTE_US, &r);
    }
}

void shop_gen_apply(shop_gen_t *g, gen_item_t *it) {
    switch (it->kind) {
    case SHOP_EV_INVENTORY_STOCK_LEVEL:
        apply_stock(g, it);
        break;
    case SHOP_EV_ORDER_PAID:
        after_paid(g, it->order);
        break;
    case SHOP_EV_ORDER_CHARGEBACK:
        if (it->code >= GEN_R_FRAUD_CARD_TESTING && it->code <= GEN_R_FRAUD_BULK)
            g->fraud_chargebacks++;
        break;
    default:
        break;
    }
}
