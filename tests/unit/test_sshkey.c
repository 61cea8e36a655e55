/*
 * test_sshkey.c - SSH public key lines, wire blobs and fingerprints (lib/sshkey.c).
 *
 * Fingerprints and sizes are checked against what `ssh-keygen -l -E sha256` printed for the
 * fixtures in tests/data/keys/ (see its README) and for the vectors' github key files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "sshkey.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *path_of(const char *rel)
{
    const char *src = getenv("GP_SOURCE_DIR");
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
    return path;
}

/* noinline: inlined, gcc 12 -O3 takes the returned buffer for a pointer to the local `text`
 * (whose address gp_read_file() gets) and warns -Wdangling-pointer at every use */
__attribute__((noinline)) static char *slurp(const char *rel, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    int rc = gp_read_file(&text, &n, path_of(rel), 1 << 20);
    if (rc != 0) fail_msg("cannot read %s: %s", rel, gp_error_last());
    if (len) *len = n;
    return text;
}

/* ---- fixtures vs ssh-keygen -l ---------------------------------------------------------- */

static const struct {
    const char *name;
    gp_keytype type;
} fixtures[] = {
    {"ed25519", GP_KEY_ED25519},       {"ecdsa256", GP_KEY_ECDSA_P256},
    {"ecdsa384", GP_KEY_ECDSA_P384},   {"ecdsa521", GP_KEY_ECDSA_P521},
    {"rsa2048", GP_KEY_RSA},           {"rsa3072", GP_KEY_RSA},
    {"sk-ed25519", GP_KEY_SK_ED25519}, {"sk-ecdsa256", GP_KEY_SK_ECDSA_P256},
};

static void test_fixture_fingerprints(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        char rel[256], fp[128];
        unsigned bits = 0;
        size_t len;
        snprintf(rel, sizeof(rel), "tests/data/keys/%s.pub", fixtures[i].name);
        char *line = slurp(rel, &len);
        snprintf(rel, sizeof(rel), "tests/data/keys/%s.fp", fixtures[i].name);
        char *fptext = slurp(rel, NULL);
        assert_int_equal(sscanf(fptext, "%u %127s", &bits, fp), 2);

        gp_pubkey k;
        int rc = gp_pubkey_parse_line(&k, line, len);
        if (rc != 0) fail_msg("%s: %s", fixtures[i].name, gp_error_last());
        assert_int_equal(k.type, fixtures[i].type);
        assert_string_equal(k.fingerprint, fp);
        if (k.type == GP_KEY_RSA) assert_int_equal(k.rsa_bits, bits);
        if (k.type == GP_KEY_ED25519 || k.type == GP_KEY_SK_ED25519)
            assert_null(k.pkey);
        else
            assert_non_null(k.pkey);
        if (k.type == GP_KEY_SK_ED25519)
            assert_string_equal(k.application, "ssh:");
        else if (k.type == GP_KEY_SK_ECDSA_P256)
            assert_string_equal(k.application, "ssh:gpuproof");
        else
            assert_null(k.application);

        /* to_line gives back "TYPE BASE64" of the file, and parses to the same key */
        char *out = NULL;
        assert_int_equal(gp_pubkey_to_line(&out, &k), 0);
        assert_int_equal(strncmp(out, line, strlen(out)), 0);
        assert_int_equal(line[strlen(out)], ' ');
        gp_pubkey k2;
        assert_int_equal(gp_pubkey_parse_line(&k2, out, strlen(out)), 0);
        assert_true(gp_pubkey_equal(&k, &k2));

        /* the blob alone parses to the same key */
        gp_pubkey k3;
        assert_int_equal(gp_pubkey_from_blob(&k3, k.blob, k.blob_len), 0);
        assert_string_equal(k3.fingerprint, k.fingerprint);

        gp_pubkey_clear(&k3);
        gp_pubkey_clear(&k2);
        gp_pubkey_clear(&k);
        free(out);
        free(fptext);
        free(line);
    }
}

