/* runtime.h: runs one worker: consumer group, decode, dispatch, flush with offsets stored in the
 * sinks, dead-letter topic, backoff while a sink is down, metrics and health, replay mode. */
#ifndef SHOP_RUNTIME_H
#define SHOP_RUNTIME_H

#include "config.h"
#include "worker.h"

/* The runtime's own configuration rows (the worker's rows are appended to these). */
extern const shop_conf_def_t shop_runtime_conf[];

typedef struct shop_runtime_opts {
    const shop_worker_ops_t *ops;
    const shop_config_t *cfg; /* borrowed; built from shop_runtime_conf + ops->conf */
    const char *replay_from;  /* replay mode when replay_to or replay_from is set */
    const char *replay_to;
    const char *namespace_name; /* replay namespace (required in replay mode) */
    int until_caught_up;        /* exit once every assigned partition is consumed and flushed */
    int progress;               /* draw a progress line on stderr (replay on a terminal) */
} shop_runtime_opts_t;

/* Runs until SIGTERM/SIGINT (or the end of a replay, or caught up). Returns an exit status:
 * 0 on a clean stop, 1 on a fatal error (logged). */
int shop_runtime_run(const shop_runtime_opts_t *opts);

/* Builds a table of the runtime's rows followed by the worker's, for shop_config_new().
 * Caller frees the returned array (the strings are static). */
shop_conf_def_t *shop_runtime_conf_table(const shop_worker_ops_t *ops);

/* Names of the namespace: "shop:"/"shop" live, "bt:<name>:"/"bt_<name>" for a backtest.
 * Returns SHOP_ERR_CONFIG when `name` is not [a-z0-9_]{1,40}. */
int shop_namespace(const char *name, char *redis_prefix, size_t rsize, char *pg_schema,
                   size_t psize, char *errstr, size_t errstr_size);

/* Applies the embedded SQL migrations to `schema` (created when missing), each once, under an
 * advisory lock. */
int shop_migrate(PGconn *conn, const char *schema, int verbose, char *errstr, size_t errstr_size);

#endif
