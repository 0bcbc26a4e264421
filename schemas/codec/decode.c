/* decode.c: framed Kafka message -> event in the current reader schema of its topic.
 *
 * Hot path: one cached slot per writer schema (fingerprint or registry id). When the writer is
 * the reader, wire.c checks and decodes the body in one pass into the reused reader value (no
 * allocation once warm). An older (or newer) writer is bounds-checked by wire.c, then read by a
 * cached avro_resolved_writer into the reader value, or into the reader projected onto it when
 * the reader added fields (resolve.c fills their defaults). Nothing is looked up in the codec
 * (no lock) once a writer has been seen. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

typedef struct dec_reader {
    shop_schema_entry_t *entry;
    avro_value_iface_t *iface;
    avro_value_t value;
} dec_reader_t;

typedef struct dec_slot {
    int64_t key; /* fingerprint, or schema registry id */
    int confluent;
    shop_schema_entry_t *writer;
    dec_reader_t *reader;
    avro_value_iface_t *resolver; /* NULL when the writer is the reader */
    avro_value_t resolved;        /* writes into reader->value, or into proj_value */
    avro_schema_t proj_schema;    /* reader projected onto the writer (see resolve.c), or NULL */
    avro_value_iface_t *proj_iface;
    avro_value_t proj_value;
    char *error; /* a known writer that cannot be read: the reason, so it is not retried */
} dec_slot_t;

struct shop_decoder {
    shop_codec_t *codec;
    unsigned generation;
    avro_reader_t rd;
    dec_reader_t **readers;
    size_t nreaders;
    dec_slot_t **slots;
    size_t nslots;
    dec_slot_t *last;
    shop_event_t ev;
    shop_buf_t scratch;
};

static void slot_free(dec_slot_t *s) {
    if (s->resolver) {
        avro_value_decref(&s->resolved);
        avro_value_iface_decref(s->resolver);
    }
    if (s->proj_iface) {
        avro_value_decref(&s->proj_value);
        avro_value_iface_decref(s->proj_iface);
    }
    if (s->proj_schema)
        avro_schema_decref(s->proj_schema);
    free(s->error);
    free(s);
}

/* Drops every cached resolver and value (the codec's current schemas changed). */
static void dec_flush(shop_decoder_t *dec) {
    for (size_t i = 0; i < dec->nslots; i++)
        slot_free(dec->slots[i]);
    for (size_t i = 0; i < dec->nreaders; i++) {
        avro_value_decref(&dec->readers[i]->value);
        avro_value_iface_decref(dec->readers[i]->iface);
        free(dec->readers[i]);
    }
    free(dec->slots);
    free(dec->readers);
    dec->slots = NULL;
    dec->readers = NULL;
    dec->nslots = dec->nreaders = 0;
    dec->last = NULL;
    memset(&dec->ev, 0, sizeof(dec->ev));
    dec->generation = shop_codec_generation(dec->codec);
}

shop_decoder_t *shop_decoder_new(shop_codec_t *codec) {
    static const char empty[1];
    shop_decoder_t *dec = shop_xcalloc(1, sizeof(*dec));
    dec->codec = codec;
    dec->rd = avro_reader_memory(empty, 0);
    dec->generation = shop_codec_generation(codec);
    return dec;
}

void shop_decoder_destroy(shop_decoder_t *dec) {
    if (!dec)
        return;
    dec_flush(dec);
    avro_reader_free(dec->rd);
    shop_buf_release(&dec->scratch);
    free(dec);
}

static dec_reader_t *reader_get(shop_decoder_t *dec, shop_schema_entry_t *e, char *errstr,
                                size_t errstr_size) {
    for (size_t i = 0; i < dec->nreaders; i++)
        if (dec->readers[i]->entry == e)
            return dec->readers[i];
    dec_reader_t *r = shop_xcalloc(1, sizeof(*r));
    r->entry = e;
    r->iface = avro_generic_class_from_schema(e->info.schema);
    if (!r->iface || avro_generic_value_new(r->iface, &r->value)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "avro: %s", avro_strerror());
        if (r->iface)
            avro_value_iface_decref(r->iface);
        free(r);
        return NULL;
    }
    dec->readers = shop_xrealloc(dec->readers, (dec->nreaders + 1) * sizeof(*dec->readers));
    dec->readers[dec->nreaders++] = r;
    return r;
}

