/* test_generate_stream.c: the synthetic shop stream: byte-identical for a seed, every line accepted
 * by the codec, time order, funnel sanity, order lifecycles, fraud labels, search content. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "commands.h"
#include "generate.h"
#include "shop_codec.h"

#define NEVENTS 20000

typedef struct {
    char path[64];
    char *data;
    size_t len;
} stream_t;

static char *read_all(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
    s[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return s;
}

/* Runs `shopstream generate` with the given extra arguments into a temporary file. */
static int generate(stream_t *st, const char *seed, const char *x1, const char *x2) {
    snprintf(st->path, sizeof(st->path), "/tmp/test_gen_XXXXXX");
    int fd = mkstemp(st->path);
    assert_true(fd >= 0);
    close(fd);
    char a[][32] = {"generate", "--events",     "20000", "--users", "2000", "--products",
                    "300",      "--fraud-rate", "0.05",  "--seed",  "",     "--out",
                    ""};
    char *argv[20];
    int argc = 0;
    snprintf(a[10], sizeof(a[10]), "%s", seed);
    for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
        argv[argc++] = a[i];
    argv[argc - 1] = st->path;
    char e1[64] = "", e2[64] = "";
    if (x1)
        snprintf(e1, sizeof(e1), "%s", x1), argv[argc++] = e1;
    if (x2)
        snprintf(e2, sizeof(e2), "%s", x2), argv[argc++] = e2;
    argv[argc] = NULL;
    FILE *err = tmpfile();
    fflush(stderr);
    int save = dup(2);
    dup2(fileno(err), 2); /* the summary */
    int rc = shop_cmd_generate(argc, argv);
    fflush(stderr);
    dup2(save, 2);
    close(save);
    fclose(err);
    if (!rc)
        st->data = read_all(st->path, &st->len);
    unlink(st->path);
    return rc;
}

static void test_deterministic(void **state) {
    (void)state;
    stream_t a = {0}, b = {0}, c = {0}, d = {0};
    assert_int_equal(generate(&a, "42", NULL, NULL), 0);
    assert_int_equal(generate(&b, "42", NULL, NULL), 0);
    assert_int_equal(generate(&c, "43", NULL, NULL), 0);
    assert_int_equal(generate(&d, "42", "--start", "2026-12-24T09:00:00Z"), 0);
    assert_true(a.len > 1000000);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(a.len != c.len || memcmp(a.data, c.data, a.len) != 0);
    assert_non_null(strstr(d.data, "\"occurred_at\":1798102800000,")); /* 2026-12-24T09:00:00Z */
    assert_null(strstr(a.data, "\"occurred_at\":1798102800000,"));
    /* the library and the command write the same bytes */
    shop_gen_conf_t conf;
    shop_gen_conf_init(&conf);
    conf.events = NEVENTS, conf.seed = 42, conf.users = 2000, conf.products = 300,
    conf.fraud_rate = 0.05;
    char err[256];
    shop_gen_t *g = shop_gen_new(&conf, err, sizeof(err));
    assert_non_null(g);
    shop_buf_t buf;
    shop_buf_init(&buf);
    int n = 0;
    while (shop_gen_next(g, &buf, NULL, NULL))
        n++;
    assert_int_equal(n, NEVENTS);
    assert_int_equal(buf.len, a.len);
    assert_memory_equal(buf.buf, a.data, a.len);
    shop_buf_release(&buf);
    shop_gen_destroy(g);
    free(a.data), free(b.data), free(c.data), free(d.data);
}

/* ---- one pass over a stream, collecting what the checks below need ---- */

