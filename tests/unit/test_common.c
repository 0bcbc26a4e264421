/* test_common.c: the configuration table's precedence and validation, time parsing, logfmt quoting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "shop.h"

static const shop_conf_def_t table[] = {
    {"redis.url", SHOP_CONF_STRING, "redis://default", "redis"},
    {"flush.events", SHOP_CONF_INT, "100", "flush"},
    {"dlq.enabled", SHOP_CONF_BOOL, "true", "dlq"},
    {"namespace", SHOP_CONF_STRING, NULL, "ns"},
    {NULL, 0, NULL, NULL},
};

static void test_defaults_and_types(void **state) {
    (void)state;
    shop_config_t *c = shop_config_new(table);
    char err[256];
    assert_string_equal(shop_config_get(c, "redis.url"), "redis://default");
    assert_int_equal(shop_config_get_int(c, "flush.events"), 100);
    assert_true(shop_config_get_bool(c, "dlq.enabled"));
    assert_null(shop_config_get(c, "namespace"));
    assert_int_equal(shop_config_set(c, "flush.events", "12x", err, sizeof(err)), SHOP_ERR_CONFIG);
    assert_string_equal(err, "flush.events: expected an integer, got \"12x\"");
    assert_int_equal(shop_config_set(c, "dlq.enabled", "maybe", err, sizeof(err)), SHOP_ERR_CONFIG);
    assert_int_equal(shop_config_set(c, "no.such.key", "1", err, sizeof(err)), SHOP_ERR_CONFIG);
    assert_string_equal(err, "unknown configuration key \"no.such.key\"");
    assert_int_equal(shop_config_set(c, "kafka.linger.ms", "7", err, sizeof(err)), SHOP_OK);
    assert_string_equal(shop_config_get(c, "kafka.linger.ms"), "7");
    shop_config_destroy(c);
}

static void count_kafka(const char *k, const char *v, void *opaque) {
    (void)v;
    if (!strcmp(k, "linger.ms"))
        (*(int *)opaque)++;
}

/* defaults < file < SHOPSTREAM_* env < --set */
static void test_precedence(void **state) {
    (void)state;
    char path[] = "/tmp/shop_conf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "# comment\nredis.url = redis://file\nflush.events=5\nnamespace = "
                "fromfile\nkafka.linger.ms = 3\n");
    fclose(fp);
    setenv("SHOPSTREAM_FLUSH_EVENTS", "6", 1);
    setenv("SHOPSTREAM_NAMESPACE", "fromenv", 1);
    setenv("SHOPSTREAM_SOMETHING_ELSE", "ignored", 1);
    char a0[] = "run", a1[] = "--config", a3[] = "--set", a4[] = "namespace=fromflag",
         a5[] = "worker";
    char *argv[] = {a0, a1, path, a3, a4, a5, NULL};
    int argc = 6;
    shop_config_t *c = shop_config_new(table);
    char err[256];
    assert_int_equal(shop_config_from_args(c, &argc, argv, err, sizeof(err)), SHOP_OK);
    assert_int_equal(argc, 2);
    assert_string_equal(argv[1], "worker");
    assert_string_equal(shop_config_get(c, "redis.url"), "redis://file");
    assert_int_equal(shop_config_get_int(c, "flush.events"), 6);
    assert_string_equal(shop_config_get(c, "namespace"), "fromflag");
    int n = 0;
    shop_config_each_kafka(c, count_kafka, &n);
    assert_int_equal(n, 1);
    shop_config_destroy(c);
    unsetenv("SHOPSTREAM_FLUSH_EVENTS");
    unsetenv("SHOPSTREAM_NAMESPACE");
    unsetenv("SHOPSTREAM_SOMETHING_ELSE");
    unlink(path);
}

static void test_bad_file_line(void **state) {
    (void)state;
    char path[] = "/tmp/shop_conf_XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "redis.url = x\nthis line has no equals\n");
    fclose(fp);
    shop_config_t *c = shop_config_new(table);
    char err[512];
    assert_int_equal(shop_config_load_file(c, path, err, sizeof(err)), SHOP_ERR_CONFIG);
    assert_non_null(strstr(err, ":2: expected key = value"));
    shop_config_destroy(c);
    unlink(path);
}

