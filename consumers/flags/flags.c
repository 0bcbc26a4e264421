/* flags.c: loading an Unleash client state and evaluating features, strategies, segments,
 * variants and dependencies against a context, as the Unleash client specification prescribes. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "flags_int.h"

typedef struct {
    char *name;
    int weight;
    char *stickiness; /* NULL: "default" */
    char *payload_type, *payload_value;
    struct {
        char *context_name;
        char **values;
        size_t n_values;
    } * overrides;
    size_t n_overrides;
} flag_variant_t;

typedef struct {
    flag_variant_t *items;
    size_t n;
    int total_weight;
} flag_variants_t;

typedef struct {
    char *name;
    json_t *params; /* "parameters" object (own reference) or NULL */
    flag_constraints_t constraints;
    const flag_constraints_t **segments; /* borrowed from shop_flags_t.segments */
    size_t n_segments;
    int missing_segment; /* a referenced segment is unknown: the strategy is off */
    flag_variants_t variants;
} flag_strategy_t;

typedef struct {
    char *feature;
    int enabled; /* required parent state ("enabled", default true) */
    char **variants;
    size_t n_variants;
} flag_dependency_t;

typedef struct {
    char *name;
    int enabled;
    flag_strategy_t *strategies;
    size_t n_strategies;
    flag_variants_t variants;
    flag_dependency_t *deps;
    size_t n_deps;
} flag_feature_t;

typedef struct {
    long long id;
    flag_constraints_t constraints;
} flag_segment_t;

struct shop_flags {
    flag_feature_t *features; /* sorted by name */
    size_t n_features;
    flag_segment_t *segments;
    size_t n_segments;
};

static const shop_flag_context_t empty_ctx;

/* --- loading ---------------------------------------------------------------------------------- */

static char *json_strdup_or(const json_t *v, const char *dflt) {
    const char *s = json_string_value(v);
    if (s)
        return shop_xstrdup(s);
    if (json_is_integer(v))
        return shop_xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return shop_xasprintf("%.17g", json_real_value(v));
    return dflt ? shop_xstrdup(dflt) : NULL;
}

/* Copies the strings of a JSON array into a new heap array; sets *n. */
static char **strings_dup(const json_t *arr, size_t *n) {
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return NULL;
    char **out = shop_xcalloc(json_array_size(arr), sizeof(char *));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char *s = json_strdup_or(json_array_get(arr, i), NULL);
        if (s)
            out[(*n)++] = s;
    }
    return out;
}

