/* flags_int.h: the loaded representation of features, strategies and constraints, shared by the
 * files of the flags library only. */
#ifndef SHOP_FLAGS_INT_H
#define SHOP_FLAGS_INT_H

#include <regex.h>

#include "flags.h"
#include "shop.h"

typedef enum {
    FLAG_OP_UNKNOWN,
    FLAG_OP_IN,
    FLAG_OP_NOT_IN,
    FLAG_OP_STR_STARTS_WITH,
    FLAG_OP_STR_ENDS_WITH,
    FLAG_OP_STR_CONTAINS,
    FLAG_OP_NUM_EQ,
    FLAG_OP_NUM_GT,
    FLAG_OP_NUM_GTE,
    FLAG_OP_NUM_LT,
    FLAG_OP_NUM_LTE,
    FLAG_OP_DATE_AFTER,
    FLAG_OP_DATE_BEFORE,
    FLAG_OP_SEMVER_EQ,
    FLAG_OP_SEMVER_GT,
    FLAG_OP_SEMVER_LT,
    FLAG_OP_SEMVER_GTE,
    FLAG_OP_SEMVER_LTE,
    FLAG_OP_REGEX,
    FLAG_OP_IN_CIDR,
} flag_op_t;

typedef struct {
    char *context_name;
    flag_op_t op;
    int inverted;
    int case_insensitive;
    char **values; /* "values", or the single "value" when "values" is absent */
    size_t n_values;
    char *value; /* "value", or values[0] when "value" is absent; NULL when neither */
    regex_t re;  /* FLAG_OP_REGEX and re_ok only */
    int re_ok;
} flag_constraint_t;

typedef struct {
    flag_constraint_t *items;
    size_t n;
} flag_constraints_t;

/* Parses a "constraints" array (NULL or not an array: none) into `out`, which the caller releases
 * with flag_constraints_release. Never fails: bad entries become constraints that are false. */
void flag_constraints_parse(const json_t *arr, flag_constraints_t *out);
void flag_constraints_release(flag_constraints_t *c);
/* 1 when every constraint holds for `ctx` (borrowed, never NULL). */
int flag_constraints_match(const flag_constraints_t *c, const shop_flag_context_t *ctx);

/* The context field named `name` ("userId", ..., or a property); NULL when missing. The result
 * is borrowed from ctx, or formatted into buf (>= 32 bytes) for currentTime. */
const char *flag_context_value(const shop_flag_context_t *ctx, const char *name, char *buf,
                               size_t size);
/* 1 when the IP address `addr` lies in `spec` (an address or CIDR range, v4 or v6); 0 when not
 * or when either does not parse. Both borrowed. */
int flag_ip_in(const char *addr, const char *spec);
/* Compares two semantic versions (SemVer 2.0.0 precedence) into *cmp (-1, 0, 1); returns 0, or
 * -1 when either is not a valid version. Both borrowed. */
int flag_semver_cmp(const char *a, const char *b, int *cmp);
/* Translates an RE2-syntax pattern (as Unleash's REGEX operator uses) into a POSIX extended
 * pattern appended to `out`, adding REG_ICASE/REG_NEWLINE to *cflags for inline flags. Returns 0,
 * or -1 for what RE2 rejects or POSIX cannot express (lookaround, backreferences). */
int flag_regex_translate(const char *pattern, shop_buf_t *out, int *cflags);

#endif
