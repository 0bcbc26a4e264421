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

static int reply_err(redisContext *c, redisReply *r, char *errstr, size_t errstr_size) {
    int rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s",
                         !r                             ? c->errstr
                         : r->type == REDIS_REPLY_ERROR ? r->str
                                                        : "bad reply");
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Partitions with state, sorted; *n is set. NULL with errstr on failure (or *n = 0). */
static wm_entry_t *read_watermarks(shop_search_t *s, redisContext *c, int *n, int64_t *first,
                                   char *errstr, size_t errstr_size) {
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_SRCH_WM, s->prefix);
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    *n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        reply_err(c, r, errstr, errstr_size);
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
    qsort(e, (size_t)*n, sizeof(*e), wm_cmp);
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
    qsort(out->v, out->n, sizeof(*out->v), merged_cmp);
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

static void zset_rewrite(redisContext *c, int *ncmds, const char *key, const merged_t *v,
                         size_t n) {
    redisAppendCommand(c, "DEL %s", key);
    (*ncmds)++;
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
    redisAppendCommandArgv(c, (int)(2 * n + 2), argv, lens);
    (*ncmds)++;
    free(argv);
    free(lens);
    free(num);
}

/* ---- suggestions ---- */

typedef struct {
    char *key;
    uint32_t items[100]; /* indexes into the merged popularity list, best first */
    int n;
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
    m->slots[j] = (uint32_t)++m->n;
    return e;
}

static void on_key(const char *key, size_t len, void *arg) {
    sugg_map_t *m = arg;
    sugg_key_t *e = sugg_get(m, key, len);
    if (e->n < m->max)
        e->items[e->n++] = m->cur;
}

/* written-keys index: key -> fingerprint of what was last written */
static size_t written_find(search_written_t *wr, const char *key, int create) {
    if (create && (wr->n + 1) * 2 > wr->nslots) {
        size_t ns = wr->nslots ? wr->nslots * 2 : 4096;
        free(wr->slots);
        wr->slots = shop_xcalloc(ns, sizeof(uint32_t));
        wr->nslots = ns;
        for (size_t i = 0; i < wr->n; i++) {
            size_t j = bytes_hash(wr->keys[i], strlen(wr->keys[i])) & (ns - 1);
            while (wr->slots[j])
                j = (j + 1) & (ns - 1);
            wr->slots[j] = (uint32_t)i + 1;
        }
    }
    if (!wr->nslots)
        return SIZE_MAX;
    size_t j = bytes_hash(key, strlen(key)) & (wr->nslots - 1);
    for (; wr->slots[j]; j = (j + 1) & (wr->nslots - 1))
        if (!strcmp(wr->keys[wr->slots[j] - 1], key))
            return wr->slots[j] - 1;
    if (!create)
        return SIZE_MAX;
    if (wr->n == wr->cap) {
        wr->cap = wr->cap ? wr->cap * 2 : 4096;
        wr->keys = shop_xrealloc(wr->keys, wr->cap * sizeof(char *));
        wr->fp = shop_xrealloc(wr->fp, wr->cap * sizeof(uint64_t));
    }
    wr->keys[wr->n] = shop_xstrdup(key);
    wr->fp[wr->n] = 0; /* unknown: rewrite */
    wr->slots[j] = (uint32_t)wr->n + 1;
    return wr->n++;
}

void search_written_release(search_written_t *wr) {
    for (size_t i = 0; i < wr->n; i++)
        free(wr->keys[i]);
    free(wr->keys);
    free(wr->fp);
    free(wr->slots);
    memset(wr, 0, sizeof(*wr));
}

/* The set of suggestion keys this namespace has (so keys written before a restart that no
 * longer have completions are deleted too). */
static int load_written(shop_search_t *s, redisContext *c, char *errstr, size_t errstr_size) {
    if (s->written_loaded)
        return SHOP_OK;
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_SUGGEST_KEYS, s->prefix);
    redisReply *r = redisCommand(c, "SMEMBERS %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return reply_err(c, r, errstr, errstr_size);
    for (size_t i = 0; i < r->elements; i++)
        written_find(&s->written, r->element[i]->str, 1);
    freeReplyObject(r);
    s->written_loaded = 1;
    return SHOP_OK;
}

