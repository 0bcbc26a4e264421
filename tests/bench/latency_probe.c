/* latency_probe.c: end-to-end latency for the benchmark suite: produces events at a fixed offered
 * load and measures, per event, the time from handing it to the producer to the moment a worker's
 * results that include it are visible in Redis.
 *
 * "Visible" is read from the worker's offset keys (<p>offsets:<worker>:<topic>:<partition>): a
 * worker writes them in the same MULTI/EXEC as the results of the events before them, so once the
 * stored next offset of a partition is above an event's offset, every read of the worker's views
 * sees that event. One MGET per poll covers all partitions, so the probe costs Redis almost nothing
 * however high the load. The user id ("lt<n>") of the delivery report's key gives
 * back the sequence number, and with it the send time and the (partition, offset). Events come
 * from --users U users in turn (lt0, lt1, ..., default 1,000,000).
 *
 * usage: latency_probe --brokers B --topic-prefix P --topic T --redis HOST:PORT
 *                      --offset-key 'bt:ns:offsets:worker:P.T' --rate EPS --seconds S
 *                      [--warmup S] [--drain S] [--users U] [--partitions N] [--event JSON]
 *                      [--out FILE]
 * --event is the flat JSON form of one event with @USER@, @SEQ@ (0, 1, ...) and @TS@ (epoch ms)
 * to fill in.
 * Prints: sent=N delivered=N failed=N measured=N invisible=N visible_pct=.. p50_ms=.. p99_ms=..
 *         p999_ms=.. max_ms=.. ack_p50_ms=.. ack_p99_ms=.. achieved_eps=..
 * (ack_*: hand-over to the broker's acknowledgement, the producer's share of the latency)
 * An event still invisible --drain seconds (15) after the last send counts with the end of the run
 * as its visibility time (a lower bound): a saturated worker shows as invisible events and
 * percentiles that are at least that; the exit status is 0 unless delivery failed.
 * --out writes one latency (ms) per measured event. */
#define _GNU_SOURCE
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shop_producer.h"

#define MAXP 64

typedef struct {
    int64_t t_us; /* when the probe first saw the value */
    int64_t next; /* stored next offset */
} seen_t;

typedef struct {
    seen_t *v;
    size_t n, cap;
} seen_list_t;

static int64_t *send_us; /* per seq */
static int64_t *ack_us;  /* per seq: delivery report (the broker's ack) */
static int32_t *part_of; /* per seq, -1 until delivered */
static int64_t *off_of;  /* per seq */
static atomic_long delivered, failed;
static atomic_int stop_poll;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static seen_list_t seen[MAXP];
static int nparts = 6;
static long nusers = 1000000; /* user ids lt0 .. lt<U-1>, in turn */
static uint32_t *nreported;   /* per user: delivery reports so far */
static const char *redis_hp, *offset_key;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_report(const shop_producer_report_t *r, void *opaque) {
    (void)opaque;
    if (r->err || r->key_len < 3 || r->key_len > 30) {
        atomic_fetch_add(&failed, 1);
        return;
    }
    char k[32];
    memcpy(k, r->key, r->key_len);
    k[r->key_len] = 0;
    /* user u sends seqs u, u + U, u + 2U, ...; one key is one partition, whose reports come in
     * produce order: the n-th report of user u is seq u + n * U */
    long u = strtol(k + 2, NULL, 10);
    long seq = u + (long)(nreported[u]++) * nusers;
    ack_us[seq] = now_us();
    part_of[seq] = r->partition;
    off_of[seq] = r->offset;
    atomic_fetch_add(&delivered, 1);
}

/* The checker: polls the offset keys and keeps every change with its time. */
static void *poller(void *arg) {
    (void)arg;
    char host[256];
    snprintf(host, sizeof(host), "%s", redis_hp);
    char *colon = strrchr(host, ':');
    int port = 6379;
    if (colon) {
        *colon = 0;
        port = atoi(colon + 1);
    }
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) {
        fprintf(stderr, "latency_probe: redis %s: %s\n", redis_hp, c ? c->errstr : "no memory");
        exit(1);
    }
    const char **argv = calloc((size_t)nparts + 1, sizeof(char *));
    argv[0] = "MGET";
    for (int p = 0; p < nparts; p++) {
        char *k = malloc(strlen(offset_key) + 16);
        sprintf(k, "%s:%d", offset_key, p);
        argv[p + 1] = k;
    }
    int64_t last[MAXP];
    for (int p = 0; p < nparts; p++)
        last[p] = -1;
    while (!atomic_load(&stop_poll)) {
        redisReply *r = redisCommandArgv(c, nparts + 1, argv, NULL);
        int64_t t = now_us();
        if (!r || r->type != REDIS_REPLY_ARRAY) { /* say so, reconnect, go on: an outage */
            fprintf(stderr, "latency_probe: MGET: %s\n",
                    r ? (r->str ? r->str : "bad reply") : c->errstr);
            if (r)
                freeReplyObject(r);
            redisFree(c);
            c = NULL;
            while (!atomic_load(&stop_poll)) {
                struct timespec ts = {0, 100000000};
                nanosleep(&ts, NULL);
                c = redisConnect(host, port);
                if (c && !c->err)
                    break;
                if (c)
                    redisFree(c);
                c = NULL;
            }
            if (!c)
                break;
            continue;
        }
        for (int p = 0; p < nparts && (size_t)p < r->elements; p++) {
            int64_t v = r->element[p]->type == REDIS_REPLY_STRING
                            ? strtoll(r->element[p]->str, NULL, 10)
                            : 0;
            if (v != last[p]) {
                pthread_mutex_lock(&seen_lock);
                seen_list_t *l = &seen[p];
                if (l->n == l->cap) {
                    l->cap = l->cap ? l->cap * 2 : 1024;
                    l->v = realloc(l->v, l->cap * sizeof(seen_t));
                }
                l->v[l->n++] = (seen_t){t, v};
                pthread_mutex_unlock(&seen_lock);
                last[p] = v;
            }
        }
        freeReplyObject(r);
        struct timespec ts = {0, 250000}; /* 0.25 ms between polls */
        nanosleep(&ts, NULL);
    }
    if (c)
        redisFree(c);
    for (int p = 0; p < nparts; p++)
        free((char *)argv[p + 1]);
    free(argv);
    return NULL;
}

