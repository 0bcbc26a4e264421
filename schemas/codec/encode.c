/* encode.c: flat JSON event -> framed Avro bytes (single-object or Confluent), with a small pool
 * of reusable values and writers so encoding does not rebuild avro-c objects per event. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

#define ENC_MAX_BODY  (64u << 20)
#define ENC_FIRST_TRY 512u

typedef struct enc_value {
    const shop_schema_entry_t *entry;
    avro_value_iface_t *iface;
    avro_value_t value;
} enc_value_t;

/* Scratch for one encode at a time; pooled on the codec. */
typedef struct shop_enc_state {
    struct shop_enc_state *next;
    avro_writer_t writer;
    enc_value_t *vals;
    size_t nvals;
    size_t hint; /* largest body written so far */
} shop_enc_state_t;

static void enc_state_free(shop_enc_state_t *st) {
    for (size_t i = 0; i < st->nvals; i++) {
        avro_value_decref(&st->vals[i].value);
        avro_value_iface_decref(st->vals[i].iface);
    }
    free(st->vals);
    avro_writer_free(st->writer);
    free(st);
}

void shop_enc_pool_destroy(shop_codec_t *codec) {
    while (codec->enc_free) {
        shop_enc_state_t *st = codec->enc_free;
        codec->enc_free = st->next;
        enc_state_free(st);
    }
}

static shop_enc_state_t *enc_take(shop_codec_t *codec) {
    pthread_mutex_lock(&codec->lock);
    shop_enc_state_t *st = codec->enc_free;
    if (st)
        codec->enc_free = st->next;
    pthread_mutex_unlock(&codec->lock);
    if (!st) {
        static const char empty[1];
        st = shop_xcalloc(1, sizeof(*st));
        st->writer = avro_writer_memory(empty, 0);
        st->hint = ENC_FIRST_TRY;
    }
    return st;
}

static void enc_give(shop_codec_t *codec, shop_enc_state_t *st) {
    pthread_mutex_lock(&codec->lock);
    st->next = codec->enc_free;
    codec->enc_free = st;
    pthread_mutex_unlock(&codec->lock);
}

/* The reusable value for `entry` in this state; NULL (errstr set) if avro-c cannot build it. */
static avro_value_t *enc_value(shop_enc_state_t *st, const shop_schema_entry_t *entry, char *errstr,
                               size_t errstr_size) {
    for (size_t i = 0; i < st->nvals; i++)
        if (st->vals[i].entry == entry)
            return &st->vals[i].value;
    avro_value_iface_t *iface = avro_generic_class_from_schema(entry->info.schema);
    avro_value_t v;
    if (!iface || avro_generic_value_new(iface, &v)) {
        if (iface)
            avro_value_iface_decref(iface);
        shop_seterr(errstr, errstr_size, SHOP_ERR_FATAL, "avro: %s", avro_strerror());
        return NULL;
    }
    st->vals = shop_xrealloc(st->vals, (st->nvals + 1) * sizeof(*st->vals));
    st->vals[st->nvals] = (enc_value_t){entry, iface, v};
    return &st->vals[st->nvals++].value;
}

/* Appends the Avro body of `v` to out->bytes, growing until it fits. */
static int write_body(shop_enc_state_t *st, avro_value_t *v, shop_buf_t *out, char *errstr,
                      size_t errstr_size) {
    size_t cap = st->hint;
    for (;;) {
        shop_buf_grow(out, cap);
        avro_writer_memory_set_dest(st->writer, out->buf + out->len, (int64_t)cap);
        int rc = avro_value_write(st->writer, v);
        if (!rc)
            break;
        if (rc != ENOSPC || cap >= ENC_MAX_BODY)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "avro write: %s",
                               avro_strerror());
        cap *= 2;
    }
    size_t n = (size_t)avro_writer_tell(st->writer);
    if (n > st->hint)
        st->hint = n;
    out->len += n;
    out->buf[out->len] = '\0';
    return SHOP_OK;
}

static int frame_header(shop_codec_t *codec, shop_schema_entry_t *entry, shop_framing_t framing,
                        shop_buf_t *out, char *errstr, size_t errstr_size) {
    unsigned char h[10];
    if (framing == SHOP_FRAMING_CONFLUENT) {
        int32_t id;
        int r = shop_codec_registry_id_of(codec, entry, &id, errstr, errstr_size);
        if (r)
            return r;
        h[0] = 0x00;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)((uint32_t)id >> (24 - 8 * i));
        shop_buf_append(out, h, 5);
        return SHOP_OK;
    }
    uint64_t fp = (uint64_t)entry->info.fingerprint;
    h[0] = 0xC3;
    h[1] = 0x01;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)(fp >> (8 * i));
    shop_buf_append(out, h, 10);
    return SHOP_OK;
}

