/* store_redis.c: Redis sink: connection with reconnects, offsets read back on assignment, and
 * WATCH-fenced MULTI/EXEC commits that carry the worker's updates and its offsets together. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "redis_keys.h"
#include "store.h"

struct shop_redis_store {
    char host[256];
    int port;
    int db;
    char password[256];
    char *offsets_key;
    int timeout_ms;
    redisContext *c;
};

/* Appends a decimal number (the RESP lengths) without going through printf. */
static void put_num(shop_buf_t *b, char type, size_t n) {
    char tmp[24];
    int i = (int)sizeof(tmp);
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do {
        tmp[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    tmp[--i] = type;
    shop_buf_append(b, tmp + i, sizeof(tmp) - (size_t)i);
}

/* RESP framing written in place (the same bytes as redisFormatCommandArgv, without its
 * allocations: a flush can hold hundreds of thousands of arguments). */
void shop_redis_batch_argv(shop_redis_batch_t *b, int argc, const char **argv, const size_t *lens) {
    put_num(&b->resp, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        put_num(&b->resp, '$', n);
        shop_buf_append(&b->resp, argv[i], n);
        shop_buf_append(&b->resp, "\r\n", 2);
    }
    b->ncmds++;
}

void shop_redis_batch_cmd(shop_redis_batch_t *b, const char *fmt, ...) {
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    shop_buf_append(&b->resp, cmd, (size_t)n);
    free(cmd);
    b->ncmds++;
}

static int parse_url(shop_redis_store_t *s, const char *url) {
    const char *p = url;
    if (!strncmp(p, "redis://", 8))
        p += 8;
    s->port = 6379;
    s->db = 0;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        snprintf(s->password, sizeof(s->password), "%.*s", (int)(at - pw), pw);
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (!hl || hl >= sizeof(s->host))
        return -1;
    memcpy(s->host, p, hl);
    s->host[hl] = '\0';
    p += hl;
    if (*p == ':') {
        s->port = atoi(p + 1);
        p += 1 + strspn(p + 1, "0123456789");
    }
    if (*p == '/')
        s->db = atoi(p + 1);
    return s->port > 0 && s->port < 65536 ? 0 : -1;
}

shop_redis_store_t *shop_redis_store_new(const char *url, const char *offsets_key, int timeout_ms,
                                         char *errstr, size_t errstr_size) {
    shop_redis_store_t *s = shop_xcalloc(1, sizeof(*s));
    if (parse_url(s, url)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "bad redis url \"%s\"", url);
        free(s);
        return NULL;
    }
    s->offsets_key = shop_xstrdup(offsets_key);
    s->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    return s;
}

static void disconnect(shop_redis_store_t *s) {
    if (s->c)
        redisFree(s->c);
    s->c = NULL;
}

void shop_redis_store_destroy(shop_redis_store_t *s) {
    if (!s)
        return;
    disconnect(s);
    free(s->offsets_key);
    free(s);
}

/* Runs one command; NULL (and disconnects) on I/O failure. Caller frees the reply. */
static redisReply *command(shop_redis_store_t *s, char *errstr, size_t errstr_size, const char *fmt,
                           ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(s->c, fmt, ap);
    va_end(ap);
    if (!r) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis %s:%d: %s", s->host, s->port,
                    s->c->errstr[0] ? s->c->errstr : "connection lost");
        disconnect(s);
    }
    return r;
}

struct redisContext *shop_redis_store_conn(shop_redis_store_t *s, char *errstr,
                                           size_t errstr_size) {
    if (s->c && s->c->err) /* a caller's command failed on it: reconnect */
        disconnect(s);
    if (s->c)
        return s->c;
    struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
    s->c = redisConnectWithTimeout(s->host, s->port, tv);
    if (!s->c || s->c->err) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis %s:%d: %s", s->host, s->port,
                    s->c ? s->c->errstr : "cannot allocate context");
        disconnect(s);
        return NULL;
    }
    redisSetTimeout(s->c, tv);
    redisReply *r;
    if (s->password[0]) {
        if (!(r = command(s, errstr, errstr_size, "AUTH %s", s->password)))
            return NULL;
        freeReplyObject(r);
    }
    if (s->db) {
        if (!(r = command(s, errstr, errstr_size, "SELECT %d", s->db)))
            return NULL;
        freeReplyObject(r);
    }
    return s->c;
}

