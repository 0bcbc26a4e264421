/* reco_eval.c: offline evaluation of the recommendation model: train on every purchase up to a
 * time, test on each user's next purchases after it (items the user had not bought before, in
 * both the recommendations and the truth), hit rate@10 and nDCG@10 for the model and for a
 * popularity baseline (distinct buyers in the training range) computed in the same run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reco_eval.h"

typedef struct {
    int64_t at;
    size_t seq;
    char *user, *session, *item;
    double w;
    int purchase;
} ev_t;

struct reco_eval_data {
    ev_t *v;
    size_t n, cap;
    size_t rows, skipped;
};

reco_eval_data_t *reco_eval_data_new(void) {
    return shop_xcalloc(1, sizeof(reco_eval_data_t));
}

void reco_eval_data_destroy(reco_eval_data_t *d) {
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].user);
        free(d->v[i].session);
        free(d->v[i].item);
    }
    free(d->v);
    free(d);
}

void reco_eval_data_add(reco_eval_data_t *d, int64_t at, const char *user, const char *session,
                        const char *item, double w, int purchase) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 4096;
        d->v = shop_xrealloc(d->v, d->cap * sizeof(*d->v));
    }
    d->v[d->n] = (ev_t){
        at, d->n,    shop_xstrdup(user), shop_xstrdup(session ? session : ""), shop_xstrdup(item),
        w,  purchase};
    d->n++;
}

/* Splits one CSV line into at most max fields in place (RFC 4180 quotes). */
static int csv_split(char *line, char **f, int max) {
    int n = 0;
    char *w = line, *r = line;
    while (n < max) {
        f[n++] = w;
        int q = *r == '"';
        if (q)
            r++;
        for (; *r; r++) {
            if (q && *r == '"' && r[1] == '"')
                *w++ = '"', r++;
            else if (q && *r == '"')
                q = 0;
            else if (!q && (*r == ',' || *r == '\n' || *r == '\r'))
                break;
            else
                *w++ = *r;
        }
        int end = *r != ',';
        *w++ = '\0';
        if (end)
            break;
        r++;
    }
    return n;
}

static int path_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One retail CSV: purchases of known customers (no cancellations, quantity > 0). */
static int load_csv(reco_eval_data_t *d, const char *path, char *errstr, size_t errstr_size) {
    FILE *f = fopen(path, "r");
    if (!f)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    int first = 1;
    while (getline(&line, &cap, f) > 0) {
        char *fl[8];
        if (first) {
            first = 0;
            continue;
        }
        d->rows++;
        int nf = csv_split(line, fl, 8);
        int64_t at;
        char ts[40], user[64];
        if (nf < 7 || fl[0][0] == 'C' || atoi(fl[3]) <= 0 || !*fl[6] || !*fl[1] ||
            strlen(fl[4]) != 19) {
            d->skipped++;
            continue;
        }
        snprintf(ts, sizeof(ts), "%.10sT%.8sZ", fl[4], fl[4] + 11);
        if (shop_parse_time_ms(ts, &at)) {
            d->skipped++;
            continue;
        }
        snprintf(user, sizeof(user), "%.*s", (int)strcspn(fl[6], "."), fl[6]);
        for (char *c = fl[1]; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
        reco_eval_data_add(d, at, user, fl[0], fl[1], RECO_W_PURCHASE, 1);
    }
    free(line);
    fclose(f);
    return SHOP_OK;
}

int reco_eval_load_retail(reco_eval_data_t *d, const char *dir, char *errstr, size_t errstr_size) {
    DIR *dh = opendir(dir);
    if (!dh)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: cannot open the directory", dir);
    char **paths = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dh));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".csv")) {
            paths = shop_xrealloc(paths, (n + 1) * sizeof(char *));
            paths[n++] = shop_xasprintf("%s/%s", dir, e->d_name);
        }
    }
    closedir(dh);
    if (n > 1)
        shop_sort(paths, n, sizeof(char *), path_cmp);
    int rc = n ? SHOP_OK : shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: no *.csv files", dir);
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = load_csv(d, paths[i], errstr, errstr_size);
        free(paths[i]);
    }
    free(paths);
    return rc;
}

