/* test_symspell.c: SymSpell distance on code points (transpositions, Hangul, accents), ranked
 * lookup, the error model, dictionary loading with a BOM, word-by-word correction, bad input and
 * the offline `correct` command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "correct_cli.h"
#include "shop.h"
#include "symspell.h"

/* Returns a heap dictionary the caller destroys. */
static shop_symspell_t *small_dictionary(void) {
    static const struct {
        const char *word;
        uint64_t count;
    } words[] = {
        {"the", 1000000}, {"quick", 5000},     {"brown", 4000},   {"fox", 300},
        {"box", 9000},    {"jumps", 800},      {"spelling", 700}, {"spending", 900},
        {"until", 3000},  {"beginning", 2000}, {"café", 400},     {"선글라스", 50},
        {"빨간색", 40},   {"선물", 500},       {"receipt", 600},  {"recipe", 550},
    };
    shop_symspell_t *s = shop_symspell_new(2, 7);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        assert_int_equal(shop_symspell_add(s, words[i].word, words[i].count), SHOP_OK);
    shop_symspell_optimize(s);
    return s;
}

static void test_distance(void **state) {
    (void)state;
    assert_int_equal(shop_symspell_distance("the", "the", 2), 0);
    assert_int_equal(shop_symspell_distance("teh", "the", 2), 1); /* transposition */
    assert_int_equal(shop_symspell_distance("ca", "abc", -1), 3); /* OSA, not full Damerau */
    assert_int_equal(shop_symspell_distance("kitten", "sitting", -1), 3);
    assert_int_equal(shop_symspell_distance("kitten", "sitting", 2), -1);
    assert_int_equal(shop_symspell_distance("", "ab", -1), 2);
    /* Hangul syllables are one code point each (three UTF-8 bytes). */
    assert_int_equal(shop_symspell_distance("선글라스", "선그라스", 2), 1);
    assert_int_equal(shop_symspell_distance("선글라스", "글선라스", 2), 1);
    assert_int_equal(shop_symspell_distance("선글라스", "선글", 2), 2);
    /* Accents, case folding and NFC: a decomposed é equals the composed one. */
    assert_int_equal(shop_symspell_distance("café", "cafe", 2), 1);
    assert_int_equal(shop_symspell_distance("CAFÉ", "café", 2), 0);
    assert_int_equal(shop_symspell_distance("cafe\xcc\x81", "café", 2), 0);
    assert_int_equal(shop_symspell_distance("\xff", "a", 2), SHOP_ERR_INVALID);
}

static void test_error_model(void **state) {
    (void)state;
    assert_true(shop_symspell_typo_cost("the", "the") == 0.0);
    /* Common slips cost less than an arbitrary edit. */
    double any = shop_symspell_typo_cost("the", "thz");
    assert_true(shop_symspell_typo_cost("the", "teh") < any);            /* transposition */
    assert_true(shop_symspell_typo_cost("the", "thw") < any);            /* QWERTY neighbour */
    assert_true(shop_symspell_typo_cost("until", "untill") < 0.5);       /* doubled */
    assert_true(shop_symspell_typo_cost("beginning", "begining") < 0.5); /* undoubled */
    assert_true(shop_symspell_typo_cost("separate", "seperate") < any);  /* vowel */
    assert_true(shop_symspell_typo_cost("since", "sinse") < any);        /* sound-alike */
    /* The first letter is seldom wrong. */
    assert_true(shop_symspell_typo_cost("bat", "cat") > shop_symspell_typo_cost("bat", "bot"));
}

static void test_lookup_ranked(void **state) {
    (void)state;
    shop_symspell_t *s = small_dictionary();
    shop_symspell_candidate_t c[8];
    assert_int_equal(shop_symspell_size(s), 16);
    int n = shop_symspell_lookup(s, "speling", c, 8);
    assert_true(n >= 2);
    assert_string_equal(c[0].word, "spelling"); /* one undoubling beats spending's two edits */
    assert_int_equal(c[0].distance, 1);
    for (int i = 1; i < n; i++)
        assert_true(c[i - 1].score >= c[i].score);
    /* A word already in the dictionary stays, even next to a more frequent neighbour. */
    assert_int_equal(shop_symspell_lookup(s, "fox", c, 8), 2);
    assert_string_equal(c[0].word, "fox");
    assert_int_equal(c[0].distance, 0);
    assert_string_equal(c[1].word, "box");
    assert_int_equal(shop_symspell_lookup(s, "Reciept", c, 1), 1);
    assert_string_equal(c[0].word, "receipt");
    assert_int_equal(shop_symspell_lookup(s, "선그라스", c, 1), 1);
    assert_string_equal(c[0].word, "선글라스");
    assert_int_equal(shop_symspell_lookup(s, "CAFE", c, 1), 1);
    assert_string_equal(c[0].word, "café");
    assert_int_equal(shop_symspell_lookup(s, "zzzzzz", c, 8), 0);
    /* Counts add up; bad words are refused. */
    assert_int_equal(shop_symspell_add(s, "Fox", 10), SHOP_OK);
    assert_int_equal(shop_symspell_lookup(s, "fox", c, 1), 1);
    assert_int_equal(c[0].count, 310);
    assert_int_equal(shop_symspell_add(s, "two words", 1), SHOP_ERR_INVALID);
    assert_int_equal(shop_symspell_add(s, "", 1), SHOP_ERR_INVALID);
    assert_int_equal(shop_symspell_add(s, "bad\xc3", 1), SHOP_ERR_INVALID);
    shop_symspell_destroy(s);
}

