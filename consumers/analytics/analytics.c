/* analytics.c: the analytics worker's computation (pure: events in, pending cells out; time comes
 * from occurred_at). Validates each event completely before it touches any state, keeps a
 * watermark per partition and sink, and counts events older than the allowed lateness as late. */
#define _GNU_SOURCE
#include "analytics.h"

#include <stdlib.h>
#include <string.h>

const char *const shop_an_topic_names[] = {"shop.order.events",   "shop.user.events",
                                           "shop.search.events",  "shop.inventory.events",
                                           "shop.catalog.events", NULL};

int shop_an_topic_index(const char *topic) {
    if (!topic)
        return -1;
    size_t tl = strlen(topic);
    for (int i = 0; shop_an_topic_names[i]; i++) {
        size_t nl = strlen(shop_an_topic_names[i]);
        if (tl >= nl && !strcmp(topic + tl - nl, shop_an_topic_names[i]) &&
            (tl == nl || topic[tl - nl - 1] == '.'))
            return i;
    }
    return -1;
}

void shop_analytics_init(shop_analytics_t *a, const char *redis_prefix) {
    memset(a, 0, sizeof(*a));
    for (int s = 0; s < SHOP_SINK_COUNT; s++) {
        shop_an_sink_state_t *st = &a->sink[s];
        shop_an_table_init(&st->rows);
        shop_an_cells_init(&st->cells);
        shop_an_cells_init(&st->titles);
        shop_an_cells_init(&st->wm);
        shop_an_cells_init(&st->oos);
        shop_an_cells_init(&st->wm_dirty);
        shop_an_cells_init(&st->oos_dirty);
    }
    a->conf.lateness_ms = 5 * 60000;
    a->conf.past_max_ms = 90LL * 86400000;
    a->conf.future_max_ms = 90LL * 86400000;
    snprintf(a->redis_prefix, sizeof(a->redis_prefix), "%s", redis_prefix ? redis_prefix : "");
}

void shop_analytics_release(shop_analytics_t *a) {
    for (int s = 0; s < SHOP_SINK_COUNT; s++) {
        shop_an_sink_state_t *st = &a->sink[s];
        shop_an_table_release(&st->rows);
        shop_an_cells_release(&st->cells);
        shop_an_cells_release(&st->titles);
        shop_an_cells_release(&st->wm);
        shop_an_cells_release(&st->oos);
        shop_an_cells_release(&st->wm_dirty);
        shop_an_cells_release(&st->oos_dirty);
    }
}

void shop_analytics_clear_pending(shop_analytics_t *a, int sink) {
    shop_an_sink_state_t *st = &a->sink[sink];
    shop_an_table_clear(&st->rows);
    shop_an_cells_clear(&st->cells);
    shop_an_cells_clear(&st->titles);
    shop_an_cells_clear(&st->wm_dirty);
    shop_an_cells_clear(&st->oos_dirty);
}

/* ---- validation: everything an event contributes, read before any state changes ---- */

typedef struct an_ev {
    int64_t amount, items, points, qty, prev_qty;
    const char *cur, *product, *region, *user, *variant, *title, *category;
    int has_prev, matched, success;
} an_ev_t;

static int bad(char *errstr, size_t errstr_size, const shop_event_t *ev, const char *what) {
    return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s", ev->type, what);
}

/* Amount and currency of a money-carrying payload. */
static int money(const shop_event_t *ev, an_ev_t *x, char *errstr, size_t errstr_size) {
    avro_value_t *p = (avro_value_t *)&ev->payload;
    if (shop_value_get_long(p, "amount_minor", &x->amount) ||
        shop_value_get_string(p, "currency", &x->cur))
        return bad(errstr, errstr_size, ev, "amount_minor or currency missing");
    if (x->amount < 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: amount_minor %lld is negative", ev->type, (long long)x->amount);
    if (x->amount > 1000000000000000LL) /* 10^15 minor units: no order is that large */
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: amount_minor %lld is implausibly large", ev->type,
                           (long long)x->amount);
    if (!shop_an_currency_known(x->cur))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: currency \"%s\" is not an ISO 4217 code", ev->type, x->cur);
    return SHOP_OK;
}

