/* config.c: the declarative configuration table: parsing, validation, precedence and printing. */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"

extern char **environ;

typedef struct {
    char *key;
    char *value;
} kv_t;

struct shop_config {
    const shop_conf_def_t *table;
    kv_t *vals;
    size_t n, cap;
};

static const shop_conf_def_t *find_def(const shop_config_t *cfg, const char *key) {
    for (const shop_conf_def_t *d = cfg->table; d->name; d++)
        if (!strcmp(d->name, key))
            return d;
    return NULL;
}

static kv_t *find_val(const shop_config_t *cfg, const char *key) {
    for (size_t i = 0; i < cfg->n; i++)
        if (!strcmp(cfg->vals[i].key, key))
            return &cfg->vals[i];
    return NULL;
}

static void put(shop_config_t *cfg, const char *key, const char *value) {
    kv_t *kv = find_val(cfg, key);
    if (kv) {
        free(kv->value);
        kv->value = value ? shop_xstrdup(value) : NULL;
        return;
    }
    if (cfg->n == cfg->cap) {
        cfg->cap = cfg->cap ? cfg->cap * 2 : 32;
        cfg->vals = shop_xrealloc(cfg->vals, cfg->cap * sizeof(*cfg->vals));
    }
    cfg->vals[cfg->n].key = shop_xstrdup(key);
    cfg->vals[cfg->n].value = value ? shop_xstrdup(value) : NULL;
    cfg->n++;
}

shop_config_t *shop_config_new(const shop_conf_def_t *table) {
    shop_config_t *cfg = shop_xcalloc(1, sizeof(*cfg));
    cfg->table = table;
    for (const shop_conf_def_t *d = table; d->name; d++)
        if (d->def)
            put(cfg, d->name, d->def);
    return cfg;
}

void shop_config_destroy(shop_config_t *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->vals[i].key);
        free(cfg->vals[i].value);
    }
    free(cfg->vals);
    free(cfg);
}

static int parse_bool(const char *v, int *out) {
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
             !strcasecmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_int(const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return -1;
    *out = x;
    return 0;
}

int shop_config_set(shop_config_t *cfg, const char *key, const char *value, char *errstr,
                    size_t errstr_size) {
    if (!strncmp(key, "kafka.", 6) && key[6]) {
        put(cfg, key, value);
        return SHOP_OK;
    }
    const shop_conf_def_t *d = find_def(cfg, key);
    if (!d)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "unknown configuration key \"%s\"",
                           key);
    int b;
    int64_t i;
    if (d->type == SHOP_CONF_BOOL && parse_bool(value, &b))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "%s: expected true or false, got \"%s\"", key, value);
    if (d->type == SHOP_CONF_INT && parse_int(value, &i))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "%s: expected an integer, got \"%s\"", key, value);
    put(cfg, key, value);
    return SHOP_OK;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int shop_config_set_kv(shop_config_t *cfg, const char *kv, char *errstr, size_t errstr_size) {
    const char *eq = strchr(kv, '=');
    if (!eq)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "expected key=value, got \"%s\"",
                           kv);
    char *key = shop_xstrndup(kv, (size_t)(eq - kv));
    int r = shop_config_set(cfg, trim(key), eq + 1, errstr, errstr_size);
    free(key);
    return r;
}

int shop_config_load_file(shop_config_t *cfg, const char *path, char *errstr, size_t errstr_size) {
    FILE *fp = fopen(path, "r");
    if (!fp)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, r = SHOP_OK;
    while (getline(&line, &cap, fp) > 0) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            r = shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s:%d: expected key = value",
                            path, lineno);
            break;
        }
        *eq = '\0';
        char err2[256];
        if (shop_config_set(cfg, trim(s), trim(eq + 1), err2, sizeof(err2))) {
            r = shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s:%d: %s", path, lineno, err2);
            break;
        }
    }
    free(line);
    fclose(fp);
    return r;
}

