/* spacesaving.c: Space-Saving (A. Metwally, D. Agrawal, A. El Abbadi, "Efficient Computation of
 * Frequent and Top-k Elements in Data Streams", ICDT 2005) with a deterministic eviction order.
 *
 * k counters (item, count, err). A monitored item's count grows by w; an unmonitored one takes
 * over the minimum counter m, becoming (item, m + w, m). Invariants (exact arithmetic): the
 * counts sum to the total weight N, m <= N/k, and count - err <= true weight <= count; so every
 * item heavier than N/k is monitored.
 *
 * The paper keeps counters in a "stream summary" of buckets of equal count, which leaves the
 * choice among equal minima to list order, i.e. to history. Here the minimum is taken under the
 * total order (count, item bytes) from a binary min-heap, and items are found through an
 * open-addressing hash (linear probing, backward-shift deletion, no tombstones), so add is
 * O(log k) and every result is a function of the (item, count, err) set alone: a summary
 * restored from its triples continues bit-identically (crash recovery in the search worker).
 *
 * Merging for reads follows P. K. Agarwal, G. Cormode, Z. Huang, J. M. Phillips, Z. Wei,
 * K. Yi, "Mergeable Summaries", PODS 2012 (counters of summaries are summed); an item missing
 * from a full summary is charged that summary's minimum, as in M. Cafaro, M. Pulimeno,
 * P. Tempesta, "A parallel space saving algorithm for frequent items and the Hurwitz zeta
 * distribution", Information Sciences 2016, so the upper/lower bounds still hold.
 *
 * Memory is bounded by k: counters own item buffers that are reused (grown only to the longest
 * item held), and the evicted list is capped at k entries whose buffers are swapped with the
 * counters' rather than copied. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"
#include "spacesaving.h"

#define EMPTY     UINT32_MAX
#define DIRTY     1 /* counter changed since the last clean (it is in dlist) */
#define PERSISTED 2 /* its item was held at the last clean, so the sink has it */

/* An item buffer: NUL-terminated bytes, with the item's hash cached for probing. */
typedef struct {
    char *buf;
    uint32_t len;
    uint32_t cap;
    uint32_t hash;
} ss_str_t;

/* item -> index into an ss_str_t array; 2x to 4x as many slots as entries. */
typedef struct {
    uint32_t *slot;
    size_t mask;
} ss_table_t;

struct shop_ss {
    size_t k, n;
    ss_str_t *str;   /* [k] counter items */
    double *count;   /* [k] */
    double *err;     /* [k] */
    uint32_t *heap;  /* [n] counter indices, min-heap on (count, item) */
    uint32_t *pos;   /* [k] heap position of each counter */
    uint8_t *flags;  /* [k] DIRTY, PERSISTED */
    uint32_t *dlist; /* [n_dirty] dirty counters, each once */
    size_t n_dirty;
    ss_table_t tab; /* counter items */
    ss_str_t *ev;   /* [n_ev] evicted items (ev_cap slots allocated, <= k) */
    size_t n_ev, ev_cap;
    ss_table_t evtab; /* evicted items */
    int rewrite;
    size_t buf_bytes; /* sum of every buffer's cap */
};

static uint32_t hash_bytes(const char *p, size_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = shop_mix64(h ^ w);
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = shop_mix64(h ^ w ^ 0xff51afd7ed558ccdull);
    }
    return (uint32_t)(h >> 32);
}

/* memcmp over the common length, then the shorter first. */
static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    size_t m = alen < blen ? alen : blen;
    int c = m > 0 ? memcmp(a, b, m) : 0;
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

static int str_eq(const ss_str_t *x, uint32_t h, const char *item, size_t len) {
    return x->hash == h && x->len == len && (len == 0 || memcmp(x->buf, item, len) == 0);
}

/* Copies item into x, growing its buffer (multiples of 16) when needed. */
static void str_assign(shop_ss_t *s, ss_str_t *x, const char *item, size_t len, uint32_t h) {
    if (x->cap < len + 1) {
        size_t cap = (len + 1 + 15) & ~(size_t)15;
        x->buf = shop_xrealloc(x->buf, cap);
        s->buf_bytes += cap - x->cap;
        x->cap = (uint32_t)cap;
    }
    if (len > 0)
        memcpy(x->buf, item, len);
    x->buf[len] = '\0';
    x->len = (uint32_t)len;
    x->hash = h;
}

