/* search.c: the search worker's event processing and per-partition state: validation, Space-Saving
 * summaries per event-time bucket, recency-weighted popularity, users' recent searches, the
 * per-hour analytics rows, and how all of it is flushed to and restored from the sinks. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_keys.h"
#include "search_int.h"
#include "search_query.h"
#include "store.h"

const search_level_def_t search_levels[LV_NWIN] = {
    [LV_5M] = {"1m", 60000, 5, "5m"},
    [LV_1H] = {"5m", 300000, 12, "1h"},
    [LV_24H] = {"1h", 3600000, 24, "24h"},
    [LV_CAT] = {"cat", 300000, 12, NULL},
};
const char *const search_decayed_names[DK_N] = {"pop", "zero", "few"};

static const char *const topics[] = {"shop.search.events", "shop.catalog.events", NULL};

static const shop_conf_def_t conf[] = {
    /* a flush rewrites every summary that changed: bigger batches amortise it */
    {"flush.events", SHOP_CONF_INT, "100000", "flush after this many events"},
    /* a flush's Redis commit (30k commands, 10 MB at 100k events) overlaps the next events:
     * catch-up 153-176k -> 204-231k events/s (README, redis.flush.async) */
    {"redis.flush.async", SHOP_CONF_BOOL, "true",
     "commit each Redis flush on a thread of its own while consumption goes on"},
    /* the per-hour rows' INSERT took the consume thread 100-200 ms per flush: catch-up
     * (median of 6) 178k -> 207k events/s with it on another thread (README, pg.flush.async) */
    {"pg.flush.async", SHOP_CONF_BOOL, "true",
     "commit the PostgreSQL rows on a thread of their own while consumption goes on"},
    {"search.suggest.refresh.ms", SHOP_CONF_INT, "5000",
     "recompute suggestions and corrections at most this often (trends: refresh.ms)"},
    /* a recomputation (SymSpell indexes, every prefix's completions) took 2.3-6.5 s of CPU on
     * 530k events' vocabulary under live traffic: every 5 s that was half a core */
    {"search.suggest.refresh.cpu", SHOP_CONF_STRING, "0.1",
     "at most this share of one core for those recomputations: after one that took C CPU "
     "seconds the next waits at least C / share (0: no limit)"},
    {"search.refresh.chunk", SHOP_CONF_INT, "500",
     "commands per transaction when a refresh rewrites many suggestion keys (readers wait on a "
     "transaction at most this long)"},
    {"search.k", SHOP_CONF_INT, "1000",
     "Space-Saving counters per partition and trending bucket (memory bound)"},
    {"search.suggest.k", SHOP_CONF_INT, "2000",
     "Space-Saving counters per partition for the popularity behind suggestions"},
    {"search.prefix.max", SHOP_CONF_INT, "12", "code points of a query that get suggestion keys"},
    {"search.suggest.n", SHOP_CONF_INT, "10", "completions kept per suggestion key"},
    {"search.top.n", SHOP_CONF_INT, "100", "members kept per trending view"},
    {"search.recent.n", SHOP_CONF_INT, "10", "recent searches kept per user"},
    {"search.recent.ttl.s", SHOP_CONF_INT, "2592000", "TTL of a user's recent searches"},
    {"search.few.results", SHOP_CONF_INT, "3",
     "queries with at most this many results (and those with none) get \"did you mean\""},
    {"search.decay.halflife.h", SHOP_CONF_INT, "168",
     "half-life of the recency weighting of suggestions, hours"},
    {"search.decay.landmark", SHOP_CONF_STRING, "2026-01-01T00:00:00Z",
     "forward-decay landmark (weights are 2^((t - landmark)/half-life))"},
    {"search.rising.prior", SHOP_CONF_STRING, "5",
     "smoothing of the rising score (recent + 1) / (baseline + prior)"},
    {"search.rising.min", SHOP_CONF_INT, "5", "searches in 5 minutes a rising query needs"},
    /* normalisation (utf8proc NFC, case folding) was 13 % of the consume thread's catch-up */
    {"search.normalize.cache", SHOP_CONF_INT, "16384",
     "slots of the memo of normalised query texts (a power of two up to 2^24; 0: none)"},
    {"search.dictionary", SHOP_CONF_STRING, NULL,
     "word-frequency file (\"word count\" lines) added to the \"did you mean\" vocabulary"},
    {NULL, 0, NULL, NULL},
};

/* ---- per-partition state ---- */

static int ss_dirty(const shop_ss_t *ss) {

    return shop_ss_needs_rewrite(ss) || shop_ss_changed_count(ss) || shop_ss_evicted_count(ss);
}

