/* notify_worker.c: the notify worker: trigger events (stock, prices, wishlists, level-ups, order
 * shipping, high fraud scores, preference changes) become statements run in the PostgreSQL flush,
 * in the transaction that stores the offsets. Product-keyed triggers meet user-keyed wishlists in
 * SQL (notify_wishlist), so a decision and the state it read commit together: exactly once per
 * (dedupe key, channel), whatever the crash or rebalance. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "notify_worker.h"
#include "store.h"

static const char *const topics[] = {"shop.user.events",      "shop.order.events",
                                     "shop.inventory.events", "shop.catalog.events",
                                     "shop.fraud.scores",     NULL};

static const shop_conf_def_t conf[] = {
    {"notify.channels", SHOP_CONF_STRING, "inapp,webhook,email",
     "channels a user notification is decided for (each still subject to the user's switches)"},
    {"notify.dispatch", SHOP_CONF_STRING, "auto",
     "run the dispatcher thread: on, off, auto (on except in bt: namespaces)"},
    {"notify.dispatch.ms", SHOP_CONF_INT, "500", "dispatcher poll interval when idle (ms)"},
    {"notify.max.attempts", SHOP_CONF_INT, "8", "attempts before a row is dead"},
    {"notify.backoff.base.ms", SHOP_CONF_INT, "1000", "first retry delay (doubles, with jitter)"},
    {"notify.backoff.cap.ms", SHOP_CONF_INT, "300000", "largest retry delay"},
    {"notify.webhook.url", SHOP_CONF_STRING, "", "user webhook / web push gateway endpoint"},
    {"notify.ops.webhook.url", SHOP_CONF_STRING, "", "operations channel (fraud alerts)"},
    {"notify.ops.email", SHOP_CONF_STRING, "",
     "operations e-mail address: fraud alerts also go there (channel ops_email; needs "
     "notify.smtp.url)"},
    {"notify.webhook.secret", SHOP_CONF_STRING, "",
     "Standard Webhooks secret whsec_<base64> (required to send webhooks)"},
    {"notify.webhook.allow", SHOP_CONF_STRING, "",
     "comma-separated hosts webhooks may go to (*.domain for subdomains); empty = none"},
    {"notify.webhook.timeout.ms", SHOP_CONF_INT, "5000", "webhook request timeout"},
    {"notify.smtp.url", SHOP_CONF_STRING, "", "SMTP server, e.g. smtp://127.0.0.1:2525"},
    {"notify.email.from", SHOP_CONF_STRING, "notify@shop.example", "envelope and From address"},
    {"notify.email.domain", SHOP_CONF_STRING, "",
     "address = <user_id>@<domain> (no address book yet); empty = e-mail suppressed"},
    {"notify.templates", SHOP_CONF_STRING, "deploy/notify", "template folder"},
    {"notify.inapp.maxlen", SHOP_CONF_INT, "200", "entries kept per user in-app stream"},
    {"notify.fraud.level", SHOP_CONF_STRING, "high", "fraud level that alerts operations"},
    {NULL, 0, NULL, NULL},
};

/* Every notification type a trigger decides (templates <type>.<locale>.tmpl). */
static const char *const ntypes[] = {"restock",         "price_drop",  "level_up", "order_shipped",
                                     "order_delivered", "fraud_alert", NULL};
static const char *const locales[] = {"en", "ko", NULL};

/* SQL, one statement per trigger kind (one place, as the house style asks). */
enum { Q_WISH, Q_STOCK, Q_PRICE, Q_USER, Q_PREFS_USER, Q_PREFS_CH, Q_LOCALE, Q__N };

#define OUTBOX_COLS                                                                                \
    "INSERT INTO notify_outbox (dedupe_key, channel, ntype, user_id, entity, event_id, "           \
    "occurred_at, payload) "