static void table_init(ss_table_t *t, size_t k) {
    size_t n = 1;
    while (n < 2 * k)
        n <<= 1;
    t->slot = shop_xmalloc(n * sizeof(*t->slot));
    memset(t->slot, 0xff, n * sizeof(*t->slot));
    t->mask = n - 1;
}

static void table_reset(ss_table_t *t) {
    memset(t->slot, 0xff, (t->mask + 1) * sizeof(*t->slot));
}

/* The slot holding `item`, or the empty slot where it would go. */
static size_t table_find(const ss_table_t *t, const ss_str_t *strs, uint32_t h, const char *item,
                         size_t len) {
    size_t i = h & t->mask;
    while (t->slot[i] != EMPTY && !str_eq(&strs[t->slot[i]], h, item, len))
        i = (i + 1) & t->mask;
    return i;
}

/* The slot holding index idx (which must be present). */
static size_t table_find_idx(const ss_table_t *t, const ss_str_t *strs, uint32_t idx) {
    size_t i = strs[idx].hash & t->mask;
    while (t->slot[i] != idx)
        i = (i + 1) & t->mask;
    return i;
}

/* Backward-shift deletion: later entries of the probe run move up, so no tombstones pile up. */
static void table_delete(ss_table_t *t, const ss_str_t *strs, size_t i) {
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slot[j] == EMPTY)
            break;
        size_t home = strs[t->slot[j]].hash & t->mask;
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slot[i] = t->slot[j];
            i = j;
        }
    }
    t->slot[i] = EMPTY;
}

/* ---- heap on (count, item) ---- */

static int ss_less(const shop_ss_t *s, uint32_t a, uint32_t b) {
    if (s->count[a] != s->count[b])
        return s->count[a] < s->count[b];
    return bytes_cmp(s->str[a].buf, s->str[a].len, s->str[b].buf, s->str[b].len) < 0;
}

static void heap_put(shop_ss_t *s, size_t i, uint32_t c) {
    s->heap[i] = c;
    s->pos[c] = (uint32_t)i;
}

static void sift_up(shop_ss_t *s, size_t i) {
    uint32_t c = s->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ss_less(s, c, s->heap[p]))
            break;
        heap_put(s, i, s->heap[p]);
        i = p;
    }
    heap_put(s, i, c);
}

static void sift_down(shop_ss_t *s, size_t i) {
    uint32_t c = s->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m;
        if (l >= s->n)
            break;
        m = (l + 1 < s->n && ss_less(s, s->heap[l + 1], s->heap[l])) ? l + 1 : l;
        if (!ss_less(s, s->heap[m], c))
            break;
        heap_put(s, i, s->heap[m]);
        i = m;
    }
    heap_put(s, i, c);
}

/* ---- lifecycle ---- */

shop_ss_t *shop_ss_new(size_t k) {
    if (k < 1 || k > SHOP_SS_MAX_K)
        return NULL;
    shop_ss_t *s = shop_xcalloc(1, sizeof(*s));
    s->k = k;
    s->str = shop_xcalloc(k, sizeof(*s->str));
    s->count = shop_xcalloc(k, sizeof(*s->count));
    s->err = shop_xcalloc(k, sizeof(*s->err));
    s->heap = shop_xcalloc(k, sizeof(*s->heap));
    s->pos = shop_xcalloc(k, sizeof(*s->pos));
    s->flags = shop_xcalloc(k, sizeof(*s->flags));
    s->dlist = shop_xcalloc(k, sizeof(*s->dlist));
    table_init(&s->tab, k);
    table_init(&s->evtab, k);
    return s;
}

void shop_ss_destroy(shop_ss_t *s) {
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->k; i++)
        free(s->str[i].buf);
    for (size_t i = 0; i < s->ev_cap; i++)
        free(s->ev[i].buf);
    free(s->str);
    free(s->count);
    free(s->err);
    free(s->heap);
    free(s->pos);
    free(s->flags);
    free(s->dlist);
    free(s->tab.slot);
    free(s->ev);
    free(s->evtab.slot);
    free(s);
}

static void evicted_reset(shop_ss_t *s) {
    if (s->n_ev > 0)
        table_reset(&s->evtab);
    s->n_ev = 0;
}

void shop_ss_clean(shop_ss_t *s) {
    /* Counters off the list were already persisted; the listed ones are now. */
    for (size_t i = 0; i < s->n_dirty; i++)
        s->flags[s->dlist[i]] = PERSISTED;
    s->n_dirty = 0;
    evicted_reset(s);
    s->rewrite = 0;
}