static size_t cp_count(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

search_part_t *search_part_get(shop_search_t *s, char tag, int32_t partition, int create) {
    for (search_part_t *p = s->parts; p; p = p->next)
        if (p->tag == tag && p->partition == partition)
            return p;
    if (!create)
        return NULL;
    search_part_t *p = shop_xcalloc(1, sizeof(*p));
    p->tag = tag;
    p->partition = partition;
    for (int d = 0; d < DK_N; d++)
        p->dk[d] = shop_ss_new(d == DK_POP ? s->k_pop : s->k);
    p->next = s->parts;
    s->parts = p;
    return p;
}

void search_part_free(search_part_t *p) {
    for (int l = 0; l < LV_NWIN; l++)
        for (int b = 0; b < SEARCH_MAX_BUCKETS; b++)
            shop_ss_destroy(p->win[l][b].ss);
    for (int d = 0; d < DK_N; d++)
        shop_ss_destroy(p->dk[d]);
    free(p->dropped);
    free(p);
}

static void part_remove(shop_search_t *s, char tag, int32_t partition) {
    for (search_part_t **pp = &s->parts; *pp; pp = &(*pp)->next)
        if ((*pp)->tag == tag && (*pp)->partition == partition) {
            search_part_t *p = *pp;
            *pp = p->next;
            search_part_free(p);
            return;
        }
}

static char topic_tag(const char *topic) {
    size_t n = topic ? strlen(topic) : 0;
    return n >= 19 && !strcmp(topic + n - 19, "shop.catalog.events") ? 'c' : 's';
}

void search_ss_key(const shop_search_t *s, char *out, size_t size, const char *level, int64_t start,
                   char tag, int32_t partition) {
    if (start >= 0)
        snprintf(out, size, SHOP_KEY_SRCH_BUCKET, s->prefix, level, (long long)start, tag,
                 (int)partition);
    else
        snprintf(out, size, SHOP_KEY_SRCH_DECAYED, s->prefix, level, tag, (int)partition);
}

/* Forward decay (Cormode, Shkapenyuk, Srivastava & Xu, ICDE 2009): an event at t weighs
 * 2^((t - L) / h); ranking by the sum equals ranking by exponentially decayed counts at any later
 * time, and the sum does not depend on arrival order. The exponent is clamped so that events far
 * from the landmark stay finite (the runtime admits 2000..2100). */
double search_decay_weight(const shop_search_t *s, int64_t at_ms) {
    double e = (double)(at_ms - s->landmark_ms) / s->halflife_ms;
    if (e > 960)
        e = 960;
    if (e < -960)
        e = -960;
    return exp2(e);
}

/* Start of the oldest bucket a level keeps for a partition whose watermark is wm. */
static int64_t oldest_start(int lv, int64_t wm) {
    const search_level_def_t *d = &search_levels[lv];
    return wm - wm % d->width_ms - (int64_t)(d->nbuckets - 1) * d->width_ms;
}

/* Buckets that left the window: their keys are deleted at the next flush (deterministic: every
 * run deletes them, whatever was flushed before). */
static void drop_old_buckets(shop_search_t *s, search_part_t *p) {
    for (int l = 0; l < LV_NWIN; l++) {
        int64_t oldest = oldest_start(l, p->wm);
        for (int b = 0; b < search_levels[l].nbuckets; b++) {
            search_bucket_t *bk = &p->win[l][b];
            if (!bk->start || bk->start >= oldest)
                continue;
            if (p->ndropped == p->capdropped) {
                p->capdropped = p->capdropped ? p->capdropped * 2 : 16;
                p->dropped = shop_xrealloc(p->dropped, p->capdropped * sizeof(*p->dropped));
            }
            p->dropped[p->ndropped++] = (search_dropped_t){l, bk->start};
            bk->start = 0;
            shop_ss_clear(bk->ss);
        }
    }
    (void)s;
}

static void window_add(shop_search_t *s, search_part_t *p, int lv, int64_t at, const char *item,
                       size_t len) {
    const search_level_def_t *d = &search_levels[lv];
    int64_t start = at - at % d->width_ms;
    if (start < oldest_start(lv, p->wm)) {
        s->late++;
        return;
    }
    search_bucket_t *bk = &p->win[lv][(start / d->width_ms) % d->nbuckets];
    if (bk->start != start) { /* a stale slot: drop_old_buckets has queued its deletion */
        if (!bk->ss)
            bk->ss = shop_ss_new(s->k);
        bk->start = start;
    }
    shop_ss_add(bk->ss, item, len, 1.0);
}

/* ---- validation ---- */

/* A string field with its length (Avro strings may hold NUL bytes: those are refused later). */
static int get_str(avro_value_t *rec, const char *field, const char **out, size_t *len) {
    avro_value_t v, b;
    if (avro_value_get_by_name(rec, field, &v, NULL))
        return SHOP_ERR_NOTFOUND;
    if (avro_value_get_type(&v) == AVRO_UNION) {
        if (avro_value_get_current_branch(&v, &b))
            return SHOP_ERR_NOTFOUND;
        v = b;
    }
    if (avro_value_get_type(&v) == AVRO_NULL)
        return SHOP_ERR_NOTFOUND;
    size_t size = 0;
    if (avro_value_get_type(&v) != AVRO_STRING || avro_value_get_string(&v, out, &size))
        return SHOP_ERR_INVALID;
    *len = size ? size - 1 : 0; /* avro-c counts the terminating NUL */
    return SHOP_OK;
}

/* Normalises field `field` of the payload into out; errors name the event type and field. */
static int text_field(shop_search_t *s, const shop_event_t *ev, const char *field, int max_cp,
                      char *out, size_t size, char *errstr, size_t errstr_size) {
    const char *v = NULL;
    size_t len = 0;
    if (get_str((avro_value_t *)&ev->payload, field, &v, &len))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s missing", ev->type,
                           field);
    char why[200];
    if (shop_text_normalize_cached(s->norm, v, len, max_cp, out, size, why, sizeof(why)))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s: %s", ev->type, field,
                           why);
    return SHOP_OK;
}

static int int_field(const shop_event_t *ev, const char *field, int32_t min, int32_t *out,
                     char *errstr, size_t errstr_size) {
    if (shop_value_get_int((avro_value_t *)&ev->payload, field, out))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s missing", ev->type,
                           field);
    if (*out < min)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s %d is below %d", ev->type,
                           field, (int)*out, (int)min);
    return SHOP_OK;
}

/* ---- open-addressing indexes over an array (pending rows; users with recent searches) ---- */

static void slots_reset(int32_t *slots, size_t nslots) {
    for (size_t i = 0; i < nslots; i++)
        slots[i] = -1;
}

/* A fresh index of nslots (a power of two) in *slots, emptied. */
static void slots_renew(int32_t **slots, size_t *cur, size_t nslots) {
    free(*slots);
    *slots = shop_xmalloc(nslots * sizeof(int32_t));
    *cur = nslots;
    slots_reset(*slots, nslots);
}

/* Puts array index r in the first free slot from hash h. */
static void slots_put(int32_t *slots, size_t nslots, uint64_t h, size_t r) {
    size_t i = h & (nslots - 1);
    while (slots[i] >= 0)
        i = (i + 1) & (nslots - 1);
    slots[i] = (int32_t)r;
}

