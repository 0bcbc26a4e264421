/* dedupe.c: event-id deduplication per partition. An event whose event_id was already seen at a
 * smaller offset of the same partition, within dedupe.window.ms of event time, is a duplicate (an
 * app that re-sent it): it is skipped, counted and logged, never processed twice.
 *
 * Events are keyed (by user or product), so a re-sent event lands in the partition of the
 * original. The ids seen are written with the partition's offsets in the Redis flush (one hash per
 * partition beside its offset key, field event_id -> "offset event_time"), so a restart, a
 * rebalance or a rewind reads back exactly the ids the stored offsets cover. Keeping the first
 * offset makes a replay of an offset range the PostgreSQL sink has not stored (it may lag Redis)
 * see the same event as an original, not as a duplicate of itself. Ids older than the window
 * (against the partition's largest event time) are forgotten, in memory and in Redis. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_int.h"

typedef struct dd_entry {
    char *id;
    int64_t offset;
    int64_t at;  /* event time */
    int pending; /* to be written at the next flush; its slot is in `dirty` */
} dd_entry_t;

struct shop_dedupe {
    dd_entry_t *v; /* open addressing; id NULL = empty, id == TOMB = deleted */
    size_t cap, n, tombs;
    int64_t wm;     /* largest event time seen */
    char **expired; /* ids forgotten since the last flush (HDEL at the flush) */
    size_t nexpired, capexpired;
    int64_t next_sweep; /* event time of the next expiry sweep */
    size_t since_sweep; /* inserts since the last sweep */
    size_t *dirty;      /* slots with pending set (a flush writes these, not the whole table) */
    size_t ndirty, capdirty;
};

static char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t id_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ULL;
    return shop_mix64(h);
}

shop_dedupe_t *shop_dedupe_new(void) {
    return shop_xcalloc(1, sizeof(shop_dedupe_t));
}

static void free_entries(shop_dedupe_t *d) {
    for (size_t i = 0; i < d->cap; i++)
        if (d->v[i].id && d->v[i].id != TOMB)
            free(d->v[i].id);
    free(d->v);
    d->v = NULL;
    d->cap = d->n = d->tombs = d->ndirty = 0;
}

/* Marks slot i pending; a slot already pending (a tomb too: see sweep) is in the list once. */
static void mark_pending(shop_dedupe_t *d, size_t i) {
    if (d->v[i].pending)
        return;
    d->v[i].pending = 1;
    if (d->ndirty == d->capdirty) {
        d->capdirty = d->capdirty ? d->capdirty * 2 : 256;
        d->dirty = shop_xrealloc(d->dirty, d->capdirty * sizeof(*d->dirty));
    }
    d->dirty[d->ndirty++] = i;
}

static void free_expired(shop_dedupe_t *d) {
    for (size_t i = 0; i < d->nexpired; i++)
        free(d->expired[i]);
    d->nexpired = 0;
}

void shop_dedupe_destroy(shop_dedupe_t *d) {
    if (!d)
        return;
    free_entries(d);
    free_expired(d);
    free(d->expired);
    free(d->dirty);
    free(d);
}

static dd_entry_t *find(const shop_dedupe_t *d, const char *id) {
    if (!d->cap)
        return NULL;
    for (size_t i = id_hash(id) & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
        dd_entry_t *e = &d->v[i];
        if (!e->id)
            return NULL;
        if (e->id != TOMB && !strcmp(e->id, id))
            return e;
    }
}

static void grow(shop_dedupe_t *d) {
    dd_entry_t *old = d->v;
    size_t oldcap = d->cap;
    d->cap = d->cap ? (d->n * 4 > d->cap ? d->cap * 2 : d->cap) : 1024;
    d->v = shop_xcalloc(d->cap, sizeof(*d->v));
    d->n = d->tombs = d->ndirty = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].id || old[i].id == TOMB)
            continue;
        size_t j = id_hash(old[i].id) & (d->cap - 1);
        while (d->v[j].id)
            j = (j + 1) & (d->cap - 1);
        d->v[j] = old[i];
        d->v[j].pending = 0;
        if (old[i].pending)
            mark_pending(d, j);
        d->n++;
    }
    free(old);
}

static void insert(shop_dedupe_t *d, const char *id, int64_t offset, int64_t at, int pending) {
    if ((d->n + d->tombs + 1) * 2 > d->cap)
        grow(d);
    size_t j = id_hash(id) & (d->cap - 1);
    while (d->v[j].id && d->v[j].id != TOMB)
        j = (j + 1) & (d->cap - 1);
    if (d->v[j].id == TOMB)
        d->tombs--;
    int listed = d->v[j].pending; /* a tomb still in the dirty list */
    d->v[j] = (dd_entry_t){shop_xstrdup(id), offset, at, listed};
    if (pending)
        mark_pending(d, j);
    d->n++;
    d->since_sweep++;
}