int shop_redis_store_ping(shop_redis_store_t *s, char *errstr, size_t errstr_size) {
    if (!shop_redis_store_conn(s, errstr, errstr_size))
        return SHOP_ERR_RETRYABLE;
    redisReply *r = command(s, errstr, errstr_size, "PING");
    if (!r)
        return SHOP_ERR_RETRYABLE;
    int ok = r->type == REDIS_REPLY_STATUS;
    if (!ok)
        shop_seterr(errstr, errstr_size, 0, "redis PING: %s", r->str ? r->str : "?");
    freeReplyObject(r);
    return ok ? SHOP_OK : SHOP_ERR_RETRYABLE;
}

/* Error replies a server gives while it cannot serve for a while (loading its dataset after a
 * restart, a busy script, a replica during failover, a full disk for snapshots): retry those. */
static int transient(const char *msg) {
    static const char *const codes[] = {"LOADING",  "BUSY",     "MASTERDOWN", "TRYAGAIN",
                                        "READONLY", "MISCONF",  "NOREPLICAS", "CLUSTERDOWN",
                                        "OOM",      "EXECABORT"};
    for (size_t i = 0; msg && i < sizeof(codes) / sizeof(codes[0]); i++)
        if (!strncmp(msg, codes[i], strlen(codes[i])))
            return 1;
    return 0;
}

/* One key per partition, so that instances owning different partitions never WATCH the same key
 * (one shared hash made every concurrent flush of another instance abort this one's EXEC). */
static void field_name(const shop_redis_store_t *s, const shop_offset_entry_t *e, char *buf,
                       size_t size) {
    snprintf(buf, size, "%s:%s:%d", s->offsets_key, e->topic, (int)e->partition);
}

/* MGET of every entry's key; out[i] = stored offset or -1. */
static int read_offsets(shop_redis_store_t *s, const shop_offset_entry_t *entries, int n,
                        int64_t *out, int watch, char *errstr, size_t errstr_size) {
    const char **argv = shop_xcalloc((size_t)n + 2, sizeof(char *));
    char(*fields)[512] = shop_xcalloc((size_t)n + 1, sizeof(*fields));
    argv[0] = watch ? "WATCH" : "MGET";
    for (int i = 0; i < n; i++) {
        field_name(s, &entries[i], fields[i], sizeof(fields[i]));
        argv[i + 1] = fields[i];
    }
    redisReply *r = NULL;
    if (watch) { /* WATCH the same keys first, then read them */
        r = redisCommandArgv(s->c, n + 1, argv, NULL);
        if (r && r->type == REDIS_REPLY_ERROR) {
            freeReplyObject(r);
            r = NULL;
        } else if (r) {
            freeReplyObject(r);
            argv[0] = "MGET";
            r = redisCommandArgv(s->c, n + 1, argv, NULL);
        }
    } else {
        r = redisCommandArgv(s->c, n + 1, argv, NULL);
    }
    int rc = SHOP_OK;
    if (!r) {
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis MGET: %s",
                         s->c->errstr[0] ? s->c->errstr : "connection lost");
        disconnect(s);
    } else if (r->type == REDIS_REPLY_ERROR && transient(r->str)) {
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis MGET: %s", r->str);
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)n) {
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "redis MGET: unexpected reply (%s)",
                         r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
    } else {
        for (int i = 0; i < n; i++) {
            redisReply *e = r->element[i];
            out[i] = e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : -1;
        }
    }
    if (r)
        freeReplyObject(r);
    free(fields);
    free(argv);
    return rc;
}

int shop_redis_store_load(shop_redis_store_t *s, shop_offset_entry_t *entries, int n, char *errstr,
                          size_t errstr_size) {
    if (!shop_redis_store_conn(s, errstr, errstr_size))
        return SHOP_ERR_RETRYABLE;
    int64_t *vals = shop_xcalloc((size_t)n + 1, sizeof(int64_t));
    int rc = read_offsets(s, entries, n, vals, 0, errstr, errstr_size);
    if (!rc)
        for (int i = 0; i < n; i++)
            entries[i].from = vals[i];
    free(vals);
    return rc;
}

