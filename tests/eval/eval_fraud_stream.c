/* eval_fraud_stream.c: precision and recall of level `high` against the generator's fraud labels
 * (order.chargeback with reason fraud_*), for rules alone and rules plus the Isolation Forest.
 * Offline and in-process: generated events go through the codec and the worker's pure engine, no
 * Kafka. The forest is trained (unsupervised, no labels) the way `shopstream fraud train --events`
 * does it, on another seed's stream written as JSON lines: the events replayed through the
 * worker's engine for their features, the model saved to a file and loaded back as the worker
 * loads fraud.model.
 * usage: eval_fraud_stream [EVENTS] [FRAUD_RATE] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fraud.h"
#include "generate.h"

typedef struct {
    char id[40];
    int level[2];
} order_t;

typedef struct {
    order_t *v;
    size_t n, cap;
    char **fraud; /* order ids with a fraud chargeback */
    size_t nfraud, capfraud;
    double *x; /* features of every order */
    size_t nx, capx;
} run_t;

static int wanted(shop_event_kind_t k) {
    return k == SHOP_EV_USER_SIGNUP || k == SHOP_EV_USER_LOGIN || k == SHOP_EV_USER_POINTS_EARNED ||
           k == SHOP_EV_USER_POINTS_SPENT ||
           (k >= SHOP_EV_ORDER_PLACED && k <= SHOP_EV_ORDER_DELIVERED);
}

/* Feeds one seed's stream through engines[0] (rules) and engines[1] (rules + forest). */
static int run_stream(uint64_t seed, uint64_t events, double rate, shop_fraud_engine_t *eng,
                      int nengines, run_t *out) {
    char err[512];
    shop_gen_conf_t gc;
    shop_gen_conf_init(&gc);
    gc.seed = seed, gc.events = events, gc.fraud_rate = rate;
    shop_gen_t *g = shop_gen_new(&gc, err, sizeof(err));
    shop_codec_t *codec = shop_codec_new(NULL, err, sizeof(err));
    shop_decoder_t *dec = shop_decoder_new(codec);
    shop_fraud_part_t *parts[2] = {shop_fraud_part_new(0), shop_fraud_part_new(0)};
    shop_buf_t line;
    shop_buf_init(&line);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    shop_event_kind_t kind;
    while (shop_gen_next(g, &line, &kind, NULL) == 1) {
        if (!wanted(kind)) {
            shop_buf_reset(&line);
            continue;
        }
        json_t *obj = json_loadb(line.buf, line.len, 0, NULL);
        shop_buf_reset(&line);
        const shop_event_t *ev;
        if (!obj ||
            shop_codec_encode_json(codec, obj, SHOP_FRAMING_SINGLE_OBJECT, &enc, err,
                                   sizeof(err)) ||
            shop_decoder_decode(dec, enc.bytes.buf, enc.bytes.len, &ev, err, sizeof(err))) {
            fprintf(stderr, "eval_fraud_stream: %s\n", err);
            return 1;
        }
        json_decref(obj);
        if (ev->kind == SHOP_EV_ORDER_CHARGEBACK) {
            const char *reason = NULL, *oid = NULL;
            if (!shop_value_get_string((avro_value_t *)&ev->payload, "reason", &reason) && reason &&
                !strncmp(reason, "fraud_", 6) &&
                !shop_value_get_string(ev->value, "order_id", &oid)) {
                if (out->nfraud == out->capfraud) {
                    out->capfraud = out->capfraud ? out->capfraud * 2 : 256;
                    out->fraud = realloc(out->fraud, out->capfraud * sizeof(char *));
                }
                out->fraud[out->nfraud++] = strdup(oid);
            }
        }
        shop_fraud_decision_t d;
        shop_fraud_features_t f;
        int level[2] = {0, 0}, got = 0;
        for (int e = 0; e < nengines; e++) {
            int rc = shop_fraud_apply(&eng[e], parts[e], ev, 1, &d, &f, err, sizeof(err));
            shop_fraud_part_clear_dirty(parts[e]);
            if (rc == 1)
                level[e] = d.level, got = 1;
        }
        if (!got)
            continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->v = realloc(out->v, out->cap * sizeof(order_t));
        }
        order_t *o = &out->v[out->n++];
        const char *oid = NULL;
        shop_value_get_string(ev->value, "order_id", &oid);
        snprintf(o->id, sizeof(o->id), "%s", oid);
        o->level[0] = level[0], o->level[1] = level[1];
        if (out->nx + FRAUD_NFEAT > out->capx) {
            out->capx = out->capx ? out->capx * 2 : 4096;
            out->x = realloc(out->x, out->capx * sizeof(double));
        }
        memcpy(out->x + out->nx, f.v, sizeof(f.v));
        out->nx += FRAUD_NFEAT;
    }
    shop_buf_release(&line);
    shop_encoded_release(&enc);
    shop_fraud_part_destroy(parts[0]);
    shop_fraud_part_destroy(parts[1]);
    shop_decoder_destroy(dec);
    shop_codec_destroy(codec);
    shop_gen_destroy(g);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void report(const char *name, const run_t *r, int e) {
    size_t tp = 0, fp = 0, fn = 0, pos = 0;
    for (size_t i = 0; i < r->n; i++) {
        const char *key = r->v[i].id;
        int fraud = bsearch(&key, r->fraud, r->nfraud, sizeof(char *), cmp_str) != NULL;
        int high = r->v[i].level[e] == 2;
        pos += fraud;
        tp += fraud && high, fp += !fraud && high, fn += fraud && !high;
    }
    printf("%-16s orders=%zu labelled=%zu high=%zu tp=%zu fp=%zu fn=%zu precision=%.3f "
           "recall=%.3f\n",
           name, r->n, pos, tp + fp, tp, fp, fn, tp + fp ? (double)tp / (double)(tp + fp) : 0.0,
           pos ? (double)tp / (double)pos : 0.0);
}