static const char *const sql[Q__N] = {
    /* $1 product $2 user $3 region $4 at */
    [Q_WISH] = "INSERT INTO notify_wishlist VALUES ($1, $2, $3, to_timestamp($4::bigint / 1000.0)) "
               "ON CONFLICT DO NOTHING",
    /* $1 product $2 region $3 qty $4 previous (nullable) $5 event $6 at $7 channels */
    [Q_STOCK] =
        "WITH prev AS (SELECT quantity FROM notify_stock WHERE product_id = $1 AND region = $2), "
        "up AS (INSERT INTO notify_stock VALUES ($1, $2, $3::int) ON CONFLICT (product_id, region) "
        "DO UPDATE SET quantity = EXCLUDED.quantity) " OUTBOX_COLS
        "SELECT 'restock:' || w.user_id || ':' || $1 || '/' || $2 || ':' || $5, c.ch, 'restock', "
        "w.user_id, $1 || '/' || $2, $5, to_timestamp($6::bigint / 1000.0), "
        "jsonb_build_object('product_id', $1::text, 'region', $2::text, 'quantity', $3::int, "
        "'product_title', COALESCE(p.title, $1)) "
        "FROM notify_wishlist w CROSS JOIN unnest(string_to_array($7, ',')) AS c(ch) "
        "LEFT JOIN notify_price p ON p.product_id = $1 "
        "WHERE w.product_id = $1 AND w.region IN ('', $2) AND $3::int > 0 "
        "AND COALESCE($4::int, (SELECT quantity FROM prev)) = 0 "
        "AND notify_enabled(w.user_id, 'restock', c.ch) ON CONFLICT DO NOTHING",
    /* $1 product $2 title $3 price $4 currency $5 event $6 at $7 channels */
    [Q_PRICE] =
        "WITH prev AS (SELECT price_minor, currency FROM notify_price WHERE product_id = $1), "
        "up AS (INSERT INTO notify_price VALUES ($1, $2, $3::bigint, $4) ON CONFLICT (product_id) "
        "DO UPDATE SET title = EXCLUDED.title, price_minor = EXCLUDED.price_minor, "
        "currency = EXCLUDED.currency) " OUTBOX_COLS
        "SELECT 'price_drop:' || w.user_id || ':' || $1 || ':' || $5, c.ch, 'price_drop', "
        "w.user_id, $1, $5, to_timestamp($6::bigint / 1000.0), "
        "jsonb_build_object('product_id', $1::text, 'product_title', $2::text, 'price', "
        "$3::bigint, 'old_price', pv.price_minor, 'currency', $4::text) "
        "FROM prev pv, notify_wishlist w CROSS JOIN unnest(string_to_array($7, ',')) AS c(ch) "
        "WHERE w.product_id = $1 AND pv.currency = $4 AND $3::bigint < pv.price_minor "
        "AND notify_enabled(w.user_id, 'price_drop', c.ch) "
        "GROUP BY w.user_id, c.ch, pv.price_minor ON CONFLICT DO NOTHING",
    /* $1 dedupe $2 type $3 user $4 entity $5 event $6 at $7 payload $8 channels */
    [Q_USER] =
        OUTBOX_COLS "SELECT $1, c.ch, $2, $3, $4, $5, to_timestamp($6::bigint / 1000.0), $7::jsonb "
                    "FROM unnest(string_to_array($8, ',')) AS c(ch) "
                    "WHERE c.ch IN ('ops', 'ops_email') OR notify_enabled($3, $2, c.ch) "
                    "ON CONFLICT DO NOTHING",
    /* $1 user $2 quiet_start $3 quiet_end $4 tz $5 max_per_day (each nullable = keep) */
    [Q_PREFS_USER] =
        "INSERT INTO notify_user AS u (user_id, quiet_start, quiet_end, timezone, max_per_day) "
        "VALUES ($1, $2, $3, (SELECT name FROM pg_timezone_names WHERE name = $4 LIMIT 1), "
        "$5::int) ON CONFLICT (user_id) DO UPDATE SET "
        "quiet_start = COALESCE($2, u.quiet_start), quiet_end = COALESCE($3, u.quiet_end), "
        "timezone = COALESCE((SELECT name FROM pg_timezone_names WHERE name = $4 LIMIT 1), "
        "u.timezone), max_per_day = COALESCE($5::int, u.max_per_day)",
    /* $1 user $2 type $3 channel $4 enabled */
    [Q_PREFS_CH] = "INSERT INTO notify_prefs VALUES ($1, $2, $3, $4::boolean) "
                   "ON CONFLICT (user_id, ntype, channel) DO UPDATE SET enabled = $4::boolean",
    /* $1 user $2 locale */
    [Q_LOCALE] = "INSERT INTO notify_user AS u (user_id, locale) VALUES ($1, $2) "
                 "ON CONFLICT (user_id) DO UPDATE SET locale = $2 WHERE u.locale IS DISTINCT "
                 "FROM $2",
};

#define OP_MAXP 8

