/* fuzz_avro_decode.c: libFuzzer target for shop_decoder_decode on both framings, single-object
 * (C3 01 + fingerprint) and Confluent (00 + schema id, resolved by a mock registry in-process),
 * then the decoded event through shop_event_to_json and back through the encoder. */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "shop_codec.h"

#define MAX_SCHEMAS 64

static shop_codec_t *codec;
static shop_decoder_t *dec, *dec2;
static const shop_schema_info_t *schemas[MAX_SCHEMAS];
static size_t nschemas;

/* GET /schemas/ids/<i>: schema i-1 of shop_codec_schemas() (the same order in the seed writer),
 * 404 for any other id. Each id is fetched once: the codec caches answers, 404s included. */
static enum MHD_Result registry(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls) {
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    unsigned id = 0;
    json_t *body;
    unsigned status = 200;
    if (sscanf(url, "/schemas/ids/%u", &id) == 1 && id >= 1 && id <= nschemas) {
        body = json_pack("{ss}", "schema", schemas[id - 1]->json);
    } else {
        status = 404;
        body = json_pack("{siss}", "error_code", 40403, "message", "Schema not found");
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *daemon_;

/* Freed at exit so that LeakSanitizer's final check sees only real leaks. */
static void teardown(void) {
    shop_decoder_destroy(dec);
    shop_decoder_destroy(dec2);
    shop_codec_destroy(codec);
    MHD_stop_daemon(daemon_);
}

static void setup(void) {
    char err[512];
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, registry, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    FUZZ_CHECK(d, "cannot start the mock registry");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)info->port);
    codec = shop_codec_new(url, err, sizeof(err));
    FUZZ_CHECK(codec, "shop_codec_new: %s", err);
    nschemas = shop_codec_schemas(codec, schemas, MAX_SCHEMAS);
    FUZZ_CHECK(nschemas <= MAX_SCHEMAS, "more than %d schemas", MAX_SCHEMAS);
    dec = shop_decoder_new(codec);
    dec2 = shop_decoder_new(codec);
    daemon_ = d;
    atexit(teardown);
}

/* A decoded event re-encoded from its JSON form decodes to the same JSON. */
static void round_trip(const shop_event_t *ev) {
    json_t *j = shop_event_to_json(ev);
    FUZZ_CHECK(j, "shop_event_to_json returned NULL for a decoded %s",
               ev->type ? ev->type : "(schema without topic)");
    if (ev->kind == SHOP_EV_UNKNOWN) {
        json_decref(j);
        return;
    }
    char err[512];
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    if (!shop_codec_encode_json(codec, j, SHOP_FRAMING_SINGLE_OBJECT, &enc, err, sizeof(err))) {
        const shop_event_t *ev2;
        int r = shop_decoder_decode(dec2, enc.bytes.buf, enc.bytes.len, &ev2, err, sizeof(err));
        FUZZ_CHECK(!r, "re-encoded %s does not decode: %s", ev->type, err);
        json_t *j2 = shop_event_to_json(ev2);
        if (!json_equal(j, j2)) {
            char *a = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
            char *b = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
            FUZZ_CHECK(0, "round trip changed a %s:\n%s\n%s", ev->type, a, b);
        }
        json_decref(j2);
    }
    shop_encoded_release(&enc);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!codec)
        setup();
    uint8_t *buf = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    memcpy(buf, data, size);
    /* Confluent: fold the id into 0..n+1, so that the registry is asked about a bounded set of
     * ids (known ones and two unknown), each once; every other byte is as fuzzed. */
    if (size >= 5 && buf[0] == 0x00) {
        uint32_t id =
            ((uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4]) %
            (uint32_t)(nschemas + 2);
        buf[1] = 0, buf[2] = 0, buf[3] = 0, buf[4] = (uint8_t)id;
    }
    const shop_event_t *ev = NULL;
    char err[512] = "";
    int r = shop_decoder_decode(dec, buf, size, &ev, err, sizeof(err));
    if (r == SHOP_OK) {
        FUZZ_CHECK(ev && ev->value && ev->reader && ev->writer, "incomplete event");
        round_trip(ev);
    } else {
        FUZZ_CHECK(r == SHOP_ERR_INVALID, "decode returned %d (%s)", r, err);
        FUZZ_CHECK(err[0], "refused without a reason");
    }
    free(buf);
    return 0;
}
