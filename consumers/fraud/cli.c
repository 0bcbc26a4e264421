/* cli.c: `shopstream fraud eval-forest FILE.csv` and `shopstream fraud train`. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "fraud.h"
#include "fraud_cli.h"
#include "iforest.h"
#include "shop.h"

#define MAX_RUNS 1000

static int usage(FILE *fp, int status) {
    fprintf(fp,
            "usage: shopstream fraud eval-forest FILE.csv [--trees N] [--sample N] [--runs N] "
            "[--seed S]\n"
            "       shopstream fraud train (--csv FILE.csv | --events FILE.jsonl|- | --topic T...\n"
            "                              [--from B] [--to B] [--brokers B]) --out MODEL\n"
            "                              [--partitions N] [--trees N] [--sample N] [--seed S]\n"
            "  FILE.csv: a header line, numeric feature columns and (required by eval-forest) a\n"
            "  final 0/1 `label` column, which train ignores. eval-forest trains an Isolation\n"
            "  Forest on a random 60%% and scores the other 40%%, --runs times (default 10) with\n"
            "  seeds S, S+1, ..., and prints each run's ROC-AUC and the mean as auc=0.XXXX.\n"
            "  --events: JSON lines as written by `shopstream generate` or `shopstream decode\n"
            "  [--meta]` (user and order events, any order: they are replayed in event-time\n"
            "  order); --topic (repeatable, e.g. shop.user.events and shop.order.events) reads\n"
            "  the range [--from, --to) of every partition from Kafka, bounds as in `shopstream\n"
            "  replay` (an offset 123 / o:123, or a time: RFC 3339 or t:<ms>; default: all).\n"
            "  Each order.placed goes through the worker's engine for its 16 features, one\n"
            "  partition state per Kafka partition (lines without one: murmur2(user_id) %%\n"
            "  --partitions, default 1); the model file is versioned and the worker loads it\n"
            "  from fraud.model (again on SIGHUP).\n"
            "  Defaults: --trees %d --sample %d --seed 1.\n",
            SHOP_IFOREST_DEFAULT_TREES, SHOP_IFOREST_DEFAULT_SAMPLE);
    return status;
}

#define MAX_TOPICS 8

typedef struct {
    const char *csv, *out, *events, *from, *to, *brokers;
    const char *topics[MAX_TOPICS];
    int ntopics, partitions;
    shop_iforest_params_t params;
    size_t runs;
} opts_t;

static int parse_num(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = s && *s != '-' ? strtoull(s, &end, 10) : 0;
    if (!s || *s == '-' || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "shopstream fraud: %s needs an integer in [%llu, %llu], got \"%s\"\n", flag,
                (unsigned long long)lo, (unsigned long long)hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses argv[2..]; eval-forest takes the CSV as a positional argument, train as --csv. */
static int parse_opts(int argc, char **argv, int train, opts_t *o) {
    shop_iforest_params_init(&o->params);
    o->params.seed = 1;
    o->runs = 10;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        int rc = 0, takes = 1;
        if (!strcmp(a, "--trees")) {
            rc = parse_num(a, v, 1, SHOP_IFOREST_MAX_TREES, &n);
            o->params.trees = (size_t)n;
        } else if (!strcmp(a, "--sample")) {
            rc = parse_num(a, v, 2, UINT32_MAX, &n);
            o->params.sample = (size_t)n;
        } else if (!strcmp(a, "--seed")) {
            rc = parse_num(a, v, 0, UINT64_MAX, &n);
            o->params.seed = n;
        } else if (!strcmp(a, "--runs") && !train) {
            rc = parse_num(a, v, 1, MAX_RUNS, &n);
            o->runs = (size_t)n;
        } else if (train && !strcmp(a, "--csv") && v) {
            o->csv = v;
        } else if (train && !strcmp(a, "--out") && v) {
            o->out = v;
        } else if (train && !strcmp(a, "--events") && v) {
            o->events = v;
        } else if (train && !strcmp(a, "--topic") && v && o->ntopics < MAX_TOPICS) {
            o->topics[o->ntopics++] = v;
        } else if (train && !strcmp(a, "--from") && v) {
            o->from = v;
        } else if (train && !strcmp(a, "--to") && v) {
            o->to = v;
        } else if (train && !strcmp(a, "--brokers") && v) {
            o->brokers = v;
        } else if (train && !strcmp(a, "--partitions")) {
            rc = parse_num(a, v, 1, 100000, &n);
            o->partitions = (int)n;
        } else if (!train && a[0] != '-' && !o->csv) {
            o->csv = a;
            takes = 0;
        } else {
            fprintf(stderr, "shopstream fraud %s: unexpected argument \"%s\"\n", argv[1], a);
            return -1;
        }
        if (rc)
            return -1;
        i += takes;
    }
    int sources = !!o->csv + !!o->events + (o->ntopics > 0);
    if ((train && (sources != 1 || !o->out)) || (!train && !o->csv)) {
        fprintf(stderr, "shopstream fraud %s: %s\n", argv[1],
                train ? "one of --csv, --events, --topic, and --out MODEL are required"
                      : "FILE.csv is required");
        return -1;
    }
    if ((o->from || o->to) && !o->ntopics) {
        fprintf(stderr, "shopstream fraud train: --from and --to need --topic\n");
        return -1;
    }
    return 0;
}

