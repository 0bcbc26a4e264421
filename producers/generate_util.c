/* generate_util.c: the generator's seeded PRNG, Zipf sampler, UUIDs and allocation-free JSON
 * writer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"

/* ---- xoshiro256** ---- */

uint64_t shop_gen_mix64(uint64_t x) {
    return shop_mix64(x);
}

void shop_gen_rng_seed(shop_gen_rng_t *r, uint64_t seed) {
    shop_rng_seed(r, seed);
}

uint64_t shop_gen_rng_next(shop_gen_rng_t *r) {
    return shop_rng_next(r);
}

double shop_gen_rng_unit(shop_gen_rng_t *r) {
    return (double)(shop_gen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Lemire's multiply-shift; the tiny bias for huge n does not matter for a simulation, and
 * skipping the rejection loop keeps the draw count fixed. */
uint32_t shop_gen_rng_below(shop_gen_rng_t *r, uint32_t n) {
    return (uint32_t)(((shop_gen_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

int64_t shop_gen_rng_range(shop_gen_rng_t *r, int64_t lo, int64_t hi) {
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(shop_gen_rng_next(r) % span);
}

int shop_gen_rng_chance(shop_gen_rng_t *r, double p) {
    return shop_gen_rng_unit(r) < p;
}

double shop_gen_rng_exp(shop_gen_rng_t *r, double mean) {
    return -log(1.0 - shop_gen_rng_unit(r)) * mean;
}

static const char hexdig[] = "0123456789abcdef";

void shop_gen_rng_uuid(shop_gen_rng_t *r, char out[37]) {
    uint64_t a = shop_gen_rng_next(r), b = shop_gen_rng_next(r);
    unsigned char u[16];
    for (int i = 0; i < 8; i++) {
        u[i] = (unsigned char)(a >> (56 - 8 * i));
        u[8 + i] = (unsigned char)(b >> (56 - 8 * i));
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hexdig[u[i] >> 4];
        out[o++] = hexdig[u[i] & 15];
    }
    out[36] = '\0';
}

/* ---- Zipf ---- */

void shop_gen_zipf_init(shop_gen_zipf_t *z, uint32_t n, double s) {
    z->n = n ? n : 1;
    z->cdf = shop_xmalloc(z->n * sizeof(double));
    double sum = 0;
    for (uint32_t i = 0; i < z->n; i++) {
        sum += 1.0 / pow((double)(i + 1), s);
        z->cdf[i] = sum;
    }
    for (uint32_t i = 0; i < z->n; i++)
        z->cdf[i] /= sum;
    z->cdf[z->n - 1] = 1.0;
}

void shop_gen_zipf_release(shop_gen_zipf_t *z) {
    free(z->cdf);
    z->cdf = NULL;
    z->n = 0;
}

uint32_t shop_gen_zipf_draw(const shop_gen_zipf_t *z, shop_gen_rng_t *r) {
    double u = shop_gen_rng_unit(r);
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- JSON ---- */

void shop_gen_json_uint(shop_buf_t *b, uint64_t v) {
    char tmp[24];
    int i = 24;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    shop_buf_append(b, tmp + i, (size_t)(24 - i));
}

static void put_int(shop_buf_t *b, int64_t v) {
    if (v < 0) {
        shop_buf_append(b, "-", 1);
        shop_gen_json_uint(b, (uint64_t)0 - (uint64_t)v);
    } else {
        shop_gen_json_uint(b, (uint64_t)v);
    }
}

void shop_gen_json_quote(shop_buf_t *b, const char *s, size_t n) {
    shop_buf_grow(b, n + 2);
    b->buf[b->len++] = '"';
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        shop_buf_append(b, s + start, i - start);
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            shop_buf_append(b, esc, 2);
        } else {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hexdig[c >> 4];
            esc[5] = hexdig[c & 15];
            shop_buf_append(b, esc, 6);
        }
        start = i + 1;
    }
    shop_buf_append(b, s + start, n - start);
    shop_buf_append(b, "\"", 1);
}

void shop_gen_json_begin(shop_gen_json_t *w, shop_buf_t *b) {
    w->b = b;
    w->first = 1;
    shop_buf_append(b, "{", 1);
}

void shop_gen_json_key(shop_gen_json_t *w, const char *key) {
    size_t n = strlen(key);
    shop_buf_grow(w->b, n + 4);
    char *p = w->b->buf + w->b->len;
    if (!w->first)
        *p++ = ',';
    w->first = 0;
    *p++ = '"';
    memcpy(p, key, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    w->b->len = (size_t)(p - w->b->buf);
}

void shop_gen_json_str(shop_gen_json_t *w, const char *key, const char *val) {
    shop_gen_json_key(w, key);
    shop_gen_json_quote(w->b, val, strlen(val));
}

void shop_gen_json_int(shop_gen_json_t *w, const char *key, int64_t val) {
    shop_gen_json_key(w, key);
    put_int(w->b, val);
}

void shop_gen_json_bool(shop_gen_json_t *w, const char *key, int val) {
    shop_gen_json_key(w, key);
    if (val)
        shop_buf_append(w->b, "true", 4);
    else
        shop_buf_append(w->b, "false", 5);
}

void shop_gen_json_fixed(shop_gen_json_t *w, const char *key, int64_t thousandths) {
    shop_gen_json_key(w, key);
    if (thousandths < 0) {
        shop_buf_append(w->b, "-", 1);
        thousandths = -thousandths;
    }
    shop_gen_json_uint(w->b, (uint64_t)(thousandths / 1000));
    char frac[4] = {'.', (char)('0' + thousandths / 100 % 10), (char)('0' + thousandths / 10 % 10),
                    (char)('0' + thousandths % 10)};
    shop_buf_append(w->b, frac, 4);
}

void shop_gen_json_end(shop_gen_json_t *w) {
    shop_buf_append(w->b, "}\n", 2);
}
