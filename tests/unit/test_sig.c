/*
 * test_sig.c - raw receipt signatures (lib/sig.c).
 *
 * 1. The vectors: each receipt's signature value against its canonical bytes
 *    (canonical/NAME.canon) and the signer's github/LOGIN.keys: valid ones verify with the key the
 *    receipt claims, invalid_signature ones do not.
 * 2. Keys made here (libsodium, OpenSSL): every algorithm and curve, PSS salt lengths, keys that
 *    must not be used (RSA-1024, wrong type), forged and altered messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "sig.h"
#include "sshkey.h"
#include "util.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include("sshsig.h")
#include "sshsig.h"
#define GP_HAVE_SSHSIG 1
#endif
#endif

static const char *vectors(void)
{
    const char *v = getenv("GP_VECTORS");
    return v ? v : "tests/vectors/pytest-gpu-proof-v1";
}

static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    if (gp_read_file(&text, &n, path, 1 << 22) != 0)
        fail_msg("cannot read %s: %s", path, gp_error_last());
    if (len) *len = n;
    return text;
}

/* ---- the vectors ------------------------------------------------------------------------ */

static void test_vectors(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.json", vectors());
    json_error_t jerr;
    json_t *manifest = json_load_file(path, 0, &jerr);
    assert_non_null(manifest);
    size_t i, checked_valid = 0, checked_invalid = 0;
    json_t *v;
    json_array_foreach(json_object_get(manifest, "vectors"), i, v)
    {
        const char *file = json_string_value(json_object_get(v, "file"));
        const char *expect = json_string_value(json_object_get(v, "expect"));
        if (strcmp(expect, "valid") != 0 && strcmp(expect, "invalid_signature") != 0) continue;

        snprintf(path, sizeof(path), "%s/%s", vectors(), file);
        json_t *receipt = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        assert_non_null(receipt);
        json_t *sig = json_object_get(receipt, "signature");
        const char *alg = json_string_value(json_object_get(sig, "algorithm"));
        const char *signer = json_string_value(json_object_get(sig, "signer"));
        const char *value = json_string_value(json_object_get(sig, "value"));
        const char *claimed = json_string_value(json_object_get(sig, "key_fingerprint"));
        assert_non_null(alg);
        assert_non_null(signer);
        assert_non_null(value);

        const char *base = strrchr(file, '/') + 1;
        snprintf(path, sizeof(path), "%s/canonical/%.*s.canon", vectors(), (int)(strlen(base) - 5),
                 base);
        size_t msglen;
        char *msg = slurp(path, &msglen);
        snprintf(path, sizeof(path), "%s/github/%s.keys", vectors(), signer);
        size_t keyslen;
        char *keystext = slurp(path, &keyslen);
        gp_keylist *keys = NULL;
        assert_int_equal(gp_keylist_parse(&keys, keystext, keyslen), 0);
        unsigned char *raw = NULL;
        size_t rawlen = 0;
        assert_int_equal(gp_base64_decode(&raw, &rawlen, value, strlen(value)), 0);

        const gp_pubkey *used = (const gp_pubkey *)1;
        int rc = gp_sig_verify(&used, keys, alg, raw, rawlen, (unsigned char *)msg, msglen);
        if (strcmp(expect, "valid") == 0) {
            if (rc != 0) fail_msg("%s: %s", file, gp_error_last());
            assert_non_null(used);
            assert_string_equal(used->fingerprint, claimed);
            checked_valid++;
        } else {
            if (rc != GP_EBADSIG) fail_msg("%s: expected a bad signature, got %d", file, rc);
            assert_null(used);
            checked_invalid++;
        }
        free(raw);
        gp_keylist_free(keys);
        free(keystext);
        free(msg);
        json_decref(receipt);
    }
    assert_true(checked_valid >= 6);
    assert_true(checked_invalid >= 6);
    json_decref(manifest);
}

/* Every vector through gp_receipt_parse + gp_receipt_verify, the way the CLI and server call them.
 */
