/* fraud_cli.h: the `shopstream fraud` command (eval-forest, train). */
#ifndef SHOP_FRAUD_CLI_H
#define SHOP_FRAUD_CLI_H

/* argv[0] = "fraud"; argv is borrowed. Returns the process exit status (0, 1 on failure, 2 on
 * usage errors). */
int shop_cmd_fraud(int argc, char **argv);

#endif
