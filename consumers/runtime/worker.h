/* worker.h: the contract between the runtime and a worker: pure event processing plus the
 * sink callbacks that turn pending state into Redis commands and PostgreSQL statements. */
#ifndef SHOP_WORKER_H
#define SHOP_WORKER_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "shop.h"
#include "shop_codec.h"

struct redisContext;

#define SHOP_SINK_REDIS  0
#define SHOP_SINK_PG     1
#define SHOP_SINK_COUNT  2
#define SHOP_SINK_BIT(s) (1u << (s))

#define SHOP_REFRESH_PARTIAL 1 /* a refresh left work for a later call */

/* Where a worker writes: the live namespace or a backtest's. */
typedef struct shop_worker_env {
    const shop_config_t *cfg; /* the worker's configuration (borrowed) */
    const char *redis_prefix; /* "shop:" live, "bt:<name>:" for a backtest */
    const char *pg_schema;    /* "shop" live, "bt_<name>" for a backtest */
    const char *name;         /* worker name */
} shop_worker_env_t;

/* Redis commands of one flush, pipelined inside the runtime's MULTI/EXEC.
 * Commands are stored in RESP form; the runtime owns the batch. */
typedef struct shop_redis_batch {
    shop_buf_t resp;
    int ncmds;
} shop_redis_batch_t;

/* Appends one command, argv style (binary safe). */
void shop_redis_batch_argv(shop_redis_batch_t *b, int argc, const char **argv, const size_t *lens);
/* Appends one command from printf-like arguments split on spaces (hiredis's format rules:
 * %s for a C string, %b for a binary string + size_t length, %lld for long long). */
void shop_redis_batch_cmd(shop_redis_batch_t *b, const char *fmt, ...);

/* Runs one statement inside the runtime's open transaction. Returns 0, SHOP_ERR_RETRYABLE when
 * the connection failed, or SHOP_ERR_INVALID (a bug: SQL error) with the message in errstr. */
/* For a failed or unexpected Redis reply: sets errstr to the connection's error, the error reply
 * (a restarting Redis says LOADING) or "unexpected reply", frees r, returns SHOP_ERR_RETRYABLE. */
struct redisReply;
int shop_redis_reply_err(struct redisContext *c, struct redisReply *r, char *errstr,
                         size_t errstr_size);

int shop_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                 char *errstr, size_t errstr_size);

typedef struct shop_worker_ops {
    const char *name;            /* "analytics" */
    const char *description;     /* one line for `shopstream run --list` */
    const char *const *topics;   /* NULL-terminated topics it consumes */
    unsigned sinks;              /* SHOP_SINK_BIT(...) of the sinks it writes */
    int default_port;            /* its HTTP port unless http.port says otherwise */
    const shop_conf_def_t *conf; /* its own config rows (NULL-name terminated), may be NULL */

    /* Creates the worker state; NULL with errstr on failure. */
    void *(*create)(const shop_worker_env_t *env, char *errstr, size_t errstr_size);
    void (*destroy)(void *w);

    /* Processes one event for the sinks in `sinks` (a sink whose stored offset is already past
     * this event is left out). Pure: time comes from the event. Returns 0 or SHOP_ERR_INVALID
     * (the event goes to the dead-letter topic with errstr as the reason); an invalid event must
     * leave the state untouched, so validate before updating. */
    int (*process)(void *w, const shop_event_t *ev, unsigned sinks, char *errstr,
                   size_t errstr_size);

    /* Appends the pending Redis updates to `b`. Must not clear them: a failed flush is retried
     * with the same state. */
    void (*flush_redis)(void *w, shop_redis_batch_t *b);
    /* Runs the pending PostgreSQL statements inside the open transaction. Same rule. */
    int (*flush_pg)(void *w, PGconn *conn, char *errstr, size_t errstr_size);
    /* The flush of `sink` committed: drop that sink's pending state. */
    void (*flushed)(void *w, int sink);
    /* A flush could not be committed and the runtime rewinds to the stored offsets: drop all
     * pending state of every sink. */
    void (*discard)(void *w);
    /* Pending entries (for flush triggers and the state-size metric). */
    size_t (*pending)(void *w);

    /* Optional, instead of flush_pg: PostgreSQL flushes on the runtime's own thread (sinkflush.c),
     * so that neither consumption nor the Redis flush waits for PostgreSQL. pg_take (consume
     * thread, after a flush_redis) moves the pending PostgreSQL state into a job and clears it
     * from the worker. pg_job_run runs the job's statements inside the open transaction, on the
     * flusher's thread: it may touch only the job and thread-safe handles, and runs again after
     * a failed commit. pg_job_free frees a job (committed, or dropped by a rewind). flushed() is
     * not called for the PostgreSQL sink of such a worker. */
    void *(*pg_take)(void *w);
    int (*pg_job_run)(void *job, PGconn *conn, char *errstr, size_t errstr_size);
    void (*pg_job_free)(void *job);

    /* Optional hooks for workers that keep state per partition (NULL when unused). */

    /* The stored offsets of these partitions were just read (at assignment, and again after a
     * rewind): replace any state held for them by what is committed in the sinks, which is
     * consistent with those offsets. Returns 0 or SHOP_ERR_RETRYABLE (a sink is down: the
     * runtime retries later with the partitions paused). */
    int (*restore)(void *w, const char *const *topics, const int32_t *partitions, int n,
                   struct redisContext *redis, PGconn *pg, char *errstr, size_t errstr_size);
    /* The partition was revoked after its state was flushed (or rewound): forget it. */
    void (*release)(void *w, const char *topic, int32_t partition);
    /* Recomputes views derived from the committed state, on a thread of its own with its own
     * connection (so it may only touch state no other hook touches). Called at most once per
     * refresh.ms while flushes commit, and with `full` set once before a replay or an
     * --until-caught-up run ends. Idempotent. Returns 0, SHOP_REFRESH_PARTIAL when it left its
     * costlier views for a later call (the runtime calls again after refresh.ms; `full` forbids
     * it), or an error code (logged, retried on the next turn). */
    int (*refresh)(void *w, struct redisContext *redis, int full, char *errstr, size_t errstr_size);
    /* The worker's own HTTP routes (runs on the HTTP thread, with its own connections). */
    shop_http_route_fn route;
} shop_worker_ops_t;

/* A worker's switch for effects outside its views (producing events, sending notifications):
 * the config key `key` says "on" or "off"; anything else ("auto") means on in the live namespace
 * and off in a backtest's (bt:), so that a replay never acts on the world. */
int shop_worker_acts(const shop_worker_env_t *env, const char *key);

/* The registry of workers compiled into the binary (consumers/workers.c). */
const shop_worker_ops_t *shop_worker_find(const char *name);
const shop_worker_ops_t *const *shop_worker_all(void);

#endif
