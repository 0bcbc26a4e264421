/* runtime_int.h: state shared by the runtime's files (consume loop, rebalance, replay, DLQ). */
#ifndef SHOP_RUNTIME_INT_H
#define SHOP_RUNTIME_INT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>

#include "http.h"
#include "metrics.h"
#include "runtime.h"
#include "store.h"

#define SHOP_OFFSET_NONE (-1)

typedef struct part {
    int assigned;
    int loading; /* waiting for stored offsets (sink down at assignment, or a rewind) */
    int done;    /* replay: reached its end */
    int64_t stored[SHOP_SINK_COUNT]; /* next offset committed in each sink, -1 none */
    int64_t pend[SHOP_SINK_COUNT];   /* next offset covered by pending state, per sink */
    int64_t expect;                  /* next offset to process; lower ones are duplicates */
    int exact;     /* expect is a real offset (read or stored), not a logical start */
    int gap_state; /* 0 normal, 1 re-reading after a gap, 2 re-read twice: accept */
    int64_t gap_deadline_us;
    int64_t begin;          /* replay: first offset of the range */
    int64_t end;            /* replay: exclusive end; INT64_MAX live */
    int64_t hw;             /* high watermark last seen */
    struct shop_dedupe *dd; /* event ids seen (dedupe.c); NULL when dedupe is off */
} part_t;

typedef struct topic_state {
    const char *name;
    const rd_kafka_topic_t *rkt; /* handle last seen on its messages (a cache; may change) */
    part_t *parts;
    int nparts;
} topic_state_t;

/* The derived-views thread (refresh.c); generations are explained there. */
typedef struct shop_refresher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    shop_redis_store_t *redis; /* its own connection */
    int64_t interval_ms;
    int64_t requested, started, done, full_gen;
    int stop, running;
    int urgent; /* a waiter wants the next run now, not after refresh.ms */
    int nice;   /* refresh.nice */
} shop_refresher_t;

/* A sink's flush thread (sinkflush.c): PostgreSQL for workers with ops->pg_take, Redis with
 * redis.flush.async. */
typedef struct shop_sinkflush {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct shop_runtime *rt;
    int sink;
    shop_pg_store_t *pg;       /* its own connection (PostgreSQL) */
    shop_redis_store_t *redis; /* its own connection (Redis) */
    int started;
    int async; /* the consume thread goes on while a job commits */
    /* consume thread (the flush thread reads job, e and n while a job is queued) */
    void *job;              /* PostgreSQL: from ops->pg_take; Redis: a shop_redis_batch_t */
    shop_offset_entry_t *e; /* the offsets it covers */
    int n;
    int failed; /* its last run failed retryably */
    /* under lock */
    int state; /* idle, queued (the thread has it), done (outcome not yet applied) */
    int rc;
    int64_t took_us;
    char err[512];
    int stop;
} shop_sinkflush_t;

typedef struct shop_runtime {
    const shop_runtime_opts_t *opts;
    const shop_worker_ops_t *ops;
    const shop_config_t *cfg;
    void *w;
    shop_worker_env_t env;
    char redis_prefix[128];
    char pg_schema[64];
    char group[256];
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    rd_kafka_t *dlq; /* producer for <topic>.dlq; NULL in replay mode */
    shop_codec_t *codec;
    shop_decoder_t *dec;
    shop_redis_store_t *redis;
    shop_pg_store_t *pg;
    shop_http_t *http;
    shop_metrics_t metrics;
    topic_state_t *topics;
    char **topic_names; /* topic.prefix + the worker's topics, heap */
    int ntopics;
    int replay;
    int paused; /* all partitions paused because a flush failed */
    int any_loading;
    int dlq_failed; /* a dead letter was refused: never store offsets past it */
    int fatal;
    int64_t pending_events;
    int pg_left; /* a due flush found PostgreSQL's job in flight: its rows since wait for it */
    int64_t last_flush_us;
    int64_t backoff_ms;
    int64_t next_retry_us;
    int64_t processed;
    int64_t first_msg_us;              /* when the first message arrived (throughput figures) */
    int64_t first_cpu_us, last_cpu_us; /* the consume thread's CPU time then and at the last */
    int64_t last_msg_us;
    int64_t replay_total;
    int64_t flush_events;
    int64_t flush_ms;
    int64_t flush_drained_ms; /* -1: off */
    int fetch_behind;         /* the queue ran dry before the partitions' ends (see behind()) */
    int64_t dedupe_window_ms; /* 0: event-id dedupe off */
    int64_t max_string_bytes; /* event.max.string.bytes */
    int64_t dlq_max_bytes;    /* dlq.max.bytes */
    shop_refresher_t refresher;
    shop_sinkflush_t flushq[SHOP_SINK_COUNT];
    struct shop_merge *merge; /* consume.ordered: event-time order across the topics; NULL off */
} shop_runtime_t;

