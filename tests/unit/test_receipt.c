/*
 * test_receipt.c - schema-v1 receipts: every vector of the manifest, then one hand-made
 * malformed receipt per rule of receipt-v1.md (the message must name the field), then the
 * GitHub remote URL forms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "canonical.h"
#include "error.h"
#include "receipt.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *vectors_dir(void)
{
    const char *v = getenv("GP_VECTORS");
    return v && *v ? v : "tests/vectors/pytest-gpu-proof-v1";
}

static char *read_vector(const char *rel, size_t *len)
{
    char path[1024], *buf = NULL;
    snprintf(path, sizeof(path), "%s/%s", vectors_dir(), rel);
    if (gp_read_file(&buf, len, path, 1 << 24) != 0) {
        print_error("%s\n", gp_error_last());
        fail();
    }
    return buf;
}

static void check_vector(const json_t *vec)
{
    const char *file = json_string_value(json_object_get(vec, "file"));
    const char *expect = json_string_value(json_object_get(vec, "expect"));
    assert_non_null(file);
    assert_non_null(expect);
    const char *canon_sha = json_string_value(json_object_get(vec, "canonical_sha256"));
    const char *rid = json_string_value(json_object_get(vec, "receipt_id"));
    const char *commit = json_string_value(json_object_get(vec, "commit"));
    const char *signer = json_string_value(json_object_get(vec, "signer"));
    json_t *counts = json_object_get(vec, "tests");

    size_t len = 0, clen = 0;
    char *buf = read_vector(file, &len), *canon = NULL;
    char name[256], canon_rel[300];
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    snprintf(name, sizeof(name), "%s", base);
    if (strlen(name) > 5 && strcmp(name + strlen(name) - 5, ".json") == 0) name[strlen(name) - 5] = '\0';
    snprintf(canon_rel, sizeof(canon_rel), "canonical/%s.canon", name);

    gp_receipt *r = NULL;
    if (strcmp(expect, "bad_request") == 0) {
        int rc1 = gp_receipt_parse(&r, buf, len, GP_RECEIPT_REQUIRE_COMMIT);
        assert_null(r);
        int rc2 = gp_receipt_parse(&r, buf, len, 0);
        assert_null(r);
        if (rc1 != GP_EINVALID || rc2 != GP_EINVALID) {
            print_error("%s: expected GP_EINVALID, got %d/%d\n", file, rc1, rc2);
            fail();
        }
        assert_true(strlen(gp_error_last()) > 0);
        /* Where Python could read it (not with a repeated key), the canonical bytes still match. */
        gp_json *doc = NULL;
        if (canon_sha && gp_json_parse(&doc, buf, len) == 0) {
            char *sb = NULL, hex[65];
            size_t sl;
            assert_int_equal(gp_json_canonical(&sb, &sl, doc, "signature"), 0);
            gp_sha256_hex(hex, sb, sl);
            assert_string_equal(hex, canon_sha);
            free(sb);
            gp_json_free(doc);
        }
        free(buf);
        return;
    }

    int rc = gp_receipt_parse(&r, buf, len, GP_RECEIPT_REQUIRE_COMMIT);
    if (rc != 0) {
        print_error("%s: %s\n", file, gp_error_last());
        fail();
    }
    canon = read_vector(canon_rel, &clen);
    if (r->signed_len != clen || memcmp(r->signed_bytes, canon, clen) != 0) {
        print_error("%s: signed bytes differ from %s\n", file, canon_rel);
        fail();
    }
    char hex[65];
    gp_sha256_hex(hex, r->signed_bytes, r->signed_len);
    assert_string_equal(hex, canon_sha);
    assert_string_equal(r->id, rid);
    gp_sha256_hex(hex, r->canonical, r->canonical_len);
    assert_string_equal(hex, rid);
    assert_int_equal(r->canonical[r->canonical_len], '\0');
    assert_int_equal(r->signed_bytes[r->signed_len], '\0');
    assert_null(strstr(r->signed_bytes, "\"signature\":"));

    assert_int_equal(r->passed, json_integer_value(json_object_get(counts, "passed")));
    assert_int_equal(r->failed, json_integer_value(json_object_get(counts, "failed")));
    assert_int_equal(r->skipped, json_integer_value(json_object_get(counts, "skipped")));
    assert_int_equal(r->ntests, r->passed + r->failed + r->skipped);
    if (commit) assert_string_equal(r->commit_sha, commit);

    if (strcmp(expect, "unsigned") == 0) {
        assert_false(r->signed_);
        assert_null(r->sig_value);
    } else {
        assert_true(r->signed_);
        assert_non_null(r->sig_algorithm);
        assert_true(r->sig_len > 0);
        if (signer) assert_string_equal(r->sig_signer, signer);
    }

    /* the same receipt without REQUIRE_COMMIT parses to the same bytes */
    gp_receipt *r2 = NULL;
    assert_int_equal(gp_receipt_parse(&r2, buf, len, 0), 0);
    assert_string_equal(r2->id, r->id);
    gp_receipt_free(r2);
    gp_receipt_free(r);
    free(canon);
    free(buf);
}

