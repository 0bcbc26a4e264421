/* state.c: the fraud worker's per-partition state: users in a hash table, the partition's device
 * index (accounts per device), idle expiry, and the compact text form a user is stored in (one
 * field of the partition's Redis hash). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud.h"

uint64_t shop_fraud_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h ? h : 1;
}

shop_fraud_part_t *shop_fraud_part_new(int32_t partition) {
    shop_fraud_part_t *p = shop_xcalloc(1, sizeof(*p));
    p->partition = partition;
    p->nslots = 64;
    p->slots = shop_xcalloc(p->nslots, sizeof(*p->slots));
    p->ndslots = 64;
    p->dslots = shop_xcalloc(p->ndslots, sizeof(*p->dslots));
    return p;
}

void shop_fraud_user_free(shop_fraud_user_t *u) {
    if (!u)
        return;
    free(u->id);
    free(u);
}

void shop_fraud_part_touch(shop_fraud_part_t *p, shop_fraud_user_t *u) {
    if (u->dirty)
        return;
    u->dirty = 1;
    if (p->ndirty == p->capdirty) {
        p->capdirty = p->capdirty ? p->capdirty * 2 : 64;
        p->dirty = shop_xrealloc(p->dirty, p->capdirty * sizeof(*p->dirty));
    }
    p->dirty[p->ndirty++] = u;
}

void shop_fraud_part_clear_dirty(shop_fraud_part_t *p) {
    for (size_t i = 0; i < p->ndirty; i++)
        p->dirty[i]->dirty = 0;
    p->ndirty = 0;
}

/* A user about to be freed leaves the dirty list (rare: idle expiry, a restore's replacement). */
static void untouch(shop_fraud_part_t *p, shop_fraud_user_t *u) {
    if (!u->dirty)
        return;
    for (size_t i = 0; i < p->ndirty; i++)
        if (p->dirty[i] == u) {
            p->dirty[i] = p->dirty[--p->ndirty];
            break;
        }
    u->dirty = 0;
}

void shop_fraud_part_clear_gone(shop_fraud_part_t *p) {
    for (size_t i = 0; i < p->ngone; i++)
        free(p->gone[i]);
    p->ngone = 0;
}

static void devices_clear(shop_fraud_part_t *p) {
    for (size_t i = 0; i < p->ndslots; i++)
        while (p->dslots[i]) {
            shop_fraud_device_t *d = p->dslots[i];
            p->dslots[i] = d->next;
            free(d);
        }
}

void shop_fraud_part_destroy(shop_fraud_part_t *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->nslots; i++)
        while (p->slots[i]) {
            shop_fraud_user_t *u = p->slots[i];
            p->slots[i] = u->next;
            shop_fraud_user_free(u);
        }
    devices_clear(p);
    shop_fraud_part_clear_gone(p);
    free(p->gone);
    free(p->dirty);
    free(p->slots);
    free(p->dslots);
    free(p);
}

static void grow(shop_fraud_part_t *p) {
    size_t n = p->nslots * 2;
    shop_fraud_user_t **s = shop_xcalloc(n, sizeof(*s));
    for (size_t i = 0; i < p->nslots; i++)
        while (p->slots[i]) {
            shop_fraud_user_t *u = p->slots[i];
            p->slots[i] = u->next;
            u->next = s[u->idh & (n - 1)];
            s[u->idh & (n - 1)] = u;
        }
    free(p->slots);
    p->slots = s;
    p->nslots = n;
}

/* Records that user `uh` used device `dh` at `at` in the partition's device index. */
static void device_note(shop_fraud_part_t *p, uint64_t dh, uint64_t uh, int64_t at) {
    size_t s = dh & (p->ndslots - 1);
    shop_fraud_device_t *d = p->dslots[s];
    while (d && d->h != dh)
        d = d->next;
    if (!d) {
        d = shop_xcalloc(1, sizeof(*d));
        d->h = dh;
        d->next = p->dslots[s];
        p->dslots[s] = d;
    }
    int slot = -1, oldest = 0;
    for (int i = 0; i < FRAUD_DEV_N; i++) {
        if (d->user[i] == uh) {
            slot = i;
            break;
        }
        if (!d->user[i] && slot < 0)
            slot = i;
        if (d->at[i] < d->at[oldest])
            oldest = i;
    }
    if (slot < 0)
        slot = oldest;
    d->user[slot] = uh;
    if (at > d->at[slot])
        d->at[slot] = at;
}

/* Distinct accounts on device dh with activity in (at - 24 h, at]. */
int64_t shop_fraud_device_accounts(const shop_fraud_part_t *p, uint64_t dh, int64_t at) {
    const shop_fraud_device_t *d = p->dslots[dh & (p->ndslots - 1)];
    while (d && d->h != dh)
        d = d->next;
    int64_t n = 0;
    for (int i = 0; d && i < FRAUD_DEV_N; i++)
        n += d->user[i] && d->at[i] > at - FRAUD_DAY_MS && d->at[i] <= at;
    return n;
}

void shop_fraud_device_note(shop_fraud_part_t *p, uint64_t dh, uint64_t uh, int64_t at) {
    if (dh)
        device_note(p, dh, uh, at);
}

