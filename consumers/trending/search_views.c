/* search_views.c: the search worker's derived views, recomputed from the committed per-partition
 * summaries (search.c) by every refresh. Partitions are always combined in the same order, so
 * every instance, and every rerun over the same events, writes the same views.
 *
 *   trend:5m|1h|24h   union of the window's bucket summaries over all partitions (ZUNIONSTORE)
 *   trend:rising      (recent + 1) / (baseline + prior): recent = 5-minute count, baseline = the
 *                     rest of the hour per 5 minutes; a jump from 5 to 200 scores 20, a steady
 *                     1,000 scores 1
 *   trend:cat:<c>     the hour's per-category summaries, split by category
 *   trend:zero        recency-weighted zero-result queries
 *   sugg:<key>        top completions per suggestion key, from the popularity summaries
 *   dym               corrections for zero- and few-result queries (SymSpell over the shop's
 *                     vocabulary and the optional dictionary) */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_keys.h"
#include "search_int.h"

typedef struct {
    char tag;
    int32_t partition;
    int64_t wm;
} wm_entry_t;

static int wm_cmp(const void *a, const void *b) {
    const wm_entry_t *x = a, *y = b;
    if (x->tag != y->tag)
        return x->tag < y->tag ? -1 : 1;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

/* Partitions with state, sorted; *n is set. NULL with errstr on failure (or *n = 0). */
static wm_entry_t *read_watermarks(shop_search_t *s, redisContext *c, int *n, int64_t *first,
                                   char *errstr, size_t errstr_size) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_SRCH_WM, s->prefix);
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    *n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        shop_redis_reply_err(c, r, errstr, errstr_size);
        *n = -1;
        return NULL;
    }
    wm_entry_t *e = shop_xcalloc(r->elements / 2 + 1, sizeof(*e));
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        if (r->element[i]->len < 2 || (f[0] != 's' && f[0] != 'c'))
            continue;
        if (strchr(f, ':')) { /* "<tag><partition>:first": the partition's earliest search */
            int64_t t = strtoll(r->element[i + 1]->str, NULL, 10);
            if (first && f[0] == 's' && t > 0 && (!*first || t < *first))
                *first = t;
            continue;
        }
        e[*n] = (wm_entry_t){f[0], (int32_t)atoi(f + 1), strtoll(r->element[i + 1]->str, NULL, 10)};
        (*n)++;
    }
    freeReplyObject(r);
    shop_sort(e, (size_t)*n, sizeof(*e), wm_cmp);
    return e;
}

/* ZUNIONSTORE dest over the window's buckets of every search partition (argv form). */
static void append_union(shop_search_t *s, redisContext *c, const char *dest, int lv, int64_t g,
                         const wm_entry_t *wm, int n) {
    const search_level_def_t *d = &search_levels[lv];
    int cap = d->nbuckets * n + 4, argc = 0;
    char **keys = shop_xcalloc((size_t)cap, sizeof(char *));
    const char **argv = shop_xcalloc((size_t)cap, sizeof(char *));
    char num[16];
    argv[argc++] = "ZUNIONSTORE";
    argv[argc++] = dest;
    argv[argc++] = num;
    int nk = 0;
    int64_t oldest = g - g % d->width_ms - (int64_t)(d->nbuckets - 1) * d->width_ms;
    for (int64_t st = oldest; st <= g; st += d->width_ms)
        for (int i = 0; i < n; i++) {
            if (wm[i].tag != 's')
                continue;
            char k[512];
            search_ss_key(s, k, sizeof(k), d->name, st, 's', wm[i].partition);
            keys[nk] = shop_xstrdup(k);
            argv[argc++] = keys[nk++];
        }
    snprintf(num, sizeof(num), "%d", nk);
    if (nk)
        redisAppendCommandArgv(c, argc, argv, NULL);
    else
        redisAppendCommand(c, "DEL %s", dest);
    for (int i = 0; i < nk; i++)
        free(keys[i]);
    free(keys);
    free(argv);
}

/* Reads all replies of a pipeline of `n` commands; the first error wins. */
static int drain_replies(redisContext *c, int n, char *errstr, size_t errstr_size) {
    int rc = SHOP_OK;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", c->errstr);
        if (r->type == REDIS_REPLY_ERROR && !rc)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", r->str);
        else if (r->type == REDIS_REPLY_ARRAY && !rc)
            for (size_t j = 0; j < r->elements; j++)
                if (r->element[j]->type == REDIS_REPLY_ERROR) {
                    rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s",
                                     r->element[j]->str);
                    break;
                }
        freeReplyObject(r);
    }
    return rc;
}

/* ---- merged recency-weighted summaries ---- */

typedef struct {
    char *item;
    size_t len;
    double w;
    char *fix; /* a correction (did-you-mean lists only) */
} merged_t;

typedef struct {
    merged_t *v;
    size_t n, cap;
    uint32_t *slots; /* index + 1, 0 empty */
    size_t nslots;
} merged_map_t;

static uint64_t bytes_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001B3ULL;
    return shop_mix64(h);
}

static void merged_reindex(merged_map_t *m) {
    size_t ns = 1024;
    while (ns < 2 * m->n + 2)
        ns *= 2;
    free(m->slots);
    m->slots = shop_xcalloc(ns, sizeof(uint32_t));
    m->nslots = ns;
    for (size_t i = 0; i < m->n; i++) {
        size_t j = bytes_hash(m->v[i].item, m->v[i].len) & (ns - 1);
        while (m->slots[j])
            j = (j + 1) & (ns - 1);
        m->slots[j] = (uint32_t)i + 1;
    }
}

