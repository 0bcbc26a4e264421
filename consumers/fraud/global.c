/* global.c: the fraud worker's cross-user state in Redis (see fraud_global.h): hourly
 * HyperLogLogs of the accounts seen per device and per IP (Flajolet et al., "HyperLogLog: the
 * analysis of a near-optimal cardinality estimation algorithm", 2007, as Redis implements it),
 * written once per event with the offsets, and a cache of their 24-hour counts for the engine. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud.h"
#include "fraud_global.h"
#include "redis_keys.h"

#define KEY_TTL_S 90000 /* 25 h: the last hour of a 24-hour window is still readable */
#define WINDOW_H  24
#define CACHE_N   (1u << 16) /* direct-mapped: a collision only costs a refresh */
#define WANT_MAX  200000     /* orders waiting for a refresh; more are dropped */
#define CHUNK                                                                                      \
    64 /* wants per pipeline: a multi-key PFCOUNT costs Redis ~24 HLL merges, and                  \
        * short pipelines let the worker's MULTI/EXEC in between */
#define MAX_KEY_LEN 512

typedef struct {
    char kind; /* 'd' device, 'i' IP */
    char *value, *user;
    int64_t hour;
} note_t;

typedef struct {
    char *user, *device, *ip;
    int64_t at;
} want_t;

typedef struct {
    uint64_t h;
    int64_t hour, count;
} cache_t;

struct shop_fraud_global {
    char prefix[128];
    int64_t user_ttl;
    int summary;
    note_t *notes; /* processing thread only */
    size_t nnotes, capnotes;
    pthread_mutex_t lock; /* wants and cache: processing and refresh threads */
    want_t *wants;
    size_t nwants, capwants;
    cache_t *cache;
};

shop_fraud_global_t *shop_fraud_global_new(const char *prefix, int64_t user_ttl_s, int summary) {
    shop_fraud_global_t *g = shop_xcalloc(1, sizeof(*g));
    g->summary = summary;
    snprintf(g->prefix, sizeof(g->prefix), "%s", prefix);
    g->user_ttl = user_ttl_s;
    pthread_mutex_init(&g->lock, NULL);
    g->cache = shop_xcalloc(CACHE_N, sizeof(*g->cache));
    return g;
}

static void wants_free(want_t *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(w[i].user), free(w[i].device), free(w[i].ip);
}

void shop_fraud_global_clear(shop_fraud_global_t *g) {
    for (size_t i = 0; i < g->nnotes; i++)
        free(g->notes[i].value), free(g->notes[i].user);
    g->nnotes = 0;
}

