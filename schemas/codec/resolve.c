/* resolve.c: schema evolution beyond what avro-c resolves by itself.
 *
 * avro-c 1.11's avro_resolved_writer refuses a reader field the writer lacks ("Reader field X
 * doesn't appear in writer"; default values are a TODO in resolved-writer.c). The Avro spec says
 * the reader's default fills such a field. So for an old writer we resolve into the reader schema
 * *projected* onto the writer (the reader minus those fields), then copy that value into the real
 * reader value and fill the dropped fields from their JSON defaults. Only events written by an
 * older schema pay for the copy; same-version events are read straight into the reader value. */
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

static int has_field(json_t *record, const char *name) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(record, "fields"), i, f) {
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (fname && !strcmp(fname, name))
            return 1;
    }
    return 0;
}

static int is_record_node(json_t *node) {
    const char *t = json_string_value(json_object_get(node, "type"));
    return t && (!strcmp(t, "record") || !strcmp(t, "error"));
}

/* Drops from the reader record `rnode` the fields the writer record `wnode` lacks. */
static int project_record(const shop_schema_entry_t *writer, const char *full, json_t *rnode,
                          json_t *wnode, size_t *dropped, char *errstr, size_t errstr_size) {
    json_t *fields = json_object_get(rnode, "fields");
    for (size_t i = json_array_size(fields); i-- > 0;) {
        json_t *f = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (!fname || has_field(wnode, fname))
            continue;
        if (!json_object_get(f, "default"))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "reader field %s.%s has no default and writer version %d lacks it",
                               full, fname, writer->info.version);
        json_array_remove(fields, i);
        (*dropped)++;
    }
    return SHOP_OK;
}

int shop_schema_project(const shop_schema_entry_t *reader, const shop_schema_entry_t *writer,
                        json_t **out_doc, char *errstr, size_t errstr_size) {
    json_t *doc = json_deep_copy(reader->doc);
    json_t *names = json_object();
    size_t dropped = 0;
    const char *full;
    json_t *rnode;
    *out_doc = NULL;
    int r = shop_schema_walk(doc, names, NULL, errstr, errstr_size);
    json_object_foreach(names, full, rnode) {
        if (r)
            break;
        json_t *wnode = json_object_get(writer->names, full);
        if (!is_record_node(rnode) || !wnode || !is_record_node(wnode))
            continue;
        r = project_record(writer, full, rnode, wnode, &dropped, errstr, errstr_size);
    }
    json_decref(names);
    if (r || !dropped) {
        json_decref(doc);
        return r;
    }
    *out_doc = doc;
    return SHOP_OK;
}

/* ---- copy projected value -> reader value ---- */

static int copy_value(const shop_schema_entry_t *reader, json_t *node, avro_value_t *src,
                      avro_value_t *dest, char *errstr, size_t errstr_size);

/* The projection only removed fields, so the source fields are the destination's in the same
 * order with gaps: one forward walk pairs them, with no by-name lookups (which in avro-c write a
 * process-global error text on every miss). */
static int copy_record(const shop_schema_entry_t *reader, json_t *node, avro_value_t *src,
                       avro_value_t *dest, char *errstr, size_t errstr_size) {
    avro_schema_t ds = avro_value_get_schema(dest), ss = avro_value_get_schema(src);
    json_t *fields = json_object_get(node, "fields");
    size_t n = avro_schema_record_size(ds), sn = avro_schema_record_size(ss), j = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(ds, (int)i);
        json_t *fnode = json_array_get(fields, i);
        avro_value_t d, s;
        int r;
        if (avro_value_get_by_index(dest, i, &d, NULL))
            return SHOP_ERR_INVALID;
        if (j < sn && !strcmp(avro_schema_record_field_name(ss, (int)j), name)) {
            if (avro_value_get_by_index(src, j++, &s, NULL))
                return SHOP_ERR_INVALID;
            r = copy_value(reader, json_object_get(fnode, "type"), &s, &d, errstr, errstr_size);
        } else {
            r = shop_json_to_value(reader, json_object_get(fnode, "type"),
                                   json_object_get(fnode, "default"), &d, "default", name, errstr,
                                   errstr_size);
        }
        if (r)
            return r;
    }
    return SHOP_OK;
}

