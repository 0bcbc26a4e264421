/* workers.c: the registry of workers compiled into the shopstream binary, and the no-op worker
 * (decode and store offsets only) that measures the runtime itself. */
#include <string.h>

#include "commands.h"

#include "analytics/analytics.h"
#include "fraud/fraud_worker.h"
#include "notify/notify_worker.h"
#include "recommend/reco_int.h"
#include "runtime/worker.h"
#include "trending/search_query.h"

static const char *const noop_topics[] = {"shop.user.events",    "shop.order.events",
                                          "shop.search.events",  "shop.inventory.events",
                                          "shop.catalog.events", NULL};

static void *noop_create(const shop_worker_env_t *env, char *errstr, size_t errstr_size) {
    (void)env;
    (void)errstr;
    (void)errstr_size;
    static int token;
    return &token;
}
static void noop_destroy(void *w) {
    (void)w;
}
static int noop_process(void *w, const shop_event_t *ev, unsigned sinks, char *errstr,
                        size_t errstr_size) {
    (void)w, (void)ev, (void)sinks, (void)errstr, (void)errstr_size;
    return SHOP_OK;
}
static void noop_flush_redis(void *w, shop_redis_batch_t *b) {
    (void)w, (void)b;
}
static void noop_flushed(void *w, int sink) {
    (void)w, (void)sink;
}
static void noop_discard(void *w) {
    (void)w;
}
static size_t noop_pending(void *w) {
    (void)w;
    return 0;
}

static const shop_worker_ops_t shop_worker_noop = {
    .name = "noop",
    .description = "decodes every event and stores offsets in Redis; measures the runtime",
    .topics = noop_topics,
    .sinks = SHOP_SINK_BIT(SHOP_SINK_REDIS),
    .default_port = 9400,
    .create = noop_create,
    .destroy = noop_destroy,
    .process = noop_process,
    .flush_redis = noop_flush_redis,
    .flushed = noop_flushed,
    .discard = noop_discard,
    .pending = noop_pending,
};

static const shop_worker_ops_t *const all[] = {&shop_worker_analytics,
                                               &shop_worker_search,
                                               &shop_worker_fraud,
                                               &shop_worker_reco,
                                               &shop_worker_noop,
                                               &shop_worker_notify,
                                               NULL};

const shop_worker_ops_t *const *shop_worker_all(void) {
    return all;
}

const shop_worker_ops_t *shop_worker_find(const char *name) {
    for (int i = 0; all[i]; i++)
        if (!strcmp(all[i]->name, name))
            return all[i];
    return NULL;
}

/* `shopstream query`: the search worker's views, or the runtime's stats. */
int shop_cmd_query_views(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    int offline = 0;
    for (int i = 2; i < argc; i++)
        offline |= !strcmp(argv[i], "--dictionary");
    if (!strcmp(what, "suggest") || !strcmp(what, "trending") ||
        (!strcmp(what, "correct") && !offline))
        return search_cmd_query(argc, argv);
    if (!strcmp(what, "fraud"))
        return fraud_cmd_query(argc, argv);
    if (!strcmp(what, "reco"))
        return reco_cmd_query(argc, argv);
    if (!strcmp(what, "notifications"))
        return notify_cmd_query(argc, argv);
    return shop_cmd_query(argc, argv);
}
