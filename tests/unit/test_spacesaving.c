/* test_spacesaving.c: Space-Saving summaries: exact small cases and the tie-breaking eviction
 * rule, agreement with a naive O(k) reference, the error guarantee, the Zipf top-10 acceptance
 * test over 6 merged partition summaries, bit-identical continuation after snapshot/restore,
 * dirty/evicted tracking against a mirrored sink, and bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>
#include <cmocka.h>

#include "shop.h"
#include "spacesaving.h"

static double uniform01(shop_rng_t *r) {
    return (double)(shop_rng_next(r) >> 11) * 0x1.0p-53;
}

static size_t below(shop_rng_t *r, size_t n) {
    return (size_t)(shop_rng_next(r) % n);
}

static int item_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    return c ? c : (alen > blen) - (alen < blen);
}

static void add_str(shop_ss_t *s, const char *item, double w) {
    assert_int_equal(shop_ss_add(s, item, strlen(item), w), SHOP_OK);
}

static int has(const shop_ss_t *s, const char *item) {
    return shop_ss_lookup(s, item, strlen(item), NULL, NULL);
}

/* ---- 1. small exact cases and the eviction rule ---- */

static void test_exact_small(void **state) {
    (void)state;
    shop_ss_t *s = shop_ss_new(5);
    assert_non_null(s);
    add_str(s, "shoes", 1);
    add_str(s, "bag", 2);
    add_str(s, "shoes", 3);
    add_str(s, "hat", 1);
    assert_int_equal(shop_ss_add(s, "a\0b", 3, 1), SHOP_OK); /* bytes, NUL included */
    assert_int_equal(shop_ss_add(s, NULL, 0, 1), SHOP_OK);   /* the empty item */
    assert_int_equal(shop_ss_size(s), 5);
    assert_int_equal(shop_ss_capacity(s), 5);
    shop_ss_entry_t e[8];
    size_t n = shop_ss_entries(s, e, 8);
    assert_int_equal(n, 5);
    /* count desc, item asc: shoes 4, bag 2, then the 1s: "" < "a\0b" < "hat" */
    assert_string_equal(e[0].item, "shoes");
    assert_true(e[0].count == 4 && e[0].err == 0);
    assert_string_equal(e[1].item, "bag");
    assert_true(e[1].count == 2 && e[1].err == 0);
    assert_int_equal(e[2].len, 0);
    assert_int_equal(e[3].len, 3);
    assert_memory_equal(e[3].item, "a\0b", 3);
    assert_string_equal(e[4].item, "hat");
    for (size_t i = 2; i < 5; i++)
        assert_true(e[i].count == 1 && e[i].err == 0);
    assert_true(shop_ss_min(s) == 1.0); /* full: the smallest count */
    double c = -1, r = -1;
    assert_int_equal(shop_ss_lookup(s, "bag", 3, &c, &r), 1);
    assert_true(c == 2 && r == 0);
    assert_int_equal(shop_ss_lookup(s, "a", 1, &c, &r), 0);
    assert_int_equal(shop_ss_entries(s, e, 2), 2); /* truncated: the top two */
    assert_string_equal(e[1].item, "bag");
    shop_ss_clear(s);
    assert_int_equal(shop_ss_size(s), 0);
    assert_false(has(s, "shoes"));
    assert_true(shop_ss_min(s) == 0.0);
    shop_ss_destroy(s);
    shop_ss_destroy(NULL);
}

static void test_eviction_ties(void **state) {
    (void)state;
    shop_ss_t *s = shop_ss_new(3);
    add_str(s, "b", 1);
    add_str(s, "a", 1);
    add_str(s, "c", 1);
    add_str(s, "d", 1); /* a, b, c tie at 1: the smallest item, "a", goes */
    assert_false(has(s, "a"));
    double c, r;
    assert_int_equal(shop_ss_lookup(s, "d", 1, &c, &r), 1);
    assert_true(c == 2 && r == 1); /* min + w, err = min */
    add_str(s, "e", 5);            /* b and c tie at 1: "b" goes */
    assert_false(has(s, "b"));
    assert_int_equal(shop_ss_lookup(s, "e", 1, &c, &r), 1);
    assert_true(c == 6 && r == 1);
    add_str(s, "f", 1); /* c (1) is the unique minimum */
    assert_false(has(s, "c"));
    shop_ss_destroy(s);

    /* Shorter first on a common prefix; bytes compare unsigned. */
    s = shop_ss_new(2);
    add_str(s, "ab", 1);
    add_str(s, "a", 1);
    add_str(s, "z", 1);
    assert_false(has(s, "a"));
    assert_true(has(s, "ab"));
    shop_ss_destroy(s);
    s = shop_ss_new(2);
    add_str(s, "\xff", 1);
    add_str(s, "b", 1);
    add_str(s, "x", 7);
    assert_false(has(s, "b"));
    assert_true(has(s, "\xff"));
    shop_ss_destroy(s);
    /* The lower count goes even when its item is larger. */
    s = shop_ss_new(2);
    add_str(s, "a", 2);
    add_str(s, "z", 1.5);
    add_str(s, "m", 1);
    assert_false(has(s, "z"));
    assert_int_equal(shop_ss_lookup(s, "m", 1, &c, &r), 1);
    assert_true(c == 2.5 && r == 1.5);
    shop_ss_destroy(s);
}

