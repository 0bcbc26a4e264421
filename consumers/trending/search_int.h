/* search_int.h: the search worker's state, shared by its files.
 *
 * Model (the same as a Kafka Streams task's state store): everything that decides a view is kept
 * per Kafka partition and written to Redis in the flush that stores that partition's offset, so
 * a crash, a rebalance or a rewind restores exactly the state those offsets describe. The views
 * users read (trend:*, sugg:*, dym) are derived from the committed per-partition state by
 * search_views.c, summing partitions in a fixed order: any number of instances, any interleaving
 * of partitions and any restart give the same views once the stream is consumed.
 *
 * Per partition: Space-Saving summaries (Metwally et al. 2005) of finished queries per event-time
 * bucket (1-minute buckets for the 5-minute window, 5-minute buckets for the hour and per
 * category, hours for the day), one of recency-weighted popularity (forward decay, Cormode et
 * al. 2009: weight 2^((t - landmark) / half-life), so order does not matter) that feeds the
 * suggestions, and two of zero-result and few-result queries for "did you mean". */
#ifndef SHOP_SEARCH_INT_H
#define SHOP_SEARCH_INT_H

#include <pthread.h>
#include <stdint.h>

#include "spacesaving.h"
#include "symspell.h"
#include "text.h"
#include "worker.h"

/* Windowed levels: bucket width and how many buckets make the window. */
enum { LV_5M, LV_1H, LV_24H, LV_CAT, LV_NWIN };
/* Recency-weighted levels (one summary per partition, no buckets). */
enum { DK_POP, DK_ZERO, DK_FEW, DK_N };

#define SEARCH_MAX_BUCKETS 24
#define SEARCH_MAX_QUERY   100 /* code points; longer queries are refused */

typedef struct search_level_def {
    const char *name; /* in key names */
    int64_t width_ms; /* bucket width */
    int nbuckets;     /* buckets per window */
    const char *view; /* derived view key suffix ("trend:5m"), NULL for per category */
} search_level_def_t;
extern const search_level_def_t search_levels[LV_NWIN];
extern const char *const search_decayed_names[DK_N];

typedef struct search_bucket {
    int64_t start; /* bucket start, ms; 0 = slot unused */
    shop_ss_t *ss;
} search_bucket_t;

/* A bucket that left its window: its keys are deleted at the next flush. */
typedef struct search_dropped {
    int level;
    int64_t start;
} search_dropped_t;

/* One partition's state. `tag` tells the topics apart in key names: 's' search, 'c' catalog. */
typedef struct search_part {
    char tag;
    int32_t partition;
    int live;      /* restored and owned */
    int64_t wm;    /* largest event time seen, ms (0 none) */
    int64_t first; /* smallest search time seen, ms (0 none): how much history rising has */
    int wm_dirty;
    search_bucket_t win[LV_NWIN][SEARCH_MAX_BUCKETS];
    shop_ss_t *dk[DK_N];
    search_dropped_t *dropped;
    size_t ndropped, capdropped;
    struct search_part *next;
} search_part_t;

/* A user's newest searches since the last Redis flush: at most search.recent.n distinct queries,
 * the greatest by (time, query), which is what the user's sorted set keeps of them after the
 * flush's ZADD GT and trim (members of equal score rank by their bytes). */
typedef struct {
    char *query;
    int64_t at; /* the latest time it was searched */
} search_recent_q_t;
typedef struct search_recent {
    char *user;
    uint64_t hash;
    search_recent_q_t *q; /* n of them, in no order */
    int n;
} search_recent_t;

/* One pending row of search_query_hour. */
typedef struct search_row {
    int64_t hour_ms;
    char *query;
    int64_t searches, zero, clicks;
} search_row_t;

typedef struct search_rows {
    search_row_t *rows;
    size_t n, cap;
    int32_t *slots;
    size_t nslots;
} search_rows_t;

