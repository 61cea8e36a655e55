/*
 * test_sshsig.c - SSHSIG parsing, verification, encoding and armor (lib/sshsig.c).
 *
 * Interop both ways with the system's ssh-keygen:
 *   - committed fixtures (tests/data/sshsig/, made by its make.sh) and fresh keys made and signed
 *     with `ssh-keygen -Y sign -n gpu-proof` at test time verify here, for every key type
 *     ssh-keygen can make (ed25519, ecdsa 256/384/521, rsa 2048/3072);
 *   - signatures made here (libsodium / OpenSSL + gp_sshsig_encode + gp_sshsig_armor) are
 *     accepted by `ssh-keygen -Y verify` with an allowed-signers file.
 * The FIDO types are built in the test from PROTOCOL.u2f, with libsodium and OpenSSL standing in
 * for the authenticator. Forgeries (wrong namespace, key, message, flags, any flipped byte) fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_sh.h"

#include "buf.h"
#include "error.h"
#include "agent.h"
#include "sshkey.h"
#include "sshpriv.h"
#include "sshsig.h"
#include "util.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/core_names.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const fixture_keys[] = {"ed25519",  "ecdsa256", "ecdsa384",
                                           "ecdsa521", "rsa2048",  "rsa3072"};
#define NFIXTURES (sizeof(fixture_keys) / sizeof(fixture_keys[0]))

/* ---- helpers ------------------------------------------------------------------------------ */

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...)
{
    va_list ap;
    char *p = NULL;
    va_start(ap, fmt);
    assert_true(vasprintf(&p, fmt, ap) > 0);
    va_end(ap);
    return p;
}

static const char *srcdir(void)
{
    const char *s = getenv("GP_SOURCE_DIR");
    return s && *s ? s : "..";
}

static char *data_path(const char *name)
{
    return path_of("%s/tests/data/sshsig/%s", srcdir(), name);
}

__attribute__((noinline)) static char *slurp(const char *path, size_t *len)
{
    char *p = NULL;
    size_t n = 0;
    int rc = gp_read_file(&p, &n, path, 1 << 20);
    if (rc != 0) fail_msg("cannot read %s: %s", path, gp_error_last());
    if (len) *len = n;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static bool have_ssh_keygen(void)
{
    return sh("command -v ssh-keygen >/dev/null 2>&1") == 0;
}

static char *make_tmpdir(void)
{
    char *d = strdup("/tmp/gp-sshsig-XXXXXX");
    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_tmpdir(char *d)
{
    if (d && strncmp(d, "/tmp/gp-sshsig-", 15) == 0) sh("rm -rf '%s'", d);
    free(d);
}

static gp_keylist *keys_from_text(const char *text)
{
    gp_keylist *l = NULL;
    assert_int_equal(gp_keylist_parse(&l, text, strlen(text)), 0);
    return l;
}

static gp_keylist *keys_from_file(const char *path)
{
    char *t = slurp(path, NULL);
    gp_keylist *l = keys_from_text(t);
    free(t);
    return l;
}

/* Every fixture public key in one list, the way a signer publishes several keys. */
static gp_keylist *all_fixture_keys(void)
{
    gp_buf b = GP_BUF_INIT(0);
    gp_keylist *l;
    for (size_t i = 0; i < NFIXTURES; i++) {
        char *p = path_of("%s/tests/data/sshsig/%s.pub", srcdir(), fixture_keys[i]);
        char *t = slurp(p, NULL);
        assert_int_equal(gp_buf_puts(&b, t), 0);
        free(t);
        free(p);
    }
    l = keys_from_text(b.ptr);
    gp_buf_free(&b);
    assert_int_equal(l->n, NFIXTURES);
    return l;
}

static unsigned char *dearmor_file(const char *path, size_t *len)
{
    size_t tlen;
    char *t = slurp(path, &tlen);
    unsigned char *blob = NULL;
    int rc = gp_sshsig_dearmor(&blob, len, t, tlen);
    if (rc != 0) fail_msg("dearmor %s: %s", path, gp_error_last());
    free(t);
    return blob;
}

/* SSH wire writers for building blobs by hand, independent of the library's encoder. */
static void w_u32(gp_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    assert_int_equal(gp_buf_add(b, p, 4), 0);
}

static void w_str(gp_buf *b, const void *p, size_t n)
{
    w_u32(b, (uint32_t)n);
    if (n) assert_int_equal(gp_buf_add(b, p, n), 0);
}

static void w_cstr(gp_buf *b, const char *s)
{
    w_str(b, s, strlen(s));
}

/* An SSHSIG blob with every field chosen by the caller. */
static void build_blob(gp_buf *b, const char *magic, uint32_t version, const void *pk, size_t pklen,
                       const char *ns, const char *reserved, const char *hash, const void *sig,
                       size_t siglen)
{
    assert_int_equal(gp_buf_add(b, magic, strlen(magic)), 0);
    w_u32(b, version);
    w_str(b, pk, pklen);
    w_cstr(b, ns);
    w_cstr(b, reserved);
    w_cstr(b, hash);
    w_str(b, sig, siglen);
}

/* ---- ssh-keygen's signatures verify here ---------------------------------------------------- */

static void test_fixtures_verify(void **state)
{
    size_t msglen;
    char *msgpath = data_path("message.canon");
    char *msg = slurp(msgpath, &msglen);
    gp_keylist *all = all_fixture_keys();

    for (size_t i = 0; i < NFIXTURES; i++) {
        for (int h = 0; h < 2; h++) {
            char *sigpath = path_of("%s/tests/data/sshsig/%s%s.sig", srcdir(), fixture_keys[i],
                                    h ? ".sha256" : "");
            char *pubpath = path_of("%s/tests/data/sshsig/%s.pub", srcdir(), fixture_keys[i]);
            gp_keylist *own = keys_from_file(pubpath);
            const gp_pubkey *used = NULL;
            gp_sshsig *s = NULL;
            size_t len;
            unsigned char *blob = dearmor_file(sigpath, &len);
            int rc = gp_sshsig_verify(&used, blob, len, GP_SSHSIG_NAMESPACE, (unsigned char *)msg,
                                      msglen, all);
            if (rc != 0) fail_msg("%s: %d %s", sigpath, rc, gp_error_last());
            assert_non_null(used);
            assert_string_equal(used->fingerprint, own->keys[0].fingerprint);

            assert_int_equal(gp_sshsig_parse(&s, blob, len), 0);
            assert_string_equal(s->ns, "gpu-proof");
            assert_string_equal(s->hash_alg, h ? "sha256" : "sha512");
            assert_string_equal(s->key.fingerprint, own->keys[0].fingerprint);
            assert_false(s->sk);
            if (own->keys[0].type == GP_KEY_RSA)
                assert_string_equal(s->sig_type, "rsa-sha2-512");
            else
                assert_string_equal(s->sig_type, gp_keytype_name(own->keys[0].type));

            /* Only its own key verifies it; the others are not the signer's. */
            used = NULL;
            assert_int_equal(gp_sshsig_verify(&used, blob, len, GP_SSHSIG_NAMESPACE,
                                              (unsigned char *)msg, msglen, own),
                             0);
            assert_ptr_equal(used, &own->keys[0]);

            gp_sshsig_free(s);
            free(blob);
            gp_keylist_free(own);
            free(sigpath);
            free(pubpath);
        }
    }
    gp_keylist_free(all);
    free(msg);
    free(msgpath);
}

static void test_fixture_refusals(void **state)
{
    size_t msglen, len, glen;
    char *msgpath = data_path("message.canon"), *sigpath = data_path("ed25519.sig");
    char *gitpath = data_path("ed25519.git.sig");
    char *msg = slurp(msgpath, &msglen);
    unsigned char *blob = dearmor_file(sigpath, &len), *git = dearmor_file(gitpath, &glen);
    gp_keylist *all = all_fixture_keys(), *others, none = {NULL, 0};
    const gp_pubkey *used = (const gp_pubkey *)1;

    /* a signature for git's namespace is not a gpu-proof signature */
    assert_int_equal(
        gp_sshsig_verify(&used, git, glen, GP_SSHSIG_NAMESPACE, (unsigned char *)msg, msglen, all),
        GP_EBADSIG);
    assert_null(used);
    assert_non_null(strstr(gp_error_last(), "namespace"));
    /* and the right one asked for another namespace */
    assert_int_equal(gp_sshsig_verify(NULL, blob, len, "git", (unsigned char *)msg, msglen, all),
                     GP_EBADSIG);
    /* a tampered message */
    msg[msglen / 2] ^= 1;
    assert_int_equal(
        gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE, (unsigned char *)msg, msglen, all),
        GP_EBADSIG);
    msg[msglen / 2] ^= 1;
    assert_int_equal(gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE, (unsigned char *)msg,
                                      msglen - 1, all),
                     GP_EBADSIG);
    /* a key the signer does not publish */
    others = all_fixture_keys();
    gp_pubkey_clear(&others->keys[0]); /* ed25519 is first */
    others->keys[0] = others->keys[--others->n];
    memset(&others->keys[others->n], 0, sizeof(others->keys[0]));
    assert_int_equal(gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE, (unsigned char *)msg,
                                      msglen, others),
                     GP_EBADSIG);
    assert_non_null(strstr(gp_error_last(), "not one the signer publishes"));
    assert_int_equal(
        gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE, (unsigned char *)msg, msglen, &none),
        GP_EBADSIG);
    assert_int_equal(
        gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE, (unsigned char *)msg, msglen, NULL),
        GP_EBADSIG);
    /* and the untampered one still verifies */
    assert_int_equal(
        gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE, (unsigned char *)msg, msglen, all),
        0);

    gp_keylist_free(others);
    gp_keylist_free(all);
    free(blob);
    free(git);
    free(msg);
    free(msgpath);
    free(sigpath);
    free(gitpath);
}

