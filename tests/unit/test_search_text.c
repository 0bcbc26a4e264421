/* test_search_text.c: query normalisation (NFC, case folding, whitespace, refusals), folding,
 * Hangul keystroke and initial-consonant forms, and the property that whatever a user has typed of
 * a query (through a 2-set IME, in any case, NFD, without accents) looks up one of its keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <utf8proc.h>

#include "shop.h"
#include "text.h"

#define MAXCP 60

/* ---- helpers ------------------------------------------------------------------------------ */

static char norm_buf[SHOP_TEXT_MAX_KEY];
static char err_buf[256];

/* Normalises s with max_cp 100; returns a static buffer or NULL (reason in err_buf). */
static const char *norm(const char *s) {
    err_buf[0] = '\0';
    int rc = shop_text_normalize(s, strlen(s), 100, norm_buf, sizeof(norm_buf), err_buf,
                                 sizeof(err_buf));
    return rc == SHOP_OK ? norm_buf : NULL;
}

static void assert_norm(const char *in, const char *want) {
    const char *got = norm(in);
    if (!got)
        fail_msg("normalize(\"%s\") refused: %s", in, err_buf);
    assert_string_equal(got, want);
}

/* Asserts that in[0..len) is refused with an errstr equal to want. */
static void assert_refused(const char *in, size_t len, int max_cp, const char *want) {
    char out[SHOP_TEXT_MAX_KEY], err[256] = "";
    assert_int_equal(shop_text_normalize(in, len, max_cp, out, sizeof(out), err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, want);
}

typedef struct {
    char **keys;
    size_t n, cap;
    int dup;
} keys_t;

static void collect(const char *key, size_t len, void *arg) {
    keys_t *k = arg;
    assert_int_equal(strlen(key), len);
    assert_true(len > 0 && key[len - 1] != ' ');
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->keys[i], key))
            k->dup++;
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        k->keys = shop_xrealloc(k->keys, k->cap * sizeof(*k->keys));
    }
    k->keys[k->n++] = shop_xstrdup(key);
}

/* Returns the keys of normalised q; the caller frees them with keys_free(). */
static keys_t keys_of(const char *q, int max_cp) {
    keys_t k = {0};
    int n = shop_text_prefix_keys(q, max_cp, collect, &k);
    assert_int_equal(n, (int)k.n);
    assert_int_equal(k.dup, 0);
    return k;
}

static void keys_free(keys_t *k) {
    for (size_t i = 0; i < k->n; i++)
        free(k->keys[i]);
    free(k->keys);
}

static int has_key(const keys_t *k, const char *key) {
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->keys[i], key))
            return 1;
    return 0;
}

/* Returns the lookup key of typed in a static buffer, or NULL if refused. */
static const char *lookup(const char *typed, int max_cp) {
    static char out[SHOP_TEXT_MAX_KEY];
    char err[256];
    int rc = shop_text_lookup_key(typed, strlen(typed), max_cp, out, sizeof(out), err, sizeof(err));
    return rc == SHOP_OK ? out : NULL;
}

static void assert_found(const char *query, const char *typed) {
    const char *q = norm(query);
    assert_non_null(q);
    keys_t k = keys_of(q, MAXCP);
    const char *key = lookup(typed, MAXCP);
    assert_non_null(key);
    if (!has_key(&k, key))
        fail_msg("typed \"%s\" (key \"%s\") does not find \"%s\"", typed, key, query);
    keys_free(&k);
}

/* ---- normalisation ------------------------------------------------------------------------- */

static void test_normalize_nfc_casefold(void **state) {
    (void)state;
    assert_norm("e\xcc\x81", "\xc3\xa9");       /* e + U+0301 -> é */
    assert_norm("CAFE\xcc\x81", "caf\xc3\xa9"); /* NFD + upper */
    assert_norm("Stra\xc3\x9f"
                "e",
                "strasse");                                    /* ß folds to ss */
    assert_norm("\xe1\x84\x89\xe1\x85\xa5\xe1\x86\xab", "선"); /* conjoining jamo compose */
    assert_norm("ΣΊΣΥΦΟΣ", "σίσυφοσ");
    assert_norm("Hello World", "hello world");
    assert_norm("LG 노트북", "lg 노트북");
}

