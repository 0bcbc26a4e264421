/* reco_unit.c: one unit's (Kafka partition's) recommendation state: signals in, incremental
 * co-occurrence sums out, and the text form of a user's state that the sinks store. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reco.h"

/* ---- dictionary ---- */

void reco_dict_init(reco_dict_t *d, size_t vsize) {
    memset(d, 0, sizeof(*d));
    d->vsize = vsize;
}

void reco_dict_release(reco_dict_t *d) {
    for (size_t i = 0; i < d->n; i++)
        free(d->keys[i]);
    free(d->keys);
    free(d->vals);
    free(d->slots);
    size_t vs = d->vsize;
    memset(d, 0, sizeof(*d));
    d->vsize = vs;
}

static void dict_reindex(reco_dict_t *d) {
    size_t ns = 64;
    while (ns < 2 * d->n + 2)
        ns *= 2;
    free(d->slots);
    d->slots = shop_xcalloc(ns, sizeof(uint32_t));
    d->nslots = ns;
    for (size_t i = 0; i < d->n; i++) {
        size_t j = shop_hash_str(d->keys[i]) & (ns - 1);
        while (d->slots[j])
            j = (j + 1) & (ns - 1);
        d->slots[j] = (uint32_t)i + 1;
    }
}

long reco_dict_find(reco_dict_t *d, const char *key, int create) {
    if (d->nslots) {
        size_t j = shop_hash_str(key) & (d->nslots - 1);
        for (; d->slots[j]; j = (j + 1) & (d->nslots - 1))
            if (!strcmp(d->keys[d->slots[j] - 1], key))
                return (long)d->slots[j] - 1;
    }
    if (!create)
        return -1;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->keys = shop_xrealloc(d->keys, d->cap * sizeof(char *));
        d->vals = shop_xrealloc(d->vals, d->cap * d->vsize);
    }
    d->keys[d->n] = shop_xstrdup(key);
    memset(d->vals + d->n * d->vsize, 0, d->vsize);
    d->n++;
    if (d->n * 2 > d->nslots)
        dict_reindex(d);
    else {
        size_t j = shop_hash_str(key) & (d->nslots - 1);
        while (d->slots[j])
            j = (j + 1) & (d->nslots - 1);
        d->slots[j] = (uint32_t)d->n;
    }
    return (long)d->n - 1;
}

/* ---- unit ---- */

reco_unit_t *reco_unit_new(char tag, int32_t partition) {
    reco_unit_t *u = shop_xcalloc(1, sizeof(*u));
    u->tag = tag;
    u->partition = partition;
    reco_dict_init(&u->items, sizeof(reco_occ_t));
    reco_dict_init(&u->pairs, sizeof(reco_pair_t));
    reco_dict_init(&u->pop, sizeof(reco_pop_t));
    reco_dict_init(&u->users, sizeof(reco_user_t *));
    reco_dict_init(&u->meta, sizeof(reco_meta_t));
    reco_dict_init(&u->visual, sizeof(reco_visual_t));
    return u;
}

void reco_unit_destroy(reco_unit_t *u) {
    if (!u)
        return;
    for (size_t i = 0; i < u->users.n; i++)
        free(*(reco_user_t **)reco_dict_val(&u->users, i));
    reco_dict_release(&u->items);
    reco_dict_release(&u->pairs);
    reco_dict_release(&u->pop);
    reco_dict_release(&u->users);
    reco_dict_release(&u->meta);
    reco_dict_release(&u->visual);
    free(u);
}

uint32_t reco_unit_item(reco_unit_t *u, const char *name) {
    return (uint32_t)reco_dict_find(&u->items, name, 1);
}

static reco_user_t *user_get(reco_unit_t *u, const char *user) {
    long i = reco_dict_find(&u->users, user, 1);
    reco_user_t **p = reco_dict_val(&u->users, (size_t)i);
    if (!*p)
        *p = shop_xcalloc(1, sizeof(reco_user_t));
    return *p;
}

static void pair_add(reco_unit_t *u, uint32_t a, uint32_t b, double ds, double dh) {
    if (a == b || (ds == 0 && dh == 0))
        return;
    const char *x = u->items.keys[a], *y = u->items.keys[b];
    if (strcmp(x, y) > 0) {
        const char *t = x;
        x = y;
        y = t;
    }
    char key[2 * RECO_MAX_ID + 4];
    snprintf(key, sizeof(key), "%s\x1f%s", x, y);
    reco_pair_t *p = reco_dict_val(&u->pairs, (size_t)reco_dict_find(&u->pairs, key, 1));
    p->s += ds;
    p->h += dh;
    p->dirty = 1;
}

