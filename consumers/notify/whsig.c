/* whsig.c: Standard Webhooks signatures (spec 1.0.0, "Signature scheme"): HMAC-SHA256 over
 * "<webhook-id>.<webhook-timestamp>.<body>" with the base64 key of a "whsec_" secret, sent as
 * "v1,<base64>"; several space-separated signatures may be sent for key rotation. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"

int shop_wh_secret_decode(const char *secret, unsigned char *key, size_t key_cap, char *errstr,
                          size_t errstr_size) {
    if (!secret)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "no secret");
    if (!strncmp(secret, "whsec_", 6))
        secret += 6;
    size_t n = strlen(secret);
    if (n == 0 || n % 4 != 0 || (n / 4) * 3 > key_cap)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID,
                           "secret: empty, not base64 or too long");
    int len = EVP_DecodeBlock(key, (const unsigned char *)secret, (int)n);
    if (len < 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "secret: not base64");
    /* EVP_DecodeBlock counts padding as zero bytes */
    for (size_t i = n; i > 0 && secret[i - 1] == '='; i--)
        len--;
    if (len <= 0)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "secret: empty key");
    return len;
}

/* Raw HMAC-SHA256 of the signed content into mac[32]. */
static int hmac_content(const unsigned char *key, int keylen, const char *msg_id, int64_t ts,
                        const char *payload, size_t payload_len, unsigned char mac[32]) {
    char head[512];
    int hn = snprintf(head, sizeof(head), "%s.%lld.", msg_id, (long long)ts);
    if (hn < 0 || (size_t)hn >= sizeof(head))
        return SHOP_ERR_INVALID;
    unsigned int maclen = 0;
    /* one-shot HMAC over the concatenation: build it in one buffer */
    unsigned char *buf = shop_xmalloc((size_t)hn + payload_len + 1);
    memcpy(buf, head, (size_t)hn);
    memcpy(buf + hn, payload, payload_len);
    unsigned char *r = HMAC(EVP_sha256(), key, keylen, buf, (size_t)hn + payload_len, mac, &maclen);
    free(buf);
    return r && maclen == 32 ? SHOP_OK : SHOP_ERR_INVALID;
}

int shop_wh_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *payload,
                 size_t payload_len, char *out, size_t out_size, char *errstr, size_t errstr_size) {
    unsigned char key[256], mac[32];
    int kl = shop_wh_secret_decode(secret, key, sizeof(key), errstr, errstr_size);
    if (kl < 0)
        return kl;
    if (hmac_content(key, kl, msg_id, timestamp, payload, payload_len, mac))
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "hmac failed (id too long?)");
    if (out_size < 3 + 45)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "signature buffer too small");
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
    return SHOP_OK;
}

int shop_wh_verify(const char *secret, const char *msg_id, const char *timestamp,
                   const char *signature, const char *payload, size_t payload_len, int64_t now,
                   char *errstr, size_t errstr_size) {
    if (!msg_id || !timestamp || !signature || !payload)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "missing header");
    char *end = NULL;
    long long ts = strtoll(timestamp, &end, 10);
    if (!*timestamp || *end)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "non-numeric timestamp");
    if (ts < now - SHOP_WH_TOLERANCE_S)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "timestamp too old");
    if (ts > now + SHOP_WH_TOLERANCE_S)
        return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "timestamp too new");
    char expect[64];
    int rc = shop_wh_sign(secret, msg_id, ts, payload, payload_len, expect, sizeof(expect), errstr,
                          errstr_size);
    if (rc)
        return rc;
    size_t elen = strlen(expect);
    for (const char *p = signature; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == elen && !CRYPTO_memcmp(p, expect, elen))
            return SHOP_OK;
        p += n;
    }
    return shop_seterr(errstr, errstr_size, SHOP_ERR_INVALID, "no matching signature");
}
