/* test_fraud_worker.c: the fraud worker's sink bookkeeping without servers: every order.placed
 * processed for the Redis sink puts its fraud:order hash in the next Redis batch until that sink
 * (and only that sink) committed; an order the Redis sink already stored (a lagging PostgreSQL
 * sink re-reads it) adds nothing to Redis and gets the decision already made; a failed flush
 * (discard) drops everything; the PostgreSQL sink's decisions leave in jobs (pg_take), each once;
 * the idle sweep deletes users, never decisions. These were the
 * suspects of the fault suite's missing fraud:order keys (the cause was the suite's own wait for
 * the stream, tests/fault/README.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fraud.h"
#include "fraud_worker.h"
#include "runtime.h"
#include "worker_fixture.h"

#define BOTH     (SHOP_SINK_BIT(SHOP_SINK_REDIS) | SHOP_SINK_BIT(SHOP_SINK_PG))
#define PG_ONLY  SHOP_SINK_BIT(SHOP_SINK_PG)
#define T0       "1793491200000" /* 2026-11-01T00:00:00Z */
#define T0_LATER "1796789081646" /* 38 days later: past fraud.idle.days */

#define PLACED(at, user, order, amount)                                                            \
    "{\"type\":\"order.placed\",\"occurred_at\":" at ",\"user_id\":\"" user                        \
    "\",\"order_id\":\"" order "\",\"amount_minor\":" amount                                       \
    ",\"currency\":\"KRW\",\"device_id\":\"d1\","                                                  \
    "\"items\":[{\"product_id\":\"p\",\"quantity\":1,\"unit_price_minor\":" amount "}]}"
#define SIGNUP(at, user)                                                                           \
    "{\"type\":\"user.signup\",\"occurred_at\":" at ",\"user_id\":\"" user "\",\"device_id\":"     \
    "\"d1\",\"country\":\"KR\"}"
#define CHARGEBACK(at, user, order)                                                                \
    "{\"type\":\"order.chargeback\",\"occurred_at\":" at ",\"user_id\":\"" user "\",\"order_id\":" \
    "\"" order "\",\"amount_minor\":100,\"currency\":\"KRW\",\"reason\":\"fraud\"}"

typedef worker_fx_t fx_t;

static const shop_worker_ops_t *ops = &shop_worker_fraud;

static int setup(void **state) {
    *state = worker_fx_new(ops, "fraud", NULL);
    return 0;
}

static int teardown(void **state) {
    worker_fx_free(*state);
    return 0;
}

/* Decodes `json` as the runtime would hand it to the worker (partition 0, the topic from its
 * type) and processes it for `sinks`. */
static int feed(fx_t *f, const char *json, unsigned sinks) {
    return worker_fx_feed(
        f, json_loads(json, 0, NULL),
        strncmp(json + 9, "\"order.", 7) ? "t.shop.user.events" : "t.shop.order.events", sinks);
}

/* The next Redis batch as a NUL-terminated string (heap, the caller frees). */
static char *redis_batch(fx_t *f) {
    shop_redis_batch_t b = {{NULL, 0, 0}, 0};
    ops->flush_redis(f->w, &b);
    shop_buf_append(&b.resp, "", 1);
    return b.resp.buf;
}

/* What the PostgreSQL sink's next job holds (ops->pg_take: the runtime's flush thread commits it),
 * as its number of decisions; the job is freed. */
static size_t take_pg(fx_t *f) {
    void *job = ops->pg_take(f->w);
    assert_non_null(job);
    size_t rows = shop_fraud_job_rows(job);
    ops->pg_job_free(job);
    return rows;
}

static int has(const char *batch, const char *s) {
    return strstr(batch, s) != NULL;
}