static void test_armor_roundtrip(void **state)
{
    for (size_t i = 0; i < NFIXTURES; i++) {
        char *sigpath = path_of("%s/tests/data/sshsig/%s.sig", srcdir(), fixture_keys[i]);
        size_t tlen, len, len2;
        char *text = slurp(sigpath, &tlen), *armored = NULL;
        unsigned char *blob = dearmor_file(sigpath, &len), *blob2 = NULL;
        gp_buf crlf = GP_BUF_INIT(0);

        /* byte for byte what ssh-keygen wrote */
        assert_int_equal(gp_sshsig_armor(&armored, blob, len), 0);
        assert_string_equal(armored, text);
        /* CRLF line ends and surrounding whitespace are accepted */
        assert_int_equal(gp_buf_puts(&crlf, "\n  "), 0);
        for (const char *p = text; *p; p++) {
            if (*p == '\n') assert_int_equal(gp_buf_putc(&crlf, '\r'), 0);
            assert_int_equal(gp_buf_putc(&crlf, *p), 0);
        }
        assert_int_equal(gp_sshsig_dearmor(&blob2, &len2, crlf.ptr, crlf.len), 0);
        assert_int_equal(len2, len);
        assert_memory_equal(blob2, blob, len);

        free(blob2);
        gp_buf_free(&crlf);
        free(armored);
        free(blob);
        free(text);
        free(sigpath);
    }
}

static void test_dearmor_refusals(void **state)
{
    static const char *const bad[] = {
        "",
        "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
        "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n",
        "U1NIU0lH\n-----END SSH SIGNATURE-----\n",
        "-----BEGIN SSH SIGNATURE-----\nU1NIU0l*\n-----END SSH SIGNATURE-----\n",
        "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH=\n-----END SSH SIGNATURE-----\n",
        "-----BEGIN SSH SIGNATURE-----\nU1NI U0lH\n-----END SSH SIGNATURE-----\n",
        "-----BEGIN SSH SIGNATURE-----U1NIU0lH\n-----END SSH SIGNATURE-----\n",
        "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH-----END SSH SIGNATURE-----\n",
        "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\ntrailing\n",
        "-----BEGIN PGP SIGNATURE-----\nU1NIU0lH\n-----END PGP SIGNATURE-----\n",
    };
    unsigned char *blob = (unsigned char *)"x";
    size_t len = 7;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = gp_sshsig_dearmor(&blob, &len, bad[i], strlen(bad[i]));
        if (rc != GP_EINVALID) fail_msg("case %zu: %d", i, rc);
        assert_null(blob);
        assert_int_equal(len, 0);
    }
    /* the one good case among them */
    const char *good = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----";
    assert_int_equal(gp_sshsig_dearmor(&blob, &len, good, strlen(good)), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(blob, "SSHSIG", 6);
    free(blob);

    /* over the limit */
    {
        gp_buf t = GP_BUF_INIT(0);
        assert_int_equal(gp_buf_puts(&t, "-----BEGIN SSH SIGNATURE-----\n"), 0);
        for (int i = 0; i < (GP_SSHSIG_MAX_BLOB / 3 + 2); i++)
            assert_int_equal(gp_buf_puts(&t, "AAAA"), 0);
        assert_int_equal(gp_buf_puts(&t, "\n-----END SSH SIGNATURE-----\n"), 0);
        assert_int_equal(gp_sshsig_dearmor(&blob, &len, t.ptr, t.len), GP_ETOOBIG);
        gp_buf_free(&t);
    }
}

