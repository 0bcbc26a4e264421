/* wire.c: walks an Avro binary body against its writer schema: to check it before avro-c
 * resolves it, and, when the writer is the reader, to decode it into the reused avro-c value.
 *
 * Why not avro_value_read alone: avro-c 1.11 allocates a string's claimed length before checking
 * that the bytes are there and leaks it when they are not (encoding_binary.c read_string), so a
 * short or corrupt message can leak up to gigabytes; it has no "bytes left" for a memory reader,
 * so trailing bytes are invisible; and it mallocs twice and frees twice per string per message,
 * which halves throughput. This walk follows the Avro 1.11 specification, "Binary Encoding"
 * (https://avro.apache.org/docs/1.11.1/specification/#binary-encoding): zig-zag varints for
 * int/long/enum/union index, length-prefixed bytes/string, fixed sizes, little-endian 4/8-byte
 * float/double, and blocked arrays and maps (a negative count is followed by a byte size).
 * Values go in through avro-c's value API (avro_value_set_*), whose buffers are reused, so the
 * event is still an avro-c generic value; schema resolution of older writers stays with avro-c's
 * resolved writer, after the check. Tests compare this reader with avro_value_read. The schema
 * is compiled once into a small node graph so no avro-c schema lookups happen per message. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

#define WIRE_MAX_DEPTH 64

struct shop_wire_node {
    avro_type_t type;
    size_t n;                     /* record fields, union branches, enum symbols, fixed size */
    struct shop_wire_node **kids; /* fields / branches; kids[0] = array items or map values */
};

struct shop_wire {
    avro_schema_t *schemas; /* memo: schema -> node, so recursive types compile once */
    shop_wire_node_t **nodes;
    size_t n, cap;
    shop_wire_node_t *root;
};

typedef struct {
    const unsigned char *p, *end;
    char *why;
    size_t why_size;
    shop_buf_t *scratch; /* NUL-terminated copies of strings and map keys when decoding */
    int suspect;         /* decoding: a string failed shop_utf8_scan() or a float is not finite */
    size_t longest;      /* decoding: the longest string */
} cursor_t;

static shop_wire_node_t *compile(shop_wire_t *w, avro_schema_t s) {
    while (is_avro_link(s))
        s = avro_schema_link_target(s);
    for (size_t i = 0; i < w->n; i++)
        if (w->schemas[i] == s)
            return w->nodes[i];
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->schemas = shop_xrealloc(w->schemas, w->cap * sizeof(*w->schemas));
        w->nodes = shop_xrealloc(w->nodes, w->cap * sizeof(*w->nodes));
    }
    shop_wire_node_t *node = shop_xcalloc(1, sizeof(*node));
    w->schemas[w->n] = s;
    w->nodes[w->n++] = node; /* registered before the children: cycles end here */
    node->type = avro_typeof(s);
    switch (node->type) {
    case AVRO_RECORD:
        node->n = avro_schema_record_size(s);
        node->kids = shop_xcalloc(node->n + 1, sizeof(*node->kids));
        for (size_t i = 0; i < node->n; i++)
            node->kids[i] = compile(w, avro_schema_record_field_get_by_index(s, (int)i));
        break;
    case AVRO_UNION:
        node->n = avro_schema_union_size(s);
        node->kids = shop_xcalloc(node->n + 1, sizeof(*node->kids));
        for (size_t i = 0; i < node->n; i++)
            node->kids[i] = compile(w, avro_schema_union_branch(s, (int)i));
        break;
    case AVRO_ARRAY:
    case AVRO_MAP:
        node->kids = shop_xcalloc(1, sizeof(*node->kids));
        node->kids[0] = compile(w, node->type == AVRO_ARRAY ? avro_schema_array_items(s)
                                                            : avro_schema_map_values(s));
        break;
    case AVRO_ENUM:
        node->n = (size_t)avro_schema_enum_number_of_symbols(s);
        break;
    case AVRO_FIXED:
        node->n = (size_t)avro_schema_fixed_size(s);
        break;
    default:
        break;
    }
    return node;
}

shop_wire_t *shop_wire_compile(avro_schema_t schema) {
    shop_wire_t *w = shop_xcalloc(1, sizeof(*w));
    w->root = compile(w, schema);
    return w;
}