static int write_suggestions(shop_search_t *s, redisContext *c, const merged_map_t *pop, int64_t g,
                             const search_lex_t *lex, char *errstr, size_t errstr_size) {
    int rc = load_written(s, c, errstr, errstr_size);
    if (rc)
        return rc;
    sugg_map_t m = {.max = s->suggest_n};
    for (size_t i = 0; i < pop->n; i++) {
        if (search_lex_is_variant(lex, i))
            continue; /* a misspelling of a more popular query */
        m.cur = (uint32_t)i;
        shop_text_prefix_keys(pop->v[i].item, s->prefix_max, on_key, &m);
    }
    char key[SHOP_TEXT_MAX_KEY + 256], setkey[256];
    snprintf(setkey, sizeof(setkey), SHOP_KEY_SUGGEST_KEYS, s->prefix);
    int ncmds = 0;
    redisAppendCommand(c, "MULTI");
    ncmds++;
    unsigned char *seen = shop_xcalloc(s->written.n + m.n + 1, 1);
    merged_t *tmp = shop_xcalloc(101, sizeof(*tmp));
    size_t rewritten = 0;
    for (size_t i = 0; i < m.n; i++) {
        sugg_key_t *e = &m.v[i];
        uint64_t fp = 0x9E3779B97F4A7C15ULL;
        for (int j = 0; j < e->n; j++) {
            const merged_t *it = &pop->v[e->items[j]];
            tmp[j] = (merged_t){it->item, it->len, shown(s, it->w, g), NULL};
            fp = shop_mix64(fp ^ bytes_hash(it->item, it->len)) ^
                 shop_mix64((uint64_t)(int64_t)(tmp[j].w * 1000));
        }
        size_t wi = written_find(&s->written, e->key, 1);
        if (wi >= s->written.n)
            continue;
        if (s->written.fp[wi] == fp)
            goto mark;
        snprintf(key, sizeof(key), SHOP_KEY_SUGGEST, s->prefix, e->key);
        zset_rewrite(c, &ncmds, key, tmp, (size_t)e->n);
        if (!s->written.fp[wi]) {
            redisAppendCommand(c, "SADD %s %s", setkey, e->key);
            ncmds++;
        }
        s->written.fp[wi] = fp;
        rewritten++;
    mark:
        if (wi < s->written.n + m.n)
            seen[wi] = 1;
    }
    /* keys with no completions any more */
    for (size_t i = 0; i < s->written.n; i++) {
        if (seen[i] || s->written.fp[i] == UINT64_MAX)
            continue;
        snprintf(key, sizeof(key), SHOP_KEY_SUGGEST, s->prefix, s->written.keys[i]);
        redisAppendCommand(c, "DEL %s", key);
        redisAppendCommand(c, "SREM %s %s", setkey, s->written.keys[i]);
        ncmds += 2;
        s->written.fp[i] = UINT64_MAX; /* gone (kept in the index, skipped) */
    }
    redisAppendCommand(c, "EXEC");
    ncmds++;
    rc = drain_replies(c, ncmds, errstr, errstr_size);
    if (rc) /* unknown state: rewrite everything next time */
        for (size_t i = 0; i < s->written.n; i++)
            if (s->written.fp[i] != UINT64_MAX)
                s->written.fp[i] = 0;
    s->last_rewritten = rewritten;
    free(seen);
    free(tmp);
    for (size_t i = 0; i < m.n; i++)
        free(m.v[i].key);
    free(m.v);
    free(m.slots);
    return rc;
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

/* Installs a new lexicon for /correct (the HTTP thread reads it under the lock). */
static void swap_lex(shop_search_t *s, search_lex_t *lex) {
    pthread_mutex_lock(&s->lex_lock);
    search_lex_t *old = s->lex;
    s->lex = lex;
    pthread_mutex_unlock(&s->lex_lock);
    search_lex_destroy(old);
}

/* dym: the zero- and few-result queries, and the misspelt variants among the popular ones. */
static int write_corrections(shop_search_t *s, redisContext *c, const merged_map_t *pop,
                             const merged_map_t *zero, const merged_map_t *few,
                             const search_lex_t *lex, char *errstr, size_t errstr_size) {
    size_t cap = (size_t)s->top_n * 3 + 1, n = 0;
    merged_t *out = shop_xcalloc(cap, sizeof(*out));
    const merged_map_t *srcs[3] = {zero, few, pop};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0, taken = 0; i < srcs[k]->n && taken < (size_t)s->top_n; i++) {
            if (k == 2 && !search_lex_is_variant(lex, i))
                continue;
            char *fix = search_lex_correct(lex, s->dict, srcs[k]->v[i].item);
            if (!fix)
                continue;
            int dup = 0;
            for (size_t j = 0; j < n && !dup; j++)
                dup = !strcmp(out[j].item, srcs[k]->v[i].item);
            if (dup || !strcmp(fix, srcs[k]->v[i].item)) {
                free(fix);
                continue;
            }
            out[n++] = (merged_t){srcs[k]->v[i].item, srcs[k]->v[i].len, 0, fix};
            taken++;
        }
    char key[256];
    snprintf(key, sizeof(key), SHOP_KEY_DYM, s->prefix);
    int ncmds = 3;
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "DEL %s", key);
    for (size_t i = 0; i < n; i++, ncmds++)
        redisAppendCommand(c, "HSET %s %b %s", key, out[i].item, out[i].len, out[i].fix);
    redisAppendCommand(c, "EXEC");
    int rc = drain_replies(c, ncmds, errstr, errstr_size);
    for (size_t i = 0; i < n; i++)
        free(out[i].fix);
    free(out);
    return rc;
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

