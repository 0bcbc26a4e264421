/* canonical.c: Avro Parsing Canonical Form and the CRC-64-AVRO (Rabin) fingerprint.
 *
 * Both follow the Apache Avro 1.11 specification, section "Parsing Canonical Form for Schemas"
 * (https://avro.apache.org/docs/1.11.1/specification/#parsing-canonical-form-for-schemas):
 * the transformations [PRIMITIVES], [FULLNAMES], [STRIP], [ORDER], [STRINGS], [INTEGERS] and
 * [WHITESPACE] are applied in one recursive walk over the schema JSON, and the fingerprint is
 * the spec's "Schema Fingerprints" CRC-64-AVRO (polynomial as the constant EMPTY =
 * 0xc15d213aa4d7a795, table-driven, reflected), also used by the single-object encoding. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

#define CRC64_AVRO_EMPTY 0xc15d213aa4d7a795ULL
#define WALK_MAX_DEPTH   64
#define WALK_MAX_NAME    512

/* ---- CRC-64-AVRO ---- */

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init(void) {
    for (int i = 0; i < 256; i++) {
        uint64_t fp = (uint64_t)i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & -(fp & 1));
        crc64_table[i] = fp;
    }
}

uint64_t shop_crc64_avro(const void *data, size_t len) {
    const unsigned char *p = data;
    pthread_once(&crc64_once, crc64_init);
    uint64_t fp = CRC64_AVRO_EMPTY;
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
    return fp;
}

/* ---- Parsing Canonical Form ---- */

typedef struct {
    json_t *names;   /* fullname -> definition node */
    shop_buf_t *out; /* NULL when only collecting names */
    char *errstr;
    size_t errstr_size;
    int depth;
} walk_t;

static const char *const primitives[] = {"null",  "boolean", "int",   "long",
                                         "float", "double",  "bytes", "string"};

int shop_schema_is_primitive(const char *name) {
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
        if (!strcmp(name, primitives[i]))
            return 1;
    return 0;
}

static void emit(walk_t *w, const char *s) {
    if (w->out)
        shop_buf_puts(w->out, s);
}

/* [STRINGS]: escapes are decoded by the JSON parser; only what JSON requires is re-escaped. */
static void emit_string(walk_t *w, const char *s) {
    if (!w->out)
        return;
    shop_buf_puts(w->out, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[3] = {'\\', (char)c, 0};
            shop_buf_puts(w->out, esc);
        } else if (c < 0x20) {
            shop_buf_printf(w->out, "\\u%04x", c);
        } else {
            shop_buf_append(w->out, s, 1);
        }
    }
    shop_buf_puts(w->out, "\"");
}

static int walk(walk_t *w, json_t *node, const char *ns);

/* [FULLNAMES] for a definition: fullname into full[], its namespace into ns_out[]. */
static int definition_name(walk_t *w, json_t *node, const char *enclosing, char *full,
                           char *ns_out) {
    const char *name = json_string_value(json_object_get(node, "name"));
    if (!name || !*name)
        return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID,
                           "named type without a \"name\"");
    const char *dot = strrchr(name, '.');
    json_t *jns = json_object_get(node, "namespace");
    int n;
    if (dot) {
        n = snprintf(full, WALK_MAX_NAME, "%s", name);
        snprintf(ns_out, WALK_MAX_NAME, "%.*s", (int)(dot - name), name);
    } else {
        const char *ns = json_is_string(jns) ? json_string_value(jns) : enclosing;
        if (!ns)
            ns = "";
        n = *ns ? snprintf(full, WALK_MAX_NAME, "%s.%s", ns, name)
                : snprintf(full, WALK_MAX_NAME, "%s", name);
        snprintf(ns_out, WALK_MAX_NAME, "%s", ns);
    }
    if (n >= WALK_MAX_NAME)
        return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID, "name too long: %s", name);
    if (json_object_get(w->names, full))
        return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID, "type \"%s\" defined twice",
                           full);
    json_object_set(w->names, full, node);
    return SHOP_OK;
}

/* A reference to a named type: in the enclosing namespace first, then the null namespace
 * (what the Java reference implementation does). */
static int emit_reference(walk_t *w, const char *name, const char *ns) {
    char full[WALK_MAX_NAME];
    if (!strchr(name, '.') && ns && *ns) {
        snprintf(full, sizeof(full), "%s.%s", ns, name);
        if (!json_object_get(w->names, full))
            snprintf(full, sizeof(full), "%s", name);
    } else {
        snprintf(full, sizeof(full), "%s", name);
    }
    if (!json_object_get(w->names, full))
        return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID, "unknown type \"%s\"",
                           name);
    emit_string(w, full);
    return SHOP_OK;
}

static int walk_fields(walk_t *w, json_t *fields, const char *ns) {
    if (!json_is_array(fields))
        return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID,
                           "record \"fields\" must be an array");
    size_t i;
    json_t *f;
    emit(w, "[");
    json_array_foreach(fields, i, f) {
        const char *fname = json_string_value(json_object_get(f, "name"));
        json_t *ftype = json_object_get(f, "type");
        if (!fname || !ftype)
            return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID,
                               "record field %zu needs a \"name\" and a \"type\"", i);
        if (i)
            emit(w, ",");
        emit(w, "{\"name\":");
        emit_string(w, fname);
        emit(w, ",\"type\":");
        int r = walk(w, ftype, ns);
        if (r)
            return r;
        emit(w, "}");
    }
    emit(w, "]");
    return SHOP_OK;
}

