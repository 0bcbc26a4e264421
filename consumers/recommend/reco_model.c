/* reco_model.c: the derived recommendation model: units' sums added in a fixed order, top-K
 * cosine neighbours per item, trending popularity (exponential decay by day), the content
 * fallback by category and brand, and per-user ranking (the two A/B algorithms). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reco.h"

typedef struct {
    double s, h;  /* occurrence sums */
    double trend; /* decayed popularity (after build) */
    char category[64];
    char brand[64];
    int points, has_meta;
    reco_sim_t *sim; /* top-K, best first */
    int nsim;
} mitem_t;

typedef struct {
    uint64_t key; /* a << 32 | b, a < b */
    double s, h;
} mpair_t;

typedef struct {
    uint32_t item;
    int64_t day;
    double w;
} mpop_t;

struct reco_model {
    reco_params_t p;
    reco_dict_t items; /* name -> mitem_t */
    mpair_t *pairs;
    size_t npairs, cappairs;
    uint32_t *pslots; /* index + 1 */
    size_t npslots;
    mpop_t *pop;
    size_t npop, cappop;
    uint32_t *trending; /* item ids by trend, best first */
    size_t ntrending;
};

void reco_params_default(reco_params_t *p) {
    p->k = 50;
    p->n = 20;
    p->hist_weight = 0.3;
    p->pop_halflife_d = 1.0;
    p->user_halflife_d = 0; /* 0: no recency weighting of the history */
    p->pop_blend = 1.0;
    p->tier_boost = 0.05;
}

reco_model_t *reco_model_new(const reco_params_t *p) {
    reco_model_t *m = shop_xcalloc(1, sizeof(*m));
    m->p = *p;
    reco_dict_init(&m->items, sizeof(mitem_t));
    return m;
}

void reco_model_destroy(reco_model_t *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->items.n; i++)
        free(((mitem_t *)reco_dict_val(&m->items, i))->sim);
    reco_dict_release(&m->items);
    free(m->pairs);
    free(m->pslots);
    free(m->pop);
    free(m->trending);
    free(m);
}

static mitem_t *item_at(const reco_model_t *m, size_t i) {
    return reco_dict_val(&m->items, i);
}

static uint32_t intern(reco_model_t *m, const char *name) {
    return (uint32_t)reco_dict_find(&m->items, name, 1);
}

void reco_model_add_item(reco_model_t *m, const char *item, double s, double h) {
    mitem_t *it = item_at(m, intern(m, item));
    it->s += s;
    it->h += h;
}

static void pairs_reindex(reco_model_t *m) {
    size_t ns = 1024;
    while (ns < 2 * m->npairs + 2)
        ns *= 2;
    free(m->pslots);
    m->pslots = shop_xcalloc(ns, sizeof(uint32_t));
    m->npslots = ns;
    for (size_t i = 0; i < m->npairs; i++) {
        size_t j = shop_mix64(m->pairs[i].key) & (ns - 1);
        while (m->pslots[j])
            j = (j + 1) & (ns - 1);
        m->pslots[j] = (uint32_t)i + 1;
    }
}

static void pair_add_ids(reco_model_t *m, uint32_t a, uint32_t b, double s, double h) {
    if (a == b)
        return;
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    uint64_t key = (uint64_t)a << 32 | b;
    if ((m->npairs + 1) * 2 > m->npslots)
        pairs_reindex(m);
    size_t j = shop_mix64(key) & (m->npslots - 1);
    for (; m->pslots[j]; j = (j + 1) & (m->npslots - 1))
        if (m->pairs[m->pslots[j] - 1].key == key) {
            m->pairs[m->pslots[j] - 1].s += s;
            m->pairs[m->pslots[j] - 1].h += h;
            return;
        }
    if (m->npairs == m->cappairs) {
        m->cappairs = m->cappairs ? m->cappairs * 2 : 1024;
        m->pairs = shop_xrealloc(m->pairs, m->cappairs * sizeof(*m->pairs));
    }
    m->pairs[m->npairs] = (mpair_t){key, s, h};
    m->pslots[j] = (uint32_t)++m->npairs;
}

