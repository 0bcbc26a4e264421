/* reco_worker.c: the recommendation worker's event processing and per-unit state: validation,
 * signals (views, carts, wishlists, purchases, visual searches, tiers, catalog), and how the
 * state is flushed to Redis with the offsets and restored from it. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reco_int.h"
#include "redis_keys.h"

static const char *const topics[] = {"shop.user.events", "shop.order.events", "shop.search.events",
                                     "shop.catalog.events", NULL};

static const shop_conf_def_t conf[] = {
    {"flush.events", SHOP_CONF_INT, "20000", "flush after this many events"},
    {"reco.k", SHOP_CONF_INT, "50", "similar items kept per item (reco:item:<id>)"},
    {"reco.n", SHOP_CONF_INT, "20", "recommendations kept per user (reco:user:<id>)"},
    {"reco.hist.weight", SHOP_CONF_STRING, "0.3",
     "weight of co-occurrence across a user's history against within a session or order"},
    {"reco.pop.halflife.d", SHOP_CONF_STRING, "1", "trending popularity half-life, days"},
    {"reco.pop.blend", SHOP_CONF_STRING, "1", "weight of trending popularity in the blend"},
    {"reco.tier.boost", SHOP_CONF_STRING, "0.05",
     "score boost per points-tier rank for items payable with points"},
    {"reco.flag", SHOP_CONF_STRING, "reco.algorithm",
     "feature flag whose variant picks the algorithm: \"cosine\" or anything else (blend)"},
    {"reco.snapshot.ms", SHOP_CONF_INT, "60000",
     "PostgreSQL snapshot of the similarity table at most this often (0: only full refreshes)"},
    {NULL, 0, NULL, NULL},
};

/* ---- units ---- */

static char topic_tag(const char *topic) {
    static const struct {
        const char *suffix;
        char tag;
    } t[] = {{"shop.user.events", 'u'},
             {"shop.order.events", 'o'},
             {"shop.search.events", 's'},
             {"shop.catalog.events", 'c'}};
    size_t n = topic ? strlen(topic) : 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t k = strlen(t[i].suffix);
        if (n >= k && !strcmp(topic + n - k, t[i].suffix))
            return t[i].tag;
    }
    return 'x';
}

static reco_unit_t *unit_get(reco_w_t *w, char tag, int32_t partition, int create) {
    for (reco_unit_t *u = w->units; u; u = u->next)
        if (u->tag == tag && u->partition == partition)
            return u;
    if (!create)
        return NULL;
    reco_unit_t *u = reco_unit_new(tag, partition);
    u->next = w->units;
    w->units = u;
    return u;
}

static void unit_remove(reco_w_t *w, char tag, int32_t partition) {
    for (reco_unit_t **pp = &w->units; *pp; pp = &(*pp)->next)
        if ((*pp)->tag == tag && (*pp)->partition == partition) {
            reco_unit_t *u = *pp;
            *pp = u->next;
            reco_unit_destroy(u);
            return;
        }
}

/* ---- validation ---- */

/* An id: 1..RECO_MAX_ID bytes, no control characters (they separate fields in the state). */
static int valid_id(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (!n || n > RECO_MAX_ID)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int bad(const shop_event_t *ev, const char *field, char *errstr, size_t errstr_size) {
    return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                       "%s: %s is missing, empty, over %d bytes or holds a control character",
                       ev->type, field, RECO_MAX_ID);
}

static const char *opt_str(avro_value_t *rec, const char *field) {
    const char *s = NULL;
    return shop_value_get_string(rec, field, &s) ? NULL : s;
}

/* ---- processing ---- */

static double kind_weight(shop_event_kind_t k) {
    switch (k) {
    case SHOP_EV_USER_PRODUCT_VIEWED:
        return RECO_W_VIEW;
    case SHOP_EV_USER_WISHLIST_ADDED:
        return RECO_W_WISHLIST;
    case SHOP_EV_USER_CART_ADDED:
        return RECO_W_CART;
    default:
        return 0;
    }
}

