/*
 * policy.c - the acceptance and validation rules (see policy.h and api.md, "A commit is
 * GPU-validated when...").
 */
#include "policy.h"
#include "error.h"
#include "buf.h"
#include "fingerprint.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct settings {
    json_t *allowed_signers;   /* array or NULL */
    json_t *required_node_ids;
    json_t *expected_skips;
    int allow_dirty;           /* -1 unset */
    int require_gpu;
    json_t *allowed_modes;
} settings;

struct policy {
    json_t *doc;
    bool accept_unknown;
    settings defaults;
};

static const char *const SETTING_KEYS[] = {"allowed_signers", "required_node_ids", "expected_skips",
                                           "allow_dirty", "require_gpu", "allowed_modes", NULL};

static int check_string_list(const json_t *v, const char *where, const char *key)
{
    if (!json_is_array(v))
        return gp_error_setf(GP_EINVALID, "policy: %s.%s must be a list of strings", where, key);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_string(e))
        return gp_error_setf(GP_EINVALID, "policy: %s.%s[%zu] must be a string", where, key, i);
    return 0;
}

static int read_settings(settings *out, json_t *obj, const char *where)
{
    memset(out, 0, sizeof(*out));
    out->allow_dirty = out->require_gpu = -1;
    if (!json_is_object(obj)) return gp_error_setf(GP_EINVALID, "policy: %s must be an object", where);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool known = false;
        for (size_t i = 0; SETTING_KEYS[i]; i++) known |= strcmp(k, SETTING_KEYS[i]) == 0;
        if (!known)
            return gp_error_setf(GP_EINVALID, "policy: unknown setting \"%s\" in %s (known: "
                                 "allowed_signers, required_node_ids, expected_skips, allow_dirty, "
                                 "require_gpu, allowed_modes)", k, where);
        int error;
        if (!strcmp(k, "allow_dirty") || !strcmp(k, "require_gpu")) {
            if (!json_is_boolean(v))
                return gp_error_setf(GP_EINVALID, "policy: %s.%s must be true or false", where, k);
            *(!strcmp(k, "allow_dirty") ? &out->allow_dirty : &out->require_gpu) = json_is_true(v);
            continue;
        }
        if ((error = check_string_list(v, where, k)) < 0) return error;
        if (!strcmp(k, "allowed_signers")) out->allowed_signers = v;
        else if (!strcmp(k, "required_node_ids")) out->required_node_ids = v;
        else if (!strcmp(k, "expected_skips")) out->expected_skips = v;
        else out->allowed_modes = v;
    }
    return 0;
}

int policy_load(policy **out, char **digest, const char *path)
{
    policy *p = calloc(1, sizeof(*p));
    char *text = NULL;
    size_t len = 0;
    int error = 0;
    *out = NULL;
    *digest = NULL;
    if (!p) return gp_error_setf(GP_ERROR, "out of memory");
    p->accept_unknown = true;
    p->defaults.allow_dirty = p->defaults.require_gpu = -1;
    char hex[GP_SHA256_HEX_LEN + 1] = "default";
    if (path) {
        if ((error = gp_read_file(&text, &len, path, 1 << 20)) < 0) goto fail;
        json_error_t je;
        if (!(p->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je))) {
            error = gp_error_setf(GP_EINVALID, "policy %s: line %d: %s", path, je.line, je.text);
            goto fail;
        }
        if (!json_is_object(p->doc)) {
            error = gp_error_setf(GP_EINVALID, "policy %s must be a JSON object", path);
            goto fail;
        }
        const char *k;
        json_t *v;
        json_object_foreach(p->doc, k, v) {
            if (!strcmp(k, "accept_unknown_repos")) {
                if (!json_is_boolean(v)) {
                    error = gp_error_setf(GP_EINVALID, "policy: accept_unknown_repos must be true or false");
                    goto fail;
                }
                p->accept_unknown = json_is_true(v);
            } else if (!strcmp(k, "defaults")) {
                if ((error = read_settings(&p->defaults, v, "defaults")) < 0) goto fail;
            } else if (!strcmp(k, "repos")) {
                if (!json_is_object(v)) {
                    error = gp_error_setf(GP_EINVALID, "policy: repos must be an object of \"owner/name\": {settings}");
                    goto fail;
                }
                const char *rk;
                json_t *rv;
                json_object_foreach(v, rk, rv) {
                    settings tmp;
                    char where[300];
                    snprintf(where, sizeof(where), "repos[\"%.200s\"]", rk);
                    if (!strchr(rk, '/')) {
                        error = gp_error_setf(GP_EINVALID, "policy: %s is not \"owner/name\"", where);
                        goto fail;
                    }
                    if ((error = read_settings(&tmp, rv, where)) < 0) goto fail;
                }
            } else {
                error = gp_error_setf(GP_EINVALID, "policy: unknown key \"%s\" (known: accept_unknown_repos, "
                                      "defaults, repos)", k);
                goto fail;
            }
        }
        gp_sha256_hex(hex, text, len);
    }
    if (!(*digest = strdup(hex))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto fail;
    }
    free(text);
    *out = p;
    return 0;