static merged_t *merged_get(merged_map_t *m, const char *item, size_t len) {
    if ((m->n + 1) * 2 > m->nslots)
        merged_reindex(m);
    size_t j = bytes_hash(item, len) & (m->nslots - 1);
    for (; m->slots[j]; j = (j + 1) & (m->nslots - 1)) {
        merged_t *e = &m->v[m->slots[j] - 1]; /* found: add to it */
        if (e->len == len && !memcmp(e->item, item, len))
            return e;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->v = shop_xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    merged_t *e = &m->v[m->n];
    e->item = shop_xmalloc(len + 1);
    memcpy(e->item, item, len);
    e->item[len] = '\0';
    e->len = len;
    e->w = 0;
    m->slots[j] = (uint32_t)++m->n;
    return e;
}

static void merged_release(merged_map_t *m) {
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].item);
    free(m->v);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static int merged_cmp(const void *a, const void *b) {
    const merged_t *x = a, *y = b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->item, y->item, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Sums one decayed level over every partition (in partition order), sorted best first. */
static int read_decayed(shop_search_t *s, redisContext *c, int level, const wm_entry_t *wm, int n,
                        merged_map_t *out, char *errstr, size_t errstr_size) {
    char key[512];
    for (int i = 0; i < n; i++) {
        search_ss_key(s, key, sizeof(key), search_decayed_names[level], -1, wm[i].tag,
                      wm[i].partition);
        redisAppendCommand(c, "ZRANGE %s 0 -1 WITHSCORES", key);
    }
    int rc = SHOP_OK;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", c->errstr);
        if (r->type != REDIS_REPLY_ARRAY) {
            if (!rc)
                rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                                 "redis: bad reply reading %s", key);
        } else {
            for (size_t j = 0; j + 1 < r->elements; j += 2)
                merged_get(out, r->element[j]->str, r->element[j]->len)->w +=
                    strtod(r->element[j + 1]->str, NULL);
        }
        freeReplyObject(r);
    }
    shop_sort(out->v, out->n, sizeof(*out->v), merged_cmp);
    return rc;
}

/* Scores as users see them: weights decayed to the start of the watermark's day, 4 significant
 * digits (the ranking itself uses the exact sums). Changes at most daily for an unchanged item,
 * so a refresh rewrites only the suggestion keys that really changed. */
static double shown(const shop_search_t *s, double w, int64_t g) {
    int64_t day = g - g % 86400000;
    double v = w / search_decay_weight(s, day);
    if (!(v > 0))
        return 0;
    double mag = pow(10, floor(log10(v)) - 3);
    return round(v / mag) * mag;
}

/* ---- sorted-set writes ---- */

/* Appends DEL key and, when n > 0, one ZADD of the n members. */
static void zset_rewrite(shop_redis_batch_t *b, const char *key, const merged_t *v, size_t n) {
    shop_redis_batch_cmd(b, "DEL %s", key);
    if (!n)
        return;
    const char **argv = shop_xcalloc(2 * n + 2, sizeof(char *));
    size_t *lens = shop_xcalloc(2 * n + 2, sizeof(size_t));
    char(*num)[32] = shop_xcalloc(n, sizeof(*num));
    argv[0] = "ZADD";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        snprintf(num[i], sizeof(num[i]), "%.17g", v[i].w);
        argv[2 + 2 * i] = num[i];
        lens[2 + 2 * i] = strlen(num[i]);
        argv[3 + 2 * i] = v[i].item;
        lens[3 + 2 * i] = v[i].len;
    }
    shop_redis_batch_argv(b, (int)(2 * n + 2), argv, lens);
    free(argv);
    free(lens);
    free(num);
}

/* The views' writes cut between keys into chunks of about `limit` commands. A refresh whose
 * writes fit one chunk commits them in one MULTI/EXEC with the trends; a larger one (the first
 * after a catch-up rewrites every suggestion key: 100k commands, 0.4 s of Redis) commits chunk
 * by chunk, so readers never wait on Redis longer than one chunk takes. */
typedef struct {
    shop_redis_batch_t *v;
    size_t n, cap;
    int limit;
} chunks_t;

/* Where the next key's commands go: a new chunk once the current one is full. */
static shop_redis_batch_t *chunk_for_key(chunks_t *ch) {
    if (ch->n && ch->v[ch->n - 1].ncmds < ch->limit)
        return &ch->v[ch->n - 1];
    if (ch->n == ch->cap) {
        ch->cap = ch->cap ? 2 * ch->cap : 8;
        ch->v = shop_xrealloc(ch->v, ch->cap * sizeof(*ch->v));
    }
    shop_redis_batch_t *b = &ch->v[ch->n++];
    memset(b, 0, sizeof(*b));
    shop_buf_init(&b->resp);
    return b;
}

static void chunks_release(chunks_t *ch) {
    for (size_t i = 0; i < ch->n; i++)
        shop_buf_release(&ch->v[i].resp);
    free(ch->v);
    memset(ch, 0, sizeof(*ch));
}

/* Pipelines a batch's commands on c; *ncmds counts the replies to read. */
static void append_batch(redisContext *c, const shop_redis_batch_t *b, int *ncmds) {
    if (b->ncmds)
        redisAppendFormattedCommand(c, b->resp.buf, b->resp.len);
    *ncmds += b->ncmds;
}

