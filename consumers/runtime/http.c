/* http.c: libmicrohttpd server for metrics, health and readiness, plus worker routes. */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct shop_http {
    struct MHD_Daemon *d;
    shop_metrics_t *m;
    shop_http_route_fn route;
    void *opaque;
};

static const char *get_query(void *req, const char *name) {
    return MHD_lookup_connection_value((struct MHD_Connection *)req, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result reply(struct MHD_Connection *conn, int status, const char *type,
                             const char *data, size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    shop_http_t *h = cls;
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply(conn, 405, "text/plain", "method not allowed\n", 19);
    shop_buf_t body;
    shop_buf_init(&body);
    int status = 200;
    const char *type = "application/json";
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
        status = h->route(h->opaque, url, get_query, conn, &body, &type);
    } else {
        status = 404;
    }
    if (status == 404 && !body.len)
        shop_buf_puts(&body, "{\"error\":\"not found\"}\n");
    enum MHD_Result ret = reply(conn, status, type, body.buf ? body.buf : "", body.len);
    shop_buf_release(&body);
    return ret;
}

shop_http_t *shop_http_start(const char *bind_addr, int port, int threads, shop_metrics_t *metrics,
                             shop_http_route_fn route, void *opaque, char *errstr,
                             size_t errstr_size) {
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
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
                            (uint16_t)port, NULL, NULL, &handle, h, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 0 ? threads : 1),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!h->d) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                    "cannot listen on %s:%d (port in use? set http.port)", bind_addr, port);
        free(h);
        return NULL;
    }
    return h;
}

void shop_http_stop(shop_http_t *h) {
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
