/* reco_views.c: the recommendation worker's derived views, recomputed from the committed units by
 * every refresh (units summed in name order, so any number of instances writes the same views):
 * reco:item:<id>, reco:user:<id> with its A/B variant, reco:visual:<id>, reco:trending; the
 * feature-flag cache reloaded from PostgreSQL; the similarity snapshot in PostgreSQL. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reco_int.h"
#include "redis_keys.h"

static redisReply *hgetall(redisContext *c, const char *prefix, const char *unit, const char *kind,
                           char *errstr, size_t errstr_size) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_RECO_STATE, prefix, unit, kind);
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        shop_redis_reply_err(c, r, errstr, errstr_size);
        return NULL;
    }
    return r;
}

reco_unit_t *reco_unit_load(const char *prefix, redisContext *c, const char *name, char *errstr,
                            size_t errstr_size) {
    reco_unit_t *u = reco_unit_new(name[0], (int32_t)atoi(name + 1));
    static const char *const kinds[] = {"users", "occ", "pair", "pop", "meta", "visual"};
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_RECO_UNITS, prefix);
    redisReply *r = redisCommand(c, "HGET %s %s", key, name);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        shop_redis_reply_err(c, r, errstr, errstr_size);
        reco_unit_destroy(u);
        return NULL;
    }
    u->wm = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    for (int k = 0; k < 6; k++) {
        if (!(r = hgetall(c, prefix, name, kinds[k], errstr, errstr_size))) {
            reco_unit_destroy(u);
            return NULL;
        }
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const char *f = r->element[i]->str, *v = r->element[i + 1]->str;
            char *end = NULL;
            if (k == 0) {
                reco_user_parse(u, f, v);
            } else if (k == 1 || k == 2) {
                reco_dict_t *d = k == 1 ? &u->items : &u->pairs;
                double *x = reco_dict_val(d, (size_t)reco_dict_find(d, f, 1));
                x[0] = strtod(v, &end); /* reco_occ_t and reco_pair_t start with s, h */
                x[1] = strtod(end, NULL);
            } else if (k == 3) {
                ((reco_pop_t *)reco_dict_val(&u->pop, (size_t)reco_dict_find(&u->pop, f, 1)))->w =
                    strtod(v, NULL);
            } else if (k == 4) {
                char cat[64] = "", brand[64] = "";
                const char *s1 = strchr(v, '\x1f'), *s2 = s1 ? strchr(s1 + 1, '\x1f') : NULL;
                if (s1 && s2) {
                    snprintf(cat, sizeof(cat), "%.*s", (int)(s1 - v), v);
                    snprintf(brand, sizeof(brand), "%.*s", (int)(s2 - s1 - 1), s1 + 1);
                    reco_unit_meta(u, f, cat, brand, atoi(s2 + 1), 0);
                }
            } else {
                reco_visual_t *x =
                    reco_dict_val(&u->visual, (size_t)reco_dict_find(&u->visual, f, 1));
                snprintf(x->list, sizeof(x->list), "%s", v);
            }
        }
        freeReplyObject(r);
    }
    reco_unit_clean(u);
    return u;
}

/* ---- writing ---- */

typedef struct {
    redisContext *c;
    int pending;
    int rc;
    char *errstr;
    size_t errstr_size;
} pipe_t;

