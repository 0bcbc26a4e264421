/* http.h: the worker's HTTP endpoints over libmicrohttpd: /metrics, /healthz, /readyz and the
 * worker's own JSON routes, which answer with a whole body or with a stream (Server-Sent Events).
 */
#ifndef SHOP_HTTP_H
#define SHOP_HTTP_H

#include "metrics.h"

typedef struct shop_http shop_http_t;

/* A route handler for paths other than the built-in ones. Each connection has a thread of its own
 * (several run at once: keep per-thread connections, released by a pthread key destructor when
 * the connection's thread ends, or shared ones under a lock). Fills `body` and returns an HTTP
 * status (404 when the path is not its). `query` gives a query argument by name (NULL when
 * absent). `req` stands for the request: pass it to `query` or to shop_http_respond_stream. */
typedef int (*shop_http_route_fn)(void *opaque, const char *path,
                                  const char *(*query)(void *req, const char *name), void *req,
                                  shop_buf_t *body, const char **content_type);

/* A streamed response body, e.g. Server-Sent Events. `next` runs on the connection's thread: once
 * right away, then every `interval_ms` (or as soon as the client has taken what it appended, when
 * interval_ms is 0). It appends the next chunk to `out` (appending nothing is fine: nothing is
 * sent this turn) and returns 0 to go on or non-zero to end the response. The stream ends by
 * itself when the client goes away or the server stops (shop_http_stop wakes a waiting stream, so
 * it never waits for one). `free_fn` (may be NULL) is called once with `opaque` when the response
 * is gone, on whatever thread destroys it. */
typedef struct shop_http_stream {
    int (*next)(void *opaque, shop_buf_t *out);
    void (*free_fn)(void *opaque);
    void *opaque;
    int interval_ms;
} shop_http_stream_t;

/* Called by a route instead of filling `body`: the response to `req` becomes the stream `*s`
 * (copied; the HTTP layer owns `s->opaque` from now on, even when the response cannot be sent),
 * sent with the route's status and content type, chunked and without a length. */
void shop_http_respond_stream(void *req, const shop_http_stream_t *s);

/* Starts listening on `bind_addr`:`port`: one polling thread plus one thread per connection, at
 * most `max_connections` connections at once (more are refused; <= 0: 256). `metrics` and
 * `opaque` are borrowed and must outlive the server. Returns NULL with errstr when the port
 * cannot be bound. */
shop_http_t *shop_http_start(const char *bind_addr, int port, int max_connections,
                             shop_metrics_t *metrics, shop_http_route_fn route, void *opaque,
                             char *errstr, size_t errstr_size);
/* Ends the open streams, then closes every connection and joins its thread. */
void shop_http_stop(shop_http_t *h);

#endif
