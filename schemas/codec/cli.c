/* cli.c: `shopstream schema fingerprint|list|show` and `shopstream decode` (files, stdin or a
 * Kafka partition range), printing one flat JSON event per line. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "shop_codec.h"

#define CLI_MAX_INPUT   (256u << 20)
#define CLI_MAX_SCHEMAS 256

static const shop_conf_def_t decode_conf[] = {
    {"schema.registry.url", SHOP_CONF_STRING, NULL,
     "Confluent Schema Registry URL, for messages framed 0x00 + schema id"},
    {"kafka.bootstrap.servers", SHOP_CONF_STRING, "127.0.0.1:19092", "Kafka brokers"},
    {NULL, SHOP_CONF_STRING, NULL, NULL},
};

/* Reads a whole file ("-" is stdin) into b. */
static int read_all(const char *path, shop_buf_t *b, char *errstr, size_t errstr_size) {
    FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!fp)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    int r = SHOP_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        if (b->len + n > CLI_MAX_INPUT) {
            r = shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: larger than %u bytes", path,
                            CLI_MAX_INPUT);
            break;
        }
        shop_buf_append(b, chunk, n);
    }
    if (!r && ferror(fp))
        r = shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: read error", path);
    if (fp != stdin)
        fclose(fp);
    return r;
}

/* ---- schema ---- */

static void schema_usage(FILE *fp) {
    fprintf(fp, "usage: shopstream schema fingerprint FILE.avsc   canonical form, then CRC-64-AVRO "
                "as a signed integer\n"
                "       shopstream schema list                    every compiled-in schema\n"
                "       shopstream schema show TOPIC [--version N] [--canonical]\n");
}

static int schema_fingerprint(const char *path) {
    char err[512];
    shop_buf_t b;
    shop_buf_init(&b);
    char *canonical = NULL;
    if (read_all(path, &b, err, sizeof(err))) {
        fprintf(stderr, "shopstream schema fingerprint: %s\n", err);
        shop_buf_release(&b);
        return 1;
    }
    int r = shop_schema_canonical(b.buf ? b.buf : "", &canonical, err, sizeof(err));
    shop_buf_release(&b);
    if (r) {
        fprintf(stderr, "shopstream schema fingerprint: %s: %s\n", path, err);
        return 1;
    }
    printf("%s\n%" PRId64 "\n", canonical, (int64_t)shop_crc64_avro(canonical, strlen(canonical)));
    free(canonical);
    return 0;
}

static int schema_list(shop_codec_t *codec) {
    const shop_schema_info_t *all[CLI_MAX_SCHEMAS];
    size_t n = shop_codec_schemas(codec, all, CLI_MAX_SCHEMAS);
    printf("%-24s %-28s %-7s %-21s %s\n", "TOPIC", "NAME", "VERSION", "FINGERPRINT", "CURRENT");
    for (size_t i = 0; i < n && i < CLI_MAX_SCHEMAS; i++)
        printf("%-24s %-28s %-7d %-21" PRId64 " %s\n", all[i]->topic ? all[i]->topic : "-",
               all[i]->name, all[i]->version, all[i]->fingerprint,
               all[i]->is_current ? "yes" : "no");
    return 0;
}

static int schema_show(shop_codec_t *codec, int argc, char **argv) {
    const char *topic = NULL;
    int version = -1, canonical = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--canonical"))
            canonical = 1;
        else if (!strcmp(argv[i], "--version") && i + 1 < argc)
            version = atoi(argv[++i]);
        else if (!topic && argv[i][0] != '-')
            topic = argv[i];
        else
            return schema_usage(stderr), 2;
    }
    if (!topic)
        return schema_usage(stderr), 2;
    const shop_schema_info_t *all[CLI_MAX_SCHEMAS], *found = NULL;
    size_t n = shop_codec_schemas(codec, all, CLI_MAX_SCHEMAS);
    for (size_t i = 0; i < n && i < CLI_MAX_SCHEMAS; i++) {
        if (!all[i]->topic || strcmp(all[i]->topic, topic))
            continue;
        if (version < 0 ? all[i]->is_current : all[i]->version == version)
            found = all[i];
    }
    if (!found) {
        fprintf(stderr, "shopstream schema show: no schema for topic %s%s\n", topic,
                version >= 0 ? " at that version" : "");
        return 1;
    }
    printf("%s\n", canonical ? found->canonical : found->json);
    return 0;
}