static void strings_free(char **s, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static void variant_parse(const json_t *j, flag_variant_t *v) {
    memset(v, 0, sizeof(*v));
    v->name = json_strdup_or(json_object_get(j, "name"), "");
    const json_t *w = json_object_get(j, "weight");
    v->weight = json_is_number(w) ? (int)json_number_value(w) : 0;
    if (v->weight < 0)
        v->weight = 0;
    v->stickiness = json_strdup_or(json_object_get(j, "stickiness"), NULL);
    const json_t *payload = json_object_get(j, "payload");
    if (json_is_object(payload)) {
        v->payload_type = json_strdup_or(json_object_get(payload, "type"), "string");
        const json_t *pv = json_object_get(payload, "value");
        v->payload_value = json_is_string(pv) || json_is_number(pv)
                               ? json_strdup_or(pv, NULL)
                               : json_dumps(pv, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    const json_t *ovs = json_object_get(j, "overrides");
    if (json_is_array(ovs) && json_array_size(ovs) > 0) {
        v->overrides = shop_xcalloc(json_array_size(ovs), sizeof(*v->overrides));
        for (size_t i = 0; i < json_array_size(ovs); i++) {
            const json_t *o = json_array_get(ovs, i);
            v->overrides[i].context_name = json_strdup_or(json_object_get(o, "contextName"), "");
            v->overrides[i].values =
                strings_dup(json_object_get(o, "values"), &v->overrides[i].n_values);
        }
        v->n_overrides = json_array_size(ovs);
    }
}

static void variants_parse(const json_t *arr, flag_variants_t *out) {
    memset(out, 0, sizeof(*out));
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return;
    out->items = shop_xcalloc(json_array_size(arr), sizeof(flag_variant_t));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        variant_parse(json_array_get(arr, i), &out->items[out->n]);
        out->total_weight += out->items[out->n++].weight;
    }
}

static void variants_release(flag_variants_t *vs) {
    for (size_t i = 0; i < vs->n; i++) {
        flag_variant_t *v = &vs->items[i];
        free(v->name);
        free(v->stickiness);
        free(v->payload_type);
        free(v->payload_value);
        for (size_t o = 0; o < v->n_overrides; o++) {
            free(v->overrides[o].context_name);
            strings_free(v->overrides[o].values, v->overrides[o].n_values);
        }
        free(v->overrides);
    }
    free(vs->items);
}

static const flag_segment_t *segment_find(const shop_flags_t *f, long long id) {
    for (size_t i = 0; i < f->n_segments; i++)
        if (f->segments[i].id == id)
            return &f->segments[i];
    return NULL;
}

static void strategy_parse(const shop_flags_t *f, const json_t *j, flag_strategy_t *s) {
    memset(s, 0, sizeof(*s));
    s->name = json_strdup_or(json_object_get(j, "name"), "");
    json_t *params = json_object_get(j, "parameters");
    if (json_is_object(params))
        s->params = json_incref(params);
    flag_constraints_parse(json_object_get(j, "constraints"), &s->constraints);
    variants_parse(json_object_get(j, "variants"), &s->variants);
    const json_t *segs = json_object_get(j, "segments");
    if (json_is_array(segs) && json_array_size(segs) > 0) {
        s->segments = shop_xcalloc(json_array_size(segs), sizeof(*s->segments));
        for (size_t i = 0; i < json_array_size(segs); i++) {
            const json_t *id = json_array_get(segs, i);
            const flag_segment_t *seg =
                json_is_integer(id) ? segment_find(f, (long long)json_integer_value(id)) : NULL;
            if (seg)
                s->segments[s->n_segments++] = &seg->constraints;
            else
                s->missing_segment = 1;
        }
    }
}

static void feature_parse(const shop_flags_t *f, const json_t *j, flag_feature_t *ft) {
    memset(ft, 0, sizeof(*ft));
    ft->name = json_strdup_or(json_object_get(j, "name"), "");
    ft->enabled = json_is_true(json_object_get(j, "enabled"));
    const json_t *strats = json_object_get(j, "strategies");
    if (json_is_array(strats) && json_array_size(strats) > 0) {
        ft->strategies = shop_xcalloc(json_array_size(strats), sizeof(flag_strategy_t));
        for (size_t i = 0; i < json_array_size(strats); i++)
            strategy_parse(f, json_array_get(strats, i), &ft->strategies[ft->n_strategies++]);
    }
    variants_parse(json_object_get(j, "variants"), &ft->variants);
    const json_t *deps = json_object_get(j, "dependencies");
    if (json_is_array(deps) && json_array_size(deps) > 0) {
        ft->deps = shop_xcalloc(json_array_size(deps), sizeof(flag_dependency_t));
        for (size_t i = 0; i < json_array_size(deps); i++) {
            const json_t *d = json_array_get(deps, i);
            flag_dependency_t *dep = &ft->deps[ft->n_deps++];
            dep->feature = json_strdup_or(json_object_get(d, "feature"), "");
            const json_t *en = json_object_get(d, "enabled");
            dep->enabled = json_is_boolean(en) ? json_is_true(en) : 1;
            dep->variants = strings_dup(json_object_get(d, "variants"), &dep->n_variants);
        }
    }
}

static void feature_release(flag_feature_t *ft) {
    free(ft->name);
    for (size_t i = 0; i < ft->n_strategies; i++) {
        flag_strategy_t *s = &ft->strategies[i];
        free(s->name);
        json_decref(s->params);
        flag_constraints_release(&s->constraints);
        free(s->segments);
        variants_release(&s->variants);
    }
    free(ft->strategies);
    variants_release(&ft->variants);
    for (size_t i = 0; i < ft->n_deps; i++) {
        free(ft->deps[i].feature);
        strings_free(ft->deps[i].variants, ft->deps[i].n_variants);
    }
    free(ft->deps);
}

static int feature_cmp(const void *a, const void *b) {
    return strcmp(((const flag_feature_t *)a)->name, ((const flag_feature_t *)b)->name);
}

/* Folds the delta API's events into `features` (name -> feature) and `segments` (id -> segment),
 * both owned by the caller. */
static int apply_events(const json_t *events, json_t *features, json_t *segments, char *errstr,
                        size_t errstr_size) {
    size_t i;
    const json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (!type)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "event %zu has no type", i);
        if (strcmp(type, "hydration") == 0) {
            json_object_clear(features);
            json_object_clear(segments);
            size_t k;
            json_t *x;
            json_array_foreach(json_object_get(ev, "features"), k, x) {
                const char *name = json_string_value(json_object_get(x, "name"));
                if (name)
                    json_object_set(features, name, x);
            }
            json_array_foreach(json_object_get(ev, "segments"), k, x) {
                char key[32];
                snprintf(key, sizeof(key), "%lld",
                         (long long)json_integer_value(json_object_get(x, "id")));
                json_object_set(segments, key, x);
            }
        } else if (strcmp(type, "feature-updated") == 0) {
            json_t *x = json_object_get(ev, "feature");
            const char *name = json_string_value(json_object_get(x, "name"));
            if (name)
                json_object_set(features, name, x);
        } else if (strcmp(type, "feature-removed") == 0) {
            const char *name = json_string_value(json_object_get(ev, "featureName"));
            if (name)
                json_object_del(features, name);
        } else if (strcmp(type, "segment-updated") == 0 || strcmp(type, "segment-removed") == 0) {
            json_t *x = json_object_get(ev, "segment");
            const json_t *id = x ? json_object_get(x, "id") : json_object_get(ev, "segmentId");
            char key[32];
            snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(id));
            if (type[8] == 'u')
                json_object_set(segments, key, x);
            else
                json_object_del(segments, key);
        } /* other event types carry nothing a client evaluates */
    }
    return 0;
}

