/*
 * test_fingerprint.c - the code fingerprint (lib/fingerprint.c).
 *
 * A clone and a bare clone of the vectors' repo.bundle: for every commit the clean receipts name,
 * the working tree (checked out there) and the commit's tree both give the digest and file count
 * those receipts carry. Then the working tree is changed (edited, deleted, new, non-ASCII, quoted
 * and symlinked files, many files) and compared with a reference written in Python from
 * receipt-v1.md (`git ls-files -z` + hashlib + json.dumps), and with the tree once committed.
 * The functions that take an open repository (gp_fingerprint_workdir_repo / _commit_repo) must
 * give what the ones that open it themselves give, for every such commit, a changed working tree,
 * and the same errors; one open repository serves many calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_sh.h"

#include "error.h"
#include "fingerprint.h"

#include <dirent.h>
#include <git2.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[] = "/tmp/gp-fingerprint-XXXXXX";
static char work[256], bare[256];
static const char *const SRC_TESTS[] = {"src", "tests"};

static const char *vectors(void)
{
    const char *v = getenv("GP_VECTORS");
    return v ? v : "tests/vectors/pytest-gpu-proof-v1";
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(tmp)) return -1;
    snprintf(work, sizeof(work), "%s/work", tmp);
    snprintf(bare, sizeof(bare), "%s/bare.git", tmp);
    if (sh("git clone -q '%s/repo.bundle' '%s' 2>/dev/null && git clone -q --bare '%s/repo.bundle' "
           "'%s' 2>/dev/null",
           vectors(), work, vectors(), bare) != 0)
        return -1;
    git_libgit2_init();
    return sh("cd '%s' && git config user.email t@example.com && git config user.name t && "
              "git config core.symlinks true",
              work);
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf '%s'", tmp);
    git_libgit2_shutdown();
    return 0;
}

/* The reference: Python, from receipt-v1.md. Paths given relative to `dir`. */
static void reference(char digest[65], size_t *count, const char *dir, const char *paths)
{
    char cmd[4096];
    const char *py = getenv("PYTHON") ? getenv("PYTHON") : "python3";
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && %s -c '\n"
             "import subprocess, hashlib, json, os, sys\n"
             "out = subprocess.check_output([\"git\", \"ls-files\", \"-z\", \"--\"] + "
             "sys.argv[1:]).decode()\n"
             "files = {}\n"
             "for p in out.split(\"\\0\"):\n"
             "    if p and os.path.isfile(p):\n"
             "        files[p] = hashlib.sha256(open(p, \"rb\").read()).hexdigest()\n"
             "doc = json.dumps({\"files\": files}, sort_keys=True, separators=(\",\", \":\"))\n"
             "print(hashlib.sha256(doc.encode()).hexdigest(), len(files))\n"
             "' %s",
             dir, py, paths);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%64s %zu", digest, count), 2);
    assert_int_equal(pclose(p), 0);
}

static void expect_workdir(const char *dir, const char *const *paths, size_t npaths,
                           const char *pyargs)
{
    char digest[65];
    size_t count;
    gp_fingerprint fp;
    reference(digest, &count, dir, pyargs);
    int rc = gp_fingerprint_workdir(&fp, dir, paths, npaths);
    if (rc != 0) fail_msg("workdir %s: %s", dir, gp_error_last());
    assert_string_equal(fp.digest, digest);
    assert_int_equal(fp.file_count, count);
}

/* ---- the vectors ------------------------------------------------------------------------ */

static void test_vectors(void **state)
{
    (void)state;
    char path[4096];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/manifest.json", vectors());
    json_t *m = json_load_file(path, 0, &jerr);
    assert_non_null(m);
    size_t i, checked = 0, differs = 0;
    json_t *v;
    json_array_foreach(json_object_get(m, "vectors"), i, v)
    {
        const char *kind = json_string_value(json_object_get(v, "fingerprint"));
        const char *commit = json_string_value(json_object_get(v, "commit"));
        if (!kind) continue;
        snprintf(path, sizeof(path), "%s/%s", vectors(),
                 json_string_value(json_object_get(v, "file")));
        json_t *r = json_load_file(path, 0, &jerr);
        assert_non_null(r);
        json_t *f = json_object_get(r, "fingerprint");
        const char *digest = json_string_value(json_object_get(f, "digest"));
        size_t count = (size_t)json_integer_value(json_object_get(f, "file_count"));
        json_t *inc = json_object_get(f, "included_paths");
        const char *paths[8];
        size_t np = json_array_size(inc);
        assert_true(np > 0 && np <= 8);
        for (size_t k = 0; k < np; k++)
            paths[k] = json_string_value(json_array_get(inc, k));

        gp_fingerprint fw, fb, fa;
        assert_int_equal(sh("git -C '%s' checkout -q --detach %s", work, commit), 0);
        assert_int_equal(gp_fingerprint_workdir(&fw, work, paths, np), 0);
        assert_int_equal(gp_fingerprint_commit(&fb, bare, commit, paths, np), 0);
        char abbrev[8];
        snprintf(abbrev, sizeof(abbrev), "%.7s", commit);
        assert_int_equal(gp_fingerprint_commit(&fa, work, abbrev, paths, np), 0);
        assert_string_equal(fw.digest, fb.digest);
        assert_string_equal(fa.digest, fb.digest);
        assert_int_equal(fw.file_count, fb.file_count);
        if (strcmp(kind, "matches_commit") == 0) {
            assert_string_equal(fb.digest, digest);
            assert_int_equal(fb.file_count, count);
            checked++;
        } else {
            assert_string_not_equal(fb.digest, digest); /* the dirty tree */
            differs++;
        }
        json_decref(r);
    }
    assert_true(checked >= 6);
    assert_true(differs >= 1);
    json_decref(m);
}

