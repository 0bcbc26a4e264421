/* test_flags_spec.c: runs every case of the Unleash client specification copied into
 * tests/data/unleash-client-spec and prints passed/total per file and overall. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flags.h"
#include "shop.h"

#define SPEC_DIR   SHOP_TEST_DATA "/unleash-client-spec/specifications"
#define SPEC_FILES 22 /* what index.json lists in the copied specification */
#define SPEC_CASES 279

/* A context built from a case's JSON; strings borrowed from that JSON. */
typedef struct {
    shop_flag_context_t ctx;
    shop_flag_prop_t props[32];
} spec_ctx_t;

static void spec_ctx_build(const json_t *j, spec_ctx_t *sc) {
    memset(sc, 0, sizeof(*sc));
    sc->ctx.user_id = json_string_value(json_object_get(j, "userId"));
    sc->ctx.session_id = json_string_value(json_object_get(j, "sessionId"));
    sc->ctx.remote_address = json_string_value(json_object_get(j, "remoteAddress"));
    sc->ctx.environment = json_string_value(json_object_get(j, "environment"));
    sc->ctx.app_name = json_string_value(json_object_get(j, "appName"));
    const char *t = json_string_value(json_object_get(j, "currentTime"));
    if (t)
        assert_int_equal(shop_parse_time_ms(t, &sc->ctx.current_time_ms), 0);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(j, "properties"), key, v) {
        assert_true(sc->ctx.n_properties < 32);
        shop_flag_prop_t *p = &sc->props[sc->ctx.n_properties++];
        p->name = key;
        p->value = json_string_value(v); /* null stays missing */
    }
    sc->ctx.properties = sc->props;
}

static int str_eq(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int check_toggle(const shop_flags_t *f, const json_t *tc) {
    spec_ctx_t sc;
    spec_ctx_build(json_object_get(tc, "context"), &sc);
    const char *name = json_string_value(json_object_get(tc, "toggleName"));
    int want = json_is_true(json_object_get(tc, "expectedResult"));
    int got = shop_flags_is_enabled(f, name, &sc.ctx);
    if (got != want)
        printf("  FAIL %s: %s (want %d, got %d)\n", name,
               json_string_value(json_object_get(tc, "description")), want, got);
    return got == want;
}

static int check_variant(const shop_flags_t *f, const json_t *tc) {
    spec_ctx_t sc;
    spec_ctx_build(json_object_get(tc, "context"), &sc);
    const char *name = json_string_value(json_object_get(tc, "toggleName"));
    const json_t *want = json_object_get(tc, "expectedResult");
    const json_t *payload = json_object_get(want, "payload");
    shop_flag_variant_t got = shop_flags_get_variant(f, name, &sc.ctx);
    int ok = str_eq(got.name, json_string_value(json_object_get(want, "name"))) &&
             got.enabled == json_is_true(json_object_get(want, "enabled")) &&
             got.feature_enabled == json_is_true(json_object_get(want, "feature_enabled")) &&
             str_eq(got.payload_type, json_string_value(json_object_get(payload, "type"))) &&
             str_eq(got.payload_value, json_string_value(json_object_get(payload, "value")));
    if (!ok)
        printf("  FAIL %s: %s (got %s enabled=%d feature_enabled=%d payload=%s)\n", name,
               json_string_value(json_object_get(tc, "description")), got.name, got.enabled,
               got.feature_enabled, got.payload_value ? got.payload_value : "-");
    return ok;
}

/* Runs one specification file; adds to *passed and *total. */
static void run_file(const char *file, int *passed, int *total) {
    char path[512], err[256] = "";
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/%s", SPEC_DIR, file);
    json_t *spec = json_load_file(path, 0, &jerr);
    if (!spec)
        fail_msg("%s: %s", path, jerr.text);
    shop_flags_t *f = shop_flags_new(json_object_get(spec, "state"), err, sizeof(err));
    if (!f)
        fail_msg("%s: %s", file, err);
    int p = 0, t = 0;
    size_t i;
    json_t *tc;
    json_array_foreach(json_object_get(spec, "tests"), i, tc) {
        p += check_toggle(f, tc);
        t++;
    }
    json_array_foreach(json_object_get(spec, "variantTests"), i, tc) {
        p += check_variant(f, tc);
        t++;
    }
    printf("unleash spec: %s %d/%d\n", file, p, t);
    *passed += p;
    *total += t;
    shop_flags_destroy(f);
    json_decref(spec);
}

static void test_spec_all_cases(void **state) {
    (void)state;
    json_error_t jerr;
    json_t *index = json_load_file(SPEC_DIR "/index.json", 0, &jerr);
    if (!index)
        fail_msg("index.json: %s", jerr.text);
    int passed = 0, total = 0;
    size_t i;
    json_t *name;
    json_array_foreach(index, i, name) {
        run_file(json_string_value(name), &passed, &total);
    }
    printf("unleash spec: %d/%d\n", passed, total);
    assert_int_equal(json_array_size(index), SPEC_FILES);
    json_decref(index);
    assert_int_equal(total, SPEC_CASES); /* a short read must not pass as success */
    assert_int_equal(passed, total);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_all_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
