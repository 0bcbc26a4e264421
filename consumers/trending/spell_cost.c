/* spell_cost.c: the error model P(typo | word) behind SymSpell's ranking, as a weighted
 * Damerau-Levenshtein (optimal string alignment) cost over code points.
 *
 * Plain edit distance treats every edit alike; real typing does not. Following the noisy-channel
 * view of spelling correction (Kernighan, Church & Gale, "A spelling correction program based on a
 * noisy channel model", COLING 1990), the common slips cost less: swapped neighbours, a key next to
 * the right one on a QWERTY keyboard, a doubled or undoubled letter, one vowel for another, and
 * letters that sound alike. Errors on the first letter cost more, as people seldom get it wrong
 * (Yannakoudakis & Fawthrop, "The rules of spelling errors", 1983). A cost c stands for
 * P(typo | word) ~ exp(-lambda * c); symspell.c adds ln P(word). */
#include <stdint.h>

#include "symspell_int.h"

#define COST_FULL      1.0                 /* an unexplained insertion, deletion or substitution */
#define COST_TRANSPOSE 0.65                /* "teh" for "the" */
#define COST_VOWEL     0.6                 /* "seperate" for "separate" */
#define COST_SOUND     0.65                /* "sinse" for "since", "fysical" style pairs */
#define COST_KEYBOARD  0.75                /* "thw" for "the": the key next door */
#define COST_DOUBLE    0.4                 /* "untill" for "until": a letter typed twice */
#define COST_UNDOUBLE  SHOP_SPELL_MIN_COST /* "begining" for "beginning": a double typed once */
#define COST_FAT_INS   0.8                 /* an extra key next to the one beside it */
#define COST_FIRST     0.35                /* surcharge for changing the first letter */

/* QWERTY neighbours of each lower-case letter 'a'..'z', as bit sets (bit 0 is 'a'). */
static const uint32_t qwerty_adjacent[26] = {
    0x2450000, /* a: qswz */
    0x02020c0, /* b: ghnv */
    0x0a00028, /* c: dfvx */
    0x0860034, /* d: cefrsx */
    0x0460008, /* e: drsw */
    0x02a004c, /* f: cdgrtv */
    0x12800a2, /* g: bfhtvy */
    0x1102242, /* h: bgjnuy */
    0x0104600, /* i: jkou */
    0x0103580, /* j: hikmnu */
    0x0005b00, /* k: ijlmo */
    0x000c400, /* l: kop */
    0x0002600, /* m: jkn */
    0x0001282, /* n: bhjm */
    0x0008d00, /* o: iklp */
    0x0004800, /* p: lo */
    0x0400001, /* q: aw */
    0x0080038, /* r: deft */
    0x2c00019, /* s: adewxz */
    0x1020060, /* t: fgry */
    0x1000380, /* u: hijy */
    0x0000066, /* v: bcfg */
    0x0050011, /* w: aeqs */
    0x204000c, /* x: cdsz */
    0x01800c0, /* y: ghtu */
    0x0840001, /* z: asx */
};

/* Letters that sound alike in English spelling, as bit sets. */
static const uint32_t sound_alike_set[26] = {
    0x0000000, /* a:  */
    0x0008000, /* b: p */
    0x0040400, /* c: ks */
    0x0080000, /* d: t */
    0x1000000, /* e: y */
    0x0200000, /* f: v */
    0x0000200, /* g: j */
    0x0000000, /* h:  */
    0x1000000, /* i: y */
    0x0000040, /* j: g */
    0x0010004, /* k: cq */
    0x0000000, /* l:  */
    0x0002000, /* m: n */
    0x0001000, /* n: m */
    0x0000000, /* o:  */
    0x0000002, /* p: b */
    0x0000400, /* q: k */
    0x0000000, /* r:  */
    0x2000004, /* s: cz */
    0x0000008, /* t: d */
    0x0000000, /* u:  */
    0x0000020, /* v: f */
    0x0000000, /* w:  */
    0x2000000, /* x: z */
    0x0000110, /* y: ei */
    0x0840000, /* z: sx */
};

static inline int is_vowel(int32_t c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static inline int is_lower_ascii(int32_t c) {
    return c >= 'a' && c <= 'z';
}

static inline int keyboard_adjacent(int32_t a, int32_t b) {
    if (!is_lower_ascii(a) || !is_lower_ascii(b))
        return 0;
    return (qwerty_adjacent[a - 'a'] >> (b - 'a')) & 1;
}

static inline int sound_alike(int32_t a, int32_t b) {
    if (!is_lower_ascii(a) || !is_lower_ascii(b))
        return 0;
    return (sound_alike_set[a - 'a'] >> (b - 'a')) & 1;
}

/* Cost of typing t_c where w_c was meant. */
static inline double sub_cost(int32_t w_c, int32_t t_c) {
    if (w_c == t_c)
        return 0.0;
    if (is_vowel(w_c) && is_vowel(t_c))
        return COST_VOWEL;
    if (sound_alike(w_c, t_c))
        return COST_SOUND;
    if (keyboard_adjacent(w_c, t_c))
        return COST_KEYBOARD;
    return COST_FULL;
}

/* Cost of leaving out w[i] of the intended word. */
static inline double del_cost(const int32_t *w, int m, int i) {
    if ((i > 0 && w[i - 1] == w[i]) || (i + 1 < m && w[i + 1] == w[i]))
        return COST_UNDOUBLE;
    return COST_FULL + (i == 0 ? COST_FIRST : 0.0);
}

/* Cost of typing the extra t[j]. */
static inline double ins_cost(const int32_t *t, int n, int j) {
    if ((j > 0 && t[j - 1] == t[j]) || (j + 1 < n && t[j + 1] == t[j]))
        return COST_DOUBLE;
    if ((j > 0 && keyboard_adjacent(t[j - 1], t[j])) ||
        (j + 1 < n && keyboard_adjacent(t[j + 1], t[j])))
        return COST_FAT_INS;
    return COST_FULL + (j == 0 ? COST_FIRST : 0.0);
}

static inline double min2(double a, double b) {
    return a < b ? a : b;
}

/* Weighted OSA: d[i][j] is the cost of typing t[0..j) for w[0..i). Inputs are at most
 * SHOP_SYMSPELL_MAX_WORD code points, so three rows on the stack suffice. */
double shop_spell_cost(const int32_t *w, int m, const int32_t *t, int n) {
    double rows[3][65];
    if (m > 64 || n > 64)
        return -1.0;
    double *pp = rows[0], *prev = rows[1], *cur = rows[2];
    prev[0] = 0.0;
    for (int j = 1; j <= n; j++)
        prev[j] = prev[j - 1] + ins_cost(t, n, j - 1);
    for (int i = 1; i <= m; i++) {
        cur[0] = prev[0] + del_cost(w, m, i - 1);
        for (int j = 1; j <= n; j++) {
            double s = sub_cost(w[i - 1], t[j - 1]);
            if (s > 0 && i == 1 && j == 1)
                s += COST_FIRST;
            double best = prev[j - 1] + s;
            best = min2(best, prev[j] + del_cost(w, m, i - 1));
            best = min2(best, cur[j - 1] + ins_cost(t, n, j - 1));
            if (i > 1 && j > 1 && w[i - 1] == t[j - 2] && w[i - 2] == t[j - 1] &&
                w[i - 1] != w[i - 2])
                best = min2(best, pp[j - 2] + COST_TRANSPOSE);
            cur[j] = best;
        }
        double *tmp = pp;
        pp = prev;
        prev = cur;
        cur = tmp;
    }
    return prev[n];
}