/* Sum of item quantities of an order.placed; every quantity must be positive. */
static int items_of(const shop_event_t *ev, an_ev_t *x, char *errstr, size_t errstr_size) {
    avro_value_t arr, item;
    size_t n = 0;
    x->items = 0;
    if (avro_value_get_by_name((avro_value_t *)&ev->payload, "items", &arr, NULL) ||
        avro_value_get_size(&arr, &n))
        return bad(errstr, errstr_size, ev, "items missing");
    if (!n)
        return bad(errstr, errstr_size, ev, "no items");
    for (size_t i = 0; i < n; i++) {
        int32_t q = 0;
        const char *pid = NULL;
        if (avro_value_get_by_index(&arr, i, &item, NULL) ||
            shop_value_get_int(&item, "quantity", &q) ||
            shop_value_get_string(&item, "product_id", &pid))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "order.placed: items[%zu] unreadable", i);
        if (q <= 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "order.placed: items[%zu].quantity %d is not positive", i, (int)q);
        x->items += q;
    }
    return SHOP_OK;
}

static int quantity(const shop_event_t *ev, an_ev_t *x, int positive, char *errstr,
                    size_t errstr_size) {
    int32_t q = 0;
    if (shop_value_get_int((avro_value_t *)&ev->payload, "quantity", &q))
        return bad(errstr, errstr_size, ev, "quantity missing");
    if (q < 0 || (positive && q == 0))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: quantity %d is %s", ev->type,
                           (int)q, q < 0 ? "negative" : "not positive");
    x->qty = q;
    return SHOP_OK;
}

static int validate(const shop_event_t *ev, an_ev_t *x, char *errstr, size_t errstr_size) {
    avro_value_t *p = (avro_value_t *)&ev->payload;
    int rc = SHOP_OK;
    memset(x, 0, sizeof(*x));
    if (ev->value)
        shop_value_get_string(ev->value, "user_id", &x->user);
    if (ev->value && ev->reader && shop_an_topic_index(ev->reader->topic) == 1)
        shop_value_get_string(ev->value, "ab_variant", &x->variant);
    switch (ev->kind) {
    case SHOP_EV_ORDER_PLACED:
        if (!(rc = money(ev, x, errstr, errstr_size)))
            rc = items_of(ev, x, errstr, errstr_size);
        break;
    case SHOP_EV_ORDER_PAID:
    case SHOP_EV_ORDER_PAYMENT_FAILED:
    case SHOP_EV_ORDER_REFUNDED:
    case SHOP_EV_ORDER_CHARGEBACK:
        rc = money(ev, x, errstr, errstr_size);
        break;
    case SHOP_EV_USER_PRODUCT_VIEWED:
        if (shop_value_get_string(p, "product_id", &x->product))
            rc = bad(errstr, errstr_size, ev, "product_id missing");
        break;
    case SHOP_EV_USER_CART_ADDED:
        if (shop_value_get_string(p, "product_id", &x->product))
            return bad(errstr, errstr_size, ev, "product_id missing");
        if ((rc = quantity(ev, x, 1, errstr, errstr_size)))
            return rc;
        if (shop_value_get_long(p, "unit_price_minor", &x->amount) || x->amount < 0)
            return bad(errstr, errstr_size, ev, "unit_price_minor missing or negative");
        if (shop_value_get_string(p, "currency", &x->cur) || !shop_an_currency_known(x->cur))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%s: currency \"%s\" is not an ISO 4217 code", ev->type,
                               x->cur ? x->cur : "");
        break;
    case SHOP_EV_USER_CART_REMOVED:
        rc = quantity(ev, x, 1, errstr, errstr_size);
        break;
    case SHOP_EV_USER_POINTS_EARNED:
    case SHOP_EV_USER_POINTS_SPENT:
        if (shop_value_get_long(p, "points", &x->points))
            return bad(errstr, errstr_size, ev, "points missing");
        if (x->points < 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: points %lld negative",
                               ev->type, (long long)x->points);
        break;
    case SHOP_EV_USER_LOGIN:
        shop_value_get_bool(p, "success", &x->success);
        break;
    case SHOP_EV_SEARCH_VISUAL: {
        avro_value_t arr;
        size_t n = 0;
        if (!avro_value_get_by_name(p, "matched_product_ids", &arr, NULL) &&
            !avro_value_get_size(&arr, &n))
            x->matched = n > 0;
        break;
    }
    case SHOP_EV_INVENTORY_STOCK_LEVEL: {
        int32_t prev = 0;
        x->product = ev->key;
        if (shop_value_get_string(p, "region", &x->region))
            return bad(errstr, errstr_size, ev, "region missing");
        if ((rc = quantity(ev, x, 0, errstr, errstr_size)))
            return rc;
        if (!shop_value_get_int(p, "previous_quantity", &prev)) {
            x->has_prev = 1;
            x->prev_qty = prev;
        }
        break;
    }
    case SHOP_EV_CATALOG_PRODUCT_UPSERTED:
        x->product = ev->key;
        if (shop_value_get_string(p, "title", &x->title) ||
            shop_value_get_string(p, "category", &x->category))
            rc = bad(errstr, errstr_size, ev, "title or category missing");
        break;
    default:
        break;
    }
    return rc;
}