static void load_segments(shop_flags_t *f, const json_t *segs) {
    size_t n = json_is_array(segs) ? json_array_size(segs) : json_object_size(segs);
    if (n == 0)
        return;
    f->segments = shop_xcalloc(n, sizeof(flag_segment_t));
    const json_t *x;
    if (json_is_array(segs)) {
        size_t i;
        json_array_foreach(segs, i, x) {
            f->segments[f->n_segments].id = (long long)json_integer_value(json_object_get(x, "id"));
            flag_constraints_parse(json_object_get(x, "constraints"),
                                   &f->segments[f->n_segments++].constraints);
        }
    } else {
        const char *key;
        json_object_foreach((json_t *)segs, key, x) {
            f->segments[f->n_segments].id = (long long)json_integer_value(json_object_get(x, "id"));
            flag_constraints_parse(json_object_get(x, "constraints"),
                                   &f->segments[f->n_segments++].constraints);
        }
    }
}

static void load_features(shop_flags_t *f, const json_t *feats) {
    size_t n = json_is_array(feats) ? json_array_size(feats) : json_object_size(feats);
    if (n == 0)
        return;
    f->features = shop_xcalloc(n, sizeof(flag_feature_t));
    const json_t *x;
    if (json_is_array(feats)) {
        size_t i;
        json_array_foreach(feats, i, x) {
            if (json_is_object(x))
                feature_parse(f, x, &f->features[f->n_features++]);
        }
    } else {
        const char *key;
        json_object_foreach((json_t *)feats, key, x) {
            feature_parse(f, x, &f->features[f->n_features++]);
        }
    }
    shop_sort(f->features, f->n_features, sizeof(flag_feature_t), feature_cmp);
}

shop_flags_t *shop_flags_new(const json_t *state, char *errstr, size_t errstr_size) {
    if (!json_is_object(state)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "flags state is not a JSON object");
        return NULL;
    }
    const json_t *feats = json_object_get(state, "features");
    const json_t *segs = json_object_get(state, "segments");
    const json_t *events = json_object_get(state, "events");
    json_t *ev_feats = NULL, *ev_segs = NULL;
    if (json_is_array(events)) {
        ev_feats = json_object();
        ev_segs = json_object();
        if (apply_events(events, ev_feats, ev_segs, errstr, errstr_size) < 0) {
            json_decref(ev_feats);
            json_decref(ev_segs);
            return NULL;
        }
        feats = ev_feats;
        segs = ev_segs;
    } else if (!json_is_array(feats)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                    "flags state has neither a \"features\" nor an \"events\" array");
        return NULL;
    } else if (segs && !json_is_array(segs)) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "\"segments\" is not an array");
        return NULL;
    }
    shop_flags_t *f = shop_xcalloc(1, sizeof(*f));
    load_segments(f, segs); /* first: strategies point at their segments */
    load_features(f, feats);
    json_decref(ev_feats);
    json_decref(ev_segs);
    return f;
}

