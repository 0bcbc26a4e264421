/* worker_fixture.h: a worker under unit test without servers: its ops created on a default
 * configuration (plus "key=value" settings), and events encoded from JSON and decoded as the
 * runtime hands them over. Include after cmocka.h; header-only, one fixture per test. */
#ifndef SHOP_TEST_WORKER_FIXTURE_H
#define SHOP_TEST_WORKER_FIXTURE_H

#include <jansson.h>
#include <stdlib.h>

#include "runtime.h"
#include "shop.h"
#include "shop_codec.h"

typedef struct {
    const shop_worker_ops_t *ops;
    shop_codec_t *codec;
    shop_decoder_t *dec;
    shop_encoded_t enc;
    shop_config_t *cfg;
    shop_conf_def_t *table;
    void *w;
    int64_t offset;
} worker_fx_t;

/* The worker `name` with prefix "bt:t:" and schema "bt_t"; `sets` NULL-terminated (may be NULL). */
static worker_fx_t *worker_fx_new(const shop_worker_ops_t *ops, const char *name,
                                  const char *const *sets) {
    char err[512];
    worker_fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->ops = ops;
    f->codec = shop_codec_new(NULL, err, sizeof(err));
    assert_non_null(f->codec);
    f->dec = shop_decoder_new(f->codec);
    shop_encoded_init(&f->enc);
    f->table = shop_runtime_conf_table(ops);
    f->cfg = shop_config_new(f->table);
    for (int i = 0; sets && sets[i]; i++)
        assert_int_equal(shop_config_set_kv(f->cfg, sets[i], err, sizeof(err)), 0);
    shop_worker_env_t env = {f->cfg, "bt:t:", "bt_t", name};
    f->w = ops->create(&env, err, sizeof(err));
    assert_non_null(f->w);
    return f;
}

static void worker_fx_free(worker_fx_t *f) {
    f->ops->destroy(f->w);
    shop_config_destroy(f->cfg);
    free(f->table);
    shop_encoded_release(&f->enc);
    shop_decoder_destroy(f->dec);
    shop_codec_destroy(f->codec);
    free(f);
}

/* Encodes `o` (reference stolen), decodes it as the runtime would and has the worker process it
 * from `topic`, partition 0, at the next offset, for `sinks`. Returns what process returned. */
static int worker_fx_feed(worker_fx_t *f, json_t *o, const char *topic, unsigned sinks) {
    char err[512];
    const shop_event_t *ev = NULL;
    assert_non_null(o);
    assert_int_equal(
        shop_codec_encode_json(f->codec, o, SHOP_FRAMING_SINGLE_OBJECT, &f->enc, err, sizeof(err)),
        0);
    json_decref(o);
    assert_int_equal(
        shop_decoder_decode(f->dec, f->enc.bytes.buf, f->enc.bytes.len, &ev, err, sizeof(err)), 0);
    shop_event_t *e = (shop_event_t *)ev;
    e->topic = topic;
    e->partition = 0;
    e->offset = f->offset++;
    return f->ops->process(f->w, ev, sinks, err, sizeof(err));
}

#endif
