/*
 * sshkey.c - SSH public keys: key lines, wire blobs, fingerprints (see sshkey.h).
 *
 * A public key blob (RFC 4253 §6.6) is a sequence of SSH strings / mpints (RFC 4251 §5):
 *   ssh-ed25519                          string type, string pk[32]
 *   ecdsa-sha2-nistpN (RFC 5656 §3.1)    string type, string "nistpN", string Q (uncompressed
 * point) ssh-rsa                              string type, mpint e, mpint n
 *   sk-ssh-ed25519@openssh.com           string type, string pk[32], string application
 *   sk-ecdsa-sha2-nistp256@openssh.com   string type, string "nistp256", string Q, string
 * application (OpenSSH PROTOCOL.u2f for the sk- types). A blob must be consumed exactly; ECDSA
 * points are checked to lie on their curve and RSA keys are built through EVP_PKEY_fromdata
 * (OpenSSL 3). The fingerprint is "SHA256:" + unpadded base64 of SHA-256(blob), as `ssh-keygen -l
 * -E sha256`.
 */
#include "sshkey.h"
#include "error.h"
#include "util.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define GP_KEYLIST_MAX 100         /* keys kept from one .keys text */
#define GP_KEYLINE_MAX (16 * 1024) /* longest key line considered */
#define GP_RSA_MIN_BITS 1024       /* OpenSSH refuses smaller RSA keys outright */
#define GP_RSA_MAX_BITS 16384      /* OpenSSH's SSHBUF_MAX_BIGNUM */

static const struct {
    gp_keytype type;
    const char *name;
    const char *curve; /* SSH curve identifier, ECDSA only */
    const char *group; /* OpenSSL group name, ECDSA only */
    size_t point_len;  /* uncompressed point length, ECDSA only */
} keytypes[] = {
    {GP_KEY_ED25519, "ssh-ed25519", NULL, NULL, 0},
    {GP_KEY_ECDSA_P256, "ecdsa-sha2-nistp256", "nistp256", "P-256", 65},
    {GP_KEY_ECDSA_P384, "ecdsa-sha2-nistp384", "nistp384", "P-384", 97},
    {GP_KEY_ECDSA_P521, "ecdsa-sha2-nistp521", "nistp521", "P-521", 133},
    {GP_KEY_RSA, "ssh-rsa", NULL, NULL, 0},
    {GP_KEY_SK_ED25519, "sk-ssh-ed25519@openssh.com", NULL, NULL, 0},
    {GP_KEY_SK_ECDSA_P256, "sk-ecdsa-sha2-nistp256@openssh.com", "nistp256", "P-256", 65},
};
#define NKEYTYPES (sizeof(keytypes) / sizeof(keytypes[0]))

const char *gp_keytype_name(gp_keytype t)
{
    for (size_t i = 0; i < NKEYTYPES; i++)
        if (keytypes[i].type == t) return keytypes[i].name;
    return "unknown";
}

bool gp_keytype_is_ecdsa(gp_keytype t)
{
    return t == GP_KEY_ECDSA_P256 || t == GP_KEY_ECDSA_P384 || t == GP_KEY_ECDSA_P521;
}