static int write_trends(shop_search_t *s, redisContext *c, const wm_entry_t *wm, int n, int64_t g,
                        int64_t first, char *errstr, size_t errstr_size) {
    char dest[256], tmp1h[256], tmpcat[256];
    snprintf(tmp1h, sizeof(tmp1h), "%ssrch:tmp:1h", s->prefix);
    snprintf(tmpcat, sizeof(tmpcat), "%ssrch:tmp:cat", s->prefix);
    int ncmds = 0;
    redisAppendCommand(c, "MULTI");
    ncmds++;
    for (int l = LV_5M; l <= LV_24H; l++) {
        snprintf(dest, sizeof(dest), SHOP_KEY_TREND, s->prefix, search_levels[l].view);
        if (l == LV_1H) {
            append_union(s, c, tmp1h, l, g, wm, n);
            redisAppendCommand(c, "ZUNIONSTORE %s 1 %s", dest, tmp1h);
            ncmds += 2;
        } else {
            append_union(s, c, dest, l, g, wm, n);
            ncmds++;
        }
        redisAppendCommand(c, "ZREMRANGEBYRANK %s 0 %d", dest, -(s->top_n + 1));
        ncmds++;
    }
    append_union(s, c, tmpcat, LV_CAT, g, wm, n);
    ncmds++;
    redisAppendCommand(c, "EXEC");
    ncmds++;
    int rc = drain_replies(c, ncmds, errstr, errstr_size);
    if (rc)
        return rc;

    /* rising: the 5-minute top against the hour */
    char k5[256], rising[256];
    snprintf(k5, sizeof(k5), SHOP_KEY_TREND, s->prefix, "5m");
    snprintf(rising, sizeof(rising), SHOP_KEY_TREND_RISING, s->prefix);
    redisReply *r5 = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", k5);
    if (!r5 || r5->type != REDIS_REPLY_ARRAY)
        return reply_err(c, r5, errstr, errstr_size);
    /* The baseline is the rest of the hour per 5 minutes, over the history there is: a stream
     * that started 20 minutes ago has 3 periods of baseline, not 11 (no rising before one). */
    double periods = first > 0 ? (double)(g - first - 300000) / 300000.0 : 0;
    if (periods > 11)
        periods = 11;
    size_t nr = r5->elements / 2;
    merged_t *ri = shop_xcalloc(nr + 1, sizeof(*ri));
    size_t nri = 0;
    if (nr) {
        const char **argv = shop_xcalloc(nr + 2, sizeof(char *));
        size_t *lens = shop_xcalloc(nr + 2, sizeof(size_t));
        argv[0] = "ZMSCORE";
        lens[0] = 7;
        argv[1] = tmp1h;
        lens[1] = strlen(tmp1h);
        for (size_t i = 0; i < nr; i++) {
            argv[i + 2] = r5->element[2 * i]->str;
            lens[i + 2] = r5->element[2 * i]->len;
        }
        redisReply *rh = redisCommandArgv(c, (int)nr + 2, argv, lens);
        free(argv);
        free(lens);
        if (!rh || rh->type != REDIS_REPLY_ARRAY || rh->elements != nr) {
            free(ri);
            freeReplyObject(r5);
            return reply_err(c, rh, errstr, errstr_size);
        }
        for (size_t i = 0; i < nr; i++) {
            double recent = strtod(r5->element[2 * i + 1]->str, NULL);
            double hour = rh->element[i]->type == REDIS_REPLY_STRING
                              ? strtod(rh->element[i]->str, NULL)
                              : recent;
            if (recent < s->rising_min || periods < 1)
                continue;
            double base = hour > recent ? (hour - recent) / periods : 0;
            ri[nri++] = (merged_t){r5->element[2 * i]->str, r5->element[2 * i]->len,
                                   (recent + 1) / (base + s->rising_prior), NULL};
        }
        freeReplyObject(rh);
    }
    qsort(ri, nri, sizeof(*ri), merged_cmp);
    if (nri > (size_t)s->top_n)
        nri = (size_t)s->top_n;

    /* per category, from the hour's category summaries */
    redisReply *rc_ = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", tmpcat);
    if (!rc_ || rc_->type != REDIS_REPLY_ARRAY) {
        free(ri);
        freeReplyObject(r5);
        return reply_err(c, rc_, errstr, errstr_size);
    }
    cat_list_t *cats = NULL;
    size_t ncats = 0;
    for (size_t i = 0; i + 1 < rc_->elements; i += 2) {
        const char *m = rc_->element[i]->str, *tab = memchr(m, '\t', rc_->element[i]->len);
        if (!tab)
            continue;
        size_t cl = (size_t)(tab - m), j;
        for (j = 0; j < ncats; j++)
            if (strlen(cats[j].cat) == cl && !memcmp(cats[j].cat, m, cl))
                break;
        if (j == ncats) {
            cats = shop_xrealloc(cats, (ncats + 1) * sizeof(*cats));
            cats[ncats] = (cat_list_t){strndup(m, cl), NULL, 0, 0};
            ncats++;
        }
        cat_list_t *L = &cats[j];
        if (L->n == L->cap) {
            L->cap = L->cap ? L->cap * 2 : 64;
            L->v = shop_xrealloc(L->v, L->cap * sizeof(*L->v));
        }
        L->v[L->n++] = (merged_t){(char *)tab + 1, rc_->element[i]->len - cl - 1,
                                  strtod(rc_->element[i + 1]->str, NULL), NULL};
    }
    ncmds = 0;
    redisAppendCommand(c, "MULTI");
    ncmds++;
    zset_rewrite(c, &ncmds, rising, ri, nri);
    char catset[256];
    snprintf(catset, sizeof(catset), SHOP_KEY_TREND_CATS, s->prefix);
    /* categories gone since the last refresh (any instance's): SMEMBERS is read first */
    redisReply *old = redisCommand(c, "SMEMBERS %s", catset);
    if (old && old->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < old->elements; i++) {
            int keep = 0;
            for (size_t j = 0; j < ncats && !keep; j++)
                keep = !strcmp(cats[j].cat, old->element[i]->str);
            if (!keep) {
                snprintf(dest, sizeof(dest), SHOP_KEY_TREND_CAT, s->prefix, old->element[i]->str);
                redisAppendCommand(c, "DEL %s", dest);
                redisAppendCommand(c, "SREM %s %s", catset, old->element[i]->str);
                ncmds += 2;
            }
        }
    if (old)
        freeReplyObject(old);
    for (size_t j = 0; j < ncats; j++) {
        cat_list_t *L = &cats[j];
        qsort(L->v, L->n, sizeof(*L->v), merged_cmp);
        snprintf(dest, sizeof(dest), SHOP_KEY_TREND_CAT, s->prefix, L->cat);
        zset_rewrite(c, &ncmds, dest, L->v, L->n < (size_t)s->top_n ? L->n : (size_t)s->top_n);
        redisAppendCommand(c, "SADD %s %s", catset, L->cat);
        ncmds++;
    }
    redisAppendCommand(c, "DEL %s %s", tmp1h, tmpcat);
    redisAppendCommand(c, "EXEC");
    ncmds += 2;
    rc = drain_replies(c, ncmds, errstr, errstr_size);
    for (size_t j = 0; j < ncats; j++) {
        free(cats[j].cat);
        free(cats[j].v);
    }
    free(cats);
    free(ri);
    freeReplyObject(r5);
    freeReplyObject(rc_);
    return rc;
}

