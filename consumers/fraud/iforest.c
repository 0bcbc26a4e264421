/* iforest.c: Isolation Forest (Liu, Ting & Zhou, ICDM 2008): training, scoring, model file. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iforest.h"
#include "shop.h"

/* Model file, all integers little-endian:
 *   0   8  magic "SHOPIFOR"
 *   8   4  version (u32, SHOP_IFOREST_FILE_VERSION)
 *  12   4  dims: feature count (u32)
 *  16   4  trees (u32)
 *  20   4  psi: rows per tree (u32)
 *  24   8  seed (u64, informational)
 *  32   4 * trees   node count of each tree (u32)
 *  ..  16 * nodes   each node: feature (i32, -1 = external), aux (u32: internal -> index of the
 *                   left child within its tree, right = left + 1; external -> training rows that
 *                   reached it), value (IEEE-754 f64 bits: internal -> split p; external -> 0)
 *  end  8  FNV-1a 64 of every byte before it
 * Nodes of a tree are stored parent before child, root first. */
#define MAGIC      "SHOPIFOR"
#define MAGIC_LEN  8
#define HEADER_LEN 32
#define NODE_LEN   16
#define SUM_LEN    8

#define EULER_GAMMA 0.5772156649
#define MAX_SAMPLE  ((size_t)1 << 24)

typedef struct {
    double value;    /* internal: split p; external: depth + c(size), the path length it adds */
    int32_t feature; /* -1 for an external node */
    uint32_t aux;    /* internal: left child within the tree (right = aux + 1); external: size */
} node_t;

struct shop_iforest {
    size_t dims, trees, psi;
    uint64_t seed;
    double c_psi;
    size_t
        *tree_off; /* trees + 1 offsets into nodes: tree t is nodes[tree_off[t], tree_off[t+1]) */
    node_t *nodes;
};

double shop_iforest_c(size_t n) {
    if (n <= 1)
        return 0.0;
    double m = (double)(n - 1);
    return 2.0 * (log(m) + EULER_GAMMA) - 2.0 * m / (double)n;
}

void shop_iforest_params_init(shop_iforest_params_t *p) {
    p->trees = SHOP_IFOREST_DEFAULT_TREES;
    p->sample = SHOP_IFOREST_DEFAULT_SAMPLE;
    p->seed = 0;
}

/* ceil(log2(psi)): the paper's height limit. */
static unsigned height_limit(size_t psi) {
    unsigned l = 0;
    while (((size_t)1 << l) < psi)
        l++;
    return l;
}

static double rng_u01(shop_rng_t *r) {
    return (double)(shop_rng_next(r) >> 11) * 0x1p-53;
}

static size_t rng_below(shop_rng_t *r, size_t k) {
    size_t i = (size_t)(rng_u01(r) * (double)k);
    return i < k ? i : k - 1;
}

/* Grows one iTree into a scratch node array (indices relative to the tree's root). */
typedef struct {
    const double *rows;
    size_t dims;
    unsigned limit;
    shop_rng_t rng;
    node_t *nodes;
    size_t used, cap;
    double *lo, *hi;
    size_t *cand;
} builder_t;

static void make_external(node_t *nd, size_t count, unsigned depth) {
    nd->feature = -1;
    nd->aux = (uint32_t)count;
    nd->value = (double)depth + shop_iforest_c(count);
}

/* Draws q among the attributes not constant on idx[0, count); -1 when all rows are equal. */
static long pick_attribute(builder_t *b, const size_t *idx, size_t count) {
    const double *x0 = b->rows + idx[0] * b->dims;
    memcpy(b->lo, x0, b->dims * sizeof(double));
    memcpy(b->hi, x0, b->dims * sizeof(double));
    for (size_t i = 1; i < count; i++) {
        const double *x = b->rows + idx[i] * b->dims;
        for (size_t j = 0; j < b->dims; j++) {
            if (x[j] < b->lo[j])
                b->lo[j] = x[j];
            else if (x[j] > b->hi[j])
                b->hi[j] = x[j];
        }
    }
    size_t ncand = 0;
    for (size_t j = 0; j < b->dims; j++)
        if (b->hi[j] > b->lo[j])
            b->cand[ncand++] = j;
    if (!ncand)
        return -1;
    return (long)b->cand[rng_below(&b->rng, ncand)];
}

