/* test_codec_canonical.c: Parsing Canonical Form and CRC-64-AVRO against every case of Apache
 * Avro's schema-tests.txt, the embedded schema tables, and the fingerprint of a Java-written
 * single-object message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embedded.h"
#include "shop_codec.h"

static char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    shop_buf_t b;
    shop_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        shop_buf_append(&b, chunk, n);
    fclose(fp);
    if (len)
        *len = b.len;
    return b.buf ? b.buf : shop_xstrdup("");
}

typedef struct {
    char *input, *canonical, *fingerprint;
} spec_case_t;

/* schema-tests.txt: "<<INPUT text" or "<<INPUT" ... "INPUT", then "<<canonical text" and an
 * optional "<<fingerprint n"; lines starting with "//" are comments. */
static size_t parse_cases(char *text, spec_case_t *cases, size_t max) {
    size_t n = 0;
    spec_case_t *cur = NULL;
    shop_buf_t multi;
    int in_multi = 0;
    shop_buf_init(&multi);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (in_multi) {
            if (!strcmp(line, "INPUT")) {
                cur->input = shop_xstrdup(multi.buf ? multi.buf : "");
                in_multi = 0;
            } else {
                shop_buf_puts(&multi, line);
                shop_buf_puts(&multi, "\n");
            }
        } else if (!strncmp(line, "//", 2)) {
            continue;
        } else if (!strncmp(line, "<<INPUT", 7) && n < max) {
            cur = &cases[n++];
            memset(cur, 0, sizeof(*cur));
            if (line[7] == ' ') {
                cur->input = shop_xstrdup(line + 8);
            } else {
                in_multi = 1;
                shop_buf_reset(&multi);
            }
        } else if (cur && !strncmp(line, "<<canonical ", 12)) {
            cur->canonical = shop_xstrdup(line + 12);
        } else if (cur && !strncmp(line, "<<fingerprint ", 14)) {
            cur->fingerprint = shop_xstrdup(line + 14);
        }
    }
    shop_buf_release(&multi);
    return n;
}

static void test_schema_tests_file(void **state) {
    (void)state;
    char *text = slurp(SHOP_TEST_DATA "/avro/schema-tests.txt", NULL);
    assert_non_null(text);
    spec_case_t cases[64];
    size_t n = parse_cases(text, cases, 64);
    size_t pcf_ok = 0, fp_total = 0, fp_ok = 0;
    for (size_t i = 0; i < n; i++) {
        char err[256], *canonical = NULL;
        assert_non_null(cases[i].input);
        assert_non_null(cases[i].canonical);
        int r = shop_schema_canonical(cases[i].input, &canonical, err, sizeof(err));
        if (!r && !strcmp(canonical, cases[i].canonical))
            pcf_ok++;
        else
            printf("case %zu: canonical form mismatch: got %s (%s), want %s\n", i,
                   canonical ? canonical : "-", r ? err : "ok", cases[i].canonical);
        if (cases[i].fingerprint) {
            int64_t fp = 0;
            fp_total++;
            r = shop_schema_fingerprint(cases[i].input, &fp, err, sizeof(err));
            if (!r && fp == strtoll(cases[i].fingerprint, NULL, 10))
                fp_ok++;
            else
                printf("case %zu: fingerprint %lld, want %s\n", i, (long long)fp,
                       cases[i].fingerprint);
        }
        free(canonical);
        free(cases[i].input);
        free(cases[i].canonical);
        free(cases[i].fingerprint);
    }
    printf("schema-tests.txt: canonical form %zu/%zu passed, fingerprints %zu/%zu passed\n", pcf_ok,
           n, fp_ok, fp_total);
    free(text);
    assert_int_equal(n, 34); /* 000..033 in the file */
    assert_int_equal(fp_total, 26);
    assert_int_equal(pcf_ok, n);
    assert_int_equal(fp_ok, fp_total);
}

static void test_crc64_basics(void **state) {
    (void)state;
    /* The fingerprint of no bytes is the algorithm's EMPTY constant. */
    assert_true(shop_crc64_avro("", 0) == 0xc15d213aa4d7a795ULL);
    /* Java's SchemaNormalization.parsingFingerprint64 of "int" (schema-tests.txt case 004). */
    assert_int_equal((int64_t)shop_crc64_avro("\"int\"", 5), 8247732601305521295LL);
}