/* One statement waiting for the PostgreSQL flush; NULL params are SQL NULLs. */
typedef struct notify_op {
    int q;
    int n;
    char *p[OP_MAXP];
} notify_op_t;

typedef struct shop_notify_w {
    notify_op_t *ops;
    size_t n, cap;
    char *channels;           /* user channels, comma-separated */
    char *fraud_level;        /* level that alerts operations */
    const char *ops_channels; /* "ops", or "ops,ops_email" with notify.ops.email */
    shop_notify_dispatch_t *dispatch;
    /* the HTTP read side: one connection shared by the HTTP threads under http_lock */
    char *pg_url, *pg_schema;
    pthread_mutex_t http_lock;
    shop_pg_store_t *http_store;
} shop_notify_w_t;

static notify_op_t *op_push(shop_notify_w_t *w, int q, int n) {
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->ops = shop_xrealloc(w->ops, w->cap * sizeof(*w->ops));
    }
    notify_op_t *o = &w->ops[w->n++];
    memset(o, 0, sizeof(*o));
    o->q = q;
    o->n = n;
    return o;
}

static char *dup_or_null(const char *s) {
    return s ? shop_xstrdup(s) : NULL;
}

static const char *pstr(const shop_event_t *ev, const char *field) {
    const char *v = NULL;
    return shop_value_get_string((avro_value_t *)&ev->payload, field, &v) == SHOP_OK ? v : NULL;
}

static const char *vstr(const shop_event_t *ev, const char *field) {
    const char *v = NULL;
    return shop_value_get_string(ev->value, field, &v) == SHOP_OK ? v : NULL;
}

static char *lld(long long v) {
    return shop_xasprintf("%lld", v);
}

/* A user-keyed decision on `channels`. payload is a new JSON reference (stolen). */
static void decide(shop_notify_w_t *w, const shop_event_t *ev, const char *type, const char *user,
                   const char *entity, json_t *payload, const char *channels) {
    notify_op_t *o = op_push(w, Q_USER, 8);
    o->p[0] = shop_xasprintf("%s:%s:%s:%s", type, user, entity, ev->event_id);
    o->p[1] = shop_xstrdup(type);
    o->p[2] = shop_xstrdup(user);
    o->p[3] = shop_xstrdup(entity);
    o->p[4] = shop_xstrdup(ev->event_id);
    o->p[5] = lld(ev->occurred_at);
    o->p[6] = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    o->p[7] = shop_xstrdup(channels);
    json_decref(payload);
}

static int user_event(shop_notify_w_t *w, const shop_event_t *ev, char *errstr,
                      size_t errstr_size) {
    const char *user = ev->key;
    if (ev->kind == SHOP_EV_USER_WISHLIST_ADDED) {
        const char *prod = pstr(ev, "product_id"), *region = pstr(ev, "region");
        if (!prod || !*prod)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "wishlist: no product_id");
        notify_op_t *o = op_push(w, Q_WISH, 4);
        o->p[0] = shop_xstrdup(prod), o->p[1] = shop_xstrdup(user);
        o->p[2] = shop_xstrdup(region ? region : ""), o->p[3] = lld(ev->occurred_at);
    } else if (ev->kind == SHOP_EV_USER_LEVEL_UP) {
        int32_t level = 0;
        const char *tier = pstr(ev, "tier"), *badge = pstr(ev, "badge");
        if (shop_value_get_int((avro_value_t *)&ev->payload, "level", &level) || level < 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "level_up: bad level");
        char entity[32];
        snprintf(entity, sizeof(entity), "level%d", (int)level);
        decide(w, ev, "level_up", user, entity,
               json_pack("{sissssss}", "level", (int)level, "tier", tier ? tier : "", "badge",
                         badge ? badge : "", "user_id", user),
               w->channels);
    } else if (ev->kind == SHOP_EV_USER_NOTIFICATION_PREFS_CHANGED) {
        const char *t = pstr(ev, "notification_type"), *ch = pstr(ev, "channel");
        const char *qs = pstr(ev, "quiet_start"), *qe = pstr(ev, "quiet_end");
        const char *tz = pstr(ev, "timezone");
        int en = 1;
        int32_t cap = -1;
        shop_value_get_bool((avro_value_t *)&ev->payload, "enabled", &en);
        int has_cap = !shop_value_get_int((avro_value_t *)&ev->payload, "max_per_day", &cap);
        if (!t || !*t || !ch || !*ch || strlen(t) > 40 || strlen(ch) > 40)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "prefs: notification_type and channel required");
        if ((qs && shop_notify_parse_hhmm(qs) < 0) || (qe && shop_notify_parse_hhmm(qe) < 0) ||
            (has_cap && cap < 0) || (tz && strlen(tz) > 64))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "prefs: quiet hours HH:MM, max_per_day >= 0, time zone name");
        notify_op_t *o = op_push(w, Q_PREFS_CH, 4);
        o->p[0] = shop_xstrdup(user), o->p[1] = shop_xstrdup(t), o->p[2] = shop_xstrdup(ch);
        o->p[3] = shop_xstrdup(en ? "true" : "false");
        if (qs || qe || tz || has_cap) {
            o = op_push(w, Q_PREFS_USER, 5);
            o->p[0] = shop_xstrdup(user), o->p[1] = dup_or_null(qs), o->p[2] = dup_or_null(qe);
            o->p[3] = dup_or_null(tz), o->p[4] = has_cap ? lld(cap) : NULL;
        }
    } else {
        return SHOP_OK;
    }
    const char *loc = vstr(ev, "locale");
    if (loc && *loc && strlen(loc) < 36) {
        notify_op_t *o = op_push(w, Q_LOCALE, 2);
        o->p[0] = shop_xstrdup(user), o->p[1] = shop_xstrdup(loc);
    }
    return SHOP_OK;
}

