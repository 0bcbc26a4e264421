/* test_iforest.c: Isolation Forest scores, determinism, c(n), model file round trip and rejection,
 * CSV parsing errors, ROC-AUC ties and the `shopstream fraud` command. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "eval.h"
#include "fraud_cli.h"
#include "iforest.h"
#include "shop.h"

#define NIN  2000
#define NOUT 6

static char tmpdir[64];

/* cmocka 1.1 has no assert_double_equal. */
#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), __FILE__, __LINE__)
static void assert_near_at(double a, double b, double eps, const char *file, int line) {
    if (!(fabs(a - b) <= eps)) {
        print_error("%.17g != %.17g (within %g)\n", a, b, eps);
        _fail(file, line);
    }
}

static const double outliers[NOUT][2] = {{6, 6}, {-7, 5}, {8, -8}, {0, 9}, {-6, -6}, {9, 0}};

/* n standard 2-D Gaussian points (Box-Muller) followed by the NOUT outliers. */
static double *gaussian(size_t n, uint64_t seed) {
    shop_rng_t r;
    shop_rng_seed(&r, seed);
    double *x = shop_xmalloc((n + NOUT) * 2 * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double u = ((double)(shop_rng_next(&r) >> 11) + 1.0) * 0x1p-53;
        double v = (double)(shop_rng_next(&r) >> 11) * 0x1p-53;
        x[2 * i] = sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
        x[2 * i + 1] = sqrt(-2.0 * log(u)) * sin(2.0 * M_PI * v);
    }
    memcpy(x + 2 * n, outliers, sizeof(outliers));
    return x;
}

static char *tmp_path(const char *name) {
    return shop_xasprintf("%s/%s", tmpdir, name);
}

static void test_c_values(void **state) {
    (void)state;
    const double gamma = 0.5772156649;
    assert_true(shop_iforest_c(0) == 0.0);
    assert_true(shop_iforest_c(1) == 0.0);
    /* c(n) = 2 H(n-1) - 2 (n-1) / n, H(i) = ln(i) + gamma (paper, section 2). */
    assert_near(shop_iforest_c(2), 2.0 * gamma - 1.0, 1e-12);
    assert_near(shop_iforest_c(10), 2.0 * (log(9.0) + gamma) - 1.8, 1e-12);
    assert_near(shop_iforest_c(256), 10.244770920116851, 1e-9);
    for (size_t n = 2; n < 5000; n++)
        assert_true(shop_iforest_c(n + 1) > shop_iforest_c(n));
}

static void test_outliers_score_higher(void **state) {
    (void)state;
    double *x = gaussian(NIN, 11);
    char err[256];
    shop_iforest_params_t p;
    shop_iforest_params_init(&p);
    p.seed = 7;
    shop_iforest_t *f = shop_iforest_train(x, NIN + NOUT, 2, &p, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(shop_iforest_dims(f), 2);
    assert_int_equal(shop_iforest_trees(f), 100);
    assert_int_equal(shop_iforest_sample(f), 256);
    double max_core = 0.0, sum_in = 0.0;
    for (size_t i = 0; i < NIN; i++) {
        double s = shop_iforest_score(f, x + 2 * i);
        assert_true(s > 0.0 && s <= 1.0);
        sum_in += s;
        if (hypot(x[2 * i], x[2 * i + 1]) < 1.5 && s > max_core)
            max_core = s;
    }
    const double origin[2] = {0, 0};
    assert_true(shop_iforest_score(f, origin) < 0.5);
    assert_true(sum_in / NIN < 0.5);
    for (size_t k = 0; k < NOUT; k++) {
        double s = shop_iforest_score(f, outliers[k]);
        assert_true(s > 0.6);
        assert_true(s > max_core);
        assert_near(s, exp2(-shop_iforest_path_length(f, outliers[k]) / shop_iforest_c(256)),
                    1e-12);
    }
    shop_iforest_destroy(f);
    free(x);
}

static void test_deterministic_per_seed(void **state) {
    (void)state;
    double *x = gaussian(500, 3);
    char err[256];
    shop_iforest_params_t p = {.trees = 50, .sample = 128, .seed = 42};
    shop_iforest_t *a = shop_iforest_train(x, 500, 2, &p, err, sizeof(err));
    shop_iforest_t *b = shop_iforest_train(x, 500, 2, &p, err, sizeof(err));
    p.seed = 43;
    shop_iforest_t *c = shop_iforest_train(x, 500, 2, &p, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    int differs = 0;
    for (size_t i = 0; i < 500 + NOUT; i++) {
        double sa = shop_iforest_score(a, x + 2 * i), sb = shop_iforest_score(b, x + 2 * i);
        assert_memory_equal(&sa, &sb, sizeof(double));
        differs |= sa != shop_iforest_score(c, x + 2 * i);
    }
    assert_true(differs);
    shop_iforest_destroy(a);
    shop_iforest_destroy(b);
    shop_iforest_destroy(c);
    /* sample above n: psi is n. */
    p.sample = 100000;
    shop_iforest_t *d = shop_iforest_train(x, 300, 2, &p, err, sizeof(err));
    assert_non_null(d);
    assert_int_equal(shop_iforest_sample(d), 300);
    shop_iforest_destroy(d);
    shop_iforest_destroy(NULL);
    free(x);
}

static void test_train_rejects(void **state) {
    (void)state;
    char err[256];
    double x[6] = {1, 2, 3, 4, 5, 6};
    assert_null(shop_iforest_train(x, 1, 2, NULL, err, sizeof(err)));
    assert_string_equal(err, "isolation forest needs at least 2 rows, got 1");
    assert_null(shop_iforest_train(x, 3, 0, NULL, err, sizeof(err)));
    shop_iforest_params_t p = {.trees = 0, .sample = 256, .seed = 1};
    assert_null(shop_iforest_train(x, 3, 2, &p, err, sizeof(err)));
    p.trees = 10;
    p.sample = 1;
    assert_null(shop_iforest_train(x, 3, 2, &p, err, sizeof(err)));
    x[3] = NAN;
    assert_null(shop_iforest_train(x, 3, 2, NULL, err, sizeof(err)));
    assert_string_equal(err, "row 1 feature 1 is not a finite number");
}

static shop_iforest_t *small_forest(void) {
    double *x = gaussian(400, 5);
    char err[256];
    shop_iforest_params_t p = {.trees = 20, .sample = 64, .seed = 9};
    shop_iforest_t *f = shop_iforest_train(x, 400 + NOUT, 2, &p, err, sizeof(err));
    free(x);
    assert_non_null(f);
    return f;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    unsigned char *b = shop_xmalloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, fp), *len);
    fclose(fp);
    return b;
}

