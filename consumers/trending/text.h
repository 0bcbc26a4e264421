/* text.h: query text for the search worker: normalisation and validation for counting and
 * display, folding for matching, and the suggestion keys (code point, Hangul keystroke jamo and
 * initial consonants) under which a query is found while it is being typed. */
#ifndef SHOP_SEARCH_TEXT_H
#define SHOP_SEARCH_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Sizes in bytes, NUL included. A normalised query of at most 60 code points fits in
 * SHOP_TEXT_MAX_QUERY (60 x 4 bytes). Every output of this module for at most 60 code points fits
 * in SHOP_TEXT_MAX_KEY: the keystroke form can grow one Hangul syllable (3 bytes) into five
 * compatibility jamo (15 bytes: initial, two vowel keys, two final keys), 60 x 15 = 900. */
#define SHOP_TEXT_MAX_QUERY 256
#define SHOP_TEXT_MAX_KEY   1024

/* Normalises a search query for counting and display: validates UTF-8 (overlong forms, surrogates
 * and lone continuation bytes are invalid), applies NFC and full case folding (utf8proc
 * STABLE|COMPOSE|CASEFOLD, so "Straße" -> "strasse"), collapses every run of whitespace to one
 * ASCII space and trims both ends. Whitespace is Unicode category Zs (NBSP, U+3000, ...), Zl and Zp
 * (U+2028, U+2029: line breaks like LF) and TAB, LF, CR.
 *
 * Refused, because a query shown in a UI must carry nothing invisible or unprintable and two
 * queries that look the same must count as one: any other control character (Cc: NUL, ESC, DEL,
 * VT, FF, U+0080..U+009F), every format character (Cf: U+00AD, U+200B..U+200F, U+2060, U+FEFF,
 * ..., including ZWJ and ZWNJ, so emoji ZWJ sequences are refused too), private-use characters
 * (Co) and noncharacters (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF).
 *
 * Also refuses a result longer than max_cp code points (counted after normalisation and collapsing,
 * max_cp >= 1), a result that does not fit in out_size, and an empty result. in need not be
 * NUL-terminated: exactly len bytes are read, so a NUL inside len is a control character.
 *
 * out (caller-owned, out_size bytes) receives the NUL-terminated result. Returns SHOP_OK, or
 * SHOP_ERR_INVALID with the reason in errstr: "invalid UTF-8 at byte 17", "control character
 * U+001B at byte 3", "format character U+200B at byte 0", "query is 10240 code points, over the
 * limit of 100", "empty query", "normalised query is 300 bytes, over the buffer of 256". */
int shop_text_normalize(const char *in, size_t len, int max_cp, char *out, size_t out_size,
                        char *errstr, size_t errstr_size);

/* A bounded memo of shop_text_normalize() for inputs that repeat (search queries follow a Zipf
 * law: a few thousand distinct strings make most of a stream). Direct-mapped: 2^bits slots, each
 * holding the last input of at most SHOP_TEXT_CACHE_MAX_IN bytes that hashed there with its
 * result; a refused input is never kept, so its error is computed (and worded) afresh. The result,
 * error text included, is that of shop_text_normalize() with the same arguments. Not thread-safe:
 * one cache per thread. */
#define SHOP_TEXT_CACHE_MAX_IN 256
typedef struct shop_text_cache shop_text_cache_t;
shop_text_cache_t *shop_text_cache_new(unsigned bits); /* bits 1..24 */
void shop_text_cache_free(shop_text_cache_t *c);
int shop_text_normalize_cached(shop_text_cache_t *c, const char *in, size_t len, int max_cp,
                               char *out, size_t out_size, char *errstr, size_t errstr_size);
/* Lookups answered from the cache and lookups that normalised (for tests). */
void shop_text_cache_stats(const shop_text_cache_t *c, uint64_t *hits, uint64_t *misses);

/* Folding for matching, never for display: q is normalised (NUL-terminated UTF-8). Marks (Mn, Mc,
 * Me) are stripped from Latin and Greek letters with utf8proc STRIPMARK ("café" -> "cafe",
 * "ünïcödé" -> "unicode", "άλφα" -> "αλφα"). In every other script the marks are part of the
 * letter and are kept: Hangul syllables stay syllables, kana keep their (han)dakuten ("が" is not
 * "か"), Cyrillic "й" is not "и", Devanagari keeps its vowel signs.
 * out (caller-owned) receives the NUL-terminated result. Returns its length in bytes, or -1 on
 * invalid UTF-8 or when it does not fit in out_size. */
int shop_text_fold(const char *q, char *out, size_t out_size);

