/*
 * test_junit.c - JUnit reports into receipt tests (lib/junit.c): real pytest xunit1/xunit2,
 * ctest --output-junit, cargo-nextest and go-junit-report reports from tests/data/junit/, pytest
 * node id reconstruction, and hostile input (malformed XML, entity expansion, limits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "error.h"
#include "junit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *data_path(const char *name)
{
    const char *src = getenv("GP_SOURCE_DIR");
    char *p = NULL;
    assert_true(asprintf(&p, "%s/tests/data/junit/%s", src ? src : "..", name) > 0);
    return p;
}

typedef struct expect_case {
    const char *node_id;
    gp_outcome outcome;
    double duration;
} expect_case;

static bool check_durations = true;

static void check_report(const gp_junit_report *r, const expect_case *want, size_t n)
{
    for (size_t i = 0; i < r->ncases && i < n; i++) {
        assert_string_equal(r->cases[i].node_id, want[i].node_id);
        if (r->cases[i].outcome != want[i].outcome)
            fail_msg("%s: outcome %d, want %d", want[i].node_id, r->cases[i].outcome,
                     want[i].outcome);
        if (check_durations) assert_true(r->cases[i].duration_s == want[i].duration);
    }
    assert_int_equal(r->ncases, n);
}

static gp_junit_report *parse_data(const char *name, gp_junit_flavor flavor, const char *root)
{
    gp_junit_opts o = {flavor, root, 0, 0};
    gp_junit_report *r = NULL;
    char *p = data_path(name);
    int error = gp_junit_parse_file(&r, p, &o);
    if (error < 0) fail_msg("%s: %s", name, gp_error_last());
    free(p);
    return r;
}

#define P GP_OUTCOME_PASSED
#define F GP_OUTCOME_FAILED
#define S GP_OUTCOME_SKIPPED

/* What `pytest --collect-only -q` printed for the suite the reports came from. */
static const expect_case pytest_cases[] = {
    {"tests/test_kern.py::test_relu", P, 0.001},
    {"tests/test_kern.py::test_shapes[2x2]", P, 0.001},
    {"tests/test_kern.py::test_shapes[\\xfc\\xd78]", P, 0.0},
    {"tests/test_kern.py::test_shapes[fp16]", P, 0.0},
    {"tests/test_kern.py::test_shapes[a::b]", P, 0.0},
    {"tests/test_kern.py::test_shapes[1.5]", P, 0.0},
    {"tests/test_kern.py::TestBatch::test_batched", P, 0.0},
    {"tests/test_kern.py::TestBatch::TestInner::test_deep", P, 0.001},
    {"tests/test_kern.py::test_broken", F, 0.001},
    {"tests/test_kern.py::test_hopper_only", S, 0.0},
    {"tests/test_kern.py::test_setup_error", F, 0.0},
    {"tests/test_kern.py::test_xfail", S, 0.001},
    {"tests/test_kern.py::test_teardown_error", F, 0.001},
    {"tests/sub/test_more.py::test_more", P, 0.0},
};

static void pytest_xunit1(void **state)
{
    /* xunit1 carries file=, so no file system lookup: a root that does not exist still works */
    gp_junit_report *r = parse_data("pytest-xunit1.xml", GP_JUNIT_PYTEST, "/nonexistent");
    check_report(r, pytest_cases, sizeof(pytest_cases) / sizeof(pytest_cases[0]));
    assert_int_equal(r->passed, 9);
    assert_int_equal(r->failed, 3);
    assert_int_equal(r->skipped, 2);
    gp_junit_free(r);
}

static char *make_root(void)
{
    char tmpl[] = "/tmp/gp-junit-XXXXXX";
    char *root = strdup(mkdtemp(tmpl));
    const char *files[] = {"tests/test_kern.py", "tests/sub/test_more.py"};
    char *p = NULL;
    assert_int_equal(asprintf(&p, "%s/tests/sub", root) > 0, 1);
    assert_int_equal(system(NULL) != 0, 1);
    {
        char *cmd = NULL;
        assert_true(asprintf(&cmd, "mkdir -p '%s' && touch '%s/%s' '%s/%s'", p, root, files[0],
                             root, files[1]) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
    }
    free(p);
    return root;
}

static void remove_root(char *root)
{
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "rm -rf '%s'", root) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(root);
}

