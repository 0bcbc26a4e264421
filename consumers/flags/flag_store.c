/* flag_store.c: feature flags in PostgreSQL: read, write and version them (the SQL lives here;
 * the table is created by schemas/sql/005_reco_flags.sql). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flag_store.h"
#include "shop.h"

/* The schema is a shop_namespace() result ([a-z0-9_]), so it is safe inside an identifier. */
static int pg_fail(PGconn *c, PGresult *r, char *errstr, size_t errstr_size) {
    int down = PQstatus(c) != CONNECTION_OK;
    int rc = shop_seterr(errstr, errstr_size, down ? SHOP_ERR_RETRYABLE : SHOP_ERR_INVALID,
                         "postgresql: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    if (r)
        PQclear(r);
    return rc;
}

int shop_flag_store_version(PGconn *c, const char *schema, int64_t *version, char *errstr,
                            size_t errstr_size) {
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(version), 0) FROM \"%s\".flags", schema);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(c, r, errstr, errstr_size);
    *version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return SHOP_OK;
}

int shop_flag_store_load(PGconn *c, const char *schema, shop_flags_t **out, int64_t *version,
                         char *errstr, size_t errstr_size) {
    char sql[512];
    *out = NULL;
    snprintf(sql, sizeof(sql),
             "SELECT json_build_object("
             "'features', coalesce((SELECT json_agg(definition ORDER BY name) FROM \"%s\".flags), "
             "'[]'::json), "
             "'segments', coalesce((SELECT json_agg(definition ORDER BY id) FROM "
             "\"%s\".flag_segments), '[]'::json)), "
             "(SELECT coalesce(max(version), 0) FROM \"%s\".flags)",
             schema, schema, schema);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(c, r, errstr, errstr_size);
    *version = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    *out = shop_flags_new_from_json(PQgetvalue(r, 0, 0), errstr, errstr_size);
    PQclear(r);
    return *out ? SHOP_OK : SHOP_ERR_INVALID;
}

json_t *shop_flag_store_get(PGconn *c, const char *schema, const char *name, char *errstr,
                            size_t errstr_size) {
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT definition::text FROM \"%s\".flags WHERE name = $1", schema);
    const char *params[] = {name};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_fail(c, r, errstr, errstr_size);
        return NULL;
    }
    json_t *j = PQntuples(r) ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    if (!PQntuples(r))
        shop_seterr(errstr, errstr_size, SHOP_ERR_NOTFOUND, "no flag named %s", name);
    PQclear(r);
    return j;
}

int shop_flag_store_put(PGconn *c, const char *schema, const json_t *feature, const char *who,
                        int64_t *version, char *errstr, size_t errstr_size) {
    const char *name = json_string_value(json_object_get(feature, "name"));
    if (!name || !*name)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "a flag needs a \"name\"");
    json_t *state = json_pack("{s[O]}", "features", feature);
    shop_flags_t *check = shop_flags_new(state, errstr, errstr_size);
    json_decref(state);
    if (!check)
        return SHOP_ERR_INVALID;
    shop_flags_destroy(check);
    char *def = json_dumps(feature, JSON_COMPACT | JSON_SORT_KEYS);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO \"%s\".flags (name, definition, version, updated_by) "
             "VALUES ($1, $2::jsonb, nextval('\"%s\".flags_version'), $3) "
             "ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, "
             "version = EXCLUDED.version, updated_at = now(), updated_by = EXCLUDED.updated_by "
             "RETURNING version",
             schema, schema);
    const char *params[] = {name, def, who};
    PGresult *r = PQexecParams(c, sql, 3, NULL, params, NULL, NULL, 0);
    free(def);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(c, r, errstr, errstr_size);
    *version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return SHOP_OK;
}

int shop_flag_store_delete(PGconn *c, const char *schema, const char *name, int64_t *version,
                           char *errstr, size_t errstr_size) {
    char sql[256];
    snprintf(sql, sizeof(sql),
             "DELETE FROM \"%s\".flags WHERE name = $1 RETURNING nextval('\"%s\".flags_version')",
             schema, schema);
    const char *params[] = {name};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(c, r, errstr, errstr_size);
    int found = PQntuples(r) > 0;
    *version = found ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return found ? SHOP_OK
                 : shop_seterr(errstr, errstr_size, SHOP_ERR_NOTFOUND, "no flag named %s", name);
}

json_t *shop_flag_feature_build(const char *name, int enabled, int rollout, const char *variants,
                                char *errstr, size_t errstr_size) {
    if (!name || !*name || strlen(name) > 100) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "a flag name is 1..100 bytes");
        return NULL;
    }
    json_t *strategies = json_array();
    if (rollout < 0) {
        json_array_append_new(strategies, json_pack("{ss}", "name", "default"));
    } else if (rollout <= 100) {
        char pct[8];
        snprintf(pct, sizeof(pct), "%d", rollout);
        json_array_append_new(strategies,
                              json_pack("{sss{ssssss}}", "name", "flexibleRollout", "parameters",
                                        "rollout", pct, "stickiness", "default", "groupId", name));
    } else {
        json_decref(strategies);
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "--rollout is 0..100");
        return NULL;
    }
    json_t *vars = json_array();
    if (variants && *variants) {
        char *copy = shop_xstrdup(variants), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(t, ':');
            int weight = colon ? atoi(colon + 1) : 1;
            if (colon)
                *colon = '\0';
            if (!*t || weight <= 0) {
                free(copy);
                json_decref(vars);
                json_decref(strategies);
                shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                            "--variants is name:weight,name:weight (weights > 0)");
                return NULL;
            }
            json_array_append_new(vars,
                                  json_pack("{sssissss}", "name", t, "weight", weight, "weightType",
                                            "variable", "stickiness", "default"));
        }
        free(copy);
    }
    /* Unleash spreads variant weights over 1000: scale the given ones to sum to 1000 */
    size_t i;
    json_t *v;
    long total = 0;
    json_array_foreach(vars, i, v) total += (long)json_integer_value(json_object_get(v, "weight"));
    long given = 0;
    json_array_foreach(vars, i, v) {
        long wgt = (long)json_integer_value(json_object_get(v, "weight")) * 1000 / total;
        if (i + 1 == json_array_size(vars))
            wgt = 1000 - given;
        given += wgt;
        json_object_set_new(v, "weight", json_integer(wgt));
    }
    return json_pack("{sssbsoso}", "name", name, "enabled", enabled, "strategies", strategies,
                     "variants", vars);
}