/* First time partition p's stored next offset was above off; -1 if never. */
static int64_t visible_at(int p, int64_t off) {
    pthread_mutex_lock(&seen_lock);
    seen_list_t *l = &seen[p];
    size_t lo = 0, hi = l->n;
    while (lo < hi) { /* offsets only grow: first entry with next > off */
        size_t mid = (lo + hi) / 2;
        if (l->v[mid].next > off)
            hi = mid;
        else
            lo = mid + 1;
    }
    int64_t t = lo < l->n ? l->v[lo].t_us : -1;
    pthread_mutex_unlock(&seen_lock);
    return t;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Replaces @USER@, @SEQ@ and @TS@ in tpl into out. */
static size_t render(char *out, size_t size, const char *tpl, const char *user, long seq,
                     long long ts) {
    size_t n = 0;
    for (const char *s = tpl; *s && n + 32 < size;) {
        if (!strncmp(s, "@USER@", 6)) {
            n += (size_t)snprintf(out + n, size - n, "%s", user);
            s += 6;
        } else if (!strncmp(s, "@SEQ@", 5)) {
            n += (size_t)snprintf(out + n, size - n, "%ld", seq);
            s += 5;
        } else if (!strncmp(s, "@TS@", 4)) {
            n += (size_t)snprintf(out + n, size - n, "%lld", ts);
            s += 4;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = 0;
    return n;
}

int main(int argc, char **argv) {
    const char *brokers = "127.0.0.1:19092", *prefix = "", *out_path = NULL;
    const char *tpl = "{\"type\":\"search.query\",\"user_id\":\"@USER@\",\"occurred_at\":@TS@,"
                      "\"query\":\"latency probe\",\"result_count\":1}";
    double rate = 1000, seconds = 5, warmup = 1, drain_s = 15;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--brokers"))
            brokers = v;
        else if (!strcmp(a, "--topic-prefix"))
            prefix = v;
        else if (!strcmp(a, "--topic"))
            ; /* the event's type picks the topic; kept for the command line's readability */
        else if (!strcmp(a, "--redis"))
            redis_hp = v;
        else if (!strcmp(a, "--offset-key"))
            offset_key = v;
        else if (!strcmp(a, "--rate"))
            rate = atof(v);
        else if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--warmup"))
            warmup = atof(v);
        else if (!strcmp(a, "--users"))
            nusers = atol(v);
        else if (!strcmp(a, "--drain"))
            drain_s = atof(v);
        else if (!strcmp(a, "--partitions"))
            nparts = atoi(v);
        else if (!strcmp(a, "--event"))
            tpl = v;
        else if (!strcmp(a, "--out"))
            out_path = v;
        else {
            fprintf(stderr, "latency_probe: unknown option %s\n", a);
            return 2;
        }
    }
    if (!redis_hp || !offset_key || rate <= 0 || nparts < 1 || nparts > MAXP || nusers < 1) {
        fprintf(stderr, "usage: latency_probe --redis HOST:PORT --offset-key KEY --rate EPS "
                        "--seconds S [--warmup S] [--brokers B] [--topic-prefix P] "
                        "[--partitions N] [--event JSON] [--out FILE]\n");
        return 2;
    }
    long total = (long)(rate * (seconds + warmup)), skip = (long)(rate * warmup);
    send_us = calloc((size_t)total, sizeof(int64_t));
    part_of = malloc((size_t)total * sizeof(int32_t));
    off_of = calloc((size_t)total, sizeof(int64_t));
    ack_us = calloc((size_t)total, sizeof(int64_t));
    for (long i = 0; i < total; i++)
        part_of[i] = -1;
    nreported = calloc((size_t)nusers, sizeof(uint32_t));

    char err[512];
    shop_producer_conf_t *conf = shop_producer_conf_new();
    if (shop_producer_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
        shop_producer_conf_set(conf, "topic.prefix", prefix, err, sizeof(err)) ||
        /* latency, not bulk: send at once rather than after shopstream's 50 ms linger */
        shop_producer_conf_set(conf, "linger.ms", "1", err, sizeof(err))) {
        fprintf(stderr, "latency_probe: %s\n", err);
        return 1;
    }
    shop_producer_conf_set_report_cb(conf, on_report, NULL);
    shop_producer_t *p = shop_producer_new(conf, err, sizeof(err));
    shop_producer_conf_destroy(conf);
    if (!p) {
        fprintf(stderr, "latency_probe: %s\n", err);
        return 1;
    }
    pthread_t th;
    pthread_create(&th, NULL, poller, NULL);

    char line[4096], user[32];
    int64_t t0 = now_us();
    for (long i = 0; i < total; i++) {
        /* Sleep until the event is due, at least 0.5 ms at a time: at 10k events/s a spin to
         * each event's due time took a whole core from the machine under test. The events that
         * fell due meanwhile go out together (their hand-over times are their own). */
        int64_t due = t0 + (int64_t)((double)i * 1e6 / rate);
        int64_t now = now_us();
        if (due > now) {
            shop_producer_poll(p, 0);
            int64_t us = due - now < 500 ? 500 : due - now;
            struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        snprintf(user, sizeof(user), "lt%ld", i % nusers);
        int64_t t = now_us();
        size_t n = render(line, sizeof(line), tpl, user, i, (long long)(t / 1000));
        send_us[i] = t;
        if (shop_producer_emit_json_text(p, line, n, err, sizeof(err))) {
            fprintf(stderr, "latency_probe: emit: %s\n", err);
            return 1;
        }
        if (i % 64 == 0)
            shop_producer_poll(p, 0);
    }
    int64_t t_end = now_us();
    shop_producer_flush(p, 30000);
    /* wait until every delivered event is visible, or DRAIN_S: an offered load above what the
     * worker sustains leaves events invisible, reported as such (saturated), not waited for */
    int64_t deadline = now_us() + (int64_t)(drain_s * 1e6);
    for (;;) {
        long pending = 0;
        for (long i = total - 1; i >= 0 && i >= total - 2000; i--)
            if (part_of[i] >= 0 && visible_at(part_of[i], off_of[i]) < 0)
                pending++;
        if (!pending || now_us() > deadline)
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop_poll, 1);
    pthread_join(th, NULL);
    int64_t t_stop = now_us();

    double *lat = malloc((size_t)total * sizeof(double));
    long nl = 0, invisible = 0;
    FILE *out = out_path ? fopen(out_path, "w") : NULL;
    for (long i = skip; i < total; i++) {
        if (part_of[i] < 0)
            continue;
        int64_t v = visible_at(part_of[i], off_of[i]);
        if (v < 0) { /* not visible by the end: counted with the end as a lower bound */
            invisible++;
            v = t_stop;
        }
        lat[nl] = (double)(v - send_us[i]) / 1000.0;
        if (out)
            fprintf(out, "%.3f\n", lat[nl]);
        nl++;
    }
    if (out)
        fclose(out);
    qsort(lat, (size_t)nl, sizeof(double), cmp_d);
    /* the producer's share: hand-over to the broker's acknowledgement */
    double *ack = malloc((size_t)total * sizeof(double));
    long na = 0;
    for (long i = skip; i < total; i++)
        if (part_of[i] >= 0)
            ack[na++] = (double)(ack_us[i] - send_us[i]) / 1000.0;
    qsort(ack, (size_t)na, sizeof(double), cmp_d);
#define PCT(q)  (nl ? lat[(long)((double)(nl - 1) * (q) + 0.5)] : 0.0)
#define APCT(q) (na ? ack[(long)((double)(na - 1) * (q) + 0.5)] : 0.0)
    printf("sent=%ld delivered=%ld failed=%ld measured=%ld invisible=%ld visible_pct=%.2f "
           "p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f ack_p50_ms=%.2f ack_p99_ms=%.2f "
           "achieved_eps=%.0f\n",
           total, atomic_load(&delivered), atomic_load(&failed), nl, invisible,
           nl ? 100.0 * (double)(nl - invisible) / (double)nl : 0.0, PCT(0.5), PCT(0.99),
           PCT(0.999), nl ? lat[nl - 1] : 0.0, APCT(0.5), APCT(0.99),
           (double)total * 1e6 / (double)(t_end - t0 > 0 ? t_end - t0 : 1));
    shop_producer_destroy(p);
    free(lat), free(ack), free(send_us), free(part_of), free(off_of), free(ack_us);
    return atomic_load(&failed) || atomic_load(&delivered) < total ? 1 : 0;
}
