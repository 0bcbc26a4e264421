/* util.c: allocation, errors, logfmt logging, time parsing and byte buffers. */
#define _GNU_SOURCE
#include "shop.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

const char *shop_err_name(int err) {
    switch (err) {
    case SHOP_OK:
        return "ok";
    case SHOP_ERR_INVALID:
        return "invalid";
    case SHOP_ERR_RETRYABLE:
        return "retryable";
    case SHOP_ERR_NOTFOUND:
        return "notfound";
    case SHOP_ERR_IO:
        return "io";
    case SHOP_ERR_CONFIG:
        return "config";
    case SHOP_ERR_FATAL:
        return "fatal";
    case SHOP_ERR_CONFLICT:
        return "conflict";
    default:
        return "unknown";
    }
}

static void oom(size_t n) {
    fprintf(stderr, "level=fatal msg=\"out of memory allocating %zu bytes\"\n", n);
    abort();
}

void *shop_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *shop_xcalloc(size_t nmemb, size_t n) {
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (!p)
        oom(nmemb * n);
    return p;
}

void *shop_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *shop_xstrdup(const char *s) {
    return shop_xstrndup(s, strlen(s));
}

char *shop_xstrndup(const char *s, size_t n) {
    char *p = shop_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *shop_xasprintf(const char *fmt, ...) {
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return out;
}

int shop_seterr(char *errstr, size_t errstr_size, int err, const char *fmt, ...) {
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* ---- logging ---- */

static shop_log_level_t log_level = SHOP_LOG_INFO;
static char log_component[128];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void shop_log_set_level(shop_log_level_t lvl) {
    log_level = lvl;
}

void shop_log_set_component(const char *key, const char *value) {
    if (!key || !value)
        log_component[0] = '\0';
    else
        snprintf(log_component, sizeof(log_component), " %s=%s", key, value);
}

void shop_log(shop_log_level_t lvl, const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < log_level)
        return;
    char ts[40];
    shop_format_time_ms(shop_now_ms(), ts, sizeof(ts));
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "ts=%s level=%s%s %s\n", ts, names[lvl], log_component, line);
    pthread_mutex_unlock(&log_lock);
}

