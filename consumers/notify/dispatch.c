/* dispatch.c: the notify dispatcher: claims one due outbox row per transaction with FOR UPDATE
 * SKIP LOCKED (instances never send a row twice at the same time), sends it (webhook signed per
 * Standard Webhooks, e-mail over SMTP, in-app stream in Redis), then records the outcome and an
 * attempt row in notify_delivery_log in that transaction. A crash mid-send rolls the claim back:
 * the row is sent again with the same webhook-id (receivers dedupe on it); in-app is exact. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <openssl/evp.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "notify_worker.h"
#include "redis_keys.h"
#include "store.h"

struct shop_notify_dispatch {
    const shop_config_t *cfg;
    char prefix[128];
    shop_pg_store_t *pg;
    shop_redis_store_t *redis;
    pthread_t thread;
    int started;
    volatile int stop;
    shop_rng_t rng;
};

#define CLAIM_SQL                                                                                  \
    "SELECT o.id, o.dedupe_key, o.channel, o.ntype, o.user_id, o.payload::text, o.attempts, "      \
    "COALESCE(u.locale, 'en'), u.quiet_start, u.quiet_end, "                                       \
    "(EXTRACT(hour FROM now() AT TIME ZONE COALESCE(u.timezone, 'UTC')) * 60 + "                   \
    "EXTRACT(minute FROM now() AT TIME ZONE COALESCE(u.timezone, 'UTC')))::int, "                  \
    "COALESCE(u.max_per_day, 0), (SELECT count(*) FROM notify_outbox s WHERE s.user_id = "         \
    "o.user_id AND s.channel = o.channel AND s.status = 'sent' AND s.sent_at > now() - "           \
    "interval '1 day'), extract(epoch FROM o.occurred_at)::bigint, "                               \
    "floor(EXTRACT(milliseconds FROM now() AT TIME ZONE COALESCE(u.timezone, 'UTC')))::int "       \
    "FROM notify_outbox o LEFT JOIN notify_user u ON u.user_id = o.user_id "                       \
    "WHERE o.status = 'pending' AND o.next_attempt_at <= now() ORDER BY o.next_attempt_at "        \
    "LIMIT 1 FOR UPDATE OF o SKIP LOCKED"

/* status, attempts, next delay ms, reason, http status, outbox id */
#define UPDATE_SQL                                                                                 \
    "WITH up AS (UPDATE notify_outbox SET status = $1, attempts = $2::int, last_error = $4, "      \
    "next_attempt_at = now() + ($3::bigint * interval '1 millisecond'), sent_at = CASE WHEN $1 "   \
    "= 'sent' THEN now() END WHERE id = $6::bigint RETURNING id, channel) "                        \
    "INSERT INTO notify_delivery_log (outbox_id, channel, attempt, status, http_status, reason) "  \
    "SELECT id, channel, $2::int, $7, $5::int, $4 FROM up"

typedef struct row {
    const char *id, *key, *channel, *type, *user, *payload, *locale;
    int attempts;
} row_t;

typedef struct outcome {
    int ok;        /* sent */
    int permanent; /* never retry: dead now */
    long http;
    char reason[512];
} outcome_t;

static const char *cfg_str(shop_notify_dispatch_t *d, const char *k) {
    const char *v = shop_config_get(d->cfg, k);
    return v ? v : "";
}

/* ---- templates ---- */

typedef struct {
    json_t *payload;
    char num[64];
} vars_t;

static const char *payload_var(void *ctx, const char *name) {
    vars_t *v = ctx;
    json_t *x = json_object_get(v->payload, name);
    if (json_is_string(x))
        return json_string_value(x);
    if (json_is_integer(x)) {
        snprintf(v->num, sizeof(v->num), "%lld", (long long)json_integer_value(x));
        return v->num;
    }
    return json_is_null(x) ? "" : NULL;
}

/* Renders the subject (first template line) and the HTML body. */
static int render(shop_notify_dispatch_t *d, const row_t *r, json_t *payload, shop_buf_t *subj,
                  shop_buf_t *body, char *err, size_t errsz) {
    char *t =
        shop_notify_template_load(cfg_str(d, "notify.templates"), r->type, r->locale, err, errsz);
    if (!t)
        return SHOP_ERR_INVALID;
    char *nl = strchr(t, '\n');
    if (nl)
        *nl = '\0';
    vars_t v = {payload, ""};
    int rc = shop_notify_render(t, payload_var, &v, subj, err, errsz);
    if (!rc)
        rc = shop_notify_render(nl ? nl + 1 : "", payload_var, &v, body, err, errsz);
    shop_buf_append(subj, "", 1);
    shop_buf_append(body, "", 1);
    free(t);
    return rc;
}

