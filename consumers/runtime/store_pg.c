/* store_pg.c: PostgreSQL sink: connection with reconnects, offsets read back on assignment, and
 * one transaction per flush carrying the worker's statements and its offsets, fenced by a
 * SELECT ... FOR UPDATE of the offset rows. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct shop_pg_store {
    char *url;
    char *schema;
    char *group;
    int timeout_ms;
    PGconn *conn;
};

/* Server NOTICEs ("schema already exists, skipping") are not worth a log line. */
static void quiet_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static int conn_lost(PGconn *c) {
    return !c || PQstatus(c) != CONNECTION_OK;
}

int shop_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                 char *errstr, size_t errstr_size) {
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    int rc = SHOP_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        /* Class 08 (connection), 57P (shutdown), 40001/40P01 (serialization, deadlock) retry. */
        int retry = conn_lost(conn) || !state || !strncmp(state, "08", 2) ||
                    !strncmp(state, "57P", 3) || !strcmp(state, "40001") || !strcmp(state, "40P01");
        rc = shop_seterr(errstr, errstr_size, retry ? SHOP_ERR_RETRYABLE : SHOP_ERR_INVALID,
                         "postgresql: %s", PQerrorMessage(conn));
        char *nl = errstr ? strrchr(errstr, '\n') : NULL;
        if (nl && !nl[1])
            *nl = '\0';
    }
    PQclear(res);
    return rc;
}

shop_pg_store_t *shop_pg_store_new(const char *url, const char *schema, const char *group,
                                   int timeout_ms, char *errstr, size_t errstr_size) {
    (void)errstr;
    (void)errstr_size;
    shop_pg_store_t *s = shop_xcalloc(1, sizeof(*s));
    s->url = shop_xstrdup(url);
    s->schema = shop_xstrdup(schema);
    s->group = shop_xstrdup(group);
    s->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    return s;
}

static void disconnect(shop_pg_store_t *s) {
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
}

void shop_pg_store_destroy(shop_pg_store_t *s) {
    if (!s)
        return;
    disconnect(s);
    free(s->url);
    free(s->schema);
    free(s->group);
    free(s);
}

PGconn *shop_pg_store_conn(shop_pg_store_t *s, char *errstr, size_t errstr_size) {
    if (s->conn && !conn_lost(s->conn))
        return s->conn;
    disconnect(s);
    char timeout[32], opts[300];
    snprintf(timeout, sizeof(timeout), "%d", (s->timeout_ms + 999) / 1000);
    /* statement_timeout bounds a hung server; search_path selects the namespace's schema. */
    snprintf(opts, sizeof(opts), "-c statement_timeout=%d -c search_path=%s", s->timeout_ms * 6,
             s->schema);
    const char *keys[] = {"dbname", "connect_timeout", "options", "application_name", NULL};
    const char *vals[] = {s->url, timeout, opts, "shopstream", NULL};
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (conn_lost(s->conn)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "postgresql: %s",
                    s->conn ? PQerrorMessage(s->conn) : "out of memory");
        char *nl = errstr ? strrchr(errstr, '\n') : NULL;
        if (nl && !nl[1])
            *nl = '\0';
        disconnect(s);
        return NULL;
    }
    PQsetNoticeProcessor(s->conn, quiet_notice, NULL);
    return s->conn;
}

int shop_pg_store_ping(shop_pg_store_t *s, char *errstr, size_t errstr_size) {
    PGconn *c = shop_pg_store_conn(s, errstr, errstr_size);
    if (!c)
        return SHOP_ERR_RETRYABLE;
    int rc = shop_pg_exec(c, "SELECT 1", 0, NULL, errstr, errstr_size);
    if (rc)
        disconnect(s);
    return rc ? SHOP_ERR_RETRYABLE : SHOP_OK;
}

/* Reads stored offsets (optionally locking the rows) into out[i], -1 when absent. */
static int read_offsets(shop_pg_store_t *s, const shop_offset_entry_t *entries, int n, int64_t *out,
                        int lock, char *errstr, size_t errstr_size) {
    /* Every row of the group, locked in one order: two instances flushing in a rebalance (the
     * old owner on revoke, the new one) deadlocked when they locked in scan order (CI). */
    const char *sql = lock ? "SELECT topic, partition, next_offset FROM shop_offsets "
                             "WHERE consumer_group = $1 ORDER BY topic, partition FOR UPDATE"
                           : "SELECT topic, partition, next_offset FROM shop_offsets "
                             "WHERE consumer_group = $1";
    const char *params[1] = {s->group};
    PGresult *res = PQexecParams(s->conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        int retry =
            conn_lost(s->conn) || (state && (!strcmp(state, "40001") || !strcmp(state, "40P01")));
        shop_seterr(errstr, errstr_size, retry ? SHOP_ERR_RETRYABLE : SHOP_ERR_FATAL,
                    "postgresql offsets: %s", PQerrorMessage(s->conn));
        PQclear(res);
        if (retry)
            disconnect(s);
        return retry ? SHOP_ERR_RETRYABLE : SHOP_ERR_FATAL;
    }
    for (int i = 0; i < n; i++)
        out[i] = -1;
    for (int row = 0; row < PQntuples(res); row++) {
        const char *topic = PQgetvalue(res, row, 0);
        int32_t part = (int32_t)atoi(PQgetvalue(res, row, 1));
        for (int i = 0; i < n; i++)
            if (entries[i].partition == part && !strcmp(entries[i].topic, topic))
                out[i] = strtoll(PQgetvalue(res, row, 2), NULL, 10);
    }
    PQclear(res);
    return SHOP_OK;
}