/* ---- pending rows for PostgreSQL ---- */

static uint64_t row_hash(int64_t hour, const char *q) {
    uint64_t h = (uint64_t)hour * 0x9E3779B97F4A7C15ULL;
    for (const unsigned char *c = (const unsigned char *)q; *c; c++)
        h = (h ^ *c) * 0x100000001B3ULL;
    return shop_mix64(h);
}

static void rows_rehash(search_rows_t *t, size_t nslots) {
    slots_renew(&t->slots, &t->nslots, nslots);
    for (size_t r = 0; r < t->n; r++)
        slots_put(t->slots, nslots, row_hash(t->rows[r].hour_ms, t->rows[r].query), r);
}

static search_row_t *row_get(search_rows_t *t, int64_t hour, const char *q) {
    if ((t->n + 1) * 2 > t->nslots)
        rows_rehash(t, t->nslots ? t->nslots * 2 : 256);
    size_t i = row_hash(hour, q) & (t->nslots - 1);
    for (; t->slots[i] >= 0; i = (i + 1) & (t->nslots - 1)) {
        search_row_t *r = &t->rows[t->slots[i]];
        if (r->hour_ms == hour && !strcmp(r->query, q))
            return r;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->rows = shop_xrealloc(t->rows, t->cap * sizeof(*t->rows));
    }
    search_row_t *r = &t->rows[t->n];
    *r = (search_row_t){hour, shop_xstrdup(q), 0, 0, 0};
    t->slots[i] = (int32_t)t->n++;
    return r;
}

static void rows_clear(search_rows_t *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->rows[i].query);
    t->n = 0;
    slots_reset(t->slots, t->nslots);
}

static void recent_clear(shop_search_t *s) {
    for (size_t i = 0; i < s->nrecent; i++) {
        search_recent_t *r = &s->recent[i];
        for (int k = 0; k < r->n; k++)
            free(r->q[k].query);
        free(r->q);
        free(r->user);
    }
    s->nrecent = 0;
    slots_reset(s->recent_slots, s->recent_nslots);
}

static void recent_rehash(shop_search_t *s, size_t nslots) {
    slots_renew(&s->recent_slots, &s->recent_nslots, nslots);
    for (size_t r = 0; r < s->nrecent; r++)
        slots_put(s->recent_slots, nslots, s->recent[r].hash, r);
}

/* (at, q) after entry e in the user's sorted set: a greater score, or an equal one and greater
 * bytes. */
static int recent_after(int64_t at, const char *q, const search_recent_q_t *e) {
    return at != e->at ? at > e->at : strcmp(q, e->query) > 0;
}

/* Notes that `user` searched q at `at`, keeping the user's newest s->recent_n. */
static void recent_add(shop_search_t *s, const char *user, const char *q, int64_t at) {
    if ((s->nrecent + 1) * 2 > s->recent_nslots)
        recent_rehash(s, s->recent_nslots ? s->recent_nslots * 2 : 1024);
    uint64_t h = shop_hash_str(user);
    size_t i = h & (s->recent_nslots - 1);
    search_recent_t *r = NULL;
    for (; s->recent_slots[i] >= 0; i = (i + 1) & (s->recent_nslots - 1)) {
        search_recent_t *c = &s->recent[s->recent_slots[i]];
        if (c->hash == h && !strcmp(c->user, user)) {
            r = c;
            break;
        }
    }
    if (!r) {
        if (s->nrecent == s->caprecent) {
            s->caprecent = s->caprecent ? s->caprecent * 2 : 256;
            s->recent = shop_xrealloc(s->recent, s->caprecent * sizeof(*s->recent));
        }
        s->recent_slots[i] = (int32_t)s->nrecent;
        r = &s->recent[s->nrecent++];
        *r = (search_recent_t){shop_xstrdup(user), h,
                               shop_xcalloc((size_t)s->recent_n, sizeof(*r->q)), 0};
    }
    int min = -1;
    for (int k = 0; k < r->n; k++) {
        if (!strcmp(r->q[k].query, q)) { /* ZADD GT keeps the latest time */
            if (at > r->q[k].at)
                r->q[k].at = at;
            return;
        }
        if (min < 0 || recent_after(r->q[min].at, r->q[min].query, &r->q[k]))
            min = k;
    }
    if (r->n < s->recent_n) {
        r->q[r->n++] = (search_recent_q_t){shop_xstrdup(q), at};
    } else if (recent_after(at, q, &r->q[min])) { /* the trim would drop the oldest */
        free(r->q[min].query);
        r->q[min] = (search_recent_q_t){shop_xstrdup(q), at};
    }
}

/* ---- processing ---- */

static void count_query(shop_search_t *s, search_part_t *p, const shop_event_t *ev, const char *q,
                        int32_t results, const char *cat) {
    size_t len = strlen(q);
    int64_t at = ev->occurred_at;
    int64_t old_wm = p->wm;
    if (at > p->wm) {
        p->wm = at;
        p->wm_dirty = 1;
        if (old_wm / 60000 != at / 60000)
            drop_old_buckets(s, p);
    }
    if (!p->first || at < p->first) {
        p->first = at;
        p->wm_dirty = 1;
    }
    double w = search_decay_weight(s, at);
    if (results == 0) {
        shop_ss_add(p->dk[DK_ZERO], q, len, w);
        return;
    }
    if (results <= s->few_results)
        shop_ss_add(p->dk[DK_FEW], q, len, w);
    window_add(s, p, LV_5M, at, q, len);
    window_add(s, p, LV_1H, at, q, len);
    window_add(s, p, LV_24H, at, q, len);
    if (cat) {
        char item[SHOP_TEXT_MAX_KEY * 2]; /* both are normalised: under SHOP_TEXT_MAX_KEY each */
        size_t clen = strlen(cat);
        memcpy(item, cat, clen);
        item[clen] = '\t';
        memcpy(item + clen + 1, q, len + 1);
        window_add(s, p, LV_CAT, at, item, clen + 1 + len);
    }
    shop_ss_add(p->dk[DK_POP], q, len, w);
    if (s->recent_n > 0 && ev->key && *ev->key)
        recent_add(s, ev->key, q, at);
}

