/*
 * junit.h - JUnit XML test reports (pytest, ctest --output-junit, go-junit-report, cargo-nextest),
 * parsed with expat into the tests of a receipt: node id, outcome, duration.
 *
 * Reports are untrusted input and are parsed with hard limits: the file size, the number of
 * testcases, the length of every attribute and the element depth are bounded, and any DOCTYPE
 * (so any entity declaration, the "billion laughs" family) is refused.
 *
 * Outcomes: a <testcase> with a <failure> or <error> child is failed (errors count as failed),
 * else one with a <skipped> child is skipped, else passed; ctest's status attribute counts too
 * ("fail" is failed, "notrun" and "disabled" are skipped). A test that appears twice (pytest
 * reports a teardown error of a passed test that way in some versions) is kept once, at its first
 * position, failed if any of its entries failed, durations added.
 *
 * Node ids:
 *   GP_JUNIT_PYTEST   pytest node ids rebuilt from the xunit1/xunit2 report pytest writes:
 *                     classname "tests.test_x.TestClass" + name "test_y[p]" becomes
 *                     "tests/test_x.py::TestClass::test_y[p]". The `file` attribute (xunit1)
 *                     gives the path; without it (xunit2) the dotted module path is mapped to a
 *                     file that exists under `root_dir` (GP_ENOTFOUND when none does).
 *   GP_JUNIT_GENERIC  "classname::name", or just "name" when classname is empty or equal to it
 *                     (ctest writes both the same).
 * Durations are the `time` attribute rounded to 4 decimal places as Python's round(x, 4).
 */
#ifndef GP_JUNIT_H
#define GP_JUNIT_H

#include "receipt.h"

#include <stddef.h>

typedef enum { GP_JUNIT_GENERIC, GP_JUNIT_PYTEST } gp_junit_flavor;

#define GP_JUNIT_MAX_BYTES (64u * 1024 * 1024) /* default report size limit */
#define GP_JUNIT_MAX_CASES 100000u             /* default testcase limit */
#define GP_JUNIT_MAX_ATTR 65536u               /* longest attribute value used */
#define GP_JUNIT_MAX_DEPTH 64u                 /* deepest element nesting */

typedef struct gp_junit_opts {
    gp_junit_flavor flavor;
    const char *root_dir; /* pytest: where module paths resolve (pytest's rootdir); NULL = "." */
    size_t max_bytes;     /* 0 = GP_JUNIT_MAX_BYTES */
    size_t max_cases;     /* 0 = GP_JUNIT_MAX_CASES */
} gp_junit_opts;

typedef struct gp_junit_case {
    char *node_id; /* UTF-8 */
    gp_outcome outcome;
    double duration_s; /* >= 0, rounded to 4 places */
} gp_junit_case;

typedef struct gp_junit_report {
    gp_junit_case *cases; /* in report order */
    size_t ncases;
    size_t passed, failed, skipped;
} gp_junit_report;

/*
 * Parses a report of `len` bytes. On success *out (caller frees with gp_junit_free) holds every
 * testcase; it may hold none (an empty report is the caller's to refuse). Errors: GP_EINVALID
 * (not well-formed XML, a DOCTYPE, not a JUnit report, an attribute or the nesting over its
 * limit), GP_ETOOBIG (over max_bytes or max_cases), GP_ENOTFOUND (a pytest classname that maps to
 * no file), GP_ERROR (out of memory). `o` may be NULL (generic flavour, default limits).
 */
int gp_junit_parse(gp_junit_report **out, const char *buf, size_t len, const gp_junit_opts *o);

/* The same, reading the report from `path` (streamed, at most max_bytes). GP_ENOTFOUND when the
 * file does not exist. */
int gp_junit_parse_file(gp_junit_report **out, const char *path, const gp_junit_opts *o);

void gp_junit_free(gp_junit_report *r);

/*
 * The pytest node id for one testcase of a pytest JUnit report (see above). `file` may be NULL
 * (xunit2); root_dir NULL means ".". *out is malloc'ed, caller frees.
 */
int gp_junit_pytest_node_id(char **out, const char *classname, const char *name, const char *file,
                            const char *root_dir);

/* Python's round(x, 4) for a finite double (correctly rounded, ties to even). */
double gp_round4(double x);

#endif
