/* fuzz_search_text.c: libFuzzer target for the search worker's query text (text.h): normalise,
 * fold, keystroke jamo, choseong, suggestion prefix keys and the lookup key, with invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "shop.h"
#include "text.h"

#define MAX_KEYS 512

typedef struct {
    char *keys[MAX_KEYS];
    size_t n;
    int overflow;
} keyset_t;

static void collect(const char *key, size_t len, void *arg) {
    keyset_t *ks = arg;
    FUZZ_CHECK(strlen(key) == len, "key length %zu but strlen %zu", len, strlen(key));
    FUZZ_CHECK(len > 0, "empty suggestion key");
    FUZZ_CHECK(fuzz_utf8_valid(key, len), "suggestion key is not UTF-8");
    FUZZ_CHECK(key[len - 1] != ' ', "suggestion key \"%s\" ends with a space", key);
    for (size_t i = 0; i < ks->n; i++)
        FUZZ_CHECK(strcmp(ks->keys[i], key), "suggestion key \"%s\" given twice", key);
    if (ks->n == MAX_KEYS) {
        ks->overflow = 1;
        return;
    }
    ks->keys[ks->n++] = fuzz_strndup((const uint8_t *)key, len);
}

static void raw_key(const char *key, size_t len, void *arg) {
    (void)arg;
    FUZZ_CHECK(strlen(key) == len && fuzz_utf8_valid(key, len), "bad key from raw input");
}

static int keyset_has(const keyset_t *ks, const char *key) {
    for (size_t i = 0; i < ks->n; i++)
        if (!strcmp(ks->keys[i], key))
            return 1;
    return 0;
}

/* The bounded-buffer functions on raw input with an exact-size heap buffer, so ASan sees any
 * write past out_size. */
static void raw_forms(const char *s, size_t out_size) {
    char *out = malloc(out_size);
    int (*fns[])(const char *, char *, size_t) = {shop_text_fold, shop_text_jamo,
                                                  shop_text_choseong};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        int n = fns[i](s, out, out_size);
        FUZZ_CHECK(n >= -1 && (n < 0 || (size_t)n < out_size), "fn %zu returned %d for size %zu", i,
                   n, out_size);
        if (n >= 0)
            FUZZ_CHECK(strlen(out) == (size_t)n && fuzz_utf8_valid(out, (size_t)n),
                       "fn %zu: bad output", i);
    }
    (void)shop_text_has_hangul(s);
    free(out);
}

