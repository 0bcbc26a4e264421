/* cli.c: `shopstream run WORKER`, `shopstream replay WORKER` and `shopstream query stats` (the
 * Redis view and PostgreSQL totals, or with --by/--from/--to the rollups per bucket, through the
 * query the analytics dashboard's /api/stats uses). */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/dashboard.h"
#include "commands.h"
#include "correct_cli.h"
#include "redis_keys.h"
#include "runtime.h"
#include "store.h"

static void list_workers(FILE *fp) {
    fprintf(fp, "workers:\n");
    for (const shop_worker_ops_t *const *w = shop_worker_all(); *w; w++)
        fprintf(fp, "  %-10s %s\n", (*w)->name, (*w)->description);
}

static int usage(const char *cmd, int status) {
    FILE *fp = status ? stderr : stdout;
    if (!strcmp(cmd, "run"))
        fprintf(fp, "usage: shopstream run WORKER [--config FILE] [--set key=value]... "
                    "[--until-caught-up]\n"
                    "                             [--print-config] [--list]\n");
    else
        fprintf(
            fp,
            "usage: shopstream replay WORKER --namespace NAME [--from BOUND] [--to BOUND]\n"
            "                             [--config FILE] [--set key=value]...\n"
            "  BOUND is an offset (applied to every partition: 1200 or o:1200) or a time\n"
            "  (2026-11-01T10:00:00Z, or t:<epoch ms>); the range is [from, to), default all.\n");
    list_workers(fp);
    return status;
}

static shop_log_level_t level_of(const char *s) {
    if (!s)
        return SHOP_LOG_INFO;
    if (!strcmp(s, "debug"))
        return SHOP_LOG_DEBUG;
    if (!strcmp(s, "warn"))
        return SHOP_LOG_WARN;
    if (!strcmp(s, "error"))
        return SHOP_LOG_ERROR;
    return SHOP_LOG_INFO;
}

/* Shared by run and replay: worker lookup, config, flags. */
static int run_or_replay(int argc, char **argv, int replay) {
    const char *cmd = argv[0];
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && !strcmp(argv[1], "--list")) {
            list_workers(stdout);
            return 0;
        }
        return usage(cmd, argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2);
    }
    const shop_worker_ops_t *ops = shop_worker_find(argv[1]);
    if (!ops) {
        fprintf(stderr, "shopstream %s: unknown worker \"%s\"\n", cmd, argv[1]);
        return usage(cmd, 2);
    }
    shop_conf_def_t *table = shop_runtime_conf_table(ops);
    shop_config_t *cfg = shop_config_new(table);
    char err[512];
    int status = 0, print = 0;
    shop_runtime_opts_t o = {.ops = ops, .cfg = cfg};
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err))) {
        fprintf(stderr, "shopstream %s: %s\n", cmd, err);
        status = 2;
        goto out;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--until-caught-up"))
            o.until_caught_up = 1;
        else if (!strcmp(a, "--print-config"))
            print = 1;
        else if (!strcmp(a, "--progress"))
            o.progress = 1;
        else if (replay && v && !strcmp(a, "--from"))
            o.replay_from = argv[++i];
        else if (replay && v && !strcmp(a, "--to"))
            o.replay_to = argv[++i];
        else if (replay && v && !strcmp(a, "--namespace"))
            o.namespace_name = argv[++i];
        else {
            fprintf(stderr, "shopstream %s: unexpected argument \"%s\"\n", cmd, a);
            status = usage(cmd, 2);
            goto out;
        }
    }
    if (print) {
        shop_config_print(cfg, stdout);
        goto out;
    }
    if (replay) {
        if (!o.namespace_name) {
            fprintf(stderr, "shopstream replay: --namespace NAME is required (results go to "
                            "bt:NAME: and schema bt_NAME)\n");
            status = 2;
            goto out;
        }
        if (!o.replay_from && !o.replay_to)
            o.replay_from = "o:0";
        o.progress = o.progress || isatty(2);
    }
    shop_log_set_level(level_of(shop_config_get(cfg, "log.level")));
    status = shop_runtime_run(&o);
out:
    shop_config_destroy(cfg);
    free(table);
    return status;
}

int shop_cmd_run(int argc, char **argv) {
    return run_or_replay(argc, argv, 0);
}
int shop_cmd_replay(int argc, char **argv) {
    return run_or_replay(argc, argv, 1);
}

/* ---- query stats ---- */

/* Runs a command expecting an array; NULL with errstr on a connection or command error. */
static redisReply *array_reply(redisContext *c, char *errstr, size_t errstr_size, const char *fmt,
                               const char *key, int n) {
    redisReply *r = n ? redisCommand(c, fmt, key, n) : redisCommand(c, fmt, key);
    if (r && r->type == REDIS_REPLY_ARRAY)
        return r;
    shop_redis_reply_err(c, r, errstr, errstr_size);
    return NULL;
}