void shop_ss_clear(shop_ss_t *s) {
    shop_ss_clean(s);
    s->n = 0;
    memset(s->flags, 0, s->k * sizeof(*s->flags));
    table_reset(&s->tab);
    s->rewrite = 1;
}

/* ---- dirty and evicted tracking ---- */

static void mark_dirty(shop_ss_t *s, uint32_t c) {
    if (!(s->flags[c] & DIRTY)) {
        s->flags[c] |= DIRTY;
        s->dlist[s->n_dirty++] = c;
    }
}

/* An item that comes back is no longer "evicted": swap-remove it from the list. Returns whether
 * it was listed, i.e. whether the sink still holds it. */
static int evicted_forget(shop_ss_t *s, const char *item, size_t len, uint32_t h) {
    if (s->n_ev == 0)
        return 0;
    size_t i = table_find(&s->evtab, s->ev, h, item, len);
    uint32_t e = s->evtab.slot[i];
    if (e == EMPTY)
        return 0;
    table_delete(&s->evtab, s->ev, i);
    uint32_t last = (uint32_t)(s->n_ev - 1);
    if (e != last) {
        size_t j = table_find_idx(&s->evtab, s->ev, last);
        ss_str_t tmp = s->ev[e];
        s->ev[e] = s->ev[last];
        s->ev[last] = tmp; /* keep the spare buffer */
        s->evtab.slot[j] = e;
    }
    s->n_ev--;
    return 1;
}

/* Records counter c's current item as evicted by swapping its buffer into the list (the counter
 * gets the slot's spare buffer back). Only items the sink holds are listed, so the list never
 * exceeds the k items held at the last clean; the overflow branch is a safety net. */
static void evicted_push(shop_ss_t *s, uint32_t c) {
    if (s->rewrite)
        return;
    if (s->n_ev == s->k) {
        evicted_reset(s);
        s->rewrite = 1;
        return;
    }
    if (s->n_ev == s->ev_cap) {
        size_t cap = s->ev_cap ? 2 * s->ev_cap : 16;
        if (cap > s->k)
            cap = s->k;
        s->ev = shop_xrealloc(s->ev, cap * sizeof(*s->ev));
        memset(s->ev + s->ev_cap, 0, (cap - s->ev_cap) * sizeof(*s->ev));
        s->ev_cap = cap;
    }
    uint32_t e = (uint32_t)s->n_ev++;
    ss_str_t tmp = s->ev[e];
    s->ev[e] = s->str[c];
    s->str[c] = tmp;
    size_t i = table_find(&s->evtab, s->ev, s->ev[e].hash, s->ev[e].buf, s->ev[e].len);
    s->evtab.slot[i] = e;
}

/* ---- updates ---- */

static int valid_item(const char *item, size_t len) {
    return len <= SHOP_SS_MAX_ITEM && (item != NULL || len == 0);
}

/* Puts a new counter for item in slot s->n (not full). */
static void insert_new(shop_ss_t *s, const char *item, size_t len, uint32_t h, size_t tpos,
                       double count, double err) {
    uint32_t c = (uint32_t)s->n;
    s->flags[c] = evicted_forget(s, item, len, h) ? PERSISTED : 0;
    str_assign(s, &s->str[c], item, len, h);
    s->count[c] = count;
    s->err[c] = err;
    s->tab.slot[tpos] = c;
    s->heap[s->n++] = c;
    sift_up(s, s->n - 1);
    mark_dirty(s, c);
}

int shop_ss_add(shop_ss_t *s, const char *item, size_t len, double w) {
    if (!valid_item(item, len) || !(w > 0) || !isfinite(w))
        return SHOP_ERR_INVALID;
    uint32_t h = hash_bytes(item, len);
    size_t tpos = table_find(&s->tab, s->str, h, item, len);
    uint32_t c = s->tab.slot[tpos];
    if (c != EMPTY) {
        double nc = s->count[c] + w;
        if (!isfinite(nc))
            return SHOP_ERR_INVALID;
        s->count[c] = nc;
        sift_down(s, s->pos[c]);
        mark_dirty(s, c);
        return SHOP_OK;
    }
    if (s->n < s->k) {
        insert_new(s, item, len, h, tpos, w, 0.0);
        return SHOP_OK;
    }
    c = s->heap[0];
    double m = s->count[c];
    if (!isfinite(m + w))
        return SHOP_ERR_INVALID;
    table_delete(&s->tab, s->str, table_find_idx(&s->tab, s->str, c));
    if (s->flags[c] & PERSISTED)
        evicted_push(s, c); /* an item that never reached the sink needs no delete */
    int back = evicted_forget(s, item, len, h);
    s->flags[c] = (uint8_t)((s->flags[c] & DIRTY) | (back ? PERSISTED : 0));
    str_assign(s, &s->str[c], item, len, h);
    s->tab.slot[table_find(&s->tab, s->str, h, item, len)] = c;
    s->count[c] = m + w;
    s->err[c] = m;
    sift_down(s, 0);
    mark_dirty(s, c);
    return SHOP_OK;
}