static int walk_symbols(walk_t *w, json_t *symbols) {
    if (!json_is_array(symbols))
        return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID,
                           "enum \"symbols\" must be an array");
    size_t i;
    json_t *s;
    emit(w, "[");
    json_array_foreach(symbols, i, s) {
        if (!json_is_string(s))
            return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID,
                               "enum symbols must be strings");
        if (i)
            emit(w, ",");
        emit_string(w, json_string_value(s));
    }
    emit(w, "]");
    return SHOP_OK;
}

/* [INTEGERS]: the size may come quoted or with leading zeros; it leaves as a plain integer. */
static int walk_size(walk_t *w, json_t *size) {
    long long n = -1;
    if (json_is_integer(size)) {
        n = json_integer_value(size);
    } else if (json_is_string(size)) {
        const char *s = json_string_value(size);
        char *end;
        n = *s ? strtoll(s, &end, 10) : -1;
        if (!*s || *end)
            n = -1;
    }
    if (n < 0)
        return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID,
                           "fixed \"size\" must be a non-negative integer");
    if (w->out)
        shop_buf_printf(w->out, "%lld", n);
    return SHOP_OK;
}

static int walk_named(walk_t *w, json_t *node, const char *type, const char *ns) {
    char full[WALK_MAX_NAME], inner_ns[WALK_MAX_NAME];
    int r = definition_name(w, node, ns, full, inner_ns);
    if (r)
        return r;
    emit(w, "{\"name\":");
    emit_string(w, full);
    emit(w, ",\"type\":");
    emit_string(w, type);
    if (!strcmp(type, "record") || !strcmp(type, "error")) {
        emit(w, ",\"fields\":");
        r = walk_fields(w, json_object_get(node, "fields"), inner_ns);
    } else if (!strcmp(type, "enum")) {
        emit(w, ",\"symbols\":");
        r = walk_symbols(w, json_object_get(node, "symbols"));
    } else {
        emit(w, ",\"size\":");
        r = walk_size(w, json_object_get(node, "size"));
    }
    if (r)
        return r;
    emit(w, "}");
    return SHOP_OK;
}

static int walk_object(walk_t *w, json_t *node, const char *ns) {
    const char *type = json_string_value(json_object_get(node, "type"));
    if (!type)
        return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID,
                           "schema object without a string \"type\"");
    if (shop_schema_is_primitive(type)) { /* [PRIMITIVES], [STRIP] */
        emit_string(w, type);
        return SHOP_OK;
    }
    if (!strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
        !strcmp(type, "fixed"))
        return walk_named(w, node, type, ns);
    if (!strcmp(type, "array") || !strcmp(type, "map")) {
        const char *key = type[0] == 'a' ? "items" : "values";
        json_t *child = json_object_get(node, key);
        if (!child)
            return shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID, "%s without \"%s\"",
                               type, key);
        emit(w, "{\"type\":");
        emit_string(w, type);
        if (w->out)
            shop_buf_printf(w->out, ",\"%s\":", key);
        int r = walk(w, child, ns);
        if (r)
            return r;
        emit(w, "}");
        return SHOP_OK;
    }
    return emit_reference(w, type, ns); /* {"type":"SomeRecord"} */
}

static int walk(walk_t *w, json_t *node, const char *ns) {
    int r = SHOP_OK;
    if (++w->depth > WALK_MAX_DEPTH) {
        r = shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID, "schema nested too deeply");
    } else if (json_is_string(node)) {
        const char *s = json_string_value(node);
        if (shop_schema_is_primitive(s))
            emit_string(w, s);
        else
            r = emit_reference(w, s, ns);
    } else if (json_is_array(node)) {
        size_t i;
        json_t *b;
        emit(w, "[");
        json_array_foreach(node, i, b) {
            if (i)
                emit(w, ",");
            if ((r = walk(w, b, ns)))
                break;
        }
        emit(w, "]");
    } else if (json_is_object(node)) {
        r = walk_object(w, node, ns);
    } else {
        r = shop_seterr(w->errstr, w->errstr_size, SHOP_ERR_INVALID,
                        "a schema is a string, an object or an array");
    }
    w->depth--;
    return r;
}

int shop_schema_walk(json_t *doc, json_t *names, char **out_canonical, char *errstr,
                     size_t errstr_size) {
    shop_buf_t out;
    shop_buf_init(&out);
    walk_t w = {names, out_canonical ? &out : NULL, errstr, errstr_size, 0};
    int r = walk(&w, doc, "");
    if (r || !out_canonical) {
        shop_buf_release(&out);
        return r;
    }
    *out_canonical = out.buf ? out.buf : shop_xstrdup("");
    return SHOP_OK;
}

int shop_schema_canonical(const char *schema_json, char **out_canonical, char *errstr,
                          size_t errstr_size) {
    json_error_t jerr;
    json_t *doc = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
    if (!doc)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "schema is not JSON: %s (line %d)", jerr.text, jerr.line);
    json_t *names = json_object();
    int r = shop_schema_walk(doc, names, out_canonical, errstr, errstr_size);
    json_decref(names);
    json_decref(doc);
    return r;
}

int shop_schema_fingerprint(const char *schema_json, int64_t *out_fp, char *errstr,
                            size_t errstr_size) {
    char *canonical = NULL;
    int r = shop_schema_canonical(schema_json, &canonical, errstr, errstr_size);
    if (r)
        return r;
    *out_fp = (int64_t)shop_crc64_avro(canonical, strlen(canonical));
    free(canonical);
    return SHOP_OK;
}
