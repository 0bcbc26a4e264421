/* emit.c: `shopstream emit`: JSON lines in, each validated against its schema, encoded and produced
 * to Kafka; bad lines are reported with their line number while the good ones still go. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "cli_producer.h"
#include "emit_int.h"

static const shop_conf_def_t emit_conf[] = {
    {"kafka.bootstrap.servers", SHOP_CONF_STRING, "127.0.0.1:19092",
     "Kafka brokers (the local stack's port)"},
    {"kafka.message.timeout.ms", SHOP_CONF_STRING, "60000",
     "give up delivering a message after this long"},
    {"kafka.linger.ms", SHOP_CONF_STRING, "100",
     "bulk loads: fuller batches, less broker CPU per event"},
    {"topic.prefix", SHOP_CONF_STRING, "",
     "prefix of every topic name (environments sharing a cluster)"},
    {"schema.registry.url", SHOP_CONF_STRING, NULL,
     "Confluent Schema Registry; when set, events use its framing"},
    {"emit.flush.timeout.ms", SHOP_CONF_INT, "120000",
     "wait this long at the end for outstanding deliveries"},
    {"emit.threads", SHOP_CONF_INT, "0", "parse-and-encode threads; 0: one per CPU, at most 8"},
    {NULL, SHOP_CONF_STRING, NULL, NULL},
};

static void usage(FILE *fp) {
    fprintf(
        fp,
        "usage: shopstream emit [FILE|-] [--dry-run] [--brokers HOST:PORT] [--registry URL]\n"
        "                       [--config FILE] [--set key=value]...\n"
        "Reads one flat JSON event per line (blank lines skipped), validates each against its\n"
        "schema and produces it keyed by user_id or product_id. Prints sent=N rejected=N failed=N\n"
        "(with --dry-run: valid=N rejected=N) and exits 1 if any line was rejected or failed.\n\n");
    shop_config_t *cfg = shop_config_new(emit_conf);
    shop_config_print(cfg, fp);
    shop_config_destroy(cfg);
}

void shop_emit_show_failure(shop_emit_run_t *run, uint64_t line, const char *what,
                            const char *err) {
    if (run->shown_failures++ >= SHOP_EMIT_SHOWN_FAILURES)
        return;
    fprintf(stderr, "line %" PRIu64 ": %s%s%s\n", line, what, err,
            run->shown_failures == SHOP_EMIT_SHOWN_FAILURES ? " (further failures not shown)" : "");
}

/* Delivery reports come back in this thread (from produce, poll and flush calls). */
static void on_report(const shop_producer_report_t *r, void *opaque) {
    if (r->err)
        shop_emit_show_failure(opaque, (uintptr_t)r->msg_opaque, "delivery failed: ", r->errstr);
}

/* Parses the command line into run and cfg; returns -1 to exit 0 (help), 1 on a usage error. */
static int parse_args(int argc, char **argv, shop_emit_run_t *run, shop_config_t *cfg) {
    char err[512];
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err))) {
        fprintf(stderr, "emit: %s\n", err);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *key = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--dry-run")) {
            run->dry_run = 1;
        } else if (!strcmp(a, "--brokers")) {
            key = "kafka.bootstrap.servers";
        } else if (!strcmp(a, "--registry")) {
            key = "schema.registry.url";
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "emit: unknown option %s\n", a);
            return 1;
        } else if (run->path) {
            fprintf(stderr, "emit: one input file at most\n");
            return 1;
        } else {
            run->path = a;
        }
        if (!key)
            continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "emit: %s needs a value\n", a);
            return 1;
        }
        if (shop_config_set(cfg, key, argv[++i], err, sizeof(err))) {
            fprintf(stderr, "emit: %s\n", err);
            return 1;
        }
    }
    return 0;
}

static shop_producer_t *make_producer(shop_config_t *cfg, shop_codec_t *codec,
                                      shop_emit_run_t *run) {
    char err[512];
    shop_producer_conf_t *pc = shop_cli_producer_conf(cfg, err, sizeof(err));
    shop_producer_t *p = NULL;
    if (pc) {
        shop_producer_conf_set_codec(pc, codec);
        shop_producer_conf_set_report_cb(pc, on_report, run);
        p = shop_producer_new(pc, err, sizeof(err));
        shop_producer_conf_destroy(pc);
    }
    if (!p)
        fprintf(stderr, "emit: %s\n", err);
    return p;
}

/* Waits for the deliveries and prints the counts; returns the exit status. */
static int finish(shop_emit_run_t *run, shop_producer_t *p, int64_t flush_ms, int stream_err) {
    if (!p) {
        printf("valid=%" PRIu64 " rejected=%" PRIu64 "\n", run->valid, run->rejected);
        return run->rejected || stream_err ? 1 : 0;
    }
    if (shop_producer_flush(p, (int)flush_ms))
        fprintf(stderr, "emit: deliveries still outstanding after %" PRId64 " ms\n", flush_ms);
    shop_producer_stats_t st;
    shop_producer_stats(p, &st);
    uint64_t failed = run->failed + st.failed + (uint64_t)(st.in_flight > 0 ? st.in_flight : 0);
    printf("sent=%" PRIu64 " rejected=%" PRIu64 " failed=%" PRIu64 "\n", st.delivered,
           run->rejected, failed);
    return run->rejected || failed || stream_err ? 1 : 0;
}

int shop_cmd_emit(int argc, char **argv) {
    shop_emit_run_t run = {0};
    shop_config_t *cfg = shop_config_new(emit_conf);
    int rc = parse_args(argc, argv, &run, cfg);
    if (rc) {
        shop_config_destroy(cfg);
        return rc < 0 ? 0 : 2;
    }
    FILE *in = run.path && strcmp(run.path, "-") ? fopen(run.path, "r") : stdin;
    if (!in) {
        fprintf(stderr, "emit: %s: %s\n", run.path, strerror(errno));
        shop_config_destroy(cfg);
        return 2;
    }
    char err[512];
    const char *reg = shop_config_get(cfg, "schema.registry.url");
    shop_codec_t *codec = shop_codec_new(run.dry_run ? NULL : reg, err, sizeof(err));
    shop_producer_t *p = NULL;
    rc = 2;
    if (!codec) {
        fprintf(stderr, "emit: %s\n", err);
    } else if (run.dry_run || (p = make_producer(cfg, codec, &run))) {
        shop_framing_t framing =
            reg && !run.dry_run ? SHOP_FRAMING_CONFLUENT : SHOP_FRAMING_SINGLE_OBJECT;
        int64_t threads = shop_config_get_int(cfg, "emit.threads");
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        run.threads = (int)(threads > 0 ? (threads > 64 ? 64 : threads)
                            : cpus > 0  ? (cpus > 8 ? 8 : cpus)
                                        : 1);
        int stream_err = shop_emit_pipeline(&run, in, codec, framing, p);
        rc = finish(&run, p, shop_config_get_int(cfg, "emit.flush.timeout.ms"), stream_err);
    }
    fflush(stdout);
    shop_producer_destroy(p);
    shop_codec_destroy(codec);
    if (in != stdin)
        fclose(in);
    shop_config_destroy(cfg);
    return rc;
}