static void test_bad_input(void **state) {
    (void)state;
    shop_symspell_t *s = small_dictionary();
    shop_symspell_candidate_t c[4];
    char err[128];
    assert_int_equal(shop_symspell_lookup(s, "", c, 4), 0);
    assert_int_equal(shop_symspell_lookup(s, "the", c, 0), 0);
    assert_int_equal(shop_symspell_lookup(s, "th\xe2\x82", c, 4), SHOP_ERR_INVALID);
    char longword[SHOP_SYMSPELL_MAX_WORD + 8];
    memset(longword, 'e', sizeof(longword) - 1);
    longword[sizeof(longword) - 1] = '\0';
    assert_int_equal(shop_symspell_lookup(s, longword, c, 4), 0);
    assert_int_equal(shop_symspell_add(s, longword, 1), SHOP_ERR_INVALID);
    char *out = shop_symspell_correct_text(s, "", err, sizeof(err));
    assert_string_equal(out, "");
    free(out);
    out = shop_symspell_correct_text(s, longword, err, sizeof(err));
    assert_string_equal(out, longword);
    free(out);
    assert_null(shop_symspell_correct_text(s, "teh \xc0\xaf", err, sizeof(err)));
    assert_string_equal(err, "invalid UTF-8 at byte 4");
    size_t big = SHOP_SYMSPELL_MAX_TEXT + 1;
    char *huge = malloc(big + 1);
    memset(huge, 'a', big);
    huge[big] = '\0';
    assert_null(shop_symspell_correct_text(s, huge, err, sizeof(err)));
    free(huge);
    assert_null(shop_symspell_new(0, 7));
    assert_null(shop_symspell_new(2, 2));
    shop_symspell_destroy(NULL);
    shop_symspell_destroy(s);
}

static void test_correct_text(void **state) {
    (void)state;
    shop_symspell_t *s = small_dictionary();
    char err[128];
    char *out = shop_symspell_correct_text(s, "Teh quikc brwon fox, jumsp!", err, sizeof(err));
    assert_string_equal(out, "The quick brown fox, jumps!");
    free(out);
    out = shop_symspell_correct_text(s, "  SPELING\tuntill  iphone15 ", err, sizeof(err));
    assert_string_equal(out, "  SPELLING\tuntil  iphone15 ");
    free(out);
    out = shop_symspell_correct_text(s, "빨간색 선그라스 찾아줘", err, sizeof(err));
    assert_string_equal(out, "빨간색 선글라스 찾아줘");
    free(out);
    out = shop_symspell_correct_text(s, "Café au lait", err, sizeof(err));
    assert_string_equal(out, "Café au lait");
    free(out);
    shop_symspell_destroy(s);
}

/* Writes `text` to a fresh temporary file; returns its path (static storage). */
static const char *temp_file(const char *text) {
    static char path[64];
    strcpy(path, "/tmp/test_symspell_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_load_dictionary_bom(void **state) {
    (void)state;
    const char *path =
        temp_file("\xEF\xBB\xBFthe 23135851162\nquick 5000\r\nbroken\nminus -3\n\nfox 300\n");
    shop_symspell_t *s = shop_symspell_new(2, 7);
    char err[256];
    assert_int_equal(shop_symspell_load_dictionary(s, path, err, sizeof(err)), SHOP_OK);
    assert_int_equal(shop_symspell_size(s), 3);
    shop_symspell_candidate_t c;
    assert_int_equal(shop_symspell_lookup(s, "the", &c, 1), 1);
    assert_int_equal(c.distance, 0); /* not "\ufeffthe" */
    assert_true(c.count == 23135851162ull);
    assert_int_equal(shop_symspell_lookup(s, "quick", &c, 1), 1);
    assert_int_equal(c.count, 5000);
    unlink(path);
    assert_int_equal(shop_symspell_load_dictionary(s, "/nonexistent/dict.txt", err, sizeof(err)),
                     SHOP_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/dict.txt"));
    shop_symspell_destroy(s);
}

/* Runs shop_cmd_correct with stdin from `input`, returns its stdout (heap, caller frees). */
static char *run_correct(int argc, char **argv, const char *input, int *rc) {
    char inpath[64], outpath[64];
    strcpy(inpath, temp_file(input));
    strcpy(outpath, temp_file(""));
    fflush(stdout);
    int saved_out = dup(1), saved_in = dup(0);
    assert_non_null(freopen(outpath, "w", stdout));
    assert_non_null(freopen(inpath, "r", stdin));
    *rc = shop_cmd_correct(argc, argv);
    fflush(stdout);
    dup2(saved_out, 1);
    dup2(saved_in, 0);
    close(saved_out);
    close(saved_in);
    clearerr(stdin);
    FILE *fp = fopen(outpath, "r");
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, fp);
    buf[n] = '\0';
    fclose(fp);
    unlink(inpath);
    unlink(outpath);
    return buf;
}

static void test_cli(void **state) {
    (void)state;
    char dict[64];
    strcpy(dict, temp_file("\xEF\xBB\xBFthe 1000\nspelling 50\nquick 40\n선글라스 9\n"));
    char a0[] = "correct", a1[] = "--dictionary", a3[] = "Teh", a4[] = "speling", a5[] = "-x";
    char *argv1[] = {a0, a1, dict, a3, a4, NULL};
    int rc;
    char *out = run_correct(5, argv1, "", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "The spelling\n");
    free(out);
    char *argv2[] = {a0, a1, dict, NULL};
    out = run_correct(3, argv2, "qiuck\nnothingclose\n선그라스\n\n", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "quick\nnothingclose\n선글라스\n\n");
    free(out);
    char *argv3[] = {a0, a5, NULL};
    out = run_correct(2, argv3, "", &rc);
    assert_int_equal(rc, 2);
    free(out);
    unlink(dict);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),      cmocka_unit_test(test_error_model),
        cmocka_unit_test(test_lookup_ranked), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_correct_text),  cmocka_unit_test(test_load_dictionary_bom),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
