/* flag_store.h: feature flags stored in PostgreSQL (table flags, one Unleash client-API feature
 * per row, schemas/sql/005_reco_flags.sql), each change published as a flag.changed event on
 * shop.flags, and the cache workers keep (reloaded when the table's version moves). */
#ifndef SHOP_FLAG_STORE_H
#define SHOP_FLAG_STORE_H

#include <libpq-fe.h>
#include <jansson.h>
#include <stdint.h>

#include "flags.h"

/* Highest version in <schema>.flags (0 when empty). SHOP_ERR_RETRYABLE when unreachable. */
int shop_flag_store_version(PGconn *c, const char *schema, int64_t *version, char *errstr,
                            size_t errstr_size);
/* Every flag (and segment) of <schema> as a new shop_flags_t in *out (the caller destroys it);
 * *version is set as by shop_flag_store_version. */
int shop_flag_store_load(PGconn *c, const char *schema, shop_flags_t **out, int64_t *version,
                         char *errstr, size_t errstr_size);
/* The stored definition of `name` (new reference) or NULL when absent or on error (errstr). */
json_t *shop_flag_store_get(PGconn *c, const char *schema, const char *name, char *errstr,
                            size_t errstr_size);
/* Inserts or replaces one feature (borrowed; checked by loading it through the evaluator
 * first: SHOP_ERR_INVALID with the reason). Sets *version to the change's version. */
int shop_flag_store_put(PGconn *c, const char *schema, const json_t *feature, const char *who,
                        int64_t *version, char *errstr, size_t errstr_size);
/* Removes a flag; SHOP_ERR_NOTFOUND when absent. */
int shop_flag_store_delete(PGconn *c, const char *schema, const char *name, int64_t *version,
                           char *errstr, size_t errstr_size);

/* Builds a feature from the CLI's short form: enabled, a gradual rollout percentage (0..100,
 * -1 for the default strategy), stickiness, and variants "name:weight,name:weight" (NULL for
 * none). Returns a new reference, or NULL with errstr. */
json_t *shop_flag_feature_build(const char *name, int enabled, int rollout, const char *variants,
                                char *errstr, size_t errstr_size);

/* `shopstream flags set|get|list|delete` (consumers/flags/flags_cli.c). */
int shop_cmd_flags(int argc, char **argv);

#endif
