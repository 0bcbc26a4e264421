/* generate.c: `shopstream generate`: a seeded, deterministic shop stream (or the UCI Online Retail
 * orders) as flat JSON lines to a file or stdout, or produced straight to Kafka. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "config.h"
#include "cli_producer.h"
#include "generate.h"
#include "shop_producer.h"

#define FLUSH_AT     (1u << 20)
#define MAX_PAUSE_US 1000000

static const shop_conf_def_t generate_conf[] = {
    {"kafka.bootstrap.servers", SHOP_CONF_STRING, "127.0.0.1:19092",
     "Kafka brokers, with --produce"},
    {"kafka.message.timeout.ms", SHOP_CONF_STRING, "60000",
     "give up delivering a message after this long"},
    {"kafka.linger.ms", SHOP_CONF_STRING, "100",
     "bulk loads: fuller batches, less broker CPU per event"},
    {"topic.prefix", SHOP_CONF_STRING, "",
     "prefix of every topic name (environments sharing a cluster)"},
    {"schema.registry.url", SHOP_CONF_STRING, NULL, "Confluent Schema Registry, with --produce"},
    {NULL, SHOP_CONF_STRING, NULL, NULL},
};

typedef struct {
    shop_gen_conf_t gen;
    int events_set, produce, realtime;
    const char *out, *retail;
    shop_producer_t *producer;
    FILE *fp;
    uint64_t counts[SHOP_EV__COUNT], bad_lines, failed_lines;
    int64_t first_ms, last_ms, skipped_us;
} gen_run_t;

static void usage(FILE *fp) {
    fprintf(fp, "usage: shopstream generate [--events N] [--seed S] [--start TIME] [--rate EPS] "
                "[--users U]\n"
                "                           [--products P] [--fraud-rate F] [--out FILE] "
                "[--produce [--realtime]]\n"
                "                           [--from-retail DIR] [--brokers B] [--registry URL] "
                "[--set k=v]\n"
                "Writes a seeded shop stream as flat JSON lines (same arguments, same bytes):\n"
                "  --events N       lines to write (default 100000; with --from-retail: all)\n"
                "  --seed S         PRNG seed (default 1); event ids derive from it\n"
                "  --start TIME     simulated clock start, RFC 3339 or epoch ms (default "
                "2026-11-01T00:00:00Z)\n"
                "  --rate EPS       mean events per simulated second (default 200)\n"
                "  --users U        customers (default 20000)     --products P  catalog size "
                "(default 2000)\n"
                "  --fraud-rate F   share of sessions that are fraud actors (default 0.005)\n"
                "  --out FILE       write there instead of stdout\n"
                "  --produce        produce to Kafka instead of writing; --realtime paces to the "
                "wall clock\n"
                "                   (pauses longer than a second are skipped)\n"
                "  --from-retail DIR  replay the UCI Online Retail CSVs in DIR as order events "
                "instead\n\n");
    shop_config_t *cfg = shop_config_new(generate_conf);
    shop_config_print(cfg, fp);
    shop_config_destroy(cfg);
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "generate: %s: expected a number in [%g, %g], got \"%s\"\n", opt, lo, hi,
                v);
        return 1;
    }
    *out = x;
    return 0;
}

/* One option with a value; returns 0, or 1 on a bad value. */
static int parse_opt(gen_run_t *run, shop_config_t *cfg, const char *a, const char *v) {
    double x;
    char err[512];
    if (!strcmp(a, "--events")) {
        if (parse_num(a, v, 0, 1e12, &x))
            return 1;
        run->gen.events = (uint64_t)x, run->events_set = 1;
    } else if (!strcmp(a, "--seed")) {
        char *end;
        errno = 0;
        run->gen.seed = strtoull(v, &end, 0);
        if (errno || end == v || *end)
            return fprintf(stderr, "generate: --seed: bad number \"%s\"\n", v), 1;
    } else if (!strcmp(a, "--start")) {
        if (shop_parse_time_ms(v, &run->gen.start_ms))
            return fprintf(stderr, "generate: --start: cannot parse time \"%s\"\n", v), 1;
    } else if (!strcmp(a, "--rate")) {
        if (parse_num(a, v, 1e-6, 1e9, &run->gen.rate))
            return 1;
    } else if (!strcmp(a, "--users")) {
        if (parse_num(a, v, 1, 5e7, &x))
            return 1;
        run->gen.users = (uint32_t)x;
    } else if (!strcmp(a, "--products")) {
        if (parse_num(a, v, 1, 1e7, &x))
            return 1;
        run->gen.products = (uint32_t)x;
    } else if (!strcmp(a, "--fraud-rate")) {
        if (parse_num(a, v, 0, 1, &run->gen.fraud_rate))
            return 1;
    } else if (!strcmp(a, "--out")) {
        run->out = v;
    } else if (!strcmp(a, "--from-retail")) {
        run->retail = v;
    } else if (!strcmp(a, "--brokers") || !strcmp(a, "--registry")) {
        const char *key = a[2] == 'b' ? "kafka.bootstrap.servers" : "schema.registry.url";
        if (shop_config_set(cfg, key, v, err, sizeof(err)))
            return fprintf(stderr, "generate: %s\n", err), 1;
    } else {
        fprintf(stderr, "generate: unknown option %s\n", a);
        return 1;
    }
    return 0;
}

