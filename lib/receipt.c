/*
 * receipt.c - the schema-v1 receipt: strict parse, validation, canonical bytes and id.
 *
 * The rules are receipt-v1.md's "Shape" and "Decisions": the fields it names must have the types
 * it gives them, everything else is free-form (and still covered by the signature). Each refusal
 * is GP_EINVALID with a one-line message that starts with the field's path, e.g.
 * `tests[3].outcome: expected "passed", "failed" or "skipped"`. The receipt's strings point into
 * its parsed tree (r->doc) and live as long as the receipt.
 */
#include "receipt.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *gp_outcome_name(gp_outcome o)
{
    switch (o) {
    case GP_OUTCOME_PASSED: return "passed";
    case GP_OUTCOME_FAILED: return "failed";
    case GP_OUTCOME_SKIPPED: return "skipped";
    }
    return "unknown";
}

static const char *type_name(const gp_json *v)
{
    switch (gp_json_typeof(v)) {
    case GP_JSON_NULL: return "null";
    case GP_JSON_TRUE:
    case GP_JSON_FALSE: return "a boolean";
    case GP_JSON_INT: return "an integer";
    case GP_JSON_REAL: return "a number";
    case GP_JSON_STRING: return "a string";
    case GP_JSON_ARRAY: return "a list";
    case GP_JSON_OBJECT: return "an object";
    }
    return "a value";
}

static int bad(const char *field, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gp_error_setf(GP_EINVALID, "%s: %s", field, msg);
}

/* A string without embedded NULs (the struct hands out C strings). */
static int want_string(const char **out, const gp_json *v, const char *field)
{
    size_t len;
    const char *s = gp_json_string(v, &len);
    if (!s) return bad(field, "expected a string, got %s", v ? type_name(v) : "nothing");
    if (strlen(s) != len) return bad(field, "must not contain a NUL character");
    *out = s;
    return 0;
}

/* Absent or null leaves *out NULL; otherwise a string. */
static int opt_string(const char **out, const gp_json *v, const char *field, bool null_ok)
{
    *out = NULL;
    if (!v) return 0;
    if (gp_json_typeof(v) == GP_JSON_NULL) {
        if (null_ok) return 0;
        return bad(field, "expected a string, got null");
    }
    if (gp_json_typeof(v) != GP_JSON_STRING)
        return bad(field, "expected a string%s, got %s", null_ok ? " or null" : "", type_name(v));
    return want_string(out, v, field);
}

static int want_object(const gp_json *v, const char *field)
{
    if (gp_json_typeof(v) != GP_JSON_OBJECT || !v)
        return bad(field, "expected an object, got %s", v ? type_name(v) : "nothing");
    return 0;
}

static int string_list(const char ***out, size_t *n, const gp_json *v, const char *field)
{
    int error;
    char name[96];
    if (gp_json_typeof(v) != GP_JSON_ARRAY) return bad(field, "expected a list of strings, got %s", type_name(v));
    size_t count = gp_json_size(v);
    const char **list = NULL;
    if (out && count && !(list = calloc(count, sizeof(*list)))) return gp_error_setf(GP_ERROR, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const char *s = NULL;
        snprintf(name, sizeof(name), "%s[%zu]", field, i);
        if ((error = want_string(&s, gp_json_at(v, i), name)) < 0) {
            free(list);
            return error;
        }
        if (list) list[i] = s;
    }
    if (out) {
        *out = list;
        *n = count;
    }
    return 0;
}

static bool is_commit(const char *s)
{
    return gp_is_hex(s, 40) || gp_is_hex(s, 64);
}

