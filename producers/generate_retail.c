/* generate_retail.c: replays the UCI Online Retail data set (Chen, Sain & Guo 2012, CC BY 4.0) as
 * real order events: one order.placed per invoice, order.refunded per cancellation ("C" invoice),
 * catalog.product_upserted the first time a stock code appears. Amounts are GBP in pence. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate.h"

enum { C_INVOICE, C_CODE, C_DESC, C_QTY, C_DATE, C_PRICE, C_CUSTOMER, C_COUNTRY, C__COUNT };
static const char *const columns[C__COUNT] = {"InvoiceNo",   "StockCode", "Description", "Quantity",
                                              "InvoiceDate", "UnitPrice", "CustomerID",  "Country"};

typedef struct {
    char *f[C__COUNT]; /* into the file buffer */
    int group;
} retail_row_t;

typedef struct {
    size_t first, n; /* rows[first .. first+n) after grouping */
} retail_group_t;

struct shop_retail {
    char *dir;
    char **files;
    size_t nfiles, next_file;
    shop_gen_rng_t rng;
    char *data; /* the current file */
    retail_row_t *rows;
    size_t nrows;
    retail_group_t *groups;
    size_t ngroups, next_group, upsert_cursor;
    char **seen; /* stock codes already upserted: open addressing */
    size_t seen_cap, seen_n;
    uint64_t rows_read, skipped;
};

/* ---- small helpers ---- */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

/* Adds `code`; returns 1 if it was new. */
static int seen_add(shop_retail_t *r, const char *code) {
    if (2 * (r->seen_n + 1) > r->seen_cap) {
        size_t cap = r->seen_cap ? r->seen_cap * 2 : 4096;
        char **t = shop_xcalloc(cap, sizeof(char *));
        for (size_t i = 0; i < r->seen_cap; i++) {
            if (!r->seen[i])
                continue;
            size_t j = fnv1a(r->seen[i]) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = r->seen[i];
        }
        free(r->seen);
        r->seen = t, r->seen_cap = cap;
    }
    size_t j = fnv1a(code) & (r->seen_cap - 1);
    for (; r->seen[j]; j = (j + 1) & (r->seen_cap - 1))
        if (!strcmp(r->seen[j], code))
            return 0;
    r->seen[j] = shop_xstrdup(code);
    r->seen_n++;
    return 1;
}

/* "2.55" -> 255 pence, exactly (no binary floating point); rounds half up past two decimals. */
static int parse_pence(const char *s, int64_t *out) {
    int neg = *s == '-';
    if (neg || *s == '+')
        s++;
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -1;
    int64_t units = 0, frac = 0;
    while (isdigit((unsigned char)*s))
        units = units * 10 + (*s++ - '0');
    int digits = 0, third = 0;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            if (digits < 2)
                frac = frac * 10 + (*s - '0');
            else if (digits == 2)
                third = *s - '0';
            digits++, s++;
        }
    }
    if (*s)
        return -1;
    if (digits == 1)
        frac *= 10;
    int64_t v = units * 100 + frac + (third >= 5);
    *out = neg ? -v : v;
    return 0;
}

/* "2010-12-01 08:26:00" or the original spreadsheet's "12/1/2010 8:26", as UTC (the shop is in
 * the UK and the data covers winter). */
static int parse_date(const char *s, int64_t *ms) {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h, mi, sec = 0;
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &sec) >= 5 ||
        sscanf(s, "%d/%d/%d %d:%d:%d", &mo, &d, &y, &h, &mi, &sec) >= 5) {
        tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
        tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
        *ms = (int64_t)timegm(&tm) * 1000;
        return 0;
    }
    return -1;
}

static const char *const country_codes[][2] = {
    {"United Kingdom", "GB"},
    {"France", "FR"},
    {"Germany", "DE"},
    {"EIRE", "IE"},
    {"Norway", "NO"},
    {"Portugal", "PT"},
    {"Cyprus", "CY"},
    {"Spain", "ES"},
    {"Japan", "JP"},
    {"Lithuania", "LT"},
    {"Iceland", "IS"},
    {"Italy", "IT"},
    {"Australia", "AU"},
    {"Denmark", "DK"},
    {"Belgium", "BE"},
    {"Poland", "PL"},
    {"Switzerland", "CH"},
    {"Sweden", "SE"},
    {"Netherlands", "NL"},
    {"Austria", "AT"},
    {"Israel", "IL"},
    {"Finland", "FI"},
    {"Bahrain", "BH"},
    {"Greece", "GR"},
    {"Hong Kong", "HK"},
    {"Singapore", "SG"},
    {"Lebanon", "LB"},
    {"Canada", "CA"},
    {"United Arab Emirates", "AE"},
    {"Saudi Arabia", "SA"},
    {"Czech Republic", "CZ"},
    {"Brazil", "BR"},
    {"USA", "US"},
    {"Malta", "MT"},
    {"RSA", "ZA"},
};

