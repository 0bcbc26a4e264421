/* search_query.c: the read side of the search worker, shared by the HTTP routes (/suggest,
 * /trending, /correct on the worker's port) and `shopstream query suggest|trending|correct`. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_keys.h"
#include "runtime.h"
#include "search_int.h"
#include "search_query.h"
#include "store.h"

/* Scores are Redis's doubles: 15 significant digits print 582.7, not 582.70000000000005, and
 * keep every integer count and millisecond timestamp exact. */
#define SEARCH_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static int fail(json_t **out, int status, const char *msg) {
    *out = json_pack("{ss}", "error", msg);
    if (!*out) /* not UTF-8: a Redis error echoing bytes, or text cut mid-character */
        *out = json_pack("{ss}", "error",
                         status == 503 ? "redis: error (reply text not UTF-8)" : "bad request");
    return status;
}

static int redis_fail(json_t **out, redisContext *c, redisReply *r) {
    char msg[300];
    snprintf(msg, sizeof(msg), "redis: %s",
             !r                             ? (c && c->errstr[0] ? c->errstr : "not connected")
             : r->type == REDIS_REPLY_ERROR ? r->str
                                            : "unexpected reply");
    if (r)
        freeReplyObject(r);
    return fail(out, 503, msg);
}

typedef struct {
    const char *want;
    int hit;
} key_match_t;

static void match_key(const char *key, size_t len, void *arg) {
    key_match_t *m = arg;
    if (!m->hit && strlen(m->want) == len && !memcmp(m->want, key, len))
        m->hit = 1;
}

static int has_text(json_t *arr, const char *text) {
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!strcmp(json_string_value(json_object_get(v, "text")), text))
            return 1;
    }
    return 0;
}

int search_api_suggest(redisContext *c, const char *prefix, const char *typed, const char *user,
                       int n, int prefix_max, json_t **out) {
    char key[SHOP_TEXT_MAX_KEY], why[200], rkey[SHOP_TEXT_MAX_KEY + 200];
    if (!typed)
        return fail(out, 400, "missing q");
    if (n < 1 || n > 100)
        return fail(out, 400, "n must be 1..100");
    if (shop_text_lookup_key(typed, strlen(typed), prefix_max, key, sizeof(key), why, sizeof(why)))
        return fail(out, 400, why);
    /* the user's recent searches and the prefix's completions in one round trip */
    char ukey[SHOP_TEXT_MAX_KEY + 400];
    int with_user = user && *user;
    if (with_user) {
        snprintf(ukey, sizeof(ukey), SHOP_KEY_SRCH_USER, prefix, user);
        redisAppendCommand(c, "ZREVRANGE %s 0 -1 WITHSCORES", ukey);
    }
    snprintf(rkey, sizeof(rkey), SHOP_KEY_SUGGEST, prefix, key);
    redisAppendCommand(c, "ZREVRANGE %s 0 %d WITHSCORES", rkey, 2 * n - 1);
    redisReply *ru = NULL, *r = NULL;
    void *reply = NULL;
    if (with_user && redisGetReply(c, &reply) == REDIS_OK)
        ru = reply;
    if ((!with_user || ru) && redisGetReply(c, &reply) == REDIS_OK)
        r = reply;
    int user_bad = with_user && (!ru || ru->type != REDIS_REPLY_ARRAY);
    if (user_bad || !r || r->type != REDIS_REPLY_ARRAY) {
        redisReply *other = user_bad ? r : ru; /* the failing one goes to redis_fail */
        if (other)
            freeReplyObject(other);
        return redis_fail(out, c, user_bad ? ru : r);
    }
    json_t *items = json_array();
    /* the user's own recent searches that match come first */
    for (size_t i = 0; ru && i + 1 < ru->elements && json_array_size(items) < (size_t)n; i += 2) {
        key_match_t m = {key, 0};
        shop_text_prefix_keys(ru->element[i]->str, prefix_max, match_key, &m);
        if (m.hit)
            json_array_append_new(items,
                                  json_pack("{sssfsb}", "text", ru->element[i]->str, "score",
                                            strtod(ru->element[i + 1]->str, NULL), "recent", 1));
    }
    if (ru)
        freeReplyObject(ru);
    for (size_t i = 0; i + 1 < r->elements && json_array_size(items) < (size_t)n; i += 2)
        if (!has_text(items, r->element[i]->str))
            json_array_append_new(items,
                                  json_pack("{sssfsb}", "text", r->element[i]->str, "score",
                                            strtod(r->element[i + 1]->str, NULL), "recent", 0));
    freeReplyObject(r);
    *out = json_pack("{ssssso}", "prefix", typed, "key", key, "suggestions", items);
    return 200;
}