static void test_invalid(void **state) {
    (void)state;
    assert_null(shop_ss_new(0));
    assert_null(shop_ss_new((size_t)SHOP_SS_MAX_K + 1));
    shop_ss_t *s = shop_ss_new(2);
    char big[SHOP_SS_MAX_ITEM + 1];
    memset(big, 'x', sizeof(big));
    assert_int_equal(shop_ss_add(s, "a", 1, 0), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_add(s, "a", 1, -1), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_add(s, "a", 1, NAN), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_add(s, "a", 1, INFINITY), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_add(s, NULL, 1, 1), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_add(s, big, sizeof(big), 1), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_add(s, big, SHOP_SS_MAX_ITEM, 1), SHOP_OK);
    assert_int_equal(shop_ss_add(s, "a", 1, DBL_MAX), SHOP_OK);
    assert_int_equal(shop_ss_add(s, "a", 1, DBL_MAX), SHOP_ERR_INVALID); /* would be inf */
    double c;
    assert_int_equal(shop_ss_lookup(s, "a", 1, &c, NULL), 1);
    assert_true(c == DBL_MAX);
    assert_int_equal(shop_ss_set(s, "b", 1, 1, 0), SHOP_ERR_INVALID); /* full */
    shop_ss_clear(s);
    assert_int_equal(shop_ss_set(s, "b", 1, 1, 0), SHOP_OK);
    assert_int_equal(shop_ss_set(s, "b", 1, 2, 0), SHOP_ERR_INVALID); /* duplicate */
    assert_int_equal(shop_ss_set(s, "c", 1, 1, 2), SHOP_ERR_INVALID); /* err > count */
    assert_int_equal(shop_ss_set(s, "c", 1, 0, 0), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_set(s, "c", 1, 1, -1), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_set(s, "c", 1, NAN, 0), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_set(s, "c", 1, INFINITY, 0), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_set(s, big, sizeof(big), 1, 0), SHOP_ERR_INVALID);
    assert_int_equal(shop_ss_size(s), 1);
    shop_ss_destroy(s);
}

/* ---- naive O(k) reference: the paper's rule with the same tie-break ---- */

#define REF_MAXLEN 16
typedef struct {
    char item[REF_MAXLEN];
    size_t len;
    double count, err;
} ref_counter_t;

typedef struct {
    ref_counter_t *c;
    size_t n, k;
} ref_ss_t;

static void ref_add(ref_ss_t *r, const char *item, size_t len, double w) {
    for (size_t i = 0; i < r->n; i++) {
        if (r->c[i].len == len && memcmp(r->c[i].item, item, len) == 0) {
            r->c[i].count += w;
            return;
        }
    }
    ref_counter_t *t;
    double m = 0;
    if (r->n < r->k) {
        t = &r->c[r->n++];
    } else {
        t = &r->c[0];
        for (size_t i = 1; i < r->n; i++) {
            ref_counter_t *x = &r->c[i];
            if (x->count < t->count ||
                (x->count == t->count && item_cmp(x->item, x->len, t->item, t->len) < 0))
                t = x;
        }
        m = t->count;
    }
    memcpy(t->item, item, len);
    t->len = len;
    t->count = m + w;
    t->err = m;
}

static int ref_order(const void *pa, const void *pb) {
    const ref_counter_t *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return item_cmp(a->item, a->len, b->item, b->len);
}

/* Entries must match the reference's sorted counters bit for bit. */
static void assert_matches_ref(const shop_ss_t *s, ref_ss_t *r, shop_ss_entry_t *e) {
    qsort(r->c, r->n, sizeof(*r->c), ref_order);
    assert_int_equal(shop_ss_entries(s, e, r->k), r->n);
    for (size_t i = 0; i < r->n; i++) {
        assert_int_equal(e[i].len, r->c[i].len);
        assert_memory_equal(e[i].item, r->c[i].item, e[i].len);
        assert_memory_equal(&e[i].count, &r->c[i].count, sizeof(double));
        assert_memory_equal(&e[i].err, &r->c[i].err, sizeof(double));
    }
}