static void pytest_xunit2_maps_modules_to_files(void **state)
{
    char *root = make_root();
    gp_junit_report *r = parse_data("pytest-xunit2.xml", GP_JUNIT_PYTEST, root);
    check_durations = false; /* another run of the same suite */
    check_report(r, pytest_cases, sizeof(pytest_cases) / sizeof(pytest_cases[0]));
    check_durations = true;
    gp_junit_free(r);

    /* without the files there is nothing to map to: an error, never a guess */
    gp_junit_opts o = {GP_JUNIT_PYTEST, "/nonexistent", 0, 0};
    char *p = data_path("pytest-xunit2.xml");
    assert_int_equal(gp_junit_parse_file(&r, p, &o), GP_ENOTFOUND);
    assert_non_null(strstr(gp_error_last(), "tests.test_kern"));
    assert_null(r);
    free(p);
    remove_root(root);
}

static void pytest_collection_error_is_failed(void **state)
{
    static const expect_case want[] = {{"tests/test_collect_err.py", F, 0.0}};
    gp_junit_report *r = parse_data("pytest-collect-error.xml", GP_JUNIT_PYTEST, NULL);
    check_report(r, want, 1);
    assert_int_equal(r->failed, 1);
    gp_junit_free(r);
}

static void ctest_report(void **state)
{
    static const expect_case want[] = {
        {"passes", P, 0.0098}, {"fails", F, 0.0036}, {"skips", S, 0.0076}, {"off", S, 0.0}};
    gp_junit_report *r = parse_data("ctest.xml", GP_JUNIT_GENERIC, NULL);
    check_report(r, want, 4);
    gp_junit_free(r);
}

static void nextest_report(void **state)
{
    static const expect_case want[] = {
        {"mycrate::tests::adds", P, 0.0031},
        {"mycrate::tests::fails", F, 0.0045},
        {"mycrate::tests::flaky", P, 0.01}, /* a flaky failure that passed on retry */
        {"mycrate::integration::it_works", P, 0.0001},
    };
    gp_junit_report *r = parse_data("nextest.xml", GP_JUNIT_GENERIC, NULL);
    check_report(r, want, 4);
    gp_junit_free(r);
}

static void go_junit_report(void **state)
{
    static const expect_case want[] = {
        {"example.com/kern::TestAdd", P, 0.0},
        {"example.com/kern::TestSub/negative", F, 0.0013}, /* Python: round(0.00125, 4) == 0.0013 */
        {"example.com/kern::TestSkip", S, 0.0},
        {"example.com/kern::TestPanics", F, 0.002},
    };
    gp_junit_report *r = parse_data("go-junit-report.xml", GP_JUNIT_GENERIC, NULL);
    check_report(r, want, 4);
    assert_int_equal(r->passed, 1);
    assert_int_equal(r->failed, 2);
    assert_int_equal(r->skipped, 1);
    gp_junit_free(r);
}

/* In-memory reports: what they parse to, or the error they give. */
typedef struct mem_case {
    const char *what;
    const char *xml;
    int error; /* 0 or the expected GP_E* */
    size_t ncases;
    const char *first; /* node id of the first case, or a substring of the error */
} mem_case;