/* ---- suggestions ---- */

typedef struct {
    char *key;
    uint32_t items[100]; /* indexes into the merged popularity list, best first */
    int n;
    uint64_t fp; /* fingerprint of the content */
} sugg_key_t;

typedef struct {
    sugg_key_t *v;
    size_t n, cap;
    uint32_t *slots;
    size_t nslots;
    int max;
    uint32_t cur; /* item being expanded */
} sugg_map_t;

static sugg_key_t *sugg_get(sugg_map_t *m, const char *key, size_t len) {
    if ((m->n + 1) * 2 > m->nslots) {
        size_t ns = m->nslots ? m->nslots * 2 : 4096;
        free(m->slots);
        m->slots = shop_xcalloc(ns, sizeof(uint32_t));
        m->nslots = ns;
        for (size_t i = 0; i < m->n; i++) {
            size_t j = bytes_hash(m->v[i].key, strlen(m->v[i].key)) & (ns - 1);
            while (m->slots[j])
                j = (j + 1) & (ns - 1);
            m->slots[j] = (uint32_t)i + 1;
        }
    }
    size_t j = bytes_hash(key, len) & (m->nslots - 1);
    for (; m->slots[j]; j = (j + 1) & (m->nslots - 1)) {
        sugg_key_t *e = &m->v[m->slots[j] - 1];
        if (!strncmp(e->key, key, len) && !e->key[len])
            return e;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4096;
        m->v = shop_xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    sugg_key_t *e = &m->v[m->n];
    e->key = shop_xmalloc(len + 1);
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->n = 0;
    e->fp = 0;
    m->slots[j] = (uint32_t)++m->n;
    return e;
}

static const sugg_key_t *sugg_find(const sugg_map_t *m, const char *key, size_t len) {
    if (!m->nslots)
        return NULL;
    for (size_t j = bytes_hash(key, len) & (m->nslots - 1); m->slots[j];
         j = (j + 1) & (m->nslots - 1)) {
        const sugg_key_t *e = &m->v[m->slots[j] - 1];
        if (!strncmp(e->key, key, len) && !e->key[len])
            return e;
    }
    return NULL;
}

static void sugg_release(sugg_map_t *m) {
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].key);
    free(m->v);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static void on_key(const char *key, size_t len, void *arg) {
    sugg_map_t *m = arg;
    sugg_key_t *e = sugg_get(m, key, len);
    if (e->n < m->max)
        e->items[e->n++] = m->cur;
}

/* Every suggestion key with its completions (misspelt variants left out) and a fingerprint of
 * what its sorted set holds. */
static void compute_suggestions(const shop_search_t *s, const merged_map_t *pop, int64_t g,
                                const search_lex_t *lex, sugg_map_t *m) {
    m->max = s->suggest_n;
    for (size_t i = 0; i < pop->n; i++) {
        if (search_lex_is_variant(lex, i))
            continue;
        m->cur = (uint32_t)i;
        shop_text_prefix_keys(pop->v[i].item, s->prefix_max, on_key, m);
    }
    for (size_t i = 0; i < m->n; i++) {
        sugg_key_t *e = &m->v[i];
        uint64_t fp = 0x9E3779B97F4A7C15ULL;
        for (int j = 0; j < e->n; j++) {
            const merged_t *it = &pop->v[e->items[j]];
            double w = shown(s, it->w, g);
            fp = shop_mix64(fp ^ bytes_hash(it->item, it->len)) ^ shop_mix64((uint64_t)(w * 1000));
        }
        e->fp = fp ? fp : 1;
    }
}

/* Reads sugg:fp (suggestion key -> fingerprint of what it holds) into m, by HSCAN so that
 * Redis never blocks on one large reply. The caller WATCHes the key: a change meanwhile aborts
 * the write. */
static int read_fingerprints(const shop_search_t *s, redisContext *c, sugg_map_t *m, char *errstr,
                             size_t errstr_size) {
    char fpkey[256], cursor[32] = "0";
    snprintf(fpkey, sizeof(fpkey), SHOP_KEY_SUGGEST_FP, s->prefix);
    do {
        redisReply *r = redisCommand(c, "HSCAN %s %s COUNT 300", fpkey, cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY)
            return shop_redis_reply_err(c, r, errstr, errstr_size);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        const redisReply *kv = r->element[1];
        for (size_t i = 0; i + 1 < kv->elements; i += 2) /* a field may come twice: same value */
            sugg_get(m, kv->element[i]->str, kv->element[i]->len)->fp =
                strtoull(kv->element[i + 1]->str, NULL, 16);
        freeReplyObject(r);
    } while (strcmp(cursor, "0"));
    return SHOP_OK;
}

/* Appends the commands that bring the sugg:* keys from what sugg:fp says they hold (`cur`) to
 * `m`: rewritten keys, deleted keys, and sugg:fp itself, each key with its sugg:fp field in one
 * chunk. */