/* Returns 0, -1 for --help, 1 on a usage error. */
static int parse_args(int argc, char **argv, gen_run_t *run, shop_config_t *cfg) {
    char err[512];
    if (shop_config_from_args(cfg, &argc, argv, err, sizeof(err)))
        return fprintf(stderr, "generate: %s\n", err), 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--produce")) {
            run->produce = 1;
        } else if (!strcmp(a, "--realtime")) {
            run->realtime = 1;
        } else if (i + 1 >= argc) {
            return fprintf(stderr, "generate: %s needs a value (or is unknown)\n", a), 1;
        } else if (parse_opt(run, cfg, a, argv[++i])) {
            return 1;
        }
    }
    if (run->produce && run->out)
        return fprintf(stderr, "generate: --out and --produce exclude each other\n"), 1;
    return 0;
}

static int open_sink(gen_run_t *run, shop_config_t *cfg) {
    if (!run->produce) {
        run->fp = run->out ? fopen(run->out, "w") : stdout;
        if (!run->fp)
            return fprintf(stderr, "generate: %s: %s\n", run->out, strerror(errno)), 1;
        return 0;
    }
    char err[512];
    shop_producer_conf_t *pc = shop_cli_producer_conf(cfg, err, sizeof(err));
    if (!pc)
        return fprintf(stderr, "generate: %s\n", err), 1;
    run->producer = shop_producer_new(pc, err, sizeof(err));
    shop_producer_conf_destroy(pc);
    if (!run->producer)
        return fprintf(stderr, "generate: %s\n", err), 1;
    return 0;
}

/* Sleeps until the wall clock has caught up with simulated time. A quiet stretch longer than a
 * second (like the tail of shipments and chargebacks hours and days later) is skipped. */