static void test_reference(void **state) {
    (void)state;
    static const size_t ks[] = {1, 2, 7, 32};
    for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
        for (int mode = 0; mode < 3; mode++) {
            size_t k = ks[ki];
            shop_rng_t rng;
            shop_rng_seed(&rng, 1000 + 10 * ki + (uint64_t)mode);
            shop_ss_t *s = shop_ss_new(k);
            ref_ss_t r = {calloc(k, sizeof(ref_counter_t)), 0, k};
            shop_ss_entry_t *e = calloc(k, sizeof(*e));
            for (int step = 0; step < 20000; step++) {
                char item[REF_MAXLEN];
                /* skewed alphabet of 3k+5 items, lengths 0..5: prefixes and ties abound */
                size_t id = below(&rng, below(&rng, 3 * k + 5) + 1);
                size_t len = id % 6;
                for (size_t i = 0; i < len; i++)
                    item[i] = (char)('a' + (id * 7 + i * 3) % 5 + (i == 0 ? 0 : (int)(id % 3)));
                double w = mode == 0   ? 1.0
                           : mode == 1 ? (double)(1 + below(&rng, 3))
                                       : 0.25 + uniform01(&rng);
                assert_int_equal(shop_ss_add(s, item, len, w), SHOP_OK);
                ref_add(&r, item, len, w);
                if (step % 97 == 0 || step > 19900)
                    assert_matches_ref(s, &r, e);
            }
            shop_ss_destroy(s);
            free(r.c);
            free(e);
        }
    }
}

/* ---- exact counting with a plain hash map (independent of the module) ---- */

typedef struct {
    const char **key; /* borrowed, NUL-terminated */
    uint64_t *count;
    size_t mask, n;
} exact_map_t;

static void exact_init(exact_map_t *m, size_t cap_pow2) {
    m->key = calloc(cap_pow2, sizeof(*m->key));
    m->count = calloc(cap_pow2, sizeof(*m->count));
    m->mask = cap_pow2 - 1;
    m->n = 0;
}

static void exact_free(exact_map_t *m) {
    free(m->key);
    free(m->count);
}

static size_t exact_slot(const exact_map_t *m, const char *key) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    size_t i = h & m->mask;
    while (m->key[i] != NULL && strcmp(m->key[i], key) != 0)
        i = (i + 1) & m->mask;
    return i;
}

static void exact_add(exact_map_t *m, const char *key) {
    size_t i = exact_slot(m, key);
    if (m->key[i] == NULL) {
        m->key[i] = key;
        m->n++;
    }
    m->count[i]++;
}

static uint64_t exact_get(const exact_map_t *m, const char *key) {
    size_t i = exact_slot(m, key);
    return m->key[i] ? m->count[i] : 0;
}

typedef struct {
    const char *key;
    uint64_t count;
} kc_t;

static int kc_order(const void *pa, const void *pb) {
    const kc_t *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return item_cmp(a->key, strlen(a->key), b->key, strlen(b->key));
}

/* The guarantee: every monitored item has count - err <= true <= count, and every item with
 * true weight > N/k is monitored. Returns the largest count - true seen. */
static double check_guarantee(const shop_ss_t *s, const exact_map_t *m, uint64_t n_total) {
    size_t k = shop_ss_capacity(s);
    shop_ss_entry_t *e = calloc(k, sizeof(*e));
    size_t n = shop_ss_entries(s, e, k);
    double worst = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)exact_get(m, e[i].item);
        assert_true(e[i].count - e[i].err <= t);
        assert_true(t <= e[i].count);
        if (e[i].count - t > worst)
            worst = e[i].count - t;
        sum += e[i].count;
    }
    assert_true(sum == (double)n_total); /* Space-Saving keeps the total */
    assert_true(shop_ss_min(s) <= (double)n_total / (double)k);
    for (size_t i = 0; i <= m->mask; i++)
        if (m->key[i] && (double)m->count[i] > (double)n_total / (double)k)
            assert_true(has(s, m->key[i]));
    free(e);
    return worst;
}

/* ---- 2. the acceptance test: Zipf, 6 partitions, merged top-10 ---- */

#define ZIPF_DISTINCT 100000
#define ZIPF_QUERIES  1000000
#define ZIPF_PARTS    6
#define ZIPF_K        1000
#define TOPN          10

typedef struct {
    char (*name)[16]; /* name[rank] */
    double *cum;      /* cumulative weights by rank */
} zipf_t;

