/*
 * gitstate.c - commit, branch, dirty and origin URL of a repository with libgit2 (gitstate.h).
 *
 * `git status --porcelain --ignore-submodules=untracked` is rebuilt as: a status list over index
 * and working tree with untracked files included and submodules excluded, a HEAD-to-index diff
 * (staged submodule changes), and each checked-out submodule compared with its gitlink and
 * checked for changed tracked content, recursively. The command line option overrides any
 * submodule.<name>.ignore configuration, and so does this. libgit2's submodule and remote APIs
 * are avoided on purpose: in 1.5 they leak PCRE match data on every call (config regex lookups),
 * which the sanitizer builds would report. For the same reason origin's URL is read from the
 * config (remote.origin.url) as written; url.<base>.insteadOf rewrites are not applied.
 */
#include "gitstate.h"

#include "error.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int git_fail(const char *what)
{
    const git_error *e = git_error_last();
    return gp_error_setf(GP_ERROR, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

#define SUBMODULE_DEPTH 8

static int repo_dirty(bool *dirty, git_repository *repo, bool untracked, int depth);

/* A submodule (gitlink `e` of the index) counts when its checkout is gone, sits at another
 * commit than the index says, or has changed tracked content (recursively). */
static int submodule_dirty(bool *dirty, git_repository *repo, const git_index_entry *e, int depth)
{
    git_repository *sub = NULL;
    git_oid head;
    char *path = NULL;
    struct stat st;
    int rc, error = 0;
    if (asprintf(&path, "%s%s", git_repository_workdir(repo), e->path) < 0)
        return gp_error_setf(GP_ERROR, "out of memory");
    if (stat(path, &st) != 0) { /* git status shows " D sub" */
        *dirty = true;
        goto done;
    }
    rc = git_repository_open_ext(&sub, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (rc == GIT_ENOTFOUND) goto done; /* not initialised: git status is silent */
    if (rc < 0) {
        error = git_fail("cannot open a submodule");
        goto done;
    }
    rc = git_reference_name_to_id(&head, sub, "HEAD");
    if (rc < 0 || !git_oid_equal(&head, &e->id)) {
        *dirty = true;
        goto done;
    }
    if (depth < SUBMODULE_DEPTH) error = repo_dirty(dirty, sub, false, depth + 1);
done:
    git_repository_free(sub);
    free(path);
    return error;
}

/*
 * git status --porcelain --ignore-submodules=untracked: changes between HEAD, index and working
 * tree (untracked files only when `untracked`), and each submodule as submodule_dirty() says.
 */
static int repo_dirty(bool *dirty, git_repository *repo, bool untracked, int depth)
{
    git_status_options so;
    git_status_list *list = NULL;
    git_index *index = NULL;
    git_object *head_tree = NULL;
    git_diff *diff = NULL;
    int error = 0, rc;

    *dirty = false;
    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    so.flags =
        GIT_STATUS_OPT_EXCLUDE_SUBMODULES | (untracked ? GIT_STATUS_OPT_INCLUDE_UNTRACKED : 0);
    if (git_status_list_new(&list, repo, &so) < 0) return git_fail("cannot read git status");
    *dirty = git_status_list_entrycount(list) > 0;
    git_status_list_free(list);
    if (*dirty) return 0;

    if (git_repository_index(&index, repo) < 0) return git_fail("cannot read the git index");
    /* staged submodule changes (added, removed, moved to another commit) */
    rc = git_revparse_single(&head_tree, repo, "HEAD^{tree}");
    if (rc < 0 && rc != GIT_ENOTFOUND && rc != GIT_EUNBORNBRANCH) {
        error = git_fail("cannot read HEAD's tree");
        goto done;
    }
    if (git_diff_tree_to_index(&diff, repo, (git_tree *)head_tree, index, NULL) < 0) {
        error = git_fail("cannot compare HEAD with the index");
        goto done;
    }
    if (git_diff_num_deltas(diff) > 0) {
        *dirty = true;
        goto done;
    }
    for (size_t i = 0, n = git_index_entrycount(index); i < n && !*dirty; i++) {
        const git_index_entry *e = git_index_get_byindex(index, i);
        if (e && e->mode == GIT_FILEMODE_COMMIT &&
            (error = submodule_dirty(dirty, repo, e, depth)) < 0)
            goto done;
    }
done:
    git_diff_free(diff);
    git_object_free(head_tree);
    git_index_free(index);
    return error;
}

static int read_origin(char **url, git_repository *repo)
{
    git_config *cfg = NULL;
    const char *v = NULL;
    int rc, error = 0;
    *url = NULL;
    if (git_repository_config_snapshot(&cfg, repo) < 0) return git_fail("cannot read git config");
    rc = git_config_get_string(&v, cfg, "remote.origin.url");
    if (rc == 0 && !(*url = strdup(v)))
        error = gp_error_setf(GP_ERROR, "out of memory");
    else if (rc < 0 && rc != GIT_ENOTFOUND)
        error = git_fail("cannot read remote.origin.url");
    git_config_free(cfg);
    return error;
}

int gp_gitstate_read(gp_gitstate **out, const char *dir)
{
    git_repository *repo = NULL;
    git_reference *head = NULL;
    gp_gitstate *s = NULL;
    const char *wd;
    int error = 0, rc;

    *out = NULL;
    git_libgit2_init();
    rc = git_repository_open_ext(&repo, dir ? dir : ".", 0, NULL);
    if (rc == GIT_ENOTFOUND) {
        error = gp_error_setf(GP_ENOTFOUND, "%s is not inside a git repository", dir ? dir : ".");
        goto done;
    }
    if (rc < 0) {
        error = git_fail("cannot open the git repository");
        goto done;
    }
    if (!(wd = git_repository_workdir(repo))) {
        error = gp_error_setf(GP_EUNSUPPORTED, "%s is a bare repository; run in a working tree",
                              dir ? dir : ".");
        goto done;
    }
    if (!(s = calloc(1, sizeof(*s))) || !(s->workdir = strdup(wd))) goto oom;
    {
        size_t n = strlen(s->workdir);
        while (n > 1 && s->workdir[n - 1] == '/')
            s->workdir[--n] = '\0';
    }

    rc = git_repository_head(&head, repo);
    if (rc == 0) {
        const git_oid *oid = git_reference_target(head);
        char hex[65];
        if (!oid) {
            error = gp_error_setf(GP_ERROR, "HEAD does not point to a commit");
            goto done;
        }
        git_oid_tostr(hex, sizeof(hex), oid);
        if (!(s->commit = strdup(hex))) goto oom;
        if (git_repository_head_detached(repo) == 1)
            s->branch = strdup("HEAD");
        else
            s->branch = strdup(git_reference_shorthand(head));
        if (!s->branch) goto oom;
    } else if (rc != GIT_EUNBORNBRANCH && rc != GIT_ENOTFOUND) {
        error = git_fail("cannot read HEAD");
        goto done;
    }

    if ((error = repo_dirty(&s->dirty, repo, true, 0)) < 0) goto done;
    if ((error = read_origin(&s->remote_url, repo)) < 0) goto done;

    *out = s;
    s = NULL;
    goto done;
oom:
    error = gp_error_setf(GP_ERROR, "out of memory");
done:
    gp_gitstate_free(s);
    git_reference_free(head);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return error;
}

void gp_gitstate_free(gp_gitstate *s)
{
    if (!s) return;
    free(s->workdir);
    free(s->commit);
    free(s->branch);
    free(s->remote_url);
    free(s);
}

int gp_git_url_owner(char *out, size_t outlen, const char *url)
{
    const char *path, *scheme = strstr(url, "://");
    size_t n;
    if (scheme) {
        if (!strncmp(url, "file:", 5)) goto none;
        path = strchr(scheme + 3, '/'); /* after host[:port] */
        if (!path) goto none;
        path++;
    } else {
        const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
        if (!colon || (slash && slash < colon)) goto none; /* a local path, not user@host:path */
        path = colon + 1;
    }
    while (*path == '/')
        path++;
    n = strcspn(path, "/");
    if (n == 0 || path[n] != '/' || path[n + 1] == '\0') goto none;
    if (n + 1 > outlen) return gp_error_setf(GP_ETOOBIG, "the remote URL's owner is too long");
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
none:
    return gp_error_setf(GP_ENOTFOUND, "the remote URL '%.200s' names no owner/repository", url);
}