typedef struct {
    int lines, by_type[SHOP_EV__COUNT], fraud_cb[SHOP_FRAUD__COUNT];
    int lifecycle_errors, chargeback_unpaid, foreign_ato, card_testers_failing;
    int sellouts, restocks, zero_to_zero;
    char **ids;
    json_t *placed, *paid, *shipped, *failed_users, *korean;
} scan_t;

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void scan_orders(scan_t *s, json_t *o, shop_event_kind_t k) {
    const char *oid = str(o, "order_id");
    if (k == SHOP_EV_ORDER_PLACED)
        json_object_set(s->placed, oid, o);
    else if (!json_object_get(s->placed, oid))
        s->lifecycle_errors++; /* nothing before its order */
    if (k == SHOP_EV_ORDER_PAID)
        json_object_set_new(s->paid, oid, json_true());
    if (k == SHOP_EV_ORDER_SHIPPED)
        json_object_set_new(s->shipped, oid, json_true());
    if (k == SHOP_EV_ORDER_DELIVERED && !json_object_get(s->shipped, oid))
        s->lifecycle_errors++;
    if (k == SHOP_EV_ORDER_SHIPPED && !json_object_get(s->paid, oid))
        s->lifecycle_errors++;
    if (k == SHOP_EV_ORDER_PAYMENT_FAILED)
        json_object_set_new(s->failed_users, str(o, "user_id"), json_true());
    if (k != SHOP_EV_ORDER_CHARGEBACK)
        return;
    if (!json_object_get(s->paid, oid))
        s->chargeback_unpaid++;
    const char *reason = str(o, "reason");
    for (int f = 1; f < SHOP_FRAUD__COUNT; f++) {
        char want[64];
        snprintf(want, sizeof(want), "fraud_%s", shop_fraud_kind_name((shop_fraud_kind_t)f));
        if (strcmp(reason, want))
            continue;
        s->fraud_cb[f]++;
        json_t *placed = json_object_get(s->placed, oid);
        const char *cc = str(placed, "country");
        if (f == SHOP_FRAUD_ACCOUNT_TAKEOVER && strcmp(cc, "KR") && strcmp(cc, "US") &&
            strcmp(cc, "JP") && strcmp(cc, "SG") && strcmp(cc, "CA"))
            s->foreign_ato++;
        if (f == SHOP_FRAUD_CARD_TESTING && json_object_get(s->failed_users, str(o, "user_id")))
            s->card_testers_failing++;
    }
}

static int by_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan(scan_t *s, char *data, shop_codec_t *codec) {
    memset(s, 0, sizeof(*s));
    s->placed = json_object(), s->paid = json_object(), s->shipped = json_object();
    s->failed_users = json_object();
    s->ids = calloc(NEVENTS + 1, sizeof(char *));
    int64_t prev = 0;
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    char err[512];
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        if (!o)
            fail_msg("line %d: %s", s->lines + 1, jerr.text);
        if (shop_codec_encode_json(codec, o, SHOP_FRAMING_SINGLE_OBJECT, &enc, err, sizeof(err)))
            fail_msg("line %d rejected: %s\n%s", s->lines + 1, err, line);
        assert_true(enc.key && *enc.key);
        const char *id = str(o, "event_id");
        assert_int_equal(strlen(id), 36);
        assert_int_equal(id[14], '4');
        assert_non_null(strchr("89ab", id[19]));
        assert_true(s->lines < NEVENTS);
        s->ids[s->lines] = strdup(id);
        json_t *t = json_object_get(o, "occurred_at");
        assert_true(json_is_integer(t)); /* epoch millis, as decode prints them */
        int64_t at = json_integer_value(t);
        assert_true(at >= prev); /* event time never goes backwards */
        prev = at;
        shop_event_kind_t k = shop_event_kind_from_name(str(o, "type"));
        assert_int_not_equal(k, SHOP_EV_UNKNOWN);
        s->by_type[k]++;
        if (k >= SHOP_EV_ORDER_PLACED && k <= SHOP_EV_ORDER_DELIVERED)
            scan_orders(s, o, k);
        json_t *prev = json_object_get(o, "previous_quantity");
        if (k == SHOP_EV_INVENTORY_STOCK_LEVEL && prev) {
            json_int_t q = json_integer_value(json_object_get(o, "quantity"));
            json_int_t p = json_integer_value(prev);
            s->sellouts += q == 0 && p > 0;
            s->restocks += q > 0 && p == 0;
            s->zero_to_zero += q == 0 && p == 0;
        }
        s->lines++;
        json_decref(o);
    }
    shop_encoded_release(&enc);
    qsort(s->ids, (size_t)s->lines, sizeof(char *), by_str);
}

static void scan_release(scan_t *s) {
    for (int i = 0; i < s->lines; i++)
        free(s->ids[i]);
    free(s->ids);
    json_decref(s->placed), json_decref(s->paid), json_decref(s->shipped),
        json_decref(s->failed_users);
}