static const char *country_code(const char *name) {
    for (size_t i = 0; i < sizeof(country_codes) / sizeof(country_codes[0]); i++)
        if (!strcmp(country_codes[i][0], name))
            return country_codes[i][1];
    return NULL; /* Channel Islands, European Community, Unspecified */
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* ---- CSV (RFC 4180: quoted fields, "" escapes), parsed in place ---- */

/* Splits the record at *pos into fields, NUL-terminating and unquoting them in the buffer.
 * Returns the number of fields (0 at the end of the buffer). */
static int csv_record(char **pos, char *end, char **fields, int max) {
    char *p = *pos;
    int n = 0;
    if (p >= end)
        return 0;
    for (;;) {
        char *start = p, *out;
        if (*p == '"') {
            out = start;
            for (p++; p < end; p++) {
                if (*p == '"' && p + 1 < end && p[1] == '"')
                    *out++ = '"', p++;
                else if (*p == '"')
                    break;
                else
                    *out++ = *p;
            }
            while (p < end && *p != ',' && *p != '\n' && *p != '\r')
                p++;
        } else {
            while (p < end && *p != ',' && *p != '\n' && *p != '\r')
                p++;
            out = p;
        }
        char term = p < end ? *p : '\n';
        *out = '\0'; /* the buffer has a spare byte past `end` */
        if (n < max)
            fields[n] = start;
        n++;
        if (p < end)
            p++;
        if (term == ',')
            continue;
        if (term == '\r' && p < end && *p == '\n')
            p++;
        break;
    }
    *pos = p;
    return n;
}

static int read_file(const char *path, char **data, size_t *len, char *errstr, size_t errstr_size) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: %s", path, strerror(errno));
    shop_buf_t b;
    shop_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        shop_buf_append(&b, chunk, n);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        shop_buf_release(&b);
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: read error", path);
    }
    shop_buf_grow(&b, 1);
    b.buf[b.len] = '\0';
    *data = b.buf, *len = b.len;
    return SHOP_OK;
}

/* Maps the header's column names to our column order. */
static int header_map(char **f, int n, int *map, const char *path, char *errstr,
                      size_t errstr_size) {
    for (int c = 0; c < C__COUNT; c++) {
        map[c] = -1;
        for (int i = 0; i < n && i < 16; i++) {
            const char *name = f[i];
            if (!strncmp(name, "\xEF\xBB\xBF", 3))
                name += 3; /* a spreadsheet's BOM */
            if (!strcmp(name, columns[c]))
                map[c] = i;
        }
        if (map[c] < 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: no %s column", path,
                               columns[c]);
    }
    return SHOP_OK;
}

/* Groups rows by invoice in order of first appearance (a counting sort on the group number). */
static void group_rows(shop_retail_t *r) {
    size_t cap = 16;
    while (cap < 2 * r->nrows + 2)
        cap *= 2;
    char **keys = shop_xcalloc(cap, sizeof(char *));
    int *ids = shop_xcalloc(cap, sizeof(int));
    size_t ngroups = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const char *inv = r->rows[i].f[C_INVOICE];
        size_t j = fnv1a(inv) & (cap - 1);
        while (keys[j] && strcmp(keys[j], inv))
            j = (j + 1) & (cap - 1);
        if (!keys[j])
            keys[j] = (char *)inv, ids[j] = (int)ngroups++;
        r->rows[i].group = ids[j];
    }
    free(keys);
    free(ids);
    r->groups = shop_xcalloc(ngroups + 1, sizeof(retail_group_t));
    for (size_t i = 0; i < r->nrows; i++)
        r->groups[r->rows[i].group].n++;
    for (size_t g = 1; g < ngroups; g++)
        r->groups[g].first = r->groups[g - 1].first + r->groups[g - 1].n;
    retail_row_t *sorted = shop_xmalloc((r->nrows + 1) * sizeof(retail_row_t));
    size_t *fill = shop_xcalloc(ngroups + 1, sizeof(size_t));
    for (size_t i = 0; i < r->nrows; i++) {
        int g = r->rows[i].group;
        sorted[r->groups[g].first + fill[g]++] = r->rows[i];
    }
    free(fill);
    free(r->rows);
    r->rows = sorted;
    r->ngroups = ngroups;
}

static void unload(shop_retail_t *r) {
    free(r->data);
    free(r->rows);
    free(r->groups);
    r->data = NULL, r->rows = NULL, r->groups = NULL;
    r->nrows = r->ngroups = r->next_group = r->upsert_cursor = 0;
}