extern volatile sig_atomic_t shop_runtime_stop;

/* runtime.c */
/* Flushes every sink. `wait`: also until the PostgreSQL flush thread has committed everything
 * (a revoke, a shutdown); otherwise its job may still be running when this returns. */
int shop_rt_flush(shop_runtime_t *rt, int wait, char *errstr, size_t errstr_size);
/* Entries for sink s: partitions with pending progress. Returns the count; *out is heap. */
int shop_rt_collect(shop_runtime_t *rt, int s, shop_offset_entry_t **out);
void shop_rt_rewind(shop_runtime_t *rt, const char *why);
part_t *shop_rt_part(shop_runtime_t *rt, const char *topic, int32_t partition, int create,
                     int *topic_idx);
void shop_rt_pause_all(shop_runtime_t *rt, int pause);

/* validate.c: every string valid UTF-8 without control characters and at most max_bytes long,
 * every float finite. 0 or SHOP_ERR_INVALID naming the field. */
int shop_rt_validate_event(const shop_event_t *ev, size_t max_bytes, char *errstr,
                           size_t errstr_size);

/* merge.c: event-time order across co-partitioned topics (see the file). drained(arg, topic,
 * partition) says that a topic partition with nothing held has nothing more to read now. */
typedef struct shop_merge shop_merge_t;
typedef int (*shop_merge_drained_fn)(void *arg, int topic, int32_t partition);
shop_merge_t *shop_merge_new(int ntopics, int nparts, size_t cap, int64_t idle_us);
void shop_merge_destroy(shop_merge_t *m, void (*free_msg)(void *));
/* Holds msg; -1 when (topic, partition) is outside the merge (dispatch it at once). */
int shop_merge_push(shop_merge_t *m, int topic, int32_t partition, int64_t ts, void *msg);
/* The next message to dispatch, or NULL when none may go yet. */
void *shop_merge_pop(shop_merge_t *m, shop_merge_drained_fn drained, void *arg, int64_t now_us);
size_t shop_merge_held(const shop_merge_t *m);

/* dedupe.c */
typedef struct shop_dedupe shop_dedupe_t;
shop_dedupe_t *shop_dedupe_new(void);
void shop_dedupe_destroy(shop_dedupe_t *d);
/* 1 when `id` was seen at a smaller offset within `window` ms of event time. */
int shop_dedupe_check(shop_dedupe_t *d, const char *id, int64_t offset, int64_t at, int64_t window);
/* Remembers a processed event (written at the next flush). */
void shop_dedupe_record(shop_dedupe_t *d, const char *id, int64_t offset, int64_t at,
                        int64_t window);
/* Appends the ids to write (one chunk) and the chunks that left the window to the Redis batch,
 * under `key`. */
void shop_dedupe_flush(shop_dedupe_t *d, shop_redis_batch_t *b, const char *key, int64_t window);
void shop_dedupe_flushed(shop_dedupe_t *d);
/* Replaces the ids with those of the stored hash fields/values (HGETALL of the key); returns how
 * many did not parse (dropped). */
int shop_dedupe_load_pairs(shop_dedupe_t *d, size_t n, const char *const *fields,
                           const size_t *flens, const char *const *vals, const size_t *vlens,
                           int64_t window);
/* Replaces the ids with those stored under `key`. 0 or SHOP_ERR_RETRYABLE. */
int shop_dedupe_load(shop_dedupe_t *d, struct redisContext *c, const char *key, int64_t window,
                     char *errstr, size_t errstr_size);
/* The Redis key of a partition's ids. */
void shop_rt_dedupe_key(const shop_runtime_t *rt, const char *topic, int32_t partition, char *buf,
                        size_t size);