static void test_time(void **state) {
    (void)state;
    int64_t ms;
    assert_int_equal(shop_parse_time_ms("2026-11-24T10:00:00Z", &ms), SHOP_OK);
    assert_int_equal(ms, 1795514400000LL);
    assert_int_equal(shop_parse_time_ms("2026-11-24T19:00:00.250+09:00", &ms), SHOP_OK);
    assert_int_equal(ms, 1795514400250LL);
    assert_int_equal(shop_parse_time_ms("2026-11-24", &ms), SHOP_OK);
    assert_int_equal(ms, 1795478400000LL);
    assert_int_equal(shop_parse_time_ms("1795514400000", &ms), SHOP_OK);
    assert_int_equal(ms, 1795514400000LL);
    assert_int_equal(shop_parse_time_ms("2026-13-01", &ms), SHOP_ERR_INVALID);
    assert_int_equal(shop_parse_time_ms("2026-02-31", &ms), SHOP_ERR_INVALID);
    assert_int_equal(shop_parse_time_ms("2026-02-29", &ms), SHOP_ERR_INVALID);
    assert_int_equal(shop_parse_time_ms("2028-02-29", &ms), SHOP_OK);
    assert_int_equal(shop_parse_time_ms("2026-11-24T10:00:00+99:99", &ms), SHOP_ERR_INVALID);
    assert_int_equal(shop_parse_time_ms("99999999999999999999999", &ms), SHOP_ERR_INVALID);
    assert_int_equal(shop_parse_time_ms("yesterday", &ms), SHOP_ERR_INVALID);
    assert_int_equal(shop_parse_time_ms("2026-11-24T10:00:00Zjunk", &ms), SHOP_ERR_INVALID);
    char buf[40];
    assert_string_equal(shop_format_time_ms(1795514400250LL, buf, sizeof(buf)),
                        "2026-11-24T10:00:00.250Z");
}

static void test_logfmt_quote(void **state) {
    (void)state;
    char buf[32];
    assert_string_equal(shop_log_quote(buf, sizeof(buf), "a \"b\"\nc"), "\"a \\\"b\\\"\\nc\"");
    shop_log_quote(buf, 8, "0123456789");
    assert_true(strlen(buf) < 8);
    assert_int_equal(buf[0], '"');
}

static void test_buf(void **state) {
    (void)state;
    shop_buf_t b;
    shop_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        shop_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.buf));
    assert_memory_equal(b.buf, "0,1,2,", 6);
    shop_buf_reset(&b);
    assert_int_equal(b.len, 0);
    shop_buf_release(&b);
}

/* The stack exports SHOPSTREAM_* for the tools; these tests set their own. */
static void clear_shopstream_env(void) {
    extern char **environ;
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++)
            if (!strncmp(*e, "SHOPSTREAM_", 11)) {
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)(strcspn(*e, "=")), *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
}

/* shop_topk_r keeps what a full sort would put first, in the same order, ties included (the
 * comparison breaks them by a second key, as reco's does by item name). */
typedef struct {
    int score, id;
} tk_t;

