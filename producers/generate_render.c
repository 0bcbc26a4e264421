/* generate_render.c: writes a pending generator event as one flat JSON line, the form
 * shop_codec_encode_json() takes: envelope and payload fields side by side. */
#include <string.h>

#include "generate_int.h"

static const char hexd[] = "0123456789abcdef";
static const char *const regions[GEN_NREGIONS] = {"KR", "US"};
static const char *const currencies[2] = {"KRW", "USD"};
static const char *const carriers[5] = {"CJ Logistics", "Hanjin", "Lotte Global", "UPS", "FedEx"};

/* "key":"<prefix><value as `digits` zero-padded decimals>" */
static void put_num_id(shop_gen_json_t *w, const char *key, const char *prefix, uint64_t v,
                       int digits) {
    char tmp[40];
    size_t plen = strlen(prefix);
    int n = 0;
    char d[24];
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < digits)
        d[n++] = '0';
    memcpy(tmp, prefix, plen);
    for (int i = 0; i < n; i++)
        tmp[plen + (size_t)i] = d[n - 1 - i];
    if (key)
        shop_gen_json_key(w, key); /* NULL: an array element */
    shop_gen_json_quote(w->b, tmp, plen + (size_t)n);
}

/* "key":"<prefix><nhex hex digits of v>" */
static void put_hex_id(shop_gen_json_t *w, const char *key, const char *prefix, uint64_t v,
                       int nhex) {
    char tmp[48];
    size_t plen = strlen(prefix);
    memcpy(tmp, prefix, plen);
    for (int i = 0; i < nhex; i++)
        tmp[plen + (size_t)i] = hexd[(v >> (4 * (nhex - 1 - i))) & 15];
    shop_gen_json_key(w, key);
    shop_gen_json_quote(w->b, tmp, plen + (size_t)nhex);
}

static void put_user(shop_gen_json_t *w, uint32_t user) {
    put_num_id(w, "user_id", "u-", (uint64_t)user + 1, 6);
}

static void put_product(shop_gen_json_t *w, const char *key, uint32_t product) {
    put_num_id(w, key, "p-", (uint64_t)product + 1, 5);
}

static void put_session_source(shop_gen_json_t *w, const gen_item_t *it) {
    if (it->sid)
        put_hex_id(w, "session_id", "s-", it->sid, 12);
    shop_gen_json_str(w, "source", shop_gen_sources[it->source]);
}

static void put_money(shop_gen_json_t *w, int64_t amount, int currency) {
    shop_gen_json_int(w, "amount_minor", amount);
    shop_gen_json_str(w, "currency", currencies[currency]);
}

/* ---- user events ---- */

static void render_prefs(const gen_item_t *it, const gen_country_t *home, shop_gen_json_t *w) {
    shop_gen_json_str(w, "notification_type", shop_gen_notif_types[it->code]);
    shop_gen_json_str(w, "channel", shop_gen_channels[it->pos]);
    shop_gen_json_bool(w, "enabled", it->n != 0);
    if (it->flags & GEN_F_QUIET) {
        shop_gen_json_str(w, "quiet_start", "22:00");
        shop_gen_json_str(w, "quiet_end", "08:00");
    }
    shop_gen_json_str(w, "timezone", home->tz);
    if (it->m)
        shop_gen_json_int(w, "max_per_day", it->m);
}

