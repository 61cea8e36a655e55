/*
 * sig.c - verifying the plugin's raw receipt signatures against published keys (see sig.h).
 *
 *   ed25519         crypto_sign_verify_detached (libsodium) over the message itself
 *   ecdsa-sha256    EVP_DigestVerify, SHA-256, DER SEQUENCE{r,s}; P-256, P-384 and P-521 keys
 *   rsa-pss-sha256  EVP_DigestVerify, RSASSA-PSS, SHA-256, MGF1-SHA-256, any salt length;
 *                   RSA keys under 2048 bits are never used
 *   sshsig          the gpuproof extension (receipt-v1.md), namespace "gpu-proof": handed to
 *                   gp_sshsig_verify() (sshsig.c); GP_EUNSUPPORTED in a tree without sshsig.h
 *
 * Only the keys whose type fits the algorithm are tried; the first one that verifies wins.
 */
#include "sig.h"
#include "error.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <string.h>

#if defined(__has_include)
#if __has_include("sshsig.h")
#include "sshsig.h"
#define GP_HAVE_SSHSIG 1
#endif
#endif

#define GP_RSA_VERIFY_MIN_BITS 2048

typedef enum { ALG_ED25519, ALG_ECDSA_SHA256, ALG_RSA_PSS_SHA256, ALG_SSHSIG, ALG_UNKNOWN } sig_alg;

static sig_alg alg_of(const char *name)
{
    if (!name) return ALG_UNKNOWN;
    if (strcmp(name, "ed25519") == 0) return ALG_ED25519;
    if (strcmp(name, "ecdsa-sha256") == 0) return ALG_ECDSA_SHA256;
    if (strcmp(name, "rsa-pss-sha256") == 0) return ALG_RSA_PSS_SHA256;
    if (strcmp(name, "sshsig") == 0) return ALG_SSHSIG;
    return ALG_UNKNOWN;
}

static bool key_fits(sig_alg alg, const gp_pubkey *k)
{
    switch (alg) {
    case ALG_ED25519:
        return k->type == GP_KEY_ED25519;
    case ALG_ECDSA_SHA256:
        return gp_keytype_is_ecdsa(k->type) && k->pkey;
    case ALG_RSA_PSS_SHA256:
        return k->type == GP_KEY_RSA && k->pkey && k->rsa_bits >= GP_RSA_VERIFY_MIN_BITS;
    default:
        return false;
    }
}

/* 1 verified, 0 not, GP_ERROR when OpenSSL could not even be set up. */
static int verify_evp(const gp_pubkey *k, bool pss, const unsigned char *sig, size_t siglen,
                      const unsigned char *msg, size_t msglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int rc = GP_ERROR;
    if (!ctx) goto done;
    if (EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA256", NULL, NULL, k->pkey, NULL) <= 0) goto done;
    if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) <= 0 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) <= 0))
        goto done;
    rc = EVP_DigestVerify(ctx, sig, siglen, msg, msglen) == 1 ? 1 : 0;
done:
    if (rc == GP_ERROR) gp_error_setf(GP_ERROR, "OpenSSL could not set up a signature check");
    EVP_MD_CTX_free(ctx);
    return rc;
}

int gp_sig_verify(const gp_pubkey **used, const gp_keylist *keys, const char *algorithm,
                  const unsigned char *sig, size_t siglen, const unsigned char *msg, size_t msglen)
{
    sig_alg alg = alg_of(algorithm);
    size_t tried = 0;

    if (used) *used = NULL;
    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium could not be initialised");
    if (alg == ALG_UNKNOWN)
        return gp_error_setf(GP_EUNSUPPORTED, "unsupported signature algorithm \"%.40s\"",
                             algorithm ? algorithm : "(none)");
    if (alg == ALG_SSHSIG) {
        /* The SSHSIG extension: the blob names its key, which must be one of `keys`. */
#ifdef GP_HAVE_SSHSIG
        return gp_sshsig_verify(used, sig, siglen, GP_SSHSIG_NAMESPACE, msg, msglen, keys);
#else
        return gp_error_setf(GP_EUNSUPPORTED, "sshsig signatures are not supported by this build");
#endif
    }
    if (!sig || siglen == 0) return gp_error_setf(GP_EUNSIGNED, "the signature value is empty");
    for (size_t i = 0; keys && i < keys->n; i++) {
        const gp_pubkey *k = &keys->keys[i];
        int ok;
        if (!key_fits(alg, k)) continue;
        tried++;
        if (alg == ALG_ED25519) {
            ok = siglen == crypto_sign_BYTES &&
                 crypto_sign_verify_detached(sig, msg, msglen, k->ed25519) == 0;
        } else {
            if ((ok = verify_evp(k, alg == ALG_RSA_PSS_SHA256, sig, siglen, msg, msglen)) < 0)
                return ok;
        }
        if (ok) {
            if (used) *used = k;
            gp_error_clear();
            return 0;
        }
    }
    if (tried == 0)
        return gp_error_setf(GP_EBADSIG, "the signer publishes no key usable for %s (%zu keys)",
                             algorithm, keys ? keys->n : 0);
    return gp_error_setf(GP_EBADSIG, "no %s key of the signer verifies the signature (%zu tried)",
                         algorithm, tried);
}

int gp_receipt_verify(const gp_pubkey **used, const gp_receipt *r, const gp_keylist *keys)
{
    if (used) *used = NULL;
    if (!r->signed_ || !r->sig_value || r->sig_len == 0)
        return gp_error_setf(GP_EUNSIGNED, "the receipt is not signed");
    return gp_sig_verify(used, keys, r->sig_algorithm, r->sig_value, r->sig_len,
                         (const unsigned char *)r->signed_bytes, r->signed_len);
}
