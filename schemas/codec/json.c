/* json.c: JSON <-> Avro values: validation with field-level messages, defaults, logical types
 * (uuid, timestamp-millis), and the reverse conversion used to print events. */
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

typedef struct {
    const shop_schema_entry_t *entry;
    const char *what; /* the event type, prefixes every message */
    char path[256];
    size_t plen;
    char *errstr;
    size_t errstr_size;
} jctx_t;

static int set_value(jctx_t *c, json_t *node, json_t *val, avro_value_t *dest);

/* ---- errors and paths ---- */

static int jerr(jctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jerr(jctx_t *c, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->plen)
        return shop_seterr(c->errstr, c->errstr_size, SHOP_ERR_INVALID, "%s: field %s: %s", c->what,
                           c->path, msg);
    return shop_seterr(c->errstr, c->errstr_size, SHOP_ERR_INVALID, "%s: %s", c->what, msg);
}

/* JSON text of `v` for messages, shortened. */
static const char *got(json_t *v, char *buf, size_t size) {
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(buf, size, "?");
        return buf;
    }
    if (strlen(s) > 60)
        snprintf(buf, size, "%.57s...", s);
    else
        snprintf(buf, size, "%s", s);
    free(s);
    return buf;
}

/* Appends ".name" (or "name" at the top) to the path; returns the length to restore. */
static size_t path_push_name(jctx_t *c, const char *name) {
    size_t old = c->plen, n = strlen(name), dot = old ? 1 : 0;
    size_t room = sizeof(c->path) - 1 - old; /* plen never passes sizeof - 1 */
    if (dot + n > room) {                    /* deep paths are cut, never overflowed */
        dot = room ? dot : 0;
        n = room - dot;
    }
    if (dot)
        c->path[c->plen++] = '.';
    memcpy(c->path + c->plen, name, n);
    c->plen += n;
    c->path[c->plen] = '\0';
    return old;
}

static size_t path_push_index(jctx_t *c, size_t i) {
    size_t old = c->plen;
    int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "[%zu]", i);
    if (n > 0)
        c->plen += (size_t)n;
    if (c->plen >= sizeof(c->path))
        c->plen = sizeof(c->path) - 1;
    return old;
}

static void path_pop(jctx_t *c, size_t old) {
    c->plen = old;
    c->path[old] = '\0';
}

static const char *logical_type(json_t *node) {
    return json_string_value(json_object_get(node, "logicalType"));
}

static const char *type_word(avro_schema_t s) {
    switch (avro_typeof(s)) {
    case AVRO_INT32:
        return "int";
    case AVRO_INT64:
        return "long";
    case AVRO_FIXED:
        return "fixed";
    case AVRO_ENUM:
        return "enum";
    case AVRO_RECORD:
    case AVRO_MAP:
        return "object";
    case AVRO_ARRAY:
        return "array";
    default:
        return avro_schema_type_name(s);
    }
}

static int is_uuid(const char *s, size_t len) {
    if (len != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        char ch = s[i];
        int hyphen = i == 8 || i == 13 || i == 18 || i == 23;
        if (hyphen ? ch != '-'
                   : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                       (ch >= 'A' && ch <= 'F')))
            return 0;
    }
    return 1;
}

/* ---- JSON -> Avro ---- */

/* Avro's JSON encoding of bytes/fixed: each code point 0..255 is one byte. */
static int latin1_bytes(const char *s, size_t len, shop_buf_t *out) {
    for (size_t i = 0; i < len;) {
        unsigned char b = (unsigned char)s[i];
        unsigned cp;
        if (b < 0x80) {
            cp = b;
            i++;
        } else if ((b & 0xe0) == 0xc0 && i + 1 < len) {
            cp = ((b & 0x1fu) << 6) | ((unsigned char)s[i + 1] & 0x3fu);
            i += 2;
        } else {
            return -1;
        }
        if (cp > 255)
            return -1;
        unsigned char byte = (unsigned char)cp;
        shop_buf_append(out, &byte, 1);
    }
    return 0;
}

