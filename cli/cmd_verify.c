/*
 * cmd_verify.c - `gpuproof-cli verify`: offline verification of a receipt, with the flags and
 * checks of pytest-gpu-proof's `gpu-proof verify` (../shared/spec/cli.md "Decisions"):
 *
 *   signature    with the signer's published keys (or --github-user's), fetched through
 *                --github-keys-url; unsigned passes only with --allow-unsigned
 *   fingerprint  the receipt's digest against --repo's working tree (its included_paths)
 *   commit       HEAD of --repo or an ancestor of it (libgit2 git_graph_descendant_of)
 *   tests        none failed, at least one
 *   skips        none, unless --allow-skipped or an exactly matching --expected-skips file
 *   dirty        a dirty receipt fails unless --allow-dirty
 *   gpu          with --require-gpu: gpu_info not null or environment.gpus not empty
 *   age          ended_at within --max-age-days and at most 5 minutes in the future
 *
 * Exit 0 all pass, 1 a check failed, 2 a malformed receipt or an I/O / network error.
 */
#include "cli.h"

#include "buf.h"
#include "error.h"
#include "fingerprint.h"
#include "keysource.h"
#include "receipt.h"
#include "sig.h"
#include "sshkey.h"

#include <getopt.h>
#include <stdarg.h>
#include <strings.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECEIPT_MAX (16u << 20)
#define SKIPS_MAX (4u << 20)
#define FUTURE_SLACK_S 300

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gpuproof-cli verify [--receipt FILE] [--repo DIR] [--github-user LOGIN]\n"
            "                           [--max-age-days N] [--allow-unsigned] [--allow-skipped]\n"
            "                           [--allow-dirty] [--expected-skips FILE] [--require-gpu]\n"
            "                           [--github-keys-url TEMPLATE] [--github-api-url URL] [--json]\n\n"
            "Verifies a receipt offline, as pytest-gpu-proof's `gpu-proof verify` does.\n"
            "  --receipt FILE          the receipt (default gpu-proof.json)\n"
            "  --repo DIR              repository whose working tree and history it must match (default .)\n"
            "  --github-user LOGIN     verify with this login's keys instead of the signer's\n"
            "  --max-age-days N        fail when ended_at is older than N days (default 30; 0: no limit)\n"
            "  --allow-unsigned        an unsigned receipt passes the signature check as \"unsigned\"\n"
            "  --allow-skipped         skipped tests do not fail the receipt\n"
            "  --allow-dirty           a receipt of a dirty tree does not fail\n"
            "  --expected-skips FILE   the skipped tests must be exactly these node ids (one a line, # comments)\n"
            "  --require-gpu           fail when the receipt has no GPU information\n"
            "  --github-keys-url T     where keys come from, {user} replaced (default %s)\n"
            "  --github-api-url URL    also accept the keys the login registered for signing, read from\n"
            "                          this GitHub API (https://api.github.com; $GITHUB_TOKEN if set)\n"
            "  --json                  print one JSON object with the result of each check\n"
            "exit status: 0 verified, 1 a check failed, 2 malformed receipt or I/O / network error\n",
            GP_KEYS_URL_DEFAULT);
}

/* The keys of `login`: its .keys lines, plus with api_url the keys it registered for signing,
 * as the server reads them (docs/decisions.md, "GitHub"). 0 with *text (caller frees),
 * GP_ENOTFOUND when neither source has any, other errors as gp_keys_fetch(). When the signing keys
 * cannot be fetched but .keys answered, *signing_error is set (a copy of the message, caller
 * frees) and the .keys alone are returned: a signature they do not verify is then unknown, not bad. */