static void append_suggestion_diff(const shop_search_t *s, chunks_t *ch, const merged_map_t *pop,
                                   int64_t g, const sugg_map_t *m, const sugg_map_t *cur) {
    char key[SHOP_TEXT_MAX_KEY + 256], fpkey[256], hex[24];
    snprintf(fpkey, sizeof(fpkey), SHOP_KEY_SUGGEST_FP, s->prefix);
    merged_t *tmp = shop_xcalloc(101, sizeof(*tmp));
    for (size_t i = 0; i < m->n; i++) {
        const sugg_key_t *e = &m->v[i];
        const sugg_key_t *was = sugg_find(cur, e->key, strlen(e->key));
        if (was && was->fp == e->fp)
            continue;
        for (int j = 0; j < e->n; j++) {
            const merged_t *it = &pop->v[e->items[j]];
            tmp[j] = (merged_t){it->item, it->len, shown(s, it->w, g), NULL};
        }
        shop_redis_batch_t *b = chunk_for_key(ch);
        snprintf(key, sizeof(key), SHOP_KEY_SUGGEST, s->prefix, e->key);
        zset_rewrite(b, key, tmp, (size_t)e->n);
        snprintf(hex, sizeof(hex), "%llx", (unsigned long long)e->fp);
        shop_redis_batch_cmd(b, "HSET %s %s %s", fpkey, e->key, hex);
    }
    for (size_t i = 0; i < cur->n; i++) { /* keys left without completions */
        if (sugg_find(m, cur->v[i].key, strlen(cur->v[i].key)))
            continue;
        shop_redis_batch_t *b = chunk_for_key(ch);
        snprintf(key, sizeof(key), SHOP_KEY_SUGGEST, s->prefix, cur->v[i].key);
        shop_redis_batch_cmd(b, "DEL %s", key);
        shop_redis_batch_cmd(b, "HDEL %s %s", fpkey, cur->v[i].key);
    }
    free(tmp);
}

/* ---- did you mean ---- */

/* The lexicon of the popular queries and titles (search_lex.c), counts as users see them. */
static search_lex_t *build_lex(const shop_search_t *s, const merged_map_t *pop, int64_t g) {
    const char **items = shop_xcalloc(pop->n + 1, sizeof(char *));
    double *counts = shop_xcalloc(pop->n + 1, sizeof(double));
    for (size_t i = 0; i < pop->n; i++) {
        items[i] = pop->v[i].item;
        counts[i] = shown(s, pop->v[i].w, g);
    }
    search_lex_t *l = search_lex_build(items, counts, pop->n);
    free(items);
    free(counts);
    return l;
}

/* Installs a new lexicon for /correct (the HTTP threads read it under the lock). */
static void swap_lex(shop_search_t *s, search_lex_t *lex) {
    pthread_mutex_lock(&s->lex_lock);
    search_lex_t *old = s->lex;
    s->lex = lex;
    pthread_mutex_unlock(&s->lex_lock);
    search_lex_destroy(old);
}

/* dym: the zero- and few-result queries, and the misspelt variants among the popular ones.
 * Returns the entries (item borrowed, fix owned) and their count in *n. */
static merged_t *compute_corrections(const shop_search_t *s, const merged_map_t *pop,
                                     const merged_map_t *zero, const merged_map_t *few,
                                     const search_lex_t *lex, size_t *n) {
    size_t cap = (size_t)s->top_n * 3 + 1;
    merged_t *out = shop_xcalloc(cap, sizeof(*out));
    *n = 0;
    const merged_map_t *srcs[3] = {zero, few, pop};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0, taken = 0; i < srcs[k]->n && taken < (size_t)s->top_n; i++) {
            if (k == 2 && !search_lex_is_variant(lex, i))
                continue;
            char *fix = search_lex_correct(lex, s->dict, srcs[k]->v[i].item);
            if (!fix)
                continue;
            int dup = 0;
            for (size_t j = 0; j < *n && !dup; j++)
                dup = !strcmp(out[j].item, srcs[k]->v[i].item);
            if (dup || !strcmp(fix, srcs[k]->v[i].item)) {
                free(fix);
                continue;
            }
            out[(*n)++] = (merged_t){srcs[k]->v[i].item, srcs[k]->v[i].len, 0, fix};
            taken++;
        }
    return out;
}

search_lex_t *search_lex_from_redis(shop_search_t *s, redisContext *c, char *errstr,
                                    size_t errstr_size) {
    int n = 0;
    wm_entry_t *wm = read_watermarks(s, c, &n, NULL, errstr, errstr_size);
    if (n < 0)
        return NULL;
    int64_t g = 0;
    for (int i = 0; i < n; i++)
        if (wm[i].wm > g)
            g = wm[i].wm;
    merged_map_t pop = {0};
    search_lex_t *l = NULL;
    if (!read_decayed(s, c, DK_POP, wm, n, &pop, errstr, errstr_size))
        l = build_lex(s, &pop, g);
    merged_release(&pop);
    free(wm);
    return l;
}

/* ---- trending views ---- */

typedef struct {
    char *cat;
    merged_t *v;
    size_t n, cap;
} cat_list_t;

/* Rising queries from the 5-minute union (r5, ZREVRANGE WITHSCORES) and the hour's counts of the
 * same members (rh, ZMSCORE). */