static double fmin2(double a, double b) {
    return a < b ? a : b;
}

/* Raises item's weight in a list to w; credits each other item's pair with the increase of
 * min(w_other, w). Returns the old weight (0 when new). The list evicts its oldest entry. */
static double list_raise(reco_unit_t *u, reco_hitem_t *v, int *n, int max, uint32_t item, double w,
                         int64_t at, int purchase, int history) {
    int k = -1;
    for (int i = 0; i < *n; i++)
        if (v[i].item == item)
            k = i;
    double old = k >= 0 ? v[k].w : 0;
    if (w > old)
        for (int i = 0; i < *n; i++)
            if (i != k) {
                double d = fmin2(v[i].w, w) - fmin2(v[i].w, old);
                pair_add(u, v[i].item, item, history ? 0 : d, history ? d : 0);
            }
    if (k < 0) {
        if (*n == max) { /* evict the oldest signal (ties: the first) */
            int o = 0;
            for (int i = 1; i < *n; i++)
                if (v[i].at < v[o].at)
                    o = i;
            v[o] = v[--*n];
        }
        k = (*n)++;
        v[k] = (reco_hitem_t){item, 0, at, 0};
    }
    if (w > v[k].w)
        v[k].w = (float)w;
    if (at > v[k].at)
        v[k].at = at;
    v[k].bought |= purchase;
    return old;
}

void reco_unit_signal(reco_unit_t *u, const char *user, const char *session, const char *item,
                      double w, int64_t at, int purchase) {
    reco_user_t *us = user_get(u, user);
    uint32_t id = reco_unit_item(u, item);
    reco_occ_t *o = reco_dict_val(&u->items, id);
    if (session && *session) {
        if (strcmp(us->session, session)) {
            snprintf(us->session, sizeof(us->session), "%s", session);
            us->nsess = 0;
        }
        double old = list_raise(u, us->sess, &us->nsess, RECO_SESSION_MAX, id, w, at, 0, 0);
        o = reco_dict_val(&u->items, id);
        if (w > old)
            o->s += w - old, o->dirty = 1;
    }
    int had = 0;
    double oldh = 0;
    for (int i = 0; i < us->nhist; i++)
        if (us->hist[i].item == id)
            had = 1, oldh = us->hist[i].w;
    list_raise(u, us->hist, &us->nhist, RECO_HIST_MAX, id, w, at, purchase, 1);
    o = reco_dict_val(&u->items, id);
    if (w > oldh)
        o->h += w - (had ? oldh : 0), o->dirty = 1;
    /* trending popularity: one credit per signal, by day */
    char key[RECO_MAX_ID + 32];
    snprintf(key, sizeof(key), "%s\x1f%lld", item, (long long)reco_day(at));
    reco_pop_t *p = reco_dict_val(&u->pop, (size_t)reco_dict_find(&u->pop, key, 1));
    p->w += w;
    p->dirty = 1;
    us->dirty = 1;
    if (at > us->at)
        us->at = at;
    if (at > u->wm)
        u->wm = at, u->wm_dirty = 1;
}

void reco_unit_tier(reco_unit_t *u, const char *user, int tier, int64_t at) {
    reco_user_t *us = user_get(u, user);
    if (tier > us->tier) {
        us->tier = tier;
        us->dirty = 1;
    }
    if (at > u->wm)
        u->wm = at, u->wm_dirty = 1;
}

void reco_unit_meta(reco_unit_t *u, const char *item, const char *category, const char *brand,
                    int points, int64_t at) {
    reco_meta_t *m = reco_dict_val(&u->meta, (size_t)reco_dict_find(&u->meta, item, 1));
    snprintf(m->category, sizeof(m->category), "%s", category ? category : "");
    snprintf(m->brand, sizeof(m->brand), "%s", brand ? brand : "");
    m->points = points;
    m->dirty = 1;
    if (at > u->wm)
        u->wm = at, u->wm_dirty = 1;
}

void reco_unit_visual(reco_unit_t *u, const char *user, const char *const *items, size_t n,
                      int64_t at) {
    reco_visual_t *v = reco_dict_val(&u->visual, (size_t)reco_dict_find(&u->visual, user, 1));
    shop_buf_t b;
    shop_buf_init(&b);
    for (size_t i = 0; i < n && i < 4; i++)
        shop_buf_printf(&b, "%s%s", i ? "\x1f" : "", items[i]);
    snprintf(v->list, sizeof(v->list), "%s", b.len ? b.buf : "");
    shop_buf_release(&b);
    v->dirty = 1;
    if (at > u->wm)
        u->wm = at, u->wm_dirty = 1;
}