static int other_event(shop_notify_w_t *w, const shop_event_t *ev, char *errstr,
                       size_t errstr_size) {
    if (ev->kind == SHOP_EV_ORDER_SHIPPED || ev->kind == SHOP_EV_ORDER_DELIVERED) {
        const char *order = vstr(ev, "order_id");
        const char *carrier = pstr(ev, "carrier"), *track = pstr(ev, "tracking_id");
        if (!order || !*order)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "order: no order_id");
        int shipped = ev->kind == SHOP_EV_ORDER_SHIPPED;
        decide(w, ev, shipped ? "order_shipped" : "order_delivered", ev->key, order,
               json_pack("{ssssssssss}", "order_id", order, "carrier", carrier ? carrier : "",
                         "tracking_id", track ? track : "", "user_id", ev->key, "status",
                         shipped ? "shipped" : "delivered"),
               w->channels);
    } else if (ev->kind == SHOP_EV_INVENTORY_STOCK_LEVEL) {
        const char *region = pstr(ev, "region");
        int32_t q = 0, prev = 0;
        if (!region || !*region || shop_value_get_int((avro_value_t *)&ev->payload, "quantity", &q))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "stock: region, quantity");
        int has_prev =
            !shop_value_get_int((avro_value_t *)&ev->payload, "previous_quantity", &prev);
        notify_op_t *o = op_push(w, Q_STOCK, 7);
        o->p[0] = shop_xstrdup(ev->key), o->p[1] = shop_xstrdup(region), o->p[2] = lld(q);
        o->p[3] = has_prev ? lld(prev) : NULL, o->p[4] = shop_xstrdup(ev->event_id);
        o->p[5] = lld(ev->occurred_at), o->p[6] = shop_xstrdup(w->channels);
    } else if (ev->kind == SHOP_EV_CATALOG_PRODUCT_UPSERTED) {
        const char *title = pstr(ev, "title"), *cur = pstr(ev, "currency");
        int64_t price = 0;
        if (!title || !cur || strlen(cur) != 3 ||
            shop_value_get_long((avro_value_t *)&ev->payload, "price_minor", &price) || price < 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "product: title, price_minor >= 0, currency");
        notify_op_t *o = op_push(w, Q_PRICE, 7);
        o->p[0] = shop_xstrdup(ev->key), o->p[1] = shop_xstrdup(title), o->p[2] = lld(price);
        o->p[3] = shop_xstrdup(cur), o->p[4] = shop_xstrdup(ev->event_id);
        o->p[5] = lld(ev->occurred_at), o->p[6] = shop_xstrdup(w->channels);
    } else if (ev->type && !strcmp(ev->type, "fraud.scored")) {
        const char *order = vstr(ev, "order_id"), *level = pstr(ev, "level");
        const char *rec = pstr(ev, "recommendation");
        int32_t score = 0;
        int64_t amount = 0;
        shop_value_get_int((avro_value_t *)&ev->payload, "score", &score);
        shop_value_get_long((avro_value_t *)&ev->payload, "amount_minor", &amount);
        if (!order || !level)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "fraud: order_id, level");
        if (strcmp(level, w->fraud_level))
            return SHOP_OK;
        /* the reasons in words, for the templates ("; " between them) */
        avro_value_t arr, item;
        size_t nr = 0;
        shop_buf_t reasons;
        shop_buf_init(&reasons);
        shop_buf_puts(&reasons, "");
        if (!avro_value_get_by_name((avro_value_t *)&ev->payload, "reasons", &arr, NULL) &&
            !avro_value_get_size(&arr, &nr))
            for (size_t i = 0; i < nr; i++) {
                const char *r = NULL;
                size_t len = 0;
                if (!avro_value_get_by_index(&arr, i, &item, NULL) &&
                    !avro_value_get_string(&item, &r, &len) && r)
                    shop_buf_printf(&reasons, "%s%s", reasons.len ? "; " : "", r);
            }
        /* one alert per order: the fraud worker's event id is derived from the order id */
        decide(w, ev, "fraud_alert", ev->key, order,
               json_pack("{sssssisssssIss}", "order_id", order, "user_id", ev->key, "score",
                         (int)score, "level", level, "recommendation", rec ? rec : "",
                         "amount_minor", (json_int_t)amount, "reasons", reasons.buf),
               w->ops_channels);
        shop_buf_release(&reasons);
    }
    return SHOP_OK;
}