/* ---- malformed blobs ---------------------------------------------------------------------- */

static void test_malformed(void **state)
{
    size_t msglen, len;
    char *msgpath = data_path("message.canon"), *sigpath = data_path("ed25519.sig");
    char *msg = slurp(msgpath, &msglen);
    unsigned char *blob = dearmor_file(sigpath, &len);
    gp_keylist *all = all_fixture_keys();
    gp_sshsig *s = NULL;
    gp_buf b = GP_BUF_INIT(0);
    const unsigned char *m = (const unsigned char *)msg;

    assert_int_equal(gp_sshsig_parse(&s, blob, len), 0);

    /* empty: unsigned */
    assert_int_equal(gp_sshsig_verify(NULL, blob, 0, GP_SSHSIG_NAMESPACE, m, msglen, all),
                     GP_EUNSIGNED);
    assert_int_equal(gp_sshsig_verify(NULL, NULL, 0, GP_SSHSIG_NAMESPACE, m, msglen, all),
                     GP_EUNSIGNED);

    /* every truncation is malformed, never a crash */
    for (size_t n = 1; n < len; n++) {
        gp_sshsig *t = (gp_sshsig *)1;
        assert_int_equal(gp_sshsig_verify(NULL, blob, n, GP_SSHSIG_NAMESPACE, m, msglen, all),
                         GP_EINVALID);
        assert_int_equal(gp_sshsig_parse(&t, blob, n), GP_EINVALID);
        assert_null(t);
    }

    /* rebuilt field by field: the control case verifies, each change is refused */
#define BUILD(magic, version, ns, reserved, hash, sig, siglen)                                     \
    do {                                                                                           \
        gp_buf_reset(&b);                                                                          \
        build_blob(&b, magic, version, s->pubkey_blob, s->pubkey_len, ns, reserved, hash, sig,     \
                   siglen);                                                                        \
    } while (0)
#define VERIFY()                                                                                   \
    gp_sshsig_verify(NULL, (unsigned char *)b.ptr, b.len, GP_SSHSIG_NAMESPACE, m, msglen, all)

    BUILD("SSHSIG", 1, "gpu-proof", "", "sha512", s->signature, s->signature_len);
    assert_int_equal(b.len, len);
    assert_int_equal(VERIFY(), 0);
    BUILD("SSHSIh", 1, "gpu-proof", "", "sha512", s->signature, s->signature_len);
    assert_int_equal(VERIFY(), GP_EINVALID);
    BUILD("SSHSIG", 2, "gpu-proof", "", "sha512", s->signature, s->signature_len);
    assert_int_equal(VERIFY(), GP_EINVALID);
    BUILD("SSHSIG", 1, "gpu-proof", "x", "sha512", s->signature, s->signature_len);
    assert_int_equal(VERIFY(), GP_EINVALID);
    BUILD("SSHSIG", 1, "gpu-proof", "", "sha1", s->signature, s->signature_len);
    assert_int_equal(VERIFY(), GP_EINVALID);
    BUILD("SSHSIG", 1, "gpu-proof", "", "SHA512", s->signature, s->signature_len);
    assert_int_equal(VERIFY(), GP_EINVALID);
    BUILD("SSHSIG", 1, "", "", "sha512", s->signature, s->signature_len);
    assert_int_equal(VERIFY(), GP_EINVALID);
    /* the signature says sha256 but was made over a sha512 hash */
    BUILD("SSHSIG", 1, "gpu-proof", "", "sha256", s->signature, s->signature_len);
    assert_int_equal(VERIFY(), GP_EBADSIG);
    /* trailing bytes after the blob and inside the signature */
    BUILD("SSHSIG", 1, "gpu-proof", "", "sha512", s->signature, s->signature_len);
    assert_int_equal(gp_buf_putc(&b, 0), 0);
    assert_int_equal(VERIFY(), GP_EINVALID);
    {
        gp_buf sig = GP_BUF_INIT(0);
        assert_int_equal(gp_buf_add(&sig, s->signature, s->signature_len), 0);
        assert_int_equal(gp_buf_putc(&sig, 0), 0);
        BUILD("SSHSIG", 1, "gpu-proof", "", "sha512", sig.ptr, sig.len);
        assert_int_equal(VERIFY(), GP_EINVALID);
        /* a signature of another type than the key */
        gp_buf_reset(&sig);
        w_cstr(&sig, "ecdsa-sha2-nistp256");
        w_str(&sig, s->sig_blob, s->sig_blob_len);
        BUILD("SSHSIG", 1, "gpu-proof", "", "sha512", sig.ptr, sig.len);
        assert_int_equal(VERIFY(), GP_EBADSIG);
        /* a 63-byte Ed25519 signature */
        gp_buf_reset(&sig);
        w_cstr(&sig, "ssh-ed25519");
        w_str(&sig, s->sig_blob, s->sig_blob_len - 1);
        BUILD("SSHSIG", 1, "gpu-proof", "", "sha512", sig.ptr, sig.len);
        assert_int_equal(VERIFY(), GP_EBADSIG);
        gp_buf_free(&sig);
    }
    /* over the size limit */
    {
        unsigned char *big = calloc(1, GP_SSHSIG_MAX_BLOB + 1);
        assert_non_null(big);
        memcpy(big, blob, len);
        assert_int_equal(gp_sshsig_verify(NULL, big, GP_SSHSIG_MAX_BLOB + 1, GP_SSHSIG_NAMESPACE, m,
                                          msglen, all),
                         GP_ETOOBIG);
        free(big);
    }
#undef BUILD
#undef VERIFY
    gp_buf_free(&b);
    gp_sshsig_free(s);
    gp_keylist_free(all);
    free(blob);
    free(msg);
    free(msgpath);
    free(sigpath);
}