/* Resolver from the slot's writer into its reader (projected when the reader added fields). */
static int slot_resolve(dec_slot_t *s, char *errstr, size_t errstr_size) {
    shop_schema_entry_t *w = s->writer, *re = s->reader->entry;
    json_t *proj = NULL;
    char err2[320];
    int r = shop_schema_project(re, w, &proj, err2, sizeof(err2));
    avro_schema_t target = re->info.schema;
    if (!r && proj) {
        char *txt = json_dumps(proj, JSON_COMPACT);
        if (!txt || avro_schema_from_json_length(txt, strlen(txt), &s->proj_schema)) {
            snprintf(err2, sizeof(err2), "projected schema: %s", avro_strerror());
            s->proj_schema = NULL;
            r = SHOP_ERR_INVALID;
        }
        free(txt);
        target = s->proj_schema;
    }
    json_decref(proj);
    if (!r && !(s->resolver = avro_resolved_writer_new(w->info.schema, target))) {
        snprintf(err2, sizeof(err2), "%s", avro_strerror());
        r = SHOP_ERR_INVALID;
    }
    if (!r && avro_resolved_writer_new_value(s->resolver, &s->resolved)) {
        avro_value_iface_decref(s->resolver);
        s->resolver = NULL;
        snprintf(err2, sizeof(err2), "%s", avro_strerror());
        r = SHOP_ERR_INVALID;
    }
    if (!r && s->proj_schema) {
        s->proj_iface = avro_generic_class_from_schema(s->proj_schema);
        if (!s->proj_iface || avro_generic_value_new(s->proj_iface, &s->proj_value)) {
            if (s->proj_iface)
                avro_value_iface_decref(s->proj_iface);
            s->proj_iface = NULL;
            snprintf(err2, sizeof(err2), "%s", avro_strerror());
            r = SHOP_ERR_INVALID;
        }
    }
    if (r)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "cannot read %s version %d as version %d: %s", w->name, w->info.version,
                           re->info.version, err2);
    avro_resolved_writer_set_dest(&s->resolved, s->proj_iface ? &s->proj_value : &s->reader->value);
    return SHOP_OK;
}

static int slot_new(shop_decoder_t *dec, int64_t key, int confluent, dec_slot_t **out, char *errstr,
                    size_t errstr_size) {
    shop_schema_entry_t *w = NULL;
    int r = SHOP_OK;
    if (confluent) {
        r = shop_codec_schema_by_registry_id(dec->codec, (int32_t)key, &w, errstr, errstr_size);
        if (r)
            return r;
    } else {
        const shop_schema_info_t *info = shop_codec_schema_by_fingerprint(dec->codec, key);
        if (!info)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "unknown schema fingerprint %" PRId64 " (0x%016" PRIx64 ")", key,
                               (uint64_t)key);
        w = shop_entry_of(info);
    }
    shop_schema_entry_t *reader = shop_codec_reader_of(dec->codec, w);
    if (confluent && !reader->is_event) /* only schemas added by hand may lack the envelope */
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "schema id %d (%s) is not a shopstream event schema", (int)key, w->name);
    dec_slot_t *s = shop_xcalloc(1, sizeof(*s));
    s->key = key;
    s->confluent = confluent;
    s->writer = w;
    if (!(s->reader = reader_get(dec, reader, errstr, errstr_size))) {
        slot_free(s);
        return SHOP_ERR_FATAL;
    }
    char why[512];
    if (s->reader->entry != w && slot_resolve(s, why, sizeof(why)))
        s->error = shop_xstrdup(why);
    dec->slots = shop_xrealloc(dec->slots, (dec->nslots + 1) * sizeof(*dec->slots));
    dec->slots[dec->nslots++] = s;
    *out = s;
    return SHOP_OK;
}

static int slot_get(shop_decoder_t *dec, int64_t key, int confluent, dec_slot_t **out, char *errstr,
                    size_t errstr_size) {
    dec_slot_t *s = dec->last;
    if (s && s->key == key && s->confluent == confluent) {
        *out = s;
        return SHOP_OK;
    }
    for (size_t i = 0; i < dec->nslots; i++) {
        s = dec->slots[i];
        if (s->key == key && s->confluent == confluent) {
            *out = dec->last = s;
            return SHOP_OK;
        }
    }
    int r = slot_new(dec, key, confluent, out, errstr, errstr_size);
    if (!r)
        dec->last = *out;
    return r;
}