int search_api_trending(redisContext *c, const char *prefix, const char *window, int rising,
                        const char *category, int n, json_t **out) {
    char key[SHOP_TEXT_MAX_KEY + 256];
    if (n < 1 || n > 1000)
        return fail(out, 400, "n must be 1..1000");
    if (!window || !*window)
        window = "1h";
    if (rising)
        snprintf(key, sizeof(key), SHOP_KEY_TREND_RISING, prefix);
    else if (category && *category) {
        char cat[SHOP_TEXT_MAX_KEY], why[200];
        if (shop_text_normalize(category, strlen(category), 64, cat, sizeof(cat), why, sizeof(why)))
            return fail(out, 400, why);
        snprintf(key, sizeof(key), SHOP_KEY_TREND_CAT, prefix, cat);
        window = "1h";
    } else if (!strcmp(window, "5m") || !strcmp(window, "1h") || !strcmp(window, "24h"))
        snprintf(key, sizeof(key), SHOP_KEY_TREND, prefix, window);
    else if (!strcmp(window, "zero"))
        snprintf(key, sizeof(key), SHOP_KEY_TREND_ZERO, prefix);
    else
        return fail(out, 400, "window must be 5m, 1h, 24h or zero");
    redisReply *r = redisCommand(c, "ZREVRANGE %s 0 %d WITHSCORES", key, n - 1);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return redis_fail(out, c, r);
    json_t *items = json_array();
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        /* a window's count is a whole number of searches: an integer, not 3656.0 */
        double v = strtod(r->element[i + 1]->str, NULL);
        json_t *num =
            !rising && v == floor(v) && fabs(v) < 9e15 ? json_integer((json_int_t)v) : json_real(v);
        json_array_append_new(items, json_pack("{ssso}", "query", r->element[i]->str,
                                               rising ? "score" : "count", num));
    }
    freeReplyObject(r);
    char meta[256];
    snprintf(meta, sizeof(meta), SHOP_KEY_TREND_META, prefix);
    r = redisCommand(c, "HGET %s watermark", meta);
    long long wm = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    if (r)
        freeReplyObject(r);
    char at[40] = "";
    if (wm)
        shop_format_time_ms(wm, at, sizeof(at));
    *out = json_pack("{sssssbssssso}", "window", rising ? "rising" : window, "category",
                     category ? category : "", "rising", rising, "as_of", at, "key", key, "items",
                     items);
    return 200;
}

int search_api_correct(redisContext *c, const char *prefix, shop_search_t *s, const char *text,
                       json_t **out) {
    char q[SHOP_TEXT_MAX_KEY], why[200], key[256];
    if (!text)
        return fail(out, 400, "missing q");
    if (shop_text_normalize(text, strlen(text), SEARCH_MAX_QUERY, q, sizeof(q), why, sizeof(why)))
        return fail(out, 400, why);
    snprintf(key, sizeof(key), SHOP_KEY_DYM, prefix);
    redisReply *r = redisCommand(c, "HGET %s %s", key, q);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return redis_fail(out, c, r);
    char *fix = r->type == REDIS_REPLY_STRING ? shop_xstrdup(r->str) : NULL;
    const char *source = fix ? "materialized" : "computed";
    freeReplyObject(r);
    if (!fix && s) {
        pthread_mutex_lock(&s->lex_lock);
        fix = search_lex_correct(s->lex, s->dict, q);
        pthread_mutex_unlock(&s->lex_lock);
    }
    if (!fix)
        fix = shop_xstrdup(q);
    *out = json_pack("{sssssbss}", "query", q, "correction", fix, "changed", strcmp(fix, q) != 0,
                     "source", source);
    free(fix);
    return 200;
}

/* ---- HTTP ---- */

static int int_arg(const char *v, int def) {
    return v && *v ? atoi(v) : def;
}

int search_http_route(void *opaque, const char *path, const char *(*query)(void *, const char *),
                      void *req, shop_buf_t *body, const char **content_type) {
    shop_search_t *s = opaque;
    *content_type = "application/json";
    int which = !strcmp(path, "/suggest")    ? 1
                : !strcmp(path, "/trending") ? 2
                : !strcmp(path, "/correct")  ? 3
                                             : 0;
    if (!which)
        return 404;
    char err[256];
    redisContext *c = shop_redis_thread_conn(s->redis_url, s->redis_timeout_ms, err, sizeof(err));
    json_t *out = NULL;
    int status;
    if (!c) {
        status = fail(&out, 503, "redis is not reachable");
    } else if (which == 1) {
        status = search_api_suggest(c, s->prefix, query(req, "q"), query(req, "user"),
                                    int_arg(query(req, "n"), s->suggest_n), s->prefix_max, &out);
    } else if (which == 2) {
        const char *rising = query(req, "rising");
        status = search_api_trending(c, s->prefix, query(req, "window"),
                                     rising && strcmp(rising, "0") && strcmp(rising, "false"),
                                     query(req, "category"), int_arg(query(req, "n"), 10), &out);
    } else {
        status = search_api_correct(c, s->prefix, s, query(req, "q"), &out);
    }
    char *txt = json_dumps(out, SEARCH_JSON_FLAGS);
    shop_buf_puts(body, txt ? txt : "{}");
    shop_buf_puts(body, "\n");
    free(txt);
    json_decref(out);
    return status;
}

