/* test_producer_emit.c: `shopstream emit`: per-line error reporting, the summary line and exit
 * status, in --dry-run mode and against librdkafka's mock cluster. */
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
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "commands.h"
#include "shop.h"

#define ORDER_OK(n)                                                                                \
    "{\"type\":\"order.placed\",\"user_id\":\"u-" #n "\",\"order_id\":\"o-" #n                     \
    "\",\"amount_minor\":1250,"                                                                    \
    "\"currency\":\"KRW\",\"items\":[{\"product_id\":\"p1\",\"quantity\":1,\"unit_price_minor\":"  \
    "1250}]}\n"
#define ORDER_BAD                                                                                  \
    "{\"type\":\"order.placed\",\"user_id\":\"u-9\",\"order_id\":\"o-9\",\"amount_minor\":\"12."   \
    "5\","                                                                                         \
    "\"currency\":\"KRW\",\"items\":[]}\n"

typedef struct {
    int rc;
    char *out, *err;
} run_t;

static char *slurp(FILE *fp) {
    fflush(fp);
    long n = ftell(fp);
    char *s = calloc(1, (size_t)n + 1);
    rewind(fp);
    if (n > 0 && fread(s, 1, (size_t)n, fp) != (size_t)n)
        s[0] = '\0';
    return s;
}

