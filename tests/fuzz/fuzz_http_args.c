/* fuzz_http_args.c: libFuzzer target for the search worker's HTTP routes (/suggest, /trending,
 * /correct: search_http_route) with fuzzed query arguments and fuzzed Redis answers. A fake
 * Redis in a thread of this process answers each command with the next reply the input queued,
 * so the whole route runs (argument handling, lookup keys, matching a user's recent searches,
 * JSON output) without a server and deterministically.
 * Input: byte 0 picks the path; then "query string\nreply\nreply...". A reply line is
 * "*a\tb\tc" (array of bulk strings), "$text" (bulk string), "-text" (error), else nil. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "search_int.h"
#include "shop.h"

#define MAX_ARGS    16
#define MAX_REPLIES 8

/* ---- the fake Redis ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static shop_buf_t replies[MAX_REPLIES];
static size_t nreplies, next_reply;
static int listen_fd;

static void serve(int fd) {
    redisReader *rd = redisReaderCreate();
    char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        redisReaderFeed(rd, buf, (size_t)n);
        void *cmd;
        while (redisReaderGetReply(rd, &cmd) == REDIS_OK && cmd) {
            freeReplyObject(cmd);
            pthread_mutex_lock(&lock);
            const char *out = "-ERR fuzz: no reply queued\r\n";
            size_t len = strlen(out);
            if (next_reply < nreplies) {
                out = replies[next_reply].buf;
                len = replies[next_reply].len;
                next_reply++;
            }
            ssize_t w = write(fd, out, len);
            pthread_mutex_unlock(&lock);
            if (w != (ssize_t)len)
                break;
        }
    }
    redisReaderFree(rd);
    close(fd);
}

static void *server(void *arg) {
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd >= 0)
            serve(fd);
    }
    return NULL;
}

static void resp_bulk(shop_buf_t *b, const char *s, size_t len) {
    shop_buf_printf(b, "$%zu\r\n", len);
    shop_buf_append(b, s, len);
    shop_buf_puts(b, "\r\n");
}

/* Queues one reply per line (see the header). */
static void queue_replies(char *p) {
    pthread_mutex_lock(&lock);
    nreplies = next_reply = 0;
    while (*p && nreplies < MAX_REPLIES) {
        char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        shop_buf_t *b = &replies[nreplies++];
        b->len = 0;
        if (*p == '*') {
            size_t count = 1;
            for (char *q = p + 1; q < end; q++)
                count += *q == '\t';
            shop_buf_printf(b, "*%zu\r\n", end == p + 1 ? 0 : count);
            for (char *q = p + 1; q < end;) {
                char *t = memchr(q, '\t', (size_t)(end - q)), *e = t ? t : end;
                resp_bulk(b, q, (size_t)(e - q));
                q = t ? t + 1 : end;
            }
        } else if (*p == '$') {
            resp_bulk(b, p + 1, (size_t)(end - p - 1));
        } else if (*p == '-') {
            shop_buf_puts(b, "-");
            for (char *q = p + 1; q < end; q++) /* an error line cannot hold CR or LF */
                shop_buf_append(b, *q == '\r' ? " " : q, 1);
            shop_buf_puts(b, "\r\n");
        } else {
            shop_buf_puts(b, "$-1\r\n");
        }
        p = nl ? nl + 1 : end;
    }
    pthread_mutex_unlock(&lock);
}

/* ---- query arguments, as libmicrohttpd hands them to the route ---- */

typedef struct {
    char *name[MAX_ARGS], *value[MAX_ARGS];
    int n;
} args_t;

static const char *get_arg(void *req, const char *name) {
    args_t *a = req;
    for (int i = 0; i < a->n; i++) /* the first of a repeated name, like MHD */
        if (!strcmp(a->name[i], name))
            return a->value[i];
    return NULL;
}

static void parse_args(char *qs, args_t *a) {
    a->n = 0;
    for (char *save = NULL, *kv = strtok_r(qs, "&", &save); kv && a->n < MAX_ARGS;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        MHD_http_unescape(kv);
        a->name[a->n] = kv;
        a->value[a->n] = eq ? eq + 1 : (char *)"";
        if (eq)
            MHD_http_unescape(eq + 1);
        a->n++;
    }
}

static shop_search_t search;

static void setup(void) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_CHECK(listen_fd >= 0 && !bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) &&
                   !listen(listen_fd, 4) && !getsockname(listen_fd, (struct sockaddr *)&sa, &sl),
               "cannot listen for the fake Redis");
    pthread_t t;
    pthread_create(&t, NULL, server, NULL);
    pthread_detach(t);
    snprintf(search.prefix, sizeof(search.prefix), "shop:");
    search.redis_url = shop_xasprintf("redis://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    search.redis_timeout_ms = 5000;
    search.prefix_max = 20;
    search.suggest_n = 10;
    pthread_mutex_init(&search.lex_lock, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *paths[] = {"/suggest", "/trending", "/correct", "/nothing"};
    if (!search.redis_url)
        setup();
    if (size < 1)
        return 0;
    const char *path = paths[data[0] % 4];
    char *in = fuzz_strndup(data + 1, size - 1), *nl = strchr(in, '\n');
    if (nl)
        *nl = '\0';
    queue_replies(nl ? nl + 1 : in + strlen(in));
    args_t args;
    parse_args(in, &args);

    shop_buf_t body;
    shop_buf_init(&body);
    const char *type = NULL;
    int status = search_http_route(&search, path, get_arg, &args, &body, &type);
    FUZZ_CHECK(status == 200 || status == 400 || status == 404 || status == 503, "status %d",
               status);
    if (status != 404) {
        FUZZ_CHECK(type && !strcmp(type, "application/json"), "content type");
        json_error_t err;
        json_t *j = json_loadb(body.buf, body.len, 0, &err);
        FUZZ_CHECK(json_is_object(j), "%s answered %d with no JSON object: %.*s (%s)", path, status,
                   (int)body.len, body.buf, err.text);
        FUZZ_CHECK(status == 200 || json_is_string(json_object_get(j, "error")),
                   "%s: status %d without an error", path, status);
        json_decref(j);
    }
    shop_buf_release(&body);
    free(in);
    return 0;
}