static void zipf_init(zipf_t *z, shop_rng_t *rng, size_t distinct, double s_exp) {
    uint32_t *perm = malloc(distinct * sizeof(*perm));
    z->name = malloc(distinct * sizeof(*z->name));
    z->cum = malloc(distinct * sizeof(*z->cum));
    for (size_t i = 0; i < distinct; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = distinct - 1; i > 0; i--) { /* Fisher-Yates: rank != lexical order */
        size_t j = below(rng, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    double acc = 0;
    for (size_t r = 0; r < distinct; r++) {
        snprintf(z->name[r], sizeof(z->name[r]), "query-%06u", (unsigned)perm[r]);
        acc += pow((double)(r + 1), -s_exp);
        z->cum[r] = acc;
    }
    free(perm);
}

static void zipf_free(zipf_t *z) {
    free(z->name);
    free(z->cum);
}

/* Inverse CDF: the first rank whose cumulative weight exceeds u * total. */
static size_t zipf_draw(const zipf_t *z, size_t distinct, shop_rng_t *rng) {
    double u = uniform01(rng) * z->cum[distinct - 1];
    size_t lo = 0, hi = distinct - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void print_and_check_top(const char *title, const shop_ss_entry_t *got, size_t n,
                                const kc_t *want) {
    printf("%s\n  %-4s %-14s %10s %12s %8s\n", title, "rank", "query", "exact", "estimate", "err");
    assert_int_equal(n, TOPN);
    double max_abs = 0;
    for (size_t i = 0; i < TOPN; i++) {
        double t = (double)want[i].count;
        printf("  %-4zu %-14s %10llu %12.0f %8.0f %s\n", i + 1, got[i].item,
               (unsigned long long)want[i].count, got[i].count, got[i].err,
               strcmp(got[i].item, want[i].key) == 0 ? "" : "MISMATCH");
        assert_string_equal(got[i].item, want[i].key);
        assert_true(got[i].count - got[i].err <= t && t <= got[i].count);
        if (fabs(got[i].count - t) > max_abs)
            max_abs = fabs(got[i].count - t);
    }
    printf("  max |estimate - exact| over the top-%d: %.0f\n", TOPN, max_abs);
}

static void test_zipf_top10(void **state) {
    (void)state;
    int64_t t0 = shop_mono_us();
    shop_rng_t rng;
    shop_rng_seed(&rng, 20050105);
    zipf_t z;
    zipf_init(&z, &rng, ZIPF_DISTINCT, 1.0);
    shop_ss_t *part[ZIPF_PARTS], *single = shop_ss_new(ZIPF_K);
    exact_map_t all, pe[ZIPF_PARTS];
    uint64_t pn[ZIPF_PARTS] = {0};
    exact_init(&all, 1u << 18);
    for (int p = 0; p < ZIPF_PARTS; p++) {
        part[p] = shop_ss_new(ZIPF_K);
        exact_init(&pe[p], 1u << 17);
    }
    int64_t t1 = shop_mono_us();
    for (size_t q = 0; q < ZIPF_QUERIES; q++) {
        const char *name = z.name[zipf_draw(&z, ZIPF_DISTINCT, &rng)];
        uint64_t user = shop_rng_next(&rng) % 250000; /* synthetic user id -> partition */
        int p = (int)(shop_mix64(user ^ 0x5bd1e995u) % ZIPF_PARTS);
        size_t len = strlen(name);
        assert_int_equal(shop_ss_add(part[p], name, len, 1.0), SHOP_OK);
        assert_int_equal(shop_ss_add(single, name, len, 1.0), SHOP_OK);
        exact_add(&all, name);
        exact_add(&pe[p], name);
        pn[p]++;
    }
    int64_t t2 = shop_mono_us();

    /* Exact top-10, independently. */
    kc_t *kc = malloc(all.n * sizeof(*kc));
    size_t nk = 0;
    for (size_t i = 0; i <= all.mask; i++)
        if (all.key[i])
            kc[nk++] = (kc_t){all.key[i], all.count[i]};
    qsort(kc, nk, sizeof(*kc), kc_order);
    printf("zipf: %d queries, %zu distinct seen of %d, s=1.0, %d partitions, k=%d\n", ZIPF_QUERIES,
           nk, ZIPF_DISTINCT, ZIPF_PARTS, ZIPF_K);
    printf("  exact #10 %llu vs #11 %llu; N/k = %d (single), per partition N_p/k ~ %.0f\n",
           (unsigned long long)kc[9].count, (unsigned long long)kc[10].count, ZIPF_QUERIES / ZIPF_K,
           (double)ZIPF_QUERIES / ZIPF_PARTS / ZIPF_K);

    shop_ss_entry_t *merged = NULL;
    int64_t t3 = shop_mono_us();
    size_t n = shop_ss_merge((const shop_ss_t *const *)part, ZIPF_PARTS, TOPN, &merged);
    int64_t t4 = shop_mono_us();
    print_and_check_top("merged top-10 of 6 partition summaries:", merged, n, kc);
    shop_ss_merged_free(merged);

    shop_ss_entry_t top[TOPN];
    n = shop_ss_entries(single, top, TOPN);
    print_and_check_top("single summary top-10:", top, n, kc);

    /* The guarantee everywhere, including the merged union (every candidate). */
    double worst = check_guarantee(single, &all, ZIPF_QUERIES);
    printf("  single: min %.0f, worst overestimate among monitored %.0f\n", shop_ss_min(single),
           worst);
    double msum = 0;
    for (int p = 0; p < ZIPF_PARTS; p++) {
        worst = check_guarantee(part[p], &pe[p], pn[p]);
        printf("  partition %d: N=%llu min %.0f worst overestimate %.0f\n", p,
               (unsigned long long)pn[p], shop_ss_min(part[p]), worst);
        msum += shop_ss_min(part[p]);
    }
    n = shop_ss_merge((const shop_ss_t *const *)part, ZIPF_PARTS, (size_t)-1, &merged);
    double mworst = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)exact_get(&all, merged[i].item);
        assert_true(merged[i].count - merged[i].err <= t && t <= merged[i].count);
        if (merged[i].count - t > mworst)
            mworst = merged[i].count - t;
    }
    for (size_t i = 0; i < nk && (double)kc[i].count > msum; i++) { /* heavy => candidate */
        int found = 0;
        for (int p = 0; p < ZIPF_PARTS; p++)
            found |= has(part[p], kc[i].key);
        assert_true(found);
    }
    printf("  merged: %zu candidates, sum of minima %.0f (<= N/k = %d), worst overestimate "
           "%.0f\n",
           n, msum, ZIPF_QUERIES / ZIPF_K, mworst);
    assert_true(msum <= (double)ZIPF_QUERIES / ZIPF_K);
    shop_ss_merged_free(merged);

    /* Memory: linear in k, whatever the 100k distinct items. */
    size_t maxlen = strlen(z.name[0]), b = (maxlen + 1 + 15) & ~(size_t)15;
    size_t doc_bound = shop_ss_struct_size() + ZIPF_K * (2 * b + 112);
    size_t brief_bound = ZIPF_K * (maxlen + 128);
    for (int p = 0; p <= ZIPF_PARTS; p++) {
        size_t mem = shop_ss_memory(p < ZIPF_PARTS ? part[p] : single);
        if (p == ZIPF_PARTS || p == 0)
            printf("  memory %s: %zu bytes (%.1f per counter); bounds: documented %zu, "
                   "k*(maxlen+128) = %zu\n",
                   p < ZIPF_PARTS ? "partition 0" : "single", mem, (double)mem / ZIPF_K, doc_bound,
                   brief_bound);
        assert_true(mem <= doc_bound);
        assert_true(mem <= brief_bound);
    }
    printf("  time: setup %.0f ms, %d x 2 adds + exact map %.0f ms, merge top-10 %.2f ms\n",
           (double)(t1 - t0) / 1e3, ZIPF_QUERIES, (double)(t2 - t1) / 1e3, (double)(t4 - t3) / 1e3);

    free(kc);
    exact_free(&all);
    for (int p = 0; p < ZIPF_PARTS; p++) {
        shop_ss_destroy(part[p]);
        exact_free(&pe[p]);
    }
    shop_ss_destroy(single);
    zipf_free(&z);
}

/* ---- 3. snapshot, restore, continue: bit-identical ---- */

/* A stream of (item, weight): Zipf items, with weight 1, a small integer (many ties) or a
 * forward-decayed weight 2^((t - L)/h) for increasing event times t. */
typedef struct {
    const char *item;
    double w;
} ev_t;

static ev_t *make_stream(const zipf_t *z, size_t distinct, size_t n, int mode, shop_rng_t *rng) {
    ev_t *ev = malloc(n * sizeof(*ev));
    double t = 0, landmark = 0, h = 600;
    for (size_t i = 0; i < n; i++) {
        ev[i].item = z->name[zipf_draw(z, distinct, rng)];
        t += uniform01(rng) * 0.05;
        ev[i].w = mode == 0   ? 1.0
                  : mode == 1 ? (double)(1 + below(rng, 3))
                              : exp2((t - landmark) / h);
    }
    return ev;
}

static void feed(shop_ss_t *s, const ev_t *ev, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        assert_int_equal(shop_ss_add(s, ev[i].item, strlen(ev[i].item), ev[i].w), SHOP_OK);
}

static void assert_same(const shop_ss_t *a, const shop_ss_t *b) {
    size_t k = shop_ss_capacity(a);
    shop_ss_entry_t *ea = calloc(k, sizeof(*ea)), *eb = calloc(k, sizeof(*eb));
    size_t na = shop_ss_entries(a, ea, k);
    assert_int_equal(na, shop_ss_entries(b, eb, k));
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(ea[i].len, eb[i].len);
        assert_memory_equal(ea[i].item, eb[i].item, ea[i].len);
        assert_memory_equal(&ea[i].count, &eb[i].count, sizeof(double));
        assert_memory_equal(&ea[i].err, &eb[i].err, sizeof(double));
    }
    double ma = shop_ss_min(a), mb = shop_ss_min(b);
    assert_memory_equal(&ma, &mb, sizeof(double));
    free(ea);
    free(eb);
}

