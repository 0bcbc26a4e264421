/* search_lex.c: the search worker's lexicon for "did you mean" and for keeping misspellings out
 * of the suggestions.
 *
 * Two SymSpell indexes (Garbe's symmetric deletes, symspell.c) are built from the popular queries
 * and catalog titles: one over whole queries (spaces written as '_', since SymSpell words have no
 * spaces) and one over their words. A query is a *variant* when a query within the allowed edits
 * is at least VARIANT_RATIO times as popular ("phone csae" next to "phone case", "선글러스" next
 * to "선글라스"): variants are never suggested, and their correction is the popular form.
 *
 * Edits allowed depend on the word: none for one or two letters, one up to five, two beyond; a
 * Hangul syllable packs two or three keystrokes, so Hangul words get at most one syllable edit
 * (two edits on a three-syllable word would turn 노트북 into 노란색). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "search_int.h"

#define VARIANT_RATIO  3.0
#define MAX_CANDIDATES 16

struct search_lex {
    shop_symspell_t *queries;
    shop_symspell_t *words;
    char **items; /* the queries, as given */
    double *counts;
    unsigned char *variant;
    int32_t *better; /* index of the popular form of a variant */
    size_t n;
    uint32_t *slots; /* item -> index + 1 */
    size_t nslots;
};

static long find(const search_lex_t *l, const char *q) {
    if (!l->nslots)
        return -1;
    for (size_t j = shop_hash_str(q) & (l->nslots - 1); l->slots[j]; j = (j + 1) & (l->nslots - 1))
        if (!strcmp(l->items[l->slots[j] - 1], q))
            return (long)l->slots[j] - 1;
    return -1;
}

int search_max_edits(const char *w) {
    int n = 0, hangul = 0;
    for (const unsigned char *p = (const unsigned char *)w; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;
        n++;
        if (*p == 0xEA || *p == 0xEB || *p == 0xEC || *p == 0xED || *p == 0xE3)
            hangul = 1; /* U+A000..U+DFFF and U+3000..U+3FFF lead bytes: syllables and jamo */
    }
    if (hangul)
        return n >= 2 ? 1 : 0;
    return n <= 2 ? 0 : n <= 5 ? 1 : 2;
}

static char *underscored(const char *q) {
    char *u = shop_xstrdup(q);
    for (char *p = u; *p; p++)
        if (*p == ' ')
            *p = '_';
        else if (*p == '_')
            *p = ' '; /* keeps the mapping one-to-one (a space never reaches the index) */
    return u;
}

search_lex_t *search_lex_build(const char *const *items, const double *counts, size_t n) {
    search_lex_t *l = shop_xcalloc(1, sizeof(*l));
    l->queries = shop_symspell_new(2, 7);
    l->words = shop_symspell_new(2, 7);
    l->n = n;
    l->items = shop_xcalloc(n + 1, sizeof(char *));
    l->counts = shop_xcalloc(n + 1, sizeof(double));
    l->variant = shop_xcalloc(n + 1, 1);
    l->better = shop_xcalloc(n + 1, sizeof(int32_t));
    l->nslots = 64;
    while (l->nslots < 2 * n + 2)
        l->nslots *= 2;
    l->slots = shop_xcalloc(l->nslots, sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        l->items[i] = shop_xstrdup(items[i]);
        l->counts[i] = counts[i] < 1 ? 1 : counts[i];
        size_t j = shop_hash_str(items[i]) & (l->nslots - 1);
        while (l->slots[j])
            j = (j + 1) & (l->nslots - 1);
        l->slots[j] = (uint32_t)i + 1;
        char *u = underscored(items[i]);
        shop_symspell_add(l->queries, u, (uint64_t)l->counts[i]); /* over-long ones are refused */
        free(u);
    }
    shop_symspell_optimize(l->queries);
    shop_symspell_candidate_t c[MAX_CANDIDATES];
    for (size_t i = 0; i < n; i++) {
        l->better[i] = -1;
        int edits = search_max_edits(items[i]);
        if (!edits)
            continue;
        char *u = underscored(items[i]);
        int nc = shop_symspell_lookup(l->queries, u, c, MAX_CANDIDATES);
        free(u);
        for (int k = 0; k < nc; k++) {
            if (c[k].distance == 0 || c[k].distance > edits ||
                (double)c[k].count < VARIANT_RATIO * l->counts[i])
                continue;
            char *back = underscored(c[k].word);
            long b = find(l, back);
            free(back);
            if (b >= 0) {
                l->variant[i] = 1;
                l->better[i] = (int32_t)b;
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (l->variant[i])
            continue;
        char *dup = shop_xstrdup(items[i]), *save = NULL;
        for (char *w = strtok_r(dup, " ", &save); w; w = strtok_r(NULL, " ", &save))
            shop_symspell_add(l->words, w, (uint64_t)l->counts[i]);
        free(dup);
    }
    shop_symspell_optimize(l->words);
    return l;
}

void search_lex_destroy(search_lex_t *l) {
    if (!l)
        return;
    shop_symspell_destroy(l->queries);
    shop_symspell_destroy(l->words);
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    free(l->counts);
    free(l->variant);
    free(l->better);
    free(l->slots);
    free(l);
}

int search_lex_is_variant(const search_lex_t *l, size_t i) {
    return l && i < l->n && l->variant[i];
}

/* The best candidate within the word's edit budget, or NULL (borrowed from the index). */
static const char *best(const shop_symspell_t *idx, const char *w, int edits) {
    shop_symspell_candidate_t c[MAX_CANDIDATES];
    int nc = idx ? shop_symspell_lookup(idx, w, c, MAX_CANDIDATES) : 0;
    for (int k = 0; k < nc; k++)
        if (c[k].distance <= edits)
            return c[k].word;
    return NULL;
}

static int known(const shop_symspell_t *idx, const char *w) {
    shop_symspell_candidate_t c[1];
    return idx && shop_symspell_lookup(idx, w, c, 1) > 0 && c[0].distance == 0;
}

char *search_lex_correct(const search_lex_t *l, const shop_symspell_t *dict, const char *q) {
    long i = l ? find(l, q) : -1;
    if (i >= 0 && l->variant[i])
        return shop_xstrdup(l->items[l->better[i]]);
    if (i >= 0)
        return NULL; /* a popular query in its own right */
    /* a whole popular query close to it */
    int edits = search_max_edits(q);
    if (l && edits) {
        char *u = underscored(q);
        const char *w = best(l->queries, u, edits);
        free(u);
        if (w) {
            char *back = underscored(w);
            long b = find(l, back);
            if (b >= 0 && !l->variant[b])
                return back;
            free(back);
        }
    }
    /* word by word: the shop's words first, then the dictionary */
    shop_buf_t out;
    shop_buf_init(&out);
    char *dup = shop_xstrdup(q), *save = NULL;
    int changed = 0;
    for (char *w = strtok_r(dup, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        const char *fix = NULL;
        int e = search_max_edits(w);
        if (e && !known(l ? l->words : NULL, w) && !known(dict, w)) {
            fix = best(l ? l->words : NULL, w, e);
            if (!fix)
                fix = best(dict, w, e);
        }
        if (out.len)
            shop_buf_puts(&out, " ");
        shop_buf_puts(&out, fix ? fix : w);
        changed |= fix != NULL;
    }
    free(dup);
    if (!changed || !out.len) {
        shop_buf_release(&out);
        return NULL;
    }
    return out.buf; /* NUL-terminated by shop_buf_puts */
}