static void spill(const char *path, const unsigned char *b, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, len, fp), len);
    fclose(fp);
}

static void test_save_load_round_trip(void **state) {
    (void)state;
    shop_iforest_t *f = small_forest();
    char err[256], *path = tmp_path("rt.model"), *again = tmp_path("rt2.model");
    assert_int_equal(shop_iforest_save(f, path, err, sizeof(err)), 0);
    shop_iforest_t *g = shop_iforest_load(path, err, sizeof(err));
    assert_non_null(g);
    assert_int_equal(shop_iforest_dims(g), 2);
    assert_int_equal(shop_iforest_trees(g), 20);
    assert_int_equal(shop_iforest_sample(g), 64);
    assert_int_equal(shop_iforest_seed(g), 9);
    for (double a = -10; a <= 10; a += 0.37)
        for (double b = -10; b <= 10; b += 0.41) {
            double row[2] = {a, b}, s1 = shop_iforest_score(f, row),
                   s2 = shop_iforest_score(g, row);
            assert_memory_equal(&s1, &s2, sizeof(double));
        }
    /* Saving the loaded model reproduces the file byte for byte. */
    assert_int_equal(shop_iforest_save(g, again, err, sizeof(err)), 0);
    size_t n1, n2;
    unsigned char *b1 = slurp(path, &n1), *b2 = slurp(again, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    assert_memory_equal(b1, "SHOPIFOR\1\0\0\0\2\0\0\0", 16);
    free(b1);
    free(b2);
    shop_iforest_destroy(f);
    shop_iforest_destroy(g);
    unlink(path);
    unlink(again);
    free(path);
    free(again);
}

static uint64_t fnv1a64(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void reseal(unsigned char *b, size_t len) {
    uint64_t h = fnv1a64(b, len - 8);
    for (int i = 0; i < 8; i++)
        b[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

/* Writes `b` to a file, expects the load to fail with `want` in the message. */
static void expect_rejected(const unsigned char *b, size_t len, const char *want) {
    char err[256], *path = tmp_path("bad.model");
    spill(path, b, len);
    err[0] = '\0';
    shop_iforest_t *f = shop_iforest_load(path, err, sizeof(err));
    if (f || !strstr(err, want))
        fail_msg("len %zu: expected \"%s\", got \"%s\"", len, want, err);
    assert_non_null(strstr(err, path));
    unlink(path);
    free(path);
}

static void test_corrupted_models_rejected(void **state) {
    (void)state;
    shop_iforest_t *f = small_forest();
    char err[256], *path = tmp_path("good.model");
    assert_int_equal(shop_iforest_save(f, path, err, sizeof(err)), 0);
    size_t len;
    unsigned char *b = slurp(path, &len), *c = shop_xmalloc(len + 16);

    assert_null(shop_iforest_load("/nonexistent/x.model", err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/x.model: No such file or directory");
    memcpy(c, b, len);
    c[0] = 'X';
    expect_rejected(c, len, "not an isolation forest model (bad magic)");
    expect_rejected((const unsigned char *)"hello, world\n", 13, "bad magic");
    memcpy(c, b, len);
    c[8] = 2;
    expect_rejected(c, len, "model file version 2 is not supported");
    size_t cuts[] = {0, 5, 8, 20, 31, 40, len / 2, len - 9, len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        expect_rejected(b, cuts[i], "truncated model file");
    memcpy(c, b, len);
    c[len / 2] ^= 0x10;
    expect_rejected(c, len, "corrupted model file (checksum mismatch)");
    memcpy(c, b, len);
    memcpy(c + len, "junk", 4);
    expect_rejected(c, len + 4, "trailing bytes");
    /* A valid checksum over a broken tree: the root's feature out of range. */
    size_t root = 32 + 4 * 20;
    memcpy(c, b, len);
    c[root] = 7;
    reseal(c, len);
    expect_rejected(c, len, "tree 0 is not a valid iTree");
    /* A child pointing back at its parent. */
    memcpy(c, b, len);
    memset(c + root + 4, 0, 4);
    reseal(c, len);
    expect_rejected(c, len, "not a valid iTree");
    free(b);
    free(c);
    unlink(path);
    free(path);
    shop_iforest_destroy(f);
}

static int parse(const char *text, int need_label, shop_fraud_data_t *d, char *err, size_t size) {
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(fp);
    int rc = shop_fraud_csv_read(fp, "t.csv", need_label, d, err, size);
    fclose(fp);
    return rc;
}

static void test_csv(void **state) {
    (void)state;
    shop_fraud_data_t d;
    shop_fraud_data_init(&d);
    char err[256];
    assert_int_equal(parse("a,b,label\n1,2,0\r\n3.5, -4e2 ,1\n\n", 1, &d, err, sizeof(err)), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.dims, 2);
    assert_true(d.x[2] == 3.5 && d.x[3] == -400.0);
    assert_int_equal(d.label[0], 0);
    assert_int_equal(d.label[1], 1);
    assert_int_equal(parse("a,b\n1,2\n", 0, &d, err, sizeof(err)), 0);
    assert_null(d.label);
    assert_int_equal(d.dims, 2);

    static const struct {
        const char *text, *err;
    } bad[] = {
        {"a,b,label\n1,2,0\n1,x,1\n", "t.csv:3: column 2 (b): \"x\" is not a number"},
        {"a,b,label\n1,,0\n", "t.csv:2: column 2 (b): \"\" is not a number"},
        {"a,b,label\n1,nan,0\n", "t.csv:2: column 2 (b): \"nan\" is not a number"},
        {"a,b,label\n1,2,2\n", "t.csv:2: column 3 (label): label must be 0 or 1, got \"2\""},
        {"a,b,label\n1,2,0.5\n", "t.csv:2: column 3 (label): label must be 0 or 1, got \"0.5\""},
        {"a,b,label\n1,2\n", "t.csv:2: 2 columns, the header has 3"},
        {"a,b,label\n1,2,0,4\n", "t.csv:2: more than 3 columns, the header has 3"},
        {"a,b,c\n1,2,0\n", "t.csv:1: the last column must be `label` (0/1), found \"c\""},
        {"", "t.csv: empty file, expected a header line"},
        {"a,label\n", "t.csv: no data rows"},
        {"label\n1\n", "t.csv:1: no feature columns"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i].text, 1, &d, err, sizeof(err)), SHOP_ERR_INVALID);
        assert_string_equal(err, bad[i].err);
        assert_null(d.x);
    }
    assert_int_equal(shop_fraud_csv_load("/nonexistent/a.csv", 1, &d, err, sizeof(err)),
                     SHOP_ERR_IO);
    assert_string_equal(err, "/nonexistent/a.csv: No such file or directory");
    shop_fraud_data_release(&d);
}

static void test_auc(void **state) {
    (void)state;
    const double s[] = {0.1, 0.4, 0.35, 0.8};
    const unsigned char y[] = {0, 0, 1, 1}, yr[] = {1, 1, 0, 0}, none[] = {0, 0, 0, 0};
    assert_near(shop_fraud_roc_auc(s, y, 4), 0.75, 1e-12);
    assert_near(shop_fraud_roc_auc(s, yr, 4), 0.25, 1e-12);
    assert_true(isnan(shop_fraud_roc_auc(s, none, 4)));
    const double tied[] = {1, 1, 1, 1}, ties[] = {1, 1, 2};
    assert_near(shop_fraud_roc_auc(tied, y, 4), 0.5, 1e-12);
    const unsigned char yt[] = {0, 1, 1};
    /* Positives ranked 1.5 (tied with the negative) and 3: U = 4.5 - 3 = 1.5 of 2. */
    assert_near(shop_fraud_roc_auc(ties, yt, 3), 0.75, 1e-12);
    const double perfect[] = {0.9, 0.2, 0.8, 0.1};
    const unsigned char yp[] = {1, 0, 1, 0};
    assert_near(shop_fraud_roc_auc(perfect, yp, 4), 1.0, 1e-12);
}

/* A labelled CSV of the Gaussian with its outliers (and a few more) marked 1. */
static char *write_csv(void) {
    char *path = tmp_path("g.csv");
    double *x = gaussian(NIN, 21);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "f0,f1,label\n");
    for (size_t i = 0; i < NIN + NOUT; i++)
        fprintf(fp, "%.17g,%.17g,%d\n", x[2 * i], x[2 * i + 1], i >= NIN);
    for (int k = 0; k < 30; k++)
        fprintf(fp, "%g,%g,1\n", 7.0 + k * 0.1, -5.0 - k * 0.2);
    fclose(fp);
    free(x);
    return path;
}

/* Runs shop_cmd_fraud with stdout captured into `out`. */
static int run_cli(char **argv, int argc, shop_buf_t *out) {
    char *cap = tmp_path("stdout.txt");
    fflush(stdout);
    int saved = dup(1);
    FILE *fp = fopen(cap, "w");
    assert_non_null(fp);
    dup2(fileno(fp), 1);
    int rc = shop_cmd_fraud(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(fp);
    size_t len;
    unsigned char *b = slurp(cap, &len);
    shop_buf_reset(out);
    shop_buf_append(out, b, len);
    shop_buf_append(out, "", 1);
    free(b);
    unlink(cap);
    free(cap);
    return rc;
}

static void test_eval_and_cli(void **state) {
    (void)state;
    char *csv = write_csv(), *model = tmp_path("g.model"), err[256];
    shop_fraud_data_t d;
    shop_fraud_data_init(&d);
    assert_int_equal(shop_fraud_csv_load(csv, 1, &d, err, sizeof(err)), 0);
    shop_iforest_params_t p;
    shop_iforest_params_init(&p);
    double auc[3];
    assert_int_equal(shop_fraud_eval_forest(&d, &p, 3, auc, err, sizeof(err)), 0);
    for (int r = 0; r < 3; r++)
        assert_true(auc[r] > 0.95);
    shop_fraud_data_release(&d);

    shop_buf_t out;
    shop_buf_init(&out);
    char a0[] = "fraud", ev[] = "eval-forest", tr[] = "train", runs[] = "--runs", three[] = "3",
         csvf[] = "--csv", outf[] = "--out", trees[] = "--trees", zero[] = "0",
         missing[] = "/nonexistent/g.csv";
    char *eval_argv[] = {a0, ev, csv, runs, three};
    assert_int_equal(run_cli(eval_argv, 5, &out), 0);
    const char *last = strstr(out.buf, "\nauc=");
    assert_non_null(last);
    assert_int_equal(strlen(last), strlen("\nauc=0.XXXX\n"));
    assert_non_null(strstr(out.buf, "run=3 seed=3 auc="));

    char *train_argv[] = {a0, tr, csvf, csv, outf, model};
    assert_int_equal(run_cli(train_argv, 6, &out), 0);
    shop_iforest_t *f = shop_iforest_load(model, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(shop_iforest_dims(f), 2);
    shop_iforest_destroy(f);

    char *missing_argv[] = {a0, ev, missing};
    assert_int_equal(run_cli(missing_argv, 3, &out), 1);
    char *bad_argv[] = {a0, ev, csv, trees, zero};
    assert_int_equal(run_cli(bad_argv, 5, &out), 2);
    char *no_out_argv[] = {a0, tr, csvf, csv};
    assert_int_equal(run_cli(no_out_argv, 4, &out), 2);
    char *unknown_argv[] = {a0, zero};
    assert_int_equal(run_cli(unknown_argv, 2, &out), 2);

    shop_buf_release(&out);
    unlink(csv);
    unlink(model);
    free(csv);
    free(model);
}

int main(void) {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_iforest.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_values),
        cmocka_unit_test(test_outliers_score_higher),
        cmocka_unit_test(test_deterministic_per_seed),
        cmocka_unit_test(test_train_rejects),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_corrupted_models_rejected),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_auc),
        cmocka_unit_test(test_eval_and_cli),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(tmpdir);
    return rc;
}