static void test_vectors(void **state)
{
    (void)state;
    size_t len;
    char *m = read_vector("manifest.json", &len);
    json_error_t jerr;
    json_t *man = json_loadb(m, len, 0, &jerr);
    assert_non_null(man);
    json_t *vecs = json_object_get(man, "vectors");
    assert_true(json_array_size(vecs) >= 20);
    size_t i, seen_bad = 0, seen_valid = 0, seen_unsigned = 0;
    json_t *vec;
    json_array_foreach(vecs, i, vec) {
        const char *expect = json_string_value(json_object_get(vec, "expect"));
        check_vector(vec);
        seen_bad += strcmp(expect, "bad_request") == 0;
        seen_valid += strcmp(expect, "valid") == 0;
        seen_unsigned += strcmp(expect, "unsigned") == 0;
    }
    assert_true(seen_bad >= 5 && seen_valid >= 5 && seen_unsigned >= 1);
    json_decref(man);
    free(m);
}

static void test_accessors(void **state)
{
    (void)state;
    size_t len;
    char *buf = read_vector("receipts/alice-failed-and-skipped.json", &len);
    gp_receipt *r = NULL;
    assert_int_equal(gp_receipt_parse(&r, buf, len, GP_RECEIPT_REQUIRE_COMMIT), 0);
    assert_string_equal(r->schema_version, "1");
    assert_string_equal(r->mode, "local");
    assert_string_equal(r->remote_url, "git@github.com:alice/gpukernels.git");
    assert_string_equal(r->github_username, "alice");
    assert_string_equal(r->branch, "main");
    assert_false(r->dirty);
    assert_string_equal(r->fp_algorithm, "sha256");
    assert_true(gp_is_hex(r->fp_digest, 64));
    assert_int_equal(r->fp_npaths, 2);
    assert_string_equal(r->fp_paths[0], "src");
    assert_string_equal(r->fp_paths[1], "tests");
    assert_true(r->fp_file_count > 0);
    assert_true(r->ended >= r->started && r->started > 1700000000);
    assert_int_equal(strlen(r->started_at), 20);
    assert_non_null(r->environment);
    assert_null(r->gpus);
    assert_string_equal(r->sig_algorithm, "ed25519");
    assert_string_equal(r->sig_backend, "ssh-local");
    assert_int_equal(r->sig_len, 64);
    assert_true(strncmp(r->sig_key_fingerprint, "SHA256:", 7) == 0);
    assert_null(r->sig_namespace);
    size_t failed = 0, skipped = 0;
    for (size_t i = 0; i < r->ntests; i++) {
        assert_non_null(r->tests[i].node_id);
        assert_int_equal(gp_json_typeof(r->tests[i].json), GP_JSON_OBJECT);
        assert_true(r->tests[i].duration_s >= 0);
        failed += r->tests[i].outcome == GP_OUTCOME_FAILED;
        skipped += r->tests[i].outcome == GP_OUTCOME_SKIPPED;
    }
    assert_int_equal(failed, 1);
    assert_int_equal(skipped, 1);
    assert_string_equal(gp_outcome_name(GP_OUTCOME_PASSED), "passed");
    assert_string_equal(gp_outcome_name(GP_OUTCOME_FAILED), "failed");
    assert_string_equal(gp_outcome_name(GP_OUTCOME_SKIPPED), "skipped");
    gp_receipt_free(r);
    gp_receipt_free(NULL);
    free(buf);

    buf = read_vector("receipts/tamper-gpu.json", &len);
    assert_int_equal(gp_receipt_parse(&r, buf, len, 0), 0);
    assert_non_null(r->gpu_info);
    assert_string_equal(gp_json_string(gp_json_get(r->gpu_info, "name"), NULL), "NVIDIA H100");
    gp_receipt_free(r);
    free(buf);
}