/* Runs shop_cmd_emit on `input` (written to a temporary file) with stdout/stderr captured. */
static run_t run_emit(const char *input, const char *a1, const char *a2, const char *a3,
                      const char *a4) {
    char path[] = "/tmp/test_emit_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, input, strlen(input)), (ssize_t)strlen(input));
    close(fd);
    char a0[] = "emit";
    char *argv[8] = {a0, path};
    int argc = 2;
    const char *extra[4] = {a1, a2, a3, a4};
    for (int i = 0; i < 4 && extra[i]; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    fflush(stdout);
    fflush(stderr);
    int save_out = dup(1), save_err = dup(2);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    run_t r;
    r.rc = shop_cmd_emit(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(save_out);
    close(save_err);
    fseek(out, 0, SEEK_END);
    fseek(err, 0, SEEK_END);
    r.out = slurp(out);
    r.err = slurp(err);
    fclose(out);
    fclose(err);
    unlink(path);
    return r;
}

static void run_free(run_t *r) {
    free(r->out);
    free(r->err);
}

static void test_dry_run_reports_bad_line(void **state) {
    (void)state;
    run_t r = run_emit(ORDER_OK(1) ORDER_OK(2) "\n   \n" ORDER_BAD ORDER_OK(3), "--dry-run", NULL,
                       NULL, NULL);
    assert_string_equal(r.out, "valid=3 rejected=1\n");
    assert_string_equal(r.err,
                        "line 5: order.placed: field amount_minor: expected long, got \"12.5\"\n");
    assert_int_equal(r.rc, 1);
    run_free(&r);
}

static void test_dry_run_invalid_json(void **state) {
    (void)state;
    const char *junk = "this is not json\n";
    json_error_t jerr;
    assert_null(json_loadb(junk, strlen(junk), 0, &jerr));
    char want[512];
    snprintf(want, sizeof(want), "line 3: invalid JSON: %s\n", jerr.text);
    run_t r = run_emit(ORDER_OK(1) ORDER_OK(2) "this is not json\n", "--dry-run", NULL, NULL, NULL);
    assert_string_equal(r.out, "valid=2 rejected=1\n");
    assert_string_equal(r.err, want);
    assert_int_equal(r.rc, 1);
    run_free(&r);
}

static void test_dry_run_all_valid(void **state) {
    (void)state;
    run_t r = run_emit(ORDER_OK(1) ORDER_OK(2) ORDER_OK(3), "--dry-run", NULL, NULL, NULL);
    assert_string_equal(r.out, "valid=3 rejected=0\n");
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    run_free(&r);
}

static void test_unknown_type_and_missing_field(void **state) {
    (void)state;
    run_t r = run_emit(
        "{\"type\":\"order.teleported\",\"user_id\":\"u1\"}\n"
        "{\"type\":\"order.paid\",\"user_id\":\"u1\",\"amount_minor\":5,\"currency\":\"KRW\"}\n",
        "--dry-run", NULL, NULL, NULL);
    assert_string_equal(r.out, "valid=0 rejected=2\n");
    assert_non_null(strstr(r.err, "line 1: unknown type \"order.teleported\"\n"));
    assert_non_null(strstr(r.err, "line 2: order.paid: field order_id: missing\n"));
    run_free(&r);
}

static void test_produce_to_mock_cluster(void **state) {
    (void)state;
    run_t r = run_emit(ORDER_OK(1) ORDER_BAD ORDER_OK(2) ORDER_OK(3), "--set",
                       "kafka.test.mock.num.brokers=1", "--set", "kafka.log_level=2");
    assert_string_equal(r.out, "sent=3 rejected=1 failed=0\n");
    assert_string_equal(r.err,
                        "line 2: order.placed: field amount_minor: expected long, got \"12.5\"\n");
    assert_int_equal(r.rc, 1);
    run_free(&r);
    r = run_emit(ORDER_OK(1) ORDER_OK(2), "--set", "kafka.test.mock.num.brokers=1", "--set",
                 "kafka.log_level=2");
    assert_string_equal(r.out, "sent=2 rejected=0 failed=0\n");
    assert_int_equal(r.rc, 0);
    run_free(&r);
}

static void test_delivery_failure_names_lines(void **state) {
    (void)state;
    run_t r = run_emit(ORDER_OK(1) ORDER_OK(2), "--brokers", "127.0.0.1:9", "--set",
                       "kafka.message.timeout.ms=700");
    assert_string_equal(r.out, "sent=0 rejected=0 failed=2\n");
    assert_non_null(strstr(r.err, "line 1: delivery failed: "));
    assert_non_null(strstr(r.err, "line 2: delivery failed: "));
    assert_int_equal(r.rc, 1);
    run_free(&r);
}

static void test_registry_down_fails_lines(void **state) {
    (void)state;
    run_t r = run_emit(ORDER_OK(1) ORDER_BAD ORDER_OK(2), "--registry", "http://127.0.0.1:9",
                       "--set", "kafka.test.mock.num.brokers=1");
    assert_string_equal(r.out, "sent=0 rejected=1 failed=2\n");
    assert_non_null(strstr(r.err, "line 1: schema registry"));
    assert_non_null(strstr(r.err, "line 2: order.placed: field amount_minor"));
    assert_non_null(strstr(r.err, "line 3: schema registry"));
    assert_int_equal(r.rc, 1);
    run_free(&r);
}

/* Each event's occurred_at becomes its message timestamp, in file order (replay --from relies on
 * it); events of one key stay in order across the worker threads. */
static void test_timestamps_and_order(void **state) {
    (void)state;
    char err[256], bootstraps[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "log_level", "0", err, sizeof(err));
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, 1);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "shop.order.events", 1, 1), 0);
    snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mc));
    shop_buf_t in;
    shop_buf_init(&in);
    for (int i = 0; i < 5000; i++) /* several batches, so both workers take part */
        shop_buf_printf(&in,
                        "{\"type\":\"order.paid\",\"user_id\":\"u-1\",\"order_id\":\"o-%d\","
                        "\"amount_minor\":1,\"currency\":\"KRW\",\"occurred_at\":%s}\n",
                        i, i % 2 ? "\"2026-11-01T00:00:01.500Z\"" : "1793491200000");
    run_t r = run_emit(in.buf, "--brokers", bootstraps, "--set", "emit.threads=2");
    assert_string_equal(r.out, "sent=5000 rejected=0 failed=0\n");
    run_free(&r);
    shop_buf_release(&in);
    c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", "t", err, sizeof(err));
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, "shop.order.events", 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(cons, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    int n = 0;
    for (int idle = 0; n < 5000 && idle < 100;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
        if (!m) {
            idle++;
            continue;
        }
        if (!m->err) {
            int64_t want = n % 2 ? 1793491201500LL : 1793491200000LL;
            assert_int_equal(rd_kafka_message_timestamp(m, NULL), want);
            char oid[32];
            snprintf(oid, sizeof(oid), "o-%d", n); /* the order id is in the Avro body */
            assert_non_null(memmem(m->payload, m->len, oid, strlen(oid)));
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(n, 5000);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
}

static void test_usage_errors(void **state) {
    (void)state;
    char a0[] = "emit", a1[] = "/nonexistent/input.jsonl", a2[] = "--dry-run", b1[] = "--bogus";
    char *argv[] = {a0, a1, a2, NULL};
    FILE *err = tmpfile();
    int save = dup(2);
    dup2(fileno(err), 2);
    int rc = shop_cmd_emit(3, argv);
    char *argv2[] = {a0, b1, NULL};
    int rc2 = shop_cmd_emit(2, argv2);
    fflush(stderr);
    dup2(save, 2);
    close(save);
    fclose(err);
    assert_int_equal(rc, 2);
    assert_int_equal(rc2, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dry_run_reports_bad_line),
        cmocka_unit_test(test_dry_run_invalid_json),
        cmocka_unit_test(test_dry_run_all_valid),
        cmocka_unit_test(test_unknown_type_and_missing_field),
        cmocka_unit_test(test_produce_to_mock_cluster),
        cmocka_unit_test(test_delivery_failure_names_lines),
        cmocka_unit_test(test_registry_down_fails_lines),
        cmocka_unit_test(test_timestamps_and_order),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
