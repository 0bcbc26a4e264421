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
#include <string.h>

#include "symspell_int.h"

#define COST_FULL      1.0  /* an unexplained insertion, deletion or substitution */
#define COST_TRANSPOSE 0.65 /* "teh" for "the" */
#define COST_VOWEL     0.6  /* "seperate" for "separate" */
#define COST_SOUND     0.65 /* "sinse" for "since", "fysical" style pairs */
#define COST_KEYBOARD  0.75 /* "thw" for "the": the key next door */
#define COST_DOUBLE    0.4  /* "untill" for "until": a letter typed twice */
#define COST_UNDOUBLE  0.35 /* "begining" for "beginning": a double typed once */
#define COST_FAT_INS   0.8  /* an extra key next to the one beside it */
#define COST_FIRST     0.35 /* surcharge for changing the first letter */

/* QWERTY neighbours of each lower-case letter, 'a'..'z'. */
static const char *const qwerty[26] = {
    "qwsz", "vghn", "xdfv", "serfcx", "wrsd", "drtgvc", "ftyhbv", "gyujnb", "uojk",
    "huikmn", "jiolm", "kop", "njk", "bhjm", "ipkl", "ol", "wa", "etdf",
    "awedxz", "ryfg", "yihj", "cfgb", "qeas", "zsdc", "tugh", "asx",
};

/* Pairs that sound alike in English spelling (either order). */
static const char *const sound_pairs[] = {"ck", "cs", "sz", "iy", "gj", "fv", "mn", "dt",
                                          "bp", "kq", "xz", "ey", "sc", NULL};

static int is_vowel(int32_t c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static int is_lower_ascii(int32_t c) {
    return c >= 'a' && c <= 'z';
}

static int keyboard_adjacent(int32_t a, int32_t b) {
    if (!is_lower_ascii(a) || !is_lower_ascii(b))
        return 0;
    return strchr(qwerty[a - 'a'], (int)b) != NULL;
}

static int sound_alike(int32_t a, int32_t b) {
    if (!is_lower_ascii(a) || !is_lower_ascii(b))
        return 0;
    for (int i = 0; sound_pairs[i]; i++) {
        const char *p = sound_pairs[i];
        if ((p[0] == a && p[1] == b) || (p[0] == b && p[1] == a))
            return 1;
    }
    return 0;
}

/* Cost of typing t_c where w_c was meant. */
static double sub_cost(int32_t w_c, int32_t t_c) {
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
static double del_cost(const int32_t *w, int m, int i) {
    if ((i > 0 && w[i - 1] == w[i]) || (i + 1 < m && w[i + 1] == w[i]))
        return COST_UNDOUBLE;
    return COST_FULL + (i == 0 ? COST_FIRST : 0.0);
}

/* Cost of typing the extra t[j]. */
static double ins_cost(const int32_t *t, int n, int j) {
    if ((j > 0 && t[j - 1] == t[j]) || (j + 1 < n && t[j + 1] == t[j]))
        return COST_DOUBLE;
    if ((j > 0 && keyboard_adjacent(t[j - 1], t[j])) ||
        (j + 1 < n && keyboard_adjacent(t[j + 1], t[j])))
        return COST_FAT_INS;
    return COST_FULL + (j == 0 ? COST_FIRST : 0.0);
}

static double min2(double a, double b) {
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