/* ---- application ---- */

#define G_ALL    0xF                                         /* minute, hour, day, total */
#define G_DAYTOT ((1 << SHOP_AN_DAY) | (1 << SHOP_AN_TOTAL)) /* per-product and A/B detail */

static void add(shop_an_sink_state_t *st, unsigned grains, const char *metric, const char *dim,
                int64_t t, int64_t v) {
    if (!v)
        return;
    for (int g = 0; g < SHOP_AN_GRAINS; g++)
        if (grains & (1u << g))
            shop_an_cells_get(&st->cells, g, SHOP_AN_COUNT,
                              g == SHOP_AN_TOTAL ? 0 : shop_an_bucket(g, t), metric, dim)
                ->value += v;
}

static void member(shop_an_sink_state_t *st, int grain, int kind, const char *set, const char *user,
                   int64_t t) {
    if (user && *user)
        shop_an_cells_get(&st->cells, grain, kind, shop_an_bucket(grain, t), set, user)->value = 1;
}

static void apply_order_items(shop_an_sink_state_t *st, const shop_event_t *ev, int64_t t) {
    avro_value_t arr, item;
    size_t n = 0;
    avro_value_get_by_name((avro_value_t *)&ev->payload, "items", &arr, NULL);
    avro_value_get_size(&arr, &n);
    for (size_t i = 0; i < n; i++) {
        int32_t q = 0;
        const char *pid = NULL;
        avro_value_get_by_index(&arr, i, &item, NULL);
        shop_value_get_int(&item, "quantity", &q);
        shop_value_get_string(&item, "product_id", &pid);
        add(st, G_DAYTOT, "p_buys", pid, t, q);
    }
}

static void legacy_row(shop_an_sink_state_t *st, const shop_event_t *ev, const an_ev_t *x) {
    shop_an_row_t *r =
        shop_an_table_get(&st->rows, shop_an_bucket(SHOP_AN_MINUTE, ev->occurred_at), x->cur);
    if (ev->kind == SHOP_EV_ORDER_PLACED) {
        r->orders++;
        r->revenue_minor += x->amount;
        r->items += x->items;
    } else {
        r->refunds++;
        r->refund_minor += x->amount;
    }
}

/* Stock-out bookkeeping: an open stock-out per (partition, product, region). */
static void apply_stock(shop_an_sink_state_t *st, const shop_event_t *ev, const an_ev_t *x) {
    char dim[512];
    int64_t t = ev->occurred_at;
    snprintf(dim, sizeof(dim), "%s\t%s", x->product ? x->product : "", x->region);
    shop_an_cell_t *open = shop_an_cells_find(&st->oos, 0, 0, ev->partition, "oos", dim);
    int is_open = open && open->value >= 0;
    if (x->qty == 0 && !is_open) {
        add(st, G_ALL, "stockouts", "", t, 1);
        add(st, G_DAYTOT, "p_stockouts", x->product, t, 1);
        shop_an_cells_get(&st->oos, 0, 0, ev->partition, "oos", dim)->value = t;
        shop_an_cells_get(&st->oos_dirty, 0, 0, ev->partition, "oos", dim)->value = t;
    } else if (x->qty > 0 && is_open) {
        int64_t out = t > open->value ? t - open->value : 0;
        add(st, G_ALL, "restocks", "", t, 1);
        add(st, G_ALL, "oos_ms", "", t, out);
        add(st, G_DAYTOT, "p_oos_ms", x->product, t, out);
        open->value = -1;
        shop_an_cells_get(&st->oos_dirty, 0, 0, ev->partition, "oos", dim)->value = -1;
    }
}