fail:
    free(text);
    policy_free(p);
    return error;
}

void policy_free(policy *p)
{
    if (!p) return;
    json_decref(p->doc);
    free(p);
}

/* Effective settings for a repository; *known tells whether the policy names it. */
static settings resolve(const policy *p, const char *repo, bool *known)
{
    settings s = p->defaults, r;
    *known = false;
    json_t *repos = p->doc ? json_object_get(p->doc, "repos") : NULL;
    json_t *obj = repo && repos ? json_object_get(repos, repo) : NULL;
    if (!obj) return s;
    *known = true;
    if (read_settings(&r, obj, "repo") < 0) return s; /* validated at load */
    if (r.allowed_signers) s.allowed_signers = r.allowed_signers;
    if (r.required_node_ids) s.required_node_ids = r.required_node_ids;
    if (r.expected_skips) s.expected_skips = r.expected_skips;
    if (r.allow_dirty >= 0) s.allow_dirty = r.allow_dirty;
    if (r.require_gpu >= 0) s.require_gpu = r.require_gpu;
    if (r.allowed_modes) s.allowed_modes = r.allowed_modes;
    return s;
}

static bool list_has(const json_t *list, const char *s)
{
    size_t i;
    json_t *e;
    if (!s) return false;
    json_array_foreach(list, i, e) if (!strcmp(json_string_value(e), s)) return true;
    return false;
}

bool policy_accepts(const policy *p, const char *repo, const char *signer, char *why, size_t whylen)
{
    bool known;
    settings s = resolve(p, repo, &known);
    if (!known && !p->accept_unknown) {
        if (repo) snprintf(why, whylen, "this server does not accept receipts for repository %s", repo);
        else snprintf(why, whylen, "this server only accepts receipts whose remote_url is a GitHub "
                                   "repository it knows");
        return false;
    }
    if (signer && s.allowed_signers && !list_has(s.allowed_signers, signer)) {
        snprintf(why, whylen, "signer %s is not allowed for %s", signer, repo ? repo : "this repository");
        return false;
    }
    return true;
}

