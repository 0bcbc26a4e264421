/* rules.c: the configured fraud rules (file format, built-in defaults), their evaluation on an
 * order's features, and how rules and the Isolation Forest's anomaly score combine into a 0..100
 * score, a level, a recommendation and reasons in words. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud.h"

static const char *const rule_names[FRAUD_R__COUNT] = {
    [FRAUD_R_VELOCITY_1H] = "velocity_1h",
    [FRAUD_R_AMOUNT_ZSCORE] = "amount_zscore",
    [FRAUD_R_NEW_DEVICE_CTRY] = "new_device_country",
    [FRAUD_R_NEW_ADDR_YOUNG] = "new_address_young_account",
    [FRAUD_R_POINTS_RATIO] = "points_ratio",
    [FRAUD_R_HOARDING] = "hoarding",
    [FRAUD_R_DEVICE_ACCOUNTS] = "device_accounts",
    [FRAUD_R_FAILED_PAYMENTS] = "failed_payments",
};

/* Kept equal to deploy/fraud-rules.conf (a unit test compares them). */
static const char default_rules[] =
    "velocity_1h                4   35 4 or more orders within one hour\n"
    "amount_zscore              3   25 amount far above this customer's usual orders\n"
    "new_device_country         1   35 new device and new country together (possible account "
    "takeover)\n"
    "new_address_young_account  7   25 unseen shipping address on an account younger than 7 "
    "days\n"
    "points_ratio               2   30 points spent far above points earned in 24 h\n"
    "hoarding                   5   40 large quantity of one SKU (hoarding)\n"
    "device_accounts            3   30 many accounts on one device in 24 h\n"
    "failed_payments            2   30 repeated failed payments in 24 h\n";

const char *shop_fraud_rule_name(shop_fraud_rule_code_t c) {
    return (int)c >= 0 && c < FRAUD_R__COUNT ? rule_names[c] : NULL;
}

static int parse_line(shop_fraud_rules_t *rs, char *line, const char *name, int lineno,
                      char *errstr, size_t errstr_size) {
    char *save = NULL, *code = strtok_r(line, " \t", &save);
    char *th = strtok_r(NULL, " \t", &save), *wt = strtok_r(NULL, " \t", &save);
    char *reason = save;
    while (reason && isspace((unsigned char)*reason))
        reason++;
    if (!code || !th || !wt || !reason || !*reason)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "%s:%d: expected `code threshold weight reason text`", name, lineno);
    int c = 0;
    while (c < FRAUD_R__COUNT && strcmp(rule_names[c], code))
        c++;
    if (c == FRAUD_R__COUNT)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s:%d: unknown rule \"%s\"", name,
                           lineno, code);
    char *e1, *e2;
    errno = 0;
    double t = strtod(th, &e1);
    long w = strtol(wt, &e2, 10);
    if (*e1 || *e2 || errno || w < 0 || w > 100 || t != t)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "%s:%d: threshold must be a number and weight 0..100", name, lineno);
    if (rs->n == FRAUD_MAX_RULES)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s:%d: more than %d rules", name,
                           lineno, FRAUD_MAX_RULES);
    shop_fraud_rule_t *r = &rs->r[rs->n++];
    r->code = (shop_fraud_rule_code_t)c;
    r->threshold = t;
    r->weight = (int)w;
    size_t n = strlen(reason);
    while (n && isspace((unsigned char)reason[n - 1]))
        reason[--n] = 0;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    return SHOP_OK;
}

int shop_fraud_rules_parse(shop_fraud_rules_t *rs, const char *text, const char *name, char *errstr,
                           size_t errstr_size) {
    memset(rs, 0, sizeof(*rs));
    char *copy = shop_xstrdup(text), *save = NULL;
    int lineno = 0, rc = SHOP_OK;
    for (char *p = copy, *nl; p && !rc; p = nl) {
        nl = strchr(p, '\n');
        if (nl)
            *nl++ = 0;
        lineno++;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = 0;
        while (isspace((unsigned char)*p))
            p++;
        if (*p)
            rc = parse_line(rs, p, name, lineno, errstr, errstr_size);
    }
    (void)save;
    free(copy);
    if (!rc && !rs->n)
        rc = shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG, "%s: no rules", name);
    return rc;
}

