/* eval.h: labelled numeric CSV datasets, ROC-AUC, and the repeated 60/40 evaluation of the
 * Isolation Forest behind `shopstream fraud eval-forest` and the eval tests. */
#ifndef SHOP_FRAUD_EVAL_H
#define SHOP_FRAUD_EVAL_H

#include <stddef.h>
#include <stdio.h>

#include "iforest.h"

/* A dataset read from CSV. Caller-owned storage: _init/_release. */
typedef struct shop_fraud_data {
    double *x;            /* n * dims features, row-major */
    unsigned char *label; /* n labels (1 = anomaly), NULL when the CSV has no `label` column */
    size_t n, dims;
} shop_fraud_data_t;

void shop_fraud_data_init(shop_fraud_data_t *d);
void shop_fraud_data_release(shop_fraud_data_t *d);

/* Reads a CSV with a header line and numeric cells. When the last header field is `label`, that
 * column holds the labels and must be 0 or 1; every other column is a feature. With need_label,
 * a CSV without a `label` column is an error. `fp` and `name` (used in messages, "FILE:LINE:")
 * are borrowed; `d` must be initialised and is replaced. Returns 0, or SHOP_ERR_INVALID with the
 * line and column of the bad cell in errstr (d is then left empty). */
int shop_fraud_csv_read(FILE *fp, const char *name, int need_label, shop_fraud_data_t *d,
                        char *errstr, size_t errstr_size);

/* shop_fraud_csv_read() on the file at `path` (borrowed); a missing file is SHOP_ERR_IO. */
int shop_fraud_csv_load(const char *path, int need_label, shop_fraud_data_t *d, char *errstr,
                        size_t errstr_size);

/* ROC-AUC of `score` (higher = more anomalous) against `label` (borrowed arrays of n), ties
 * counted by average rank (the Mann-Whitney U statistic over P * N). NaN when a class is empty. */
double shop_fraud_roc_auc(const double *score, const unsigned char *label, size_t n);

/* Runs `runs` evaluations: run r shuffles the rows with seed p->seed + r, trains a forest (params
 * `p`, seed derived from the run's) on the first 60% and writes the ROC-AUC of the other 40% to
 * auc[r]. `d`, `p` and `auc` are borrowed. Returns 0, or SHOP_ERR_INVALID with the reason. */
int shop_fraud_eval_forest(const shop_fraud_data_t *d, const shop_iforest_params_t *p, size_t runs,
                           double *auc, char *errstr, size_t errstr_size);

#endif
