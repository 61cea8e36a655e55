/*
 * test_gitstate.c - lib/gitstate.c against git itself: each case builds a repository with the git
 * command line, then compares gp_gitstate_read() with what `git rev-parse HEAD`,
 * `git rev-parse --abbrev-ref HEAD`, `git status --porcelain --ignore-submodules=untracked` and
 * `git remote get-url origin` print there (and with the value the case expects, so that a git that
 * changed its mind would be noticed too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_sh.h"

#include "error.h"
#include "gitstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[64];

/* First line of a command's stdout, "" when it printed nothing; NULL when it failed. */
static char *capture(const char *dir, const char *cmd)
{
    char *full = NULL, line[4096] = "";
    assert_true(asprintf(&full, "cd '%s' && %s 2>/dev/null", dir, cmd) > 0);
    FILE *f = popen(full, "r");
    assert_non_null(f);
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    int rc = pclose(f);
    free(full);
    if (rc != 0) return NULL;
    line[strcspn(line, "\n")] = '\0';
    return strdup(line);
}

static int setup(void **state)
{
    strcpy(root, "/tmp/gp-gitstate-XXXXXX");
    assert_non_null(mkdtemp(root));
    setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_AUTHOR_NAME", "t", 1);
    setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
    setenv("GIT_COMMITTER_NAME", "t", 1);
    setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
    /* a repository to be used as a submodule */
    assert_int_equal(sh("cd %s && git init -q -b main sub && cd sub && echo s > s.txt && "
                        "git add s.txt && git commit -qm s && echo s2 > s.txt && "
                        "git commit -qam s2",
                        root),
                     0);
    return 0;
}

static int teardown(void **state)
{
    sh("rm -rf '%s'", root);
    return 0;
}

#define BASE                                                                                       \
    "git init -q -b main . && mkdir -p src tests && echo a > src/a.py && "                         \
    "echo t > tests/test_a.py && echo '*.log' > .gitignore && git add -A && "                      \
    "git commit -qm one"

#define SUBADD                                                                                     \
    BASE " && git -c protocol.file.allow=always submodule -q add \"$GP_SUB\" sub && "              \
         "git commit -qm sub"

typedef struct gs_case {
    const char *name;
    const char *setup;  /* run in a fresh directory */
    int dirty;          /* expected */
    const char *branch; /* expected, NULL = unborn */
    const char *origin; /* expected, NULL = none */
} gs_case;

static const gs_case cases[] = {
    {"clean", BASE, 0, "main", NULL},
    {"modified tracked", BASE " && echo b >> src/a.py", 1, "main", NULL},
    {"staged", BASE " && echo n > src/n.py && git add src/n.py", 1, "main", NULL},
    {"untracked", BASE " && echo u > notes.txt", 1, "main", NULL},
    {"untracked in new dir", BASE " && mkdir -p d/e && echo u > d/e/f", 1, "main", NULL},
    {"ignored only", BASE " && echo l > run.log", 0, "main", NULL},
    {"deleted tracked", BASE " && rm tests/test_a.py", 1, "main", NULL},
    {"detached", BASE " && echo c >> src/a.py && git commit -qam two && git checkout -q HEAD~1", 0,
     "HEAD", NULL},
    {"branch with slash", BASE " && git checkout -q -b feature/x", 0, "feature/x", NULL},
    {"origin", BASE " && git remote add origin git@github.com:alice/gpukernels.git", 0, "main",
     "git@github.com:alice/gpukernels.git"},
    {"unborn", "git init -q -b main . && echo x > x", 1, NULL, NULL},
    {"submodule clean",
     BASE " && git -c protocol.file.allow=always submodule -q add "
          "\"$GP_SUB\" sub && git commit -qm sub",
     0, "main", NULL},
    {"submodule untracked inside",
     BASE " && git -c protocol.file.allow=always submodule -q add "
          "\"$GP_SUB\" sub && git commit -qm sub && echo u > sub/u",
     0, "main", NULL},
    {"submodule modified inside",
     BASE " && git -c protocol.file.allow=always submodule -q add "
          "\"$GP_SUB\" sub && git commit -qm sub && "
          "echo m >> sub/s.txt",
     1, "main", NULL},
    {"submodule other commit",
     BASE " && git -c protocol.file.allow=always submodule -q add "
          "\"$GP_SUB\" sub && git commit -qm sub && "
          "git -C sub checkout -q HEAD~1",
     1, "main", NULL},
    {"submodule staged at other commit", SUBADD " && git -C sub checkout -q HEAD~1 && git add sub",
     1, "main", NULL},
    {"submodule deinitialised", SUBADD " && git submodule -q deinit -f sub", 0, "main", NULL},
    {"submodule removed", SUBADD " && rm -rf sub", 1, "main", NULL},
    {"submodule staged content", SUBADD " && echo n > sub/n && git -C sub add n", 1, "main", NULL},
};