static int on_order(reco_w_t *w, const shop_event_t *ev, char *errstr, size_t errstr_size) {
    avro_value_t items, it;
    size_t n = 0;
    const char *order = opt_str(ev->value, "order_id");
    const char *session = opt_str(ev->value, "session_id");
    if (avro_value_get_by_name(&((shop_event_t *)ev)->payload, "items", &items, NULL) ||
        avro_value_get_size(&items, &n))
        return bad(ev, "items", errstr, errstr_size);
    if (!n)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "order.placed: no items");
    const char **ids = shop_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        int32_t q = 0;
        if (avro_value_get_by_index(&items, i, &it, NULL) ||
            !valid_id(ids[i] = opt_str(&it, "product_id"))) {
            free(ids);
            return bad(ev, "items[].product_id", errstr, errstr_size);
        }
        /* the same rule as analytics and fraud: an order of -3 keyboards is not a purchase
         * signal, it is broken input (found by the fault suite's hostile scenario) */
        if (shop_value_get_int(&it, "quantity", &q) || q <= 0) {
            free(ids);
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "order.placed: items[%zu].quantity %d is not positive", i, (int)q);
        }
    }
    reco_unit_t *u = unit_get(w, topic_tag(ev->topic), ev->partition, 1);
    const char *sess = session && valid_id(session) ? session
                       : order && valid_id(order)   ? order
                                                    : "";
    for (size_t i = 0; i < n; i++)
        reco_unit_signal(u, ev->key, sess, ids[i], RECO_W_PURCHASE, ev->occurred_at, 1);
    free(ids);
    return SHOP_OK;
}

static int on_visual(reco_w_t *w, const shop_event_t *ev, char *errstr, size_t errstr_size) {
    avro_value_t arr, v;
    size_t n = 0;
    if (avro_value_get_by_name(&((shop_event_t *)ev)->payload, "matched_product_ids", &arr, NULL) ||
        avro_value_get_size(&arr, &n))
        return bad(ev, "matched_product_ids", errstr, errstr_size);
    const char *ids[4];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = NULL;
        size_t len = 0;
        if (avro_value_get_by_index(&arr, i, &v, NULL) || avro_value_get_string(&v, &s, &len) ||
            !valid_id(s))
            return bad(ev, "matched_product_ids[]", errstr, errstr_size);
        if (k < 4)
            ids[k++] = s;
    }
    reco_unit_t *u = unit_get(w, topic_tag(ev->topic), ev->partition, 1);
    reco_unit_visual(u, ev->key, ids, k, ev->occurred_at);
    if (k) /* the best match is a weak signal of interest (no session: no pair credit there) */
        reco_unit_signal(u, ev->key, NULL, ids[0], RECO_W_VISUAL, ev->occurred_at, 0);
    return SHOP_OK;
}

static int process(void *wp, const shop_event_t *ev, unsigned sinks, char *errstr,
                   size_t errstr_size) {
    reco_w_t *w = wp;
    int redis = (sinks & SHOP_SINK_BIT(SHOP_SINK_REDIS)) != 0;
    switch (ev->kind) {
    case SHOP_EV_USER_PRODUCT_VIEWED:
    case SHOP_EV_USER_WISHLIST_ADDED:
    case SHOP_EV_USER_CART_ADDED:
    case SHOP_EV_ORDER_PLACED:
    case SHOP_EV_SEARCH_VISUAL:
    case SHOP_EV_USER_LEVEL_UP:
        if (!valid_id(ev->key))
            return bad(ev, "user_id", errstr, errstr_size);
        break;
    case SHOP_EV_CATALOG_PRODUCT_UPSERTED:
        if (!valid_id(ev->key))
            return bad(ev, "product_id", errstr, errstr_size);
        break;
    default:
        return SHOP_OK;
    }
    if (ev->kind == SHOP_EV_ORDER_PLACED)
        return redis ? on_order(w, ev, errstr, errstr_size) : SHOP_OK;
    if (ev->kind == SHOP_EV_SEARCH_VISUAL)
        return redis ? on_visual(w, ev, errstr, errstr_size) : SHOP_OK;
    avro_value_t *pl = &((shop_event_t *)ev)->payload;
    if (ev->kind == SHOP_EV_USER_LEVEL_UP) {
        if (redis)
            reco_unit_tier(unit_get(w, topic_tag(ev->topic), ev->partition, 1), ev->key,
                           reco_tier_rank(opt_str(pl, "tier")), ev->occurred_at);
        return SHOP_OK;
    }
    if (ev->kind == SHOP_EV_CATALOG_PRODUCT_UPSERTED) {
        const char *cat = opt_str(pl, "category"), *brand = opt_str(pl, "brand");
        int64_t pts = 0;
        int points = !shop_value_get_long(pl, "points_price", &pts) && pts > 0;
        if (cat && strlen(cat) > 63)
            cat = NULL; /* kept as unknown rather than truncated into another category */
        if (brand && strlen(brand) > 63)
            brand = NULL;
        if (redis)
            reco_unit_meta(unit_get(w, topic_tag(ev->topic), ev->partition, 1), ev->key, cat, brand,
                           points, ev->occurred_at);
        return SHOP_OK;
    }
    const char *item = opt_str(pl, "product_id");
    if (!valid_id(item))
        return bad(ev, "product_id", errstr, errstr_size);
    if (redis) {
        const char *session = opt_str(ev->value, "session_id");
        reco_unit_signal(unit_get(w, topic_tag(ev->topic), ev->partition, 1), ev->key,
                         session && valid_id(session) ? session : "", item, kind_weight(ev->kind),
                         ev->occurred_at, 0);
    }
    return SHOP_OK;
}