static void test_stream_content(void **state) {
    (void)state;
    stream_t a = {0};
    assert_int_equal(generate(&a, "7", NULL, NULL), 0);
    char err[256];
    shop_codec_t *codec = shop_codec_new(NULL, err, sizeof(err));
    assert_non_null(codec);
    scan_t s;
    scan(&s, a.data, codec);
    assert_int_equal(s.lines, NEVENTS);
    for (int i = 1; i < s.lines; i++)
        assert_string_not_equal(s.ids[i - 1], s.ids[i]);
    /* every type shows up in 20000 events of this mix */
    for (int k = 1; k < SHOP_EV__COUNT; k++)
        if (!s.by_type[k])
            fail_msg("no %s events", shop_gen_type_name((shop_event_kind_t)k));
    assert_int_equal(s.by_type[SHOP_EV_CATALOG_PRODUCT_UPSERTED] >= 300, 1); /* the catalog first */
    /* funnel: views >= carts >= orders, and lifecycles in order */
    int views = s.by_type[SHOP_EV_USER_PRODUCT_VIEWED], carts = s.by_type[SHOP_EV_USER_CART_ADDED];
    int orders = s.by_type[SHOP_EV_ORDER_PLACED];
    assert_true(views > carts && carts > orders && orders > 0);
    assert_true(views > 5 * orders);
    assert_true(s.by_type[SHOP_EV_ORDER_PAID] <= orders);
    assert_true(s.by_type[SHOP_EV_ORDER_DELIVERED] <= s.by_type[SHOP_EV_ORDER_SHIPPED]);
    assert_int_equal(s.lifecycle_errors, 0);
    assert_int_equal(s.chargeback_unpaid, 0);
    /* products sell out and come back; nothing is sold that was not there */
    assert_true(s.sellouts > 0);
    assert_true(s.restocks > 0);
    assert_int_equal(s.zero_to_zero, 0);
    /* fraud: every pattern labelled, with its telltale signs */
    for (int f = 1; f < SHOP_FRAUD__COUNT; f++)
        if (!s.fraud_cb[f])
            fail_msg("no chargeback labelled fraud_%s", shop_fraud_kind_name((shop_fraud_kind_t)f));
    assert_int_equal(s.foreign_ato, s.fraud_cb[SHOP_FRAUD_ACCOUNT_TAKEOVER]);
    assert_int_equal(s.card_testers_failing, s.fraud_cb[SHOP_FRAUD_CARD_TESTING]);
    scan_release(&s);
    shop_codec_destroy(codec);
    free(a.data);
}

static void test_search_content(void **state) {
    (void)state;
    char out[128];
    shop_gen_hangul_to_qwerty("빨간색 선글라스", out, sizeof(out));
    assert_string_equal(out, "Qkfrkstor tjsrmffktm");
    shop_gen_conf_t conf;
    shop_gen_conf_init(&conf);
    conf.events = 200000;
    char err[256];
    shop_gen_t *g = shop_gen_new(&conf, err, sizeof(err));
    assert_non_null(g);
    shop_buf_t buf;
    shop_buf_init(&buf);
    int red_sunglasses = 0, zero = 0, korean = 0, suggestions = 0, typed_english = 0;
    shop_event_kind_t kind;
    while (shop_gen_next(g, &buf, &kind, NULL)) {
        if (kind == SHOP_EV_SEARCH_QUERY) {
            red_sunglasses += strstr(buf.buf, "\"query\":\"빨간색 선글라스\"") != NULL;
            zero += strstr(buf.buf, "\"result_count\":0,") != NULL ||
                    strstr(buf.buf, "\"result_count\":0}") != NULL;
            korean += strstr(buf.buf, "\"query\":\"\xEC") != NULL ||
                      strstr(buf.buf, "\"query\":\"\xEB") != NULL;
            typed_english += strstr(buf.buf, "\"query\":\"tjsrmffktm\"") != NULL;
        } else if (kind == SHOP_EV_SEARCH_SUGGESTION_CLICKED) {
            json_t *o = json_loads(buf.buf, 0, NULL);
            const char *p = json_string_value(json_object_get(o, "prefix"));
            const char *sug = json_string_value(json_object_get(o, "suggestion"));
            assert_true(p && sug && *p && strlen(p) <= strlen(sug) && strcmp(p, sug));
            int ascii = 1;
            for (const char *c = p; *c; c++)
                ascii &= (unsigned char)*c < 0x80;
            if (ascii)
                assert_memory_equal(p, sug, strlen(p)); /* no IME in between: a true prefix */
            suggestions++;
            json_decref(o);
        }
        shop_buf_reset(&buf);
    }
    assert_true(red_sunglasses > 0);
    assert_true(zero > 0);
    assert_true(korean > 1000);
    assert_true(suggestions > 1000);
    (void)typed_english;
    shop_buf_release(&buf);
    shop_gen_destroy(g);
}

static void test_bad_arguments(void **state) {
    (void)state;
    char a0[] = "generate", a1[] = "--rate", a2[] = "0", b1[] = "--events", b2[] = "lots",
         c1[] = "--frobnicate";
    char *argv1[] = {a0, a1, a2, NULL}, *argv2[] = {a0, b1, b2, NULL}, *argv3[] = {a0, c1, NULL};
    FILE *err = tmpfile();
    int save = dup(2);
    dup2(fileno(err), 2);
    int r1 = shop_cmd_generate(3, argv1), r2 = shop_cmd_generate(3, argv2),
        r3 = shop_cmd_generate(2, argv3);
    fflush(stderr);
    dup2(save, 2);
    close(save);
    fclose(err);
    assert_int_equal(r1, 2);
    assert_int_equal(r2, 2);
    assert_int_equal(r3, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_stream_content),
        cmocka_unit_test(test_search_content),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