shop_flags_t *shop_flags_new_from_json(const char *json, char *errstr, size_t errstr_size) {
    json_error_t jerr;
    json_t *root = json ? json_loads(json, 0, &jerr) : NULL;
    if (!root) {
        shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "flags JSON: %s (line %d, column %d)",
                    json ? jerr.text : "no input", json ? jerr.line : 0, json ? jerr.column : 0);
        return NULL;
    }
    shop_flags_t *f = shop_flags_new(root, errstr, errstr_size);
    json_decref(root);
    return f;
}

void shop_flags_destroy(shop_flags_t *f) {
    if (!f)
        return;
    for (size_t i = 0; i < f->n_features; i++)
        feature_release(&f->features[i]);
    free(f->features);
    for (size_t i = 0; i < f->n_segments; i++)
        flag_constraints_release(&f->segments[i].constraints);
    free(f->segments);
    free(f);
}

size_t shop_flags_count(const shop_flags_t *f) {
    return f ? f->n_features : 0;
}

static const flag_feature_t *feature_find(const shop_flags_t *f, const char *name) {
    if (!f || !name || f->n_features == 0)
        return NULL;
    flag_feature_t key = {.name = (char *)name};
    return bsearch(&key, f->features, f->n_features, sizeof(flag_feature_t), feature_cmp);
}

int shop_flags_has(const shop_flags_t *f, const char *feature) {
    return feature_find(f, feature) != NULL;
}

/* --- evaluation ------------------------------------------------------------------------------- */

static const shop_flag_variant_t disabled_variant = {"disabled", 0, 0, NULL, NULL};

/* 1..n, uniformly enough for rollout percentages; per thread so evaluation stays lock-free. */
static uint32_t random_upto(uint32_t n) {
    static _Thread_local shop_rng_t rng;
    static _Thread_local int seeded;
    if (!seeded) {
        shop_rng_seed(&rng, (uint64_t)shop_now_ms() ^ (uint64_t)shop_mono_us() ^
                                (uint64_t)(uintptr_t)&rng);
        seeded = 1;
    }
    return (uint32_t)(shop_rng_next(&rng) % n) + 1;
}

/* A parameter as text: strings as they are, numbers printed into buf. NULL when absent. */
static const char *param(const flag_strategy_t *s, const char *key, char *buf, size_t size) {
    const json_t *v = s->params ? json_object_get(s->params, key) : NULL;
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, size, "%g", json_real_value(v));
        return buf;
    }
    return NULL;
}

/* The rollout percentage parameter, clamped to 0..100 (absent or unparsable: 0). */
static uint32_t param_percent(const flag_strategy_t *s, const char *key) {
    char buf[32];
    const char *p = param(s, key, buf, sizeof(buf));
    double d = p ? strtod(p, NULL) : 0;
    return d <= 0 ? 0 : d >= 100 ? 100 : (uint32_t)d;
}

/* Whether some element of the comma-separated `list` satisfies `match` against `want`. */
static int list_any(const char *list, const char *want, int (*match)(const char *, const char *)) {
    if (!list || !want)
        return 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0) {
            char *item = shop_xstrndup(p, n);
            int hit = match(item, want);
            free(item);
            if (hit)
                return 1;
        }
        p += end ? (size_t)(end - p) : strlen(p);
    }
    return 0;
}

static int match_exact(const char *item, const char *want) {
    return strcmp(item, want) == 0;
}

static int match_ip(const char *item, const char *want) {
    return strcmp(item, want) == 0 || flag_ip_in(want, item);
}

static int match_host(const char *item, const char *want) {
    return strcasecmp(item, want) == 0;
}

/* The value to hash for `stickiness` ("default": userId, then sessionId, then random; "random";
 * or any context field). NULL when the named field is missing. Random values go into buf. */