static int copy_container(const shop_schema_entry_t *reader, json_t *node, avro_value_t *src,
                          avro_value_t *dest, char *errstr, size_t errstr_size) {
    int is_map = avro_value_get_type(dest) == AVRO_MAP;
    json_t *child_node = json_object_get(node, is_map ? "values" : "items");
    size_t n = 0;
    avro_value_get_size(src, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t s, d;
        const char *key = NULL;
        if (avro_value_get_by_index(src, i, &s, &key))
            return SHOP_ERR_INVALID;
        if (is_map ? avro_value_add(dest, key, &d, NULL, NULL) : avro_value_append(dest, &d, NULL))
            return SHOP_ERR_INVALID;
        int r = copy_value(reader, child_node, &s, &d, errstr, errstr_size);
        if (r)
            return r;
    }
    return SHOP_OK;
}

static int copy_primitive(avro_value_t *src, avro_value_t *dest) {
    switch (avro_value_get_type(dest)) {
    case AVRO_NULL:
        return avro_value_set_null(dest);
    case AVRO_BOOLEAN: {
        int b = 0;
        return avro_value_get_boolean(src, &b) || avro_value_set_boolean(dest, b);
    }
    case AVRO_INT32: {
        int32_t x = 0;
        return avro_value_get_int(src, &x) || avro_value_set_int(dest, x);
    }
    case AVRO_INT64: {
        int64_t x = 0;
        return avro_value_get_long(src, &x) || avro_value_set_long(dest, x);
    }
    case AVRO_FLOAT: {
        float x = 0;
        return avro_value_get_float(src, &x) || avro_value_set_float(dest, x);
    }
    case AVRO_DOUBLE: {
        double x = 0;
        return avro_value_get_double(src, &x) || avro_value_set_double(dest, x);
    }
    case AVRO_ENUM: {
        int x = 0;
        return avro_value_get_enum(src, &x) || avro_value_set_enum(dest, x);
    }
    case AVRO_STRING: {
        const char *s = NULL;
        size_t size = 0;
        return avro_value_get_string(src, &s, &size) || avro_value_set_string_len(dest, s, size);
    }
    case AVRO_BYTES: {
        const void *b = NULL;
        size_t size = 0;
        return avro_value_get_bytes(src, &b, &size) || avro_value_set_bytes(dest, (void *)b, size);
    }
    case AVRO_FIXED: {
        const void *b = NULL;
        size_t size = 0;
        return avro_value_get_fixed(src, &b, &size) || avro_value_set_fixed(dest, (void *)b, size);
    }
    default:
        return EINVAL;
    }
}

static int copy_value(const shop_schema_entry_t *reader, json_t *node, avro_value_t *src,
                      avro_value_t *dest, char *errstr, size_t errstr_size) {
    node = shop_entry_type_node(reader, node, avro_value_get_schema(dest));
    switch (avro_value_get_type(dest)) {
    case AVRO_RECORD:
        return copy_record(reader, node, src, dest, errstr, errstr_size);
    case AVRO_ARRAY:
    case AVRO_MAP:
        return copy_container(reader, node, src, dest, errstr, errstr_size);
    case AVRO_UNION: {
        int disc = -1;
        avro_value_t sb, db;
        if (avro_value_get_discriminant(src, &disc) || disc < 0 ||
            avro_value_get_current_branch(src, &sb) || avro_value_set_branch(dest, disc, &db))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "union without a branch");
        return copy_value(reader, json_array_get(node, (size_t)disc), &sb, &db, errstr,
                          errstr_size);
    }
    default:
        if (copy_primitive(src, dest))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "copy failed: %s",
                               avro_strerror());
        return SHOP_OK;
    }
}

int shop_value_copy_projected(const shop_schema_entry_t *reader, json_t *type_node,
                              avro_value_t *src, avro_value_t *dest, char *errstr,
                              size_t errstr_size) {
    return copy_value(reader, type_node, src, dest, errstr, errstr_size);
}
