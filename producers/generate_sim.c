/* generate_sim.c: the generator's clock and scheduler: catalog first, then sessions interleaved at
 * exponential inter-arrival times, with later events (shipping, chargebacks, restocks) on a heap.
 */
#include <string.h>

#include "generate_int.h"

const char *shop_gen_type_name(shop_event_kind_t kind) {
    return shop_event_kind_name(kind); /* the codec's table: one list of type names */
}

void shop_gen_conf_init(shop_gen_conf_t *conf) {
    memset(conf, 0, sizeof(*conf));
    conf->events = 100000;
    conf->seed = 1;
    conf->start_ms = 1793491200000LL; /* 2026-11-01T00:00:00Z */
    conf->rate = 200;
    conf->users = 20000;
    conf->products = 2000;
    conf->fraud_rate = 0.005;
}

/* ---- the pending-event heap, ordered by (due, sequence) so ties break deterministically ---- */

static int due_less(const gen_due_t *a, const gen_due_t *b) {
    return a->due_us < b->due_us || (a->due_us == b->due_us && a->seq < b->seq);
}

int shop_gen_schedule(shop_gen_t *g, int64_t due_us, const gen_item_t *it) {
    /* room for the event being written now, everything already pending, and this one */
    if (g->emitted + 1 + g->nheap >= g->conf.events)
        return 0;
    if (g->nheap == g->cap_heap) {
        g->cap_heap = g->cap_heap ? g->cap_heap * 2 : 1024;
        g->heap = shop_xrealloc(g->heap, g->cap_heap * sizeof(gen_due_t));
    }
    size_t i = g->nheap++;
    gen_due_t d = {due_us, g->heap_seq++, *it};
    while (i > 0 && due_less(&d, &g->heap[(i - 1) / 2])) {
        g->heap[i] = g->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    g->heap[i] = d;
    return 1;
}

static gen_due_t heap_pop(shop_gen_t *g) {
    gen_due_t top = g->heap[0], last = g->heap[--g->nheap];
    size_t i = 0, n = g->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && due_less(&g->heap[c + 1], &g->heap[c]))
            c++;
        if (!due_less(&g->heap[c], &last))
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (n)
        g->heap[i] = last;
    return top;
}

uint64_t shop_gen_new_sid(shop_gen_t *g) {
    return shop_gen_rng_next(&g->rng) | 1;
}

/* ---- sessions ---- */

static void spawn(shop_gen_t *g, gen_session_t *s) {
    g->nsessions++;
    if (g->conf.fraud_rate > 0 && shop_gen_rng_chance(&g->rng, g->conf.fraud_rate)) {
        double u = shop_gen_rng_unit(&g->rng);
        shop_fraud_kind_t k = u < 0.35   ? SHOP_FRAUD_CARD_TESTING
                              : u < 0.65 ? SHOP_FRAUD_ACCOUNT_TAKEOVER
                              : u < 0.80 ? SHOP_FRAUD_POINTS_ABUSE
                                         : SHOP_FRAUD_BULK_BUYING;
        shop_gen_fraud_start(g, s, k);
    } else {
        shop_gen_session_start(g, s);
    }
}

static void item_init(gen_item_t *it, uint8_t kind, uint32_t product, uint8_t source) {
    memset(it, 0, sizeof(*it));
    it->kind = kind, it->product = product, it->source = source;
    it->user = GEN_NONE, it->order = GEN_NONE;
}

/* The catalog, then each product's stock in each region, before any shopper arrives. */
static void initial_item(shop_gen_t *g, gen_item_t *it) {
    uint32_t c = g->init_cursor++;
    if (c < g->nproducts) {
        item_init(it, SHOP_EV_CATALOG_PRODUCT_UPSERTED, c, GEN_SRC_BACKOFFICE);
        return;
    }
    c -= g->nproducts;
    item_init(it, SHOP_EV_INVENTORY_STOCK_LEVEL, c / GEN_NREGIONS, GEN_SRC_INVENTORY);
    it->code = (uint8_t)(c % GEN_NREGIONS);
    it->flags = GEN_F_SNAPSHOT;
}

