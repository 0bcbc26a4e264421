/* text.c: query normalisation (utf8proc NFC + case folding), matching folds and the Hangul
 * keystroke / initial-consonant suggestion keys (Unicode 15 §3.12 syllable arithmetic). Everything
 * works on arrays of code points; UTF-8 is decoded once on the way in and encoded on the way out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "shop.h"
#include "text.h"

/* Unicode 15 §3.12 Conjoining Jamo Behavior. */
#define S_BASE  0xAC00
#define S_COUNT 11172
#define N_COUNT 588 /* V_COUNT * T_COUNT */
#define T_COUNT 28

/* Compatibility jamo of the 19 initials (LIndex order) and the 27 finals (TIndex 1..27). */
static const uint16_t initial_compat[19] = {0x3131, 0x3132, 0x3134, 0x3137, 0x3138, 0x3139, 0x3141,
                                            0x3142, 0x3143, 0x3145, 0x3146, 0x3147, 0x3148, 0x3149,
                                            0x314A, 0x314B, 0x314C, 0x314D, 0x314E};
static const uint16_t final_compat[T_COUNT] = {
    0,      0x3131, 0x3132, 0x3133, 0x3134, 0x3135, 0x3136, 0x3137, 0x3139, 0x313A,
    0x313B, 0x313C, 0x313D, 0x313E, 0x313F, 0x3140, 0x3141, 0x3142, 0x3144, 0x3145,
    0x3146, 0x3147, 0x3148, 0x314A, 0x314B, 0x314C, 0x314D, 0x314E};
#define VOWEL_COMPAT 0x314F /* the 21 vowels are contiguous in VIndex order from here */

/* Compound compatibility jamo typed as two keys on a 2-set keyboard, indexed by c - 0x3131. */
#define KEYS_FIRST 0x3131
#define KEYS_LAST  0x3163
static const uint16_t two_keys[KEYS_LAST - KEYS_FIRST + 1][2] = {
    [0x3133 - KEYS_FIRST] = {0x3131, 0x3145}, /* ㄳ ㄱㅅ */
    [0x3135 - KEYS_FIRST] = {0x3134, 0x3148}, /* ㄵ ㄴㅈ */
    [0x3136 - KEYS_FIRST] = {0x3134, 0x314E}, /* ㄶ ㄴㅎ */
    [0x313A - KEYS_FIRST] = {0x3139, 0x3131}, /* ㄺ ㄹㄱ */
    [0x313B - KEYS_FIRST] = {0x3139, 0x3141}, /* ㄻ ㄹㅁ */
    [0x313C - KEYS_FIRST] = {0x3139, 0x3142}, /* ㄼ ㄹㅂ */
    [0x313D - KEYS_FIRST] = {0x3139, 0x3145}, /* ㄽ ㄹㅅ */
    [0x313E - KEYS_FIRST] = {0x3139, 0x314C}, /* ㄾ ㄹㅌ */
    [0x313F - KEYS_FIRST] = {0x3139, 0x314D}, /* ㄿ ㄹㅍ */
    [0x3140 - KEYS_FIRST] = {0x3139, 0x314E}, /* ㅀ ㄹㅎ */
    [0x3144 - KEYS_FIRST] = {0x3142, 0x3145}, /* ㅄ ㅂㅅ */
    [0x3158 - KEYS_FIRST] = {0x3157, 0x314F}, /* ㅘ ㅗㅏ */
    [0x3159 - KEYS_FIRST] = {0x3157, 0x3150}, /* ㅙ ㅗㅐ */
    [0x315A - KEYS_FIRST] = {0x3157, 0x3163}, /* ㅚ ㅗㅣ */
    [0x315D - KEYS_FIRST] = {0x315C, 0x3153}, /* ㅝ ㅜㅓ */
    [0x315E - KEYS_FIRST] = {0x315C, 0x3154}, /* ㅞ ㅜㅔ */
    [0x315F - KEYS_FIRST] = {0x315C, 0x3163}, /* ㅟ ㅜㅣ */
    [0x3162 - KEYS_FIRST] = {0x3161, 0x3163}, /* ㅢ ㅡㅣ */
};