static void test_receipt_vectors(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.json", vectors());
    json_error_t jerr;
    json_t *manifest = json_load_file(path, 0, &jerr);
    assert_non_null(manifest);
    size_t i, counts[4] = {0};
    json_t *v;
    json_array_foreach(json_object_get(manifest, "vectors"), i, v)
    {
        const char *file = json_string_value(json_object_get(v, "file"));
        const char *expect = json_string_value(json_object_get(v, "expect"));
        size_t len;
        snprintf(path, sizeof(path), "%s/%s", vectors(), file);
        char *text = slurp(path, &len);
        gp_receipt *r = NULL;
        int rc = gp_receipt_parse(&r, text, len, 0);
        if (strcmp(expect, "bad_request") == 0) {
            if (rc != GP_EINVALID) fail_msg("%s: expected malformed, got %d", file, rc);
            assert_null(r);
            counts[3]++;
            free(text);
            continue;
        }
        if (rc != 0) fail_msg("%s: %s", file, gp_error_last());

        /* the signed bytes are the canonical file */
        const char *base = strrchr(file, '/') + 1;
        snprintf(path, sizeof(path), "%s/canonical/%.*s.canon", vectors(), (int)(strlen(base) - 5),
                 base);
        size_t canonlen;
        char *canon = slurp(path, &canonlen);
        assert_int_equal(r->signed_len, canonlen);
        assert_memory_equal(r->signed_bytes, canon, canonlen);

        gp_keylist *keys = NULL;
        char *keystext = NULL;
        if (r->signed_) {
            snprintf(path, sizeof(path), "%s/github/%s.keys", vectors(), r->sig_signer);
            size_t keyslen;
            keystext = slurp(path, &keyslen);
            assert_int_equal(gp_keylist_parse(&keys, keystext, keyslen), 0);
        } else {
            assert_int_equal(gp_keylist_parse(&keys, "", 0), 0);
        }
        const gp_pubkey *used = NULL;
        rc = gp_receipt_verify(&used, r, keys);
        if (strcmp(expect, "valid") == 0) {
            if (rc != 0) fail_msg("%s: %s", file, gp_error_last());
            assert_string_equal(used->fingerprint, r->sig_key_fingerprint);
            counts[0]++;
        } else if (strcmp(expect, "invalid_signature") == 0) {
            if (rc != GP_EBADSIG) fail_msg("%s: expected a bad signature, got %d", file, rc);
            assert_null(used);
            counts[1]++;
        } else {
            assert_string_equal(expect, "unsigned");
            assert_int_equal(rc, GP_EUNSIGNED);
            counts[2]++;
        }
        gp_keylist_free(keys);
        free(keystext);
        free(canon);
        gp_receipt_free(r);
        free(text);
    }
    assert_true(counts[0] >= 6 && counts[1] >= 6 && counts[2] >= 1 && counts[3] >= 5);
    json_decref(manifest);
}

/* ---- keys made here --------------------------------------------------------------------- */

static void put_string(gp_buf *b, const void *s, size_t n)
{
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    assert_int_equal(gp_buf_add(b, len, 4), 0);
    assert_int_equal(gp_buf_add(b, s, n), 0);
}

static void put_mpint(gp_buf *b, const BIGNUM *bn)
{
    unsigned char tmp[1 + 2048];
    int n = BN_bn2bin(bn, tmp + 1);
    assert_true(n > 0);
    tmp[0] = 0;
    if (tmp[1] & 0x80)
        put_string(b, tmp, (size_t)n + 1);
    else
        put_string(b, tmp + 1, (size_t)n);
}

typedef struct testkey {
    const char *alg; /* signature algorithm it makes */
    EVP_PKEY *pkey;  /* ECDSA / RSA private key */
    unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    gp_pubkey pub;
} testkey;

static void make_ed25519(testkey *t)
{
    memset(t, 0, sizeof(*t));
    t->alg = "ed25519";
    crypto_sign_keypair(t->pk, t->sk);
    gp_buf b = GP_BUF_INIT(0);
    put_string(&b, "ssh-ed25519", 11);
    put_string(&b, t->pk, sizeof(t->pk));
    assert_int_equal(gp_pubkey_from_blob(&t->pub, (unsigned char *)b.ptr, b.len), 0);
    gp_buf_free(&b);
}

static void make_ecdsa(testkey *t, const char *group, const char *curve)
{
    memset(t, 0, sizeof(*t));
    t->alg = "ecdsa-sha256";
    t->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
    assert_non_null(t->pkey);
    unsigned char point[256];
    size_t plen = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(t->pkey, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                     sizeof(point), &plen),
                     1);
    char type[64];
    snprintf(type, sizeof(type), "ecdsa-sha2-%s", curve);
    gp_buf b = GP_BUF_INIT(0);
    put_string(&b, type, strlen(type));
    put_string(&b, curve, strlen(curve));
    put_string(&b, point, plen);
    assert_int_equal(gp_pubkey_from_blob(&t->pub, (unsigned char *)b.ptr, b.len), 0);
    gp_buf_free(&b);
}