static int key_of(const shop_schema_entry_t *e, avro_value_t *v, shop_encoded_t *out) {
    avro_value_t f;
    const char *s = NULL;
    size_t size = 0;
    free(out->key);
    out->key = NULL;
    if (avro_value_get_by_index(v, (size_t)e->f_key, &f, NULL) ||
        avro_value_get_string(&f, &s, &size))
        return SHOP_ERR_INVALID;
    out->key = shop_xstrndup(s, size ? size - 1 : 0);
    int64_t ts = 0;
    if (avro_value_get_by_index(v, (size_t)e->f_occurred_at, &f, NULL) ||
        avro_value_get_long(&f, &ts))
        return SHOP_ERR_INVALID;
    out->occurred_at = ts;
    return SHOP_OK;
}

static int encode_entry(shop_codec_t *codec, shop_schema_entry_t *e, int branch, json_t *obj,
                        shop_framing_t framing, shop_encoded_t *out, char *errstr,
                        size_t errstr_size) {
    shop_enc_state_t *st = enc_take(codec);
    avro_value_t *v = enc_value(st, e, errstr, errstr_size);
    int r = v ? SHOP_OK : SHOP_ERR_FATAL;
    if (!r) {
        avro_value_reset(v);
        r = shop_json_fill_flat(e, branch, obj, v, errstr, errstr_size);
    }
    if (!r)
        r = key_of(e, v, out);
    shop_buf_reset(&out->bytes);
    if (!r)
        r = frame_header(codec, e, framing, &out->bytes, errstr, errstr_size);
    if (!r)
        r = write_body(st, v, &out->bytes, errstr, errstr_size);
    enc_give(codec, st);
    if (r) {
        shop_buf_reset(&out->bytes);
        return r;
    }
    out->topic = e->info.topic;
    out->type = e->branch_type[branch];
    return SHOP_OK;
}

static const char *type_of(json_t *obj, char *errstr, size_t errstr_size, int *err) {
    json_t *t = json_is_object(obj) ? json_object_get(obj, "type") : NULL;
    *err = SHOP_OK;
    if (!json_is_object(obj))
        *err = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "an event is a JSON object");
    else if (!t)
        *err = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "missing \"type\"");
    else if (!json_is_string(t))
        *err = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "field type: expected string");
    return *err ? NULL : json_string_value(t);
}

int shop_codec_encode_json(shop_codec_t *codec, json_t *obj, shop_framing_t framing,
                           shop_encoded_t *out, char *errstr, size_t errstr_size) {
    int err, branch;
    const shop_schema_info_t *info;
    const char *type = type_of(obj, errstr, errstr_size, &err);
    if (!type)
        return err;
    if (shop_codec_route(codec, type, &info, &branch))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "unknown type \"%s\"", type);
    return encode_entry(codec, shop_entry_of(info), branch, obj, framing, out, errstr, errstr_size);
}

int shop_codec_encode_json_with(shop_codec_t *codec, const shop_schema_info_t *schema, json_t *obj,
                                shop_framing_t framing, shop_encoded_t *out, char *errstr,
                                size_t errstr_size) {
    int err;
    shop_schema_entry_t *e = shop_entry_of(schema);
    const char *type = type_of(obj, errstr, errstr_size, &err);
    if (!type)
        return err;
    for (size_t b = 0; b < e->nbranches; b++)
        if (!strcmp(e->branch_type[b], type))
            return encode_entry(codec, e, (int)b, obj, framing, out, errstr, errstr_size);
    return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "unknown type \"%s\" for %s v%d",
                       type, e->name, e->info.version);
}

void shop_encoded_init(shop_encoded_t *enc) {
    enc->topic = NULL;
    enc->type = NULL;
    enc->key = NULL;
    enc->occurred_at = 0;
    shop_buf_init(&enc->bytes);
}

void shop_encoded_release(shop_encoded_t *enc) {
    free(enc->key);
    shop_buf_release(&enc->bytes);
    shop_encoded_init(enc);
}
