/* fraud_latency.c: produce -> score visible in Redis, for the fraud worker. Produces order.placed
 * events at a fixed rate, each with a known order id ("<run>-<seq>") and the producer's wall time
 * as occurred_at, and measures, per order, the time from handing it to the producer to the moment
 * its decision fraud:order:<id> exists in Redis.
 *
 * Visibility comes from Redis keyspace notifications (PSUBSCRIBE __keyspace@<db>__:<key pattern>,
 * event "hset"): Redis publishes them when the worker's MULTI/EXEC runs, so the figure has no
 * polling granularity. The server must have notify-keyspace-events including "Kh" (the script sets
 * and restores it). Send and receive times are taken from one monotonic clock in this process.
 *
 * usage: fraud_latency --brokers B --topic T --redis HOST:PORT --key-prefix 'bt:ns:' --rate EPS
 *                      --seconds S [--warmup S] [--drain S] [--users U] [--run ID] [--db N]
 * Prints: sent=N measured=N missing=N p50_ms=.. p99_ms=.. p999_ms=.. max_ms=.. achieved_eps=..
 *         kafka_ack_p50_ms=.. kafka_ack_p99_ms=.. (produce -> broker acknowledgement, acks=all)
 * Orders of the first --warmup seconds (default 2) are sent but not measured; an order not seen
 * --drain seconds (default 10) after the last send is missing (exit status 1). */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shop.h"
#include "shop_codec.h"

typedef struct {
    const char *brokers, *topic, *redis, *prefix, *run;
    double rate, seconds, warmup, drain;
    long users;
    int db;
} opts_t;

static int64_t *sent_us, *seen_us, *acked_us; /* per sequence number, 0 = not yet */
static long total;
static atomic_long nseen;
static atomic_int stop;

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleeps until t_us without spinning (a spin to each order's due time took a fifth of a core at
 * 2,000 orders/s from the machine under test); the send time recorded is the actual one. */
static void sleep_until(int64_t t_us) {
    int64_t d = t_us - mono_us();
    if (d <= 0)
        return;
    struct timespec ts = {d / 1000000, (d % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Subscriber: every "hset" on <prefix>fraud:order:<run>-<seq> marks seq as visible. */
static void *subscriber(void *arg) {
    const opts_t *o = arg;
    char host[256];
    snprintf(host, sizeof(host), "%s", o->redis);
    char *colon = strrchr(host, ':');
    int port = colon ? atoi(colon + 1) : 6379;
    if (colon)
        *colon = 0;
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        fprintf(stderr, "fraud_latency: redis %s: %s\n", o->redis, c ? c->errstr : "oom");
        exit(2);
    }
    redisSetTimeout(c, (struct timeval){0, 200000});
    char pat[512], mark[300];
    snprintf(pat, sizeof(pat), "__keyspace@%d__:%sfraud:order:%s-*", o->db, o->prefix, o->run);
    snprintf(mark, sizeof(mark), "fraud:order:%s-", o->run);
    redisReply *r = redisCommand(c, "PSUBSCRIBE %s", pat);
    if (!r) {
        fprintf(stderr, "fraud_latency: PSUBSCRIBE: %s\n", c->errstr);
        exit(2);
    }
    freeReplyObject(r);
    while (!atomic_load(&stop)) {
        r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            if (c->err == REDIS_ERR_IO) { /* read timeout: check stop, go on */
                c->err = 0;
                c->errstr[0] = 0;
                continue;
            }
            fprintf(stderr, "fraud_latency: redis: %s\n", c->errstr);
            exit(2);
        }
        int64_t now = mono_us();
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
            !strcmp(r->element[3]->str, "hset")) {
            const char *k = strstr(r->element[2]->str, mark);
            long seq = k ? strtol(k + strlen(mark), NULL, 10) : -1;
            if (seq >= 0 && seq < total && !seen_us[seq]) {
                seen_us[seq] = now;
                atomic_fetch_add(&nseen, 1);
            }
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p) {
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i < n ? i : n - 1] / 1000.0;
}

static int parse(int argc, char **argv, opts_t *o) {
    *o = (opts_t){"127.0.0.1:19092",
                  "shop.order.events",
                  "127.0.0.1:16379",
                  "shop:",
                  NULL,
                  2000,
                  10,
                  2,
                  10,
                  5000,
                  0};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--brokers"))
            o->brokers = v;
        else if (!strcmp(a, "--topic"))
            o->topic = v;
        else if (!strcmp(a, "--redis"))
            o->redis = v;
        else if (!strcmp(a, "--key-prefix"))
            o->prefix = v;
        else if (!strcmp(a, "--run"))
            o->run = v;
        else if (!strcmp(a, "--rate"))
            o->rate = atof(v);
        else if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--warmup"))
            o->warmup = atof(v);
        else if (!strcmp(a, "--drain"))
            o->drain = atof(v);
        else if (!strcmp(a, "--users"))
            o->users = atol(v);
        else if (!strcmp(a, "--db"))
            o->db = atoi(v);
        else {
            fprintf(stderr, "fraud_latency: unknown option %s\n", a);
            return -1;
        }
    }
    return o->rate > 0 && o->seconds > 0 && o->users > 0 ? 0 : -1;
}