/* A hash of integers as a JSON object (caller owns it), or NULL with errstr. */
static json_t *hash_to_json(redisContext *c, const char *key, char *errstr, size_t errstr_size) {
    redisReply *r = array_reply(c, errstr, errstr_size, "HGETALL %s", key, 0);
    if (!r)
        return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        json_object_set_new(o, r->element[i]->str,
                            json_integer(strtoll(r->element[i + 1]->str, NULL, 10)));
    freeReplyObject(r);
    return o;
}

/* {"total": {...}, "minutes": [...]} (caller owns it), or NULL with errstr. */
static json_t *stats_redis(redisContext *c, const char *prefix, int minutes, char *errstr,
                           size_t errstr_size) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_AN_TOTAL, prefix);
    json_t *total = hash_to_json(c, key, errstr, errstr_size);
    snprintf(key, sizeof(key), SHOP_KEY_AN_MINUTES, prefix);
    redisReply *r =
        total ? array_reply(c, errstr, errstr_size, "ZRANGE %s -%d -1", key, minutes) : NULL;
    if (!r) {
        json_decref(total);
        return NULL;
    }
    json_t *out = json_pack("{so}", "total", total), *arr = json_array();
    for (size_t i = 0; i < r->elements && arr; i++) {
        char mk[256];
        snprintf(mk, sizeof(mk), SHOP_KEY_AN_MINUTE, prefix, r->element[i]->str);
        json_t *m = hash_to_json(c, mk, errstr, errstr_size);
        if (!m) {
            json_decref(arr);
            arr = NULL;
            break;
        }
        json_object_set_new(m, "minute", json_string(r->element[i]->str));
        json_array_append_new(arr, m);
    }
    freeReplyObject(r);
    if (!arr) {
        json_decref(out);
        return NULL;
    }
    json_object_set_new(out, "minutes", arr);
    return out;
}

/* Sums per currency from analytics_minute (caller owns it), or NULL with errstr. */
static json_t *stats_pg(PGconn *c, char *errstr, size_t errstr_size) {
    PGresult *r = PQexec(
        c, "SELECT currency, sum(orders), sum(revenue_minor), sum(items), sum(refunds), "
           "sum(refund_minor), count(*) FROM analytics_minute GROUP BY currency ORDER BY currency");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "postgresql: %s",
                    PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    json_t *out = json_object();
    static const char *names[] = {"orders",  "revenue_minor", "items",
                                  "refunds", "refund_minor",  "minutes"};
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_object();
        for (int f = 0; f < 6; f++)
            json_object_set_new(row, names[f],
                                json_integer(strtoll(PQgetvalue(r, i, f + 1), NULL, 10)));
        json_object_set_new(out, PQgetvalue(r, i, 0), row);
    }
    PQclear(r);
    return out;
}

/* `query stats --by`: one line per bucket, then the range's total. */
static void print_rollups(json_t *st) {
    const char *by = json_string_value(json_object_get(st, "by"));
    json_t *buckets = json_object_get(st, "buckets"), *b, *v;
    printf("PostgreSQL rollups per %s (event time, UTC), %zu buckets:\n", by,
           json_array_size(buckets));
    size_t i;
    const char *k;
    char t[40];
    json_array_foreach(buckets, i, b) {
        printf("  %s", shop_format_time_ms(json_integer_value(json_object_get(b, "bucket_ms")), t,
                                           sizeof(t)));
        json_object_foreach(b, k, v) if (strcmp(k, "bucket_ms"))
            printf(" %s=%lld", k, (long long)json_integer_value(v));
        printf("\n");
    }
    printf("  %-24s", "total");
    json_object_foreach(json_object_get(st, "total"), k, v)
        printf(" %s=%lld", k, (long long)json_integer_value(v));
    printf("\n");
}

/* `query stats --by/--from/--to`: the rollup query of the dashboard's /api/stats. */
static int query_rollups(const shop_config_t *cfg, const char *schema, const char *by,
                         const char *from, const char *to, int json_out) {
    char err[512];
    int64_t f = INT64_MIN, t = INT64_MAX;
    if ((from && shop_parse_time_ms(from, &f)) || (to && shop_parse_time_ms(to, &t))) {
        fprintf(stderr, "shopstream query: --from/--to: expected epoch ms or RFC 3339 "
                        "(2026-11-05T10:00:00Z)\n");
        return 2;
    }
    shop_pg_store_t *ps =
        shop_pg_store_new(shop_config_get(cfg, "pg.url"), schema, "-", 3000, err, sizeof(err));
    PGconn *pc = ps ? shop_pg_store_conn(ps, err, sizeof(err)) : NULL;
    json_t *out = NULL;
    int http = pc ? shop_an_stats_query(pc, by ? by : "minute", f, t, &out) : 503;
    int status = http == 200 ? 0 : http == 400 ? 2 : 1;
    if (http == 200 && json_out) {
        char *s = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
        printf("%s\n", s);
        free(s);
    } else if (http == 200) {
        print_rollups(out);
    } else {
        fprintf(stderr, "shopstream query: %s\n",
                out ? json_string_value(json_object_get(out, "error")) : err);
    }
    json_decref(out);
    shop_pg_store_destroy(ps);
    return status;
}

