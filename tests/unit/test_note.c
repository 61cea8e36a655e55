/*
 * test_note.c - C2SP signed notes and checkpoints: the C2SP known answer, unknown and extra
 * signatures, bad key ids, tampering, malformed notes, sign/verify round trips, checkpoint text,
 * and the key file's creation mode and refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "note.h"
#include "util.h"

/* From C2SP signed-note.md (copied in ../shared/spec/ledger.md "A known answer"). */
static const char example_vkey[] =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
static const char example_text[] = "This is an example message.\n";
static const char example_sig[] = "\xe2\x80\x94 example.com/foo "
                                  "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYj"
                                  "OBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
static const char example_note[] = "This is an example message.\n"
                                   "\n"
                                   "\xe2\x80\x94 example.com/foo "
                                   "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsY"
                                   "jOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

static int verify_str(const char *note, const gp_note_signer *v)
{
    size_t tlen = 0;
    return gp_note_verify(note, strlen(note), v, &tlen);
}

static char *concat(const char *a, const char *b)
{
    char *s = NULL;
    assert_true(asprintf(&s, "%s%s", a, b) >= 0);
    return s;
}

static void test_c2sp_example(void **state)
{
    gp_note_signer v;
    char *back = NULL;
    size_t tlen = 0;
    assert_int_equal(gp_note_verifier_parse(&v, example_vkey), 0);
    assert_string_equal(v.name, "example.com/foo");
    assert_memory_equal(v.key_id, "\x53\x0d\x90\x3a", 4);
    assert_null(v.sk);
    assert_int_equal(gp_note_verify(example_note, strlen(example_note), &v, &tlen), 0);
    assert_int_equal(tlen, strlen(example_text));
    assert_memory_equal(example_note, example_text, tlen);
    assert_int_equal(gp_note_verifier_string(&back, &v), 0);
    assert_string_equal(back, example_vkey);
    free(back);
    /* A verifier cannot sign. */
    assert_int_equal(gp_note_sign(&back, "x\n", 2, &v), GP_EINVALID);
}

static void test_verifier_parse_errors(void **state)
{
    static const char *bad[] = {
        "",
        "example.com/foo",
        "example.com/foo+530d903a",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", /* wrong id */
        "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", /* other name */
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903x+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",  /* bad base64 */
        "example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=", /* alg 02 */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2kAAAA",
        "exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gp_note_signer v;
        int rc = gp_note_verifier_parse(&v, bad[i]);
        if (rc >= 0) fail_msg("accepted verifier key '%s'", bad[i]);
        assert_true(rc == GP_EINVALID || rc == GP_EUNSUPPORTED);
        assert_true(gp_error_last()[0] != '\0');
    }
}