static void render_user(shop_gen_t *g, const gen_item_t *it, shop_gen_json_t *w) {
    const gen_user_t *u = &g->users[it->user];
    const gen_country_t *home = &shop_gen_countries[u->country];
    put_user(w, it->user);
    put_session_source(w, it);
    if (u->ab)
        shop_gen_json_str(w, "ab_variant", u->ab == 1 ? "A" : "B");
    shop_gen_json_str(w, "locale", home->locale); /* the envelope's, and also signup's */
    switch (it->kind) {
    case SHOP_EV_USER_SIGNUP:
    case SHOP_EV_USER_LOGIN:
        if (it->kind == SHOP_EV_USER_LOGIN)
            shop_gen_json_bool(w, "success", it->pos);
        shop_gen_json_str(w, "country", shop_gen_countries[it->code].code);
        put_hex_id(w, "device_id", "d-", (uint64_t)it->n, 12);
        put_hex_id(w, "ip_hash", "", (uint64_t)it->m, 16);
        if (it->kind == SHOP_EV_USER_SIGNUP)
            shop_gen_json_str(w, "referrer", shop_gen_signup_refs[it->pos]);
        break;
    case SHOP_EV_USER_PRODUCT_VIEWED:
        put_product(w, "product_id", it->product);
        shop_gen_json_str(w, "category", shop_gen_categories[g->products[it->product].cat].id);
        shop_gen_json_int(w, "price_minor", shop_gen_price_in(g, it->product, home->currency));
        shop_gen_json_str(w, "referrer", shop_gen_referrers[it->code]);
        break;
    case SHOP_EV_USER_CART_ADDED:
        put_product(w, "product_id", it->product);
        shop_gen_json_int(w, "quantity", it->pos);
        shop_gen_json_int(w, "unit_price_minor", shop_gen_price_in(g, it->product, home->currency));
        shop_gen_json_str(w, "currency", currencies[home->currency]);
        break;
    case SHOP_EV_USER_CART_REMOVED:
        put_product(w, "product_id", it->product);
        shop_gen_json_int(w, "quantity", it->pos);
        break;
    case SHOP_EV_USER_WISHLIST_ADDED:
        put_product(w, "product_id", it->product);
        shop_gen_json_str(w, "region", regions[it->code]);
        break;
    case SHOP_EV_USER_POINTS_EARNED:
    case SHOP_EV_USER_POINTS_SPENT:
        shop_gen_json_int(w, "points", it->n);
        if (it->kind == SHOP_EV_USER_POINTS_EARNED)
            shop_gen_json_str(w, "reason", shop_gen_reasons[it->code]);
        if (it->order != GEN_NONE)
            put_num_id(w, "order_id", "o-", (uint64_t)it->order + 1, 8);
        break;
    case SHOP_EV_USER_LEVEL_UP:
        shop_gen_json_int(w, "level", it->pos);
        shop_gen_json_str(w, "tier", shop_gen_tiers[it->pos - 1]);
        shop_gen_json_str(w, "badge", shop_gen_badges[it->pos - 1]);
        break;
    default:
        render_prefs(it, home, w);
        break;
    }
}

/* ---- order events ---- */

static void put_sku(shop_gen_t *g, shop_buf_t *b, uint32_t product) {
    char sku[40];
    const char *color = shop_gen_colors[g->products[product].color].en;
    int n = snprintf(sku, sizeof(sku), "p-%05u-%c%c%c", product + 1, color[0] - 32, color[1] - 32,
                     color[2] - 32);
    shop_gen_json_quote(b, sku, (size_t)n);
}

static void render_items(shop_gen_t *g, const gen_order_t *o, shop_gen_json_t *w) {
    shop_gen_json_key(w, "items");
    shop_buf_append(w->b, "[", 1);
    for (int i = 0; i < o->nitems; i++) {
        shop_gen_json_t iw;
        if (i)
            shop_buf_append(w->b, ",", 1);
        shop_gen_json_begin(&iw, w->b);
        put_product(&iw, "product_id", o->product[i]);
        shop_gen_json_key(&iw, "sku");
        put_sku(g, w->b, o->product[i]);
        shop_gen_json_int(&iw, "quantity", o->qty[i]);
        shop_gen_json_int(&iw, "unit_price_minor", o->unit[i]);
        shop_buf_append(w->b, "}", 1);
    }
    shop_buf_append(w->b, "]", 1);
}

static void put_trace(shop_gen_t *g, shop_gen_json_t *w) {
    char tp[56];
    uint64_t a = shop_gen_rng_next(&g->rng), b = shop_gen_rng_next(&g->rng),
             c = shop_gen_rng_next(&g->rng);
    memcpy(tp, "00-", 3);
    for (int i = 0; i < 16; i++)
        tp[3 + i] = hexd[(a >> (60 - 4 * i)) & 15];
    for (int i = 0; i < 16; i++)
        tp[19 + i] = hexd[(b >> (60 - 4 * i)) & 15];
    tp[35] = '-';
    for (int i = 0; i < 16; i++)
        tp[36 + i] = hexd[(c >> (60 - 4 * i)) & 15];
    memcpy(tp + 52, "-01", 3);
    shop_gen_json_key(w, "trace_parent");
    shop_gen_json_quote(w->b, tp, 55);
}