static int keytype_index(const unsigned char *name, size_t len)
{
    for (size_t i = 0; i < NKEYTYPES; i++)
        if (strlen(keytypes[i].name) == len && memcmp(keytypes[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* ---- wire readers ---------------------------------------------------------------------- */

int gp_ssh_get_u32(gp_sshbuf *b, uint32_t *out)
{
    if (b->len < 4)
        return gp_error_setf(GP_EINVALID, "SSH data truncated: expected a 32-bit integer");
    *out = (uint32_t)b->p[0] << 24 | (uint32_t)b->p[1] << 16 | (uint32_t)b->p[2] << 8 | b->p[3];
    b->p += 4;
    b->len -= 4;
    return 0;
}

int gp_ssh_get_u8(gp_sshbuf *b, unsigned char *out)
{
    if (b->len < 1) return gp_error_setf(GP_EINVALID, "SSH data truncated: expected a byte");
    *out = b->p[0];
    b->p++;
    b->len--;
    return 0;
}

int gp_ssh_get_string(gp_sshbuf *b, const unsigned char **out, size_t *len)
{
    gp_sshbuf save = *b;
    uint32_t n = 0;
    int error;
    if ((error = gp_ssh_get_u32(b, &n)) < 0) return error;
    if (n > b->len) {
        *b = save;
        return gp_error_setf(GP_EINVALID, "SSH string of %u bytes runs past the end of its data",
                             n);
    }
    *out = b->p;
    *len = n;
    b->p += n;
    b->len -= n;
    return 0;
}

int gp_ssh_expect_string(gp_sshbuf *b, const char *expect)
{
    gp_sshbuf save = *b;
    const unsigned char *s = NULL;
    size_t n = 0;
    int error;
    if ((error = gp_ssh_get_string(b, &s, &n)) < 0) return error;
    if (n != strlen(expect) || memcmp(s, expect, n) != 0) {
        *b = save;
        return gp_error_setf(GP_EINVALID, "SSH data: expected the string \"%s\"", expect);
    }
    return 0;
}

/* A positive mpint (RFC 4251 §5): no sign bit, no superfluous leading zero. Points into b. */
static int get_mpint_positive(gp_sshbuf *b, const unsigned char **out, size_t *len,
                              const char *what)
{
    const unsigned char *p = NULL;
    size_t n = 0;
    int error;
    if ((error = gp_ssh_get_string(b, &p, &n)) < 0) return error;
    if (n == 0) return gp_error_setf(GP_EINVALID, "RSA %s is zero", what);
    if (p[0] & 0x80) return gp_error_setf(GP_EINVALID, "RSA %s is negative", what);
    if (p[0] == 0 && (n == 1 || !(p[1] & 0x80)))
        return gp_error_setf(GP_EINVALID, "RSA %s has a superfluous leading zero byte", what);
    if (p[0] == 0) {
        p++;
        n--;
    }
    *out = p;
    *len = n;
    return 0;
}

/* ---- building EVP_PKEYs (OpenSSL 3, no deprecated APIs) --------------------------------- */

/*
 * Builds a public key from parameters. `check` runs OpenSSL's public-key check: for EC keys that
 * is the deterministic point-on-curve test. RSA keys are not given it: OpenSSL 3's SP 800-56B check
 * runs Miller-Rabin with random bases and may classify the same modulus differently from one call
 * to the next, so a key would parse one time and not the next; rsa_pkey() checks what matters
 * (size, odd modulus, odd exponent) deterministically instead, as OpenSSH does.
 */
static int pkey_fromdata(EVP_PKEY **out, const char *alg, OSSL_PARAM *params, const char *what,
                         bool check_key)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pkey = NULL;
    int error = GP_EINVALID;
    if (!ctx) {
        error = gp_error_setf(GP_ERROR, "OpenSSL has no %s support", alg);
        goto done;
    }
    if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        gp_error_setf(GP_EINVALID, "%s is not a valid public key", what);
        goto done;
    }
    if (check_key && (!(check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) ||
                      EVP_PKEY_public_check(check) <= 0)) {
        gp_error_setf(GP_EINVALID, "%s is not a valid public key", what);
        goto done;
    }
    *out = pkey;
    pkey = NULL;
    error = 0;
done:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return error;
}

static int ec_pkey(EVP_PKEY **out, const char *group, const unsigned char *point, size_t len)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len),
        OSSL_PARAM_construct_end(),
    };
    return pkey_fromdata(out, "EC", params, "ECDSA point", true);
}

