/* http.c: libmicrohttpd server for metrics, health and readiness, plus worker routes. One polling
 * thread accepts; each connection gets a thread of its own (MHD_USE_THREAD_PER_CONNECTION), so a
 * streamed response (Server-Sent Events) may block in its content reader until its next chunk is
 * due without holding up other clients. shop_http_stop raises a stop flag that wakes every waiting
 * stream, which then ends (MHD_CONTENT_READER_END_OF_STREAM), before MHD joins the threads. */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAM_BLOCK_SIZE (32 * 1024)

struct shop_http {
    struct MHD_Daemon *d;
    shop_metrics_t *m;
    shop_http_route_fn route;
    void *opaque;
    pthread_mutex_t lock; /* guards stopping and streams; cond signals changes of either */
    pthread_cond_t cond;  /* on CLOCK_MONOTONIC */
    int stopping;
    int streams; /* streamed responses not yet destroyed */
};

#define STOP_GRACE_MS 2000 /* how long shop_http_stop lets the streams send their last chunk */

/* What a route's `req` points to. */
typedef struct http_req {
    struct MHD_Connection *conn;
    int has_stream;
    shop_http_stream_t stream;
} http_req_t;

/* One streamed response. */
typedef struct stream_state {
    shop_http_t *h;
    shop_http_stream_t s;
    shop_buf_t out; /* the chunk being sent */
    size_t off;     /* how much of it went */
    struct timespec due;
    int started, ended;
} stream_state_t;

static const char *get_query(void *req, const char *name) {
    return MHD_lookup_connection_value(((http_req_t *)req)->conn, MHD_GET_ARGUMENT_KIND, name);
}

void shop_http_respond_stream(void *req, const shop_http_stream_t *s) {
    http_req_t *r = req;
    if (r->has_stream && r->stream.free_fn) /* a second call replaces the first */
        r->stream.free_fn(r->stream.opaque);
    r->stream = *s;
    r->has_stream = 1;
}

/* Waits until `due` or until the server stops; returns non-zero when it stops. */
static int wait_due(shop_http_t *h, const struct timespec *due) {
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > due->tv_sec || (now.tv_sec == due->tv_sec && now.tv_nsec >= due->tv_nsec))
            break;
        pthread_cond_timedwait(&h->cond, &h->lock, due);
    }
    int stop = h->stopping;
    pthread_mutex_unlock(&h->lock);
    return stop;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_state_t *st = cls;
    for (;;) {
        if (st->off < st->out.len) {
            size_t n = st->out.len - st->off;
            if (n > max)
                n = max;
            memcpy(buf, st->out.buf + st->off, n);
            st->off += n;
            return (ssize_t)n;
        }
        if (st->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        shop_buf_reset(&st->out);
        st->off = 0;
        if (st->started && wait_due(st->h, &st->due))
            return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&st->h->lock);
        int stop = st->h->stopping;
        pthread_mutex_unlock(&st->h->lock);
        if (stop)
            return MHD_CONTENT_READER_END_OF_STREAM;
        st->started = 1;
        clock_gettime(CLOCK_MONOTONIC, &st->due);
        long long ns = st->due.tv_nsec +
                       (long long)(st->s.interval_ms > 0 ? st->s.interval_ms : 0) * 1000000LL;
        st->due.tv_sec += (time_t)(ns / 1000000000LL);
        st->due.tv_nsec = (long)(ns % 1000000000LL);
        if (st->s.next(st->s.opaque, &st->out))
            st->ended = 1;
    }
}

static void stream_free(void *cls) {
    stream_state_t *st = cls;
    if (st->s.free_fn)
        st->s.free_fn(st->s.opaque);
    shop_buf_release(&st->out);
    shop_http_t *h = st->h;
    pthread_mutex_lock(&h->lock);
    h->streams--;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    free(st);
}

