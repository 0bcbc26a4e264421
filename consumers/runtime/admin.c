/* admin.c: `shopstream topics` (create and list the contract's topics with librdkafka's admin API)
 * and `shopstream migrate` (apply the embedded SQL migrations to a schema). */
#define _GNU_SOURCE
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "embedded.h"
#include "runtime.h"

/* Every topic of the contracts, plus each one's dead-letter topic. */
static const char *const base_topics[] = {
    "shop.user.events",      "shop.order.events",   "shop.search.events",
    "shop.inventory.events", "shop.catalog.events", "shop.fraud.scores",
    "shop.notifications",    "shop.flags",          NULL};

static const char *brokers_default(void) {
    const char *b = getenv("SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS");
    return b && *b ? b : "127.0.0.1:19092";
}

static rd_kafka_t *admin_client(const char *brokers) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err))) {
        fprintf(stderr, "shopstream topics: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "shopstream topics: %s\n", err);
    return rk;
}

static int create_topics(rd_kafka_t *rk, const char *prefix, int partitions, int replication,
                         const char *retention_ms) {
    int n = 0;
    rd_kafka_NewTopic_t *nt[64];
    char err[512];
    for (int i = 0; base_topics[i]; i++)
        for (int dlq = 0; dlq < 2; dlq++) {
            char name[256];
            snprintf(name, sizeof(name), "%s%s%s", prefix, base_topics[i], dlq ? ".dlq" : "");
            nt[n] = rd_kafka_NewTopic_new(name, partitions, replication, err, sizeof(err));
            if (!nt[n]) {
                fprintf(stderr, "shopstream topics: %s: %s\n", name, err);
                return 1;
            }
            /* Message timestamps are event times (occurred_at), so time-based retention
             * measures event age: replayed history would be deleted at once. */
            if (retention_ms && rd_kafka_NewTopic_set_config(nt[n], "retention.ms", retention_ms)) {
                fprintf(stderr, "shopstream topics: %s: cannot set retention.ms\n", name);
                return 1;
            }
            n++;
        }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, (size_t)n, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 0;
    if (!ev || rd_kafka_event_error(ev)) {
        fprintf(stderr, "shopstream topics: create failed: %s\n",
                ev ? rd_kafka_event_error_string(ev) : "timed out");
        rc = 1;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        int created = 0, existed = 0;
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (!e)
                created++;
            else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                existed++;
            else {
                fprintf(stderr, "shopstream topics: %s: %s\n", rd_kafka_topic_result_name(res[i]),
                        rd_kafka_topic_result_error_string(res[i]));
                rc = 1;
            }
        }
        printf("topics created=%d existing=%d partitions=%d\n", created, existed, partitions);
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    for (int i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    return rc;
}

static int list_topics(rd_kafka_t *rk) {
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e) {
        fprintf(stderr, "shopstream topics: metadata: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        const char *name = md->topics[i].topic;
        if (name[0] == '_')
            continue;
        int64_t total = 0;
        for (int p = 0; p < md->topics[i].partition_cnt; p++) {
            int64_t lo = 0, hi = 0;
            if (!rd_kafka_query_watermark_offsets(rk, name, md->topics[i].partitions[p].id, &lo,
                                                  &hi, 5000))
                total += hi - lo;
        }
        printf("%-28s partitions=%d messages=%lld\n", name, md->topics[i].partition_cnt,
               (long long)total);
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* Deletes every topic whose name starts with `prefix` (never the unprefixed contract topics:
 * an empty prefix is refused). */
static int delete_topics(rd_kafka_t *rk, const char *prefix) {
    if (!*prefix) {
        fprintf(stderr, "shopstream topics: delete needs --prefix (the live topics are never "
                        "deleted by this command)\n");
        return 2;
    }
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e) {
        fprintf(stderr, "shopstream topics: metadata: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    rd_kafka_DeleteTopic_t **dt = shop_xcalloc((size_t)md->topic_cnt + 1, sizeof(*dt));
    size_t n = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strncmp(md->topics[i].topic, prefix, strlen(prefix)))
            dt[n++] = rd_kafka_DeleteTopic_new(md->topics[i].topic);
    rd_kafka_metadata_destroy(md);
    int rc = 0;
    if (n) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_DeleteTopics(rk, dt, n, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
        if (!ev || rd_kafka_event_error(ev)) {
            fprintf(stderr, "shopstream topics: delete failed: %s\n",
                    ev ? rd_kafka_event_error_string(ev) : "timed out");
            rc = 1;
        } else {
            size_t cnt;
            const rd_kafka_topic_result_t **res =
                rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
            for (size_t i = 0; i < cnt; i++)
                if (rd_kafka_topic_result_error(res[i])) {
                    fprintf(stderr, "shopstream topics: %s: %s\n",
                            rd_kafka_topic_result_name(res[i]),
                            rd_kafka_topic_result_error_string(res[i]));
                    rc = 1;
                }
        }
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        for (size_t i = 0; i < n; i++)
            rd_kafka_DeleteTopic_destroy(dt[i]);
    }
    free(dt);
    if (!rc)
        printf("topics deleted=%zu prefix=%s\n", n, prefix);
    return rc;
}

int shop_cmd_topics(int argc, char **argv) {
    const char *brokers = brokers_default();
    const char *prefix = "", *retention = "-1";
    int partitions = 6, replication = 1, c;
    static const struct option opts[] = {{"brokers", required_argument, 0, 'b'},
                                         {"partitions", required_argument, 0, 'p'},
                                         {"replication", required_argument, 0, 'r'},
                                         {"prefix", required_argument, 0, 'x'},
                                         {"retention-ms", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:p:r:x:t:h", opts, NULL)) != -1) {
        if (c == 'b')
            brokers = optarg;
        else if (c == 'p')
            partitions = atoi(optarg);
        else if (c == 'r')
            replication = atoi(optarg);
        else if (c == 'x')
            prefix = optarg;
        else if (c == 't')
            retention = optarg;
        else {
            fprintf(stderr,
                    "usage: shopstream topics create|list|delete [--brokers B] [--partitions N] "
                    "[--replication R] [--prefix P]\n"
                    "       (delete removes every topic named with --prefix P; P is required)\n"
                    "       [--retention-ms MS (default -1: keep; timestamps are event times)]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    const char *verb = optind < argc ? argv[optind] : "list";
    if (partitions < 1)
        partitions = 1;
    rd_kafka_t *rk = admin_client(brokers);
    if (!rk)
        return 1;
    int rc = !strcmp(verb, "create") ? create_topics(rk, prefix, partitions, replication, retention)
             : !strcmp(verb, "list") ? list_topics(rk)
             : !strcmp(verb, "delete")
                 ? delete_topics(rk, prefix)
                 : (fprintf(stderr, "shopstream topics: unknown verb %s\n", verb), 2);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- migrations ---- */

static int exec_ok(PGconn *c, const char *sql, char *errstr, size_t errstr_size) {
    PGresult *r = PQexec(c, sql);
    int st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        shop_seterr(errstr, errstr_size, 0, "postgresql: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? SHOP_OK : SHOP_ERR_RETRYABLE;
}

int shop_migrate(PGconn *c, const char *schema, int verbose, char *errstr, size_t errstr_size) {
    char *q = PQescapeIdentifier(c, schema, strlen(schema));
    char sql[512];
    int rc;
    /* One advisory lock for every migrator, so concurrent workers apply each file once. */
    if ((rc = exec_ok(c, "SELECT pg_advisory_lock(7265646)", errstr, errstr_size)))
        goto out;
    snprintf(sql, sizeof(sql),
             "CREATE SCHEMA IF NOT EXISTS %s; SET search_path TO %s; "
             "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
             "applied_at timestamptz NOT NULL DEFAULT now())",
             q, q);
    if ((rc = exec_ok(c, sql, errstr, errstr_size)))
        goto unlock;
    for (const shop_embedded_file_t *f = shop_embedded_sql; f->name && !rc; f++) {
        const char *params[1] = {f->name};
        PGresult *r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
                                   params, NULL, NULL, 0);
        int have = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
        PQclear(r);
        if (have)
            continue;
        if ((rc = exec_ok(c, "BEGIN", errstr, errstr_size)))
            break;
        rc = exec_ok(c, f->text, errstr, errstr_size);
        if (!rc) {
            r = PQexecParams(c, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, NULL,
                             params, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "postgresql: %s",
                                 PQresultErrorMessage(r));
            PQclear(r);
        }
        if (!rc)
            rc = exec_ok(c, "COMMIT", errstr, errstr_size);
        if (rc) {
            char keep[512];
            snprintf(keep, sizeof(keep), "migration %s: %s", f->name, errstr);
            snprintf(errstr, errstr_size, "%s", keep);
            exec_ok(c, "ROLLBACK", NULL, 0);
        } else if (verbose) {
            printf("applied %s to schema %s\n", f->name, schema);
        }
    }
unlock:
    exec_ok(c, "SELECT pg_advisory_unlock(7265646)", NULL, 0);
out:
    PQfreemem(q);
    return rc;
}

static void quiet_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

int shop_cmd_migrate(int argc, char **argv) {
    const char *url = getenv("SHOPSTREAM_PG_URL");
    if (!url || !*url)
        url = "postgresql://shopstream@127.0.0.1:15432/shopstream";
    const char *ns = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pg") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "--namespace") && i + 1 < argc)
            ns = argv[++i];
        else {
            fprintf(stderr, "usage: shopstream migrate [--pg URL] [--namespace NAME]\n");
            return 2;
        }
    }
    char rp[128], schema[64], err[1024];
    if (shop_namespace(ns, rp, sizeof(rp), schema, sizeof(schema), err, sizeof(err))) {
        fprintf(stderr, "shopstream migrate: %s\n", err);
        return 2;
    }
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "shopstream migrate: %s", PQerrorMessage(c));
        PQfinish(c);
        return 1;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    int rc = shop_migrate(c, schema, 1, err, sizeof(err));
    if (rc)
        fprintf(stderr, "shopstream migrate: %s\n", err);
    else
        printf("schema %s is up to date\n", schema);
    PQfinish(c);
    return rc ? 1 : 0;
}