static void pipe_drain(pipe_t *p) {
    for (; p->pending > 0; p->pending--) {
        redisReply *r = NULL;
        if (redisGetReply(p->c, (void **)&r) != REDIS_OK) {
            if (!p->rc)
                p->rc = shop_seterr(p->errstr, p->errstr_size, SHOP_ERR_RETRYABLE, "redis: %s",
                                    p->c->errstr);
            p->pending = 0;
            return;
        }
        if (r->type == REDIS_REPLY_ERROR && !p->rc)
            p->rc = shop_seterr(p->errstr, p->errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", r->str);
        freeReplyObject(r);
    }
}

static void pipe_argv(pipe_t *p, int argc, const char **argv) {
    if (p->rc)
        return;
    redisAppendCommandArgv(p->c, argc, argv, NULL);
    if (++p->pending >= 512)
        pipe_drain(p);
}

/* DEL key, then ZADD key score member ... (scores with 6 significant digits). */
static void write_zset(pipe_t *p, const reco_model_t *m, const char *key, const reco_sim_t *v,
                       size_t n) {
    const char *del[] = {"DEL", key};
    pipe_argv(p, 2, del);
    if (!n)
        return;
    const char **argv = shop_xcalloc(2 * n + 2, sizeof(char *));
    char(*num)[32] = shop_xcalloc(n, sizeof(*num));
    argv[0] = "ZADD";
    argv[1] = key;
    for (size_t i = 0; i < n; i++) {
        snprintf(num[i], sizeof(num[i]), "%.6g", (double)v[i].score);
        argv[2 + 2 * i] = num[i];
        argv[3 + 2 * i] = reco_model_item_name(m, v[i].item);
    }
    pipe_argv(p, (int)(2 * n + 2), argv); /* hiredis copies the arguments when appending */
    free(num);
    free(argv);
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Units with state, sorted by name; NULL on failure (*n = -1). */
static char **unit_names(reco_w_t *w, redisContext *c, int *n, char *errstr, size_t errstr_size) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_RECO_UNITS, w->prefix);
    redisReply *r = redisCommand(c, "HKEYS %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        shop_redis_reply_err(c, r, errstr, errstr_size);
        *n = -1;
        return NULL;
    }
    char **v = shop_xcalloc(r->elements + 1, sizeof(char *));
    for (size_t i = 0; i < r->elements; i++)
        v[i] = shop_xstrdup(r->element[i]->str);
    *n = (int)r->elements;
    freeReplyObject(r);
    shop_sort(v, (size_t)*n, sizeof(char *), name_cmp);
    return v;
}

/* The variant of the A/B flag for a user: "cosine" selects the plain algorithm. */
static const char *user_variant(reco_w_t *w, const char *user, int *algo) {
    shop_flag_context_t ctx = {0};
    ctx.user_id = user;
    ctx.app_name = "shopstream-reco";
    shop_flag_variant_t v = shop_flags_get_variant(w->flags, w->flag_name, &ctx);
    *algo = v.enabled && !strcmp(v.name, "cosine") ? RECO_ALGO_COSINE : RECO_ALGO_BLEND;
    return v.enabled ? v.name : "default";
}

static void write_users(reco_w_t *w, pipe_t *p, const reco_model_t *m, reco_unit_t **units, int nu,
                        int64_t as_of, size_t *nusers) {
    reco_dict_t seen;
    reco_dict_init(&seen, 1);
    for (int i = 0; i < nu; i++)
        for (size_t k = 0; k < units[i]->users.n; k++)
            reco_dict_find(&seen, units[i]->users.keys[k], 1);
    char **names = shop_xcalloc(seen.n + 1, sizeof(char *));
    for (size_t i = 0; i < seen.n; i++)
        names[i] = seen.keys[i];
    shop_sort(names, seen.n, sizeof(char *), name_cmp);
    reco_sim_t *recs = shop_xcalloc((size_t)w->p.n + 1, sizeof(*recs));
    const char **variants = shop_xcalloc(seen.n + 1, sizeof(char *));
    char key[512], vkey[256];
    snprintf(vkey, sizeof(vkey), SHOP_KEY_RECO_VARIANT, w->prefix);
    for (size_t i = 0; i < seen.n && !p->rc; i++) {
        reco_history_t h = {0};
        for (int k = 0; k < nu; k++) {
            long ix = reco_dict_find(&units[k]->users, names[i], 0);
            if (ix >= 0)
                reco_history_add(&h, m, units[k],
                                 *(reco_user_t **)reco_dict_val(&units[k]->users, (size_t)ix));
        }
        int algo;
        const char *variant = variants[i] = user_variant(w, names[i], &algo);
        size_t n = reco_model_rank(m, &h, algo, recs, (size_t)w->p.n);
        snprintf(key, sizeof(key), SHOP_KEY_RECO_USER, w->prefix, names[i]);
        write_zset(p, m, key, recs, n);
        const char *hs[] = {"HSET", vkey, names[i], variant};
        pipe_argv(p, 4, hs);
        reco_history_release(&h);
    }
    *nusers = seen.n;
    if (!p->rc)
        reco_variants_pg(w, (const char *const *)names, variants, seen.n, as_of);
    free(variants);
    free(recs);
    free(names);
    reco_dict_release(&seen);
}