static void test_unknown_extra_and_bad_ids(void **state)
{
    gp_note_signer v, other, same_name;
    char *signed_other = NULL, *note = NULL, *sigline = NULL;
    assert_int_equal(gp_note_verifier_parse(&v, example_vkey), 0);
    assert_int_equal(gp_note_keygen(&other, "other.example/log"), 0);
    assert_int_equal(gp_note_keygen(&same_name, "example.com/foo"), 0); /* same name, other key */

    /* Signed by another key only: not found. */
    assert_int_equal(gp_note_sign(&signed_other, example_text, strlen(example_text), &other), 0);
    assert_int_equal(verify_str(signed_other, &v), GP_ENOTFOUND);
    assert_int_equal(verify_str(signed_other, &other), 0);

    /* Extra signatures before and after the known one are ignored; each key finds its own. */
    sigline = signed_other + strlen(example_text) + 1;
    note = concat(example_note, sigline);
    assert_int_equal(verify_str(note, &v), 0);
    assert_int_equal(verify_str(note, &other), 0);
    free(note);
    char *tmp = concat(signed_other, example_sig);
    assert_int_equal(verify_str(tmp, &v), 0);
    assert_int_equal(verify_str(tmp, &other), 0);
    free(tmp);

    /* Same name, another key (so another key id): an unknown signature, not a bad one. */
    char *signed_same = NULL;
    assert_int_equal(gp_note_sign(&signed_same, example_text, strlen(example_text), &same_name), 0);
    assert_int_equal(verify_str(signed_same, &v), GP_ENOTFOUND);
    note = concat(signed_same, example_sig);
    assert_int_equal(verify_str(note, &v), 0);
    assert_int_equal(verify_str(note, &same_name), 0);
    free(note);
    free(signed_same);

    /* v's name and id on a signature made by another key: a bad signature. */
    char forged[256];
    snprintf(forged, sizeof(forged),
             "%s\n\xe2\x80\x94 example.com/foo "
             "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72"
             "IneyaQQ=\n", /* last signature byte changed */
             example_text);
    assert_int_equal(verify_str(forged, &v), GP_EBADSIG);
    /* ... and a bad one rejects the note even next to a good one. */
    note = concat(example_note, forged + strlen(example_text) + 1);
    assert_int_equal(verify_str(note, &v), GP_EBADSIG);
    free(note);
    /* v's name and id with a signature of the wrong length: bad. */
    snprintf(forged, sizeof(forged), "%s\n\xe2\x80\x94 example.com/foo Uw2QOgA=\n", example_text);
    assert_int_equal(verify_str(forged, &v), GP_EBADSIG);
    /* Another key id under v's name: unknown. */
    snprintf(forged, sizeof(forged),
             "%s\n\xe2\x80\x94 example.com/foo "
             "Uw2QOwn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72"
             "IneyaQM=\n",
             example_text);
    assert_int_equal(verify_str(forged, &v), GP_ENOTFOUND);

    free(signed_other);
    gp_note_signer_clear(&other);
    gp_note_signer_clear(&same_name);
}

static void test_tampered(void **state)
{
    gp_note_signer v;
    assert_int_equal(gp_note_verifier_parse(&v, example_vkey), 0);
    char *note = strdup(example_note);
    assert_non_null(note);
    for (size_t i = 0; i + 1 < strlen(example_text); i++) {
        char c = note[i];
        note[i] = c == 'x' ? 'y' : 'x';
        assert_int_equal(verify_str(note, &v), GP_EBADSIG);
        note[i] = c;
    }
    assert_int_equal(verify_str(note, &v), 0);
    /* An extra text line, or one taken away. */
    char *more = concat("Another line.\n", example_note);
    assert_int_equal(verify_str(more, &v), GP_EBADSIG);
    free(more);
    free(note);
}

