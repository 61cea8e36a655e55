/*
 * junit.c - JUnit XML reports into receipt tests, with expat (see junit.h).
 *
 * The parser keeps no character data (failure messages and captured output are not needed), so
 * memory grows only with the number of testcases, which is bounded. Every <testcase> is turned
 * into a node id when it closes; duplicates are merged at the end by sorting an index.
 */
#include "junit.h"

#include "error.h"

#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct parse_ctx {
    XML_Parser p;
    const gp_junit_opts *o;
    size_t max_cases;
    int error; /* first error from a handler, stops the parser */
    unsigned depth;
    bool seen_root;
    unsigned case_depth; /* depth of the open <testcase>, 0 when none */
    char *classname, *name, *file;
    double time;
    bool failed, skipped;
    gp_junit_case *cases;
    size_t ncases, cap;
} parse_ctx;

double gp_round4(double x)
{
    char tmp[64];
    if (!isfinite(x) || fabs(x) >= 1e15) return x;
    snprintf(tmp, sizeof(tmp), "%.4f", x); /* correctly rounded, ties to even: as Python's round */
    return strtod(tmp, NULL);
}

static int stop(parse_ctx *c, int error)
{
    if (!c->error) c->error = error;
    XML_StopParser(c->p, XML_FALSE);
    return error;
}

static void clear_case(parse_ctx *c)
{
    free(c->classname);
    free(c->name);
    free(c->file);
    c->classname = c->name = c->file = NULL;
    c->time = 0;
    c->failed = c->skipped = false;
    c->case_depth = 0;
}

/* "tests/test_x.py" -> "tests.test_x", as pytest's mangle_test_address does. */
static char *mangle_path(const char *file)
{
    size_t n = strlen(file);
    char *m = strdup(file);
    if (!m) return NULL;
    for (size_t i = 0; i < n; i++)
        if (m[i] == '/') m[i] = '.';
    if (n >= 3 && !strcmp(m + n - 3, ".py")) m[n - 3] = '\0';
    return m;
}

static bool is_file_under(const char *root, const char *rel)
{
    struct stat st;
    char *path = NULL;
    bool ok;
    if (asprintf(&path, "%s/%s", root, rel) < 0) return false;
    ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return ok;
}

/* Appends `s` to *acc with `sep` between (all malloc'ed); false on OOM. */
static bool append(char **acc, const char *sep, const char *s)
{
    char *n = NULL;
    if (asprintf(&n, "%s%s%s", *acc ? *acc : "", *acc ? sep : "", s) < 0) return false;
    free(*acc);
    *acc = n;
    return true;
}

/* Maps dotted parts[0..nparts) to "path.py::Class::...": the longest prefix that is a file. */
static int map_module(char **out, char **parts, size_t nparts, const char *name, const char *root,
                      const char *dotted)
{
    for (size_t k = nparts; k >= 1; k--) {
        for (int variant = 0; variant < 2; variant++) {
            char *path = NULL, *id = NULL;
            if (variant == 1 && k < 2) continue;
            for (size_t i = 0; i < (variant ? k - 1 : k); i++)
                if (!append(&path, "/", parts[i])) goto oom;
            if (!append(&path, ".", variant ? parts[k - 1] : "py")) goto oom;
            if (!is_file_under(root, path)) {
                free(path);
                continue;
            }
            id = path;
            for (size_t i = k; i < nparts; i++)
                if (!append(&id, "::", parts[i])) goto oom;
            if (name && !append(&id, "::", name)) goto oom;
            *out = id;
            return 0;
        oom:
            free(path != id ? path : NULL);
            free(id);
            return gp_error_setf(GP_ERROR, "out of memory");
        }
    }
    return gp_error_setf(GP_ENOTFOUND,
                         "the pytest report names module '%s', which is no file under %s; run "
                         "gpuproof-cli from pytest's rootdir",
                         dotted, root);
}

