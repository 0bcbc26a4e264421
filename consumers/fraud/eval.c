/* eval.c: numeric CSV datasets, ROC-AUC with average-rank ties, and the repeated 60/40 forest
 * evaluation (the protocol of the pyod benchmark the published figures come from). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "shop.h"

void shop_fraud_data_init(shop_fraud_data_t *d) {
    memset(d, 0, sizeof(*d));
}

void shop_fraud_data_release(shop_fraud_data_t *d) {
    free(d->x);
    free(d->label);
    shop_fraud_data_init(d);
}

/* Trims spaces and a trailing CR/LF in place; returns the start. */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Splits `line` at commas in place into at most `max` trimmed fields; returns the field count
 * (max + 1 when there are more). */
static size_t split_fields(char *line, char **fields, size_t max) {
    size_t n = 0;
    for (char *p = line;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (n == max)
            return max + 1;
        fields[n++] = trim(p);
        if (!comma)
            return n;
        p = comma + 1;
    }
}

typedef struct {
    const char *name;
    char **header; /* column names, borrowed from the header line copy */
    size_t ncols, dims, cap;
    int has_label;
} csv_t;

static int parse_row(csv_t *c, char **fields, size_t nf, size_t lineno, shop_fraud_data_t *d,
                     char *errstr, size_t errstr_size) {
    if (nf != c->ncols)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s:%zu: %s%zu columns, the header has %zu", c->name, lineno,
                           nf > c->ncols ? "more than " : "", nf > c->ncols ? c->ncols : nf,
                           c->ncols);
    if (d->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        d->x = shop_xrealloc(d->x, c->cap * c->dims * sizeof(double));
        if (c->has_label)
            d->label = shop_xrealloc(d->label, c->cap);
    }
    for (size_t j = 0; j < nf; j++) {
        char *end;
        errno = 0;
        double v = strtod(fields[j], &end);
        if (!*fields[j] || *end || !isfinite(v))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%s:%zu: column %zu (%s): \"%s\" is not a number", c->name, lineno,
                               j + 1, c->header[j], fields[j]);
        if (j < c->dims) {
            d->x[d->n * c->dims + j] = v;
        } else if (v == 0.0 || v == 1.0) {
            d->label[d->n] = (unsigned char)v;
        } else {
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%s:%zu: column %zu (label): label must be 0 or 1, got \"%s\"",
                               c->name, lineno, j + 1, fields[j]);
        }
    }
    d->n++;
    return 0;
}

/* Reads the header line into c (c->header points into *hdr, which the caller frees). */
static int parse_header(FILE *fp, csv_t *c, int need_label, char **hdr, char *errstr,
                        size_t errstr_size) {
    size_t cap = 0;
    if (getline(hdr, &cap, fp) < 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s: empty file, expected a header line", c->name);
    size_t commas = 0;
    for (const char *p = *hdr; *p; p++)
        commas += *p == ',';
    c->ncols = commas + 1;
    c->header = shop_xmalloc(c->ncols * sizeof(char *));
    split_fields(*hdr, c->header, c->ncols);
    c->has_label = !strcmp(c->header[c->ncols - 1], "label");
    if (need_label && !c->has_label)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s:1: the last column must be `label` (0/1), found \"%s\"", c->name,
                           c->header[c->ncols - 1]);
    c->dims = c->ncols - (size_t)c->has_label;
    if (c->dims == 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s:1: no feature columns",
                           c->name);
    return 0;
}

int shop_fraud_csv_read(FILE *fp, const char *name, int need_label, shop_fraud_data_t *d,
                        char *errstr, size_t errstr_size) {
    shop_fraud_data_release(d);
    csv_t c = {.name = name};
    char *hdr = NULL, *line = NULL;
    size_t cap = 0, lineno = 1;
    int rc = parse_header(fp, &c, need_label, &hdr, errstr, errstr_size);
    char **fields = shop_xmalloc((c.ncols + 1) * sizeof(char *));
    while (!rc && getline(&line, &cap, fp) >= 0) {
        lineno++;
        char *s = trim(line);
        if (!*s)
            continue;
        size_t nf = split_fields(s, fields, c.ncols);
        rc = parse_row(&c, fields, nf, lineno, d, errstr, errstr_size);
    }
    if (!rc && ferror(fp))
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: read error", name);
    if (!rc && d->n == 0)
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: no data rows", name);
    d->dims = c.dims;
    free(fields);
    free(c.header);
    free(hdr);
    free(line);
    if (rc)
        shop_fraud_data_release(d);
    return rc;
}

