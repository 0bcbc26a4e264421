/* notify_worker.h: the notify worker (registration with the runtime), its dispatcher and its
 * read side (`shopstream query notifications`, HTTP GET /notifications/user/<id>). */
#ifndef SHOP_NOTIFY_WORKER_H
#define SHOP_NOTIFY_WORKER_H

#include <jansson.h>
#include <libpq-fe.h>

#include "worker.h"

extern const shop_worker_ops_t shop_worker_notify;

/* The dispatcher: a thread of its own with its own PostgreSQL and Redis connections, sending
 * due outbox rows. Heap object; cfg is borrowed and must outlive it. */
typedef struct shop_notify_dispatch shop_notify_dispatch_t;
shop_notify_dispatch_t *shop_notify_dispatch_start(const shop_config_t *cfg, const char *prefix,
                                                   const char *pg_schema, char *errstr,
                                                   size_t errstr_size);
/* Stops the thread (it finishes the row in flight) and frees; NULL is a no-op. */
void shop_notify_dispatch_destroy(shop_notify_dispatch_t *d);
/* Sends at most `max` due rows on `pg` (one transaction per row). Returns how many were handled
 * or a negative SHOP_ERR_*. For tests and `--once` use. */
int shop_notify_dispatch_once(shop_notify_dispatch_t *d, int max, char *errstr, size_t errstr_size);

/* A user's latest notifications (outbox rows with their delivery state) as a new JSON array the
 * caller decrefs. Returns an HTTP status: 200, 400 (bad id), 503 (PostgreSQL). */
int notify_api_user(PGconn *pg, const char *user_id, int limit, json_t **out);

/* The worker's HTTP route: GET /notifications/user/<id>[?limit=N] (see shop_http_route_fn). */
int notify_http_route(void *opaque, const char *path, const char *(*query)(void *, const char *),
                      void *req, shop_buf_t *body, const char **content_type);

/* `shopstream query notifications --user ID [--json] [--namespace NS]`; argv[1] =
 * "notifications". Returns the exit status. */
int notify_cmd_query(int argc, char **argv);

#endif