static int set_bytes(jctx_t *c, json_t *val, avro_value_t *dest) {
    char g[80];
    avro_schema_t s = avro_value_get_schema(dest);
    shop_buf_t b;
    shop_buf_init(&b);
    shop_buf_grow(&b, 1);
    int r = latin1_bytes(json_string_value(val), json_string_length(val), &b);
    if (!r && is_avro_fixed(s) && b.len != (size_t)avro_schema_fixed_size(s))
        r = -1;
    if (r)
        r = jerr(c, "expected %s, got %s", type_word(s), got(val, g, sizeof(g)));
    else if (is_avro_fixed(s) ? avro_value_set_fixed(dest, b.buf, b.len)
                              : avro_value_set_bytes(dest, b.buf, b.len))
        r = jerr(c, "%s", avro_strerror());
    shop_buf_release(&b);
    return r;
}

static int set_string(jctx_t *c, json_t *node, json_t *val, avro_value_t *dest) {
    char g[80];
    avro_schema_t s = avro_value_get_schema(dest);
    const char *lt = logical_type(node);
    int is_uuid_type = lt && !strcmp(lt, "uuid");
    if (!json_is_string(val))
        return jerr(c, "expected %s, got %s", is_uuid_type ? "uuid" : type_word(s),
                    got(val, g, sizeof(g)));
    const char *str = json_string_value(val);
    size_t len = json_string_length(val);
    switch (avro_typeof(s)) {
    case AVRO_STRING:
        if (is_uuid_type && !is_uuid(str, len))
            return jerr(c, "expected uuid, got %s", got(val, g, sizeof(g)));
        return avro_value_set_string_len(dest, str, len + 1) ? jerr(c, "%s", avro_strerror()) : 0;
    case AVRO_ENUM: {
        int sym = avro_schema_enum_get_by_name(s, str);
        if (sym < 0)
            return jerr(c, "%s is not a symbol of %s", got(val, g, sizeof(g)), avro_schema_name(s));
        return avro_value_set_enum(dest, sym) ? jerr(c, "%s", avro_strerror()) : 0;
    }
    default:
        return set_bytes(c, val, dest);
    }
}

static int set_long(jctx_t *c, json_t *node, json_t *val, avro_value_t *dest) {
    char g[80];
    const char *lt = logical_type(node);
    int64_t ms;
    if (json_is_integer(val))
        return avro_value_set_long(dest, json_integer_value(val));
    if (json_is_string(val) && lt && !strcmp(lt, "timestamp-millis")) {
        if (shop_parse_time_ms(json_string_value(val), &ms))
            return jerr(c, "expected epoch millis or an RFC 3339 time, got %s",
                        got(val, g, sizeof(g)));
        return avro_value_set_long(dest, ms);
    }
    if (lt && !strcmp(lt, "timestamp-millis"))
        return jerr(c, "expected epoch millis or an RFC 3339 time, got %s", got(val, g, sizeof(g)));
    return jerr(c, "expected long, got %s", got(val, g, sizeof(g)));
}

/* Does `val` look like a value of branch schema `bs`? Picks union branches from plain JSON. */
static int accepts(avro_schema_t bs, json_t *bnode, json_t *val) {
    const char *lt;
    switch (avro_typeof(bs)) {
    case AVRO_NULL:
        return json_is_null(val);
    case AVRO_BOOLEAN:
        return json_is_boolean(val);
    case AVRO_INT32:
        return json_is_integer(val) && json_integer_value(val) >= INT32_MIN &&
               json_integer_value(val) <= INT32_MAX;
    case AVRO_INT64:
        lt = logical_type(bnode);
        return json_is_integer(val) ||
               (json_is_string(val) && lt && !strcmp(lt, "timestamp-millis"));
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        return json_is_number(val);
    case AVRO_STRING:
    case AVRO_BYTES:
    case AVRO_ENUM:
    case AVRO_FIXED:
        return json_is_string(val);
    case AVRO_ARRAY:
        return json_is_array(val);
    case AVRO_MAP:
    case AVRO_RECORD:
        return json_is_object(val);
    default:
        return 0;
    }
}

