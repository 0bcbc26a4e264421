/* analytics.c: orders, revenue and refunds per event-time minute and currency (pure: events in,
 * pending rows out; the sink writes them). */
#define _GNU_SOURCE
#include "analytics.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void shop_an_table_init(shop_an_table_t *t) {
    memset(t, 0, sizeof(*t));
}

void shop_an_table_release(shop_an_table_t *t) {
    free(t->rows);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

void shop_an_table_clear(shop_an_table_t *t) {
    t->n = 0;
    for (size_t i = 0; i < t->nslots; i++)
        t->slots[i] = -1;
}

static uint64_t hash_key(int64_t minute_ms, const char *cur) {
    uint64_t h = (uint64_t)minute_ms * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 3 && cur[i]; i++)
        h = (h ^ (unsigned char)cur[i]) * 0x100000001B3ULL;
    return h ^ (h >> 31);
}

static void rehash(shop_an_table_t *t, size_t nslots) {
    free(t->slots);
    t->slots = shop_xmalloc(nslots * sizeof(int32_t));
    t->nslots = nslots;
    for (size_t i = 0; i < nslots; i++)
        t->slots[i] = -1;
    for (size_t r = 0; r < t->n; r++) {
        size_t s = hash_key(t->rows[r].minute_ms, t->rows[r].currency) & (nslots - 1);
        while (t->slots[s] >= 0)
            s = (s + 1) & (nslots - 1);
        t->slots[s] = (int32_t)r;
    }
}

shop_an_row_t *shop_an_table_get(shop_an_table_t *t, int64_t minute_ms, const char *currency) {
    if ((t->n + 1) * 2 > t->nslots)
        rehash(t, t->nslots ? t->nslots * 2 : 64);
    size_t s = hash_key(minute_ms, currency) & (t->nslots - 1);
    for (; t->slots[s] >= 0; s = (s + 1) & (t->nslots - 1)) {
        shop_an_row_t *r = &t->rows[t->slots[s]];
        if (r->minute_ms == minute_ms && !strncmp(r->currency, currency, 3))
            return r;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->rows = shop_xrealloc(t->rows, t->cap * sizeof(*t->rows));
    }
    shop_an_row_t *r = &t->rows[t->n];
    memset(r, 0, sizeof(*r));
    r->minute_ms = minute_ms;
    memcpy(r->currency, currency, 3);
    t->slots[s] = (int32_t)t->n++;
    return r;
}

const char *shop_an_minute_key(int64_t minute_ms, char *buf, size_t size) {
    time_t t = (time_t)(minute_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%04d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min);
    return buf;
}

static int valid_currency(const char *c) {
    return c && strlen(c) == 3 && isupper((unsigned char)c[0]) && isupper((unsigned char)c[1]) &&
           isupper((unsigned char)c[2]);
}

/* Amount and currency of a money-carrying payload, validated. */
static int money(const shop_event_t *ev, int64_t *amount, const char **cur, char *errstr,
                 size_t errstr_size) {
    avro_value_t *p = (avro_value_t *)&ev->payload;
    if (shop_value_get_long(p, "amount_minor", amount) || shop_value_get_string(p, "currency", cur))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: amount_minor or currency missing", ev->type);
    if (*amount < 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: amount_minor %lld is negative", ev->type, (long long)*amount);
    if (*amount > 1000000000000000LL) /* 10^15 minor units: no order is that large */
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: amount_minor %lld is implausibly large", ev->type,
                           (long long)*amount);
    if (!valid_currency(*cur))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: currency \"%s\" is not an ISO 4217 code", ev->type, *cur);
    return SHOP_OK;
}

/* Sum of item quantities of an order.placed; every quantity must be positive. */
static int items_of(const shop_event_t *ev, int64_t *items, char *errstr, size_t errstr_size) {
    avro_value_t arr, item;
    size_t n = 0;
    *items = 0;
    if (avro_value_get_by_name((avro_value_t *)&ev->payload, "items", &arr, NULL) ||
        avro_value_get_size(&arr, &n))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "order.placed: items missing");
    if (!n)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "order.placed: no items");
    for (size_t i = 0; i < n; i++) {
        int32_t q = 0;
        if (avro_value_get_by_index(&arr, i, &item, NULL) ||
            shop_value_get_int(&item, "quantity", &q))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "order.placed: items[%zu] unreadable", i);
        if (q <= 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "order.placed: items[%zu].quantity %d is not positive", i, (int)q);
        *items += q;
    }
    return SHOP_OK;
}

int shop_analytics_apply(shop_analytics_t *a, const shop_event_t *ev, unsigned sinks, char *errstr,
                         size_t errstr_size) {
    if (ev->kind != SHOP_EV_ORDER_PLACED && ev->kind != SHOP_EV_ORDER_REFUNDED)
        return SHOP_OK;
    int64_t amount = 0, items = 0;
    const char *cur = NULL;
    int rc = money(ev, &amount, &cur, errstr, errstr_size);
    if (!rc && ev->kind == SHOP_EV_ORDER_PLACED)
        rc = items_of(ev, &items, errstr, errstr_size);
    if (rc)
        return rc;
    int64_t minute = ev->occurred_at - (ev->occurred_at % 60000);
    for (int s = 0; s < SHOP_SINK_COUNT; s++) {
        if (!(sinks & SHOP_SINK_BIT(s)))
            continue;
        shop_an_row_t *r = shop_an_table_get(&a->pend[s], minute, cur);
        if (ev->kind == SHOP_EV_ORDER_PLACED) {
            r->orders++;
            r->revenue_minor += amount;
            r->items += items;
        } else {
            r->refunds++;
            r->refund_minor += amount;
        }
    }
    return SHOP_OK;
}