/* Delivery report: when the broker acknowledged the order (the Kafka share of the latency). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    long seq = (long)(intptr_t)m->_private;
    if (!m->err && seq >= 0 && seq < total)
        acked_us[seq] = mono_us();
}

static rd_kafka_t *producer(const opts_t *o) {
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (rd_kafka_conf_set(kc, "bootstrap.servers", o->brokers, err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "linger.ms", "0", err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "enable.idempotence", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "partitioner", "murmur2_random", err, sizeof(err))) {
        fprintf(stderr, "fraud_latency: kafka: %s\n", err);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "fraud_latency: kafka: %s\n", err);
    return rk;
}

/* One valid order.placed of user `u` (a few users share devices and IPs, as in a shop). */
static json_t *order(const opts_t *o, long seq, long u) {
    char oid[96], uid[32], dev[32], ip[32];
    int64_t amount = 1000 + (seq * 7919) % 90000;
    snprintf(oid, sizeof(oid), "%s-%ld", o->run, seq);
    snprintf(uid, sizeof(uid), "lu%ld", u);
    snprintf(dev, sizeof(dev), "ld%ld", u % (o->users * 9 / 10 + 1));
    snprintf(ip, sizeof(ip), "li%ld", u % 997);
    return json_pack("{ss ss ss sI sI ss ss ss ss s[{ss si sI}]}", "type", "order.placed",
                     "user_id", uid, "order_id", oid, "occurred_at", (json_int_t)shop_now_ms(),
                     "amount_minor", (json_int_t)amount, "currency", "KRW", "device_id", dev,
                     "ip_hash", ip, "country", "KR", "items", "product_id", "p-00001", "quantity",
                     1, "unit_price_minor", (json_int_t)amount);
}

int main(int argc, char **argv) {
    opts_t o;
    char err[512], runbuf[32];
    if (parse(argc, argv, &o)) {
        fprintf(stderr, "usage: fraud_latency --brokers B --topic T --redis HOST:PORT "
                        "--key-prefix P --rate EPS --seconds S [--warmup S] [--drain S] "
                        "[--users U] [--run ID] [--db N]\n");
        return 2;
    }
    if (!o.run) {
        snprintf(runbuf, sizeof(runbuf), "lt%lld", (long long)(shop_now_ms() % 100000000));
        o.run = runbuf;
    }
    total = (long)((o.warmup + o.seconds) * o.rate);
    sent_us = calloc((size_t)total, sizeof(int64_t));
    seen_us = calloc((size_t)total, sizeof(int64_t));
    acked_us = calloc((size_t)total, sizeof(int64_t));
    shop_codec_t *codec = shop_codec_new(NULL, err, sizeof(err));
    rd_kafka_t *rk = producer(&o);
    if (!codec || !rk || !sent_us || !seen_us)
        return 2;
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    pthread_t th;
    pthread_create(&th, NULL, subscriber, &o);
    struct timespec pause = {0, 300000000}; /* the subscription is in place */
    nanosleep(&pause, NULL);
    int64_t t0 = mono_us();
    for (long i = 0; i < total; i++) {
        sleep_until(t0 + (int64_t)((double)i * 1e6 / o.rate));
        json_t *ev = order(&o, i, (i * 7) % o.users);
        if (shop_codec_encode_json(codec, ev, SHOP_FRAMING_SINGLE_OBJECT, &enc, err, 512)) {
            fprintf(stderr, "fraud_latency: %s\n", err);
            return 2;
        }
        json_decref(ev);
        sent_us[i] = mono_us();
        while (rd_kafka_producev(
                   rk, RD_KAFKA_V_TOPIC(o.topic), RD_KAFKA_V_KEY(enc.key, strlen(enc.key)),
                   RD_KAFKA_V_VALUE(enc.bytes.buf, enc.bytes.len),
                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(enc.occurred_at),
                   RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
                   RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 1);
        rd_kafka_poll(rk, 0);
    }
    double elapsed = (double)(mono_us() - t0) / 1e6;
    rd_kafka_flush(rk, 10000);
    int64_t end = mono_us() + (int64_t)(o.drain * 1e6);
    while (atomic_load(&nseen) < total && mono_us() < end)
        sleep_until(mono_us() + 10000);
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    long first = (long)(o.warmup * o.rate), missing = 0;
    size_t n = 0;
    int64_t *lat = calloc((size_t)(total - first) + 1, sizeof(int64_t));
    int64_t *ack = calloc((size_t)(total - first) + 1, sizeof(int64_t));
    size_t na = 0;
    for (long i = first; i < total; i++) {
        if (acked_us[i])
            ack[na++] = acked_us[i] - sent_us[i];
        if (!seen_us[i])
            missing++;
        else
            lat[n++] = seen_us[i] - sent_us[i];
    }
    qsort(lat, n, sizeof(*lat), cmp64);
    qsort(ack, na, sizeof(*ack), cmp64);
    printf("run=%s sent=%ld measured=%zu missing=%ld p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f "
           "max_ms=%.2f achieved_eps=%.0f kafka_ack_p50_ms=%.2f kafka_ack_p99_ms=%.2f\n",
           o.run, total, n, missing, pct(lat, n, 0.50), pct(lat, n, 0.99), pct(lat, n, 0.999),
           n ? (double)lat[n - 1] / 1000.0 : 0.0, (double)total / elapsed, pct(ack, na, 0.50),
           pct(ack, na, 0.99));
    free(lat);
    free(ack);
    shop_encoded_release(&enc);
    rd_kafka_destroy(rk);
    shop_codec_destroy(codec);
    return missing ? 1 : 0;
}