/* ---- channels ---- */

static size_t discard_body(char *p, size_t s, size_t n, void *u) {
    (void)p, (void)u;
    return s * n;
}

static void send_webhook(shop_notify_dispatch_t *d, const row_t *r, json_t *payload,
                         outcome_t *out) {
    const char *url =
        cfg_str(d, !strcmp(r->channel, "ops") ? "notify.ops.webhook.url" : "notify.webhook.url");
    if (!*url) {
        out->permanent = 1;
        snprintf(out->reason, sizeof(out->reason), "no URL configured for channel %s", r->channel);
        return;
    }
    if (!shop_notify_url_allowed(url, cfg_str(d, "notify.webhook.allow"), out->reason,
                                 sizeof(out->reason))) {
        out->permanent = 1;
        return;
    }
    json_t *msg = json_pack("{sssOss}", "type", r->type, "data", payload, "timestamp", "");
    char tsbuf[40];
    int64_t now = shop_now_ms();
    json_object_set_new(msg, "timestamp", json_string(shop_format_time_ms(now, tsbuf, 40)));
    char *body = json_dumps(msg, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(msg);
    char sig[128], h_ts[64], h_sig[200];
    /* the key holds event data (user and entity ids): header-safe, and signed as sent */
    shop_buf_t h_id;
    shop_buf_init(&h_id);
    shop_buf_puts(&h_id, "webhook-id: ");
    shop_notify_header_id(&h_id, r->key);
    shop_buf_append(&h_id, "", 1);
    if (shop_wh_sign(cfg_str(d, "notify.webhook.secret"), h_id.buf + 12, now / 1000, body,
                     strlen(body), sig, sizeof(sig), out->reason, sizeof(out->reason))) {
        out->permanent = 1;
        shop_buf_release(&h_id);
        free(body);
        return;
    }
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", (long long)(now / 1000));
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, h_id.buf);
    h = curl_slist_append(h, h_ts);
    h = curl_slist_append(h, h_sig);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     (long)shop_config_get_int(d->cfg, "notify.webhook.timeout.ms"));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect could leave the allowlist */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->http);
    if (cc != CURLE_OK)
        snprintf(out->reason, sizeof(out->reason), "%s", curl_easy_strerror(cc));
    else if (out->http >= 200 && out->http < 300)
        out->ok = 1;
    else {
        snprintf(out->reason, sizeof(out->reason), "HTTP %ld", out->http);
        /* 4xx other than 408/429 will not get better by retrying */
        out->permanent =
            out->http >= 400 && out->http < 500 && out->http != 408 && out->http != 429;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    shop_buf_release(&h_id);
    free(body);
}

typedef struct {
    const char *data;
    size_t len, pos;
} upload_t;

static size_t read_upload(char *buf, size_t s, size_t n, void *u) {
    upload_t *up = u;
    size_t k = up->len - up->pos < s * n ? up->len - up->pos : s * n;
    memcpy(buf, up->data + up->pos, k);
    up->pos += k;
    return k;
}

/* Subject as RFC 2047 "B" encoded-words of at most 75 characters each (folded lines), cut
 * between UTF-8 characters, so a Korean subject survives any transport. */
static void mime_subject(shop_buf_t *out, const char *subj) {
    size_t len = strlen(subj);
    shop_buf_puts(out, "Subject:");
    for (size_t pos = 0; pos < len;) {
        size_t max = len - pos > 45 ? 45 : len - pos, n = max; /* 45 bytes: 60 base64 chars */
        while (n && pos + n < len && ((unsigned char)subj[pos + n] & 0xC0) == 0x80)
            n--; /* never end a chunk inside a UTF-8 sequence */
        if (!n)
            n = max; /* not UTF-8 after all: cut anyway */
        unsigned char b64[64];
        EVP_EncodeBlock(b64, (const unsigned char *)subj + pos, (int)n);
        shop_buf_printf(out, "%s=?UTF-8?B?%s?=", pos ? "\r\n " : " ", b64);
        pos += n;
    }
    shop_buf_puts(out, "\r\n");
}

/* Message-ID from the dedupe key (SHA-256 in hex: the key itself has characters a msg-id may not
 * hold), so a resend after a crash carries the same Message-ID and mail systems drop the copy. */
