/*
 * rawsign.c - the plugin's raw signatures from a private key or an ssh-agent key (see rawsign.h).
 *
 * Key files: Ed25519 with libsodium (crypto_sign_detached), ECDSA with EVP_DigestSign over SHA-256
 * (OpenSSL writes the DER SEQUENCE{r, s} the plugin uses), RSA with EVP_DigestSign, PSS padding,
 * SHA-256, MGF1-SHA-256 and RSA_PSS_SALTLEN_MAX (what Python's padding.PSS.MAX_LENGTH gives).
 * Agent keys: the agent's SSH signature blob is converted (RFC 8709 §6 for Ed25519, RFC 5656 §3.1.2
 * for ECDSA: mpint r, mpint s -> DER).
 */
#include "rawsign.h"
#include "error.h"

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *why_p384 =
    "an ECDSA P-384/P-521 key in ssh-agent signs with SHA-384/SHA-512, but the plugin's "
    "ecdsa-sha256 needs SHA-256: sign with the key file itself (unencrypted), use an ed25519 or "
    "ECDSA P-256 key in the agent, or use --format sshsig";
static const char *why_rsa =
    "an RSA key in ssh-agent can only make PKCS#1 v1.5 signatures, but the plugin's rsa-pss-sha256 "
    "needs RSA-PSS: sign with the key file itself (unencrypted), use an ed25519 or ECDSA P-256 key "
    "in the agent, or use --format sshsig";
static const char *why_sk = "security keys (sk-*) cannot make the plugin's raw signatures: use --format sshsig";

const char *gp_rawsign_algorithm(gp_keytype t)
{
    switch (t) {
    case GP_KEY_ED25519: return "ed25519";
    case GP_KEY_ECDSA_P256:
    case GP_KEY_ECDSA_P384:
    case GP_KEY_ECDSA_P521: return "ecdsa-sha256";
    case GP_KEY_RSA: return "rsa-pss-sha256";
    default: return NULL;
    }
}

bool gp_rawsign_agent_usable(gp_keytype t, const char **why_not)
{
    const char *why = NULL;
    if (t == GP_KEY_ECDSA_P384 || t == GP_KEY_ECDSA_P521) why = why_p384;
    else if (t == GP_KEY_RSA) why = why_rsa;
    else if (t != GP_KEY_ED25519 && t != GP_KEY_ECDSA_P256) why = why_sk;
    if (why_not) *why_not = why;
    return why == NULL;
}

static int sign_evp(unsigned char **sig, size_t *len, EVP_PKEY *pkey, bool pss, const unsigned char *msg,
                    size_t msglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *out = NULL;
    size_t n = 0;
    int error = 0;

    if (!md || EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) <= 0) {
        error = gp_error_setf(GP_ERROR, "cannot start a signature with this key (OpenSSL)");
        goto done;
    }
    if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_MAX) <= 0)) {
        error = gp_error_setf(GP_ERROR, "cannot set up RSA-PSS (OpenSSL)");
        goto done;
    }
    if (EVP_DigestSign(md, NULL, &n, msg, msglen) <= 0 || !(out = malloc(n)) ||
        EVP_DigestSign(md, out, &n, msg, msglen) <= 0) {
        error = gp_error_setf(GP_ERROR, "signing failed (OpenSSL)");
        goto done;
    }
    *sig = out;
    *len = n;
    out = NULL;
done:
    free(out);
    EVP_MD_CTX_free(md);
    return error;
}

static int sign_key(unsigned char **sig, size_t *len, const gp_privkey *k, const unsigned char *msg, size_t msglen)
{
    switch (k->pub.type) {
    case GP_KEY_ED25519: {
        unsigned char *out;
        if (!k->ed25519_sk) return gp_error_setf(GP_EINVALID, "Ed25519 key without its secret");
        if (!(out = malloc(crypto_sign_BYTES))) return gp_error_setf(GP_ERROR, "out of memory");
        crypto_sign_detached(out, NULL, msg, msglen, k->ed25519_sk);
        *sig = out;
        *len = crypto_sign_BYTES;
        return 0;
    }
    case GP_KEY_ECDSA_P256:
    case GP_KEY_ECDSA_P384:
    case GP_KEY_ECDSA_P521:
    case GP_KEY_RSA:
        if (!k->pkey) return gp_error_setf(GP_EINVALID, "key without its secret");
        return sign_evp(sig, len, k->pkey, k->pub.type == GP_KEY_RSA, msg, msglen);
    default:
        return gp_error_setf(GP_EUNSUPPORTED, "%s", why_sk);
    }
}

