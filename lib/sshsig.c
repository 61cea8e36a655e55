/*
 * sshsig.c - SSHSIG signatures (OpenSSH PROTOCOL.sshsig; PROTOCOL.u2f for the FIDO types).
 *
 * Parsing is strict and bounded: the blob is at most GP_SSHSIG_MAX_BLOB bytes, every field is read
 * with the shared SSH wire readers, the reserved field must be empty (OpenSSH signs it as empty
 * whatever the blob says, so anything else would only make the same signature spell differently)
 * and nothing may follow the last field. Verification follows OpenSSH's sshsig.c and its
 * ssh-*.c verifiers: the signer's key is found by its exact wire blob, the signature type must fit
 * the key (no "ssh-rsa" SHA-1, no RSA under 2048 bits), and sk- signatures must assert user
 * presence. The crypto is libsodium's Ed25519 and OpenSSL's EVP. Signing (file keys, agent keys)
 * builds the same signed data and checks its own result with the verifier before handing it out.
 */
#include "sshsig.h"
#include "buf.h"
#include "error.h"
#include "util.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "SSHSIG"
#define MAGIC_LEN 6
#define SIG_VERSION 1
#define RSA_MIN_BITS 2048
#define ARMOR_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define ARMOR_END "-----END SSH SIGNATURE-----"
#define ARMOR_COLS 70

/* ---- writing SSH wire data into a gp_buf ----------------------------------------------- */

static int put_u32(gp_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    return gp_buf_add(b, p, 4);
}

static int put_string(gp_buf *b, const void *p, size_t n)
{
    int error;
    if (n > UINT32_MAX) return gp_error_setf(GP_ETOOBIG, "SSH string too long");
    if ((error = put_u32(b, (uint32_t)n)) < 0) return error;
    return n ? gp_buf_add(b, p, n) : 0;
}

static int put_cstring(gp_buf *b, const char *s)
{
    return put_string(b, s, strlen(s));
}

/* An mpint from big-endian magnitude bytes: no superfluous zeros, a 0 before a set top bit. */
static int put_mpint(gp_buf *b, const unsigned char *p, size_t n)
{
    int error;
    while (n > 0 && p[0] == 0) {
        p++;
        n--;
    }
    if (n > 0 && (p[0] & 0x80)) {
        if ((error = put_u32(b, (uint32_t)n + 1)) < 0 || (error = gp_buf_putc(b, 0)) < 0)
            return error;
        return gp_buf_add(b, p, n);
    }
    return put_string(b, p, n);
}

/* Hands the buffer's bytes to *out (caller frees). */
static int detach(gp_buf *b, unsigned char **out, size_t *len)
{
    if (!(*out = (unsigned char *)gp_buf_detach(b, len)))
        return gp_error_setf(GP_ERROR, "out of memory");
    return 0;
}

/* ---- small checks ------------------------------------------------------------------------ */

static const EVP_MD *hash_md(const char *hash_alg)
{
    if (!hash_alg) return NULL;
    if (strcmp(hash_alg, "sha512") == 0) return EVP_sha512();
    if (strcmp(hash_alg, "sha256") == 0) return EVP_sha256();
    return NULL;
}