static void apply_one(shop_an_sink_state_t *st, const shop_event_t *ev, const an_ev_t *x) {
    int64_t t = ev->occurred_at;
    if (x->user && *x->user) {
        for (int g = SHOP_AN_MINUTE; g <= SHOP_AN_DAY; g++)
            member(st, g, SHOP_AN_HLL, "users", x->user, t);
        member(st, SHOP_AN_DAY, SHOP_AN_SET, "active", x->user, t);
        if (x->variant && *x->variant) {
            char set[80];
            snprintf(set, sizeof(set), "ab:%.60s", x->variant);
            member(st, SHOP_AN_DAY, SHOP_AN_SET, set, x->user, t);
        }
    }
    switch (ev->kind) {
    case SHOP_EV_ORDER_PLACED:
        add(st, G_ALL, "orders", "", t, 1);
        add(st, G_ALL, "orders", x->cur, t, 1);
        add(st, G_ALL, "revenue", x->cur, t, x->amount);
        add(st, G_ALL, "items", "", t, x->items);
        apply_order_items(st, ev, t);
        member(st, SHOP_AN_DAY, SHOP_AN_SET, "buyers", x->user, t);
        legacy_row(st, ev, x);
        break;
    case SHOP_EV_ORDER_REFUNDED:
        add(st, G_ALL, "refunds", "", t, 1);
        add(st, G_ALL, "refund", x->cur, t, x->amount);
        legacy_row(st, ev, x);
        break;
    case SHOP_EV_ORDER_CHARGEBACK:
        add(st, G_ALL, "chargebacks", "", t, 1);
        add(st, G_ALL, "chargeback", x->cur, t, x->amount);
        break;
    case SHOP_EV_ORDER_PAID:
        add(st, G_ALL, "paid", "", t, 1);
        add(st, G_ALL, "paid_amount", x->cur, t, x->amount);
        break;
    case SHOP_EV_ORDER_PAYMENT_FAILED:
        add(st, G_ALL, "payment_failed", "", t, 1);
        break;
    case SHOP_EV_ORDER_CANCELLED:
        add(st, G_ALL, "cancelled", "", t, 1);
        break;
    case SHOP_EV_USER_SIGNUP:
        add(st, G_ALL, "signups", "", t, 1);
        break;
    case SHOP_EV_USER_LOGIN:
        add(st, G_ALL, x->success ? "logins" : "login_failures", "", t, 1);
        break;
    case SHOP_EV_USER_PRODUCT_VIEWED:
        add(st, G_ALL, "views", "", t, 1);
        add(st, G_DAYTOT, "p_views", x->product, t, 1);
        if (x->variant && *x->variant)
            add(st, G_DAYTOT, "ab_views", x->variant, t, 1);
        break;
    case SHOP_EV_USER_CART_ADDED:
        add(st, G_ALL, "carts", "", t, 1);
        add(st, G_ALL, "cart_units", "", t, x->qty);
        add(st, G_DAYTOT, "p_carts", x->product, t, 1);
        if (x->variant && *x->variant)
            add(st, G_DAYTOT, "ab_carts", x->variant, t, 1);
        break;
    case SHOP_EV_USER_CART_REMOVED:
        add(st, G_ALL, "cart_removals", "", t, 1);
        break;
    case SHOP_EV_USER_WISHLIST_ADDED:
        add(st, G_ALL, "wishlists", "", t, 1);
        break;
    case SHOP_EV_USER_POINTS_EARNED:
        add(st, G_ALL, "points_earned", "", t, x->points);
        break;
    case SHOP_EV_USER_POINTS_SPENT:
        add(st, G_ALL, "points_spent", "", t, x->points);
        break;
    case SHOP_EV_USER_LEVEL_UP:
        add(st, G_ALL, "level_ups", "", t, 1);
        break;
    case SHOP_EV_SEARCH_QUERY:
        add(st, G_ALL, "searches", "", t, 1);
        break;
    case SHOP_EV_SEARCH_RESULT_CLICKED:
        add(st, G_ALL, "search_clicks", "", t, 1);
        break;
    case SHOP_EV_SEARCH_VISUAL:
        add(st, G_ALL, "visual_searches", "", t, 1);
        add(st, G_ALL, "visual_matched", "", t, x->matched);
        member(st, SHOP_AN_DAY, SHOP_AN_SET, "visual", x->user, t);
        break;
    case SHOP_EV_INVENTORY_STOCK_LEVEL:
        apply_stock(st, ev, x);
        break;
    case SHOP_EV_CATALOG_PRODUCT_UPSERTED: {
        char dim[600];
        snprintf(dim, sizeof(dim), "%s\t%.200s\t%.100s", x->product ? x->product : "", x->title,
                 x->category);
        shop_an_cells_get(&st->titles, 0, 0, 0, "title", dim)->value = t;
        break;
    }
    default:
        break;
    }
}

