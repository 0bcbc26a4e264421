/* engine.c: validation of order events, how each event changes a user's state, and the features
 * of an order.placed (rules and Isolation Forest read the same ones). Pure: time comes from the
 * events. */
#define _GNU_SOURCE
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud.h"

const char *const shop_fraud_feature_names[FRAUD_NFEAT] = {
    "log_amount",  "orders_1h",  "orders_24h",      "log_amount_24h",
    "zscore",      "age_days",   "new_device",      "new_country",
    "new_address", "failed_24h", "points_share",    "points_ratio",
    "max_qty",     "lines",      "device_accounts", "login_mismatch",
};

void shop_fraud_conf_default(shop_fraud_conf_t *c) {
    memset(c, 0, sizeof(*c));
    shop_fraud_rules_default(&c->rules);
    c->amount_max = 100000000000LL; /* 10^11 minor units */
    snprintf(c->currencies, sizeof(c->currencies), "KRW,USD,EUR,JPY,GBP,CNY,SGD,CAD,BRL,RUB,NGN");
    c->forest_weight = 40;
    c->forest_floor = 0.5;
    c->level_medium = 40;
    c->level_high = 60;
    c->idle_ms = 30 * FRAUD_DAY_MS;
}

static int currency_ok(const shop_fraud_conf_t *c, const char *cur) {
    if (!cur || strlen(cur) != 3 || !isupper((unsigned char)cur[0]) ||
        !isupper((unsigned char)cur[1]) || !isupper((unsigned char)cur[2]))
        return 0;
    if (!c->currencies[0])
        return 1;
    for (const char *s = c->currencies; (s = strstr(s, cur)); s += 3)
        if ((s == c->currencies || s[-1] == ',') && (s[3] == ',' || !s[3]))
            return 1;
    return 0;
}

static const char *opt_str(avro_value_t *p, const char *field) {
    const char *s = NULL;
    return shop_value_get_string(p, field, &s) == SHOP_OK && s && *s ? s : NULL;
}

/* Line items: every quantity and unit price positive, their sum equal to the gross total. */
static int check_items(const shop_event_t *ev, shop_fraud_order_t *o, char *errstr,
                       size_t errstr_size) {
    avro_value_t arr, item;
    size_t n = 0;
    if (avro_value_get_by_name((avro_value_t *)&ev->payload, "items", &arr, NULL) ||
        avro_value_get_size(&arr, &n) || !n)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "order.placed: no line items");
    o->nlines = (int64_t)n;
    for (size_t i = 0; i < n; i++) {
        int32_t q = 0;
        int64_t unit = 0;
        if (avro_value_get_by_index(&arr, i, &item, NULL) ||
            shop_value_get_int(&item, "quantity", &q) ||
            shop_value_get_long(&item, "unit_price_minor", &unit))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "order.placed: items[%zu] unreadable", i);
        if (q <= 0 || unit < 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "order.placed: items[%zu] has quantity %d and unit price %lld", i,
                               (int)q, (long long)unit);
        o->items_total += (int64_t)q * unit;
        if (q > o->max_qty)
            o->max_qty = q;
    }
    if (o->items_total != o->amount + o->points_used)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "order.placed: line items sum to %lld but amount_minor + points_used "
                           "is %lld",
                           (long long)o->items_total, (long long)(o->amount + o->points_used));
    return SHOP_OK;
}

