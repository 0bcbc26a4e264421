/* test_reco.c: the recommendation model without servers: incremental co-occurrence (repeats add
 * nothing, user interleaving does not matter, partitions add up), the state's text form, ranking
 * (bought items excluded, trending for new users, content fallback for new items, tier boost,
 * the two A/B algorithms) and the offline evaluation's figures on a tiny known case. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reco.h"
#include "reco_eval.h"

#define DAY 86400000LL
#define T0  (1700000000000LL)

static const reco_pair_t *pair(reco_unit_t *u, const char *key) {
    long i = reco_dict_find(&u->pairs, key, 0);
    return i < 0 ? NULL : reco_dict_val(&u->pairs, (size_t)i);
}

static void test_repeat_adds_nothing(void **state) {
    (void)state;
    reco_unit_t *u = reco_unit_new('u', 0);
    reco_unit_signal(u, "u1", "s1", "a", RECO_W_VIEW, T0, 0);
    reco_unit_signal(u, "u1", "s1", "b", RECO_W_VIEW, T0 + 1, 0);
    const reco_pair_t *p = pair(u, "a\x1f"
                                   "b");
    assert_non_null(p);
    assert_true(p->s == 1.0 && p->h == 1.0);
    for (int i = 0; i < 5; i++) /* the same views again: no new credit */
        reco_unit_signal(u, "u1", "s1", "b", RECO_W_VIEW, T0 + 2 + i, 0);
    p = pair(u, "a\x1f"
                "b");
    assert_true(p->s == 1.0 && p->h == 1.0);
    /* a stronger signal raises the credit to min(w_a, w_b) = 1: still 1 */
    reco_unit_signal(u, "u1", "s1", "b", RECO_W_CART, T0 + 10, 0);
    assert_true(pair(u, "a\x1f"
                        "b")
                    ->s == 1.0);
    /* a raises to purchase: min(5, 3) = 3 */
    reco_unit_signal(u, "u1", "s1", "a", RECO_W_PURCHASE, T0 + 11, 1);
    assert_true(pair(u, "a\x1f"
                        "b")
                    ->s == 3.0);
    /* a new session: no session credit with the old one, history credit only */
    reco_unit_signal(u, "u1", "s2", "c", RECO_W_VIEW, T0 + 12, 0);
    assert_true(pair(u, "a\x1f"
                        "c")
                        ->s == 0.0 &&
                pair(u, "a\x1f"
                        "c")
                        ->h == 1.0);
    reco_unit_destroy(u);
}

typedef struct {
    const char *user, *session, *item;
    double w;
    int64_t at;
} sig_t;

static const sig_t sigs[] = {
    {"u1", "s1", "a", RECO_W_VIEW, T0},         {"u2", "s9", "a", RECO_W_CART, T0 + 1},
    {"u1", "s1", "b", RECO_W_CART, T0 + 2},     {"u2", "s9", "c", RECO_W_VIEW, T0 + 3},
    {"u1", "s1", "c", RECO_W_PURCHASE, T0 + 4}, {"u2", "s9", "b", RECO_W_PURCHASE, T0 + 5},
    {"u3", "s5", "b", RECO_W_VIEW, T0 + 6},     {"u3", "s5", "d", RECO_W_VIEW, T0 + 7},
};
#define NSIGS (sizeof(sigs) / sizeof(sigs[0]))

static void apply(reco_unit_t *u, const sig_t *s) {
    reco_unit_signal(u, s->user, s->session, s->item, s->w, s->at, s->w == RECO_W_PURCHASE);
}

/* Per-user order is kept; users interleave differently: the same sums. */
static void test_interleaving(void **state) {
    (void)state;
    reco_unit_t *x = reco_unit_new('u', 0), *y = reco_unit_new('u', 0);
    for (size_t i = 0; i < NSIGS; i++)
        apply(x, &sigs[i]);
    const char *order[] = {"u3", "u2", "u1"};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < NSIGS; i++)
            if (!strcmp(sigs[i].user, order[k]))
                apply(y, &sigs[i]);
    assert_int_equal(x->pairs.n, y->pairs.n);
    for (size_t i = 0; i < x->pairs.n; i++) {
        const reco_pair_t *a = reco_dict_val(&x->pairs, i), *b = pair(y, x->pairs.keys[i]);
        assert_non_null(b);
        assert_true(a->s == b->s && a->h == b->h);
    }
    reco_unit_destroy(x);
    reco_unit_destroy(y);
}

