/* codec_internal.h: structures and helpers shared by the codec's own .c files (and its unit tests);
 * other modules use shop_codec.h only. */
#ifndef SHOP_CODEC_INTERNAL_H
#define SHOP_CODEC_INTERNAL_H

#include <pthread.h>

#include "shop_codec.h"

typedef struct shop_wire_node shop_wire_node_t;
typedef struct shop_wire shop_wire_t;

/* A record definition's fields, precomputed so encoding does no JSON lookups into the schema. */
typedef struct shop_field_plan {
    const char *name; /* borrowed from the schema JSON */
    json_t *type;     /* the field's "type" node, borrowed */
    json_t *def;      /* its "default" node, or NULL */
    int null_branch;  /* index of "null" when the type is a union with it, else -1 */
} shop_field_plan_t;

typedef struct shop_record_plan {
    json_t *node; /* the record definition inside the entry's doc */
    size_t nfields;
    shop_field_plan_t *fields;
} shop_record_plan_t;

/* One schema of the set. `info` comes first so that a shop_schema_info_t pointer handed out by
 * the codec converts back with shop_entry_of(). Entries live until shop_codec_destroy(), so
 * borrowed pointers into them stay valid for the codec's life. */
typedef struct shop_schema_entry {
    shop_schema_info_t info;
    char *topic, *key_field, *name, *canonical, *json; /* owned storage behind `info` */
    json_t *doc;                                       /* parsed schema JSON, owned */
    json_t *names; /* fullname -> definition node inside `doc` (owned object, borrowed nodes) */
    int from_registry;
    int is_event; /* has the shop envelope: event_id, occurred_at, type, key, payload */
    int f_event_id, f_occurred_at, f_type, f_key, f_payload; /* field indices, -1 if absent */
    size_t nbranches;
    char **branch_type; /* "shop.type" of each payload branch, owned */
    shop_event_kind_t *branch_kind;
    json_t *env_fields;     /* envelope field name -> index (payload excluded), owned */
    json_t **branch_fields; /* per branch: field name -> index, owned */
    int32_t registry_id;    /* schema registry id once known, else -1 (guarded by the codec lock) */
    shop_record_plan_t *plans; /* one per record definition, owned */
    size_t nplans;
    shop_wire_t *wire; /* bounds checker for bodies this schema wrote, owned */
} shop_schema_entry_t;

#define shop_entry_of(info_ptr) ((shop_schema_entry_t *)(info_ptr))

typedef struct shop_type_route {
    const char *type;           /* borrowed from the entry */
    shop_schema_entry_t *entry; /* current schema of the topic */
    int branch;
} shop_type_route_t;

typedef struct shop_registry_slot {
    int32_t id;
    shop_schema_entry_t *entry; /* NULL: a cached "not found" until neg_until_ms */
    int64_t neg_until_ms;
} shop_registry_slot_t;

struct shop_enc_state;

struct shop_codec {
    pthread_mutex_t lock; /* guards everything below that changes after shop_codec_new() */
    shop_schema_entry_t **entries;
    size_t nentries, capentries;
    const char **topics;      /* NULL-terminated current topics */
    shop_type_route_t *types; /* sorted by type */
    size_t ntypes;
    char *registry_url; /* without trailing slash; NULL when none */
    shop_registry_slot_t *reg;
    size_t nreg, capreg;
    unsigned generation; /* bumped whenever a topic's current schema changes (atomic reads) */
    struct shop_enc_state *enc_free;
};

/* ---- canonical.c ---- */

/* Fills `names` (a JSON object) with fullname -> definition node for every named type in `doc`
 * (the nodes stay owned by `doc`), and, when out_canonical is not NULL, writes the Parsing
 * Canonical Form as a heap string the caller frees. */
int shop_schema_walk(json_t *doc, json_t *names, char **out_canonical, char *errstr,
                     size_t errstr_size);
int shop_schema_is_primitive(const char *name);

/* ---- codec.c ---- */

/* JSON node describing the type of a value whose avro-c schema is `s`: resolves named
 * references through entry->names. `node` is the JSON "type" value at that position. Borrowed. */
json_t *shop_entry_type_node(const shop_schema_entry_t *entry, json_t *node, avro_schema_t s);
/* The plan of a record definition node of `entry`; NULL if `node` is not one. Borrowed. */
const shop_record_plan_t *shop_entry_plan(const shop_schema_entry_t *entry, json_t *node);
/* The current schema that reads events written with `writer` (may be `writer` itself). */
shop_schema_entry_t *shop_codec_reader_of(shop_codec_t *codec, shop_schema_entry_t *writer);
/* Writer schema for a Confluent schema id, fetched from the registry on first use.
 * SHOP_ERR_RETRYABLE when the registry is unreachable, SHOP_ERR_INVALID when the id is unknown. */
