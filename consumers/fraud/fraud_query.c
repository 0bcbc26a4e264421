/* fraud_query.c: the read side of the fraud worker: one order's decision from Redis, for HTTP
 * GET /fraud/order/<id> and `shopstream query fraud ORDER_ID`. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud_global.h"
#include "fraud_worker.h"
#include "redis_keys.h"
#include "runtime.h"
#include "store.h"

/* Every instance's distinct accounts on the order's device and IP in the 24 event-time hours up
 * to the order's hour (the hourly HyperLogLogs), next to the partition-local count the rule saw
 * (device_accounts). Read now, so they include accounts that came after the order in its hour. */
static void add_global(redisContext *c, const char *prefix, json_t *o) {
    static const char *const fields[2][2] = {{"device", "global_device_accounts"},
                                             {"ip", "global_ip_accounts"}};
    int64_t at = json_integer_value(json_object_get(o, "occurred_at"));
    for (int k = 0; k < 2; k++) {
        const char *v = json_string_value(json_object_get(o, fields[k][0]));
        int64_t n = 0;
        char err[256];
        if (v && *v && !shop_fraud_global_count(c, prefix, k, v, at, &n, err, sizeof(err)))
            json_object_set_new(o, fields[k][1], json_integer(n));
    }
}

int fraud_api_order(struct redisContext *c, const char *prefix, const char *order_id,
                    json_t **out) {
    if (!order_id || !*order_id || strlen(order_id) > 200 || strchr(order_id, '/')) {
        *out = json_pack("{ss}", "error", "bad order id");
        return 400;
    }
    char key[512];
    snprintf(key, sizeof(key), SHOP_KEY_FRAUD_ORDER, prefix, order_id);
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        *out = json_pack("{ss}", "error", r && r->type == REDIS_REPLY_ERROR ? r->str : "redis");
        if (r)
            freeReplyObject(r);
        return 503;
    }
    if (!r->elements) {
        freeReplyObject(r);
        *out = json_pack("{ssss}", "error", "no decision for this order", "order_id", order_id);
        return 404;
    }
    json_t *o = json_pack("{ss}", "order_id", order_id);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *v = r->element[i + 1]->str;
        if (!strcmp(f, "score") || !strcmp(f, "occurred_at") ||
            (!strcmp(f, "device_accounts") && *v))
            json_object_set_new(o, f, json_integer(strtoll(v, NULL, 10)));
        else if (!strcmp(f, "anomaly"))
            json_object_set_new(o, f, *v ? json_real(strtod(v, NULL)) : json_null());
        else
            json_object_set_new(o, f, json_string(v));
    }
    freeReplyObject(r);
    add_global(c, prefix, o);
    *out = o;
    return 200;
}

static const char *str_of(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int fraud_cmd_query(int argc, char **argv) {
    shop_conf_def_t *table = shop_runtime_conf_table(&shop_worker_fraud);
    shop_config_t *cfg = shop_config_new(table);
    char err[512] = "", prefix[128], schema[64];
    int json_out = 0, status = 2;
    const char *ns = NULL, *id = NULL;
    shop_redis_store_t *rs = NULL;
    json_t *out = NULL;
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err)))
        goto done;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json_out = 1;
        else if (!strcmp(argv[i], "--namespace") && i + 1 < argc)
            ns = argv[++i];
        else if (argv[i][0] != '-' && !id)
            id = argv[i];
        else {
            snprintf(err, sizeof(err), "unexpected argument \"%s\"", argv[i]);
            goto done;
        }
    }
    if (!id) {
        snprintf(err, sizeof(err),
                 "usage: shopstream query fraud ORDER_ID [--json] [--namespace NS]");
        goto done;
    }
    if (shop_namespace(ns, prefix, sizeof(prefix), schema, sizeof(schema), err, sizeof(err)))
        goto done;
    status = 1;
    rs = shop_redis_store_new(shop_config_get(cfg, "redis.url"), "-", 3000, err, sizeof(err));
    redisContext *c = rs ? shop_redis_store_conn(rs, err, sizeof(err)) : NULL;
    if (!c)
        goto done;
    int http = fraud_api_order(c, prefix, id, &out);
    if (http != 200) {
        snprintf(err, sizeof(err), "%s: %s", id, str_of(out, "error"));
        status = http == 404 ? 3 : http == 400 ? 2 : 1;
        goto done;
    }
    if (json_out) {
        char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
    } else {
        printf("order %s (user %s): score %lld, %s risk -> %s\n  reasons: %s\n  model: %s\n", id,
               str_of(out, "user_id"), (long long)json_integer_value(json_object_get(out, "score")),
               str_of(out, "level"), str_of(out, "recommendation"),
               *str_of(out, "reasons") ? str_of(out, "reasons") : "(none)", str_of(out, "model"));
        json_t *dl = json_object_get(out, "device_accounts");
        json_t *gd = json_object_get(out, "global_device_accounts");
        json_t *gi = json_object_get(out, "global_ip_accounts");
        if (dl || gd || gi)
            printf("  accounts in 24 h: device %lld in its partition (the rule's), %lld across "
                   "all partitions; IP %lld across all partitions\n",
                   (long long)(dl ? json_integer_value(dl) : -1),
                   (long long)(gd ? json_integer_value(gd) : -1),
                   (long long)(gi ? json_integer_value(gi) : -1));
    }
    err[0] = 0;
    status = 0;
done:
    if (err[0])
        fprintf(stderr, "shopstream query fraud: %s\n", err);
    json_decref(out);
    shop_redis_store_destroy(rs);
    shop_config_destroy(cfg);
    free(table);
    return status;
}
