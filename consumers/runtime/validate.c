/* validate.c: the checks every event passes before any worker sees it, whatever the worker reads
 * of it: every string is valid UTF-8 without control characters (TAB, LF and CR aside) and at most
 * event.max.string.bytes long, and every float and double is finite. A decodable event that fails
 * them is hostile or broken input: it goes to the dead-letter topic with the field named, so that
 * no view of any worker ever counts it. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime_int.h"

/* Returns the byte offset of the first invalid sequence or control character, or -1. `what` says
 * which; *cp is the control character. */
static long check_utf8(const unsigned char *s, size_t n, const char **what, unsigned *ctl) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
                *what = "control character";
                *ctl = c;
                return (long)i;
            }
            i++;
            continue;
        }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (!len || c > 0xF4 || i + len > n) {
            *what = "invalid UTF-8";
            return (long)i;
        }
        unsigned cp = c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                *what = "invalid UTF-8";
                return (long)i;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            *what = "invalid UTF-8";
            return (long)i;
        }
        if (cp >= 0x80 && cp < 0xA0) { /* C1 controls */
            *what = "control character";
            *ctl = cp;
            return (long)i;
        }
        i += len;
    }
    return -1;
}

static int walk(avro_value_t *v, char *path, size_t plen, size_t cap, size_t max_bytes,
                char *errstr, size_t errstr_size) {
    const char *name = NULL;
    size_t n = 0;
    switch (avro_value_get_type(v)) {
    case AVRO_STRING: {
        const char *s = NULL;
        if (avro_value_get_string(v, &s, &n))
            return SHOP_OK;
        n = n ? n - 1 : 0; /* avro-c counts the terminating NUL */
        if (n > max_bytes)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%s: a string of %zu bytes, over event.max.string.bytes (%zu)", path,
                               n, max_bytes);
        const char *what = NULL;
        unsigned ctl = 0;
        long at = check_utf8((const unsigned char *)s, n, &what, &ctl);
        if (at >= 0 && ctl)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s U+%04X at byte %ld",
                               path, what, ctl, at);
        if (at >= 0)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s at byte %ld", path,
                               what, at);
        return SHOP_OK;
    }
    case AVRO_DOUBLE: {
        double d = 0;
        if (!avro_value_get_double(v, &d) && !isfinite(d))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%s: %g is not a finite number", path, d);
        return SHOP_OK;
    }
    case AVRO_FLOAT: {
        float f = 0;
        if (!avro_value_get_float(v, &f) && !isfinite(f))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%s: %g is not a finite number", path, (double)f);
        return SHOP_OK;
    }
    case AVRO_UNION: {
        avro_value_t b;
        return avro_value_get_current_branch(v, &b)
                   ? SHOP_OK
                   : walk(&b, path, plen, cap, max_bytes, errstr, errstr_size);
    }
    case AVRO_RECORD:
    case AVRO_ARRAY:
    case AVRO_MAP: {
        int rec = avro_value_get_type(v) == AVRO_RECORD;
        int arr = avro_value_get_type(v) == AVRO_ARRAY;
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_t c;
            if (avro_value_get_by_index(v, i, &c, &name))
                continue;
            int w = rec || !arr ? snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "",
                                           name ? name : "?")
                                : snprintf(path + plen, cap - plen, "[%zu]", i);
            size_t np = w > 0 && plen + (size_t)w < cap ? plen + (size_t)w : plen;
            int rc = walk(&c, path, np, cap, max_bytes, errstr, errstr_size);
            path[plen] = '\0';
            if (rc)
                return rc;
        }
        return SHOP_OK;
    }
    default:
        return SHOP_OK;
    }
}

int shop_rt_validate_event(const shop_event_t *ev, size_t max_bytes, char *errstr,
                           size_t errstr_size) {
    if (!ev->value)
        return SHOP_OK;
    char path[256] = "";
    char why[400];
    int rc = walk(ev->value, path, 0, sizeof(path), max_bytes, why, sizeof(why));
    if (rc)
        shop_seterr(errstr, errstr_size, rc, "%s: %s", ev->type ? ev->type : "event", why);
    return rc;
}