static int on_query(shop_search_t *s, const shop_event_t *ev, unsigned sinks, char *errstr,
                    size_t errstr_size) {
    char q[SHOP_TEXT_MAX_KEY], cat[SHOP_TEXT_MAX_KEY];
    int32_t results = 0;
    int rc = text_field(s, ev, "query", SEARCH_MAX_QUERY, q, sizeof(q), errstr, errstr_size);
    if (!rc)
        rc = int_field(ev, "result_count", 0, &results, errstr, errstr_size);
    const char *c = NULL;
    size_t clen = 0;
    int have_cat = !rc && !get_str((avro_value_t *)&ev->payload, "category", &c, &clen);
    if (have_cat)
        rc = text_field(s, ev, "category", 64, cat, sizeof(cat), errstr, errstr_size);
    if (!rc && (!ev->key || !*ev->key || strlen(ev->key) > 200))
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                         "%s: user_id is empty or over "
                         "200 bytes",
                         ev->type);
    if (rc)
        return rc;
    if (sinks & SHOP_SINK_BIT(SHOP_SINK_REDIS))
        count_query(s, search_part_get(s, 's', ev->partition, 1), ev, q, results,
                    have_cat ? cat : NULL);
    if (sinks & SHOP_SINK_BIT(SHOP_SINK_PG)) {
        search_row_t *r = row_get(&s->rows, ev->occurred_at - ev->occurred_at % 3600000, q);
        r->searches++;
        r->zero += results == 0;
    }
    return SHOP_OK;
}

static int on_click(shop_search_t *s, const shop_event_t *ev, unsigned sinks, char *errstr,
                    size_t errstr_size) {
    char q[SHOP_TEXT_MAX_KEY];
    int32_t pos = 0;
    const char *product = NULL;
    size_t plen = 0;
    int rc = text_field(s, ev, "query", SEARCH_MAX_QUERY, q, sizeof(q), errstr, errstr_size);
    if (!rc)
        rc = int_field(ev, "position", 0, &pos, errstr, errstr_size);
    if (!rc && (get_str((avro_value_t *)&ev->payload, "product_id", &product, &plen) || !plen))
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: product_id missing", ev->type);
    if (rc)
        return rc;
    if (sinks & SHOP_SINK_BIT(SHOP_SINK_PG))
        row_get(&s->rows, ev->occurred_at - ev->occurred_at % 3600000, q)->clicks++;
    return SHOP_OK;
}

static int on_suggestion_click(shop_search_t *s, const shop_event_t *ev, char *errstr,
                               size_t errstr_size) {
    char t[SHOP_TEXT_MAX_KEY];
    int32_t pos = 0;
    int rc = text_field(s, ev, "prefix", SEARCH_MAX_QUERY, t, sizeof(t), errstr, errstr_size);
    if (!rc)
        rc = text_field(s, ev, "suggestion", SEARCH_MAX_QUERY, t, sizeof(t), errstr, errstr_size);
    if (!rc)
        rc = int_field(ev, "position", 0, &pos, errstr, errstr_size);
    return rc;
}

/* A catalog title seeds the suggestions and the "did you mean" vocabulary like one search. */
static int on_product(shop_search_t *s, const shop_event_t *ev, unsigned sinks, char *errstr,
                      size_t errstr_size) {
    char titles[8][4096]; /* up to 1000 code points each */
    int n = 0;
    int rc = text_field(s, ev, "title", 1000, titles[n], sizeof(titles[n]), errstr, errstr_size);
    if (rc)
        return rc;
    n++;
    avro_value_t map, v;
    size_t count = 0;
    if (!avro_value_get_by_name((avro_value_t *)&ev->payload, "locale_titles", &map, NULL) &&
        !avro_value_get_size(&map, &count)) {
        for (size_t i = 0; i < count; i++) {
            const char *locale = NULL, *t = NULL;
            size_t len = 0;
            char why[200];
            if (avro_value_get_by_index(&map, i, &v, &locale) ||
                avro_value_get_string(&v, &t, &len))
                return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                                   "%s: locale_titles[%zu] unreadable", ev->type, i);
            if (shop_text_normalize_cached(s->norm, t, len ? len - 1 : 0, 1000,
                                           titles[n < 8 ? n : 7], sizeof(titles[0]), why,
                                           sizeof(why)))
                return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                                   "%s: locale_titles[%s]: %s", ev->type, locale ? locale : "?",
                                   why);
            if (n < 8)
                n++;
        }
    }
    if (!(sinks & SHOP_SINK_BIT(SHOP_SINK_REDIS)))
        return SHOP_OK;
    search_part_t *p = search_part_get(s, 'c', ev->partition, 1);
    if (ev->occurred_at > p->wm) {
        p->wm = ev->occurred_at;
        p->wm_dirty = 1;
    }
    double w = search_decay_weight(s, ev->occurred_at);
    for (int i = 0; i < n; i++) {
        if (cp_count(titles[i]) > SEARCH_MAX_QUERY)
            continue; /* too long to be typed: valid, but no suggestion */
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = !strcmp(titles[i], titles[j]);
        if (!dup)
            shop_ss_add(p->dk[DK_POP], titles[i], strlen(titles[i]), w);
    }
    return SHOP_OK;
}

static int process(void *w, const shop_event_t *ev, unsigned sinks, char *errstr,
                   size_t errstr_size) {
    shop_search_t *s = w;
    switch (ev->kind) {
    case SHOP_EV_SEARCH_QUERY:
        return on_query(s, ev, sinks, errstr, errstr_size);
    case SHOP_EV_SEARCH_RESULT_CLICKED:
        return on_click(s, ev, sinks, errstr, errstr_size);
    case SHOP_EV_SEARCH_SUGGESTION_CLICKED:
        return on_suggestion_click(s, ev, errstr, errstr_size);
    case SHOP_EV_CATALOG_PRODUCT_UPSERTED:
        return on_product(s, ev, sinks, errstr, errstr_size);
    default:
        return SHOP_OK; /* visual searches are the recommendation worker's */
    }
}