void reco_model_add_pair(reco_model_t *m, const char *a, const char *b, double s, double h) {
    uint32_t ia = intern(m, a), ib = intern(m, b);
    pair_add_ids(m, ia, ib, s, h);
}

void reco_model_add_pop(reco_model_t *m, const char *item, int64_t day, double w) {
    if (m->npop == m->cappop) {
        m->cappop = m->cappop ? m->cappop * 2 : 1024;
        m->pop = shop_xrealloc(m->pop, m->cappop * sizeof(*m->pop));
    }
    m->pop[m->npop++] = (mpop_t){intern(m, item), day, w};
}

void reco_model_add_meta(reco_model_t *m, const char *item, const char *category, const char *brand,
                         int points) {
    mitem_t *it = item_at(m, intern(m, item));
    snprintf(it->category, sizeof(it->category), "%s", category ? category : "");
    snprintf(it->brand, sizeof(it->brand), "%s", brand ? brand : "");
    it->points = points;
    it->has_meta = 1;
}

/* Keys of a dictionary sorted, so sums run in one order whatever the insertion history. */
static int idx_cmp_keys(const void *a, const void *b, void *arg) {
    char **keys = arg;
    return strcmp(keys[*(const size_t *)a], keys[*(const size_t *)b]);
}

static size_t *sorted_idx(const reco_dict_t *d) {
    size_t *ix = shop_xmalloc((d->n + 1) * sizeof(size_t));
    for (size_t i = 0; i < d->n; i++)
        ix[i] = i;
    shop_sort_r(ix, d->n, sizeof(size_t), idx_cmp_keys, d->keys);
    return ix;
}

void reco_model_add_unit(reco_model_t *m, const reco_unit_t *u) {
    size_t *ix = sorted_idx(&u->items);
    for (size_t k = 0; k < u->items.n; k++) {
        const reco_occ_t *o = reco_dict_val(&u->items, ix[k]);
        reco_model_add_item(m, u->items.keys[ix[k]], o->s, o->h);
    }
    free(ix);
    ix = sorted_idx(&u->pairs);
    for (size_t k = 0; k < u->pairs.n; k++) {
        const reco_pair_t *p = reco_dict_val(&u->pairs, ix[k]);
        char key[2 * RECO_MAX_ID + 4], *sep;
        snprintf(key, sizeof(key), "%s", u->pairs.keys[ix[k]]);
        if ((sep = strchr(key, '\x1f'))) {
            *sep = '\0';
            reco_model_add_pair(m, key, sep + 1, p->s, p->h);
        }
    }
    free(ix);
    ix = sorted_idx(&u->pop);
    for (size_t k = 0; k < u->pop.n; k++) {
        char key[RECO_MAX_ID + 32], *sep;
        snprintf(key, sizeof(key), "%s", u->pop.keys[ix[k]]);
        if ((sep = strrchr(key, '\x1f'))) {
            *sep = '\0';
            reco_model_add_pop(m, key, strtoll(sep + 1, NULL, 10),
                               ((const reco_pop_t *)reco_dict_val(&u->pop, ix[k]))->w);
        }
    }
    free(ix);
    for (size_t i = 0; i < u->meta.n; i++) {
        const reco_meta_t *x = reco_dict_val(&u->meta, i);
        reco_model_add_meta(m, u->meta.keys[i], x->category, x->brand, x->points);
    }
}

/* Best first; ties by item name so every run orders them alike. */
typedef struct {
    const reco_model_t *m;
} cmp_ctx_t;

static int sim_cmp(const void *a, const void *b, void *arg) {
    const reco_model_t *m = arg;
    const reco_sim_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(m->items.keys[x->item], m->items.keys[y->item]);
}

static void sim_push(mitem_t *it, uint32_t other, double score, size_t *cap) {
    if ((size_t)it->nsim == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        it->sim = shop_xrealloc(it->sim, *cap * sizeof(reco_sim_t));
    }
    it->sim[it->nsim++] = (reco_sim_t){other, (float)score};
}

