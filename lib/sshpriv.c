/*
 * sshpriv.c - OpenSSH private key files (see sshpriv.h).
 *
 * The openssh-key-v1 container (OpenSSH PROTOCOL.key), after the base64 armour:
 *   "openssh-key-v1\0"
 *   string ciphername   ("none" unless encrypted)    string kdfname ("none")
 *   string kdfoptions   uint32 number of keys (1)     string public key blob
 *   string private section, a multiple of the cipher block size (8 for "none"):
 *       uint32 checkint, uint32 checkint (equal), then per key:
 *         ssh-ed25519          string type, string pk[32], string sk[64] (seed || pk)
 *         ecdsa-sha2-nistpN    string type, string curve, string Q, mpint d
 *         ssh-rsa              string type, mpint n, mpint e, mpint d, mpint iqmp, mpint p, mpint q
 *         string comment
 *       padding 1, 2, 3, ...
 * The public part inside the private section must equal the public blob, and the secret must
 * belong to it (Ed25519: derived again from the seed; ECDSA/RSA: OpenSSL's pairwise check).
 * Every copy of secret bytes lives in sodium_malloc'ed memory (guarded, mlock'ed where allowed) and
 * is wiped by sodium_free.
 */
#include "sshpriv.h"
#include "buf.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BEGIN_MARK "-----BEGIN OPENSSH PRIVATE KEY-----"
#define END_MARK "-----END OPENSSH PRIVATE KEY-----"
#define MAGIC "openssh-key-v1"
#define COMMENT_MAX 4096

static const char *name_of(const char *path)
{
    return path ? path : "private key";
}

