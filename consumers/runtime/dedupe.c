/* dedupe.c: event-id deduplication per partition. An event whose event_id was already seen at a
 * smaller offset of the same partition, within dedupe.window.ms of event time, is a duplicate (an
 * app that re-sent it): it is skipped, counted and logged, never processed twice.
 *
 * Events are keyed (by user or product), so a re-sent event lands in the partition of the
 * original. The ids seen are written with the partition's offsets in the Redis flush, so a
 * restart, a rebalance or a rewind reads back exactly the ids the stored offsets cover. Keeping
 * the first offset makes a replay of an offset range the PostgreSQL sink has not stored (it may
 * lag Redis) see the same event as an original, not as a duplicate of itself. Ids older than the
 * window (against the partition's largest event time) are forgotten, in memory and in Redis.
 *
 * In Redis a partition's ids are one hash beside its offset key, with one field per flush (a
 * chunk): field "<largest event time>.<smallest offset>.<largest offset>" of the ids it holds,
 * value byte 0x01 then per id: varint length, the id's bytes, varint offset, varint event time
 * (LEB128). A chunk is deleted once its largest event time has left the window. One field per
 * id (the format before) cost Redis a dictionary entry per event, most of a no-op worker's flush
 * time; such fields ("offset event_time" text) are still read, and rewritten as a chunk at the
 * next flush. A chunk may repeat an id of an older one (a re-read of the original at a smaller
 * offset): reading keeps the smallest offset. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_int.h"

#define CHUNK_MAGIC 0x01

typedef struct dd_entry {
    char *id;
    uint64_t h; /* shop_hash_str(id): compared before the string */
    int64_t offset;
    int64_t at;  /* event time */
    int pending; /* to be written at the next flush; its slot is in `dirty` */
} dd_entry_t;

typedef struct dd_chunk {
    char *field;   /* its hash field in Redis */
    int64_t maxat; /* largest event time of its ids */
    int gone;      /* deleted by the flush being committed */
} dd_chunk_t;

struct shop_dedupe {
    dd_entry_t *v;     /* open addressing; id NULL = empty, id == TOMB = deleted */
    dd_entry_t *spare; /* the table before the last same-size rehash, reused by the next */
    size_t cap, n, tombs;
    int64_t wm;         /* largest event time seen */
    int64_t next_sweep; /* event time of the next expiry sweep */
    size_t since_sweep; /* inserts since the last sweep */
    size_t *dirty;      /* slots with pending set (a flush writes these, not the whole table) */
    size_t ndirty, capdirty;
    dd_chunk_t *chunks; /* chunks stored in Redis (read at load, or committed since) */
    size_t nchunks, capchunks;
    char **legacy; /* fields of the per-id format, deleted at the next flush */
    size_t nlegacy, caplegacy;
    dd_chunk_t writing; /* the chunk of the last flush, until it is committed */
};

static char tomb_marker;
#define TOMB (&tomb_marker)

shop_dedupe_t *shop_dedupe_new(void) {
    return shop_xcalloc(1, sizeof(shop_dedupe_t));
}

static void free_entries(shop_dedupe_t *d) {
    for (size_t i = 0; i < d->cap; i++)
        if (d->v[i].id && d->v[i].id != TOMB)
            free(d->v[i].id);
    free(d->v);
    free(d->spare);
    d->v = d->spare = NULL;
    d->cap = d->n = d->tombs = d->ndirty = 0;
}