static void test_canonical_errors(void **state) {
    (void)state;
    char err[256], *out = NULL;
    assert_int_equal(shop_schema_canonical("{", &out, err, sizeof(err)), SHOP_ERR_INVALID);
    assert_non_null(strstr(err, "not JSON"));
    assert_int_equal(shop_schema_canonical("\"Nope\"", &out, err, sizeof(err)), SHOP_ERR_INVALID);
    assert_string_equal(err, "unknown type \"Nope\"");
    assert_int_equal(
        shop_schema_canonical("{\"type\":\"record\",\"fields\":[]}", &out, err, sizeof(err)),
        SHOP_ERR_INVALID);
    assert_int_equal(shop_schema_canonical("{\"type\":\"fixed\",\"name\":\"f\",\"size\":\"x\"}",
                                           &out, err, sizeof(err)),
                     SHOP_ERR_INVALID);
    assert_null(out);
}

/* Names resolve through namespaces, nested definitions inherit them, logicalType is stripped. */
static void test_canonical_namespaces(void **state) {
    (void)state;
    const char *in =
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"doc\":\"x\",\"fields\":["
        "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}},"
        "{\"name\":\"e2\",\"type\":\"E\"},"
        "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"c.F\",\"size\":\"016\"}},"
        "{\"name\":\"g\",\"type\":\"c.F\"}]}";
    char err[256], *out = NULL;
    assert_int_equal(shop_schema_canonical(in, &out, err, sizeof(err)), 0);
    assert_string_equal(
        out, "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":["
             "{\"name\":\"t\",\"type\":\"long\"},"
             "{\"name\":\"e\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"X\"]}},"
             "{\"name\":\"e2\",\"type\":\"a.b.E\"},"
             "{\"name\":\"f\",\"type\":{\"name\":\"c.F\",\"type\":\"fixed\",\"size\":16}},"
             "{\"name\":\"g\",\"type\":\"c.F\"}]}");
    free(out);
}

static void test_single_object_fingerprint(void **state) {
    (void)state;
    size_t len = 0;
    char *schema = slurp(SHOP_TEST_DATA "/avro/single-object/test_schema.avsc", NULL);
    unsigned char *msg =
        (unsigned char *)slurp(SHOP_TEST_DATA "/avro/single-object/test_message.bin", &len);
    assert_non_null(schema);
    assert_non_null(msg);
    assert_true(len > 10);
    uint64_t want = 0;
    for (int i = 7; i >= 0; i--)
        want = (want << 8) | msg[2 + i];
    int64_t fp = 0;
    char err[256];
    assert_int_equal(shop_schema_fingerprint(schema, &fp, err, sizeof(err)), 0);
    assert_true((uint64_t)fp == want);
    free(schema);
    free(msg);
}

/* Every .avsc is embedded, sorted by name; both tables are NULL-terminated. */
static void test_embedded_tables(void **state) {
    (void)state;
    size_t n = 0;
    for (const shop_embedded_file_t *f = shop_embedded_avsc; f->name; f++, n++) {
        assert_non_null(strstr(f->name, ".avsc"));
        assert_non_null(f->text);
        if (n)
            assert_true(strcmp(f[-1].name, f->name) < 0);
    }
    assert_true(n >= 6);
    for (const shop_embedded_file_t *f = shop_embedded_sql; f->name; f++) {
        assert_non_null(strstr(f->name, ".sql"));
        if (f != shop_embedded_sql)
            assert_true(strcmp(f[-1].name, f->name) < 0);
    }
    char *order = slurp(SHOP_TEST_DATA "/../../schemas/avro/order_events.avsc", NULL);
    assert_non_null(order);
    int found = 0;
    for (const shop_embedded_file_t *f = shop_embedded_avsc; f->name; f++)
        if (!strcmp(f->name, "order_events.avsc"))
            found = !strcmp(f->text, order);
    assert_true(found);
    free(order);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_tests_file),
        cmocka_unit_test(test_crc64_basics),
        cmocka_unit_test(test_canonical_errors),
        cmocka_unit_test(test_canonical_namespaces),
        cmocka_unit_test(test_single_object_fingerprint),
        cmocka_unit_test(test_embedded_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
