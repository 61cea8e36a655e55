/*
 * dsse.c - DSSE v1 envelopes signed with Ed25519 (see dsse.h): the pre-authentication encoding,
 * signing into an envelope, and verifying one. JSON with jansson, base64 and Ed25519 with
 * libsodium.
 */
#include "dsse.h"
#include "buf.h"
#include "error.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int gp_dsse_pae(unsigned char **out, size_t *outlen, const char *type, const unsigned char *payload,
                size_t len)
{
    gp_buf b = GP_BUF_INIT(0);
    size_t tlen = strlen(type);
    if (gp_buf_printf(&b, "DSSEv1 %zu ", tlen) < 0 || gp_buf_add(&b, type, tlen) < 0 ||
        gp_buf_printf(&b, " %zu ", len) < 0 || (len && gp_buf_add(&b, payload, len) < 0)) {
        gp_buf_free(&b);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    char *p = gp_buf_detach(&b, outlen);
    if (!p) return gp_error_setf(GP_ERROR, "out of memory");
    *out = (unsigned char *)p;
    return 0;
}

static char *b64(const unsigned char *in, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(n);
    if (s) sodium_bin2base64(s, n, in, len, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* Standard or URL-safe base64, padded or not. Caller frees *out (NUL-terminated). */
static int unb64(unsigned char **out, size_t *outlen, const char *in, size_t inlen)
{
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    unsigned char *buf = malloc(inlen / 4 * 3 + 4);
    if (!buf) return gp_error_setf(GP_ERROR, "out of memory");
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        size_t n = 0;
        const char *end = NULL;
        if (sodium_base642bin(buf, inlen / 4 * 3 + 3, in, inlen, NULL, &n, &end, variants[i]) ==
                0 &&
            end == in + inlen) {
            buf[n] = '\0';
            *out = buf;
            *outlen = n;
            return 0;
        }
    }
    free(buf);
    return GP_EINVALID;
}

int gp_dsse_sign(char **out, const char *type, const unsigned char *payload, size_t len,
                 const char *keyid, const unsigned char sk[64])
{
    unsigned char *pae = NULL, sig[crypto_sign_BYTES];
    size_t pae_len = 0;
    char *payload64 = NULL, *sig64 = NULL;
    json_t *env = NULL, *s = NULL;
    int error;

    if (!type || !*type) return gp_error_setf(GP_EINVALID, "a DSSE payloadType must not be empty");
    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium could not be initialised");
    if ((error = gp_dsse_pae(&pae, &pae_len, type, payload, len)) < 0) goto done;
    crypto_sign_detached(sig, NULL, pae, pae_len, sk);
    payload64 = b64(payload, len);
    sig64 = b64(sig, sizeof(sig));
    s = keyid ? json_pack("{s:s, s:s}", "keyid", keyid, "sig", sig64 ? sig64 : "")
              : json_pack("{s:s}", "sig", sig64 ? sig64 : "");
    env = json_pack("{s:s, s:s, s:[O]}", "payload", payload64 ? payload64 : "", "payloadType", type,
                    "signatures", s);
    if (!payload64 || !sig64 || !env ||
        !(*out = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    error = 0;
done:
    free(pae);
    free(payload64);
    free(sig64);
    json_decref(s);
    json_decref(env);
    return error;
}

int gp_dsse_verify(unsigned char **payload, size_t *plen, char **type, const char *envelope,
                   size_t len, const unsigned char pk[32], const char *keyid)
{
    json_error_t jerr;
    json_t *env = NULL, *sigs, *item;
    unsigned char *body = NULL, *pae = NULL;
    size_t body_len = 0, pae_len = 0, i;
    char *type_copy = NULL;
    int error;

    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium could not be initialised");
    if (len > GP_DSSE_MAX_ENVELOPE)
        return gp_error_setf(GP_EINVALID, "the DSSE envelope is larger than %u bytes",
                             GP_DSSE_MAX_ENVELOPE);
    env = json_loadb(envelope, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *t = json_string_value(json_object_get(env, "payloadType"));
    json_t *p = json_object_get(env, "payload");
    sigs = json_object_get(env, "signatures");
    if (!json_is_object(env) || !t || !json_is_string(p) || !json_is_array(sigs) ||
        json_array_size(sigs) == 0) {
        error = gp_error_setf(GP_EINVALID, "not a DSSE envelope: it needs payloadType, payload "
                                           "and a non-empty signatures list");
        goto done;
    }
    if (unb64(&body, &body_len, json_string_value(p), json_string_length(p)) < 0) {
        error = gp_error_setf(GP_EINVALID, "the DSSE payload is not base64");
        goto done;
    }
    if ((error = gp_dsse_pae(&pae, &pae_len, t, body, body_len)) < 0) goto done;
    error = gp_error_setf(GP_EBADSIG, "no signature of the DSSE envelope verifies with the key");
    json_array_foreach(sigs, i, item)
    {
        json_t *sv = json_object_get(item, "sig"), *kv = json_object_get(item, "keyid");
        unsigned char *sig = NULL;
        size_t sig_len = 0;
        if (!json_is_object(item) || !json_is_string(sv) || (kv && !json_is_string(kv))) {
            error = gp_error_setf(GP_EINVALID, "a DSSE signature is not {\"keyid\", \"sig\"}");
            goto done;
        }
        if (keyid && kv && strcmp(json_string_value(kv), keyid) != 0) continue;
        if (unb64(&sig, &sig_len, json_string_value(sv), json_string_length(sv)) < 0) continue;
        bool ok =
            sig_len == crypto_sign_BYTES && crypto_sign_verify_detached(sig, pae, pae_len, pk) == 0;
        free(sig);
        if (ok) {
            error = 0;
            break;
        }
    }
    if (error < 0) goto done;
    if (!(type_copy = strdup(t))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    *payload = body;
    *plen = body_len;
    *type = type_copy;
    body = NULL;
done:
    free(body);
    free(pae);
    json_decref(env);
    return error;
}