static int rsa_pkey(EVP_PKEY **out, const unsigned char *e, size_t elen, const unsigned char *n,
                    size_t nlen)
{
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *bn_e = NULL, *bn_n = NULL;
    int error = GP_ERROR;
    if (!(bn_e = BN_bin2bn(e, (int)elen, NULL)) || !(bn_n = BN_bin2bn(n, (int)nlen, NULL)) ||
        !(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        error = gp_error_setf(GP_ERROR, "out of memory building an RSA key");
        goto done;
    }
    if (!BN_is_odd(bn_n) || !BN_is_odd(bn_e) || BN_is_one(bn_e)) {
        error = gp_error_setf(GP_EINVALID, "RSA key is not a valid public key (even modulus or bad exponent)");
        goto done;
    }
    error = pkey_fromdata(out, "RSA", params, "RSA key", false);
done:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_e);
    BN_free(bn_n);
    return error;
}

/* ---- blobs ------------------------------------------------------------------------------ */

void gp_pubkey_clear(gp_pubkey *k)
{
    if (!k) return;
    free(k->blob);
    EVP_PKEY_free(k->pkey);
    free(k->application);
    memset(k, 0, sizeof(*k));
}

static int get_application(gp_pubkey *k, gp_sshbuf *b)
{
    const unsigned char *s;
    size_t n;
    int error;
    if ((error = gp_ssh_get_string(b, &s, &n)) < 0) return error;
    if (n == 0 || n > 1024 || memchr(s, '\0', n))
        return gp_error_setf(GP_EINVALID,
                             "security key application string is empty, too long or holds NUL");
    if (!(k->application = malloc(n + 1))) return gp_error_setf(GP_ERROR, "out of memory");
    memcpy(k->application, s, n);
    k->application[n] = '\0';
    return 0;
}

