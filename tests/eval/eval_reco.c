/* eval_reco.c: the recommendation model on the UCI Online Retail days in ../shared/data/retail
 * (train on days up to 2010-12-10, test on purchases of 12-11..12-15 of items each user had not
 * bought before): hit rate@10 must reach 1.3x the popularity baseline's and nDCG@10 must beat it.
 * Exits 77 (skipped) when the data set is absent, as in a fresh clone. Optional arguments:
 * DIR [blend|cosine]. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "reco_eval.h"

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : SHOP_SHARED_DATA "/retail";
    int algo = argc > 2 && !strcmp(argv[2], "cosine") ? RECO_ALGO_COSINE : RECO_ALGO_BLEND;
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
        printf("SKIP: %s is absent (the retail data set lives in ../shared/data)\n", dir);
        return 77;
    }
    char err[512];
    int64_t t0 = 0, t1 = 0;
    shop_parse_time_ms("2010-12-11T00:00:00Z", &t0);
    shop_parse_time_ms("2010-12-16T00:00:00Z", &t1);
    reco_eval_data_t *d = reco_eval_data_new();
    if (reco_eval_load_retail(d, dir, err, sizeof(err))) {
        fprintf(stderr, "eval_reco: %s\n", err);
        reco_eval_data_destroy(d);
        return 1;
    }
    reco_params_t p;
    reco_params_default(&p);
    reco_eval_result_t r;
    reco_eval_run(d, &p, algo, t0, t1, &r);
    reco_eval_data_destroy(d);
    double ratio = r.pop_hr > 0 ? r.hr / r.pop_hr : 0;
    printf("retail: %zu training purchases, %zu items, %zu users evaluated\n", r.train_events,
           r.items, r.users);
    printf("model %s: hit rate@10 %.4f nDCG@10 %.4f | popularity %.4f %.4f | ratio %.2f\n",
           algo == RECO_ALGO_COSINE ? "cosine" : "blend", r.hr, r.ndcg, r.pop_hr, r.pop_ndcg,
           ratio);
    printf("hr10=%.3f ndcg10=%.3f pop_hr10=%.3f pop_ndcg10=%.3f users=%zu\n", r.hr, r.ndcg,
           r.pop_hr, r.pop_ndcg, r.users);
    if (algo == RECO_ALGO_COSINE)
        return 0; /* the A/B baseline: reported, not held to the bar */
    int ok = r.users > 0 && ratio >= 1.3 && r.ndcg > r.pop_ndcg;
    printf("%s: hit rate@10 %.2fx popularity (need >= 1.30x), nDCG@10 %s popularity\n",
           ok ? "PASS" : "FAIL", ratio, r.ndcg > r.pop_ndcg ? "above" : "NOT above");
    return ok ? 0 : 1;
}