static int check_repo(gp_receipt *r, const gp_json *repo, unsigned flags)
{
    int error;
    if ((error = want_object(repo, "repo")) < 0) return error;
    if ((error = opt_string(&r->remote_url, gp_json_get(repo, "remote_url"), "repo.remote_url", true)) < 0 ||
        (error = opt_string(&r->github_username, gp_json_get(repo, "github_username"), "repo.github_username", true)) < 0 ||
        (error = opt_string(&r->branch, gp_json_get(repo, "branch"), "repo.branch", true)) < 0)
        return error;

    const gp_json *sha = gp_json_get(repo, "commit_sha");
    if (!sha || gp_json_typeof(sha) == GP_JSON_NULL) {
        if (flags & GP_RECEIPT_REQUIRE_COMMIT)
            return bad("repo.commit_sha", "a commit is required (expected 40 or 64 hex digits)");
        r->commit_sha = NULL;
    } else {
        const char *s = gp_json_string(sha, NULL);
        if (!s || !is_commit(s)) return bad("repo.commit_sha", "expected 40 or 64 hex digits");
        r->commit_sha = s;
    }

    const gp_json *dirty = gp_json_get(repo, "dirty");
    if (gp_json_typeof(dirty) != GP_JSON_TRUE && gp_json_typeof(dirty) != GP_JSON_FALSE)
        return bad("repo.dirty", "expected a boolean, got %s", dirty ? type_name(dirty) : "nothing");
    r->dirty = gp_json_typeof(dirty) == GP_JSON_TRUE;
    return 0;
}

static int check_fingerprint(gp_receipt *r, const gp_json *fp)
{
    int error;
    if ((error = want_object(fp, "fingerprint")) < 0) return error;
    if ((error = opt_string(&r->fp_algorithm, gp_json_get(fp, "algorithm"), "fingerprint.algorithm", false)) < 0)
        return error;
    const gp_json *digest = gp_json_get(fp, "digest");
    const char *d = gp_json_string(digest, NULL);
    if (!d || !gp_is_hex(d, 64)) return bad("fingerprint.digest", "expected 64 hex digits");
    r->fp_digest = d;

    const gp_json *count = gp_json_get(fp, "file_count");
    if (count) {
        int64_t n;
        if (gp_json_typeof(count) != GP_JSON_INT)
            return bad("fingerprint.file_count", "expected an integer, got %s", type_name(count));
        if (gp_json_int64(count, &n) < 0 || n < 0)
            return bad("fingerprint.file_count", "expected a non-negative 64-bit integer");
        r->fp_file_count = n;
    }
    const gp_json *paths = gp_json_get(fp, "included_paths");
    if (paths && (error = string_list(&r->fp_paths, &r->fp_npaths, paths, "fingerprint.included_paths")) < 0)
        return error;
    return 0;
}

static int check_session(gp_receipt *r, const gp_json *session)
{
    int error;
    if ((error = want_object(session, "session")) < 0) return error;
    static const char *const names[] = {"started_at", "ended_at"};
    for (int i = 0; i < 2; i++) {
        char field[32];
        snprintf(field, sizeof(field), "session.%s", names[i]);
        const char *s = gp_json_string(gp_json_get(session, names[i]), NULL);
        time_t t;
        if (!s || gp_time_parse(&t, s) < 0) return bad(field, "expected a UTC time as YYYY-MM-DDTHH:MM:SSZ");
        if (i == 0) r->started_at = s, r->started = t;
        else r->ended_at = s, r->ended = t;
    }
    const gp_json *ids = gp_json_get(session, "node_ids");
    if (ids && (error = string_list(NULL, NULL, ids, "session.node_ids")) < 0) return error;
    return 0;
}

static int check_tests(gp_receipt *r, const gp_json *tests)
{
    int error;
    char field[64];
    if (gp_json_typeof(tests) != GP_JSON_ARRAY || !tests)
        return bad("tests", "expected a list of test objects, got %s", tests ? type_name(tests) : "nothing");
    size_t n = gp_json_size(tests);
    if (n && !(r->tests = calloc(n, sizeof(*r->tests)))) return gp_error_setf(GP_ERROR, "out of memory");
    r->ntests = n;
    for (size_t i = 0; i < n; i++) {
        const gp_json *t = gp_json_at(tests, i);
        gp_test *out = &r->tests[i];
        snprintf(field, sizeof(field), "tests[%zu]", i);
        if ((error = want_object(t, field)) < 0) return error;
        out->json = t;

        snprintf(field, sizeof(field), "tests[%zu].node_id", i);
        if ((error = want_string(&out->node_id, gp_json_get(t, "node_id"), field)) < 0) return error;

        snprintf(field, sizeof(field), "tests[%zu].outcome", i);
        const char *o = gp_json_string(gp_json_get(t, "outcome"), NULL);
        if (o && strcmp(o, "passed") == 0) out->outcome = GP_OUTCOME_PASSED, r->passed++;
        else if (o && strcmp(o, "failed") == 0) out->outcome = GP_OUTCOME_FAILED, r->failed++;
        else if (o && strcmp(o, "skipped") == 0) out->outcome = GP_OUTCOME_SKIPPED, r->skipped++;
        else return bad(field, "expected \"passed\", \"failed\" or \"skipped\"");

        const gp_json *dur = gp_json_get(t, "duration_s");
        if (dur) {
            snprintf(field, sizeof(field), "tests[%zu].duration_s", i);
            if (!gp_json_is_number(dur)) return bad(field, "expected a number, got %s", type_name(dur));
            out->duration_s = gp_json_double(dur);
        }
    }
    return 0;
}