int shop_cmd_schema(int argc, char **argv) {
    if (argc < 2)
        return schema_usage(stderr), 2;
    const char *sub = argv[1];
    if (!strcmp(sub, "help") || !strcmp(sub, "--help") || !strcmp(sub, "-h"))
        return schema_usage(stdout), 0;
    if (!strcmp(sub, "fingerprint")) {
        if (argc != 3)
            return schema_usage(stderr), 2;
        return schema_fingerprint(argv[2]);
    }
    if (strcmp(sub, "list") && strcmp(sub, "show"))
        return schema_usage(stderr), 2;
    char err[512];
    shop_codec_t *codec = shop_codec_new(NULL, err, sizeof(err));
    if (!codec) {
        fprintf(stderr, "shopstream schema: %s\n", err);
        return 1;
    }
    int rc = !strcmp(sub, "list") ? schema_list(codec) : schema_show(codec, argc, argv);
    shop_codec_destroy(codec);
    return rc;
}

/* ---- decode ---- */

typedef struct {
    const char *input;
    const char *topic;
    const char *offset;
    const char *registry;
    const char *brokers;
    const char *schemas[32];
    int nschemas;
    int partition;
    long count;
    long timeout_ms;
    int length_prefixed;
    int meta;
} decode_opts_t;

typedef struct {
    shop_decoder_t *dec;
    long ok, failed;
} decode_run_t;

static void decode_usage(FILE *fp) {
    fprintf(
        fp,
        "usage: shopstream decode [options] [FILE|-]     one message per file (default: stdin)\n"
        "       shopstream decode --topic T [--offset O|beginning|end] [--count N] [--partition "
        "P]\n"
        "                         [--brokers B] [--timeout MS] [--meta]\n"
        "options:\n"
        "  --length-prefixed   the input is a stream of 4-byte big-endian length + message\n"
        "  --schema FILE.avsc  also know this (older) writer schema; repeatable\n"
        "  --registry URL      Confluent Schema Registry (schema.registry.url)\n"
        "  --meta              wrap each event with topic/partition/offset/key (or file/index)\n"
        "  --topic reads every partition (or just --partition P) from --offset (default\n"
        "  beginning) to the end, or until --count messages\n"
        "  --config FILE, --set key=value   configuration (kafka.* goes to librdkafka)\n");
}

static int parse_decode_args(int argc, char **argv, decode_opts_t *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--length-prefixed"))
            o->length_prefixed = 1;
        else if (!strcmp(a, "--meta"))
            o->meta = 1;
        else if (!strcmp(a, "--topic") && has)
            o->topic = argv[++i];
        else if (!strcmp(a, "--offset") && has)
            o->offset = argv[++i];
        else if (!strcmp(a, "--count") && has)
            o->count = atol(argv[++i]);
        else if (!strcmp(a, "--partition") && has)
            o->partition = atoi(argv[++i]);
        else if (!strcmp(a, "--brokers") && has)
            o->brokers = argv[++i];
        else if (!strcmp(a, "--registry") && has)
            o->registry = argv[++i];
        else if (!strcmp(a, "--timeout") && has)
            o->timeout_ms = atol(argv[++i]);
        else if (!strcmp(a, "--schema") && has && o->nschemas < 32)
            o->schemas[o->nschemas++] = argv[++i];
        else if ((a[0] != '-' || !strcmp(a, "-")) && !o->input)
            o->input = a;
        else
            return -1;
    }
    if (o->count <= 0 || o->partition < -1 || (o->topic && o->input))
        return -1;
    return 0;
}

static json_t *bytes_to_json_string(const void *p, size_t n) {
    json_t *j = p ? json_stringn(p, n) : json_null();
    if (j)
        return j;
    shop_buf_t b; /* not UTF-8: show it as hex */
    shop_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        shop_buf_printf(&b, "%02x", ((const unsigned char *)p)[i]);
    j = json_string(b.buf ? b.buf : "");
    shop_buf_release(&b);
    return j;
}

