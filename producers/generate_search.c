/* generate_search.c: search behaviour: Korean and English queries, typos (including Hangul typed
 * with the keyboard left in English mode), autocomplete prefixes, result clicks, visual search. */
#include <stdio.h>
#include <string.h>

#include "generate_int.h"

/* ---- UTF-8 and Hangul (Unicode 15, section 3.12 "Conjoining Jamo Behavior") ---- */

#define HANGUL_BASE 0xAC00
#define HANGUL_LAST 0xD7A3
#define NV          21
#define NT          28

static int utf8_decode(const char *s, uint32_t *cp, int max) {
    int n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && n < max) {
        if (*p < 0x80) {
            cp[n++] = *p++;
        } else if ((*p & 0xE0) == 0xC0 && p[1]) {
            cp[n++] = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
            p += 2;
        } else if ((*p & 0xF0) == 0xE0 && p[1] && p[2]) {
            cp[n++] =
                ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
            p += 3;
        } else {
            p++; /* our vocabulary has no 4-byte sequences */
        }
    }
    return n;
}

static size_t utf8_encode(const uint32_t *cp, int n, char *out, size_t size) {
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        uint32_t c = cp[i];
        int len = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
        if (o + (size_t)len + 1 > size)
            break;
        if (len == 1) {
            out[o++] = (char)c;
        } else if (len == 2) {
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (char)(0xE0 | (c >> 12));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = '\0';
    return o;
}

static int is_syllable(uint32_t c) {
    return c >= HANGUL_BASE && c <= HANGUL_LAST;
}

/* Dubeolsik (2-set) keys for initials, medials and finals. */
static const char *const keys_l[19] = {"r", "R", "s", "e", "E", "f", "a", "q", "Q", "t",
                                       "T", "d", "w", "W", "c", "z", "x", "v", "g"};
static const char *const keys_v[NV] = {"k",  "o", "i", "O",  "j",  "p",  "u", "P", "h",  "hk", "ho",
                                       "hl", "y", "n", "nj", "np", "nl", "b", "m", "ml", "l"};
static const char *const keys_t[NT] = {"",   "r",  "R",  "rt", "s",  "sw", "sg", "e", "f",  "fr",
                                       "fa", "fq", "ft", "fx", "fv", "fg", "a",  "q", "qt", "t",
                                       "T",  "d",  "w",  "c",  "z",  "x",  "v",  "g"};
/* Compatibility jamo for the initials: what an IME shows before the vowel is typed. */
static const uint32_t compat_l[19] = {0x3131, 0x3132, 0x3134, 0x3137, 0x3138, 0x3139, 0x3141,
                                      0x3142, 0x3143, 0x3145, 0x3146, 0x3147, 0x3148, 0x3149,
                                      0x314A, 0x314B, 0x314C, 0x314D, 0x314E};
/* A neighbouring or look-alike vowel for each medial (ㅓ for ㅏ, ㅜ for ㅗ, ...). */
static const uint8_t vowel_slip[NV] = {4,  5,  6, 7, 0, 1,  2,  3,  13, 0, 1,
                                       20, 17, 8, 4, 5, 20, 12, 13, 18, 18};

void shop_gen_hangul_to_qwerty(const char *ko, char *out, size_t size) {
    uint32_t cp[GEN_STR];
    int n = utf8_decode(ko, cp, GEN_STR);
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        char piece[8];
        if (is_syllable(cp[i])) {
            uint32_t s = cp[i] - HANGUL_BASE;
            snprintf(piece, sizeof(piece), "%s%s%s", keys_l[s / (NV * NT)],
                     keys_v[s % (NV * NT) / NT], keys_t[s % NT]);
        } else {
            utf8_encode(&cp[i], 1, piece, sizeof(piece));
        }
        size_t len = strlen(piece);
        if (o + len + 1 > size)
            break;
        memcpy(out + o, piece, len + 1);
        o += len;
    }
}

/* ---- typos ---- */

static const char *const qwerty_rows[3] = {"qwertyuiop", "asdfghjkl", "zxcvbnm"};

static char neighbour_key(shop_gen_rng_t *r, char c) {
    for (int row = 0; row < 3; row++) {
        const char *k = strchr(qwerty_rows[row], c);
        if (!k)
            continue;
        size_t i = (size_t)(k - qwerty_rows[row]), len = strlen(qwerty_rows[row]);
        if (i == 0)
            return qwerty_rows[row][1];
        if (i == len - 1)
            return qwerty_rows[row][i - 1];
        return qwerty_rows[row][shop_gen_rng_chance(r, 0.5) ? i - 1 : i + 1];
    }
    return c;
}