static void make_rsa(testkey *t, size_t bits)
{
    memset(t, 0, sizeof(*t));
    t->alg = "rsa-pss-sha256";
    t->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
    assert_non_null(t->pkey);
    BIGNUM *n = NULL, *e = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(t->pkey, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(t->pkey, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    gp_buf b = GP_BUF_INIT(0);
    put_string(&b, "ssh-rsa", 7);
    put_mpint(&b, e);
    put_mpint(&b, n);
    assert_int_equal(gp_pubkey_from_blob(&t->pub, (unsigned char *)b.ptr, b.len), 0);
    assert_int_equal(t->pub.rsa_bits, bits);
    gp_buf_free(&b);
    BN_free(n);
    BN_free(e);
}

static void free_testkey(testkey *t)
{
    EVP_PKEY_free(t->pkey);
    gp_pubkey_clear(&t->pub);
}

/* Signs msg; for RSA, pss_salt is the PSS salt length (or RSA_PSS_SALTLEN_*), or INT32_MIN for
 * PKCS#1 v1.5. md is the digest name ("SHA256" unless a test wants another). */
static size_t sign(unsigned char *sig, size_t cap, testkey *t, const char *md, int pss_salt,
                   const void *msg, size_t msglen)
{
    if (!t->pkey) {
        assert_true(cap >= crypto_sign_BYTES);
        crypto_sign_detached(sig, NULL, msg, msglen, t->sk);
        return crypto_sign_BYTES;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    size_t n = cap;
    assert_int_equal(EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, t->pkey, NULL), 1);
    if (EVP_PKEY_get_base_id(t->pkey) == EVP_PKEY_RSA && pss_salt != INT32_MIN) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt), 1);
    }
    assert_int_equal(EVP_DigestSign(ctx, sig, &n, msg, msglen), 1);
    EVP_MD_CTX_free(ctx);
    return n;
}

static gp_keylist *list_of(testkey **ks, size_t n)
{
    gp_keylist *l = calloc(1, sizeof(*l));
    l->keys = calloc(n, sizeof(*l->keys));
    l->n = n;
    for (size_t i = 0; i < n; i++)
        l->keys[i] = ks[i]->pub; /* borrowed: freed by free_list */
    return l;
}

static void free_list(gp_keylist *l)
{
    free(l->keys);
    free(l);
}

static const char MSG[] = "{\"schema_version\":\"1\",\"tests\":[]}";