/* `shopstream fraud train --events` on seed `seed`'s stream: JSON lines -> model file -> model. */
static shop_iforest_t *train_from_events(uint64_t seed, uint64_t events, double rate,
                                         size_t *rows) {
    char err[512], path[] = "/tmp/eval_fraud_stream.model.XXXXXX";
    shop_gen_conf_t gc;
    shop_gen_conf_init(&gc);
    gc.seed = seed, gc.events = events, gc.fraud_rate = rate;
    shop_gen_t *g = shop_gen_new(&gc, err, sizeof(err));
    shop_codec_t *codec = shop_codec_new(NULL, err, sizeof(err));
    if (!g || !codec) {
        fprintf(stderr, "eval_fraud_stream: %s\n", err);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    shop_buf_t line;
    shop_buf_init(&line);
    while (shop_gen_next(g, &line, NULL, NULL) == 1) {
        fwrite(line.buf, 1, line.len, out);
        shop_buf_reset(&line);
    }
    fclose(out);
    shop_buf_release(&line);
    shop_gen_destroy(g);
    FILE *in = fmemopen(text, len, "r");
    shop_fraud_events_t *ev = shop_fraud_events_new();
    shop_iforest_params_t p;
    shop_iforest_params_init(&p);
    p.seed = 1;
    shop_fraud_train_stats_t st;
    shop_iforest_t *f = NULL, *loaded = NULL;
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    if (!shop_fraud_events_read_jsonl(ev, codec, in, "train", NULL, err, sizeof(err)) &&
        (f = shop_fraud_train_events(ev, codec, 1, &p, &st, err, sizeof(err))) &&
        !shop_iforest_save(f, path, err, sizeof(err)))
        loaded = shop_iforest_load(path, err, sizeof(err));
    if (!loaded)
        fprintf(stderr, "eval_fraud_stream: train: %s\n", err);
    *rows = st.orders;
    unlink(path);
    fclose(in);
    free(text);
    shop_iforest_destroy(f);
    shop_fraud_events_destroy(ev);
    shop_codec_destroy(codec);
    return loaded;
}

int main(int argc, char **argv) {
    uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 400000;
    double rate = argc > 2 ? strtod(argv[2], NULL) : 0.01;
    shop_fraud_engine_t eng[2];
    memset(eng, 0, sizeof(eng));
    shop_fraud_conf_default(&eng[0].conf);
    snprintf(eng[0].model, sizeof(eng[0].model), "none");
    /* training stream (seed 7): features only, no labels used */
    size_t rows = 0;
    shop_iforest_t *forest = train_from_events(7, events, rate, &rows);
    if (!forest)
        return 1;
    eng[1] = eng[0];
    eng[1].forest = forest;
    snprintf(eng[1].model, sizeof(eng[1].model), "eval");
    run_t test = {0};
    if (run_stream(11, events, rate, eng, 2, &test))
        return 1;
    qsort(test.fraud, test.nfraud, sizeof(char *), cmp_str);
    printf("stream: events=%llu fraud_rate=%.3f seed=11 (forest trained with `fraud train "
           "--events` on seed 7, %zu orders, model file v%d)\n",
           (unsigned long long)events, rate, rows, SHOP_IFOREST_FILE_VERSION);
    report("rules", &test, 0);
    report("rules+forest", &test, 1);
    shop_iforest_destroy(forest);
    int rc = test.nfraud ? 0 : 1;
    for (size_t i = 0; i < test.nfraud; i++)
        free(test.fraud[i]);
    free(test.fraud), free(test.v), free(test.x);
    return rc;
}
