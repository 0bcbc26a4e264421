/* shop_codec.h: the event codec shared by producers and consumers: Parsing Canonical Form,
 * CRC-64-AVRO fingerprints, single-object and Confluent framing, schema evolution, JSON <-> Avro.
 */
#ifndef SHOP_CODEC_H
#define SHOP_CODEC_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "shop.h"

/* ---- canonical form and fingerprint (Avro spec, "Parsing Canonical Form for Schemas") ---- */

/* CRC-64-AVRO (Rabin) fingerprint of `len` bytes. */
uint64_t shop_crc64_avro(const void *data, size_t len);

/* Parsing Canonical Form of the schema JSON text `schema_json`.
 * On success *out_canonical is a heap string the caller frees. */
int shop_schema_canonical(const char *schema_json, char **out_canonical, char *errstr,
                          size_t errstr_size);

/* Canonical form + fingerprint in one call (fingerprint of the canonical form). */
int shop_schema_fingerprint(const char *schema_json, int64_t *out_fp, char *errstr,
                            size_t errstr_size);

/* ---- the schema set: every event schema shopstream knows ---- */

/* Kinds of events, one per payload branch across all topics. Workers switch on these. */
typedef enum {
    SHOP_EV_UNKNOWN = 0,
    SHOP_EV_USER_SIGNUP,
    SHOP_EV_USER_LOGIN,
    SHOP_EV_USER_PRODUCT_VIEWED,
    SHOP_EV_USER_CART_ADDED,
    SHOP_EV_USER_CART_REMOVED,
    SHOP_EV_USER_WISHLIST_ADDED,
    SHOP_EV_USER_POINTS_EARNED,
    SHOP_EV_USER_POINTS_SPENT,
    SHOP_EV_USER_LEVEL_UP,
    SHOP_EV_USER_NOTIFICATION_PREFS_CHANGED,
    SHOP_EV_ORDER_PLACED,
    SHOP_EV_ORDER_PAID,
    SHOP_EV_ORDER_PAYMENT_FAILED,
    SHOP_EV_ORDER_CANCELLED,
    SHOP_EV_ORDER_REFUNDED,
    SHOP_EV_ORDER_CHARGEBACK,
    SHOP_EV_ORDER_SHIPPED,
    SHOP_EV_ORDER_DELIVERED,
    SHOP_EV_SEARCH_QUERY,
    SHOP_EV_SEARCH_SUGGESTION_CLICKED,
    SHOP_EV_SEARCH_RESULT_CLICKED,
    SHOP_EV_SEARCH_VISUAL,
    SHOP_EV_INVENTORY_STOCK_LEVEL,
    SHOP_EV_CATALOG_PRODUCT_UPSERTED,
    SHOP_EV__COUNT
} shop_event_kind_t;

/* "order.placed" for SHOP_EV_ORDER_PLACED; static storage. */
const char *shop_event_kind_name(shop_event_kind_t kind);
/* Inverse of the above; SHOP_EV_UNKNOWN when unknown. */
shop_event_kind_t shop_event_kind_from_name(const char *type);

typedef struct shop_codec shop_codec_t;

/* One schema known to the codec (a current reader schema or an older writer schema). */
typedef struct shop_schema_info {
    const char *topic;     /* "shop.order.events" ("shop.topic" attribute) */
    const char *key_field; /* "user_id" or "product_id" ("shop.key" attribute) */
    const char *name;      /* full name, "shop.events.OrderEvent" */
    int version;           /* "shop.version" attribute */
    int is_current;        /* the reader schema for its topic */
    int64_t fingerprint;   /* CRC-64-AVRO of the canonical form */
    const char *canonical; /* Parsing Canonical Form */
    const char *json;      /* schema text as written */
    avro_schema_t schema;  /* borrowed, owned by the codec */
} shop_schema_info_t;

