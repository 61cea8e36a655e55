/*
 * policy.h - which receipts the server accepts, and what validates a commit (api.md).
 *
 * The policy file is JSON:
 *   {"accept_unknown_repos": true,
 *    "defaults": {SETTINGS},
 *    "repos": {"owner/name": {SETTINGS}, ...}}
 * SETTINGS: "allowed_signers": [logins], "required_node_ids": [ids], "expected_skips": [ids]
 * (the exact set of tests that must be skipped, instead of "no skips"), "allow_dirty": bool,
 * "require_gpu": bool, "allowed_modes": [modes]. A repository's settings override the defaults
 * key by key. Unknown keys are an error. No file: every repository and signer accepted, the
 * default rules of api.md.
 */
#ifndef GP_POLICY_H
#define GP_POLICY_H

#include "receipt.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct policy policy;

/* Loads the policy (path NULL: the default policy). *digest: a hex digest identifying it. */
int policy_load(policy **out, char **digest, const char *path);
void policy_free(policy *p);

/* Intake: whether this repository (NULL when not GitHub) and signer are accepted at all.
 * false with a sentence in why. */
bool policy_accepts(const policy *p, const char *repo, const char *signer, char *why, size_t whylen);

/* Whether the receipt alone validates its commit; appends sentences to `reasons` (a JSON array)
 * when not. With mirrors, a clean receipt's fingerprint is recomputed from
 * mirrors/owner/name.git at the commit. */
bool policy_evaluate(const policy *p, const gp_receipt *r, const char *repo, const char *signer,
                     const char *mirrors, json_t *reasons);

/* Whether `repo` ("owner/name") is safe to use as a path below the mirrors directory. */
bool repo_name_valid(const char *repo);

#endif