void reco_unit_clean(reco_unit_t *u) {
    for (size_t i = 0; i < u->visual.n; i++)
        ((reco_visual_t *)reco_dict_val(&u->visual, i))->dirty = 0;
    for (size_t i = 0; i < u->items.n; i++)
        ((reco_occ_t *)reco_dict_val(&u->items, i))->dirty = 0;
    for (size_t i = 0; i < u->pairs.n; i++)
        ((reco_pair_t *)reco_dict_val(&u->pairs, i))->dirty = 0;
    for (size_t i = 0; i < u->pop.n; i++)
        ((reco_pop_t *)reco_dict_val(&u->pop, i))->dirty = 0;
    for (size_t i = 0; i < u->meta.n; i++)
        ((reco_meta_t *)reco_dict_val(&u->meta, i))->dirty = 0;
    for (size_t i = 0; i < u->users.n; i++)
        (*(reco_user_t **)reco_dict_val(&u->users, i))->dirty = 0;
    u->wm_dirty = 0;
}

size_t reco_unit_dirty(const reco_unit_t *u) {
    size_t n = (size_t)u->wm_dirty;
    for (size_t i = 0; i < u->users.n; i++)
        n += (size_t)(*(reco_user_t **)reco_dict_val(&u->users, i))->dirty;
    for (size_t i = 0; i < u->meta.n; i++)
        n += (size_t)((reco_meta_t *)reco_dict_val(&u->meta, i))->dirty;
    for (size_t i = 0; i < u->visual.n; i++)
        n += (size_t)((reco_visual_t *)reco_dict_val(&u->visual, i))->dirty;
    return n;
}

/* ---- text form ---- */

static void list_format(const reco_unit_t *u, const reco_hitem_t *v, int n, shop_buf_t *out) {
    for (int i = 0; i < n; i++)
        shop_buf_printf(out, "%s%s\x1f%.9g\x1f%lld\x1f%d", i ? "\x1d" : "",
                        u->items.keys[v[i].item], (double)v[i].w, (long long)v[i].at, v[i].bought);
}

void reco_user_format(const reco_unit_t *u, const reco_user_t *us, shop_buf_t *out) {
    shop_buf_printf(out, "%d\x1e%s\x1e%lld\x1e", us->tier, us->session, (long long)us->at);
    list_format(u, us->hist, us->nhist, out);
    shop_buf_puts(out, "\x1e");
    list_format(u, us->sess, us->nsess, out);
}

static int list_parse(reco_unit_t *u, char *s, reco_hitem_t *v, int *n, int max) {
    *n = 0;
    if (!*s)
        return SHOP_OK;
    for (char *save = NULL, *e = strtok_r(s, "\x1d", &save); e; e = strtok_r(NULL, "\x1d", &save)) {
        char *f[4];
        int nf = 0;
        for (char *s2 = NULL, *t = strtok_r(e, "\x1f", &s2); t && nf < 4;
             t = strtok_r(NULL, "\x1f", &s2))
            f[nf++] = t;
        if (nf != 4 || *n >= max)
            return SHOP_ERR_INVALID;
        v[*n] = (reco_hitem_t){reco_unit_item(u, f[0]), (float)strtod(f[1], NULL),
                               strtoll(f[2], NULL, 10), atoi(f[3])};
        (*n)++;
    }
    return SHOP_OK;
}

int reco_user_parse(reco_unit_t *u, const char *user, const char *text) {
    char *copy = shop_xstrdup(text), *f[5] = {0};
    int nf = 0;
    char *p = copy;
    f[nf++] = p;
    for (; *p && nf < 5; p++)
        if (*p == '\x1e')
            *p = '\0', f[nf++] = p + 1;
    int rc = SHOP_ERR_INVALID;
    if (nf == 5) {
        reco_user_t *us = user_get(u, user);
        memset(us, 0, sizeof(*us));
        us->tier = atoi(f[0]);
        snprintf(us->session, sizeof(us->session), "%s", f[1]);
        us->at = strtoll(f[2], NULL, 10);
        rc = list_parse(u, f[3], us->hist, &us->nhist, RECO_HIST_MAX);
        if (!rc)
            rc = list_parse(u, f[4], us->sess, &us->nsess, RECO_SESSION_MAX);
    }
    free(copy);
    return rc;
}

int reco_tier_rank(const char *tier) {
    static const char *const names[] = {"bronze", "silver", "gold", "platinum", "diamond"};
    for (int i = 0; tier && i < 5; i++)
        if (!strcasecmp(tier, names[i]))
            return i + 1;
    return 0;
}