static int check_ns(const char *ns)
{
    size_t n = ns ? strlen(ns) : 0;
    if (n == 0 || n > 255)
        return gp_error_setf(GP_EINVALID, "an SSHSIG namespace must be 1 to 255 bytes");
    return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- parsing ----------------------------------------------------------------------------- */

void gp_sshsig_free(gp_sshsig *s)
{
    if (!s) return;
    gp_pubkey_clear(&s->key);
    free(s->raw);
    free(s);
}

/* Copies a wire string into a fixed NUL-terminated field; GP_EINVALID when empty, too long or NUL.
 */
static int copy_field(char *dst, size_t cap, const unsigned char *p, size_t n, const char *what)
{
    if (n == 0 || n >= cap || memchr(p, '\0', n))
        return gp_error_setf(GP_EINVALID, "SSHSIG %s is empty, longer than %zu bytes or holds NUL",
                             what, cap - 1);
    memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

/* Everything but the public key itself; pointers go into s->raw, which the caller has set. */
static int parse_fields(gp_sshsig *s)
{
    gp_sshbuf b = {s->raw, s->raw_len}, sb;
    const unsigned char *p;
    size_t n;
    uint32_t version;
    int error;

    if (b.len < MAGIC_LEN || memcmp(b.p, MAGIC, MAGIC_LEN) != 0)
        return gp_error_setf(GP_EINVALID, "not an SSHSIG signature (no \"SSHSIG\" magic)");
    b.p += MAGIC_LEN;
    b.len -= MAGIC_LEN;
    if ((error = gp_ssh_get_u32(&b, &version)) < 0) goto fail;
    if (version != SIG_VERSION)
        return gp_error_setf(GP_EINVALID, "SSHSIG version %u is not supported (only 1)", version);
    if ((error = gp_ssh_get_string(&b, &s->pubkey_blob, &s->pubkey_len)) < 0) goto fail;
    if (s->pubkey_len == 0) return gp_error_setf(GP_EINVALID, "SSHSIG public key is empty");
    if ((error = gp_ssh_get_string(&b, &p, &n)) < 0) goto fail;
    if ((error = copy_field(s->ns, sizeof(s->ns), p, n, "namespace")) < 0) return error;
    if ((error = gp_ssh_get_string(&b, &p, &n)) < 0) goto fail;
    if (n != 0) return gp_error_setf(GP_EINVALID, "SSHSIG reserved field is not empty");
    if ((error = gp_ssh_get_string(&b, &p, &n)) < 0) goto fail;
    if (!((n == 6 && memcmp(p, "sha512", 6) == 0) || (n == 6 && memcmp(p, "sha256", 6) == 0)))
        return gp_error_setf(GP_EINVALID, "SSHSIG hash algorithm is not sha512 or sha256");
    memcpy(s->hash_alg, p, 6);
    s->hash_alg[6] = '\0';
    if ((error = gp_ssh_get_string(&b, &s->signature, &s->signature_len)) < 0) goto fail;
    if (b.len != 0) return gp_error_setf(GP_EINVALID, "SSHSIG blob has %zu trailing bytes", b.len);

    sb.p = s->signature;
    sb.len = s->signature_len;
    if ((error = gp_ssh_get_string(&sb, &p, &n)) < 0) goto fail;
    if ((error = copy_field(s->sig_type, sizeof(s->sig_type), p, n, "signature type")) < 0)
        return error;
    if ((error = gp_ssh_get_string(&sb, &s->sig_blob, &s->sig_blob_len)) < 0) goto fail;
    if (starts_with(s->sig_type, "sk-")) {
        s->sk = true;
        if ((error = gp_ssh_get_u8(&sb, &s->sk_flags)) < 0 ||
            (error = gp_ssh_get_u32(&sb, &s->sk_counter)) < 0)
            goto fail;
    }
    if (sb.len != 0)
        return gp_error_setf(GP_EINVALID, "SSHSIG signature has %zu trailing bytes", sb.len);
    return 0;
fail : {
    char why[256];
    snprintf(why, sizeof(why), "%s", gp_error_last());
    return gp_error_setf(GP_EINVALID, "malformed SSHSIG signature: %s", why);
}
}

static int sshsig_new(gp_sshsig **out, const unsigned char *blob, size_t len)
{
    gp_sshsig *s;
    *out = NULL;
    /* explicit codes (not gp_error_setf's result), so that the compiler sees *out set on 0 */
    if (len > GP_SSHSIG_MAX_BLOB) {
        gp_error_setf(GP_ETOOBIG, "SSHSIG signature of %zu bytes is over the limit of %d", len,
                      GP_SSHSIG_MAX_BLOB);
        return GP_ETOOBIG;
    }
    if (!(s = calloc(1, sizeof(*s))) || !(s->raw = malloc(len ? len : 1))) {
        free(s);
        gp_error_setf(GP_ERROR, "out of memory");
        return GP_ERROR;
    }
    if (len) memcpy(s->raw, blob, len);
    s->raw_len = len;
    *out = s;
    return 0;
}

int gp_sshsig_parse(gp_sshsig **out, const unsigned char *blob, size_t len)
{
    gp_sshsig *s = NULL;
    int error;

    *out = NULL;
    if ((error = sshsig_new(&s, blob, len)) < 0) return error;
    if ((error = parse_fields(s)) < 0) goto done;
    if ((error = gp_pubkey_from_blob(&s->key, s->pubkey_blob, s->pubkey_len)) < 0) goto done;
    *out = s;
    s = NULL;
done:
    gp_sshsig_free(s);
    return error;
}

/* ---- signed data ------------------------------------------------------------------------- */

static int signed_data(gp_buf *b, const char *ns, const char *hash_alg, const unsigned char *msg,
                       size_t msglen)
{
    const EVP_MD *md = hash_md(hash_alg);
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    int error;

    if ((error = check_ns(ns)) < 0) return error;
    if (!md) return gp_error_setf(GP_EINVALID, "SSHSIG hash algorithm must be sha512 or sha256");
    if (EVP_Digest(msg ? (const void *)msg : "", msglen, h, &hlen, md, NULL) != 1)
        return gp_error_setf(GP_ERROR, "OpenSSL could not hash the message");
    if ((error = gp_buf_add(b, MAGIC, MAGIC_LEN)) < 0 || (error = put_cstring(b, ns)) < 0 ||
        (error = put_string(b, NULL, 0)) < 0 || (error = put_cstring(b, hash_alg)) < 0 ||
        (error = put_string(b, h, hlen)) < 0)
        return error;
    return 0;
}

int gp_sshsig_signed_data(unsigned char **out, size_t *outlen, const char *ns, const char *hash_alg,
                          const unsigned char *msg, size_t msglen)
{
    gp_buf b = GP_BUF_INIT(0);
    int error;
    *out = NULL;
    *outlen = 0;
    if ((error = signed_data(&b, ns, hash_alg, msg, msglen)) < 0) {
        gp_buf_free(&b);
        return error;
    }
    return detach(&b, out, outlen);
}

/* ---- verification ------------------------------------------------------------------------ */

/* Reads an mpint that must be positive and minimally encoded; sets the magnitude. */
static int get_mpint(gp_sshbuf *b, const unsigned char **p, size_t *n)
{
    int error;
    if ((error = gp_ssh_get_string(b, p, n)) < 0) return error;
    if (*n == 0 || ((*p)[0] & 0x80) || *n > 67 || ((*p)[0] == 0 && (*n == 1 || !((*p)[1] & 0x80))))
        return gp_error_setf(GP_EBADSIG, "ECDSA signature integer is not a positive minimal mpint");
    if ((*p)[0] == 0) {
        (*p)++;
        (*n)--;
    }
    return 0;
}

/* The DER SEQUENCE{r, s} OpenSSL verifies, from the SSH "mpint r || mpint s" blob. */
static int ecdsa_der(unsigned char **der, int *derlen, const unsigned char *blob, size_t len)
{
    gp_sshbuf b = {blob, len};
    const unsigned char *rp, *sp;
    size_t rn, sn;
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    int error;

    *der = NULL;
    if (get_mpint(&b, &rp, &rn) < 0 || get_mpint(&b, &sp, &sn) < 0 || b.len != 0) {
        error = gp_error_setf(GP_EBADSIG, "ECDSA signature is not two mpints");
        goto done;
    }
    if (!(sig = ECDSA_SIG_new()) || !(r = BN_bin2bn(rp, (int)rn, NULL)) ||
        !(s = BN_bin2bn(sp, (int)sn, NULL)) || !ECDSA_SIG_set0(sig, r, s)) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    r = s = NULL;
    if ((*derlen = i2d_ECDSA_SIG(sig, der)) <= 0) {
        *der = NULL;
        error = gp_error_setf(GP_ERROR, "OpenSSL could not encode an ECDSA signature");
        goto done;
    }
    error = 0;
done:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return error;
}

/* 1 verified, 0 not, GP_ERROR when OpenSSL could not be set up. `rsa` selects PKCS#1 v1.5. */
static int evp_verify(EVP_PKEY *pkey, const char *mdname, bool rsa, const unsigned char *sig,
                      size_t siglen, const unsigned char *data, size_t datalen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int rc = GP_ERROR;
    if (!ctx || EVP_DigestVerifyInit_ex(ctx, &pctx, mdname, NULL, NULL, pkey, NULL) <= 0) goto done;
    if (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) goto done;
    rc = EVP_DigestVerify(ctx, sig, siglen, data, datalen) == 1 ? 1 : 0;
done:
    if (rc == GP_ERROR) gp_error_setf(GP_ERROR, "OpenSSL could not set up a signature check");
    EVP_MD_CTX_free(ctx);
    return rc;
}

static int ecdsa_verify(EVP_PKEY *pkey, const char *mdname, const unsigned char *blob, size_t len,
                        const unsigned char *data, size_t datalen)
{
    unsigned char *der = NULL;
    int derlen = 0, rc;
    if ((rc = ecdsa_der(&der, &derlen, blob, len)) < 0) return rc == GP_EBADSIG ? 0 : rc;
    rc = evp_verify(pkey, mdname, false, der, (size_t)derlen, data, datalen);
    OPENSSL_free(der);
    return rc;
}

static int rsa_verify(const gp_pubkey *k, const char *mdname, const unsigned char *sig,
                      size_t siglen, const unsigned char *data, size_t datalen)
{
    size_t modlen = (k->rsa_bits + 7) / 8;
    unsigned char *padded = NULL;
    int rc;
    /* OpenSSH accepts a signature shorter than the modulus and left-pads it with zeros. */
    if (siglen == 0 || siglen > modlen) return 0;
    if (siglen < modlen) {
        if (!(padded = calloc(1, modlen))) return gp_error_setf(GP_ERROR, "out of memory");
        memcpy(padded + (modlen - siglen), sig, siglen);
        sig = padded;
        siglen = modlen;
    }
    rc = evp_verify(k->pkey, mdname, true, sig, siglen, data, datalen);
    free(padded);
    return rc;
}

/* PROTOCOL.u2f: what the authenticator signed, SHA256(app) || flags || counter || SHA256(data). */
static void sk_message(unsigned char out[69], const gp_pubkey *k, const gp_sshsig *s,
                       const unsigned char *data, size_t datalen)
{
    const char *app = k->application ? k->application : "";
    gp_sha256(out, app, strlen(app));
    out[32] = s->sk_flags;
    out[33] = (unsigned char)(s->sk_counter >> 24);
    out[34] = (unsigned char)(s->sk_counter >> 16);
    out[35] = (unsigned char)(s->sk_counter >> 8);
    out[36] = (unsigned char)s->sk_counter;
    gp_sha256(out + 37, data, datalen);
}

static const char *ecdsa_md(gp_keytype t)
{
    switch (t) {
    case GP_KEY_ECDSA_P384:
        return "SHA384";
    case GP_KEY_ECDSA_P521:
        return "SHA512";
    default:
        return "SHA256";
    }
}

/* Whether the signature type fits the key; sets *mdname for RSA. GP_EBADSIG with a message if not.
 */
static int check_sig_type(const gp_pubkey *k, const gp_sshsig *s, const char **mdname)
{
    *mdname = NULL;
    if (k->type == GP_KEY_RSA) {
        if (strcmp(s->sig_type, "rsa-sha2-512") == 0)
            *mdname = "SHA512";
        else if (strcmp(s->sig_type, "rsa-sha2-256") == 0)
            *mdname = "SHA256";
        else if (strcmp(s->sig_type, "ssh-rsa") == 0)
            return gp_error_setf(GP_EBADSIG,
                                 "SSHSIG uses ssh-rsa (SHA-1) signatures, which are refused; "
                                 "sign with rsa-sha2-512 (ssh-keygen's default)");
        else
            return gp_error_setf(GP_EBADSIG, "SSHSIG signature type \"%s\" does not fit an RSA key",
                                 s->sig_type);
        if (k->rsa_bits < RSA_MIN_BITS || !k->pkey)
            return gp_error_setf(GP_EBADSIG, "RSA key of %u bits is below the minimum of %d",
                                 k->rsa_bits, RSA_MIN_BITS);
        return 0;
    }
    if (strcmp(s->sig_type, gp_keytype_name(k->type)) != 0)
        return gp_error_setf(GP_EBADSIG, "SSHSIG signature type \"%s\" does not fit the %s key",
                             s->sig_type, gp_keytype_name(k->type));
    if (gp_keytype_is_ecdsa(k->type) && !k->pkey)
        return gp_error_setf(GP_EBADSIG, "the %s key is not usable", gp_keytype_name(k->type));
    return 0;
}

/* 1 verified, 0 not, negative on a library failure. */
static int verify_with(const gp_pubkey *k, const gp_sshsig *s, const char *mdname,
                       const unsigned char *data, size_t datalen)
{
    unsigned char skmsg[69];
    switch (k->type) {
    case GP_KEY_ED25519:
        return s->sig_blob_len == crypto_sign_BYTES &&
               crypto_sign_verify_detached(s->sig_blob, data, datalen, k->ed25519) == 0;
    case GP_KEY_ECDSA_P256:
    case GP_KEY_ECDSA_P384:
    case GP_KEY_ECDSA_P521:
        return ecdsa_verify(k->pkey, ecdsa_md(k->type), s->sig_blob, s->sig_blob_len, data,
                            datalen);
    case GP_KEY_RSA:
        return rsa_verify(k, mdname, s->sig_blob, s->sig_blob_len, data, datalen);
    case GP_KEY_SK_ED25519:
        sk_message(skmsg, k, s, data, datalen);
        return s->sig_blob_len == crypto_sign_BYTES &&
               crypto_sign_verify_detached(s->sig_blob, skmsg, sizeof(skmsg), k->ed25519) == 0;
    case GP_KEY_SK_ECDSA_P256:
        sk_message(skmsg, k, s, data, datalen);
        return ecdsa_verify(k->pkey, "SHA256", s->sig_blob, s->sig_blob_len, skmsg, sizeof(skmsg));
    }
    return 0;
}

int gp_sshsig_verify(const gp_pubkey **used, const unsigned char *blob, size_t len, const char *ns,
                     const unsigned char *msg, size_t msglen, const gp_keylist *keys)
{
    gp_sshsig *s = NULL;
    const gp_pubkey *k = NULL;
    gp_pubkey probe;
    gp_buf data = GP_BUF_INIT(0);
    const char *mdname = NULL;
    char fp[64];
    unsigned char md[GP_SHA256_LEN];
    int error, ok;

    if (used) *used = NULL;
    if (!blob || len == 0) return gp_error_setf(GP_EUNSIGNED, "the signature value is empty");
    if ((error = check_ns(ns)) < 0) return error;
    if ((error = sshsig_new(&s, blob, len)) < 0) return error;
    if ((error = parse_fields(s)) < 0) goto done;
    if (strcmp(s->ns, ns) != 0) {
        error = gp_error_setf(GP_EBADSIG, "SSHSIG signature is for namespace \"%.64s\", not \"%s\"",
                              s->ns, ns);
        goto done;
    }
    memset(&probe, 0, sizeof(probe));
    probe.blob = (unsigned char *)s->pubkey_blob;
    probe.blob_len = s->pubkey_len;
    for (size_t i = 0; keys && i < keys->n && !k; i++)
        if (gp_pubkey_equal(&keys->keys[i], &probe)) k = &keys->keys[i];
    if (!k) {
        gp_sha256(md, s->pubkey_blob, s->pubkey_len);
        memcpy(fp, "SHA256:", 7);
        gp_base64_nopad(fp + 7, md, sizeof(md));
        error = gp_error_setf(
            GP_EBADSIG, "the SSHSIG signing key %s is not one the signer publishes (%zu keys)", fp,
            keys ? keys->n : 0);
        goto done;
    }
    if ((error = check_sig_type(k, s, &mdname)) < 0) goto done;
    if ((error = signed_data(&data, s->ns, s->hash_alg, msg, msglen)) < 0) goto done;
    if ((ok = verify_with(k, s, mdname, (const unsigned char *)data.ptr, data.len)) < 0) {
        error = ok;
        goto done;
    }
    if (!ok) {
        error = gp_error_setf(GP_EBADSIG, "SSHSIG signature by %s %s does not verify",
                              gp_keytype_name(k->type), k->fingerprint);
        goto done;
    }
    if (s->sk && !(s->sk_flags & GP_SSHSIG_FLAG_UP)) {
        error = gp_error_setf(GP_EBADSIG,
                              "the security key %s did not assert user presence (flags 0x%02x); "
                              "sign again and touch the key",
                              k->fingerprint, s->sk_flags);
        goto done;
    }
    if (used) *used = k;
    gp_error_clear();
    error = 0;
done:
    gp_buf_free(&data);
    gp_sshsig_free(s);
    return error;
}

/* ---- encoding ---------------------------------------------------------------------------- */

int gp_sshsig_ssh_signature(unsigned char **out, size_t *outlen, const char *sig_type,
                            const unsigned char *raw, size_t rawlen)
{
    gp_buf b = GP_BUF_INIT(0), inner = GP_BUF_INIT(0);
    ECDSA_SIG *sig = NULL;
    const unsigned char *p = raw;
    unsigned char rb[80], sbuf[80];
    const BIGNUM *r, *s;
    int error;

    *out = NULL;
    *outlen = 0;
    if (!sig_type || !raw || rawlen == 0)
        return gp_error_setf(GP_EINVALID, "no signature to encode");
    if (strcmp(sig_type, "ssh-ed25519") == 0) {
        if (rawlen != crypto_sign_BYTES)
            return gp_error_setf(GP_EINVALID, "an Ed25519 signature is 64 bytes");
        if ((error = put_cstring(&b, sig_type)) < 0 || (error = put_string(&b, raw, rawlen)) < 0)
            goto done;
    } else if (strcmp(sig_type, "rsa-sha2-256") == 0 || strcmp(sig_type, "rsa-sha2-512") == 0) {
        if ((error = put_cstring(&b, sig_type)) < 0 || (error = put_string(&b, raw, rawlen)) < 0)
            goto done;
    } else if (starts_with(sig_type, "ecdsa-sha2-nistp")) {
        if (rawlen > 256 || !(sig = d2i_ECDSA_SIG(NULL, &p, (long)rawlen)) || p != raw + rawlen) {
            error = gp_error_setf(GP_EINVALID, "the ECDSA signature is not a DER SEQUENCE{r, s}");
            goto done;
        }
        ECDSA_SIG_get0(sig, &r, &s);
        if (BN_num_bytes(r) > (int)sizeof(rb) || BN_num_bytes(s) > (int)sizeof(sbuf)) {
            error = gp_error_setf(GP_EINVALID, "the ECDSA signature integers are too large");
            goto done;
        }
        if ((error = put_mpint(&inner, rb, (size_t)BN_bn2bin(r, rb))) < 0 ||
            (error = put_mpint(&inner, sbuf, (size_t)BN_bn2bin(s, sbuf))) < 0 ||
            (error = put_cstring(&b, sig_type)) < 0 ||
            (error = put_string(&b, inner.ptr, inner.len)) < 0)
            goto done;
    } else {
        error =
            gp_error_setf(GP_EUNSUPPORTED, "cannot encode signatures of type \"%.48s\"", sig_type);
        goto done;
    }
    error = detach(&b, out, outlen);
done:
    ECDSA_SIG_free(sig);
    gp_buf_free(&inner);
    gp_buf_free(&b);
    return error;
}

int gp_sshsig_encode(unsigned char **out, size_t *outlen, const unsigned char *pubkey_blob,
                     size_t pubkey_len, const char *ns, const char *hash_alg,
                     const unsigned char *ssh_sig, size_t ssh_sig_len)
{
    gp_buf b = GP_BUF_INIT(GP_SSHSIG_MAX_BLOB);
    int error;

    *out = NULL;
    *outlen = 0;
    if ((error = check_ns(ns)) < 0) return error;
    if (!hash_md(hash_alg))
        return gp_error_setf(GP_EINVALID, "SSHSIG hash algorithm must be sha512 or sha256");
    if (!pubkey_blob || pubkey_len == 0 || !ssh_sig || ssh_sig_len == 0)
        return gp_error_setf(GP_EINVALID, "an SSHSIG needs a public key and a signature");
    if ((error = gp_buf_add(&b, MAGIC, MAGIC_LEN)) < 0 || (error = put_u32(&b, SIG_VERSION)) < 0 ||
        (error = put_string(&b, pubkey_blob, pubkey_len)) < 0 ||
        (error = put_cstring(&b, ns)) < 0 || (error = put_string(&b, NULL, 0)) < 0 ||
        (error = put_cstring(&b, hash_alg)) < 0 ||
        (error = put_string(&b, ssh_sig, ssh_sig_len)) < 0) {
        if (error == GP_ETOOBIG)
            gp_error_setf(error, "SSHSIG signature would exceed %d bytes", GP_SSHSIG_MAX_BLOB);
        gp_buf_free(&b);
        return error;
    }
    return detach(&b, out, outlen);
}

/* ---- signing ----------------------------------------------------------------------------- */

/* Checks a freshly made blob with the verifier, against the one key that made it. */
static int self_check(const unsigned char *blob, size_t len, const gp_pubkey *pub, const char *ns,
                      const unsigned char *msg, size_t msglen)
{
    gp_keylist one = {(gp_pubkey *)pub, 1};
    int error = gp_sshsig_verify(NULL, blob, len, ns, msg, msglen, &one);
    if (error == GP_EBADSIG || error == GP_EINVALID) {
        char why[256];
        snprintf(why, sizeof(why), "%s", gp_error_last());
        return gp_error_setf(GP_EBADSIG, "the new SSHSIG signature does not verify with %s: %s",
                             pub->fingerprint, why);
    }
    return error;
}

int gp_sshsig_sign_key(unsigned char **blob, size_t *len, const gp_privkey *key, const char *ns,
                       const unsigned char *msg, size_t msglen)
{
    unsigned char *data = NULL, *raw = NULL, *sig = NULL;
    size_t datalen = 0, rawlen = 0, siglen = 0;
    const char *sig_type = NULL, *mdname = NULL;
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int error;

    *blob = NULL;
    *len = 0;
    if ((error = gp_sshsig_signed_data(&data, &datalen, ns, "sha512", msg, msglen)) < 0) goto done;
    switch (key->pub.type) {
    case GP_KEY_ED25519:
        if (!key->ed25519_sk) goto unsupported;
        if (!(raw = malloc(crypto_sign_BYTES))) goto oom;
        crypto_sign_detached(raw, NULL, data, datalen, key->ed25519_sk);
        rawlen = crypto_sign_BYTES;
        sig_type = "ssh-ed25519";
        break;
    case GP_KEY_ECDSA_P256:
    case GP_KEY_ECDSA_P384:
    case GP_KEY_ECDSA_P521:
        mdname = ecdsa_md(key->pub.type);
        sig_type = gp_keytype_name(key->pub.type);
        break;
    case GP_KEY_RSA:
        mdname = "SHA512";
        sig_type = "rsa-sha2-512";
        break;
    default:
        goto unsupported;
    }
    if (mdname) {
        if (!key->pkey) goto unsupported;
        if (!(ctx = EVP_MD_CTX_new()) ||
            EVP_DigestSignInit_ex(ctx, &pctx, mdname, NULL, NULL, key->pkey, NULL) <= 0 ||
            (key->pub.type == GP_KEY_RSA &&
             EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) ||
            EVP_DigestSign(ctx, NULL, &rawlen, data, datalen) <= 0 || !(raw = malloc(rawlen)) ||
            EVP_DigestSign(ctx, raw, &rawlen, data, datalen) <= 0) {
            error = gp_error_setf(GP_ERROR, "OpenSSL could not sign with the %s key %s", sig_type,
                                  key->pub.fingerprint);
            goto done;
        }
    }
    if ((error = gp_sshsig_ssh_signature(&sig, &siglen, sig_type, raw, rawlen)) < 0 ||
        (error = gp_sshsig_encode(blob, len, key->pub.blob, key->pub.blob_len, ns, "sha512", sig,
                                  siglen)) < 0 ||
        (error = self_check(*blob, *len, &key->pub, ns, msg, msglen)) < 0)
        goto done;
    error = 0;
    goto done;
unsupported:
    error =
        gp_error_setf(GP_EUNSUPPORTED, "cannot make SSHSIG signatures with a %s key file%s",
                      gp_keytype_name(key->pub.type),
                      key->pub.type == GP_KEY_SK_ED25519 || key->pub.type == GP_KEY_SK_ECDSA_P256
                          ? "; security keys sign through ssh-agent: add the key with `ssh-add`"
                          : "");
    goto done;
oom:
    error = gp_error_setf(GP_ERROR, "out of memory");
done:
    if (error < 0) {
        free(*blob);
        *blob = NULL;
        *len = 0;
    }
    EVP_MD_CTX_free(ctx);
    if (raw) OPENSSL_cleanse(raw, rawlen);
    free(raw);
    free(sig);
    free(data);
    return error;
}

int gp_sshsig_sign_agent(unsigned char **blob, size_t *len, gp_agent *agent, const gp_pubkey *key,
                         const char *ns, const unsigned char *msg, size_t msglen)
{
    unsigned char *data = NULL, *sig = NULL;
    size_t datalen = 0, siglen = 0;
    int error;

    *blob = NULL;
    *len = 0;
    if ((error = gp_sshsig_signed_data(&data, &datalen, ns, "sha512", msg, msglen)) < 0 ||
        (error = gp_agent_sign(&sig, &siglen, agent, key, data, datalen,
                               key->type == GP_KEY_RSA ? GP_AGENT_RSA_SHA2_512 : 0)) < 0 ||
        (error = gp_sshsig_encode(blob, len, key->blob, key->blob_len, ns, "sha512", sig, siglen)) <
            0 ||
        (error = self_check(*blob, *len, key, ns, msg, msglen)) < 0) {
        free(*blob);
        *blob = NULL;
        *len = 0;
    }
    free(sig);
    free(data);
    return error;
}

/* ---- armor ------------------------------------------------------------------------------- */

int gp_sshsig_armor(char **out, const unsigned char *blob, size_t len)
{
    gp_buf b = GP_BUF_INIT(0);
    char *b64 = NULL;
    size_t n;
    int error;

    *out = NULL;
    if (!blob || len == 0) return gp_error_setf(GP_EINVALID, "no SSHSIG blob to armor");
    if ((error = gp_base64_encode(&b64, blob, len)) < 0) return error;
    n = strlen(b64);
    if ((error = gp_buf_puts(&b, ARMOR_BEGIN "\n")) < 0) goto done;
    for (size_t i = 0; i < n; i += ARMOR_COLS) {
        size_t w = n - i < ARMOR_COLS ? n - i : ARMOR_COLS;
        if ((error = gp_buf_add(&b, b64 + i, w)) < 0 || (error = gp_buf_putc(&b, '\n')) < 0)
            goto done;
    }
    if ((error = gp_buf_puts(&b, ARMOR_END "\n")) < 0) goto done;
    if (!(*out = gp_buf_detach(&b, NULL))) error = gp_error_setf(GP_ERROR, "out of memory");
done:
    free(b64);
    gp_buf_free(&b);
    return error;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int gp_sshsig_dearmor(unsigned char **out, size_t *outlen, const char *text, size_t len)
{
    /* base64 of GP_SSHSIG_MAX_BLOB bytes, plus one so that "over" is detectable */
    gp_buf b64 = GP_BUF_INIT(4 * ((GP_SSHSIG_MAX_BLOB + 2) / 3) + 4);
    const char *p = text, *end = text + len, *endmark = NULL;
    size_t blen = strlen(ARMOR_BEGIN), elen = strlen(ARMOR_END);
    int error;

    *out = NULL;
    *outlen = 0;
    if (!text) return gp_error_setf(GP_EINVALID, "no armored SSH signature");
    while (p < end && is_ws(*p))
        p++;
    while (end > p && is_ws(end[-1]))
        end--;
    if ((size_t)(end - p) < blen + elen || memcmp(p, ARMOR_BEGIN, blen) != 0 ||
        memcmp(end - elen, ARMOR_END, elen) != 0) {
        error =
            gp_error_setf(GP_EINVALID, "not an armored SSH signature (expected \"%s\" ... \"%s\")",
                          ARMOR_BEGIN, ARMOR_END);
        goto done;
    }
    endmark = end - elen;
    p += blen;
    if (p >= endmark || (*p != '\n' && *p != '\r')) {
        error = gp_error_setf(GP_EINVALID, "armored SSH signature: a line break must follow \"%s\"",
                              ARMOR_BEGIN);
        goto done;
    }
    for (; p < endmark; p++) {
        if (*p == '\n' || *p == '\r') continue;
        if ((error = gp_buf_putc(&b64, *p)) < 0) {
            if (error == GP_ETOOBIG)
                gp_error_setf(error, "armored SSH signature is over the limit of %d bytes",
                              GP_SSHSIG_MAX_BLOB);
            goto done;
        }
    }
    if (endmark[-1] != '\n') {
        error = gp_error_setf(GP_EINVALID, "armored SSH signature: \"%s\" must start a line",
                              ARMOR_END);
        goto done;
    }
    if ((error = gp_base64_decode(out, outlen, b64.ptr ? b64.ptr : "", b64.len)) < 0) {
        gp_error_setf(error, "armored SSH signature: the body is not standard padded base64");
        goto done;
    }
    if (*outlen == 0 || *outlen > GP_SSHSIG_MAX_BLOB) {
        error = *outlen
                    ? gp_error_setf(GP_ETOOBIG, "SSHSIG signature is over the limit of %d bytes",
                                    GP_SSHSIG_MAX_BLOB)
                    : gp_error_setf(GP_EINVALID, "armored SSH signature is empty");
        free(*out);
        *out = NULL;
        *outlen = 0;
        goto done;
    }
    error = 0;
done:
    gp_buf_free(&b64);
    return error;
}