int gp_junit_pytest_node_id(char **out, const char *classname, const char *name, const char *file,
                            const char *root_dir)
{
    char *m = NULL, *id = NULL, *copy = NULL, **parts = NULL;
    const char *root = root_dir ? root_dir : ".";
    size_t nparts = 0;
    int error = 0;
    *out = NULL;
    if (!classname) classname = "";
    if (!name || !*name) return gp_error_setf(GP_EINVALID, "a pytest testcase has no name");

    if (file && *file) {
        size_t ml;
        if (!(m = mangle_path(file))) goto oom;
        ml = strlen(m);
        if (!*classname && !strcmp(name, m)) { /* a module that failed to collect */
            if (!(id = strdup(file))) goto oom;
            goto found;
        }
        if (!strcmp(classname, m)) {
            if (asprintf(&id, "%s::%s", file, name) < 0) goto oom;
            goto found;
        }
        if (!strncmp(classname, m, ml) && classname[ml] == '.') {
            if (!(id = strdup(file))) goto oom;
            for (const char *s = classname + ml + 1; *s;) {
                size_t n = strcspn(s, ".");
                char *piece = strndup(s, n);
                bool ok = piece && append(&id, "::", piece);
                free(piece);
                if (!ok) goto oom;
                s += n;
                if (*s == '.') s++;
            }
            if (!append(&id, "::", name)) goto oom;
            goto found;
        }
        /* `file` is where the function is defined (an inherited test): map the classname. */
    }

    /* Dotted module path -> a file that exists. A module's collection error has no classname. */
    if (!(copy = strdup(*classname ? classname : name))) goto oom;
    for (char *s = copy;; s++) {
        char *dot = strchr(s, '.');
        char **np = realloc(parts, (nparts + 1) * sizeof(*parts));
        if (!np) goto oom;
        parts = np;
        parts[nparts++] = s;
        if (!dot) break;
        *dot = '\0';
        s = dot;
    }
    error = map_module(&id, parts, nparts, *classname ? name : NULL, root,
                       *classname ? classname : name);
    if (error < 0) goto done;
found:
    *out = id;
    id = NULL;
    goto done;
oom:
    error = gp_error_setf(GP_ERROR, "out of memory");
done:
    free(m);
    free(id);
    free(copy);
    free(parts);
    return error;
}

static const char *attr(const XML_Char **atts, const char *key)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (!strcmp(atts[i], key)) return atts[i + 1];
    return NULL;
}

static int dup_attr(parse_ctx *c, char **dst, const XML_Char **atts, const char *key)
{
    const char *v = attr(atts, key);
    if (!v) return 0;
    if (strlen(v) > GP_JUNIT_MAX_ATTR)
        return stop(c, gp_error_setf(GP_EINVALID,
                                     "JUnit report: a testcase %s attribute is longer "
                                     "than %u bytes",
                                     key, GP_JUNIT_MAX_ATTR));
    if (!(*dst = strdup(v))) return stop(c, gp_error_setf(GP_ERROR, "out of memory"));
    return 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **atts)
{
    parse_ctx *c = ud;
    if (c->error) return;
    if (++c->depth > GP_JUNIT_MAX_DEPTH) {
        stop(c, gp_error_setf(GP_EINVALID, "JUnit report: elements nested deeper than %u",
                              GP_JUNIT_MAX_DEPTH));
        return;
    }
    if (!c->seen_root) {
        c->seen_root = true;
        if (strcmp(el, "testsuites") && strcmp(el, "testsuite"))
            stop(c, gp_error_setf(GP_EINVALID,
                                  "not a JUnit report: the root element is <%.64s>, "
                                  "not <testsuites> or <testsuite>",
                                  el));
        return;
    }
    if (c->case_depth) {
        if (c->depth != c->case_depth + 1) return;
        if (!strcmp(el, "failure") || !strcmp(el, "error"))
            c->failed = true;
        else if (!strcmp(el, "skipped"))
            c->skipped = true;
        return;
    }
    if (strcmp(el, "testcase")) return;
    const char *t = attr(atts, "time"), *status = attr(atts, "status");
    c->case_depth = c->depth;
    if (status) { /* ctest: run | fail | notrun | disabled */
        if (!strcmp(status, "fail") || !strcmp(status, "failed") || !strcmp(status, "error"))
            c->failed = true;
        else if (!strcmp(status, "notrun") || !strcmp(status, "disabled") ||
                 !strcmp(status, "skipped"))
            c->skipped = true;
    }
    if (dup_attr(c, &c->classname, atts, "classname") < 0) return;
    if (dup_attr(c, &c->name, atts, "name") < 0) return;
    if (dup_attr(c, &c->file, atts, "file") < 0) return;
    if (t) {
        char *end;
        double d = strtod(t, &end);
        c->time = (end != t && isfinite(d) && d > 0) ? d : 0;
    }
}

