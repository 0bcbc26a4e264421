/* notify_core.c: templates with HTML escaping, quiet hours, retry backoff, the webhook host
 * allowlist, e-mail address and header-id checks of the notification hub (pure functions; see
 * notify.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "notify.h"

void shop_notify_html_escape(shop_buf_t *out, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            shop_buf_puts(out, "&amp;");
            break;
        case '<':
            shop_buf_puts(out, "&lt;");
            break;
        case '>':
            shop_buf_puts(out, "&gt;");
            break;
        case '"':
            shop_buf_puts(out, "&quot;");
            break;
        case '\'':
            shop_buf_puts(out, "&#39;");
            break;
        default:
            shop_buf_append(out, s, 1);
        }
    }
}

int shop_notify_render(const char *tmpl, shop_notify_var_fn var, void *ctx, shop_buf_t *out,
                       char *errstr, size_t errstr_size) {
    const char *p = tmpl;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            shop_buf_puts(out, p);
            break;
        }
        shop_buf_append(out, p, (size_t)(open - p));
        int raw = open[2] == '{';
        const char *name = open + (raw ? 3 : 2);
        const char *close = strstr(name, raw ? "}}}" : "}}");
        if (!close)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "template: unclosed tag");
        char key[64];
        size_t n = (size_t)(close - name);
        while (n && name[0] == ' ')
            name++, n--;
        while (n && name[n - 1] == ' ')
            n--;
        if (n == 0 || n >= sizeof(key))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "template: bad tag");
        memcpy(key, name, n);
        key[n] = '\0';
        const char *v = var(ctx, key);
        if (!v)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "template: unknown variable %s", key);
        if (raw)
            shop_buf_puts(out, v);
        else
            shop_notify_html_escape(out, v);
        p = close + (raw ? 3 : 2);
    }
    return SHOP_OK;
}

static int safe_name(const char *s) {
    if (!s || !*s || strlen(s) > 40)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    return 1;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    shop_buf_t b;
    shop_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        shop_buf_append(&b, chunk, n);
    fclose(f);
    shop_buf_append(&b, "", 1);
    return b.buf;
}

char *shop_notify_template_load(const char *dir, const char *type, const char *locale, char *errstr,
                                size_t errstr_size) {
    /* type and locale come from events: never let them name another path */
    if (!safe_name(type)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "template: bad type");
        return NULL;
    }
    char loc[8] = "en";
    if (locale && isalpha((unsigned char)locale[0]) && isalpha((unsigned char)locale[1])) {
        loc[0] = (char)tolower((unsigned char)locale[0]);
        loc[1] = (char)tolower((unsigned char)locale[1]);
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.%s.tmpl", dir, type, loc);
    char *t = read_file(path);
    if (!t && strcmp(loc, "en")) {
        snprintf(path, sizeof(path), "%s/%s.en.tmpl", dir, type);
        t = read_file(path);
    }
    if (!t)
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "template: no %s/%s.%s.tmpl%s", dir,
                    type, loc, strcmp(loc, "en") ? " nor .en.tmpl" : "");
    return t;
}

int shop_notify_parse_hhmm(const char *s) {
    if (!s || strlen(s) != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
        !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[3]) ||
        !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

int shop_notify_quiet_wait(int now_min, int start, int end) {
    if (start < 0 || end < 0 || start == end)
        return 0;
    int inside =
        start < end ? (now_min >= start && now_min < end) : (now_min >= start || now_min < end);
    if (!inside)
        return 0;
    return (end - now_min + 1440) % 1440;
}

int64_t shop_notify_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t r) {
    if (attempt < 1)
        attempt = 1;
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    int64_t half = d / 2;
    return half + (int64_t)(r % (uint64_t)(d - half + 1));
}

/* The host part of an http(s) URL, lower-cased, into host[]; 0 or -1. */
static int url_host(const char *url, char *host, size_t size) {
    const char *p;
    if (!strncmp(url, "http://", 7))
        p = url + 7;
    else if (!strncmp(url, "https://", 8))
        p = url + 8;
    else
        return -1;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) /* userinfo: "http://allowed.com@evil.com/" is evil.com */
        n -= (size_t)(at + 1 - p), p = at + 1;
    if (n && p[0] == '[') { /* IPv6 literal */
        const char *rb = memchr(p, ']', n);
        if (!rb)
            return -1;
        n = (size_t)(rb + 1 - p);
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon)
            n = (size_t)(colon - p);
    }
    if (n == 0 || n >= size)
        return -1;
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[n] = '\0';
    return 0;
}

int shop_notify_url_allowed(const char *url, const char *allow, char *errstr, size_t errstr_size) {
    char host[256];
    if (!url || url_host(url, host, sizeof(host))) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "not an http(s) URL");
        return 0;
    }
    for (const char *p = allow ? allow : ""; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n) {
            size_t hl = strlen(host);
            if (n > 2 && p[0] == '*' && p[1] == '.') {
                if (hl > n - 1 && !strncasecmp(host + hl - (n - 1), p + 1, n - 1))
                    return 1;
            } else if (n == hl && !strncasecmp(host, p, n)) {
                return 1;
            }
        }
        p += n;
    }
    shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "host %s is not on notify.webhook.allow",
                host);
    return 0;
}

/* RFC 5322 atext: the characters of a dot-atom besides '.' */
static int atext(unsigned char c) {
    return (c < 0x80 && isalnum(c)) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int shop_notify_email_ok(const char *addr, char *errstr, size_t errstr_size) {
    const char *at = addr ? strrchr(addr, '@') : NULL;
    if (!at || at == addr || !at[1] || strlen(addr) > 254 || at - addr > 64) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "not local@domain");
        return 0;
    }
    /* dot-atom: atext runs separated by single dots, none at either end */
    for (const char *p = addr; p < at; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(atext(c) || (c == '.' && p != addr && p + 1 != at && p[1] != '.'))) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                        "local part is not an RFC 5322 dot-atom (byte 0x%02x)", c);
            return 0;
        }
    }
    /* host name: letters, digits, '-' and single dots */
    for (const char *p = at + 1; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c < 0x80 && isalnum(c)) || c == '-' ||
              (c == '.' && p != at + 1 && p[1] && p[1] != '.'))) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                        "domain is not a host name (byte 0x%02x)", c);
            return 0;
        }
    }
    return 1;
}

void shop_notify_header_id(shop_buf_t *out, const char *key) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)key; p && *p; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '%') {
            shop_buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            shop_buf_append(out, e, 3);
        }
    }
}