/* A growable array of code points (caller-owned storage). */
typedef struct {
    int32_t *v;
    size_t n, cap;
} cps_t;

static void cps_push(cps_t *c, int32_t x) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->v = shop_xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = x;
}

static void cps_release(cps_t *c) {
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* Decodes len bytes of s into out. Returns 0, or -1 with the byte offset of the bad sequence. */
static int decode(const char *s, size_t len, cps_t *out, size_t *bad) {
    for (size_t pos = 0; pos < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s + pos, (utf8proc_ssize_t)(len - pos), &c);
        if (k < 0) {
            *bad = pos;
            return -1;
        }
        cps_push(out, c);
        pos += (size_t)k;
    }
    return 0;
}

/* Encodes c[0..n) NUL-terminated into out. Returns the length, or -1 if it does not fit. */
static int encode(const int32_t *c, size_t n, char *out, size_t out_size) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t k = utf8proc_encode_char(c[i], enc);
        if (len + (size_t)k + 1 > out_size || len + (size_t)k > INT32_MAX)
            return -1;
        memcpy(out + len, enc, (size_t)k);
        len += (size_t)k;
    }
    if (out_size == 0)
        return -1;
    out[len] = '\0';
    return (int)len;
}

static void encode_buf(const int32_t *c, size_t n, shop_buf_t *b) {
    shop_buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        utf8proc_uint8_t enc[4];
        shop_buf_append(b, enc, (size_t)utf8proc_encode_char(c[i], enc));
    }
}

static int is_space(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r')
        return 1;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

/* What makes c unfit for a query, or NULL. */
static const char *refused(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r')
        return NULL;
    if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE)
        return "noncharacter";
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC:
        return "control character";
    case UTF8PROC_CATEGORY_CF:
        return "format character";
    case UTF8PROC_CATEGORY_CO:
        return "private-use character";
    default:
        return NULL;
    }
}

/* Validates in[0..len) and applies NFC + case folding into out (code points, not yet collapsed).
 * Returns SHOP_OK or SHOP_ERR_INVALID with errstr. */
static int validate_fold(const char *in, size_t len, cps_t *out, char *errstr, size_t errstr_size) {
    int ascii = 1;
    for (size_t pos = 0; pos < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)in + pos, (utf8proc_ssize_t)(len - pos), &c);
        if (k < 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "invalid UTF-8 at byte %zu",
                               pos);
        const char *why = refused(c);
        if (why)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s U+%04X at byte %zu", why,
                               (unsigned)c, pos);
        ascii &= c < 0x80;
        pos += (size_t)k;
    }
    if (ascii) { /* NFC is the identity and case folding is tolower */
        for (size_t i = 0; i < len; i++)
            cps_push(out, (in[i] >= 'A' && in[i] <= 'Z') ? in[i] + 32 : in[i]);
        return SHOP_OK;
    }
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD;
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)in;
    utf8proc_ssize_t n = utf8proc_decompose(s, (utf8proc_ssize_t)len, NULL, 0, opt);
    if (n >= 0) {
        out->cap = (size_t)n + 1;
        out->v = shop_xrealloc(out->v, out->cap * sizeof(*out->v));
        n = utf8proc_decompose(s, (utf8proc_ssize_t)len, out->v, n, opt);
    }
    if (n >= 0)
        n = utf8proc_normalize_utf32(out->v, n, opt);
    if (n < 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "cannot normalise: %s",
                           utf8proc_errmsg(n));
    out->n = (size_t)n;
    return SHOP_OK;
}