static void free_chunks(shop_dedupe_t *d) {
    for (size_t i = 0; i < d->nchunks; i++)
        free(d->chunks[i].field);
    d->nchunks = 0;
    for (size_t i = 0; i < d->nlegacy; i++)
        free(d->legacy[i]);
    d->nlegacy = 0;
    free(d->writing.field);
    d->writing.field = NULL;
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

void shop_dedupe_destroy(shop_dedupe_t *d) {
    if (!d)
        return;
    free_entries(d);
    free_chunks(d);
    free(d->chunks);
    free(d->legacy);
    free(d->dirty);
    free(d);
}

static dd_entry_t *find(const shop_dedupe_t *d, const char *id, uint64_t h) {
    if (!d->cap)
        return NULL;
    for (size_t i = h & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
        dd_entry_t *e = &d->v[i];
        if (!e->id)
            return NULL;
        if (e->h == h && e->id != TOMB && !strcmp(e->id, id))
            return e;
    }
}

/* Rehashes into a table twice as big, or as big when tombs filled it. A same-size rehash, the
 * common case once the table holds a window's ids, reuses the table the previous one left: a
 * fresh calloc of several MB per rehash cost a page fault per 4 KB (8 % of a no-op worker). */
static void grow(shop_dedupe_t *d) {
    dd_entry_t *old = d->v;
    size_t oldcap = d->cap;
    d->cap = d->cap ? (d->n * 4 > d->cap ? d->cap * 2 : d->cap) : 1024;
    if (d->spare && d->cap == oldcap) {
        d->v = d->spare;
        memset(d->v, 0, d->cap * sizeof(*d->v));
    } else {
        free(d->spare);
        d->v = shop_xcalloc(d->cap, sizeof(*d->v));
    }
    d->spare = NULL;
    d->n = d->tombs = d->ndirty = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].id || old[i].id == TOMB)
            continue;
        size_t j = old[i].h & (d->cap - 1);
        while (d->v[j].id)
            j = (j + 1) & (d->cap - 1);
        d->v[j] = old[i];
        d->v[j].pending = 0;
        if (old[i].pending)
            mark_pending(d, j);
        d->n++;
    }
    if (oldcap == d->cap)
        d->spare = old;
    else
        free(old);
}

static void insert(shop_dedupe_t *d, const char *id, uint64_t h, int64_t offset, int64_t at,
                   int pending) {
    if ((d->n + d->tombs + 1) * 2 > d->cap)
        grow(d);
    size_t j = h & (d->cap - 1);
    while (d->v[j].id && d->v[j].id != TOMB)
        j = (j + 1) & (d->cap - 1);
    if (d->v[j].id == TOMB)
        d->tombs--;
    int listed = d->v[j].pending; /* a tomb still in the dirty list */
    d->v[j] = (dd_entry_t){shop_xstrdup(id), h, offset, at, listed};
    if (pending)
        mark_pending(d, j);
    d->n++;
    d->since_sweep++;
}

/* Forgets ids older than the window, at most once per tenth of the window of event time and once
 * per cap/8 inserts: a sweep reads the whole table, so it costs at most 8 slots per insert (a
 * stream whose event time runs fast used to sweep a big table every few events). Expired ids
 * still in the table are never taken for duplicates: shop_dedupe_check() compares event times.
 * Redis forgets them with their chunks (shop_dedupe_flush). */
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
        free(e->id); /* a pending one's tomb stays in the dirty list; the flush passes it over */
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
    const dd_entry_t *e = find(d, id, shop_hash_str(id));
    if (e && e->offset < offset && e->at >= d->wm - window)
        return 1;
    return 0;
}

void shop_dedupe_record(shop_dedupe_t *d, const char *id, int64_t offset, int64_t at,
                        int64_t window) {
    if (!d || !id || !*id || at < d->wm - window)
        return; /* older than the window: nothing to remember */
    uint64_t h = shop_hash_str(id);
    dd_entry_t *e = find(d, id, h);
    if (e) {
        if (offset < e->offset) { /* a re-read of the original: keep the first offset */
            e->offset = offset;
            mark_pending(d, (size_t)(e - d->v));
        }
        return;
    }
    insert(d, id, h, offset, at, 1);
    sweep(d, window);
}