/* ---- Redis flush: absolute values of what changed, so a retried flush writes the same ---- */

static void hset(shop_redis_batch_t *b, const char *key, const char *field, const char *value) {
    const char *argv[] = {"HSET", key, field, value};
    shop_redis_batch_argv(b, 4, argv, NULL);
}

static void flush_unit(reco_w_t *w, reco_unit_t *u, shop_redis_batch_t *b) {
    char name[24], key[256], num[80];
    snprintf(name, sizeof(name), "%c%d", u->tag, (int)u->partition);
    shop_buf_t t;
    shop_buf_init(&t);
    snprintf(key, sizeof(key), SHOP_KEY_RECO_STATE, w->prefix, name, "users");
    for (size_t i = 0; i < u->users.n; i++) {
        const reco_user_t *us = *(reco_user_t **)reco_dict_val(&u->users, i);
        if (!us->dirty)
            continue;
        shop_buf_reset(&t);
        reco_user_format(u, us, &t);
        hset(b, key, u->users.keys[i], t.buf);
    }
    shop_buf_release(&t);
    snprintf(key, sizeof(key), SHOP_KEY_RECO_STATE, w->prefix, name, "occ");
    for (size_t i = 0; i < u->items.n; i++) {
        const reco_occ_t *o = reco_dict_val(&u->items, i);
        if (o->dirty)
            snprintf(num, sizeof(num), "%.17g %.17g", o->s, o->h),
                hset(b, key, u->items.keys[i], num);
    }
    snprintf(key, sizeof(key), SHOP_KEY_RECO_STATE, w->prefix, name, "pair");
    for (size_t i = 0; i < u->pairs.n; i++) {
        const reco_pair_t *p = reco_dict_val(&u->pairs, i);
        if (p->dirty)
            snprintf(num, sizeof(num), "%.17g %.17g", p->s, p->h),
                hset(b, key, u->pairs.keys[i], num);
    }
    snprintf(key, sizeof(key), SHOP_KEY_RECO_STATE, w->prefix, name, "pop");
    for (size_t i = 0; i < u->pop.n; i++) {
        const reco_pop_t *p = reco_dict_val(&u->pop, i);
        if (p->dirty)
            snprintf(num, sizeof(num), "%.17g", p->w), hset(b, key, u->pop.keys[i], num);
    }
    snprintf(key, sizeof(key), SHOP_KEY_RECO_STATE, w->prefix, name, "meta");
    for (size_t i = 0; i < u->meta.n; i++) {
        const reco_meta_t *m = reco_dict_val(&u->meta, i);
        char v[160];
        if (m->dirty)
            snprintf(v, sizeof(v), "%s\x1f%s\x1f%d", m->category, m->brand, m->points),
                hset(b, key, u->meta.keys[i], v);
    }
    snprintf(key, sizeof(key), SHOP_KEY_RECO_STATE, w->prefix, name, "visual");
    for (size_t i = 0; i < u->visual.n; i++) {
        const reco_visual_t *v = reco_dict_val(&u->visual, i);
        if (v->dirty)
            hset(b, key, u->visual.keys[i], v->list);
    }
    if (u->wm_dirty) {
        snprintf(key, sizeof(key), SHOP_KEY_RECO_UNITS, w->prefix);
        snprintf(num, sizeof(num), "%lld", (long long)u->wm);
        hset(b, key, name, num);
    }
}

static void flush_redis(void *wp, shop_redis_batch_t *b) {
    reco_w_t *w = wp;
    for (reco_unit_t *u = w->units; u; u = u->next)
        flush_unit(w, u, b);
}