static int set_union(jctx_t *c, json_t *node, json_t *val, avro_value_t *dest) {
    avro_schema_t s = avro_value_get_schema(dest);
    size_t n = avro_schema_union_size(s);
    int only = -1, non_null = 0;
    char desc[160] = "", g[80];
    for (size_t i = 0; i < n; i++) {
        avro_schema_t bs = avro_schema_union_branch(s, (int)i);
        json_t *bnode = shop_entry_type_node(c->entry, json_array_get(node, i), bs);
        if (accepts(bs, bnode, val)) {
            avro_value_t b;
            if (avro_value_set_branch(dest, (int)i, &b))
                return jerr(c, "%s", avro_strerror());
            return set_value(c, bnode, val, &b);
        }
        if (!is_avro_null(bs)) {
            only = (int)i;
            non_null++;
        }
    }
    if (non_null == 1) { /* ["null", T]: let T explain what is wrong */
        avro_value_t b;
        if (avro_value_set_branch(dest, only, &b))
            return jerr(c, "%s", avro_strerror());
        return set_value(c,
                         shop_entry_type_node(c->entry, json_array_get(node, (size_t)only),
                                              avro_schema_union_branch(s, only)),
                         val, &b);
    }
    for (size_t i = 0; i < n; i++) {
        size_t dl = strlen(desc);
        snprintf(desc + dl, sizeof(desc) - dl, "%s%s", i ? " or " : "",
                 type_word(avro_schema_union_branch(s, (int)i)));
    }
    return jerr(c, "expected %s, got %s", desc, got(val, g, sizeof(g)));
}

/* A record field that the JSON object does not give: its default, null for a nullable
 * union, else an error. */
static int set_absent(jctx_t *c, const shop_field_plan_t *f, avro_value_t *dest) {
    avro_value_t b;
    if (f->def)
        return set_value(c, f->type, f->def, dest);
    if (f->null_branch >= 0 && avro_value_get_type(dest) == AVRO_UNION)
        return avro_value_set_branch(dest, f->null_branch, &b) || avro_value_set_null(&b)
                   ? jerr(c, "%s", avro_strerror())
                   : 0;
    return jerr(c, "missing");
}

/* Sets field `i` of record value `rec` (laid out by `plan`) from obj[name]. */
static int set_field(jctx_t *c, const shop_record_plan_t *plan, json_t *obj, avro_value_t *rec,
                     size_t i) {
    const shop_field_plan_t *f = &plan->fields[i];
    avro_value_t d;
    if (avro_value_get_by_index(rec, i, &d, NULL))
        return jerr(c, "%s", avro_strerror());
    size_t old = path_push_name(c, f->name);
    json_t *v = json_object_get(obj, f->name);
    int r = v ? set_value(c, f->type, v, &d) : set_absent(c, f, &d);
    path_pop(c, old);
    return r;
}

static int plan_has(const shop_record_plan_t *plan, const char *name) {
    for (size_t i = 0; i < plan->nfields; i++)
        if (!strcmp(plan->fields[i].name, name))
            return 1;
    return 0;
}

static int set_record(jctx_t *c, json_t *node, json_t *val, avro_value_t *dest) {
    char g[80];
    const shop_record_plan_t *plan = shop_entry_plan(c->entry, node);
    if (!plan)
        return jerr(c, "record definition not found");
    if (!json_is_object(val))
        return jerr(c, "expected object, got %s", got(val, g, sizeof(g)));
    const char *key;
    json_t *v;
    json_object_foreach(val, key, v) {
        if (!plan_has(plan, key)) {
            path_push_name(c, key);
            return jerr(c, "unknown field");
        }
    }
    for (size_t i = 0; i < plan->nfields; i++) {
        int r = set_field(c, plan, val, dest, i);
        if (r)
            return r;
    }
    return SHOP_OK;
}

