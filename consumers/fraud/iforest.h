/* iforest.h: Isolation Forest anomaly detector (Liu, Ting & Zhou, "Isolation Forest", ICDM 2008),
 * trained on subsamples, stored as flat node arrays, saved as a versioned binary model file.
 *
 * The algorithm follows the paper: each of `trees` iTrees is grown on psi = min(sample, n) rows
 * drawn without replacement, to the height limit l = ceil(log2 psi); a node splits on an attribute
 * q chosen at random and a split value p drawn uniformly between q's min and max in the node (rows
 * with x_q < p go left). A node becomes external when it reaches l, holds at most one row, or all
 * its rows are identical (the paper's three stopping conditions). The paper does not say what to do
 * when the drawn attribute is constant in the node while others are not; we draw q among the
 * attributes that are not constant there, which is the paper's random choice conditioned on a split
 * that separates something (a split on a constant attribute isolates nothing and only adds depth).
 *
 * Score (paper, section 2): s(x, psi) = 2^(-E(h(x)) / c(psi)), where h(x) counts the edges from
 * the root to x's external node plus c(size) for the training rows that ended there, and
 * c(n) = 2 H(n-1) - 2 (n-1) / n with H(i) estimated by ln(i) + 0.5772156649 (Euler's constant), as
 * in the paper; c(n) = 0 for n <= 1. Scores near 1 are anomalies, well below 0.5 normal. */
#ifndef SHOP_IFOREST_H
#define SHOP_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#define SHOP_IFOREST_DEFAULT_TREES  100
#define SHOP_IFOREST_DEFAULT_SAMPLE 256
#define SHOP_IFOREST_MAX_TREES      100000
#define SHOP_IFOREST_MAX_DIMS       100000

/* Model file: "SHOPIFOR" magic, then this version (see iforest.c for the full layout). */
#define SHOP_IFOREST_FILE_VERSION 1

typedef struct shop_iforest_params {
    size_t trees;  /* iTrees in the forest (paper: 100) */
    size_t sample; /* subsample size psi per tree, capped at n (paper: 256) */
    uint64_t seed; /* same seed and data, same forest, bit for bit */
} shop_iforest_params_t;

typedef struct shop_iforest shop_iforest_t;

/* Fills `p` with the paper's defaults (100 trees, 256 samples) and seed 0. */
void shop_iforest_params_init(shop_iforest_params_t *p);

/* Trains a forest on `n` rows of `dims` features, row-major (rows[i * dims + j]); `rows` is
 * borrowed (only read during the call). `p` may be NULL for the defaults. Needs n >= 2, finite
 * values, 1 <= trees <= SHOP_IFOREST_MAX_TREES, sample >= 2. Returns a forest the caller frees with
 * shop_iforest_destroy(), or NULL with the reason in errstr. */
shop_iforest_t *shop_iforest_train(const double *rows, size_t n, size_t dims,
                                   const shop_iforest_params_t *p, char *errstr,
                                   size_t errstr_size);

/* Anomaly score s(x, psi) in (0, 1] of one row of shop_iforest_dims() features (borrowed). */
double shop_iforest_score(const shop_iforest_t *f, const double *row);

/* E(h(x)): the mean adjusted path length of `row` (borrowed) over the trees. */
double shop_iforest_path_length(const shop_iforest_t *f, const double *row);

/* c(n): the average path length of an unsuccessful BST search among n points (paper, eq. 1). */
double shop_iforest_c(size_t n);

size_t shop_iforest_dims(const shop_iforest_t *f);
size_t shop_iforest_trees(const shop_iforest_t *f);
size_t shop_iforest_sample(const shop_iforest_t *f); /* psi actually used */
uint64_t shop_iforest_seed(const shop_iforest_t *f);

/* Frees the forest; NULL is a no-op. */
void shop_iforest_destroy(shop_iforest_t *f);

/* Writes the model to `path` (via `path`.tmp and rename, so a reader never sees half a file).
 * `f` and `path` are borrowed. Returns 0 or SHOP_ERR_IO with the reason in errstr. */
int shop_iforest_save(const shop_iforest_t *f, const char *path, char *errstr, size_t errstr_size);

/* Reads a model written by shop_iforest_save(); `path` is borrowed. Rejects a wrong magic, an
 * unknown version, a truncated or corrupted file (checksum, node structure). Returns a forest the
 * caller frees with shop_iforest_destroy(), or NULL with the reason in errstr. */
shop_iforest_t *shop_iforest_load(const char *path, char *errstr, size_t errstr_size);

#endif