static void test_normalize_whitespace(void **state) {
    (void)state;
    assert_norm("  red\t\tshoes \r\n", "red shoes");
    assert_norm("\xe3\x80\x80빨간색\xe3\x80\x80\xe3\x80\x80선글라스",
                "빨간색 선글라스");               /* U+3000 */
    assert_norm("red\xc2\xa0shoes", "red shoes"); /* NBSP */
    assert_norm("a\xe2\x80\xa8"
                "b",
                "a b"); /* U+2028 counts as a line break */
    assert_refused(" \t\xe3\x80\x80 ", 6, 10, "empty query");
    assert_refused("", 0, 10, "empty query");
}

static void test_normalize_invalid_utf8(void **state) {
    (void)state;
    assert_refused("ab\xc0\xaf", 4, 10, "invalid UTF-8 at byte 2");      /* overlong '/' */
    assert_refused("abc\xe0\x80\xaf", 6, 10, "invalid UTF-8 at byte 3"); /* overlong, 3 bytes */
    assert_refused("\x80"
                   "abc",
                   4, 10, "invalid UTF-8 at byte 0");                     /* lone continuation */
    assert_refused("x\xed\xa0\x80", 4, 10, "invalid UTF-8 at byte 1");    /* U+D800 surrogate */
    assert_refused("caf\xc3", 4, 10, "invalid UTF-8 at byte 3");          /* truncated */
    assert_refused("\xf4\x90\x80\x80", 4, 10, "invalid UTF-8 at byte 0"); /* > U+10FFFF */
    assert_refused("선글라스 \xff", 14, 10, "invalid UTF-8 at byte 13");
}

static void test_normalize_controls(void **state) {
    (void)state;
    assert_refused("abc\x1b[31m", 8, 20, "control character U+001B at byte 3");
    assert_refused("ab\0cd", 5, 20, "control character U+0000 at byte 2");
    assert_refused("del\x7f", 4, 20, "control character U+007F at byte 3");
    assert_refused("a\xc2\x85"
                   "b",
                   4, 20, "control character U+0085 at byte 1"); /* NEL */
    assert_refused("a\xe2\x80\x8b"
                   "b",
                   5, 20, "format character U+200B at byte 1");
    assert_refused("\xef\xbb\xbf"
                   "abc",
                   6, 20, "format character U+FEFF at byte 0");                  /* BOM */
    assert_refused("a\xe2\x80\x8f", 4, 20, "format character U+200F at byte 1"); /* RLM */
    assert_refused("x\xee\x80\x80", 4, 20, "private-use character U+E000 at byte 1");
    assert_refused("x\xef\xbf\xbf", 4, 20, "noncharacter U+FFFF at byte 1");
}

