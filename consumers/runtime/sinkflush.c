/* sinkflush.c: a sink's flushes on a thread of their own. The consume thread takes the sink's
 * pending state as a job with the offsets it covers and goes on consuming while the thread
 * commits it with a connection of its own; the outcome is applied when the loop next looks, and
 * the next job is taken at the next flush that is due. One job at a time per sink, so each sink
 * still sees its offsets fenced in order: a job's `from` is the previous one's `to`.
 *
 *   PostgreSQL, for workers that hand their rows over (ops->pg_take): always on this thread;
 *     pg.flush.async says whether the consume thread goes on meanwhile (off by default: on a
 *     2-core box shared with the broker the overlap cost more than it saved, see
 *     consumers/fraud/README.md, "Latency").
 *   Redis, with redis.flush.async: the job is the flush's MULTI/EXEC batch, built when it is
 *     taken (ops->flush_redis and the event ids), after which the worker's pending Redis state is
 *     dropped (ops->flushed): a retry sends the same bytes again, and the offset fence makes a
 *     commit whose reply was lost count once.
 *
 * A job that fails retryably is kept and run again (consumption pauses, as for any sink outage);
 * a conflict or a rewind drops it, and the worker's state is rebuilt from the stored offsets. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "runtime_int.h"

enum { SF_IDLE, SF_QUEUED, SF_DONE };

static int run_job(shop_runtime_t *rt, shop_sinkflush_t *f, char *err, size_t err_size) {
    if (f->sink == SHOP_SINK_PG)
        return shop_pg_store_commit(f->pg, rt->ops->pg_job_run, f->job, f->e, f->n, err, err_size);
    return shop_redis_store_commit(f->redis, f->job, f->e, f->n, err, err_size);
}

static void *sinkflush_main(void *arg) {
    shop_sinkflush_t *f = arg;
    shop_runtime_t *rt = f->rt;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->stop && f->state != SF_QUEUED)
            pthread_cond_wait(&f->cond, &f->lock);
        if (f->stop)
            break;
        /* the consume thread leaves job, e and n alone while the job is queued */
        pthread_mutex_unlock(&f->lock);
        char err[512] = "";
        int64_t t0 = shop_mono_us();
        int rc = run_job(rt, f, err, sizeof(err));
        pthread_mutex_lock(&f->lock);
        f->rc = rc;
        f->took_us = shop_mono_us() - t0;
        memcpy(f->err, err, sizeof(err));
        f->state = SF_DONE;
        pthread_cond_broadcast(&f->cond);
        if (rt->queue)
            rd_kafka_queue_yield(rt->queue); /* the consume loop applies the outcome */
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static int start_one(shop_runtime_t *rt, int s, char *errstr, size_t errstr_size) {
    shop_sinkflush_t *f = &rt->flushq[s];
    f->sink = s;
    f->rt = rt;
    if (s == SHOP_SINK_PG) {
        f->async = shop_config_get_bool(rt->cfg, "pg.flush.async");
        if (!(f->pg = shop_rt_pg_open(rt, errstr, errstr_size)))
            return SHOP_ERR_CONFIG;
    } else {
        f->async = 1;
        if (!(f->redis = shop_rt_redis_open(rt, errstr, errstr_size)))
            return SHOP_ERR_CONFIG;
    }
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (pthread_create(&f->thread, NULL, sinkflush_main, f)) {
        shop_pg_store_destroy(f->pg);
        shop_redis_store_destroy(f->redis);
        f->pg = NULL;
        f->redis = NULL;
        return shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "cannot start a flush thread");
    }
    f->started = 1;
    return SHOP_OK;
}

int shop_rt_sinkflush_start(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    int rc = SHOP_OK;
    if (rt->pg && rt->ops->pg_take)
        rc = start_one(rt, SHOP_SINK_PG, errstr, errstr_size);
    if (!rc && rt->redis && shop_config_get_bool(rt->cfg, "redis.flush.async"))
        rc = start_one(rt, SHOP_SINK_REDIS, errstr, errstr_size);
    return rc;
}

/* Waits until the thread holds no job (queued or running). */
static void settle(shop_sinkflush_t *f) {
    pthread_mutex_lock(&f->lock);
    while (f->state == SF_QUEUED)
        pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);
}

static void drop_job(shop_runtime_t *rt, shop_sinkflush_t *f) {
    if (f->job && f->sink == SHOP_SINK_PG) {
        rt->ops->pg_job_free(f->job);
    } else if (f->job) {
        shop_redis_batch_t *b = f->job;
        shop_buf_release(&b->resp);
        free(b);
    }
    free(f->e);
    f->job = NULL;
    f->e = NULL;
    f->n = 0;
    f->state = SF_IDLE;
    f->failed = 0;
}

void shop_rt_sinkflush_discard(shop_runtime_t *rt) {
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        if (rt->flushq[s].started) {
            settle(&rt->flushq[s]);
            drop_job(rt, &rt->flushq[s]);
        }
}

