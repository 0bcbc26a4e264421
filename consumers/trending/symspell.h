/* symspell.h: "did you mean" spelling correction by symmetric deletes (SymSpell) with a
 * noisy-channel error model for ranking; UTF-8 aware (code points, NFC, case folding). */
#ifndef SHOP_SYMSPELL_H
#define SHOP_SYMSPELL_H

#include <stddef.h>
#include <stdint.h>

/* Words longer than this many code points are never added and never corrected. */
#define SHOP_SYMSPELL_MAX_WORD 64
/* Texts longer than this many bytes are refused by shop_symspell_correct_text. */
#define SHOP_SYMSPELL_MAX_TEXT (1u << 20)

typedef struct shop_symspell shop_symspell_t;

typedef struct {
    /* NFC, case-folded dictionary word. Owned by the shop_symspell_t: valid until the next
     * _add/_load_dictionary or _destroy. */
    const char *word;
    int distance;   /* Damerau-Levenshtein (optimal string alignment) on code points */
    double cost;    /* error-model cost of typing `word` as the input (0 for the word itself) */
    double score;   /* ranking score: ln count - lambda * cost; higher is better */
    uint64_t count; /* the word's frequency in the dictionary */
} shop_symspell_candidate_t;

/* max_distance 1..3 (2 is usual); prefix_length >= max_distance + 1 (7 is usual): deletes are
 * generated from that many leading code points only, which keeps memory small. Returns a heap
 * object the caller releases with shop_symspell_destroy; NULL when the arguments are out of range.
 */
shop_symspell_t *shop_symspell_new(int max_distance, int prefix_length);
void shop_symspell_destroy(shop_symspell_t *s);

/* Adds `word` (UTF-8, borrowed) with `count`, or adds `count` to it when already present. Returns
 * 0, or SHOP_ERR_INVALID for empty, over-long, invalid UTF-8 or whitespace-containing words. */
int shop_symspell_add(shop_symspell_t *s, const char *word, uint64_t count);

/* Loads SymSpell's dictionary format, `word count` per line (a leading UTF-8 BOM is skipped; lines
 * without a valid count are skipped and counted). Returns 0 or SHOP_ERR_IO with errstr. */
int shop_symspell_load_dictionary(shop_symspell_t *s, const char *path, char *errstr,
                                  size_t errstr_size);

/* Lays the index out for fast lookups (each delete's words contiguous, most frequent first);
 * _load_dictionary does it at the end. Call it after a batch of _add calls: lookups stay correct
 * without it, only slower. */
void shop_symspell_optimize(shop_symspell_t *s);

/* Number of distinct words. */
size_t shop_symspell_size(const shop_symspell_t *s);

/* Fills out[0..max) with the dictionary words within max_distance of `word` (borrowed), best
 * first: the word itself when it is in the dictionary, then by score. Returns how many were
 * written (0 when none, or the input is empty or over-long), or SHOP_ERR_INVALID for invalid
 * UTF-8. Thread-safe against other lookups (no shared scratch state). */
int shop_symspell_lookup(const shop_symspell_t *s, const char *word, shop_symspell_candidate_t *out,
                         int max);

/* Corrects `text` word by word: words in the dictionary, words with digits and words without a
 * candidate stay as typed; punctuation and spacing are kept; the correction takes the typed
 * word's casing (lower, Capitalised or UPPER). Returns a heap string the caller frees, or NULL
 * with errstr set for invalid UTF-8 or text over SHOP_SYMSPELL_MAX_TEXT bytes. */
char *shop_symspell_correct_text(const shop_symspell_t *s, const char *text, char *errstr,
                                 size_t errstr_size);

/* Damerau-Levenshtein distance (optimal string alignment) between two UTF-8 strings (borrowed),
 * on NFC, case-folded code points. Returns the distance, or -1 when it exceeds `max` (pass a
 * negative max for no bound), or SHOP_ERR_INVALID for invalid UTF-8 or over-long input. */
int shop_symspell_distance(const char *a, const char *b, int max);

/* The error model's cost of typing `intended` as `typed` (both borrowed UTF-8); see spell_cost.c.
 * Returns a negative value for invalid UTF-8 or over-long input. */
double shop_symspell_typo_cost(const char *intended, const char *typed);

#endif
