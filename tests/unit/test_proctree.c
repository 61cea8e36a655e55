/*
 * test_proctree.c - lib/proctree.c: a chain of real processes (child -> grandchild) is found below
 * this process, and nothing outside it is; parent pids match getppid(); a name with ") (" in
 * /proc/<pid>/stat's comm field does not confuse the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "error.h"
#include "proctree.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static bool contains(const pid_t *v, size_t n, pid_t p)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == p) return true;
    return false;
}

static void chain(void **state)
{
    int fds[2];
    pid_t child, grandchild = 0, *pids = NULL, ppid;
    size_t n = 0;
    assert_int_equal(pipe(fds), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pid_t g;
        prctl(PR_SET_NAME, "gp a) (b", 0, 0, 0); /* a comm that looks like the field's end */
        g = fork();
        if (g == 0) {
            pause();
            _exit(0);
        }
        (void)!write(fds[1], &g, sizeof(g));
        pause();
        _exit(0);
    }
    assert_int_equal(read(fds[0], &grandchild, sizeof(grandchild)), (ssize_t)sizeof(grandchild));

    assert_int_equal(gp_proctree_descendants(&pids, &n, getpid()), 0);
    assert_true(contains(pids, n, child));
    assert_true(contains(pids, n, grandchild));
    assert_false(contains(pids, n, getpid()));
    assert_false(contains(pids, n, 1));
    free(pids);

    assert_int_equal(gp_proc_ppid(&ppid, child), 0);
    assert_int_equal(ppid, getpid());
    assert_int_equal(gp_proc_ppid(&ppid, grandchild), 0);
    assert_int_equal(ppid, child);
    assert_int_equal(gp_proc_ppid(&ppid, getpid()), 0);
    assert_int_equal(ppid, getppid());

    assert_true(gp_proc_is_descendant(child, getpid()));
    assert_true(gp_proc_is_descendant(grandchild, getpid()));
    assert_false(gp_proc_is_descendant(getpid(), getpid()));
    assert_false(gp_proc_is_descendant(getppid(), getpid()));
    assert_false(gp_proc_is_descendant(1, getpid()));

    /* the subtree of the child is just the grandchild */
    assert_int_equal(gp_proctree_descendants(&pids, &n, child), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pids[0], grandchild);
    free(pids);

    kill(grandchild, SIGKILL);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    /* gone: the grandchild may linger as a zombie of init for a moment, never below us */
    assert_false(gp_proc_is_descendant(child, getpid()));
    assert_int_equal(gp_proc_ppid(&ppid, child), GP_ENOTFOUND);
}

static void leaf_has_no_descendants(void **state)
{
    pid_t *pids = (pid_t *)1;
    size_t n = 7;
    /* pid 2^22+1 does not exist: nothing below it */
    assert_int_equal(gp_proctree_descendants(&pids, &n, 4194305), 0);
    assert_int_equal(n, 0);
    assert_null(pids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain),
        cmocka_unit_test(leaf_has_no_descendants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