int shop_fraud_validate(const shop_fraud_conf_t *c, const shop_event_t *ev, shop_fraud_order_t *o,
                        char *errstr, size_t errstr_size) {
    shop_fraud_order_t tmp;
    if (!o)
        o = &tmp;
    memset(o, 0, sizeof(*o));
    if (!ev->key || !*ev->key)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: missing user_id",
                           ev->type ? ev->type : "event");
    switch (ev->kind) {
    case SHOP_EV_ORDER_PLACED:
    case SHOP_EV_ORDER_PAID:
    case SHOP_EV_ORDER_PAYMENT_FAILED:
    case SHOP_EV_ORDER_REFUNDED:
    case SHOP_EV_ORDER_CHARGEBACK:
        break;
    default:
        return SHOP_OK;
    }
    avro_value_t *p = (avro_value_t *)&ev->payload;
    if (shop_value_get_long(p, "amount_minor", &o->amount) ||
        shop_value_get_string(p, "currency", &o->currency))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: amount_minor or currency missing", ev->type);
    if (o->amount < 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: amount_minor %lld is negative", ev->type, (long long)o->amount);
    if (o->amount > c->amount_max)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: amount_minor %lld is absurd (fraud.amount.max %lld)", ev->type,
                           (long long)o->amount, (long long)c->amount_max);
    if (!currency_ok(c, o->currency))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: currency \"%s\" is not an accepted ISO 4217 code", ev->type,
                           o->currency);
    if (ev->kind != SHOP_EV_ORDER_PLACED)
        return SHOP_OK;
    avro_value_t *rec = ev->value;
    if (shop_value_get_string(rec, "order_id", &o->order_id) || !o->order_id || !*o->order_id)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "order.placed: missing order_id");
    if (shop_value_get_long(p, "points_used", &o->points_used) || o->points_used < 0 ||
        o->points_used > c->amount_max)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "order.placed: points_used %lld is out of range",
                           (long long)o->points_used);
    o->device = opt_str(p, "device_id");
    o->ip = opt_str(p, "ip_hash");
    o->addr = opt_str(p, "shipping_address_hash");
    o->country = opt_str(p, "country");
    return check_items(ev, o, errstr, errstr_size);
}

/* ---- state updates ---- */

static int seen_has(const shop_fraud_seen_t *s, uint64_t h, int64_t at) {
    for (int i = 0; i < FRAUD_SET_N; i++)
        if (s[i].h == h && s[i].first_at <= at)
            return 1;
    return 0;
}

static int seen_any(const shop_fraud_seen_t *s, int64_t at) {
    for (int i = 0; i < FRAUD_SET_N; i++)
        if (s[i].h && s[i].first_at <= at)
            return 1;
    return 0;
}

/* Adds h (bounded: the least recently seen value makes room). */
static void seen_add(shop_fraud_seen_t *s, uint64_t h, int64_t at) {
    if (!h)
        return;
    int slot = -1, lru = 0;
    for (int i = 0; i < FRAUD_SET_N; i++) {
        if (s[i].h == h) {
            if (at < s[i].first_at)
                s[i].first_at = at;
            if (at > s[i].last_at)
                s[i].last_at = at;
            return;
        }
        if (!s[i].h && slot < 0)
            slot = i;
        if (s[i].last_at < s[lru].last_at)
            lru = i;
    }
    if (slot < 0)
        slot = lru;
    s[slot] = (shop_fraud_seen_t){h, at, at};
}

static uint64_t hash_opt(const char *s) {
    return s ? shop_fraud_hash(s) : 0;
}

static void push_order(shop_fraud_user_t *u, int64_t at, int64_t amount) {
    if (u->nring == FRAUD_RING_N) {
        memmove(u->ring_at, u->ring_at + 1, (FRAUD_RING_N - 1) * sizeof(int64_t));
        memmove(u->ring_amt, u->ring_amt + 1, (FRAUD_RING_N - 1) * sizeof(int64_t));
        u->nring--;
    }
    u->ring_at[u->nring] = at;
    u->ring_amt[u->nring++] = amount;
    u->norders++; /* Welford (1962) */
    double d = (double)amount - u->mean;
    u->mean += d / (double)u->norders;
    u->m2 += d * ((double)amount - u->mean);
}

static void push_pts(shop_fraud_user_t *u, int64_t at, int64_t delta) {
    if (u->npts == FRAUD_PTS_N) {
        memmove(u->pts_at, u->pts_at + 1, (FRAUD_PTS_N - 1) * sizeof(int64_t));
        memmove(u->pts_delta, u->pts_delta + 1, (FRAUD_PTS_N - 1) * sizeof(int64_t));
        u->npts--;
    }
    u->pts_at[u->npts] = at;
    u->pts_delta[u->npts++] = delta;
}

static void push_fail(shop_fraud_user_t *u, int64_t at) {
    if (u->nfail == FRAUD_FAIL_N) {
        memmove(u->fail_at, u->fail_at + 1, (FRAUD_FAIL_N - 1) * sizeof(int64_t));
        u->nfail--;
    }
    u->fail_at[u->nfail++] = at;
}

static void push_decision(shop_fraud_user_t *u, const shop_fraud_decision_t *d) {
    if (u->ndec == FRAUD_DEC_N) {
        memmove(u->dec, u->dec + 1, (FRAUD_DEC_N - 1) * sizeof(*d));
        u->ndec--;
    }
    u->dec[u->ndec++] = *d;
}