static int cmd_eval(const opts_t *o) {
    char err[512];
    shop_fraud_data_t d;
    shop_fraud_data_init(&d);
    if (shop_fraud_csv_load(o->csv, 1, &d, err, sizeof(err))) {
        fprintf(stderr, "shopstream fraud eval-forest: %s\n", err);
        return 1;
    }
    size_t anomalies = 0;
    for (size_t i = 0; i < d.n; i++)
        anomalies += d.label[i];
    printf("dataset=%s rows=%zu features=%zu anomalies=%zu trees=%zu sample=%zu runs=%zu "
           "seed=%llu\n",
           o->csv, d.n, d.dims, anomalies, o->params.trees, o->params.sample, o->runs,
           (unsigned long long)o->params.seed);
    double *auc = shop_xmalloc(o->runs * sizeof(double));
    int rc = shop_fraud_eval_forest(&d, &o->params, o->runs, auc, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "shopstream fraud eval-forest: %s: %s\n", o->csv, err);
    } else {
        double sum = 0.0;
        for (size_t r = 0; r < o->runs; r++) {
            printf("run=%zu seed=%llu auc=%.4f\n", r + 1, (unsigned long long)(o->params.seed + r),
                   auc[r]);
            sum += auc[r];
        }
        printf("auc=%.4f\n", sum / (double)o->runs);
    }
    free(auc);
    shop_fraud_data_release(&d);
    return rc ? 1 : 0;
}

/* Training rows from events: the worker's engine computes each order's features. */
static int load_events(const opts_t *o, shop_fraud_data_t *d, char *err, size_t errsz) {
    shop_codec_t *codec = shop_codec_new(NULL, err, errsz);
    if (!codec)
        return 1;
    shop_fraud_events_t *ev = shop_fraud_events_new();
    size_t bad = 0;
    int rc;
    if (o->ntopics) {
        rc = shop_fraud_read_topics(ev, (const char *const *)o->topics, o->ntopics, o->from, o->to,
                                    o->brokers, err, errsz);
    } else {
        FILE *fp = strcmp(o->events, "-") ? fopen(o->events, "r") : stdin;
        if (!fp)
            rc = shop_seterr(err, errsz, SHOP_ERR_IO, "%s: %s", o->events, strerror(errno));
        else {
            rc = shop_fraud_events_read_jsonl(ev, codec, fp, o->events, &bad, err, errsz);
            if (fp != stdin)
                fclose(fp);
        }
    }
    shop_fraud_engine_t eng;
    memset(&eng, 0, sizeof(eng));
    shop_fraud_conf_default(&eng.conf);
    snprintf(eng.model, sizeof(eng.model), "none");
    shop_fraud_train_stats_t st;
    if (!rc)
        rc = shop_fraud_events_features(ev, codec, &eng, o->partitions, d, &st, err, errsz);
    if (!rc)
        printf("events=%zu unreadable_lines=%zu invalid=%zu orders=%zu partitions=%zu\n", st.events,
               bad, st.invalid, st.orders, st.partitions);
    shop_fraud_events_destroy(ev);
    shop_codec_destroy(codec);
    return rc ? 1 : 0;
}

static int cmd_train(const opts_t *o) {
    char err[512];
    shop_fraud_data_t d;
    shop_fraud_data_init(&d);
    const char *src = o->csv ? o->csv : o->events ? o->events : o->topics[0];
    if (o->csv ? shop_fraud_csv_load(o->csv, 0, &d, err, sizeof(err))
               : load_events(o, &d, err, sizeof(err))) {
        fprintf(stderr, "shopstream fraud train: %s\n", err);
        shop_fraud_data_release(&d);
        return 1;
    }
    int64_t t0 = shop_mono_us();
    shop_iforest_t *f = shop_iforest_train(d.x, d.n, d.dims, &o->params, err, sizeof(err));
    int64_t t1 = shop_mono_us();
    int rc = 1;
    if (!f)
        fprintf(stderr, "shopstream fraud train: %s: %s\n", src, err);
    else if (shop_iforest_save(f, o->out, err, sizeof(err)))
        fprintf(stderr, "shopstream fraud train: %s\n", err);
    else {
        printf("model=%s version=%d rows=%zu features=%zu trees=%zu sample=%zu seed=%llu "
               "train_ms=%.1f\n",
               o->out, SHOP_IFOREST_FILE_VERSION, d.n, d.dims, shop_iforest_trees(f),
               shop_iforest_sample(f), (unsigned long long)o->params.seed,
               (double)(t1 - t0) / 1000.0);
        rc = 0;
    }
    shop_iforest_destroy(f);
    shop_fraud_data_release(&d);
    return rc;
}

int shop_cmd_fraud(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
    int train = !strcmp(argv[1], "train");
    if (!train && strcmp(argv[1], "eval-forest")) {
        fprintf(stderr, "shopstream fraud: unknown subcommand \"%s\"\n", argv[1]);
        return usage(stderr, 2);
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, 0);
    opts_t o = {0};
    if (parse_opts(argc, argv, train, &o))
        return usage(stderr, 2);
    return train ? cmd_train(&o) : cmd_eval(&o);
}
