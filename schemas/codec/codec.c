/* codec.c: the schema set: compiled-in and added schemas, versions per topic, routing of event
 * types to topics and payload branches, and the cache of schema-registry ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "embedded.h"

#define REGISTRY_NEGATIVE_TTL_MS 30000

static const char *const kind_names[SHOP_EV__COUNT] = {
    [SHOP_EV_UNKNOWN] = "unknown",
    [SHOP_EV_USER_SIGNUP] = "user.signup",
    [SHOP_EV_USER_LOGIN] = "user.login",
    [SHOP_EV_USER_PRODUCT_VIEWED] = "user.product_viewed",
    [SHOP_EV_USER_CART_ADDED] = "user.cart_added",
    [SHOP_EV_USER_CART_REMOVED] = "user.cart_removed",
    [SHOP_EV_USER_WISHLIST_ADDED] = "user.wishlist_added",
    [SHOP_EV_USER_POINTS_EARNED] = "user.points_earned",
    [SHOP_EV_USER_POINTS_SPENT] = "user.points_spent",
    [SHOP_EV_USER_LEVEL_UP] = "user.level_up",
    [SHOP_EV_USER_NOTIFICATION_PREFS_CHANGED] = "user.notification_prefs_changed",
    [SHOP_EV_ORDER_PLACED] = "order.placed",
    [SHOP_EV_ORDER_PAID] = "order.paid",
    [SHOP_EV_ORDER_PAYMENT_FAILED] = "order.payment_failed",
    [SHOP_EV_ORDER_CANCELLED] = "order.cancelled",
    [SHOP_EV_ORDER_REFUNDED] = "order.refunded",
    [SHOP_EV_ORDER_CHARGEBACK] = "order.chargeback",
    [SHOP_EV_ORDER_SHIPPED] = "order.shipped",
    [SHOP_EV_ORDER_DELIVERED] = "order.delivered",
    [SHOP_EV_SEARCH_QUERY] = "search.query",
    [SHOP_EV_SEARCH_SUGGESTION_CLICKED] = "search.suggestion_clicked",
    [SHOP_EV_SEARCH_RESULT_CLICKED] = "search.result_clicked",
    [SHOP_EV_SEARCH_VISUAL] = "search.visual",
    [SHOP_EV_INVENTORY_STOCK_LEVEL] = "inventory.stock_level",
    [SHOP_EV_CATALOG_PRODUCT_UPSERTED] = "catalog.product_upserted",
};

const char *shop_event_kind_name(shop_event_kind_t kind) {
    if ((int)kind < 0 || kind >= SHOP_EV__COUNT)
        return kind_names[SHOP_EV_UNKNOWN];
    return kind_names[kind];
}

shop_event_kind_t shop_event_kind_from_name(const char *type) {
    if (!type)
        return SHOP_EV_UNKNOWN;
    for (int k = SHOP_EV_UNKNOWN + 1; k < SHOP_EV__COUNT; k++)
        if (!strcmp(kind_names[k], type))
            return (shop_event_kind_t)k;
    return SHOP_EV_UNKNOWN;
}

/* ---- entries ---- */

static void entry_free(shop_schema_entry_t *e) {
    if (!e)
        return;
    shop_wire_free(e->wire);
    if (e->info.schema)
        avro_schema_decref(e->info.schema);
    json_decref(e->doc);
    json_decref(e->names);
    for (size_t i = 0; i < e->nbranches; i++) {
        free(e->branch_type[i]);
        json_decref(e->branch_fields[i]);
    }
    free(e->branch_type);
    free(e->branch_fields);
    json_decref(e->env_fields);
    for (size_t i = 0; i < e->nplans; i++)
        free(e->plans[i].fields);
    free(e->plans);
    free(e->branch_kind);
    free(e->topic);
    free(e->key_field);
    free(e->name);
    free(e->canonical);
    free(e->json);
    free(e);
}