static int finish_case(parse_ctx *c)
{
    gp_junit_case k = {0};
    int error;
    if (!c->name || !*c->name)
        return gp_error_setf(GP_EINVALID, "JUnit report: a testcase has no name attribute");
    if (c->o && c->o->flavor == GP_JUNIT_PYTEST) {
        if ((error = gp_junit_pytest_node_id(&k.node_id, c->classname, c->name, c->file,
                                             c->o->root_dir)) < 0)
            return error;
    } else if (!c->classname || !*c->classname || !strcmp(c->classname, c->name)) {
        if (!(k.node_id = strdup(c->name))) return gp_error_setf(GP_ERROR, "out of memory");
    } else if (asprintf(&k.node_id, "%s::%s", c->classname, c->name) < 0) {
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    k.outcome = c->failed ? GP_OUTCOME_FAILED : c->skipped ? GP_OUTCOME_SKIPPED : GP_OUTCOME_PASSED;
    k.duration_s = c->time;
    if (c->ncases >= c->max_cases) {
        free(k.node_id);
        return gp_error_setf(GP_ETOOBIG, "JUnit report holds more than %zu testcases",
                             c->max_cases);
    }
    if (c->ncases == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        gp_junit_case *n = realloc(c->cases, ncap * sizeof(*n));
        if (!n) {
            free(k.node_id);
            return gp_error_setf(GP_ERROR, "out of memory");
        }
        c->cases = n;
        c->cap = ncap;
    }
    c->cases[c->ncases++] = k;
    return 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
    parse_ctx *c = ud;
    int error;
    (void)el;
    if (c->error) return;
    if (c->case_depth && c->depth == c->case_depth) {
        error = finish_case(c);
        clear_case(c);
        if (error < 0) {
            stop(c, error);
            return;
        }
    }
    c->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    stop(ud, gp_error_setf(GP_EINVALID, "JUnit report: a DOCTYPE (entity declarations) is not "
                                        "accepted"));
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                              int value_len, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    stop(ud, gp_error_setf(GP_EINVALID, "JUnit report: entity declarations are not accepted"));
}

static int parser_new(parse_ctx *c, const gp_junit_opts *o)
{
    memset(c, 0, sizeof(*c));
    c->o = o;
    c->max_cases = o && o->max_cases ? o->max_cases : GP_JUNIT_MAX_CASES;
    if (!(c->p = XML_ParserCreate(NULL))) return gp_error_setf(GP_ERROR, "out of memory");
    XML_SetUserData(c->p, c);
    XML_SetElementHandler(c->p, on_start, on_end);
    XML_SetStartDoctypeDeclHandler(c->p, on_doctype);
    XML_SetEntityDeclHandler(c->p, on_entity);
    XML_SetParamEntityParsing(c->p, XML_PARAM_ENTITY_PARSING_NEVER);
    return 0;
}

static int feed(parse_ctx *c, const char *data, size_t len, bool final)
{
    if (len > (size_t)INT32_MAX) return gp_error_setf(GP_ETOOBIG, "JUnit report chunk too large");
    if (XML_Parse(c->p, data, (int)len, final) == XML_STATUS_OK) return 0;
    if (c->error) return c->error;
    return gp_error_setf(GP_EINVALID, "JUnit report is not well-formed XML: %s at line %lu",
                         XML_ErrorString(XML_GetErrorCode(c->p)),
                         (unsigned long)XML_GetCurrentLineNumber(c->p));
}

static int by_node_id(const void *a, const void *b, void *arg)
{
    const gp_junit_case *cases = arg;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int r = strcmp(cases[ia].node_id, cases[ib].node_id);
    return r ? r : (ia < ib ? -1 : ia > ib);
}

/* Merges repeated node ids into their first entry, keeps report order, counts outcomes. */
static int finish_report(parse_ctx *c, gp_junit_report **out)
{
    gp_junit_report *r = calloc(1, sizeof(*r));
    size_t *idx = NULL, n = c->ncases, k = 0;
    if (!r) return gp_error_setf(GP_ERROR, "out of memory");
    if (n > 1) {
        if (!(idx = malloc(n * sizeof(*idx)))) {
            free(r);
            return gp_error_setf(GP_ERROR, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        qsort_r(idx, n, sizeof(*idx), by_node_id, c->cases);
        for (size_t i = 1; i < n; i++) {
            gp_junit_case *first = &c->cases[idx[k]], *dup = &c->cases[idx[i]];
            if (strcmp(first->node_id, dup->node_id)) {
                k = i;
                continue;
            }
            if (dup->outcome == GP_OUTCOME_FAILED ||
                (dup->outcome == GP_OUTCOME_PASSED && first->outcome == GP_OUTCOME_SKIPPED))
                first->outcome = dup->outcome;
            first->duration_s += dup->duration_s;
            free(dup->node_id);
            dup->node_id = NULL;
        }
        free(idx);
    }
    k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!c->cases[i].node_id) continue;
        c->cases[i].duration_s = gp_round4(c->cases[i].duration_s);
        c->cases[k++] = c->cases[i];
        switch (c->cases[i].outcome) {
        case GP_OUTCOME_PASSED:
            r->passed++;
            break;
        case GP_OUTCOME_FAILED:
            r->failed++;
            break;
        case GP_OUTCOME_SKIPPED:
            r->skipped++;
            break;
        }
    }
    r->cases = c->cases;
    r->ncases = k;
    c->cases = NULL;
    c->ncases = c->cap = 0;
    *out = r;
    return 0;
}

static void parser_free(parse_ctx *c)
{
    clear_case(c);
    for (size_t i = 0; i < c->ncases; i++)
        free(c->cases[i].node_id);
    free(c->cases);
    if (c->p) XML_ParserFree(c->p);
}

static int check_end(parse_ctx *c)
{
    if (!c->seen_root) return gp_error_setf(GP_EINVALID, "JUnit report is empty");
    return 0;
}

int gp_junit_parse(gp_junit_report **out, const char *buf, size_t len, const gp_junit_opts *o)
{
    parse_ctx c;
    size_t limit = o && o->max_bytes ? o->max_bytes : GP_JUNIT_MAX_BYTES;
    int error;
    *out = NULL;
    if (len > limit)
        return gp_error_setf(GP_ETOOBIG, "JUnit report is larger than the limit of %zu bytes",
                             limit);
    if ((error = parser_new(&c, o)) < 0) return error;
    if ((error = feed(&c, buf, len, true)) < 0 || (error = check_end(&c)) < 0 ||
        (error = finish_report(&c, out)) < 0)
        goto done;
done:
    parser_free(&c);
    return error;
}

int gp_junit_parse_file(gp_junit_report **out, const char *path, const gp_junit_opts *o)
{
    parse_ctx c;
    size_t limit = o && o->max_bytes ? o->max_bytes : GP_JUNIT_MAX_BYTES, total = 0;
    char chunk[65536];
    int fd, error;
    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gp_error_setf(errno == ENOENT ? GP_ENOTFOUND : GP_ERROR,
                             "cannot open the JUnit report %s: %s", path, strerror(errno));
    if ((error = parser_new(&c, o)) < 0) {
        close(fd);
        return error;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = gp_error_setf(GP_ERROR, "cannot read %s: %s", path, strerror(errno));
            goto done;
        }
        total += (size_t)n;
        if (total > limit) {
            error = gp_error_setf(GP_ETOOBIG,
                                  "the JUnit report %s is larger than the limit of "
                                  "%zu bytes",
                                  path, limit);
            goto done;
        }
        if ((error = feed(&c, chunk, (size_t)n, n == 0)) < 0) goto done;
        if (n == 0) break;
    }
    if ((error = check_end(&c)) < 0) goto done;
    error = finish_report(&c, out);
done:
    close(fd);
    parser_free(&c);
    return error;
}

void gp_junit_free(gp_junit_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->ncases; i++)
        free(r->cases[i].node_id);
    free(r->cases);
    free(r);
}