static void render_order(shop_gen_t *g, const gen_item_t *it, shop_gen_json_t *w) {
    const gen_order_t *o = &g->orders[it->order];
    put_user(w, o->user);
    put_num_id(w, "order_id", "o-", (uint64_t)it->order + 1, 8);
    put_session_source(w, it);
    switch (it->kind) {
    case SHOP_EV_ORDER_PLACED:
        put_trace(g, w);
        put_money(w, o->amount, o->currency);
        render_items(g, o, w);
        shop_gen_json_int(w, "points_used", o->points_used);
        shop_gen_json_str(w, "payment_method", shop_gen_pay_methods[o->pay]);
        put_hex_id(w, "shipping_address_hash", "", o->addr, 16);
        put_hex_id(w, "device_id", "d-", o->device, 12);
        put_hex_id(w, "ip_hash", "", o->ip, 16);
        shop_gen_json_str(w, "country", shop_gen_countries[o->country].code);
        break;
    case SHOP_EV_ORDER_PAID:
        put_money(w, o->amount, o->currency);
        shop_gen_json_str(w, "payment_method", shop_gen_pay_methods[it->pos]);
        break;
    case SHOP_EV_ORDER_PAYMENT_FAILED:
        put_money(w, o->amount, o->currency);
        shop_gen_json_str(w, "reason", shop_gen_fail_reasons[it->code]);
        shop_gen_json_str(w, "payment_method", shop_gen_pay_methods[it->pos]);
        break;
    case SHOP_EV_ORDER_CANCELLED:
        shop_gen_json_str(w, "reason", shop_gen_reasons[it->code]);
        break;
    case SHOP_EV_ORDER_REFUNDED:
    case SHOP_EV_ORDER_CHARGEBACK:
        put_money(w, o->amount, o->currency);
        shop_gen_json_str(w, "reason", shop_gen_reasons[it->code]);
        break;
    case SHOP_EV_ORDER_SHIPPED:
        shop_gen_json_str(w, "carrier", carriers[it->code]);
        put_num_id(w, "tracking_id", it->code < 3 ? "KR" : "1Z", (uint64_t)it->n % 1000000000000ULL,
                   12);
        break;
    default:
        break; /* delivered: no payload fields */
    }
}

/* ---- search, inventory, catalog ---- */

static void render_visual(shop_gen_t *g, const gen_item_t *it, shop_gen_json_t *w) {
    shop_gen_rng_t r;
    shop_gen_rng_seed(&r, (uint64_t)it->n); /* the matches are a function of the image */
    put_hex_id(w, "image_id", "img-", (uint64_t)it->n, 12);
    const gen_product_t *p = &g->products[it->product];
    uint32_t lo = g->cat_off[p->cat], n = g->cat_off[p->cat + 1] - lo;
    uint32_t start = shop_gen_rng_below(&r, n);
    shop_gen_json_key(w, "matched_product_ids");
    shop_buf_append(w->b, "[", 1);
    shop_gen_json_t aw = {w->b, 1};
    put_product(&aw, NULL, it->product);
    for (uint32_t i = 0, added = 1; i < n && added < it->pos; i++) {
        uint32_t q = g->cat_products[lo + (start + i) % n];
        if (q == it->product)
            continue;
        shop_buf_append(w->b, ",", 1);
        put_product(&aw, NULL, q);
        added++;
    }
    shop_buf_append(w->b, "]", 1);
    shop_gen_json_fixed(w, "top_score", 700 + (int64_t)shop_gen_rng_below(&r, 300));
}