/* Snapshot `s` as the sink would persist it, and restore into a fresh summary in a shuffled
 * order. Returns the new summary. */
static shop_ss_t *snapshot_restore(const shop_ss_t *s, shop_rng_t *rng) {
    size_t k = shop_ss_capacity(s);
    shop_ss_entry_t *e = calloc(k, sizeof(*e));
    size_t n = shop_ss_entries(s, e, k);
    char **copy = calloc(n + 1, sizeof(*copy));
    for (size_t i = 0; i < n; i++) { /* deep copy: the sink's own storage */
        copy[i] = malloc(e[i].len + 1);
        memcpy(copy[i], e[i].item, e[i].len + 1);
        e[i].item = copy[i];
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = below(rng, i);
        shop_ss_entry_t t = e[i - 1];
        e[i - 1] = e[j];
        e[j] = t;
    }
    shop_ss_t *r = shop_ss_new(k);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(shop_ss_set(r, e[i].item, e[i].len, e[i].count, e[i].err), SHOP_OK);
    assert_int_equal(shop_ss_changed_count(r), n);
    shop_ss_clean(r);
    for (size_t i = 0; i < n; i++)
        free(copy[i]);
    free(copy);
    free(e);
    return r;
}

static void test_snapshot_restore(void **state) {
    (void)state;
    const size_t distinct = 20000, len = 150000, k = 200;
    shop_rng_t rng;
    shop_rng_seed(&rng, 777);
    zipf_t z;
    zipf_init(&z, &rng, distinct, 1.0);
    for (int mode = 0; mode < 3; mode++) {
        ev_t *ev = make_stream(&z, distinct, len, mode, &rng);
        for (int trial = 0; trial < 4; trial++) {
            size_t cut = trial == 0 ? 150 : 1 + below(&rng, len - 1); /* one cut before full */
            shop_ss_t *a = shop_ss_new(k);
            feed(a, ev, 0, cut);
            shop_ss_t *b = snapshot_restore(a, &rng);
            assert_same(a, b);
            size_t cut2 = cut + below(&rng, len - cut); /* crash again, restore the restored */
            feed(a, ev, cut, cut2);
            feed(b, ev, cut, cut2);
            assert_same(a, b);
            shop_ss_t *c = snapshot_restore(b, &rng);
            feed(a, ev, cut2, len);
            feed(b, ev, cut2, len);
            feed(c, ev, cut2, len);
            assert_same(a, b);
            assert_same(a, c);
            shop_ss_destroy(a);
            shop_ss_destroy(b);
            shop_ss_destroy(c);
        }
        free(ev);
    }
    zipf_free(&z);
}