/* Decodes one message and prints it; `meta` (stolen) wraps it when not NULL. */
static void decode_one(decode_run_t *run, const void *buf, size_t len, json_t *meta,
                       const char *where) {
    const shop_event_t *ev;
    char err[512], q[600];
    int r = shop_decoder_decode(run->dec, buf, len, &ev, err, sizeof(err));
    if (r) {
        run->failed++;
        SHOP_ERROR("%s err=%s msg=%s", where, shop_err_name(r), shop_log_quote(q, sizeof(q), err));
        json_decref(meta);
        return;
    }
    json_t *out = shop_event_to_json(ev);
    if (meta) {
        json_object_set_new(meta, "value", out);
        out = meta;
    }
    char *line = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    if (line)
        printf("%s\n", line);
    free(line);
    json_decref(out);
    run->ok++;
}

static int decode_input(decode_run_t *run, const decode_opts_t *o) {
    char err[512], where[300];
    const char *path = o->input ? o->input : "-";
    shop_buf_t b;
    shop_buf_init(&b);
    if (read_all(path, &b, err, sizeof(err))) {
        fprintf(stderr, "shopstream decode: %s\n", err);
        return 1;
    }
    const unsigned char *p = (const unsigned char *)b.buf;
    size_t off = 0, index = 0;
    while (o->length_prefixed ? off < b.len : index == 0) {
        size_t n = b.len - off;
        if (o->length_prefixed) {
            if (b.len - off < 4) {
                fprintf(stderr, "shopstream decode: %s: truncated length prefix at byte %zu\n",
                        path, off);
                run->failed++;
                break;
            }
            n = ((size_t)p[off] << 24) | ((size_t)p[off + 1] << 16) | ((size_t)p[off + 2] << 8) |
                p[off + 3];
            off += 4;
            if (n > b.len - off) {
                fprintf(stderr, "shopstream decode: %s: message %zu needs %zu bytes, %zu left\n",
                        path, index, n, b.len - off);
                run->failed++;
                break;
            }
        }
        json_t *meta =
            o->meta ? json_pack("{sssI}", "file", path, "index", (json_int_t)index) : NULL;
        snprintf(where, sizeof(where), "file=%s index=%zu", path, index);
        decode_one(run, p ? p + off : (const unsigned char *)"", n, meta, where);
        off += n;
        index++;
    }
    shop_buf_release(&b);
    return 0;
}

/* A property librdkafka refuses is a typo to report, not to ignore: the first one is kept in
 * bad_property and the command stops. */
static char bad_property[512];