/* ---- Redis flush: absolute values (ZADD count), so a retried flush writes the same ---- */

/* Exact text of a count: integers (the windowed counts) without printf, others round-trip. */
static void fmt_double(char *out, size_t size, double v) {
    if (v >= 0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
        char tmp[24];
        int i = (int)sizeof(tmp);
        uint64_t n = (uint64_t)v;
        tmp[--i] = '\0';
        do {
            tmp[--i] = (char)('0' + n % 10);
            n /= 10;
        } while (n);
        memcpy(out, tmp + i, sizeof(tmp) - (size_t)i);
        return;
    }
    snprintf(out, size, "%.17g", v);
}

/* Users' recent searches: one ZADD GT, one trim and one EXPIRE per user per flush. */
static void flush_recent(shop_search_t *s, shop_redis_batch_t *b) {
    char key[512], trim[16], ttl[24];
    snprintf(trim, sizeof(trim), "%d", -(s->recent_n + 1));
    snprintf(ttl, sizeof(ttl), "%lld", (long long)s->recent_ttl_s);
    const char **argv = shop_xcalloc(2 * (size_t)s->recent_n + 3, sizeof(char *));
    char(*num)[24] = shop_xcalloc((size_t)s->recent_n + 1, sizeof(*num));
    for (size_t i = 0; i < s->nrecent; i++) {
        const search_recent_t *r = &s->recent[i];
        snprintf(key, sizeof(key), SHOP_KEY_SRCH_USER, s->prefix, r->user);
        int argc = 0;
        argv[argc++] = "ZADD";
        argv[argc++] = key;
        argv[argc++] = "GT";
        for (int k = 0; k < r->n; k++) {
            shop_fmt_i64(num[k], r->q[k].at);
            argv[argc++] = num[k];
            argv[argc++] = r->q[k].query;
        }
        shop_redis_batch_argv(b, argc, argv, NULL);
        const char *tr[] = {"ZREMRANGEBYRANK", key, "0", trim};
        shop_redis_batch_argv(b, 4, tr, NULL);
        if (s->recent_ttl_s > 0) {
            const char *ex[] = {"EXPIRE", key, ttl};
            shop_redis_batch_argv(b, 3, ex, NULL);
        }
    }
    free(argv);
    free(num);
}

/* Writes a summary's changes (or all of it) to `key` (counts) and `key`:err (errors > 0). */
static void flush_summary(shop_redis_batch_t *b, const shop_ss_t *ss, const char *key,
                          int64_t ttl_s) {
    size_t n = shop_ss_size(ss);
    shop_ss_entry_t *e = shop_xcalloc(n + shop_ss_capacity(ss) + 1, sizeof(*e));
    char ekey[512];
    snprintf(ekey, sizeof(ekey), "%s:err", key);
    int rewrite = shop_ss_needs_rewrite(ss);
    size_t nch =
        rewrite ? shop_ss_entries_unordered(ss, e, n) : shop_ss_changed_unordered(ss, e, n);
    if (rewrite) {
        shop_redis_batch_cmd(b, "DEL %s %s", key, ekey);
    } else {
        size_t nev = shop_ss_evicted(ss, e + nch, shop_ss_capacity(ss));
        if (nev) {
            const char **argv = shop_xcalloc(nev + 2, sizeof(char *));
            size_t *lens = shop_xcalloc(nev + 2, sizeof(size_t));
            for (int pass = 0; pass < 2; pass++) {
                argv[0] = pass ? "HDEL" : "ZREM";
                lens[0] = 4;
                argv[1] = pass ? ekey : key;
                lens[1] = strlen(argv[1]);
                for (size_t i = 0; i < nev; i++) {
                    argv[i + 2] = e[nch + i].item;
                    lens[i + 2] = e[nch + i].len;
                }
                shop_redis_batch_argv(b, (int)nev + 2, argv, lens);
            }
            free(argv);
            free(lens);
        }
    }
    if (nch) {
        const char **argv = shop_xcalloc(2 * nch + 2, sizeof(char *));
        size_t *lens = shop_xcalloc(2 * nch + 2, sizeof(size_t));
        char(*num)[32] = shop_xcalloc(nch, sizeof(*num));
        int na = 2, ne = 2, nz = 2;
        argv[0] = "ZADD";
        lens[0] = 4;
        argv[1] = key;
        lens[1] = strlen(key);
        for (size_t i = 0; i < nch; i++) {
            fmt_double(num[i], sizeof(num[i]), e[i].count);
            argv[na] = num[i];
            lens[na++] = strlen(num[i]);
            argv[na] = e[i].item;
            lens[na++] = e[i].len;
        }
        shop_redis_batch_argv(b, na, argv, lens);
        /* errors: HSET those > 0, HDEL those back at 0 (a counter that was restored empty) */
        argv[0] = "HSET";
        lens[0] = 4;
        argv[1] = ekey;
        lens[1] = strlen(ekey);
        for (size_t i = 0; i < nch; i++) {
            if (e[i].err <= 0)
                continue;
            fmt_double(num[i], sizeof(num[i]), e[i].err);
            argv[ne] = e[i].item;
            lens[ne++] = e[i].len;
            argv[ne] = num[i];
            lens[ne++] = strlen(num[i]);
        }
        if (ne > 2)
            shop_redis_batch_argv(b, ne, argv, lens);
        if (!rewrite) {
            argv[0] = "HDEL";
            for (size_t i = 0; i < nch; i++)
                if (e[i].err <= 0) {
                    argv[nz] = e[i].item;
                    lens[nz++] = e[i].len;
                }
            if (nz > 2)
                shop_redis_batch_argv(b, nz, argv, lens);
        }
        free(num);
        free(argv);
        free(lens);
    }
    if (ttl_s > 0 && (nch || rewrite))
        shop_redis_batch_cmd(b, "EXPIRE %s %lld", key, (long long)ttl_s),
            shop_redis_batch_cmd(b, "EXPIRE %s %lld", ekey, (long long)ttl_s);
    free(e);
}