int shop_codec_schema_by_registry_id(shop_codec_t *codec, int32_t id, shop_schema_entry_t **out,
                                     char *errstr, size_t errstr_size);
/* Registry id of `entry` (registering it under "<topic>-value" on first use). */
int shop_codec_registry_id_of(shop_codec_t *codec, shop_schema_entry_t *entry, int32_t *out_id,
                              char *errstr, size_t errstr_size);
unsigned shop_codec_generation(shop_codec_t *codec);
/* Current schema and payload branch for an event type; SHOP_ERR_NOTFOUND when unknown. */
int shop_codec_route(shop_codec_t *codec, const char *type, const shop_schema_info_t **out_schema,
                     int *out_branch);

/* ---- json.c ---- */

/* Sets `dest` (of the avro-c schema at this position) from JSON `val`, using `type_node` (the
 * schema JSON at this position) for logical types and defaults. `what` and `path` prefix error
 * messages: "<what>: field <path>: <problem>". */
int shop_json_to_value(const shop_schema_entry_t *entry, json_t *type_node, json_t *val,
                       avro_value_t *dest, const char *what, const char *path, char *errstr,
                       size_t errstr_size);
/* Fills record value `rec` (of `entry`, payload branch `branch`) from the flat JSON form,
 * generating event_id and occurred_at when absent. */
int shop_json_fill_flat(const shop_schema_entry_t *entry, int branch, json_t *obj,
                        avro_value_t *rec, char *errstr, size_t errstr_size);
/* Avro value -> JSON (unions as their branch's plain value). New reference. */
json_t *shop_value_to_json(avro_value_t *val);
void shop_enc_pool_destroy(shop_codec_t *codec);

/* Encodes `obj` (flat JSON) with a given schema of the set, which may be an older version:
 * tests and tools use it to produce old-writer traffic. Same contract as shop_codec_encode_json. */
int shop_codec_encode_json_with(shop_codec_t *codec, const shop_schema_info_t *schema, json_t *obj,
                                shop_framing_t framing, shop_encoded_t *out, char *errstr,
                                size_t errstr_size);

/* ---- resolve.c ---- */

/* Builds the reader schema projected onto what `writer` wrote: `reader` without the record
 * fields the writer lacks (each must have a default). *out_doc is NULL when nothing had to be
 * dropped, else a new JSON reference the caller owns. */
int shop_schema_project(const shop_schema_entry_t *reader, const shop_schema_entry_t *writer,
                        json_t **out_doc, char *errstr, size_t errstr_size);
/* Copies `src` (a value of the projected schema) into `dest` (a value of `reader`), filling the
 * dropped fields with their defaults. */
int shop_value_copy_projected(const shop_schema_entry_t *reader, json_t *type_node,
                              avro_value_t *src, avro_value_t *dest, char *errstr,
                              size_t errstr_size);

/* ---- wire.c ---- */

/* Compiles `schema` for shop_wire_check(); free with shop_wire_free(). */
shop_wire_t *shop_wire_compile(avro_schema_t schema);
void shop_wire_free(shop_wire_t *wire);
/* Walks one Avro binary value in buf[0..len) without decoding it: *consumed gets its exact size.
 * SHOP_ERR_INVALID (reason in `why`) when it is truncated or structurally impossible. */
int shop_wire_check(const shop_wire_t *wire, const void *buf, size_t len, size_t *consumed,
                    char *why, size_t why_size);
/* What shop_wire_read() saw of the text it set: whether every string (map keys aside) passed
 * shop_utf8_scan() and every float and double is finite, and the longest string in bytes. */
typedef struct {
    int clean;
    size_t longest;
} shop_wire_scan_t;
/* The same walk, also setting every value into `dest` (a value of the same schema) through
 * avro-c's value API, whose reused buffers make this allocation-free once warm. `scratch` is
 * caller-owned working space; `scan` (may be NULL) receives what the walk saw of the text. */
int shop_wire_read(const shop_wire_t *wire, const void *buf, size_t len, avro_value_t *dest,
                   shop_buf_t *scratch, shop_wire_scan_t *scan, size_t *consumed, char *why,
                   size_t why_size);

/* ---- registry.c ---- */

/* GET {url}/schemas/ids/{id}. On success *out_json is a heap string the caller frees.
 * 404 -> SHOP_ERR_INVALID; network failure or any other status -> SHOP_ERR_RETRYABLE. */
int shop_registry_fetch(const char *url, int32_t id, char **out_json, char *errstr,
                        size_t errstr_size);
/* POST {url}/subjects/{subject}/versions. Network/5xx -> RETRYABLE, other 4xx -> CONFIG. */
int shop_registry_register(const char *url, const char *subject, const char *schema_json,
                           int32_t *out_id, char *errstr, size_t errstr_size);
void shop_registry_global_init(void);

#endif