void reco_model_build(reco_model_t *m) {
    size_t n = m->items.n;
    size_t *caps = shop_xcalloc(n + 1, sizeof(size_t));
    double hw = m->p.hist_weight;
    for (size_t i = 0; i < n; i++) {
        mitem_t *it = item_at(m, i);
        free(it->sim);
        it->sim = NULL;
        it->nsim = 0;
        it->trend = 0;
    }
    for (size_t i = 0; i < m->npairs; i++) {
        const mpair_t *p = &m->pairs[i];
        uint32_t a = (uint32_t)(p->key >> 32), b = (uint32_t)p->key;
        mitem_t *x = item_at(m, a), *y = item_at(m, b);
        double c = p->s + hw * p->h, oa = x->s + hw * x->h, ob = y->s + hw * y->h;
        if (c <= 0 || oa <= 0 || ob <= 0)
            continue;
        double sim = c / sqrt(oa * ob);
        sim_push(x, b, sim, &caps[a]);
        sim_push(y, a, sim, &caps[b]);
    }
    for (size_t i = 0; i < n; i++) {
        mitem_t *it = item_at(m, i);
        it->nsim = (int)shop_topk_r(it->sim, (size_t)it->nsim, sizeof(reco_sim_t), sim_cmp, m,
                                    m->p.k > 0 ? (size_t)m->p.k : 0);
    }
    free(caps);
    int64_t maxday = INT64_MIN;
    for (size_t i = 0; i < m->npop; i++)
        if (m->pop[i].day > maxday)
            maxday = m->pop[i].day;
    for (size_t i = 0; i < m->npop; i++) {
        double age = (double)(maxday - m->pop[i].day);
        item_at(m, m->pop[i].item)->trend +=
            m->pop[i].w * (m->p.pop_halflife_d > 0 ? exp2(-age / m->p.pop_halflife_d) : 1.0);
    }
    reco_sim_t *t = shop_xcalloc(n + 1, sizeof(*t));
    size_t nt = 0;
    for (size_t i = 0; i < n; i++)
        if (item_at(m, i)->trend > 0)
            t[nt++] = (reco_sim_t){(uint32_t)i, (float)item_at(m, i)->trend};
    shop_sort_r(t, nt, sizeof(*t), sim_cmp, m);
    free(m->trending);
    m->trending = shop_xcalloc(nt + 1, sizeof(uint32_t));
    for (size_t i = 0; i < nt; i++)
        m->trending[i] = t[i].item;
    m->ntrending = nt;
    free(t);
}

size_t reco_model_items(const reco_model_t *m) {
    return m->items.n;
}

const char *reco_model_item_name(const reco_model_t *m, uint32_t id) {
    return id < m->items.n ? m->items.keys[id] : NULL;
}

long reco_model_item_id(const reco_model_t *m, const char *name) {
    return reco_dict_find((reco_dict_t *)&m->items, name, 0);
}

size_t reco_model_trending(const reco_model_t *m, reco_sim_t *out, size_t max) {
    size_t n = 0;
    for (; n < max && n < m->ntrending; n++)
        out[n] = (reco_sim_t){m->trending[n], (float)item_at(m, m->trending[n])->trend};
    return n;
}

size_t reco_model_similar(const reco_model_t *m, uint32_t item, reco_sim_t *out, size_t max) {
    const mitem_t *it = item_at(m, item);
    size_t n = 0;
    for (; n < max && n < (size_t)it->nsim; n++)
        out[n] = it->sim[n];
    if (n || !it->has_meta)
        return n;
    /* content fallback: trending items of the same category, then of the same brand */
    double top = m->ntrending ? item_at(m, m->trending[0])->trend : 1;
    for (int pass = 0; pass < 2 && n < max; pass++)
        for (size_t i = 0; i < m->ntrending && n < max; i++) {
            const mitem_t *o = item_at(m, m->trending[i]);
            if (m->trending[i] == item || !o->has_meta)
                continue;
            int same = pass == 0 ? it->category[0] && !strcmp(o->category, it->category)
                                 : it->brand[0] && !strcmp(o->brand, it->brand) &&
                                       strcmp(o->category, it->category);
            if (same)
                out[n++] = (reco_sim_t){m->trending[i], (float)(0.5 * o->trend / top)};
        }
    return n;
}