void shop_fraud_global_destroy(shop_fraud_global_t *g) {
    if (!g)
        return;
    shop_fraud_global_clear(g);
    free(g->notes);
    wants_free(g->wants, g->nwants);
    free(g->wants);
    free(g->cache);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

size_t shop_fraud_global_pending(const shop_fraud_global_t *g) {
    return g->nnotes;
}

static void note1(shop_fraud_global_t *g, char kind, const char *value, const char *user,
                  int64_t at) {
    if (!value || !*value || strlen(value) > 200)
        return;
    if (g->nnotes == g->capnotes) {
        g->capnotes = g->capnotes ? g->capnotes * 2 : 256;
        g->notes = shop_xrealloc(g->notes, g->capnotes * sizeof(*g->notes));
    }
    g->notes[g->nnotes++] =
        (note_t){kind, shop_xstrdup(value), shop_xstrdup(user), at / FRAUD_HOUR_MS};
}

void shop_fraud_global_note(shop_fraud_global_t *g, const char *user, const char *device,
                            const char *ip, int64_t at) {
    if (!user || !*user)
        return;
    note1(g, 'd', device, user, at);
    note1(g, 'i', ip, user, at);
}

/* The hourly key of a note: kind, value, hour. */
static int key_cmp(const note_t *x, const note_t *y) {
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int c = strcmp(x->value, y->value);
    if (c)
        return c;
    return x->hour < y->hour ? -1 : x->hour > y->hour;
}

/* Key, then user: the commands of a flush do not depend on the order of its events. */
static int note_cmp(const void *a, const void *b) {
    const note_t *x = a, *y = b;
    int c = key_cmp(x, y);
    return c ? c : strcmp(x->user, y->user);
}

static void hour_key(char *buf, size_t size, const char *prefix, char kind, const char *value,
                     int64_t hour) {
    snprintf(buf, size, kind == 'd' ? SHOP_KEY_FRAUD_DEV : SHOP_KEY_FRAUD_IP, prefix, value,
             (long long)hour);
}

void shop_fraud_global_flush(shop_fraud_global_t *g, shop_redis_batch_t *b) {
    /* sorted so that each hourly key is written once per flush, with all its users */
    shop_sort(g->notes, g->nnotes, sizeof(*g->notes), note_cmp);
    const char **argv = NULL;
    size_t *lens = NULL, cap = 0;
    char key[MAX_KEY_LEN];
    for (size_t i = 0, j; i < g->nnotes; i = j) {
        for (j = i + 1; j < g->nnotes && !key_cmp(&g->notes[i], &g->notes[j]); j++)
            ;
        if (j - i + 2 > cap) {
            cap = j - i + 2;
            argv = shop_xrealloc(argv, cap * sizeof(*argv));
            lens = shop_xrealloc(lens, cap * sizeof(*lens));
        }
        hour_key(key, sizeof(key), g->prefix, g->notes[i].kind, g->notes[i].value,
                 g->notes[i].hour);
        argv[0] = "PFADD", argv[1] = key;
        size_t argc = 2;
        for (size_t k = i; k < j; k++)
            if (k == i || strcmp(g->notes[k].user, g->notes[k - 1].user))
                argv[argc++] = g->notes[k].user;
        for (size_t k = 0; k < argc; k++)
            lens[k] = strlen(argv[k]);
        shop_redis_batch_argv(b, (int)argc, argv, lens);
        shop_redis_batch_cmd(b, "EXPIRE %s %lld", key, (long long)KEY_TTL_S);
    }
    free(argv);
    free(lens);
}

void shop_fraud_global_want(shop_fraud_global_t *g, const char *user, const char *device,
                            const char *ip, int64_t at) {
    if (!g->summary)
        ip = NULL; /* only the device counts feed the rule */
    if (!user || (!device && !ip))
        return;
    pthread_mutex_lock(&g->lock);
    if (g->nwants < WANT_MAX) {
        if (g->nwants == g->capwants) {
            g->capwants = g->capwants ? g->capwants * 2 : 256;
            g->wants = shop_xrealloc(g->wants, g->capwants * sizeof(*g->wants));
        }
        g->wants[g->nwants++] = (want_t){shop_xstrdup(user), device ? shop_xstrdup(device) : NULL,
                                         ip ? shop_xstrdup(ip) : NULL, at};
    }
    pthread_mutex_unlock(&g->lock);
}

int64_t shop_fraud_global_accounts(void *ctx, const char *device, int64_t at) {
    shop_fraud_global_t *g = ctx;
    uint64_t h = shop_fraud_hash(device);
    int64_t n = -1;
    pthread_mutex_lock(&g->lock);
    const cache_t *e = &g->cache[h & (CACHE_N - 1)];
    if (e->h == h && e->hour >= at / FRAUD_HOUR_MS - 1)
        n = e->count;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* Appends PFCOUNT over the 24 hourly keys up to `at`'s hour (one reply). */
static void append_count(redisContext *c, const char *prefix, char kind, const char *value,
                         int64_t at) {
    char keys[WINDOW_H][MAX_KEY_LEN];
    const char *argv[WINDOW_H + 1];
    size_t lens[WINDOW_H + 1];
    int64_t hour = at / FRAUD_HOUR_MS;
    argv[0] = "PFCOUNT", lens[0] = 7;
    for (int i = 0; i < WINDOW_H; i++) {
        hour_key(keys[i], sizeof(keys[i]), prefix, kind, value, hour - i);
        argv[i + 1] = keys[i], lens[i + 1] = strlen(keys[i]);
    }
    redisAppendCommandArgv(c, WINDOW_H + 1, argv, lens);
}

static int read_count(redisContext *c, int64_t *out, char *errstr, size_t errstr_size) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", c->errstr);
    int rc = SHOP_OK;
    if (r->type == REDIS_REPLY_INTEGER)
        *out = r->integer;
    else
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: PFCOUNT: %s",
                         r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return rc;
}

int shop_fraud_global_count(redisContext *c, const char *prefix, int ip, const char *value,
                            int64_t at, int64_t *out, char *errstr, size_t errstr_size) {
    append_count(c, prefix, ip ? 'i' : 'd', value, at);
    return read_count(c, out, errstr, errstr_size);
}

/* Drains `n` replies (HSET, EXPIRE), the first error wins. */
static int drain(redisContext *c, int n, char *errstr, size_t errstr_size) {
    int rc = SHOP_OK;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", c->errstr);
        if (r->type == REDIS_REPLY_ERROR && !rc)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", r->str);
        freeReplyObject(r);
    }
    return rc;
}

