/* constraints.c: Unleash strategy constraints: every operator of the client specification
 * (IN/NOT_IN, STR_*, NUM_*, DATE_*, SEMVER_*, REGEX, IN_CIDR) with inverted and caseInsensitive. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flags_int.h"

static const struct {
    const char *name;
    flag_op_t op;
} op_names[] = {
    {"IN", FLAG_OP_IN},
    {"NOT_IN", FLAG_OP_NOT_IN},
    {"STR_STARTS_WITH", FLAG_OP_STR_STARTS_WITH},
    {"STR_ENDS_WITH", FLAG_OP_STR_ENDS_WITH},
    {"STR_CONTAINS", FLAG_OP_STR_CONTAINS},
    {"NUM_EQ", FLAG_OP_NUM_EQ},
    {"NUM_GT", FLAG_OP_NUM_GT},
    {"NUM_GTE", FLAG_OP_NUM_GTE},
    {"NUM_LT", FLAG_OP_NUM_LT},
    {"NUM_LTE", FLAG_OP_NUM_LTE},
    {"DATE_AFTER", FLAG_OP_DATE_AFTER},
    {"DATE_BEFORE", FLAG_OP_DATE_BEFORE},
    {"SEMVER_EQ", FLAG_OP_SEMVER_EQ},
    {"SEMVER_GT", FLAG_OP_SEMVER_GT},
    {"SEMVER_LT", FLAG_OP_SEMVER_LT},
    {"SEMVER_GTE", FLAG_OP_SEMVER_GTE},
    {"SEMVER_LTE", FLAG_OP_SEMVER_LTE},
    {"REGEX", FLAG_OP_REGEX},
    {"IN_CIDR", FLAG_OP_IN_CIDR},
};

static flag_op_t op_from_name(const char *s) {
    if (!s)
        return FLAG_OP_UNKNOWN;
    for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
        if (strcmp(op_names[i].name, s) == 0)
            return op_names[i].op;
    return FLAG_OP_UNKNOWN;
}

/* Returns a heap copy of a JSON scalar as text (strings as is, numbers and booleans printed), or
 * NULL for null, objects and arrays. */
