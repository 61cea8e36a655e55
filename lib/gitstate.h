/*
 * gitstate.h - what a receipt's `repo` block says about a repository, read with libgit2.
 *
 * The same values pytest-gpu-proof takes from git (receipt-v1.md "Shape"):
 *   commit      `git rev-parse HEAD`
 *   branch      `git rev-parse --abbrev-ref HEAD`: the short branch name, "HEAD" when detached
 *   dirty       `git status --porcelain --ignore-submodules=untracked` would print something:
 *               staged or unstaged changes, untracked files that are not ignored, submodules
 *               whose checked-out commit or tracked content changed (files untracked inside a
 *               submodule do not count; an uninitialised submodule does not count)
 *   remote_url  `git remote get-url origin`
 */
#ifndef GP_GITSTATE_H
#define GP_GITSTATE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gp_gitstate {
    char *workdir; /* the working tree's top directory, no trailing '/' */
    char *commit;  /* hex object id of HEAD; NULL when HEAD is unborn (no commit yet) */
    char *branch;  /* "main", "HEAD" when detached; NULL when HEAD is unborn */
    bool dirty;
    char *remote_url; /* the origin remote's URL, NULL when there is no origin */
} gp_gitstate;

/*
 * Reads the state of the repository containing `dir` (searching upwards like git). On success
 * *out is owned by the caller (gp_gitstate_free). GP_ENOTFOUND when `dir` is in no repository,
 * GP_EUNSUPPORTED for a bare repository, GP_ERROR when libgit2 fails (its message passed on).
 */
int gp_gitstate_read(gp_gitstate **out, const char *dir);
void gp_gitstate_free(gp_gitstate *s);

/*
 * The owner (first path component) of a remote URL: "alice" for git@github.com:alice/k.git,
 * https://github.com/alice/k(.git), ssh://git@github.com/alice/k.git, git://host/alice/k.
 * Written into out (NUL-terminated). GP_ENOTFOUND when the URL has no owner/name path,
 * GP_ETOOBIG when it does not fit. The caller decides whether it is a valid login.
 */
int gp_git_url_owner(char *out, size_t outlen, const char *url);

#endif
