/* reco_cli.c: `shopstream reco eval`: the offline evaluation over the retail CSVs or over JSON
 * lines of events (a `shopstream decode` of a replayed range, or `shopstream generate`). */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "reco_eval.h"

static void usage(void) {
    fprintf(
        stderr,
        "usage: shopstream reco eval (--retail DIR | --events FILE|-) --train-until TIME\n"
        "                            [--test-until TIME] [--algo blend|cosine] [-k K]\n"
        "                            [--hist-weight W] [--pop-halflife DAYS] [--pop-blend W]\n"
        "                            [--user-halflife DAYS]\n"
        "  TIME is RFC 3339 or a date (YYYY-MM-DD: the end of that day, UTC). The model trains\n"
        "  on every event before TIME and is tested on each user's later purchases of items\n"
        "  they had not bought before; the last line reads\n"
        "  hr10=... ndcg10=... pop_hr10=... pop_ndcg10=... users=N\n");
}

/* RFC 3339, or YYYY-MM-DD meaning the end of that day. */
static int parse_until(const char *s, int64_t *out) {
    if (strlen(s) == 10) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        if (shop_parse_time_ms(buf, out))
            return -1;
        *out += 86400000;
        return 0;
    }
    return shop_parse_time_ms(s, out);
}

static double weight_of(const char *type, int *purchase) {
    *purchase = 0;
    if (!strcmp(type, "user.product_viewed"))
        return RECO_W_VIEW;
    if (!strcmp(type, "user.wishlist_added"))
        return RECO_W_WISHLIST;
    if (!strcmp(type, "user.cart_added"))
        return RECO_W_CART;
    if (!strcmp(type, "order.placed"))
        return *purchase = 1, RECO_W_PURCHASE;
    return 0;
}

int reco_eval_load_jsonl(reco_eval_data_t *d, const char *path, char *errstr, size_t errstr_size) {
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *user = json_string_value(json_object_get(o, "user_id"));
        const char *sess = json_string_value(json_object_get(o, "session_id"));
        json_t *at = json_object_get(o, "occurred_at");
        int64_t t = 0;
        if (json_is_integer(at))
            t = json_integer_value(at);
        else if (json_is_string(at))
            shop_parse_time_ms(json_string_value(at), &t);
        int purchase = 0;
        double w = type && user && t ? weight_of(type, &purchase) : 0;
        if (w > 0 && purchase) {
            const char *oid = json_string_value(json_object_get(o, "order_id"));
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(o, "items"), i, it) {
                const char *p = json_string_value(json_object_get(it, "product_id"));
                if (p)
                    reco_eval_data_add(d, t, user, sess ? sess : oid, p, w, 1);
            }
        } else if (w > 0) {
            const char *p = json_string_value(json_object_get(o, "product_id"));
            if (p)
                reco_eval_data_add(d, t, user, sess, p, w, 0);
        }
        json_decref(o);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return SHOP_OK;
}

int shop_cmd_reco(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "eval")) {
        usage();
        return 2;
    }
    const char *retail = NULL, *events = NULL, *until = NULL, *test_until = NULL;
    int algo = RECO_ALGO_BLEND;
    reco_params_t p;
    reco_params_default(&p);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--retail"))
            retail = v;
        else if (!strcmp(a, "--events"))
            events = v;
        else if (!strcmp(a, "--train-until"))
            until = v;
        else if (!strcmp(a, "--test-until"))
            test_until = v;
        else if (!strcmp(a, "--algo") && (!strcmp(v, "blend") || !strcmp(v, "cosine")))
            algo = !strcmp(v, "cosine") ? RECO_ALGO_COSINE : RECO_ALGO_BLEND;
        else if (!strcmp(a, "-k"))
            p.k = atoi(v);
        else if (!strcmp(a, "--hist-weight"))
            p.hist_weight = strtod(v, NULL);
        else if (!strcmp(a, "--pop-halflife"))
            p.pop_halflife_d = strtod(v, NULL);
        else if (!strcmp(a, "--pop-blend"))
            p.pop_blend = strtod(v, NULL);
        else if (!strcmp(a, "--user-halflife"))
            p.user_halflife_d = strtod(v, NULL);
        else {
            fprintf(stderr, "shopstream reco eval: unexpected argument \"%s\"\n", a);
            usage();
            return 2;
        }
    }
    int64_t t0 = 0, t1 = 0;
    if (!until || (!retail == !events) || parse_until(until, &t0) ||
        (test_until && parse_until(test_until, &t1)) || p.k < 1) {
        usage();
        return 2;
    }
    char err[512];
    reco_eval_data_t *d = reco_eval_data_new();
    int rc = retail ? reco_eval_load_retail(d, retail, err, sizeof(err))
                    : reco_eval_load_jsonl(d, events, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "shopstream reco eval: %s\n", err);
        reco_eval_data_destroy(d);
        return 1;
    }
    reco_eval_result_t r;
    reco_eval_run(d, &p, algo, t0, t1, &r);
    reco_eval_data_destroy(d);
    fprintf(stderr, "train events=%zu items=%zu test purchases=%zu (new items of known users)\n",
            r.train_events, r.items, r.test_events);
    printf("model %s: hit rate@10 %.4f, nDCG@10 %.4f; popularity: %.4f, %.4f (%.2fx hit rate)\n",
           algo == RECO_ALGO_BLEND ? "blend" : "cosine", r.hr, r.ndcg, r.pop_hr, r.pop_ndcg,
           r.pop_hr > 0 ? r.hr / r.pop_hr : 0);
    printf("hr10=%.3f ndcg10=%.3f pop_hr10=%.3f pop_ndcg10=%.3f users=%zu\n", r.hr, r.ndcg,
           r.pop_hr, r.pop_ndcg, r.users);
    return r.users ? 0 : 1;
}