static void message_id(shop_buf_t *out, const char *key) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
    shop_buf_puts(out, "Message-ID: <");
    for (unsigned int i = 0; i < 16 && i < mdlen; i++)
        shop_buf_printf(out, "%02x", md[i]);
    shop_buf_puts(out, "@notify.shopstream>\r\n");
}

/* RFC 5322 Date in UTC, without strftime's locale-dependent names. */
static void date_header(shop_buf_t *out) {
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    shop_buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", wd[tm.tm_wday],
                    tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The whole message. The HTML body goes base64 in 76-character lines: 8-bit text (Korean), long
 * lines and a line holding only "." then need no 8BITMIME, no line limit, no dot-stuffing. */
static void build_mail(shop_buf_t *msg, const char *from, const char *to, const row_t *r,
                       const char *subj, const char *html) {
    shop_buf_printf(msg, "From: <%s>\r\nTo: <%s>\r\n", from, to);
    mime_subject(msg, subj);
    date_header(msg);
    message_id(msg, r->key);
    shop_buf_puts(msg, "X-Shopstream-Id: ");
    shop_notify_header_id(msg, r->key);
    shop_buf_printf(msg,
                    "\r\nX-Shopstream-Type: %s\r\nMIME-Version: 1.0\r\nContent-Type: "
                    "text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                    r->type); /* type: a SQL literal of the worker, never event data */
    size_t len = strlen(html);
    for (size_t pos = 0; pos < len; pos += 57) { /* 57 bytes -> 76 base64 chars */
        unsigned char b64[80];
        EVP_EncodeBlock(b64, (const unsigned char *)html + pos,
                        (int)(len - pos > 57 ? 57 : len - pos));
        shop_buf_printf(msg, "%s\r\n", b64);
    }
}

static void send_email(shop_notify_dispatch_t *d, const row_t *r, json_t *payload, outcome_t *out) {
    const char *smtp = cfg_str(d, "notify.smtp.url"), *dom = cfg_str(d, "notify.email.domain");
    int ops = !strcmp(r->channel, "ops_email");
    if (!*smtp || (!ops && !*dom)) {
        out->permanent = 1;
        snprintf(out->reason, sizeof(out->reason), "e-mail not configured (smtp.url, domain)");
        return;
    }
    char to[512], from[256], why[200];
    if (ops) /* the operations address, from configuration only */
        snprintf(to, sizeof(to), "%s", cfg_str(d, "notify.ops.email"));
    else
        snprintf(to, sizeof(to), "%s@%s", r->user, dom);
    snprintf(from, sizeof(from), "%s", cfg_str(d, "notify.email.from"));
    /* the user id is event data: refuse before it reaches the envelope or a header */
    if (!shop_notify_email_ok(to, why, sizeof(why))) {
        out->permanent = 1;
        snprintf(out->reason, sizeof(out->reason), "invalid address %s: %s",
                 ops ? "in notify.ops.email" : "for user id", why);
        return;
    }
    if (!shop_notify_email_ok(from, why, sizeof(why))) {
        out->permanent = 1;
        snprintf(out->reason, sizeof(out->reason), "invalid notify.email.from: %s", why);
        return;
    }
    shop_buf_t subj, html, msg;
    shop_buf_init(&subj), shop_buf_init(&html), shop_buf_init(&msg);
    if (render(d, r, payload, &subj, &html, out->reason, sizeof(out->reason))) {
        out->permanent = 1;
        goto done;
    }
    subj.buf[strcspn(subj.buf, "\r\n")] = '\0'; /* a raw {{{x}}} may hold a line break */
    build_mail(&msg, from, to, r, subj.buf, html.buf);
    upload_t up = {msg.buf, msg.len, 0};
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, smtp);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     (long)shop_config_get_int(d->cfg, "notify.webhook.timeout.ms"));
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->http);
    if (cc == CURLE_OK)
        out->ok = 1;
    else {
        snprintf(out->reason, sizeof(out->reason), "smtp: %s", curl_easy_strerror(cc));
        out->permanent = out->http >= 500 && out->http < 600; /* 5xx: rejected for good */
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(rcpt);
done:
    shop_buf_release(&subj), shop_buf_release(&html), shop_buf_release(&msg);
}

/* In-app: XADD once per dedupe key (a marker set in the same script), so a resend after a crash
 * adds nothing. */
