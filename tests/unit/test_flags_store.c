/* test_flags_store.c: the CLI's short form of a flag (shop_flag_feature_build) through the
 * Unleash evaluator: a 50/50 A/B split is stable per user and near half, a 0% rollout is off,
 * bad input is refused. (Storage and publishing run against the stack in test_reco.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "flag_store.h"
#include "shop.h"

static shop_flags_t *load(json_t *feature) {
    char err[256];
    json_t *state = json_pack("{s[o]}", "features", feature);
    shop_flags_t *f = shop_flags_new(state, err, sizeof(err));
    json_decref(state);
    if (!f)
        fail_msg("%s", err);
    return f;
}

static void test_ab_split(void **state) {
    (void)state;
    char err[256];
    json_t *feat =
        shop_flag_feature_build("reco.algorithm", 1, -1, "blend:50,cosine:50", err, sizeof(err));
    assert_non_null(feat);
    shop_flags_t *f = load(feat);
    int cosine = 0;
    char user[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(user, sizeof(user), "u-%06d", i);
        shop_flag_context_t ctx = {.user_id = user};
        shop_flag_variant_t v = shop_flags_get_variant(f, "reco.algorithm", &ctx);
        shop_flag_variant_t again = shop_flags_get_variant(f, "reco.algorithm", &ctx);
        assert_true(v.enabled);
        assert_string_equal(v.name, again.name); /* sticky */
        cosine += !strcmp(v.name, "cosine");
    }
    printf("cosine for %d of 2000 users\n", cosine);
    assert_true(cosine > 900 && cosine < 1100);
    shop_flags_destroy(f);
}

static void test_rollout_and_disabled(void **state) {
    (void)state;
    char err[256];
    shop_flag_context_t ctx = {.user_id = "u-1"};
    shop_flags_t *f = load(shop_flag_feature_build("x", 1, 0, NULL, err, sizeof(err)));
    assert_false(shop_flags_is_enabled(f, "x", &ctx));
    shop_flags_destroy(f);
    f = load(shop_flag_feature_build("x", 1, 100, "a:1", err, sizeof(err)));
    assert_true(shop_flags_is_enabled(f, "x", &ctx));
    assert_string_equal(shop_flags_get_variant(f, "x", &ctx).name, "a");
    shop_flags_destroy(f);
    f = load(shop_flag_feature_build("x", 0, -1, "a:1,b:1", err, sizeof(err)));
    assert_false(shop_flags_is_enabled(f, "x", &ctx));
    assert_string_equal(shop_flags_get_variant(f, "x", &ctx).name, "disabled");
    shop_flags_destroy(f);
}

static void test_bad_input(void **state) {
    (void)state;
    char err[256];
    assert_null(shop_flag_feature_build("", 1, -1, NULL, err, sizeof(err)));
    assert_null(shop_flag_feature_build("x", 1, 101, NULL, err, sizeof(err)));
    assert_null(shop_flag_feature_build("x", 1, -1, "a:0", err, sizeof(err)));
    assert_null(shop_flag_feature_build("x", 1, -1, ":5", err, sizeof(err)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ab_split),
        cmocka_unit_test(test_rollout_and_disabled),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