/* Any single changed byte of a valid blob makes it fail (a forged input must fail). */
static void test_every_byte_flip_fails(void **state)
{
    static const char *const names[] = {"ed25519.sig", "ecdsa256.sig", "ecdsa521.sha256.sig",
                                        "rsa2048.sig"};
    size_t msglen;
    char *msgpath = data_path("message.canon");
    char *msg = slurp(msgpath, &msglen);
    gp_keylist *all = all_fixture_keys();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *sigpath = data_path(names[i]);
        size_t len;
        unsigned char *blob = dearmor_file(sigpath, &len);
        for (size_t j = 0; j < len; j++) {
            for (unsigned x = 0x01; x <= 0x80; x <<= 7) {
                blob[j] ^= (unsigned char)x;
                int rc = gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE,
                                          (unsigned char *)msg, msglen, all);
                if (rc == 0) fail_msg("%s: byte %zu ^ 0x%02x still verifies", names[i], j, x);
                assert_true(rc == GP_EINVALID || rc == GP_EBADSIG);
                blob[j] ^= (unsigned char)x;
            }
        }
        assert_int_equal(gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE,
                                          (unsigned char *)msg, msglen, all),
                         0);
        free(blob);
        free(sigpath);
    }
    gp_keylist_free(all);
    free(msg);
    free(msgpath);
}

/* ---- fresh keys from ssh-keygen ------------------------------------------------------------- */

static void test_fresh_ssh_keygen(void **state)
{
    static const struct {
        const char *type;
        int bits;
        int expect;
    } cases[] = {
        {"ed25519", 0, 0}, {"ecdsa", 256, 0}, {"ecdsa", 384, 0},         {"ecdsa", 521, 0},
        {"rsa", 2048, 0},  {"rsa", 3072, 0},  {"rsa", 1024, GP_EBADSIG}, /* too weak for us */
    };
    char *dir, *msgpath, *fp_expect;
    unsigned char msg[300];

    if (!have_ssh_keygen()) skip();
    dir = make_tmpdir();
    randombytes_buf(msg, sizeof(msg));
    msgpath = path_of("%s/msg", dir);
    spit(msgpath, msg, sizeof(msg));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *key = path_of("%s/k%zu", dir, i), *pub = path_of("%s/k%zu.pub", dir, i);
        char *sig = path_of("%s/msg.sig", dir), *fpfile = path_of("%s/fp", dir);
        gp_keylist *keys;
        const gp_pubkey *used = NULL;
        size_t len;
        unsigned char *blob;
        int rc;

        if (sh("ssh-keygen -q -t %s %s%.0d -N '' -C fresh -f '%s' </dev/null >/dev/null 2>&1",
               cases[i].type, cases[i].bits ? "-b " : "", cases[i].bits, key) != 0) {
            if (cases[i].bits == 1024) goto next; /* a build that refuses 1024-bit RSA outright */
            fail_msg("ssh-keygen could not make a %s key", cases[i].type);
        }
        unlink(sig);
        assert_int_equal(
            sh("ssh-keygen -q -Y sign -n gpu-proof -f '%s' '%s' >/dev/null 2>&1", key, msgpath), 0);
        assert_int_equal(
            sh("ssh-keygen -l -E sha256 -f '%s' | cut -d' ' -f2 | tr -d '\\n' > '%s'", pub, fpfile),
            0);
        fp_expect = slurp(fpfile, NULL);
        keys = keys_from_file(pub);
        blob = dearmor_file(sig, &len);
        rc = gp_sshsig_verify(&used, blob, len, GP_SSHSIG_NAMESPACE, msg, sizeof(msg), keys);
        if (rc != cases[i].expect)
            fail_msg("%s %d: %d (%s)", cases[i].type, cases[i].bits, rc, gp_error_last());
        if (rc == 0)
            assert_string_equal(used->fingerprint, fp_expect);
        else
            assert_non_null(strstr(gp_error_last(), "below the minimum"));
        /* the same signature over other bytes fails */
        msg[0] ^= 0xff;
        assert_int_equal(
            gp_sshsig_verify(NULL, blob, len, GP_SSHSIG_NAMESPACE, msg, sizeof(msg), keys),
            GP_EBADSIG);
        msg[0] ^= 0xff;
        free(blob);
        gp_keylist_free(keys);
        free(fp_expect);
    next:
        free(key);
        free(pub);
        free(sig);
        free(fpfile);
    }
    free(msgpath);
    rm_tmpdir(dir);
}

/* ---- our encoder, checked by ssh-keygen -Y verify ------------------------------------------ */

/* Writes blob armored to dir/sig and checks ssh-keygen -Y verify as "alice" with `line`. */
static void ssh_keygen_accepts(const char *dir, const char *publine, const unsigned char *blob,
                               size_t len, const unsigned char *msg, size_t msglen)
{
    char *armored = NULL, *sig = path_of("%s/our.sig", dir), *msgpath = path_of("%s/our.msg", dir);
    char *allowed = path_of("%s/allowed_signers", dir), *line = path_of("alice %s\n", publine);
    assert_int_equal(gp_sshsig_armor(&armored, blob, len), 0);
    spit(sig, armored, strlen(armored));
    spit(msgpath, msg, msglen);
    spit(allowed, line, strlen(line));
    assert_int_equal(
        sh("ssh-keygen -Y verify -f '%s' -I alice -n gpu-proof -s '%s' < '%s' >/dev/null 2>&1",
           allowed, sig, msgpath),
        0);
    /* the check can fail: another identity, another namespace */
    assert_int_not_equal(
        sh("ssh-keygen -Y verify -f '%s' -I bob -n gpu-proof -s '%s' < '%s' >/dev/null 2>&1",
           allowed, sig, msgpath),
        0);
    assert_int_not_equal(
        sh("ssh-keygen -Y verify -f '%s' -I alice -n git -s '%s' < '%s' >/dev/null 2>&1", allowed,
           sig, msgpath),
        0);
    free(armored);
    free(sig);
    free(msgpath);
    free(allowed);
    free(line);
}