static const char *sticky_value(const shop_flag_context_t *ctx, const char *stickiness, char *buf,
                                size_t size) {
    if (!stickiness || strcmp(stickiness, "default") == 0) {
        if (ctx->user_id)
            return ctx->user_id;
        if (ctx->session_id)
            return ctx->session_id;
    } else if (strcmp(stickiness, "random") != 0) {
        return flag_context_value(ctx, stickiness, buf, size);
    }
    snprintf(buf, size, "%u", random_upto(1000000));
    return buf;
}

static int rollout(const char *id, const char *group, uint32_t percent) {
    return id && percent > 0 && shop_flags_normalized_hash(id, group, 100, 0) <= percent;
}

static const char *strategy_group(const flag_strategy_t *s, const flag_feature_t *ft, char *buf,
                                  size_t size) {
    const char *g = param(s, "groupId", buf, size);
    return g ? g : ft->name;
}

/* The built-in strategy's own verdict, constraints and segments aside. Unknown strategies are
 * off: this client cannot know what they would have decided. */
static int strategy_builtin(const flag_feature_t *ft, const flag_strategy_t *s,
                            const shop_flag_context_t *ctx) {
    char gbuf[32], sbuf[64], vbuf[64];
    const char *n = s->name;
    if (strcmp(n, "default") == 0)
        return 1;
    if (strcmp(n, "userWithId") == 0)
        return list_any(param(s, "userIds", vbuf, sizeof(vbuf)), ctx->user_id, match_exact);
    if (strcmp(n, "gradualRolloutUserId") == 0)
        return rollout(ctx->user_id, strategy_group(s, ft, gbuf, sizeof(gbuf)),
                       param_percent(s, "percentage"));
    if (strcmp(n, "gradualRolloutSessionId") == 0)
        return rollout(ctx->session_id, strategy_group(s, ft, gbuf, sizeof(gbuf)),
                       param_percent(s, "percentage"));
    if (strcmp(n, "gradualRolloutRandom") == 0) {
        uint32_t pct = param_percent(s, "percentage");
        return pct > 0 && random_upto(100) <= pct;
    }
    if (strcmp(n, "flexibleRollout") == 0) {
        const char *stick = param(s, "stickiness", sbuf, sizeof(sbuf));
        const char *id = sticky_value(ctx, stick, vbuf, sizeof(vbuf));
        return rollout(id, strategy_group(s, ft, gbuf, sizeof(gbuf)), param_percent(s, "rollout"));
    }
    if (strcmp(n, "remoteAddress") == 0)
        return list_any(param(s, "IPs", vbuf, sizeof(vbuf)), ctx->remote_address, match_ip);
    if (strcmp(n, "applicationHostname") == 0) {
        char host[256] = "";
        if (gethostname(host, sizeof(host) - 1) != 0)
            return 0;
        return list_any(param(s, "hostNames", vbuf, sizeof(vbuf)), host, match_host);
    }
    return 0;
}

static int strategy_eval(const flag_feature_t *ft, const flag_strategy_t *s,
                         const shop_flag_context_t *ctx) {
    if (s->missing_segment)
        return 0;
    for (size_t i = 0; i < s->n_segments; i++)
        if (!flag_constraints_match(s->segments[i], ctx))
            return 0;
    return flag_constraints_match(&s->constraints, ctx) && strategy_builtin(ft, s, ctx);
}

/* Picks a variant: overrides first, then the weighted normalised hash of the stickiness value
 * with `group` (Unleash hashes variants with its own seed). NULL when there are none. */
static const flag_variant_t *variant_pick(const flag_variants_t *vs, const char *stickiness,
                                          const char *group, const shop_flag_context_t *ctx) {
    char buf[64];
    if (vs->n == 0 || vs->total_weight <= 0)
        return NULL;
    for (size_t i = 0; i < vs->n; i++) {
        const flag_variant_t *v = &vs->items[i];
        for (size_t o = 0; o < v->n_overrides; o++) {
            const char *have =
                flag_context_value(ctx, v->overrides[o].context_name, buf, sizeof(buf));
            for (size_t k = 0; have && k < v->overrides[o].n_values; k++)
                if (strcmp(have, v->overrides[o].values[k]) == 0)
                    return v;
        }
    }
    if (vs->items[0].stickiness)
        stickiness = vs->items[0].stickiness;
    const char *id = sticky_value(ctx, stickiness, buf, sizeof(buf));
    uint32_t target = shop_flags_normalized_hash(
        id ? id : "undefined", group, (uint32_t)vs->total_weight, SHOP_FLAGS_VARIANT_SEED);
    uint32_t acc = 0;
    for (size_t i = 0; i < vs->n; i++) {
        if (vs->items[i].weight <= 0)
            continue;
        acc += (uint32_t)vs->items[i].weight;
        if (acc >= target)
            return &vs->items[i];
    }
    return NULL;
}