static void test_generated(void **state)
{
    (void)state;
    testkey ed, p256, p384, p521, rsa2048, rsa3072, rsa1024;
    make_ed25519(&ed);
    make_ecdsa(&p256, "P-256", "nistp256");
    make_ecdsa(&p384, "P-384", "nistp384");
    make_ecdsa(&p521, "P-521", "nistp521");
    make_rsa(&rsa2048, 2048);
    make_rsa(&rsa3072, 3072);
    make_rsa(&rsa1024, 1024);
    testkey *all[] = {&rsa1024, &ed, &p256, &p384, &p521, &rsa2048, &rsa3072};
    gp_keylist *keys = list_of(all, sizeof(all) / sizeof(all[0]));

    static const int salts[] = {RSA_PSS_SALTLEN_MAX, RSA_PSS_SALTLEN_DIGEST, 0, 20, 100};
    testkey *signers[] = {&ed, &p256, &p384, &p521, &rsa2048, &rsa3072};
    for (size_t s = 0; s < sizeof(signers) / sizeof(signers[0]); s++) {
        testkey *t = signers[s];
        size_t nsalts = t->pub.type == GP_KEY_RSA ? sizeof(salts) / sizeof(salts[0]) : 1;
        for (size_t j = 0; j < nsalts; j++) {
            unsigned char sig[1024];
            size_t n = sign(sig, sizeof(sig), t, "SHA256", salts[j], MSG, strlen(MSG));
            const gp_pubkey *used = NULL;
            int rc =
                gp_sig_verify(&used, keys, t->alg, sig, n, (const unsigned char *)MSG, strlen(MSG));
            if (rc != 0) fail_msg("%s key %zu salt %d: %s", t->alg, s, salts[j], gp_error_last());
            assert_string_equal(used->fingerprint, t->pub.fingerprint);

            /* the message altered by one byte, the signature altered by one bit */
            char alt[sizeof(MSG)];
            memcpy(alt, MSG, sizeof(MSG));
            alt[5] ^= 1;
            assert_int_equal(
                gp_sig_verify(&used, keys, t->alg, sig, n, (unsigned char *)alt, strlen(alt)),
                GP_EBADSIG);
            assert_null(used);
            sig[n / 2] ^= 0x10;
            assert_int_equal(
                gp_sig_verify(&used, keys, t->alg, sig, n, (const unsigned char *)MSG, strlen(MSG)),
                GP_EBADSIG);
            sig[n / 2] ^= 0x10;
            /* truncated / extended signature */
            assert_int_equal(gp_sig_verify(&used, keys, t->alg, sig, n - 1,
                                           (const unsigned char *)MSG, strlen(MSG)),
                             GP_EBADSIG);
            sig[n] = 0;
            assert_int_equal(gp_sig_verify(&used, keys, t->alg, sig, n + 1,
                                           (const unsigned char *)MSG, strlen(MSG)),
                             GP_EBADSIG);
            /* the right bytes under another algorithm name: no key of that type verifies */
            const char *other = strcmp(t->alg, "ed25519") == 0 ? "ecdsa-sha256" : "ed25519";
            assert_int_equal(
                gp_sig_verify(&used, keys, other, sig, n, (const unsigned char *)MSG, strlen(MSG)),
                GP_EBADSIG);
        }
    }

    /* only keys of the signer count: the right signature, but the key is not in the list */
    {
        testkey *only[] = {&p384, &rsa2048};
        gp_keylist *few = list_of(only, 2);
        unsigned char sig[1024];
        size_t n = sign(sig, sizeof(sig), &p256, "SHA256", 0, MSG, strlen(MSG));
        const gp_pubkey *used = NULL;
        assert_int_equal(gp_sig_verify(&used, few, "ecdsa-sha256", sig, n,
                                       (const unsigned char *)MSG, strlen(MSG)),
                         GP_EBADSIG);
        n = sign(sig, sizeof(sig), &ed, "SHA256", 0, MSG, strlen(MSG));
        assert_int_equal(
            gp_sig_verify(&used, few, "ed25519", sig, n, (const unsigned char *)MSG, strlen(MSG)),
            GP_EBADSIG);
        assert_non_null(strstr(gp_error_last(), "no key usable"));
        free_list(few);
    }

    /* RSA keys under 2048 bits are never used */
    {
        unsigned char sig[1024];
        size_t n =
            sign(sig, sizeof(sig), &rsa1024, "SHA256", RSA_PSS_SALTLEN_MAX, MSG, strlen(MSG));
        const gp_pubkey *used = NULL;
        assert_int_equal(gp_sig_verify(&used, keys, "rsa-pss-sha256", sig, n,
                                       (const unsigned char *)MSG, strlen(MSG)),
                         GP_EBADSIG);
    }

    /* PKCS#1 v1.5 is not PSS; ECDSA over SHA-384 is not ecdsa-sha256 */
    {
        unsigned char sig[1024];
        const gp_pubkey *used = NULL;
        size_t n = sign(sig, sizeof(sig), &rsa2048, "SHA256", INT32_MIN, MSG, strlen(MSG));
        assert_int_equal(gp_sig_verify(&used, keys, "rsa-pss-sha256", sig, n,
                                       (const unsigned char *)MSG, strlen(MSG)),
                         GP_EBADSIG);
        n = sign(sig, sizeof(sig), &p384, "SHA384", 0, MSG, strlen(MSG));
        assert_int_equal(gp_sig_verify(&used, keys, "ecdsa-sha256", sig, n,
                                       (const unsigned char *)MSG, strlen(MSG)),
                         GP_EBADSIG);
        /* PSS with SHA-512 as the message digest */
        n = sign(sig, sizeof(sig), &rsa2048, "SHA512", RSA_PSS_SALTLEN_MAX, MSG, strlen(MSG));
        assert_int_equal(gp_sig_verify(&used, keys, "rsa-pss-sha256", sig, n,
                                       (const unsigned char *)MSG, strlen(MSG)),
                         GP_EBADSIG);
    }

    /* unknown algorithms, a malformed sshsig, empty signatures, empty key lists */
    {
        unsigned char sig[64] = {0};
        const gp_pubkey *used = NULL;
        assert_int_equal(
            gp_sig_verify(&used, keys, "ed448", sig, 64, (const unsigned char *)MSG, 3),
            GP_EUNSUPPORTED);
        assert_int_equal(gp_sig_verify(&used, keys, NULL, sig, 64, (const unsigned char *)MSG, 3),
                         GP_EUNSUPPORTED);
#ifdef GP_HAVE_SSHSIG
        assert_int_equal(
            gp_sig_verify(&used, keys, "sshsig", sig, 64, (const unsigned char *)MSG, 3),
            GP_EINVALID);
#else
        assert_int_equal(
            gp_sig_verify(&used, keys, "sshsig", sig, 64, (const unsigned char *)MSG, 3),
            GP_EUNSUPPORTED);
#endif
        assert_int_equal(
            gp_sig_verify(&used, keys, "ed25519", sig, 0, (const unsigned char *)MSG, 3),
            GP_EUNSIGNED);
        gp_keylist empty = {NULL, 0};
        assert_int_equal(
            gp_sig_verify(&used, &empty, "ed25519", sig, 64, (const unsigned char *)MSG, 3),
            GP_EBADSIG);
        assert_int_equal(
            gp_sig_verify(&used, NULL, "ed25519", sig, 64, (const unsigned char *)MSG, 3),
            GP_EBADSIG);
    }

    free_list(keys);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free_testkey(all[i]);
}