/* Users split over two units give the model one unit gives. */
static void test_units_add_up(void **state) {
    (void)state;
    reco_unit_t *one = reco_unit_new('u', 0), *p0 = reco_unit_new('u', 0),
                *p1 = reco_unit_new('u', 1);
    for (size_t i = 0; i < NSIGS; i++) {
        apply(one, &sigs[i]);
        apply(!strcmp(sigs[i].user, "u2") ? p1 : p0, &sigs[i]);
    }
    reco_params_t p;
    reco_params_default(&p);
    reco_model_t *a = reco_model_new(&p), *b = reco_model_new(&p);
    reco_model_add_unit(a, one);
    reco_model_add_unit(b, p0);
    reco_model_add_unit(b, p1);
    reco_model_build(a);
    reco_model_build(b);
    reco_sim_t sa[10], sb[10];
    const char *items[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        size_t na = reco_model_similar(a, (uint32_t)reco_model_item_id(a, items[i]), sa, 10);
        size_t nb = reco_model_similar(b, (uint32_t)reco_model_item_id(b, items[i]), sb, 10);
        assert_int_equal(na, nb);
        for (size_t k = 0; k < na; k++) {
            assert_string_equal(reco_model_item_name(a, sa[k].item),
                                reco_model_item_name(b, sb[k].item));
            assert_true(fabsf(sa[k].score - sb[k].score) < 1e-6f);
        }
    }
    reco_model_destroy(a);
    reco_model_destroy(b);
    reco_unit_destroy(one);
    reco_unit_destroy(p0);
    reco_unit_destroy(p1);
}

static void test_user_text_roundtrip(void **state) {
    (void)state;
    reco_unit_t *u = reco_unit_new('o', 3), *v = reco_unit_new('o', 3);
    for (size_t i = 0; i < NSIGS; i++)
        apply(u, &sigs[i]);
    reco_unit_tier(u, "u1", reco_tier_rank("Gold"), T0 + 9);
    shop_buf_t a, b;
    shop_buf_init(&a);
    shop_buf_init(&b);
    const reco_user_t *us =
        *(reco_user_t **)reco_dict_val(&u->users, (size_t)reco_dict_find(&u->users, "u1", 0));
    reco_user_format(u, us, &a);
    assert_int_equal(reco_user_parse(v, "u1", a.buf), 0);
    const reco_user_t *vs =
        *(reco_user_t **)reco_dict_val(&v->users, (size_t)reco_dict_find(&v->users, "u1", 0));
    reco_user_format(v, vs, &b);
    assert_string_equal(a.buf, b.buf);
    assert_int_equal(vs->tier, 3);
    assert_int_equal(vs->nhist, 3);
    assert_int_equal(reco_user_parse(v, "u9", "garbage"), SHOP_ERR_INVALID);
    shop_buf_release(&a);
    shop_buf_release(&b);
    reco_unit_destroy(u);
    reco_unit_destroy(v);
}

static void test_history_bounded(void **state) {
    (void)state;
    reco_unit_t *u = reco_unit_new('u', 0);
    char item[16];
    for (int i = 0; i < 3 * RECO_HIST_MAX; i++) {
        snprintf(item, sizeof(item), "p%d", i);
        reco_unit_signal(u, "u1", "s1", item, RECO_W_VIEW, T0 + i, 0);
    }
    const reco_user_t *us = *(reco_user_t **)reco_dict_val(&u->users, 0);
    assert_int_equal(us->nhist, RECO_HIST_MAX);
    assert_int_equal(us->nsess, RECO_SESSION_MAX);
    for (int i = 0; i < us->nhist; i++) /* the oldest were evicted */
        assert_true(us->hist[i].at >= T0 + 2 * RECO_HIST_MAX);
    reco_unit_destroy(u);
}

/* A model: u1..u4 buy a with b; u5 buys c (trending, recent); catalog for a new item z. */
static reco_model_t *small_model(reco_unit_t *u) {
    char user[8];
    for (int i = 1; i <= 4; i++) {
        snprintf(user, sizeof(user), "u%d", i);
        reco_unit_signal(u, user, user, "a", RECO_W_PURCHASE, T0, 1);
        reco_unit_signal(u, user, user, "b", RECO_W_PURCHASE, T0, 1);
    }
    for (int i = 5; i <= 9; i++) {
        snprintf(user, sizeof(user), "u%d", i);
        reco_unit_signal(u, user, user, "c", RECO_W_PURCHASE, T0 + 3 * DAY, 1);
        reco_unit_signal(u, user, user, "e", RECO_W_PURCHASE, T0 + 3 * DAY, 1);
    }
    reco_unit_meta(u, "c", "mug", "Sora", 0, T0);
    reco_unit_meta(u, "e", "mug", "Sora", 1, T0);
    reco_unit_meta(u, "z", "mug", "Other", 0, T0);
    reco_params_t p;
    reco_params_default(&p);
    p.pop_blend = 0.1;
    reco_model_t *m = reco_model_new(&p);
    reco_model_add_unit(m, u);
    reco_model_build(m);
    return m;
}