/* Reads a file (no symlink, regular, <= GP_PRIVKEY_MAX_FILE) into sodium_malloc'ed memory. */
static int read_secret_file(char **out, size_t *len, const char *path)
{
    struct stat st;
    char *p = NULL;
    size_t n = 0;
    int fd, error = 0;

    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium cannot be initialised");
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) return gp_error_setf(GP_ENOTFOUND, "%s: no such key file", path);
        if (errno == ELOOP)
            return gp_error_setf(GP_EINVALID, "%s is a symbolic link: give the key file's real path", path);
        return gp_error_setf(GP_ERROR, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        error = gp_error_setf(GP_EINVALID, "%s is not a regular file", path);
        goto done;
    }
    if (st.st_size > GP_PRIVKEY_MAX_FILE) {
        error = gp_error_setf(GP_ETOOBIG, "%s is larger than %d bytes: not a private key file", path,
                              GP_PRIVKEY_MAX_FILE);
        goto done;
    }
    if (!(p = sodium_malloc(GP_PRIVKEY_MAX_FILE + 1))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    for (;;) {
        ssize_t r = read(fd, p + n, GP_PRIVKEY_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            error = gp_error_setf(GP_ERROR, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > GP_PRIVKEY_MAX_FILE) {
            error = gp_error_setf(GP_ETOOBIG, "%s is larger than %d bytes: not a private key file",
                                  path, GP_PRIVKEY_MAX_FILE);
            goto done;
        }
    }
    p[n] = '\0';
    *out = p;
    *len = n;
    p = NULL;
done:
    if (p) sodium_free(p);
    close(fd);
    return error;
}

typedef struct container {
    unsigned char *raw; /* decoded body, sodium_malloc'ed */
    size_t raw_len;
    bool encrypted;
    const unsigned char *pub; /* public key blob, inside raw */
    size_t pub_len;
    const unsigned char *priv; /* private section, inside raw */
    size_t priv_len;
} container;

static void container_clear(container *c)
{
    if (c->raw) sodium_free(c->raw);
    memset(c, 0, sizeof(*c));
}

static const char *memfind(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    return m <= n ? memmem(hay, n, needle, m) : NULL;
}

/* Removes the armour, decodes the body and reads the container header. */
static int container_open(container *c, const char *data, size_t len, const char *path)
{
    const char *b, *e;
    gp_sshbuf sb;
    const unsigned char *cipher, *kdf, *kdfopt;
    size_t cipher_len, kdf_len, kdfopt_len, cap;
    uint32_t nkeys;
    int error;

    memset(c, 0, sizeof(*c));
    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium cannot be initialised");
    b = memfind(data, len, BEGIN_MARK);
    if (!b) {
        if (memfind(data, len, "-----BEGIN ") && memfind(data, len, "PRIVATE KEY-----"))
            return gp_error_setf(GP_EINVALID,
                                 "%s is a PEM private key, not an OpenSSH one: convert it with "
                                 "`ssh-keygen -p -f %s` (it rewrites the file in OpenSSH format)",
                                 name_of(path), name_of(path));
        return gp_error_setf(GP_EINVALID, "%s is not an OpenSSH private key file (no \"%s\" line)",
                             name_of(path), BEGIN_MARK);
    }
    b += strlen(BEGIN_MARK);
    e = memfind(b, len - (size_t)(b - data), END_MARK);
    if (!e) return gp_error_setf(GP_EINVALID, "%s: private key has no \"%s\" line", name_of(path), END_MARK);

    cap = (size_t)(e - b) / 4 * 3 + 3;
    if (!(c->raw = sodium_malloc(cap))) return gp_error_setf(GP_ERROR, "out of memory");
    {
        const char *end = NULL;
        if (sodium_base642bin(c->raw, cap, b, (size_t)(e - b), " \t\r\n", &c->raw_len, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != e) {
            error = gp_error_setf(GP_EINVALID, "%s: private key body is not valid base64", name_of(path));
            goto fail;
        }
    }
    if (c->raw_len < sizeof(MAGIC) || memcmp(c->raw, MAGIC, sizeof(MAGIC)) != 0) {
        error = gp_error_setf(GP_EINVALID, "%s: not an openssh-key-v1 private key", name_of(path));
        goto fail;
    }
    sb.p = c->raw + sizeof(MAGIC);
    sb.len = c->raw_len - sizeof(MAGIC);
    if (gp_ssh_get_string(&sb, &cipher, &cipher_len) < 0 || gp_ssh_get_string(&sb, &kdf, &kdf_len) < 0 ||
        gp_ssh_get_string(&sb, &kdfopt, &kdfopt_len) < 0 || gp_ssh_get_u32(&sb, &nkeys) < 0) {
        error = gp_error_setf(GP_EINVALID, "%s: truncated private key header", name_of(path));
        goto fail;
    }
    if (nkeys != 1) {
        error = gp_error_setf(GP_EINVALID, "%s holds %u keys; gpuproof reads files with exactly one",
                              name_of(path), nkeys);
        goto fail;
    }
    if (gp_ssh_get_string(&sb, &c->pub, &c->pub_len) < 0 || gp_ssh_get_string(&sb, &c->priv, &c->priv_len) < 0) {
        error = gp_error_setf(GP_EINVALID, "%s: truncated private key", name_of(path));
        goto fail;
    }
    if (sb.len != 0) {
        error = gp_error_setf(GP_EINVALID, "%s: trailing bytes after the private key", name_of(path));
        goto fail;
    }
    c->encrypted = !(cipher_len == 4 && !memcmp(cipher, "none", 4));
    if (!c->encrypted && !(kdf_len == 4 && !memcmp(kdf, "none", 4))) {
        error = gp_error_setf(GP_EINVALID, "%s: unencrypted key with a kdf", name_of(path));
        goto fail;
    }
    return 0;
fail:
    container_clear(c);
    return error;
}

static int encrypted_error(const char *path)
{
    return gp_error_setf(GP_EUNSUPPORTED,
                         "key is passphrase-protected: add it to ssh-agent with `ssh-add %s` and try again",
                         path ? path : "PATH");
}

void gp_privkey_free(gp_privkey *k)
{
    if (!k) return;
    gp_pubkey_clear(&k->pub);
    if (k->ed25519_sk) sodium_free(k->ed25519_sk);
    EVP_PKEY_free(k->pkey);
    free(k->comment);
    free(k);
}

/* An SSH mpint that must be positive (or zero); returned as a BIGNUM (secure, cleared on free). */
static int get_bn(gp_sshbuf *b, BIGNUM **out, const char *what)
{
    const unsigned char *s;
    size_t n;
    if (gp_ssh_get_string(b, &s, &n) < 0) return gp_error_setf(GP_EINVALID, "truncated %s", what);
    if (n > 0 && (s[0] & 0x80)) return gp_error_setf(GP_EINVALID, "negative %s", what);
    if (n > 2049) return gp_error_setf(GP_EINVALID, "%s too large", what);
    *out = BN_secure_new();
    if (!*out || !BN_bin2bn(s, (int)n, *out)) {
        BN_clear_free(*out);
        *out = NULL;
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    return 0;
}

static int pkey_from_params(EVP_PKEY **out, const char *alg, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    EVP_PKEY_CTX *chk = NULL;
    int error = 0;
    *out = NULL;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) <= 0) {
        error = gp_error_setf(GP_EINVALID, "the %s private key is not a valid key", alg);
        goto done;
    }
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
    if (!chk || EVP_PKEY_pairwise_check(chk) != 1) {
        error = gp_error_setf(GP_EINVALID, "the %s private key does not match its public key", alg);
        goto done;
    }
done:
    if (error < 0) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* secure-heap parts (private BNs) are cleared by OpenSSL */
    return error;
}

static int load_ecdsa(gp_privkey *k, gp_sshbuf *b, gp_buf *pubblob)
{
    const unsigned char *curve, *q;
    size_t curve_len, q_len;
    const char *group = k->pub.type == GP_KEY_ECDSA_P256   ? "P-256"
                        : k->pub.type == GP_KEY_ECDSA_P384 ? "P-384"
                                                           : "P-521";
    BIGNUM *d = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int error;
    const unsigned char *start = b->p;

    if ((error = gp_ssh_get_string(b, &curve, &curve_len)) < 0 || (error = gp_ssh_get_string(b, &q, &q_len)) < 0)
        goto done;
    if ((error = gp_buf_add(pubblob, start, (size_t)(b->p - start))) < 0) goto done;
    if ((error = get_bn(b, &d, "ECDSA private scalar")) < 0) goto done;
    if (!(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, q_len) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    error = pkey_from_params(&k->pkey, "EC", bld);
done:
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return error;
}

static int put_ssh_string(gp_buf *out, const unsigned char *s, size_t n)
{
    unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                          (unsigned char)n};
    int error;
    if ((error = gp_buf_add(out, l, 4)) < 0) return error;
    return gp_buf_add(out, s, n);
}

static int load_rsa(gp_privkey *k, gp_sshbuf *b, gp_buf *pubblob)
{
    BIGNUM *n = NULL, *e = NULL, *d = NULL, *iqmp = NULL, *p = NULL, *q = NULL, *dmp1 = NULL,
           *dmq1 = NULL, *t = NULL;
    BN_CTX *bnctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    const unsigned char *ns, *es;
    size_t nlen, elen;
    gp_sshbuf peek;
    int error;

    /* the public blob is type, e, n: n and e come in the other order here */
    peek = *b;
    if ((error = gp_ssh_get_string(&peek, &ns, &nlen)) < 0 || (error = gp_ssh_get_string(&peek, &es, &elen)) < 0)
        goto done;
    if ((error = put_ssh_string(pubblob, es, elen)) < 0 || (error = put_ssh_string(pubblob, ns, nlen)) < 0)
        goto done;
    if ((error = get_bn(b, &n, "RSA modulus")) < 0 || (error = get_bn(b, &e, "RSA exponent")) < 0 ||
        (error = get_bn(b, &d, "RSA private exponent")) < 0 || (error = get_bn(b, &iqmp, "RSA iqmp")) < 0 ||
        (error = get_bn(b, &p, "RSA prime p")) < 0 || (error = get_bn(b, &q, "RSA prime q")) < 0)
        goto done;
    if (!(bnctx = BN_CTX_secure_new()) || !(dmp1 = BN_secure_new()) || !(dmq1 = BN_secure_new()) ||
        !(t = BN_secure_new())) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    BN_set_flags(d, BN_FLG_CONSTTIME);
    if (BN_is_zero(p) || BN_is_zero(q) || !BN_sub(t, p, BN_value_one()) || !BN_mod(dmp1, d, t, bnctx) ||
        !BN_sub(t, q, BN_value_one()) || !BN_mod(dmq1, d, t, bnctx)) {
        error = gp_error_setf(GP_EINVALID, "the RSA private key is not a valid key");
        goto done;
    }
    if (!(bld = OSSL_PARAM_BLD_new()) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp)) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    error = pkey_from_params(&k->pkey, "RSA", bld);
done:
    OSSL_PARAM_BLD_free(bld);
    BN_CTX_free(bnctx);
    BN_clear_free(n);
    BN_clear_free(e);
    BN_clear_free(d);
    BN_clear_free(iqmp);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_clear_free(dmp1);
    BN_clear_free(dmq1);
    BN_clear_free(t);
    return error;
}