/* Forgets ids older than the window, at most once per tenth of the window of event time and once
 * per cap/8 inserts: a sweep reads the whole table, so it costs at most 8 slots per insert (a
 * stream whose event time runs fast used to sweep a big table every few events). Expired ids
 * still in the table are never taken for duplicates: shop_dedupe_check() compares event times. */
static void sweep(shop_dedupe_t *d, int64_t window) {
    if (d->wm < d->next_sweep || d->since_sweep * 8 < d->cap)
        return;
    d->next_sweep = d->wm + window / 10 + 1;
    d->since_sweep = 0;
    int64_t oldest = d->wm - window;
    for (size_t i = 0; i < d->cap; i++) {
        dd_entry_t *e = &d->v[i];
        if (!e->id || e->id == TOMB || e->at >= oldest)
            continue;
        if (e->pending) { /* never written: nothing to delete (the tomb stays in the dirty list) */
            free(e->id);
        } else {
            if (d->nexpired == d->capexpired) {
                d->capexpired = d->capexpired ? d->capexpired * 2 : 256;
                d->expired = shop_xrealloc(d->expired, d->capexpired * sizeof(char *));
            }
            d->expired[d->nexpired++] = e->id;
        }
        e->id = TOMB;
        d->n--;
        d->tombs++;
    }
}

int shop_dedupe_check(shop_dedupe_t *d, const char *id, int64_t offset, int64_t at,
                      int64_t window) {
    if (!d || !id || !*id)
        return 0;
    if (at > d->wm)
        d->wm = at;
    const dd_entry_t *e = find(d, id);
    if (e && e->offset < offset && e->at >= d->wm - window)
        return 1;
    return 0;
}

void shop_dedupe_record(shop_dedupe_t *d, const char *id, int64_t offset, int64_t at,
                        int64_t window) {
    if (!d || !id || !*id || at < d->wm - window)
        return; /* older than the window: nothing to remember */
    dd_entry_t *e = find(d, id);
    if (e) {
        if (offset < e->offset) { /* a re-read of the original: keep the first offset */
            e->offset = offset;
            mark_pending(d, (size_t)(e - d->v));
        }
        return;
    }
    insert(d, id, offset, at, 1);
    sweep(d, window);
}

void shop_dedupe_flush(shop_dedupe_t *d, shop_redis_batch_t *b, const char *key, int64_t ttl_s) {
    if (!d)
        return;
    size_t np = 0;
    for (size_t k = 0; k < d->ndirty; k++)
        np += d->v[d->dirty[k]].id != TOMB;
    if (d->nexpired) {
        const char **argv = shop_xcalloc(d->nexpired + 2, sizeof(char *));
        argv[0] = "HDEL";
        argv[1] = key;
        for (size_t i = 0; i < d->nexpired; i++)
            argv[i + 2] = d->expired[i];
        shop_redis_batch_argv(b, (int)d->nexpired + 2, argv, NULL);
        free(argv);
    }
    if (!np)
        return;
    const char **argv = shop_xcalloc(2 * np + 2, sizeof(char *));
    char(*val)[48] = shop_xcalloc(np, sizeof(*val));
    int argc = 0;
    argv[argc++] = "HSET";
    argv[argc++] = key;
    size_t k = 0;
    for (size_t t = 0; t < d->ndirty; t++) {
        const dd_entry_t *e = &d->v[d->dirty[t]];
        if (e->id == TOMB)
            continue;
        snprintf(val[k], sizeof(val[k]), "%lld %lld", (long long)e->offset, (long long)e->at);
        argv[argc++] = e->id;
        argv[argc++] = val[k++];
    }
    shop_redis_batch_argv(b, argc, argv, NULL);
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s);
    const char *ex[] = {"EXPIRE", key, ttl};
    shop_redis_batch_argv(b, 3, ex, NULL);
    free(argv);
    free(val);
}

void shop_dedupe_flushed(shop_dedupe_t *d) {
    if (!d)
        return;
    for (size_t k = 0; k < d->ndirty; k++)
        d->v[d->dirty[k]].pending = 0;
    d->ndirty = 0;
    free_expired(d);
}

int shop_dedupe_load(shop_dedupe_t *d, struct redisContext *c, const char *key, int64_t window,
                     char *errstr, size_t errstr_size) {
    free_entries(d);
    free_expired(d);
    d->wm = 0;
    d->next_sweep = 0;
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return shop_redis_reply_err(c, r, errstr, errstr_size);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        long long off = 0, at = 0;
        if (sscanf(r->element[i + 1]->str, "%lld %lld", &off, &at) != 2)
            continue;
        insert(d, r->element[i]->str, off, at, 0);
        if (at > d->wm)
            d->wm = at;
    }
    freeReplyObject(r);
    sweep(d, window);
    return SHOP_OK;
}