static char *publine_of(const char *type, const unsigned char *blob, size_t len)
{
    char *b64 = NULL, *line;
    assert_int_equal(gp_base64_encode(&b64, blob, len), 0);
    line = path_of("%s %s", type, b64);
    free(b64);
    return line;
}

static void test_encoder_ed25519_interop(void **state)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], seed[32], sig[64];
    unsigned char *data = NULL, *sshsig_ = NULL, *blob = NULL, msg[123];
    size_t datalen, ssl, len;
    gp_buf pkb = GP_BUF_INIT(0);
    gp_keylist *keys;
    char *line, *dir;
    const gp_pubkey *used = NULL;

    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    randombytes_buf(msg, sizeof(msg));
    w_cstr(&pkb, "ssh-ed25519");
    w_str(&pkb, pk, sizeof(pk));
    line = publine_of("ssh-ed25519", (unsigned char *)pkb.ptr, pkb.len);
    keys = keys_from_text(line);

    for (int h = 0; h < 2; h++) {
        const char *hash = h ? "sha256" : "sha512";
        assert_int_equal(
            gp_sshsig_signed_data(&data, &datalen, GP_SSHSIG_NAMESPACE, hash, msg, sizeof(msg)), 0);
        crypto_sign_detached(sig, NULL, data, datalen, sk);
        assert_int_equal(gp_sshsig_ssh_signature(&sshsig_, &ssl, "ssh-ed25519", sig, sizeof(sig)),
                         0);
        assert_int_equal(gp_sshsig_encode(&blob, &len, (unsigned char *)pkb.ptr, pkb.len,
                                          GP_SSHSIG_NAMESPACE, hash, sshsig_, ssl),
                         0);
        assert_int_equal(
            gp_sshsig_verify(&used, blob, len, GP_SSHSIG_NAMESPACE, msg, sizeof(msg), keys), 0);
        assert_ptr_equal(used, &keys->keys[0]);
        if (have_ssh_keygen()) {
            dir = make_tmpdir();
            ssh_keygen_accepts(dir, line, blob, len, msg, sizeof(msg));
            rm_tmpdir(dir);
        }
        free(data);
        free(sshsig_);
        free(blob);
    }
    /* encoder refusals */
    assert_int_equal(gp_sshsig_signed_data(&data, &datalen, "", "sha512", msg, 1), GP_EINVALID);
    assert_int_equal(gp_sshsig_signed_data(&data, &datalen, "gpu-proof", "md5", msg, 1),
                     GP_EINVALID);
    assert_int_equal(gp_sshsig_ssh_signature(&sshsig_, &ssl, "ssh-ed25519", sig, 63), GP_EINVALID);
    assert_int_equal(gp_sshsig_ssh_signature(&sshsig_, &ssl, "ssh-dss", sig, 40), GP_EUNSUPPORTED);
    assert_int_equal(gp_sshsig_ssh_signature(&sshsig_, &ssl, "ecdsa-sha2-nistp256", sig, 64),
                     GP_EINVALID);
    assert_int_equal(gp_sshsig_encode(&blob, &len, (unsigned char *)pkb.ptr, pkb.len, "gpu-proof",
                                      "sha1", sig, 64),
                     GP_EINVALID);
    assert_null(blob);

    gp_keylist_free(keys);
    free(line);
    gp_buf_free(&pkb);
}

/* RSA and ECDSA keys that ssh-keygen writes as PEM, signed here with OpenSSL. */
static void test_encoder_pem_interop(void **state)
{
    static const struct {
        const char *type;
        int bits;
        const char *sig_type, *md;
    } cases[] = {
        {"rsa", 2048, "rsa-sha2-256", "SHA256"},
        {"rsa", 2048, "rsa-sha2-512", "SHA512"},
        {"ecdsa", 256, "ecdsa-sha2-nistp256", "SHA256"},
        {"ecdsa", 384, "ecdsa-sha2-nistp384", "SHA384"},
        {"ecdsa", 521, "ecdsa-sha2-nistp521", "SHA512"},
    };
    char *dir;
    unsigned char msg[77];

    if (!have_ssh_keygen()) skip();
    dir = make_tmpdir();
    randombytes_buf(msg, sizeof(msg));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *key = path_of("%s/p%zu", dir, i), *pub = path_of("%s/p%zu.pub", dir, i), *pubtext;
        unsigned char *data = NULL, *raw = NULL, *sshsig_ = NULL, *blob = NULL;
        size_t datalen, rawlen = 0, ssl, len;
        EVP_PKEY *pkey;
        EVP_MD_CTX *ctx;
        EVP_PKEY_CTX *pctx = NULL;
        FILE *f;
        gp_keylist *keys;
        const gp_pubkey *used = NULL;

        assert_int_equal(
            sh("ssh-keygen -q -t %s -b %d -m PEM -N '' -f '%s' </dev/null >/dev/null 2>&1",
               cases[i].type, cases[i].bits, key),
            0);
        assert_non_null(f = fopen(key, "r"));
        assert_non_null(pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL));
        fclose(f);
        pubtext = slurp(pub, NULL);
        keys = keys_from_text(pubtext);
        assert_int_equal(keys->n, 1);

        assert_int_equal(
            gp_sshsig_signed_data(&data, &datalen, GP_SSHSIG_NAMESPACE, "sha512", msg, sizeof(msg)),
            0);
        assert_non_null(ctx = EVP_MD_CTX_new());
        assert_int_equal(EVP_DigestSignInit_ex(ctx, &pctx, cases[i].md, NULL, NULL, pkey, NULL), 1);
        assert_int_equal(EVP_DigestSign(ctx, NULL, &rawlen, data, datalen), 1);
        assert_non_null(raw = malloc(rawlen));
        assert_int_equal(EVP_DigestSign(ctx, raw, &rawlen, data, datalen), 1);
        assert_int_equal(gp_sshsig_ssh_signature(&sshsig_, &ssl, cases[i].sig_type, raw, rawlen),
                         0);
        assert_int_equal(gp_sshsig_encode(&blob, &len, keys->keys[0].blob, keys->keys[0].blob_len,
                                          GP_SSHSIG_NAMESPACE, "sha512", sshsig_, ssl),
                         0);
        if (gp_sshsig_verify(&used, blob, len, GP_SSHSIG_NAMESPACE, msg, sizeof(msg), keys) != 0)
            fail_msg("%s: %s", cases[i].sig_type, gp_error_last());
        {
            char *line = strdup(pubtext);
            char *sp = strchr(line, ' ');
            sp = sp ? strchr(sp + 1, ' ') : NULL;
            if (sp) *sp = '\0';
            line[strcspn(line, "\n")] = '\0';
            ssh_keygen_accepts(dir, line, blob, len, msg, sizeof(msg));
            free(line);
        }
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(pkey);
        gp_keylist_free(keys);
        free(pubtext);
        free(data);
        free(raw);
        free(sshsig_);
        free(blob);
        free(key);
        free(pub);
    }
    rm_tmpdir(dir);
}

