/* search_query.h: the search worker's read side: what /suggest, /trending and /correct answer
 * and `shopstream query suggest|trending|correct` print. */
#ifndef SHOP_SEARCH_QUERY_H
#define SHOP_SEARCH_QUERY_H

#include <jansson.h>

#include "worker.h"

struct redisContext;
struct shop_search;

/* Each fills *out (a new JSON object; {"error": ...} on failure) and returns an HTTP status:
 * 200, 400 for bad input (invalid UTF-8, control characters, over-long text, bad window) or
 * 503 when Redis does not answer. `prefix` is the namespace's Redis prefix. */

/* Completions of what the user typed (`typed`: any case, diacritics, partial Hangul), the user's
 * own matching recent searches first when `user` is given; at most n (1..100). */
int search_api_suggest(struct redisContext *c, const char *prefix, const char *typed,
                       const char *user, int n, int prefix_max, json_t **out);
/* Top n of a window ("5m", "1h", "24h", "zero"), of the rising queries, or of a category. */
int search_api_trending(struct redisContext *c, const char *prefix, const char *window, int rising,
                        const char *category, int n, json_t **out);
/* "Did you mean": the materialized correction when there is one, else computed with the
 * worker's vocabulary (when `s` is given) and dictionary. */
int search_api_correct(struct redisContext *c, const char *prefix, struct shop_search *s,
                       const char *text, json_t **out);

/* `shopstream query suggest|trending|correct ...`; argv[1] is the subcommand. Exit status. */
int search_cmd_query(int argc, char **argv);

extern const shop_worker_ops_t shop_worker_search;

#endif