/* ---- hand-made malformed receipts ----------------------------------------------------------- */

/* Sets (or, with value NULL, deletes) the member at a path like "tests[3].outcome". */
static void mutate(json_t *root, const char *path, const char *value)
{
    char seg[128];
    json_t *cur = root, *val = NULL;
    const char *p = path;
    if (value) {
        json_error_t jerr;
        val = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!val) print_error("%s: %s\n", value, jerr.text);
        assert_non_null(val);
    }
    for (;;) {
        size_t n = strcspn(p, ".[");
        if (n) { /* object member */
            snprintf(seg, sizeof(seg), "%.*s", (int)n, p);
            p += n;
            if (*p == '\0') {
                if (val) json_object_set_new(cur, seg, val);
                else json_object_del(cur, seg);
                return;
            }
            cur = json_object_get(cur, seg);
        } else if (*p == '[') {
            char *end;
            size_t idx = strtoul(p + 1, &end, 10);
            assert_int_equal(*end, ']');
            p = end + 1;
            if (*p == '\0') {
                if (val) json_array_set_new(cur, idx, val);
                else json_array_remove(cur, idx);
                return;
            }
            cur = json_array_get(cur, idx);
        } else { /* '.' */
            p++;
        }
        assert_non_null(cur);
    }
}

struct mcase {
    const char *path;
    const char *value; /* JSON text; NULL deletes */
    unsigned flags;
    const char *msg; /* NULL: must parse */
};