static json_t *field_node(json_t *record, const char *name) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(record, "fields"), i, f) {
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (fname && !strcmp(fname, name))
            return f;
    }
    return NULL;
}

static int field_of_type(shop_schema_entry_t *e, const char *field, avro_type_t type, int *out,
                         char *errstr, size_t errstr_size) {
    int idx = avro_schema_record_field_get_index(e->info.schema, field);
    if (idx < 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: event schema lacks field %s",
                           e->name, field);
    avro_schema_t fs = avro_schema_record_field_get_by_index(e->info.schema, idx);
    if (avro_typeof(fs) != type)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: field %s must be a %s",
                           e->name, field,
                           type == AVRO_STRING  ? "string"
                           : type == AVRO_INT64 ? "long"
                                                : "union");
    *out = idx;
    return SHOP_OK;
}

/* name -> index of the fields of record `s`, except field `skip`. New reference. */
static json_t *field_index(avro_schema_t s, int skip) {
    json_t *idx = json_object();
    size_t n = avro_schema_record_size(s);
    for (size_t i = 0; i < n; i++)
        if ((int)i != skip)
            json_object_set_new(idx, avro_schema_record_field_name(s, (int)i),
                                json_integer((json_int_t)i));
    return idx;
}

/* A payload field that repeats an envelope field (user.signup's locale) is one key in the flat
 * JSON form: both get the same value, so both must have the same type. */
static int check_branch_fields(shop_schema_entry_t *e, json_t *branch, const char *type,
                               char *errstr, size_t errstr_size) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(branch, "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *env = field_node(e->doc, name ? name : "");
        if (!env)
            continue;
        if (!strcmp(name, "type") || !strcmp(name, "payload") ||
            !json_equal(json_object_get(env, "type"), json_object_get(f, "type")))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%s: payload %s repeats envelope field %s with another type",
                               e->name, type, name);
    }
    return SHOP_OK;
}

/* Validates the shop envelope and reads the "shop.type" of every payload branch. */
static int entry_envelope(shop_schema_entry_t *e, char *errstr, size_t errstr_size) {
    avro_schema_t s = e->info.schema;
    int r;
    if (!is_avro_record(s))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: an event schema is a record",
                           e->name);
    if ((r = field_of_type(e, "event_id", AVRO_STRING, &e->f_event_id, errstr, errstr_size)) ||
        (r = field_of_type(e, "occurred_at", AVRO_INT64, &e->f_occurred_at, errstr, errstr_size)) ||
        (r = field_of_type(e, "type", AVRO_STRING, &e->f_type, errstr, errstr_size)) ||
        (r = field_of_type(e, e->key_field, AVRO_STRING, &e->f_key, errstr, errstr_size)) ||
        (r = field_of_type(e, "payload", AVRO_UNION, &e->f_payload, errstr, errstr_size)))
        return r;
    avro_schema_t u = avro_schema_record_field_get_by_index(s, e->f_payload);
    json_t *branches = json_object_get(field_node(e->doc, "payload"), "type");
    e->nbranches = avro_schema_union_size(u);
    if (json_array_size(branches) != e->nbranches)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: payload must be a union",
                           e->name);
    e->branch_type = shop_xcalloc(e->nbranches, sizeof(char *));
    e->branch_kind = shop_xcalloc(e->nbranches, sizeof(shop_event_kind_t));
    e->branch_fields = shop_xcalloc(e->nbranches, sizeof(json_t *));
    e->env_fields = field_index(s, e->f_payload);
    for (size_t i = 0; i < e->nbranches; i++) {
        avro_schema_t bs = avro_schema_union_branch(u, (int)i);
        json_t *b = shop_entry_type_node(e, json_array_get(branches, i), bs);
        const char *type = json_string_value(json_object_get(b, "shop.type"));
        if (!is_avro_record(bs) || !type)
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "%s: payload branch %zu must be a record with \"shop.type\"",
                               e->name, i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(e->branch_type[j], type))
                return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                                   "%s: two payload branches have shop.type %s", e->name, type);
        if ((r = check_branch_fields(e, b, type, errstr, errstr_size)))
            return r;
        e->branch_type[i] = shop_xstrdup(type);
        e->branch_fields[i] = field_index(bs, -1);
        e->branch_kind[i] = shop_event_kind_from_name(type);
    }
    e->is_event = 1;
    return SHOP_OK;
}