static const mem_case mem_cases[] = {
    {"empty file", "", GP_EINVALID, 0, "not well-formed"},
    {"empty suite", "<testsuite name='x' tests='0'/>", 0, 0, NULL},
    {"not junit", "<html><testcase name='a'/></html>", GP_EINVALID, 0, "root element"},
    {"truncated", "<testsuites><testsuite><testcase name='a'>", GP_EINVALID, 0, "not well-formed"},
    {"mismatched tags", "<testsuite><testcase name='a'></testsuite>", GP_EINVALID, 0,
     "not well-formed"},
    {"garbage", "\x01\x02garbage", GP_EINVALID, 0, "not well-formed"},
    {"nameless case", "<testsuite><testcase classname='c'/></testsuite>", GP_EINVALID, 0,
     "no name"},
    {"error counts as failed", "<testsuite><testcase name='a'><error/></testcase></testsuite>", 0,
     1, "a"},
    {"billion laughs",
     "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
     "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
     "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>]>"
     "<testsuite><testcase name='&lol3;'/></testsuite>",
     GP_EINVALID, 0, "DOCTYPE"},
    {"external entity",
     "<!DOCTYPE t SYSTEM 'file:///etc/passwd'><testsuite><testcase name='a'/></testsuite>",
     GP_EINVALID, 0, "DOCTYPE"},
    {"undeclared entity", "<testsuite><testcase name='&xx;'/></testsuite>", GP_EINVALID, 0,
     "not well-formed"},
    {"char refs fine", "<testsuite><testcase classname='k' name='t[&#xfc;&lt;]'/></testsuite>", 0,
     1, "k::t[\xc3\xbc<]"},
    {"duplicate merged",
     "<testsuite><testcase name='a' time='1'/><testcase name='b'/>"
     "<testcase name='a' time='2'><failure/></testcase></testsuite>",
     0, 2, "a"},
    {"nested suites",
     "<testsuites><testsuite><testsuite><testcase name='deep'/></testsuite>"
     "</testsuite></testsuites>",
     0, 1, "deep"},
    {"bad time ignored", "<testsuite><testcase name='a' time='-3'/></testsuite>", 0, 1, "a"},
};

static void in_memory_reports(void **state)
{
    for (size_t i = 0; i < sizeof(mem_cases) / sizeof(mem_cases[0]); i++) {
        const mem_case *m = &mem_cases[i];
        gp_junit_report *r = NULL;
        int error = gp_junit_parse(&r, m->xml, strlen(m->xml), NULL);
        if (error != m->error)
            fail_msg("%s: got %d (%s), want %d", m->what, error, gp_error_last(), m->error);
        if (error < 0) {
            assert_null(r);
            if (m->first && !strstr(gp_error_last(), m->first))
                fail_msg("%s: message '%s' lacks '%s'", m->what, gp_error_last(), m->first);
            continue;
        }
        if (r->ncases != m->ncases) fail_msg("%s: %zu cases", m->what, r->ncases);
        if (m->first) assert_string_equal(r->cases[0].node_id, m->first);
        gp_junit_free(r);
    }
}

static void duplicates_keep_order_and_worst_outcome(void **state)
{
    const char *xml = "<testsuite><testcase name='a' time='1'/><testcase name='b'/>"
                      "<testcase name='a' time='2'><failure/></testcase></testsuite>";
    gp_junit_report *r = NULL;
    assert_int_equal(gp_junit_parse(&r, xml, strlen(xml), NULL), 0);
    assert_int_equal(r->ncases, 2);
    assert_string_equal(r->cases[0].node_id, "a");
    assert_int_equal(r->cases[0].outcome, F);
    assert_true(r->cases[0].duration_s == 3.0);
    assert_string_equal(r->cases[1].node_id, "b");
    assert_int_equal(r->failed, 1);
    assert_int_equal(r->passed, 1);
    gp_junit_free(r);
}