static int check_environment(gp_receipt *r, const gp_json *env)
{
    int error;
    if ((error = want_object(env, "environment")) < 0) return error;
    r->environment = env;
    const gp_json *gi = gp_json_get(env, "gpu_info");
    if (gi && gp_json_typeof(gi) != GP_JSON_NULL && gp_json_typeof(gi) != GP_JSON_OBJECT)
        return bad("environment.gpu_info", "expected an object or null, got %s", type_name(gi));
    r->gpu_info = gp_json_typeof(gi) == GP_JSON_OBJECT ? gi : NULL;
    const gp_json *gpus = gp_json_get(env, "gpus");
    if (gpus) {
        if (gp_json_typeof(gpus) != GP_JSON_ARRAY)
            return bad("environment.gpus", "expected a list of objects, got %s", type_name(gpus));
        for (size_t i = 0; i < gp_json_size(gpus); i++) {
            char field[48];
            snprintf(field, sizeof(field), "environment.gpus[%zu]", i);
            if ((error = want_object(gp_json_at(gpus, i), field)) < 0) return error;
        }
        r->gpus = gpus;
    }
    return 0;
}

static int check_signature(gp_receipt *r, const gp_json *sig)
{
    int error;
    if (!sig || gp_json_typeof(sig) == GP_JSON_NULL) return 0; /* unsigned */
    if (gp_json_typeof(sig) != GP_JSON_OBJECT)
        return bad("signature", "expected an object or null, got %s", type_name(sig));

    const gp_json *value = gp_json_get(sig, "value");
    if (value && gp_json_typeof(value) != GP_JSON_NULL && gp_json_typeof(value) != GP_JSON_STRING)
        return bad("signature.value", "expected a base64 string, got %s", type_name(value));
    size_t vlen = 0;
    const char *v = gp_json_string(value, &vlen);
    if (!v || vlen == 0) return 0; /* no signature value: unsigned */

    const char *alg = NULL;
    if ((error = want_string(&alg, gp_json_get(sig, "algorithm"), "signature.algorithm")) < 0) return error;
    if (strcmp(alg, "ed25519") != 0 && strcmp(alg, "ecdsa-sha256") != 0 && strcmp(alg, "rsa-pss-sha256") != 0 &&
        strcmp(alg, "sshsig") != 0)
        return bad("signature.algorithm", "expected \"ed25519\", \"ecdsa-sha256\", \"rsa-pss-sha256\" or \"sshsig\"");

    const gp_json *signer = gp_json_get(sig, "signer");
    const char *login = gp_json_string(signer, NULL);
    if (!login || !gp_login_valid(login))
        return bad("signature.signer", "expected a GitHub login (1-39 letters, digits or single hyphens, "
                                       "not starting or ending with a hyphen)");

    if ((error = opt_string(&r->sig_backend, gp_json_get(sig, "backend"), "signature.backend", true)) < 0 ||
        (error = opt_string(&r->sig_key_fingerprint, gp_json_get(sig, "key_fingerprint"),
                            "signature.key_fingerprint", true)) < 0 ||
        (error = opt_string(&r->sig_namespace, gp_json_get(sig, "namespace"), "signature.namespace", true)) < 0)
        return error;

    if (gp_base64_decode(&r->sig_value, &r->sig_len, v, vlen) < 0)
        return bad("signature.value", "expected padded standard base64 without whitespace");
    r->sig_algorithm = alg;
    r->sig_signer = login;
    r->signed_ = true;
    return 0;
}