static void test_malformed(void **state)
{
    gp_note_signer v;
    assert_int_equal(gp_note_verifier_parse(&v, example_vkey), 0);
    const char *b64 = "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuw"
                      "HjG1Yu72IneyaQM=";
    char buf[512];
    static const struct {
        const char *fmt; /* %s = the example's base64 */
    } cases[] = {
        {"This is an example message.\n\xe2\x80\x94 example.com/foo %s\n"}, /* no blank line */
        {"This is an example message.\n\n"},                                /* no signatures */
        {"This is an example message.\n\n\xe2\x80\x94 example.com/foo %s"}, /* no final \n */
        {"This is an example message.\n\n-- example.com/foo %s\n"},         /* not an em dash */
        {"This is an example message.\n\n\xe2\x80\x94"
         "example.com/foo %s\n"},                                              /* no space */
        {"This is an example message.\n\n\xe2\x80\x94 example.com/foo  %s\n"}, /* two spaces */
        {"This is an example message.\n\n\xe2\x80\x94 example.com/foo %s \n"}, /* trailing space */
        {"This is an example message.\n\n\xe2\x80\x94 example.com/foo\n"},     /* no signature */
        {"This is an example message.\n\n\xe2\x80\x94 example.com/foo Uw2QOg==\n"}, /* < 5 bytes */
        {"This is an example message.\n\n\xe2\x80\x94 example.com/foo %s!\n"},      /* bad base64 */
        {"This is an example message.\n\n\xe2\x80\x94 exa+mple %s\n"},           /* '+' in name */
        {"This is an example message.\n\n\xe2\x80\x94  %s\n"},                   /* empty name */
        {"This is an example message.\n\n\xe2\x80\x94 example.com/foo %s\n\n"},  /* blank at end */
        {"\n\n\xe2\x80\x94 example.com/foo %s\n"},                               /* empty text */
        {"This is\n\nan example message.\n\n\xe2\x80\x94 example.com/foo %s\n"}, /* blank in text */
        {"This is an\texample message.\n\n\xe2\x80\x94 example.com/foo %s\n"},   /* control char */
        {"This is an example message.\r\n\n\xe2\x80\x94 example.com/foo %s\n"},  /* CR */
        {"This is an \xff example.\n\n\xe2\x80\x94 example.com/foo %s\n"},       /* not UTF-8 */
        {"This is an \xc0\xaf example.\n\n\xe2\x80\x94 example.com/foo %s\n"},   /* overlong */
        {"This is an \xed\xa0\x80 example.\n\n\xe2\x80\x94 example.com/foo %s\n"}, /* surrogate */
        {"This is an example message.\n\n\xe2\x80\x94 example.com/foo %s\ngarbage\n"},
        {"This is an example message.\n\n\xe2\x80\x94 ex\xc2\xa0mple %s\n"}, /* NBSP in name */
        {""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(buf, sizeof(buf), cases[i].fmt, b64);
        int rc = verify_str(buf, &v);
        if (rc != GP_EINVALID) fail_msg("case %zu: got %d for %s", i, rc, buf);
    }
    /* An embedded NUL. */
    static const char nul[] = "This is an example\0 message.\n\n\xe2\x80\x94 example.com/foo X\n";
    assert_int_equal(gp_note_verify(nul, sizeof(nul) - 1, &v, NULL), GP_EINVALID);

    /* At most 100 signature lines: 99 unknown ones and the example still verify; 100 do not. */
    gp_note_signer other;
    char *one = NULL;
    assert_int_equal(gp_note_keygen(&other, "other.example/log"), 0);
    assert_int_equal(gp_note_sign(&one, example_text, strlen(example_text), &other), 0);
    const char *line = one + strlen(example_text) + 1;
    size_t ll = strlen(line), cap = strlen(example_note) + 100 * ll + 1;
    char *big = malloc(cap);
    assert_non_null(big);
    strcpy(big, example_note);
    for (int i = 0; i < 99; i++)
        strcat(big, line);
    assert_int_equal(verify_str(big, &v), 0);
    strcat(big, line);
    assert_int_equal(verify_str(big, &v), GP_EINVALID);
    free(big);
    free(one);
    gp_note_signer_clear(&other);
}

/* Every truncation and every single-byte change of the example is refused, and never read
 * beyond its length (the copies are not NUL-terminated; ASan watches). */
static void test_every_mutation(void **state)
{
    gp_note_signer v;
    size_t n = strlen(example_note);
    assert_int_equal(gp_note_verifier_parse(&v, example_vkey), 0);
    for (size_t len = 0; len < n; len++) {
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, example_note, len);
        assert_true(gp_note_verify(copy, len, &v, NULL) < 0);
        free(copy);
    }
    static const unsigned char subst[] = {0x00, '\n', ' ', 'A', '+', 0x80, 0xff, 0xe2};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof(subst); k++) {
            if ((unsigned char)example_note[i] == subst[k]) continue;
            char *copy = malloc(n);
            assert_non_null(copy);
            memcpy(copy, example_note, n);
            copy[i] = (char)subst[k];
            int rc = gp_note_verify(copy, n, &v, NULL);
            if (rc == 0) fail_msg("byte %zu changed to 0x%02x still verifies", i, subst[k]);
            free(copy);
        }
}

