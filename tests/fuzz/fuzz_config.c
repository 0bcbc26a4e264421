/* fuzz_config.c: libFuzzer target for the configuration parser (common/config.c): a config file,
 * --set key=value arguments and SHOPSTREAM_* variables, with the typed getters after each. The
 * first byte picks the surface; the rest is the file text, or NUL-separated arguments. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_util.h"
#include "shop.h"

/* Shaped like the workers' tables: every type, with and without defaults. */
static const shop_conf_def_t table[] = {
    {"redis.url", SHOP_CONF_STRING, "redis://127.0.0.1:16379", "Redis"},
    {"pg.url", SHOP_CONF_STRING, NULL, "PostgreSQL"},
    {"flush.events", SHOP_CONF_INT, "5000", "flush every N events"},
    {"flush.ms", SHOP_CONF_INT, NULL, "flush every T ms"},
    {"http.port", SHOP_CONF_INT, "0", "port"},
    {"dlq.enabled", SHOP_CONF_BOOL, "true", "dead-letter"},
    {"replay", SHOP_CONF_BOOL, NULL, "replay mode"},
    {NULL, 0, NULL, NULL},
};

static FILE *devnull;

static void each_kafka(const char *key, const char *value, void *opaque) {
    (void)opaque;
    FUZZ_CHECK(key && *key, "empty kafka key");
    (void)value;
}

static void read_back(const shop_config_t *cfg) {
    for (const shop_conf_def_t *d = table; d->name; d++) {
        const char *v = shop_config_get(cfg, d->name);
        if (d->type == SHOP_CONF_INT)
            (void)shop_config_get_int(cfg, d->name);
        else if (d->type == SHOP_CONF_BOOL && v)
            (void)shop_config_get_bool(cfg, d->name);
    }
    (void)shop_config_get(cfg, "kafka.bootstrap.servers");
    shop_config_each_kafka(cfg, each_kafka, NULL);
    shop_config_print(cfg, devnull);
}

/* The file surface, through a memfd so no disk is touched. */
static void load_file(shop_config_t *cfg, const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz_config", 0);
    FUZZ_CHECK(fd >= 0, "memfd_create");
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "write");
    char path[64], err[512];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (shop_config_load_file(cfg, path, err, sizeof(err)))
        FUZZ_CHECK(err[0], "refused without a reason");
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    data++, size--;
    shop_config_t *cfg = shop_config_new(table);
    char err[512];
    if (mode == 0) {
        load_file(cfg, data, size);
    } else {
        /* NUL-separated pieces: --set values (mode 1) or NAME=VALUE variables (mode 2). */
        char *s = fuzz_strndup(data, size);
        int argc = 1;
        static char prog[] = "shopstream", set[] = "--set";
        char *argv[66] = {prog};
        for (char *p = s; p < s + size && argc < 64; p += strlen(p) + 1) {
            if (mode == 1) {
                argv[argc++] = set;
                argv[argc++] = p;
            } else {
                char *eq = strchr(p, '=');
                char name[300];
                if (!eq || (size_t)(eq - p) > 200)
                    continue;
                snprintf(name, sizeof(name), "SHOPSTREAM_%.*s", (int)(eq - p), p);
                if (!strchr(name + 11, '='))
                    setenv(name, eq + 1, 1);
            }
        }
        if (mode == 1) {
            int n = argc;
            if (shop_config_from_args(cfg, &n, argv, err, sizeof(err)))
                FUZZ_CHECK(err[0], "refused without a reason");
            FUZZ_CHECK(n >= 1 && n <= argc, "argc %d after from_args of %d", n, argc);
        } else {
            if (shop_config_load_env(cfg, err, sizeof(err)))
                FUZZ_CHECK(err[0], "refused without a reason");
            for (char *p = s; p < s + size; p += strlen(p) + 1) {
                char *eq = strchr(p, '='), name[300];
                if (!eq || (size_t)(eq - p) > 200)
                    continue;
                snprintf(name, sizeof(name), "SHOPSTREAM_%.*s", (int)(eq - p), p);
                unsetenv(name);
            }
        }
        free(s);
    }
    read_back(cfg);
    shop_config_destroy(cfg);
    return 0;
}