/* One chunk of wanted orders: the counts pipelined, then the cache and the user summaries. */
static int refresh_chunk(shop_fraud_global_t *g, redisContext *c, const want_t *w, size_t n,
                         char *errstr, size_t errstr_size) {
    int64_t *cnt = shop_xcalloc(2 * n, sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        if (w[i].device)
            append_count(c, g->prefix, 'd', w[i].device, w[i].at);
        if (w[i].ip)
            append_count(c, g->prefix, 'i', w[i].ip, w[i].at);
    }
    int rc = SHOP_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        cnt[2 * i] = cnt[2 * i + 1] = -1;
        if (w[i].device)
            rc = read_count(c, &cnt[2 * i], errstr, errstr_size);
        if (!rc && w[i].ip)
            rc = read_count(c, &cnt[2 * i + 1], errstr, errstr_size);
    }
    if (rc) {
        free(cnt);
        return rc; /* the connection is unusable: the runtime reconnects */
    }
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < n; i++)
        if (w[i].device) {
            uint64_t h = shop_fraud_hash(w[i].device);
            cache_t *e = &g->cache[h & (CACHE_N - 1)];
            int64_t hour = w[i].at / FRAUD_HOUR_MS;
            if (e->h != h || hour >= e->hour)
                *e = (cache_t){h, hour, cnt[2 * i]};
        }
    pthread_mutex_unlock(&g->lock);
    int cmds = 0;
    char key[MAX_KEY_LEN];
    if (!g->summary) {
        free(cnt);
        return SHOP_OK;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), SHOP_KEY_FRAUD_USER, g->prefix, w[i].user);
        redisAppendCommand(c,
                           "HSET %s global_device_accounts %lld global_ip_accounts %lld "
                           "global_hour %lld",
                           key, (long long)cnt[2 * i], (long long)cnt[2 * i + 1],
                           (long long)(w[i].at / FRAUD_HOUR_MS));
        cmds++;
        if (g->user_ttl > 0) {
            redisAppendCommand(c, "EXPIRE %s %lld", key, (long long)g->user_ttl);
            cmds++;
        }
    }
    free(cnt);
    return drain(c, cmds, errstr, errstr_size);
}

static int want_cmp(const void *a, const void *b) {
    const want_t *x = a, *y = b;
    int c = strcmp(x->device ? x->device : "", y->device ? y->device : "");
    return c ? c : x->at > y->at ? -1 : x->at < y->at;
}

/* Without the summary only the devices matter: one lookup per device, at its latest order. */
static size_t dedupe_devices(want_t *w, size_t n) {
    shop_sort(w, n, sizeof(*w), want_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && w[i].device && w[k - 1].device && !strcmp(w[i].device, w[k - 1].device)) {
            free(w[i].user), free(w[i].device), free(w[i].ip);
            continue;
        }
        w[k++] = w[i];
    }
    return k;
}

int shop_fraud_global_refresh(shop_fraud_global_t *g, redisContext *c, char *errstr,
                              size_t errstr_size) {
    pthread_mutex_lock(&g->lock);
    want_t *w = g->wants;
    size_t n = g->nwants;
    g->wants = NULL, g->nwants = g->capwants = 0;
    pthread_mutex_unlock(&g->lock);
    if (!g->summary)
        n = dedupe_devices(w, n);
    int rc = SHOP_OK;
    for (size_t i = 0; i < n && !rc; i += CHUNK)
        rc = refresh_chunk(g, c, w + i, n - i < CHUNK ? n - i : CHUNK, errstr, errstr_size);
    wants_free(w, n);
    free(w);
    return rc;
}