static void flush_redis(void *w, shop_redis_batch_t *b) {
    shop_search_t *s = w;
    char key[512], field[32], num[32];
    char wmkey[256];
    snprintf(wmkey, sizeof(wmkey), SHOP_KEY_SRCH_WM, s->prefix);
    for (search_part_t *p = s->parts; p; p = p->next) {
        for (size_t i = 0; i < p->ndropped; i++) {
            char ekey[520];
            search_ss_key(s, key, sizeof(key), search_levels[p->dropped[i].level].name,
                          p->dropped[i].start, p->tag, p->partition);
            snprintf(ekey, sizeof(ekey), "%s:err", key);
            shop_redis_batch_cmd(b, "DEL %s %s", key, ekey);
        }
        for (int l = 0; l < LV_NWIN; l++) {
            const search_level_def_t *d = &search_levels[l];
            for (int k = 0; k < d->nbuckets; k++) {
                search_bucket_t *bk = &p->win[l][k];
                if (!bk->start || !ss_dirty(bk->ss))
                    continue;
                search_ss_key(s, key, sizeof(key), d->name, bk->start, p->tag, p->partition);
                /* kept a day past the window: a restore reads only buckets in the window */
                flush_summary(b, bk->ss, key, (d->width_ms * d->nbuckets) / 1000 + 86400);
            }
        }
        for (int d = 0; d < DK_N; d++) {
            if (!ss_dirty(p->dk[d]))
                continue;
            search_ss_key(s, key, sizeof(key), search_decayed_names[d], -1, p->tag, p->partition);
            flush_summary(b, p->dk[d], key, 0);
        }
        if (p->wm_dirty) {
            snprintf(field, sizeof(field), "%c%d", p->tag, (int)p->partition);
            snprintf(num, sizeof(num), "%lld", (long long)p->wm);
            shop_redis_batch_cmd(b, "HSET %s %s %s", wmkey, field, num);
            if (p->first) {
                snprintf(field, sizeof(field), "%c%d:first", p->tag, (int)p->partition);
                snprintf(num, sizeof(num), "%lld", (long long)p->first);
                shop_redis_batch_cmd(b, "HSET %s %s %s", wmkey, field, num);
            }
        }
    }
    flush_recent(s, b);
    char ver[256];
    snprintf(ver, sizeof(ver), SHOP_KEY_SRCH_VER, s->prefix);
    shop_redis_batch_cmd(b, "INCR %s", ver); /* the views' refresh compares versions */
}

/* ---- PostgreSQL flush: increments, committed on the runtime's flush thread ---- */

/* The rows since the last job as column arrays: one statement over unnest() (a VALUES list of
 * 400 rows cost PostgreSQL 12-20 ms to parse and plan, and blocked the consume thread). */
typedef struct search_pg_job {
    shop_buf_t col[5]; /* hour (epoch s), query, searches, zero_results, clicks */
    size_t rows;
} search_pg_job_t;

static void *pg_take(void *w) {
    shop_search_t *s = w;
    search_rows_t *t = &s->rows;
    search_pg_job_t *j = shop_xcalloc(1, sizeof(*j));
    char num[4][24];
    for (int c = 0; c < 5; c++)
        shop_buf_init(&j->col[c]);
    for (size_t i = 0; i < t->n; i++) {
        const search_row_t *r = &t->rows[i];
        shop_fmt_i64(num[0], r->hour_ms / 1000);
        shop_fmt_i64(num[1], r->searches);
        shop_fmt_i64(num[2], r->zero);
        shop_fmt_i64(num[3], r->clicks);
        shop_pg_array_add(&j->col[0], num[0]);
        shop_pg_array_add(&j->col[1], r->query);
        shop_pg_array_add(&j->col[2], num[1]);
        shop_pg_array_add(&j->col[3], num[2]);
        shop_pg_array_add(&j->col[4], num[3]);
    }
    for (int c = 0; c < 5; c++)
        shop_pg_array_end(&j->col[c]);
    j->rows = t->n;
    rows_clear(t);
    return j;
}

/* Rows are unique per (hour, query) within a job, as ON CONFLICT DO UPDATE needs. */
static int pg_job_run(void *job, PGconn *conn, char *errstr, size_t errstr_size) {
    search_pg_job_t *j = job;
    if (!j->rows)
        return SHOP_OK;
    const char *params[5];
    for (int c = 0; c < 5; c++)
        params[c] = j->col[c].buf;
    return shop_pg_exec(conn,
                        "INSERT INTO search_query_hour (hour, query, searches, zero_results, "
                        "clicks) SELECT to_timestamp(h), q, s, z, c FROM unnest($1::bigint[], "
                        "$2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS t(h, q, s, z, c) "
                        "ON CONFLICT (hour, query) DO UPDATE SET "
                        "searches = search_query_hour.searches + EXCLUDED.searches, "
                        "zero_results = search_query_hour.zero_results + EXCLUDED.zero_results, "
                        "clicks = search_query_hour.clicks + EXCLUDED.clicks",
                        5, params, errstr, errstr_size);
}

static void pg_job_free(void *job) {
    search_pg_job_t *j = job;
    for (int c = 0; c < 5; c++)
        shop_buf_release(&j->col[c]);
    free(j);
}