int search_refresh(void *w, struct redisContext *c, int full, char *errstr, size_t errstr_size) {
    shop_search_t *s = w;
    int n = 0;
    int64_t first = 0;
    wm_entry_t *wm = read_watermarks(s, c, &n, &first, errstr, errstr_size);
    if (n < 0)
        return SHOP_ERR_RETRYABLE;
    int64_t g = 0, gall = 0;
    for (int i = 0; i < n; i++) {
        if (wm[i].tag == 's' && wm[i].wm > g)
            g = wm[i].wm;
        if (wm[i].wm > gall)
            gall = wm[i].wm;
    }
    int rc = SHOP_OK;
    if (g > 0)
        rc = write_trends(s, c, wm, n, g, first, errstr, errstr_size);
    /* The trends are cheap and always current; suggestions and corrections (the lexicon costs
     * a SymSpell lookup per popular query) at most every search.suggest.refresh.ms. */
    int64_t now = shop_mono_us() / 1000;
    if (!rc && !full && now - s->last_heavy_ms < s->heavy_interval_ms) {
        free(wm);
        return SHOP_REFRESH_PARTIAL;
    }
    merged_map_t pop = {0}, zero = {0}, few = {0};
    if (!rc && n)
        rc = read_decayed(s, c, DK_POP, wm, n, &pop, errstr, errstr_size);
    if (!rc && n)
        rc = read_decayed(s, c, DK_ZERO, wm, n, &zero, errstr, errstr_size);
    if (!rc && n)
        rc = read_decayed(s, c, DK_FEW, wm, n, &few, errstr, errstr_size);
    if (!rc && n) {
        char key[256];
        snprintf(key, sizeof(key), SHOP_KEY_TREND_ZERO, s->prefix);
        merged_t *v = shop_xcalloc(zero.n + 1, sizeof(*v));
        size_t nz = zero.n < (size_t)s->top_n ? zero.n : (size_t)s->top_n;
        for (size_t i = 0; i < nz; i++)
            v[i] = (merged_t){zero.v[i].item, zero.v[i].len, shown(s, zero.v[i].w, gall), NULL};
        int ncmds = 0;
        redisAppendCommand(c, "MULTI");
        zset_rewrite(c, &ncmds, key, v, nz);
        snprintf(key, sizeof(key), SHOP_KEY_TREND_META, s->prefix);
        redisAppendCommand(c, "HSET %s watermark %lld partitions %d", key, (long long)g, n);
        redisAppendCommand(c, "EXEC");
        rc = drain_replies(c, ncmds + 3, errstr, errstr_size);
        free(v);
    }
    search_lex_t *lex = !rc && n ? build_lex(s, &pop, gall) : NULL;
    if (!rc && n)
        rc = write_suggestions(s, c, &pop, gall, lex, errstr, errstr_size);
    if (!rc && n)
        rc = write_corrections(s, c, &pop, &zero, &few, lex, errstr, errstr_size);
    if (lex)
        swap_lex(s, lex);
    if (!rc)
        s->last_heavy_ms = now;
    merged_release(&pop);
    merged_release(&zero);
    merged_release(&few);
    free(wm);
    return rc;
}
