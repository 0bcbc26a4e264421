/* registry.c: the two Confluent Schema Registry calls the codec needs, over libcurl: fetch a
 * schema by id (decoding) and register a subject version (encoding with Confluent framing).
 * Neither is on the hot path: the codec caches both results. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

#define REGISTRY_CONNECT_TIMEOUT_MS 2000L
#define REGISTRY_TIMEOUT_MS         5000L
#define REGISTRY_MAX_BODY           (4u << 20)
#define REGISTRY_CONTENT_TYPE       "application/vnd.schemaregistry.v1+json"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void shop_registry_global_init(void) {
    pthread_once(&curl_once, curl_init_once);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque) {
    shop_buf_t *b = opaque;
    size_t n = size * nmemb;
    if (b->len + n > REGISTRY_MAX_BODY)
        return 0; /* aborts the transfer */
    shop_buf_append(b, data, n);
    return n;
}

/* One request; *status is the HTTP status, body goes to `body`. RETRYABLE on transport errors. */
static int http(const char *method, const char *url, const char *payload, shop_buf_t *body,
                long *status, char *errstr, size_t errstr_size) {
    shop_registry_global_init();
    CURL *h = curl_easy_init();
    if (!h)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "curl_easy_init failed");
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: " REGISTRY_CONTENT_TYPE);
    if (payload)
        hdrs = curl_slist_append(hdrs, "Content-Type: " REGISTRY_CONTENT_TYPE);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, REGISTRY_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REGISTRY_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    if (payload) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
    }
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE, "schema registry %s %s: %s",
                           method, url, curl_err[0] ? curl_err : curl_easy_strerror(rc));
    return SHOP_OK;
}

/* The registry's error JSON ({"error_code":..,"message":..}) or the raw body, for messages. */
static const char *reason(const shop_buf_t *body, char *buf, size_t size) {
    json_t *j = body->buf ? json_loadb(body->buf, body->len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    snprintf(buf, size, "%.200s", msg ? msg : body->buf ? body->buf : "");
    json_decref(j);
    return buf;
}

int shop_registry_fetch(const char *url, int32_t id, char **out_json, char *errstr,
                        size_t errstr_size) {
    char *full = shop_xasprintf("%s/schemas/ids/%d", url, (int)id), why[256];
    shop_buf_t body;
    long status;
    shop_buf_init(&body);
    int r = http("GET", full, NULL, &body, &status, errstr, errstr_size);
    if (!r && status == 404)
        r = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                        "schema id %d not found in the registry (%s)", (int)id,
                        reason(&body, why, sizeof(why)));
    else if (!r && status != 200)
        r = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                        "schema registry GET %s: HTTP %ld %s", full, status,
                        reason(&body, why, sizeof(why)));
    json_t *j = r ? NULL : json_loadb(body.buf ? body.buf : "", body.len, 0, NULL);
    const char *schema = json_string_value(json_object_get(j, "schema"));
    const char *stype = json_string_value(json_object_get(j, "schemaType"));
    if (!r && (!schema || (stype && strcmp(stype, "AVRO"))))
        r = shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                        "schema id %d: the registry did not return an Avro schema", (int)id);
    if (!r)
        *out_json = shop_xstrdup(schema);
    json_decref(j);
    shop_buf_release(&body);
    free(full);
    return r;
}

int shop_registry_register(const char *url, const char *subject, const char *schema_json,
                           int32_t *out_id, char *errstr, size_t errstr_size) {
    char *full = shop_xasprintf("%s/subjects/%s/versions", url, subject), why[256];
    json_t *req = json_pack("{ss}", "schema", schema_json);
    char *payload = json_dumps(req, JSON_COMPACT);
    shop_buf_t body;
    long status;
    shop_buf_init(&body);
    int r = http("POST", full, payload, &body, &status, errstr, errstr_size);
    if (!r && (status < 200 || status >= 300))
        r = shop_seterr(errstr, errstr_size,
                        status >= 500 || status == 429 ? SHOP_ERR_RETRYABLE : SHOP_ERR_CONFIG,
                        "schema registry refused %s: HTTP %ld %s", subject, status,
                        reason(&body, why, sizeof(why)));
    json_t *j = r ? NULL : json_loadb(body.buf ? body.buf : "", body.len, 0, NULL);
    json_t *id = json_object_get(j, "id");
    if (!r && !json_is_integer(id))
        r = shop_seterr(errstr, errstr_size, SHOP_ERR_RETRYABLE,
                        "schema registry: no id in the answer for %s", subject);
    if (!r)
        *out_id = (int32_t)json_integer_value(id);
    json_decref(j);
    json_decref(req);
    free(payload);
    shop_buf_release(&body);
    free(full);
    return r;
}