/* User-topic events: facts stamped with their event time. */
static void apply_user_event(shop_fraud_part_t *p, shop_fraud_user_t *u, const shop_event_t *ev) {
    avro_value_t *pl = (avro_value_t *)&ev->payload;
    int64_t at = ev->occurred_at, pts = 0;
    uint64_t dev = hash_opt(opt_str(pl, "device_id")), ip = hash_opt(opt_str(pl, "ip_hash"));
    uint64_t ctry = hash_opt(opt_str(pl, "country"));
    int ok = 1;
    switch (ev->kind) {
    case SHOP_EV_USER_SIGNUP:
        if (!u->signup_at || at < u->signup_at)
            u->signup_at = at;
        break;
    case SHOP_EV_USER_LOGIN:
        shop_value_get_bool(pl, "success", &ok);
        if (ok && at >= u->login_at)
            u->login_at = at, u->login_dev = dev, u->login_ctry = ctry;
        break;
    case SHOP_EV_USER_POINTS_EARNED:
    case SHOP_EV_USER_POINTS_SPENT:
        if (!shop_value_get_long(pl, "points", &pts) && pts > 0)
            push_pts(u, at, ev->kind == SHOP_EV_USER_POINTS_EARNED ? pts : -pts);
        return;
    default:
        return;
    }
    if (!ok)
        return;
    seen_add(u->dev, dev, at);
    seen_add(u->ip, ip, at);
    seen_add(u->ctry, ctry, at);
    shop_fraud_device_note(p, dev, u->idh, at);
}

/* ---- features ---- */