/* shop_text_normalize() into code points. */
static int normalize_cps(const char *in, size_t len, int max_cp, cps_t *out, char *errstr,
                         size_t errstr_size) {
    if ((!in && len) || max_cp < 1)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "bad arguments (input NULL or max_cp %d < 1)", max_cp);
    cps_t raw = {0};
    int rc = validate_fold(in, len, &raw, errstr, errstr_size);
    int pending = 0;
    for (size_t i = 0; rc == SHOP_OK && i < raw.n; i++) {
        if (is_space(raw.v[i])) {
            pending = out->n > 0;
            continue;
        }
        if (pending)
            cps_push(out, ' ');
        pending = 0;
        cps_push(out, raw.v[i]);
    }
    cps_release(&raw);
    if (rc != SHOP_OK)
        return rc;
    if (out->n == 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "empty query");
    if (out->n > (size_t)max_cp)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "query is %zu code points, over the limit of %d", out->n, max_cp);
    return SHOP_OK;
}

int shop_text_normalize(const char *in, size_t len, int max_cp, char *out, size_t out_size,
                        char *errstr, size_t errstr_size) {
    cps_t c = {0};
    int rc = normalize_cps(in, len, max_cp, &c, errstr, errstr_size);
    if (rc == SHOP_OK && (!out || encode(c.v, c.n, out, out_size) < 0)) {
        shop_buf_t b;
        shop_buf_init(&b);
        encode_buf(c.v, c.n, &b);
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                         "normalised query is %zu bytes, over the buffer of %zu", b.len + 1,
                         out ? out_size : 0);
        shop_buf_release(&b);
    }
    cps_release(&c);
    return rc;
}

/* ---- memo of shop_text_normalize() ---- */

typedef struct {
    uint64_t hash; /* 0: empty */
    int max_cp;
    uint16_t inlen, outlen;
    char *data; /* the input's bytes, then the result with its NUL */
} cache_slot_t;

struct shop_text_cache {
    cache_slot_t *slots;
    size_t mask;
    uint64_t hits, misses;
};

shop_text_cache_t *shop_text_cache_new(unsigned bits) {
    if (bits < 1 || bits > 24)
        return NULL;
    shop_text_cache_t *c = shop_xcalloc(1, sizeof(*c));
    c->mask = ((size_t)1 << bits) - 1;
    c->slots = shop_xcalloc(c->mask + 1, sizeof(*c->slots));
    return c;
}

void shop_text_cache_free(shop_text_cache_t *c) {
    if (!c)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        free(c->slots[i].data);
    free(c->slots);
    free(c);
}

void shop_text_cache_stats(const shop_text_cache_t *c, uint64_t *hits, uint64_t *misses) {
    *hits = c ? c->hits : 0;
    *misses = c ? c->misses : 0;
}

/* 8 bytes at a time; never 0 (0 marks an empty slot). */
static uint64_t cache_hash(const char *in, size_t len, int max_cp) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)len << 32) ^ (uint32_t)max_cp;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, in + i, 8);
        h = shop_mix64(h ^ w);
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, in + i, len - i);
        h = shop_mix64(h ^ w);
    }
    return h ? h : 1;
}

int shop_text_normalize_cached(shop_text_cache_t *c, const char *in, size_t len, int max_cp,
                               char *out, size_t out_size, char *errstr, size_t errstr_size) {
    if (!c || !in || !out || len > SHOP_TEXT_CACHE_MAX_IN)
        return shop_text_normalize(in, len, max_cp, out, out_size, errstr, errstr_size);
    uint64_t h = cache_hash(in, len, max_cp);
    cache_slot_t *s = &c->slots[h & c->mask];
    if (s->hash == h && s->max_cp == max_cp && s->inlen == len && !memcmp(s->data, in, len) &&
        (size_t)s->outlen < out_size) {
        memcpy(out, s->data + len, (size_t)s->outlen + 1);
        c->hits++;
        return SHOP_OK;
    }
    c->misses++;
    int rc = shop_text_normalize(in, len, max_cp, out, out_size, errstr, errstr_size);
    if (rc != SHOP_OK)
        return rc;
    size_t outlen = strlen(out);
    if (outlen > UINT16_MAX)
        return rc;
    free(s->data);
    s->data = shop_xmalloc(len + outlen + 1);
    memcpy(s->data, in, len);
    memcpy(s->data + len, out, outlen + 1);
    *s = (cache_slot_t){h, max_cp, (uint16_t)len, (uint16_t)outlen, s->data};
    return rc;
}

