/* flags.h: feature-flag evaluation following the Unleash client specification (issue 6). */
#ifndef SHOP_FLAGS_H
#define SHOP_FLAGS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* An immutable, loaded set of features and segments. Evaluation never writes to it, so one
 * instance may be shared by any number of threads; swap in a new one when the flags change. */
typedef struct shop_flags shop_flags_t;

/* One custom context property. Strings are borrowed from the caller for the call's duration;
 * a NULL value counts as missing (JSON null in the specification). */
typedef struct {
    const char *name;
    const char *value;
} shop_flag_prop_t;

/* The evaluation context. Every pointer is borrowed for the duration of one call and may be
 * NULL (missing). A zeroed struct is the empty context. */
typedef struct {
    const char *user_id;
    const char *session_id;
    const char *remote_address;
    const char *environment;
    const char *app_name;
    int64_t current_time_ms; /* for DATE_* constraints; 0 means the wall clock */
    const shop_flag_prop_t *properties;
    size_t n_properties;
} shop_flag_context_t;

/* A variant. The strings are owned by the shop_flags_t that returned it (static for the
 * "disabled" variant) and stay valid until shop_flags_destroy. */
typedef struct {
    const char *name;          /* "disabled" when the feature is off or has no variants */
    int enabled;               /* 1 for a real variant, 0 for "disabled" */
    int feature_enabled;       /* shop_flags_is_enabled() of the feature */
    const char *payload_type;  /* "string", "json", "csv", "number"; NULL without a payload */
    const char *payload_value; /* NULL without a payload */
} shop_flag_variant_t;

/* Loads an Unleash client API state: {"features":[...],"segments":[...]} (the /api/client/features
 * payload) or the delta API form {"events":[hydration | feature-updated | feature-removed |
 * segment-updated | segment-removed ...]}, applied in order. `state` is borrowed (not stolen).
 * Returns a new object the caller releases with shop_flags_destroy, or NULL with errstr set. */
shop_flags_t *shop_flags_new(const json_t *state, char *errstr, size_t errstr_size);
/* Same, from JSON text (borrowed). */
shop_flags_t *shop_flags_new_from_json(const char *json, char *errstr, size_t errstr_size);
void shop_flags_destroy(shop_flags_t *flags);

/* Number of features loaded. */
size_t shop_flags_count(const shop_flags_t *flags);
/* Whether `feature` is defined (1) or not (0). `feature` is borrowed. */
int shop_flags_has(const shop_flags_t *flags, const char *feature);

/* 1 if the feature is on for this context, else 0 (unknown features are off). `ctx` may be NULL
 * (the empty context); all arguments are borrowed. */
int shop_flags_is_enabled(const shop_flags_t *flags, const char *feature,
                          const shop_flag_context_t *ctx);
/* The variant of `feature` for this context (strategy variants first, then feature variants with
 * their overrides); the "disabled" variant when the feature is off or has none. Arguments are
 * borrowed; the result's strings are owned by `flags` (see shop_flag_variant_t). */
shop_flag_variant_t shop_flags_get_variant(const shop_flags_t *flags, const char *feature,
                                           const shop_flag_context_t *ctx);

/* MurmurHash3 x86_32 of `len` bytes at `key` (borrowed). */
uint32_t shop_murmur3_32(const void *key, size_t len, uint32_t seed);
/* Unleash's normalised hash: murmur3("<group>:<id>", seed) % modulus + 1, in 1..modulus
 * (0 when modulus is 0). Strings are borrowed. Strategies use seed 0 and modulus 100. */
uint32_t shop_flags_normalized_hash(const char *id, const char *group, uint32_t modulus,
                                    uint32_t seed);
/* The seed Unleash uses when hashing for variant selection. */
#define SHOP_FLAGS_VARIANT_SEED 86028157u

#endif
