/* symspell_int.h: helpers shared by symspell.c and spell_cost.c; not part of the public API. */
#ifndef SHOP_SYMSPELL_INT_H
#define SHOP_SYMSPELL_INT_H

#include <stddef.h>
#include <stdint.h>

/* Decodes `len` bytes of UTF-8 (borrowed) into NFC, case-folded code points in out[0..cap).
 * Returns the count, -1 for invalid UTF-8, -2 when more than cap code points. */
int shop_spell_normalize(const char *s, size_t len, int32_t *out, int cap);

/* Optimal-string-alignment distance on code points; -1 when above max (max < 0: unbounded). */
int shop_spell_osa(const int32_t *a, int m, const int32_t *b, int n, int max);

/* The cheapest single edit in spell_cost.c (a double typed once): a lower bound on the cost of
 * any word other than the input, used to skip words that cannot rank. */
#define SHOP_SPELL_MIN_COST 0.35

/* Error-model cost of typing `t` (n code points) when `w` (m code points) was meant. */
double shop_spell_cost(const int32_t *w, int m, const int32_t *t, int n);

#endif