static void test_github_keys(void **state)
{
    (void)state;
    static const char *logins[] = {"alice", "bob", "carol", "dave", "erin"};
    for (size_t i = 0; i < sizeof(logins) / sizeof(logins[0]); i++) {
        char rel[256];
        size_t len;
        snprintf(rel, sizeof(rel), "tests/vectors/pytest-gpu-proof-v1/github/%s.keys", logins[i]);
        char *text = slurp(rel, &len);
        snprintf(rel, sizeof(rel), "tests/data/keys/github-%s.fp", logins[i]);
        char *fps = slurp(rel, NULL);

        gp_keylist *l = NULL;
        assert_int_equal(gp_keylist_parse(&l, text, len), 0);
        size_t n = 0;
        for (char *save = NULL, *ln = strtok_r(fps, "\n", &save); ln;
             ln = strtok_r(NULL, "\n", &save)) {
            unsigned bits;
            char fp[128];
            assert_int_equal(sscanf(ln, "%u %127s", &bits, fp), 2);
            assert_true(n < l->n);
            assert_string_equal(l->keys[n].fingerprint, fp);
            if (l->keys[n].type == GP_KEY_RSA) assert_int_equal(l->keys[n].rsa_bits, bits);
            n++;
        }
        assert_int_equal(n, l->n);
        assert_true(n > 0);
        gp_keylist_free(l);
        free(fps);
        free(text);
    }
}

/* ---- malformed and unsupported lines ---------------------------------------------------- */

/* Re-encodes a fixture's blob after `mutate` edits it; returns "TYPE BASE64" (caller frees). */
typedef void (*mutator)(gp_buf *blob);

static char *mutated_line(const char *fixture, const char *type_override, mutator mutate)
{
    char rel[256];
    size_t len;
    snprintf(rel, sizeof(rel), "tests/data/keys/%s.pub", fixture);
    char *line = slurp(rel, &len);
    assert_non_null(line);
    /* "TYPE BASE64 COMMENT": offsets, not pointers (gcc 12 -O3 takes pointers into it for
     * pointers to slurp()'s local and warns, -Wdangling-pointer) */
    size_t type_end = strcspn(line, " ");
    assert_true(line[type_end] == ' ');
    size_t blob_at = type_end + 1, blob_len = strcspn(line + blob_at, " \n");
    line[type_end] = '\0';
    unsigned char *raw = NULL;
    size_t rawlen;
    assert_int_equal(gp_base64_decode(&raw, &rawlen, line + blob_at, blob_len), 0);
    gp_buf b = GP_BUF_INIT(0);
    assert_int_equal(gp_buf_add(&b, raw, rawlen), 0);
    if (mutate) mutate(&b);
    char *b64 = NULL;
    assert_int_equal(gp_base64_encode(&b64, (unsigned char *)b.ptr, b.len), 0);
    gp_buf out = GP_BUF_INIT(0);
    assert_int_equal(gp_buf_printf(&out, "%s %s", type_override ? type_override : line, b64), 0);
    free(b64);
    gp_buf_free(&b);
    free(raw);
    free(line);
    return gp_buf_detach(&out, NULL);
}

static void put_string(gp_buf *b, const void *s, size_t n)
{
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    assert_int_equal(gp_buf_add(b, len, 4), 0);
    assert_int_equal(gp_buf_add(b, s, n), 0);
}