/* reco:visual:<user>: the neighbours of the last visual search's matches, summed. */
static void write_visual(reco_w_t *w, pipe_t *p, const reco_model_t *m, reco_unit_t **units,
                         int nu) {
    size_t ni = reco_model_items(m);
    double *score = shop_xcalloc(ni + 1, sizeof(double));
    reco_sim_t *sims = shop_xcalloc((size_t)w->p.k + 1, sizeof(*sims));
    reco_sim_t *out = shop_xcalloc(ni + 1, sizeof(*out));
    char key[512];
    for (int k = 0; k < nu; k++) {
        size_t *ix = shop_xcalloc(units[k]->visual.n + 1, sizeof(size_t));
        for (size_t i = 0; i < units[k]->visual.n && !p->rc; i++) {
            char list[sizeof(((reco_visual_t *)0)->list)];
            snprintf(list, sizeof(list), "%s",
                     ((reco_visual_t *)reco_dict_val(&units[k]->visual, i))->list);
            memset(score, 0, ni * sizeof(double));
            char *save = NULL;
            for (char *t = strtok_r(list, "\x1f", &save); t; t = strtok_r(NULL, "\x1f", &save)) {
                long id = reco_model_item_id(m, t);
                if (id < 0)
                    continue;
                size_t ns = reco_model_similar(m, (uint32_t)id, sims, (size_t)w->p.k);
                for (size_t j = 0; j < ns; j++)
                    score[sims[j].item] += sims[j].score;
            }
            size_t n = 0;
            for (size_t j = 0; j < ni; j++)
                if (score[j] > 0)
                    out[n++] = (reco_sim_t){(uint32_t)j, (float)score[j]};
            reco_model_rank_static(m, out, n);
            snprintf(key, sizeof(key), SHOP_KEY_RECO_VISUAL, w->prefix, units[k]->visual.keys[i]);
            write_zset(p, m, key, out, n < (size_t)w->p.n ? n : (size_t)w->p.n);
        }
        free(ix);
    }
    free(out);
    free(sims);
    free(score);
}

int reco_refresh(void *wp, redisContext *c, int full, char *errstr, size_t errstr_size) {
    reco_w_t *w = wp;
    int nu = 0;
    char **names = unit_names(w, c, &nu, errstr, errstr_size);
    if (!names)
        return SHOP_ERR_RETRYABLE;
    reco_flag_cache_reload(w, full);
    reco_unit_t **units = shop_xcalloc((size_t)nu + 1, sizeof(*units));
    reco_model_t *m = reco_model_new(&w->p);
    int rc = SHOP_OK;
    int64_t as_of = 0;
    for (int i = 0; i < nu && !rc; i++) {
        if (!(units[i] = reco_unit_load(w->prefix, c, names[i], errstr, errstr_size)))
            rc = SHOP_ERR_RETRYABLE;
        else {
            reco_model_add_unit(m, units[i]);
            if (units[i]->wm > as_of)
                as_of = units[i]->wm;
        }
    }
    size_t nusers = 0, ni = 0;
    if (!rc) {
        reco_model_build(m);
        pipe_t p = {c, 0, 0, errstr, errstr_size};
        ni = reco_model_items(m);
        reco_sim_t *sims = shop_xcalloc((size_t)w->p.k + 1 + ni, sizeof(*sims));
        char key[512];
        for (size_t i = 0; i < ni && !p.rc; i++) {
            size_t n = reco_model_similar(m, (uint32_t)i, sims, (size_t)w->p.k);
            snprintf(key, sizeof(key), SHOP_KEY_RECO_ITEM, w->prefix, reco_model_item_name(m, i));
            write_zset(&p, m, key, sims, n);
        }
        size_t nt = reco_model_trending(m, sims, 100);
        snprintf(key, sizeof(key), SHOP_KEY_RECO_TRENDING, w->prefix);
        write_zset(&p, m, key, sims, nt);
        free(sims);
        write_users(w, &p, m, units, nu, as_of, &nusers);
        write_visual(w, &p, m, units, nu);
        char a[32], b[32], d[32], fv[32];
        snprintf(key, sizeof(key), SHOP_KEY_RECO_META, w->prefix);
        snprintf(a, sizeof(a), "%lld", (long long)as_of);
        snprintf(b, sizeof(b), "%zu", ni);
        snprintf(d, sizeof(d), "%zu", nusers);
        snprintf(fv, sizeof(fv), "%lld", (long long)w->flags_version);
        const char *hm[] = {"HSET", key, "as_of", a, "items", b, "users", d, "flags", fv};
        pipe_argv(&p, 10, hm);
        pipe_drain(&p);
        rc = p.rc;
        if (!rc)
            reco_snapshot_pg(w, m, full, as_of, nusers);
    }
    reco_model_destroy(m);
    for (int i = 0; i < nu; i++) {
        reco_unit_destroy(units[i]);
        free(names[i]);
    }
    free(units);
    free(names);
    return rc;
}