static int tk_cmp(const void *a, const void *b, void *arg) {
    const tk_t *x = a, *y = b;
    (void)arg;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void test_topk(void **state) {
    (void)state;
    uint64_t r = 42;
    for (size_t n = 0; n < 300; n += 7) {
        tk_t *v = calloc(n + 1, sizeof(*v)), *sorted = calloc(n + 1, sizeof(*v));
        for (size_t i = 0; i < n; i++) {
            r = shop_mix64(r + i);
            v[i] = (tk_t){(int)(r % 17), (int)i}; /* many ties in score */
        }
        memcpy(sorted, v, n * sizeof(*v));
        shop_sort_r(sorted, n, sizeof(*v), tk_cmp, NULL);
        size_t ks[] = {0, 1, 2, 5, 10, n / 2, n, n + 3};
        for (size_t j = 0; j < sizeof(ks) / sizeof(ks[0]); j++) {
            tk_t *w = calloc(n + 1, sizeof(*w));
            memcpy(w, v, n * sizeof(*v));
            size_t got = shop_topk_r(w, n, sizeof(*w), tk_cmp, NULL, ks[j]);
            assert_int_equal(got, ks[j] < n ? ks[j] : n);
            assert_memory_equal(w, sorted, got * sizeof(*w));
            free(w);
        }
        free(v);
        free(sorted);
    }
}

/* Reference for shop_utf8_scan, from RFC 3629's table of well-formed sequences (section 4):
 * the offset of the first ill-formed sequence or control character, -1 when none; *ctl as the
 * scan sets it. */
static long utf8_reference(const unsigned char *s, size_t n, unsigned *ctl) {
    static const struct {
        unsigned char lo, hi, len, c1lo, c1hi;
    } lead[] = {{0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF},
                {0xE1, 0xEC, 3, 0x80, 0xBF}, {0xED, 0xED, 3, 0x80, 0x9F},
                {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
                {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F}};
    *ctl = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            if (s[i] == 0x7F || (s[i] < 0x20 && !strchr("\t\n\r", s[i]))) {
                *ctl = s[i];
                return (long)i;
            }
            i++;
            continue;
        }
        size_t k = 0;
        while (k < 8 && !(s[i] >= lead[k].lo && s[i] <= lead[k].hi))
            k++;
        if (k == 8 || i + lead[k].len > n || s[i + 1] < lead[k].c1lo || s[i + 1] > lead[k].c1hi)
            return (long)i;
        for (size_t j = 2; j < lead[k].len; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xBF)
                return (long)i;
        if (s[i] == 0xC2 && s[i + 1] < 0xA0) { /* U+0080..U+009F: C1 controls */
            *ctl = s[i + 1];
            return (long)i;
        }
        i += lead[k].len;
    }
    return -1;
}

/* The event text check against the reference on random strings built from printable ASCII runs
 * (the 8-byte path), controls, DEL, and well- and ill-formed multi-byte pieces. */
static void test_utf8_scan(void **state) {
    (void)state;
    static const char *const pieces[] = {"abcdefgh",
                                         "0123456789 ~",
                                         "\t",
                                         "\n",
                                         "\r",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "\xc2\x85",
                                         "\xc2\xa0",
                                         "\xc3\xa9",
                                         "\xed\x95\x9c",
                                         "\xf0\x9f\x98\x80",
                                         "\xc0\xaf",
                                         "\xe0\x80\xaf",
                                         "\xed\xa0\x80",
                                         "\xf4\x90\x80\x80",
                                         "\xff",
                                         "\x80",
                                         "\xe2\x82",
                                         "\xf0\x9f\x98",
                                         " ",
                                         "x"};
    const size_t np = sizeof(pieces) / sizeof(pieces[0]);
    shop_rng_t r;
    shop_rng_seed(&r, 11);
    int found = 0;
    for (int round = 0; round < 20000; round++) {
        unsigned char buf[256];
        size_t n = 0;
        int parts = (int)(shop_rng_next(&r) % 12);
        for (int p = 0; p < parts; p++) {
            /* mostly clean ASCII so that the bad piece falls at every offset */
            const char *piece = shop_rng_next(&r) % 3 ? pieces[shop_rng_next(&r) % 2]
                                                      : pieces[shop_rng_next(&r) % np];
            size_t l = strlen(piece), cut = shop_rng_next(&r) % (l + 1);
            if (p == parts - 1 && shop_rng_next(&r) % 4 == 0)
                l = cut; /* a truncated last piece */
            memcpy(buf + n, piece, l);
            n += l;
        }
        const char *what = NULL;
        unsigned ctl = 7, want_ctl = 9;
        long got = shop_utf8_scan(buf, n, &what, &ctl), want = utf8_reference(buf, n, &want_ctl);
        if (got != want || (want >= 0 && ctl != want_ctl))
            fail_msg("round %d: scan says %ld (U+%04X), the reference %ld (U+%04X)", round, got,
                     ctl, want, want_ctl);
        if (want >= 0)
            assert_string_equal(what, want_ctl ? "control character" : "invalid UTF-8");
        found += want >= 0;
    }
    print_message("utf8 scan: %d of 20000 strings refused, all at the reference's byte\n", found);
    assert_true(found > 2000 && found < 18000);
}

int main(void) {
    clear_shopstream_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_types),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_bad_file_line),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_logfmt_quote),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_utf8_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
