/* store.h: the two sinks' connections and their offset records, committed atomically with the
 * worker's results (Redis MULTI/EXEC, one PostgreSQL transaction), fenced against stale owners. */
#ifndef SHOP_STORE_H
#define SHOP_STORE_H

#include <stdint.h>

#include "worker.h"

/* One partition's part in a flush: the stored offset it expects to find (`from`, -1 when none
 * is stored yet) and the one it writes (`to`). */
typedef struct shop_offset_entry {
    const char *topic;
    int32_t partition;
    int64_t from;
    int64_t to;
} shop_offset_entry_t;

/* The fence both sinks apply before a commit: 0 when every stored offset equals its entry's
 * `from` (go ahead), 1 when every one already equals `to` (an earlier commit landed but its reply
 * was lost), -1 otherwise (another owner moved them: rewind). */
static inline int shop_offsets_compare(const shop_offset_entry_t *entries, int n,
                                       const int64_t *stored) {
    int at_from = 1, at_to = 1;
    for (int i = 0; i < n; i++) {
        if (stored[i] != entries[i].from)
            at_from = 0;
        if (stored[i] != entries[i].to)
            at_to = 0;
    }
    return at_from ? 0 : at_to ? 1 : -1;
}

/* ---- Redis ---- */
typedef struct shop_redis_store shop_redis_store_t;

/* `url` is redis://[:password@]host[:port][/db]. Connects lazily. The caller destroys it. */
shop_redis_store_t *shop_redis_store_new(const char *url, const char *offsets_key, int timeout_ms,
                                         char *errstr, size_t errstr_size);
void shop_redis_store_destroy(shop_redis_store_t *s);
/* 0 when PING answers, else SHOP_ERR_RETRYABLE. */
int shop_redis_store_ping(shop_redis_store_t *s, char *errstr, size_t errstr_size);
/* Reads the stored next offset of each entry into entries[i].from (-1 when absent). */
int shop_redis_store_load(shop_redis_store_t *s, shop_offset_entry_t *entries, int n, char *errstr,
                          size_t errstr_size);
/* WATCH the offsets, check they equal each `from` (or already each `to`: an earlier EXEC whose
 * reply was lost), then MULTI, the batch, the new offsets, EXEC.
 * Returns 0 (committed, or found committed), SHOP_ERR_RETRYABLE (Redis unreachable: retry),
 * SHOP_ERR_CONFLICT (offsets are something else: rewind) or SHOP_ERR_FATAL (a command failed
 * inside EXEC: a bug). */
int shop_redis_store_commit(shop_redis_store_t *s, const shop_redis_batch_t *batch,
                            const shop_offset_entry_t *entries, int n, char *errstr,
                            size_t errstr_size);
/* Direct access for queries (NULL when not connected and connecting failed). Borrowed. */
struct redisContext *shop_redis_store_conn(shop_redis_store_t *s, char *errstr, size_t errstr_size);
/* A connection of the calling thread's own to `url` (HTTP routes run on a thread per connection),
 * opened on first use and closed when the thread ends. One per thread: every caller in a process
 * is expected to pass the same URL. NULL with errstr when Redis cannot be reached. Borrowed. */
struct redisContext *shop_redis_thread_conn(const char *url, int timeout_ms, char *errstr,
                                            size_t errstr_size);

/* ---- PostgreSQL ---- */
typedef struct shop_pg_store shop_pg_store_t;

/* `url` is a libpq connection string or URI; `schema` is set as search_path. */
shop_pg_store_t *shop_pg_store_new(const char *url, const char *schema, const char *group,
                                   int timeout_ms, char *errstr, size_t errstr_size);
void shop_pg_store_destroy(shop_pg_store_t *s);
int shop_pg_store_ping(shop_pg_store_t *s, char *errstr, size_t errstr_size);
int shop_pg_store_load(shop_pg_store_t *s, shop_offset_entry_t *entries, int n, char *errstr,
                       size_t errstr_size);
/* The statements of one flush: a worker's flush_pg(w, ...) or a job's pg_job_run(job, ...). */
typedef int (*shop_pg_flush_fn)(void *arg, PGconn *conn, char *errstr, size_t errstr_size);
/* BEGIN; lock and check the offset rows as for Redis; fn(arg, conn) runs the statements (fn may
 * be NULL); upsert the offsets; COMMIT. Same return codes as shop_redis_store_commit. */
int shop_pg_store_commit(shop_pg_store_t *s, shop_pg_flush_fn fn, void *arg,
                         const shop_offset_entry_t *entries, int n, char *errstr,
                         size_t errstr_size);
/* Connection for queries, or NULL. Borrowed. */
PGconn *shop_pg_store_conn(shop_pg_store_t *s, char *errstr, size_t errstr_size);

/* Array literals for bulk statements (INSERT ... SELECT FROM unnest($1::text[], ...): one short
 * statement whatever the row count, where a VALUES list of n rows costs PostgreSQL a parse of n
 * rows). Each call appends one element (NULL: SQL NULL), the first one opening the brace; end
 * closes it ("{}" when empty). Numbers may be passed as text: '{"1","2"}'::bigint[] is valid. */
void shop_pg_array_add(shop_buf_t *b, const char *s);
void shop_pg_array_end(shop_buf_t *b);

#endif