static int load_file(shop_retail_t *r, const char *path, char *errstr, size_t errstr_size) {
    size_t len;
    unload(r);
    int rc = read_file(path, &r->data, &len, errstr, errstr_size);
    if (rc)
        return rc;
    char *pos = r->data, *end = r->data + len, *f[16];
    int map[C__COUNT], n = csv_record(&pos, end, f, 16);
    if (n == 0)
        return SHOP_OK; /* empty file */
    if ((rc = header_map(f, n, map, path, errstr, errstr_size)))
        return rc;
    size_t cap = 0;
    while ((n = csv_record(&pos, end, f, 16)) > 0) {
        if (n == 1 && !*f[0])
            continue; /* blank line */
        r->rows_read++;
        if (n < C__COUNT) {
            r->skipped++;
            continue;
        }
        if (r->nrows == cap) {
            cap = cap ? cap * 2 : 1024;
            r->rows = shop_xrealloc(r->rows, cap * sizeof(retail_row_t));
        }
        retail_row_t *row = &r->rows[r->nrows++];
        for (int c = 0; c < C__COUNT; c++)
            row->f[c] = trim(f[map[c]]);
    }
    group_rows(r);
    return SHOP_OK;
}

/* ---- events ---- */

static void envelope(shop_retail_t *r, shop_gen_json_t *w, const char *type, int64_t at) {
    char uuid[37];
    shop_gen_json_str(w, "type", type);
    shop_gen_rng_uuid(&r->rng, uuid);
    shop_gen_json_str(w, "event_id", uuid);
    shop_gen_json_int(w, "occurred_at", at);
}

static void write_upsert(shop_retail_t *r, const retail_row_t *row, int64_t pence, int64_t at,
                         shop_buf_t *out) {
    shop_gen_json_t w, mw;
    const char *title = *row->f[C_DESC] ? row->f[C_DESC] : row->f[C_CODE];
    shop_gen_json_begin(&w, out);
    envelope(r, &w, "catalog.product_upserted", at);
    shop_gen_json_str(&w, "product_id", row->f[C_CODE]);
    shop_gen_json_str(&w, "source", "backoffice");
    shop_gen_json_str(&w, "title", title);
    shop_gen_json_str(&w, "category", "retail");
    shop_gen_json_int(&w, "price_minor", pence);
    shop_gen_json_str(&w, "currency", "GBP");
    shop_gen_json_key(&w, "locale_titles");
    shop_gen_json_begin(&mw, out);
    shop_gen_json_str(&mw, "en", title);
    shop_buf_append(out, "}", 1);
    shop_gen_json_end(&w);
}

/* A row's quantity and unit price when it belongs in an order (refund: negative quantity). */
static int row_values(const retail_row_t *row, int refund, int64_t *qty, int64_t *pence) {
    char *end;
    long q = strtol(row->f[C_QTY], &end, 10);
    if (*end || end == row->f[C_QTY] || parse_pence(row->f[C_PRICE], pence) || *pence < 0)
        return 0;
    if (refund)
        q = -q;
    if (q <= 0 || q > 1000000)
        return 0;
    *qty = q;
    return 1;
}

static void write_items(shop_retail_t *r, const retail_group_t *g, shop_gen_json_t *w) {
    int64_t qty, pence;
    shop_gen_json_key(w, "items");
    shop_buf_append(w->b, "[", 1);
    for (size_t i = 0, k = 0; i < g->n; i++) {
        const retail_row_t *row = &r->rows[g->first + i];
        if (!row_values(row, 0, &qty, &pence))
            continue;
        shop_gen_json_t iw;
        if (k++)
            shop_buf_append(w->b, ",", 1);
        shop_gen_json_begin(&iw, w->b);
        shop_gen_json_str(&iw, "product_id", row->f[C_CODE]);
        shop_gen_json_str(&iw, "sku", row->f[C_CODE]);
        shop_gen_json_int(&iw, "quantity", qty);
        shop_gen_json_int(&iw, "unit_price_minor", pence);
        shop_buf_append(w->b, "}", 1);
    }
    shop_buf_append(w->b, "]", 1);
}

