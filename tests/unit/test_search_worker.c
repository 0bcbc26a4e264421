/* test_search_worker.c: the search worker's Redis batch for users' recent searches, without
 * servers. The worker keeps, per user and flush, only the newest search.recent.n distinct queries;
 * the test replays each flush's commands on a model of the sorted sets (ZADD GT, ZREMRANGEBYRANK,
 * EXPIRE as Redis does them: equal scores rank by the members' bytes) and compares the result
 * with every user's newest queries computed from the whole stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "runtime.h"
#include "search_int.h"
#include "search_query.h"
#include "shop.h"
#include "shop_codec.h"
#include "store.h"
#include "worker_fixture.h"

#define RECENT_N 3
#define USERS    12
#define QUERIES  9

static int setup(void **state) {
    char n[32];
    snprintf(n, sizeof(n), "search.recent.n=%d", RECENT_N);
    *state = worker_fx_new(&shop_worker_search, "search", (const char *const[]){n, NULL});
    return 0;
}

static int teardown(void **state) {
    worker_fx_free(*state);
    return 0;
}

static void feed_query(worker_fx_t *f, const char *user, const char *query, int64_t at) {
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:i}", "type", "search.query", "occurred_at",
                          (json_int_t)at, "user_id", user, "query", query, "result_count", 5);
    assert_int_equal(worker_fx_feed(f, o, "t.shop.search.events", SHOP_SINK_BIT(SHOP_SINK_REDIS)),
                     0);
}

/* ---- a model of the users' sorted sets ---- */

typedef struct {
    int64_t score[QUERIES];
    int has[QUERIES];
    int expire_set;
} zset_t;

static const char *const queries[QUERIES] = {
    "red", "red shoes", "blue", "선글라스", "선글라스 케이스", "a", "b", "zz top", "노트북"};

static int query_index(const char *s, size_t len) {
    for (int i = 0; i < QUERIES; i++)
        if (strlen(queries[i]) == len && !memcmp(queries[i], s, len))
            return i;
    fail_msg("unknown member %.*s", (int)len, s);
    return -1;
}

/* Member i ranks below member j: a lower score, or an equal one and lower bytes. */
static int below(const zset_t *z, int i, int j) {
    return z->score[i] != z->score[j] ? z->score[i] < z->score[j]
                                      : strcmp(queries[i], queries[j]) < 0;
}

/* Keeps the `keep` highest ranked members. */
static void trim(zset_t *z, int keep) {
    for (;;) {
        int n = 0, low = -1;
        for (int i = 0; i < QUERIES; i++)
            if (z->has[i]) {
                n++;
                if (low < 0 || below(z, i, low))
                    low = i;
            }
        if (n <= keep)
            return;
        z->has[low] = 0;
    }
}

typedef struct {
    zset_t users[USERS];
    int zadds, max_members;
} model_t;

static void apply(model_t *m, int argc, const char **argv, const size_t *len) {
    const char *pfx = "bt:t:srch:user:u";
    if (argc < 2 || len[1] <= strlen(pfx) || memcmp(argv[1], pfx, strlen(pfx)))
        return;
    zset_t *z = &m->users[atoi(argv[1] + strlen(pfx))];
    if (len[0] == 4 && !memcmp(argv[0], "ZADD", 4)) {
        assert_true(argc >= 5 && len[2] == 2 && !memcmp(argv[2], "GT", 2) && (argc - 3) % 2 == 0);
        m->zadds++;
        if ((argc - 3) / 2 > m->max_members)
            m->max_members = (argc - 3) / 2;
        for (int i = 3; i < argc; i += 2) {
            int q = query_index(argv[i + 1], len[i + 1]);
            int64_t sc = strtoll(argv[i], NULL, 10);
            if (!z->has[q] || sc > z->score[q])
                z->score[q] = sc;
            z->has[q] = 1;
        }
    } else if (len[0] == 15 && !memcmp(argv[0], "ZREMRANGEBYRANK", 15)) {
        assert_true(argc == 4 && atoi(argv[2]) == 0);
        trim(z, -atoi(argv[3]) - 1);
    } else if (len[0] == 6 && !memcmp(argv[0], "EXPIRE", 6)) {
        z->expire_set = 1;
    } else {
        fail_msg("unexpected command %.*s on a user's key", (int)len[0], argv[0]);
    }
}

/* Runs every command of a RESP batch through the model. */
static void apply_batch(model_t *m, const shop_buf_t *resp) {
    const char *p = resp->buf, *end = p + resp->len;
    const char *argv[1024];
    size_t len[1024];
    while (p < end) {
        assert_int_equal(*p, '*');
        int argc = atoi(p + 1);
        assert_true(argc > 0 && argc <= 1024);
        p = strstr(p, "\r\n") + 2;
        for (int i = 0; i < argc; i++) {
            assert_int_equal(*p, '$');
            size_t l = (size_t)atol(p + 1);
            p = strstr(p, "\r\n") + 2;
            argv[i] = p;
            len[i] = l;
            p += l + 2;
        }
        apply(m, argc, argv, len);
    }
    assert_true(p == end);
}

