/* spacesaving.h: Space-Saving top-k / heavy-hitter summary (Metwally, Agrawal & El Abbadi, ICDT
 * 2005) with deterministic eviction, dirty tracking for incremental persistence and a reading
 * merge over several summaries (Agarwal et al., "Mergeable Summaries", PODS 2012). */
#ifndef SHOP_SPACESAVING_H
#define SHOP_SPACESAVING_H

#include <stddef.h>

/* Items are byte strings of 0..SHOP_SS_MAX_ITEM bytes (any bytes, NUL included). */
#define SHOP_SS_MAX_ITEM 1024
/* Largest capacity shop_ss_new accepts. */
#define SHOP_SS_MAX_K (1u << 24)

/* Determinism contract (what the worker's crash recovery relies on):
 * - The whole state is the set of (item, count, err) triples, nothing else: a summary rebuilt
 *   with shop_ss_set from shop_ss_entries (in any order) behaves bit-identically to the
 *   original under the same later calls. Hash layout and heap shape never affect a result.
 * - Counts are doubles summed in arrival order (count += w); the caller's weights decide
 *   whether they are integers (exact up to 2^53) or forward-decayed weights.
 * - Eviction is total-ordered: the counter with the smallest count goes, ties broken by the
 *   smallest item (memcmp over the common length, then the shorter one first). */
typedef struct shop_ss shop_ss_t;

/* One counter. `item` points into storage owned by the summary (or by a merge result, see
 * shop_ss_merge); it is NUL-terminated for convenience, but `len` is authoritative. Upper
 * bound: count; lower bound: count - err (both w.r.t. the weights added). */
typedef struct {
    const char *item;
    size_t len;
    double count;
    double err;
} shop_ss_entry_t;

/* k counters, 1 <= k <= SHOP_SS_MAX_K. Returns a heap object the caller releases with
 * shop_ss_destroy, or NULL when k is out of range. */
shop_ss_t *shop_ss_new(size_t k);
void shop_ss_destroy(shop_ss_t *s);

/* Forgets every counter (memory is kept for reuse). Sets the rewrite flag (see
 * shop_ss_needs_rewrite): the persisted copy must be replaced wholesale. */
void shop_ss_clear(shop_ss_t *s);

/* Adds weight w (> 0, finite) to `item` (borrowed, len <= SHOP_SS_MAX_ITEM; may be NULL when
 * len is 0). When the item is not monitored and the summary is full, the minimum counter
 * (count m) is evicted and the item takes it over with count m + w and err m. O(log k).
 * Returns 0, or SHOP_ERR_INVALID (nothing changed) for a bad w or len, or when the new count
 * would not be finite. */
int shop_ss_add(shop_ss_t *s, const char *item, size_t len, double w);

/* Restores one counter (item borrowed) into a summary being rebuilt from a snapshot. Requires
 * 0 < count, 0 <= err <= count, both finite. Returns 0, or SHOP_ERR_INVALID when the values or
 * len are bad, the item is already present, or the summary is full. Marks the counter changed
 * like shop_ss_add does; call shop_ss_clean once the snapshot is loaded. */
int shop_ss_set(shop_ss_t *s, const char *item, size_t len, double count, double err);

size_t shop_ss_size(const shop_ss_t *s);
size_t shop_ss_capacity(const shop_ss_t *s);

/* The smallest count while full, else 0: an upper bound on the weight of any unmonitored item
 * (at most N/k for a total weight N). */
double shop_ss_min(const shop_ss_t *s);

/* Returns 1 and fills *count and *err (either may be NULL) when `item` (borrowed) is monitored,
 * else 0. */
int shop_ss_lookup(const shop_ss_t *s, const char *item, size_t len, double *count, double *err);

/* Writes up to `max` counters to out[], by count descending then item ascending (the same
 * total order as eviction, reversed); returns how many were written. Items point into the
 * summary: valid until the next add/set/clear/clean/destroy. */
size_t shop_ss_entries(const shop_ss_t *s, shop_ss_entry_t *out, size_t max);
/* The same in no particular order when max covers them all (a sink's write: sorting was a fifth
 * of the search worker's flush), else the first `max` of that order. */
size_t shop_ss_entries_unordered(const shop_ss_t *s, shop_ss_entry_t *out, size_t max);

/* Dirty tracking, so that a flush writes only what moved since the last shop_ss_clean (the
 * sink then holds exactly the entries as of that clean):
 * - changed: every monitored item whose counter was added or modified (count desc, item asc),
 *   to be written;
 * - evicted: every item held at the last clean that is no longer monitored (item asc;
 *   count/err are 0), to be deleted. An item evicted and back again is not listed (it is in
 *   changed); one that entered and left between two cleans is not listed either (the sink
 *   never saw it), so the list never holds more than k items.
 * - the rewrite flag: the sink must drop its copy and write all entries. Set by shop_ss_clear
 *   (and, as a safety net, if the evicted list would ever exceed k; it then stays empty).
 * The list functions write up to `max` entries, return how many were written, and borrow the
 * summary's storage exactly like shop_ss_entries. The _count functions give the full sizes. */
size_t shop_ss_changed(const shop_ss_t *s, shop_ss_entry_t *out, size_t max);
size_t shop_ss_changed_count(const shop_ss_t *s);
size_t shop_ss_changed_unordered(const shop_ss_t *s, shop_ss_entry_t *out, size_t max); /* ditto */
size_t shop_ss_evicted(const shop_ss_t *s, shop_ss_entry_t *out, size_t max);
size_t shop_ss_evicted_count(const shop_ss_t *s);
int shop_ss_needs_rewrite(const shop_ss_t *s);
/* Forgets the changed and evicted lists and the rewrite flag (after a successful flush). */
void shop_ss_clean(shop_ss_t *s);

/* Bytes allocated for this summary (requested sizes, not malloc overhead). Bounded by k, never
 * by the number of distinct items seen: at most
 *   shop_ss_struct_size() + k * (2 * B + 112),
 *   B = (longest item added since shop_ss_new + 1) rounded up to a multiple of 16,
 * i.e. under 2.2 KiB per counter even with 1024-byte items (item buffers are reused, not
 * freed, so B does not shrink). */
size_t shop_ss_memory(const shop_ss_t *s);
/* Fixed size of the summary object, for the bound above. */
size_t shop_ss_struct_size(void);

/* Reading merge of n summaries (e.g. one per Kafka partition) into top-k of the union stream.
 * Candidates are the items monitored by any summary; an item's count is the sum over
 * j = 0..n-1, in that order, of count_j when summary j monitors it, else shop_ss_min(j), and
 * its err the same sum of err_j or shop_ss_min(j). Adding the minimum for an absent item keeps
 * Space-Saving's guarantee on the union (count - err <= true weight <= count), and any item of
 * true weight above sum_j shop_ss_min(j) (<= N/k for n summaries of capacity k and total
 * weight N) is a candidate; with no summary full this is plain counter summation (Agarwal et
 * al. 2012). Writes the top `max` by count desc then item asc into *out, one heap block
 * (entries and NUL-terminated item bytes) the caller releases with shop_ss_merged_free, and
 * returns how many; *out is NULL when none. The summaries are only read; n may be 0. */
size_t shop_ss_merge(const shop_ss_t *const *s, size_t n, size_t max, shop_ss_entry_t **out);
void shop_ss_merged_free(shop_ss_entry_t *out);

#endif