static void limits(void **state)
{
    gp_junit_report *r = NULL;
    gp_junit_opts o = {GP_JUNIT_GENERIC, NULL, 0, 3};
    const char *four = "<testsuite><testcase name='a'/><testcase name='b'/><testcase name='c'/>"
                       "<testcase name='d'/></testsuite>";
    assert_int_equal(gp_junit_parse(&r, four, strlen(four), &o), GP_ETOOBIG);
    assert_null(r);

    o.max_cases = 0;
    o.max_bytes = 16;
    assert_int_equal(gp_junit_parse(&r, four, strlen(four), &o), GP_ETOOBIG);

    /* an attribute past its bound */
    size_t n = GP_JUNIT_MAX_ATTR + 100;
    char *big = malloc(n + 64);
    int len = sprintf(big, "<testsuite><testcase name='");
    memset(big + len, 'x', GP_JUNIT_MAX_ATTR + 1);
    strcpy(big + len + GP_JUNIT_MAX_ATTR + 1, "'/></testsuite>");
    assert_int_equal(gp_junit_parse(&r, big, strlen(big), NULL), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "longer than"));
    free(big);

    /* nesting past its bound */
    char *deep = malloc(200 * 12 + 64);
    char *p = deep;
    p += sprintf(p, "<testsuite>");
    for (int i = 0; i < 200; i++)
        p += sprintf(p, "<x>");
    for (int i = 0; i < 200; i++)
        p += sprintf(p, "</x>");
    sprintf(p, "</testsuite>");
    assert_int_equal(gp_junit_parse(&r, deep, strlen(deep), NULL), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "nested"));
    free(deep);

    /* the file limit applies while streaming */
    char path[] = "/tmp/gp-junit-big-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, four, strlen(four)), (ssize_t)strlen(four));
    close(fd);
    o.max_bytes = 20;
    assert_int_equal(gp_junit_parse_file(&r, path, &o), GP_ETOOBIG);
    o.max_bytes = 0;
    assert_int_equal(gp_junit_parse_file(&r, path, &o), 0);
    assert_int_equal(r->ncases, 4);
    gp_junit_free(r);
    unlink(path);
    assert_int_equal(gp_junit_parse_file(&r, path, &o), GP_ENOTFOUND);
}

typedef struct nodeid_case {
    const char *classname, *name, *file, *want;
} nodeid_case;

static void pytest_node_ids(void **state)
{
    static const nodeid_case cases[] = {
        {"tests.test_x", "test_y", "tests/test_x.py", "tests/test_x.py::test_y"},
        {"tests.test_x.TestClass", "test_y[param]", "tests/test_x.py",
         "tests/test_x.py::TestClass::test_y[param]"},
        {"tests.test_x.A.B", "test_y[a.b::c]", "tests/test_x.py",
         "tests/test_x.py::A::B::test_y[a.b::c]"},
        {"test_top", "test_y", "test_top.py", "test_top.py::test_y"},
        {"", "tests.test_bad", "tests/test_bad.py", "tests/test_bad.py"},
        {"tests.test_kern", "test_relu", NULL, "tests/test_kern.py::test_relu"},
        {"tests.sub.test_more.TestK", "test_z", NULL, "tests/sub/test_more.py::TestK::test_z"},
        /* file= names where the function is defined (inherited test): the classname decides */
        {"tests.test_kern.TestBatch", "test_base", "tests/sub/test_more.py",
         "tests/test_kern.py::TestBatch::test_base"},
    };
    char *root = make_root();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *id = NULL;
        int error =
            gp_junit_pytest_node_id(&id, cases[i].classname, cases[i].name, cases[i].file, root);
        if (error < 0) fail_msg("case %zu: %s", i, gp_error_last());
        assert_string_equal(id, cases[i].want);
        free(id);
    }
    char *id = NULL;
    assert_int_equal(gp_junit_pytest_node_id(&id, "nomod.test_q", "t", NULL, root), GP_ENOTFOUND);
    assert_null(id);
    remove_root(root);
}

static void round4_like_python(void **state)
{
    /* python3 -c 'print(round(x, 4))' */
    static const struct {
        double in, want;
    } cases[] = {
        {0.00005, 0.0001}, {0.00015, 0.0001}, {0.00125, 0.0013},     {1.23456, 1.2346},
        {0.0, 0.0},        {2.5e-05, 0.0},    {123.45675, 123.4567}, {0.00035, 0.0003},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (gp_round4(cases[i].in) != cases[i].want)
            fail_msg("round(%.17g, 4) = %.17g, want %.17g", cases[i].in, gp_round4(cases[i].in),
                     cases[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pytest_xunit1),
        cmocka_unit_test(pytest_xunit2_maps_modules_to_files),
        cmocka_unit_test(pytest_collection_error_is_failed),
        cmocka_unit_test(ctest_report),
        cmocka_unit_test(nextest_report),
        cmocka_unit_test(go_junit_report),
        cmocka_unit_test(in_memory_reports),
        cmocka_unit_test(duplicates_keep_order_and_worst_outcome),
        cmocka_unit_test(limits),
        cmocka_unit_test(pytest_node_ids),
        cmocka_unit_test(round4_like_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