static void against_git(void **state)
{
    char *sub = NULL;
    assert_true(asprintf(&sub, "%s/sub", root) > 0);
    setenv("GP_SUB", sub, 1);
    free(sub);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const gs_case *c = &cases[i];
        char dir[128];
        gp_gitstate *s = NULL;
        snprintf(dir, sizeof(dir), "%s/case%zu", root, i);
        if (sh("mkdir -p '%s' && cd '%s' && (%s) >/dev/null", dir, dir, c->setup) != 0)
            fail_msg("%s: setup failed", c->name);
        if (gp_gitstate_read(&s, dir) < 0) fail_msg("%s: %s", c->name, gp_error_last());

        char *head = capture(dir, "git rev-parse --verify -q HEAD");
        char *branch = capture(dir, "git rev-parse --abbrev-ref HEAD");
        char *status = capture(dir, "git status --porcelain --ignore-submodules=untracked");
        char *origin = capture(dir, "git remote get-url origin");
        char *top = capture(dir, "git rev-parse --show-toplevel");

        if ((head && !s->commit) || (!head && s->commit) || (head && strcmp(head, s->commit)))
            fail_msg("%s: commit %s, git says %s", c->name, s->commit, head);
        if ((c->branch == NULL) != (s->branch == NULL) ||
            (c->branch && strcmp(c->branch, s->branch)))
            fail_msg("%s: branch %s, want %s", c->name, s->branch, c->branch);
        if (branch && c->branch) assert_string_equal(branch, s->branch);
        assert_non_null(status);
        if (s->dirty != (status[0] != '\0') || s->dirty != (c->dirty != 0))
            fail_msg("%s: dirty %d, want %d, git status says '%s'", c->name, s->dirty, c->dirty,
                     status);
        if ((c->origin == NULL) != (s->remote_url == NULL) ||
            (c->origin && strcmp(c->origin, s->remote_url)))
            fail_msg("%s: origin %s, want %s", c->name, s->remote_url, c->origin);
        if (origin) assert_string_equal(origin, s->remote_url);
        assert_non_null(top);
        assert_string_equal(top, s->workdir);
        free(head), free(branch), free(status), free(origin), free(top);
        gp_gitstate_free(s);
    }
}

static void subdirectory_and_errors(void **state)
{
    char dir[128], subdir[160];
    gp_gitstate *s = NULL;
    snprintf(dir, sizeof(dir), "%s/sd", root);
    snprintf(subdir, sizeof(subdir), "%s/src", dir);
    assert_int_equal(sh("mkdir -p '%s' && cd '%s' && (%s) >/dev/null", dir, dir, BASE), 0);
    assert_int_equal(gp_gitstate_read(&s, subdir), 0);
    assert_string_equal(s->workdir, dir);
    gp_gitstate_free(s);

    snprintf(dir, sizeof(dir), "%s/bare.git", root);
    assert_int_equal(sh("git init -q --bare '%s'", dir), 0);
    s = NULL;
    assert_int_equal(gp_gitstate_read(&s, dir), GP_EUNSUPPORTED);
    assert_null(s);

    snprintf(dir, sizeof(dir), "%s/plain", root);
    assert_int_equal(sh("mkdir -p '%s'", dir), 0);
    setenv("GIT_CEILING_DIRECTORIES", root, 1);
    assert_int_equal(gp_gitstate_read(&s, dir), GP_ENOTFOUND);
    unsetenv("GIT_CEILING_DIRECTORIES");
    assert_null(s);
    gp_gitstate_free(NULL);
}

static void url_owner(void **state)
{
    static const struct {
        const char *url, *owner;
    } ok[] = {
        {"git@github.com:alice/gpukernels.git", "alice"},
        {"https://github.com/bob/k", "bob"},
        {"https://github.com/bob/k.git", "bob"},
        {"ssh://git@github.com/carol/k.git", "carol"},
        {"ssh://git@github.com:22/dave/k.git", "dave"},
        {"git://example.org/erin/x", "erin"},
    };
    static const char *bad[] = {"/srv/git/k.git",
                                "https://github.com/alice",
                                "file:///tmp/x",
                                "git@github.com:alice",
                                "",
                                "https://github.com/"};
    char out[64];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (gp_git_url_owner(out, sizeof(out), ok[i].url) < 0)
            fail_msg("%s: %s", ok[i].url, gp_error_last());
        assert_string_equal(out, ok[i].owner);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (gp_git_url_owner(out, sizeof(out), bad[i]) != GP_ENOTFOUND)
            fail_msg("%s: accepted as '%s'", bad[i], out);
    assert_int_equal(gp_git_url_owner(out, 4, "git@github.com:alice/k.git"), GP_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(against_git),
        cmocka_unit_test(subdirectory_and_errors),
        cmocka_unit_test(url_owner),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