static void render_search(shop_gen_t *g, const gen_item_t *it, shop_gen_json_t *w) {
    put_user(w, it->user);
    put_session_source(w, it);
    switch (it->kind) {
    case SHOP_EV_SEARCH_QUERY:
        shop_gen_json_str(w, "query", it->s1);
        shop_gen_json_int(w, "result_count", it->n);
        if (it->code)
            shop_gen_json_str(w, "category", shop_gen_categories[it->code - 1].id);
        break;
    case SHOP_EV_SEARCH_SUGGESTION_CLICKED:
        shop_gen_json_str(w, "prefix", it->s1);
        shop_gen_json_str(w, "suggestion", it->s2);
        shop_gen_json_int(w, "position", it->pos);
        break;
    case SHOP_EV_SEARCH_RESULT_CLICKED:
        shop_gen_json_str(w, "query", it->s1);
        put_product(w, "product_id", it->product);
        shop_gen_json_int(w, "position", it->pos);
        break;
    default:
        render_visual(g, it, w);
        break;
    }
}

static void title_en(const gen_product_t *p, char *out, size_t size) {
    const char *color = shop_gen_colors[p->color].en, *adj = shop_gen_adjs[p->adj].en;
    const char *cat = shop_gen_categories[p->cat].en;
    snprintf(out, size, "%s %c%s %c%s %c%s", shop_gen_brands[p->brand].en, color[0] - 32, color + 1,
             adj[0] - 32, adj + 1, cat[0] - 32, cat + 1);
}

static void render_catalog(shop_gen_t *g, const gen_item_t *it, shop_gen_json_t *w) {
    const gen_product_t *p = &g->products[it->product];
    char en[160], ko[200];
    title_en(p, en, sizeof(en));
    snprintf(ko, sizeof(ko), "%s %s %s %s", shop_gen_brands[p->brand].ko,
             shop_gen_colors[p->color].ko, shop_gen_adjs[p->adj].ko,
             shop_gen_categories[p->cat].ko);
    shop_gen_json_str(w, "title", p->currency == GEN_KRW ? ko : en);
    shop_gen_json_str(w, "category", shop_gen_categories[p->cat].id);
    shop_gen_json_str(w, "brand", shop_gen_brands[p->brand].en);
    shop_gen_json_int(w, "price_minor", p->price);
    shop_gen_json_str(w, "currency", currencies[p->currency]);
    if (p->currency == GEN_KRW && it->product % 5 == 0)
        shop_gen_json_int(w, "points_price", p->price);
    shop_gen_json_key(w, "locale_titles");
    shop_gen_json_t mw;
    shop_gen_json_begin(&mw, w->b);
    shop_gen_json_str(&mw, "en", en);
    shop_gen_json_str(&mw, "ko", ko);
    shop_buf_append(w->b, "}", 1);
}

void shop_gen_render(shop_gen_t *g, const gen_item_t *it, int64_t at_ms, shop_buf_t *out) {
    shop_gen_json_t w;
    char uuid[37];
    shop_gen_json_begin(&w, out);
    shop_gen_json_str(&w, "type", shop_gen_type_name((shop_event_kind_t)it->kind));
    shop_gen_rng_uuid(&g->rng, uuid);
    shop_gen_json_key(&w, "event_id");
    shop_gen_json_quote(out, uuid, 36);
    shop_gen_json_int(&w, "occurred_at", at_ms); /* epoch millis, as decode prints them */
    if (it->kind <= SHOP_EV_USER_NOTIFICATION_PREFS_CHANGED) {
        render_user(g, it, &w);
    } else if (it->kind <= SHOP_EV_ORDER_DELIVERED) {
        render_order(g, it, &w);
    } else if (it->kind <= SHOP_EV_SEARCH_VISUAL) {
        render_search(g, it, &w);
    } else {
        put_product(&w, "product_id", it->product);
        shop_gen_json_str(&w, "source", shop_gen_sources[it->source]);
        if (it->kind == SHOP_EV_CATALOG_PRODUCT_UPSERTED) {
            render_catalog(g, it, &w);
        } else {
            shop_gen_json_str(&w, "region", regions[it->code]);
            shop_gen_json_int(&w, "quantity", it->n);
            if (!(it->flags & GEN_F_SNAPSHOT))
                shop_gen_json_int(&w, "previous_quantity", it->m);
        }
    }
    shop_gen_json_end(&w);
}
