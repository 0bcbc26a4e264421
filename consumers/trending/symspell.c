/* symspell.c: symmetric-delete spelling correction (Wolf Garbe, "SymSpell", 2012; "1000x faster
 * spelling correction algorithm", https://github.com/wolfgarbe/SymSpell), written here from the
 * idea: every dictionary word is indexed under the strings left after deleting up to
 * max_distance code points of its first prefix_length code points; a lookup generates the same
 * deletes of the input and only has to verify the words found under them, instead of generating
 * all edits (Norvig). Candidates are ranked by a noisy channel, ln P(word) - lambda * cost(typo)
 * (spell_cost.c), rather than distance first.
 *
 * Memory: the deletes are not stored, only a 64-bit hash of each (a collision merely adds a
 * candidate that verification rejects) pointing at a chain of 8-byte (word id, next) nodes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "shop.h"
#include "symspell.h"
#include "symspell_int.h"

#define MAX_PREFIX  16
#define MAX_DELETES 1024 /* sum of C(16, k) for k <= 3 is 697 */
#define LAMBDA      5.0  /* ln-frequency units per unit of typo cost */
#define MAXW        SHOP_SYMSPELL_MAX_WORD

typedef struct {
    uint64_t hash;
    uint64_t count;
    uint32_t text_off; /* NUL-terminated UTF-8 in s->text */
    uint32_t cp_off;   /* code points in s->cps */
    uint32_t cp_len;
    float lnc; /* ln(count + 1), the log prior */
} word_t;

typedef struct {
    uint64_t hash;
    uint32_t head; /* node index + 1; 0 marks an empty slot */
} dslot_t;

/* A node packs the word id (low 26 bits) with its length in code points - 1 (high 6 bits), so
 * the length filter does not have to touch the word. */
#define ID_BITS 26
#define ID_MASK ((1u << ID_BITS) - 1)

typedef struct {
    uint32_t word;
    uint32_t next; /* node index + 1; 0 ends the chain */
} dnode_t;

struct shop_symspell {
    int max_distance, prefix_length;
    word_t *words;
    size_t nwords, words_cap;
    char *text;
    size_t text_len, text_cap;
    int32_t *cps;
    size_t cps_len, cps_cap;
    uint32_t *wslots; /* word id + 1, open addressing on word_t.hash */
    size_t wslots_cap;
    dslot_t *dslots;
    size_t dslots_cap, dslots_used;
    dnode_t *nodes;
    size_t nnodes, nodes_cap;
    size_t nsorted; /* nodes [0, nsorted) hold whole chains sorted by falling prior */
};

typedef struct {
    uint64_t h[MAX_DELETES];
    int n;
} hashes_t;

static uint64_t hash_cps(const int32_t *c, int n) {
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)n;
    for (int i = 0; i < n; i++)
        h = (h ^ (uint32_t)c[i]) * 0x100000001b3ull;
    return shop_mix64(h);
}

int shop_spell_normalize(const char *s, size_t len, int32_t *out, int cap) {
    size_t i;
    for (i = 0; i < len && !((unsigned char)s[i] & 0x80); i++)
        ;
    if (i == len) { /* ASCII: NFC is the identity and folding is tolower */
        if (len > (size_t)cap)
            return -2;
        for (i = 0; i < len; i++)
            out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
        return (int)len;
    }
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &mapped,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (r < 0)
        return -1;
    int n = 0;
    for (utf8proc_ssize_t pos = 0; pos < r;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(mapped + pos, r - pos, &cp);
        if (k < 0 || n == cap) {
            free(mapped);
            return k < 0 ? -1 : -2;
        }
        out[n++] = cp;
        pos += k;
    }
    free(mapped);
    return n;
}

int shop_spell_osa(const int32_t *a, int m, const int32_t *b, int n, int max) {
    int rows[3][MAXW + 1];
    rows[0][0] =
        0; /* read only once i > 1, when it holds row 0; this quiets -Wmaybe-uninitialized */
    if (m > MAXW || n > MAXW || (max >= 0 && abs(m - n) > max))
        return -1;
    int *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (int j = 0; j <= n; j++)
        prev[j] = j;
    for (int i = 1; i <= m; i++) {
        cur[0] = i;
        int rowmin = i;
        for (int j = 1; j <= n; j++) {
            int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
            if (best < rowmin)
                rowmin = best;
        }
        if (max >= 0 && rowmin > max)
            return -1;
        int *tmp = pp;
        pp = prev;
        prev = cur;
        cur = tmp;
    }
    return (max >= 0 && prev[n] > max) ? -1 : prev[n];
}