static int process(void *vw, const shop_event_t *ev, unsigned sinks, char *errstr,
                   size_t errstr_size) {
    shop_notify_w_t *w = vw;
    if (!(sinks & SHOP_SINK_BIT(SHOP_SINK_PG)))
        return SHOP_OK;
    if (!ev->key || !*ev->key || !ev->event_id)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "event without key or id");
    if (ev->kind >= SHOP_EV_USER_SIGNUP && ev->kind <= SHOP_EV_USER_NOTIFICATION_PREFS_CHANGED)
        return user_event(w, ev, errstr, errstr_size);
    return other_event(w, ev, errstr, errstr_size);
}

static void flush_redis(void *w, shop_redis_batch_t *b) {
    (void)w, (void)b;
}

static int flush_pg(void *vw, PGconn *conn, char *errstr, size_t errstr_size) {
    shop_notify_w_t *w = vw;
    for (size_t i = 0; i < w->n; i++) {
        const notify_op_t *o = &w->ops[i];
        int rc =
            shop_pg_exec(conn, sql[o->q], o->n, (const char *const *)o->p, errstr, errstr_size);
        if (rc)
            return rc;
    }
    return SHOP_OK;
}

static void clear(shop_notify_w_t *w) {
    for (size_t i = 0; i < w->n; i++)
        for (int k = 0; k < OP_MAXP; k++)
            free(w->ops[i].p[k]);
    w->n = 0;
}

static void flushed(void *vw, int sink) {
    if (sink == SHOP_SINK_PG)
        clear(vw);
}

static void discard(void *vw) {
    clear(vw);
}

static size_t pending(void *vw) {
    return ((shop_notify_w_t *)vw)->n;
}

static void destroy(void *vw) {
    shop_notify_w_t *w = vw;
    if (!w)
        return;
    shop_notify_dispatch_destroy(w->dispatch);
    shop_pg_store_destroy(w->http_store);
    pthread_mutex_destroy(&w->http_lock);
    free(w->pg_url);
    free(w->pg_schema);
    clear(w);
    free(w->ops);
    free(w->channels);
    free(w->fraud_level);
    free(w);
}

static const char *any_var(void *ctx, const char *name) {
    (void)ctx, (void)name;
    return "";
}

/* Renders every type's templates once at start with empty values and warns about each that does
 * not parse (an unclosed tag, a missing file), so a broken deploy shows in the log before the
 * first notification of that type is dead. Unknown variables show per send (their fields are
 * the payload's). Not fatal: the other types still send. */
static void lint_templates(const char *dir) {
    for (int i = 0; ntypes[i]; i++)
        for (int k = 0; locales[k]; k++) {
            char err[512], msg[640], q[700];
            shop_buf_t out;
            shop_buf_init(&out);
            char *t = shop_notify_template_load(dir, ntypes[i], locales[k], err, sizeof(err));
            if (t && shop_notify_render(t, any_var, NULL, &out, err, sizeof(err)) == SHOP_OK)
                err[0] = '\0';
            if (err[0]) {
                snprintf(msg, sizeof(msg),
                         "notify.templates: %s.%s: %s (those notifications will be dead)",
                         ntypes[i], locales[k], err);
                SHOP_WARN("msg=%s", shop_log_quote(q, sizeof(q), msg));
            }
            shop_buf_release(&out);
            free(t);
        }
}