/* One keyboard slip in an English query: swap, drop, double or a neighbouring key. */
static void typo_en(shop_gen_rng_t *r, const char *src, char *dst) {
    size_t n = strlen(src);
    snprintf(dst, GEN_STR, "%s", src);
    if (n < 3)
        return;
    size_t i = 1 + shop_gen_rng_below(r, (uint32_t)(n - 2));
    if (src[i] == ' ' || src[i - 1] == ' ')
        i = n - 2;
    switch (shop_gen_rng_below(r, 4)) {
    case 0:
        dst[i] = src[i - 1], dst[i - 1] = src[i];
        break;
    case 1:
        memmove(dst + i, dst + i + 1, n - i);
        break;
    case 2:
        if (n + 2 < GEN_STR)
            memmove(dst + i + 1, dst + i, n - i + 1);
        break;
    default:
        dst[i] = neighbour_key(r, src[i]);
        break;
    }
}

/* A Korean query typed wrong: keyboard left in English mode, spaces dropped, or a vowel slip.
 * Returns 1 when the typo keeps the meaning for the search engine (spaces only). */
static int typo_ko(shop_gen_rng_t *r, const char *src, char *dst) {
    double u = shop_gen_rng_unit(r);
    if (u < 0.3) {
        shop_gen_hangul_to_qwerty(src, dst, GEN_STR);
        return 0;
    }
    uint32_t cp[GEN_STR];
    int n = utf8_decode(src, cp, GEN_STR);
    if (u < 0.55 && memchr(src, ' ', strlen(src))) {
        int o = 0;
        for (int i = 0; i < n; i++)
            if (cp[i] != ' ')
                cp[o++] = cp[i];
        utf8_encode(cp, o, dst, GEN_STR);
        return 1;
    }
    int syl[GEN_STR], ns = 0;
    for (int i = 0; i < n; i++)
        if (is_syllable(cp[i]))
            syl[ns++] = i;
    if (ns) {
        int i = syl[shop_gen_rng_below(r, (uint32_t)ns)];
        uint32_t s = cp[i] - HANGUL_BASE;
        uint32_t l = s / (NV * NT), v = s % (NV * NT) / NT, t = s % NT;
        cp[i] = HANGUL_BASE + (l * NV + vowel_slip[v]) * NT + t;
    }
    utf8_encode(cp, n, dst, GEN_STR);
    return 0;
}

/* What the user had typed when they picked a suggestion. Korean prefixes stop on syllables, on a
 * lone initial consonant (IME mid-composition: "빨간색 ㅅ") or on a syllable without its final. */
static void make_prefix(shop_gen_rng_t *r, const char *q, int korean, char *out) {
    uint32_t cp[GEN_STR];
    int n = utf8_decode(q, cp, GEN_STR);
    int k = 1 + (int)shop_gen_rng_exp(r, korean ? 1.5 : 3.0);
    if (k > n - 1)
        k = n > 1 ? n - 1 : 1;
    if (k > 1 && cp[k - 1] == ' ')
        k--;
    if (korean) {
        double u = shop_gen_rng_unit(r);
        if (u < 0.3 && k < n && is_syllable(cp[k])) {
            cp[k] = compat_l[(cp[k] - HANGUL_BASE) / (NV * NT)];
            k++;
        } else if (u < 0.5 && is_syllable(cp[k - 1]) && (cp[k - 1] - HANGUL_BASE) % NT) {
            cp[k - 1] -= (cp[k - 1] - HANGUL_BASE) % NT;
        }
    }
    utf8_encode(cp, k, out, GEN_STR);
}

/* ---- planning ---- */

typedef struct {
    int cat, color, brand;
    int count;
} query_t;

