/* health.c: service health for the dashboard: every worker's /metrics (consumer lag per partition,
 * dead-letter rate, flush latency, readiness), fetched with libcurl once a second on a thread of
 * its own so that a slow or dead worker never holds up an HTTP request. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dashboard.h"

#define MAX_WORKERS 16

struct shop_an_health {
    char *names[MAX_WORKERS], *urls[MAX_WORKERS];
    int n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    int started, stop;
    json_t *latest; /* array, guarded by lock */
};

shop_an_health_t *shop_an_health_new(const char *workers) {
    shop_an_health_t *h = shop_xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    h->latest = json_array();
    char *list = shop_xstrdup(workers ? workers : ""), *save = NULL;
    for (char *tok = strtok_r(list, ", ", &save); tok && h->n < MAX_WORKERS;
         tok = strtok_r(NULL, ", ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = 0;
        h->names[h->n] = shop_xstrdup(tok);
        h->urls[h->n++] = shop_xstrdup(eq + 1);
    }
    free(list);
    return h;
}

void shop_an_health_destroy(shop_an_health_t *h) {
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    pthread_cond_broadcast(&h->cond);
    int started = h->started;
    pthread_mutex_unlock(&h->lock);
    if (started)
        pthread_join(h->thread, NULL);
    for (int i = 0; i < h->n; i++) {
        free(h->names[i]);
        free(h->urls[i]);
    }
    json_decref(h->latest);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* The value of label `name` in a sample line's label set, copied into out. */
static void label(const char *line, const char *name, char *out, size_t size) {
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=\"", name);
    const char *p = strstr(line, pat), *e;
    out[0] = 0;
    if (p && (e = strchr(p + strlen(pat), '"')))
        snprintf(out, size, "%.*s", (int)(e - p - strlen(pat)), p + strlen(pat));
}

static double value_of(const char *line) {
    const char *sp = strrchr(line, ' ');
    return sp ? strtod(sp + 1, NULL) : 0;
}

static double prev_num(const json_t *prev, const char *key) {
    return prev ? json_number_value(json_object_get(prev, key)) : 0;
}

json_t *shop_an_health_parse(const char *name, const char *text, const json_t *prev, double dt_s) {
    double events = 0, dlq = 0, lag = 0, fsum[2] = {0, 0}, fcount[2] = {0, 0};
    int ready = 0, sink_up[2] = {1, 1};
    json_t *parts = json_array();
    char *copy = shop_xstrdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char buf[160], sink[16];
        if (line[0] == '#')
            continue;
        label(line, "sink", sink, sizeof(sink));
        int si = !strcmp(sink, "postgresql");
        if (!strncmp(line, "shopstream_events_total{", 24))
            events += value_of(line);
        else if (!strncmp(line, "shopstream_dlq_total{", 21))
            dlq += value_of(line);
        else if (!strncmp(line, "shopstream_ready{", 17))
            ready = value_of(line) > 0;
        else if (!strncmp(line, "shopstream_sink_up{", 19))
            sink_up[si] = value_of(line) > 0;
        else if (!strncmp(line, "shopstream_flush_seconds_sum{", 29))
            fsum[si] = value_of(line);
        else if (!strncmp(line, "shopstream_flush_seconds_count{", 31))
            fcount[si] = value_of(line);
        else if (!strncmp(line, "shopstream_consumer_lag{", 24)) {
            char part[16];
            double v = value_of(line);
            label(line, "topic", buf, sizeof(buf));
            label(line, "partition", part, sizeof(part));
            lag += v;
            json_array_append_new(
                parts, json_pack("{sssisf}", "topic", buf, "partition", atoi(part), "lag", v));
        }
    }
    free(copy);
    json_t *o = json_pack("{sssbsbsfsfsfso}", "name", name, "up", 1, "ready", ready, "events",
                          events, "dlq", dlq, "lag", lag, "partitions", parts);
    double de = events - prev_num(prev, "events"), dd = dlq - prev_num(prev, "dlq");
    int have_prev = prev && json_is_true(json_object_get(prev, "up")) && dt_s > 0;
    json_object_set_new(o, "events_per_s", json_real(have_prev && de >= 0 ? de / dt_s : 0));
    json_object_set_new(o, "dlq_per_s", json_real(have_prev && dd >= 0 ? dd / dt_s : 0));
    /* flush latency over the last interval (all time when there is no previous scrape) */
    for (int s = 0; s < 2; s++) {
        const char *k = s ? "pg" : "redis";
        char ks[32], kc[32], km[32];
        snprintf(ks, sizeof(ks), "flush_sum_%s", k);
        snprintf(kc, sizeof(kc), "flush_count_%s", k);
        snprintf(km, sizeof(km), "flush_ms_%s", k);
        json_object_set_new(o, ks, json_real(fsum[s]));
        json_object_set_new(o, kc, json_real(fcount[s]));
        double dc = fcount[s] - prev_num(prev, kc), ds = fsum[s] - prev_num(prev, ks);
        double ms = have_prev && dc > 0 ? 1000 * ds / dc
                    : fcount[s] > 0     ? 1000 * fsum[s] / fcount[s]
                                        : 0;
        json_object_set_new(o, km, json_real(ms));
        json_object_set_new(o, s ? "pg_up" : "redis_up", json_boolean(sink_up[s]));
    }
    return o;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg) {
    shop_buf_append(arg, ptr, size * nmemb);
    return size * nmemb;
}

static json_t *scrape_one(CURL *c, const char *name, const char *url, const json_t *prev,
                          double dt) {
    char full[512];
    shop_buf_t body;
    shop_buf_init(&body);
    snprintf(full, sizeof(full), "%s/metrics", url);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 800L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 300L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long code = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    json_t *o;
    if (rc == CURLE_OK && code == 200) {
        shop_buf_append(&body, "", 1);
        o = shop_an_health_parse(name, body.buf, prev, dt);
    } else {
        o = json_pack("{sssbss}", "name", name, "up", 0, "error",
                      rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error");
    }
    json_object_set_new(o, "url", json_string(url));
    shop_buf_release(&body);
    return o;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *scraper(void *arg) {
    shop_an_health_t *h = arg;
    CURL *c = curl_easy_init();
    double last = 0;
    for (;;) {
        double now = mono_s();
        json_t *prev = NULL, *next = json_array();
        pthread_mutex_lock(&h->lock);
        prev = json_incref(h->latest);
        pthread_mutex_unlock(&h->lock);
        for (int i = 0; i < h->n && c; i++) {
            curl_easy_reset(c);
            json_array_append_new(next, scrape_one(c, h->names[i], h->urls[i],
                                                   json_array_get(prev, (size_t)i), now - last));
        }
        json_decref(prev);
        last = now;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&h->lock);
        json_decref(h->latest);
        h->latest = next;
        if (!h->stop)
            pthread_cond_timedwait(&h->cond, &h->lock, &until);
        int stop = h->stop;
        pthread_mutex_unlock(&h->lock);
        if (stop)
            break;
    }
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

json_t *shop_an_health_snapshot(shop_an_health_t *h) {
    pthread_mutex_lock(&h->lock);
    if (!h->started && !h->stop && pthread_create(&h->thread, NULL, scraper, h) == 0)
        h->started = 1;
    json_t *out = json_deep_copy(h->latest);
    pthread_mutex_unlock(&h->lock);
    return out;
}