static void m_trailing(gp_buf *b)
{
    gp_buf_putc(b, 0);
}
static void m_truncate(gp_buf *b)
{
    b->len -= 1;
}
static void m_truncate_hard(gp_buf *b)
{
    b->len = 6;
}
static void m_flip_last(gp_buf *b)
{
    b->ptr[b->len - 1] ^= 1;
} /* ECDSA: Y coordinate */
static void m_compressed(gp_buf *b) /* ECDSA P-256 point tag */
{
    b->ptr[4 + 19 + 4 + 8 + 4] = 0x02;
}
static void m_wrong_curve(gp_buf *b)
{
    memcpy(b->ptr + 4 + 19 + 4, "nistp384", 8);
}
static void m_ed_short(gp_buf *b)
{
    gp_buf n = GP_BUF_INIT(0);
    put_string(&n, "ssh-ed25519", 11);
    put_string(&n, b->ptr + 4 + 11 + 4, 31);
    gp_buf_free(b);
    *b = n;
}
static void m_rsa_negative_e(gp_buf *b)
{
    /* ssh-rsa: string type(7), mpint e = 01 00 01 -> 81 00 01 */
    b->ptr[4 + 7 + 4] = (char)0x81;
}
static void m_rsa_small(gp_buf *b)
{
    /* replace n by a 512-bit odd modulus */
    gp_buf n = GP_BUF_INIT(0);
    unsigned char mod[65];
    memset(mod, 0xab, sizeof(mod));
    mod[0] = 0x00;
    mod[1] = 0xc3;
    mod[64] = 0x01;
    put_string(&n, "ssh-rsa", 7);
    put_string(&n, "\x01\x00\x01", 3);
    put_string(&n, mod, sizeof(mod));
    gp_buf_free(b);
    *b = n;
}
static void m_unknown_type(gp_buf *b)
{
    gp_buf n = GP_BUF_INIT(0);
    put_string(&n, "ssh-dss", 7);
    put_string(&n, "\x01\x02\x03", 3);
    gp_buf_free(b);
    *b = n;
}
static void m_sk_no_app(gp_buf *b)
{
    b->len -= 8;
} /* sk-ed25519: drop string "ssh:" */

static void test_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *fixture, *type;
        mutator m;
        int expect;
    } cases[] = {
        {"ed25519", NULL, m_trailing, GP_EINVALID},
        {"ed25519", NULL, m_truncate, GP_EINVALID},
        {"ed25519", NULL, m_truncate_hard, GP_EINVALID},
        {"ed25519", NULL, m_ed_short, GP_EINVALID},
        {"ed25519", "ssh-rsa", NULL, GP_EINVALID},    /* line type differs from blob type */
        {"ecdsa256", NULL, m_flip_last, GP_EINVALID}, /* point not on the curve */
        {"ecdsa256", NULL, m_compressed, GP_EINVALID},
        {"ecdsa256", NULL, m_wrong_curve, GP_EINVALID},
        {"ecdsa384", NULL, m_flip_last, GP_EINVALID},
        {"ecdsa521", NULL, m_flip_last, GP_EINVALID},
        {"ecdsa256", "ecdsa-sha2-nistp384", NULL, GP_EINVALID},
        {"rsa2048", NULL, m_rsa_negative_e, GP_EINVALID},
        {"rsa2048", NULL, m_rsa_small, GP_EINVALID},
        {"rsa2048", NULL, m_trailing, GP_EINVALID},
        {"sk-ed25519", NULL, m_sk_no_app, GP_EINVALID},
        {"sk-ecdsa256", NULL, m_flip_last, GP_EINVALID}, /* application string edited is fine... */
        {"ed25519", "ssh-dss", m_unknown_type, GP_EUNSUPPORTED},
        {"ed25519", NULL, NULL, 0}, /* control: unmodified parses */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *line = mutated_line(cases[i].fixture, cases[i].type, cases[i].m);
        gp_pubkey k;
        memset(&k, 0xa5, sizeof(k));
        int rc = gp_pubkey_parse_line(&k, line, strlen(line));
        if (cases[i].m == m_flip_last && strcmp(cases[i].fixture, "sk-ecdsa256") == 0) {
            /* flipping the last byte of an sk key changes its application string: still valid */
            assert_int_equal(rc, 0);
            gp_pubkey_clear(&k);
        } else {
            if (rc != cases[i].expect)
                fail_msg("case %zu (%s): got %d (%s)", i, line, rc, gp_error_last());
            if (rc == 0)
                gp_pubkey_clear(&k);
            else
                assert_true(gp_error_last()[0] != '\0');
        }
        free(line);
    }

    static const char *garbage[] = {
        "",
        "   ",
        "# ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJaWVciQ/Lf7x9jDS66Ag426IaY04cXEFoQ4JRWfQK2f",
        "ssh-ed25519",
        "ssh-ed25519 !!!notbase64!!!",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJaWVciQ/Lf7x9jDS66Ag426IaY04cXEFoQ4JRWfQK2", /* bad
                                                                                              length
                                                                                            */
        "<html><body>Not Found</body></html>",
        "command=\"unterminated ssh-ed25519 AAAA",
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        gp_pubkey k;
        int rc = gp_pubkey_parse_line(&k, garbage[i], strlen(garbage[i]));
        if (rc != GP_EINVALID) fail_msg("garbage %zu: got %d", i, rc);
    }

    /* over-long line */
    size_t big = 17 * 1024;
    char *longline = malloc(big);
    memset(longline, 'A', big);
    memcpy(longline, "ssh-ed25519 ", 12);
    gp_pubkey k;
    assert_int_equal(gp_pubkey_parse_line(&k, longline, big), GP_ETOOBIG);
    free(longline);
}