static void test_sign_round_trip(void **state)
{
    gp_note_signer s, v;
    char *vkey = NULL, *note = NULL;
    size_t tlen = 0;
    static const char text[] = "gpuproof.example.com/ledger\n42\n"
                               "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    assert_int_equal(gp_note_keygen(&s, "gpuproof.example.com/ledger"), 0);
    assert_non_null(s.sk);
    assert_int_equal(gp_note_verifier_string(&vkey, &s), 0);
    assert_int_equal(strncmp(vkey, "gpuproof.example.com/ledger+", 28), 0);
    assert_int_equal(gp_note_verifier_parse(&v, vkey), 0);
    assert_memory_equal(v.pk, s.pk, 32);
    assert_memory_equal(v.key_id, s.key_id, 4);
    assert_int_equal(gp_note_sign(&note, text, strlen(text), &s), 0);
    assert_int_equal(strncmp(note, text, strlen(text)), 0);
    assert_int_equal(note[strlen(text)], '\n');
    assert_int_equal(gp_note_verify(note, strlen(note), &v, &tlen), 0);
    assert_int_equal(tlen, strlen(text));
    free(note);
    /* Texts a note cannot carry. */
    static const char *bad[] = {"", "no newline", "\n", "a\n\nb\n", "tab\there\n", "\xff\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gp_note_sign(&note, bad[i], strlen(bad[i]), &s), GP_EINVALID);
    /* Names a key cannot have. */
    gp_note_signer t;
    assert_int_equal(gp_note_keygen(&t, "has space"), GP_EINVALID);
    assert_int_equal(gp_note_keygen(&t, "has+plus"), GP_EINVALID);
    assert_int_equal(gp_note_keygen(&t, ""), GP_EINVALID);
    assert_null(t.sk);
    /* RFC 8032 test 1: the seed gives the known public key. */
    unsigned char seed[32], pk[32];
    assert_int_equal(
        gp_unhex(seed, 32, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", 64),
        0);
    assert_int_equal(
        gp_unhex(pk, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", 64),
        0);
    assert_int_equal(gp_note_signer_from_seed(&t, "rfc8032", seed), 0);
    assert_memory_equal(t.pk, pk, 32);
    gp_note_signer_clear(&t);
    assert_null(t.sk);
    gp_note_signer_clear(NULL);
    free(vkey);
    gp_note_signer_clear(&s);
}

static void test_checkpoint(void **state)
{
    gp_hash root, back;
    char *text = NULL, *origin = NULL;
    uint64_t size = 0;
    gp_sha256(root, "", 0);
    assert_int_equal(gp_checkpoint_text(&text, "localhost/gpuproof", 0, root), 0);
    assert_string_equal(text,
                        "localhost/gpuproof\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
    assert_int_equal(gp_checkpoint_parse(&origin, &size, back, text, strlen(text)), 0);
    assert_string_equal(origin, "localhost/gpuproof");
    assert_int_equal(size, 0);
    assert_memory_equal(back, root, GP_HASH_LEN);
    free(origin);
    free(text);
    assert_int_equal(gp_checkpoint_text(&text, "localhost/gpuproof", UINT64_MAX, root), 0);
    assert_int_equal(gp_checkpoint_parse(&origin, &size, back, text, strlen(text)), 0);
    assert_true(size == UINT64_MAX);
    free(origin);
    free(text);
    assert_int_equal(gp_checkpoint_text(&text, "bad origin", 1, root), GP_EINVALID);
    assert_int_equal(gp_checkpoint_text(&text, "bad+origin", 1, root), GP_EINVALID);

    /* Extension lines are allowed and ignored. */
    static const char ext[] = "o/x\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nextra line\n";
    assert_int_equal(gp_checkpoint_parse(&origin, &size, back, ext, strlen(ext)), 0);
    assert_int_equal(size, 7);
    free(origin);

    static const char *bad[] = {
        "o/x\n7\n",
        "o/x\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",    /* no final newline */
        "o/x\n07\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", /* leading zero */
        "o/x\n-7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o/x\n+7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o/x\n7 \n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o/x\n\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o/x\n18446744073709551616\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", /* 2^64 */
        "o/x\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF==\n",                    /* 31 bytes */
        "o/x\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n",                     /* unpadded */
        "o/x\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUAAAA=\n",
        "o x\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        origin = NULL;
        int rc = gp_checkpoint_parse(&origin, &size, back, bad[i], strlen(bad[i]));
        if (rc != GP_EINVALID) fail_msg("accepted checkpoint %zu: %s", i, bad[i]);
        assert_null(origin);
    }

    /* gp_checkpoint_open: signature, then the text, then origin == key name. */
    gp_note_signer s, wrong;
    char *note = NULL;
    assert_int_equal(gp_note_keygen(&s, "localhost/gpuproof"), 0);
    assert_int_equal(gp_checkpoint_text(&text, "localhost/gpuproof", 5, root), 0);
    assert_int_equal(gp_note_sign(&note, text, strlen(text), &s), 0);
    assert_int_equal(gp_checkpoint_open(&origin, &size, back, note, strlen(note), &s), 0);
    assert_string_equal(origin, "localhost/gpuproof");
    assert_int_equal(size, 5);
    free(origin);
    free(note);
    free(text);
    assert_int_equal(gp_note_keygen(&wrong, "elsewhere/log"), 0);
    assert_int_equal(gp_checkpoint_text(&text, "localhost/gpuproof", 5, root), 0);
    assert_int_equal(gp_note_sign(&note, text, strlen(text), &wrong), 0);
    assert_int_equal(gp_checkpoint_open(&origin, &size, back, note, strlen(note), &wrong),
                     GP_EINVALID);
    assert_int_equal(gp_checkpoint_open(&origin, &size, back, note, strlen(note), &s),
                     GP_ENOTFOUND);
    free(note);
    free(text);
    gp_note_signer_clear(&s);
    gp_note_signer_clear(&wrong);
}

static void test_key_file(void **state)
{
    char dir[] = "/tmp/gp-note-test-XXXXXX", path[256], link_path[256];
    gp_note_signer a, b;
    bool created = false;
    struct stat st;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ledger.key", dir);
    snprintf(link_path, sizeof(link_path), "%s/link.key", dir);

    mode_t old = umask(0); /* creation must not depend on the umask */
    assert_int_equal(gp_note_signer_load_or_create(&a, path, "localhost/gpuproof", &created), 0);
    umask(old);
    assert_true(created);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(gp_note_signer_load_or_create(&b, path, "localhost/gpuproof", &created), 0);
    assert_false(created);
    assert_memory_equal(a.pk, b.pk, 32);
    assert_memory_equal(a.key_id, b.key_id, 4);
    gp_note_signer_clear(&b);

    /* Readable by others: refused, with the fix in the message. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(gp_note_signer_load_or_create(&b, path, "localhost/gpuproof", &created),
                     GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "chmod 600"));
    assert_null(b.sk);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(gp_note_signer_load_or_create(&b, path, "localhost/gpuproof", NULL),
                     GP_EINVALID);
    assert_int_equal(chmod(path, 0600), 0);

    /* A symbolic link is not followed, neither to an existing key nor to a place to create one. */
    assert_int_equal(symlink(path, link_path), 0);
    assert_true(gp_note_signer_load_or_create(&b, link_path, "localhost/gpuproof", NULL) < 0);
    assert_int_equal(unlink(link_path), 0);
    char target[300];
    snprintf(target, sizeof(target), "%s/target.key", dir);
    assert_int_equal(symlink(target, link_path), 0);
    assert_true(gp_note_signer_load_or_create(&b, link_path, "localhost/gpuproof", NULL) < 0);
    assert_int_equal(access(target, F_OK), -1);
    assert_int_equal(unlink(link_path), 0);

    /* Not 32 bytes: refused. */
    FILE *f = fopen(link_path, "w");
    assert_non_null(f);
    fputs("short", f);
    fclose(f);
    assert_int_equal(chmod(link_path, 0600), 0);
    assert_int_equal(gp_note_signer_load_or_create(&b, link_path, "localhost/gpuproof", NULL),
                     GP_EINVALID);
    assert_int_equal(unlink(link_path), 0);

    /* A bad name is refused before the file is touched. */
    assert_int_equal(gp_note_signer_load_or_create(&b, link_path, "bad name", NULL), GP_EINVALID);
    assert_int_equal(access(link_path, F_OK), -1);

    gp_note_signer_clear(&a);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c2sp_example),
        cmocka_unit_test(test_verifier_parse_errors),
        cmocka_unit_test(test_unknown_extra_and_bad_ids),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_every_mutation),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