static int null_branch_of(json_t *type) {
    size_t i;
    json_t *b;
    json_array_foreach(type, i, b) {
        const char *t = json_is_string(b) ? json_string_value(b)
                                          : json_string_value(json_object_get(b, "type"));
        if (t && !strcmp(t, "null"))
            return (int)i;
    }
    return -1;
}

/* One plan per record definition (they are all in e->names). */
static void entry_plans(shop_schema_entry_t *e) {
    const char *full;
    json_t *node;
    e->plans = shop_xcalloc(json_object_size(e->names) + 1, sizeof(*e->plans));
    json_object_foreach(e->names, full, node) {
        json_t *fields = json_object_get(node, "fields");
        if (!json_is_array(fields))
            continue;
        shop_record_plan_t *p = &e->plans[e->nplans++];
        p->node = node;
        p->nfields = json_array_size(fields);
        p->fields = shop_xcalloc(p->nfields + 1, sizeof(*p->fields));
        for (size_t i = 0; i < p->nfields; i++) {
            json_t *f = json_array_get(fields, i);
            p->fields[i].name = json_string_value(json_object_get(f, "name"));
            p->fields[i].type = json_object_get(f, "type");
            p->fields[i].def = json_object_get(f, "default");
            p->fields[i].null_branch = null_branch_of(p->fields[i].type);
        }
    }
}

const shop_record_plan_t *shop_entry_plan(const shop_schema_entry_t *entry, json_t *node) {
    for (size_t i = 0; i < entry->nplans; i++)
        if (entry->plans[i].node == node)
            return &entry->plans[i];
    return NULL;
}

static void entry_full_name(shop_schema_entry_t *e) {
    avro_schema_t s = e->info.schema;
    if (is_avro_named_type(s)) {
        const char *ns = avro_schema_namespace(s);
        e->name = ns && *ns ? shop_xasprintf("%s.%s", ns, avro_schema_name(s))
                            : shop_xstrdup(avro_schema_name(s));
    } else {
        e->name = shop_xstrdup(avro_schema_type_name(s));
    }
}

/* Parses one schema text into a new entry (not yet in the set). */
static int entry_new(const char *json, int from_registry, shop_schema_entry_t **out, char *errstr,
                     size_t errstr_size) {
    json_error_t jerr;
    shop_schema_entry_t *e = shop_xcalloc(1, sizeof(*e));
    e->f_event_id = e->f_occurred_at = e->f_type = e->f_key = e->f_payload = -1;
    e->registry_id = -1;
    e->from_registry = from_registry;
    e->json = shop_xstrdup(json);
    e->names = json_object();
    int r = SHOP_ERR_INVALID;
    if (!(e->doc = json_loads(json, JSON_DECODE_ANY, &jerr))) {
        shop_seterr(errstr, errstr_size, r, "schema is not JSON: %s (line %d)", jerr.text,
                    jerr.line);
        goto fail;
    }
    if ((r = shop_schema_walk(e->doc, e->names, &e->canonical, errstr, errstr_size)))
        goto fail;
    if (avro_schema_from_json_length(json, strlen(json), &e->info.schema)) {
        r = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "avro: %s", avro_strerror());
        e->info.schema = NULL;
        goto fail;
    }
    entry_full_name(e);
    entry_plans(e);
    e->wire = shop_wire_compile(e->info.schema);
    const char *topic = json_string_value(json_object_get(e->doc, "shop.topic"));
    const char *key = json_string_value(json_object_get(e->doc, "shop.key"));
    json_t *version = json_object_get(e->doc, "shop.version");
    if (topic) {
        if (!key || !json_is_integer(version)) {
            r = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                            "%s: shop.topic needs shop.key and an integer shop.version", e->name);
            goto fail;
        }
        e->topic = shop_xstrdup(topic);
        e->key_field = shop_xstrdup(key);
        if ((r = entry_envelope(e, errstr, errstr_size)))
            goto fail;
    }
    e->info.topic = e->topic;
    e->info.key_field = e->key_field;
    e->info.name = e->name;
    e->info.version = json_is_integer(version) ? (int)json_integer_value(version) : 0;
    e->info.fingerprint = (int64_t)shop_crc64_avro(e->canonical, strlen(e->canonical));
    e->info.canonical = e->canonical;
    e->info.json = e->json;
    *out = e;
    return SHOP_OK;
