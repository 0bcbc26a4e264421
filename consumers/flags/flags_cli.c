/* flags_cli.c: `shopstream flags set|get|list|delete`: writes a flag to PostgreSQL and publishes
 * the change as a flag.changed event on shop.flags (Avro, schemas/avro/flags.avsc). */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flag_store.h"
#include "runtime.h"
#include "shop_codec.h"

static void usage(void) {
    fprintf(stderr,
            "usage: shopstream flags set NAME [--enable|--disable] [--rollout PCT]\n"
            "                            [--variants name:weight,...] [--json FEATURE]\n"
            "       shopstream flags get NAME\n"
            "       shopstream flags list\n"
            "       shopstream flags delete NAME\n"
            "  common: [--namespace NAME] [--no-publish] [--config FILE] [--set key=value]\n"
            "  set writes the flag (an Unleash client-API feature) to PostgreSQL and publishes it\n"
            "  on <topic.prefix>shop.flags; workers reload their cached flags when it changes.\n");
}

/* Publishes one flag.changed event; 0 or an error with errstr. */
static int publish(const shop_config_t *cfg, const char *name, int64_t version,
                   const json_t *feature, char *errstr, size_t errstr_size) {
    shop_codec_t *codec = shop_codec_new(NULL, errstr, errstr_size); /* embeds flags.avsc */
    if (!codec)
        return SHOP_ERR_FATAL;
    char *def = feature ? json_dumps(feature, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *who = getenv("USER");
    json_t *ev = json_pack("{sssssIsbsoso}", "type", "flag.changed", "flag", name, "version",
                           (json_int_t)version, "deleted", feature == NULL, "definition",
                           def ? json_string(def) : json_null(), "updated_by",
                           who ? json_string(who) : json_null());
    json_object_set_new(ev, "occurred_at", json_integer(shop_now_ms()));
    free(def);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    int rc =
        shop_codec_encode_json(codec, ev, SHOP_FRAMING_SINGLE_OBJECT, &enc, errstr, errstr_size);
    json_decref(ev);
    rd_kafka_t *rk = NULL;
    if (!rc) {
        char err[512];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        const char *bs = shop_config_get(cfg, "kafka.bootstrap.servers");
        if (rd_kafka_conf_set(kc, "bootstrap.servers", bs, err, sizeof(err)) ||
            rd_kafka_conf_set(kc, "enable.idempotence", "true", err, sizeof(err)) ||
            rd_kafka_conf_set(kc, "partitioner", "murmur2_random", err, sizeof(err)) ||
            !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err)))) {
            if (!rk)
                rd_kafka_conf_destroy(kc);
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "kafka: %s", err);
        }
    }
    if (!rc) {
        const char *tp = shop_config_get(cfg, "topic.prefix");
        char topic[256];
        snprintf(topic, sizeof(topic), "%sshop.flags", tp ? tp : "");
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(enc.key, strlen(enc.key)),
                              RD_KAFKA_V_VALUE(enc.bytes.buf, enc.bytes.len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_TIMESTAMP(enc.occurred_at), RD_KAFKA_V_END);
        if (!e && rd_kafka_flush(rk, 10000))
            e = RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (!e && rd_kafka_outq_len(rk) > 0)
            e = RD_KAFKA_RESP_ERR__MSG_TIMED_OUT;
        if (e)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "kafka produce %s: %s", topic,
                             rd_kafka_err2str(e));
    }
    if (rk)
        rd_kafka_destroy(rk);
    shop_encoded_release(&enc);
    shop_codec_destroy(codec);
    return rc;
}

typedef struct {
    const char *verb, *name, *ns, *variants, *json;
    int enabled, rollout, publish, json_out;
} flags_args_t;

static int parse(flags_args_t *a, int argc, char **argv) {
    *a = (flags_args_t){.verb = argv[1], .enabled = 1, .rollout = -1, .publish = 1};
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--enable"))
            a->enabled = 1;
        else if (!strcmp(s, "--disable"))
            a->enabled = 0;
        else if (!strcmp(s, "--no-publish"))
            a->publish = 0;
        else if (!strcmp(s, "--json") && v && i++)
            a->json = v;
        else if (!strcmp(s, "--rollout") && v && i++)
            a->rollout = atoi(v);
        else if (!strcmp(s, "--variants") && v && i++)
            a->variants = v;
        else if (!strcmp(s, "--namespace") && v && i++)
            a->ns = v;
        else if (s[0] != '-' && !a->name)
            a->name = s;
        else
            return -1;
    }
    int named = strcmp(a->verb, "list") != 0;
    return (!named || a->name) && (named || !a->name) ? 0 : -1;
}