static const struct mcase mcases[] = {
    {"schema_version", "\"2\"", 0, "schema_version: expected \"1\""},
    {"schema_version", "1", 0, "schema_version: expected \"1\""},
    {"schema_version", NULL, 0, "schema_version: expected \"1\""},
    {"mode", "5", 0, "mode: expected a string"},
    {"mode", NULL, 0, NULL},
    {"mode", "\"ci-gpu\"", 0, NULL},
    {"repo", "[]", 0, "repo: expected an object, got a list"},
    {"repo", NULL, 0, "repo: expected an object, got nothing"},
    {"repo.dirty", "\"false\"", 0, "repo.dirty: expected a boolean, got a string"},
    {"repo.dirty", "0", 0, "repo.dirty: expected a boolean"},
    {"repo.dirty", "null", 0, "repo.dirty: expected a boolean"},
    {"repo.dirty", NULL, 0, "repo.dirty: expected a boolean"},
    {"repo.dirty", "true", 0, NULL},
    {"repo.commit_sha", "\"2c6362308d6f0ac578fee055f120fa766638b97\"", 0, "repo.commit_sha: expected 40 or 64 hex digits"},
    {"repo.commit_sha", "\"2c6362308d6f0ac578fee055f120fa766638b970a\"", 0, "repo.commit_sha: expected 40 or 64 hex digits"},
    {"repo.commit_sha", "\"2c6362308d6f0ac578fee055f120fa766638b97g\"", 0, "repo.commit_sha: expected 40 or 64 hex digits"},
    {"repo.commit_sha", "\"\"", 0, "repo.commit_sha: expected 40 or 64 hex digits"},
    {"repo.commit_sha", "123", 0, "repo.commit_sha: expected 40 or 64 hex digits"},
    {"repo.commit_sha", "null", GP_RECEIPT_REQUIRE_COMMIT, "repo.commit_sha: a commit is required"},
    {"repo.commit_sha", NULL, GP_RECEIPT_REQUIRE_COMMIT, "repo.commit_sha: a commit is required"},
    {"repo.commit_sha", "null", 0, NULL},
    {"repo.commit_sha", NULL, 0, NULL},
    {"repo.commit_sha", "\"4f2b3c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829\"", GP_RECEIPT_REQUIRE_COMMIT, NULL},
    {"repo.branch", "1", 0, "repo.branch: expected a string or null, got an integer"},
    {"repo.branch", "null", 0, NULL},
    {"repo.remote_url", "{}", 0, "repo.remote_url: expected a string or null"},
    {"repo.remote_url", "null", 0, NULL},
    {"repo.github_username", "true", 0, "repo.github_username: expected a string or null"},
    {"repo.github_username", "\"a\\u0000b\"", 0, "repo.github_username: must not contain a NUL"},
    {"fingerprint", "\"x\"", 0, "fingerprint: expected an object"},
    {"fingerprint.digest", "\"abc\"", 0, "fingerprint.digest: expected 64 hex digits"},
    {"fingerprint.digest", NULL, 0, "fingerprint.digest: expected 64 hex digits"},
    {"fingerprint.digest", "\"zz8a8538ed17f8248ec487dce609085584e6bed9e3cba9938206f4065abcd056d\"", 0, "fingerprint.digest"},
    {"fingerprint.algorithm", "1", 0, "fingerprint.algorithm: expected a string"},
    {"fingerprint.file_count", "\"3\"", 0, "fingerprint.file_count: expected an integer"},
    {"fingerprint.file_count", "3.0", 0, "fingerprint.file_count: expected an integer"},
    {"fingerprint.file_count", "-1", 0, "fingerprint.file_count: expected a non-negative"},
    {"fingerprint.included_paths", "\"src\"", 0, "fingerprint.included_paths: expected a list of strings"},
    {"fingerprint.included_paths", "[\"src\",1]", 0, "fingerprint.included_paths[1]: expected a string"},
    {"fingerprint.included_paths", "[]", 0, NULL},
    {"session", "null", 0, "session: expected an object, got null"},
    {"session.started_at", "\"2026-11-28 17:22:02Z\"", 0, "session.started_at: expected a UTC time"},
    {"session.started_at", "\"2026-11-28T17:22:02\"", 0, "session.started_at: expected a UTC time"},
    {"session.started_at", "\"2026-11-28T17:22:02.5Z\"", 0, "session.started_at"},
    {"session.started_at", "\"2026-02-30T00:00:00Z\"", 0, "session.started_at"},
    {"session.started_at", "1764350522", 0, "session.started_at"},
    {"session.started_at", NULL, 0, "session.started_at"},
    {"session.ended_at", "\"2026-11-28T17:22:02+00:00\"", 0, "session.ended_at: expected a UTC time"},
    {"session.node_ids", "[1]", 0, "session.node_ids[0]: expected a string"},
    {"session.node_ids", "\"x\"", 0, "session.node_ids: expected a list of strings"},
    {"session.node_ids", "[]", 0, NULL},
    {"tests", "{}", 0, "tests: expected a list of test objects, got an object"},
    {"tests", NULL, 0, "tests: expected a list of test objects, got nothing"},
    {"tests", "[]", 0, NULL},
    {"tests[3]", "\"x\"", 0, "tests[3]: expected an object, got a string"},
    {"tests[3].outcome", "\"error\"", 0, "tests[3].outcome: expected \"passed\", \"failed\" or \"skipped\""},
    {"tests[3].outcome", "\"PASSED\"", 0, "tests[3].outcome: expected \"passed\", \"failed\" or \"skipped\""},
    {"tests[3].outcome", NULL, 0, "tests[3].outcome: expected"},
    {"tests[5].outcome", "true", 0, "tests[5].outcome: expected"},
    {"tests[2].node_id", "5", 0, "tests[2].node_id: expected a string, got an integer"},
    {"tests[2].node_id", NULL, 0, "tests[2].node_id: expected a string, got nothing"},
    {"tests[1].duration_s", "\"0.1\"", 0, "tests[1].duration_s: expected a number, got a string"},
    {"tests[1].duration_s", "null", 0, "tests[1].duration_s: expected a number, got null"},
    {"tests[1].duration_s", NULL, 0, NULL},
    {"tests[1].duration_s", "3", 0, NULL},
    {"tests[1].checks", "\"free-form\"", 0, NULL},
    {"environment", "[]", 0, "environment: expected an object"},
    {"environment", NULL, 0, "environment: expected an object"},
    {"environment.gpu_info", "\"H200\"", 0, "environment.gpu_info: expected an object or null"},
    {"environment.gpu_info", "{\"name\":\"NVIDIA H200\",\"driver_version\":\"580\",\"memory\":\"1 MiB\"}", 0, NULL},
    {"environment.gpus", "{}", 0, "environment.gpus: expected a list of objects"},
    {"environment.gpus", "[1]", 0, "environment.gpus[0]: expected an object"},
    {"environment.gpus", "[{\"name\":\"x\"}]", 0, NULL},
    {"environment.tool", "{\"name\":\"gpuproof\"}", 0, NULL},
    {"extra_field", "[1,{\"any\":null}]", 0, NULL},
    {"signature", "\"abc\"", 0, "signature: expected an object or null, got a string"},
    {"signature", "[]", 0, "signature: expected an object or null"},
    {"signature.algorithm", "\"ed448\"", 0, "signature.algorithm: expected \"ed25519\", \"ecdsa-sha256\", \"rsa-pss-sha256\" or \"sshsig\""},
    {"signature.algorithm", "\"ED25519\"", 0, "signature.algorithm: expected"},
    {"signature.algorithm", NULL, 0, "signature.algorithm: expected a string, got nothing"},
    {"signature.algorithm", "\"sshsig\"", 0, NULL},
    {"signature.algorithm", "\"ecdsa-sha256\"", 0, NULL},
    {"signature.algorithm", "\"rsa-pss-sha256\"", 0, NULL},
    {"signature.signer", "\"-alice\"", 0, "signature.signer: expected a GitHub login"},
    {"signature.signer", "\"alice-\"", 0, "signature.signer: expected a GitHub login"},
    {"signature.signer", "\"al--ice\"", 0, "signature.signer: expected a GitHub login"},
    {"signature.signer", "\"alice/../x\"", 0, "signature.signer: expected a GitHub login"},
    {"signature.signer", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", 0, "signature.signer: expected a GitHub login"},
    {"signature.signer", "\"\"", 0, "signature.signer"},
    {"signature.signer", "5", 0, "signature.signer"},
    {"signature.signer", NULL, 0, "signature.signer"},
    {"signature.signer", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", 0, NULL},
    {"signature.signer", "\"a-b\"", 0, NULL},
    {"signature.value", "\"not base64!\"", 0, "signature.value: expected padded standard base64"},
    {"signature.value", "\"AAAA\\n\"", 0, "signature.value: expected padded standard base64"},
    {"signature.value", "\"AA AA\"", 0, "signature.value"},
    {"signature.value", "\"AAA\"", 0, "signature.value"},
    {"signature.value", "\"AA==AA==\"", 0, "signature.value"},
    {"signature.value", "\"AA-_\"", 0, "signature.value"},
    {"signature.value", "12", 0, "signature.value: expected a base64 string, got an integer"},
    {"signature.value", "\"AAAA\"", 0, NULL},
    {"signature.backend", "3", 0, "signature.backend: expected a string or null"},
    {"signature.key_fingerprint", "[]", 0, "signature.key_fingerprint: expected a string or null"},
    {"signature.namespace", "1", 0, "signature.namespace: expected a string or null"},
};

static void test_malformed(void **state)
{
    (void)state;
    size_t len;
    char *base = read_vector("receipts/alice-ed25519-0-clean.json", &len);
    for (size_t i = 0; i < N(mcases); i++) {
        const struct mcase *c = &mcases[i];
        json_t *doc = json_loadb(base, len, 0, NULL);
        assert_non_null(doc);
        mutate(doc, c->path, c->value);
        char *text = json_dumps(doc, JSON_COMPACT);
        assert_non_null(text);
        gp_receipt *r = NULL;
        gp_error_clear();
        int rc = gp_receipt_parse(&r, text, strlen(text), c->flags);
        bool ok = c->msg ? rc == GP_EINVALID && r == NULL && strstr(gp_error_last(), c->msg) == gp_error_last()
                         : rc == 0 && r != NULL;
        if (!ok) {
            print_error("case %zu %s=%s: rc %d \"%s\", want %s\n", i, c->path, c->value ? c->value : "(deleted)",
                        rc, gp_error_last(), c->msg ? c->msg : "success");
            fail();
        }
        if (r && strcmp(c->path, "repo.commit_sha") == 0 && (!c->value || strcmp(c->value, "null") == 0))
            assert_null(r->commit_sha);
        if (r && strcmp(c->path, "environment.gpus") == 0) assert_non_null(r->gpus);
        if (r && strcmp(c->path, "tests") == 0) assert_int_equal(r->ntests, 0);
        if (r && strcmp(c->path, "tests[1].duration_s") == 0)
            assert_true(r->tests[1].duration_s == (c->value ? 3.0 : 0.0));
        gp_receipt_free(r);
        free(text);
        json_decref(doc);
    }
    free(base);
}

/* Values jansson cannot hold: integers past 64 bits, replaced in the text. */
static void test_big_values(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *msg;
    } cases[] = {
        {"\"file_count\":3", "\"file_count\":18446744073709551616", "fingerprint.file_count: expected a non-negative"},
        {"\"file_count\":3", "\"file_count\":30000000000", NULL},
        {"\"block\":256", "\"block\":184467440737095516160000", NULL},
        {"\"duration_s\":0.0002", "\"duration_s\":18446744073709551616", NULL},
        {"\"duration_s\":0.0002", "\"duration_s\":1e400", "invalid JSON at byte"},
    };
    size_t len;
    char *base = read_vector("receipts/variant-compact.json", &len);
    for (size_t i = 0; i < N(cases); i++) {
        const char *at = strstr(base, cases[i].from);
        assert_non_null(at);
        size_t fl = strlen(cases[i].from), tl = strlen(cases[i].to), pre = (size_t)(at - base);
        char *text = malloc(len - fl + tl + 1);
        assert_non_null(text);
        memcpy(text, base, pre);
        memcpy(text + pre, cases[i].to, tl);
        memcpy(text + pre + tl, at + fl, len - pre - fl);
        size_t tlen = len - fl + tl;
        text[tlen] = '\0';
        gp_receipt *r = NULL;
        int rc = gp_receipt_parse(&r, text, tlen, GP_RECEIPT_REQUIRE_COMMIT);
        if (cases[i].msg) {
            assert_int_equal(rc, GP_EINVALID);
            assert_non_null(strstr(gp_error_last(), cases[i].msg));
        } else {
            if (rc != 0) print_error("%s: %s\n", cases[i].to, gp_error_last());
            assert_int_equal(rc, 0);
            assert_non_null(strstr(r->canonical, cases[i].to));
        }
        gp_receipt_free(r);
        free(text);
    }
    free(base);
}

static void test_unsigned_forms(void **state)
{
    (void)state;
    static const struct {
        const char *path, *value;
    } forms[] = {
        {"signature", "null"},
        {"signature", NULL},
        {"signature.value", "\"\""},
        {"signature.value", "null"},
        {"signature.value", NULL},
    };
    size_t len;
    char *base = read_vector("receipts/alice-ed25519-0-clean.json", &len);
    for (size_t i = 0; i < N(forms); i++) {
        json_t *doc = json_loadb(base, len, 0, NULL);
        mutate(doc, forms[i].path, forms[i].value);
        char *text = json_dumps(doc, JSON_COMPACT);
        gp_receipt *r = NULL;
        assert_int_equal(gp_receipt_parse(&r, text, strlen(text), GP_RECEIPT_REQUIRE_COMMIT), 0);
        assert_false(r->signed_);
        assert_null(r->sig_value);
        assert_null(r->sig_signer);
        gp_receipt_free(r);
        free(text);
        json_decref(doc);
    }
    free(base);
}

static void test_not_a_receipt(void **state)
{
    (void)state;
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"[]", "receipt: expected a JSON object, got a list"},
        {"\"1\"", "receipt: expected a JSON object"},
        {"", "invalid JSON at byte 0: empty document"},
        {"{\"schema_version\":\"1\",", "invalid JSON at byte"},
        {"{\"schema_version\":\"1\",\"schema_version\":\"1\"}", "invalid JSON at byte 22: repeated key"},
        {"{\"schema_version\":NaN}", "NaN"},
        {"{\"x\":1e400}", "out of the range of a double"},
        {"\xef\xbb\xbf{}", "byte order mark"},
        {"{}", "schema_version: expected \"1\""},
    };
    for (size_t i = 0; i < N(cases); i++) {
        gp_receipt *r = NULL;
        assert_int_equal(gp_receipt_parse(&r, cases[i].in, strlen(cases[i].in), 0), GP_EINVALID);
        assert_null(r);
        if (!strstr(gp_error_last(), cases[i].msg)) {
            print_error("%s: \"%s\", want \"%s\"\n", cases[i].in, gp_error_last(), cases[i].msg);
            fail();
        }
    }
}