/* An "ssh-rsa" (SHA-1) signature is refused even though it is a valid PKCS#1 signature. */
static void test_rsa_sha1_refused(void **state)
{
    char *dir;
    unsigned char msg[10] = "ten bytes!";
    if (!have_ssh_keygen()) skip();
    dir = make_tmpdir();
    char *key = path_of("%s/r", dir), *pub = path_of("%s/r.pub", dir), *pubtext;
    unsigned char *data = NULL, raw[512];
    size_t datalen, rawlen = sizeof(raw);
    gp_buf sig = GP_BUF_INIT(0), blob = GP_BUF_INIT(0);
    EVP_PKEY *pkey;
    EVP_MD_CTX *ctx;
    FILE *f;
    gp_keylist *keys;

    assert_int_equal(
        sh("ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f '%s' </dev/null >/dev/null 2>&1", key), 0);
    assert_non_null(f = fopen(key, "r"));
    assert_non_null(pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL));
    fclose(f);
    pubtext = slurp(pub, NULL);
    keys = keys_from_text(pubtext);
    assert_int_equal(
        gp_sshsig_signed_data(&data, &datalen, GP_SSHSIG_NAMESPACE, "sha512", msg, sizeof(msg)), 0);
    assert_non_null(ctx = EVP_MD_CTX_new());
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, "SHA1", NULL, NULL, pkey, NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, raw, &rawlen, data, datalen), 1);
    w_cstr(&sig, "ssh-rsa");
    w_str(&sig, raw, rawlen);
    build_blob(&blob, "SSHSIG", 1, keys->keys[0].blob, keys->keys[0].blob_len, "gpu-proof", "",
               "sha512", sig.ptr, sig.len);
    assert_int_equal(gp_sshsig_verify(NULL, (unsigned char *)blob.ptr, blob.len,
                                      GP_SSHSIG_NAMESPACE, msg, sizeof(msg), keys),
                     GP_EBADSIG);
    assert_non_null(strstr(gp_error_last(), "ssh-rsa"));
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    gp_keylist_free(keys);
    gp_buf_free(&sig);
    gp_buf_free(&blob);
    free(pubtext);
    free(data);
    free(key);
    free(pub);
    rm_tmpdir(dir);
}

/* ---- FIDO (sk-) signatures built from PROTOCOL.u2f ------------------------------------------ */

/* What the authenticator signs: SHA256(app) || flags || counter (BE) || SHA256(signed data). */
static void sk_message(unsigned char out[69], const char *app, unsigned char flags,
                       uint32_t counter, const unsigned char *data, size_t datalen)
{
    gp_sha256(out, app, strlen(app));
    out[32] = flags;
    out[33] = (unsigned char)(counter >> 24);
    out[34] = (unsigned char)(counter >> 16);
    out[35] = (unsigned char)(counter >> 8);
    out[36] = (unsigned char)counter;
    gp_sha256(out + 37, data, datalen);
}

typedef struct sk_key {
    const char *type;
    gp_buf blob;             /* the public key blob */
    unsigned char ed_sk[64]; /* sk-ssh-ed25519 */
    EVP_PKEY *ec;            /* sk-ecdsa-sha2-nistp256 */
} sk_key;

static void sk_key_make(sk_key *k, bool ecdsa)
{
    memset(k, 0, sizeof(*k));
    gp_buf_init(&k->blob, 0);
    if (!ecdsa) {
        unsigned char pk[32];
        k->type = "sk-ssh-ed25519@openssh.com";
        crypto_sign_keypair(pk, k->ed_sk);
        w_cstr(&k->blob, k->type);
        w_str(&k->blob, pk, sizeof(pk));
    } else {
        unsigned char point[65];
        size_t plen = 0;
        k->type = "sk-ecdsa-sha2-nistp256@openssh.com";
        assert_non_null(k->ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
        assert_int_equal(EVP_PKEY_get_octet_string_param(k->ec, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                         sizeof(point), &plen),
                         1);
        assert_int_equal(plen, 65);
        w_cstr(&k->blob, k->type);
        w_cstr(&k->blob, "nistp256");
        w_str(&k->blob, point, plen);
    }
    w_cstr(&k->blob, "ssh:");
}

static void sk_key_free(sk_key *k)
{
    gp_buf_free(&k->blob);
    EVP_PKEY_free(k->ec);
}

/* An SSHSIG by an sk key; the authenticator signs `signed_flags`, the blob carries `flags`. */
static void sk_sign(gp_buf *out, sk_key *k, const unsigned char *msg, size_t msglen,
                    unsigned char signed_flags, unsigned char flags, uint32_t counter)
{
    unsigned char *data = NULL, skmsg[69];
    size_t datalen;
    gp_buf sig = GP_BUF_INIT(0);

    assert_int_equal(
        gp_sshsig_signed_data(&data, &datalen, GP_SSHSIG_NAMESPACE, "sha512", msg, msglen), 0);
    sk_message(skmsg, "ssh:", signed_flags, counter, data, datalen);
    w_cstr(&sig, k->type);
    if (!k->ec) {
        unsigned char s[64];
        crypto_sign_detached(s, NULL, skmsg, sizeof(skmsg), k->ed_sk);
        w_str(&sig, s, sizeof(s));
    } else {
        unsigned char der[80], *enc = NULL;
        size_t derlen = sizeof(der), enclen;
        const unsigned char *inner;
        size_t innerlen;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_non_null(ctx);
        assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k->ec, NULL), 1);
        assert_int_equal(EVP_DigestSign(ctx, der, &derlen, skmsg, sizeof(skmsg)), 1);
        EVP_MD_CTX_free(ctx);
        /* mpint r || mpint s, taken from the library's plain ECDSA encoding */
        assert_int_equal(gp_sshsig_ssh_signature(&enc, &enclen, "ecdsa-sha2-nistp256", der, derlen),
                         0);
        gp_sshbuf b = {enc, enclen};
        assert_int_equal(gp_ssh_expect_string(&b, "ecdsa-sha2-nistp256"), 0);
        assert_int_equal(gp_ssh_get_string(&b, &inner, &innerlen), 0);
        w_str(&sig, inner, innerlen);
        free(enc);
    }
    assert_int_equal(gp_buf_putc(&sig, (char)flags), 0);
    w_u32(&sig, counter);
    gp_buf_reset(out);
    build_blob(out, "SSHSIG", 1, k->blob.ptr, k->blob.len, "gpu-proof", "", "sha512", sig.ptr,
               sig.len);
    gp_buf_free(&sig);
    free(data);
}