static void send_inapp(shop_notify_dispatch_t *d, const row_t *r, json_t *payload, outcome_t *out) {
    static const char lua[] =
        "if redis.call('SET', KEYS[2], '1', 'NX', 'EX', 2592000) then "
        "return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'id', ARGV[2], "
        "'type', ARGV[3], 'subject', ARGV[4], 'body', ARGV[5], 'data', ARGV[6]) end return 0";
    shop_buf_t subj, html;
    shop_buf_init(&subj), shop_buf_init(&html);
    if (render(d, r, payload, &subj, &html, out->reason, sizeof(out->reason))) {
        out->permanent = 1;
        goto done;
    }
    redisContext *c = shop_redis_store_conn(d->redis, out->reason, sizeof(out->reason));
    if (!c)
        goto done;
    char skey[512], mkey[768], maxlen[24];
    snprintf(skey, sizeof(skey), SHOP_KEY_NOTIFY_INAPP, d->prefix, r->user);
    snprintf(mkey, sizeof(mkey), SHOP_KEY_NOTIFY_SENT, d->prefix, r->key);
    snprintf(maxlen, sizeof(maxlen), "%lld",
             (long long)shop_config_get_int(d->cfg, "notify.inapp.maxlen"));
    redisReply *rep = redisCommand(c, "EVAL %s 2 %s %s %s %s %s %s %s %s", lua, skey, mkey, maxlen,
                                   r->key, r->type, subj.buf, html.buf, r->payload);
    if (rep && rep->type != REDIS_REPLY_ERROR)
        out->ok = 1;
    else
        snprintf(out->reason, sizeof(out->reason), "redis: %s", rep ? rep->str : c->errstr);
    if (rep)
        freeReplyObject(rep);
done:
    shop_buf_release(&subj), shop_buf_release(&html);
}

static int exec_update(PGconn *pg, const row_t *r, const char *status, int attempts, int64_t delay,
                       const char *reason, long http, const char *logstatus) {
    char a[16], dl[24], h[16];
    snprintf(a, sizeof(a), "%d", attempts);
    snprintf(dl, sizeof(dl), "%lld", (long long)delay);
    snprintf(h, sizeof(h), "%ld", http);
    const char *p[7] = {status,          a,     dl,       reason && *reason ? reason : NULL,
                        http ? h : NULL, r->id, logstatus};
    PGresult *res = PQexecParams(pg, UPDATE_SQL, 7, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        SHOP_ERROR("msg=\"notify: outbox update failed: %s\"", PQerrorMessage(pg));
    PQclear(res);
    return ok ? SHOP_OK : SHOP_ERR_RETRYABLE;
}

/* Decides and sends one claimed row (res row 0) inside the open transaction. */
static int handle(shop_notify_dispatch_t *d, PGconn *pg, PGresult *res) {
    row_t r = {PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),      PQgetvalue(res, 0, 2),
               PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4),      PQgetvalue(res, 0, 5),
               PQgetvalue(res, 0, 7), atoi(PQgetvalue(res, 0, 6))};
    int ops = !strcmp(r.channel, "ops") || !strcmp(r.channel, "ops_email");
    int qs = PQgetisnull(res, 0, 8) ? -1 : shop_notify_parse_hhmm(PQgetvalue(res, 0, 8));
    int qe = PQgetisnull(res, 0, 9) ? -1 : shop_notify_parse_hhmm(PQgetvalue(res, 0, 9));
    int wait = ops ? 0 : shop_notify_quiet_wait(atoi(PQgetvalue(res, 0, 10)), qs, qe);
    long cap = atol(PQgetvalue(res, 0, 11)), sent = atol(PQgetvalue(res, 0, 12));
    /* all user channels, in-app too (an app may pop its stream up); due again when the quiet
     * hours end: wait counts whole minutes from the current one, less the part already gone */
    if (wait > 0)
        return exec_update(pg, &r, "pending", r.attempts,
                           (int64_t)wait * 60000 - atoi(PQgetvalue(res, 0, 14)), "quiet hours", 0,
                           "deferred");
    if (!ops && cap > 0 && sent >= cap)
        return exec_update(pg, &r, "suppressed", r.attempts, 0, "max_per_day reached", 0,
                           "suppressed");
    json_t *payload = json_loads(r.payload, 0, NULL);
    outcome_t out = {0, 0, 0, ""};
    if (!strcmp(r.channel, "webhook") || !strcmp(r.channel, "ops"))
        send_webhook(d, &r, payload, &out);
    else if (!strcmp(r.channel, "email") || !strcmp(r.channel, "ops_email"))
        send_email(d, &r, payload, &out);
    else
        send_inapp(d, &r, payload, &out);
    json_decref(payload);
    int attempt = r.attempts + 1;
    int max = (int)shop_config_get_int(d->cfg, "notify.max.attempts");
    char q[256], qid[600];
    if (out.ok)
        return exec_update(pg, &r, "sent", attempt, 0, NULL, out.http, "sent");
    if (out.permanent || attempt >= max) {
        /* the key holds event data (a user id with a space or CR LF): quoted, one line */
        SHOP_WARN("channel=%s id=%s attempt=%d msg=%s", r.channel,
                  shop_log_quote(qid, sizeof(qid), r.key), attempt,
                  shop_log_quote(q, sizeof(q), out.reason));
        return exec_update(pg, &r, "dead", attempt, 0, out.reason, out.http, "dead");
    }
    int64_t delay = shop_notify_backoff_ms(
        attempt, shop_config_get_int(d->cfg, "notify.backoff.base.ms"),
        shop_config_get_int(d->cfg, "notify.backoff.cap.ms"), shop_rng_next(&d->rng));
    return exec_update(pg, &r, "pending", attempt, delay, out.reason, out.http, "retry");
}