static void test_github_repo(void **state)
{
    (void)state;
    static const struct {
        const char *url, *want; /* want NULL: GP_ENOTFOUND */
    } cases[] = {
        {"git@github.com:alice/gpukernels.git", "alice/gpukernels"},
        {"git@github.com:alice/gpukernels", "alice/gpukernels"},
        {"https://github.com/alice/gpukernels", "alice/gpukernels"},
        {"https://github.com/alice/gpukernels.git", "alice/gpukernels"},
        {"ssh://git@github.com/alice/gpukernels.git", "alice/gpukernels"},
        {"ssh://git@github.com/alice/gpukernels", "alice/gpukernels"},
        {"https://github.com/Alice-B/GPU.Kernels_2.git", "Alice-B/GPU.Kernels_2"},
        {"https://GitHub.com/alice/x", "alice/x"},
        {"https://github.com/alice/x.git.git", "alice/x.git"},
        {"https://github.com/alice/gpukernels/", NULL},
        {"https://github.com/alice/gpukernels/tree/main", NULL},
        {"https://github.com/alice", NULL},
        {"https://github.com/alice/", NULL},
        {"https://github.com//x", NULL},
        {"https://github.com/-alice/x", NULL},
        {"https://github.com/alice/x?y=1", NULL},
        {"https://github.com/alice/x#frag", NULL},
        {"https://github.com/alice/..", NULL},
        {"https://github.com/alice/.git", NULL},
        {"https://github.com.evil.com/alice/x", NULL},
        {"https://evil.com/github.com/alice/x", NULL},
        {"https://user@github.com/alice/x", NULL},
        {"http://github.com/alice/x", NULL},
        {"https://gitlab.com/alice/x", NULL},
        {"git@gitlab.com:alice/x.git", NULL},
        {"git@github.com:alice/x/y.git", NULL},
        {"/srv/git/x.git", NULL},
        {"", NULL},
        {NULL, NULL},
    };
    char out[256];
    for (size_t i = 0; i < N(cases); i++) {
        int rc = gp_github_repo_from_url(out, sizeof(out), cases[i].url);
        if (cases[i].want) {
            if (rc != 0) {
                print_error("%s: %s\n", cases[i].url, gp_error_last());
                fail();
            }
            assert_string_equal(out, cases[i].want);
        } else if (rc != GP_ENOTFOUND) {
            print_error("%s: accepted as %s\n", cases[i].url ? cases[i].url : "(null)", out);
            fail();
        }
    }
    char small[8];
    assert_int_equal(gp_github_repo_from_url(small, sizeof(small), "https://github.com/alice/gpukernels"), GP_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),       cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_malformed),     cmocka_unit_test(test_big_values),
        cmocka_unit_test(test_unsigned_forms),
        cmocka_unit_test(test_not_a_receipt), cmocka_unit_test(test_github_repo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