static void test_orders_reach_the_redis_batch(void **state) {
    fx_t *f = *state;
    assert_int_equal(feed(f, SIGNUP(T0, "u1"), BOTH), 0);
    assert_int_equal(feed(f, PLACED(T0, "u1", "o1", "1000"), BOTH), 0);
    assert_int_equal(feed(f, PLACED(T0, "u1", "o2", "2000"), BOTH), 0);
    char *b = redis_batch(f);
    assert_true(has(b, "bt:t:fraud:order:o1\r\n") && has(b, "bt:t:fraud:order:o2\r\n"));
    assert_true(has(b, "bt:t:fraud:state:0\r\n") && has(b, "bt:t:fraud:user:u1\r\n"));
    free(b);
    /* flush_redis does not clear (a failed flush is retried), and PostgreSQL taking its job
     * first leaves the Redis sink's decisions pending */
    assert_int_equal(take_pg(f), 2);
    b = redis_batch(f);
    assert_true(has(b, "bt:t:fraud:order:o1\r\n") && has(b, "bt:t:fraud:order:o2\r\n"));
    free(b);
    ops->flushed(f->w, SHOP_SINK_REDIS);
    assert_int_equal(ops->pending(f->w), 0);
    b = redis_batch(f);
    assert_false(has(b, "fraud:order:") || has(b, "fraud:state:"));
    free(b);
}

/* After a restart with the PostgreSQL sink behind the Redis sink, the runtime re-reads the
 * orders between the two offsets for PostgreSQL only: they must not touch Redis (stored there
 * already) and must not change the state. */
static void test_pg_only_reread(void **state) {
    fx_t *f = *state;
    assert_int_equal(feed(f, PLACED(T0, "u1", "o1", "1000"), BOTH), 0);
    ops->flushed(f->w, SHOP_SINK_REDIS);
    assert_int_equal(ops->pending(f->w), 1); /* o1 for PostgreSQL */
    assert_int_equal(take_pg(f), 1);
    assert_int_equal(ops->pending(f->w), 0);
    assert_int_equal(feed(f, PLACED(T0, "u1", "o1", "1000"), PG_ONLY), 0);
    assert_int_equal(ops->pending(f->w), 1);
    char *b = redis_batch(f);
    assert_false(has(b, "fraud:order:") || has(b, "fraud:state:") || has(b, "fraud:user:"));
    free(b);
    assert_int_equal(take_pg(f), 1);
    assert_int_equal(ops->pending(f->w), 0);
    assert_int_equal(take_pg(f), 0); /* a job with no decision still carries offsets */
}

/* A flush that could not commit: everything pending goes (the runtime rewinds and restores);
 * the same order processed again is in the next batch. */
static void test_discard_then_again(void **state) {
    fx_t *f = *state;
    assert_int_equal(feed(f, PLACED(T0, "u1", "o1", "1000"), BOTH), 0);
    assert_int_equal(feed(f, PLACED(T0, "u1", "o2", "1000"), BOTH), 0);
    assert_int_equal(take_pg(f), 2); /* a job in flight when the flush failed: freed apart */
    assert_int_equal(feed(f, PLACED(T0, "u1", "o3", "1000"), BOTH), 0);
    assert_true(ops->pending(f->w) > 0);
    ops->discard(f->w);
    assert_int_equal(take_pg(f), 0);
    assert_int_equal(ops->pending(f->w), 0);
    char *b = redis_batch(f);
    assert_false(has(b, "fraud:order:"));
    free(b);
    assert_int_equal(feed(f, PLACED(T0, "u1", "o1", "1000"), BOTH), 0);
    b = redis_batch(f);
    assert_true(has(b, "bt:t:fraud:order:o1\r\n"));
    free(b);
}

/* The idle sweep (a chargeback 38 days later moves the partition's event time) deletes idle
 * users' state and summaries, never a decision. */
static void test_sweep_keeps_decisions(void **state) {
    fx_t *f = *state;
    assert_int_equal(feed(f, PLACED(T0, "u1", "o1", "1000"), BOTH), 0);
    ops->flushed(f->w, SHOP_SINK_REDIS);
    assert_int_equal(take_pg(f), 1);
    assert_int_equal(feed(f, CHARGEBACK(T0_LATER, "u2", "o9"), BOTH), 0);
    char *b = redis_batch(f);
    assert_true(has(b, "HDEL\r\n$18\r\nbt:t:fraud:state:0\r\n$2\r\nu1\r\n"));
    assert_true(has(b, "DEL\r\n$18\r\nbt:t:fraud:user:u1\r\n"));
    assert_false(has(b, "fraud:order:"));
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_orders_reach_the_redis_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_only_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard_then_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_keeps_decisions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
