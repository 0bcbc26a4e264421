/* cli_producer.h: the producer configuration of the emit and generate commands, from their
 * configuration table. */
#ifndef SHOP_CLI_PRODUCER_H
#define SHOP_CLI_PRODUCER_H

#include "config.h"
#include "shop_producer.h"

/* Every kafka.* key, schema.registry.url and topic.prefix of `cfg`. Returns a configuration the
 * caller destroys with shop_producer_conf_destroy(), or NULL with errstr naming the first property
 * librdkafka refused (a typo must stop the command, not be printed and ignored). */
shop_producer_conf_t *shop_cli_producer_conf(const shop_config_t *cfg, char *errstr,
                                             size_t errstr_size);

#endif