/* Envelope fields into dec->ev, and the structural check that "type" names the payload branch. */
static int fill_event(shop_decoder_t *dec, dec_slot_t *s, char *errstr, size_t errstr_size) {
    shop_event_t *ev = &dec->ev;
    shop_schema_entry_t *re = s->reader->entry;
    avro_value_t *v = &s->reader->value, f, u;
    size_t size;
    int disc = -1;
    ev->writer = &s->writer->info;
    ev->reader = &re->info;
    ev->value = v;
    if (!re->is_event) { /* a foreign schema (added for inspection): no envelope */
        ev->kind = SHOP_EV_UNKNOWN;
        ev->type = ev->event_id = ev->key = NULL;
        ev->occurred_at = 0;
        memset(&ev->payload, 0, sizeof(ev->payload));
        return SHOP_OK;
    }
    if (avro_value_get_by_index(v, (size_t)re->f_type, &f, NULL) ||
        avro_value_get_string(&f, &ev->type, &size) ||
        avro_value_get_by_index(v, (size_t)re->f_event_id, &f, NULL) ||
        avro_value_get_string(&f, &ev->event_id, &size) ||
        avro_value_get_by_index(v, (size_t)re->f_occurred_at, &f, NULL) ||
        avro_value_get_long(&f, &ev->occurred_at) ||
        avro_value_get_by_index(v, (size_t)re->f_key, &f, NULL) ||
        avro_value_get_string(&f, &ev->key, &size) ||
        avro_value_get_by_index(v, (size_t)re->f_payload, &u, NULL) ||
        avro_value_get_discriminant(&u, &disc) || disc < 0 || (size_t)disc >= re->nbranches ||
        avro_value_get_current_branch(&u, &ev->payload))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: incomplete envelope: %s",
                           re->name, avro_strerror());
    if (strcmp(ev->type, re->branch_type[disc]))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "type \"%s\" does not match the payload branch %s", ev->type,
                           re->branch_type[disc]);
    ev->kind = re->branch_kind[disc];
    return SHOP_OK;
}

static int read_body(shop_decoder_t *dec, dec_slot_t *s, const unsigned char *body, size_t len,
                     char *errstr, size_t errstr_size) {
    avro_value_t *target = s->resolver ? &s->resolved : &s->reader->value;
    char why[160];
    size_t used = 0;
    dec->ev.text_clean = 0;
    dec->ev.longest_string = 0;
    if (!s->resolver) { /* same schema: one pass that checks and fills */
        shop_wire_scan_t scan = {0, 0};
        if (shop_wire_read(s->writer->wire, body, len, target, &dec->scratch, &scan, &used, why,
                           sizeof(why)))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "truncated or malformed %s (version %d) body: %s", s->writer->name,
                               s->writer->info.version, why);
        if (used != len)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%zu trailing bytes after the %s record", len - used,
                               s->writer->name);
        dec->ev.text_clean = scan.clean;
        dec->ev.longest_string = scan.longest;
        return SHOP_OK;
    }
    if (shop_wire_check(s->writer->wire, body, len, &used, why, sizeof(why)))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "truncated or malformed %s (version %d) body: %s", s->writer->name,
                           s->writer->info.version, why);
    if (used != len)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%zu trailing bytes after the %s record", len - used, s->writer->name);
    avro_reader_memory_set_source(dec->rd, (const char *)body, (int64_t)len);
    if (avro_value_read(dec->rd, target)) /* well-formed, so resolution failed (e.g. a new type) */
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "%s version %d cannot be read as version %d: %s", s->writer->name,
                           s->writer->info.version, s->reader->entry->info.version,
                           avro_strerror());
    if (s->proj_iface) {
        avro_value_reset(&s->reader->value);
        return shop_value_copy_projected(s->reader->entry, s->reader->entry->doc, &s->proj_value,
                                         &s->reader->value, errstr, errstr_size);
    }
    return SHOP_OK;
}