static void index_user(shop_fraud_part_t *p, const shop_fraud_user_t *u) {
    for (int i = 0; i < FRAUD_SET_N; i++)
        if (u->dev[i].h)
            device_note(p, u->dev[i].h, u->idh, u->dev[i].last_at);
}

shop_fraud_user_t *shop_fraud_user_get(shop_fraud_part_t *p, const char *id, int create) {
    uint64_t h = shop_fraud_hash(id);
    for (shop_fraud_user_t *u = p->slots[h & (p->nslots - 1)]; u; u = u->next)
        if (u->idh == h && !strcmp(u->id, id))
            return u;
    if (!create)
        return NULL;
    if (p->nusers + 1 > p->nslots)
        grow(p);
    shop_fraud_user_t *u = shop_xcalloc(1, sizeof(*u));
    u->id = shop_xstrdup(id);
    u->idh = h;
    u->next = p->slots[h & (p->nslots - 1)];
    p->slots[h & (p->nslots - 1)] = u;
    p->nusers++;
    return u;
}

static void unlink_user(shop_fraud_part_t *p, shop_fraud_user_t *u) {
    for (shop_fraud_user_t **pp = &p->slots[u->idh & (p->nslots - 1)]; *pp; pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            p->nusers--;
            return;
        }
}

void shop_fraud_part_put(shop_fraud_part_t *p, shop_fraud_user_t *u) {
    shop_fraud_user_t *old = shop_fraud_user_get(p, u->id, 0);
    if (old) {
        unlink_user(p, old);
        untouch(p, old);
        shop_fraud_user_free(old);
    }
    if (p->nusers + 1 > p->nslots)
        grow(p);
    u->idh = shop_fraud_hash(u->id);
    u->next = p->slots[u->idh & (p->nslots - 1)];
    p->slots[u->idh & (p->nslots - 1)] = u;
    p->nusers++;
    if (u->last_at > p->wm)
        p->wm = u->last_at;
    index_user(p, u);
}

void shop_fraud_part_each(shop_fraud_part_t *p, void (*fn)(shop_fraud_user_t *u, void *a),
                          void *a) {
    for (size_t i = 0; i < p->nslots; i++)
        for (shop_fraud_user_t *u = p->slots[i]; u; u = u->next)
            fn(u, a);
}

void shop_fraud_part_sweep(shop_fraud_part_t *p, int64_t idle_ms) {
    int64_t day = p->wm / FRAUD_DAY_MS;
    if (idle_ms <= 0 || day <= p->swept_day)
        return;
    p->swept_day = day;
    int removed = 0;
    for (size_t i = 0; i < p->nslots; i++)
        for (shop_fraud_user_t **pp = &p->slots[i]; *pp;) {
            shop_fraud_user_t *u = *pp;
            if (u->last_at >= p->wm - idle_ms) {
                pp = &u->next;
                continue;
            }
            *pp = u->next;
            p->nusers--;
            if (p->ngone == p->capgone) {
                p->capgone = p->capgone ? p->capgone * 2 : 16;
                p->gone = shop_xrealloc(p->gone, p->capgone * sizeof(*p->gone));
            }
            p->gone[p->ngone++] = u->id;
            u->id = NULL;
            untouch(p, u);
            shop_fraud_user_free(u);
            removed = 1;
        }
    if (removed) { /* the index refers to users by hash: rebuild it from those left */
        devices_clear(p);
        for (size_t i = 0; i < p->nslots; i++)
            for (shop_fraud_user_t *u = p->slots[i]; u; u = u->next)
                index_user(p, u);
    }
}

/* ---- text form: "f1 " then space-separated numbers; hashes in hex, doubles round-trip ---- */

/* " v" in decimal / hex: the encoding runs for every changed user at every flush, so no printf
 * for the integers (it was a tenth of the worker's CPU). */
static void put_i(shop_buf_t *b, int64_t v) {
    shop_buf_append(b, " ", 1);
    shop_buf_put_i64(b, v);
}

static void put_x(shop_buf_t *b, uint64_t v) {
    shop_buf_append(b, " ", 1);
    shop_buf_put_hex64(b, v);
}

static void put_set(shop_buf_t *b, const shop_fraud_seen_t *s) {
    int n = 0;
    for (int i = 0; i < FRAUD_SET_N; i++)
        n += s[i].h != 0;
    put_i(b, n);
    for (int i = 0; i < FRAUD_SET_N; i++)
        if (s[i].h) {
            put_x(b, s[i].h);
            put_i(b, s[i].first_at);
            put_i(b, s[i].last_at);
        }
}