/* Pushes the hash of every string left after deleting exactly `left` code points of c[0..n) at
 * positions >= start (so each position set is produced once). */
static void gen_deletes(const int32_t *c, int n, int start, int left, hashes_t *out) {
    int32_t buf[MAX_PREFIX];
    for (int i = start; i < n && out->n < MAX_DELETES; i++) {
        memcpy(buf, c, (size_t)i * sizeof(*c));
        memcpy(buf + i, c + i + 1, (size_t)(n - i - 1) * sizeof(*c));
        if (left == 1)
            out->h[out->n++] = hash_cps(buf, n - 1);
        else
            gen_deletes(buf, n - 1, i, left - 1, out);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The prefix of c[0..n) itself, then its deletes by number of code points deleted: nearer
 * strings first, so that a lookup meets its likely winners early and prunes more. */
static void prefix_deletes(const shop_symspell_t *s, const int32_t *c, int n, hashes_t *out) {
    int p = n < s->prefix_length ? n : s->prefix_length;
    out->n = 0;
    out->h[out->n++] = hash_cps(c, p);
    for (int d = 1; d <= s->max_distance && d <= p; d++)
        gen_deletes(c, p, 0, d, out);
}

/* Sorts the hashes and drops repeats ("aab" gives "ab" twice). */
static void unique_hashes(hashes_t *hs) {
    shop_sort(hs->h, (size_t)hs->n, sizeof(hs->h[0]), cmp_u64);
    int k = 0;
    for (int i = 0; i < hs->n; i++)
        if (!k || hs->h[k - 1] != hs->h[i])
            hs->h[k++] = hs->h[i];
    hs->n = k;
}

shop_symspell_t *shop_symspell_new(int max_distance, int prefix_length) {
    if (max_distance < 1 || max_distance > 3 || prefix_length <= max_distance ||
        prefix_length > MAX_PREFIX)
        return NULL;
    shop_symspell_t *s = shop_xcalloc(1, sizeof(*s));
    s->max_distance = max_distance;
    s->prefix_length = prefix_length;
    s->wslots_cap = 1024;
    s->wslots = shop_xcalloc(s->wslots_cap, sizeof(*s->wslots));
    s->dslots_cap = 4096;
    s->dslots = shop_xcalloc(s->dslots_cap, sizeof(*s->dslots));
    return s;
}

void shop_symspell_destroy(shop_symspell_t *s) {
    if (!s)
        return;
    free(s->words);
    free(s->text);
    free(s->cps);
    free(s->wslots);
    free(s->dslots);
    free(s->nodes);
    free(s);
}

size_t shop_symspell_size(const shop_symspell_t *s) {
    return s ? s->nwords : 0;
}

static const int32_t *word_cps(const shop_symspell_t *s, const word_t *w) {
    return s->cps + w->cp_off;
}

/* Returns the id of the word with these code points, or -1. */
static long find_word(const shop_symspell_t *s, const int32_t *c, int n, uint64_t h) {
    size_t mask = s->wslots_cap - 1;
    for (size_t i = h & mask; s->wslots[i]; i = (i + 1) & mask) {
        const word_t *w = &s->words[s->wslots[i] - 1];
        if (w->hash == h && (int)w->cp_len == n &&
            !memcmp(word_cps(s, w), c, (size_t)n * sizeof(*c)))
            return (long)s->wslots[i] - 1;
    }
    return -1;
}

static void wslot_put(uint32_t *slots, size_t cap, uint64_t h, uint32_t id_plus1) {
    size_t i = h & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = id_plus1;
}

static void wslots_grow(shop_symspell_t *s) {
    size_t cap = s->wslots_cap * 2;
    uint32_t *slots = shop_xcalloc(cap, sizeof(*slots));
    for (size_t id = 0; id < s->nwords; id++)
        wslot_put(slots, cap, s->words[id].hash, (uint32_t)id + 1);
    free(s->wslots);
    s->wslots = slots;
    s->wslots_cap = cap;
}

static dslot_t *dslot_find(dslot_t *slots, size_t cap, uint64_t h) {
    size_t i = h & (cap - 1);
    while (slots[i].head && slots[i].hash != h)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void dslots_grow(shop_symspell_t *s) {
    size_t cap = s->dslots_cap * 2;
    dslot_t *slots = shop_xcalloc(cap, sizeof(*slots));
    for (size_t i = 0; i < s->dslots_cap; i++)
        if (s->dslots[i].head)
            *dslot_find(slots, cap, s->dslots[i].hash) = s->dslots[i];
    free(s->dslots);
    s->dslots = slots;
    s->dslots_cap = cap;
}

static void index_deletes(shop_symspell_t *s, uint32_t id, const int32_t *c, int n) {
    hashes_t *hs = shop_xmalloc(sizeof(*hs));
    prefix_deletes(s, c, n, hs);
    unique_hashes(hs);
    for (int i = 0; i < hs->n; i++) {
        if ((s->dslots_used + 1) * 10 > s->dslots_cap * 7)
            dslots_grow(s);
        dslot_t *slot = dslot_find(s->dslots, s->dslots_cap, hs->h[i]);
        if (s->nnodes == s->nodes_cap) {
            s->nodes_cap = s->nodes_cap ? s->nodes_cap * 2 : 4096;
            s->nodes = shop_xrealloc(s->nodes, s->nodes_cap * sizeof(*s->nodes));
        }
        uint32_t packed = id | (uint32_t)(n - 1) << ID_BITS;
        s->nodes[s->nnodes] = (dnode_t){.word = packed, .next = slot->head};
        if (!slot->head)
            s->dslots_used++;
        slot->hash = hs->h[i];
        slot->head = (uint32_t)++s->nnodes;
    }
    free(hs);
}

static int has_space_or_control(const int32_t *c, int n) {
    for (int i = 0; i < n; i++) {
        utf8proc_category_t cat = utf8proc_category(c[i]);
        if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
            cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC)
            return 1;
    }
    return 0;
}

static void append_word(shop_symspell_t *s, const int32_t *c, int n, uint64_t h, uint64_t count) {
    if (s->nwords == s->words_cap) {
        s->words_cap = s->words_cap ? s->words_cap * 2 : 1024;
        s->words = shop_xrealloc(s->words, s->words_cap * sizeof(*s->words));
    }
    if (s->cps_len + (size_t)n > s->cps_cap) {
        s->cps_cap = (s->cps_cap + (size_t)n) * 2;
        s->cps = shop_xrealloc(s->cps, s->cps_cap * sizeof(*s->cps));
    }
    if (s->text_len + (size_t)n * 4 + 1 > s->text_cap) {
        s->text_cap = (s->text_cap + (size_t)n * 4 + 1) * 2;
        s->text = shop_xrealloc(s->text, s->text_cap);
    }
    word_t *w = &s->words[s->nwords];
    *w = (word_t){.hash = h,
                  .count = count,
                  .text_off = (uint32_t)s->text_len,
                  .cp_off = (uint32_t)s->cps_len,
                  .cp_len = (uint32_t)n,
                  .lnc = (float)log((double)count + 1.0)};
    memcpy(s->cps + s->cps_len, c, (size_t)n * sizeof(*c));
    s->cps_len += (size_t)n;
    for (int i = 0; i < n; i++)
        s->text_len +=
            (size_t)utf8proc_encode_char(c[i], (utf8proc_uint8_t *)s->text + s->text_len);
    s->text[s->text_len++] = '\0';
    s->nwords++;
}

int shop_symspell_add(shop_symspell_t *s, const char *word, uint64_t count) {
    int32_t c[MAXW];
    int n = word ? shop_spell_normalize(word, strlen(word), c, MAXW) : -1;
    if (n <= 0 || has_space_or_control(c, n) || s->nwords >= ID_MASK)
        return SHOP_ERR_INVALID;
    uint64_t h = hash_cps(c, n);
    long id = find_word(s, c, n, h);
    if (id >= 0) {
        word_t *w = &s->words[id];
        w->count = w->count > UINT64_MAX - count ? UINT64_MAX : w->count + count;
        w->lnc = (float)log((double)w->count + 1.0);
        s->nsorted = 0; /* the chains' order by prior may no longer hold */
        return SHOP_OK;
    }
    if ((s->nwords + 1) * 2 > s->wslots_cap)
        wslots_grow(s);
    append_word(s, c, n, h, count);
    wslot_put(s->wslots, s->wslots_cap, h, (uint32_t)s->nwords);
    index_deletes(s, (uint32_t)s->nwords - 1, c, n);
    return SHOP_OK;
}

typedef struct {
    float lnc;
    uint32_t word;
} ranked_node_t;

static int cmp_ranked(const void *a, const void *b) {
    const ranked_node_t *x = a, *y = b;
    if (x->lnc != y->lnc)
        return x->lnc > y->lnc ? -1 : 1;
    return x->word < y->word ? -1 : x->word > y->word;
}

void shop_symspell_optimize(shop_symspell_t *s) {
    if (!s || s->nsorted == s->nnodes)
        return;
    dnode_t *nodes = shop_xmalloc((s->nnodes ? s->nnodes : 1) * sizeof(*nodes));
    ranked_node_t *tmp = NULL;
    size_t tmp_cap = 0;
    uint32_t o = 0;
    for (size_t i = 0; i < s->dslots_cap; i++) {
        dslot_t *slot = &s->dslots[i];
        size_t len = 0;
        if (!slot->head)
            continue;
        for (uint32_t node = slot->head; node; node = s->nodes[node - 1].next) {
            if (len == tmp_cap) {
                tmp_cap = tmp_cap ? tmp_cap * 2 : 1024;
                tmp = shop_xrealloc(tmp, tmp_cap * sizeof(*tmp));
            }
            uint32_t packed = s->nodes[node - 1].word;
            tmp[len++] = (ranked_node_t){.lnc = s->words[packed & ID_MASK].lnc, .word = packed};
        }
        shop_sort(tmp, len, sizeof(*tmp), cmp_ranked);
        slot->head = o + 1;
        for (size_t j = 0; j < len; j++, o++)
            nodes[o] = (dnode_t){.word = tmp[j].word, .next = j + 1 < len ? o + 2 : 0};
    }
    free(tmp);
    free(s->nodes);
    s->nodes = nodes;
    s->nodes_cap = s->nnodes ? s->nnodes : 1;
    s->nsorted = s->nnodes;
}

/* Parses "word count" (space or tab separated) in place; returns 0 or -1. */
static int parse_line(char *line, char **word, uint64_t *count) {
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    char *sep = strpbrk(line, " \t");
    if (!sep || sep == line)
        return -1;
    *sep = '\0';
    char *num = sep + 1, *end;
    while (*num == ' ' || *num == '\t')
        num++;
    errno = 0;
    unsigned long long v = strtoull(num, &end, 10);
    if (end == num || errno || *num == '-' || (*end && *end != ' ' && *end != '\t'))
        return -1;
    *word = line;
    *count = (uint64_t)v;
    return 0;
}

int shop_symspell_load_dictionary(shop_symspell_t *s, const char *path, char *errstr,
                                  size_t errstr_size) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0, skipped = 0;
    ssize_t r;
    while ((r = getline(&line, &cap, fp)) >= 0) {
        char *p = line, *word;
        uint64_t count;
        if (lineno++ == 0 && r >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            p += 3;
        if (parse_line(p, &word, &count) || shop_symspell_add(s, word, count))
            skipped++;
    }
    int err = ferror(fp);
    shop_symspell_optimize(s);
    free(line);
    fclose(fp);
    if (err)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: read error", path);
    if (skipped) {
        char q[512];
        SHOP_INFO("dictionary=%s lines=%zu skipped=%zu msg=\"lines without a word and count\"",
                  shop_log_quote(q, sizeof(q), path), lineno, skipped);
    }
    return SHOP_OK;
}

/* True when a ranks before b: the input itself first, then score, then frequency. */
static int ranks_before(const shop_symspell_candidate_t *a, const shop_symspell_candidate_t *b) {
    if ((a->distance == 0) != (b->distance == 0))
        return a->distance == 0;
    if (a->score != b->score)
        return a->score > b->score;
    if (a->count != b->count)
        return a->count > b->count;
    return strcmp(a->word, b->word) < 0;
}

/* Inserts c into the sorted out[0..*n) keeping at most max. */
static void keep_best(shop_symspell_candidate_t *out, int *n, int max,
                      const shop_symspell_candidate_t *c) {
    int i = *n < max ? (*n)++ : max;
    if (i == max && !ranks_before(c, &out[max - 1]))
        return;
    if (i == max)
        i = max - 1;
    while (i > 0 && ranks_before(c, &out[i - 1])) {
        out[i] = out[i - 1];
        i--;
    }
    out[i] = *c;
}

static int already_kept(const shop_symspell_candidate_t *out, int n, const char *word) {
    for (int i = 0; i < n; i++)
        if (out[i].word == word)
            return 1;
    return 0;
}

/* True when w, at least `edits` edits away, cannot enter a full top list. */
static int cannot_rank(const word_t *w, int edits, const shop_symspell_candidate_t *out, int k,
                       int max) {
    return k == max && out[max - 1].distance != 0 &&
           (double)w->lnc - LAMBDA * SHOP_SPELL_MIN_COST * edits < out[max - 1].score;
}

/* Code points hashed into 32 bins ('a'..'z' each get their own): a word within d edits of the
 * input has at most d code points the input lacks and the input at most d it lacks, bin-wise too
 * (each edit adds at most one to either side). A cheap test that spares most doomed OSA runs. */
typedef struct {
    int8_t bins[32];
} bag_t;

static void bag_fill(bag_t *b, const int32_t *c, int n) {
    memset(b, 0, sizeof(*b));
    for (int i = 0; i < n; i++)
        if (b->bins[c[i] & 31] < INT8_MAX)
            b->bins[c[i] & 31]++;
}

static int bag_within(const bag_t *input, int n, const int32_t *w, int m, int max) {
    bag_t b = *input;
    int missing = 0, unmatched = n;
    for (int i = 0; i < m; i++) {
        if (b.bins[w[i] & 31] > 0) {
            b.bins[w[i] & 31]--;
            unmatched--;
        } else if (++missing > max) {
            return 0;
        }
    }
    return unmatched <= max;
}

/* Scores word `id` against t and keeps it when it is within reach and ranks high enough. A word
 * whose prior, less the cheapest possible edit, cannot beat the last kept one is not verified:
 * that bound skips most of the hundreds of words a short input reaches. */
static void consider(const shop_symspell_t *s, uint32_t id, const int32_t *t, int n,
                     const bag_t *bag, shop_symspell_candidate_t *out, int *k, int max) {
    const word_t *w = &s->words[id];
    int m = (int)w->cp_len, least = abs(m - n) > 1 ? abs(m - n) : 1;
    if (cannot_rank(w, least, out, *k, max))
        return;
    const char *text = s->text + w->text_off;
    if (already_kept(out, *k, text))
        return;
    if (!bag_within(bag, n, word_cps(s, w), m, s->max_distance))
        return;
    /* At least one code point of the input must survive: "au" is not a typo of "선물". */
    int reach = s->max_distance < n - 1 ? s->max_distance : n - 1;
    int d = shop_spell_osa(word_cps(s, w), m, t, n, reach);
    if (d < 0 || (d > 0 && cannot_rank(w, d, out, *k, max)))
        return;
    shop_symspell_candidate_t c = {.word = text, .distance = d, .count = w->count};
    c.cost = d ? shop_spell_cost(word_cps(s, w), m, t, n) : 0.0;
    c.score = (double)w->lnc - LAMBDA * c.cost;
    keep_best(out, k, max, &c);
}

static int lookup_cps(const shop_symspell_t *s, const int32_t *t, int n,
                      shop_symspell_candidate_t *out, int max) {
    int k = 0;
    bag_t bag;
    bag_fill(&bag, t, n);
    long exact = find_word(s, t, n, hash_cps(t, n));
    if (exact >= 0) {
        consider(s, (uint32_t)exact, t, n, &bag, out, &k, max);
        if (max == 1)
            return k; /* nothing outranks the input itself */
    }
    hashes_t hs_buf, *hs = &hs_buf; /* 8 KB on the stack: no allocation per lookup */
    prefix_deletes(s, t, n, hs);    /* repeats only cost a second walk of a chain */
    for (int i = 0; i < hs->n; i++) {
        const dslot_t *slot = dslot_find(s->dslots, s->dslots_cap, hs->h[i]);
        for (uint32_t node = slot->head; node; node = s->nodes[node - 1].next) {
            uint32_t packed = s->nodes[node - 1].word, id = packed & ID_MASK;
            int m = (int)(packed >> ID_BITS) + 1;
            if (abs(m - n) > s->max_distance || (long)id == exact)
                continue;
            if (cannot_rank(&s->words[id], 1, out, k, max)) {
                if (node - 1 < s->nsorted)
                    break; /* the rest of this chain has lower priors still */
                continue;
            }
            consider(s, id, t, n, &bag, out, &k, max);
        }
    }
    return k;
}

int shop_symspell_lookup(const shop_symspell_t *s, const char *word, shop_symspell_candidate_t *out,
                         int max) {
    int32_t t[MAXW];
    if (!s || !word || max <= 0)
        return 0;
    int n = shop_spell_normalize(word, strlen(word), t, MAXW);
    if (n == -1)
        return SHOP_ERR_INVALID;
    return n <= 0 ? 0 : lookup_cps(s, t, n, out, max);
}

int shop_symspell_distance(const char *a, const char *b, int max) {
    int32_t x[MAXW], y[MAXW];
    int m = shop_spell_normalize(a, strlen(a), x, MAXW);
    int n = shop_spell_normalize(b, strlen(b), y, MAXW);
    if (m < 0 || n < 0)
        return SHOP_ERR_INVALID;
    return shop_spell_osa(x, m, y, n, max);
}

double shop_symspell_typo_cost(const char *intended, const char *typed) {
    int32_t x[MAXW], y[MAXW];
    int m = shop_spell_normalize(intended, strlen(intended), x, MAXW);
    int n = shop_spell_normalize(typed, strlen(typed), y, MAXW);
    if (m < 0 || n < 0)
        return -1.0;
    return shop_spell_cost(x, m, y, n);
}

static int is_word_cp(int32_t c) {
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

/* Appends `fix` (NFC, folded) to out in the casing of the typed word: UPPER when every cased
 * letter of a word of two or more is upper case, Capitalised when the first one is. */
static void append_cased(shop_buf_t *out, const char *typed, size_t len, const char *fix) {
    int32_t c;
    size_t upper = 0, lower = 0;
    int first = 1, first_upper = 0;
    for (size_t pos = 0; pos < len;) {
        pos += (size_t)utf8proc_iterate((const utf8proc_uint8_t *)typed + pos,
                                        (utf8proc_ssize_t)(len - pos), &c);
        if (utf8proc_isupper(c))
            upper++, first_upper |= first;
        else if (utf8proc_islower(c))
            lower++;
        first = 0;
    }
    int all = upper >= 2 && !lower, cap = first_upper && !all;
    first = 1;
    for (const char *p = fix; *p;) {
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p, -1, &c);
        if (all || (cap && first))
            c = utf8proc_toupper(c);
        utf8proc_uint8_t enc[4];
        shop_buf_append(out, enc, (size_t)utf8proc_encode_char(c, enc));
        p += k;
        first = 0;
    }
}

static void correct_word(const shop_symspell_t *s, const char *w, size_t len, shop_buf_t *out) {
    int32_t t[MAXW];
    shop_symspell_candidate_t best;
    int n = shop_spell_normalize(w, len, t, MAXW), digits = 0;
    for (int i = 0; i < n; i++)
        digits |= utf8proc_category(t[i]) == UTF8PROC_CATEGORY_ND;
    if (n <= 0 || digits || lookup_cps(s, t, n, &best, 1) != 1 || best.distance == 0)
        shop_buf_append(out, w, len);
    else
        append_cased(out, w, len, best.word);
}

/* Length in bytes of the word starting at text[pos]: word code points, and apostrophes between
 * them ("don't"). */
static size_t word_len(const char *text, size_t len, size_t pos) {
    size_t end = pos;
    while (end < len) {
        int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + end,
                                              (utf8proc_ssize_t)(len - end), &c);
        if (k < 0)
            break;
        if (!is_word_cp(c)) {
            int32_t next = 0;
            if ((c != '\'' && c != 0x2019) || end + (size_t)k >= len ||
                utf8proc_iterate((const utf8proc_uint8_t *)text + end + k,
                                 (utf8proc_ssize_t)(len - end - (size_t)k), &next) < 0 ||
                !is_word_cp(next))
                break;
        }
        end += (size_t)k;
    }
    return end - pos;
}

char *shop_symspell_correct_text(const shop_symspell_t *s, const char *text, char *errstr,
                                 size_t errstr_size) {
    size_t len = strlen(text);
    if (len > SHOP_SYMSPELL_MAX_TEXT) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "text longer than %u bytes",
                    SHOP_SYMSPELL_MAX_TEXT);
        return NULL;
    }
    shop_buf_t out;
    shop_buf_init(&out);
    shop_buf_grow(&out, len + 1);
    shop_buf_append(&out, "", 0); /* NUL-terminated even when text is empty */
    for (size_t pos = 0; pos < len;) {
        int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + pos,
                                              (utf8proc_ssize_t)(len - pos), &c);
        if (k < 0) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "invalid UTF-8 at byte %zu", pos);
            shop_buf_release(&out);
            return NULL;
        }
        if (!is_word_cp(c)) {
            shop_buf_append(&out, text + pos, (size_t)k);
            pos += (size_t)k;
            continue;
        }
        size_t wl = word_len(text, len, pos);
        correct_word(s, text + pos, wl, &out);
        pos += wl;
    }
    return out.buf; /* shop_buf_t keeps it NUL-terminated */
}