static int load_ed25519(gp_privkey *k, gp_sshbuf *b, gp_buf *pubblob)
{
    const unsigned char *pk, *sk;
    size_t pk_len, sk_len;
    unsigned char pk2[crypto_sign_PUBLICKEYBYTES];
    const unsigned char *start = b->p;
    int error;

    if ((error = gp_ssh_get_string(b, &pk, &pk_len)) < 0) return error;
    if ((error = gp_buf_add(pubblob, start, (size_t)(b->p - start))) < 0) return error;
    if ((error = gp_ssh_get_string(b, &sk, &sk_len)) < 0) return error;
    if (pk_len != 32 || sk_len != 64 || memcmp(sk + 32, pk, 32) != 0)
        return gp_error_setf(GP_EINVALID, "the Ed25519 private key has the wrong length or does not match");
    if (!(k->ed25519_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES))) return gp_error_setf(GP_ERROR, "out of memory");
    /* derive the key pair again from the seed: the secret must belong to the public key */
    if (crypto_sign_seed_keypair(pk2, k->ed25519_sk, sk) != 0 || sodium_memcmp(pk2, pk, 32) != 0)
        return gp_error_setf(GP_EINVALID, "the Ed25519 private key does not match its public key");
    return 0;
}

int gp_privkey_parse(gp_privkey **out, const char *data, size_t len, const char *path)
{
    container c;
    gp_privkey *k = NULL;
    gp_sshbuf sb;
    gp_buf pubblob = GP_BUF_INIT(GP_PRIVKEY_MAX_FILE);
    uint32_t check1, check2;
    const unsigned char *type, *comment;
    size_t type_len, comment_len;
    int error;

    *out = NULL;
    if ((error = container_open(&c, data, len, path)) < 0) return error;
    if (c.encrypted) {
        error = encrypted_error(path);
        goto done;
    }
    if (!(k = calloc(1, sizeof(*k)))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    if ((error = gp_pubkey_from_blob(&k->pub, c.pub, c.pub_len)) < 0) goto done;
    if (k->pub.type != GP_KEY_ED25519 && !gp_keytype_is_ecdsa(k->pub.type) && k->pub.type != GP_KEY_RSA) {
        error = gp_error_setf(GP_EUNSUPPORTED,
                              "%s is a %s key, which signs only through its security key: use "
                              "--format sshsig or an ed25519, ecdsa or rsa key",
                              name_of(path), gp_keytype_name(k->pub.type));
        goto done;
    }
    if (c.priv_len % 8 != 0) {
        error = gp_error_setf(GP_EINVALID, "%s: private section is not padded to the block size", name_of(path));
        goto done;
    }
    sb.p = c.priv;
    sb.len = c.priv_len;
    if (gp_ssh_get_u32(&sb, &check1) < 0 || gp_ssh_get_u32(&sb, &check2) < 0 || check1 != check2) {
        error = gp_error_setf(GP_EINVALID, "%s: private key check integers differ (corrupt file)", name_of(path));
        goto done;
    }
    if (gp_ssh_get_string(&sb, &type, &type_len) < 0 ||
        (error = put_ssh_string(&pubblob, type, type_len)) < 0) {
        if (!error) error = gp_error_setf(GP_EINVALID, "%s: truncated private key", name_of(path));
        goto done;
    }
    if (k->pub.type == GP_KEY_ED25519)
        error = load_ed25519(k, &sb, &pubblob);
    else if (k->pub.type == GP_KEY_RSA)
        error = load_rsa(k, &sb, &pubblob);
    else
        error = load_ecdsa(k, &sb, &pubblob);
    if (error < 0) goto done;
    if (pubblob.len != k->pub.blob_len || memcmp(pubblob.ptr, k->pub.blob, pubblob.len) != 0) {
        error = gp_error_setf(GP_EINVALID, "%s: the private key does not belong to its public key", name_of(path));
        goto done;
    }
    if (gp_ssh_get_string(&sb, &comment, &comment_len) < 0 || comment_len > COMMENT_MAX) {
        error = gp_error_setf(GP_EINVALID, "%s: truncated private key (comment)", name_of(path));
        goto done;
    }
    for (size_t i = 0; i < sb.len; i++) {
        if (sb.p[i] != (unsigned char)(i + 1) || i >= 8) {
            error = gp_error_setf(GP_EINVALID, "%s: bad padding after the private key", name_of(path));
            goto done;
        }
    }
    if (!(k->comment = malloc(comment_len + 1))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    memcpy(k->comment, comment, comment_len);
    k->comment[comment_len] = '\0';
    *out = k;
    k = NULL;
done:
    gp_buf_free(&pubblob);
    gp_privkey_free(k);
    container_clear(&c);
    return error;
}

int gp_privkey_load(gp_privkey **out, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    int error;
    *out = NULL;
    if ((error = read_secret_file(&data, &len, path)) < 0) return error;
    error = gp_privkey_parse(out, data, len, path);
    sodium_free(data);
    return error;
}

int gp_privkey_file_pubkey(gp_pubkey *out, bool *encrypted, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    container c;
    int error;
    memset(out, 0, sizeof(*out));
    if ((error = read_secret_file(&data, &len, path)) < 0) return error;
    if ((error = container_open(&c, data, len, path)) < 0) goto done;
    *encrypted = c.encrypted;
    error = gp_pubkey_from_blob(out, c.pub, c.pub_len);
    container_clear(&c);
done:
    sodium_free(data);
    return error;
}