/* Forgets a partition's part_t contents (its dedupe state too). */
void shop_rt_part_reset(part_t *p);

/* sinkflush.c */
int shop_rt_sinkflush_start(shop_runtime_t *rt, char *errstr, size_t errstr_size);
void shop_rt_sinkflush_stop(shop_runtime_t *rt);
/* Sink s's part of a flush, for a sink with a flush thread: applies a finished job, then (with
 * take_new) hands the pending state over as the next one, and with `wait` waits until all is
 * committed. Sets *left (when not NULL) when pending state stays with the worker (a job is in
 * flight). Return codes as for a commit; a job being retried after a failure reports RETRYABLE. */
int shop_rt_sinkflush(shop_runtime_t *rt, int s, int wait, int take_new, int *left, char *errstr,
                      size_t errstr_size);
/* Drops every sink's job (waiting for a run in progress): a rewind. */
void shop_rt_sinkflush_discard(shop_runtime_t *rt);
/* A job of sink s (any sink: -1) has finished and waits to be applied by shop_rt_sinkflush(). */
int shop_rt_sinkflush_done(shop_runtime_t *rt, int s);
/* Sink s has a job on its thread, not finished yet. */
int shop_rt_sinkflush_busy(shop_runtime_t *rt, int s);
/* No job is taken and uncommitted, in any sink. */
int shop_rt_sinkflush_idle(const shop_runtime_t *rt);
/* runtime.c: a Redis flush's batch (the worker's commands and the event ids of the partitions in
 * e), and what follows its hand-over (the worker's and the event ids' pending state dropped). */
void shop_rt_redis_batch(shop_runtime_t *rt, const shop_offset_entry_t *e, int n,
                         shop_redis_batch_t *b);
void shop_rt_redis_taken(shop_runtime_t *rt, const shop_offset_entry_t *e, int n);
/* runtime.c: a new connection to the worker's Redis (with its offsets key) and PostgreSQL. */
shop_redis_store_t *shop_rt_redis_open(shop_runtime_t *rt, char *errstr, size_t errstr_size);
shop_pg_store_t *shop_rt_pg_open(shop_runtime_t *rt, char *errstr, size_t errstr_size);

/* refresh.c */
int shop_rt_refresh_start(shop_runtime_t *rt, char *errstr, size_t errstr_size);
void shop_rt_refresh_request(shop_runtime_t *rt);
int shop_rt_refresh_wait(shop_runtime_t *rt, int64_t timeout_ms);
void shop_rt_refresh_stop(shop_runtime_t *rt);

/* rebalance.c */
void shop_rt_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts, void *opaque);
/* Loads stored offsets for loading partitions, seeks and resumes them. 0 or RETRYABLE. */
int shop_rt_load_offsets(shop_runtime_t *rt, char *errstr, size_t errstr_size);
/* Reads the stored offsets of `n` partitions from every sink into their part_t. */
int shop_rt_load_entries(shop_runtime_t *rt, shop_offset_entry_t *e, int n, char *errstr,
                         size_t errstr_size);
/* Where partition p starts (sets p->expect to match). */
int64_t shop_rt_start_of(shop_runtime_t *rt, part_t *p);
/* Smallest offset any sink still needs (or `fallback` when a sink has none stored). */
int64_t shop_rt_start_offset(const shop_runtime_t *rt, const part_t *p, int64_t fallback);

/* librdkafka's log lines as logfmt (every client of the runtime uses it). */
void shop_rt_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* dlq.c */
rd_kafka_t *shop_rt_dlq_new(shop_runtime_t *rt, char *errstr, size_t errstr_size);
void shop_rt_dlq_send(shop_runtime_t *rt, const rd_kafka_message_t *m, const char *reason);
/* 0 when every dead-letter message is acknowledged by the broker, else RETRYABLE. */
int shop_rt_dlq_drain(shop_runtime_t *rt, int timeout_ms, char *errstr, size_t errstr_size);

/* replay.c */
int shop_rt_replay_assign(shop_runtime_t *rt, char *errstr, size_t errstr_size);
int shop_rt_replay_done(shop_runtime_t *rt);
void shop_rt_progress(shop_runtime_t *rt, int final);

#endif
