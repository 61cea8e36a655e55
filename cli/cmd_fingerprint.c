/*
 * cmd_fingerprint.c - `gpuproof-cli fingerprint`: the plugin's code fingerprint of a repository
 * (receipt-v1.md "Code fingerprint"), from the working tree or, with --commit, from a commit's tree.
 */
#include "cli.h"

#include "error.h"
#include "fingerprint.h"

#include <getopt.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: gpuproof-cli fingerprint [--paths src,tests] [--repo DIR] [--commit REV] [--json]\n\n"
               "Prints the code fingerprint (SHA-256 over the tracked files of the paths) and the file count.\n"
               "  --paths P,Q    comma-separated paths inside the repository (default src,tests)\n"
               "  --repo DIR     the repository (default .)\n"
               "  --commit REV   compute from that commit's tree instead of the working tree\n"
               "  --json         print {\"algorithm\", \"digest\", \"file_count\", \"included_paths\"[, \"commit\"]}\n"
               "exit status: 0 printed, 2 error\n");
}

/* Resolves REV (a sha, HEAD, a branch, ...) to a full commit id. */
static int resolve_commit(char out[GIT_OID_HEXSZ + 1], const char *repo_dir, const char *rev, bool json_out)
{
    git_repository *repo = NULL;
    git_object *obj = NULL, *any = NULL;
    int rc = CLI_OK;
    git_libgit2_init();
    if (git_repository_open_ext(&repo, repo_dir, 0, NULL) != 0) {
        const git_error *e = git_error_last();
        rc = cli_fail(json_out, "%s is not a git repository: %s", repo_dir, e ? e->message : "?");
    } else if (git_revparse_single(&any, repo, rev) != 0 || git_object_peel(&obj, any, GIT_OBJECT_COMMIT) != 0) {
        rc = cli_fail(json_out, "%s is not a commit of the repository at %s", rev, repo_dir);
    } else {
        git_oid_tostr(out, GIT_OID_HEXSZ + 1, git_object_id(obj));
    }
    git_object_free(obj);
    git_object_free(any);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return rc;
}

int cmd_fingerprint(int argc, char **argv)
{
    static const struct option opts[] = {
        {"paths", required_argument, NULL, 'p'}, {"repo", required_argument, NULL, 'R'},
        {"commit", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *paths_csv = "src,tests", *repo_dir = ".", *rev = NULL;
    bool json_out = false;
    char **paths = NULL, commit[GIT_OID_HEXSZ + 1] = "";
    int npaths = 0, c, rc = CLI_ERROR, error;
    gp_fingerprint fp;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': paths_csv = optarg; break;
        case 'R': repo_dir = optarg; break;
        case 'c': rev = optarg; break;
        case 'j': json_out = true; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_ERROR;
        }
    }
    if (optind < argc) return cli_fail(json_out, "unexpected argument '%s'", argv[optind]);
    if ((npaths = cli_split_paths(&paths, paths_csv)) < 0)
        return cli_fail(json_out, "--paths '%s': give comma-separated, non-empty paths", paths_csv);
    if (rev) {
        if ((rc = resolve_commit(commit, repo_dir, rev, json_out)) != CLI_OK) goto done;
        error = gp_fingerprint_commit(&fp, repo_dir, commit, (const char *const *)paths, (size_t)npaths);
    } else {
        error = gp_fingerprint_workdir(&fp, repo_dir, (const char *const *)paths, (size_t)npaths);
    }
    if (error < 0) {
        rc = cli_fail(json_out, "cannot fingerprint %s: %s", repo_dir, gp_error_last());
        goto done;
    }
    if (json_out) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:[]}", "algorithm", "sha256", "digest", fp.digest, "file_count",
                              (json_int_t)fp.file_count, "included_paths");
        for (int i = 0; i < npaths; i++) json_array_append_new(json_object_get(o, "included_paths"), json_string(paths[i]));
        if (rev) json_object_set_new(o, "commit", json_string(commit));
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("%s  %zu file%s\n", fp.digest, fp.file_count, fp.file_count == 1 ? "" : "s");
    }
    rc = CLI_OK;
done:
    cli_strv_free(paths, (size_t)(npaths > 0 ? npaths : 0));
    return rc;
}
