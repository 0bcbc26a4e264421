/* rollup.c: the analytics worker's in-memory tables (per-minute currency rows and generic metric
 * cells, both open addressing), event-time bucket arithmetic and the ISO 4217 code list. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics.h"

/* ---- per-minute currency rows ---- */

void shop_an_table_init(shop_an_table_t *t) {
    memset(t, 0, sizeof(*t));
}

void shop_an_table_release(shop_an_table_t *t) {
    free(t->rows);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

void shop_an_table_clear(shop_an_table_t *t) {
    t->n = 0;
    for (size_t i = 0; i < t->nslots; i++)
        t->slots[i] = -1;
}

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

static uint64_t hash_row(int64_t minute_ms, const char *cur) {
    uint64_t h = (uint64_t)minute_ms * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 3 && cur[i]; i++)
        h = (h ^ (unsigned char)cur[i]) * 0x100000001B3ULL;
    return mix(h);
}

static void rehash_rows(shop_an_table_t *t, size_t nslots) {
    free(t->slots);
    t->slots = shop_xmalloc(nslots * sizeof(int32_t));
    t->nslots = nslots;
    for (size_t i = 0; i < nslots; i++)
        t->slots[i] = -1;
    for (size_t r = 0; r < t->n; r++) {
        size_t s = hash_row(t->rows[r].minute_ms, t->rows[r].currency) & (nslots - 1);
        while (t->slots[s] >= 0)
            s = (s + 1) & (nslots - 1);
        t->slots[s] = (int32_t)r;
    }
}

shop_an_row_t *shop_an_table_get(shop_an_table_t *t, int64_t minute_ms, const char *currency) {
    if ((t->n + 1) * 2 > t->nslots)
        rehash_rows(t, t->nslots ? t->nslots * 2 : 64);
    size_t s = hash_row(minute_ms, currency) & (t->nslots - 1);
    for (; t->slots[s] >= 0; s = (s + 1) & (t->nslots - 1)) {
        shop_an_row_t *r = &t->rows[t->slots[s]];
        if (r->minute_ms == minute_ms && !strncmp(r->currency, currency, 3))
            return r;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->rows = shop_xrealloc(t->rows, t->cap * sizeof(*t->rows));
    }
    shop_an_row_t *r = &t->rows[t->n];
    memset(r, 0, sizeof(*r));
    r->minute_ms = minute_ms;
    memcpy(r->currency, currency, 3);
    t->slots[s] = (int32_t)t->n++;
    return r;
}

/* ---- cells ---- */

void shop_an_cells_init(shop_an_cells_t *t) {
    memset(t, 0, sizeof(*t));
}

static void free_strings(shop_an_cells_t *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->cells[i].metric);
        free(t->cells[i].dim);
    }
}