fail:
    entry_free(e);
    return r;
}

/* ---- the set (callers hold the lock) ---- */

static shop_schema_entry_t *find_fp(shop_codec_t *c, int64_t fp) {
    for (size_t i = 0; i < c->nentries; i++)
        if (c->entries[i]->info.fingerprint == fp)
            return c->entries[i];
    return NULL;
}

static shop_schema_entry_t *find_current(shop_codec_t *c, const char *topic) {
    for (size_t i = 0; i < c->nentries; i++) {
        shop_schema_entry_t *e = c->entries[i];
        if (e->info.is_current && e->info.topic && !strcmp(e->info.topic, topic))
            return e;
    }
    return NULL;
}

static shop_schema_entry_t *find_current_by_name(shop_codec_t *c, const char *name) {
    for (size_t i = 0; i < c->nentries; i++) {
        shop_schema_entry_t *e = c->entries[i];
        if (e->info.is_current && !strcmp(e->name, name))
            return e;
    }
    return NULL;
}

static int route_cmp(const void *a, const void *b) {
    return strcmp(((const shop_type_route_t *)a)->type, ((const shop_type_route_t *)b)->type);
}

static void rebuild_routes(shop_codec_t *c) {
    size_t ntopics = 0, ntypes = 0;
    free(c->topics);
    free(c->types);
    c->topics = shop_xcalloc(c->nentries + 1, sizeof(char *));
    for (size_t i = 0; i < c->nentries; i++)
        if (c->entries[i]->info.is_current)
            ntypes += c->entries[i]->nbranches;
    c->types = shop_xcalloc(ntypes ? ntypes : 1, sizeof(shop_type_route_t));
    ntypes = 0;
    for (size_t i = 0; i < c->nentries; i++) {
        shop_schema_entry_t *e = c->entries[i];
        if (!e->info.is_current)
            continue;
        c->topics[ntopics++] = e->info.topic;
        for (size_t b = 0; b < e->nbranches; b++)
            c->types[ntypes++] = (shop_type_route_t){e->branch_type[b], e, (int)b};
    }
    shop_sort(c->types, ntypes, sizeof(*c->types), route_cmp);
    c->ntypes = ntypes;
}

/* Would `e` as the current schema of its topic route a type another topic already routes? */
static int check_type_conflicts(shop_codec_t *c, shop_schema_entry_t *e, char *errstr,
                                size_t errstr_size) {
    for (size_t b = 0; b < e->nbranches; b++) {
        shop_type_route_t key = {e->branch_type[b], NULL, 0};
        shop_type_route_t *r = bsearch(&key, c->types, c->ntypes, sizeof(key), route_cmp);
        if (r && strcmp(r->entry->info.topic, e->info.topic))
            return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                               "type %s is already routed to %s", e->branch_type[b],
                               r->entry->info.topic);
    }
    return SHOP_OK;
}