static int fetch_keys(char **text, size_t *len, const char *keys_url, const char *api_url, const char *login,
                      char **signing_error)
{
    gp_keysource src = {.url_template = keys_url};
    char *dot = NULL, *signing = NULL;
    size_t dlen = 0, slen = 0;
    *text = NULL;
    *len = 0;
    *signing_error = NULL;
    int error = gp_keys_fetch(&dot, &dlen, &src, login);
    if (!api_url || (error < 0 && error != GP_ENOTFOUND)) {
        *text = dot;
        *len = dlen;
        return error;
    }
    const char *token = getenv("GITHUB_TOKEN");
    int e2 = gp_signing_keys_fetch(&signing, &slen, &src, api_url, login, token && *token ? token : NULL);
    if (e2 < 0 && e2 != GP_ENOTFOUND) {
        if (error == GP_ENOTFOUND || e2 == GP_EINVALID) { /* no .keys and the API cannot say; a bad URL */
            free(dot);
            return e2;
        }
        *signing_error = strdup(gp_error_last());
        *text = dot;
        *len = dlen;
        return 0;
    }
    if (error == GP_ENOTFOUND && (e2 == GP_ENOTFOUND || !signing || slen == 0)) {
        free(signing);
        return gp_error_setf(GP_ENOTFOUND, "%s publishes no SSH keys and registered none for signing", login);
    }
    gp_buf all = GP_BUF_INIT(dlen + slen + 2);
    if ((dot && (gp_buf_add(&all, dot, dlen) < 0 || gp_buf_add(&all, "\n", 1) < 0)) ||
        (signing && gp_buf_add(&all, signing, slen) < 0)) {
        gp_buf_free(&all);
        error = gp_error_setf(GP_ERROR, "out of memory");
    } else {
        *text = gp_buf_detach(&all, len);
        error = 0;
    }
    free(dot);
    free(signing);
    return error;
}

typedef struct result {
    json_t *problems;
    bool ok;
} result;

static void problem(result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_array_append_new(r->problems, json_vsprintf(fmt, ap));
    va_end(ap);
    r->ok = false;
}

/* Reads an --expected-skips file into a sorted, de-duplicated array. */
static int read_skips(char ***out, size_t *n, const char *path)
{
    char *text = NULL, *line, *save = NULL;
    size_t len, cap = 0;
    char **v = NULL;
    *out = NULL;
    *n = 0;
    if (cli_read_file(&text, &len, path, SKIPS_MAX) != CLI_OK) return CLI_ERROR;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t')) line[--l] = '\0';
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#') continue;
        if (*n == cap) {
            char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
            if (!nv) goto oom;
            v = nv;
        }
        if (!(v[*n] = strdup(line))) goto oom;
        (*n)++;
    }
    free(text);
    *out = v;
    return CLI_OK;
oom:
    free(text);
    cli_strv_free(v, *n);
    *n = 0;
    cli_errorf("out of memory");
    return CLI_ERROR;
}

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return true;
    return false;
}