int shop_fraud_csv_load(const char *path, int need_label, shop_fraud_data_t *d, char *errstr,
                        size_t errstr_size) {
    FILE *fp = fopen(path, "r");
    if (!fp) {
        shop_fraud_data_release(d);
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: %s", path, strerror(errno));
    }
    int rc = shop_fraud_csv_read(fp, path, need_label, d, errstr, errstr_size);
    fclose(fp);
    return rc;
}

typedef struct {
    double score;
    unsigned char label;
} scored_t;

static int by_score(const void *a, const void *b) {
    double x = ((const scored_t *)a)->score, y = ((const scored_t *)b)->score;
    return (x > y) - (x < y);
}

double shop_fraud_roc_auc(const double *score, const unsigned char *label, size_t n) {
    scored_t *s = shop_xmalloc((n ? n : 1) * sizeof(*s));
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        s[i].score = score[i];
        s[i].label = label[i] != 0;
        pos += s[i].label;
    }
    size_t neg = n - pos;
    if (!pos || !neg) {
        free(s);
        return NAN;
    }
    shop_sort(s, n, sizeof(*s), by_score);
    double rank_sum = 0.0; /* of the positives, ranks 1..n, ties at their average */
    for (size_t i = 0; i < n;) {
        size_t j = i, p = 0;
        while (j < n && s[j].score == s[i].score)
            p += s[j++].label;
        rank_sum += (double)p * ((double)(i + 1) + (double)j) / 2.0;
        i = j;
    }
    free(s);
    double u = rank_sum - (double)pos * ((double)pos + 1.0) / 2.0;
    return u / ((double)pos * (double)neg);
}

/* One run: shuffle, train on the first 60%, score the rest. */
static int eval_run(const shop_fraud_data_t *d, const shop_iforest_params_t *p, uint64_t seed,
                    size_t *perm, double *auc, char *errstr, size_t errstr_size) {
    shop_rng_t rng;
    shop_rng_seed(&rng, seed);
    for (size_t i = 0; i < d->n; i++)
        perm[i] = i;
    for (size_t i = d->n - 1; i > 0; i--) {
        size_t j = (size_t)(shop_rng_next(&rng) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    size_t ntrain = d->n * 6 / 10, ntest = d->n - ntrain;
    double *train = shop_xmalloc(ntrain * d->dims * sizeof(double));
    for (size_t i = 0; i < ntrain; i++)
        memcpy(train + i * d->dims, d->x + perm[i] * d->dims, d->dims * sizeof(double));
    shop_iforest_params_t q = *p;
    q.seed = shop_mix64(seed);
    shop_iforest_t *f = shop_iforest_train(train, ntrain, d->dims, &q, errstr, errstr_size);
    free(train);
    if (!f)
        return SHOP_ERR_INVALID;
    double *score = shop_xmalloc(ntest * sizeof(double));
    unsigned char *label = shop_xmalloc(ntest);
    for (size_t i = 0; i < ntest; i++) {
        size_t row = perm[ntrain + i];
        score[i] = shop_iforest_score(f, d->x + row * d->dims);
        label[i] = d->label[row];
    }
    *auc = shop_fraud_roc_auc(score, label, ntest);
    shop_iforest_destroy(f);
    free(score);
    free(label);
    if (isnan(*auc))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "the 40%% test split (seed %llu) holds only one class; need both "
                           "anomalies and normal rows",
                           (unsigned long long)seed);
    return 0;
}

int shop_fraud_eval_forest(const shop_fraud_data_t *d, const shop_iforest_params_t *p, size_t runs,
                           double *auc, char *errstr, size_t errstr_size) {
    if (!d->label)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "the evaluation needs a `label` column");
    if (d->n < 5)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "the evaluation needs at least 5 rows, got %zu", d->n);
    size_t *perm = shop_xmalloc(d->n * sizeof(size_t));
    int rc = 0;
    for (size_t r = 0; r < runs && !rc; r++)
        rc = eval_run(d, p, p->seed + r, perm, &auc[r], errstr, errstr_size);
    free(perm);
    return rc;
}