/* Takes ownership of `e`; *out is the entry now in the set (an equal one may already exist). */
static int insert_locked(shop_codec_t *c, shop_schema_entry_t *e, shop_schema_entry_t **out,
                         char *errstr, size_t errstr_size) {
    shop_schema_entry_t *same = find_fp(c, e->info.fingerprint);
    if (same) {
        entry_free(e);
        *out = same;
        return SHOP_OK;
    }
    if (!e->topic) { /* e.g. from the registry without our attributes: match by full name */
        shop_schema_entry_t *cur = find_current_by_name(c, e->name);
        if (cur && cur->info.topic) {
            e->info.topic = cur->info.topic;
            e->info.key_field = cur->info.key_field;
        }
    } else if (!e->from_registry) {
        for (size_t i = 0; i < c->nentries; i++) {
            shop_schema_entry_t *o = c->entries[i];
            if (!o->from_registry && o->topic && !strcmp(o->topic, e->topic) &&
                o->info.version == e->info.version) {
                entry_free(e);
                return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                                   "%s: two different schemas claim version %d", o->topic,
                                   o->info.version);
            }
        }
        shop_schema_entry_t *cur = find_current(c, e->topic);
        if (!cur || e->info.version > cur->info.version) {
            int r = check_type_conflicts(c, e, errstr, errstr_size);
            if (r) {
                entry_free(e);
                return r;
            }
            if (cur)
                cur->info.is_current = 0;
            e->info.is_current = 1;
            __atomic_add_fetch(&c->generation, 1, __ATOMIC_RELEASE);
        }
    }
    if (c->nentries == c->capentries) {
        c->capentries = c->capentries ? c->capentries * 2 : 16;
        c->entries = shop_xrealloc(c->entries, c->capentries * sizeof(*c->entries));
    }
    c->entries[c->nentries++] = e;
    rebuild_routes(c);
    *out = e;
    return SHOP_OK;
}

static int codec_add(shop_codec_t *c, const char *json, int from_registry,
                     shop_schema_entry_t **out, char *errstr, size_t errstr_size) {
    shop_schema_entry_t *e = NULL;
    int r = entry_new(json, from_registry, &e, errstr, errstr_size);
    if (r)
        return r;
    pthread_mutex_lock(&c->lock);
    r = insert_locked(c, e, out, errstr, errstr_size);
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* ---- public API ---- */

shop_codec_t *shop_codec_new(const char *registry_url, char *errstr, size_t errstr_size) {
    shop_codec_t *c = shop_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    rebuild_routes(c);
    if (registry_url && *registry_url) {
        size_t n = strlen(registry_url);
        while (n > 0 && registry_url[n - 1] == '/')
            n--;
        c->registry_url = shop_xstrndup(registry_url, n);
        shop_registry_global_init();
    }
    for (const shop_embedded_file_t *f = shop_embedded_avsc; f->name; f++) {
        shop_schema_entry_t *e;
        char err2[384];
        if (codec_add(c, f->text, 0, &e, err2, sizeof(err2))) {
            shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "%s: %s", f->name, err2);
            shop_codec_destroy(c);
            return NULL;
        }
    }
    return c;
}

void shop_codec_destroy(shop_codec_t *codec) {
    if (!codec)
        return;
    shop_enc_pool_destroy(codec);
    for (size_t i = 0; i < codec->nentries; i++)
        entry_free(codec->entries[i]);
    free(codec->entries);
    free(codec->topics);
    free(codec->types);
    free(codec->reg);
    free(codec->registry_url);
    pthread_mutex_destroy(&codec->lock);
    free(codec);
}

int shop_codec_add_schema(shop_codec_t *codec, const char *schema_json, char *errstr,
                          size_t errstr_size) {
    shop_schema_entry_t *e;
    return codec_add(codec, schema_json, 0, &e, errstr, errstr_size);
}

const shop_schema_info_t *shop_codec_schema_by_fingerprint(shop_codec_t *codec, int64_t fp) {
    pthread_mutex_lock(&codec->lock);
    shop_schema_entry_t *e = find_fp(codec, fp);
    pthread_mutex_unlock(&codec->lock);
    return e ? &e->info : NULL;
}