/* "ok" / "failed" for the commit check in the open repository. */
static void check_commit(const char **verdict, result *res, git_repository *repo, const char *repo_dir,
                         const char *sha)
{
    git_oid head, want;
    int g;

    if (git_reference_name_to_id(&head, repo, "HEAD") != 0) {
        *verdict = "failed";
        problem(res, "The repository at %s has no HEAD commit.", repo_dir);
        return;
    }
    if (strlen(sha) != 40 || git_oid_fromstr(&want, sha) != 0) {
        *verdict = "failed";
        problem(res, "The receipt's commit %s is not a commit of the repository at %s.", sha, repo_dir);
        return;
    }
    if (git_oid_equal(&head, &want)) {
        *verdict = "ok";
        return;
    }
    g = git_graph_descendant_of(repo, &head, &want);
    if (g == 1) {
        *verdict = "ok";
    } else {
        git_object *obj = NULL;
        *verdict = "failed";
        if (git_object_lookup(&obj, repo, &want, GIT_OBJECT_COMMIT) != 0)
            problem(res, "The receipt's commit %s is not in the repository at %s (fetch it, or verify in the right repository).",
                    sha, repo_dir);
        else
            problem(res, "The receipt's commit %s is neither HEAD nor an ancestor of HEAD in %s.", sha, repo_dir);
        git_object_free(obj);
    }
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"receipt", required_argument, NULL, 'r'},
        {"repo", required_argument, NULL, 'R'},
        {"github-user", required_argument, NULL, 'u'},
        {"max-age-days", required_argument, NULL, 'a'},
        {"allow-unsigned", no_argument, NULL, 'U'},
        {"allow-skipped", no_argument, NULL, 'S'},
        {"allow-dirty", no_argument, NULL, 'D'},
        {"expected-skips", required_argument, NULL, 'e'},
        {"require-gpu", no_argument, NULL, 'g'},
        {"github-keys-url", required_argument, NULL, 'k'},
        {"github-api-url", required_argument, NULL, 'A'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *receipt_path = "gpu-proof.json", *repo_dir = ".", *github_user = NULL, *skips_path = NULL;
    const char *keys_url = NULL, *api_url = NULL;
    char *signing_error = NULL;
    long max_age_days = 30;
    bool allow_unsigned = false, allow_skipped = false, allow_dirty = false, require_gpu = false, json_out = false;
    char *text = NULL, *keys_text = NULL, **skips = NULL;
    size_t len = 0, keys_len = 0, nskips = 0;
    gp_receipt *r = NULL;
    gp_keylist *keys = NULL;
    git_repository *repo = NULL;
    bool git_up = false;
    const gp_pubkey *used = NULL;
    result res = {json_array(), true};
    const char *v_sig = "unsigned", *v_fp = "skipped", *v_commit = "skipped", *v_tests = "ok", *v_skips = "ok",
               *v_dirty = "ok", *v_gpu = "skipped", *v_age = "skipped";
    int c, rc = CLI_ERROR, error;
    gp_fingerprint fp;

    optind = 1;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': receipt_path = optarg; break;
        case 'R': repo_dir = optarg; break;
        case 'u': github_user = optarg; break;
        case 'a': {
            char *end;
            max_age_days = strtol(optarg, &end, 10);
            if (!*optarg || *end || max_age_days < 0 || max_age_days > 36500) {
                rc = cli_fail(json_out, "--max-age-days wants a number of days, not '%s'", optarg);
                goto done;
            }
            break;
        }
        case 'U': allow_unsigned = true; break;
        case 'S': allow_skipped = true; break;
        case 'D': allow_dirty = true; break;
        case 'e': skips_path = optarg; break;
        case 'g': require_gpu = true; break;
        case 'k': keys_url = optarg; break;
        case 'A': api_url = optarg; break;
        case 'j': json_out = true; break;
        case 'h': usage(stdout); rc = CLI_OK; goto done;
        default: usage(stderr); goto done;
        }
    }
    if (optind < argc) {
        rc = cli_fail(json_out, "unexpected argument '%s' (the receipt is given with --receipt)", argv[optind]);
        goto done;
    }
    if (github_user && !gp_login_valid(github_user)) {
        rc = cli_fail(json_out, "--github-user '%s' is not a valid GitHub login", github_user);
        goto done;
    }
    if (skips_path && read_skips(&skips, &nskips, skips_path) != CLI_OK) {
        rc = cli_fail(json_out, "cannot read the expected skips file %s", skips_path);
        goto done;
    }

    /* the receipt: malformed is exit 2 */
    if (gp_read_file(&text, &len, receipt_path, RECEIPT_MAX) < 0) {
        rc = cli_fail(json_out, "cannot read %s: %s", receipt_path, gp_error_last());
        goto done;
    }
    if ((error = gp_receipt_parse(&r, text, len, 0)) < 0) {
        rc = cli_fail(json_out, "%s is not a valid receipt: %s", receipt_path, gp_error_last());
        goto done;
    }

    /* signature */
    if (!r->signed_) {
        v_sig = "unsigned";
        if (!allow_unsigned) problem(&res, "The receipt is unsigned (pass --allow-unsigned to accept that).");
    } else {
        const char *login = github_user ? github_user : r->sig_signer;
        error = fetch_keys(&keys_text, &keys_len, keys_url, api_url, login, &signing_error);
        if (error == GP_ENOTFOUND) {
            v_sig = "invalid";
            problem(&res, "%s publishes no SSH keys%s, so the signature cannot be verified.", login,
                    api_url ? " and registered none for signing" : "");
        } else if (error < 0) {
            rc = cli_fail(json_out, "cannot fetch the keys of %s: %s", login, gp_error_last());
            goto done;
        } else if ((error = gp_keylist_parse(&keys, keys_text, keys_len)) < 0) {
            rc = cli_fail(json_out, "cannot read the keys of %s: %s", login, gp_error_last());
            goto done;
        } else if ((error = gp_receipt_verify(&used, r, keys)) == 0) {
            v_sig = "valid";
        } else if (signing_error && (error == GP_EBADSIG || error == GP_EUNSUPPORTED || error == GP_EINVALID)) {
            rc = cli_fail(json_out, "no key in %s's .keys verifies the signature, and its signing keys could not "
                                    "be fetched: %s", login, signing_error);
            goto done;
        } else if (error == GP_EBADSIG || error == GP_EUNSUPPORTED || error == GP_EINVALID) {
            v_sig = "invalid";
            problem(&res, "The signature does not verify with any key %s publishes (%s).", login, gp_error_last());
        } else if (error == GP_EUNSIGNED) {
            v_sig = "unsigned";
            if (!allow_unsigned) problem(&res, "The receipt is unsigned (pass --allow-unsigned to accept that).");
        } else {
            rc = cli_fail(json_out, "cannot verify the signature: %s", gp_error_last());
            goto done;
        }
    }

    /* fingerprint against the working tree; the repository is opened once for it and the commit */
    git_libgit2_init();
    git_up = true;
    if ((error = git_repository_open_ext(&repo, repo_dir, 0, NULL)) < 0) {
        const git_error *e = git_error_last();
        rc = cli_fail(json_out, "cannot fingerprint the repository at %s: %s: %s", repo_dir, repo_dir,
                      e && e->message ? e->message : "libgit2 error");
        goto done;
    }
    if (git_repository_is_bare(repo)) {
        rc = cli_fail(json_out, "cannot fingerprint the repository at %s: %s is a bare repository: use a commit's "
                                "fingerprint", repo_dir, repo_dir);
        goto done;
    }
    error = gp_fingerprint_workdir_repo(&fp, repo, r->fp_paths, r->fp_npaths);
    if (error < 0) {
        rc = cli_fail(json_out, "cannot fingerprint the repository at %s: %s", repo_dir, gp_error_last());
        goto done;
    }
    if (!strcasecmp(fp.digest, r->fp_digest)) {
        v_fp = "ok";
    } else {
        v_fp = "failed";
        problem(&res, "The code fingerprint differs from the working tree of %s (receipt %s over %lld files, "
                      "working tree %s over %zu files).",
                repo_dir, r->fp_digest, (long long)r->fp_file_count, fp.digest, fp.file_count);
    }

    /* commit */
    if (r->commit_sha) check_commit(&v_commit, &res, repo, repo_dir, r->commit_sha);

    /* tests */
    if (r->ntests == 0) {
        v_tests = "failed";
        problem(&res, "The receipt records no tests.");
    } else if (r->failed > 0) {
        char list[512] = "";
        size_t shown = 0;
        for (size_t i = 0; i < r->ntests && shown < 3; i++) {
            if (r->tests[i].outcome != GP_OUTCOME_FAILED) continue;
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", shown ? ", " : "", r->tests[i].node_id);
            shown++;
        }
        v_tests = "failed";
        problem(&res, "%zu test%s failed: %s%s.", r->failed, r->failed == 1 ? "" : "s", list,
                r->failed > shown ? ", ..." : "");
    }

    /* skips */
    if (skips_path && !allow_skipped) {
        size_t extra = 0, missing = 0;
        const char *first_extra = NULL, *first_missing = NULL;
        for (size_t i = 0; i < r->ntests; i++) {
            if (r->tests[i].outcome != GP_OUTCOME_SKIPPED || in_list(skips, nskips, r->tests[i].node_id)) continue;
            if (!extra++) first_extra = r->tests[i].node_id;
        }
        for (size_t j = 0; j < nskips; j++) {
            bool found = false;
            for (size_t i = 0; i < r->ntests && !found; i++)
                found = r->tests[i].outcome == GP_OUTCOME_SKIPPED && !strcmp(r->tests[i].node_id, skips[j]);
            if (!found && !missing++) first_missing = skips[j];
        }
        if (extra || missing) {
            v_skips = "failed";
            if (extra)
                problem(&res, "%zu skipped test%s not in %s (first: %s).", extra, extra == 1 ? " is" : "s are",
                        skips_path, first_extra);
            if (missing)
                problem(&res, "%zu test%s listed in %s %s not skipped (first: %s).", missing, missing == 1 ? "" : "s",
                        skips_path, missing == 1 ? "was" : "were", first_missing);
        }
    } else if (r->skipped > 0 && !allow_skipped) {
        v_skips = "failed";
        problem(&res, "%zu test%s skipped (pass --allow-skipped or --expected-skips FILE).", r->skipped,
                r->skipped == 1 ? " was" : "s were");
    }

    /* dirty */
    if (r->dirty && !allow_dirty) {
        v_dirty = "failed";
        problem(&res, "The working tree was dirty: the tested code was not the commit (pass --allow-dirty to accept).");
    }

    /* GPU */
    if (require_gpu) {
        bool has = r->gpu_info != NULL || (r->gpus && gp_json_size(r->gpus) > 0);
        v_gpu = has ? "ok" : "failed";
        if (!has) problem(&res, "The receipt has no GPU information (--require-gpu).");
    }

    /* age */
    {
        time_t now = time(NULL);
        if (r->ended > now + FUTURE_SLACK_S) {
            v_age = "failed";
            problem(&res, "The receipt ended at %s, more than 5 minutes in the future.", r->ended_at);
        } else if (max_age_days > 0 && now - r->ended > (time_t)max_age_days * 86400) {
            v_age = "failed";
            problem(&res, "The receipt ended at %s, more than %ld days ago (--max-age-days).", r->ended_at,
                    max_age_days);
        } else {
            v_age = "ok";
        }
    }

    rc = res.ok ? CLI_OK : CLI_NOTSO;
    if (json_out) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s}", "ok", res.ok, "signature",
                              v_sig, "fingerprint", v_fp, "commit", v_commit, "tests", v_tests, "skips", v_skips,
                              "dirty", v_dirty, "gpu", v_gpu, "age", v_age, "problems", res.problems, "receipt_id",
                              r->id);
        if (o && used) {
            json_object_set_new(o, "signer", json_string(github_user ? github_user : r->sig_signer));
            json_object_set_new(o, "key_fingerprint", json_string(used->fingerprint));
            json_object_set_new(o, "key_type", json_string(gp_keytype_name(used->type)));
        }
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("receipt      %s (%s)\n", receipt_path, r->id);
        if (used)
            printf("signature    valid: %s, %s key %s\n", github_user ? github_user : r->sig_signer,
                   gp_keytype_name(used->type), used->fingerprint);
        else
            printf("signature    %s\n", v_sig);
        printf("fingerprint  %s\ncommit       %s\ntests        %s (%zu passed, %zu failed, %zu skipped)\n"
               "skips        %s\ndirty        %s\ngpu          %s\nage          %s\n",
               v_fp, v_commit, v_tests, r->passed, r->failed, r->skipped, v_skips, v_dirty, v_gpu, v_age);
        for (size_t i = 0; i < json_array_size(res.problems); i++)
            printf("problem: %s\n", json_string_value(json_array_get(res.problems, i)));
        printf("%s\n", res.ok ? "OK: the receipt verifies" : "FAILED: the receipt does not verify");
    }
done:
    git_repository_free(repo);
    if (git_up) git_libgit2_shutdown();
    json_decref(res.problems);
    cli_strv_free(skips, nskips);
    gp_keylist_free(keys);
    free(keys_text);
    free(signing_error);
    gp_receipt_free(r);
    free(text);
    return rc;
}
