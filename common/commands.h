/* commands.h: the subcommands of the shopstream binary; each takes argv with argv[0] = its name
 * and returns the process exit status. */
#ifndef SHOP_COMMANDS_H
#define SHOP_COMMANDS_H

int shop_cmd_schema(int argc, char **argv);      /* schemas/codec/cli.c */
int shop_cmd_decode(int argc, char **argv);      /* schemas/codec/cli.c */
int shop_cmd_emit(int argc, char **argv);        /* producers/emit.c */
int shop_cmd_generate(int argc, char **argv);    /* producers/generate.c */
int shop_cmd_run(int argc, char **argv);         /* consumers/runtime/cli.c */
int shop_cmd_replay(int argc, char **argv);      /* consumers/runtime/cli.c */
int shop_cmd_query(int argc, char **argv);       /* consumers/runtime/cli.c */
int shop_cmd_query_views(int argc, char **argv); /* consumers/workers.c: query + search views */
int shop_cmd_topics(int argc, char **argv);      /* consumers/runtime/admin.c */
int shop_cmd_migrate(int argc, char **argv);     /* consumers/runtime/admin.c */
int shop_cmd_fraud(int argc, char **argv);       /* consumers/fraud/cli.c */
int shop_cmd_reco(int argc, char **argv);        /* consumers/recommend/reco_cli.c */
int shop_cmd_flags(int argc, char **argv);       /* consumers/flags/flags_cli.c */

#endif