void shop_fraud_user_encode(const shop_fraud_user_t *u, shop_buf_t *b) {
    shop_buf_append(b, "f1", 2);
    put_i(b, u->last_at);
    put_i(b, u->signup_at);
    put_i(b, u->norders);
    shop_buf_printf(b, " %.17g %.17g", u->mean, u->m2);
    put_i(b, u->nring);
    for (int i = 0; i < u->nring; i++) {
        put_i(b, u->ring_at[i]);
        put_i(b, u->ring_amt[i]);
    }
    put_i(b, u->nfail);
    for (int i = 0; i < u->nfail; i++)
        put_i(b, u->fail_at[i]);
    put_i(b, u->npts);
    for (int i = 0; i < u->npts; i++) {
        put_i(b, u->pts_at[i]);
        put_i(b, u->pts_delta[i]);
    }
    put_set(b, u->dev);
    put_set(b, u->ip);
    put_set(b, u->addr);
    put_set(b, u->ctry);
    put_i(b, u->login_at);
    put_x(b, u->login_dev);
    put_x(b, u->login_ctry);
    put_i(b, u->ndec);
    for (int i = 0; i < u->ndec; i++) {
        const shop_fraud_decision_t *d = &u->dec[i];
        put_x(b, d->order_h);
        put_i(b, d->score);
        put_i(b, d->level);
        put_x(b, d->fired);
        shop_buf_printf(b, " %.17g %s", d->anomaly, d->model[0] ? d->model : "none");
    }
}

typedef struct {
    const char *s, *end;
    int bad;
} rd_t;

static void skip_sp(rd_t *r) {
    while (r->s < r->end && *r->s == ' ')
        r->s++;
}

/* Copies the next token (bounded) into tok; marks the reader bad at the end of input. */
static void token(rd_t *r, char *tok, size_t size) {
    skip_sp(r);
    size_t n = 0;
    while (r->s < r->end && *r->s != ' ') {
        if (n + 1 < size)
            tok[n++] = *r->s;
        r->s++;
    }
    tok[n] = 0;
    if (!n)
        r->bad = 1;
}

static int64_t rd_i64(rd_t *r) {
    char t[40], *e;
    token(r, t, sizeof(t));
    long long v = strtoll(t, &e, 10);
    r->bad |= *e != 0;
    return v;
}

static uint64_t rd_hex(rd_t *r) {
    char t[40], *e;
    token(r, t, sizeof(t));
    unsigned long long v = strtoull(t, &e, 16);
    r->bad |= *e != 0;
    return v;
}

static double rd_dbl(rd_t *r) {
    char t[64], *e;
    token(r, t, sizeof(t));
    double v = strtod(t, &e);
    r->bad |= *e != 0;
    return v;
}

static int rd_count(rd_t *r, int max) {
    int64_t n = rd_i64(r);
    if (n < 0 || n > max) {
        r->bad = 1;
        return 0;
    }
    return (int)n;
}

static void get_set(rd_t *r, shop_fraud_seen_t *s) {
    int n = rd_count(r, FRAUD_SET_N);
    for (int i = 0; i < n && !r->bad; i++) {
        s[i].h = rd_hex(r);
        s[i].first_at = rd_i64(r);
        s[i].last_at = rd_i64(r);
    }
}

shop_fraud_user_t *shop_fraud_user_decode(const char *id, const char *text, size_t len,
                                          char *errstr, size_t errstr_size) {
    rd_t r = {text, text + len, 0};
    char tag[8];
    token(&r, tag, sizeof(tag));
    if (r.bad || strcmp(tag, "f1")) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "user %s: unknown state version", id);
        return NULL;
    }
    shop_fraud_user_t *u = shop_xcalloc(1, sizeof(*u));
    u->id = shop_xstrdup(id);
    u->idh = shop_fraud_hash(id);
    u->last_at = rd_i64(&r);
    u->signup_at = rd_i64(&r);
    u->norders = rd_i64(&r);
    u->mean = rd_dbl(&r);
    u->m2 = rd_dbl(&r);
    u->nring = rd_count(&r, FRAUD_RING_N);
    for (int i = 0; i < u->nring && !r.bad; i++)
        u->ring_at[i] = rd_i64(&r), u->ring_amt[i] = rd_i64(&r);
    u->nfail = rd_count(&r, FRAUD_FAIL_N);
    for (int i = 0; i < u->nfail && !r.bad; i++)
        u->fail_at[i] = rd_i64(&r);
    u->npts = rd_count(&r, FRAUD_PTS_N);
    for (int i = 0; i < u->npts && !r.bad; i++)
        u->pts_at[i] = rd_i64(&r), u->pts_delta[i] = rd_i64(&r);
    get_set(&r, u->dev);
    get_set(&r, u->ip);
    get_set(&r, u->addr);
    get_set(&r, u->ctry);
    u->login_at = rd_i64(&r);
    u->login_dev = rd_hex(&r);
    u->login_ctry = rd_hex(&r);
    u->ndec = rd_count(&r, FRAUD_DEC_N);
    for (int i = 0; i < u->ndec && !r.bad; i++) {
        shop_fraud_decision_t *d = &u->dec[i];
        d->order_h = rd_hex(&r);
        d->score = (int)rd_i64(&r);
        d->level = (int)rd_i64(&r);
        d->fired = (uint32_t)rd_hex(&r);
        d->anomaly = rd_dbl(&r);
        token(&r, d->model, sizeof(d->model));
    }
    skip_sp(&r);
    if (r.bad || r.s != r.end) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "user %s: corrupt state", id);
        shop_fraud_user_free(u);
        return NULL;
    }
    return u;
}
