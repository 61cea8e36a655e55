/*
 * test_sshpriv.c - OpenSSH private key files (lib/sshpriv.c) and raw signatures from them
 * (lib/rawsign.c).
 *
 * Keys are made here with `ssh-keygen -N ''` in a temporary directory for every type the plugin
 * signs with; each is loaded, its public half must equal the .pub file (and its fingerprint what
 * `ssh-keygen -l -E sha256` prints), and a signature made with gp_rawsign must verify with
 * gp_sig_verify against the .pub line, and fail for an altered message. Encrypted keys are refused
 * with the ssh-add advice but their public key is still readable; corrupted, foreign (PEM),
 * symlinked and oversized files are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_sh.h"

#include "buf.h"
#include "error.h"
#include "rawsign.h"
#include "sig.h"
#include "sshkey.h"
#include "sshpriv.h"
#include "util.h"

#include <fcntl.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    if (system("command -v ssh-keygen >/dev/null 2>&1") != 0) return -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/gp-sshpriv-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf '%s'", tmpdir);
    return 0;
}

/* noinline: inlined, gcc 12 -O3 takes the returned buffer for a pointer to the local `text`
 * (whose address gp_read_file() gets) and warns -Wdangling-pointer at every use */
__attribute__((noinline)) static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    if (gp_read_file(&text, &n, path, 1 << 20) != 0) fail_msg("cannot read %s: %s", path, gp_error_last());
    if (len) *len = n;
    return text;
}

static void keygen(const char *name, const char *type, int bits, const char *pass)
{
    char bitsarg[32] = "";
    if (bits) snprintf(bitsarg, sizeof(bitsarg), "-b %d", bits);
    assert_int_equal(sh("ssh-keygen -q -t %s %s -N '%s' -C 'test key' -f '%s/%s' </dev/null >/dev/null", type,
                        bitsarg, pass, tmpdir, name),
                     0);
}

static const struct {
    const char *name, *type;
    int bits;
    gp_keytype kt;
    const char *alg;
} keys[] = {
    {"ed", "ed25519", 0, GP_KEY_ED25519, "ed25519"},
    {"p256", "ecdsa", 256, GP_KEY_ECDSA_P256, "ecdsa-sha256"},
    {"p384", "ecdsa", 384, GP_KEY_ECDSA_P384, "ecdsa-sha256"},
    {"p521", "ecdsa", 521, GP_KEY_ECDSA_P521, "ecdsa-sha256"},
    {"rsa", "rsa", 3072, GP_KEY_RSA, "rsa-pss-sha256"},
};

static void test_sign_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char path[512], fp[128];
        keygen(keys[i].name, keys[i].type, keys[i].bits, "");
        snprintf(path, sizeof(path), "%s/%s", tmpdir, keys[i].name);

        gp_privkey *k = NULL;
        int rc = gp_privkey_load(&k, path);
        if (rc != 0) fail_msg("%s: %s", keys[i].name, gp_error_last());
        assert_int_equal(k->pub.type, keys[i].kt);
        assert_string_equal(k->comment, "test key");

        /* the public half is the .pub file's key, with ssh-keygen's fingerprint */
        char pubpath[600];
        snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
        size_t publen;
        char *pubtext = slurp(pubpath, &publen);
        gp_keylist *kl = NULL;
        assert_int_equal(gp_keylist_parse(&kl, pubtext, publen), 0);
        assert_int_equal(kl->n, 1);
        assert_true(gp_pubkey_equal(&kl->keys[0], &k->pub));
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f '%s' | awk '{print $2}'", pubpath);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        assert_non_null(fgets(fp, sizeof(fp), p));
        pclose(p);
        fp[strcspn(fp, "\n")] = '\0';
        assert_string_equal(fp, k->pub.fingerprint);

        /* sign, verify against the .pub line; altered message or signature fails */
        const char *msg = "{\"schema_version\":\"1\",\"x\":\"\\u00fc\"}";
        gp_rawsigner s = {.key = k};
        unsigned char *sig = NULL;
        size_t siglen = 0;
        const char *alg = NULL;
        rc = gp_rawsign(&sig, &siglen, &alg, &s, (const unsigned char *)msg, strlen(msg));
        if (rc != 0) fail_msg("%s: %s", keys[i].name, gp_error_last());
        assert_string_equal(alg, keys[i].alg);
        const gp_pubkey *used = NULL;
        rc = gp_sig_verify(&used, kl, alg, sig, siglen, (const unsigned char *)msg, strlen(msg));
        if (rc != 0) fail_msg("%s: verify: %s", keys[i].name, gp_error_last());
        assert_ptr_equal(used, &kl->keys[0]);
        assert_int_equal(gp_sig_verify(&used, kl, alg, sig, siglen, (const unsigned char *)msg, strlen(msg) - 1),
                         GP_EBADSIG);
        sig[siglen / 2] ^= 1;
        assert_int_not_equal(gp_sig_verify(&used, kl, alg, sig, siglen, (const unsigned char *)msg, strlen(msg)), 0);
        free(sig);

        /* the public key read without the secret agrees */
        gp_pubkey pk;
        bool enc = true;
        assert_int_equal(gp_privkey_file_pubkey(&pk, &enc, path), 0);
        assert_false(enc);
        assert_true(gp_pubkey_equal(&pk, &k->pub));
        gp_pubkey_clear(&pk);

        gp_keylist_free(kl);
        free(pubtext);
        gp_privkey_free(k);
    }
}

