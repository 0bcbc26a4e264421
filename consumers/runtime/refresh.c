/* refresh.c: the thread that recomputes a worker's derived views (ops->refresh) from what the
 * flushes committed, with a Redis connection of its own, so that a slow recomputation never
 * holds up consumption. The consume thread only says "something was committed"; the thread runs
 * at most once per refresh.ms and retries a failed run on its next turn. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime_int.h"

static void deadline_in(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Generations: a commit asks for a run that starts after it (`requested`); `started` is the
 * generation of the run in progress or last started, `done` the last one that succeeded.
 * `full_gen`: runs from that generation on must be full (a waiter wants complete views). */
static void *refresh_main(void *arg) {
    shop_runtime_t *rt = arg;
    shop_refresher_t *r = &rt->refresher;
    /* Linux: niceness is per thread. A heavy recomputation (the search worker's suggestions
     * take 0.7 s of CPU after a catch-up) then waits for the consume and HTTP threads instead
     * of holding up queries on a small machine. */
    if (r->nice > 0 && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), r->nice))
        SHOP_WARN("msg=\"refresh thread: cannot lower its priority\" error=\"%s\"",
                  strerror(errno));
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        if (r->requested <= r->started) {
            pthread_cond_wait(&r->cond, &r->lock);
            continue;
        }
        int64_t gen = r->requested;
        r->started = gen;
        int full = r->full_gen > 0 && gen >= r->full_gen;
        pthread_mutex_unlock(&r->lock);
        char err[512] = "";
        struct redisContext *c = shop_redis_store_conn(r->redis, err, sizeof(err));
        int rc = c ? rt->ops->refresh(rt->w, c, full, err, sizeof(err)) : SHOP_ERR_RETRYABLE;
        int partial = rc == SHOP_REFRESH_PARTIAL;
        if (partial)
            rc = SHOP_OK;
        if (rc == SHOP_OK) {
            atomic_fetch_add(&rt->metrics.refreshes, 1);
        } else {
            char q[600];
            atomic_fetch_add(&rt->metrics.refresh_failures, 1);
            SHOP_WARN("msg=%s action=\"derived views retried on the next turn\"",
                      shop_log_quote(q, sizeof(q), err[0] ? err : shop_err_name(rc)));
        }
        pthread_mutex_lock(&r->lock);
        if (rc == SHOP_OK && gen > r->done)
            r->done = gen;
        if ((partial || rc != SHOP_OK) && r->requested <= r->started)
            r->requested = r->started + 1; /* the rest, or a retry, on a later turn */
        pthread_cond_broadcast(&r->cond);
        /* at most once per refresh.ms, also between retries; a waiter or a stop cuts it short */
        struct timespec ts;
        deadline_in(&ts, r->interval_ms);
        while (!r->stop && !r->urgent &&
               pthread_cond_timedwait(&r->cond, &r->lock, &ts) != ETIMEDOUT) {
        }
        r->urgent = 0;
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int shop_rt_refresh_start(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    shop_refresher_t *r = &rt->refresher;
    if (!rt->ops->refresh || !rt->redis)
        return SHOP_OK;
    r->interval_ms = shop_config_get_int(rt->cfg, "refresh.ms");
    if (r->interval_ms < 10)
        r->interval_ms = 10;
    int64_t nice = shop_config_get_int(rt->cfg, "refresh.nice");
    if (nice < 0 || nice > 19)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "refresh.nice: expected 0..19");
    r->nice = (int)nice;
    r->redis = shop_redis_store_new(shop_config_get(rt->cfg, "redis.url"), "-",
                                    (int)shop_config_get_int(rt->cfg, "redis.timeout.ms"), errstr,
                                    errstr_size);
    if (!r->redis)
        return SHOP_ERR_CONFIG;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, refresh_main, rt)) {
        shop_redis_store_destroy(r->redis);
        r->redis = NULL;
        return shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "cannot start the refresh thread");
    }
    r->running = 1;
    return SHOP_OK;
}

void shop_rt_refresh_request(shop_runtime_t *rt) {
    shop_refresher_t *r = &rt->refresher;
    if (!r->running)
        return;
    pthread_mutex_lock(&r->lock);
    if (r->requested <= r->started) { /* a run in progress may have read the state before this */
        r->requested = r->started + 1;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
}

/* Requests a full run that starts after everything committed so far and waits for it (at most
 * timeout_ms). Returns 0, or SHOP_ERR_RETRYABLE when it did not succeed in time. */
int shop_rt_refresh_wait(shop_runtime_t *rt, int64_t timeout_ms) {
    shop_refresher_t *r = &rt->refresher;
    if (!r->running)
        return SHOP_OK;
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&r->lock);
    int64_t want = r->started + 1;
    if (r->requested < want)
        r->requested = want;
    r->full_gen = want;
    r->urgent = 1; /* no pause before it */
    pthread_cond_broadcast(&r->cond);
    int rc = SHOP_OK;
    while (r->done < want) {
        if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT) {
            rc = SHOP_ERR_RETRYABLE;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void shop_rt_refresh_stop(shop_runtime_t *rt) {
    shop_refresher_t *r = &rt->refresher;
    if (!r->running)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    shop_redis_store_destroy(r->redis);
    r->running = 0;
}
