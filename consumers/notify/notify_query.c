/* notify_query.c: the read side of the notification hub: a user's latest notifications from the
 * outbox with their delivery state, for `shopstream query notifications` and HTTP. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_worker.h"
#include "runtime.h"
#include "store.h"

int notify_api_user(PGconn *pg, const char *user_id, int limit, json_t **out) {
    if (!user_id || !*user_id || strlen(user_id) > 200) {
        *out = json_pack("{ss}", "error", "bad user id");
        return 400;
    }
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit > 0 && limit <= 1000 ? limit : 50);
    const char *p[2] = {user_id, lim};
    PGresult *r = PQexecParams(
        pg,
        "SELECT json_build_object('id', dedupe_key, 'channel', channel, 'type', ntype, "
        "'entity', entity, 'status', status, 'attempts', attempts, 'occurred_at', occurred_at, "
        "'sent_at', sent_at, 'last_error', last_error, 'data', payload)::text "
        "FROM notify_outbox WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2::int",
        2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        *out = json_pack("{ss}", "error", "postgresql is not reachable");
        PQclear(r);
        return 503;
    }
    *out = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(*out, json_loads(PQgetvalue(r, i, 0), 0, NULL));
    PQclear(r);
    return 200;
}

int notify_cmd_query(int argc, char **argv) {
    shop_conf_def_t *table = shop_runtime_conf_table(&shop_worker_notify);
    shop_config_t *cfg = shop_config_new(table);
    char err[512] = "", prefix[128], schema[64];
    int json_out = 0, status = 2;
    const char *ns = NULL, *user = NULL;
    shop_pg_store_t *ps = NULL;
    json_t *out = NULL;
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err)))
        goto done;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json_out = 1;
        else if (!strcmp(argv[i], "--namespace") && i + 1 < argc)
            ns = argv[++i];
        else if (!strcmp(argv[i], "--user") && i + 1 < argc)
            user = argv[++i];
        else {
            snprintf(err, sizeof(err), "unexpected argument \"%s\"", argv[i]);
            goto done;
        }
    }
    if (!user) {
        snprintf(err, sizeof(err),
                 "usage: shopstream query notifications --user ID [--json] [--namespace NS]");
        goto done;
    }
    if (shop_namespace(ns, prefix, sizeof(prefix), schema, sizeof(schema), err, sizeof(err)))
        goto done;
    status = 1;
    ps = shop_pg_store_new(shop_config_get(cfg, "pg.url"), schema, "notify-query", 3000, err,
                           sizeof(err));
    PGconn *pg = ps ? shop_pg_store_conn(ps, err, sizeof(err)) : NULL;
    if (!pg)
        goto done;
    if (notify_api_user(pg, user, 50, &out) != 200) {
        snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(out, "error")));
        goto done;
    }
    if (json_out) {
        char *s = json_dumps(out, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
    } else {
        size_t i;
        json_t *n;
        json_array_foreach(out, i, n) {
            const char *e = json_string_value(json_object_get(n, "last_error"));
            printf("%-8s %-8s %-10s attempts=%lld %s%s%s\n",
                   json_string_value(json_object_get(n, "channel")),
                   json_string_value(json_object_get(n, "status")),
                   json_string_value(json_object_get(n, "type")),
                   (long long)json_integer_value(json_object_get(n, "attempts")),
                   json_string_value(json_object_get(n, "id")), e ? " error=" : "", e ? e : "");
        }
    }
    err[0] = 0;
    status = 0;
done:
    if (err[0])
        fprintf(stderr, "shopstream query notifications: %s\n", err);
    json_decref(out);
    shop_pg_store_destroy(ps);
    shop_config_destroy(cfg);
    free(table);
    return status;
}