/* ---- CLI ---- */

static void usage(void) {
    fprintf(stderr, "usage: shopstream query suggest PREFIX [--user ID] [-n N] [--json]\n"
                    "       shopstream query trending [--window 5m|1h|24h|zero] [--rising] "
                    "[--category C] [-n N] [--json]\n"
                    "       shopstream query correct TEXT [--json]\n"
                    "       shopstream query correct --dictionary FILE [TEXT]   (offline)\n"
                    "  common: [--namespace NAME] [--config FILE] [--set key=value]\n");
}

static void print_human(const char *what, json_t *out) {
    size_t i;
    json_t *v;
    if (!strcmp(what, "suggest")) {
        json_array_foreach(json_object_get(out, "suggestions"), i, v) {
            printf("%2zu. %s%s\n", i + 1, json_string_value(json_object_get(v, "text")),
                   json_is_true(json_object_get(v, "recent")) ? "   (your recent search)" : "");
        }
    } else if (!strcmp(what, "trending")) {
        int rising = json_is_true(json_object_get(out, "rising"));
        printf("%s trending%s%s (event time up to %s)\n",
               json_string_value(json_object_get(out, "window")),
               *json_string_value(json_object_get(out, "category")) ? " in " : "",
               json_string_value(json_object_get(out, "category")),
               json_string_value(json_object_get(out, "as_of")));
        json_array_foreach(json_object_get(out, "items"), i, v) {
            const char *q = json_string_value(json_object_get(v, "query"));
            size_t cols = shop_text_columns(q); /* Hangul takes two columns a character */
            printf("%3zu. %s%*s %10.*f\n", i + 1, q, cols < 40 ? (int)(40 - cols) : 0, "",
                   rising ? 2 : 0,
                   json_number_value(json_object_get(v, rising ? "score" : "count")));
        }
    } else {
        printf("%s\n", json_string_value(json_object_get(out, "correction")));
    }
}

int search_cmd_query(int argc, char **argv) {
    const char *what = argv[1];
    shop_conf_def_t *table = shop_runtime_conf_table(&shop_worker_search);
    shop_config_t *cfg = shop_config_new(table);
    char err[512], prefix[128], schema[64];
    int json_out = 0, n = 10, rising = 0, status = 2;
    const char *ns = NULL, *user = NULL, *window = NULL, *category = NULL, *text = NULL;
    shop_search_t *s = NULL;
    shop_redis_store_t *rs = NULL;
    json_t *out = NULL;
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err)))
        goto bad;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json_out = 1;
        else if (!strcmp(argv[i], "--namespace") && i + 1 < argc)
            ns = argv[++i];
        else if (!strcmp(argv[i], "--user") && i + 1 < argc)
            user = argv[++i];
        else if (!strcmp(argv[i], "--window") && i + 1 < argc)
            window = argv[++i];
        else if (!strcmp(argv[i], "--category") && i + 1 < argc)
            category = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rising"))
            rising = 1;
        else if (argv[i][0] != '-' && !text)
            text = argv[i];
        else {
            snprintf(err, sizeof(err), "unexpected argument \"%s\"", argv[i]);
            goto bad;
        }
    }
    if (strcmp(what, "trending") && !text) {
        snprintf(err, sizeof(err), "%s needs the text to look up", what);
        goto bad;
    }
    if (shop_namespace(ns, prefix, sizeof(prefix), schema, sizeof(schema), err, sizeof(err)))
        goto bad;
    shop_worker_env_t env = {cfg, prefix, schema, "search"};
    status = 1;
    if (!(s = shop_worker_search.create(&env, err, sizeof(err))))
        goto bad;
    rs = shop_redis_store_new(shop_config_get(cfg, "redis.url"), "-", 3000, err, sizeof(err));
    redisContext *c = rs ? shop_redis_store_conn(rs, err, sizeof(err)) : NULL;
    if (!c)
        goto bad;
    int http;
    if (!strcmp(what, "suggest")) {
        http = search_api_suggest(c, prefix, text, user, n, s->prefix_max, &out);
    } else if (!strcmp(what, "trending")) {
        http = search_api_trending(c, prefix, window, rising, category, n, &out);
    } else {
        s->lex = search_lex_from_redis(s, c, err, sizeof(err));
        http = search_api_correct(c, prefix, s, text, &out);
    }
    if (http != 200) {
        snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(out, "error")));
        status = http == 400 ? 2 : 1;
        goto bad;
    }
    if (json_out) {
        char *txt = json_dumps(out, SEARCH_JSON_FLAGS);
        printf("%s\n", txt);
        free(txt);
    } else {
        print_human(what, out);
    }
    status = 0;
    goto done;
bad:
    fprintf(stderr, "shopstream query %s: %s\n", what, err);
    if (status == 2)
        usage();
done:
    json_decref(out);
    shop_redis_store_destroy(rs);
    if (s)
        shop_worker_search.destroy(s);
    shop_config_destroy(cfg);
    free(table);
    return status;
}