static merged_t *compute_rising(const shop_search_t *s, const redisReply *r5, const redisReply *rh,
                                int64_t g, int64_t first, size_t *n) {
    /* The baseline is the rest of the hour per 5 minutes, over the history there is: a stream
     * that started 20 minutes ago has 3 periods of baseline, not 11 (no rising before one). */
    double periods = first > 0 ? (double)(g - first - 300000) / 300000.0 : 0;
    if (periods > 11)
        periods = 11;
    size_t nr = r5->elements / 2;
    merged_t *ri = shop_xcalloc(nr + 1, sizeof(*ri));
    *n = 0;
    for (size_t i = 0; i < nr && rh && i < rh->elements; i++) {
        double recent = strtod(r5->element[2 * i + 1]->str, NULL);
        double hour =
            rh->element[i]->type == REDIS_REPLY_STRING ? strtod(rh->element[i]->str, NULL) : recent;
        if (recent < s->rising_min || periods < 1)
            continue;
        double base = hour > recent ? (hour - recent) / periods : 0;
        ri[(*n)++] = (merged_t){r5->element[2 * i]->str, r5->element[2 * i]->len,
                                (recent + 1) / (base + s->rising_prior), NULL};
    }
    shop_sort(ri, *n, sizeof(*ri), merged_cmp);
    if (*n > (size_t)s->top_n)
        *n = (size_t)s->top_n;
    return ri;
}

/* The hour's per-category union split by category, each sorted best first. */
static cat_list_t *compute_categories(const redisReply *rc, size_t *ncats) {
    cat_list_t *cats = NULL;
    *ncats = 0;
    for (size_t i = 0; i + 1 < rc->elements; i += 2) {
        const char *m = rc->element[i]->str, *tab = memchr(m, '\t', rc->element[i]->len);
        if (!tab)
            continue;
        size_t cl = (size_t)(tab - m), j;
        for (j = 0; j < *ncats; j++)
            if (strlen(cats[j].cat) == cl && !memcmp(cats[j].cat, m, cl))
                break;
        if (j == *ncats) {
            cats = shop_xrealloc(cats, (*ncats + 1) * sizeof(*cats));
            cats[*ncats] = (cat_list_t){strndup(m, cl), NULL, 0, 0};
            (*ncats)++;
        }
        cat_list_t *L = &cats[j];
        if (L->n == L->cap) {
            L->cap = L->cap ? L->cap * 2 : 64;
            L->v = shop_xrealloc(L->v, L->cap * sizeof(*L->v));
        }
        L->v[L->n++] = (merged_t){(char *)tab + 1, rc->element[i]->len - cl - 1,
                                  strtod(rc->element[i + 1]->str, NULL), NULL};
    }
    for (size_t j = 0; j < *ncats; j++)
        shop_sort(cats[j].v, cats[j].n, sizeof(*cats[j].v), merged_cmp);
    return cats;
}

static redisReply *command_argv_members(redisContext *c, const char *cmd, const char *key,
                                        const redisReply *pairs) {
    size_t n = pairs->elements / 2;
    const char **argv = shop_xcalloc(n + 2, sizeof(char *));
    size_t *lens = shop_xcalloc(n + 2, sizeof(size_t));
    argv[0] = cmd;
    lens[0] = strlen(cmd);
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        argv[i + 2] = pairs->element[2 * i]->str;
        lens[i + 2] = pairs->element[2 * i]->len;
    }
    redisReply *r = redisCommandArgv(c, (int)n + 2, argv, lens);
    free(argv);
    free(lens);
    return r;
}

static int64_t reply_int(const redisReply *r) {
    return r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

/* MULTI, the batch, EXEC, and every reply read. *aborted when EXEC found a watched key changed. */
static int exec_batch(redisContext *c, const shop_redis_batch_t *b, int *aborted, char *errstr,
                      size_t errstr_size) {
    int ncmds = 0, rc = SHOP_OK;
    redisAppendCommand(c, "MULTI");
    ncmds++;
    append_batch(c, b, &ncmds);
    redisAppendCommand(c, "EXEC");
    ncmds++;
    for (int i = 0; i < ncmds; i++) {
        redisReply *x = NULL;
        if (redisGetReply(c, (void **)&x) != REDIS_OK)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", c->errstr);
        if (i == ncmds - 1 && x->type == REDIS_REPLY_NIL)
            *aborted = 1;
        else if (x->type == REDIS_REPLY_ERROR && !rc)
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", x->str);
        freeReplyObject(x);
    }
    return rc;
}

/* One chunk of a claimed views change: committed only while the claim is still this refresh's
 * (a newer refresh, here or on another instance, takes it over and this one stops). */
static int write_claimed(redisContext *c, const char *claim, const char *token,
                         const shop_redis_batch_t *b, int *aborted, char *errstr,
                         size_t errstr_size) {
    redisAppendCommand(c, "WATCH %s", claim);
    redisAppendCommand(c, "GET %s", claim);
    redisReply *w = NULL, *g = NULL;
    if (redisGetReply(c, (void **)&w) != REDIS_OK || redisGetReply(c, (void **)&g) != REDIS_OK) {
        if (w)
            freeReplyObject(w);
        return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s", c->errstr);
    }
    int mine =
        w->type == REDIS_REPLY_STATUS && g->type == REDIS_REPLY_STRING && !strcmp(g->str, token);
    freeReplyObject(w);
    freeReplyObject(g);
    if (!mine) {
        redisReply *u = redisCommand(c, "UNWATCH");
        if (u)
            freeReplyObject(u);
        *aborted = 1;
        return SHOP_OK;
    }
    return exec_batch(c, b, aborted, errstr, errstr_size);
}

/* ---- one refresh ---- */

typedef struct {
    char tmp[4][256]; /* unions: 5m, 1h, 24h, cat */
    redisReply *r5, *rh, *rc, *oldcats, *vers;
    sugg_map_t curfp; /* what sugg:fp says the suggestion keys hold */
    merged_map_t pop, zero, few;
    search_lex_t *lex;
    sugg_map_t sugg;
    merged_t *rising, *dym;
    size_t nrising, ndym;
    cat_list_t *cats;
    size_t ncats;
    wm_entry_t *wm;
} refresh_t;

static void refresh_release(refresh_t *f) {
    redisReply *rs[] = {f->r5, f->rh, f->rc, f->oldcats, f->vers};
    for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++)
        if (rs[i])
            freeReplyObject(rs[i]);
    merged_release(&f->pop);
    merged_release(&f->zero);
    merged_release(&f->few);
    sugg_release(&f->sugg);
    sugg_release(&f->curfp);
    search_lex_destroy(f->lex);
    for (size_t i = 0; i < f->ndym; i++)
        free(f->dym[i].fix);
    free(f->dym);
    free(f->rising);
    for (size_t j = 0; j < f->ncats; j++) {
        free(f->cats[j].cat);
        free(f->cats[j].v);
    }
    free(f->cats);
    free(f->wm);
}

