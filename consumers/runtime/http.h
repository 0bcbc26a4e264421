/* http.h: the worker's HTTP endpoints over libmicrohttpd: /metrics, /healthz, /readyz and the
 * worker's own JSON routes. */
#ifndef SHOP_HTTP_H
#define SHOP_HTTP_H

#include "metrics.h"

typedef struct shop_http shop_http_t;

/* A route handler for paths other than the built-in ones. Runs on one of the HTTP threads
 * (several at once: keep per-thread connections). Fills
 * `body` and returns an HTTP status (404 when the path is not its). `query` gives a query
 * argument by name (NULL when absent). */
typedef int (*shop_http_route_fn)(void *opaque, const char *path,
                                  const char *(*query)(void *req, const char *name), void *req,
                                  shop_buf_t *body, const char **content_type);

/* Starts listening on `bind_addr`:`port` with `threads` request threads. `metrics` and `opaque`
 * are borrowed and must outlive the server. Returns NULL with errstr when the port cannot be
 * bound. */
shop_http_t *shop_http_start(const char *bind_addr, int port, int threads, shop_metrics_t *metrics,
                             shop_http_route_fn route, void *opaque, char *errstr,
                             size_t errstr_size);
void shop_http_stop(shop_http_t *h);

#endif