/* Scripts whose marks are diacritics to ignore when matching: Latin and Greek. */
static int strips_marks(int32_t c) {
    return c < 0x0250 || (c >= 0x0370 && c <= 0x03FF) || (c >= 0x1E00 && c <= 0x1FFF) ||
           (c >= 0x2C60 && c <= 0x2C7F) || (c >= 0xA720 && c <= 0xA7FF) ||
           (c >= 0xAB30 && c <= 0xAB6F);
}

static int is_mark(int32_t c) {
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
           cat == UTF8PROC_CATEGORY_ME;
}

/* shop_text_fold() on code points, appending to out. */
static void fold_cps(const int32_t *in, size_t n, cps_t *out) {
    const utf8proc_option_t opt =
        UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD;
    int strip = 0; /* the current base's marks go */
    for (size_t i = 0; i < n; i++) {
        if (is_mark(in[i])) {
            if (!strip)
                cps_push(out, in[i]);
            continue;
        }
        strip = strips_marks(in[i]);
        utf8proc_int32_t d[32];
        int bound = 0;
        utf8proc_ssize_t k = strip ? utf8proc_decompose_char(in[i], d, 32, opt, &bound) : -1;
        if (k < 0 || k > 32) {
            cps_push(out, in[i]);
            continue;
        }
        for (utf8proc_ssize_t j = 0; j < k; j++)
            cps_push(out, d[j]);
    }
}

/* Appends the 2-set keystrokes of compatibility jamo c (c itself if it is one key). */
static void push_keys(cps_t *out, int32_t c) {
    if (c >= KEYS_FIRST && c <= KEYS_LAST && two_keys[c - KEYS_FIRST][0]) {
        cps_push(out, two_keys[c - KEYS_FIRST][0]);
        cps_push(out, two_keys[c - KEYS_FIRST][1]);
    } else {
        cps_push(out, c);
    }
}

/* shop_text_jamo() on code points, appending to out. */
static void jamo_cps(const int32_t *in, size_t n, cps_t *out) {
    for (size_t i = 0; i < n; i++) {
        int32_t c = in[i];
        if (c >= S_BASE && c < S_BASE + S_COUNT) {
            int32_t s = c - S_BASE, t = s % T_COUNT;
            cps_push(out, initial_compat[s / N_COUNT]);
            push_keys(out, VOWEL_COMPAT + (s % N_COUNT) / T_COUNT);
            if (t)
                push_keys(out, final_compat[t]);
        } else if (c >= 0x1100 && c <= 0x1112) { /* conjoining L */
            cps_push(out, initial_compat[c - 0x1100]);
        } else if (c >= 0x1161 && c <= 0x1175) { /* conjoining V */
            push_keys(out, VOWEL_COMPAT + (c - 0x1161));
        } else if (c >= 0x11A8 && c <= 0x11C2) { /* conjoining T */
            push_keys(out, final_compat[c - 0x11A7]);
        } else {
            push_keys(out, c);
        }
    }
}

/* shop_text_choseong() on folded code points, appending to out. */
static void choseong_cps(const int32_t *in, size_t n, cps_t *out) {
    for (size_t i = 0; i < n; i++) {
        if (in[i] >= S_BASE && in[i] < S_BASE + S_COUNT)
            cps_push(out, initial_compat[(in[i] - S_BASE) / N_COUNT]);
        else if (in[i] != ' ')
            jamo_cps(in + i, 1, out);
    }
}