/* The Redis sink committed (PostgreSQL's rows leave in jobs: pg_take). */
static void flushed(void *w, int sink) {
    shop_search_t *s = w;
    if (sink != SHOP_SINK_REDIS)
        return;
    for (search_part_t *p = s->parts; p; p = p->next) {
        p->ndropped = 0;
        p->wm_dirty = 0;
        for (int l = 0; l < LV_NWIN; l++)
            for (int k = 0; k < search_levels[l].nbuckets; k++)
                if (p->win[l][k].ss)
                    shop_ss_clean(p->win[l][k].ss);
        for (int d = 0; d < DK_N; d++)
            shop_ss_clean(p->dk[d]);
    }
    recent_clear(s);
}

/* A rewind: drop everything; the runtime restores every assigned partition next. */
static void discard(void *w) {
    shop_search_t *s = w;
    rows_clear(&s->rows);
    recent_clear(s);
    while (s->parts) {
        search_part_t *p = s->parts;
        s->parts = p->next;
        search_part_free(p);
    }
}

static size_t pending(void *w) {
    shop_search_t *s = w;
    size_t n = s->rows.n + s->nrecent;
    for (search_part_t *p = s->parts; p; p = p->next)
        n += p->wm_dirty;
    return n;
}

/* ---- restore ---- */

typedef struct {
    const char *s;
    size_t len;
    double err;
} err_entry_t;

static int err_cmp(const void *a, const void *b) {
    const err_entry_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->s, y->s, x->len);
}

/* Reads one summary (ZRANGE WITHSCORES and the error hash, already pipelined) into ss. */
static int read_summary(redisContext *c, shop_ss_t *ss, int *found, char *errstr,
                        size_t errstr_size) {
    redisReply *z = NULL, *e = NULL;
    int rc = SHOP_OK;
    if (redisGetReply(c, (void **)&z) != REDIS_OK || redisGetReply(c, (void **)&e) != REDIS_OK) {
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s",
                         c->errstr[0] ? c->errstr : "no reply");
        goto out;
    }
    if (z->type != REDIS_REPLY_ARRAY || e->type != REDIS_REPLY_ARRAY || z->elements % 2 ||
        e->elements % 2) {
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                         "redis: unexpected reply restoring a summary");
        goto out;
    }
    *found = z->elements > 0;
    size_t nerr = e->elements / 2;
    err_entry_t *errs = shop_xcalloc(nerr + 1, sizeof(*errs));
    for (size_t j = 0; j < nerr; j++) /* HGETALL: field, value, field, value, ... */
        errs[j] = (err_entry_t){e->element[2 * j]->str, e->element[2 * j]->len,
                                strtod(e->element[2 * j + 1]->str, NULL)};
    shop_sort(errs, nerr, sizeof(*errs), err_cmp);
    for (size_t i = 0; i + 1 < z->elements && !rc; i += 2) {
        const redisReply *item = z->element[i];
        double count = strtod(z->element[i + 1]->str, NULL);
        err_entry_t key = {item->str, item->len, 0};
        const err_entry_t *hit = bsearch(&key, errs, nerr, sizeof(*errs), err_cmp);
        double err = hit ? hit->err : 0;
        if (shop_ss_set(ss, item->str, item->len, count, err))
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL,
                             "restoring a summary: more members than search.k (was it lowered?)");
    }
    free(errs);
    shop_ss_clean(ss);
out:
    if (z)
        freeReplyObject(z);
    if (e)
        freeReplyObject(e);
    return rc;
}

static void append_summary_reads(redisContext *c, const char *key) {
    redisAppendCommand(c, "ZRANGE %s 0 -1 WITHSCORES", key);
    redisAppendCommand(c, "HGETALL %s:err", key);
}

static int restore_one(shop_search_t *s, redisContext *c, char tag, int32_t partition, char *errstr,
                       size_t errstr_size) {
    part_remove(s, tag, partition);
    search_part_t *p = search_part_get(s, tag, partition, 1);
    char key[512], field[32];
    snprintf(key, sizeof(key), SHOP_KEY_SRCH_WM, s->prefix);
    snprintf(field, sizeof(field), "%c%d", tag, (int)partition);
    /* an error reply (a restarting Redis says LOADING) must not read as "no state yet" */
    int64_t v[2];
    for (int i = 0; i < 2; i++) {
        redisReply *r = redisCommand(c, i ? "HGET %s %s:first" : "HGET %s %s", key, field);
        if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
            part_remove(s, tag, partition);
            return shop_redis_reply_err(c, r, errstr, errstr_size);
        }
        v[i] = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
        freeReplyObject(r);
    }
    p->wm = v[0];
    p->first = v[1];
    int nreads = 0;
    for (int d = 0; d < DK_N; d++, nreads++) {
        search_ss_key(s, key, sizeof(key), search_decayed_names[d], -1, tag, partition);
        append_summary_reads(c, key);
    }
    if (p->wm > 0)
        for (int l = 0; l < LV_NWIN; l++) {
            const search_level_def_t *d = &search_levels[l];
            for (int64_t st = oldest_start(l, p->wm); st <= p->wm; st += d->width_ms, nreads++) {
                search_ss_key(s, key, sizeof(key), d->name, st, tag, partition);
                append_summary_reads(c, key);
            }
        }
    int rc = SHOP_OK;
    for (int d = 0; d < DK_N; d++) {
        int found = 0;
        int r2 = read_summary(c, p->dk[d], &found, errstr, errstr_size);
        if (!rc)
            rc = r2;
    }
    if (p->wm > 0)
        for (int l = 0; l < LV_NWIN; l++) {
            const search_level_def_t *d = &search_levels[l];
            for (int64_t st = oldest_start(l, p->wm); st <= p->wm; st += d->width_ms) {
                search_bucket_t *bk = &p->win[l][(st / d->width_ms) % d->nbuckets];
                if (!bk->ss)
                    bk->ss = shop_ss_new(s->k);
                int found = 0;
                int r2 = read_summary(c, bk->ss, &found, errstr, errstr_size);
                if (!rc)
                    rc = r2;
                if (found)
                    bk->start = st;
            }
        }
    (void)nreads;
    if (rc)
        part_remove(s, tag, partition);
    else
        p->live = 1;
    return rc;
}

