/* merge.c: event-time order across co-partitioned topics.
 *
 * A worker that joins topics keyed alike (fraud: a user's signup and logins on the user topic, the
 * user's orders on the order topic) sees partition p of each topic as one stream. Kafka gives no
 * order between topics, so the consumer's fetches decide the interleaving, and two runs over the
 * same offsets could score an order before or after the signup that precedes it. This is Kafka
 * Streams' stream-time synchronisation (KIP-353, max.task.idle.ms): messages are held per topic
 * partition and released in (timestamp, topic) order of the heads of partition p's topics, and a
 * head goes out only when every other topic of p has a message buffered or has nothing more to
 * read now (caught up to its high watermark, or not ours). Over a backlog (catch-up, replay,
 * restart after a crash) that is one order whatever the fetches do; on a live stream a topic that
 * is caught up does not hold the others back. `idle_us` bounds the wait for a topic whose fetch
 * is late (counted from when partition p started to wait for it; past it the order is the
 * arrival order, as without the merge, until that topic has a message again), and `cap` the
 * messages held per topic partition (a head past it goes out at once), so memory stays bounded.
 *
 * Messages are opaque here (the runtime's rd_kafka_message_t): this file knows only topic index,
 * partition, timestamp and arrival time, so it is tested without a broker. */
#include <stdlib.h>
#include <string.h>

#include "runtime_int.h"

typedef struct {
    void *msg;
    int64_t ts;
} held_t;

typedef struct {
    held_t *v; /* ring */
    size_t head, n, cap;
    int64_t empty_since; /* when a head of another topic first waited for this empty one */
} fifo_t;

struct shop_merge {
    int ntopics, nparts;
    fifo_t *q;        /* [partition * ntopics + topic] */
    int64_t *blocked; /* per partition: since when its next head waits for another topic */
    size_t cap, total;
    int64_t idle_us;
    int next; /* partition to look at first (round robin between partitions) */
    int maxp; /* 1 + the highest partition that ever held a message */
};

shop_merge_t *shop_merge_new(int ntopics, int nparts, size_t cap, int64_t idle_us) {
    shop_merge_t *m = shop_xcalloc(1, sizeof(*m));
    m->ntopics = ntopics;
    m->nparts = nparts;
    m->q = shop_xcalloc((size_t)ntopics * (size_t)nparts, sizeof(fifo_t));
    m->cap = cap ? cap : 1;
    m->idle_us = idle_us;
    return m;
}

static fifo_t *fifo(shop_merge_t *m, int topic, int32_t partition) {
    return &m->q[(size_t)partition * (size_t)m->ntopics + (size_t)topic];
}

void shop_merge_destroy(shop_merge_t *m, void (*free_msg)(void *)) {
    if (!m)
        return;
    for (size_t i = 0; i < (size_t)m->ntopics * (size_t)m->nparts; i++) {
        fifo_t *f = &m->q[i];
        for (size_t k = 0; k < f->n; k++)
            free_msg(f->v[(f->head + k) % f->cap].msg);
        free(f->v);
    }
    free(m->q);
    free(m);
}

int shop_merge_push(shop_merge_t *m, int topic, int32_t partition, int64_t ts, void *msg) {
    if (topic < 0 || topic >= m->ntopics || partition < 0 || partition >= m->nparts)
        return -1; /* not a co-partitioned topic partition: the caller dispatches it at once */
    fifo_t *f = fifo(m, topic, partition);
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        held_t *v = shop_xcalloc(cap, sizeof(*v));
        for (size_t k = 0; k < f->n; k++)
            v[k] = f->v[(f->head + k) % f->cap];
        free(f->v);
        f->v = v, f->cap = cap, f->head = 0;
    }
    f->v[(f->head + f->n) % f->cap] = (held_t){msg, ts};
    f->n++;
    f->empty_since = 0;
    if (partition >= m->maxp)
        m->maxp = partition + 1;
    m->total++;
    return 0;
}

size_t shop_merge_held(const shop_merge_t *m) {
    return m->total;
}

/* The head of partition p's topics to release next, or -1: the smallest (timestamp, topic) head,
 * when every topic of p without a head may be passed over. */
static int ready(shop_merge_t *m, int32_t p, shop_merge_drained_fn drained, void *arg,
                 int64_t now_us) {
    int best = -1;
    for (int t = 0; t < m->ntopics; t++) {
        fifo_t *f = fifo(m, t, p);
        if (!f->n)
            continue;
        const held_t *h = &f->v[f->head];
        if (best < 0 || h->ts < fifo(m, best, p)->v[fifo(m, best, p)->head].ts)
            best = t;
    }
    if (best < 0)
        return -1;
    if (fifo(m, best, p)->n > m->cap)
        return best;
    for (int t = 0; t < m->ntopics; t++) {
        fifo_t *e = fifo(m, t, p);
        if (t == best || e->n)
            continue;
        if (drained(arg, t, p)) { /* nothing to wait for: a later wait starts afresh */
            e->empty_since = 0;
            continue;
        }
        /* idle_us counts from when that topic was first waited for empty, not from a head's
         * arrival: over a backlog every head is held a while because processing is the
         * bottleneck, and that is no reason to give up the order */
        if (!e->empty_since)
            e->empty_since = now_us;
        if (now_us - e->empty_since < m->idle_us)
            return -1;
    }
    return best;
}

void *shop_merge_pop(shop_merge_t *m, shop_merge_drained_fn drained, void *arg, int64_t now_us) {
    if (!m->total)
        return NULL;
    for (int i = 0; i < m->maxp; i++) {
        int32_t p = (m->next + i) % m->maxp;
        int t = ready(m, p, drained, arg, now_us);
        if (t < 0)
            continue;
        fifo_t *f = fifo(m, t, p);
        void *msg = f->v[f->head].msg;
        f->head = (f->head + 1) % f->cap;
        f->n--;
        m->total--;
        m->next = (p + 1) % m->maxp;
        return msg;
    }
    return NULL;
}