/* Keystroke form, as typed on a 2-set (dubeolsik) keyboard. Hangul arithmetic is that of Unicode 15
 * §3.12 Conjoining Jamo Behavior: a syllable S in U+AC00..U+D7A3 has SIndex = S - 0xAC00,
 * LIndex = SIndex / 588, VIndex = (SIndex % 588) / 28, TIndex = SIndex % 28.
 *
 * Every syllable becomes its compatibility jamo (U+3131..U+3163): initial, vowel, final, with
 * compound vowels and compound finals split into their keys (ㅘ -> ㅗㅏ, ㅢ -> ㅡㅣ, ㄺ -> ㄹㄱ,
 * ㅄ -> ㅂㅅ). The doubled consonants ㄲ ㄸ ㅃ ㅆ ㅉ and the vowels ㅐ ㅒ ㅔ ㅖ are one key (with
 * shift) and stay single. Compound compatibility jamo typed alone (ㄳ, ㅘ) are split the same way,
 * and modern conjoining jamo left over by NFC (U+1100..U+1112, U+1161..U+1175, U+11A8..U+11C2)
 * become their compatibility keys. Everything else is unchanged.
 * q is folded (NUL-terminated UTF-8); out (caller-owned) receives the NUL-terminated result.
 * Returns its length in bytes, or -1 on invalid UTF-8 or when it does not fit in out_size. */
int shop_text_jamo(const char *q, char *out, size_t out_size);

/* Initial-consonant (choseong) form of normalised q: q is folded, then each Hangul syllable becomes
 * its initial as a compatibility jamo, spaces are removed, and every other character is kept in
 * its keystroke form (shop_text_jamo: ㄳ -> ㄱㅅ, Latin unchanged), so that what a user types as
 * consonants compares equal. "빨간색 선글라스" -> "ㅃㄱㅅㅅㄱㄹㅅ", "LG 노트북" -> "lgㄴㅌㅂ".
 * out (caller-owned) receives the NUL-terminated result. Returns its length in bytes, or -1 on
 * invalid UTF-8 or when it does not fit in out_size. */
int shop_text_choseong(const char *q, char *out, size_t out_size);

/* Receives one suggestion key: key (len bytes, NUL-terminated) is owned by the caller of fn and
 * valid only during the call. */
typedef void (*shop_text_key_fn)(const char *key, size_t len, void *arg);

/* Calls fn once for each distinct suggestion key of normalised query q, in a deterministic order:
 *  (1) shop_text_jamo(shop_text_fold(p)) for every code-point prefix p of q of 1..max_cp code
 *      points, and in between every keystroke prefix inside each syllable: for "선글라스" the keys
 *      are ㅅ, ㅅㅓ, ㅅㅓㄴ, ㅅㅓㄴㄱ, ㅅㅓㄴㄱㅡ, ㅅㅓㄴㄱㅡㄹ, ... so that "선ㄱ" (looked up as
 *      ㅅㅓㄴㄱ) finds it. For Latin these are the folded prefixes "s", "su", "sun", ... A key
 * never ends with a space. When q goes on past max_cp code points, the first keystroke of the next
 * syllable is a key too: an IME shows it as the last syllable's final (서울: 서, 성). (2) when q
 * contains Hangul: every prefix of at least 2 and at most max_cp code points of
 *      shop_text_choseong(q), so "ㅅㄱ", "ㅅㄱㄹ", "ㅅㄱㄹㅅ" find "선글라스".
 * For every prefix of q a user can type, including an IME's partial last syllable ("서", "선ㄱ",
 * "선그") and initial consonants with or without spaces, shop_text_lookup_key() gives one of these
 * keys while the typed text is within max_cp code points. arg is passed through to fn.
 * Returns the number of keys, or -1 on invalid UTF-8 or max_cp < 1 (fn not called). */
int shop_text_prefix_keys(const char *q, int max_cp, shop_text_key_fn fn, void *arg);

/* The key to look up for what a user has typed so far, in any case, with or without diacritics, in
 * NFC or NFD: shop_text_normalize() (same refusals and errstr), shop_text_fold(), shop_text_jamo();
 * when the result holds Hangul compatibility consonants (U+3131..U+314E) and no other Hangul (no
 * syllable, no vowel), the spaces are removed, as this is an initial-consonant lookup:
 * "ㅃㄱㅅ ㅅㄱ" -> "ㅃㄱㅅㅅㄱ", and "LG ㄴㅌ" -> "lgㄴㅌ" (the choseong form of "LG 노트북").
 * out (caller-owned, out_size bytes; SHOP_TEXT_MAX_KEY is enough for max_cp <= 60) receives the
 * NUL-terminated key. Returns SHOP_OK or SHOP_ERR_INVALID with the reason in errstr. */
int shop_text_lookup_key(const char *typed, size_t len, int max_cp, char *out, size_t out_size,
                         char *errstr, size_t errstr_size);

/* Whether NUL-terminated q contains at least one Hangul syllable or jamo (compatibility,
 * conjoining or extended). Returns 1 or 0 (0 also for invalid UTF-8). */
int shop_text_has_hangul(const char *q);

/* Terminal columns of UTF-8 text (utf8proc_charwidth: a Hangul syllable takes 2, a combining
 * mark 0), for aligning tables; an invalid byte counts 1. */
size_t shop_text_columns(const char *s);

#endif