int shop_ss_set(shop_ss_t *s, const char *item, size_t len, double count, double err) {
    if (!valid_item(item, len) || !isfinite(count) || !isfinite(err) || !(count > 0) ||
        !(err >= 0) || err > count || s->n >= s->k)
        return SHOP_ERR_INVALID;
    uint32_t h = hash_bytes(item, len);
    size_t tpos = table_find(&s->tab, s->str, h, item, len);
    if (s->tab.slot[tpos] != EMPTY)
        return SHOP_ERR_INVALID;
    insert_new(s, item, len, h, tpos, count, err == 0 ? 0.0 : err); /* no -0.0 */
    return SHOP_OK;
}

/* ---- queries ---- */

size_t shop_ss_size(const shop_ss_t *s) {
    return s->n;
}

size_t shop_ss_capacity(const shop_ss_t *s) {
    return s->k;
}

double shop_ss_min(const shop_ss_t *s) {
    return s->n < s->k ? 0.0 : s->count[s->heap[0]];
}

int shop_ss_lookup(const shop_ss_t *s, const char *item, size_t len, double *count, double *err) {
    if (!valid_item(item, len))
        return 0;
    uint32_t c = s->tab.slot[table_find(&s->tab, s->str, hash_bytes(item, len), item, len)];
    if (c == EMPTY)
        return 0;
    if (count != NULL)
        *count = s->count[c];
    if (err != NULL)
        *err = s->err[c];
    return 1;
}

/* Count descending, then item ascending. */
static int entry_order(const void *pa, const void *pb) {
    const shop_ss_entry_t *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return bytes_cmp(a->item, a->len, b->item, b->len);
}

static int item_order(const void *pa, const void *pb) {
    const shop_ss_entry_t *a = pa, *b = pb;
    return bytes_cmp(a->item, a->len, b->item, b->len);
}

static shop_ss_entry_t counter_entry(const shop_ss_t *s, uint32_t c) {
    shop_ss_entry_t e = {s->str[c].buf, s->str[c].len, s->count[c], s->err[c]};
    return e;
}

/* Sorts tmp[0..n) (unless all of it is wanted in any order: cmp NULL) and copies the first `max`
 * to out; frees tmp. */
static size_t sorted_copy(shop_ss_entry_t *tmp, size_t n, shop_ss_entry_t *out, size_t max,
                          int (*cmp)(const void *, const void *)) {
    if (cmp || max < n)
        shop_sort(tmp, n, sizeof(*tmp), cmp ? cmp : entry_order);
    if (max > n)
        max = n;
    if (max > 0)
        memcpy(out, tmp, max * sizeof(*tmp));
    free(tmp);
    return max;
}

static size_t entries(const shop_ss_t *s, shop_ss_entry_t *out, size_t max,
                      int (*cmp)(const void *, const void *)) {
    if (s->n == 0 || max == 0)
        return 0;
    shop_ss_entry_t *tmp = shop_xmalloc(s->n * sizeof(*tmp));
    for (size_t i = 0; i < s->n; i++)
        tmp[i] = counter_entry(s, (uint32_t)i);
    return sorted_copy(tmp, s->n, out, max, cmp);
}

size_t shop_ss_entries(const shop_ss_t *s, shop_ss_entry_t *out, size_t max) {
    return entries(s, out, max, entry_order);
}

size_t shop_ss_entries_unordered(const shop_ss_t *s, shop_ss_entry_t *out, size_t max) {
    return entries(s, out, max, NULL);
}