/* Sends MULTI, the batch, MSET offsets, EXEC in one write and reads the replies. */
static int exec_batch(shop_redis_store_t *s, const shop_redis_batch_t *batch,
                      const shop_offset_entry_t *entries, int n, char *errstr, size_t errstr_size) {
    redisAppendCommand(s->c, "MULTI");
    if (batch->resp.len)
        redisAppendFormattedCommand(s->c, batch->resp.buf, batch->resp.len);
    const char **argv = shop_xcalloc((size_t)n * 2 + 2, sizeof(char *));
    char(*vals)[512] = shop_xcalloc((size_t)n * 2 + 1, sizeof(*vals));
    argv[0] = "MSET";
    for (int i = 0; i < n; i++) {
        field_name(s, &entries[i], vals[2 * i], sizeof(vals[0]));
        snprintf(vals[2 * i + 1], sizeof(vals[0]), "%lld", (long long)entries[i].to);
        argv[1 + 2 * i] = vals[2 * i];
        argv[2 + 2 * i] = vals[2 * i + 1];
    }
    redisAppendCommandArgv(s->c, 1 + 2 * n, argv, NULL);
    free(argv);
    free(vals);
    redisAppendCommand(s->c, "EXEC");
    int total = 1 + batch->ncmds + 1 + 1, rc = SHOP_OK;
    for (int i = 0; i < total; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis EXEC: %s",
                        s->c->errstr[0] ? s->c->errstr : "connection lost");
            disconnect(s);
            return SHOP_ERR_RETRYABLE; /* outcome unknown: the next try compares offsets */
        }
        if (i < total - 1) {
            if (r->type == REDIS_REPLY_ERROR && rc == SHOP_OK)
                rc = shop_seterr(errstr, errstr_size,
                                 transient(r->str) ? SHOP_ERR_RETRYABLE : SHOP_ERR_FATAL,
                                 "redis queueing: %s", r->str);
        } else if (r->type == REDIS_REPLY_NIL) {
            rc = shop_seterr(errstr, errstr_size, SHOP_ERR_CONFLICT,
                             "redis EXEC aborted: offsets changed under WATCH");
        } else if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t j = 0; j < r->elements; j++)
                if (r->element[j]->type == REDIS_REPLY_ERROR && rc == SHOP_OK)
                    rc = shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL,
                                     "redis command in EXEC: %s", r->element[j]->str);
        } else if (r->type == REDIS_REPLY_ERROR && rc == SHOP_OK) {
            rc = shop_seterr(errstr, errstr_size,
                             transient(r->str) ? SHOP_ERR_RETRYABLE : SHOP_ERR_FATAL,
                             "redis EXEC: %s", r->str);
        }
        freeReplyObject(r);
    }
    return rc;
}

int shop_redis_store_commit(shop_redis_store_t *s, const shop_redis_batch_t *batch,
                            const shop_offset_entry_t *entries, int n, char *errstr,
                            size_t errstr_size) {
    if (!shop_redis_store_conn(s, errstr, errstr_size))
        return SHOP_ERR_RETRYABLE;
    redisReply *r;
    int64_t *stored = shop_xcalloc((size_t)n + 1, sizeof(int64_t));
    int rc = read_offsets(s, entries, n, stored, 1, errstr, errstr_size);
    if (rc) {
        free(stored);
        return rc;
    }
    int cmp = shop_offsets_compare(entries, n, stored);
    free(stored);
    if (cmp != 0) {
        if ((r = command(s, errstr, errstr_size, "UNWATCH")))
            freeReplyObject(r);
        if (cmp == 1)
            return SHOP_OK; /* our previous EXEC went through; its reply was lost */
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFLICT,
                           "redis offsets under %s:* are not where this worker left them",
                           s->offsets_key);
    }
    return exec_batch(s, batch, entries, n, errstr, errstr_size);
}

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;

static void thread_store_free(void *p) {
    shop_redis_store_destroy(p);
}

static void thread_key_init(void) {
    pthread_key_create(&thread_key, thread_store_free);
}

struct redisContext *shop_redis_thread_conn(const char *url, int timeout_ms, char *errstr,
                                            size_t errstr_size) {
    pthread_once(&thread_once, thread_key_init);
    shop_redis_store_t *st = pthread_getspecific(thread_key);
    if (!st) {
        if (!(st = shop_redis_store_new(url, "-", timeout_ms, errstr, errstr_size)))
            return NULL;
        pthread_setspecific(thread_key, st);
    }
    return shop_redis_store_conn(st, errstr, errstr_size);
}

int shop_redis_reply_err(redisContext *c, redisReply *r, char *errstr, size_t errstr_size) {
    int rc = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "redis: %s",
                         !r                             ? c->errstr
                         : r->type == REDIS_REPLY_ERROR ? r->str
                                                        : "unexpected reply");
    if (r)
        freeReplyObject(r);
    return rc;
}
