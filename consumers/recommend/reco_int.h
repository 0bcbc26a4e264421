/* reco_int.h: the recommendation worker's state, shared by its files (worker, views, read side).
 *
 * Like the search worker (a Kafka Streams task's state store): everything that decides a view is
 * kept per unit (topic partition) and written with that unit's offsets; the refresh thread
 * derives the views from the committed units, summed in name order, so one instance, two, a
 * restart or a replay into a namespace write the same views once the stream is consumed. */
#ifndef SHOP_RECO_INT_H
#define SHOP_RECO_INT_H

#include <pthread.h>

#include "flags.h"
#include "reco.h"
#include "worker.h"

typedef struct reco_w {
    char prefix[128]; /* Redis namespace prefix */
    char schema[64];  /* PostgreSQL schema */
    reco_params_t p;
    reco_unit_t *units; /* the consume thread's */

    /* refresh thread only */
    char *pg_url;
    PGconn *pg;
    char flag_name[128];       /* the A/B flag (reco.flag) */
    shop_flags_t *flags;       /* cached flags, reloaded from PostgreSQL by every refresh */
    int64_t flags_version;     /* max(version) of the cached flags */
    int64_t snapshot_every_ms; /* PostgreSQL similarity snapshot period (0: only full refreshes) */
    int64_t last_snapshot_ms;  /* monotonic */

    /* HTTP side */
    char *redis_url;
    int redis_timeout_ms;
} reco_w_t;

extern const shop_worker_ops_t shop_worker_reco;

/* reco_views.c */
/* Loads unit `name` ("<tag><partition>") from Redis into a new unit (the caller destroys it);
 * NULL with errstr (SHOP_ERR_RETRYABLE) on failure. */
reco_unit_t *reco_unit_load(const char *prefix, struct redisContext *c, const char *name,
                            char *errstr, size_t errstr_size);
int reco_refresh(void *w, struct redisContext *c, int full, char *errstr, size_t errstr_size);

/* reco_pg.c (the refresh thread's own PostgreSQL connection) */
/* Reloads the flag cache when the flags changed (always when `full`); keeps the old one when
 * PostgreSQL is unreachable. */
void reco_flag_cache_reload(reco_w_t *w, int full);
/* Replaces the similarity snapshot and the variant assignments in PostgreSQL (at most every
 * reco.snapshot.ms, and on every full refresh). Failures are logged and retried later. */
void reco_snapshot_pg(reco_w_t *w, const reco_model_t *m, int full, int64_t as_of, size_t users);

/* Upserts each user's variant into reco_variants (rows whose variant changed). */
void reco_variants_pg(reco_w_t *w, const char *const *users, const char *const *variants, size_t n,
                      int64_t as_of);

/* reco_query.c */
int reco_http_route(void *opaque, const char *path, const char *(*query)(void *, const char *),
                    void *req, shop_buf_t *body, const char **content_type);
int reco_cmd_query(int argc, char **argv);

#endif