static int set_container(jctx_t *c, json_t *node, json_t *val, avro_value_t *dest) {
    char g[80];
    size_t i, old;
    json_t *v;
    int r = SHOP_OK;
    if (avro_value_get_type(dest) == AVRO_ARRAY) {
        if (!json_is_array(val))
            return jerr(c, "expected array, got %s", got(val, g, sizeof(g)));
        json_t *items = json_object_get(node, "items");
        json_array_foreach(val, i, v) {
            avro_value_t child;
            if (avro_value_append(dest, &child, NULL))
                return jerr(c, "%s", avro_strerror());
            old = path_push_index(c, i);
            r = set_value(c, items, v, &child);
            path_pop(c, old);
            if (r)
                return r;
        }
        return SHOP_OK;
    }
    if (!json_is_object(val))
        return jerr(c, "expected object, got %s", got(val, g, sizeof(g)));
    json_t *values = json_object_get(node, "values");
    const char *key;
    json_object_foreach(val, key, v) {
        avro_value_t child;
        if (avro_value_add(dest, key, &child, NULL, NULL))
            return jerr(c, "%s", avro_strerror());
        old = path_push_name(c, key);
        r = set_value(c, values, v, &child);
        path_pop(c, old);
        if (r)
            return r;
    }
    return SHOP_OK;
}

static int set_value(jctx_t *c, json_t *node, json_t *val, avro_value_t *dest) {
    char g[80];
    avro_schema_t s = avro_value_get_schema(dest);
    node = shop_entry_type_node(c->entry, node, s);
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        if (!json_is_null(val))
            return jerr(c, "expected null, got %s", got(val, g, sizeof(g)));
        return avro_value_set_null(dest);
    case AVRO_BOOLEAN:
        if (!json_is_boolean(val))
            return jerr(c, "expected boolean, got %s", got(val, g, sizeof(g)));
        return avro_value_set_boolean(dest, json_is_true(val));
    case AVRO_INT32:
        if (!json_is_integer(val))
            return jerr(c, "expected int, got %s", got(val, g, sizeof(g)));
        if (json_integer_value(val) < INT32_MIN || json_integer_value(val) > INT32_MAX)
            return jerr(c, "%s out of range for int", got(val, g, sizeof(g)));
        return avro_value_set_int(dest, (int32_t)json_integer_value(val));
    case AVRO_INT64:
        return set_long(c, node, val, dest);
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        if (!json_is_number(val))
            return jerr(c, "expected %s, got %s", type_word(s), got(val, g, sizeof(g)));
        return is_avro_float(s) ? avro_value_set_float(dest, (float)json_number_value(val))
                                : avro_value_set_double(dest, json_number_value(val));
    case AVRO_STRING:
    case AVRO_BYTES:
    case AVRO_ENUM:
    case AVRO_FIXED:
        return set_string(c, node, val, dest);
    case AVRO_ARRAY:
    case AVRO_MAP:
        return set_container(c, node, val, dest);
    case AVRO_RECORD:
        return set_record(c, node, val, dest);
    case AVRO_UNION:
        return set_union(c, node, val, dest);
    default:
        return jerr(c, "unsupported schema type %s", avro_schema_type_name(s));
    }
}

int shop_json_to_value(const shop_schema_entry_t *entry, json_t *type_node, json_t *val,
                       avro_value_t *dest, const char *what, const char *path, char *errstr,
                       size_t errstr_size) {
    jctx_t c = {entry, what, "", 0, errstr, errstr_size};
    if (path)
        path_push_name(&c, path);
    if (!val)
        return jerr(&c, "missing");
    return set_value(&c, type_node, val, dest);
}

