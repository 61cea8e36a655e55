/*
 * fingerprint.h - the plugin's code fingerprint, with libgit2 (receipt-v1.md "Code fingerprint").
 *
 * digest = SHA-256 hex of json.dumps({"files": {path: sha256hex(content)}}, sort_keys=True,
 * separators=(",", ":")) over the tracked files that `git ls-files <paths...>` lists, contents from
 * the working tree (tracked files missing from the working tree are left out), or from a commit's
 * tree (for a clean tree the two agree; servers recompute from bare mirrors).
 *
 * paths: plain names relative to the repository top, also when repo_dir is a subdirectory of the
 * work tree (it only locates the repository); a file matches when its path equals a
 * name or lies under it ("src" selects "src/a.py", not "srcx.py"); "." selects everything;
 * a trailing "/" and a leading "./" are ignored; absolute paths, "..", "." segments and "//" are
 * GP_EINVALID, as is npaths == 0. No pathspec magic or globbing.
 * Names go into the JSON escaped as Python's json.dumps does (ensure_ascii); a name that is not
 * UTF-8 is GP_EINVALID. Working tree: files are read through symlinks (as Python's open());
 * missing files and non-files (submodules, links to directories) are left out. Commit: symlinks
 * are resolved inside the tree; links leaving the tree and submodules are left out.
 *
 * The two functions that take a directory call git_libgit2_init() and git_libgit2_shutdown()
 * themselves (reference counted): callers need not. The `_repo` variants work on a repository
 * the caller has opened (and so initialised libgit2 for), so that a program that also reads
 * the repository's history opens it once (gpuproof-cli verify). A long-running program may
 * hold its own git_libgit2_init() to keep libgit2's global state alive between calls. libgit2
 * refuses repositories owned by another user (safe.directory); a server reading mirrors it does
 * not own must relax that itself (git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0)). The working
 * tree is hashed on up to 8 threads (one per online CPU, at least 32 files each); all four
 * functions are thread-safe (the `_repo` ones as far as libgit2 allows sharing `repo`).
 */
#ifndef GP_FINGERPRINT_H
#define GP_FINGERPRINT_H

#include "util.h"

#include <stddef.h>

typedef struct git_repository git_repository; /* libgit2's, as <git2/types.h> declares it */

typedef struct gp_fingerprint {
    char digest[GP_SHA256_HEX_LEN + 1];
    size_t file_count;
} gp_fingerprint;

/* From the working tree of the repository containing `repo_dir` (NULL = "."). 0 with *out set;
 * GP_ENOTFOUND when repo_dir is in no repository, GP_EINVALID for a bare one or bad paths. */
int gp_fingerprint_workdir(gp_fingerprint *out, const char *repo_dir, const char *const *paths,
                           size_t npaths);
/* The same from an open repository (borrowed). GP_EINVALID for a bare one or bad paths. */
int gp_fingerprint_workdir_repo(gp_fingerprint *out, git_repository *repo, const char *const *paths,
                                size_t npaths);

/* From the tree of `commit` (hex, full or abbreviated, 4 to 40 digits; not a ref name) in the
 * (bare or not) repository at repo_dir. GP_ENOTFOUND when the commit is not there (or repo_dir is
 * no repository), GP_EINVALID for a malformed or ambiguous id or bad paths. */
int gp_fingerprint_commit(gp_fingerprint *out, const char *repo_dir, const char *commit,
                          const char *const *paths, size_t npaths);
/* The same in an open repository (borrowed). */
int gp_fingerprint_commit_repo(gp_fingerprint *out, git_repository *repo, const char *commit,
                               const char *const *paths, size_t npaths);

#endif
