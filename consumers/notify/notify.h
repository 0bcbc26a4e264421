/* notify.h: the notification hub's pure building blocks: Standard Webhooks signing, templates
 * with HTML escaping, quiet hours, retry backoff and the webhook host allowlist. No I/O except
 * template files, so each is unit-tested without servers. */
#ifndef SHOP_NOTIFY_H
#define SHOP_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "shop.h"

/* ---- Standard Webhooks (https://www.standardwebhooks.com, spec 1.0.0) ---- */

#define SHOP_WH_TOLERANCE_S 300 /* verify: timestamps further than this from now are refused */

/* Decodes a secret "whsec_<base64>" (the prefix is optional) into key[] (up to key_cap bytes);
 * returns the key length, or SHOP_ERR_INVALID (empty or bad base64) with errstr. */
int shop_wh_secret_decode(const char *secret, unsigned char *key, size_t key_cap, char *errstr,
                          size_t errstr_size);

/* Signs "<msg_id>.<timestamp>.<payload>" with HMAC-SHA256 and writes "v1,<base64>" into out
 * (>= 64 bytes). Returns 0 or SHOP_ERR_INVALID (bad secret). */
int shop_wh_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *payload,
                 size_t payload_len, char *out, size_t out_size, char *errstr, size_t errstr_size);

/* Verifies the three headers against payload at time `now` (s): 0 when one of the
 * space-separated "v1,<sig>" entries matches (constant-time compare) and the timestamp is within
 * SHOP_WH_TOLERANCE_S, SHOP_ERR_INVALID otherwise (reason in errstr). Any header may be NULL. */
int shop_wh_verify(const char *secret, const char *msg_id, const char *timestamp,
                   const char *signature, const char *payload, size_t payload_len, int64_t now,
                   char *errstr, size_t errstr_size);

/* ---- templates ---- */

/* Escapes & < > " ' for HTML into out. */
void shop_notify_html_escape(shop_buf_t *out, const char *s);

/* Looks a variable up: returns a borrowed string or NULL when unknown. */
typedef const char *(*shop_notify_var_fn)(void *ctx, const char *name);

/* Renders `tmpl` into out: {{name}} is replaced by the HTML-escaped value, {{{name}}} by the raw
 * value (for plain-text bodies such as a subject line). An unknown variable or an unclosed tag
 * is an error: SHOP_ERR_INVALID with the reason in errstr (the output is then incomplete). */
int shop_notify_render(const char *tmpl, shop_notify_var_fn var, void *ctx, shop_buf_t *out,
                       char *errstr, size_t errstr_size);

/* Reads "<dir>/<type>.<locale>.tmpl", falling back to locale "en". The file's first line is the
 * subject, the rest the HTML body. Returns a heap string the caller frees, or NULL with errstr. */
char *shop_notify_template_load(const char *dir, const char *type, const char *locale, char *errstr,
                                size_t errstr_size);

/* ---- quiet hours and frequency ---- */

/* Parses "HH:MM" into minutes of the day; -1 when malformed. */
int shop_notify_parse_hhmm(const char *s);

/* Minutes to wait before sending at local minute-of-day `now_min` when quiet hours run from
 * `start` to `end` (minutes of the day, end exclusive; start > end wraps midnight; equal or
 * negative = no quiet hours). 0 means send now. */
int shop_notify_quiet_wait(int now_min, int start, int end);

/* Delay before retry number `attempt` (1 = first retry): base * 2^(attempt-1) capped at cap,
 * then "full jitter" scaled into [d/2, d] with the 64-bit random value r (AWS Architecture Blog,
 * "Exponential Backoff And Jitter", 2015: equal-jitter variant, so a retry never comes sooner
 * than half the backoff). */
int64_t shop_notify_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t r);

/* ---- allowlist ---- */

/* 1 when the URL is http(s) and its host (lower-cased, no userinfo, port ignored) is one of the
 * comma-separated hosts in `allow` ("*.example.com" matches subdomains); 0 otherwise, with the
 * reason in errstr. */
int shop_notify_url_allowed(const char *url, const char *allow, char *errstr, size_t errstr_size);

/* ---- e-mail and header safety ---- */

/* 1 when `addr` is "local@domain" that we may hand to SMTP: an ASCII RFC 5322 dot-atom local part
 * (no quotes, spaces, CR/LF or a second '@') and a host name domain; 0 otherwise with the reason
 * in errstr. The address is built from a user id from event data, so this is what keeps a user
 * id like "x\r\nBcc: y" out of the SMTP envelope and the headers. */
int shop_notify_email_ok(const char *addr, char *errstr, size_t errstr_size);

/* Appends the header-safe form of a dedupe key to out: bytes outside printable ASCII and '%' as
 * %XX, so a key made of event data can never end a header line. Equal to the key for keys of
 * printable ASCII without '%' (all the ones the shop's ids make). Used for webhook-id and the
 * e-mail's X-Shopstream-Id. */
void shop_notify_header_id(shop_buf_t *out, const char *key);

#endif