int shop_decoder_decode(shop_decoder_t *dec, const void *buf, size_t len, const shop_event_t **out,
                        char *errstr, size_t errstr_size) {
    const unsigned char *p = buf;
    dec_slot_t *s = NULL;
    size_t hdr;
    int r;
    if (shop_codec_generation(dec->codec) != dec->generation)
        dec_flush(dec);
    if (!len)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "empty message");
    if (p[0] == 0xC3) {
        if (len < 10 || p[1] != 0x01)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               len < 10 ? "single-object header truncated (%zu bytes)"
                                        : "unknown single-object version (%zu bytes)",
                               len);
        uint64_t fp = 0;
        for (int i = 7; i >= 0; i--)
            fp = (fp << 8) | p[2 + i];
        r = slot_get(dec, (int64_t)fp, 0, &s, errstr, errstr_size);
        hdr = 10;
    } else if (p[0] == 0x00) {
        if (len < 5)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "Confluent header truncated (%zu bytes)", len);
        uint32_t id =
            ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4];
        r = slot_get(dec, (int32_t)id, 1, &s, errstr, errstr_size);
        hdr = 5;
    } else {
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "unknown magic byte 0x%02x",
                           p[0]);
    }
    if (r)
        return r;
    if (s->error)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s", s->error);
    if ((r = read_body(dec, s, p + hdr, len - hdr, errstr, errstr_size)))
        return r;
    if ((r = fill_event(dec, s, errstr, errstr_size)))
        return r;
    *out = &dec->ev;
    return SHOP_OK;
}

/* ---- field access ---- */

/* The field's index in the record schema, -1 when it has none. A scan of the names, not
 * avro_schema_record_field_get_index(): that one formats an error message (vsnprintf) for every
 * field a record lacks, and workers ask for optional fields of other event types all the time. */
static int field_index(avro_schema_t schema, const char *field) {
    size_t n = avro_schema_record_size(schema);
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(schema, (int)i);
        if (name && !strcmp(name, field))
            return (int)i;
    }
    return -1;
}

static int field_value(avro_value_t *rec, const char *field, avro_value_t *out) {
    if (!rec || !rec->iface || avro_value_get_type(rec) != AVRO_RECORD)
        return SHOP_ERR_INVALID;
    int i = field_index(avro_value_get_schema(rec), field);
    if (i < 0 || avro_value_get_by_index(rec, (size_t)i, out, NULL))
        return SHOP_ERR_NOTFOUND;
    if (avro_value_get_type(out) == AVRO_UNION) {
        avro_value_t b;
        if (avro_value_get_current_branch(out, &b))
            return SHOP_ERR_NOTFOUND;
        *out = b;
    }
    return avro_value_get_type(out) == AVRO_NULL ? SHOP_ERR_NOTFOUND : SHOP_OK;
}

int shop_value_get_long(avro_value_t *rec, const char *field, int64_t *out) {
    avro_value_t v;
    int32_t i;
    int r = field_value(rec, field, &v);
    if (r)
        return r;
    if (avro_value_get_type(&v) == AVRO_INT32) {
        if (avro_value_get_int(&v, &i))
            return SHOP_ERR_INVALID;
        *out = i;
        return SHOP_OK;
    }
    return avro_value_get_type(&v) == AVRO_INT64 && !avro_value_get_long(&v, out)
               ? SHOP_OK
               : SHOP_ERR_INVALID;
}

int shop_value_get_int(avro_value_t *rec, const char *field, int32_t *out) {
    avro_value_t v;
    int r = field_value(rec, field, &v);
    if (r)
        return r;
    return avro_value_get_type(&v) == AVRO_INT32 && !avro_value_get_int(&v, out) ? SHOP_OK
                                                                                 : SHOP_ERR_INVALID;
}

int shop_value_get_string(avro_value_t *rec, const char *field, const char **out) {
    avro_value_t v;
    size_t size;
    int r = field_value(rec, field, &v);
    if (r)
        return r;
    return avro_value_get_type(&v) == AVRO_STRING && !avro_value_get_string(&v, out, &size)
               ? SHOP_OK
               : SHOP_ERR_INVALID;
}

int shop_value_get_double(avro_value_t *rec, const char *field, double *out) {
    avro_value_t v;
    float f;
    int r = field_value(rec, field, &v);
    if (r)
        return r;
    if (avro_value_get_type(&v) == AVRO_FLOAT) {
        if (avro_value_get_float(&v, &f))
            return SHOP_ERR_INVALID;
        *out = f;
        return SHOP_OK;
    }
    return avro_value_get_type(&v) == AVRO_DOUBLE && !avro_value_get_double(&v, out)
               ? SHOP_OK
               : SHOP_ERR_INVALID;
}

int shop_value_get_bool(avro_value_t *rec, const char *field, int *out) {
    avro_value_t v;
    int r = field_value(rec, field, &v);
    if (r)
        return r;
    return avro_value_get_type(&v) == AVRO_BOOLEAN && !avro_value_get_boolean(&v, out)
               ? SHOP_OK
               : SHOP_ERR_INVALID;
}