void shop_rt_sinkflush_stop(shop_runtime_t *rt) {
    for (int s = 0; s < SHOP_SINK_COUNT; s++) {
        shop_sinkflush_t *f = &rt->flushq[s];
        if (!f->started)
            continue;
        settle(f);
        pthread_mutex_lock(&f->lock);
        f->stop = 1;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
        drop_job(rt, f);
        shop_pg_store_destroy(f->pg);
        shop_redis_store_destroy(f->redis);
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
        f->started = 0;
    }
}

int shop_rt_sinkflush_done(shop_runtime_t *rt, int sink) {
    int done = 0;
    for (int s = 0; s < SHOP_SINK_COUNT && !done; s++) {
        shop_sinkflush_t *f = &rt->flushq[s];
        if (!f->started || (sink >= 0 && s != sink))
            continue;
        pthread_mutex_lock(&f->lock);
        done = f->state == SF_DONE;
        pthread_mutex_unlock(&f->lock);
    }
    return done;
}

int shop_rt_sinkflush_busy(shop_runtime_t *rt, int s) {
    shop_sinkflush_t *f = &rt->flushq[s];
    if (!f->started || !f->job)
        return 0;
    pthread_mutex_lock(&f->lock);
    int busy = f->state == SF_QUEUED;
    pthread_mutex_unlock(&f->lock);
    return busy;
}

int shop_rt_sinkflush_idle(const shop_runtime_t *rt) {
    for (int s = 0; s < SHOP_SINK_COUNT; s++)
        if (rt->flushq[s].started && rt->flushq[s].job)
            return 0;
    return 1;
}

/* The outcome of a finished job: the offsets it covered are stored, or the error. */
static int apply(shop_runtime_t *rt, shop_sinkflush_t *f, int rc, int64_t took_us, const char *err,
                 char *errstr, size_t errstr_size) {
    int s = f->sink;
    if (rc == SHOP_OK) {
        for (int i = 0; i < f->n; i++) {
            part_t *p = shop_rt_part(rt, f->e[i].topic, f->e[i].partition, 0, NULL);
            if (p && p->assigned)
                p->stored[s] = f->e[i].to;
        }
        shop_metrics_observe_flush(&rt->metrics, s, took_us);
        atomic_store(&rt->metrics.sink_down[s], 0);
        drop_job(rt, f);
        return SHOP_OK;
    }
    f->state = SF_IDLE; /* the job stays: run again at the retry (or dropped by a rewind) */
    atomic_fetch_add(&rt->metrics.flush_failures[s], 1);
    if (rc == SHOP_ERR_RETRYABLE) {
        atomic_store(&rt->metrics.sink_down[s], 1);
        f->failed = 1;
    }
    return shop_seterr(errstr, errstr_size, rc, "%s", err);
}

/* Takes the worker's pending state of the sink as the job; 0 when no offset moved. */
static int take(shop_runtime_t *rt, shop_sinkflush_t *f) {
    shop_offset_entry_t *e = NULL;
    int n = shop_rt_collect(rt, f->sink, &e);
    if (!n) {
        free(e);
        return 0;
    }
    if (f->sink == SHOP_SINK_PG) {
        f->job = rt->ops->pg_take(rt->w);
    } else {
        shop_redis_batch_t *b = shop_xcalloc(1, sizeof(*b));
        shop_rt_redis_batch(rt, e, n, b);
        shop_rt_redis_taken(rt, e, n);
        f->job = b;
    }
    f->e = e;
    f->n = n;
    return 1;
}

int shop_rt_sinkflush(shop_runtime_t *rt, int s, int wait, int take_new, int *left, char *errstr,
                      size_t errstr_size) {
    shop_sinkflush_t *f = &rt->flushq[s];
    const char *busy = s == SHOP_SINK_PG ? "postgresql: a failed flush is being retried"
                                         : "redis: a failed flush is being retried";
    wait = wait || !f->async;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        while (wait && f->state == SF_QUEUED)
            pthread_cond_wait(&f->cond, &f->lock);
        int state = f->state, rc = f->rc;
        int64_t took = f->took_us;
        char err[512];
        memcpy(err, f->err, sizeof(err));
        pthread_mutex_unlock(&f->lock);
        if (state == SF_DONE && (rc = apply(rt, f, rc, took, err, errstr, errstr_size)))
            return rc;
        if (state == SF_QUEUED) { /* not waiting: the events since go with the next job */
            if (left)
                *left = 1;
            return f->failed ? shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "%s", busy)
                             : SHOP_OK;
        }
        int fresh = 0;
        if (!f->job) { /* a job kept after a failure is run again first */
            if (!take_new || !take(rt, f))
                return SHOP_OK;
            fresh = 1;
        }
        pthread_mutex_lock(&f->lock);
        f->state = SF_QUEUED;
        pthread_cond_signal(&f->cond);
        pthread_mutex_unlock(&f->lock);
        if (!wait) {
            if (left && !fresh)
                *left = 1;
            return f->failed ? shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "%s", busy)
                             : SHOP_OK;
        }
    }
}