/* ---- 4. dirty/evicted tracking ---- */

static void test_dirty_scripted(void **state) {
    (void)state;
    shop_ss_entry_t e[8];
    shop_ss_t *s = shop_ss_new(3);
    add_str(s, "b", 1);
    add_str(s, "a", 1);
    add_str(s, "c", 1);
    add_str(s, "a", 1);
    assert_int_equal(shop_ss_changed_count(s), 3);
    assert_int_equal(shop_ss_changed(s, e, 8), 3);
    assert_string_equal(e[0].item, "a");
    assert_true(e[0].count == 2);
    assert_int_equal(shop_ss_evicted(s, e, 8), 0);
    assert_false(shop_ss_needs_rewrite(s));
    shop_ss_clean(s);
    assert_int_equal(shop_ss_changed(s, e, 8), 0);

    add_str(s, "d", 1); /* evicts b (1, smaller than c) */
    assert_int_equal(shop_ss_changed(s, e, 8), 1);
    assert_string_equal(e[0].item, "d");
    assert_true(e[0].count == 2 && e[0].err == 1);
    assert_int_equal(shop_ss_evicted(s, e, 8), 1);
    assert_string_equal(e[0].item, "b");
    add_str(s, "b", 1); /* b comes back, evicting c: b is no longer "evicted" */
    assert_int_equal(shop_ss_changed(s, e, 8), 2);
    assert_string_equal(e[0].item, "b");
    assert_string_equal(e[1].item, "d");
    assert_int_equal(shop_ss_evicted(s, e, 8), 1);
    assert_string_equal(e[0].item, "c");
    shop_ss_clean(s);
    assert_int_equal(shop_ss_evicted_count(s), 0);
    assert_int_equal(shop_ss_changed_count(s), 0);

    /* Now a=2, b=2, d=2, all persisted. */
    add_str(s, "x", 1); /* evicts a */
    add_str(s, "y", 1); /* evicts b */
    add_str(s, "z", 1); /* evicts d */
    assert_int_equal(shop_ss_evicted(s, e, 8), 3);
    assert_string_equal(e[0].item, "a");
    assert_string_equal(e[2].item, "d");
    add_str(s, "w", 1); /* evicts x, which the sink never saw: not listed */
    add_str(s, "v", 1); /* evicts y */
    assert_false(has(s, "x"));
    assert_int_equal(shop_ss_evicted_count(s), 3);
    add_str(s, "a", 9); /* evicts z; a is back: listed as changed, no longer as evicted */
    assert_int_equal(shop_ss_evicted(s, e, 8), 2);
    assert_string_equal(e[0].item, "b");
    assert_string_equal(e[1].item, "d");
    assert_int_equal(shop_ss_changed(s, e, 8), 3);
    assert_string_equal(e[0].item, "a");
    assert_true(e[0].count == 12 && e[0].err == 3);
    assert_false(shop_ss_needs_rewrite(s));
    shop_ss_clean(s);
    add_str(s, "u", 1); /* evicts v, persisted by the clean */
    assert_int_equal(shop_ss_evicted(s, e, 8), 1);
    assert_string_equal(e[0].item, "v");
    shop_ss_clear(s); /* clear: the persisted copy must go */
    assert_true(shop_ss_needs_rewrite(s));
    assert_int_equal(shop_ss_changed_count(s), 0);
    assert_int_equal(shop_ss_evicted_count(s), 0);
    shop_ss_destroy(s);
}

