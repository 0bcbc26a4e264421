/* fuzz_json_to_avro.c: libFuzzer target for the JSON -> Avro path of `shopstream emit`: the
 * hand-written JSON fast path (producer_json.c) against jansson, the RFC 3339 fast path against
 * the codec's own, shop_codec_encode_json, and decode/re-encode of what it accepted. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "producer_int.h"
#include "shop_codec.h"

static shop_codec_t *codec;
static shop_decoder_t *dec;

/* The codec lives for the whole run; freed at exit so LeakSanitizer's final check sees only
 * real leaks. */
static void teardown(void) {
    shop_decoder_destroy(dec);
    shop_codec_destroy(codec);
}

/* Encodes obj; 0 or the error. The bytes land in enc. */
static int encode(json_t *obj, shop_encoded_t *enc, char *err, size_t err_size) {
    return shop_codec_encode_json(codec, obj, SHOP_FRAMING_SINGLE_OBJECT, enc, err, err_size);
}

static void check_encoded(const shop_encoded_t *enc) {
    char err[512];
    const shop_event_t *ev;
    int r = shop_decoder_decode(dec, enc->bytes.buf, enc->bytes.len, &ev, err, sizeof(err));
    FUZZ_CHECK(!r, "accepted %s does not decode: %s", enc->type, err);
    json_t *j = shop_event_to_json(ev);
    FUZZ_CHECK(j, "shop_event_to_json NULL for %s", enc->type);
    shop_encoded_t again;
    shop_encoded_init(&again);
    r = encode(j, &again, err, sizeof(err));
    FUZZ_CHECK(!r, "decoded %s does not encode again: %s", enc->type, err);
    FUZZ_CHECK(again.bytes.len == enc->bytes.len &&
                   !memcmp(again.bytes.buf, enc->bytes.buf, enc->bytes.len),
               "re-encoding %s changed its bytes", enc->type);
    shop_encoded_release(&again);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512], err2[512];
    if (!codec) {
        codec = shop_codec_new(NULL, err, sizeof(err));
        FUZZ_CHECK(codec, "shop_codec_new: %s", err);
        dec = shop_decoder_new(codec);
        atexit(teardown);
    }
    char *text = malloc(size ? size : 1); /* exact size, not NUL-terminated, as emit reads */
    memcpy(text, data, size);
    json_error_t jerr;
    json_t *obj = shop_producer_json_parse(text, size, &jerr);
    json_t *ref = json_loadb(text, size, 0, &jerr);
    /* The fast path hands anything unusual to jansson, so both must agree. */
    FUZZ_CHECK(!obj == !ref, "fast path %s, jansson %s", obj ? "accepted" : "refused",
               ref ? "accepted" : "refused");
    FUZZ_CHECK(!obj || json_equal(obj, ref), "fast path and jansson parsed different values");
    json_decref(ref);
    free(text);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return 0;
    }
    /* Fixed envelope defaults, so that two encodings are comparable byte for byte. */
    if (!json_object_get(obj, "event_id"))
        json_object_set_new(obj, "event_id", json_string("00000000-0000-4000-8000-000000000000"));
    if (!json_object_get(obj, "occurred_at"))
        json_object_set_new(obj, "occurred_at", json_integer(1793491200000));
    json_t *slow = json_deep_copy(obj);
    shop_producer_json_fast_time(obj);

    shop_encoded_t a, b;
    shop_encoded_init(&a);
    shop_encoded_init(&b);
    int ra = encode(obj, &a, err, sizeof(err));
    int rb = encode(slow, &b, err2, sizeof(err2));
    /* The RFC 3339 fast path is an optimisation: same verdict, same bytes as the codec's parse. */
    FUZZ_CHECK(ra == rb, "fast time %d (%s), codec time %d (%s)", ra, ra ? err : "", rb,
               rb ? err2 : "");
    if (!ra) {
        FUZZ_CHECK(a.bytes.len == b.bytes.len && !memcmp(a.bytes.buf, b.bytes.buf, a.bytes.len),
                   "fast time changed the bytes of a %s", a.type);
        check_encoded(&a);
    } else {
        FUZZ_CHECK(ra == SHOP_ERR_INVALID && err[0], "encode returned %d (%s)", ra, err);
    }
    shop_encoded_release(&a);
    shop_encoded_release(&b);
    json_decref(slow);
    json_decref(obj);
    return 0;
}