/* The order.placed or order.refunded of one invoice; returns 0 if no row was usable. */
static int write_order(shop_retail_t *r, const retail_group_t *g, int64_t at, shop_buf_t *out) {
    const retail_row_t *first = &r->rows[g->first];
    const char *inv = first->f[C_INVOICE];
    int refund = inv[0] == 'C';
    int64_t total = 0, qty, pence;
    size_t usable = 0;
    for (size_t i = 0; i < g->n; i++)
        if (row_values(&r->rows[g->first + i], refund, &qty, &pence))
            usable++, total += qty * pence;
    r->skipped += g->n - usable;
    if (!usable)
        return 0;
    char user[64];
    const char *cust = first->f[C_CUSTOMER];
    size_t cl = strcspn(cust, "."); /* "17850.0" -> "17850" */
    if (cl)
        snprintf(user, sizeof(user), "%.*s", (int)cl, cust);
    else
        snprintf(user, sizeof(user), "guest-%s", inv);
    shop_gen_json_t w;
    shop_gen_json_begin(&w, out);
    envelope(r, &w, refund ? "order.refunded" : "order.placed", at);
    shop_gen_json_str(&w, "user_id", user);
    shop_gen_json_str(&w, "order_id", inv);
    shop_gen_json_str(&w, "source", "web");
    shop_gen_json_int(&w, "amount_minor", total);
    shop_gen_json_str(&w, "currency", "GBP");
    if (refund) {
        shop_gen_json_str(&w, "reason", "cancelled");
    } else {
        write_items(r, g, &w);
        const char *cc = country_code(first->f[C_COUNTRY]);
        if (cc)
            shop_gen_json_str(&w, "country", cc);
    }
    shop_gen_json_end(&w);
    return 1;
}

/* ---- files ---- */

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

shop_retail_t *shop_retail_open(const char *dir, uint64_t seed, char *errstr, size_t errstr_size) {
    DIR *d = opendir(dir);
    if (!d)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: %s", dir, strerror(errno)), NULL;
    shop_retail_t *r = shop_xcalloc(1, sizeof(*r));
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".csv") || e->d_name[0] == '.')
            continue;
        if (r->nfiles == cap) {
            cap = cap ? cap * 2 : 64;
            r->files = shop_xrealloc(r->files, cap * sizeof(char *));
        }
        r->files[r->nfiles++] = shop_xasprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (!r->nfiles) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_NOTFOUND, "%s: no .csv files", dir);
        shop_retail_close(r);
        return NULL;
    }
    shop_sort(r->files, r->nfiles, sizeof(char *), by_name);
    shop_gen_rng_seed(&r->rng, seed);
    return r;
}

void shop_retail_close(shop_retail_t *r) {
    if (!r)
        return;
    unload(r);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    for (size_t i = 0; i < r->seen_cap; i++)
        free(r->seen[i]);
    free(r->seen);
    free(r);
}

void shop_retail_stats(const shop_retail_t *r, uint64_t *rows, uint64_t *skipped) {
    *rows = r->rows_read;
    *skipped = r->skipped;
}

/* Emits the next catalog upsert of the current invoice, if one of its stock codes is new. */
static int next_upsert(shop_retail_t *r, const retail_group_t *g, int64_t at, shop_buf_t *out) {
    int64_t qty, pence;
    for (; r->upsert_cursor < g->n; r->upsert_cursor++) {
        const retail_row_t *row = &r->rows[g->first + r->upsert_cursor];
        if (!row_values(row, 0, &qty, &pence) || !seen_add(r, row->f[C_CODE]))
            continue;
        write_upsert(r, row, pence, at, out);
        r->upsert_cursor++;
        return 1;
    }
    return 0;
}

int shop_retail_next(shop_retail_t *r, shop_buf_t *out, shop_event_kind_t *kind,
                     int64_t *occurred_at_ms, char *errstr, size_t errstr_size) {
    for (;;) {
        if (r->next_group >= r->ngroups) {
            if (r->next_file >= r->nfiles)
                return 0;
            int rc = load_file(r, r->files[r->next_file++], errstr, errstr_size);
            if (rc)
                return rc;
            continue;
        }
        const retail_group_t *g = &r->groups[r->next_group];
        const retail_row_t *first = &r->rows[g->first];
        int64_t at;
        char c = first->f[C_INVOICE][0];
        if ((c != 'C' && !isdigit((unsigned char)c)) || parse_date(first->f[C_DATE], &at)) {
            r->skipped += g->n; /* "A" (bad-debt adjustments) and unreadable rows */
            r->next_group++, r->upsert_cursor = 0;
            continue;
        }
        shop_event_kind_t k = SHOP_EV_CATALOG_PRODUCT_UPSERTED;
        int done = c == 'C' || !next_upsert(r, g, at, out);
        if (done) {
            r->next_group++, r->upsert_cursor = 0;
            k = c == 'C' ? SHOP_EV_ORDER_REFUNDED : SHOP_EV_ORDER_PLACED;
            if (!write_order(r, g, at, out))
                continue;
        }
        if (kind)
            *kind = k;
        if (occurred_at_ms)
            *occurred_at_ms = at;
        return 1;
    }
}