static void grow(builder_t *b, size_t at, size_t *idx, size_t count, unsigned depth) {
    if (depth >= b->limit || count <= 1) {
        make_external(&b->nodes[at], count, depth);
        return;
    }
    long q = pick_attribute(b, idx, count);
    if (q < 0) {
        make_external(&b->nodes[at], count, depth);
        return;
    }
    double p = b->lo[q] + rng_u01(&b->rng) * (b->hi[q] - b->lo[q]);
    size_t i = 0, j = count;
    while (i < j) {
        if (b->rows[idx[i] * b->dims + (size_t)q] < p) {
            i++;
        } else {
            size_t t = idx[i];
            idx[i] = idx[--j];
            idx[j] = t;
        }
    }
    if (b->used + 2 > b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->nodes = shop_xrealloc(b->nodes, b->cap * sizeof(node_t));
    }
    size_t left = b->used;
    b->used += 2;
    b->nodes[at].feature = (int32_t)q;
    b->nodes[at].value = p;
    b->nodes[at].aux = (uint32_t)left;
    grow(b, left, idx, i, depth + 1);
    grow(b, left + 1, idx + i, count - i, depth + 1);
}

static int check_train_args(const double *rows, size_t n, size_t dims,
                            const shop_iforest_params_t *p, char *errstr, size_t errstr_size) {
    if (!rows || n < 2)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "isolation forest needs at least 2 rows, got %zu", rows ? n : 0);
    if (dims < 1 || dims > SHOP_IFOREST_MAX_DIMS || n > SIZE_MAX / dims / sizeof(double))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "feature count %zu out of range [1, %d]", dims, SHOP_IFOREST_MAX_DIMS);
    if (p->trees < 1 || p->trees > SHOP_IFOREST_MAX_TREES)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "trees %zu out of range [1, %d]",
                           p->trees, SHOP_IFOREST_MAX_TREES);
    if (p->sample < 2)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "sample %zu is too small (at least 2)", p->sample);
    for (size_t i = 0; i < n * dims; i++)
        if (!isfinite(rows[i]))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "row %zu feature %zu is not a finite number", i / dims, i % dims);
    return 0;
}