/* ---- working tree changes --------------------------------------------------------------- */

static void test_changes(void **state)
{
    (void)state;
    const char *head = "67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0";
    gp_fingerprint clean, fp, tree;
    assert_int_equal(sh("git -C '%s' checkout -q --detach %s", work, head), 0);
    assert_int_equal(gp_fingerprint_workdir(&clean, work, SRC_TESTS, 2), 0);
    assert_int_equal(clean.file_count, 3);

    /* an edited file changes the digest; the commit's does not move */
    assert_int_equal(sh("echo '# edited' >> '%s/src/kern/ops.py'", work), 0);
    assert_int_equal(gp_fingerprint_workdir(&fp, work, SRC_TESTS, 2), 0);
    assert_string_not_equal(fp.digest, clean.digest);
    assert_int_equal(fp.file_count, 3);
    expect_workdir(work, SRC_TESTS, 2, "src tests");
    assert_int_equal(gp_fingerprint_commit(&tree, work, head, SRC_TESTS, 2), 0);
    assert_string_equal(tree.digest, clean.digest);
    assert_int_equal(sh("git -C '%s' checkout -q -- src/kern/ops.py", work), 0);
    assert_int_equal(gp_fingerprint_workdir(&fp, work, SRC_TESTS, 2), 0);
    assert_string_equal(fp.digest, clean.digest);

    /* a missing tracked file is left out; an untracked file does not count */
    assert_int_equal(sh("rm '%s/tests/conftest.py' && echo x > '%s/src/untracked.py'", work, work),
                     0);
    assert_int_equal(gp_fingerprint_workdir(&fp, work, SRC_TESTS, 2), 0);
    assert_int_equal(fp.file_count, 2);
    assert_string_not_equal(fp.digest, clean.digest);
    expect_workdir(work, SRC_TESTS, 2, "src tests");
    assert_int_equal(
        sh("git -C '%s' checkout -q -- tests/conftest.py && rm '%s/src/untracked.py'", work, work),
        0);

    /* a tracked file replaced by a FIFO is not a file: left out, and nothing blocks on it */
    assert_int_equal(sh("rm '%s/tests/conftest.py' && mkfifo '%s/tests/conftest.py'", work, work),
                     0);
    assert_int_equal(gp_fingerprint_workdir(&fp, work, SRC_TESTS, 2), 0);
    assert_int_equal(fp.file_count, 2);
    assert_int_equal(
        sh("rm '%s/tests/conftest.py' && git -C '%s' checkout -q -- tests/conftest.py", work, work),
        0);

    /* path forms: trailing '/', "./", a file, ".", a directory that is not there */
    static const char *const slash[] = {"src/", "./tests"};
    assert_int_equal(gp_fingerprint_workdir(&fp, work, slash, 2), 0);
    assert_string_equal(fp.digest, clean.digest);
    static const char *const file[] = {"tests/conftest.py"};
    expect_workdir(work, file, 1, "tests/conftest.py");
    static const char *const dot[] = {"."};
    expect_workdir(work, dot, 1, ".");
    static const char *const none[] = {"nothing-here", "sr"};
    expect_workdir(work, none, 2, "nothing-here sr");
    assert_int_equal(gp_fingerprint_workdir(&fp, work, none, 2), 0);
    assert_int_equal(fp.file_count, 0);

    /* repo_dir inside the work tree only locates the repository: paths stay relative to its top */
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/src/kern", work);
    assert_int_equal(gp_fingerprint_workdir(&fp, sub, SRC_TESTS, 2), 0);
    assert_string_equal(fp.digest, clean.digest);
    assert_int_equal(fp.file_count, 3);
}

