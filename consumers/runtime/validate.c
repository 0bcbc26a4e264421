/* validate.c: the checks every event passes before any worker sees it, whatever the worker reads
 * of it: every string is valid UTF-8 without control characters (TAB, LF and CR aside) and at most
 * event.max.string.bytes long, and every float and double is finite. A decodable event that fails
 * them is hostile or broken input: it goes to the dead-letter topic with the field named, so that
 * no view of any worker ever counts it. */
#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime_int.h"

/* The path from the event's root to the field being checked, kept as segments and only formatted
 * when a check fails: formatting it for every field cost more than the checks themselves. */
#define PATH_DEPTH 32
typedef struct {
    struct {
        const char *name; /* a record field or map key; NULL for an array index */
        size_t index;
    } seg[PATH_DEPTH];
    int depth;
} vpath_t;

static const char *format_path(const vpath_t *vp, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < vp->depth && i < PATH_DEPTH && len < cap; i++) {
        int w = vp->seg[i].name
                    ? snprintf(buf + len, cap - len, "%s%s", len ? "." : "", vp->seg[i].name)
                    : snprintf(buf + len, cap - len, "[%zu]", vp->seg[i].index);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

static int fail_at(const vpath_t *vp, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(const vpath_t *vp, char *errstr, size_t errstr_size, const char *fmt, ...) {
    char path[256], what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s",
                       format_path(vp, path, sizeof(path)), what);
}

static int walk(avro_value_t *v, vpath_t *vp, size_t max_bytes, char *errstr, size_t errstr_size) {
    const char *name = NULL;
    size_t n = 0;
    switch (avro_value_get_type(v)) {
    case AVRO_STRING: {
        const char *s = NULL;
        if (avro_value_get_string(v, &s, &n))
            return SHOP_OK;
        n = n ? n - 1 : 0; /* avro-c counts the terminating NUL */
        if (n > max_bytes)
            return fail_at(vp, errstr, errstr_size,
                           "a string of %zu bytes, over event.max.string.bytes (%zu)", n,
                           max_bytes);
        const char *what = NULL;
        unsigned ctl = 0;
        long at = shop_utf8_scan((const unsigned char *)s, n, &what, &ctl);
        if (at >= 0 && ctl)
            return fail_at(vp, errstr, errstr_size, "%s U+%04X at byte %ld", what, ctl, at);
        if (at >= 0)
            return fail_at(vp, errstr, errstr_size, "%s at byte %ld", what, at);
        return SHOP_OK;
    }
    case AVRO_DOUBLE: {
        double d = 0;
        if (!avro_value_get_double(v, &d) && !isfinite(d))
            return fail_at(vp, errstr, errstr_size, "%g is not a finite number", d);
        return SHOP_OK;
    }
    case AVRO_FLOAT: {
        float f = 0;
        if (!avro_value_get_float(v, &f) && !isfinite(f))
            return fail_at(vp, errstr, errstr_size, "%g is not a finite number", (double)f);
        return SHOP_OK;
    }
    case AVRO_UNION: {
        avro_value_t b;
        return avro_value_get_current_branch(v, &b) ? SHOP_OK
                                                    : walk(&b, vp, max_bytes, errstr, errstr_size);
    }
    case AVRO_RECORD:
    case AVRO_ARRAY:
    case AVRO_MAP: {
        int arr = avro_value_get_type(v) == AVRO_ARRAY;
        avro_value_get_size(v, &n);
        int d = vp->depth++;
        for (size_t i = 0; i < n; i++) {
            avro_value_t c;
            if (avro_value_get_by_index(v, i, &c, &name))
                continue;
            if (d < PATH_DEPTH) {
                vp->seg[d].name = arr ? NULL : name ? name : "?";
                vp->seg[d].index = i;
            }
            int rc = walk(&c, vp, max_bytes, errstr, errstr_size);
            if (rc)
                return rc; /* the path stays as it is: the caller formats it */
        }
        vp->depth = d;
        return SHOP_OK;
    }
    default:
        return SHOP_OK;
    }
}

int shop_rt_validate_event(const shop_event_t *ev, size_t max_bytes, char *errstr,
                           size_t errstr_size) {
    if (!ev->value || (ev->text_clean && ev->longest_string <= max_bytes))
        return SHOP_OK; /* the decoder's scan found nothing (else the walk names the field) */
    vpath_t vp = {.depth = 0};
    char why[600];
    int rc = walk(ev->value, &vp, max_bytes, why, sizeof(why));
    if (rc)
        shop_seterr(errstr, errstr_size, rc, "%s: %s", ev->type ? ev->type : "event", why);
    return rc;
}