int shop_fraud_rules_load(shop_fraud_rules_t *rs, const char *path, char *errstr,
                          size_t errstr_size) {
    FILE *fp = fopen(path, "r");
    if (!fp)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_IO, "%s: %s", path, strerror(errno));
    shop_buf_t b;
    shop_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        shop_buf_append(&b, chunk, n);
    fclose(fp);
    shop_buf_append(&b, "", 1);
    int rc = shop_fraud_rules_parse(rs, b.buf, path, errstr, errstr_size);
    shop_buf_release(&b);
    return rc;
}

void shop_fraud_rules_default(shop_fraud_rules_t *rs) {
    char err[256];
    if (shop_fraud_rules_parse(rs, default_rules, "built-in rules", err, sizeof(err)))
        abort(); /* a bug in the table above */
}

/* ---- scoring ---- */

static int fires(const shop_fraud_rule_t *r, const shop_fraud_features_t *f,
                 const shop_fraud_order_t *o) {
    switch (r->code) {
    case FRAUD_R_VELOCITY_1H:
        return (double)f->orders_1h >= r->threshold;
    case FRAUD_R_AMOUNT_ZSCORE:
        return f->zscore >= r->threshold;
    case FRAUD_R_NEW_DEVICE_CTRY:
        return f->has_history && f->new_device && f->new_country && r->threshold <= 1;
    case FRAUD_R_NEW_ADDR_YOUNG:
        return f->new_addr && f->age_days < r->threshold;
    case FRAUD_R_POINTS_RATIO:
        return o->points_used > 0 && f->points_ratio >= r->threshold;
    case FRAUD_R_HOARDING:
        return (double)o->max_qty >= r->threshold;
    case FRAUD_R_DEVICE_ACCOUNTS:
        return (double)f->device_accounts >= r->threshold;
    case FRAUD_R_FAILED_PAYMENTS:
        return (double)f->failed_24h >= r->threshold;
    default:
        return 0;
    }
}

int shop_fraud_combine(const shop_fraud_conf_t *c, int rules_points, double anomaly) {
    double s = rules_points;
    if (anomaly > c->forest_floor) {
        double x = (anomaly - c->forest_floor) / 0.25;
        s += (x > 1 ? 1 : x) * c->forest_weight;
    }
    int v = (int)(s + 0.5);
    return v < 0 ? 0 : v > 100 ? 100 : v;
}

static int level_of(const shop_fraud_conf_t *c, int score) {
    return score >= c->level_high ? 2 : score >= c->level_medium ? 1 : 0;
}

void shop_fraud_score(const shop_fraud_engine_t *e, const shop_fraud_features_t *f,
                      const shop_fraud_order_t *o, shop_fraud_decision_t *dec) {
    memset(dec, 0, sizeof(*dec));
    int points = 0;
    for (int i = 0; i < e->conf.rules.n; i++)
        if (fires(&e->conf.rules.r[i], f, o)) {
            dec->fired |= 1u << i;
            points += e->conf.rules.r[i].weight;
        }
    dec->anomaly = e->forest ? shop_iforest_score(e->forest, f->v) : -1;
    dec->score = shop_fraud_combine(&e->conf, points, dec->anomaly);
    dec->level = level_of(&e->conf, dec->score);
    snprintf(dec->model, sizeof(dec->model), "%s", e->forest ? e->model : "none");
}

const char *shop_fraud_level_name(int level) {
    return level >= 2 ? "high" : level == 1 ? "medium" : "low";
}

const char *shop_fraud_recommendation(int level) {
    return level >= 2 ? "decline" : level == 1 ? "review" : "approve";
}

const char *shop_fraud_reasons(const shop_fraud_engine_t *e, const shop_fraud_decision_t *d,
                               int max, char *buf, size_t size) {
    const shop_fraud_rules_t *rs = &e->conf.rules;
    int used[FRAUD_MAX_RULES] = {0}, n = 0;
    size_t len = 0;
    buf[0] = 0;
    while (n < max) {
        int best = -1;
        for (int i = 0; i < rs->n; i++)
            if ((d->fired & (1u << i)) && !used[i] &&
                (best < 0 || rs->r[i].weight > rs->r[best].weight))
                best = i;
        if (best < 0)
            break;
        used[best] = 1;
        len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", n ? "; " : "",
                                rs->r[best].reason);
        n++;
    }
    if (n < max && d->anomaly > e->conf.forest_floor + 0.05 && len < size)
        len += (size_t)snprintf(buf + len, size - len,
                                "%sunusual order for this shop (anomaly "
                                "score %.2f)",
                                n ? "; " : "", d->anomaly);
    (void)len;
    return buf;
}