static void add_headers(struct MHD_Response *r, const char *type) {
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result reply(struct MHD_Connection *conn, int status, const char *type,
                             const char *data, size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    add_headers(r, type);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_stream(shop_http_t *h, struct MHD_Connection *conn, int status,
                                    const char *type, const shop_http_stream_t *s) {
    stream_state_t *st = shop_xcalloc(1, sizeof(*st));
    st->h = h;
    st->s = *s;
    shop_buf_init(&st->out);
    pthread_mutex_lock(&h->lock);
    h->streams++;
    pthread_mutex_unlock(&h->lock);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK_SIZE,
                                                               stream_read, st, stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    add_headers(r, type);
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* no proxy buffering */
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r); /* the connection keeps its reference; stream_free runs at the end */
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
    (void)version;
    (void)upload_data;
    static int headers_seen;
    /* The first call has only the headers: answering in it makes libmicrohttpd (0.9.75) close the
     * connection after the response ("Connection: close"), so that every request paid for a new
     * TCP connection, a new thread and that thread's new Redis connection: /suggest's p99 under
     * wrk went 2 -> 20-30 ms as sockets piled up. The answer goes in the second call. */
    if (!*con_cls) {
        *con_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body (no route takes one): read and dropped, then the answer */
        *upload_data_size = 0;
        return MHD_YES;
    }
    shop_http_t *h = cls;
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply(conn, 405, "text/plain", "method not allowed\n", 19);
    shop_buf_t body;
    shop_buf_init(&body);
    int status = 200;
    const char *type = "application/json";
    http_req_t req = {.conn = conn};
    if (!strcmp(url, "/metrics")) {
        shop_metrics_render(h->m, &body);
        type = "text/plain; version=0.0.4";
    } else if (!strcmp(url, "/healthz")) {
        shop_buf_puts(&body, "{\"status\":\"ok\"}\n");
    } else if (!strcmp(url, "/readyz")) {
        int ready = atomic_load(&h->m->ready);
        status = ready ? 200 : 503;
        shop_buf_printf(&body,
                        "{\"ready\":%s,\"redis\":\"%s\",\"postgresql\":\"%s\",\"kafka\":\"%s\"}\n",
                        ready ? "true" : "false", atomic_load(&h->m->sink_down[0]) ? "down" : "up",
                        atomic_load(&h->m->sink_down[1]) ? "down" : "up",
                        atomic_load(&h->m->kafka_down) ? "down" : "up");
    } else if (h->route) {
        status = h->route(h->opaque, url, get_query, &req, &body, &type);
    } else {
        status = 404;
    }
    enum MHD_Result ret;
    if (req.has_stream) {
        ret = reply_stream(h, conn, status, type, &req.stream);
    } else {
        if (status == 404 && !body.len)
            shop_buf_puts(&body, "{\"error\":\"not found\"}\n");
        ret = reply(conn, status, type, body.buf ? body.buf : "", body.len);
    }
    shop_buf_release(&body);
    return ret;
}

shop_http_t *shop_http_start(const char *bind_addr, int port, int max_connections,
                             shop_metrics_t *metrics, shop_http_route_fn route, void *opaque,
                             char *errstr, size_t errstr_size) {
    shop_http_t *h = shop_xcalloc(1, sizeof(*h));
    h->m = metrics;
    h->route = route;
    h->opaque = opaque;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "http.bind: bad IPv4 address \"%s\"",
                    bind_addr);
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_POLL | MHD_USE_ERROR_LOG,
                            (uint16_t)port, NULL, NULL, &handle, h, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)(max_connections > 0 ? max_connections : 256),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!h->d) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                    "cannot listen on %s:%d (port in use? set http.port)", bind_addr, port);
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

void shop_http_stop(shop_http_t *h) {
    if (!h)
        return;
    /* Wake the streams: each ends at its next read with the last chunk of its chunked body, which
     * its client sees as a clean end. Give them a moment to send it, then close everything. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += STOP_GRACE_MS / 1000;
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    pthread_cond_broadcast(&h->cond);
    while (h->streams > 0 && pthread_cond_timedwait(&h->cond, &h->lock, &until) == 0) {
    }
    pthread_mutex_unlock(&h->lock);
    MHD_stop_daemon(h->d); /* closes the connections left and joins their threads */
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
