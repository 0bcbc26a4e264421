/* main.c: the shopstream binary, git-style: shopstream <command> [args]. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "shop.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command_t;

static int cmd_demo(int argc, char **argv);

static const command_t commands[] = {
    {"emit", shop_cmd_emit, "validate JSON lines and produce them as Avro events"},
    {"generate", shop_cmd_generate, "write a realistic, seeded shop event stream"},
    {"run", shop_cmd_run, "run a worker (consumer group member)"},
    {"replay", shop_cmd_replay, "replay a topic range through a worker into a namespace"},
    {"query", shop_cmd_query_views, "read the materialized views"},
    {"decode", shop_cmd_decode, "print raw or Kafka-stored events as JSON"},
    {"schema", shop_cmd_schema, "canonical form, fingerprints and the compiled-in schemas"},
    {"topics", shop_cmd_topics, "create or list the contract's topics"},
    {"migrate", shop_cmd_migrate, "apply the SQL migrations to a schema"},
    {"fraud", shop_cmd_fraud, "train and evaluate the fraud Isolation Forest"},
    {"reco", shop_cmd_reco, "evaluate the recommendation model offline"},
    {"flags", shop_cmd_flags, "set, get and list feature flags (PostgreSQL + shop.flags)"},
    {"demo", cmd_demo, "generate traffic, run the workers until caught up, print the views"},
    {NULL, NULL, NULL},
};

static int usage(FILE *fp) {
    fprintf(fp, "usage: shopstream <command> [args]\n\ncommands:\n");
    for (const command_t *c = commands; c->name; c++)
        fprintf(fp, "  %-10s %s\n", c->name, c->help);
    fprintf(fp, "\n'shopstream <command> --help' describes each. The local stack: deploy/stack "
                "up|down|status.\n");
    return fp == stdout ? 0 : 2;
}

/* The demo: a stream through every worker, then the views. */
static int cmd_demo(int argc, char **argv) {
    const char *events = "30000";
    char seed[32];
    snprintf(seed, sizeof(seed), "%lld", (long long)(shop_now_ms() / 1000));
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--events"))
            events = argv[++i];
        else if (!strcmp(argv[i], "--seed"))
            snprintf(seed, sizeof(seed), "%s", argv[++i]);
    }
    /* The simulated clock runs at 200 events/s: start early enough to end about now. */
    char start[40];
    shop_format_time_ms(shop_now_ms() - atoll(events) * 5, start, sizeof(start));
    printf("== 1/3 generating %s events (seed %s, from %s) into Kafka\n", events, seed, start);
    fflush(stdout);
    char a0[] = "generate", a1[] = "--events", a3[] = "--seed", a5[] = "--produce",
         a6[] = "--start";
    char *ev = shop_xstrdup(events);
    char *gen[] = {a0, a1, ev, a3, seed, a5, a6, start, NULL};
    int rc = shop_cmd_generate(8, gen);
    free(ev);
    if (rc)
        return rc;
    /* Every worker catches up in turn, then the views each keeps are printed. */
    static const char *const workers[] = {"analytics", "search", "fraud", "reco", "notify", NULL};
    for (int i = 0; workers[i]; i++) {
        printf("== 2/3 running the %s worker until it has caught up\n", workers[i]);
        fflush(stdout);
        char r0[] = "run", r2[] = "--until-caught-up", r3[] = "--set", r4[] = "http.port=-1";
        char *w = shop_xstrdup(workers[i]);
        char *run[] = {r0, w, r2, r3, r4, NULL};
        rc = shop_cmd_run(5, run);
        free(w);
        if (rc)
            return rc;
    }
    printf("== 3/3 the views\n-- analytics (query stats)\n");
    fflush(stdout);
    char q0[] = "query", q1[] = "stats";
    char *q[] = {q0, q1, NULL};
    rc = shop_cmd_query(2, q);
    static const char *const views[][6] = {
        {"query", "trending", "--window", "24h", "-n", "5"},
        {"query", "suggest", "\xec\x84\xa0", "-n", "5", NULL}, /* 선 */
        {"query", "suggest", "ph", "-n", "5", NULL},
        {"query", "correct", "phone csae", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        char *args[7] = {NULL};
        int n = 0;
        printf("\n-- search (shopstream");
        for (; n < 6 && views[i][n]; n++) {
            args[n] = shop_xstrdup(views[i][n]);
            printf(" %s", args[n]);
        }
        printf(")\n");
        fflush(stdout);
        shop_cmd_query_views(n, args);
        for (int k = 0; k < n; k++)
            free(args[k]);
    }
    printf("\nMore: build/shopstream query fraud ORDER_ID, query reco --user ID, "
           "query notifications --user ID\n"
           "Dashboard: build/shopstream run analytics, then open http://127.0.0.1:9401/\n"
           "Each worker serves /metrics, /healthz and /readyz on its port (9401 analytics, "
           "9402 search, 9403 fraud, 9404 reco, 9405 notify).\n");
    fflush(stdout);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help") || !strcmp(argv[1], "-h"))
        return usage(stdout);
    if (!strcmp(argv[1], "--version")) {
        printf("shopstream 0.1.0\n");
        return 0;
    }
    for (const command_t *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "shopstream: unknown command \"%s\"\n", argv[1]);
    return usage(stderr);
}