static char *scalar_dup(const json_t *v) {
    if (json_is_string(v))
        return shop_xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return shop_xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return shop_xasprintf("%.17g", json_real_value(v));
    if (json_is_boolean(v))
        return shop_xstrdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

static void constraint_compile_regex(flag_constraint_t *c) {
    shop_buf_t pat;
    int cflags = REG_EXTENDED | REG_NOSUB | (c->case_insensitive ? REG_ICASE : 0);
    shop_buf_init(&pat);
    shop_buf_puts(&pat, "");
    if (c->value && flag_regex_translate(c->value, &pat, &cflags) == 0 && pat.buf)
        c->re_ok = regcomp(&c->re, pat.buf, cflags) == 0;
    shop_buf_release(&pat);
}

static void constraint_parse(const json_t *j, flag_constraint_t *c) {
    memset(c, 0, sizeof(*c));
    const char *name = json_string_value(json_object_get(j, "contextName"));
    c->context_name = shop_xstrdup(name ? name : "");
    c->op = op_from_name(json_string_value(json_object_get(j, "operator")));
    c->inverted = json_is_true(json_object_get(j, "inverted"));
    c->case_insensitive = json_is_true(json_object_get(j, "caseInsensitive"));
    const json_t *vals = json_object_get(j, "values");
    const json_t *val = json_object_get(j, "value");
    if (json_is_array(vals) && json_array_size(vals) > 0) {
        c->values = shop_xcalloc(json_array_size(vals), sizeof(char *));
        for (size_t i = 0; i < json_array_size(vals); i++) {
            char *s = scalar_dup(json_array_get(vals, i));
            if (s)
                c->values[c->n_values++] = s;
        }
    }
    c->value = scalar_dup(val);
    if (!c->value && c->n_values > 0)
        c->value = shop_xstrdup(c->values[0]);
    if (c->n_values == 0 && c->value && !json_is_array(vals)) {
        c->values = shop_xcalloc(1, sizeof(char *));
        c->values[c->n_values++] = shop_xstrdup(c->value);
    }
    if (c->op == FLAG_OP_REGEX)
        constraint_compile_regex(c);
}

void flag_constraints_parse(const json_t *arr, flag_constraints_t *out) {
    out->items = NULL;
    out->n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return;
    out->items = shop_xcalloc(json_array_size(arr), sizeof(flag_constraint_t));
    for (size_t i = 0; i < json_array_size(arr); i++)
        constraint_parse(json_array_get(arr, i), &out->items[out->n++]);
}

void flag_constraints_release(flag_constraints_t *c) {
    for (size_t i = 0; i < c->n; i++) {
        flag_constraint_t *k = &c->items[i];
        free(k->context_name);
        for (size_t v = 0; v < k->n_values; v++)
            free(k->values[v]);
        free(k->values);
        free(k->value);
        if (k->re_ok)
            regfree(&k->re);
    }
    free(c->items);
    c->items = NULL;
    c->n = 0;
}

const char *flag_context_value(const shop_flag_context_t *ctx, const char *name, char *buf,
                               size_t size) {
    if (strcmp(name, "userId") == 0)
        return ctx->user_id;
    if (strcmp(name, "sessionId") == 0)
        return ctx->session_id;
    if (strcmp(name, "remoteAddress") == 0)
        return ctx->remote_address;
    if (strcmp(name, "environment") == 0)
        return ctx->environment;
    if (strcmp(name, "appName") == 0)
        return ctx->app_name;
    if (strcmp(name, "currentTime") == 0)
        return shop_format_time_ms(ctx->current_time_ms ? ctx->current_time_ms : shop_now_ms(), buf,
                                   size);
    for (size_t i = 0; i < ctx->n_properties; i++)
        if (ctx->properties[i].name && strcmp(ctx->properties[i].name, name) == 0)
            return ctx->properties[i].value;
    return NULL;
}

/* Parses a whole string as a finite number. */
static int parse_num(const char *s, double *out) {
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (*end || errno == ERANGE || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static int str_match(flag_op_t op, const char *have, const char *want, int ci) {
    size_t hl = strlen(have), wl = strlen(want);
    switch (op) {
    case FLAG_OP_STR_STARTS_WITH:
        return hl >= wl && (ci ? strncasecmp(have, want, wl) : strncmp(have, want, wl)) == 0;
    case FLAG_OP_STR_ENDS_WITH:
        return hl >= wl &&
               (ci ? strcasecmp(have + hl - wl, want) : strcmp(have + hl - wl, want)) == 0;
    case FLAG_OP_STR_CONTAINS:
        return (ci ? strcasestr(have, want) : strstr(have, want)) != NULL;
    default:
        return 0;
    }
}

static int eval_list(const flag_constraint_t *c, const char *v) {
    for (size_t i = 0; i < c->n_values; i++) {
        if (c->op == FLAG_OP_IN || c->op == FLAG_OP_NOT_IN) {
            if (strcmp(v, c->values[i]) == 0)
                return 1;
        } else if (c->op == FLAG_OP_IN_CIDR) {
            if (flag_ip_in(v, c->values[i]))
                return 1;
        } else if (str_match(c->op, v, c->values[i], c->case_insensitive)) {
            return 1;
        }
    }
    return 0;
}

static int eval_num(const flag_constraint_t *c, const char *v) {
    double a, b;
    if (parse_num(v, &a) < 0 || parse_num(c->value, &b) < 0)
        return 0;
    switch (c->op) {
    case FLAG_OP_NUM_EQ:
        return a == b;
    case FLAG_OP_NUM_GT:
        return a > b;
    case FLAG_OP_NUM_GTE:
        return a >= b;
    case FLAG_OP_NUM_LT:
        return a < b;
    default:
        return a <= b;
    }
}

static int eval_date(const flag_constraint_t *c, const shop_flag_context_t *ctx, const char *v) {
    int64_t have, want;
    if (!c->value || shop_parse_time_ms(c->value, &want) < 0)
        return 0;
    if (strcmp(c->context_name, "currentTime") == 0)
        have = ctx->current_time_ms ? ctx->current_time_ms : shop_now_ms();
    else if (shop_parse_time_ms(v, &have) < 0)
        return 0;
    return c->op == FLAG_OP_DATE_AFTER ? have > want : have < want;
}

static int eval_semver(const flag_constraint_t *c, const char *v) {
    int cmp;
    if (!c->value || flag_semver_cmp(v, c->value, &cmp) < 0)
        return 0;
    switch (c->op) {
    case FLAG_OP_SEMVER_EQ:
        return cmp == 0;
    case FLAG_OP_SEMVER_GT:
        return cmp > 0;
    case FLAG_OP_SEMVER_GTE:
        return cmp >= 0;
    case FLAG_OP_SEMVER_LT:
        return cmp < 0;
    default:
        return cmp <= 0;
    }
}

/* The operator's verdict before `inverted`; a missing context value fails every operator but
 * NOT_IN. */
static int eval_op(const flag_constraint_t *c, const shop_flag_context_t *ctx) {
    char buf[48];
    const char *v = flag_context_value(ctx, c->context_name, buf, sizeof(buf));
    if (c->op == FLAG_OP_NOT_IN)
        return !v || !eval_list(c, v);
    if (!v)
        return 0;
    switch (c->op) {
    case FLAG_OP_IN:
    case FLAG_OP_IN_CIDR:
    case FLAG_OP_STR_STARTS_WITH:
    case FLAG_OP_STR_ENDS_WITH:
    case FLAG_OP_STR_CONTAINS:
        return eval_list(c, v);
    case FLAG_OP_NUM_EQ:
    case FLAG_OP_NUM_GT:
    case FLAG_OP_NUM_GTE:
    case FLAG_OP_NUM_LT:
    case FLAG_OP_NUM_LTE:
        return eval_num(c, v);
    case FLAG_OP_DATE_AFTER:
    case FLAG_OP_DATE_BEFORE:
        return eval_date(c, ctx, v);
    case FLAG_OP_SEMVER_EQ:
    case FLAG_OP_SEMVER_GT:
    case FLAG_OP_SEMVER_GTE:
    case FLAG_OP_SEMVER_LT:
    case FLAG_OP_SEMVER_LTE:
        return eval_semver(c, v);
    case FLAG_OP_REGEX:
        return c->re_ok && regexec(&c->re, v, 0, NULL, 0) == 0;
    default:
        return 0;
    }
}

static int constraint_match(const flag_constraint_t *c, const shop_flag_context_t *ctx) {
    /* An operator this client does not know must never switch a feature on, inverted or not;
     * nor may a pattern that failed to compile. */
    if (c->op == FLAG_OP_UNKNOWN || (c->op == FLAG_OP_REGEX && !c->re_ok))
        return 0;
    int r = eval_op(c, ctx);
    return c->inverted ? !r : r;
}

int flag_constraints_match(const flag_constraints_t *c, const shop_flag_context_t *ctx) {
    for (size_t i = 0; i < c->n; i++)
        if (!constraint_match(&c->items[i], ctx))
            return 0;
    return 1;
}

/* --- IP addresses and CIDR ranges ------------------------------------------------------------ */

/* Parses an IPv4 or IPv6 address into 16 bytes (v4 in the first 4); returns its bit length (32 or
 * 128) or -1. */
static int ip_parse(const char *s, unsigned char out[16]) {
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out) == 1)
        return 32;
    if (inet_pton(AF_INET6, s, out) == 1)
        return 128;
    return -1;
}

/* Copies s without surrounding spaces into buf; returns 0, or -1 when it does not fit. */
static int trim_copy(const char *s, char *buf, size_t size) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= size)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

int flag_ip_in(const char *addr, const char *spec) {
    char a[64], net[64];
    unsigned char ab[16], nb[16];
    if (trim_copy(addr, a, sizeof(a)) < 0 || trim_copy(spec, net, sizeof(net)) < 0)
        return 0;
    char *slash = strchr(net, '/');
    long prefix = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        prefix = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || prefix < 0)
            return 0;
    }
    int abits = ip_parse(a, ab), nbits = ip_parse(net, nb);
    if (abits < 0 || abits != nbits)
        return 0;
    if (prefix < 0)
        prefix = nbits;
    if (prefix > nbits)
        return 0;
    size_t whole = (size_t)prefix / 8;
    if (memcmp(ab, nb, whole) != 0)
        return 0;
    int rest = (int)(prefix % 8);
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (ab[whole] & mask) == (nb[whole] & mask);
}