static unsigned long refresh_seq; /* names this process's temporary keys (the refresh thread) */

/* The suggestion and correction views' changes, into chunks; the last one records the version
 * they were computed from. "Did you mean" is built in a temporary hash renamed over the old one
 * at the end, so readers see the whole old or the whole new table. */
static void append_views(const shop_search_t *s, const refresh_t *f, int64_t gall, int64_t v,
                         chunks_t *ch) {
    char key[256], dtmp[256];
    merged_t *z = shop_xcalloc(f->zero.n + 1, sizeof(*z));
    size_t nz = f->zero.n < (size_t)s->top_n ? f->zero.n : (size_t)s->top_n;
    for (size_t i = 0; i < nz; i++)
        z[i] =
            (merged_t){f->zero.v[i].item, f->zero.v[i].len, shown(s, f->zero.v[i].w, gall), NULL};
    snprintf(key, sizeof(key), SHOP_KEY_TREND_ZERO, s->prefix);
    zset_rewrite(chunk_for_key(ch), key, z, nz);
    free(z);
    append_suggestion_diff(s, ch, &f->pop, gall, &f->sugg, &f->curfp);
    snprintf(dtmp, sizeof(dtmp), "%ssrch:tmp:%d.%lu:dym", s->prefix, (int)getpid(), ++refresh_seq);
    enum { PAIRS = 128 };
    const char *argv[2 + 2 * PAIRS];
    size_t lens[2 + 2 * PAIRS];
    for (size_t i = 0; i < f->ndym; i += PAIRS) {
        int argc = 2;
        argv[0] = "HSET", lens[0] = 4;
        argv[1] = dtmp, lens[1] = strlen(dtmp);
        for (size_t j = i; j < f->ndym && j < i + PAIRS; j++) {
            argv[argc] = f->dym[j].item, lens[argc++] = f->dym[j].len;
            argv[argc] = f->dym[j].fix, lens[argc++] = strlen(f->dym[j].fix);
        }
        shop_redis_batch_t *b = chunk_for_key(ch);
        shop_redis_batch_argv(b, argc, argv, lens);
        shop_redis_batch_cmd(b, "EXPIRE %s 300", dtmp); /* if this refresh stops half-way */
    }
    shop_redis_batch_t *last = chunk_for_key(ch);
    snprintf(key, sizeof(key), SHOP_KEY_DYM, s->prefix);
    if (f->ndym) {
        shop_redis_batch_cmd(last, "RENAME %s %s", dtmp, key);
        shop_redis_batch_cmd(last, "PERSIST %s", key);
    } else {
        shop_redis_batch_cmd(last, "DEL %s", key);
    }
    snprintf(key, sizeof(key), SHOP_KEY_SUGGEST_VER, s->prefix);
    shop_redis_batch_cmd(last, "SET %s %lld", key, (long long)v);
}

/* Whether a refresh at `now_ms` recomputes suggestions and corrections: always when `full`; else
 * at most once per search.suggest.refresh.ms, and no sooner than the last one's CPU time divided
 * by search.suggest.refresh.cpu, so that the recomputation takes at most that share of a core
 * however large the vocabulary and however slow the machine (the way Redis bounds its active
 * expiry cycle). Under live traffic a 2.3-6.5 s recomputation every 5 s was half a core taken
 * from consumption and from the HTTP queries. */
int search_heavy_due(const shop_search_t *s, int64_t now_ms, int full) {
    if (full || !s->last_heavy_ms)
        return 1;
    int64_t wait = s->heavy_interval_ms;
    if (s->heavy_cpu_share > 0 && (double)s->last_heavy_cpu_ms / s->heavy_cpu_share > (double)wait)
        wait = (int64_t)((double)s->last_heavy_cpu_ms / s->heavy_cpu_share);
    return now_ms - s->last_heavy_ms >= wait;
}

/* The views are written in one MULTI guarded by WATCH on their versions: each refresh knows the
 * state version it read (srch:ver, bumped by every flush, read first), and never overwrites views
 * computed from a newer one. A refresh that loses a race is retried. A suggestion change larger
 * than one chunk is claimed in that MULTI (srch:sugg:claim) and written in further transactions,
 * each only while the claim is still this refresh's. Without a flush since the trends were
 * written, and with suggestions not due, there is nothing to do. */