static void sk_case(bool ecdsa)
{
    sk_key k;
    gp_buf blob = GP_BUF_INIT(0);
    unsigned char msg[200];
    char *line;
    gp_keylist *keys;
    const gp_pubkey *used = NULL;
    gp_sshsig *s = NULL;
    const unsigned char *m = msg;

    sk_key_make(&k, ecdsa);
    randombytes_buf(msg, sizeof(msg));
    line = publine_of(k.type, (unsigned char *)k.blob.ptr, k.blob.len);
    keys = keys_from_text(line);
    assert_int_equal(keys->n, 1);

#define SKVERIFY()                                                                                 \
    gp_sshsig_verify(&used, (unsigned char *)blob.ptr, blob.len, GP_SSHSIG_NAMESPACE, m,           \
                     sizeof(msg), keys)
    /* user present (and verified): valid */
    sk_sign(&blob, &k, msg, sizeof(msg), 0x01, 0x01, 42);
    if (SKVERIFY() != 0) fail_msg("%s: %s", k.type, gp_error_last());
    assert_ptr_equal(used, &keys->keys[0]);
    assert_int_equal(gp_sshsig_parse(&s, (unsigned char *)blob.ptr, blob.len), 0);
    assert_true(s->sk);
    assert_int_equal(s->sk_flags, 0x01);
    assert_int_equal(s->sk_counter, 42);
    assert_string_equal(s->sig_type, k.type);
    assert_string_equal(s->key.fingerprint, keys->keys[0].fingerprint);
    gp_sshsig_free(s);
    if (have_ssh_keygen()) {
        char *dir = make_tmpdir();
        ssh_keygen_accepts(dir, line, (unsigned char *)blob.ptr, blob.len, msg, sizeof(msg));
        rm_tmpdir(dir);
    }
    sk_sign(&blob, &k, msg, sizeof(msg), 0x05, 0x05, 0xfffffffe);
    assert_int_equal(SKVERIFY(), 0);
    /* no user presence, honestly signed: refused */
    sk_sign(&blob, &k, msg, sizeof(msg), 0x00, 0x00, 43);
    assert_int_equal(SKVERIFY(), GP_EBADSIG);
    assert_non_null(strstr(gp_error_last(), "user presence"));
    sk_sign(&blob, &k, msg, sizeof(msg), 0x04, 0x04, 43);
    assert_int_equal(SKVERIFY(), GP_EBADSIG);
    /* flags or counter changed after signing: refused */
    sk_sign(&blob, &k, msg, sizeof(msg), 0x00, 0x01, 44);
    assert_int_equal(SKVERIFY(), GP_EBADSIG);
    sk_sign(&blob, &k, msg, sizeof(msg), 0x01, 0x01, 45);
    blob.ptr[blob.len - 1] ^= 1; /* the counter's last byte */
    assert_int_equal(SKVERIFY(), GP_EBADSIG);
    /* the flags and counter missing: malformed */
    sk_sign(&blob, &k, msg, sizeof(msg), 0x01, 0x01, 46);
    assert_int_equal(SKVERIFY(), 0);
    {
        /* cut flags+counter from the inner signature and fix the outer string length */
        gp_buf cut = GP_BUF_INIT(0);
        gp_sshsig *p = NULL;
        assert_int_equal(gp_sshsig_parse(&p, (unsigned char *)blob.ptr, blob.len), 0);
        build_blob(&cut, "SSHSIG", 1, k.blob.ptr, k.blob.len, "gpu-proof", "", "sha512",
                   p->signature, p->signature_len - 5);
        assert_int_equal(gp_sshsig_verify(NULL, (unsigned char *)cut.ptr, cut.len,
                                          GP_SSHSIG_NAMESPACE, m, sizeof(msg), keys),
                         GP_EINVALID);
        gp_sshsig_free(p);
        gp_buf_free(&cut);
    }
    /* another message */
    msg[3] ^= 0x10;
    assert_int_equal(SKVERIFY(), GP_EBADSIG);
#undef SKVERIFY
    gp_keylist_free(keys);
    free(line);
    gp_buf_free(&blob);
    sk_key_free(&k);
}

static void test_sk_ed25519(void **state)
{
    sk_case(false);
}

static void test_sk_ecdsa(void **state)
{
    sk_case(true);
}

/* ---- signing with key files and through ssh-agent ------------------------------------------- */

static const struct {
    const char *type;
    int bits;
} sign_cases[] = {{"ed25519", 0}, {"ecdsa", 256}, {"ecdsa", 384}, {"ecdsa", 521}, {"rsa", 2048}};
#define NSIGN (sizeof(sign_cases) / sizeof(sign_cases[0]))

static void make_key(const char *dir, size_t i)
{
    char bits[16] = "";
    if (sign_cases[i].bits) snprintf(bits, sizeof(bits), "-b %d", sign_cases[i].bits);
    assert_int_equal(
        sh("ssh-keygen -q -t %s %s -N '' -C signer -f '%s/s%zu' </dev/null >/dev/null 2>&1",
           sign_cases[i].type, bits, dir, i),
        0);
}

static char *pub_line(const char *dir, size_t i)
{
    char *p = path_of("%s/s%zu.pub", dir, i), *t = slurp(p, NULL), *sp;
    free(p);
    sp = strchr(t, ' ');
    sp = sp ? strchr(sp + 1, ' ') : NULL;
    if (sp) *sp = '\0';
    t[strcspn(t, "\n")] = '\0';
    return t;
}