/* SHOPSTREAM_REDIS_URL -> redis.url */
static void env_to_key(const char *env, size_t n, char *out, size_t size) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++)
        out[o++] = env[i] == '_' ? '.' : (char)tolower((unsigned char)env[i]);
    out[o] = '\0';
}

int shop_config_load_env(shop_config_t *cfg, char *errstr, size_t errstr_size) {
    static const char prefix[] = "SHOPSTREAM_";
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1))
            continue;
        const char *name = *e + sizeof(prefix) - 1;
        const char *eq = strchr(name, '=');
        if (!eq)
            continue;
        char key[256];
        env_to_key(name, (size_t)(eq - name), key, sizeof(key));
        if (!find_def(cfg, key) && strncmp(key, "kafka.", 6))
            continue; /* other tools' vars */
        char err2[256];
        if (shop_config_set(cfg, key, eq + 1, err2, sizeof(err2)))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "environment %.*s: %s",
                               (int)(eq - *e), *e, err2);
    }
    return SHOP_OK;
}

int shop_config_from_args(shop_config_t *cfg, int *argc, char **argv, char *errstr,
                          size_t errstr_size) {
    const char *file = NULL;
    const char **sets = shop_xcalloc((size_t)*argc + 1, sizeof(char *));
    int nsets = 0, out = 1, r = SHOP_OK;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--set")) {
            if (i + 1 >= *argc) {
                r = shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s needs an argument",
                                argv[i]);
                goto done;
            }
            if (argv[i][2] == 'c')
                file = argv[++i];
            else
                sets[nsets++] = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            file = argv[i] + 9;
        } else if (!strncmp(argv[i], "--set=", 6)) {
            sets[nsets++] = argv[i] + 6;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    if (file && (r = shop_config_load_file(cfg, file, errstr, errstr_size)))
        goto done;
    if ((r = shop_config_load_env(cfg, errstr, errstr_size)))
        goto done;
    for (int i = 0; i < nsets; i++)
        if ((r = shop_config_set_kv(cfg, sets[i], errstr, errstr_size)))
            goto done;
done:
    free(sets);
    return r;
}

const char *shop_config_get(const shop_config_t *cfg, const char *key) {
    kv_t *kv = find_val(cfg, key);
    return kv ? kv->value : NULL;
}

int64_t shop_config_get_int(const shop_config_t *cfg, const char *key) {
    const char *v = shop_config_get(cfg, key);
    int64_t x = 0;
    if (v)
        parse_int(v, &x);
    return x;
}

int shop_config_get_bool(const shop_config_t *cfg, const char *key) {
    const char *v = shop_config_get(cfg, key);
    int b = 0;
    if (v)
        parse_bool(v, &b);
    return b;
}

void shop_config_each_kafka(const shop_config_t *cfg,
                            void (*fn)(const char *key, const char *value, void *opaque),
                            void *opaque) {
    for (size_t i = 0; i < cfg->n; i++)
        if (!strncmp(cfg->vals[i].key, "kafka.", 6) && cfg->vals[i].value)
            fn(cfg->vals[i].key + 6, cfg->vals[i].value, opaque);
}

void shop_config_print(const shop_config_t *cfg, FILE *fp) {
    static const char *tn[] = {"string", "int", "bool"};
    fprintf(fp, "%-28s %-7s %-22s %s\n", "KEY", "TYPE", "VALUE", "DESCRIPTION");
    for (const shop_conf_def_t *d = cfg->table; d->name; d++) {
        const char *v = shop_config_get(cfg, d->name);
        fprintf(fp, "%-28s %-7s %-22s %s%s%s%s\n", d->name, tn[d->type], v ? v : "(unset)", d->doc,
                d->def ? " [default " : "", d->def ? d->def : "", d->def ? "]" : "");
    }
    for (size_t i = 0; i < cfg->n; i++)
        if (!strncmp(cfg->vals[i].key, "kafka.", 6) && !find_def(cfg, cfg->vals[i].key))
            fprintf(fp, "%-28s %-7s %-22s %s\n", cfg->vals[i].key, "string", cfg->vals[i].value,
                    "passed to librdkafka");
}
