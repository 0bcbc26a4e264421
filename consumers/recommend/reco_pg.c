/* reco_pg.c: the recommendation worker's PostgreSQL side, on the refresh thread's own connection:
 * the cached feature flags (reloaded when the flags table's version moves) and the audit
 * snapshots of the similarity table and of each user's A/B variant. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flag_store.h"
#include "reco_int.h"
#include "runtime.h"
#include "store.h"

static void quiet(void *arg, const char *msg) {
    (void)arg, (void)msg; /* NOTICEs of the idempotent migrations */
}

/* The connection, (re)opened on demand and migrated once; NULL while PostgreSQL is down. */
static PGconn *conn(reco_w_t *w) {
    if (w->pg && PQstatus(w->pg) == CONNECTION_OK)
        return w->pg;
    if (w->pg)
        PQfinish(w->pg);
    w->pg = PQconnectdb(w->pg_url);
    PQsetNoticeProcessor(w->pg, quiet, NULL);
    char err[512];
    if (PQstatus(w->pg) != CONNECTION_OK || shop_migrate(w->pg, w->schema, 0, err, sizeof(err))) {
        SHOP_WARN("msg=\"reco: postgresql unavailable, flags and snapshots wait: %s\"",
                  PQstatus(w->pg) != CONNECTION_OK ? PQerrorMessage(w->pg) : err);
        PQfinish(w->pg);
        w->pg = NULL;
    }
    return w->pg;
}

void reco_flag_cache_reload(reco_w_t *w, int full) {
    PGconn *c = conn(w);
    char err[512];
    int64_t v = 0;
    if (!c)
        return;
    if (!full && w->flags && !shop_flag_store_version(c, w->schema, &v, err, sizeof(err)) &&
        v == w->flags_version)
        return;
    shop_flags_t *f = NULL;
    if (shop_flag_store_load(c, w->schema, &f, &v, err, sizeof(err))) {
        SHOP_WARN("msg=\"reco: flags not reloaded, keeping the cached ones: %s\"", err);
        return;
    }
    if (v != w->flags_version || !w->flags)
        SHOP_INFO("msg=\"reco: %zu flags loaded (version %lld)\"", shop_flags_count(f),
                  (long long)v);
    shop_flags_destroy(w->flags);
    w->flags = f;
    w->flags_version = v;
}

static int exec_ok(PGconn *c, PGresult *r, const char *what) {
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        SHOP_WARN("msg=\"reco: snapshot %s: %s\"", what, PQresultErrorMessage(r));
    PQclear(r);
    (void)c;
    return ok;
}

/* COPY the top-K table of every item into reco_similarity, inside the open transaction. */
static int copy_similarity(reco_w_t *w, PGconn *c, const reco_model_t *m, const char *ts) {
    char sql[256];
    snprintf(sql, sizeof(sql),
             "COPY \"%s\".reco_similarity (item, rank, other, score, snapshot_at) FROM STDIN",
             w->schema);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return exec_ok(c, r, "copy");
    PQclear(r);
    size_t ni = reco_model_items(m);
    reco_sim_t *sims = shop_xcalloc((size_t)w->p.k + 1, sizeof(*sims));
    shop_buf_t b;
    shop_buf_init(&b);
    int ok = 1;
    for (size_t i = 0; i < ni && ok; i++) {
        size_t n = reco_model_similar(m, (uint32_t)i, sims, (size_t)w->p.k);
        shop_buf_reset(&b);
        for (size_t k = 0; k < n; k++) /* ids hold no tab, newline or backslash-escape issue */
            shop_buf_printf(&b, "%s\t%zu\t%s\t%.6g\t%s\n", reco_model_item_name(m, (uint32_t)i),
                            k + 1, reco_model_item_name(m, sims[k].item), (double)sims[k].score,
                            ts);
        if (b.len && PQputCopyData(c, b.buf, (int)b.len) != 1)
            ok = 0;
    }
    shop_buf_release(&b);
    free(sims);
    if (PQputCopyEnd(c, ok ? NULL : "aborted") != 1)
        ok = 0;
    for (PGresult *x; (x = PQgetResult(c));) {
        if (PQresultStatus(x) != PGRES_COMMAND_OK)
            ok = 0, SHOP_WARN("msg=\"reco: snapshot copy: %s\"", PQresultErrorMessage(x));
        PQclear(x);
    }
    return ok;
}

