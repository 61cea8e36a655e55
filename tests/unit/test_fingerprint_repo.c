/*
 * test_fingerprint_repo.c - the fingerprint functions that take an open repository
 * (gp_fingerprint_workdir_repo, gp_fingerprint_commit_repo, lib/fingerprint.c).
 *
 * On a clone and a bare clone of the vectors' repo.bundle they must give what the functions
 * that open the repository themselves give (which test_fingerprint.c checks against the
 * receipts and a Python reference), for every commit the vectors' clean receipts name, for a
 * changed working tree, and the same errors; one open repository serves many calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "fingerprint.h"

#include <dirent.h>
#include <git2.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmp[] = "/tmp/gp-fingerprint-repo-XXXXXX";
static char work[256], bare[256];
static const char *const SRC_TESTS[] = {"src", "tests"};

static const char *vectors(void)
{
    const char *v = getenv("GP_VECTORS");
    return v ? v : "tests/vectors/pytest-gpu-proof-v1";
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(tmp)) return -1;
    snprintf(work, sizeof(work), "%s/work", tmp);
    snprintf(bare, sizeof(bare), "%s/bare.git", tmp);
    git_libgit2_init();
    return sh(
        "git clone -q '%s/repo.bundle' '%s' 2>/dev/null && git clone -q --bare '%s/repo.bundle' "
        "'%s' 2>/dev/null",
        vectors(), work, vectors(), bare);
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf '%s'", tmp);
    git_libgit2_shutdown();
    return 0;
}

static void same(const gp_fingerprint *a, const gp_fingerprint *b)
{
    assert_string_equal(a->digest, b->digest);
    assert_int_equal(a->file_count, b->file_count);
}

/* The commits the vectors' clean receipts name (distinct), at most `max`. */
static size_t receipt_commits(char commits[][41], size_t max)
{
    char dir[1024];
    size_t n = 0;
    snprintf(dir, sizeof(dir), "%s/receipts", vectors());
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        char path[2048];
        if (!strstr(e->d_name, "-clean.json")) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        json_t *doc = json_load_file(path, 0, NULL);
        const char *sha =
            json_string_value(json_object_get(json_object_get(doc, "repo"), "commit_sha"));
        bool dup = false;
        for (size_t i = 0; sha && i < n && !dup; i++)
            dup = !strcmp(commits[i], sha);
        if (sha && strlen(sha) == 40 && !dup) snprintf(commits[n++], 41, "%s", sha);
        json_decref(doc);
    }
    closedir(d);
    return n;
}

static void test_same_as_opening(void **state)
{
    (void)state;
    char commits[16][41];
    size_t n = receipt_commits(commits, 16);
    git_repository *w = NULL, *b = NULL;
    gp_fingerprint x, y;
    assert_true(n > 0);
    assert_int_equal(git_repository_open_ext(&w, work, 0, NULL), 0);
    assert_int_equal(git_repository_open_ext(&b, bare, 0, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        /* the commit's tree, in both clones, with and without opening */
        assert_int_equal(gp_fingerprint_commit(&x, bare, commits[i], SRC_TESTS, 2), 0);
        assert_int_equal(gp_fingerprint_commit_repo(&y, b, commits[i], SRC_TESTS, 2), 0);
        same(&x, &y);
        assert_int_equal(gp_fingerprint_commit_repo(&y, w, commits[i], SRC_TESTS, 2), 0);
        same(&x, &y);
        /* the working tree checked out at it */
        assert_int_equal(sh("git -C '%s' checkout -q %s", work, commits[i]), 0);
        assert_int_equal(gp_fingerprint_workdir(&x, work, SRC_TESTS, 2), 0);
        assert_int_equal(gp_fingerprint_workdir_repo(&y, w, SRC_TESTS, 2), 0);
        same(&x, &y);
        assert_int_equal(gp_fingerprint_commit_repo(&x, w, commits[i], SRC_TESTS, 2), 0);
        same(&x, &y); /* clean: tree and working tree agree */
    }
    /* a changed working tree: the open repository sees the change (files are read each call) */
    assert_int_equal(
        sh("cd '%s' && for f in $(git ls-files src tests); do echo changed >> \"$f\"; done", work),
        0);
    assert_int_equal(gp_fingerprint_workdir(&x, work, SRC_TESTS, 2), 0);
    assert_int_equal(gp_fingerprint_workdir_repo(&y, w, SRC_TESTS, 2), 0);
    same(&x, &y);
    assert_int_equal(gp_fingerprint_commit_repo(&y, w, commits[n - 1], SRC_TESTS, 2), 0);
    assert_string_not_equal(x.digest, y.digest);
    /* "." and a single path */
    const char *const all[] = {"."}, *const src[] = {"src"};
    assert_int_equal(gp_fingerprint_workdir(&x, work, all, 1), 0);
    assert_int_equal(gp_fingerprint_workdir_repo(&y, w, all, 1), 0);
    same(&x, &y);
    assert_int_equal(gp_fingerprint_workdir(&x, work, src, 1), 0);
    assert_int_equal(gp_fingerprint_workdir_repo(&y, w, src, 1), 0);
    same(&x, &y);
    assert_int_equal(sh("git -C '%s' checkout -q -f %s", work, commits[0]), 0);
    git_repository_free(w);
    git_repository_free(b);
}

static void test_errors(void **state)
{
    (void)state;
    git_repository *w = NULL, *b = NULL;
    gp_fingerprint fp;
    const char *const dotdot[] = {"../x"};
    assert_int_equal(git_repository_open_ext(&w, work, 0, NULL), 0);
    assert_int_equal(git_repository_open_ext(&b, bare, 0, NULL), 0);
    assert_int_equal(gp_fingerprint_workdir_repo(&fp, b, SRC_TESTS, 2), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "bare"));
    assert_int_equal(gp_fingerprint_workdir_repo(&fp, w, SRC_TESTS, 0), GP_EINVALID);
    assert_int_equal(gp_fingerprint_workdir_repo(&fp, w, dotdot, 1), GP_EINVALID);
    assert_int_equal(gp_fingerprint_commit_repo(&fp, b, "1111111111111111111111111111111111111111",
                                                SRC_TESTS, 2),
                     GP_ENOTFOUND);
    assert_int_equal(gp_fingerprint_commit_repo(&fp, b, "main", SRC_TESTS, 2), GP_EINVALID);
    assert_int_equal(gp_fingerprint_commit_repo(&fp, b, "2c6", SRC_TESTS, 2), GP_EINVALID);
    assert_int_equal(gp_fingerprint_commit_repo(&fp, b, NULL, SRC_TESTS, 2), GP_EINVALID);
    /* the wrappers keep naming the directory they were given */
    assert_int_equal(gp_fingerprint_workdir(&fp, bare, SRC_TESTS, 2), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), bare));
    assert_int_equal(gp_fingerprint_workdir(&fp, tmp, SRC_TESTS, 2), GP_ENOTFOUND);
    git_repository_free(w);
    git_repository_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_opening),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