static void *create(const shop_worker_env_t *env, char *errstr, size_t errstr_size) {
    shop_notify_w_t *w = shop_xcalloc(1, sizeof(*w));
    const char *ch = shop_config_get(env->cfg, "notify.channels");
    const char *fl = shop_config_get(env->cfg, "notify.fraud.level");
    w->channels = shop_xstrdup(ch ? ch : "inapp,webhook,email");
    w->fraud_level = shop_xstrdup(fl ? fl : "high");
    const char *oe = shop_config_get(env->cfg, "notify.ops.email");
    w->ops_channels = oe && *oe ? "ops,ops_email" : "ops";
    pthread_mutex_init(&w->http_lock, NULL);
    const char *pu = shop_config_get(env->cfg, "pg.url");
    w->pg_url = shop_xstrdup(pu ? pu : "");
    w->pg_schema = shop_xstrdup(env->pg_schema);
    for (const char *p = w->channels; *p;) {
        size_t n = strcspn(p, ",");
        if (!((n == 5 && !strncmp(p, "inapp", 5)) || (n == 7 && !strncmp(p, "webhook", 7)) ||
              (n == 5 && !strncmp(p, "email", 5)))) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                        "notify.channels: a comma-separated subset of inapp,webhook,email");
            destroy(w);
            return NULL;
        }
        p += n + (p[n] == ',');
    }
    if (shop_worker_acts(env, "notify.dispatch")) {
        /* a wrong template folder would kill every in-app and e-mail notification: refuse now */
        const char *dir = shop_config_get(env->cfg, "notify.templates");
        char terr[256];
        char *t = shop_notify_template_load(dir ? dir : "", "restock", "en", terr, sizeof(terr));
        if (!t) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                        "notify.templates: %s (set it to the deploy/notify folder)", terr);
            destroy(w);
            return NULL;
        }
        free(t);
        lint_templates(dir ? dir : "");
    }
    if (shop_worker_acts(env, "notify.dispatch") &&
        !(w->dispatch = shop_notify_dispatch_start(env->cfg, env->redis_prefix, env->pg_schema,
                                                   errstr, errstr_size))) {
        destroy(w);
        return NULL;
    }
    return w;
}

/* ---- HTTP: GET /notifications/user/<id>[?limit=N] ---- */

int notify_http_route(void *opaque, const char *path, const char *(*query)(void *, const char *),
                      void *req, shop_buf_t *body, const char **content_type) {
    shop_notify_w_t *w = opaque;
    static const char pfx[] = "/notifications/user/";
    if (strncmp(path, pfx, sizeof(pfx) - 1))
        return 404;
    *content_type = "application/json";
    const char *lim = query ? query(req, "limit") : NULL;
    char err[256];
    json_t *out = NULL;
    int status;
    pthread_mutex_lock(&w->http_lock);
    if (!w->http_store)
        w->http_store =
            shop_pg_store_new(w->pg_url, w->pg_schema, "notify-http", 3000, err, sizeof(err));
    PGconn *pg = w->http_store ? shop_pg_store_conn(w->http_store, err, sizeof(err)) : NULL;
    if (!pg) {
        out = json_pack("{ss}", "error", "postgresql is not reachable");
        status = 503;
    } else {
        status = notify_api_user(pg, path + sizeof(pfx) - 1, lim ? atoi(lim) : 50, &out);
    }
    pthread_mutex_unlock(&w->http_lock);
    char *txt = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    shop_buf_puts(body, txt ? txt : "{}");
    shop_buf_puts(body, "\n");
    free(txt);
    json_decref(out);
    return status;
}

const shop_worker_ops_t shop_worker_notify = {
    .name = "notify",
    .description = "notification hub: triggers -> outbox (with the offsets) -> webhook, e-mail, "
                   "in-app",
    .topics = topics,
    .sinks = SHOP_SINK_BIT(SHOP_SINK_PG),
    .default_port = 9405,
    .conf = conf,
    .create = create,
    .destroy = destroy,
    .process = process,
    .flush_redis = flush_redis,
    .flush_pg = flush_pg,
    .flushed = flushed,
    .discard = discard,
    .pending = pending,
    .route = notify_http_route,
};