static void test_sign_key_file(void **state)
{
    unsigned char msg[64];
    char *dir;
    if (!have_ssh_keygen()) skip();
    dir = make_tmpdir();
    randombytes_buf(msg, sizeof(msg));
    for (size_t i = 0; i < NSIGN; i++) {
        char *key = path_of("%s/s%zu", dir, i), *line;
        gp_privkey *pk = NULL;
        gp_keylist *keys;
        gp_sshsig *s = NULL;
        unsigned char *blob = NULL;
        size_t len = 0;
        const gp_pubkey *used = NULL;

        make_key(dir, i);
        if (gp_privkey_load(&pk, key) != 0) fail_msg("load %s: %s", key, gp_error_last());
        if (gp_sshsig_sign_key(&blob, &len, pk, GP_SSHSIG_NAMESPACE, msg, sizeof(msg)) != 0)
            fail_msg("sign %s: %s", sign_cases[i].type, gp_error_last());
        line = pub_line(dir, i);
        keys = keys_from_text(line);
        assert_int_equal(
            gp_sshsig_verify(&used, blob, len, GP_SSHSIG_NAMESPACE, msg, sizeof(msg), keys), 0);
        assert_int_equal(gp_sshsig_parse(&s, blob, len), 0);
        assert_string_equal(s->hash_alg, "sha512");
        assert_string_equal(s->sig_type, sign_cases[i].bits == 2048
                                             ? "rsa-sha2-512"
                                             : gp_keytype_name(pk->pub.type));
        ssh_keygen_accepts(dir, line, blob, len, msg, sizeof(msg));
        gp_sshsig_free(s);
        gp_keylist_free(keys);
        gp_privkey_free(pk);
        free(blob);
        free(line);
        free(key);
    }
    rm_tmpdir(dir);
}

static pid_t
    agent_pid; /* the ssh-agent this test started; stopped by the teardown even on failure */

static int stop_agent(void **state)
{
    if (agent_pid > 0) {
        kill(agent_pid, SIGTERM);
        agent_pid = 0;
    }
    return 0;
}

static void test_sign_agent(void **state)
{
    unsigned char msg[64];
    char *dir, *sock, *cmd, out[512] = "";
    FILE *p;
    gp_agent *agent = NULL;
    gp_keylist *held = NULL;

    if (sh("command -v ssh-agent >/dev/null 2>&1 && command -v ssh-add >/dev/null 2>&1") != 0 ||
        !have_ssh_keygen())
        skip();
    dir = make_tmpdir();
    sock = path_of("%s/agent.sock", dir);
    cmd = path_of("ssh-agent -s -a '%s'", sock);
    assert_non_null(p = popen(cmd, "r"));
    while (fgets(out, sizeof(out), p)) {
        char *at = strstr(out, "SSH_AGENT_PID=");
        if (at) agent_pid = (pid_t)atoi(at + 14);
    }
    pclose(p);
    assert_true(agent_pid > 0);
    randombytes_buf(msg, sizeof(msg));
    for (size_t i = 0; i < NSIGN; i++) {
        make_key(dir, i);
        assert_int_equal(
            sh("SSH_AUTH_SOCK='%s' ssh-add -q '%s/s%zu' </dev/null >/dev/null 2>&1", sock, dir, i),
            0);
    }
    assert_int_equal(gp_agent_open(&agent, sock, 0), 0);
    assert_int_equal(gp_agent_list(&held, NULL, agent), 0);
    assert_int_equal(held->n, NSIGN);
    for (size_t i = 0; i < held->n; i++) {
        unsigned char *blob = NULL;
        size_t len = 0;
        char *line = NULL;
        const gp_pubkey *used = NULL;
        if (gp_sshsig_sign_agent(&blob, &len, agent, &held->keys[i], GP_SSHSIG_NAMESPACE, msg,
                                 sizeof(msg)) != 0)
            fail_msg("agent sign %s: %s", gp_keytype_name(held->keys[i].type), gp_error_last());
        assert_int_equal(
            gp_sshsig_verify(&used, blob, len, GP_SSHSIG_NAMESPACE, msg, sizeof(msg), held), 0);
        assert_ptr_equal(used, &held->keys[i]);
        assert_int_equal(gp_pubkey_to_line(&line, &held->keys[i]), 0);
        ssh_keygen_accepts(dir, line, blob, len, msg, sizeof(msg));
        free(line);
        free(blob);
    }
    /* a key the agent does not hold */
    {
        unsigned char pk[32], skey[64], *blob = (unsigned char *)1;
        size_t len = 1;
        gp_buf b = GP_BUF_INIT(0);
        gp_pubkey other;
        crypto_sign_keypair(pk, skey);
        w_cstr(&b, "ssh-ed25519");
        w_str(&b, pk, sizeof(pk));
        assert_int_equal(gp_pubkey_from_blob(&other, (unsigned char *)b.ptr, b.len), 0);
        assert_int_equal(
            gp_sshsig_sign_agent(&blob, &len, agent, &other, GP_SSHSIG_NAMESPACE, msg, sizeof(msg)),
            GP_ENOTFOUND);
        assert_null(blob);
        assert_int_equal(len, 0);
        gp_pubkey_clear(&other);
        gp_buf_free(&b);
    }
    gp_keylist_free(held);
    gp_agent_close(agent);
    stop_agent(NULL);
    free(cmd);
    free(sock);
    rm_tmpdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_verify),
        cmocka_unit_test(test_fixture_refusals),
        cmocka_unit_test(test_armor_roundtrip),
        cmocka_unit_test(test_dearmor_refusals),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_every_byte_flip_fails),
        cmocka_unit_test(test_fresh_ssh_keygen),
        cmocka_unit_test(test_encoder_ed25519_interop),
        cmocka_unit_test(test_encoder_pem_interop),
        cmocka_unit_test(test_rsa_sha1_refused),
        cmocka_unit_test(test_sk_ed25519),
        cmocka_unit_test(test_sk_ecdsa),
        cmocka_unit_test(test_sign_key_file),
        cmocka_unit_test_teardown(test_sign_agent, stop_agent),
    };
    if (sodium_init() < 0) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