static int ecdsa_ssh_to_der(unsigned char **sig, size_t *len, const unsigned char *blob, size_t blob_len)
{
    gp_sshbuf sb = {blob, blob_len};
    const unsigned char *r, *s;
    size_t rlen, slen;
    BIGNUM *br = NULL, *bs = NULL;
    ECDSA_SIG *es = NULL;
    unsigned char *der = NULL;
    int n, error = 0;

    if (gp_ssh_get_string(&sb, &r, &rlen) < 0 || gp_ssh_get_string(&sb, &s, &slen) < 0 || sb.len != 0 ||
        rlen == 0 || slen == 0 || rlen > 67 || slen > 67 || (r[0] & 0x80) || (s[0] & 0x80))
        return gp_error_setf(GP_EINVALID, "ssh-agent returned a malformed ECDSA signature");
    if (!(br = BN_bin2bn(r, (int)rlen, NULL)) || !(bs = BN_bin2bn(s, (int)slen, NULL)) || !(es = ECDSA_SIG_new())) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    if (!ECDSA_SIG_set0(es, br, bs)) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    br = bs = NULL; /* owned by es now */
    if ((n = i2d_ECDSA_SIG(es, &der)) <= 0) {
        error = gp_error_setf(GP_ERROR, "cannot encode the ECDSA signature as DER");
        goto done;
    }
    if (!(*sig = malloc((size_t)n))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    memcpy(*sig, der, (size_t)n);
    *len = (size_t)n;
done:
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    BN_free(br);
    BN_free(bs);
    return error;
}

int gp_rawsign_from_ssh(unsigned char **sig, size_t *len, const gp_pubkey *key, const unsigned char *blob,
                        size_t blob_len)
{
    gp_sshbuf sb = {blob, blob_len};
    const unsigned char *fmt, *inner;
    size_t fmt_len, inner_len;
    const char *why;
    const char *want = gp_keytype_name(key->type);

    *sig = NULL;
    *len = 0;
    if (!gp_rawsign_agent_usable(key->type, &why)) return gp_error_setf(GP_EUNSUPPORTED, "%s", why);
    if (gp_ssh_get_string(&sb, &fmt, &fmt_len) < 0 || gp_ssh_get_string(&sb, &inner, &inner_len) < 0 || sb.len != 0)
        return gp_error_setf(GP_EINVALID, "ssh-agent returned a malformed signature");
    if (fmt_len != strlen(want) || memcmp(fmt, want, fmt_len) != 0)
        return gp_error_setf(GP_EINVALID, "ssh-agent signed with \"%.*s\", expected \"%s\"",
                             (int)(fmt_len > 64 ? 64 : fmt_len), (const char *)fmt, want);
    if (key->type == GP_KEY_ED25519) {
        if (inner_len != crypto_sign_BYTES) return gp_error_setf(GP_EINVALID, "ssh-agent returned a malformed Ed25519 signature");
        if (!(*sig = malloc(inner_len))) return gp_error_setf(GP_ERROR, "out of memory");
        memcpy(*sig, inner, inner_len);
        *len = inner_len;
        return 0;
    }
    return ecdsa_ssh_to_der(sig, len, inner, inner_len);
}

int gp_rawsign(unsigned char **sig, size_t *len, const char **algorithm, const gp_rawsigner *s,
               const unsigned char *msg, size_t msglen)
{
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    const char *why;
    int error;

    *sig = NULL;
    *len = 0;
    if (s->key) {
        if (!(*algorithm = gp_rawsign_algorithm(s->key->pub.type))) return gp_error_setf(GP_EUNSUPPORTED, "%s", why_sk);
        return sign_key(sig, len, s->key, msg, msglen);
    }
    if (!s->agent || !s->agent_key) return gp_error_setf(GP_EINVALID, "no key to sign with");
    if (!gp_rawsign_agent_usable(s->agent_key->type, &why)) return gp_error_setf(GP_EUNSUPPORTED, "%s", why);
    *algorithm = gp_rawsign_algorithm(s->agent_key->type);
    if ((error = gp_agent_sign(&blob, &blob_len, s->agent, s->agent_key, msg, msglen, 0)) < 0) return error;
    error = gp_rawsign_from_ssh(sig, len, s->agent_key, blob, blob_len);
    free(blob);
    return error;
}