int shop_notify_dispatch_once(shop_notify_dispatch_t *d, int max, char *errstr,
                              size_t errstr_size) {
    int done = 0;
    while (done < max && !d->stop) {
        PGconn *pg = shop_pg_store_conn(d->pg, errstr, errstr_size);
        if (!pg)
            return SHOP_ERR_RETRYABLE;
        PQclear(PQexec(pg, "BEGIN"));
        PGresult *res = PQexec(pg, CLAIM_SQL);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "claim: %s", PQerrorMessage(pg));
            PQclear(res);
            PQclear(PQexec(pg, "ROLLBACK"));
            return SHOP_ERR_RETRYABLE;
        }
        if (PQntuples(res) == 0) {
            PQclear(res);
            PQclear(PQexec(pg, "ROLLBACK"));
            break;
        }
        int rc = handle(d, pg, res);
        PQclear(res);
        PGresult *cr = PQexec(pg, rc ? "ROLLBACK" : "COMMIT");
        if (PQresultStatus(cr) != PGRES_COMMAND_OK)
            rc = SHOP_ERR_RETRYABLE;
        PQclear(cr);
        if (rc)
            return shop_seterr(errstr, errstr_size, rc, "outbox update failed");
        done++;
    }
    return done;
}

static void *run(void *arg) {
    shop_notify_dispatch_t *d = arg;
    int64_t idle_ms = shop_config_get_int(d->cfg, "notify.dispatch.ms");
    while (!d->stop) {
        char err[512];
        int n = shop_notify_dispatch_once(d, 100, err, sizeof(err));
        if (n < 0) {
            char q[600];
            SHOP_WARN("msg=\"notify dispatcher: %s\"", shop_log_quote(q, sizeof(q), err));
        }
        if (n <= 0)
            for (int64_t t = 0; t < idle_ms && !d->stop; t += 50)
                usleep(50000);
    }
    return NULL;
}

shop_notify_dispatch_t *shop_notify_dispatch_start(const shop_config_t *cfg, const char *prefix,
                                                   const char *pg_schema, char *errstr,
                                                   size_t errstr_size) {
    shop_notify_dispatch_t *d = shop_xcalloc(1, sizeof(*d));
    d->cfg = cfg;
    snprintf(d->prefix, sizeof(d->prefix), "%s", prefix);
    shop_rng_seed(&d->rng, (uint64_t)shop_now_ms() ^ ((uint64_t)getpid() << 32));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    d->pg = shop_pg_store_new(shop_config_get(cfg, "pg.url"), pg_schema, "notify-dispatch", 10000,
                              errstr, errstr_size);
    d->redis = d->pg ? shop_redis_store_new(shop_config_get(cfg, "redis.url"), "-", 3000, errstr,
                                            errstr_size)
                     : NULL;
    if (!d->pg || !d->redis || pthread_create(&d->thread, NULL, run, d)) {
        shop_notify_dispatch_destroy(d);
        return NULL;
    }
    d->started = 1;
    return d;
}

void shop_notify_dispatch_destroy(shop_notify_dispatch_t *d) {
    if (!d)
        return;
    d->stop = 1;
    if (d->started)
        pthread_join(d->thread, NULL);
    shop_pg_store_destroy(d->pg);
    shop_redis_store_destroy(d->redis);
    free(d);
}