static void pace(gen_run_t *run, int64_t at_ms, int64_t wall_start_us) {
    int64_t due_us = wall_start_us + (at_ms - run->first_ms) * 1000 - run->skipped_us;
    int64_t now = shop_mono_us();
    if (due_us - now > MAX_PAUSE_US) {
        run->skipped_us += due_us - now;
        due_us = now;
    }
    if (due_us > now + 1000) {
        struct timespec ts = {(time_t)((due_us - now) / 1000000),
                              (long)((due_us - now) % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Hands the buffered lines to the sink; returns 0 or 1 on a write error. */
static int drain(gen_run_t *run, shop_buf_t *buf) {
    if (!run->producer) {
        int bad = buf->len && fwrite(buf->buf, 1, buf->len, run->fp) != buf->len;
        shop_buf_reset(buf);
        return bad ? (fprintf(stderr, "generate: write: %s\n", strerror(errno)), 1) : 0;
    }
    char err[1024];
    for (char *s = buf->buf, *end = buf->buf + buf->len; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        int r = shop_producer_emit_json_text(run->producer, s, n, err, sizeof(err));
        /* Invalid: a generator bug (rejected); anything else failed, and fatal stops. */
        uint64_t *count = r == SHOP_ERR_INVALID ? &run->bad_lines : &run->failed_lines;
        if (r && (*count)++ < 10)
            fprintf(stderr, "generate: %s\n", err);
        if (r == SHOP_ERR_FATAL) {
            shop_buf_reset(buf);
            return 1;
        }
        s += n + 1;
    }
    shop_buf_reset(buf);
    return 0;
}

static int run_loop(gen_run_t *run, shop_gen_t *g, shop_retail_t *rt) {
    shop_buf_t buf;
    shop_buf_init(&buf);
    int64_t wall0 = shop_mono_us(), at = 0;
    shop_event_kind_t kind = SHOP_EV_UNKNOWN;
    char err[512];
    int r = 0, more;
    uint64_t n = 0, limit = rt && !run->events_set ? UINT64_MAX : run->gen.events;
    while (n < limit) {
        more = g ? shop_gen_next(g, &buf, &kind, &at)
                 : shop_retail_next(rt, &buf, &kind, &at, err, sizeof(err));
        if (more < 0) {
            fprintf(stderr, "generate: %s\n", err);
            r = 1;
            break;
        }
        if (!more)
            break;
        if (!n++)
            run->first_ms = at;
        run->last_ms = at;
        run->counts[kind < SHOP_EV__COUNT ? kind : 0]++;
        if (run->realtime && run->producer) {
            if ((r = drain(run, &buf)))
                break;
            pace(run, at, wall0);
        } else if (buf.len >= FLUSH_AT && (r = drain(run, &buf))) {
            break;
        }
    }
    if (!r)
        r = drain(run, &buf);
    shop_buf_release(&buf);
    return r;
}

static void summary(const gen_run_t *run, shop_gen_t *g, shop_retail_t *rt, double secs) {
    uint64_t total = 0;
    char a[40], b[40];
    for (int k = 0; k < SHOP_EV__COUNT; k++)
        total += run->counts[k];
    fprintf(stderr, "generate: %" PRIu64 " events in %.3f s (%.0f events/s)", total, secs,
            secs > 0 ? (double)total / secs : 0.0);
    if (total)
        fprintf(stderr, ", occurred_at %s .. %s", shop_format_time_ms(run->first_ms, a, sizeof(a)),
                shop_format_time_ms(run->last_ms, b, sizeof(b)));
    fputc('\n', stderr);
    for (int k = 1; k < SHOP_EV__COUNT; k++)
        if (run->counts[k])
            fprintf(stderr, "  %-34s %10" PRIu64 "\n", shop_gen_type_name((shop_event_kind_t)k),
                    run->counts[k]);
    if (g) {
        fprintf(stderr, "  fraud actors:");
        for (int k = 1; k < SHOP_FRAUD__COUNT; k++)
            fprintf(stderr, " %s=%" PRIu64, shop_fraud_kind_name((shop_fraud_kind_t)k),
                    shop_gen_fraud_actors(g, (shop_fraud_kind_t)k));
        fprintf(stderr, "; fraud-labelled chargebacks=%" PRIu64 "\n",
                shop_gen_fraud_chargebacks(g));
    }
    if (rt) {
        uint64_t rows, skipped;
        shop_retail_stats(rt, &rows, &skipped);
        fprintf(stderr, "  retail rows=%" PRIu64 " skipped=%" PRIu64 "\n", rows, skipped);
    }
}

/* Flushes the producer and reports its counts; returns 0 when everything was delivered. */
static int finish_produce(gen_run_t *run) {
    if (!run->producer)
        return 0;
    if (shop_producer_flush(run->producer, 120000))
        fprintf(stderr, "generate: deliveries still outstanding\n");
    shop_producer_stats_t st;
    shop_producer_stats(run->producer, &st);
    fprintf(stderr,
            "generate: produced=%" PRIu64 " delivered=%" PRIu64 " failed=%" PRIu64
            " rejected=%" PRIu64 "\n",
            st.produced, st.delivered,
            st.failed + (uint64_t)(st.in_flight > 0 ? st.in_flight : 0) + run->failed_lines,
            run->bad_lines);
    return st.delivered == st.produced && !run->bad_lines && !run->failed_lines ? 0 : 1;
}

int shop_cmd_generate(int argc, char **argv) {
    gen_run_t run;
    memset(&run, 0, sizeof(run));
    shop_gen_conf_init(&run.gen);
    shop_config_t *cfg = shop_config_new(generate_conf);
    int rc = parse_args(argc, argv, &run, cfg);
    shop_gen_t *g = NULL;
    shop_retail_t *rt = NULL;
    char err[512];
    if (rc) {
        rc = rc < 0 ? 0 : 2;
        goto done;
    }
    if (run.retail)
        rt = shop_retail_open(run.retail, run.gen.seed, err, sizeof(err));
    else
        g = shop_gen_new(&run.gen, err, sizeof(err));
    if ((!g && !rt) || open_sink(&run, cfg)) {
        if (!g && !rt)
            fprintf(stderr, "generate: %s\n", err);
        rc = 1;
        goto done;
    }
    int64_t t0 = shop_mono_us();
    rc = run_loop(&run, g, rt);
    double secs = (double)(shop_mono_us() - t0) / 1e6;
    if (run.fp && fflush(run.fp))
        rc = 1;
    summary(&run, g, rt, secs);
    if (finish_produce(&run))
        rc = 1;
done:
    if (run.fp && run.fp != stdout)
        fclose(run.fp);
    shop_producer_destroy(run.producer);
    shop_gen_destroy(g);
    shop_retail_close(rt);
    shop_config_destroy(cfg);
    return rc;
}