static int feature_eval(const shop_flags_t *f, const flag_feature_t *ft,
                        const shop_flag_context_t *ctx, const flag_strategy_t **hit);

static int variant_listed(const flag_dependency_t *dep, const char *name) {
    for (size_t i = 0; i < dep->n_variants; i++)
        if (strcmp(dep->variants[i], name) == 0)
            return 1;
    return 0;
}

static shop_flag_variant_t variant_of(const flag_feature_t *ft, const flag_strategy_t *hit,
                                      const shop_flag_context_t *ctx);

/* Dependencies hold when every parent exists, has no parents of its own (Unleash evaluates one
 * level only, which also ends cycles), and is in the required state and variant. */
static int deps_ok(const shop_flags_t *f, const flag_feature_t *ft,
                   const shop_flag_context_t *ctx) {
    for (size_t i = 0; i < ft->n_deps; i++) {
        const flag_dependency_t *dep = &ft->deps[i];
        const flag_feature_t *parent = feature_find(f, dep->feature);
        const flag_strategy_t *hit;
        if (!parent || parent->n_deps > 0)
            return 0;
        int on = feature_eval(f, parent, ctx, &hit);
        if (!dep->enabled) {
            if (on)
                return 0;
            continue;
        }
        if (!on)
            return 0;
        if (dep->n_variants > 0 && !variant_listed(dep, variant_of(parent, hit, ctx).name))
            return 0;
    }
    return 1;
}

/* Whether the feature is on; *hit is the first strategy that switched it on (NULL for a feature
 * without strategies or when off). */
static int feature_eval(const shop_flags_t *f, const flag_feature_t *ft,
                        const shop_flag_context_t *ctx, const flag_strategy_t **hit) {
    *hit = NULL;
    if (!ft->enabled || !deps_ok(f, ft, ctx))
        return 0;
    if (ft->n_strategies == 0)
        return 1;
    for (size_t i = 0; i < ft->n_strategies; i++) {
        if (strategy_eval(ft, &ft->strategies[i], ctx)) {
            *hit = &ft->strategies[i];
            return 1;
        }
    }
    return 0;
}

/* The variant of an enabled feature: the matching strategy's variants, else the feature's. */
static shop_flag_variant_t variant_of(const flag_feature_t *ft, const flag_strategy_t *hit,
                                      const shop_flag_context_t *ctx) {
    const flag_variant_t *v = NULL;
    if (hit && hit->variants.n > 0) {
        char gbuf[32], sbuf[64];
        v = variant_pick(&hit->variants, param(hit, "stickiness", sbuf, sizeof(sbuf)),
                         strategy_group(hit, ft, gbuf, sizeof(gbuf)), ctx);
    }
    if (!v)
        v = variant_pick(&ft->variants, NULL, ft->name, ctx);
    shop_flag_variant_t out = disabled_variant;
    out.feature_enabled = 1;
    if (v) {
        out.name = v->name;
        out.enabled = 1;
        out.payload_type = v->payload_type;
        out.payload_value = v->payload_value;
    }
    return out;
}

int shop_flags_is_enabled(const shop_flags_t *f, const char *feature,
                          const shop_flag_context_t *ctx) {
    const flag_feature_t *ft = feature_find(f, feature);
    const flag_strategy_t *hit;
    return ft ? feature_eval(f, ft, ctx ? ctx : &empty_ctx, &hit) : 0;
}

shop_flag_variant_t shop_flags_get_variant(const shop_flags_t *f, const char *feature,
                                           const shop_flag_context_t *ctx) {
    const flag_feature_t *ft = feature_find(f, feature);
    const flag_strategy_t *hit;
    if (!ctx)
        ctx = &empty_ctx;
    if (!ft || !feature_eval(f, ft, ctx, &hit))
        return disabled_variant;
    return variant_of(ft, hit, ctx);
}