const shop_schema_info_t *shop_codec_current_for_topic(shop_codec_t *codec, const char *topic) {
    pthread_mutex_lock(&codec->lock);
    shop_schema_entry_t *e = topic ? find_current(codec, topic) : NULL;
    pthread_mutex_unlock(&codec->lock);
    return e ? &e->info : NULL;
}

const char *shop_codec_topic_for_type(shop_codec_t *codec, const char *type) {
    if (!type)
        return NULL;
    shop_type_route_t key = {type, NULL, 0};
    pthread_mutex_lock(&codec->lock);
    shop_type_route_t *r = bsearch(&key, codec->types, codec->ntypes, sizeof(key), route_cmp);
    const char *topic = r ? r->entry->info.topic : NULL;
    pthread_mutex_unlock(&codec->lock);
    return topic;
}

const char *const *shop_codec_topics(shop_codec_t *codec) {
    return codec->topics;
}

size_t shop_codec_schemas(shop_codec_t *codec, const shop_schema_info_t **out, size_t max) {
    pthread_mutex_lock(&codec->lock);
    size_t n = codec->nentries;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = &codec->entries[i]->info;
    pthread_mutex_unlock(&codec->lock);
    return n;
}

int shop_codec_route(shop_codec_t *codec, const char *type, const shop_schema_info_t **out_schema,
                     int *out_branch) {
    shop_type_route_t key = {type, NULL, 0};
    pthread_mutex_lock(&codec->lock);
    shop_type_route_t *r = bsearch(&key, codec->types, codec->ntypes, sizeof(key), route_cmp);
    if (r) {
        *out_schema = &r->entry->info;
        *out_branch = r->branch;
    }
    pthread_mutex_unlock(&codec->lock);
    return r ? SHOP_OK : SHOP_ERR_NOTFOUND;
}

/* ---- internal helpers ---- */

json_t *shop_entry_type_node(const shop_schema_entry_t *entry, json_t *node, avro_schema_t s) {
    const char *ref = NULL;
    if (!is_avro_named_type(s))
        return node;
    if (json_is_string(node))
        ref = json_string_value(node);
    else if (json_is_object(node) && is_avro_named_type(s))
        ref = json_string_value(json_object_get(node, "type"));
    if (!ref || shop_schema_is_primitive(ref) || !is_avro_named_type(s))
        return node;
    if (!strcmp(ref, "record") || !strcmp(ref, "error") || !strcmp(ref, "enum") ||
        !strcmp(ref, "fixed"))
        return node; /* an inline definition, not a reference */
    char full[512];
    const char *ns = avro_schema_namespace(s);
    if (ns && *ns)
        snprintf(full, sizeof(full), "%s.%s", ns, avro_schema_name(s));
    else
        snprintf(full, sizeof(full), "%s", avro_schema_name(s));
    json_t *def = json_object_get(entry->names, full);
    return def ? def : node;
}

shop_schema_entry_t *shop_codec_reader_of(shop_codec_t *codec, shop_schema_entry_t *writer) {
    pthread_mutex_lock(&codec->lock);
    shop_schema_entry_t *r = writer->info.topic ? find_current(codec, writer->info.topic)
                                                : find_current_by_name(codec, writer->name);
    pthread_mutex_unlock(&codec->lock);
    return r ? r : writer;
}

unsigned shop_codec_generation(shop_codec_t *codec) {
    return __atomic_load_n(&codec->generation, __ATOMIC_ACQUIRE);
}

static shop_registry_slot_t *reg_find(shop_codec_t *c, int32_t id) {
    for (size_t i = 0; i < c->nreg; i++)
        if (c->reg[i].id == id)
            return &c->reg[i];
    return NULL;
}

/* At most this many "not found" ids are remembered: hostile input with random schema ids must
 * not grow the cache without bound. */
#define REGISTRY_MAX_NEGATIVE 1024

