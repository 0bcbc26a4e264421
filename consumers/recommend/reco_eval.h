/* reco_eval.h: offline evaluation of the recommendation model (hit rate@10, nDCG@10 against a
 * popularity baseline), shared by `shopstream reco eval` and tests/eval/eval_reco.c. */
#ifndef SHOP_RECO_EVAL_H
#define SHOP_RECO_EVAL_H

#include "reco.h"

typedef struct reco_eval_data reco_eval_data_t;

typedef struct reco_eval_result {
    double hr, ndcg, pop_hr, pop_ndcg;
    size_t users, items, train_events, test_events;
} reco_eval_result_t;

reco_eval_data_t *reco_eval_data_new(void);
void reco_eval_data_destroy(reco_eval_data_t *d);
/* One signal; strings are copied. */
void reco_eval_data_add(reco_eval_data_t *d, int64_t at, const char *user, const char *session,
                        const char *item, double w, int purchase);
/* Every *.csv of `dir` (UCI Online Retail columns), in name order. */
int reco_eval_load_retail(reco_eval_data_t *d, const char *dir, char *errstr, size_t errstr_size);
/* JSON lines of flat events (views, carts, wishlists, orders) from `path` ("-" for stdin). */
int reco_eval_load_jsonl(reco_eval_data_t *d, const char *path, char *errstr, size_t errstr_size);
/* Trains on events before train_until, tests on purchases in [train_until, test_until) (0: no
 * end) of users with training history. */
int reco_eval_run(reco_eval_data_t *d, const reco_params_t *p, int algo, int64_t train_until,
                  int64_t test_until, reco_eval_result_t *res);

#endif