static void test_normalize_limits(void **state) {
    (void)state;
    size_t len = 10240;
    char *big = shop_xmalloc(len);
    memset(big, 'a', len);
    assert_refused(big, len, 100, "query is 10240 code points, over the limit of 100");
    free(big);
    /* counted after normalisation: 60 decomposed syllables (180 code points) are 60 */
    shop_buf_t b;
    shop_buf_init(&b);
    for (int i = 0; i < 60; i++)
        shop_buf_puts(&b, "\xe1\x84\x89\xe1\x85\xa5\xe1\x86\xab");
    char out[SHOP_TEXT_MAX_QUERY], err[128];
    assert_int_equal(shop_text_normalize(b.buf, b.len, 60, out, sizeof(out), err, sizeof(err)),
                     SHOP_OK);
    assert_int_equal(strlen(out), 180);
    assert_refused(b.buf, b.len, 59, "query is 60 code points, over the limit of 59");
    assert_int_equal(shop_text_normalize(b.buf, b.len, 60, out, 100, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "normalised query is 181 bytes, over the buffer of 100");
    shop_buf_release(&b);
}

/* ---- fold, jamo, choseong ------------------------------------------------------------------ */

static void assert_fold(const char *in, const char *want) {
    char out[SHOP_TEXT_MAX_KEY];
    assert_int_equal(shop_text_fold(in, out, sizeof(out)), (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_fold(void **state) {
    (void)state;
    assert_fold("café", "cafe");
    assert_fold(norm("Ünïcödé"), "unicode");
    assert_fold("crème brûlée", "creme brulee");
    assert_fold("q\xcc\x83", "q");       /* mark with no precomposed form */
    assert_fold("άλφα", "αλφα");         /* Greek tonos */
    assert_fold("선글라스", "선글라스"); /* syllables stay syllables */
    assert_fold("が", "が");             /* dakuten is part of the kana */
    assert_fold("й", "й");               /* and breve part of the Cyrillic letter */
    char small[4];
    assert_int_equal(shop_text_fold("cafe", small, sizeof(small)), -1);
    assert_int_equal(shop_text_fold("\xff", small, sizeof(small)), -1);
}

static void assert_jamo(const char *in, const char *want) {
    char out[SHOP_TEXT_MAX_KEY];
    assert_int_equal(shop_text_jamo(in, out, sizeof(out)), (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_jamo(void **state) {
    (void)state;
    assert_jamo("선글라스", "ㅅㅓㄴㄱㅡㄹㄹㅏㅅㅡ");
    assert_jamo("과", "ㄱㅗㅏ"); /* compound vowel split */
    assert_jamo("의", "ㅇㅡㅣ");
    assert_jamo("읽", "ㅇㅣㄹㄱ"); /* compound final split */
    assert_jamo("값", "ㄱㅏㅂㅅ");
    assert_jamo("빨", "ㅃㅏㄹ"); /* doubled consonant is one key */
    assert_jamo("쌔", "ㅆㅐ");
    assert_jamo("ㄳㅘ", "ㄱㅅㅗㅏ"); /* standalone compound jamo */
    assert_jamo("lg 노트북", "lg ㄴㅗㅌㅡㅂㅜㄱ");
    assert_jamo("\xe1\x84\x80", "ㄱ");         /* lone conjoining initial */
    assert_jamo("가\xe1\x86\xaa", "ㄱㅏㄱㅅ"); /* lone conjoining final ᆪ */
    assert_jamo("힣", "ㅎㅣㅎ");               /* last syllable U+D7A3 */
    assert_jamo("가", "ㄱㅏ");                 /* first syllable U+AC00 */
    char small[6];
    assert_int_equal(shop_text_jamo("가", small, sizeof(small)), -1);
}

static void test_choseong(void **state) {
    (void)state;
    char out[SHOP_TEXT_MAX_KEY];
    assert_int_equal(shop_text_choseong("빨간색 선글라스", out, sizeof(out)), 21);
    assert_string_equal(out, "ㅃㄱㅅㅅㄱㄹㅅ");
    assert_true(shop_text_choseong("lg 노트북", out, sizeof(out)) > 0);
    assert_string_equal(out, "lgㄴㅌㅂ");
    assert_true(shop_text_choseong("ㄳ café", out, sizeof(out)) > 0);
    assert_string_equal(out, "ㄱㅅcafe");
    assert_true(shop_text_has_hangul("lg 노트북"));
    assert_true(shop_text_has_hangul("ㅋㅋ"));
    assert_false(shop_text_has_hangul("café"));
    assert_false(shop_text_has_hangul("\xff"));
}

/* ---- keys ---------------------------------------------------------------------------------- */

static void test_prefix_keys_korean(void **state) {
    (void)state;
    keys_t k = keys_of("선글라스", MAXCP);
    static const char *const want[] = {"ㅅ",
                                       "ㅅㅓ",
                                       "ㅅㅓㄴ",
                                       "ㅅㅓㄴㄱ",
                                       "ㅅㅓㄴㄱㅡ",
                                       "ㅅㅓㄴㄱㅡㄹ",
                                       "ㅅㅓㄴㄱㅡㄹㄹㅏㅅㅡ",
                                       "ㅅㄱ",
                                       "ㅅㄱㄹ",
                                       "ㅅㄱㄹㅅ"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!has_key(&k, want[i]))
            fail_msg("missing key %s", want[i]);
    assert_string_equal(k.keys[0], "ㅅ"); /* deterministic order: keystrokes first */
    assert_false(has_key(&k, "ㅅㄱㄹㅅㅡ"));
    keys_free(&k);

    assert_string_equal(lookup("선ㄱ", MAXCP), "ㅅㅓㄴㄱ");
    assert_string_equal(lookup("ㅅㄱㄹㅅ", MAXCP), "ㅅㄱㄹㅅ");
    assert_string_equal(lookup("ㅃㄱㅅ ㅅㄱ", MAXCP), "ㅃㄱㅅㅅㄱ");
    assert_string_equal(lookup("일ㄱ", MAXCP), "ㅇㅣㄹㄱ");
    assert_string_equal(lookup("읽", MAXCP), "ㅇㅣㄹㄱ");
    static const char *const typed[] = {"ㅅ",   "서",       "선",   "선ㄱ",   "선그",
                                        "선글", "선글라스", "ㅅㄱ", "ㅅㄱㄹ", "ㅅㄱㄹㅅ"};
    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++)
        assert_found("선글라스", typed[i]);
    static const char *const typed2[] = {"빨",        "빨간색 ",        "빨간색 선",
                                         "빨간색 서", "빨간색 선ㄱ",    "ㅃㄱㅅ",
                                         "ㅃㄱㅅ ㅅ", "ㅃ ㄱ ㅅ ㅅ ㄱ", "빨간색 선글라스 찾"};
    for (size_t i = 0; i < sizeof(typed2) / sizeof(typed2[0]); i++)
        assert_found("빨간색 선글라스 찾아줘", typed2[i]);
    assert_found("서울", "성"); /* the IME shows 서 + ㅇ as 성 until ㅜ is typed */
    assert_found("일곱", "읽");
}

static void test_prefix_keys_mixed(void **state) {
    (void)state;
    static const char *const typed[] = {"L",     "lg",    "LG ",       "LG ㄴ",
                                        "LG 노", "lg 놑", "LG 노트북", "lgㄴㅌ"};
    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++)
        assert_found("LG 노트북", typed[i]);
    static const char *const typed2[] = {"c", "CA", "caf", "cafe", "CAFÉ", "café", "cafe\xcc\x81"};
    for (size_t i = 0; i < sizeof(typed2) / sizeof(typed2[0]); i++)
        assert_found("Café", typed2[i]);
    assert_found("Straße", "STRASS");
    assert_found("Straße", "straß");

    keys_t k = keys_of("red shoes", MAXCP);
    assert_int_equal(k.n, 8); /* r re red red_s ... no key with a trailing space */
    assert_false(has_key(&k, "red "));
    keys_free(&k);

    k = keys_of("선글라스", 2); /* within max_cp 2, plus the first key of the third syllable */
    assert_true(has_key(&k, "ㅅㅓㄴㄱㅡㄹ"));
    assert_true(has_key(&k, "ㅅㅓㄴㄱㅡㄹㄹ"));
    assert_false(has_key(&k, "ㅅㅓㄴㄱㅡㄹㄹㅏ"));
    assert_true(has_key(&k, "ㅅㄱ"));
    assert_false(has_key(&k, "ㅅㄱㄹ"));
    keys_free(&k);
}

static void test_bad_input(void **state) {
    (void)state;
    keys_t k = {0};
    assert_int_equal(shop_text_prefix_keys("ab\xff", 10, collect, &k), -1);
    assert_int_equal(shop_text_prefix_keys("abc", 0, collect, &k), -1);
    assert_int_equal(shop_text_prefix_keys(NULL, 10, collect, &k), -1);
    assert_int_equal(k.n, 0);
    char out[SHOP_TEXT_MAX_KEY], err[128];
    assert_int_equal(shop_text_lookup_key("a\x1b", 2, 10, out, sizeof(out), err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "control character U+001B at byte 1");
    assert_int_equal(shop_text_lookup_key("선글라스", 12, 3, out, sizeof(out), err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "query is 4 code points, over the limit of 3");
    assert_int_equal(shop_text_lookup_key("선글라스", 12, 10, out, 8, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_string_equal(err, "lookup key of 10 code points does not fit in 8 bytes");
}

/* ---- property: every typed prefix finds its query ------------------------------------------ */

/* A 2-set IME, written from the keyboard's rules: the oracle for what a screen shows while typing.
 * Works on compatibility jamo; anything else is passed through. */
static const int32_t ime_initials[19] = {0x3131, 0x3132, 0x3134, 0x3137, 0x3138, 0x3139, 0x3141,
                                         0x3142, 0x3143, 0x3145, 0x3146, 0x3147, 0x3148, 0x3149,
                                         0x314A, 0x314B, 0x314C, 0x314D, 0x314E};
static const int32_t ime_finals[28] = {0,      0x3131, 0x3132, 0x3133, 0x3134, 0x3135, 0x3136,
                                       0x3137, 0x3139, 0x313A, 0x313B, 0x313C, 0x313D, 0x313E,
                                       0x313F, 0x3140, 0x3141, 0x3142, 0x3144, 0x3145, 0x3146,
                                       0x3147, 0x3148, 0x314A, 0x314B, 0x314C, 0x314D, 0x314E};
static const int32_t ime_pairs[][3] = {
    {0x3131, 0x3145, 0x3133}, {0x3134, 0x3148, 0x3135}, {0x3134, 0x314E, 0x3136},
    {0x3139, 0x3131, 0x313A}, {0x3139, 0x3141, 0x313B}, {0x3139, 0x3142, 0x313C},
    {0x3139, 0x3145, 0x313D}, {0x3139, 0x314C, 0x313E}, {0x3139, 0x314D, 0x313F},
    {0x3139, 0x314E, 0x3140}, {0x3142, 0x3145, 0x3144}, {0x3157, 0x314F, 0x3158},
    {0x3157, 0x3150, 0x3159}, {0x3157, 0x3163, 0x315A}, {0x315C, 0x3153, 0x315D},
    {0x315C, 0x3154, 0x315E}, {0x315C, 0x3163, 0x315F}, {0x3161, 0x3163, 0x3162},
};

static int index_of(const int32_t *t, int n, int32_t c) {
    for (int i = 0; i < n; i++)
        if (t[i] == c && c)
            return i;
    return -1;
}

static int32_t ime_combine(int32_t a, int32_t b) {
    for (size_t i = 0; i < sizeof(ime_pairs) / sizeof(ime_pairs[0]); i++)
        if (ime_pairs[i][0] == a && ime_pairs[i][1] == b)
            return ime_pairs[i][2];
    return 0;
}

static void ime_split(int32_t c, int32_t *a, int32_t *b) {
    *a = c, *b = 0;
    for (size_t i = 0; i < sizeof(ime_pairs) / sizeof(ime_pairs[0]); i++)
        if (ime_pairs[i][2] == c)
            *a = ime_pairs[i][0], *b = ime_pairs[i][1];
}

typedef struct {
    shop_buf_t out;
    int32_t l, v, t; /* the syllable being composed (compatibility jamo, 0 = none) */
} ime_t;

static void put(shop_buf_t *b, int32_t c) {
    utf8proc_uint8_t enc[4];
    shop_buf_append(b, enc, (size_t)utf8proc_encode_char(c, enc));
}

static void ime_commit(ime_t *m) {
    if (m->l && m->v)
        put(&m->out, 0xAC00 + (index_of(ime_initials, 19, m->l) * 21 + (m->v - 0x314F)) * 28 +
                         (m->t ? index_of(ime_finals, 28, m->t) : 0));
    else if (m->l || m->v)
        put(&m->out, m->l ? m->l : m->v);
    m->l = m->v = m->t = 0;
}

static void ime_key(ime_t *m, int32_t c) {
    int vowel = c >= 0x314F && c <= 0x3163, consonant = c >= 0x3131 && c <= 0x314E;
    if (consonant) {
        int32_t both = m->t ? ime_combine(m->t, c) : 0;
        if (m->l && m->v && !m->t && index_of(ime_finals, 28, c) > 0)
            m->t = c;
        else if (m->l && m->v && both && index_of(ime_finals, 28, both) > 0)
            m->t = both;
        else
            ime_commit(m), m->l = c;
    } else if (vowel) {
        int32_t both = m->v ? ime_combine(m->v, c) : 0;
        if (m->t) { /* the final moves on to start the next syllable */
            int32_t a, b;
            ime_split(m->t, &a, &b);
            m->t = b ? a : 0;
            ime_commit(m);
            m->l = b ? b : a, m->v = c;
        } else if (m->l && !m->v) {
            m->v = c;
        } else if (m->v && both) {
            m->v = both;
        } else {
            ime_commit(m), m->v = c;
        }
    } else {
        ime_commit(m);
        put(&m->out, c);
    }
}

/* What the screen shows after typing keys[0..n); returns a heap string. */
static char *ime_type(const int32_t *keys, size_t n) {
    ime_t m = {.l = 0};
    shop_buf_init(&m.out);
    for (size_t i = 0; i < n; i++)
        ime_key(&m, keys[i]);
    ime_commit(&m);
    shop_buf_append(&m.out, "", 0);
    return m.out.buf;
}

static size_t decode_all(const char *s, int32_t *c, size_t cap) {
    size_t n = 0;
    for (const char *p = s; *p && n < cap;) {
        utf8proc_int32_t x;
        p += utf8proc_iterate((const utf8proc_uint8_t *)p, -1, &x);
        c[n++] = x;
    }
    return n;
}

static const char *const queries[] = {
    "선글라스",
    "빨간색 선글라스 찾아줘",
    "LG 노트북",
    "Café Crème",
    "Straße",
    "삼성 갤럭시 S24 울트라",
    "아이폰 15 케이스",
    "닭가슴살",
    "읽기 좋은 책",
    "앉은뱅이 의자",
    "과자 선물세트",
    "의류 건조기",
    "값싼 원피스",
    "ÜNÏCÖDÉ",
    "naïve résumé",
    "iPhone 15 Pro Max",
    "무선 이어폰",
    "여름 원피스 세일",
    "서울 우유",
    "외장 하드 1TB",
    "뷁",
    "ㅋㅋ 웃긴 티셔츠",
    "ㄱ ㄴ ㄷ",
    "곬",
    "Ἀθῆναι tour",
    "nike 에어맥스 270",
    "  Red   SHOES  ",
    "일곱 난쟁이",
    "e\xcc\x81t\xc3\xa9",
    "\xea\xb4\x9c\xec\xb0\xae\xec\x95\x84",
    "ㅘ ㄳ",
    "웨딩 드레스",
};

typedef struct {
    int checked, refused;
} tally_t;

/* Asserts that typed, if it is within max_cp, looks up one of the keys. */
static void check_typed(const keys_t *k, const char *q, const char *typed, int max_cp, tally_t *t) {
    const char *key = lookup(typed, max_cp);
    if (!key) {
        t->refused++;
        return;
    }
    if (!has_key(k, key))
        fail_msg("query \"%s\" max_cp %d: typed \"%s\" (key \"%s\") is not a key", q, max_cp, typed,
                 key);
    t->checked++;
}

static void check_query(const char *raw, int max_cp, tally_t *t) {
    char q[SHOP_TEXT_MAX_KEY], folded[SHOP_TEXT_MAX_KEY], jamo[SHOP_TEXT_MAX_KEY];
    char err[128];
    assert_int_equal(shop_text_normalize(raw, strlen(raw), MAXCP, q, sizeof(q), err, sizeof(err)),
                     SHOP_OK);
    keys_t k = keys_of(q, max_cp);
    int32_t c[4 * SHOP_TEXT_MAX_KEY];
    size_t n = decode_all(q, c, 4 * SHOP_TEXT_MAX_KEY);
    /* code-point prefixes as typed, upper-cased (ASCII), decomposed and without accents */
    for (size_t i = 1; i <= n; i++) {
        char p[SHOP_TEXT_MAX_KEY];
        shop_buf_t b;
        shop_buf_init(&b);
        for (size_t j = 0; j < i; j++)
            put(&b, c[j]);
        snprintf(p, sizeof(p), "%s", b.buf);
        check_typed(&k, q, p, max_cp, t);
        for (char *s = p; *s; s++)
            *s = (*s >= 'a' && *s <= 'z') ? *s - 32 : *s;
        check_typed(&k, q, p, max_cp, t);
        utf8proc_uint8_t *nfd = NULL;
        if (utf8proc_map((const utf8proc_uint8_t *)b.buf, (utf8proc_ssize_t)b.len, &nfd,
                         UTF8PROC_DECOMPOSE) >= 0)
            check_typed(&k, q, (const char *)nfd, max_cp, t);
        free(nfd);
        assert_true(shop_text_fold(b.buf, folded, sizeof(folded)) >= 0);
        check_typed(&k, q, folded, max_cp, t);
        shop_buf_release(&b);
    }
    /* every keystroke prefix, as a 2-set IME shows it */
    assert_true(shop_text_fold(q, folded, sizeof(folded)) >= 0);
    assert_true(shop_text_jamo(folded, jamo, sizeof(jamo)) >= 0);
    int32_t keys[4 * SHOP_TEXT_MAX_KEY];
    size_t nk = decode_all(jamo, keys, 4 * SHOP_TEXT_MAX_KEY);
    for (size_t j = 1; j <= nk; j++) {
        if (keys[j - 1] == ' ')
            continue;
        char *typed = ime_type(keys, j);
        check_typed(&k, q, typed, max_cp, t);
        free(typed);
    }
    /* initial consonants of each prefix, with and without the spaces */
    if (shop_text_has_hangul(q)) {
        for (size_t i = 1; i <= n; i++) {
            shop_buf_t sp, nosp;
            shop_buf_init(&sp);
            shop_buf_init(&nosp);
            int vowel = 0; /* a typed vowel makes it no initial-consonant lookup */
            for (size_t j = 0; j < i; j++) {
                int32_t x = c[j];
                if (x >= 0xAC00 && x <= 0xD7A3)
                    x = ime_initials[(x - 0xAC00) / 588];
                vowel |= x >= 0x314F && x <= 0x318E;
                put(&sp, x);
                if (x != ' ')
                    put(&nosp, x);
            }
            check_typed(&k, q, sp.buf, max_cp, t);
            if (nosp.len && !vowel)
                check_typed(&k, q, nosp.buf, max_cp, t);
            shop_buf_release(&sp);
            shop_buf_release(&nosp);
        }
    }
    keys_free(&k);
}

static void test_property_typed_prefixes(void **state) {
    (void)state;
    static const int limits[] = {MAXCP, 8, 3, 1};
    tally_t t = {0};
    for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
        for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
            check_query(queries[i], limits[l], &t);
    print_message("property: %d typed prefixes found their query, %d over max_cp\n", t.checked,
                  t.refused);
    assert_true(t.checked > 1000);
}

/* The memo answers exactly as shop_text_normalize() does, refusals and their wording included,
 * whatever the slots' collisions, limits and output buffers. */
static void test_normalize_cache(void **state) {
    (void)state;
    static const char *const inputs[] = {
        "빨간색 선글라스 찾아줘",
        "Straße",
        "CAFE\xcc\x81",
        "café",
        "  red   Shoes ",
        "abcd",
        "abc",
        "a\x1b",
        "\xff\xfe",
        "\xe2\x80\x8bzero",
        "",
        "   ",
        "ㅅㄱㄹㅅ",
        "Nike Air Max 90 (남성용)",
        "\xed\xa0\x80",
        "x\ty",
        "ab\xc0\xaf",
    };
    static const int limits[] = {60, 3, 1};
    static const size_t sizes[] = {SHOP_TEXT_MAX_KEY, 8, 4};
    const size_t n = sizeof(inputs) / sizeof(inputs[0]);
    for (unsigned bits = 1; bits <= 12; bits += 11) {
        shop_text_cache_t *c = shop_text_cache_new(bits);
        assert_non_null(c);
        uint64_t seed = 7, lookups = 0, ok = 0;
        for (int round = 0; round < 3000; round++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *in = inputs[(seed >> 33) % n];
            int max_cp = limits[(seed >> 20) % 3];
            size_t size = sizes[(seed >> 40) % 3];
            char want[SHOP_TEXT_MAX_KEY] = "", got[SHOP_TEXT_MAX_KEY] = "";
            char werr[256] = "", gerr[256] = "";
            int wrc = shop_text_normalize(in, strlen(in), max_cp, want, size, werr, sizeof(werr));
            int grc = shop_text_normalize_cached(c, in, strlen(in), max_cp, got, size, gerr,
                                                 sizeof(gerr));
            lookups++;
            ok += wrc == SHOP_OK;
            assert_int_equal(grc, wrc);
            if (wrc == SHOP_OK)
                assert_string_equal(got, want);
            else
                assert_string_equal(gerr, werr);
        }
        uint64_t hits, misses;
        shop_text_cache_stats(c, &hits, &misses);
        print_message("cache of %u slots: %llu hits, %llu misses, %llu accepted\n", 1u << bits,
                      (unsigned long long)hits, (unsigned long long)misses, (unsigned long long)ok);
        assert_int_equal(hits + misses, lookups);
        assert_true(hits <= ok);
        if (bits > 8) /* a few dozen accepted (input, limit) pairs: nearly all repeats hit */
            assert_true(hits > ok * 9 / 10);
        shop_text_cache_free(c);
    }
    /* over SHOP_TEXT_CACHE_MAX_IN bytes: normalised, never kept */
    shop_text_cache_t *c = shop_text_cache_new(4);
    char big[SHOP_TEXT_CACHE_MAX_IN + 2], out[SHOP_TEXT_MAX_KEY], err[256];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 2; i++)
        assert_int_equal(shop_text_normalize_cached(c, big, strlen(big), 1000, out, sizeof(out),
                                                    err, sizeof(err)),
                         SHOP_OK);
    uint64_t hits, misses;
    shop_text_cache_stats(c, &hits, &misses);
    assert_int_equal(hits, 0);
    assert_null(shop_text_cache_new(0));
    shop_text_cache_free(c);
}

/* Table columns: a Hangul syllable or jamo takes two, ASCII one, a combining mark none (UAX #11
 * East Asian Width as utf8proc has it), a stray byte one. */
static void test_columns(void **state) {
    (void)state;
    assert_int_equal(shop_text_columns(""), 0);
    assert_int_equal(shop_text_columns("brown sunglasses"), 16);
    assert_int_equal(shop_text_columns("선글라스"), 8);
    assert_int_equal(shop_text_columns("갈색 선글라스"), 13);
    assert_int_equal(shop_text_columns("ㅅㄱㄹㅅ"), 8);
    assert_int_equal(shop_text_columns("cafe\xcc\x81"), 4); /* e + COMBINING ACUTE ACCENT */
    assert_int_equal(shop_text_columns("a\xff"
                                       "b"),
                     3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_normalize_nfc_casefold),
        cmocka_unit_test(test_normalize_whitespace),
        cmocka_unit_test(test_normalize_invalid_utf8),
        cmocka_unit_test(test_normalize_controls),
        cmocka_unit_test(test_normalize_limits),
        cmocka_unit_test(test_normalize_cache),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_jamo),
        cmocka_unit_test(test_choseong),
        cmocka_unit_test(test_prefix_keys_korean),
        cmocka_unit_test(test_prefix_keys_mixed),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_property_typed_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