int search_refresh(void *w, struct redisContext *c, int full, char *errstr, size_t errstr_size) {
    shop_search_t *s = w;
    refresh_t f;
    memset(&f, 0, sizeof(f));
    int64_t now = shop_mono_us() / 1000;
    int64_t cpu0 = shop_thread_cpu_us();
    int heavy = search_heavy_due(s, now, full);
    char key[512], vkey[256], tkey[256], skey[256], fpkey[256], catset[256], meta[256];
    snprintf(vkey, sizeof(vkey), SHOP_KEY_SRCH_VER, s->prefix);
    snprintf(tkey, sizeof(tkey), SHOP_KEY_TREND_VER, s->prefix);
    snprintf(skey, sizeof(skey), SHOP_KEY_SUGGEST_VER, s->prefix);
    snprintf(fpkey, sizeof(fpkey), SHOP_KEY_SUGGEST_FP, s->prefix);
    snprintf(catset, sizeof(catset), SHOP_KEY_TREND_CATS, s->prefix);
    snprintf(meta, sizeof(meta), SHOP_KEY_TREND_META, s->prefix);
    redisReply *r = redisCommand(c, "MGET %s %s", vkey, tkey);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return shop_redis_reply_err(c, r, errstr, errstr_size);
    int64_t v = reply_int(r->element[0]), tv = reply_int(r->element[1]);
    freeReplyObject(r);
    /* the trends follow event time only: without a flush since they were written, they stand */
    int do_trends = full || v > tv;
    if (!heavy && !do_trends)
        return SHOP_REFRESH_PARTIAL;

    int n = 0, rc = SHOP_OK;
    int64_t first = 0, g = 0, gall = 0;
    f.wm = read_watermarks(s, c, &n, &first, errstr, errstr_size);
    if (n < 0) {
        free(f.wm);
        return SHOP_ERR_RETRYABLE;
    }
    for (int i = 0; i < n; i++) {
        if (f.wm[i].tag == 's' && f.wm[i].wm > g)
            g = f.wm[i].wm;
        if (f.wm[i].wm > gall)
            gall = f.wm[i].wm;
    }
    if (!n) { /* nothing committed yet */
        free(f.wm);
        return SHOP_OK;
    }

    /* 1. the windows' unions, into keys of this refresh's own */
    const char *names[4] = {"5m", "1h", "24h", "cat"};
    for (int i = 0; i < 4; i++)
        snprintf(f.tmp[i], sizeof(f.tmp[i]), "%ssrch:tmp:%d.%lu:%s", s->prefix, (int)getpid(),
                 ++refresh_seq, names[i]);
    int ncmds = 0;
    if (g > 0 && do_trends) {
        /* one command each, not one MULTI: Redis serves readers between them (a flush landing
         * in between bumps srch:ver, so the next refresh sees it) */
        const int lv[4] = {LV_5M, LV_1H, LV_24H, LV_CAT};
        for (int i = 0; i < 4; i++) {
            append_union(s, c, f.tmp[i], lv[i], g, f.wm, n);
            redisAppendCommand(c, "EXPIRE %s 300", f.tmp[i]); /* if this process dies here */
            ncmds += 2;
        }
        rc = drain_replies(c, ncmds, errstr, errstr_size);
        /* 2. what rising and the categories need */
        if (!rc &&
            !(f.r5 = redisCommand(c, "ZREVRANGE %s 0 %d WITHSCORES", f.tmp[0], s->top_n - 1)))
            rc = shop_redis_reply_err(c, NULL, errstr, errstr_size);
        if (!rc && f.r5->type == REDIS_REPLY_ARRAY && f.r5->elements &&
            !(f.rh = command_argv_members(c, "ZMSCORE", f.tmp[1], f.r5)))
            rc = shop_redis_reply_err(c, NULL, errstr, errstr_size);
        if (!rc && !(f.rc = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", f.tmp[3])))
            rc = shop_redis_reply_err(c, NULL, errstr, errstr_size);
        if (!rc && (f.r5->type != REDIS_REPLY_ARRAY || f.rc->type != REDIS_REPLY_ARRAY ||
                    (f.rh && f.rh->type != REDIS_REPLY_ARRAY)))
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                             "redis: bad reply reading the window unions");
        if (!rc) {
            f.rising = compute_rising(s, f.r5, f.rh, g, first, &f.nrising);
            f.cats = compute_categories(f.rc, &f.ncats);
        }
    }
    /* 3. suggestions and corrections from the recency-weighted summaries */
    if (!rc && heavy)
        rc = read_decayed(s, c, DK_POP, f.wm, n, &f.pop, errstr, errstr_size);
    if (!rc && heavy)
        rc = read_decayed(s, c, DK_ZERO, f.wm, n, &f.zero, errstr, errstr_size);
    if (!rc && heavy)
        rc = read_decayed(s, c, DK_FEW, f.wm, n, &f.few, errstr, errstr_size);
    if (!rc && heavy) {
        f.lex = build_lex(s, &f.pop, gall);
        compute_suggestions(s, &f.pop, gall, f.lex, &f.sugg);
        f.dym = compute_corrections(s, &f.pop, &f.zero, &f.few, f.lex, &f.ndym);
    }

    /* 4. write, unless newer views are there */
    char claim[256], token[400], host[256] = "";
    snprintf(claim, sizeof(claim), SHOP_KEY_SUGGEST_CLAIM, s->prefix);
    gethostname(host, sizeof(host) - 1);
    snprintf(token, sizeof(token), "%lld %s:%d.%lu", (long long)v, host, (int)getpid(),
             ++refresh_seq);
    int watching = 0; /* EXEC ends the WATCH; a read failing before it needs an UNWATCH */
    if (!rc) {
        r = redisCommand(c, "WATCH %s %s %s %s %s", tkey, skey, fpkey, catset, claim);
        if (!r || r->type == REDIS_REPLY_ERROR)
            rc = shop_redis_reply_err(c, r, errstr, errstr_size);
        else
            freeReplyObject(r), watching = 1;
    }
    if (!rc && (!(f.vers = redisCommand(c, "MGET %s %s %s", tkey, skey, claim)) ||
                f.vers->type != REDIS_REPLY_ARRAY || f.vers->elements != 3))
        rc = shop_redis_reply_err(c, f.vers, errstr, errstr_size), f.vers = NULL;
    if (!rc && !(f.oldcats = redisCommand(c, "SMEMBERS %s", catset)))
        rc = shop_redis_reply_err(c, NULL, errstr, errstr_size);
    if (!rc && heavy)
        rc = read_fingerprints(s, c, &f.curfp, errstr, errstr_size);
    int trends = !rc && g > 0 && do_trends && v >= reply_int(f.vers->element[0]);
    int views =
        !rc && heavy && v >= reply_int(f.vers->element[1]) && v >= reply_int(f.vers->element[2]);
    shop_redis_batch_t head = {0};
    shop_buf_init(&head.resp);
    chunks_t ch = {.limit = s->chunk};
    if (trends) {
        for (int i = 0; i < 3; i++) {
            snprintf(key, sizeof(key), SHOP_KEY_TREND, s->prefix, names[i]);
            shop_redis_batch_cmd(&head, "ZRANGESTORE %s %s 0 %d REV", key, f.tmp[i], s->top_n - 1);
        }
        snprintf(key, sizeof(key), SHOP_KEY_TREND_RISING, s->prefix);
        zset_rewrite(&head, key, f.rising, f.nrising);
        for (size_t i = 0; f.oldcats->type == REDIS_REPLY_ARRAY && i < f.oldcats->elements; i++) {
            int keep = 0;
            for (size_t j = 0; j < f.ncats && !keep; j++)
                keep = !strcmp(f.cats[j].cat, f.oldcats->element[i]->str);
            if (!keep) {
                snprintf(key, sizeof(key), SHOP_KEY_TREND_CAT, s->prefix,
                         f.oldcats->element[i]->str);
                shop_redis_batch_cmd(&head, "DEL %s", key);
                shop_redis_batch_cmd(&head, "SREM %s %s", catset, f.oldcats->element[i]->str);
            }
        }
        for (size_t j = 0; j < f.ncats; j++) {
            cat_list_t *L = &f.cats[j];
            snprintf(key, sizeof(key), SHOP_KEY_TREND_CAT, s->prefix, L->cat);
            zset_rewrite(&head, key, L->v, L->n < (size_t)s->top_n ? L->n : (size_t)s->top_n);
            shop_redis_batch_cmd(&head, "SADD %s %s", catset, L->cat);
        }
        shop_redis_batch_cmd(&head, "HSET %s watermark %lld partitions %d", meta, (long long)g, n);
        shop_redis_batch_cmd(&head, "SET %s %lld", tkey, (long long)v);
    }
    if (views)
        append_views(s, &f, gall, v, &ch);
    /* a views change of one chunk goes with the trends; a larger one is claimed here and
     * written chunk by chunk below */
    int chunked = views && ch.n > 1;
    if (chunked) {
        shop_redis_batch_cmd(&head, "SET %s %s", claim, token);
    } else if (views) {
        shop_buf_append(&head.resp, ch.v[0].resp.buf, ch.v[0].resp.len);
        head.ncmds += ch.v[0].ncmds;
    }
    int aborted = 0;
    int64_t t_write = shop_mono_us();
    if (!rc) {
        shop_redis_batch_cmd(&head, "UNLINK %s %s %s %s", f.tmp[0], f.tmp[1], f.tmp[2], f.tmp[3]);
        rc = exec_batch(c, &head, &aborted, errstr, errstr_size);
    } else if (watching && (r = redisCommand(c, "UNWATCH"))) {
        freeReplyObject(r);
    }
    if (aborted) { /* another instance wrote the views meanwhile: its version may be older */
        redisReply *d =
            redisCommand(c, "UNLINK %s %s %s %s", f.tmp[0], f.tmp[1], f.tmp[2], f.tmp[3]);
        if (d)
            freeReplyObject(d);
    }
    for (size_t i = 0; chunked && !rc && !aborted && i < ch.n; i++)
        rc = write_claimed(c, claim, token, &ch.v[i], &aborted, errstr, errstr_size);
    if (aborted)
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                         "views changed by another instance during the refresh; retrying");
    SHOP_DEBUG("msg=\"search refresh\" heavy=%d trends=%d views=%d commands=%d chunks=%zu "
               "compute_ms=%lld write_ms=%lld rc=%d",
               heavy, trends, views, head.ncmds, chunked ? ch.n : 0,
               (long long)(t_write / 1000 - now), (long long)((shop_mono_us() - t_write) / 1000),
               rc);
    shop_buf_release(&head.resp);
    chunks_release(&ch);
    if (!rc && heavy) {
        swap_lex(s, f.lex);
        f.lex = NULL;
        s->last_heavy_ms = now;
        s->last_heavy_cpu_ms = (shop_thread_cpu_us() - cpu0) / 1000;
    }
    refresh_release(&f);
    if (rc)
        return rc;
    return heavy ? SHOP_OK : SHOP_REFRESH_PARTIAL;
}
