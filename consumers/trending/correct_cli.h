/* correct_cli.h: `shopstream query correct --dictionary FILE [TEXT]`, offline spelling correction.
 */
#ifndef SHOP_CORRECT_CLI_H
#define SHOP_CORRECT_CLI_H

/* argv[0] is "correct". Returns the process exit status: 0, 1 on errors, 2 on usage. */
int shop_cmd_correct(int argc, char **argv);

#endif