/* A negative slot to reuse: an expired one, or the oldest once the cap is reached; else NULL. */
static shop_registry_slot_t *reg_negative_victim(shop_codec_t *c) {
    shop_registry_slot_t *oldest = NULL;
    size_t n = 0;
    int64_t now = shop_now_ms();
    for (size_t i = 0; i < c->nreg; i++) {
        shop_registry_slot_t *s = &c->reg[i];
        if (s->entry)
            continue;
        if (s->neg_until_ms <= now)
            return s;
        n++;
        if (!oldest || s->neg_until_ms < oldest->neg_until_ms)
            oldest = s;
    }
    return n >= REGISTRY_MAX_NEGATIVE ? oldest : NULL;
}

static void reg_put(shop_codec_t *c, int32_t id, shop_schema_entry_t *e, int64_t neg_until) {
    shop_registry_slot_t *s = reg_find(c, id);
    if (!s && !e)
        s = reg_negative_victim(c);
    if (!s) {
        if (c->nreg == c->capreg) {
            c->capreg = c->capreg ? c->capreg * 2 : 16;
            c->reg = shop_xrealloc(c->reg, c->capreg * sizeof(*c->reg));
        }
        s = &c->reg[c->nreg++];
    }
    *s = (shop_registry_slot_t){id, e, neg_until};
    if (e && e->registry_id < 0)
        e->registry_id = id;
}

int shop_codec_schema_by_registry_id(shop_codec_t *codec, int32_t id, shop_schema_entry_t **out,
                                     char *errstr, size_t errstr_size) {
    pthread_mutex_lock(&codec->lock);
    shop_registry_slot_t *s = reg_find(codec, id);
    shop_schema_entry_t *hit = s ? s->entry : NULL;
    int negative = s && !s->entry && s->neg_until_ms > shop_now_ms();
    pthread_mutex_unlock(&codec->lock);
    if (hit) {
        *out = hit;
        return SHOP_OK;
    }
    if (negative)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "schema id %d not found in the registry", (int)id);
    if (!codec->registry_url)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "Confluent-framed message (schema id %d) but no schema registry is "
                           "configured",
                           (int)id);
    char *json = NULL;
    int r = shop_registry_fetch(codec->registry_url, id, &json, errstr, errstr_size);
    if (r == SHOP_ERR_INVALID) {
        pthread_mutex_lock(&codec->lock);
        reg_put(codec, id, NULL, shop_now_ms() + REGISTRY_NEGATIVE_TTL_MS);
        pthread_mutex_unlock(&codec->lock);
    }
    if (r)
        return r;
    char err2[384];
    shop_schema_entry_t *e = NULL;
    r = entry_new(json, 1, &e, err2, sizeof(err2));
    free(json);
    if (r)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "schema id %d from the registry: %s", (int)id, err2);
    pthread_mutex_lock(&codec->lock);
    r = insert_locked(codec, e, out, errstr, errstr_size);
    if (!r)
        reg_put(codec, id, *out, 0);
    pthread_mutex_unlock(&codec->lock);
    return r;
}

int shop_codec_registry_id_of(shop_codec_t *codec, shop_schema_entry_t *entry, int32_t *out_id,
                              char *errstr, size_t errstr_size) {
    pthread_mutex_lock(&codec->lock);
    int32_t id = entry->registry_id;
    pthread_mutex_unlock(&codec->lock);
    if (id >= 0) {
        *out_id = id;
        return SHOP_OK;
    }
    if (!codec->registry_url)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_CONFIG,
                           "Confluent framing needs a schema registry URL");
    char *subject = shop_xasprintf("%s-value", entry->info.topic ? entry->info.topic : entry->name);
    int r =
        shop_registry_register(codec->registry_url, subject, entry->json, &id, errstr, errstr_size);
    free(subject);
    if (r)
        return r;
    pthread_mutex_lock(&codec->lock);
    entry->registry_id = id;
    reg_put(codec, id, entry, 0);
    pthread_mutex_unlock(&codec->lock);
    *out_id = id;
    return SHOP_OK;
}