static int is_hangul(int32_t c) {
    return (c >= S_BASE && c < S_BASE + S_COUNT) || (c >= 0x1100 && c <= 0x11FF) ||
           (c >= 0x3131 && c <= 0x318E) || (c >= 0xA960 && c <= 0xA97F) ||
           (c >= 0xD7B0 && c <= 0xD7FF);
}

enum { STEP_FOLD = 1, STEP_JAMO = 2, STEP_CHOSEONG = 4 };

/* Decodes NUL-terminated q, applies the steps in order and encodes into out. */
static int transform(const char *q, int steps, char *out, size_t out_size) {
    size_t bad;
    cps_t a = {0}, b = {0};
    int len = -1;
    if (q && out && decode(q, strlen(q), &a, &bad) == 0) {
        if (steps & STEP_FOLD) {
            fold_cps(a.v, a.n, &b);
            cps_t t = a;
            a = b, b = t, b.n = 0;
        }
        if (steps & (STEP_JAMO | STEP_CHOSEONG)) {
            (steps & STEP_JAMO ? jamo_cps : choseong_cps)(a.v, a.n, &b);
            cps_t t = a;
            a = b, b = t;
        }
        len = encode(a.v, a.n, out, out_size);
    }
    cps_release(&a);
    cps_release(&b);
    return len;
}

int shop_text_fold(const char *q, char *out, size_t out_size) {
    return transform(q, STEP_FOLD, out, out_size);
}

int shop_text_jamo(const char *q, char *out, size_t out_size) {
    return transform(q, STEP_JAMO, out, out_size);
}

int shop_text_choseong(const char *q, char *out, size_t out_size) {
    return transform(q, STEP_FOLD | STEP_CHOSEONG, out, out_size);
}

int shop_text_has_hangul(const char *q) {
    size_t bad;
    cps_t c = {0};
    int found = 0;
    if (q && decode(q, strlen(q), &c, &bad) == 0)
        for (size_t i = 0; i < c.n && !found; i++)
            found = is_hangul(c.v[i]);
    cps_release(&c);
    return found;
}

/* The distinct keys emitted so far, NUL-separated in one buffer. */
typedef struct {
    shop_buf_t all, key;
    size_t *off, *len;
    size_t n, cap;
    shop_text_key_fn fn;
    void *arg;
} keyset_t;

/* Emits c[0..n) unless it was emitted before. */
static void emit(keyset_t *ks, const int32_t *c, size_t n) {
    encode_buf(c, n, &ks->key);
    for (size_t i = 0; i < ks->n; i++)
        if (ks->len[i] == ks->key.len &&
            !memcmp(ks->all.buf + ks->off[i], ks->key.buf, ks->key.len))
            return;
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? 2 * ks->cap : 64;
        ks->off = shop_xrealloc(ks->off, ks->cap * sizeof(*ks->off));
        ks->len = shop_xrealloc(ks->len, ks->cap * sizeof(*ks->len));
    }
    ks->off[ks->n] = ks->all.len;
    ks->len[ks->n++] = ks->key.len;
    shop_buf_append(&ks->all, ks->key.buf, ks->key.len + 1);
    ks->fn(ks->key.buf, ks->key.len, ks->arg);
}

static int is_syllable(int32_t c) {
    return c >= S_BASE && c < S_BASE + S_COUNT;
}

/* Keys (1): the keystroke form of each code-point prefix of q[0..n) up to m code points, with the
 * keystrokes in between. While a syllable is typed, an IME shows the next syllable's initial as
 * the current one's final (서울: 서, 성, 서우), so a typed text of m code points can already hold
 * the first keystroke of syllable m + 1: that key is emitted too. */