int gp_pubkey_from_blob(gp_pubkey *out, const unsigned char *blob, size_t len)
{
    gp_pubkey k;
    gp_sshbuf b = {blob, len};
    const unsigned char *s, *e, *n;
    size_t slen, elen, nlen;
    unsigned char md[GP_SHA256_LEN];
    int error, ti;

    memset(&k, 0, sizeof(k));
    if (!blob || len == 0) return gp_error_setf(GP_EINVALID, "empty SSH public key blob");
    if ((error = gp_ssh_get_string(&b, &s, &slen)) < 0) goto done;
    if ((ti = keytype_index(s, slen)) < 0) {
        error = gp_error_setf(GP_EUNSUPPORTED, "unsupported SSH key type \"%.*s\"",
                              (int)(slen > 64 ? 64 : slen), (const char *)s);
        goto done;
    }
    k.type = keytypes[ti].type;
    switch (k.type) {
    case GP_KEY_ED25519:
    case GP_KEY_SK_ED25519:
        if ((error = gp_ssh_get_string(&b, &s, &slen)) < 0) goto done;
        if (slen != crypto_sign_PUBLICKEYBYTES) {
            error = gp_error_setf(GP_EINVALID, "Ed25519 public key is %zu bytes, not 32", slen);
            goto done;
        }
        memcpy(k.ed25519, s, slen);
        break;
    case GP_KEY_ECDSA_P256:
    case GP_KEY_ECDSA_P384:
    case GP_KEY_ECDSA_P521:
    case GP_KEY_SK_ECDSA_P256:
        if ((error = gp_ssh_expect_string(&b, keytypes[ti].curve)) < 0) {
            gp_error_setf(error, "%s key does not name the curve %s", keytypes[ti].name,
                          keytypes[ti].curve);
            goto done;
        }
        if ((error = gp_ssh_get_string(&b, &s, &slen)) < 0) goto done;
        if (slen != keytypes[ti].point_len || s[0] != 0x04) {
            error = gp_error_setf(GP_EINVALID, "%s key point is not an uncompressed %s point",
                                  keytypes[ti].name, keytypes[ti].curve);
            goto done;
        }
        if ((error = ec_pkey(&k.pkey, keytypes[ti].group, s, slen)) < 0) goto done;
        break;
    case GP_KEY_RSA:
        if ((error = get_mpint_positive(&b, &e, &elen, "exponent")) < 0 ||
            (error = get_mpint_positive(&b, &n, &nlen, "modulus")) < 0)
            goto done;
        if (nlen > GP_RSA_MAX_BITS / 8 || elen > nlen) {
            error = gp_error_setf(GP_EINVALID, "RSA key is larger than %d bits", GP_RSA_MAX_BITS);
            goto done;
        }
        k.rsa_bits = (unsigned)(nlen * 8);
        for (unsigned char top = n[0]; !(top & 0x80); top <<= 1)
            k.rsa_bits--;
        if (k.rsa_bits < GP_RSA_MIN_BITS) {
            error = gp_error_setf(GP_EINVALID, "RSA key of %u bits is below the minimum of %d",
                                  k.rsa_bits, GP_RSA_MIN_BITS);
            goto done;
        }
        if (!(e[elen - 1] & 1) || (elen == 1 && e[0] < 3) || !(n[nlen - 1] & 1)) {
            error = gp_error_setf(GP_EINVALID, "RSA key has an even exponent or modulus");
            goto done;
        }
        if ((error = rsa_pkey(&k.pkey, e, elen, n, nlen)) < 0) goto done;
        break;
    }
    if ((k.type == GP_KEY_SK_ED25519 || k.type == GP_KEY_SK_ECDSA_P256) &&
        (error = get_application(&k, &b)) < 0)
        goto done;
    if (b.len != 0) {
        error = gp_error_setf(GP_EINVALID, "%s key blob has %zu trailing bytes", keytypes[ti].name,
                              b.len);
        goto done;
    }
    if (!(k.blob = malloc(len))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    memcpy(k.blob, blob, len);
    k.blob_len = len;
    gp_sha256(md, blob, len);
    memcpy(k.fingerprint, "SHA256:", 7);
    gp_base64_nopad(k.fingerprint + 7, md, sizeof(md));
    *out = k;
    memset(&k, 0, sizeof(k));
    error = 0;
done:
    gp_pubkey_clear(&k);
    return error;
}

/* ---- lines ------------------------------------------------------------------------------ */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Next whitespace-separated token of [*p, end). */
static bool next_token(const char **p, const char *end, const char **tok, size_t *toklen)
{
    const char *s = *p;
    while (s < end && is_space(*s))
        s++;
    if (s == end) return false;
    const char *t = s;
    while (t < end && !is_space(*t))
        t++;
    *tok = s;
    *toklen = (size_t)(t - s);
    *p = t;
    return true;
}

/* Skips an authorized_keys options field ("opt,opt=\"x y\",...") before the key type. */
static bool skip_options(const char **p, const char *end)
{
    const char *s = *p;
    bool quoted = false;
    while (s < end && is_space(*s))
        s++;
    for (; s < end && (quoted || !is_space(*s)); s++) {
        if (*s == '\\' && quoted && s + 1 < end && s[1] == '"')
            s++;
        else if (*s == '"')
            quoted = !quoted;
    }
    if (quoted) return false;
    *p = s;
    return true;
}

/* A token that looks like a key type name: letters, digits, '-', '@', '.'. */
static bool looks_like_type(const char *t, size_t n)
{
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '@' || c == '.'))
            return false;
    }
    return true;
}