bool repo_name_valid(const char *repo)
{
    const char *slash = repo ? strchr(repo, '/') : NULL;
    if (!slash || slash == repo || !slash[1] || strchr(slash + 1, '/') || strlen(repo) > 200) return false;
    if (!strcmp(slash + 1, ".") || !strcmp(slash + 1, "..") || repo[0] == '.') return false;
    for (const char *c = repo; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.' || *c == '/'))
            return false;
    return true;
}

static void addf(json_t *reasons, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(json_t *reasons, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_array_append_new(reasons, json_vsprintf(fmt, ap));
    va_end(ap);
}

/* "a, b and 3 more" of the node ids with an outcome, bounded. */
static void list_ids(char *out, size_t outlen, const gp_receipt *r, gp_outcome o)
{
    size_t shown = 0, total = 0, used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->ntests; i++) {
        if (r->tests[i].outcome != o) continue;
        total++;
        if (shown < 3 && used < outlen / 2) {
            int n = snprintf(out + used, outlen - used, "%s%.200s", shown ? ", " : "", r->tests[i].node_id);
            if (n > 0) used += (size_t)n < outlen - used ? (size_t)n : outlen - used - 1;
            shown++;
        }
    }
    if (total > shown && used < outlen) snprintf(out + used, outlen - used, " and %zu more", total - shown);
}

static const gp_test *find_test(const gp_receipt *r, const char *id)
{
    for (size_t i = 0; i < r->ntests; i++)
        if (!strcmp(r->tests[i].node_id, id)) return &r->tests[i];
    return NULL;
}

bool policy_evaluate(const policy *p, const gp_receipt *r, const char *repo, const char *signer,
                     const char *mirrors, json_t *reasons)
{
    bool known;
    settings s = resolve(p, repo, &known);
    size_t before = json_array_size(reasons);
    char ids[800];

    if (s.allowed_signers && !list_has(s.allowed_signers, signer))
        addf(reasons, "signer %s is not allowed for %s", signer, repo ? repo : "this repository");
    if (r->dirty && s.allow_dirty != 1)
        addf(reasons, "the tree was dirty: the tested code was not the commit");
    if (r->ntests == 0) addf(reasons, "no tests ran");
    if (r->failed) {
        list_ids(ids, sizeof(ids), r, GP_OUTCOME_FAILED);
        addf(reasons, "%zu test%s failed: %s", r->failed, r->failed == 1 ? "" : "s", ids);
    }
    if (s.expected_skips) {
        size_t i;
        json_t *e;
        for (size_t t = 0; t < r->ntests; t++)
            if (r->tests[t].outcome == GP_OUTCOME_SKIPPED && !list_has(s.expected_skips, r->tests[t].node_id))
                addf(reasons, "test %.200s was skipped, and it is not in the expected skips", r->tests[t].node_id);
        json_array_foreach(s.expected_skips, i, e) {
            const gp_test *t = find_test(r, json_string_value(e));
            if (!t || t->outcome != GP_OUTCOME_SKIPPED)
                addf(reasons, "expected skip %.200s was not skipped", json_string_value(e));
        }
    } else if (r->skipped) {
        list_ids(ids, sizeof(ids), r, GP_OUTCOME_SKIPPED);
        addf(reasons, "%zu test%s skipped: %s", r->skipped, r->skipped == 1 ? "" : "s", ids);
    }
    if (s.required_node_ids) {
        size_t i;
        json_t *e;
        json_array_foreach(s.required_node_ids, i, e) {
            const gp_test *t = find_test(r, json_string_value(e));
            if (!t) addf(reasons, "required test %.200s did not run", json_string_value(e));
            else if (t->outcome != GP_OUTCOME_PASSED)
                addf(reasons, "required test %.200s did not pass (%s)", json_string_value(e),
                     gp_outcome_name(t->outcome));
        }
    }
    if (s.require_gpu == 1) {
        bool gpu = (r->gpus && gp_json_size(r->gpus) > 0) || r->gpu_info;
        if (!gpu) addf(reasons, "no GPU information");
    }
    if (s.allowed_modes && !list_has(s.allowed_modes, r->mode))
        addf(reasons, "mode %.40s is not allowed for %s", r->mode ? r->mode : "(none)",
             repo ? repo : "this repository");
    if (mirrors && repo && !r->dirty && repo_name_valid(repo)) {
        char dir[4096];
        struct stat stt;
        snprintf(dir, sizeof(dir), "%s/%s.git", mirrors, repo);
        if (stat(dir, &stt) == 0 && S_ISDIR(stt.st_mode)) {
            gp_fingerprint fp;
            int e = gp_fingerprint_commit(&fp, dir, r->commit_sha, r->fp_paths, r->fp_npaths);
            if (e == GP_ENOTFOUND)
                addf(reasons, "commit %s is not in the mirror of %s: its code fingerprint could not be checked",
                     r->commit_sha, repo);
            else if (e < 0)
                addf(reasons, "the code fingerprint could not be recomputed from the mirror of %s: %.200s",
                     repo, gp_error_last());
            else if (strcasecmp(fp.digest, r->fp_digest) != 0 || (int64_t)fp.file_count != r->fp_file_count)
                addf(reasons, "the code fingerprint does not match commit %s of %s: the tested code was "
                     "not the commit", r->commit_sha, repo);
        }
    }
    return json_array_size(reasons) == before;
}