static void test_recent_searches_match_the_stream(void **state) {
    worker_fx_t *f = *state;
    static model_t m;
    zset_t want[USERS];
    memset(&m, 0, sizeof(m));
    memset(want, 0, sizeof(want));
    uint64_t x = 42;
    const int64_t t0 = 1793491200000; /* 2026-11-01 */
    int flushes = 0;
    for (int i = 1; i <= 4000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int u = (int)((x >> 33) % USERS), q = (int)((x >> 45) % QUERIES);
        /* coarse times (ties are common), some out of order */
        int64_t at = t0 + (int64_t)(i / 7) * 1000 - (int64_t)((x >> 20) % 4) * 3000;
        char user[16];
        snprintf(user, sizeof(user), "u%d", u);
        feed_query(f, user, queries[q], at);
        if (!want[u].has[q] || at > want[u].score[q])
            want[u].score[q] = at;
        want[u].has[q] = 1;
        if (i % 333 == 0 || i == 4000) {
            shop_redis_batch_t b = {{NULL, 0, 0}, 0};
            f->ops->flush_redis(f->w, &b);
            apply_batch(&m, &b.resp);
            shop_buf_release(&b.resp);
            f->ops->flushed(f->w, SHOP_SINK_REDIS);
            flushes++;
        }
    }
    for (int u = 0; u < USERS; u++) {
        trim(&want[u], RECENT_N);
        assert_true(m.users[u].expire_set);
        for (int q = 0; q < QUERIES; q++) {
            if (want[u].has[q] != m.users[u].has[q] ||
                (want[u].has[q] && want[u].score[q] != m.users[u].score[q]))
                fail_msg("user u%d, \"%s\": want %s %lld, the batches give %s %lld", u, queries[q],
                         want[u].has[q] ? "kept" : "absent", (long long)want[u].score[q],
                         m.users[u].has[q] ? "kept" : "absent", (long long)m.users[u].score[q]);
        }
    }
    print_message("%d flushes, %d ZADDs to users' keys, at most %d members each\n", flushes,
                  m.zadds, m.max_members);
    assert_true(m.max_members <= RECENT_N); /* a flush writes only what the trim keeps */
    assert_true(m.zadds >= flushes);
    assert_int_equal(f->ops->pending(f->w), 0);
}

/* Suggestions and corrections: at once the first time, then at most every
 * search.suggest.refresh.ms, and no sooner than the last recomputation's CPU time over
 * search.suggest.refresh.cpu; a full refresh always recomputes. */
static void test_heavy_refresh_bounded_by_its_cpu(void **state) {
    (void)state;
    worker_fx_t *f = worker_fx_new(&shop_worker_search, "search",
                                   (const char *const[]){"search.suggest.refresh.ms=5000",
                                                         "search.suggest.refresh.cpu=0.1", NULL});
    shop_search_t *s = f->w;
    const int64_t t0 = 1000000;
    assert_true(search_heavy_due(s, t0, 0)); /* never recomputed */
    s->last_heavy_ms = t0;
    s->last_heavy_cpu_ms = 100; /* cheap: the interval rules */
    assert_false(search_heavy_due(s, t0 + 4999, 0));
    assert_true(search_heavy_due(s, t0 + 5000, 0));
    s->last_heavy_cpu_ms = 2500; /* 2.5 s of CPU at 10 %: 25 s */
    assert_false(search_heavy_due(s, t0 + 24999, 0));
    assert_true(search_heavy_due(s, t0 + 25000, 0));
    assert_true(search_heavy_due(s, t0 + 1, 1)); /* full */
    worker_fx_free(f);

    f = worker_fx_new(&shop_worker_search, "search",
                      (const char *const[]){"search.suggest.refresh.cpu=0", NULL});
    s = f->w;
    s->last_heavy_ms = t0;
    s->last_heavy_cpu_ms = 60000; /* no limit: the interval alone */
    assert_true(search_heavy_due(s, t0 + 5000, 0));
    worker_fx_free(f);

    /* a share outside 0..1 is a configuration error */
    char err[256];
    shop_conf_def_t *table = shop_runtime_conf_table(&shop_worker_search);
    shop_config_t *cfg = shop_config_new(table);
    assert_int_equal(shop_config_set_kv(cfg, "search.suggest.refresh.cpu=2", err, sizeof(err)), 0);
    shop_worker_env_t env = {cfg, "bt:t:", "bt_t", "search"};
    err[0] = '\0';
    assert_null(shop_worker_search.create(&env, err, sizeof(err)));
    assert_non_null(strstr(err, "search.suggest.refresh.cpu"));
    shop_config_destroy(cfg);
    free(table);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recent_searches_match_the_stream, setup, teardown),
        cmocka_unit_test(test_heavy_refresh_bounded_by_its_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