void reco_snapshot_pg(reco_w_t *w, const reco_model_t *m, int full, int64_t as_of, size_t users) {
    int64_t now = shop_mono_us() / 1000;
    if (!full && (w->snapshot_every_ms <= 0 ||
                  (w->last_snapshot_ms && now - w->last_snapshot_ms < w->snapshot_every_ms)))
        return;
    PGconn *c = conn(w);
    if (!c)
        return;
    w->last_snapshot_ms = now;
    char sql[512], ts[40];
    shop_format_time_ms(shop_now_ms(), ts, sizeof(ts));
    if (!exec_ok(c, PQexec(c, "BEGIN"), "begin"))
        return;
    snprintf(sql, sizeof(sql), "DELETE FROM \"%s\".reco_similarity", w->schema);
    int ok = exec_ok(c, PQexec(c, sql), "delete") && copy_similarity(w, c, m, ts);
    if (ok) {
        char items[32], fv[32], nu[32], asof[40];
        snprintf(items, sizeof(items), "%zu", reco_model_items(m));
        snprintf(fv, sizeof(fv), "%lld", (long long)w->flags_version);
        snprintf(nu, sizeof(nu), "%zu", users);
        shop_format_time_ms(as_of, asof, sizeof(asof));
        const char *params[] = {ts, items, fv, nu, as_of > 0 ? asof : NULL};
        snprintf(sql, sizeof(sql),
                 "INSERT INTO \"%s\".reco_snapshots (snapshot_at, as_of, items, users, "
                 "flags_version) VALUES ($1, $5, $2, $4, $3) ON CONFLICT DO NOTHING",
                 w->schema);
        ok = exec_ok(c, PQexecParams(c, sql, 5, NULL, params, NULL, NULL, 0), "insert");
    }
    exec_ok(c, PQexec(c, ok ? "COMMIT" : "ROLLBACK"), "commit");
    SHOP_DEBUG("msg=\"reco: similarity snapshot %s\" items=%zu full=%d", ok ? "written" : "failed",
               reco_model_items(m), full);
}

/* Records the variants of users (from the reco:variant hash the refresh just wrote). */
void reco_variants_pg(reco_w_t *w, const char *const *users, const char *const *variants, size_t n,
                      int64_t as_of) {
    PGconn *c = n ? conn(w) : NULL;
    if (!c)
        return;
    char sql[512], ts[40];
    shop_format_time_ms(as_of, ts, sizeof(ts));
    snprintf(sql, sizeof(sql),
             "INSERT INTO \"%s\".reco_variants (user_id, variant, updated_at) "
             "SELECT u, v, $3 FROM unnest($1::text[], $2::text[]) AS t(u, v) "
             "ON CONFLICT (user_id) DO UPDATE SET variant = EXCLUDED.variant, "
             "updated_at = EXCLUDED.updated_at WHERE reco_variants.variant <> EXCLUDED.variant",
             w->schema);
    for (size_t start = 0; start < n; start += 1000) {
        size_t end = start + 1000 < n ? start + 1000 : n;
        shop_buf_t a, b;
        shop_buf_init(&a);
        shop_buf_init(&b);
        for (size_t i = start; i < end; i++) {
            shop_pg_array_add(&a, users[i]);
            shop_pg_array_add(&b, variants[i]);
        }
        shop_pg_array_end(&a);
        shop_pg_array_end(&b);
        const char *params[] = {a.buf, b.buf, ts};
        exec_ok(c, PQexecParams(c, sql, 3, NULL, params, NULL, NULL, 0), "variants");
        shop_buf_release(&a);
        shop_buf_release(&b);
    }
}