static double clampd(double v, double lo, double hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static void features(const shop_fraud_engine_t *e, const shop_fraud_part_t *p,
                     const shop_fraud_user_t *u, const shop_fraud_order_t *o, int64_t at,
                     shop_fraud_features_t *f) {
    memset(f, 0, sizeof(*f));
    int64_t amt24 = o->amount;
    f->orders_1h = f->orders_24h = 1;
    for (int i = 0; i < u->nring; i++) {
        if (u->ring_at[i] > at - FRAUD_HOUR_MS && u->ring_at[i] <= at)
            f->orders_1h++;
        if (u->ring_at[i] > at - FRAUD_DAY_MS && u->ring_at[i] <= at)
            f->orders_24h++, amt24 += u->ring_amt[i];
    }
    if (u->norders >= 3) {
        double sd = sqrt(u->m2 / (double)(u->norders - 1));
        f->zscore = clampd(((double)o->amount - u->mean) / (sd > 1.0 ? sd : 1.0), -5, 20);
    }
    uint64_t dev = hash_opt(o->device), ctry = hash_opt(o->country), addr = hash_opt(o->addr);
    f->has_history = seen_any(u->dev, at) || seen_any(u->ctry, at);
    f->new_device = dev && !seen_has(u->dev, dev, at);
    f->new_ip = o->ip && !seen_has(u->ip, hash_opt(o->ip), at);
    f->new_country = ctry && !seen_has(u->ctry, ctry, at);
    f->new_addr = addr && !seen_has(u->addr, addr, at);
    f->age_days =
        u->signup_at && u->signup_at <= at ? (double)(at - u->signup_at) / FRAUD_DAY_MS : 3650.0;
    for (int i = 0; i < u->nfail; i++)
        f->failed_24h += u->fail_at[i] > at - FRAUD_DAY_MS && u->fail_at[i] <= at;
    int64_t earned = 0, spent = o->points_used;
    for (int i = 0; i < u->npts; i++)
        if (u->pts_at[i] > at - FRAUD_DAY_MS && u->pts_at[i] <= at) {
            if (u->pts_delta[i] > 0)
                earned += u->pts_delta[i];
            else if (u->pts_at[i] < at) /* this order's own spend is points_used */
                spent -= u->pts_delta[i];
        }
    f->points_ratio = (double)spent / (double)(earned + 1000);
    f->device_accounts = dev ? shop_fraud_device_accounts(p, dev, at) : 0;
    if (dev && !f->device_accounts)
        f->device_accounts = 1;
    if (dev && e->device_scope == FRAUD_SCOPE_GLOBAL && e->global_accounts) {
        /* other partitions' accounts, as last read from Redis: depends on timing (README) */
        int64_t g = e->global_accounts(e->global_ctx, o->device, at);
        if (g > f->device_accounts)
            f->device_accounts = g;
    }
    int login_mismatch =
        u->login_at && u->login_at <= at && ctry && u->login_ctry && u->login_ctry != ctry;
    double *v = f->v;
    v[0] = log10(1.0 + (double)o->amount);
    v[1] = (double)f->orders_1h;
    v[2] = (double)f->orders_24h;
    v[3] = log10(1.0 + (double)amt24);
    v[4] = f->zscore;
    v[5] = clampd(f->age_days, 0, 3650);
    v[6] = f->has_history ? f->new_device : 0.5;
    v[7] = f->has_history ? f->new_country : 0.5;
    v[8] = f->new_addr;
    v[9] = (double)f->failed_24h;
    v[10] = (double)o->points_used / (double)(o->amount + o->points_used + 1);
    v[11] = log10(1.0 + f->points_ratio * 10.0);
    v[12] = (double)o->max_qty;
    v[13] = (double)o->nlines;
    v[14] = (double)f->device_accounts;
    v[15] = login_mismatch;
}

/* The decision this user already made for order h (the state is past it), or NULL. */
static const shop_fraud_decision_t *known_decision(const shop_fraud_user_t *u, uint64_t h) {
    for (int i = u ? u->ndec - 1 : -1; i >= 0; i--)
        if (u->dec[i].order_h == h)
            return &u->dec[i];
    return NULL;
}

static void apply_order_event(shop_fraud_user_t *u, const shop_event_t *ev) {
    if (ev->kind == SHOP_EV_ORDER_PAYMENT_FAILED)
        push_fail(u, ev->occurred_at);
}

static void place_order(shop_fraud_part_t *p, shop_fraud_user_t *u, const shop_fraud_order_t *o,
                        int64_t at, const shop_fraud_decision_t *dec) {
    push_order(u, at, o->amount);
    seen_add(u->dev, hash_opt(o->device), at);
    seen_add(u->ip, hash_opt(o->ip), at);
    seen_add(u->ctry, hash_opt(o->country), at);
    seen_add(u->addr, hash_opt(o->addr), at);
    shop_fraud_device_note(p, hash_opt(o->device), u->idh, at);
    push_decision(u, dec);
}

int shop_fraud_apply(const shop_fraud_engine_t *e, shop_fraud_part_t *p, const shop_event_t *ev,
                     int update, shop_fraud_decision_t *dec, shop_fraud_features_t *feat,
                     char *errstr, size_t errstr_size) {
    shop_fraud_order_t o;
    int rc = shop_fraud_validate(&e->conf, ev, &o, errstr, errstr_size);
    if (rc)
        return rc;
    if (ev->kind == SHOP_EV_ORDER_PLACED && !update) {
        shop_fraud_user_t *u = shop_fraud_user_get(p, ev->key, 0);
        const shop_fraud_decision_t *d = known_decision(u, shop_fraud_hash(o.order_id));
        if (d) {
            *dec = *d;
            return 1;
        }
        /* the state lost it (bounded history): score against the state as it is */
        shop_fraud_features_t f;
        static const shop_fraud_user_t empty;
        features(e, p, u ? u : &empty, &o, ev->occurred_at, &f);
        shop_fraud_score(e, &f, &o, dec);
        dec->order_h = shop_fraud_hash(o.order_id);
        if (feat)
            *feat = f;
        return 1;
    }
    if (!update)
        return 0;
    int64_t at = ev->occurred_at;
    if (ev->kind == SHOP_EV_UNKNOWN || ev->kind > SHOP_EV_ORDER_DELIVERED)
        return 0;
    shop_fraud_user_t *u = shop_fraud_user_get(p, ev->key, 1);
    shop_fraud_part_touch(p, u);
    if (at > u->last_at)
        u->last_at = at;
    if (at > p->wm)
        p->wm = at;
    if (ev->kind < SHOP_EV_ORDER_PLACED) {
        apply_user_event(p, u, ev);
        return 0;
    }
    if (ev->kind != SHOP_EV_ORDER_PLACED) {
        apply_order_event(u, ev);
        return 0;
    }
    shop_fraud_features_t f;
    features(e, p, u, &o, at, &f);
    shop_fraud_score(e, &f, &o, dec);
    dec->order_h = shop_fraud_hash(o.order_id);
    place_order(p, u, &o, at, dec);
    if (feat)
        *feat = f;
    return 1;
}