typedef struct shop_search {
    char prefix[128]; /* Redis namespace prefix */
    size_t k;         /* Space-Saving counters per summary */
    size_t k_pop;
    int prefix_max;       /* code points of a query that get suggestion keys */
    int suggest_n;        /* completions kept per suggestion key */
    int top_n;            /* members kept per trending view */
    int recent_n;         /* recent searches kept per user */
    int64_t recent_ttl_s; /* TTL of a user's recent searches */
    int few_results;      /* a query with at most this many results gets "did you mean" */
    double halflife_ms;   /* forward decay half-life */
    int64_t landmark_ms;  /* forward decay landmark */
    double rising_prior;  /* baseline smoothing */
    int rising_min;       /* recent count a rising query needs */
    char *dictionary;     /* optional word-frequency file for "did you mean" */
    shop_symspell_t *dict;
    shop_text_cache_t *norm; /* memo of normalised texts (consume thread) */

    search_part_t *parts;
    search_recent_t *recent; /* users with searches pending, in the order they came */
    size_t nrecent, caprecent;
    int32_t *recent_slots; /* open addressing over recent[], by user; -1 empty */
    size_t recent_nslots;
    search_rows_t rows; /* PostgreSQL pending */
    int64_t late;       /* events older than every window of their partition (metric) */

    /* refresh state (the consume thread only) */
    int64_t heavy_interval_ms; /* suggestions and corrections at most this often */
    int64_t last_heavy_ms;     /* monotonic */
    double heavy_cpu_share;    /* search.suggest.refresh.cpu */
    int64_t last_heavy_cpu_ms; /* what the last one cost the refresh thread */
    int chunk;                 /* commands per views transaction (search.refresh.chunk) */
    pthread_mutex_t lex_lock;  /* lex is swapped by refreshes, read by /correct */
    struct search_lex *lex;

    /* HTTP side: every HTTP thread opens its own connection to this Redis */
    char *redis_url;
    int redis_timeout_ms;
} shop_search_t;

/* search.c */
search_part_t *search_part_get(shop_search_t *s, char tag, int32_t partition, int create);
void search_part_free(search_part_t *p);
double search_decay_weight(const shop_search_t *s, int64_t at_ms);
/* Key of a per-partition summary: level name, bucket start (or -1), tag, partition. */
void search_ss_key(const shop_search_t *s, char *out, size_t size, const char *level, int64_t start,
                   char tag, int32_t partition);

/* search_views.c */
int search_refresh(void *w, struct redisContext *c, int full, char *errstr, size_t errstr_size);
/* Whether a refresh at now_ms (monotonic) recomputes suggestions and corrections. */
int search_heavy_due(const shop_search_t *s, int64_t now_ms, int full);
/* The lexicon built from the committed popularity summaries (for one-off use). */
struct search_lex *search_lex_from_redis(shop_search_t *s, struct redisContext *c, char *errstr,
                                         size_t errstr_size);

/* search_lex.c */
typedef struct search_lex search_lex_t;
/* From the popular queries and titles, best first, with their counts. */
search_lex_t *search_lex_build(const char *const *items, const double *counts, size_t n);
void search_lex_destroy(search_lex_t *l);
/* 1 when items[i] is a misspelling of a query at least 3 times as popular. */
int search_lex_is_variant(const search_lex_t *l, size_t i);
/* The correction of normalised query q (heap), or NULL when it needs none. `l` and `dict` may
 * be NULL. */
char *search_lex_correct(const search_lex_t *l, const shop_symspell_t *dict, const char *q);
/* Edits a correction may make to w: 0 for 1-2 letters, 1 up to 5, else 2; 1 for Hangul. */
int search_max_edits(const char *w);

/* search_query.c: the read side shared by the CLI and HTTP */
int search_http_route(void *opaque, const char *path, const char *(*query)(void *, const char *),
                      void *req, shop_buf_t *body, const char **content_type);

#endif