/* Builds the query a shopper would type for `target` into out; fills the search filters. */
static void make_query(shop_gen_t *g, uint32_t target, int korean, char *out, query_t *q) {
    const gen_product_t *p = &g->products[target];
    const gen_category_t *c = &shop_gen_categories[p->cat];
    const char *cat = korean ? c->ko : c->en;
    double u = shop_gen_rng_unit(&g->rng);
    q->cat = p->cat, q->color = -1, q->brand = -1;
    if (u < 0.06) {
        int ko = shop_gen_nunsold_ko, n = korean ? ko : shop_gen_nunsold - ko;
        snprintf(out, GEN_STR, "%s",
                 shop_gen_unsold_queries[(korean ? 0 : ko) +
                                         (int)shop_gen_rng_below(&g->rng, (uint32_t)n)]);
        q->cat = -2;
    } else if (u < 0.40) {
        const gen_word_t *w = &shop_gen_colors[p->color];
        snprintf(out, GEN_STR, "%s %s", korean ? w->ko : w->en, cat);
        q->color = p->color;
    } else if (u < 0.65) {
        snprintf(out, GEN_STR, "%s", cat);
    } else if (u < 0.80) {
        const gen_word_t *w = &shop_gen_brands[p->brand];
        int latin = !korean || shop_gen_rng_chance(&g->rng, 0.4); /* "Moa 선글라스" is common */
        snprintf(out, GEN_STR, "%s %s", latin ? w->en : w->ko, cat);
        if (!korean) /* English queries come lower-case */
            for (char *s = out; *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                    *s = (char)(*s - 'A' + 'a');
        q->brand = p->brand;
    } else if (u < 0.92) {
        const gen_word_t *w = &shop_gen_adjs[p->adj];
        snprintf(out, GEN_STR, "%s %s", korean ? w->ko : w->en, cat);
    } else {
        snprintf(out, GEN_STR, korean ? "%s 추천" : "best %s", cat);
    }
    q->count = q->cat == -2 ? 0 : shop_gen_count_matching(g, q->cat, q->color, q->brand);
}

static gen_item_t *queue_query(gen_session_t *s, const char *text, int count, int cat) {
    gen_item_t *it = shop_gen_queue(s, SHOP_EV_SEARCH_QUERY, GEN_NONE);
    it->s1 = text;
    it->n = count;
    it->code = (uint8_t)(count > 0 && cat >= 0 ? cat + 1 : 0);
    return it;
}

void shop_gen_plan_search(shop_gen_t *g, gen_session_t *s) {
    gen_user_t *u = &g->users[s->user];
    int korean = u->lang == 0 && !shop_gen_rng_chance(&g->rng, 0.15);
    uint32_t target = shop_gen_pick_product(g);
    query_t q;
    char *final = s->str[1], *typo = s->str[0], *prefix = s->str[2];
    make_query(g, target, korean, final, &q);
    if (shop_gen_rng_chance(&g->rng, korean ? 0.10 : 0.12)) {
        int ascii = 1; /* "Moa 선글라스" is Korean to the keyboard, "airpods pro" is not */
        for (const char *c = final; *c; c++)
            ascii &= (unsigned char)*c < 0x80;
        int same = ascii ? (typo_en(&g->rng, final, typo), 0) : typo_ko(&g->rng, final, typo);
        int found = same || shop_gen_rng_chance(&g->rng, 0.35); /* fuzzy matching saves some */
        queue_query(s, typo, found ? q.count : 0, q.cat);
        if (found && q.count > 0 && shop_gen_rng_chance(&g->rng, 0.6))
            final = typo;
        else if (shop_gen_rng_chance(&g->rng, 0.2))
            return; /* gave up */
    } else if (q.cat != -2 && shop_gen_rng_chance(&g->rng, 0.35)) {
        make_prefix(&g->rng, final, korean, prefix);
        gen_item_t *it = shop_gen_queue(s, SHOP_EV_SEARCH_SUGGESTION_CLICKED, GEN_NONE);
        it->s1 = prefix;
        it->s2 = final;
        it->pos =
            (uint16_t)(1 +
                       (shop_gen_rng_chance(&g->rng, 0.55) ? 0 : shop_gen_rng_below(&g->rng, 5)));
    }
    if (final != typo)
        queue_query(s, final, q.count, q.cat);
    if (q.count <= 0 || !shop_gen_rng_chance(&g->rng, 0.75))
        return;
    int pos = 1;
    uint32_t hit = shop_gen_pick_matching(g, q.cat, q.color, q.brand, &pos);
    if (hit == GEN_NONE)
        return;
    gen_item_t *it = shop_gen_queue(s, SHOP_EV_SEARCH_RESULT_CLICKED, hit);
    it->s1 = final;
    it->pos = (uint16_t)pos;
    it = shop_gen_queue(s, SHOP_EV_USER_PRODUCT_VIEWED, hit);
    it->code = GEN_REF_SEARCH;
    s->last_product = hit;
}

void shop_gen_plan_visual(shop_gen_t *g, gen_session_t *s) {
    uint32_t target = shop_gen_pick_product(g);
    uint32_t in_cat = g->cat_off[g->products[target].cat + 1] - g->cat_off[g->products[target].cat];
    gen_item_t *it = shop_gen_queue(s, SHOP_EV_SEARCH_VISUAL, target);
    it->source = GEN_SRC_VISUAL;
    it->n = (int64_t)(shop_gen_rng_next(&g->rng) >> 1); /* seeds image id, matches and score */
    it->pos = (uint16_t)(in_cat < 5 ? in_cat : 5 + shop_gen_rng_below(&g->rng, 6));
    if (it->pos > in_cat)
        it->pos = (uint16_t)in_cat;
    if (!shop_gen_rng_chance(&g->rng, 0.7))
        return;
    it = shop_gen_queue(s, SHOP_EV_USER_PRODUCT_VIEWED, target);
    it->code = GEN_REF_VISUAL;
    s->last_product = target;
}