static size_t changed(const shop_ss_t *s, shop_ss_entry_t *out, size_t max,
                      int (*cmp)(const void *, const void *)) {
    if (s->n_dirty == 0 || max == 0)
        return 0;
    shop_ss_entry_t *tmp = shop_xmalloc(s->n_dirty * sizeof(*tmp));
    for (size_t i = 0; i < s->n_dirty; i++)
        tmp[i] = counter_entry(s, s->dlist[i]);
    return sorted_copy(tmp, s->n_dirty, out, max, cmp);
}

size_t shop_ss_changed(const shop_ss_t *s, shop_ss_entry_t *out, size_t max) {
    return changed(s, out, max, entry_order);
}

size_t shop_ss_changed_unordered(const shop_ss_t *s, shop_ss_entry_t *out, size_t max) {
    return changed(s, out, max, NULL);
}

size_t shop_ss_changed_count(const shop_ss_t *s) {
    return s->n_dirty;
}

size_t shop_ss_evicted(const shop_ss_t *s, shop_ss_entry_t *out, size_t max) {
    if (s->n_ev == 0 || max == 0)
        return 0;
    shop_ss_entry_t *tmp = shop_xmalloc(s->n_ev * sizeof(*tmp));
    for (size_t i = 0; i < s->n_ev; i++) {
        shop_ss_entry_t e = {s->ev[i].buf, s->ev[i].len, 0.0, 0.0};
        tmp[i] = e;
    }
    return sorted_copy(tmp, s->n_ev, out, max, item_order);
}

size_t shop_ss_evicted_count(const shop_ss_t *s) {
    return s->n_ev;
}

int shop_ss_needs_rewrite(const shop_ss_t *s) {
    return s->rewrite;
}

size_t shop_ss_struct_size(void) {
    return sizeof(shop_ss_t);
}

size_t shop_ss_memory(const shop_ss_t *s) {
    size_t per_counter = sizeof(ss_str_t) + 2 * sizeof(double) + 3 * sizeof(uint32_t) + 1;
    return sizeof(*s) + s->k * per_counter + s->ev_cap * sizeof(ss_str_t) +
           (s->tab.mask + 1 + s->evtab.mask + 1) * sizeof(uint32_t) + s->buf_bytes;
}

/* ---- reading merge ---- */

/* Is the item of entry e monitored by any of s[0..j)? Then it was already collected. */
static int seen_before(const shop_ss_t *const *s, size_t j, const shop_ss_entry_t *e) {
    for (size_t i = 0; i < j; i++)
        if (shop_ss_lookup(s[i], e->item, e->len, NULL, NULL))
            return 1;
    return 0;
}

/* Sums over summaries in index order, charging an absent item the summary's minimum. */
static void merged_sums(const shop_ss_t *const *s, size_t n, shop_ss_entry_t *e) {
    double count = 0, err = 0;
    for (size_t j = 0; j < n; j++) {
        double c, r;
        if (!shop_ss_lookup(s[j], e->item, e->len, &c, &r))
            c = r = shop_ss_min(s[j]);
        count += c;
        err += r;
    }
    e->count = count;
    e->err = err;
}

size_t shop_ss_merge(const shop_ss_t *const *s, size_t n, size_t max, shop_ss_entry_t **out) {
    size_t total = 0, m = 0, bytes = 0;
    *out = NULL;
    for (size_t j = 0; j < n; j++)
        total += s[j]->n;
    if (total == 0 || max == 0)
        return 0;
    shop_ss_entry_t *cand = shop_xmalloc(total * sizeof(*cand));
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < s[j]->n; i++) {
            shop_ss_entry_t e = counter_entry(s[j], (uint32_t)i);
            if (seen_before(s, j, &e))
                continue;
            merged_sums(s, n, &e);
            cand[m++] = e;
        }
    }
    shop_sort(cand, m, sizeof(*cand), entry_order);
    if (max > m)
        max = m;
    for (size_t i = 0; i < max; i++)
        bytes += cand[i].len + 1;
    shop_ss_entry_t *res = shop_xmalloc(max * sizeof(*res) + bytes);
    char *p = (char *)(res + max);
    for (size_t i = 0; i < max; i++) {
        res[i] = cand[i];
        if (cand[i].len > 0)
            memcpy(p, cand[i].item, cand[i].len);
        p[cand[i].len] = '\0';
        res[i].item = p;
        p += cand[i].len + 1;
    }
    free(cand);
    *out = res;
    return max;
}

void shop_ss_merged_free(shop_ss_entry_t *out) {
    free(out);
}
