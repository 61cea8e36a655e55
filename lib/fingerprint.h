/*
 * fingerprint.h - the plugin's code fingerprint, with libgit2 (receipt-v1.md "Code fingerprint").
 *
 * digest = SHA-256 hex of json.dumps({"files": {path: sha256hex(content)}}, sort_keys=True,
 * separators=(",", ":")) over the tracked files that `git ls-files <paths...>` lists, contents from
 * the working tree (tracked files missing from the working tree are left out), or from a commit's
 * tree (for a clean tree the two agree; servers recompute from bare mirrors).
 */
#ifndef GP_FINGERPRINT_H
#define GP_FINGERPRINT_H

#include "util.h"

#include <stddef.h>

typedef struct gp_fingerprint {
    char digest[GP_SHA256_HEX_LEN + 1];
    size_t file_count;
} gp_fingerprint;

/* From the working tree of the repository containing `repo_dir`. */
int gp_fingerprint_workdir(gp_fingerprint *out, const char *repo_dir, const char *const *paths,
                           size_t npaths);

/* From the tree of `commit` (hex, full or abbreviated) in the (bare or not) repository at repo_dir.
 * GP_ENOTFOUND when the commit is not there. */
int gp_fingerprint_commit(gp_fingerprint *out, const char *repo_dir, const char *commit,
                          const char *const *paths, size_t npaths);

#endif