/* ---- the flat form ---- */

int shop_json_fill_flat(const shop_schema_entry_t *e, int branch, json_t *obj, avro_value_t *rec,
                        char *errstr, size_t errstr_size) {
    jctx_t c = {e, e->branch_type[branch], "", 0, errstr, errstr_size};
    avro_schema_t s = e->info.schema;
    json_t *payload_node = json_array_get(json_object_get(e->doc, "fields"), (size_t)e->f_payload);
    avro_schema_t bs =
        avro_schema_union_branch(avro_schema_record_field_get_by_index(s, e->f_payload), branch);
    json_t *bnode = shop_entry_type_node(
        e, json_array_get(json_object_get(payload_node, "type"), (size_t)branch), bs);
    const shop_record_plan_t *top = shop_entry_plan(e, e->doc), *bplan = shop_entry_plan(e, bnode);
    if (!top || !bplan)
        return jerr(&c, "record definition not found");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (!json_object_get(e->env_fields, key) &&
            !json_object_get(e->branch_fields[branch], key)) {
            path_push_name(&c, key);
            return jerr(&c, "unknown field");
        }
    }
    size_t n = avro_schema_record_size(s);
    for (size_t i = 0; i < n; i++) {
        int r = SHOP_OK;
        avro_value_t d;
        json_t *given = json_object_get(obj, avro_schema_record_field_name(s, (int)i));
        int generated = (int)i == e->f_event_id || (int)i == e->f_occurred_at;
        if ((int)i == e->f_payload)
            continue;
        if (generated && (!given || json_is_null(given))) {
            char uuid[37];
            avro_value_get_by_index(rec, i, &d, NULL);
            if ((int)i == e->f_event_id) {
                shop_uuid4(uuid);
                r = avro_value_set_string_len(&d, uuid, sizeof(uuid));
            } else {
                r = avro_value_set_long(&d, shop_now_ms());
            }
        } else {
            r = set_field(&c, top, obj, rec, i);
        }
        if (r)
            return r;
    }
    avro_value_t u, b;
    if (avro_value_get_by_index(rec, (size_t)e->f_payload, &u, NULL) ||
        avro_value_set_branch(&u, branch, &b))
        return jerr(&c, "%s", avro_strerror());
    for (size_t i = 0; i < bplan->nfields; i++) {
        int r = set_field(&c, bplan, obj, &b, i);
        if (r)
            return r;
    }
    return SHOP_OK;
}

/* ---- Avro -> JSON ---- */

