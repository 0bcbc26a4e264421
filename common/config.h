/* config.h: one declarative configuration table per binary; defaults < file < SHOPSTREAM_* env <
 * --set. */
#ifndef SHOP_CONFIG_H
#define SHOP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

typedef enum { SHOP_CONF_STRING, SHOP_CONF_INT, SHOP_CONF_BOOL } shop_conf_type_t;

/* One row of a configuration table. Names use dots only (no underscores), so that the
 * environment name SHOPSTREAM_<NAME with . as _ , upper case> maps back unambiguously. */
typedef struct {
    const char *name;
    shop_conf_type_t type;
    const char *def; /* default as text; NULL means unset */
    const char *doc;
} shop_conf_def_t;

typedef struct shop_config shop_config_t;

/* `table` is terminated by a row with name NULL and must outlive the config.
 * Keys starting with "kafka." are always accepted and passed to librdkafka verbatim. */
shop_config_t *shop_config_new(const shop_conf_def_t *table);
void shop_config_destroy(shop_config_t *cfg);

/* Sets one key; validates the type. Returns 0 or SHOP_ERR_CONFIG (unknown key, bad value). */
int shop_config_set(shop_config_t *cfg, const char *key, const char *value, char *errstr,
                    size_t errstr_size);
/* "key=value" form of the above. */
int shop_config_set_kv(shop_config_t *cfg, const char *kv, char *errstr, size_t errstr_size);
/* File of `key = value` lines; '#' starts a comment. */
int shop_config_load_file(shop_config_t *cfg, const char *path, char *errstr, size_t errstr_size);
/* Every SHOPSTREAM_* variable that names a key of the table or a kafka.* key. */
int shop_config_load_env(shop_config_t *cfg, char *errstr, size_t errstr_size);

/* Removes `--config FILE` and `--set k=v` (also `--set=k=v`) from argv and applies, in order:
 * the file, the environment, then the --set values. *argc is updated. */
int shop_config_from_args(shop_config_t *cfg, int *argc, char **argv, char *errstr,
                          size_t errstr_size);

/* Values; the string is borrowed from the config (NULL when unset). */
const char *shop_config_get(const shop_config_t *cfg, const char *key);
int64_t shop_config_get_int(const shop_config_t *cfg, const char *key);
int shop_config_get_bool(const shop_config_t *cfg, const char *key);

/* Calls fn for every kafka.* key that is set, with the "kafka." prefix stripped. */
void shop_config_each_kafka(const shop_config_t *cfg,
                            void (*fn)(const char *key, const char *value, void *opaque),
                            void *opaque);

/* Prints the table (name, type, default, doc) and current values. */
void shop_config_print(const shop_config_t *cfg, FILE *fp);

#endif