/* Checks every promise of text.h about one normalised query q. */
static void check_normalised(const char *q, int max_cp) {
    size_t qlen = strlen(q);
    char again[SHOP_TEXT_MAX_KEY], fold[SHOP_TEXT_MAX_KEY], fold2[SHOP_TEXT_MAX_KEY];
    char jamo[SHOP_TEXT_MAX_KEY], cho[SHOP_TEXT_MAX_KEY], key[SHOP_TEXT_MAX_KEY], why[256];
    FUZZ_CHECK(qlen > 0 && fuzz_utf8_valid(q, qlen), "normalised query not UTF-8");
    FUZZ_CHECK(q[0] != ' ' && q[qlen - 1] != ' ' && !strstr(q, "  "), "spaces not collapsed");
    FUZZ_CHECK(fuzz_utf8_count(q) <= (size_t)max_cp, "over max_cp");
    FUZZ_CHECK(!shop_text_normalize(q, qlen, max_cp, again, sizeof(again), why, sizeof(why)),
               "normalised query refused: %s", why);
    FUZZ_CHECK(!strcmp(q, again), "normalise not idempotent: \"%s\" -> \"%s\"", q, again);

    int fl = shop_text_fold(q, fold, sizeof(fold));
    FUZZ_CHECK(fl >= 0 && fuzz_utf8_valid(fold, (size_t)fl), "fold failed");
    FUZZ_CHECK(shop_text_fold(fold, fold2, sizeof(fold2)) >= 0 && !strcmp(fold, fold2),
               "fold not idempotent: \"%s\" -> \"%s\"", fold, fold2);
    int jl = shop_text_jamo(fold, jamo, sizeof(jamo));
    FUZZ_CHECK(jl >= 0 && fuzz_utf8_valid(jamo, (size_t)jl), "jamo failed on \"%s\"", fold);
    int cl = shop_text_choseong(q, cho, sizeof(cho));
    FUZZ_CHECK(cl >= 0 && fuzz_utf8_valid(cho, (size_t)cl) && !strchr(cho, ' '),
               "choseong failed on \"%s\"", q);

    keyset_t ks = {0};
    int nk = shop_text_prefix_keys(q, max_cp, collect, &ks);
    FUZZ_CHECK(nk >= 0 && (ks.overflow || (size_t)nk == ks.n), "prefix_keys returned %d, %zu seen",
               nk, ks.n);
    if (!ks.overflow) {
        /* Every code-point prefix of q the user can type looks up one of q's keys. */
        size_t ncp = fuzz_utf8_count(q);
        for (size_t cp = 1; cp <= ncp && cp <= (size_t)max_cp; cp++) {
            size_t b = fuzz_utf8_prefix(q, cp);
            if (shop_text_lookup_key(q, b, max_cp, key, sizeof(key), why, sizeof(why)))
                continue; /* a prefix ending in a space is "empty" only if it is all spaces */
            FUZZ_CHECK(keyset_has(&ks, key),
                       "prefix \"%.*s\" of \"%s\" (max_cp %d) looks up \"%s\", "
                       "not one of its %zu keys",
                       (int)b, q, q, max_cp, key, ks.n);
        }
        /* Initial consonants typed for a Hangul query (2..max_cp code points). */
        if (shop_text_has_hangul(q)) {
            size_t ncho = fuzz_utf8_count(cho);
            for (size_t cp = 2; cp <= ncho && cp <= (size_t)max_cp; cp++) {
                size_t b = fuzz_utf8_prefix(cho, cp);
                if (shop_text_lookup_key(cho, b, max_cp, key, sizeof(key), why, sizeof(why)))
                    continue;
                FUZZ_CHECK(keyset_has(&ks, key),
                           "choseong prefix \"%.*s\" of \"%s\" looks up "
                           "\"%s\", not one of its keys",
                           (int)b, cho, q, key);
            }
        }
    }
    for (size_t i = 0; i < ks.n; i++)
        free(ks.keys[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    int max_cp = 1 + data[0] % 60;
    size_t out_size = 1 + data[1];
    const char *in = (const char *)data + 2;
    size_t len = size - 2;

    char q[SHOP_TEXT_MAX_QUERY], key[SHOP_TEXT_MAX_KEY], why[256];
    if (!shop_text_normalize(in, len, max_cp, q, sizeof(q), why, sizeof(why)))
        check_normalised(q, max_cp);
    else
        FUZZ_CHECK(why[0], "refused without a reason");
    if (!shop_text_lookup_key(in, len, max_cp, key, sizeof(key), why, sizeof(why)))
        FUZZ_CHECK(key[0] && fuzz_utf8_valid(key, strlen(key)), "bad lookup key");

    /* An exact-size output buffer for normalise too. */
    char *small = malloc(out_size);
    if (!shop_text_normalize(in, len, 1000, small, out_size, why, sizeof(why)))
        FUZZ_CHECK(strlen(small) < out_size, "normalise overran out_size");
    free(small);

    char *s = fuzz_strndup((const uint8_t *)in, len); /* NUL-terminated, maybe invalid UTF-8 */
    raw_forms(s, out_size);
    /* Not normalised (as a Redis member may be): only memory safety and UTF-8 keys. */
    (void)shop_text_prefix_keys(s, max_cp, raw_key, NULL);
    free(s);
    return 0;
}