/* Creates a codec loaded with the schemas compiled into the binary (every .avsc under
 * schemas/avro). `registry_url` may be NULL; when set, Confluent-framed messages are resolved
 * through it (GET {url}/schemas/ids/{id}) and encode registers under subject "<topic>-value".
 * Returns NULL and fills errstr on failure. Caller destroys with shop_codec_destroy(). */
shop_codec_t *shop_codec_new(const char *registry_url, char *errstr, size_t errstr_size);
void shop_codec_destroy(shop_codec_t *codec);

/* Adds one more schema (JSON text) to the set, e.g. an old writer version read from a file.
 * A schema with "shop.topic" and a higher "shop.version" than the topic's current one becomes the
 * current reader (decoders notice and drop their caches); an identical schema is a no-op; two
 * different schemas claiming one topic and version are refused. A schema without "shop.topic"
 * (any Avro record) decodes as itself, with kind SHOP_EV_UNKNOWN: useful for inspection. */
int shop_codec_add_schema(shop_codec_t *codec, const char *schema_json, char *errstr,
                          size_t errstr_size);

/* Lookups. Returned pointers are borrowed from the codec; NULL if none. */
const shop_schema_info_t *shop_codec_schema_by_fingerprint(shop_codec_t *codec, int64_t fp);
const shop_schema_info_t *shop_codec_current_for_topic(shop_codec_t *codec, const char *topic);
/* Topic of an event type ("order.placed" -> "shop.order.events"); NULL if unknown. */
const char *shop_codec_topic_for_type(shop_codec_t *codec, const char *type);
/* All current topics, NULL-terminated, borrowed (valid until the next shop_codec_add_schema). */
const char *const *shop_codec_topics(shop_codec_t *codec);
/* Every schema of the set (current and older versions, and any fetched from the registry):
 * stores up to `max` borrowed pointers into out[] and returns how many there are. */
size_t shop_codec_schemas(shop_codec_t *codec, const shop_schema_info_t **out, size_t max);

/* ---- decoded events ---- */

/* A decoded event, always in the *current* reader schema of its topic, whatever version wrote it.
 * Owned by the decoder that produced it and valid until that decoder's next decode call. */
typedef struct shop_event {
    const shop_schema_info_t *writer; /* the schema that wrote it (may be older) */
    const shop_schema_info_t *reader; /* the current schema of its topic */
    shop_event_kind_t kind;
    const char *type;     /* "order.placed", borrowed from the value */
    const char *event_id; /* borrowed */
    int64_t occurred_at;  /* ms since epoch */
    const char *key;      /* user_id or product_id, borrowed */
    avro_value_t *value;  /* the whole record (reader schema), borrowed */
    avro_value_t payload; /* the payload branch record, borrowed */
    /* Set by the decoder when it read the value from the bytes in one pass (the writer's schema
     * is the reader's): 1 when every string (map keys aside) is valid UTF-8 without control
     * characters (TAB, LF, CR aside) and every float is finite, else 0 (also when not known);
     * and the longest string in bytes. The runtime's event check needs no walk of a clean one. */
    int text_clean;
    size_t longest_string;
    /* Where the message came from: set by the worker runtime before process() (NULL/-1 when
     * the event was not read from Kafka). */
    const char *topic;
    int32_t partition;
    int64_t offset;
} shop_event_t;

typedef struct shop_decoder shop_decoder_t;

/* One decoder per thread; it caches resolvers per writer schema and reuses values.
 * The codec must outlive the decoder. The codec itself is thread-safe. */
shop_decoder_t *shop_decoder_new(shop_codec_t *codec);
void shop_decoder_destroy(shop_decoder_t *dec);