static void print_stats(json_t *redis, json_t *pg) {
    json_t *total = json_object_get(redis, "total");
    printf("Redis view %-22s orders=%lld items=%lld refunds=%lld\n",
           "(all time):", (long long)json_integer_value(json_object_get(total, "orders")),
           (long long)json_integer_value(json_object_get(total, "items")),
           (long long)json_integer_value(json_object_get(total, "refunds")));
    const char *k;
    json_t *v;
    json_object_foreach(total, k, v) if (!strncmp(k, "revenue:", 8))
        printf("  revenue %s %lld (minor units)\n", k + 8, (long long)json_integer_value(v));
    printf("PostgreSQL analytics_minute by currency:\n");
    json_object_foreach(pg, k, v) {
        printf("  %s orders=%lld revenue_minor=%lld items=%lld minutes=%lld\n", k,
               (long long)json_integer_value(json_object_get(v, "orders")),
               (long long)json_integer_value(json_object_get(v, "revenue_minor")),
               (long long)json_integer_value(json_object_get(v, "items")),
               (long long)json_integer_value(json_object_get(v, "minutes")));
    }
    printf("Last minutes (event time, UTC):\n");
    size_t i;
    json_array_foreach(json_object_get(redis, "minutes"), i, v) {
        printf("  %s orders=%-4lld refunds=%-3lld", json_string_value(json_object_get(v, "minute")),
               (long long)json_integer_value(json_object_get(v, "orders")),
               (long long)json_integer_value(json_object_get(v, "refunds")));
        json_object_foreach(v, k, total) if (!strncmp(k, "revenue:", 8))
            printf(" %s=%lld", k + 8, (long long)json_integer_value(total));
        printf("\n");
    }
}

int shop_cmd_query(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "correct"))
        return shop_cmd_correct(argc - 1, argv + 1);
    if (strcmp(what, "stats")) {
        fprintf(stderr,
                "usage: shopstream query stats [--namespace NAME] [--minutes N] [--json]\n"
                "       shopstream query stats [--by minute|hour|day] [--from T] [--to T] "
                "[--namespace NAME] [--json]\n"
                "         (PostgreSQL rollups per bucket in [from, to); T: epoch ms or RFC 3339)\n"
                "       shopstream query correct --dictionary FILE [TEXT]\n");
        return 2;
    }
    shop_config_t *cfg = shop_config_new(shop_runtime_conf);
    char err[512], prefix[128], schema[64];
    int json_out = 0, minutes = 10, status = 1;
    const char *ns = NULL, *by = NULL, *from = NULL, *to = NULL;
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err)))
        goto bad;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json_out = 1;
        else if (!strcmp(argv[i], "--namespace") && i + 1 < argc)
            ns = argv[++i];
        else if (!strcmp(argv[i], "--minutes") && i + 1 < argc)
            minutes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--by") && i + 1 < argc)
            by = argv[++i];
        else if (!strcmp(argv[i], "--from") && i + 1 < argc)
            from = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc)
            to = argv[++i];
        else {
            snprintf(err, sizeof(err), "unexpected argument \"%s\"", argv[i]);
            goto bad;
        }
    }
    if (shop_namespace(ns, prefix, sizeof(prefix), schema, sizeof(schema), err, sizeof(err)))
        goto bad;
    if (by || from || to) {
        status = query_rollups(cfg, schema, by, from, to, json_out);
        shop_config_destroy(cfg);
        return status;
    }
    shop_redis_store_t *rs =
        shop_redis_store_new(shop_config_get(cfg, "redis.url"), "-", 3000, err, sizeof(err));
    shop_pg_store_t *ps =
        shop_pg_store_new(shop_config_get(cfg, "pg.url"), schema, "-", 3000, err, sizeof(err));
    redisContext *rc = rs ? shop_redis_store_conn(rs, err, sizeof(err)) : NULL;
    PGconn *pc = rc ? shop_pg_store_conn(ps, err, sizeof(err)) : NULL;
    json_t *redis =
        rc && pc ? stats_redis(rc, prefix, minutes < 1 ? 1 : minutes, err, sizeof(err)) : NULL;
    json_t *pg = redis ? stats_pg(pc, err, sizeof(err)) : NULL;
    if (!pg)
        json_decref(redis);
    if (pg) {
        json_t *all = json_pack("{soso}", "redis", redis, "postgresql", pg);
        if (json_out) {
            char *s = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
            printf("%s\n", s);
            free(s);
        } else {
            print_stats(json_object_get(all, "redis"), json_object_get(all, "postgresql"));
        }
        json_decref(all);
        status = 0;
    }
    shop_redis_store_destroy(rs);
    shop_pg_store_destroy(ps);
    if (status)
        fprintf(stderr, "shopstream query: %s\n", err);
    shop_config_destroy(cfg);
    return status;
bad:
    fprintf(stderr, "shopstream query: %s\n", err);
    shop_config_destroy(cfg);
    return 2;
}