static void test_rank(void **state) {
    (void)state;
    reco_unit_t *u = reco_unit_new('o', 0);
    reco_model_t *m = small_model(u);
    reco_unit_t *h = reco_unit_new('u', 0);
    reco_unit_signal(h, "x", "s", "a", RECO_W_PURCHASE, T0 + 4 * DAY, 1);
    reco_history_t hist = {0};
    reco_history_add(&hist, m, h, *(reco_user_t **)reco_dict_val(&h->users, 0));
    reco_sim_t out[10];
    size_t n = reco_model_rank(m, &hist, RECO_ALGO_BLEND, out, 10);
    assert_true(n >= 1);
    assert_string_equal(reco_model_item_name(m, out[0].item), "b"); /* bought with a */
    for (size_t i = 0; i < n; i++)                                  /* never what the user bought */
        assert_string_not_equal(reco_model_item_name(m, out[i].item), "a");
    /* cosine: b first as well, popularity fills after it */
    n = reco_model_rank(m, &hist, RECO_ALGO_COSINE, out, 10);
    assert_string_equal(reco_model_item_name(m, out[0].item), "b");
    /* a new user: the trending list (c and e are the recent ones) */
    reco_history_t none = {0};
    n = reco_model_rank(m, &none, RECO_ALGO_BLEND, out, 2);
    assert_int_equal(n, 2);
    assert_string_equal(reco_model_item_name(m, out[0].item), "c");
    /* a gold user: e (payable with points) overtakes c */
    none.tier = reco_tier_rank("gold");
    n = reco_model_rank(m, &none, RECO_ALGO_BLEND, out, 2);
    assert_string_equal(reco_model_item_name(m, out[0].item), "e");
    /* a new item without co-occurrence: its category's trending items */
    n = reco_model_similar(m, (uint32_t)reco_model_item_id(m, "z"), out, 10);
    assert_int_equal(n, 2);
    assert_string_equal(reco_model_item_name(m, out[0].item), "c");
    reco_history_release(&hist);
    reco_model_destroy(m);
    reco_unit_destroy(u);
    reco_unit_destroy(h);
}

/* Two users who bought a+b; a third bought a, then b in the test window. */
static void test_eval_figures(void **state) {
    (void)state;
    reco_eval_data_t *d = reco_eval_data_new();
    reco_eval_data_add(d, T0, "u1", "i1", "a", RECO_W_PURCHASE, 1);
    reco_eval_data_add(d, T0, "u1", "i1", "b", RECO_W_PURCHASE, 1);
    reco_eval_data_add(d, T0, "u2", "i2", "a", RECO_W_PURCHASE, 1);
    reco_eval_data_add(d, T0, "u2", "i2", "b", RECO_W_PURCHASE, 1);
    reco_eval_data_add(d, T0, "u3", "i3", "a", RECO_W_PURCHASE, 1);
    reco_eval_data_add(d, T0 + 2 * DAY, "u3", "i4", "b", RECO_W_PURCHASE, 1);
    reco_eval_data_add(d, T0 + 2 * DAY, "u3", "i4", "a", RECO_W_PURCHASE, 1); /* bought before */
    reco_eval_data_add(d, T0 + 2 * DAY, "u9", "i5", "a", RECO_W_PURCHASE, 1); /* no history */
    reco_params_t p;
    reco_params_default(&p);
    reco_eval_result_t r;
    assert_int_equal(reco_eval_run(d, &p, RECO_ALGO_BLEND, T0 + DAY, 0, &r), 0);
    assert_int_equal(r.users, 1);
    assert_int_equal(r.test_events, 1);
    assert_true(r.hr == 1.0 && r.ndcg == 1.0);
    assert_true(r.pop_hr == 1.0); /* b is the only item u3 has not bought */
    reco_eval_data_destroy(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeat_adds_nothing), cmocka_unit_test(test_interleaving),
        cmocka_unit_test(test_units_add_up),        cmocka_unit_test(test_user_text_roundtrip),
        cmocka_unit_test(test_history_bounded),     cmocka_unit_test(test_rank),
        cmocka_unit_test(test_eval_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
