/* shop.h: error codes, allocation, logfmt logging and small helpers shared by every shopstream
 * module. */
#ifndef SHOP_H
#define SHOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Return codes: 0 is success. RETRYABLE means "the world is down, try the same
 * thing again later" (Redis, PostgreSQL, Kafka, schema registry); INVALID means
 * "this input is bad and will never become good" (dead-letter it, never retry). */
#define SHOP_OK            0
#define SHOP_ERR_INVALID   -1
#define SHOP_ERR_RETRYABLE -2
#define SHOP_ERR_NOTFOUND  -3
#define SHOP_ERR_IO        -4
#define SHOP_ERR_CONFIG    -5
#define SHOP_ERR_FATAL     -6
#define SHOP_ERR_CONFLICT  -7 /* stored state moved under us (another owner, or a rewind is due) */

const char *shop_err_name(int err);

/* Allocation failure aborts: callers never check for NULL. */
void *shop_xmalloc(size_t n);
void *shop_xcalloc(size_t nmemb, size_t n);
void *shop_xrealloc(void *p, size_t n);
char *shop_xstrdup(const char *s);
char *shop_xstrndup(const char *s, size_t n);
/* Returns a heap string the caller frees. */
char *shop_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* errstr helpers: write a message into a caller buffer, return `err`. */
int shop_seterr(char *errstr, size_t errstr_size, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Logging: one logfmt line per call on stderr.
 * shop_log("warn", "topic=%s partition=%d msg=%s", ...) -- the caller supplies the
 * key=value pairs; use shop_log_quote() for free text. */
typedef enum { SHOP_LOG_DEBUG, SHOP_LOG_INFO, SHOP_LOG_WARN, SHOP_LOG_ERROR } shop_log_level_t;
void shop_log_set_level(shop_log_level_t lvl);
void shop_log_set_component(const char *key, const char *value); /* e.g. worker=analytics */
void shop_log(shop_log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Quotes `s` for logfmt into buf (always NUL-terminated, truncated if needed); returns buf. */
const char *shop_log_quote(char *buf, size_t size, const char *s);

#define SHOP_DEBUG(...) shop_log(SHOP_LOG_DEBUG, __VA_ARGS__)
#define SHOP_INFO(...)  shop_log(SHOP_LOG_INFO, __VA_ARGS__)
#define SHOP_WARN(...)  shop_log(SHOP_LOG_WARN, __VA_ARGS__)
#define SHOP_ERROR(...) shop_log(SHOP_LOG_ERROR, __VA_ARGS__)

/* Time. Event time is always taken from events; these are for timeouts and metrics only. */
int64_t shop_now_ms(void);        /* wall clock, ms since epoch */
int64_t shop_mono_us(void);       /* monotonic, microseconds */
int64_t shop_thread_cpu_us(void); /* CPU time of the calling thread, microseconds */
/* Parses "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.123+09:00", "2026-11-24" or epoch millis.
 * Returns 0 or SHOP_ERR_INVALID. */
int shop_parse_time_ms(const char *s, int64_t *out_ms);
/* Formats epoch millis as RFC 3339 UTC with milliseconds into buf (>= 32 bytes). */
const char *shop_format_time_ms(int64_t ms, char *buf, size_t size);

/* Growable byte buffer (git's strbuf in spirit). Caller-owned storage: _init/_release. */
typedef struct {
    char *buf;
    size_t len;
    size_t cap;
} shop_buf_t;
void shop_buf_init(shop_buf_t *b);
void shop_buf_release(shop_buf_t *b);
void shop_buf_reset(shop_buf_t *b);
void shop_buf_grow(shop_buf_t *b, size_t extra);
void shop_buf_append(shop_buf_t *b, const void *data, size_t n);
void shop_buf_puts(shop_buf_t *b, const char *s);
void shop_buf_printf(shop_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends v in decimal / lower-case hex without printf (hot encoders). */
void shop_buf_put_i64(shop_buf_t *b, int64_t v);
void shop_buf_put_hex64(shop_buf_t *b, uint64_t v);
/* v in decimal into out (NUL-terminated, at most 20 digits and a sign); returns the length. */
size_t shop_fmt_i64(char out[24], int64_t v);

/* Event text check: the byte offset of the first invalid UTF-8 sequence (overlong forms,
 * surrogates, over U+10FFFF, truncated) or control character (C0 but TAB, LF and CR; DEL; C1) in
 * s[0, n), or -1 when there is none. *what says which ("invalid UTF-8", "control character");
 * *ctl is the control character's code point (0 for invalid UTF-8). */
long shop_utf8_scan(const unsigned char *s, size_t n, const char **what, unsigned *ctl);

/* Seeded PRNG: xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * 2018), seeded through splitmix64: same seed, same sequence on every platform. */
typedef struct {
    uint64_t s[4];
} shop_rng_t;
void shop_rng_seed(shop_rng_t *r, uint64_t seed);
uint64_t shop_rng_next(shop_rng_t *r);
/* splitmix64's finalizer: a well-mixed 64-bit hash of x. */
uint64_t shop_mix64(uint64_t x);
/* A NUL-terminated string's hash for in-memory tables: 64-bit FNV-1a, then shop_mix64 so that its
 * low bits index a power-of-two table well. */
uint64_t shop_hash_str(const char *s);

/* qsort() and qsort_r() that take an empty array with a NULL base: qsort's base is declared
 * nonnull, and UBSan stops a worker on qsort(NULL, 0, ...), which an empty vector gives. */
void shop_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void shop_sort_r(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *, void *),
                 void *arg);
/* The first k of base[0, n) by cmp (a total order), sorted, in base[0, k); the others are left
 * behind in some order. Returns min(k, n). O(n log k) with a bounded heap, where sorting all to
 * keep k cost the recommendation worker most of its CPU (per-item neighbours, per-user top-N). */
size_t shop_topk_r(void *base, size_t n, size_t size,
                   int (*cmp)(const void *, const void *, void *), void *arg, size_t k);

/* Random UUID v4 (from /dev/urandom-seeded state) into out[37]. */
void shop_uuid4(char out[37]);

#endif