/* ---- users ---- */

void reco_history_release(reco_history_t *h) {
    free(h->v);
    memset(h, 0, sizeof(*h));
}

void reco_history_add(reco_history_t *h, const reco_model_t *m, const reco_unit_t *u,
                      const reco_user_t *us) {
    if (us->tier > h->tier)
        h->tier = us->tier;
    if (us->at > h->at)
        h->at = us->at;
    for (int i = 0; i < us->nhist; i++) {
        long id = reco_model_item_id(m, u->items.keys[us->hist[i].item]);
        if (id < 0)
            continue;
        size_t k = 0;
        while (k < h->n && h->v[k].item != (uint32_t)id)
            k++;
        if (k == h->n) {
            if (h->n == h->cap) {
                h->cap = h->cap ? h->cap * 2 : 32;
                h->v = shop_xrealloc(h->v, h->cap * sizeof(*h->v));
            }
            h->v[h->n].item = (uint32_t)id;
            h->v[h->n].w = 0;
            h->v[h->n].at = 0;
            h->v[h->n].bought = 0;
            h->n++;
        }
        if (us->hist[i].w > h->v[k].w)
            h->v[k].w = us->hist[i].w;
        if (us->hist[i].at > h->v[k].at)
            h->v[k].at = us->hist[i].at;
        h->v[k].bought |= us->hist[i].bought;
    }
}

int reco_history_bought(const reco_history_t *h, uint32_t item) {
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].item == item)
            return h->v[i].bought;
    return 0;
}

size_t reco_model_rank(const reco_model_t *m, const reco_history_t *h, int algo, reco_sim_t *out,
                       size_t max) {
    size_t n = m->items.n;
    double *score = shop_xcalloc(n + 1, sizeof(double));
    double top = 0;
    for (size_t i = 0; i < h->n; i++) {
        const mitem_t *it = item_at(m, h->v[i].item);
        double r = h->v[i].w;
        if (algo == RECO_ALGO_BLEND && m->p.user_halflife_d > 0)
            r *= exp2(-(double)(h->at - h->v[i].at) / 86400000.0 / m->p.user_halflife_d);
        if (algo == RECO_ALGO_COSINE)
            r = 1;
        for (int k = 0; k < it->nsim; k++)
            score[it->sim[k].item] += r * it->sim[k].score;
    }
    for (size_t i = 0; i < n; i++)
        if (score[i] > top)
            top = score[i];
    double ttop = m->ntrending ? item_at(m, m->trending[0])->trend : 0;
    reco_sim_t *c = shop_xcalloc(n + 1, sizeof(*c));
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (reco_history_bought(h, (uint32_t)i))
            continue;
        const mitem_t *it = item_at(m, i);
        double s = top > 0 ? score[i] / top : 0;
        double pop = ttop > 0 ? it->trend / ttop : 0;
        if (algo == RECO_ALGO_BLEND) {
            s += m->p.pop_blend * pop;
            if (h->tier && it->points)
                s *= 1 + m->p.tier_boost * h->tier;
        } else if (s <= 0) {
            s = 1e-3 * pop; /* fill with popularity below every similar item */
        }
        if (s > 0)
            c[nc++] = (reco_sim_t){(uint32_t)i, (float)s};
    }
    size_t k = shop_topk_r(c, nc, sizeof(*c), sim_cmp, (void *)m, max);
    memcpy(out, c, k * sizeof(*c));
    free(c);
    free(score);
    return k;
}

size_t reco_model_rank_static(const reco_model_t *m, reco_sim_t *v, size_t n) {
    if (n > 1)
        shop_sort_r(v, n, sizeof(*v), sim_cmp, (void *)m);
    return n;
}