void shop_wire_free(shop_wire_t *w) {
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->nodes[i]->kids);
        free(w->nodes[i]);
    }
    free(w->nodes);
    free(w->schemas);
    free(w);
}

static int bad(cursor_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(cursor_t *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, c->why_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Zig-zag varint of at most `max_bytes` bytes. */
static int varint(cursor_t *c, int max_bytes, int64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (c->p >= c->end)
            return bad(c, "truncated varint");
        unsigned char b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return bad(c, "varint longer than %d bytes", max_bytes);
}

static int take(cursor_t *c, int64_t n, const char *what) {
    if (n < 0)
        return bad(c, "negative %s length %lld", what, (long long)n);
    if (n > c->end - c->p)
        return bad(c, "%s of %lld bytes, only %zu left", what, (long long)n,
                   (size_t)(c->end - c->p));
    c->p += n;
    return 0;
}

static int walk(const shop_wire_node_t *n, cursor_t *c, int depth, avro_value_t *dest);

/* The string at c->p of length len, NUL-terminated in scratch (avro-c copies a C string). */
static const char *staged(cursor_t *c, int64_t len) {
    shop_buf_reset(c->scratch);
    shop_buf_append(c->scratch, c->p - len, (size_t)len);
    return c->scratch->buf;
}

static int walk_blocks(const shop_wire_node_t *n, cursor_t *c, int depth, avro_value_t *dest) {
    int64_t count = 0, size = 0;
    for (;;) {
        if (varint(c, 10, &count))
            return -1;
        if (count == 0)
            return 0;
        if (count < 0) {
            if (count == INT64_MIN)
                return bad(c, "bad block count");
            count = -count;
            if (varint(c, 10, &size) || size < 0)
                return size < 0 ? bad(c, "bad block size") : -1;
        }
        /* Every item takes a byte at least, except zero-size ones nobody puts in an array. */
        if (count > c->end - c->p)
            return bad(c, "block of %lld items, only %zu bytes left", (long long)count,
                       (size_t)(c->end - c->p));
        for (int64_t i = 0; i < count; i++) {
            int64_t klen = 0;
            avro_value_t child, *cp = dest ? &child : NULL;
            if (n->type == AVRO_MAP && (varint(c, 10, &klen) || take(c, klen, "map key")))
                return -1;
            if (dest && (n->type == AVRO_MAP ? avro_value_add(dest, staged(c, klen), cp, NULL, NULL)
                                             : avro_value_append(dest, cp, NULL)))
                return bad(c, "%s", avro_strerror());
            if (walk(n->kids[0], c, depth + 1, cp))
                return -1;
        }
    }
}

/* Little-endian IEEE 754, as the spec says, whatever the host. */
static uint64_t le_bits(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int leaf(const shop_wire_node_t *n, cursor_t *c, avro_value_t *dest, int64_t v) {
    int r = 0;
    switch (n->type) {
    case AVRO_NULL:
        r = avro_value_set_null(dest);
        break;
    case AVRO_BOOLEAN:
        r = avro_value_set_boolean(dest, c->p[-1]);
        break;
    case AVRO_INT32:
        r = avro_value_set_int(dest, (int32_t)v);
        break;
    case AVRO_INT64:
        r = avro_value_set_long(dest, v);
        break;
    case AVRO_FLOAT: {
        uint32_t bits = (uint32_t)le_bits(c->p - 4, 4);
        float f;
        memcpy(&f, &bits, 4);
        c->suspect |= !isfinite(f);
        r = avro_value_set_float(dest, f);
        break;
    }
    case AVRO_DOUBLE: {
        uint64_t bits = le_bits(c->p - 8, 8);
        double d;
        memcpy(&d, &bits, 8);
        c->suspect |= !isfinite(d);
        r = avro_value_set_double(dest, d);
        break;
    }
    case AVRO_STRING: {
        /* the event check's scan, while the bytes are in cache (the runtime then skips its walk
         * of the decoded value) */
        const char *what;
        unsigned ctl;
        if ((size_t)v > c->longest)
            c->longest = (size_t)v;
        if (!c->suspect && shop_utf8_scan(c->p - v, (size_t)v, &what, &ctl) >= 0)
            c->suspect = 1;
        r = avro_value_set_string_len(dest, staged(c, v), (size_t)v + 1);
        break;
    }
    case AVRO_BYTES:
        r = avro_value_set_bytes(dest, (void *)(c->p - v), (size_t)v);
        break;
    case AVRO_FIXED:
        r = avro_value_set_fixed(dest, (void *)(c->p - n->n), n->n);
        break;
    case AVRO_ENUM:
        r = avro_value_set_enum(dest, (int)v);
        break;
    default:
        break;
    }
    return r ? bad(c, "%s", avro_strerror()) : 0;
}

/* Measures (dest NULL) or decodes into dest one value of node n. */
static int walk(const shop_wire_node_t *n, cursor_t *c, int depth, avro_value_t *dest) {
    int64_t v = 0;
    avro_value_t child;
    if (depth > WIRE_MAX_DEPTH)
        return bad(c, "nested deeper than %d", WIRE_MAX_DEPTH);
    switch (n->type) {
    case AVRO_NULL:
        break;
    case AVRO_BOOLEAN:
        if (c->p >= c->end)
            return bad(c, "truncated boolean");
        if (*c->p > 1)
            return bad(c, "boolean byte 0x%02x", *c->p);
        c->p++;
        break;
    case AVRO_INT32:
        if (varint(c, 5, &v))
            return -1;
        if (v < INT32_MIN || v > INT32_MAX)
            return bad(c, "int out of range");
        break;
    case AVRO_INT64:
        if (varint(c, 10, &v))
            return -1;
        break;
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        if (take(c, n->type == AVRO_FLOAT ? 4 : 8, "float"))
            return -1;
        break;
    case AVRO_STRING:
    case AVRO_BYTES:
        if (varint(c, 10, &v) || take(c, v, n->type == AVRO_STRING ? "string" : "bytes"))
            return -1;
        break;
    case AVRO_FIXED:
        if (take(c, (int64_t)n->n, "fixed"))
            return -1;
        break;
    case AVRO_ENUM:
        if (varint(c, 10, &v))
            return -1;
        if (v < 0 || (size_t)v >= n->n)
            return bad(c, "enum index %lld out of range", (long long)v);
        break;
    case AVRO_RECORD:
        for (size_t i = 0; i < n->n; i++) {
            if (dest && avro_value_get_by_index(dest, i, &child, NULL))
                return bad(c, "%s", avro_strerror());
            if (walk(n->kids[i], c, depth + 1, dest ? &child : NULL))
                return -1;
        }
        return 0;
    case AVRO_UNION:
        if (varint(c, 10, &v))
            return -1;
        if (v < 0 || (size_t)v >= n->n)
            return bad(c, "union branch %lld out of range", (long long)v);
        if (dest && avro_value_set_branch(dest, (int)v, &child))
            return bad(c, "%s", avro_strerror());
        return walk(n->kids[v], c, depth + 1, dest ? &child : NULL);
    case AVRO_ARRAY:
    case AVRO_MAP:
        return walk_blocks(n, c, depth, dest);
    default:
        return bad(c, "unsupported schema type");
    }
    return dest ? leaf(n, c, dest, v) : 0;
}

int shop_wire_check(const shop_wire_t *w, const void *buf, size_t len, size_t *consumed, char *why,
                    size_t why_size) {
    cursor_t c = {buf, (const unsigned char *)buf + len, why, why_size, NULL, 0, 0};
    if (walk(w->root, &c, 0, NULL))
        return SHOP_ERR_INVALID;
    *consumed = (size_t)(c.p - (const unsigned char *)buf);
    return SHOP_OK;
}

int shop_wire_read(const shop_wire_t *w, const void *buf, size_t len, avro_value_t *dest,
                   shop_buf_t *scratch, shop_wire_scan_t *scan, size_t *consumed, char *why,
                   size_t why_size) {
    cursor_t c = {buf, (const unsigned char *)buf + len, why, why_size, scratch, 0, 0};
    avro_value_reset(dest);
    if (walk(w->root, &c, 0, dest))
        return SHOP_ERR_INVALID;
    if (scan)
        *scan = (shop_wire_scan_t){!c.suspect, c.longest};
    *consumed = (size_t)(c.p - (const unsigned char *)buf);
    return SHOP_OK;
}