const char *shop_log_quote(char *buf, size_t size, const char *s) {
    size_t o = 0;
    if (size < 3) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; s && *s && o + 3 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < 0x20) {
            buf[o++] = ' ';
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* ---- time ---- */

int64_t shop_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t shop_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t shop_thread_cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int all_digits(const char *s) {
    if (*s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

int shop_parse_time_ms(const char *s, int64_t *out_ms) {
    if (!s || !*s)
        return SHOP_ERR_INVALID;
    if (all_digits(s)) {
        errno = 0;
        *out_ms = strtoll(s, NULL, 10);
        return errno == ERANGE ? SHOP_ERR_INVALID : SHOP_OK;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return SHOP_ERR_INVALID;
    const char *p = s + n;
    int64_t frac_ms = 0, off_s = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (sscanf(p, "%2d:%2d%n", &h, &mi, &n) != 2)
            return SHOP_ERR_INVALID;
        p += n;
        if (*p == ':') {
            if (sscanf(p, ":%2d%n", &sec, &n) != 1)
                return SHOP_ERR_INVALID;
            p += n;
        }
        if (*p == '.') {
            int digits = 0;
            p++;
            while (isdigit((unsigned char)*p)) {
                if (digits < 3)
                    frac_ms = frac_ms * 10 + (*p - '0');
                digits++;
                p++;
            }
            if (!digits)
                return SHOP_ERR_INVALID;
            for (; digits < 3; digits++)
                frac_ms *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            int sign = *p == '-' ? -1 : 1;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2)
                return SHOP_ERR_INVALID;
            p += 1 + n;
            if (oh > 23 || om > 59)
                return SHOP_ERR_INVALID;
            off_s = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p)
        return SHOP_ERR_INVALID;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || sec > 60) /* timegm would move 02-31 to 03-03 silently */
        return SHOP_ERR_INVALID;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out_ms = ((int64_t)t - off_s) * 1000 + frac_ms;
    return SHOP_OK;
}

const char *shop_format_time_ms(int64_t ms, char *buf, size_t size) {
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

/* ---- byte buffer ---- */

void shop_buf_init(shop_buf_t *b) {
    b->buf = NULL;
    b->len = b->cap = 0;
}

void shop_buf_release(shop_buf_t *b) {
    free(b->buf);
    shop_buf_init(b);
}

void shop_buf_reset(shop_buf_t *b) {
    b->len = 0;
    if (b->buf)
        b->buf[0] = '\0';
}

void shop_buf_grow(shop_buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->buf = shop_xrealloc(b->buf, cap);
    b->cap = cap;
}

void shop_buf_append(shop_buf_t *b, const void *data, size_t n) {
    shop_buf_grow(b, n);
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void shop_buf_puts(shop_buf_t *b, const char *s) {
    shop_buf_append(b, s, strlen(s));
}

/* Formats into the spare capacity first: only an output that does not fit is formatted again
 * (formatting twice, to measure and then to write, was most of the cost of hot callers). */
void shop_buf_printf(shop_buf_t *b, const char *fmt, ...) {
    shop_buf_grow(b, 63);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->buf[b->len] = '\0';
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        shop_buf_grow(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* Decimal digits of v into the end of tmp[24]; returns where they start. */
static char *u64_digits(char tmp[24], uint64_t v) {
    char *p = tmp + 24;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

void shop_buf_put_i64(shop_buf_t *b, int64_t v) {
    char tmp[24];
    shop_buf_append(b, tmp, shop_fmt_i64(tmp, v));
}

void shop_buf_put_hex64(shop_buf_t *b, uint64_t v) {
    char tmp[16], *p = tmp + 16;
    do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    shop_buf_append(b, p, (size_t)(tmp + 16 - p));
}

size_t shop_fmt_i64(char out[24], int64_t v) {
    char tmp[24], *p = u64_digits(tmp, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + 24 - p);
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t shop_mix64(uint64_t x) {
    return splitmix64(&x);
}

uint64_t shop_hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ULL;
    return shop_mix64(h);
}

void shop_rng_seed(shop_rng_t *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t shop_rng_next(shop_rng_t *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Event ids must be unique, not secret: one generator per thread seeded from getrandom(); a
 * system call per id cost a fifth of the encode time. */
static uint64_t next_random(void) {
    static __thread shop_rng_t rng;
    static __thread int seeded;
    if (!seeded) {
        uint64_t seed;
        if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
            seed = (uint64_t)shop_mono_us() ^ ((uint64_t)(uintptr_t)&rng << 17);
        shop_rng_seed(&rng, seed);
        seeded = 1;
    }
    return shop_rng_next(&rng);
}

void shop_uuid4(char out[37]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16];
    uint64_t a = next_random(), b = next_random();
    for (int i = 0; i < 8; i++) {
        r[i] = (unsigned char)(a >> (8 * i));
        r[8 + i] = (unsigned char)(b >> (8 * i));
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[r[i] >> 4];
        out[o++] = hex[r[i] & 15];
    }
    out[o] = '\0';
}

void shop_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    if (n > 1)
        qsort(base, n, size, cmp);
}

void shop_sort_r(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *, void *),
                 void *arg) {
    if (n > 1)
        qsort_r(base, n, size, cmp, arg);
}

static void swap_elems(char *a, char *b, char *tmp, size_t size) {
    memcpy(tmp, a, size);
    memcpy(a, b, size);
    memcpy(b, tmp, size);
}

/* Restores the heap property below node i of a heap of k elements whose root is the last by cmp. */
static void sift_down(char *a, size_t k, size_t i, size_t size,
                      int (*cmp)(const void *, const void *, void *), void *arg, char *tmp) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && cmp(a + l * size, a + m * size, arg) > 0)
            m = l;
        if (r < k && cmp(a + r * size, a + m * size, arg) > 0)
            m = r;
        if (m == i)
            return;
        swap_elems(a + i * size, a + m * size, tmp, size);
        i = m;
    }
}

size_t shop_topk_r(void *base, size_t n, size_t size,
                   int (*cmp)(const void *, const void *, void *), void *arg, size_t k) {
    if (k >= n) {
        shop_sort_r(base, n, size, cmp, arg);
        return n;
    }
    if (!k)
        return 0;
    char *a = base, *tmp = shop_xmalloc(size);
    for (size_t i = k / 2; i-- > 0;) /* a[0, k) as a heap, the worst of them at the root */
        sift_down(a, k, i, size, cmp, arg, tmp);
    for (size_t i = k; i < n; i++)
        if (cmp(a + i * size, a, arg) < 0) { /* better than the worst kept: it takes its place */
            swap_elems(a, a + i * size, tmp, size);
            sift_down(a, k, 0, size, cmp, arg, tmp);
        }
    free(tmp);
    shop_sort_r(a, k, size, cmp, arg);
    return k;
}

long shop_utf8_scan(const unsigned char *s, size_t n, const char **what, unsigned *ctl) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    *ctl = 0;
    for (size_t i = 0; i < n;) {
        /* 8 bytes at a time while all are printable ASCII: none has its high bit set, none is
         * below 0x20 and none is DEL (the zero-byte tests of Hacker's Delight, 6-1: each may
         * fire for a word that has none, never miss one; the byte loop below decides) */
        while (i + 8 <= n) {
            uint64_t w, d;
            memcpy(&w, s + i, 8);
            d = w ^ (0x7F * ones);
            if ((w & highs) | ((w - 0x20 * ones) & ~w & highs) | ((d - ones) & ~d & highs))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
                *what = "control character";
                *ctl = c;
                return (long)i;
            }
            i++;
            continue;
        }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (!len || c > 0xF4 || i + len > n) {
            *what = "invalid UTF-8";
            return (long)i;
        }
        unsigned cp = c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                *what = "invalid UTF-8";
                return (long)i;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            *what = "invalid UTF-8";
            return (long)i;
        }
        if (cp >= 0x80 && cp < 0xA0) { /* C1 controls */
            *what = "control character";
            *ctl = cp;
            return (long)i;
        }
        i += len;
    }
    return -1;
}