/* A mirror of the persisted copy (the sink), updated from changed/evicted at each flush, must
 * always equal the summary. */
typedef struct {
    char item[8];
    size_t len;
    double count, err;
} mirror_t;

static size_t mirror_find(mirror_t *m, size_t n, const char *item, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (m[i].len == len && memcmp(m[i].item, item, len) == 0)
            return i;
    return n;
}

static int entry_cmp(const void *pa, const void *pb) {
    const shop_ss_entry_t *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return item_cmp(a->item, a->len, b->item, b->len);
}

/* The unordered listing holds the same entries as the sorted one (want[0, n)), and its first
 * three, when fewer than all are asked for, are the sorted first three. */
static void same_entries_unordered(const shop_ss_t *s, const shop_ss_entry_t *want, size_t n,
                                   size_t (*list)(const shop_ss_t *, shop_ss_entry_t *, size_t)) {
    shop_ss_entry_t got[16];
    assert_int_equal(list(s, got, 16), n);
    shop_sort(got, n, sizeof(got[0]), entry_cmp);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].len, want[i].len);
        assert_memory_equal(got[i].item, want[i].item, want[i].len);
        assert_true(got[i].count == want[i].count && got[i].err == want[i].err);
    }
    if (n > 3) {
        assert_int_equal(list(s, got, 3), 3);
        for (size_t i = 0; i < 3; i++)
            assert_memory_equal(got[i].item, want[i].item, want[i].len);
    }
}

static void test_dirty_mirror(void **state) {
    (void)state;
    const size_t k = 16;
    shop_rng_t rng;
    shop_rng_seed(&rng, 4242);
    shop_ss_t *s = shop_ss_new(k);
    mirror_t m[64];
    size_t mn = 0, rewrites = 0, flushes = 0, clears = 0, max_ev = 0;
    shop_ss_entry_t ch[16], ev[16], all[16];
    for (int round = 0; round < 3000; round++) {
        size_t adds = 1 + below(&rng, round % 10 == 0 ? 200 : 12);
        if (round % 500 == 250) {
            shop_ss_clear(s);
            clears++;
        }
        for (size_t i = 0; i < adds; i++) {
            char item[8];
            int len = snprintf(item, sizeof(item), "q%zu", below(&rng, below(&rng, 60) + 1));
            assert_int_equal(shop_ss_add(s, item, (size_t)len, (double)(1 + below(&rng, 2))),
                             SHOP_OK);
        }
        size_t nc = shop_ss_changed(s, ch, 16), ne = shop_ss_evicted(s, ev, 16);
        assert_int_equal(nc, shop_ss_changed_count(s));
        same_entries_unordered(s, ch, nc, shop_ss_changed_unordered);
        shop_ss_entry_t sorted_all[16];
        same_entries_unordered(s, sorted_all, shop_ss_entries(s, sorted_all, 16),
                               shop_ss_entries_unordered);
        assert_int_equal(ne, shop_ss_evicted_count(s));
        if (ne > max_ev)
            max_ev = ne;
        for (size_t i = 0; i < ne; i++) {
            assert_false(shop_ss_lookup(s, ev[i].item, ev[i].len, NULL, NULL));
            if (i > 0)
                assert_true(item_cmp(ev[i - 1].item, ev[i - 1].len, ev[i].item, ev[i].len) < 0);
        }
        if (shop_ss_needs_rewrite(s)) {
            assert_int_equal(ne, 0);
            mn = 0;
            nc = shop_ss_entries(s, ch, 16);
            rewrites++;
        }
        for (size_t i = 0; i < ne; i++) {
            size_t j = mirror_find(m, mn, ev[i].item, ev[i].len);
            assert_true(j < mn); /* only persisted items are reported evicted */
            m[j] = m[--mn];
        }
        for (size_t i = 0; i < nc; i++) {
            size_t j = mirror_find(m, mn, ch[i].item, ch[i].len);
            if (j == mn)
                mn++;
            memcpy(m[j].item, ch[i].item, ch[i].len);
            m[j].len = ch[i].len;
            m[j].count = ch[i].count;
            m[j].err = ch[i].err;
        }
        shop_ss_clean(s);
        flushes++;
        size_t na = shop_ss_entries(s, all, 16);
        assert_int_equal(na, mn);
        for (size_t i = 0; i < na; i++) {
            size_t j = mirror_find(m, mn, all[i].item, all[i].len);
            assert_true(j < mn);
            assert_true(m[j].count == all[i].count && m[j].err == all[i].err);
        }
    }
    printf("dirty mirror: %zu flushes, %zu full rewrites (%zu clears), largest evicted list %zu "
           "(k=%zu)\n",
           flushes, rewrites, clears, max_ev, k);
    assert_int_equal(rewrites, clears);
    shop_ss_destroy(s);
}