/* The RSA-PSS salt is the maximum: a verifier that insists on it (openssl pkeyutl) accepts. */
static void test_rsa_pss_max_salt(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/rsa2", tmpdir);
    keygen("rsa2", "rsa", 2048, "");
    gp_privkey *k = NULL;
    assert_int_equal(gp_privkey_load(&k, path), 0);
    const char *msg = "hello";
    gp_rawsigner s = {.key = k};
    unsigned char *sig = NULL;
    size_t siglen = 0;
    const char *alg;
    assert_int_equal(gp_rawsign(&sig, &siglen, &alg, &s, (const unsigned char *)msg, 5), 0);
    assert_int_equal(siglen, 256);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, k->pub.pkey), 1);
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 256 - 32 - 2); /* emLen - hLen - 2 exactly */
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg, 5), 1);
    EVP_MD_CTX_free(md);
    free(sig);
    gp_privkey_free(k);
}

static void test_encrypted(void **state)
{
    (void)state;
    char path[512];
    keygen("enc", "ed25519", 0, "correct horse");
    snprintf(path, sizeof(path), "%s/enc", tmpdir);
    gp_privkey *k = NULL;
    assert_int_equal(gp_privkey_load(&k, path), GP_EUNSUPPORTED);
    assert_null(k);
    assert_non_null(strstr(gp_error_last(), "passphrase-protected"));
    assert_non_null(strstr(gp_error_last(), "ssh-add"));
    assert_non_null(strstr(gp_error_last(), path));

    gp_pubkey pk;
    bool enc = false;
    assert_int_equal(gp_privkey_file_pubkey(&pk, &enc, path), 0);
    assert_true(enc);
    char pubpath[600];
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    size_t n;
    char *text = slurp(pubpath, &n);
    gp_keylist *kl = NULL;
    assert_int_equal(gp_keylist_parse(&kl, text, n), 0);
    assert_true(gp_pubkey_equal(&pk, &kl->keys[0]));
    gp_keylist_free(kl);
    free(text);
    gp_pubkey_clear(&pk);
}

/* Re-armours a modified openssh-key-v1 body. */
static char *armour(const unsigned char *raw, size_t n)
{
    char *b64 = NULL;
    assert_int_equal(gp_base64_encode(&b64, raw, n), 0);
    size_t m = strlen(b64) + 200;
    char *out = malloc(m);
    snprintf(out, m, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE KEY-----\n", b64);
    free(b64);
    return out;
}

static void test_malformed(void **state)
{
    (void)state;
    char path[512];
    keygen("m", "ed25519", 0, "");
    snprintf(path, sizeof(path), "%s/m", tmpdir);
    size_t n;
    char *text = slurp(path, &n);
    gp_privkey *k = NULL;
    assert_int_equal(gp_privkey_parse(&k, text, n, "m"), 0);
    gp_privkey_free(k);

    /* decode the body, then corrupt one thing at a time */
    char *b = strstr(text, "KEY-----") + 8, *e = strstr(b, "-----END");
    unsigned char raw[4096];
    size_t rawlen;
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), b, (size_t)(e - b), "\r\n", &rawlen, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    /* offsets: magic 15, cipher (4+4), kdf (4+4), kdfopts (4+0), nkeys 4, pub (4+51), priv len 4 */
    size_t priv = 15 + 8 + 8 + 4 + 4 + 4 + 51 + 4;
    const struct {
        size_t off;
        const char *why;
    } cases[] = {
        {0, "magic"},          {15 + 8 + 8 + 4 + 3, "nkeys"}, {priv + 1, "checkint"},
        {priv + 8 + 4 + 11 + 4 + 5, "pk"}, {priv + 8 + 4 + 11 + 4 + 32 + 4 + 3, "seed"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        raw[cases[i].off] ^= 0x40;
        char *bad = armour(raw, rawlen);
        int rc = gp_privkey_parse(&k, bad, strlen(bad), "bad");
        if (rc == 0) fail_msg("corrupted %s accepted", cases[i].why);
        assert_null(k);
        free(bad);
        raw[cases[i].off] ^= 0x40;
    }
    /* truncation anywhere */
    for (size_t cut = 0; cut < rawlen; cut += 7) {
        char *bad = armour(raw, cut);
        assert_int_not_equal(gp_privkey_parse(&k, bad, strlen(bad), "bad"), 0);
        free(bad);
    }
    /* not base64, no armour, PEM */
    const char *nob64 = "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n-----END OPENSSH PRIVATE KEY-----\n";
    assert_int_equal(gp_privkey_parse(&k, nob64, strlen(nob64), "x"), GP_EINVALID);
    assert_int_equal(gp_privkey_parse(&k, "hello", 5, "x"), GP_EINVALID);
    const char *pem = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert_int_equal(gp_privkey_parse(&k, pem, strlen(pem), "x"), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "ssh-keygen -p"));
    free(text);
}

