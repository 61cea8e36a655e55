/*
 * attest.c - GET /api/receipts/{id}/attestation: an in-toto Statement v1 with the test-result
 * predicate (https://in-toto.io/attestation/test-result/v0.1) about the receipt's commit, in a
 * DSSE envelope (lib/dsse.h) signed with the server's ledger Ed25519 key. Only verified
 * receipts are attested (404 otherwise).
 *
 * Statement:
 *   subject       [{"name": "git+https://github.com/OWNER/NAME@SHA" (else "git+REMOTE@SHA",
 *                   else SHA), "digest": {"gitCommit": SHA}}]
 *   predicate     {"result": "PASSED" (the receipt validates its commit) | "FAILED" (a test
 *                   failed) | "WARNED" (otherwise: skips, a dirty tree, a policy reason),
 *                  "configuration": [the receipt as a ResourceDescriptor: name "gpu-proof.json",
 *                   uri of its /raw bytes, digest sha256 of those bytes, annotations with the
 *                   receipt id, signer, key fingerprint, verified_at, ledger index and reasons],
 *                  "url": the commit's audit page, "passedTests", "warnedTests" (the skipped
 *                   ones), "failedTests": node ids}
 * The payload is compact JSON with sorted keys; the envelope's keyid is the ledger verifier key
 * string (GET /api/ledger/key), so a verifier holding the pinned key can match it exactly.
 */
#include "srv.h"
#include "attest.h"
#include "dsse.h"
#include "github.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define PREDICATE_TYPE "https://in-toto.io/attestation/test-result/v0.1"

typedef struct row {
    char *raw;
    size_t rawlen;
    char *status, *repo, *sha, *signer, *fp, *verified_at, *reasons;
    bool validates;
    bool has_index;
    int64_t index;
} row;

static void row_free(row *w)
{
    free(w->raw);
    free(w->status);
    free(w->repo);
    free(w->sha);
    free(w->signer);
    free(w->fp);
    free(w->verified_at);
    free(w->reasons);
}

static int load(srv *s, const char *id, row *w)
{
    store *rd = store_reader(s->db);
    int error = GP_ENOTFOUND;
    store_lock(rd);
    sqlite3_stmt *st = store_stmt(rd, "SELECT r.raw, r.status, r.repo, r.commit_sha, r.signer, "
                                      "r.key_fingerprint, r.verified_at, r.reasons, r.validates, "
                                      "l.idx FROM receipts r LEFT JOIN ledger_leaves l "
                                      "ON l.idx = r.leaf_idx WHERE r.id = ?");
    if (!st) {
        store_unlock(rd);
        return GP_ERROR;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        (void)store_col_blobdup(st, 0, &w->raw, &w->rawlen); /* NULL raw: checked below */
        w->status = store_col_strdup(st, 1);
        w->repo = store_col_strdup(st, 2);
        w->sha = store_col_strdup(st, 3);
        w->signer = store_col_strdup(st, 4);
        w->fp = store_col_strdup(st, 5);
        w->verified_at = store_col_strdup(st, 6);
        w->reasons = store_col_strdup(st, 7);
        w->validates = sqlite3_column_int(st, 8) != 0;
        w->has_index = sqlite3_column_type(st, 9) != SQLITE_NULL;
        w->index = sqlite3_column_int64(st, 9);
        error = w->raw && w->status && w->sha && w->signer
                    ? 0
                    : gp_error_setf(GP_ERROR, "out of memory");
    }
    store_done(st);
    store_unlock(rd);
    return error;
}

static json_t *str_or_null(const char *v)
{
    return v ? json_string(v) : json_null();
}

