/* fuzz_symspell.c: libFuzzer target for the "did you mean" corrector (symspell.h): a dictionary
 * built from the input (by _add or _load_dictionary), then lookup, correct_text, distance and
 * typo_cost on the rest of it, checked against a brute-force scan of the dictionary.
 * Input: byte 0 = max_distance and the dictionary route, byte 1 = prefix_length, then
 * "dictionary words\nword to look up\ntext to correct". */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "shop.h"
#include "symspell.h"

#define MAX_WORDS 48
#define MAX_CANDS 64

static char *next_line(char **p) {
    char *s = *p, *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

/* Dictionary words: `word count` lines through a memfd (the file loader) or space-separated
 * words added one by one. Returns how many distinct words went in (as the index counts them). */
static void build(shop_symspell_t *s, char *words, int via_file) {
    if (via_file) {
        int fd = memfd_create("fuzz_dict", 0);
        FUZZ_CHECK(fd >= 0, "memfd_create");
        for (char *w = words; *w; w++)
            if (*w == '\t')
                *w = '\n'; /* tabs separate lines of the dictionary file */
        FUZZ_CHECK(write(fd, words, strlen(words)) == (ssize_t)strlen(words), "write");
        char path[64], err[256];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int r = shop_symspell_load_dictionary(s, path, err, sizeof(err));
        FUZZ_CHECK(!r, "load_dictionary: %s", err);
        close(fd);
        return;
    }
    int n = 0;
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w && n < MAX_WORDS;
         w = strtok_r(NULL, " ", &save), n++)
        (void)shop_symspell_add(s, w, (uint64_t)(n % 7) * 1000 + 1);
    if (n % 2)
        shop_symspell_optimize(s);
}

static void check_distance(const char *a, const char *b) {
    int d = shop_symspell_distance(a, b, -1);
    if (d < 0)
        return; /* invalid or over-long */
    FUZZ_CHECK(shop_symspell_distance(b, a, -1) == d, "distance not symmetric");
    FUZZ_CHECK(shop_symspell_distance(a, a, -1) == 0, "distance(a, a) != 0");
    for (int k = 0; k <= 3; k++) {
        int dk = shop_symspell_distance(a, b, k);
        FUZZ_CHECK(dk == (d <= k ? d : -1), "bounded distance %d with max %d, unbounded %d", dk, k,
                   d);
    }
    double c = shop_symspell_typo_cost(a, b);
    FUZZ_CHECK(c >= 0 && c == c, "typo cost %f for valid input", c);
}

static void check_lookup(const shop_symspell_t *s, const char *word, int max_distance) {
    shop_symspell_candidate_t out[MAX_CANDS];
    int n = shop_symspell_lookup(s, word, out, MAX_CANDS);
    if (n < 0)
        return;
    FUZZ_CHECK(n <= MAX_CANDS, "lookup wrote %d of %d", n, MAX_CANDS);
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(out[i].word && fuzz_utf8_valid(out[i].word, strlen(out[i].word)), "bad word");
        FUZZ_CHECK(out[i].distance >= 0 && out[i].distance <= max_distance,
                   "candidate at distance %d", out[i].distance);
        int d = shop_symspell_distance(word, out[i].word, -1);
        FUZZ_CHECK(d == out[i].distance, "candidate \"%s\" of \"%s\": distance %d, recomputed %d",
                   out[i].word, word, out[i].distance, d);
        for (int j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(out[i].word, out[j].word), "candidate \"%s\" twice", out[i].word);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    int max_distance = 1 + data[0] % 3, via_file = (data[0] >> 2) & 1;
    int prefix_length = max_distance + 1 + data[1] % 8;
    char *buf = fuzz_strndup(data + 2, size - 2), *p = buf;
    char *words = next_line(&p), *word = next_line(&p), *text = p;

    shop_symspell_t *s = shop_symspell_new(max_distance, prefix_length);
    FUZZ_CHECK(s, "new(%d, %d) refused", max_distance, prefix_length);
    build(s, words, via_file);
    check_lookup(s, word, max_distance);
    check_distance(word, text);

    char err[256];
    char *fixed = shop_symspell_correct_text(s, text, err, sizeof(err));
    if (fixed) {
        FUZZ_CHECK(fuzz_utf8_valid(fixed, strlen(fixed)), "correction is not UTF-8");
        free(fixed);
    } else {
        FUZZ_CHECK(err[0], "refused without a reason");
    }
    shop_symspell_destroy(s);
    free(buf);
    return 0;
}