static int restore(void *w, const char *const *tps, const int32_t *parts, int n,
                   struct redisContext *c, PGconn *pg, char *errstr, size_t errstr_size) {
    (void)pg;
    shop_search_t *s = w;
    for (int i = 0; i < n; i++) {
        int rc = restore_one(s, c, topic_tag(tps[i]), parts[i], errstr, errstr_size);
        if (rc)
            return rc == SHOP_ERR_FATAL ? rc : SHOP_ERR_RETRYABLE;
    }
    return SHOP_OK;
}

static void release(void *w, const char *topic, int32_t partition) {
    part_remove(w, topic_tag(topic), partition);
}

/* ---- lifecycle ---- */

static void destroy(void *w) {
    shop_search_t *s = w;
    if (!s)
        return;
    discard(s);
    free(s->rows.rows);
    free(s->rows.slots);
    free(s->recent);
    free(s->recent_slots);
    shop_symspell_destroy(s->dict);
    search_lex_destroy(s->lex);
    free(s->dictionary);
    free(s->redis_url);
    shop_text_cache_free(s->norm);
    pthread_mutex_destroy(&s->lex_lock);
    free(s);
}

static void *create(const shop_worker_env_t *env, char *errstr, size_t errstr_size) {
    const shop_config_t *cfg = env->cfg;
    shop_search_t *s = shop_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->lex_lock, NULL);
    snprintf(s->prefix, sizeof(s->prefix), "%s", env->redis_prefix);
    int64_t k = shop_config_get_int(cfg, "search.k"),
            kp = shop_config_get_int(cfg, "search.suggest.k");
    s->prefix_max = (int)shop_config_get_int(cfg, "search.prefix.max");
    s->suggest_n = (int)shop_config_get_int(cfg, "search.suggest.n");
    s->top_n = (int)shop_config_get_int(cfg, "search.top.n");
    s->recent_n = (int)shop_config_get_int(cfg, "search.recent.n");
    s->recent_ttl_s = shop_config_get_int(cfg, "search.recent.ttl.s");
    s->few_results = (int)shop_config_get_int(cfg, "search.few.results");
    s->heavy_interval_ms = shop_config_get_int(cfg, "search.suggest.refresh.ms");
    const char *share = shop_config_get(cfg, "search.suggest.refresh.cpu");
    char *end = NULL;
    s->heavy_cpu_share = strtod(share, &end);
    if (end == share || *end || !(s->heavy_cpu_share >= 0) || s->heavy_cpu_share > 1) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                    "search.suggest.refresh.cpu: expected a share of a core, 0..1, got \"%s\"",
                    share);
        destroy(s);
        return NULL;
    }
    int64_t chunk = shop_config_get_int(cfg, "search.refresh.chunk");
    s->rising_min = (int)shop_config_get_int(cfg, "search.rising.min");
    s->halflife_ms = (double)shop_config_get_int(cfg, "search.decay.halflife.h") * 3600000.0;
    s->rising_prior = strtod(shop_config_get(cfg, "search.rising.prior"), NULL);
    s->redis_url = shop_xstrdup(shop_config_get(cfg, "redis.url"));
    s->redis_timeout_ms = (int)shop_config_get_int(cfg, "redis.timeout.ms");
    const char *dict = shop_config_get(cfg, "search.dictionary");
    int64_t slots = shop_config_get_int(cfg, "search.normalize.cache");
    unsigned bits = 0;
    while (bits < 24 && ((int64_t)1 << bits) < slots)
        bits++;
    if (slots < 0 || (slots && ((int64_t)1 << bits) != slots)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                    "search.normalize.cache: expected 0 or a power of two up to 16777216");
        destroy(s);
        return NULL;
    }
    if (slots > 1)
        s->norm = shop_text_cache_new(bits);
    if (k < 10 || k > 1000000 || kp < 10 || kp > 1000000 || s->prefix_max < 1 ||
        s->prefix_max > 40 || s->suggest_n < 1 || s->suggest_n > 100 || s->top_n < 1 ||
        s->top_n > 10000 || s->recent_n < 0 || s->recent_n > 100 || s->halflife_ms <= 0 ||
        !(s->rising_prior > 0) || chunk < 10 || chunk > 1000000) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                    "search.*: a value is out of range (search.k and search.suggest.k 10..1e6, "
                    "search.prefix.max 1..40, search.suggest.n 1..100, search.top.n 1..10000, "
                    "search.recent.n 0..100, search.refresh.chunk 10..1e6, half-life and rising "
                    "prior > 0)");
        destroy(s);
        return NULL;
    }
    s->k = (size_t)k;
    s->chunk = (int)chunk;
    s->k_pop = (size_t)kp;
    if (shop_parse_time_ms(shop_config_get(cfg, "search.decay.landmark"), &s->landmark_ms)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                    "search.decay.landmark: expected an RFC 3339 time");
        destroy(s);
        return NULL;
    }
    if (dict && *dict) {
        s->dictionary = shop_xstrdup(dict);
        s->dict = shop_symspell_new(2, 7);
        if (shop_symspell_load_dictionary(s->dict, dict, errstr, errstr_size)) {
            destroy(s);
            return NULL;
        }
    }
    return s;
}

const shop_worker_ops_t shop_worker_search = {
    .name = "search",
    .description = "trending and rising searches, autocomplete (Hangul aware), did-you-mean, "
                   "search analytics",
    .topics = topics,
    .sinks = SHOP_SINK_BIT(SHOP_SINK_REDIS) | SHOP_SINK_BIT(SHOP_SINK_PG),
    .default_port = 9402,
    .conf = conf,
    .create = create,
    .destroy = destroy,
    .process = process,
    .flush_redis = flush_redis,
    .flushed = flushed,
    .discard = discard,
    .pending = pending,
    .pg_take = pg_take,
    .pg_job_run = pg_job_run,
    .pg_job_free = pg_job_free,
    .restore = restore,
    .release = release,
    .refresh = search_refresh,
    .route = search_http_route,
};