static size_t utf8_seq(const unsigned char *p, size_t left) {
    size_t n = p[0] < 0x80             ? 1
               : (p[0] & 0xe0) == 0xc0 ? 2
               : (p[0] & 0xf0) == 0xe0 ? 3
               : (p[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (!n || n > left || (n == 2 && p[0] < 0xc2))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* JSON string of arbitrary bytes: invalid UTF-8 becomes U+FFFD rather than failing. */
static json_t *string_json(const char *s, size_t len) {
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    shop_buf_t b;
    shop_buf_init(&b);
    shop_buf_grow(&b, len);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n) {
            shop_buf_append(&b, s + i, n);
            i += n;
        } else {
            shop_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    j = json_stringn(b.buf, b.len);
    shop_buf_release(&b);
    return j ? j : json_string("");
}

/* Avro's JSON encoding of bytes: one code point 0..255 per byte. */
static json_t *bytes_json(const void *buf, size_t len) {
    const unsigned char *p = buf;
    shop_buf_t b;
    shop_buf_init(&b);
    shop_buf_grow(&b, len * 2);
    for (size_t i = 0; i < len; i++) {
        unsigned char u[2] = {(unsigned char)(0xc0 | (p[i] >> 6)),
                              (unsigned char)(0x80 | (p[i] & 0x3f))};
        if (p[i] < 0x80)
            shop_buf_append(&b, &p[i], 1);
        else
            shop_buf_append(&b, u, 2);
    }
    json_t *j = json_stringn(b.buf ? b.buf : "", b.len);
    shop_buf_release(&b);
    return j;
}

/* Arrays, maps and records (the latter two as objects). */
static json_t *container_json(avro_value_t *val) {
    int is_array = avro_value_get_type(val) == AVRO_ARRAY;
    json_t *out = is_array ? json_array() : json_object();
    size_t n = 0;
    avro_value_get_size(val, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t child;
        const char *name = NULL;
        if (avro_value_get_by_index(val, i, &child, &name))
            break;
        if (is_array)
            json_array_append_new(out, shop_value_to_json(&child));
        else
            json_object_set_new(out, name ? name : "", shop_value_to_json(&child));
    }
    return out;
}

static json_t *number_json(avro_value_t *val) {
    int32_t i = 0;
    int64_t l = 0;
    float f = 0;
    double d = 0;
    switch (avro_value_get_type(val)) {
    case AVRO_INT32:
        avro_value_get_int(val, &i);
        return json_integer(i);
    case AVRO_INT64:
        avro_value_get_long(val, &l);
        return json_integer(l);
    case AVRO_FLOAT:
        avro_value_get_float(val, &f);
        d = f;
        break;
    default:
        avro_value_get_double(val, &d);
        break;
    }
    /* JSON has no NaN or infinities (json_real refuses them and the field would vanish): the
     * strings Java's Avro JSON encoder uses. */
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

json_t *shop_value_to_json(avro_value_t *val) {
    const void *buf = NULL;
    const char *str = NULL;
    size_t size = 0;
    int x = 0;
    avro_value_t branch;
    switch (avro_value_get_type(val)) {
    case AVRO_BOOLEAN:
        avro_value_get_boolean(val, &x);
        return json_boolean(x);
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        return number_json(val);
    case AVRO_STRING:
        avro_value_get_string(val, &str, &size);
        return string_json(str ? str : "", size ? size - 1 : 0);
    case AVRO_BYTES:
        avro_value_get_bytes(val, &buf, &size);
        return bytes_json(buf, size);
    case AVRO_FIXED:
        avro_value_get_fixed(val, &buf, &size);
        return bytes_json(buf, size);
    case AVRO_ENUM:
        avro_value_get_enum(val, &x);
        str = avro_schema_enum_get(avro_value_get_schema(val), x);
        return str ? json_string(str) : json_integer(x);
    case AVRO_ARRAY:
    case AVRO_MAP:
    case AVRO_RECORD:
        return container_json(val);
    case AVRO_UNION:
        return avro_value_get_current_branch(val, &branch) ? json_null()
                                                           : shop_value_to_json(&branch);
    default:
        return json_null();
    }
}

json_t *shop_event_to_json(const shop_event_t *ev) {
    if (!ev || !ev->value)
        return json_null();
    const shop_schema_entry_t *r = shop_entry_of(ev->reader);
    if (!r->is_event)
        return shop_value_to_json(ev->value);
    json_t *obj = json_object();
    size_t n = 0;
    avro_value_get_size(ev->value, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t f;
        const char *name = NULL;
        if ((int)i == r->f_payload || avro_value_get_by_index(ev->value, i, &f, &name))
            continue;
        json_object_set_new(obj, name, shop_value_to_json(&f));
    }
    avro_value_t payload = ev->payload;
    avro_value_get_size(&payload, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t f;
        const char *name = NULL;
        if (avro_value_get_by_index(&payload, i, &f, &name))
            continue;
        json_t *prev = json_object_get(obj, name);
        if (prev && !json_is_null(prev))
            continue; /* envelope field of the same name wins */
        json_object_set_new(obj, name, shop_value_to_json(&f));
    }
    return obj;
}