/* "sshsig" is handed to sshsig.c with the namespace "gpu-proof" and the same keys. */
static void test_sshsig_dispatch(void **state)
{
    (void)state;
#ifdef GP_HAVE_SSHSIG
    testkey ed, other;
    make_ed25519(&ed);
    make_ed25519(&other);
    testkey *both[] = {&other, &ed};
    gp_keylist *keys = list_of(both, 2);
    static const char *namespaces[] = {GP_SSHSIG_NAMESPACE, "git"};
    for (size_t i = 0; i < 2; i++) {
        unsigned char *data = NULL, *sshsig = NULL, *blob = NULL, raw[64];
        size_t datalen, sshsiglen, bloblen;
        assert_int_equal(gp_sshsig_signed_data(&data, &datalen, namespaces[i], "sha512",
                                               (const unsigned char *)MSG, strlen(MSG)),
                         0);
        crypto_sign_detached(raw, NULL, data, datalen, ed.sk);
        assert_int_equal(
            gp_sshsig_ssh_signature(&sshsig, &sshsiglen, "ssh-ed25519", raw, sizeof(raw)), 0);
        assert_int_equal(gp_sshsig_encode(&blob, &bloblen, ed.pub.blob, ed.pub.blob_len,
                                          namespaces[i], "sha512", sshsig, sshsiglen),
                         0);
        const gp_pubkey *used = NULL;
        int rc = gp_sig_verify(&used, keys, "sshsig", blob, bloblen, (const unsigned char *)MSG,
                               strlen(MSG));
        if (i == 0) {
            if (rc != 0) fail_msg("sshsig: %s", gp_error_last());
            assert_ptr_equal(used, &keys->keys[1]);
        } else {
            assert_int_equal(rc, GP_EBADSIG); /* another namespace */
        }
        free(blob);
        free(sshsig);
        free(data);
    }
    free_list(keys);
    free_testkey(&other);
    free_testkey(&ed);
#else
    skip();
#endif
}

/* A hand-built receipt struct: gp_receipt_verify uses only the signature fields. */
static void test_receipt_struct(void **state)
{
    (void)state;
    testkey ed;
    make_ed25519(&ed);
    testkey *one[] = {&ed};
    gp_keylist *keys = list_of(one, 1);
    unsigned char sig[64];
    sign(sig, sizeof(sig), &ed, "SHA256", 0, MSG, strlen(MSG));

    gp_receipt r;
    memset(&r, 0, sizeof(r));
    r.signed_bytes = (char *)MSG;
    r.signed_len = strlen(MSG);
    const gp_pubkey *used = NULL;
    assert_int_equal(gp_receipt_verify(&used, &r, keys), GP_EUNSIGNED);
    r.signed_ = true;
    r.sig_algorithm = "ed25519";
    r.sig_signer = "alice";
    r.sig_value = sig;
    r.sig_len = sizeof(sig);
    assert_int_equal(gp_receipt_verify(&used, &r, keys), 0);
    assert_ptr_equal(used, &keys->keys[0]);
    r.signed_len--;
    assert_int_equal(gp_receipt_verify(&used, &r, keys), GP_EBADSIG);
    assert_null(used);
    free_list(keys);
    free_testkey(&ed);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),        cmocka_unit_test(test_receipt_vectors),
        cmocka_unit_test(test_generated),      cmocka_unit_test(test_sshsig_dispatch),
        cmocka_unit_test(test_receipt_struct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