static void test_names_and_many_files(void **state)
{
    (void)state;
    const char *head = "67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0";
    assert_int_equal(sh("git -C '%s' checkout -q -B extra %s", work, head), 0);
    /* non-ASCII (BMP and astral), quote, backslash, space, control-free odd names, a symlink,
     * an executable, and enough files to hash on several threads */
    assert_int_equal(
        sh("cd '%s' && mkdir -p 'src/d\xc3\xbc' src/gen tests/sub && "
           "printf a > 'src/d\xc3\xbc/\xe2\x9c\x93.py' && printf b > 'src/\xf0\x9f\x9a\x80.txt' && "
           "printf c > 'src/q\"uote.py' && printf d > 'src/back\\slash.py' && "
           "printf e > 'src/with space.py' && printf f > 'src/~tilde' && printf g > src/Zed && "
           "printf h > 'src/\x7f' && "
           "printf 'x\\n' > tests/sub/run.sh && chmod +x tests/sub/run.sh && "
           "ln -s ../src/Zed tests/link-to-zed && ln -s kern src/link-to-dir && "
           "ln -s /etc/hostname src/outside && "
           "for i in $(seq 1 150); do echo \"$i\" > src/gen/f$i.py; done && "
           "git add -A && git commit -q -m extra",
           work),
        0);
    expect_workdir(work, SRC_TESTS, 2, "src tests");
    gp_fingerprint w, t;
    assert_int_equal(gp_fingerprint_workdir(&w, work, SRC_TESTS, 2), 0);
    /* the tree agrees for everything the commit can answer: all but the link leaving the tree */
    static const char *const inside[] = {
        "src/gen",        "src/d\xc3\xbc",      "src/\xf0\x9f\x9a\x80.txt", "tests",
        "src/q\"uote.py", "src/back\\slash.py", "src/with space.py",        "src/~tilde",
        "src/Zed",        "src/\x7f",           "src/link-to-dir",          "src/kern"};
    size_t ni = sizeof(inside) / sizeof(inside[0]);
    assert_int_equal(gp_fingerprint_workdir(&w, work, inside, ni), 0);
    char cmd[512], sha[64] = "";
    snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse HEAD", work);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%63s", sha), 1);
    pclose(p);
    assert_int_equal(gp_fingerprint_commit(&t, work, sha, inside, ni), 0);
    assert_string_equal(w.digest, t.digest);
    assert_int_equal(w.file_count, t.file_count);
    /* 150 generated, 8 odd names, 4 under tests (one a link to src/Zed), src/kern/ops.py; the link
     * to a directory is not a file */
    assert_int_equal(w.file_count, 150 + 8 + 4 + 1);
}

static void test_errors(void **state)
{
    (void)state;
    gp_fingerprint fp;
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", tmp);
    assert_int_equal(gp_fingerprint_workdir(&fp, tmp, SRC_TESTS, 2), GP_ENOTFOUND);
    assert_true(gp_fingerprint_workdir(&fp, missing, SRC_TESTS, 2) < 0);
    assert_int_equal(gp_fingerprint_workdir(&fp, bare, SRC_TESTS, 2), GP_EINVALID);
    assert_int_equal(gp_fingerprint_workdir(&fp, work, SRC_TESTS, 0), GP_EINVALID);
    static const char *const bad[][1] = {{"../etc"}, {"/etc"}, {"src/../tests"}, {"src//kern"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gp_fingerprint_workdir(&fp, work, bad[i], 1), GP_EINVALID);
    assert_int_equal(
        gp_fingerprint_commit(&fp, bare, "1111111111111111111111111111111111111111", SRC_TESTS, 2),
        GP_ENOTFOUND);
    assert_int_equal(gp_fingerprint_commit(&fp, bare, "main", SRC_TESTS, 2), GP_EINVALID);
    assert_int_equal(gp_fingerprint_commit(&fp, bare, "2c6", SRC_TESTS, 2), GP_EINVALID);
    assert_int_equal(gp_fingerprint_commit(&fp, bare, NULL, SRC_TESTS, 2), GP_EINVALID);
    assert_int_equal(gp_fingerprint_commit(&fp, missing, "2c6362308d6f", SRC_TESTS, 2),
                     GP_ENOTFOUND);
    assert_true(gp_error_last()[0] != '\0');
}

/* ---- with an open repository ---------------------------------------------------------- */

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

static void test_repo_errors(void **state)
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
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_changes),
        cmocka_unit_test(test_names_and_many_files),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_same_as_opening),
        cmocka_unit_test(test_repo_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