static void put_varint(shop_buf_t *b, uint64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (unsigned char)((v & 0x7F) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
    shop_buf_append(b, tmp, n);
}

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static void del_fields(shop_redis_batch_t *b, const char *key, const char *const *fields,
                       size_t n) {
    if (!n)
        return;
    const char **argv = shop_xcalloc(n + 2, sizeof(char *));
    argv[0] = "HDEL";
    argv[1] = key;
    memcpy(argv + 2, fields, n * sizeof(char *));
    shop_redis_batch_argv(b, (int)n + 2, argv, NULL);
    free(argv);
}

void shop_dedupe_flush(shop_dedupe_t *d, shop_redis_batch_t *b, const char *key, int64_t window) {
    if (!d)
        return;
    /* chunks whose ids have all left the window, and fields of the per-id format */
    int64_t oldest = d->wm - window;
    const char **gone = shop_xcalloc(d->nchunks + d->nlegacy + 1, sizeof(char *));
    size_t ngone = 0;
    for (size_t i = 0; i < d->nchunks; i++)
        if ((d->chunks[i].gone = d->chunks[i].maxat < oldest))
            gone[ngone++] = d->chunks[i].field;
    for (size_t i = 0; i < d->nlegacy; i++)
        gone[ngone++] = d->legacy[i];
    del_fields(b, key, gone, ngone);
    free(gone);

    free(d->writing.field);
    d->writing.field = NULL;
    shop_buf_t v;
    shop_buf_init(&v);
    shop_buf_append(&v, (const char[]){CHUNK_MAGIC}, 1);
    int64_t maxat = INT64_MIN, lo = INT64_MAX, hi = INT64_MIN;
    for (size_t t = 0; t < d->ndirty; t++) {
        const dd_entry_t *e = &d->v[d->dirty[t]];
        if (e->id == TOMB)
            continue;
        size_t len = strlen(e->id);
        put_varint(&v, len);
        shop_buf_append(&v, e->id, len);
        put_varint(&v, (uint64_t)e->offset);
        put_varint(&v, (uint64_t)e->at);
        maxat = e->at > maxat ? e->at : maxat;
        lo = e->offset < lo ? e->offset : lo;
        hi = e->offset > hi ? e->offset : hi;
    }
    if (maxat != INT64_MIN) {
        char field[72];
        snprintf(field, sizeof(field), "%" PRId64 ".%" PRId64 ".%" PRId64, maxat, lo, hi);
        const char *argv[] = {"HSET", key, field, v.buf};
        const size_t lens[] = {4, strlen(key), strlen(field), v.len};
        shop_redis_batch_argv(b, 4, argv, lens);
        d->writing = (dd_chunk_t){shop_xstrdup(field), maxat, 0};
    }
    shop_buf_release(&v);
    if (ngone || maxat != INT64_MIN) {
        char ttl[24]; /* a day past the window: a partition idle that long needs none of it */
        shop_fmt_i64(ttl, window / 1000 + 86400);
        const char *ex[] = {"EXPIRE", key, ttl};
        shop_redis_batch_argv(b, 3, ex, NULL);
    }
}

static void add_chunk(shop_dedupe_t *d, char *field, int64_t maxat) {
    if (d->nchunks == d->capchunks) {
        d->capchunks = d->capchunks ? d->capchunks * 2 : 16;
        d->chunks = shop_xrealloc(d->chunks, d->capchunks * sizeof(*d->chunks));
    }
    d->chunks[d->nchunks++] = (dd_chunk_t){field, maxat, 0};
}

void shop_dedupe_flushed(shop_dedupe_t *d) {
    if (!d)
        return;
    for (size_t k = 0; k < d->ndirty; k++)
        d->v[d->dirty[k]].pending = 0;
    d->ndirty = 0;
    size_t j = 0;
    for (size_t i = 0; i < d->nchunks; i++) {
        if (d->chunks[i].gone)
            free(d->chunks[i].field);
        else
            d->chunks[j++] = d->chunks[i];
    }
    d->nchunks = j;
    for (size_t i = 0; i < d->nlegacy; i++)
        free(d->legacy[i]);
    d->nlegacy = 0;
    if (d->writing.field)
        add_chunk(d, d->writing.field, d->writing.maxat);
    d->writing.field = NULL;
}

/* One stored id: the smallest offset wins (a chunk may hold a re-read of an older one's id). */
static void load_id(shop_dedupe_t *d, const char *id, int64_t offset, int64_t at, int pending) {
    uint64_t h = shop_hash_str(id);
    dd_entry_t *e = find(d, id, h);
    if (!e)
        insert(d, id, h, offset, at, pending);
    else if (offset < e->offset)
        e->offset = offset;
    if (at > d->wm)
        d->wm = at;
}

static int load_chunk(shop_dedupe_t *d, const unsigned char *p, size_t n, int64_t *maxat) {
    const unsigned char *end = p + n;
    char buf[1024], *id = buf;
    size_t idcap = sizeof(buf);
    int rc = 0;
    *maxat = INT64_MIN;
    for (p++; p < end;) { /* p[0] is CHUNK_MAGIC */
        uint64_t len, off, at;
        if (get_varint(&p, end, &len) || len > (size_t)(end - p)) {
            rc = -1;
            break;
        }
        if (len + 1 > idcap) {
            idcap = len + 1;
            id = id == buf ? shop_xmalloc(idcap) : shop_xrealloc(id, idcap);
        }
        memcpy(id, p, len);
        id[len] = '\0';
        p += len;
        if (get_varint(&p, end, &off) || get_varint(&p, end, &at) || off > INT64_MAX ||
            at > INT64_MAX || !len || memchr(id, '\0', len)) {
            rc = -1;
            break;
        }
        load_id(d, id, (int64_t)off, (int64_t)at, 0);
        if ((int64_t)at > *maxat)
            *maxat = (int64_t)at;
    }
    if (id != buf)
        free(id);
    return rc;
}

int shop_dedupe_load_pairs(shop_dedupe_t *d, size_t n, const char *const *fields,
                           const size_t *flens, const char *const *vals, const size_t *vlens,
                           int64_t window) {
    free_entries(d);
    free_chunks(d);
    d->wm = 0;
    d->next_sweep = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *field = shop_xmalloc(flens[i] + 1);
        memcpy(field, fields[i], flens[i]);
        field[flens[i]] = '\0';
        long long off = 0, at = 0;
        int64_t maxat;
        if (vlens[i] && (unsigned char)vals[i][0] == CHUNK_MAGIC) {
            /* a damaged chunk keeps what it held up to the damage (and expires by it); with
             * nothing readable its maxat is INT64_MIN: deleted at the next flush */
            if (load_chunk(d, (const unsigned char *)vals[i], vlens[i], &maxat))
                bad++;
            add_chunk(d, field, maxat);
            continue;
        }
        /* the per-id format: written again as part of the next chunk, its field deleted */
        if (vlens[i] < 64 && !memchr(field, '\0', flens[i]) && flens[i]) {
            char num[64];
            memcpy(num, vals[i], vlens[i]);
            num[vlens[i]] = '\0';
            if (sscanf(num, "%lld %lld", &off, &at) == 2 && off >= 0)
                load_id(d, field, off, at, 1);
            else
                bad++;
        } else {
            bad++;
        }
        if (d->nlegacy == d->caplegacy) {
            d->caplegacy = d->caplegacy ? d->caplegacy * 2 : 16;
            d->legacy = shop_xrealloc(d->legacy, d->caplegacy * sizeof(char *));
        }
        d->legacy[d->nlegacy++] = field;
    }
    sweep(d, window);
    return bad;
}

int shop_dedupe_load(shop_dedupe_t *d, struct redisContext *c, const char *key, int64_t window,
                     char *errstr, size_t errstr_size) {
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return shop_redis_reply_err(c, r, errstr, errstr_size);
    size_t n = r->elements / 2;
    const char **f = shop_xcalloc(n + 1, sizeof(char *)), **v = shop_xcalloc(n + 1, sizeof(char *));
    size_t *fl = shop_xcalloc(n + 1, sizeof(size_t)), *vl = shop_xcalloc(n + 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        f[i] = r->element[2 * i]->str;
        fl[i] = r->element[2 * i]->len;
        v[i] = r->element[2 * i + 1]->str;
        vl[i] = r->element[2 * i + 1]->len;
    }
    int bad = shop_dedupe_load_pairs(d, n, f, fl, v, vl, window);
    if (bad)
        SHOP_WARN("key=%s damaged=%d msg=\"event-id fields that do not parse were dropped; a "
                  "re-sent event among them would be processed again\"",
                  key, bad);
    free(f);
    free(v);
    free(fl);
    free(vl);
    freeReplyObject(r);
    return SHOP_OK;
}