/* A merchandiser changes a price: mostly discounts, which the notify worker tells wishers about. */
static void price_change(shop_gen_t *g, gen_item_t *it) {
    uint32_t p = shop_gen_pick_product(g);
    gen_product_t *prod = &g->products[p];
    int64_t pct = shop_gen_rng_chance(&g->rng, 0.7) ? -shop_gen_rng_range(&g->rng, 10, 30)
                                                    : shop_gen_rng_range(&g->rng, 5, 10);
    int64_t unit = prod->currency == GEN_KRW ? 100 : 1;
    int64_t price = (prod->price + prod->price * pct / 100) / unit * unit;
    if (prod->currency == GEN_USD)
        price = price / 100 * 100 + 99;
    prod->price = price > unit ? price : unit;
    item_init(it, SHOP_EV_CATALOG_PRODUCT_UPSERTED, p, GEN_SRC_BACKOFFICE);
    it->flags = GEN_F_PRICE;
}

static void arrival(shop_gen_t *g, gen_item_t *it) {
    if (shop_gen_rng_chance(&g->rng, 0.002)) {
        price_change(g, it);
        return;
    }
    for (;;) {
        gen_session_t *s = &g->pool[shop_gen_rng_below(&g->rng, g->npool)];
        if (shop_gen_session_step(g, s, it))
            return;
        spawn(g, s);
    }
}

/* ---- public ---- */

shop_gen_t *shop_gen_new(const shop_gen_conf_t *conf, char *errstr, size_t errstr_size) {
    if (!(conf->rate > 0))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "rate must be positive"), NULL;
    if (conf->users < 1 || conf->products < 1)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "need at least one user and one product"),
               NULL;
    if (conf->users > 50000000 || conf->products > 10000000)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "too many users or products"),
               NULL;
    if (!(conf->fraud_rate >= 0 && conf->fraud_rate <= 1))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "fraud rate must be within [0, 1]"),
               NULL;
    shop_gen_t *g = shop_xcalloc(1, sizeof(*g));
    g->conf = *conf;
    shop_gen_rng_seed(&g->rng, conf->seed);
    shop_gen_world_init(g);
    /* ~20 s of traffic per session step keeps a session a few minutes long; never more
     * concurrent shoppers than a quarter of the customers */
    double want = conf->rate * 20;
    uint32_t cap = g->nlegit / 4 ? g->nlegit / 4 : 1;
    g->npool = want < 4 ? 4 : want > 4096 ? 4096 : (uint32_t)want;
    if (g->npool > cap)
        g->npool = cap;
    g->pool = shop_xcalloc(g->npool, sizeof(gen_session_t));
    for (uint32_t i = 0; i < g->npool; i++)
        spawn(g, &g->pool[i]);
    g->clock_us = conf->start_ms * 1000;
    g->next_us = g->clock_us;
    return g;
}

void shop_gen_destroy(shop_gen_t *g) {
    if (!g)
        return;
    shop_gen_world_release(g);
    free(g->orders);
    free(g->pool);
    free(g->heap);
    free(g);
}

int shop_gen_next(shop_gen_t *g, shop_buf_t *out, shop_event_kind_t *kind,
                  int64_t *occurred_at_ms) {
    if (g->emitted >= g->conf.events)
        return 0;
    gen_item_t it;
    double gap_mean_us = 1e6 / g->conf.rate;
    if (g->init_cursor < g->nproducts * (1 + GEN_NREGIONS)) {
        initial_item(g, &it);
        g->clock_us = g->next_us;
        g->next_us += (int64_t)shop_gen_rng_exp(&g->rng, gap_mean_us);
    } else {
        for (;;) {
            int drain = g->emitted + g->nheap >= g->conf.events;
            if (g->nheap && (drain || g->heap[0].due_us <= g->next_us)) {
                gen_due_t d = heap_pop(g);
                if (d.due_us > g->clock_us)
                    g->clock_us = d.due_us;
                it = d.item;
                break;
            }
            arrival(g, &it);
            g->clock_us = g->next_us;
            g->next_us += (int64_t)shop_gen_rng_exp(&g->rng, gap_mean_us);
            break;
        }
    }
    shop_gen_apply(g, &it);
    int64_t at_ms = g->clock_us / 1000;
    shop_gen_render(g, &it, at_ms, out);
    g->emitted++;
    if (kind)
        *kind = (shop_event_kind_t)it.kind;
    if (occurred_at_ms)
        *occurred_at_ms = at_ms;
    return 1;
}

uint64_t shop_gen_fraud_actors(const shop_gen_t *g, shop_fraud_kind_t kind) {
    return kind < SHOP_FRAUD__COUNT ? g->fraud_actors[kind] : 0;
}

uint64_t shop_gen_fraud_chargebacks(const shop_gen_t *g) {
    return g->fraud_chargebacks;
}
