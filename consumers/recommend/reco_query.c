/* reco_query.c: the read side of the recommendation worker, shared by the HTTP routes
 * (/reco/user/<id>, /reco/item/<id>, /reco/visual/<id> on the worker's port) and
 * `shopstream query reco --user ID | --item ID | --visual ID`. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reco_int.h"
#include "redis_keys.h"
#include "runtime.h"
#include "store.h"

enum { Q_USER, Q_ITEM, Q_VISUAL };

static int fail(json_t **out, int status, const char *msg) {
    *out = json_pack("{ss}", "error", msg);
    return status;
}

/* The view of one user or item as JSON: {"user"|"item": id, "variant", "source", "items": [...]}.
 * A user without recommendations of their own gets the trending list (source "trending"). */
int reco_api_get(redisContext *c, const char *prefix, int what, const char *id, int n,
                 json_t **out) {
    if (!id || !*id || strlen(id) > RECO_MAX_ID)
        return fail(out, 400, "missing or over-long id");
    if (n < 1 || n > 1000)
        return fail(out, 400, "n must be 1..1000");
    char key[512];
    const char *fmt = what == Q_USER   ? SHOP_KEY_RECO_USER
                      : what == Q_ITEM ? SHOP_KEY_RECO_ITEM
                                       : SHOP_KEY_RECO_VISUAL;
    snprintf(key, sizeof(key), fmt, prefix, id);
    const char *source = "model";
    redisReply *r = redisCommand(c, "ZREVRANGE %s 0 %d WITHSCORES", key, n - 1);
    if (r && r->type == REDIS_REPLY_ARRAY && !r->elements && what == Q_USER) {
        freeReplyObject(r);
        snprintf(key, sizeof(key), SHOP_KEY_RECO_TRENDING, prefix);
        source = "trending"; /* a new user: popularity */
        r = redisCommand(c, "ZREVRANGE %s 0 %d WITHSCORES", key, n - 1);
    }
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        char msg[300];
        snprintf(msg, sizeof(msg), "redis: %s",
                 !r                             ? c->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                : "unexpected reply");
        if (r)
            freeReplyObject(r);
        return fail(out, 503, msg);
    }
    json_t *items = json_array();
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        json_array_append_new(items, json_pack("{sssf}", "item", r->element[i]->str, "score",
                                               strtod(r->element[i + 1]->str, NULL)));
    freeReplyObject(r);
    char variant[128] = "", vkey[256];
    if (what == Q_USER) {
        snprintf(vkey, sizeof(vkey), SHOP_KEY_RECO_VARIANT, prefix);
        r = redisCommand(c, "HGET %s %s", vkey, id);
        if (r && r->type == REDIS_REPLY_STRING)
            snprintf(variant, sizeof(variant), "%s", r->str);
        if (r)
            freeReplyObject(r);
    }
    *out = json_pack("{ssssssssso}",
                     what == Q_USER   ? "user"
                     : what == Q_ITEM ? "item"
                                      : "visual",
                     id, "variant", variant, "source", source, "key", key, "items", items);
    if (what != Q_USER)
        json_object_del(*out, "variant");
    return 200;
}

/* ---- HTTP ---- */

int reco_http_route(void *opaque, const char *path, const char *(*query)(void *, const char *),
                    void *req, shop_buf_t *body, const char **content_type) {
    reco_w_t *w = opaque;
    static const struct {
        const char *prefix;
        int what;
    } routes[] = {{"/reco/user/", Q_USER}, {"/reco/item/", Q_ITEM}, {"/reco/visual/", Q_VISUAL}};
    int what = -1;
    const char *id = NULL;
    for (size_t i = 0; i < 3 && what < 0; i++)
        if (!strncmp(path, routes[i].prefix, strlen(routes[i].prefix)))
            what = routes[i].what, id = path + strlen(routes[i].prefix);
    if (what < 0)
        return 404;
    *content_type = "application/json";
    char err[256];
    redisContext *c = shop_redis_thread_conn(w->redis_url, w->redis_timeout_ms, err, sizeof(err));
    json_t *out = NULL;
    const char *n = query(req, "n");
    int status = c ? reco_api_get(c, w->prefix, what, id, n && *n ? atoi(n) : 10, &out)
                   : fail(&out, 503, "redis is not reachable");
    char *txt = json_dumps(out, JSON_COMPACT);
    shop_buf_puts(body, txt ? txt : "{}");
    shop_buf_puts(body, "\n");
    free(txt);
    json_decref(out);
    return status;
}

/* ---- CLI ---- */

static void usage(void) {
    fprintf(stderr, "usage: shopstream query reco (--user ID | --item ID | --visual ID) [-n N] "
                    "[--json] [--namespace NAME]\n");
}

int reco_cmd_query(int argc, char **argv) {
    shop_conf_def_t *table = shop_runtime_conf_table(&shop_worker_reco);
    shop_config_t *cfg = shop_config_new(table);
    char err[512] = "", prefix[128], schema[64];
    int json_out = 0, n = 10, what = -1, status = 2;
    const char *ns = NULL, *id = NULL;
    shop_redis_store_t *rs = NULL;
    json_t *out = NULL;
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err)))
        goto bad;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            json_out = 1;
        else if (!strcmp(a, "--namespace") && v && i++)
            ns = v;
        else if (!strcmp(a, "-n") && v && i++)
            n = atoi(v);
        else if (!strcmp(a, "--user") && v && i++)
            what = Q_USER, id = v;
        else if (!strcmp(a, "--item") && v && i++)
            what = Q_ITEM, id = v;
        else if (!strcmp(a, "--visual") && v && i++)
            what = Q_VISUAL, id = v;
        else {
            snprintf(err, sizeof(err), "unexpected argument \"%s\"", a);
            goto bad;
        }
    }
    if (what < 0) {
        snprintf(err, sizeof(err), "one of --user, --item or --visual is needed");
        goto bad;
    }
    if (shop_namespace(ns, prefix, sizeof(prefix), schema, sizeof(schema), err, sizeof(err)))
        goto bad;
    status = 1;
    rs = shop_redis_store_new(shop_config_get(cfg, "redis.url"), "-", 3000, err, sizeof(err));
    redisContext *c = rs ? shop_redis_store_conn(rs, err, sizeof(err)) : NULL;
    if (!c)
        goto bad;
    int http = reco_api_get(c, prefix, what, id, n, &out);
    if (http != 200) {
        snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(out, "error")));
        status = http == 400 ? 2 : 1;
        goto bad;
    }
    if (json_out) {
        char *txt = json_dumps(out, JSON_COMPACT);
        printf("%s\n", txt);
        free(txt);
    } else {
        const char *variant = json_string_value(json_object_get(out, "variant"));
        printf("%s %s (%s%s%s)\n",
               what == Q_USER   ? "user"
               : what == Q_ITEM ? "item"
                                : "visual",
               id, json_string_value(json_object_get(out, "source")),
               variant && *variant ? ", variant " : "", variant ? variant : "");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(out, "items"), i, v) {
            printf("%3zu. %-30s %10.4f\n", i + 1, json_string_value(json_object_get(v, "item")),
                   json_real_value(json_object_get(v, "score")));
        }
    }
    status = 0;
    goto done;
bad:
    fprintf(stderr, "shopstream query reco: %s\n", err);
    if (status == 2)
        usage();
done:
    json_decref(out);
    shop_redis_store_destroy(rs);
    shop_config_destroy(cfg);
    free(table);
    return status;
}