static void flushed(void *wp, int sink) {
    reco_w_t *w = wp;
    if (sink != SHOP_SINK_REDIS)
        return;
    for (reco_unit_t *u = w->units; u; u = u->next)
        reco_unit_clean(u);
}

/* A rewind: drop everything; the runtime restores every assigned partition next. */
static void discard(void *wp) {
    reco_w_t *w = wp;
    while (w->units) {
        reco_unit_t *u = w->units;
        w->units = u->next;
        reco_unit_destroy(u);
    }
}

static size_t pending(void *wp) {
    reco_w_t *w = wp;
    size_t n = 0;
    for (reco_unit_t *u = w->units; u; u = u->next)
        n += reco_unit_dirty(u);
    return n;
}

/* ---- restore ---- */

static int restore(void *wp, const char *const *tps, const int32_t *parts, int n,
                   struct redisContext *c, PGconn *pg, char *errstr, size_t errstr_size) {
    (void)pg;
    reco_w_t *w = wp;
    for (int i = 0; i < n; i++) {
        char tag = topic_tag(tps[i]), name[24];
        snprintf(name, sizeof(name), "%c%d", tag, (int)parts[i]);
        unit_remove(w, tag, parts[i]);
        reco_unit_t *u = reco_unit_load(w->prefix, c, name, errstr, errstr_size);
        if (!u)
            return SHOP_ERR_RETRYABLE;
        u->next = w->units;
        w->units = u;
    }
    return SHOP_OK;
}

static void release(void *wp, const char *topic, int32_t partition) {
    unit_remove(wp, topic_tag(topic), partition);
}

/* ---- lifecycle ---- */

static void destroy(void *wp) {
    reco_w_t *w = wp;
    if (!w)
        return;
    discard(w);
    if (w->pg)
        PQfinish(w->pg);
    shop_flags_destroy(w->flags);
    free(w->pg_url);
    free(w->redis_url);
    free(w);
}

static double conf_double(const shop_config_t *cfg, const char *name) {
    const char *v = shop_config_get(cfg, name);
    return v ? strtod(v, NULL) : -1;
}

static void *create(const shop_worker_env_t *env, char *errstr, size_t errstr_size) {
    const shop_config_t *cfg = env->cfg;
    reco_w_t *w = shop_xcalloc(1, sizeof(*w));
    snprintf(w->prefix, sizeof(w->prefix), "%s", env->redis_prefix);
    snprintf(w->schema, sizeof(w->schema), "%s", env->pg_schema);
    reco_params_default(&w->p);
    w->p.k = (int)shop_config_get_int(cfg, "reco.k");
    w->p.n = (int)shop_config_get_int(cfg, "reco.n");
    w->p.hist_weight = conf_double(cfg, "reco.hist.weight");
    w->p.pop_halflife_d = conf_double(cfg, "reco.pop.halflife.d");
    w->p.pop_blend = conf_double(cfg, "reco.pop.blend");
    w->p.tier_boost = conf_double(cfg, "reco.tier.boost");
    w->snapshot_every_ms = shop_config_get_int(cfg, "reco.snapshot.ms");
    snprintf(w->flag_name, sizeof(w->flag_name), "%s", shop_config_get(cfg, "reco.flag"));
    w->pg_url = shop_xstrdup(shop_config_get(cfg, "pg.url"));
    w->redis_url = shop_xstrdup(shop_config_get(cfg, "redis.url"));
    w->redis_timeout_ms = (int)shop_config_get_int(cfg, "redis.timeout.ms");
    if (w->p.k < 1 || w->p.k > 1000 || w->p.n < 1 || w->p.n > 1000 || w->p.hist_weight < 0 ||
        w->p.pop_halflife_d <= 0 || w->p.pop_blend < 0 || w->p.tier_boost < 0) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                    "reco.*: a value is out of range (reco.k and reco.n 1..1000, weights >= 0, "
                    "half-life > 0)");
        destroy(w);
        return NULL;
    }
    return w;
}

const shop_worker_ops_t shop_worker_reco = {
    .name = "reco",
    .description = "recommendations: item-to-item CF, per-user top-N with A/B variants (flags)",
    .topics = topics,
    .sinks = SHOP_SINK_BIT(SHOP_SINK_REDIS),
    .default_port = 9404,
    .conf = conf,
    .create = create,
    .destroy = destroy,
    .process = process,
    .flush_redis = flush_redis,
    .flushed = flushed,
    .discard = discard,
    .pending = pending,
    .restore = restore,
    .release = release,
    .refresh = reco_refresh,
    .route = reco_http_route,
};