/* The partition's watermark as the sinks in `sinks` know it (they all processed the same events
 * of it, so any one will do); -1 when the partition has none yet. */
static int64_t watermark(shop_analytics_t *a, unsigned sinks, int tidx, int32_t partition) {
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        if (sinks & SHOP_SINK_BIT(s)) {
            shop_an_cell_t *c =
                shop_an_cells_find(&a->sink[s].wm, tidx < 0 ? 0 : tidx, 0, partition, "wm", "");
            return c ? c->value : -1;
        }
    return -1;
}

int shop_analytics_apply(shop_analytics_t *a, const shop_event_t *ev, unsigned sinks, char *errstr,
                         size_t errstr_size) {
    an_ev_t x;
    int rc = validate(ev, &x, errstr, errstr_size);
    if (rc || !sinks)
        return rc;
    int tidx = shop_an_topic_index(ev->topic ? ev->topic : (ev->reader ? ev->reader->topic : NULL));
    int64_t t = ev->occurred_at, wm = watermark(a, sinks, tidx, ev->partition);
    if (wm >= 0 && t > wm + a->conf.future_max_ms)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: occurred_at %lld is %lld s ahead of the partition's watermark",
                           ev->type, (long long)t, (long long)((t - wm) / 1000));
    if (wm >= 0 && t < wm - a->conf.past_max_ms)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: occurred_at %lld is %lld s behind the partition's watermark",
                           ev->type, (long long)t, (long long)((wm - t) / 1000));
    int late = wm >= 0 && t < wm - a->conf.lateness_ms;
    for (int s = 0; s < SHOP_SINK_COUNT; s++) {
        if (!(sinks & SHOP_SINK_BIT(s)))
            continue;
        shop_an_sink_state_t *st = &a->sink[s];
        if (t > wm) {
            int g = tidx < 0 ? 0 : tidx;
            shop_an_cells_get(&st->wm, g, 0, ev->partition, "wm", "")->value = t;
            shop_an_cells_get(&st->wm_dirty, g, 0, ev->partition, "wm", "")->value = t;
        }
        if (late) {
            add(st, G_ALL, "late", "", t, 1);
            add(st, 1u << SHOP_AN_TOTAL, "late", ev->type, t, 1);
        } else {
            apply_one(st, ev, &x);
        }
    }
    if (late) {
        a->late_total++;
        SHOP_WARN("worker=analytics topic=%s partition=%d offset=%lld type=%s occurred_at=%lld "
                  "watermark=%lld msg=\"late event beyond the allowed lateness: counted as late, "
                  "not in the rollups\"",
                  ev->topic ? ev->topic : "-", (int)ev->partition, (long long)ev->offset, ev->type,
                  (long long)t, (long long)wm);
    }
    return SHOP_OK;
}
