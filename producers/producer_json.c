/* producer_json.c: a fast path for turning one JSON line into a json_t: a strict, in-place
 * recursive-descent parser (RFC 8259) that hands anything unusual back to jansson. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "producer_int.h"

#define MAX_DEPTH 32

typedef struct {
    const char *p, *end;
    int depth;
} parser_t;

static json_t *parse_value(parser_t *ps);

static void skip_ws(parser_t *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table 3-7), 0 if ill-formed. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (end - p < n || p[1] < lo || p[1] > hi)
        return 0;
    for (int i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Whether 8 bytes are all printable ASCII other than '"' and '\\' (bit tricks from "Bit Twiddling
 * Hacks", S. E. Anderson: "determine if a word has a byte less than n"). */
static int plain8(const unsigned char *p) {
    const uint64_t lo = 0x0101010101010101ULL, hi = 0x8080808080808080ULL;
    uint64_t x, q, b;
    memcpy(&x, p, 8);
    q = x ^ (lo * '"');
    b = x ^ (lo * '\\');
    return !((((q - lo) & ~q) | ((b - lo) & ~b) | ((x - lo * 0x20) & ~x) | x) & hi);
}

/* A string without escapes: returns its first byte and sets *len; NULL to leave it to jansson. */
static const char *parse_string(parser_t *ps, size_t *len) {
    const char *start = ++ps->p; /* past the opening quote */
    const unsigned char *p = (const unsigned char *)start, *end = (const unsigned char *)ps->end;
    while (p < end) {
        while (end - p >= 8 && plain8(p))
            p += 8;
        if (p >= end)
            break;
        unsigned char c = *p;
        if (c == '"') {
            *len = (size_t)((const char *)p - start);
            ps->p = (const char *)p + 1;
            return start;
        }
        if (c == '\\' || c < 0x20)
            return NULL; /* escapes and control characters: jansson's job */
        if (c < 0x80) {
            p++;
            continue;
        }
        int n = utf8_len(p, end);
        if (!n)
            return NULL;
        p += n;
    }
    return NULL;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? as jansson reads it: integer unless it has a
 * fraction or exponent. Overflow is left to jansson (it has the error message). */
static json_t *parse_number(parser_t *ps) {
    const char *s = ps->p, *p = s, *end = ps->end;
    int neg = 0, real = 0;
    if (p < end && *p == '-')
        neg = 1, p++;
    if (p >= end || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return NULL;
    } else {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && *p == '.') {
        real = 1, p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1, p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    ps->p = p;
    if (real) {
        char tmp[64];
        if ((size_t)(p - s) >= sizeof(tmp))
            return NULL;
        memcpy(tmp, s, (size_t)(p - s));
        tmp[p - s] = '\0';
        errno = 0;
        double d = strtod(tmp, NULL);
        if (errno == ERANGE && d != 0)
            return NULL;
        return json_real(d);
    }
    uint64_t v = 0;
    for (const char *q = s + neg; q < p; q++) {
        if (v > (UINT64_MAX - 9) / 10)
            return NULL;
        v = v * 10 + (uint64_t)(*q - '0');
    }
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return NULL;
    return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
}

static json_t *parse_object(parser_t *ps) {
    json_t *obj = json_object();
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        size_t klen;
        const char *key;
        char kbuf[128];
        if (ps->p >= ps->end || *ps->p != '"' || !(key = parse_string(ps, &klen)) ||
            klen >= sizeof(kbuf))
            break;
        memcpy(kbuf, key, klen);
        kbuf[klen] = '\0';
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            break;
        ps->p++;
        json_t *v = parse_value(ps);
        if (!v)
            break;
        json_object_set_new_nocheck(obj, kbuf, v); /* a repeated key replaces, as in jansson */
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return obj;
        }
        break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(parser_t *ps) {
    json_t *arr = json_array();
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (;;) {
        json_t *v = parse_value(ps);
        if (!v || json_array_append_new(arr, v))
            break;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        }
        break;
    }
    json_decref(arr);
    return NULL;
}

static json_t *literal(parser_t *ps, const char *word, size_t n, json_t *v) {
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return NULL;
    ps->p += n;
    return v;
}

static json_t *parse_value(parser_t *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end)
        return NULL;
    json_t *v = NULL;
    size_t len;
    const char *s;
    if (++ps->depth > MAX_DEPTH)
        return NULL;
    switch (*ps->p) {
    case '{':
        v = parse_object(ps);
        break;
    case '[':
        v = parse_array(ps);
        break;
    case '"':
        v = (s = parse_string(ps, &len)) ? json_stringn_nocheck(s, len) : NULL;
        break;
    case 't':
        v = literal(ps, "true", 4, json_true());
        break;
    case 'f':
        v = literal(ps, "false", 5, json_false());
        break;
    case 'n':
        v = literal(ps, "null", 4, json_null());
        break;
    default:
        v = parse_number(ps);
        break;
    }
    ps->depth--;
    return v;
}

json_t *shop_producer_json_parse(const char *text, size_t len, json_error_t *err) {
    parser_t ps = {text, text + len, 0};
    skip_ws(&ps);
    json_t *v = ps.p < ps.end && *ps.p == '{' ? parse_value(&ps) : NULL;
    if (v) {
        skip_ws(&ps);
        if (ps.p == ps.end)
            return v;
        json_decref(v);
    }
    return json_loadb(text, len, 0,
                      err); /* not the common case: jansson decides and words errors */
}

/* ---- occurred_at ---- */

static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level
 * date algorithms", days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "2026-11-01T00:00:00.005Z" (RFC 3339 as apps write it) becomes epoch millis here, which the codec
 * takes without a sscanf. Anything else, or any impossible date, stays for the codec to judge. */
void shop_producer_json_fast_time(json_t *obj) {
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    json_t *v = json_object_get(obj, "occurred_at");
    if (!json_is_string(v))
        return;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if ((n != 20 && n != 24) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[n - 1] != 'Z' || (n == 24 && s[19] != '.'))
        return;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2);
    int mi = digits(s + 14, 2), sec = digits(s + 17, 2), ms = n == 24 ? digits(s + 20, 3) : 0;
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 59 || ms < 0)
        return;
    if (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
        return;
    int64_t t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
    json_object_set_new_nocheck(obj, "occurred_at", json_integer(t * 1000 + ms));
}