/* The in-toto statement for a verified receipt row. NULL on failure (message set). */
static json_t *statement(srv *s, const char *id, const row *w, const gp_receipt *r)
{
    char base[1100], name[2200], uri[1300], url[1300], digest[GP_SHA256_HEX_LEN + 1];
    json_t *passed = json_array(), *warned = json_array(), *failed = json_array();
    json_error_t jerr;
    bool ok = passed && warned && failed;

    github_public_url(s, base, sizeof(base));
    if (w->repo)
        snprintf(name, sizeof(name), "git+https://github.com/%s@%s", w->repo, w->sha);
    else if (r->remote_url)
        snprintf(name, sizeof(name), "git+%.2000s@%s", r->remote_url, w->sha);
    else
        snprintf(name, sizeof(name), "%s", w->sha);
    snprintf(uri, sizeof(uri), "%s/api/receipts/%s/raw", base, id);
    snprintf(url, sizeof(url), "%s/commits/%s", base, w->sha);
    gp_sha256_hex(digest, w->raw, w->rawlen);
    for (size_t i = 0; ok && i < r->ntests; i++) {
        json_t *list = r->tests[i].outcome == GP_OUTCOME_PASSED    ? passed
                       : r->tests[i].outcome == GP_OUTCOME_SKIPPED ? warned
                                                                   : failed;
        ok = json_array_append_new(list, json_string(r->tests[i].node_id)) == 0;
    }
    json_t *reasons = json_loads(w->reasons ? w->reasons : "[]", 0, &jerr);
    if (!ok || !reasons) {
        json_decref(passed);
        json_decref(warned);
        json_decref(failed);
        json_decref(reasons);
        gp_error_setf(GP_ERROR, "building the attestation failed (a test id is not UTF-8?)");
        return NULL;
    }
    const char *result = json_array_size(failed) ? "FAILED" : w->validates ? "PASSED" : "WARNED";
    json_t *doc = json_pack(
        "{s:s, s:[{s:s, s:{s:s}}], s:s, s:{s:s, s:[{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:o, s:o, "
        "s:o, s:b, s:o}}], s:s, s:o, s:o, s:o}}",
        "_type", STATEMENT_TYPE, "subject", "name", name, "digest", "gitCommit", w->sha,
        "predicateType", PREDICATE_TYPE, "predicate", "result", result, "configuration", "name",
        "gpu-proof.json", "uri", uri, "digest", "sha256", digest, "annotations", "receipt_id", id,
        "signer", w->signer, "key_fingerprint", str_or_null(w->fp), "verified_at",
        str_or_null(w->verified_at), "ledger_index",
        w->has_index ? json_integer((json_int_t)w->index) : json_null(), "validates", w->validates,
        "reasons", reasons, "url", url, "passedTests", passed, "warnedTests", warned, "failedTests",
        failed);
    if (!doc) gp_error_setf(GP_ERROR, "building the attestation failed");
    return doc;
}

int srv_attestation(srv *s, const char *id, char **out)
{
    row w;
    gp_receipt *r = NULL;
    json_t *doc = NULL;
    char *payload = NULL, lid[GP_SHA256_HEX_LEN + 1];
    int error;
    memset(&w, 0, sizeof(w));
    *out = NULL;
    if (strlen(id) != GP_SHA256_HEX_LEN || !gp_is_hex(id, GP_SHA256_HEX_LEN))
        return gp_error_setf(GP_ENOTFOUND, "no receipt has this id (ids are 64 hex digits)");
    for (size_t i = 0; i <= GP_SHA256_HEX_LEN; i++)
        lid[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
    if ((error = load(s, lid, &w)) < 0) {
        if (error == GP_ENOTFOUND) gp_error_setf(GP_ENOTFOUND, "no receipt with id %s", lid);
        goto done;
    }
    if (strcmp(w.status, "verified") != 0) {
        error = gp_error_setf(GP_ENOTFOUND, "receipt %s is %s: only verified receipts are attested",
                              lid, w.status);
        goto done;
    }
    if ((error = gp_receipt_parse(&r, w.raw, w.rawlen, GP_RECEIPT_REQUIRE_COMMIT)) < 0) goto done;
    if (!(doc = statement(s, lid, &w, r))) {
        error = GP_ERROR;
        goto done;
    }
    if (!(payload = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    error = gp_dsse_sign(out, GP_DSSE_INTOTO_TYPE, (const unsigned char *)payload, strlen(payload),
                         s->verifier, s->ledger.sk);
done:
    free(payload);
    json_decref(doc);
    gp_receipt_free(r);
    row_free(&w);
    return error;
}

void attest_route(srv *s, const char *id, srv_resp *r)
{
    char *env = NULL;
    int error = srv_attestation(s, id, &env);
    if (error < 0) {
        resp_error(r, error);
        return;
    }
    resp_text(r, 200, "application/json", env, strlen(env));
    free(env);
}