/* Decodes one Kafka message value. The first byte tells the framing apart:
 *   0xC3 0x01 + 8-byte little-endian fingerprint + Avro binary  (single-object encoding)
 *   0x00 + 4-byte big-endian schema id + Avro binary            (Confluent)
 * Returns 0 and sets *out (owned by the decoder), SHOP_ERR_INVALID with a reason in errstr
 * (wrong magic byte, unknown fingerprint or schema id, truncated or trailing bytes, a type
 * string that does not match the payload branch, a writer that cannot be resolved into the
 * reader, such as a newer writer's unknown type), or SHOP_ERR_RETRYABLE when the schema registry
 * could not be reached (any answer but 200 or 404). Registry schemas are matched to a topic by
 * their full name; one that matches none is INVALID. Values are checked for structure only.
 * For a schema added without "shop.topic", kind is SHOP_EV_UNKNOWN and type, event_id, key are
 * NULL and payload is zeroed. */
int shop_decoder_decode(shop_decoder_t *dec, const void *buf, size_t len, const shop_event_t **out,
                        char *errstr, size_t errstr_size);

/* Field access on a payload or any record value; return 0 or SHOP_ERR_NOTFOUND/INVALID.
 * For ["null", T] unions, a null yields SHOP_ERR_NOTFOUND. Strings are borrowed. */
int shop_value_get_long(avro_value_t *rec, const char *field, int64_t *out);
int shop_value_get_int(avro_value_t *rec, const char *field, int32_t *out);
int shop_value_get_string(avro_value_t *rec, const char *field, const char **out);
int shop_value_get_double(avro_value_t *rec, const char *field, double *out);
int shop_value_get_bool(avro_value_t *rec, const char *field, int *out);

/* ---- encoding ---- */

typedef enum { SHOP_FRAMING_SINGLE_OBJECT = 0, SHOP_FRAMING_CONFLUENT = 1 } shop_framing_t;

/* An event ready to produce. Caller-owned storage: shop_encoded_init/_release. */
typedef struct shop_encoded {
    const char *topic;   /* borrowed from the codec */
    const char *type;    /* borrowed from the codec */
    char *key;           /* heap: user_id or product_id */
    int64_t occurred_at; /* the event's time: producers use it as the Kafka message timestamp */
    shop_buf_t bytes;    /* framed Avro */
} shop_encoded_t;
void shop_encoded_init(shop_encoded_t *enc);
void shop_encoded_release(shop_encoded_t *enc);

/* JSON -> Avro. `obj` is the flat JSON form of one event: envelope fields and the payload's
 * fields side by side in one object, the "type" naming the payload branch:
 *   {"type":"order.placed","user_id":"u1","order_id":"o1","amount_minor":1250,"currency":"KRW",
 *    "items":[{"product_id":"p1","quantity":1,"unit_price_minor":1250}]}
 * event_id (a random UUID v4) and occurred_at (now) are filled in when absent; occurred_at may be
 * epoch millis or an RFC 3339 string. Nullable fields may be omitted or null; fields with a
 * default may be omitted. Unknown fields are rejected. A payload field that has the name of an
 * envelope field (user.signup's "locale") is one key: it sets both.
 * Returns 0, or SHOP_ERR_INVALID with a message naming the type and field, such as
 *   order.placed: field amount_minor: expected long, got "12.5"
 *   order.placed: field items[0].quantity: missing
 *   unknown type "order.teleported"
 * The framing is single-object unless `framing` says Confluent (needs a registry URL, else
 * SHOP_ERR_CONFIG; the schema is registered once, a network failure or 5xx returns
 * SHOP_ERR_RETRYABLE, a 4xx refusal SHOP_ERR_CONFIG). `out` is overwritten (its buffers are
 * reused, so keep one shop_encoded_t per producer thread). Thread-safe. */
int shop_codec_encode_json(shop_codec_t *codec, json_t *obj, shop_framing_t framing,
                           shop_encoded_t *out, char *errstr, size_t errstr_size);

/* Avro -> flat JSON: the inverse of the above (occurred_at as epoch millis, null fields kept
 * as null; for a shared key the envelope's value unless it is null). Bytes and fixed come out as
 * Avro's JSON encoding (one code point per byte). Returns a new reference the caller
 * json_decref()s. */
json_t *shop_event_to_json(const shop_event_t *ev);

#endif