int shop_pg_store_load(shop_pg_store_t *s, shop_offset_entry_t *entries, int n, char *errstr,
                       size_t errstr_size) {
    if (!shop_pg_store_conn(s, errstr, errstr_size))
        return SHOP_ERR_RETRYABLE;
    int64_t *vals = shop_xcalloc((size_t)n + 1, sizeof(int64_t));
    int rc = read_offsets(s, entries, n, vals, 0, errstr, errstr_size);
    if (!rc)
        for (int i = 0; i < n; i++)
            entries[i].from = vals[i];
    free(vals);
    return rc;
}

static int write_offsets(shop_pg_store_t *s, const shop_offset_entry_t *entries, int n,
                         char *errstr, size_t errstr_size) {
    shop_buf_t sql;
    shop_buf_init(&sql);
    shop_buf_puts(
        &sql, "INSERT INTO shop_offsets (consumer_group, topic, partition, next_offset) VALUES ");
    const char **params = shop_xcalloc((size_t)n * 3 + 1, sizeof(char *));
    char(*nums)[24] = shop_xcalloc((size_t)n * 2 + 1, sizeof(*nums));
    for (int i = 0; i < n; i++) {
        snprintf(nums[2 * i], sizeof(nums[0]), "%d", (int)entries[i].partition);
        snprintf(nums[2 * i + 1], sizeof(nums[0]), "%lld", (long long)entries[i].to);
        params[3 * i] = entries[i].topic;
        params[3 * i + 1] = nums[2 * i];
        params[3 * i + 2] = nums[2 * i + 1];
        shop_buf_printf(&sql, "%s($1, $%d, $%d::int, $%d::bigint)", i ? ", " : "", 3 * i + 2,
                        3 * i + 3, 3 * i + 4);
    }
    shop_buf_puts(&sql, " ON CONFLICT (consumer_group, topic, partition) DO UPDATE "
                        "SET next_offset = EXCLUDED.next_offset, updated_at = now()");
    const char **all = shop_xcalloc((size_t)n * 3 + 2, sizeof(char *));
    all[0] = s->group;
    memcpy(all + 1, params, (size_t)n * 3 * sizeof(char *));
    int rc = shop_pg_exec(s->conn, sql.buf, n * 3 + 1, all, errstr, errstr_size);
    free(all);
    free(params);
    free(nums);
    shop_buf_release(&sql);
    return rc;
}

int shop_pg_store_commit(shop_pg_store_t *s, shop_pg_flush_fn fn, void *arg,
                         const shop_offset_entry_t *entries, int n, char *errstr,
                         size_t errstr_size) {
    if (!shop_pg_store_conn(s, errstr, errstr_size))
        return SHOP_ERR_RETRYABLE;
    int rc = shop_pg_exec(s->conn, "BEGIN", 0, NULL, errstr, errstr_size);
    if (rc)
        goto fail;
    int64_t *stored = shop_xcalloc((size_t)n + 1, sizeof(int64_t));
    rc = read_offsets(s, entries, n, stored, 1, errstr, errstr_size);
    int cmp = rc ? 0 : shop_offsets_compare(entries, n, stored);
    free(stored);
    if (rc)
        goto fail;
    if (cmp != 0) {
        shop_pg_exec(s->conn, "ROLLBACK", 0, NULL, NULL, 0);
        if (cmp == 1)
            return SHOP_OK; /* the earlier COMMIT landed; its reply was lost */
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFLICT,
                           "postgresql offsets of group %s are not where this worker left them",
                           s->group);
    }
    if (fn && (rc = fn(arg, s->conn, errstr, errstr_size)))
        goto fail;
    if ((rc = write_offsets(s, entries, n, errstr, errstr_size)))
        goto fail;
    if ((rc = shop_pg_exec(s->conn, "COMMIT", 0, NULL, errstr, errstr_size)))
        goto fail;
    return SHOP_OK;
fail:
    if (rc == SHOP_ERR_RETRYABLE || conn_lost(s->conn)) {
        disconnect(s); /* outcome of a lost COMMIT is settled by the next try's compare */
        return SHOP_ERR_RETRYABLE;
    }
    shop_pg_exec(s->conn, "ROLLBACK", 0, NULL, NULL, 0);
    return rc == SHOP_ERR_INVALID ? SHOP_ERR_FATAL : rc;
}

void shop_pg_array_add(shop_buf_t *b, const char *s) {
    shop_buf_append(b, b->len ? "," : "{", 1);
    if (!s) {
        shop_buf_append(b, "NULL", 4);
        return;
    }
    shop_buf_append(b, "\"", 1);
    for (const char *run = s;; s++) {
        if (*s && *s != '"' && *s != '\\')
            continue;
        shop_buf_append(b, run, (size_t)(s - run));
        if (!*s)
            break;
        shop_buf_append(b, "\\", 1);
        run = s; /* the quote or backslash itself goes out with the next run */
    }
    shop_buf_append(b, "\"", 1);
}

void shop_pg_array_end(shop_buf_t *b) {
    if (!b->len)
        shop_buf_append(b, "{", 1);
    shop_buf_append(b, "}", 1);
}