static void test_options_and_comments(void **state)
{
    (void)state;
    static const char *key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJaWVciQ/Lf7x9jDS66Ag426IaY04cXEFoQ4JRWfQK2f";
    static const char *prefixes[] = {"", "  \t", "no-pty ", "command=\"echo hi there\",no-pty ",
                                     "from=\"10.0.0.1\" "};
    static const char *suffixes[] = {"", " comment", " a comment with spaces", "\r", "\n", " \r\n"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
        for (size_t j = 0; j < sizeof(suffixes) / sizeof(*suffixes); j++) {
            char line[512];
            snprintf(line, sizeof(line), "%s%s%s", prefixes[i], key, suffixes[j]);
            gp_pubkey k;
            int rc = gp_pubkey_parse_line(&k, line, strlen(line));
            if (rc != 0) fail_msg("\"%s\": %s", line, gp_error_last());
            assert_string_equal(k.fingerprint,
                                "SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ");
            gp_pubkey_clear(&k);
        }
}

/* ---- key lists -------------------------------------------------------------------------- */

static void test_keylist(void **state)
{
    (void)state;
    char *ed = slurp("tests/data/keys/ed25519.pub", NULL);
    char *rsa = slurp("tests/data/keys/rsa2048.pub", NULL);
    char *dss = mutated_line("ed25519", "ssh-dss", m_unknown_type);
    char *bad = mutated_line("ecdsa256", NULL, m_flip_last);
    gp_buf t = GP_BUF_INIT(0);
    gp_buf_printf(&t, "\n# comment\r\n%s\r\n%s\ngarbage line here\n%s\n%s\n%s", dss, ed, bad, ed,
                  rsa);
    rsa[strcspn(rsa, "\n")] = '\0';

    gp_keylist *l = NULL;
    assert_int_equal(gp_keylist_parse(&l, t.ptr, t.len), 0);
    assert_int_equal(l->n, 2); /* unknown, garbage and bad skipped; the duplicate ed25519 too */
    assert_int_equal(l->keys[0].type, GP_KEY_ED25519);
    assert_int_equal(l->keys[1].type, GP_KEY_RSA);
    gp_keylist_free(l);

    /* empty and key-less texts are not errors */
    assert_int_equal(gp_keylist_parse(&l, "", 0), 0);
    assert_int_equal(l->n, 0);
    gp_keylist_free(l);
    assert_int_equal(gp_keylist_parse(&l, "<html>\n</html>\n", 15), 0);
    assert_int_equal(l->n, 0);
    gp_keylist_free(l);
    gp_keylist_free(NULL);

    /* at most 100 keys are kept */
    gp_buf many = GP_BUF_INIT(0);
    for (int i = 0; i < 150; i++) {
        unsigned char blob[4 + 11 + 4 + 32];
        memcpy(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
        memset(blob + 19, 0, 32);
        blob[19] = (unsigned char)i;
        blob[20] = (unsigned char)(i >> 8);
        char *b64 = NULL;
        assert_int_equal(gp_base64_encode(&b64, blob, sizeof(blob)), 0);
        gp_buf_printf(&many, "ssh-ed25519 %s\n", b64);
        free(b64);
    }
    assert_int_equal(gp_keylist_parse(&l, many.ptr, many.len), 0);
    assert_int_equal(l->n, 100);
    gp_keylist_free(l);

    gp_buf_free(&many);
    gp_buf_free(&t);
    free(bad);
    free(dss);
    free(rsa);
    free(ed);
}

/* ---- wire readers ----------------------------------------------------------------------- */

static void test_wire_readers(void **state)
{
    (void)state;
    static const unsigned char data[] = {0, 0, 0, 3, 'a', 'b', 'c', 0x7f, 0, 0, 0, 9, 'x'};
    gp_sshbuf b = {data, sizeof(data)};
    const unsigned char *s;
    size_t n;
    unsigned char c;
    uint32_t u;

    assert_int_equal(gp_ssh_expect_string(&b, "abd"), GP_EINVALID);
    assert_int_equal(b.len, sizeof(data)); /* unchanged on failure */
    assert_int_equal(gp_ssh_expect_string(&b, "ab"), GP_EINVALID);
    assert_int_equal(gp_ssh_expect_string(&b, "abc"), 0);
    assert_int_equal(gp_ssh_get_u8(&b, &c), 0);
    assert_int_equal(c, 0x7f);
    gp_sshbuf save = b;
    assert_int_equal(gp_ssh_get_string(&b, &s, &n), GP_EINVALID); /* claims 9, has 1 */
    assert_memory_equal(&b, &save, sizeof(b));
    assert_int_equal(gp_ssh_get_u32(&b, &u), 0);
    assert_int_equal(u, 9);
    assert_int_equal(gp_ssh_get_u8(&b, &c), 0);
    assert_int_equal(gp_ssh_get_u8(&b, &c), GP_EINVALID);
    assert_int_equal(gp_ssh_get_u32(&b, &u), GP_EINVALID);

    static const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 1, 2};
    gp_sshbuf h = {huge, sizeof(huge)};
    assert_int_equal(gp_ssh_get_string(&h, &s, &n), GP_EINVALID);
    static const unsigned char empty[] = {0, 0, 0, 0};
    gp_sshbuf e = {empty, sizeof(empty)};
    assert_int_equal(gp_ssh_get_string(&e, &s, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(e.len, 0);

    gp_pubkey k;
    assert_int_equal(gp_pubkey_from_blob(&k, NULL, 0), GP_EINVALID);
    assert_int_equal(gp_pubkey_from_blob(&k, data, 3), GP_EINVALID);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(gp_keytype_name(GP_KEY_ECDSA_P521), "ecdsa-sha2-nistp521");
    assert_string_equal(gp_keytype_name(GP_KEY_SK_ECDSA_P256),
                        "sk-ecdsa-sha2-nistp256@openssh.com");
    assert_true(gp_keytype_is_ecdsa(GP_KEY_ECDSA_P384));
    assert_false(gp_keytype_is_ecdsa(GP_KEY_SK_ECDSA_P256));
    assert_false(gp_keytype_is_ecdsa(GP_KEY_ED25519));
    gp_pubkey_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_fingerprints),
        cmocka_unit_test(test_github_keys),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_options_and_comments),
        cmocka_unit_test(test_keylist),
        cmocka_unit_test(test_wire_readers),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