/* Random byte changes of real key bodies: never a crash (ASan), and whatever still loads is a
 * consistent key pair (a signature made with it verifies with its public half). */
static void test_mutations(void **state)
{
    (void)state;
    static const char *names[] = {"mut-ed", "mut-p256", "mut-rsa"};
    static const char *types[] = {"ed25519", "ecdsa", "rsa"};
    static const int bits[] = {0, 256, 2048};
    unsigned seed = 12345;
    for (size_t t = 0; t < 3; t++) {
        char path[512];
        keygen(names[t], types[t], bits[t], "");
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[t]);
        size_t n;
        char *text = slurp(path, &n);
        char *b = strstr(text, "KEY-----") + 8, *e = strstr(b, "-----END");
        unsigned char raw[8192], mut[8192];
        size_t rawlen;
        assert_int_equal(sodium_base642bin(raw, sizeof(raw), b, (size_t)(e - b), "\r\n", &rawlen, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        size_t loaded = 0;
        for (int i = 0; i < 400; i++) {
            memcpy(mut, raw, rawlen);
            int changes = 1 + (int)(rand_r(&seed) % 3);
            for (int c = 0; c < changes; c++) mut[rand_r(&seed) % rawlen] = (unsigned char)rand_r(&seed);
            char *bad = armour(mut, rawlen);
            gp_privkey *k = NULL;
            if (gp_privkey_parse(&k, bad, strlen(bad), "mutated") == 0) {
                gp_keylist one = {&k->pub, 1};
                gp_rawsigner s = {.key = k};
                unsigned char *sig = NULL;
                size_t siglen;
                const char *alg;
                const gp_pubkey *used;
                loaded++;
                assert_int_equal(gp_rawsign(&sig, &siglen, &alg, &s, (const unsigned char *)"m", 1), 0);
                assert_int_equal(gp_sig_verify(&used, &one, alg, sig, siglen, (const unsigned char *)"m", 1), 0);
                free(sig);
                gp_privkey_free(k);
            }
            free(bad);
        }
        /* changes in the comment or the padding region may still load; most must not */
        assert_true(loaded < 200);
        free(text);
    }
}

static void test_file_rules(void **state)
{
    (void)state;
    char path[512], link[512], big[512];
    gp_privkey *k = NULL;
    snprintf(path, sizeof(path), "%s/ed", tmpdir); /* made by test_sign_verify or here */
    if (access(path, F_OK) != 0) keygen("ed", "ed25519", 0, "");
    snprintf(link, sizeof(link), "%s/link", tmpdir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(gp_privkey_load(&k, link), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "symbolic link"));
    snprintf(big, sizeof(big), "%s/big", tmpdir);
    FILE *f = fopen(big, "w");
    for (int i = 0; i < 70000; i++) fputc('A', f);
    fclose(f);
    assert_int_equal(gp_privkey_load(&k, big), GP_ETOOBIG);
    snprintf(big, sizeof(big), "%s/missing", tmpdir);
    assert_int_equal(gp_privkey_load(&k, big), GP_ENOTFOUND);
    gp_privkey_free(NULL);
}

int main(void)
{
    if (system("command -v ssh-keygen >/dev/null 2>&1") != 0) {
        fprintf(stderr, "ssh-keygen not installed: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify), cmocka_unit_test(test_rsa_pss_max_salt),
        cmocka_unit_test(test_encrypted),   cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_mutations),   cmocka_unit_test(test_file_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