static void emit_prefixes(keyset_t *ks, const int32_t *q, size_t n, size_t m) {
    cps_t f = {0}, prev = {0}, cur = {0};
    size_t last = m < n && m > 0 && is_syllable(q[m - 1]) && is_syllable(q[m]) ? m + 1 : m;
    for (size_t i = 1; i <= last; i++) {
        f.n = cur.n = 0;
        fold_cps(q, i, &f);
        jamo_cps(f.v, f.n, &cur);
        int extends =
            cur.n >= prev.n && (!prev.n || !memcmp(cur.v, prev.v, prev.n * sizeof(*prev.v)));
        size_t j = extends ? prev.n + 1 : cur.n, end = i > m ? j : cur.n;
        for (; q[i - 1] != ' ' && j <= end; j++)
            if (j > 0 && cur.v[j - 1] != ' ')
                emit(ks, cur.v, j);
        cps_t t = prev;
        prev = cur, cur = t;
    }
    cps_release(&f);
    cps_release(&prev);
    cps_release(&cur);
}

int shop_text_prefix_keys(const char *q, int max_cp, shop_text_key_fn fn, void *arg) {
    size_t bad;
    cps_t c = {0};
    if (!q || !fn || max_cp < 1 || decode(q, strlen(q), &c, &bad) < 0) {
        cps_release(&c);
        return -1;
    }
    keyset_t ks = {.fn = fn, .arg = arg};
    shop_buf_init(&ks.all);
    shop_buf_init(&ks.key);
    emit_prefixes(&ks, c.v, c.n, c.n < (size_t)max_cp ? c.n : (size_t)max_cp);
    int hangul = 0;
    for (size_t i = 0; i < c.n && !hangul; i++)
        hangul = is_hangul(c.v[i]);
    if (hangul) { /* keys (2): initial consonants, spaces gone, so from the whole of q */
        cps_t f = {0}, ch = {0};
        fold_cps(c.v, c.n, &f);
        choseong_cps(f.v, f.n, &ch);
        for (size_t j = 2; j <= ch.n && j <= (size_t)max_cp; j++)
            emit(&ks, ch.v, j);
        cps_release(&f);
        cps_release(&ch);
    }
    int n = (int)ks.n;
    shop_buf_release(&ks.all);
    shop_buf_release(&ks.key);
    free(ks.off);
    free(ks.len);
    cps_release(&c);
    return n;
}

int shop_text_lookup_key(const char *typed, size_t len, int max_cp, char *out, size_t out_size,
                         char *errstr, size_t errstr_size) {
    cps_t norm = {0}, f = {0}, k = {0};
    int rc = normalize_cps(typed, len, max_cp, &norm, errstr, errstr_size);
    if (rc == SHOP_OK) {
        fold_cps(norm.v, norm.n, &f);
        jamo_cps(f.v, f.n, &k);
        int consonants = 0, other_hangul = 0; /* initial-consonant lookup: spaces go */
        for (size_t i = 0; i < k.n; i++) {
            int c = k.v[i] >= 0x3131 && k.v[i] <= 0x314E;
            consonants |= c;
            other_hangul |= !c && is_hangul(k.v[i]);
        }
        consonants &= !other_hangul;
        size_t w = 0;
        for (size_t i = 0; i < k.n; i++)
            if (!consonants || k.v[i] != ' ')
                k.v[w++] = k.v[i];
        while (w && k.v[w - 1] == ' ') /* a mark after a space that folding stripped */
            w--;
        k.n = w;
        if (!w)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "empty query");
        else if (!out || encode(k.v, k.n, out, out_size) < 0)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                             "lookup key of %zu code points does not fit in %zu bytes", k.n,
                             out ? out_size : 0);
    }
    cps_release(&norm);
    cps_release(&f);
    cps_release(&k);
    return rc;
}

size_t shop_text_columns(const char *s) {
    size_t cols = 0, len = strlen(s), pos = 0;
    while (pos < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s + pos, (utf8proc_ssize_t)(len - pos), &c);
        if (k <= 0) {
            cols++, pos++;
            continue;
        }
        int w = utf8proc_charwidth(c);
        cols += w > 0 ? (size_t)w : 0;
        pos += (size_t)k;
    }
    return cols;
}
