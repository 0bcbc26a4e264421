/* cli_producer.c: the producer configuration of the emit and generate commands. */
#include "cli_producer.h"

#include <stdio.h>

typedef struct {
    shop_producer_conf_t *conf;
    char err[512];
    int failed;
} kafka_props_t;

static void set_kafka(const char *key, const char *value, void *opaque) {
    kafka_props_t *k = opaque;
    if (!k->failed && shop_producer_conf_set(k->conf, key, value, k->err, sizeof(k->err)))
        k->failed = 1;
}

shop_producer_conf_t *shop_cli_producer_conf(const shop_config_t *cfg, char *errstr,
                                             size_t errstr_size) {
    kafka_props_t k = {.conf = shop_producer_conf_new()};
    shop_config_each_kafka(cfg, set_kafka, &k);
    const char *reg = shop_config_get(cfg, "schema.registry.url");
    const char *prefix = shop_config_get(cfg, "topic.prefix");
    if (!k.failed && reg &&
        shop_producer_conf_set(k.conf, "schema.registry.url", reg, k.err, sizeof(k.err)))
        k.failed = 1;
    if (!k.failed && prefix &&
        shop_producer_conf_set(k.conf, "topic.prefix", prefix, k.err, sizeof(k.err)))
        k.failed = 1;
    if (k.failed) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s", k.err);
        shop_producer_conf_destroy(k.conf);
        return NULL;
    }
    return k.conf;
}