static int ev_cmp(const void *a, const void *b) {
    const ev_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct {
    char *user;
    char **truth;
    size_t n, cap;
} truth_t;

static int has_str(char **v, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return 1;
    return 0;
}

static void score(const reco_model_t *m, const reco_sim_t *recs, size_t nrec, const truth_t *t,
                  double *hr, double *ndcg) {
    double dcg = 0, idcg = 0;
    int hit = 0;
    for (size_t i = 0; i < nrec && i < 10; i++)
        if (has_str(t->truth, t->n, reco_model_item_name(m, recs[i].item)))
            hit = 1, dcg += 1 / log2((double)i + 2);
    for (size_t i = 0; i < t->n && i < 10; i++)
        idcg += 1 / log2((double)i + 2);
    *hr += hit;
    *ndcg += idcg > 0 ? dcg / idcg : 0;
}

int reco_eval_run(reco_eval_data_t *d, const reco_params_t *p, int algo, int64_t train_until,
                  int64_t test_until, reco_eval_result_t *res) {
    memset(res, 0, sizeof(*res));
    if (d->n > 1)
        shop_sort(d->v, d->n, sizeof(*d->v), ev_cmp);
    reco_unit_t *u = reco_unit_new('o', 0);
    reco_dict_t buyers; /* "user\x1fitem" seen in training */
    reco_dict_init(&buyers, sizeof(int));
    reco_dict_t truth; /* user -> truth_t */
    reco_dict_init(&truth, sizeof(truth_t));
    for (size_t i = 0; i < d->n; i++) {
        const ev_t *e = &d->v[i];
        char key[2 * RECO_MAX_ID + 4];
        snprintf(key, sizeof(key), "%s\x1f%s", e->user, e->item);
        if (e->at < train_until) {
            reco_unit_signal(u, e->user, e->session, e->item, e->w, e->at, e->purchase);
            if (e->purchase)
                reco_dict_find(&buyers, key, 1);
            res->train_events++;
        } else if (e->purchase && (!test_until || e->at < test_until) &&
                   reco_dict_find(&u->users, e->user, 0) >= 0 &&
                   reco_dict_find(&buyers, key, 0) < 0) {
            truth_t *t = reco_dict_val(&truth, (size_t)reco_dict_find(&truth, e->user, 1));
            if (!has_str(t->truth, t->n, e->item)) {
                if (t->n == t->cap) {
                    t->cap = t->cap ? t->cap * 2 : 8;
                    t->truth = shop_xrealloc(t->truth, t->cap * sizeof(char *));
                }
                t->truth[t->n++] = e->item;
            }
            res->test_events++;
        }
    }
    reco_model_t *m = reco_model_new(p);
    reco_model_add_unit(m, u);
    reco_model_build(m);
    /* popularity baseline: distinct training buyers per item */
    size_t ni = reco_model_items(m);
    reco_sim_t *pop = shop_xcalloc(ni + 1, sizeof(*pop));
    for (size_t i = 0; i < ni; i++)
        pop[i].item = (uint32_t)i;
    for (size_t i = 0; i < buyers.n; i++) {
        const char *sep = strchr(buyers.keys[i], '\x1f');
        pop[reco_model_item_id(m, sep + 1)].score += 1;
    }
    size_t np = reco_model_rank_static(m, pop, ni);
    reco_sim_t recs[10];
    for (size_t i = 0; i < truth.n; i++) {
        truth_t *t = reco_dict_val(&truth, i);
        reco_history_t h = {0};
        reco_user_t *us = *(reco_user_t **)reco_dict_val(
            &u->users, (size_t)reco_dict_find(&u->users, truth.keys[i], 0));
        reco_history_add(&h, m, u, us);
        size_t nr = reco_model_rank(m, &h, algo, recs, 10);
        score(m, recs, nr, t, &res->hr, &res->ndcg);
        size_t k = 0;
        for (size_t j = 0; j < np && k < 10; j++) /* excluding what the user bought */
            if (!reco_history_bought(&h, pop[j].item))
                recs[k++] = pop[j];
        score(m, recs, k, t, &res->pop_hr, &res->pop_ndcg);
        reco_history_release(&h);
        free(t->truth);
        res->users++;
    }
    if (res->users) {
        res->hr /= (double)res->users;
        res->ndcg /= (double)res->users;
        res->pop_hr /= (double)res->users;
        res->pop_ndcg /= (double)res->users;
    }
    res->items = ni;
    free(pop);
    reco_model_destroy(m);
    reco_dict_release(&truth);
    reco_dict_release(&buyers);
    reco_unit_destroy(u);
    return SHOP_OK;
}
