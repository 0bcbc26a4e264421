/* test_search_lex.c: the search worker's lexicon: which popular queries are misspelt variants
 * (kept out of suggestions), what "did you mean" answers for zero-result queries in Korean and
 * English, the Hangul-aware edit budget, and the decay weights behind the suggestions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "search_int.h"

/* The shop's popular queries, best first, with their counts. */
static const char *const items[] = {
    "선글라스", "휴대폰 케이스", "phone case", "beige phone case", "선글러스",  "phone csae",
    "원피스",   "후드티",        "노란색",     "lego star wars",   "이아폰 16", "아이폰 16",
};
static const double counts[] = {900, 700, 600, 300, 40, 30, 200, 150, 120, 80, 20, 100};
#define N (sizeof(items) / sizeof(items[0]))

static search_lex_t *lex(void) {
    search_lex_t *l = search_lex_build(items, counts, N);
    assert_non_null(l);
    return l;
}

static void expect_fix(const search_lex_t *l, const char *q, const char *want) {
    char *got = search_lex_correct(l, NULL, q);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_variants(void **state) {
    (void)state;
    search_lex_t *l = lex();
    for (size_t i = 0; i < N; i++) {
        /* a misspelling next to a query at least 3 times as popular */
        int want = !strcmp(items[i], "선글러스") || !strcmp(items[i], "phone csae") ||
                   !strcmp(items[i], "이아폰 16");
        assert_int_equal(search_lex_is_variant(l, i), want);
    }
    assert_int_equal(search_lex_is_variant(NULL, 0), 0);
    search_lex_destroy(l);
}

static void test_corrections(void **state) {
    (void)state;
    search_lex_t *l = lex();
    expect_fix(l, "선글러스", "선글라스"); /* a variant maps to its popular form */
    expect_fix(l, "phone csae", "phone case");
    expect_fix(l, "원프스", "원피스");               /* one syllable off */
    expect_fix(l, "휴대폰 캐이스", "휴대폰 케이스"); /* a whole popular query */
    expect_fix(l, "beig phone case", "beige phone case");
    expect_fix(l, "lego star wras", "lego star wars");
    expect_fix(l, "선글라스", NULL); /* popular in its own right */
    expect_fix(l, "노트북", NULL);   /* not 노란색: two syllables off */
    expect_fix(l, "ab", NULL);       /* too short to guess */
    search_lex_destroy(l);
    expect_fix(NULL, "phone csae", NULL); /* no lexicon yet, no dictionary */
}

static void test_dictionary_fallback(void **state) {
    (void)state;
    shop_symspell_t *dict = shop_symspell_new(2, 7);
    shop_symspell_add(dict, "notebook", 5000);
    shop_symspell_add(dict, "red", 9000);
    search_lex_t *l = lex();
    char *got = search_lex_correct(l, dict, "red notebok");
    assert_non_null(got);
    assert_string_equal(got, "red notebook");
    free(got);
    search_lex_destroy(l);
    shop_symspell_destroy(dict);
}

static void test_max_edits(void **state) {
    (void)state;
    assert_int_equal(search_max_edits("ab"), 0);
    assert_int_equal(search_max_edits("abc"), 1);
    assert_int_equal(search_max_edits("phone"), 1);
    assert_int_equal(search_max_edits("notebook"), 2);
    assert_int_equal(search_max_edits("선"), 0);
    assert_int_equal(search_max_edits("노트북"), 1);
    assert_int_equal(search_max_edits("빨간색선글라스"), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_corrections),
        cmocka_unit_test(test_dictionary_fallback),
        cmocka_unit_test(test_max_edits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