void shop_an_cells_release(shop_an_cells_t *t) {
    free_strings(t);
    free(t->cells);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

void shop_an_cells_clear(shop_an_cells_t *t) {
    free_strings(t);
    t->n = 0;
    for (size_t i = 0; i < t->nslots; i++)
        t->slots[i] = -1;
}

static uint64_t hash_str(uint64_t h, const char *s) {
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ULL;
    return (h ^ 0xff) * 0x100000001B3ULL;
}

static uint64_t hash_cell(int grain, int kind, int64_t bucket, const char *metric,
                          const char *dim) {
    uint64_t h = ((uint64_t)bucket * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)(grain * 8 + kind);
    return mix(hash_str(hash_str(h, metric), dim));
}

static void rehash_cells(shop_an_cells_t *t, size_t nslots) {
    free(t->slots);
    t->slots = shop_xmalloc(nslots * sizeof(int32_t));
    t->nslots = nslots;
    for (size_t i = 0; i < nslots; i++)
        t->slots[i] = -1;
    for (size_t r = 0; r < t->n; r++) {
        const shop_an_cell_t *c = &t->cells[r];
        size_t s = hash_cell(c->grain, c->kind, c->bucket_ms, c->metric, c->dim) & (nslots - 1);
        while (t->slots[s] >= 0)
            s = (s + 1) & (nslots - 1);
        t->slots[s] = (int32_t)r;
    }
}

static int same(const shop_an_cell_t *c, int grain, int kind, int64_t bucket, const char *metric,
                const char *dim) {
    return c->grain == grain && c->kind == kind && c->bucket_ms == bucket &&
           !strcmp(c->metric, metric) && !strcmp(c->dim, dim);
}

shop_an_cell_t *shop_an_cells_find(const shop_an_cells_t *t, int grain, int kind, int64_t bucket_ms,
                                   const char *metric, const char *dim) {
    if (!t->nslots)
        return NULL;
    size_t s = hash_cell(grain, kind, bucket_ms, metric, dim) & (t->nslots - 1);
    for (; t->slots[s] >= 0; s = (s + 1) & (t->nslots - 1))
        if (same(&t->cells[t->slots[s]], grain, kind, bucket_ms, metric, dim))
            return &t->cells[t->slots[s]];
    return NULL;
}

shop_an_cell_t *shop_an_cells_get(shop_an_cells_t *t, int grain, int kind, int64_t bucket_ms,
                                  const char *metric, const char *dim) {
    if (!dim)
        dim = "";
    if ((t->n + 1) * 2 > t->nslots)
        rehash_cells(t, t->nslots ? t->nslots * 2 : 256);
    size_t s = hash_cell(grain, kind, bucket_ms, metric, dim) & (t->nslots - 1);
    for (; t->slots[s] >= 0; s = (s + 1) & (t->nslots - 1))
        if (same(&t->cells[t->slots[s]], grain, kind, bucket_ms, metric, dim))
            return &t->cells[t->slots[s]];
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 128;
        t->cells = shop_xrealloc(t->cells, t->cap * sizeof(*t->cells));
    }
    shop_an_cell_t *c = &t->cells[t->n];
    c->bucket_ms = bucket_ms;
    c->grain = (uint8_t)grain;
    c->kind = (uint8_t)kind;
    c->metric = shop_xstrdup(metric);
    c->dim = shop_xstrdup(dim);
    c->value = 0;
    t->slots[s] = (int32_t)t->n++;
    return c;
}

/* ---- buckets ---- */

static int64_t floor_div(int64_t a, int64_t b) {
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t shop_an_bucket(int grain, int64_t ms) {
    static const int64_t len[] = {60000, 3600000, 86400000};
    if (grain < 0 || grain > SHOP_AN_DAY)
        return 0;
    return floor_div(ms, len[grain]) * len[grain];
}

const char *shop_an_bucket_key(int grain, int64_t bucket_ms, char *buf, size_t size) {
    time_t t = (time_t)floor_div(bucket_ms, 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (grain == SHOP_AN_MINUTE)
        snprintf(buf, size, "%04d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min);
    else if (grain == SHOP_AN_HOUR)
        snprintf(buf, size, "%04d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour);
    else if (grain == SHOP_AN_DAY)
        snprintf(buf, size, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    else
        snprintf(buf, size, "all");
    return buf;
}

const char *shop_an_minute_key(int64_t minute_ms, char *buf, size_t size) {
    return shop_an_bucket_key(SHOP_AN_MINUTE, minute_ms, buf, size);
}

/* Active ISO 4217 codes (2024 list, plus XAU/XAG/XDR/XXX are left out: not money of a shop). */
static const char iso4217[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR "
    "KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK "
    "MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR "
    "SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS "
    "UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

int shop_an_currency_known(const char *code) {
    if (!code || strlen(code) != 3)
        return 0;
    for (const char *p = iso4217; *p; p += p[3] ? 4 : 3)
        if (!memcmp(p, code, 3))
            return 1;
    return 0;
}
