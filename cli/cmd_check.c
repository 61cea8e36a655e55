/*
 * cmd_check.c - `gpuproof-cli check COMMIT [--server URL] [--repo owner/name] [--json]`: the
 * question CI asks before merge, GET /api/commits/{sha} (../shared/spec/api.md). Exit 0 when the
 * commit is GPU-validated ("GPU-validated by alice, bob"), 1 when not (with the receipts' reasons),
 * 2 on an error. COMMIT is 40 or 64 hex digits, or a revision of the repository in the current
 * directory (HEAD, a branch, an abbreviated sha), resolved with libgit2.
 */
#include "cli.h"

#include "error.h"
#include "util.h"

#include "curl_lazy.h"
#include <getopt.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: gpuproof-cli check COMMIT [--server URL] [--repo owner/name] [--json]\n\n"
               "Asks the server whether a commit is GPU-validated.\n"
               "  COMMIT             a full sha, or a revision of the repository here (HEAD, a branch)\n"
               "  --server URL       the server (default: GPUPROOF_SERVER, git config gpuproof.server)\n"
               "  --repo owner/name  only receipts of that GitHub repository\n"
               "  --json             print the server's answer\n"
               "exit status: 0 GPU-validated, 1 not, 2 error\n");
}

static bool valid_repo_name(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') || strlen(s) > 200 || s[0] == '.' ||
        slash[1] == '.')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == '/'))
            return false;
    }
    return true;
}

static int resolve(char *out, size_t outlen, const char *rev, bool json_out)
{
    git_repository *repo = NULL;
    git_object *obj = NULL, *any = NULL;
    int rc = CLI_OK;
    size_t n = strlen(rev);
    if ((n == 40 || n == 64) && gp_is_hex(rev, n)) {
        for (size_t i = 0; i <= n; i++) out[i] = (char)(rev[i] >= 'A' && rev[i] <= 'F' ? rev[i] + 32 : rev[i]);
        return CLI_OK;
    }
    git_libgit2_init();
    if (git_repository_open_ext(&repo, ".", 0, NULL) != 0 || git_revparse_single(&any, repo, rev) != 0 ||
        git_object_peel(&obj, any, GIT_OBJECT_COMMIT) != 0)
        rc = cli_fail(json_out, "'%s' is not a commit sha (40 or 64 hex digits) nor a revision of the repository here",
                      rev);
    else
        git_oid_tostr(out, outlen, git_object_id(obj));
    git_object_free(obj);
    git_object_free(any);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return rc;
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'}, {"repo", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *server_flag = NULL, *repo = NULL, *rev = NULL;
    bool json_out = false;
    char *server = NULL, *url = NULL, *detail = NULL, path[512], sha[72];
    cli_http_response res;
    json_t *j = NULL;
    int c, rc = CLI_ERROR;

    memset(&res, 0, sizeof(res));
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': server_flag = optarg; break;
        case 'r': repo = optarg; break;
        case 'j': json_out = true; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_ERROR;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return CLI_ERROR;
    }
    rev = argv[optind];
    if (repo && !valid_repo_name(repo)) return cli_fail(json_out, "--repo wants owner/name, not '%s'", repo);
    if (resolve(sha, sizeof(sha), rev, json_out) != CLI_OK) return CLI_ERROR;
    if (!(server = cli_server(server_flag, json_out))) return CLI_ERROR;
    snprintf(path, sizeof(path), "/api/commits/%s%s%s", sha, repo ? "?repo=" : "", repo ? repo : "");
    if (!(url = cli_url_join(server, path))) goto done;

    cli_http_request req = {.method = "GET", .url = url};
    if (cli_http_retry(&res, &req) < 0) {
        rc = cli_fail(json_out, "cannot ask %s: %s", server, gp_error_last());
        goto done;
    }
    if (res.status != 200) {
        detail = cli_problem_text(&res);
        rc = cli_fail(json_out, "the server answered %ld: %s", res.status, detail ? detail : "");
        goto done;
    }
    if (!(j = json_loadb(res.body, res.len, 0, NULL)) || !json_is_boolean(json_object_get(j, "validated"))) {
        rc = cli_fail(json_out, "the server's answer is not a commit status");
        goto done;
    }
    rc = json_is_true(json_object_get(j, "validated")) ? CLI_OK : CLI_NOTSO;
    if (json_out) {
        cli_print_json(j);
        goto done;
    }
    if (rc == CLI_OK) {
        json_t *by = json_object_get(j, "validated_by");
        printf("%s: GPU-validated by ", sha);
        for (size_t i = 0; i < json_array_size(by); i++)
            printf("%s%s", i ? ", " : "", json_string_value(json_array_get(by, i)));
        printf("\n");
    } else {
        json_t *receipts = json_object_get(j, "receipts");
        printf("%s: Not GPU-validated\n", sha);
        if (json_array_size(receipts) == 0) printf("  no receipt names this commit\n");
        for (size_t i = 0; i < json_array_size(receipts); i++) {
            json_t *s = json_array_get(receipts, i), *reasons = json_object_get(s, "reasons");
            const char *id = json_string_value(json_object_get(s, "id"));
            const char *signer = json_string_value(json_object_get(s, "signer"));
            const char *status = json_string_value(json_object_get(s, "status"));
            printf("  receipt %.12s by %s (%s)%s\n", id ? id : "?", signer ? signer : "?", status ? status : "?",
                   json_array_size(reasons) ? ":" : "");
            for (size_t k = 0; k < json_array_size(reasons); k++)
                printf("   - %s\n", json_string_value(json_array_get(reasons, k)));
        }
    }
    {
        char *audit = NULL, apath[256];
        snprintf(apath, sizeof(apath), "/commits/%s", sha);
        if ((audit = cli_url_join(server, apath))) printf("  audit: %s\n", audit);
        free(audit);
    }
done:
    json_decref(j);
    cli_http_response_free(&res);
    free(detail);
    free(url);
    free(server);
    return rc;
}
