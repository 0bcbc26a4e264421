/* pgflush.c: the PostgreSQL sink's flushes on a thread of their own, for workers that hand their
 * pending PostgreSQL state over as a job (ops->pg_take). The consume thread flushes Redis, takes a
 * job with the offsets it covers and goes on consuming while the thread commits it with a
 * connection of its own; the next job is taken when that commit is known. One job at a time, so
 * PostgreSQL still sees the offsets fenced in order: a job's `from` is the previous one's `to`.
 *
 * A job that fails retryably is kept and run again (consumption pauses, as for any sink outage);
 * a conflict or a rewind drops it, and the worker's state is rebuilt from the stored offsets.
 * With pg.flush.async off (the default) the consume thread waits for each job, as it waited for
 * an inline flush: on a 2-core box shared with the broker the overlap cost more than it saved
 * (consumers/fraud/README.md, "Latency"). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "runtime_int.h"

enum { PGF_IDLE, PGF_QUEUED, PGF_DONE };

static void *pgflush_main(void *arg) {
    shop_runtime_t *rt = arg;
    shop_pgflush_t *f = &rt->pgflush;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->stop && f->state != PGF_QUEUED)
            pthread_cond_wait(&f->cond, &f->lock);
        if (f->stop)
            break;
        /* the consume thread leaves job, e and n alone while the job is queued */
        pthread_mutex_unlock(&f->lock);
        char err[512] = "";
        int64_t t0 = shop_mono_us();
        int rc = shop_pg_store_commit(f->store, rt->ops->pg_job_run, f->job, f->e, f->n, err,
                                      sizeof(err));
        pthread_mutex_lock(&f->lock);
        f->rc = rc;
        f->took_us = shop_mono_us() - t0;
        memcpy(f->err, err, sizeof(err));
        f->state = PGF_DONE;
        pthread_cond_broadcast(&f->cond);
        if (rt->queue)
            rd_kafka_queue_yield(rt->queue); /* the consume loop applies it and takes the next */
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

int shop_rt_pgflush_start(shop_runtime_t *rt, char *errstr, size_t errstr_size) {
    shop_pgflush_t *f = &rt->pgflush;
    if (!rt->pg || !rt->ops->pg_take)
        return SHOP_OK;
    f->async = shop_config_get_bool(rt->cfg, "pg.flush.async");
    f->store =
        shop_pg_store_new(shop_config_get(rt->cfg, "pg.url"), rt->pg_schema, rt->ops->name,
                          (int)shop_config_get_int(rt->cfg, "pg.timeout.ms"), errstr, errstr_size);
    if (!f->store)
        return SHOP_ERR_CONFIG;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (pthread_create(&f->thread, NULL, pgflush_main, rt)) {
        shop_pg_store_destroy(f->store);
        f->store = NULL;
        return shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "cannot start the flush thread");
    }
    f->started = 1;
    return SHOP_OK;
}

/* Waits until the thread holds no job (queued or running). */
static void settle(shop_pgflush_t *f) {
    pthread_mutex_lock(&f->lock);
    while (f->state == PGF_QUEUED)
        pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);
}

static void drop_job(shop_runtime_t *rt) {
    shop_pgflush_t *f = &rt->pgflush;
    if (f->job)
        rt->ops->pg_job_free(f->job);
    free(f->e);
    f->job = NULL;
    f->e = NULL;
    f->n = 0;
    f->state = PGF_IDLE;
    f->failed = 0;
}

void shop_rt_pgflush_discard(shop_runtime_t *rt) {
    if (!rt->pgflush.started)
        return;
    settle(&rt->pgflush);
    drop_job(rt);
}

void shop_rt_pgflush_stop(shop_runtime_t *rt) {
    shop_pgflush_t *f = &rt->pgflush;
    if (!f->started)
        return;
    settle(f);
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    drop_job(rt);
    shop_pg_store_destroy(f->store);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    f->started = 0;
}

int shop_rt_pgflush_done(shop_runtime_t *rt) {
    shop_pgflush_t *f = &rt->pgflush;
    if (!f->started)
        return 0;
    pthread_mutex_lock(&f->lock);
    int done = f->state == PGF_DONE;
    pthread_mutex_unlock(&f->lock);
    return done;
}

int shop_rt_pgflush_idle(const shop_runtime_t *rt) {
    return !rt->pgflush.started || !rt->pgflush.job;
}

/* The outcome of a finished job: the offsets it covered are stored, or the error. */
static int apply(shop_runtime_t *rt, int rc, int64_t took_us, const char *err, char *errstr,
                 size_t errstr_size) {
    shop_pgflush_t *f = &rt->pgflush;
    if (rc == SHOP_OK) {
        for (int i = 0; i < f->n; i++) {
            part_t *p = shop_rt_part(rt, f->e[i].topic, f->e[i].partition, 0, NULL);
            if (p && p->assigned)
                p->stored[SHOP_SINK_PG] = f->e[i].to;
        }
        shop_metrics_observe_flush(&rt->metrics, SHOP_SINK_PG, took_us);
        atomic_store(&rt->metrics.sink_down[SHOP_SINK_PG], 0);
        drop_job(rt);
        return SHOP_OK;
    }
    f->state = PGF_IDLE; /* the job stays: run again at the retry (or dropped by a rewind) */
    atomic_fetch_add(&rt->metrics.flush_failures[SHOP_SINK_PG], 1);
    if (rc == SHOP_ERR_RETRYABLE) {
        atomic_store(&rt->metrics.sink_down[SHOP_SINK_PG], 1);
        f->failed = 1;
    }
    return shop_seterr(errstr, errstr_size, rc, "%s", err);
}

int shop_rt_pgflush(shop_runtime_t *rt, int wait, char *errstr, size_t errstr_size) {
    shop_pgflush_t *f = &rt->pgflush;
    wait = wait || !f->async;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        while (wait && f->state == PGF_QUEUED)
            pthread_cond_wait(&f->cond, &f->lock);
        int state = f->state, rc = f->rc;
        int64_t took = f->took_us;
        char err[512];
        memcpy(err, f->err, sizeof(err));
        pthread_mutex_unlock(&f->lock);
        if (state == PGF_DONE && (rc = apply(rt, rc, took, err, errstr, errstr_size)))
            return rc;
        if (state == PGF_QUEUED) /* not waiting: the events since go with the next job */
            return f->failed ? shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                                           "postgresql: a failed flush is being retried")
                             : SHOP_OK;
        if (!f->job) {
            shop_offset_entry_t *e = NULL;
            int n = shop_rt_collect(rt, SHOP_SINK_PG, &e);
            if (!n) {
                free(e);
                return SHOP_OK;
            }
            f->job = rt->ops->pg_take(rt->w);
            f->e = e;
            f->n = n;
        }
        pthread_mutex_lock(&f->lock);
        f->state = PGF_QUEUED;
        pthread_cond_signal(&f->cond);
        pthread_mutex_unlock(&f->lock);
        if (!wait)
            return f->failed ? shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                                           "postgresql: a failed flush is being retried")
                             : SHOP_OK;
    }
}