int gp_pubkey_parse_line(gp_pubkey *out, const char *line, size_t len)
{
    const char *p = line, *end = line + len, *type, *b64;
    size_t typelen, b64len, bloblen = 0;
    unsigned char *blob = NULL;
    const char *b64end = NULL;
    gp_sshbuf b;
    const unsigned char *btype;
    size_t btypelen;
    int error;

    if (len > GP_KEYLINE_MAX)
        return gp_error_setf(GP_ETOOBIG, "SSH key line is longer than %d bytes", GP_KEYLINE_MAX);
    if (!next_token(&p, end, &type, &typelen) || type[0] == '#')
        return gp_error_setf(GP_EINVALID, "not an SSH key line (empty or a comment)");
    if (!next_token(&p, end, &b64, &b64len) || !looks_like_type(type, typelen)) {
        /* Maybe an options field came first: "from=\"x\" ssh-ed25519 AAAA..." */
        p = line;
        if (!skip_options(&p, end) || !next_token(&p, end, &type, &typelen) ||
            !looks_like_type(type, typelen) || !next_token(&p, end, &b64, &b64len))
            return gp_error_setf(GP_EINVALID, "not an SSH key line: expected \"TYPE BASE64\"");
    } else if (keytype_index((const unsigned char *)type, typelen) < 0 &&
               keytype_index((const unsigned char *)b64, b64len) >= 0) {
        /* options without spaces, then a known type */
        type = b64;
        typelen = b64len;
        if (!next_token(&p, end, &b64, &b64len))
            return gp_error_setf(GP_EINVALID, "SSH key line has a type but no key data");
    }
    if (!(blob = malloc(b64len / 4 * 3 + 3))) return gp_error_setf(GP_ERROR, "out of memory");
    if (sodium_base642bin(blob, b64len / 4 * 3 + 3, b64, b64len, NULL, &bloblen, &b64end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64end != b64 + b64len) {
        error = gp_error_setf(GP_EINVALID, "SSH key data is not valid base64");
        goto done;
    }
    b = (gp_sshbuf){blob, bloblen};
    if ((error = gp_ssh_get_string(&b, &btype, &btypelen)) < 0) goto done;
    if (btypelen != typelen || memcmp(btype, type, typelen) != 0) {
        error = gp_error_setf(GP_EINVALID,
                              "SSH key line says \"%.*s\" but its key data is of another type",
                              (int)typelen, type);
        goto done;
    }
    error = gp_pubkey_from_blob(out, blob, bloblen);
done:
    free(blob);
    return error;
}

bool gp_pubkey_equal(const gp_pubkey *a, const gp_pubkey *b)
{
    return a && b && a->blob_len == b->blob_len && a->blob && b->blob &&
           memcmp(a->blob, b->blob, a->blob_len) == 0;
}

int gp_pubkey_to_line(char **out, const gp_pubkey *k)
{
    char *b64 = NULL, *line;
    const char *name = gp_keytype_name(k->type);
    int error;
    if (!k->blob) return gp_error_setf(GP_EINVALID, "empty SSH public key");
    if ((error = gp_base64_encode(&b64, k->blob, k->blob_len)) < 0) return error;
    size_t n = strlen(name) + 1 + strlen(b64) + 1;
    if (!(line = malloc(n))) {
        free(b64);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    snprintf(line, n, "%s %s", name, b64);
    free(b64);
    *out = line;
    return 0;
}

/* ---- key lists -------------------------------------------------------------------------- */

void gp_keylist_free(gp_keylist *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        gp_pubkey_clear(&l->keys[i]);
    free(l->keys);
    free(l);
}

int gp_keylist_parse(gp_keylist **out, const char *text, size_t len)
{
    gp_keylist *l = calloc(1, sizeof(*l));
    const char *p = text, *end = text + len;
    if (!l) return gp_error_setf(GP_ERROR, "out of memory");
    while (p < end && l->n < GP_KEYLIST_MAX) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        gp_pubkey k;
        if (gp_pubkey_parse_line(&k, p, (size_t)(eol - p)) == 0) {
            bool dup = false;
            for (size_t i = 0; i < l->n && !dup; i++)
                dup = gp_pubkey_equal(&l->keys[i], &k);
            if (dup) {
                gp_pubkey_clear(&k);
            } else {
                if (!l->keys && !(l->keys = calloc(GP_KEYLIST_MAX, sizeof(*l->keys)))) {
                    gp_pubkey_clear(&k);
                    gp_keylist_free(l);
                    return gp_error_setf(GP_ERROR, "out of memory");
                }
                l->keys[l->n++] = k;
            }
        }
        p = nl ? nl + 1 : end;
    }
    gp_error_clear();
    *out = l;
    return 0;
}