/* ---- merge on a hand-checked case ---- */

static void test_merge_small(void **state) {
    (void)state;
    shop_ss_t *a = shop_ss_new(2), *b = shop_ss_new(3), *c = shop_ss_new(2);
    add_str(a, "x", 5);
    add_str(a, "y", 2);
    add_str(a, "z", 1); /* evicts y: z = 3 err 2; a's min is 3 */
    add_str(b, "x", 1);
    add_str(b, "w", 4); /* b is not full: min 0 */
    const shop_ss_t *v[3] = {a, b, c};
    shop_ss_entry_t *out;
    size_t n = shop_ss_merge(v, 3, 10, &out);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].item, "w"); /* 3 (a's min) + 4 = 7, err 3 */
    assert_true(out[0].count == 7 && out[0].err == 3);
    assert_string_equal(out[1].item, "x"); /* 5 + 1 = 6, err 0 */
    assert_true(out[1].count == 6 && out[1].err == 0);
    assert_string_equal(out[2].item, "z"); /* 3 + 0 = 3, err 2 */
    assert_true(out[2].count == 3 && out[2].err == 2);
    shop_ss_merged_free(out);
    assert_int_equal(shop_ss_merge(v, 3, 1, &out), 1);
    assert_string_equal(out[0].item, "w");
    shop_ss_merged_free(out);
    assert_int_equal(shop_ss_merge(v, 0, 10, &out), 0);
    assert_null(out);
    assert_int_equal(shop_ss_merge(v + 2, 1, 10, &out), 0); /* only an empty summary */
    assert_null(out);
    shop_ss_destroy(a);
    shop_ss_destroy(b);
    shop_ss_destroy(c);
}

/* ---- memory stays bounded by k ---- */

static void test_memory_bound(void **state) {
    (void)state;
    const size_t k = 64;
    shop_rng_t rng;
    shop_rng_seed(&rng, 99);
    shop_ss_t *s = shop_ss_new(k);
    char *item = malloc(SHOP_SS_MAX_ITEM);
    size_t mem_mid = 0;
    for (size_t i = 0; i < 100000; i++) {
        size_t len = below(&rng, SHOP_SS_MAX_ITEM + 1);
        for (size_t j = 0; j < len; j++)
            item[j] = (char)shop_rng_next(&rng);
        assert_int_equal(shop_ss_add(s, item, len, 1.0), SHOP_OK);
        if (i % 1000 == 999)
            shop_ss_clean(s); /* like a flush */
        if (i == 9999)
            mem_mid = shop_ss_memory(s);
    }
    size_t mem = shop_ss_memory(s);
    size_t bound = shop_ss_struct_size() + k * (2 * 1040 + 112);
    printf("memory, k=%zu, 100000 distinct items up to %d bytes: %zu bytes after 10k, %zu after "
           "100k (bound %zu)\n",
           k, SHOP_SS_MAX_ITEM, mem_mid, mem, bound);
    assert_true(mem <= bound);
    assert_true(mem <= mem_mid + 2 * k * 16); /* saturated: no growth with distinct items */
    free(item);
    shop_ss_destroy(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_small),    cmocka_unit_test(test_eviction_ties),
        cmocka_unit_test(test_invalid),        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_zipf_top10),     cmocka_unit_test(test_snapshot_restore),
        cmocka_unit_test(test_dirty_scripted), cmocka_unit_test(test_dirty_mirror),
        cmocka_unit_test(test_merge_small),    cmocka_unit_test(test_memory_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