static void set_kafka(const char *key, const char *value, void *opaque) {
    char err[256];
    if (rd_kafka_conf_set(opaque, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK &&
        !bad_property[0])
        snprintf(bad_property, sizeof(bad_property), "kafka.%s: %s", key, err);
}

static int64_t parse_offset(const char *s) {
    if (!s || !strcmp(s, "beginning") || !strcmp(s, "earliest"))
        return RD_KAFKA_OFFSET_BEGINNING;
    if (!strcmp(s, "end") || !strcmp(s, "latest"))
        return RD_KAFKA_OFFSET_END;
    char *end;
    long long x = strtoll(s, &end, 10);
    return *end || x < 0 ? -1000 : x;
}

static rd_kafka_t *kafka_open(const decode_opts_t *o, const shop_config_t *cfg) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    shop_config_each_kafka(cfg, set_kafka, conf);
    if (o->brokers)
        set_kafka("bootstrap.servers", o->brokers, conf);
    set_kafka("group.id", "shopstream-decode", conf);
    set_kafka("enable.auto.commit", "false", conf);
    set_kafka("enable.auto.offset.store", "false", conf);
    set_kafka("enable.partition.eof", "true", conf);
    if (bad_property[0]) {
        fprintf(stderr, "shopstream decode: %s\n", bad_property);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "shopstream decode: kafka: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static int decode_kafka(decode_run_t *run, const decode_opts_t *o, const shop_config_t *cfg) {
    int64_t offset = parse_offset(o->offset);
    if (offset == -1000) {
        fprintf(stderr, "shopstream decode: bad --offset %s\n", o->offset);
        return 2;
    }
    rd_kafka_t *rk = kafka_open(o, cfg);
    if (!rk)
        return 1;
    /* Every partition unless --partition names one, like kcat. */
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(8);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (o->partition >= 0) {
        rd_kafka_topic_partition_list_add(tp, o->topic, o->partition)->offset = offset;
    } else {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
        e = rd_kafka_metadata(rk, 0, rkt, &md, (int)o->timeout_ms);
        if (!e && md->topic_cnt == 1)
            e = md->topics[0].err;
        for (int i = 0; !e && i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(tp, o->topic, md->topics[0].partitions[i].id)
                ->offset = offset;
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    int eofs_left = tp->cnt;
    if (!e)
        e = rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    int rc = 0;
    long seen = 0;
    int64_t deadline = shop_mono_us() + o->timeout_ms * 1000;
    while (!e && seen < o->count) {
        if (shop_mono_us() > deadline) {
            fprintf(stderr, "shopstream decode: timed out after %ld of %ld messages\n", seen,
                    o->count);
            rc = 1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            if (--eofs_left <= 0)
                break;
            continue;
        }
        if (m->err) {
            fprintf(stderr, "shopstream decode: kafka: %s\n", rd_kafka_message_errstr(m));
            e = m->err;
            rd_kafka_message_destroy(m);
            break;
        }
        char where[300];
        snprintf(where, sizeof(where), "topic=%s partition=%d offset=%" PRId64, o->topic,
                 (int)m->partition, (int64_t)m->offset);
        json_t *meta = NULL;
        if (o->meta) {
            meta = json_pack("{sssisI}", "topic", o->topic, "partition", (int)m->partition,
                             "offset", (json_int_t)m->offset);
            json_object_set_new(meta, "key", bytes_to_json_string(m->key, m->key_len));
        }
        decode_one(run, m->payload, m->len, meta, where);
        seen++;
        rd_kafka_message_destroy(m);
    }
    if (e) {
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            fprintf(stderr, "shopstream decode: kafka: %s\n", rd_kafka_err2str(e));
        rc = 1;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

static int add_schema_files(shop_codec_t *codec, const decode_opts_t *o) {
    for (int i = 0; i < o->nschemas; i++) {
        char err[512];
        shop_buf_t b;
        shop_buf_init(&b);
        int r = read_all(o->schemas[i], &b, err, sizeof(err));
        if (!r)
            r = shop_codec_add_schema(codec, b.buf ? b.buf : "", err, sizeof(err));
        shop_buf_release(&b);
        if (r) {
            fprintf(stderr, "shopstream decode: --schema %s: %s\n", o->schemas[i], err);
            return 1;
        }
    }
    return 0;
}

int shop_cmd_decode(int argc, char **argv) {
    char err[512];
    decode_opts_t o = {.count = LONG_MAX, .partition = -1, .timeout_ms = 10000};
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return decode_usage(stdout), 0;
    shop_config_t *cfg = shop_config_new(decode_conf);
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err))) {
        fprintf(stderr, "shopstream decode: %s\n", err);
        shop_config_destroy(cfg);
        return 2;
    }
    if (parse_decode_args(argc, argv, &o)) {
        decode_usage(stderr);
        shop_config_destroy(cfg);
        return 2;
    }
    const char *registry = o.registry ? o.registry : shop_config_get(cfg, "schema.registry.url");
    shop_codec_t *codec = shop_codec_new(registry, err, sizeof(err));
    int rc = 1;
    if (!codec)
        fprintf(stderr, "shopstream decode: %s\n", err);
    else if (!(rc = add_schema_files(codec, &o))) {
        decode_run_t run = {shop_decoder_new(codec), 0, 0};
        rc = o.topic ? decode_kafka(&run, &o, cfg) : decode_input(&run, &o);
        fflush(stdout);
        if (!rc && run.failed)
            rc = 1;
        shop_decoder_destroy(run.dec);
    }
    shop_codec_destroy(codec);
    shop_config_destroy(cfg);
    return rc;
}