shop_iforest_t *shop_iforest_train(const double *rows, size_t n, size_t dims,
                                   const shop_iforest_params_t *p, char *errstr,
                                   size_t errstr_size) {
    shop_iforest_params_t def;
    if (!p) {
        shop_iforest_params_init(&def);
        p = &def;
    }
    if (check_train_args(rows, n, dims, p, errstr, errstr_size))
        return NULL;
    size_t psi = p->sample < n ? p->sample : n;
    if (psi > MAX_SAMPLE)
        psi = MAX_SAMPLE;

    shop_iforest_t *f = shop_xcalloc(1, sizeof(*f));
    f->dims = dims;
    f->trees = p->trees;
    f->psi = psi;
    f->seed = p->seed;
    f->c_psi = shop_iforest_c(psi);
    f->tree_off = shop_xmalloc((f->trees + 1) * sizeof(size_t));

    builder_t b = {.rows = rows, .dims = dims, .limit = height_limit(psi)};
    shop_rng_seed(&b.rng, p->seed);
    b.lo = shop_xmalloc(dims * sizeof(double));
    b.hi = shop_xmalloc(dims * sizeof(double));
    b.cand = shop_xmalloc(dims * sizeof(size_t));
    size_t *perm = shop_xmalloc(n * sizeof(size_t)), *sample = shop_xmalloc(psi * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        perm[i] = i;

    size_t total = 0, cap = 0;
    for (size_t t = 0; t < f->trees; t++) {
        /* A partial Fisher-Yates shuffle draws psi rows without replacement. */
        for (size_t i = 0; i < psi; i++) {
            size_t j = i + rng_below(&b.rng, n - i), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
            sample[i] = perm[i];
        }
        if (!b.cap) {
            b.cap = 64;
            b.nodes = shop_xmalloc(b.cap * sizeof(node_t));
        }
        b.used = 1;
        grow(&b, 0, sample, psi, 0);
        if (total + b.used > cap) {
            cap = (total + b.used) * 2;
            f->nodes = shop_xrealloc(f->nodes, cap * sizeof(node_t));
        }
        memcpy(f->nodes + total, b.nodes, b.used * sizeof(node_t));
        f->tree_off[t] = total;
        total += b.used;
    }
    f->tree_off[f->trees] = total;
    f->nodes = shop_xrealloc(f->nodes, total * sizeof(node_t));
    free(perm);
    free(sample);
    free(b.nodes);
    free(b.lo);
    free(b.hi);
    free(b.cand);
    return f;
}

double shop_iforest_path_length(const shop_iforest_t *f, const double *row) {
    double sum = 0.0;
    for (size_t t = 0; t < f->trees; t++) {
        const node_t *tree = f->nodes + f->tree_off[t], *nd = tree;
        /* Left iff x_q < p, exactly as in training (a NaN goes right). */
        while (nd->feature >= 0)
            nd = tree + nd->aux + !(row[nd->feature] < nd->value);
        sum += nd->value;
    }
    return sum / (double)f->trees;
}

double shop_iforest_score(const shop_iforest_t *f, const double *row) {
    return exp2(-shop_iforest_path_length(f, row) / f->c_psi);
}

size_t shop_iforest_dims(const shop_iforest_t *f) {
    return f->dims;
}

size_t shop_iforest_trees(const shop_iforest_t *f) {
    return f->trees;
}

size_t shop_iforest_sample(const shop_iforest_t *f) {
    return f->psi;
}

uint64_t shop_iforest_seed(const shop_iforest_t *f) {
    return f->seed;
}

void shop_iforest_destroy(shop_iforest_t *f) {
    if (!f)
        return;
    free(f->tree_off);
    free(f->nodes);
    free(f);
}

/* ---- model file ---- */

static uint64_t fnv1a64(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put_u32(shop_buf_t *b, uint32_t v) {
    unsigned char c[4];
    for (int i = 0; i < 4; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    shop_buf_append(b, c, 4);
}

static void put_u64(shop_buf_t *b, uint64_t v) {
    unsigned char c[8];
    for (int i = 0; i < 8; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    shop_buf_append(b, c, 8);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void encode(const shop_iforest_t *f, shop_buf_t *b) {
    shop_buf_append(b, MAGIC, MAGIC_LEN);
    put_u32(b, SHOP_IFOREST_FILE_VERSION);
    put_u32(b, (uint32_t)f->dims);
    put_u32(b, (uint32_t)f->trees);
    put_u32(b, (uint32_t)f->psi);
    put_u64(b, f->seed);
    for (size_t t = 0; t < f->trees; t++)
        put_u32(b, (uint32_t)(f->tree_off[t + 1] - f->tree_off[t]));
    for (size_t i = 0; i < f->tree_off[f->trees]; i++) {
        const node_t *nd = &f->nodes[i];
        uint64_t bits = 0;
        if (nd->feature >= 0)
            memcpy(&bits, &nd->value, sizeof(bits));
        put_u32(b, (uint32_t)nd->feature);
        put_u32(b, nd->aux);
        put_u64(b, bits);
    }
    put_u64(b, fnv1a64((const unsigned char *)b->buf, b->len));
}

int shop_iforest_save(const shop_iforest_t *f, const char *path, char *errstr, size_t errstr_size) {
    shop_buf_t b;
    shop_buf_init(&b);
    encode(f, &b);
    char *tmp = shop_xasprintf("%s.tmp", path);
    int rc = 0;
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: %s", tmp, strerror(errno));
    } else {
        size_t w = fwrite(b.buf, 1, b.len, fp);
        int werr = (w != b.len || fflush(fp) != 0) ? errno : 0;
        if (fclose(fp) != 0 && !werr)
            werr = errno ? errno : EIO;
        if (werr || w != b.len)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: write failed: %s", tmp,
                             strerror(werr ? werr : EIO));
        else if (rename(tmp, path) != 0)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: rename to %s: %s", tmp, path,
                             strerror(errno));
        if (rc)
            remove(tmp);
    }
    free(tmp);
    shop_buf_release(&b);
    return rc;
}

/* Reads all of `path` into `b`. */
static int read_file(const char *path, shop_buf_t *b, char *errstr, size_t errstr_size) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: %s", path, strerror(errno));
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        shop_buf_append(b, chunk, r);
    int bad = ferror(fp);
    fclose(fp);
    if (bad)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: read error", path);
    return 0;
}

/* Checks one tree's nodes form a tree (parents before children, one parent each, features in
 * range, finite splits, depth within the height limit) and derives each external node's value. */
static int decode_tree(node_t *tree, size_t count, const unsigned char *p, size_t dims, size_t psi,
                       unsigned limit, unsigned char *depth, unsigned char *seen) {
    memset(seen, 0, count);
    depth[0] = 0;
    for (size_t i = 0; i < count; i++, p += NODE_LEN) {
        node_t *nd = &tree[i];
        nd->feature = (int32_t)get_u32(p);
        nd->aux = get_u32(p + 4);
        uint64_t bits = get_u64(p + 8);
        memcpy(&nd->value, &bits, sizeof(bits));
        if (i && seen[i] != 1)
            return -1;
        if (nd->feature == -1) {
            if (nd->aux > psi)
                return -1;
            make_external(nd, nd->aux, depth[i]);
            continue;
        }
        size_t left = nd->aux;
        if (nd->feature < 0 || (size_t)nd->feature >= dims || !isfinite(nd->value) || left <= i ||
            left + 1 >= count || depth[i] >= limit || seen[left] || seen[left + 1])
            return -1;
        seen[left] = seen[left + 1] = 1;
        depth[left] = depth[left + 1] = (unsigned char)(depth[i] + 1);
    }
    return 0;
}

/* Parses a whole model file image; `name` only labels messages. */
static shop_iforest_t *decode(const unsigned char *d, size_t len, const char *name, char *errstr,
                              size_t errstr_size) {
    if (len < MAGIC_LEN ? memcmp(d, MAGIC, len) != 0 : memcmp(d, MAGIC, MAGIC_LEN) != 0) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                    "%s: not an isolation forest model (bad magic)", name);
        return NULL;
    }
    if (len < HEADER_LEN) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                    "%s: truncated model file (%zu bytes, header needs %d)", name, len, HEADER_LEN);
        return NULL;
    }
    uint32_t version = get_u32(d + 8), dims = get_u32(d + 12), trees = get_u32(d + 16),
             psi = get_u32(d + 20);
    if (version != SHOP_IFOREST_FILE_VERSION) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                    "%s: model file version %u is not supported (this build reads version %d)",
                    name, version, SHOP_IFOREST_FILE_VERSION);
        return NULL;
    }
    uint64_t want = (uint64_t)HEADER_LEN + 4ULL * trees, total = 0;
    unsigned limit = height_limit(psi);
    if (len >= want && trees >= 1 && trees <= SHOP_IFOREST_MAX_TREES)
        for (uint32_t t = 0; t < trees; t++)
            total += get_u32(d + HEADER_LEN + 4 * t);
    want += total * NODE_LEN + SUM_LEN;
    if (len < want) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                    "%s: truncated model file (%zu bytes, header says %llu)", name, len,
                    (unsigned long long)want);
        return NULL;
    }
    if (len > want || get_u64(d + len - SUM_LEN) != fnv1a64(d, len - SUM_LEN)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: corrupted model file (%s)", name,
                    len > want ? "trailing bytes after the checksum" : "checksum mismatch");
        return NULL;
    }
    if (dims < 1 || dims > SHOP_IFOREST_MAX_DIMS || trees < 1 || trees > SHOP_IFOREST_MAX_TREES ||
        psi < 2 || psi > MAX_SAMPLE) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                    "%s: model header out of range (features %u, trees %u, sample %u)", name, dims,
                    trees, psi);
        return NULL;
    }
    shop_iforest_t *f = shop_xcalloc(1, sizeof(*f));
    f->dims = dims;
    f->trees = trees;
    f->psi = psi;
    f->seed = get_u64(d + 24);
    f->c_psi = shop_iforest_c(psi);
    f->tree_off = shop_xmalloc((f->trees + 1) * sizeof(size_t));
    f->nodes = shop_xmalloc((total ? total : 1) * sizeof(node_t));
    size_t max_nodes = ((size_t)2 << limit) - 1, off = 0, scratch = max_nodes;
    unsigned char *depth = shop_xmalloc(scratch), *seen = shop_xmalloc(scratch);
    const unsigned char *p = d + HEADER_LEN + 4 * (size_t)trees;
    for (uint32_t t = 0; t < trees; t++) {
        size_t count = get_u32(d + HEADER_LEN + 4 * t);
        f->tree_off[t] = off;
        if (count < 1 || count > max_nodes ||
            decode_tree(f->nodes + off, count, p, dims, psi, limit, depth, seen)) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                        "%s: corrupted model file (tree %u is not a valid iTree)", name, t);
            free(depth);
            free(seen);
            shop_iforest_destroy(f);
            return NULL;
        }
        off += count;
        p += count * NODE_LEN;
    }
    f->tree_off[trees] = off;
    free(depth);
    free(seen);
    return f;
}

shop_iforest_t *shop_iforest_load(const char *path, char *errstr, size_t errstr_size) {
    shop_buf_t b;
    shop_buf_init(&b);
    shop_iforest_t *f = NULL;
    if (read_file(path, &b, errstr, errstr_size) == 0)
        f = decode((const unsigned char *)(b.buf ? b.buf : ""), b.len, path, errstr, errstr_size);
    shop_buf_release(&b);
    return f;
}
