/* fraud_worker.h: the fraud worker (registration with the runtime) and its read side, shared by
 * `shopstream query fraud ORDER_ID` and HTTP GET /fraud/order/<id>. */
#ifndef SHOP_FRAUD_WORKER_H
#define SHOP_FRAUD_WORKER_H

#include <jansson.h>

#include "worker.h"

struct redisContext;

extern const shop_worker_ops_t shop_worker_fraud;

/* Decisions in a PostgreSQL job of the worker (ops->pg_take; for tests). */
size_t shop_fraud_job_rows(const void *job);

/* Reads the decision of `order_id` under `prefix` into *out (a new JSON reference the caller
 * decrefs). Returns an HTTP status: 200, 404 (no decision), 400 (bad id), 503 (Redis). */
int fraud_api_order(struct redisContext *c, const char *prefix, const char *order_id, json_t **out);

/* HTTP route of the worker (runs on the HTTP thread with its own Redis connection). */
int fraud_http_route(void *opaque, const char *path, const char *(*query)(void *, const char *),
                     void *req, shop_buf_t *body, const char **content_type);

/* `shopstream query fraud ORDER_ID [--json] [--namespace NS]`; argv[1] = "fraud". Returns the
 * exit status. */
int fraud_cmd_query(int argc, char **argv);

#endif