static int do_set(PGconn *c, const char *schema, const shop_config_t *cfg, const flags_args_t *a,
                  char *err, size_t errsize) {
    json_t *f = NULL;
    if (a->json) {
        json_error_t je;
        f = json_loads(a->json, 0, &je);
        if (!f || !json_is_object(f)) {
            json_decref(f);
            return shop_seterr(err, errsize, SHOP_ERR_INVALID, "--json: %s", je.text);
        }
        json_object_set_new(f, "name", json_string(a->name));
    } else if (!(f = shop_flag_feature_build(a->name, a->enabled, a->rollout, a->variants, err,
                                             errsize))) {
        return SHOP_ERR_INVALID;
    }
    int64_t version = 0;
    const char *who = getenv("USER");
    int rc = shop_flag_store_put(c, schema, f, who ? who : "cli", &version, err, errsize);
    if (!rc && a->publish)
        rc = publish(cfg, a->name, version, f, err, errsize);
    if (!rc)
        printf("flag %s version %lld%s\n", a->name, (long long)version,
               a->publish ? " (published)" : "");
    json_decref(f);
    return rc;
}

static int do_list(PGconn *c, const char *schema, char *err, size_t errsize) {
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT name, version, definition::text FROM \"%s\".flags ORDER BY name", schema);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = shop_seterr(err, errsize, SHOP_ERR_RETRYABLE, "postgresql: %s",
                             PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s\tv%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    PQclear(r);
    return SHOP_OK;
}

static void quiet(void *arg, const char *msg) {
    (void)arg, (void)msg; /* NOTICEs of the idempotent migrations */
}

int shop_cmd_flags(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    shop_conf_def_t *table = shop_runtime_conf_table(NULL);
    shop_config_t *cfg = shop_config_new(table);
    char err[512] = "", prefix[128], schema[64];
    flags_args_t a;
    int rc = SHOP_ERR_INVALID, status = 2;
    PGconn *c = NULL;
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err)) || parse(&a, argc, argv) ||
        (strcmp(a.verb, "set") && strcmp(a.verb, "get") && strcmp(a.verb, "list") &&
         strcmp(a.verb, "delete"))) {
        if (!*err)
            snprintf(err, sizeof(err), "bad arguments");
        goto out;
    }
    if (shop_namespace(a.ns, prefix, sizeof(prefix), schema, sizeof(schema), err, sizeof(err)))
        goto out;
    status = 1;
    c = PQconnectdb(shop_config_get(cfg, "pg.url"));
    PQsetNoticeProcessor(c, quiet, NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, sizeof(err), "postgresql: %s", PQerrorMessage(c));
        goto out;
    }
    if ((rc = shop_migrate(c, schema, 0, err, sizeof(err))))
        goto out;
    if (!strcmp(a.verb, "set")) {
        rc = do_set(c, schema, cfg, &a, err, sizeof(err));
    } else if (!strcmp(a.verb, "get")) {
        json_t *f = shop_flag_store_get(c, schema, a.name, err, sizeof(err));
        rc = f ? SHOP_OK : SHOP_ERR_NOTFOUND;
        if (f) {
            char *t = json_dumps(f, JSON_INDENT(2) | JSON_SORT_KEYS);
            printf("%s\n", t);
            free(t);
            json_decref(f);
        }
    } else if (!strcmp(a.verb, "list")) {
        rc = do_list(c, schema, err, sizeof(err));
    } else {
        int64_t version = 0;
        rc = shop_flag_store_delete(c, schema, a.name, &version, err, sizeof(err));
        if (!rc && a.publish)
            rc = publish(cfg, a.name, version, NULL, err, sizeof(err));
        if (!rc)
            printf("flag %s deleted (version %lld)\n", a.name, (long long)version);
    }
    status = rc ? 1 : 0;
out:
    if (status)
        fprintf(stderr, "shopstream flags %s: %s\n", argc > 1 ? argv[1] : "", err);
    if (status == 2)
        usage();
    if (c)
        PQfinish(c);
    shop_config_destroy(cfg);
    free(table);
    return status;
}