static int validate(gp_receipt *r, unsigned flags)
{
    int error;
    const gp_json *doc = r->doc;
    if (gp_json_typeof(doc) != GP_JSON_OBJECT)
        return gp_error_setf(GP_EINVALID, "receipt: expected a JSON object, got %s", type_name(doc));

    const char *sv = gp_json_string(gp_json_get(doc, "schema_version"), NULL);
    if (!sv || strcmp(sv, "1") != 0) return bad("schema_version", "expected \"1\"");
    r->schema_version = sv;
    if ((error = opt_string(&r->mode, gp_json_get(doc, "mode"), "mode", false)) < 0) return error;

    if ((error = check_repo(r, gp_json_get(doc, "repo"), flags)) < 0 ||
        (error = check_fingerprint(r, gp_json_get(doc, "fingerprint"))) < 0 ||
        (error = check_session(r, gp_json_get(doc, "session"))) < 0 ||
        (error = check_tests(r, gp_json_get(doc, "tests"))) < 0 ||
        (error = check_environment(r, gp_json_get(doc, "environment"))) < 0 ||
        (error = check_signature(r, gp_json_get(doc, "signature"))) < 0)
        return error;
    return 0;
}

int gp_receipt_parse(gp_receipt **out, const char *buf, size_t len, unsigned flags)
{
    int error;
    gp_receipt *r = NULL;
    *out = NULL;
    if (!(r = calloc(1, sizeof(*r)))) return gp_error_setf(GP_ERROR, "out of memory");
    if ((error = gp_json_parse(&r->doc, buf, len)) < 0) goto done;
    if ((error = validate(r, flags)) < 0) goto done;
    if ((error = gp_json_canonical(&r->canonical, &r->canonical_len, r->doc, NULL)) < 0 ||
        (error = gp_json_canonical(&r->signed_bytes, &r->signed_len, r->doc, "signature")) < 0)
        goto done;
    gp_sha256_hex(r->id, r->canonical, r->canonical_len);
    *out = r;
    r = NULL;
done:
    gp_receipt_free(r);
    return error;
}

void gp_receipt_free(gp_receipt *r)
{
    if (!r) return;
    free(r->canonical);
    free(r->signed_bytes);
    free(r->tests);
    free(r->fp_paths);
    free(r->sig_value);
    gp_json_free(r->doc);
    free(r);
}

/* ---- GitHub remote URLs --------------------------------------------------------------------- */

static bool repo_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 100 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

int gp_github_repo_from_url(char *out, size_t outlen, const char *url)
{
    static const char *const prefixes[] = {"git@github.com:", "https://github.com/", "ssh://git@github.com/"};
    const char *rest = NULL;
    if (out && outlen) out[0] = '\0';
    if (!url) return gp_error_setf(GP_ENOTFOUND, "no remote URL");
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]) && !rest; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncasecmp(url, prefixes[i], n) == 0) rest = url + n;
    }
    if (!rest) return gp_error_setf(GP_ENOTFOUND, "not a GitHub repository URL");
    const char *slash = strchr(rest, '/');
    if (!slash) return gp_error_setf(GP_ENOTFOUND, "not a GitHub repository URL: expected owner/name");
    size_t olen = (size_t)(slash - rest);
    const char *name = slash + 1;
    size_t nlen = strlen(name);
    if (nlen >= 4 && strcmp(name + nlen - 4, ".git") == 0) nlen -= 4;
    char owner[40];
    if (olen == 0 || olen >= sizeof(owner)) return gp_error_setf(GP_ENOTFOUND, "not a GitHub repository URL: bad owner");
    memcpy(owner, rest, olen);
    owner[olen] = '\0';
    if (!gp_login_valid(owner)) return gp_error_setf(GP_ENOTFOUND, "not a GitHub repository URL: bad owner");
    if (!repo_name_ok(name, nlen))
        return gp_error_setf(GP_ENOTFOUND, "not a GitHub repository URL: bad repository name");
    if (!out || olen + 1 + nlen + 1 > outlen) return gp_error_setf(GP_ETOOBIG, "repository name too long");
    memcpy(out, owner, olen);
    out[olen] = '/';
    memcpy(out + olen + 1, name, nlen);
    out[olen + 1 + nlen] = '\0';
    return 0;
}
