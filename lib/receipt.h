/*
 * receipt.h - the schema-v1 receipt (../shared/spec/receipt-v1.md): parse, validate, access.
 *
 * gp_receipt_parse() parses strictly (canonical.h), checks every field the spec names with a
 * one-line message naming the field (GP_EINVALID), and computes:
 *   - signed bytes: canonical bytes of the receipt without its "signature" member;
 *   - id: lower-case hex SHA-256 of the canonical bytes of the whole receipt.
 * The struct is read-only for callers; its strings are borrowed from the parsed tree and live as
 * long as the receipt. A receipt with "signature": null (or absent, or an empty value) parses fine
 * with `signed_ == false`; verification then says GP_EUNSIGNED. When unsigned, every sig_* field
 * is NULL/0 and the signature block's other members are not checked.
 *
 * Fields the spec names but does not require are type-checked when present: absent (or, where
 * the spec allows it, null) leaves the pointer NULL / the number 0. All string fields are free
 * of embedded NULs. Messages start with the field's path: `tests[3].outcome: expected ...`;
 * JSON-level refusals start with `invalid JSON at byte N: ...`.
 */
#ifndef GP_RECEIPT_H
#define GP_RECEIPT_H

#include "canonical.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef enum { GP_OUTCOME_PASSED, GP_OUTCOME_FAILED, GP_OUTCOME_SKIPPED } gp_outcome;

typedef struct gp_test {
    const char *node_id;
    gp_outcome outcome;
    double duration_s;     /* 0 when absent */
    const gp_json *json;   /* the whole test object */
} gp_test;

/* Parse flags. */
#define GP_RECEIPT_REQUIRE_COMMIT 1u /* the server needs repo.commit_sha; the CLI's verify does not */

typedef struct gp_receipt {
    gp_json *doc;
    char id[GP_SHA256_HEX_LEN + 1];
    char *canonical;       /* whole receipt, canonical bytes */
    size_t canonical_len;
    char *signed_bytes;    /* receipt without "signature", canonical bytes */
    size_t signed_len;

    const char *schema_version;
    const char *mode;      /* may be NULL */

    const char *remote_url;      /* may be NULL */
    const char *github_username; /* may be NULL */
    const char *commit_sha;      /* may be NULL (only without GP_RECEIPT_REQUIRE_COMMIT) */
    const char *branch;          /* may be NULL */
    bool dirty;

    const char *fp_algorithm;
    const char *fp_digest;       /* 64 hex */
    int64_t fp_file_count;
    const char **fp_paths;       /* included_paths */
    size_t fp_npaths;

    const char *started_at, *ended_at;
    time_t started, ended;

    gp_test *tests;
    size_t ntests;
    size_t passed, failed, skipped;

    const gp_json *environment;
    const gp_json *gpu_info;     /* NULL when absent or null */
    const gp_json *gpus;         /* environment.gpus (array) or NULL */

    bool signed_;                /* a signature block with a non-empty value */
    const char *sig_algorithm;   /* "ed25519" | "ecdsa-sha256" | "rsa-pss-sha256" | "sshsig" */
    const char *sig_backend;
    const char *sig_signer;      /* a valid GitHub login */
    const char *sig_key_fingerprint; /* the claim, not trusted */
    const char *sig_namespace;   /* sshsig only */
    unsigned char *sig_value;    /* decoded base64 */
    size_t sig_len;
} gp_receipt;

/* 0 and *out (caller frees with gp_receipt_free) or GP_EINVALID (*out NULL) / GP_ERROR (memory). */
int gp_receipt_parse(gp_receipt **out, const char *buf, size_t len, unsigned flags);
void gp_receipt_free(gp_receipt *r);

const char *gp_outcome_name(gp_outcome o);

/*
 * "owner/name" from a GitHub remote URL (git@github.com:o/n.git, https://github.com/o/n(.git),
 * ssh://git@github.com/o/n.git); writes into out (size >= 256). GP_ENOTFOUND if not GitHub.
 * ".git" is optional; the case is kept as written (the host compares case-insensitively); any
 * other host, scheme, user, port, extra path segment, query or trailing slash is GP_ENOTFOUND.
 */
int gp_github_repo_from_url(char *out, size_t outlen, const char *url);

#endif
