/*
 * pages.c - the server-rendered pages: dashboard, repository, commit audit page, receipt,
 * signer, lookup, badge, static files and the HTML error pages.
 *
 * Each page renders the very JSON document the API serves for it (srv_doc_* in server.h), so the
 * page and its <link rel="alternate" type="application/json"> can never disagree. Pages work
 * without JavaScript; web/static/app.js only enhances them (refreshing the latest receipts,
 * filtering tests). Every string that came from a receipt goes through html_escape() or
 * html_url_segment() (html.h): the helpers below (hb_*) are the only way text reaches a page.
 *
 * Extra response headers that pages_handle() cannot return (Location of a 303, Cache-Control)
 * are left for the HTTP layer in pages_location() / pages_cache_control(), per thread.
 */
#include "html.h"
#include "server.h"
#include "util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CT_HTML "text/html; charset=utf-8"
#define CT_SVG "image/svg+xml"
#define PAGE_BUF_LIMIT (32u * 1024 * 1024)
#define RAW_RECEIPT_LIMIT (8u * 1024 * 1024)
#define STATIC_LIMIT (1024u * 1024)
#define REPO_PAGE_SIZE 25
#define LATEST_COUNT 20

/* ---- per-thread extra headers ---- */

static _Thread_local char tl_location[512];
static _Thread_local const char *tl_cache_control;

const char *pages_location(void)
{
    return tl_location[0] ? tl_location : NULL;
}

const char *pages_cache_control(void)
{
    return tl_cache_control;
}

/* ---- templates, loaded once from srv_web_dir() ---- */

static pthread_mutex_t tmpl_mu = PTHREAD_MUTEX_INITIALIZER;
static html_tmpls *tmpl_cache;
static char tmpl_dir[4096];

static int templates(srv *s, const html_tmpls **out)
{
    int error = 0;
    const char *dir = srv_web_dir(s);
    pthread_mutex_lock(&tmpl_mu);
    if (!tmpl_cache || strcmp(tmpl_dir, dir ? dir : "") != 0) {
        html_tmpls *t = NULL;
        if ((error = html_tmpls_load(&t, dir ? dir : "web")) == 0) {
            /* a previous set (another directory: tests) is kept alive; it is tiny */
            tmpl_cache = t;
            snprintf(tmpl_dir, sizeof(tmpl_dir), "%s", dir ? dir : "");
        }
    }
    *out = tmpl_cache;
    pthread_mutex_unlock(&tmpl_mu);
    return error;
}

/* ---- an HTML builder with a sticky error ---- */

typedef struct hb {
    gp_buf b;
    int err;
} hb;

#define HB_INIT {GP_BUF_INIT(PAGE_BUF_LIMIT), 0}

static void hb_raw(hb *h, const char *s)
{
    if (h->err == 0 && s)
        h->err = gp_buf_puts(&h->b, s);
}

static void hb_rawf(hb *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hb_rawf(hb *h, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    if (h->err)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        h->err = gp_error_setf(GP_ERROR, "page fragment too long");
    else
        h->err = gp_buf_add(&h->b, tmp, (size_t)n);
}

static void hb_esc(hb *h, const char *s)
{
    if (h->err == 0 && s)
        h->err = html_escape_str(&h->b, s);
}

static void hb_escn(hb *h, const char *s, size_t n)
{
    if (h->err == 0 && s)
        h->err = html_escape(&h->b, s, n);
}

static void hb_seg(hb *h, const char *s)
{
    if (h->err == 0 && s)
        h->err = html_url_segment(&h->b, s, strlen(s));
}

static void hb_free(hb *h)
{
    gp_buf_free(&h->b);
}

/* ---- JSON accessors (documents from srv_doc_*, the raw receipt) ---- */

static const char *js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static long long ji(const json_t *o, const char *k, long long dflt)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return dflt;
}

static bool jtrue(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

/* Any JSON value as text (strings as they are, others compact JSON), escaped. */
static void hb_value(hb *h, const json_t *v)
{
    char num[64];
    if (json_is_string(v)) {
        hb_escn(h, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        hb_raw(h, num);
    } else if (json_is_real(v)) {
        snprintf(num, sizeof(num), "%.15g", json_real_value(v));
        hb_raw(h, num);
    } else if (json_is_true(v)) {
        hb_raw(h, "yes");
    } else if (json_is_false(v)) {
        hb_raw(h, "no");
    } else if (v && !json_is_null(v)) {
        char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        hb_esc(h, d);
        free(d);
    } else {
        hb_raw(h, "&#8212;");
    }
}

/* ---- small pieces shared by the pages ---- */

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

static bool repo_part_ok(const char *s, size_t n)
{
    if (n == 0 || n > 100 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* <a href="/signers/LOGIN">LOGIN</a> */
static void hb_signer(hb *h, const char *login)
{
    if (!login || !*login) {
        hb_raw(h, "<span class=\"muted\">unknown</span>");
        return;
    }
    hb_raw(h, "<a class=\"signer\" href=\"/signers/");
    hb_seg(h, login);
    hb_raw(h, "\">");
    hb_esc(h, login);
    hb_raw(h, "</a>");
}

/* "a", "a and b", "a, b and c" as signer links */
static void hb_signer_list(hb *h, const json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            hb_raw(h, i + 1 == n ? " and " : ", ");
        hb_signer(h, json_string_value(json_array_get(arr, i)));
    }
    if (n == 0)
        hb_raw(h, "<span class=\"muted\">nobody yet</span>");
}

static void hb_repo_href(hb *h, const char *repo)
{
    const char *slash = repo ? strchr(repo, '/') : NULL;
    hb_raw(h, "/repos/");
    if (!slash) {
        hb_seg(h, repo ? repo : "");
        return;
    }
    if (h->err == 0)
        h->err = html_url_segment(&h->b, repo, (size_t)(slash - repo));
    hb_raw(h, "/");
    hb_seg(h, slash + 1);
}

static void hb_repo(hb *h, const char *repo)
{
    if (!repo) {
        hb_raw(h, "<span class=\"muted\">not on GitHub</span>");
        return;
    }
    hb_raw(h, "<a href=\"");
    hb_repo_href(h, repo);
    hb_raw(h, "\">");
    hb_esc(h, repo);
    hb_raw(h, "</a>");
}

static void hb_commit(hb *h, const char *sha)
{
    if (!sha) {
        hb_raw(h, "<span class=\"muted\">none</span>");
        return;
    }
    hb_raw(h, "<a class=\"sha\" href=\"/commits/");
    hb_seg(h, sha);
    hb_raw(h, "\"><code>");
    hb_escn(h, sha, strnlen(sha, 7));
    hb_raw(h, "</code></a>");
}

static void hb_time(hb *h, const char *t)
{
    time_t tt;
    if (!t) {
        hb_raw(h, "&#8212;");
        return;
    }
    if (gp_time_parse(&tt, t) == 0) {
        /* "YYYY-MM-DDTHH:MM:SSZ" -> "YYYY-MM-DD HH:MM:SS UTC" */
        hb_raw(h, "<time datetime=\"");
        hb_esc(h, t);
        hb_raw(h, "\">");
        hb_escn(h, t, 10);
        hb_raw(h, " ");
        hb_escn(h, t + 11, 8);
        hb_raw(h, " UTC</time>");
    } else {
        hb_esc(h, t);
    }
}

static void hb_short_id(hb *h, const char *id)
{
    hb_raw(h, "<code>");
    hb_escn(h, id ? id : "", id ? strnlen(id, 12) : 0);
    hb_raw(h, "</code>");
}

/* A commit state ("validated" | "failed" | "not_validated" | "pending"). */
static void hb_state(hb *h, const char *state)
{
    if (!state)
        state = "not_validated";
    if (strcmp(state, "validated") == 0)
        hb_raw(h, "<span class=\"state state-ok\"><span aria-hidden=\"true\">&#10003; </span>validated</span>");
    else if (strcmp(state, "failed") == 0)
        hb_raw(h, "<span class=\"state state-bad\"><span aria-hidden=\"true\">&#10007; </span>failed</span>");
    else if (strcmp(state, "pending") == 0)
        hb_raw(h, "<span class=\"state state-wait\"><span aria-hidden=\"true\">&#8230; </span>pending</span>");
    else
        hb_raw(h, "<span class=\"state state-none\"><span aria-hidden=\"true\">&#9675; </span>not validated</span>");
}

/* The state of one receipt from its summary. */
static const char *receipt_state(const json_t *r)
{
    const char *status = js(r, "status");
    const json_t *counts = json_object_get(r, "counts");
    if (status && strcmp(status, "pending") == 0)
        return "pending";
    if (status && strcmp(status, "rejected") == 0)
        return "rejected";
    if (jtrue(r, "validates"))
        return "validates";
    if (ji(counts, "failed", 0) > 0)
        return "failed";
    return "not_validated";
}

static void hb_receipt_state(hb *h, const json_t *r)
{
    const char *st = receipt_state(r);
    if (strcmp(st, "validates") == 0)
        hb_raw(h, "<span class=\"state state-ok\"><span aria-hidden=\"true\">&#10003; </span>validates</span>");
    else if (strcmp(st, "rejected") == 0)
        hb_raw(h, "<span class=\"state state-bad\"><span aria-hidden=\"true\">&#10007; </span>rejected</span>");
    else
        hb_state(h, st);
}

static void hb_counts(hb *h, const json_t *r)
{
    const json_t *c = json_object_get(r, "counts");
    long long p = ji(c, "passed", 0), f = ji(c, "failed", 0), s = ji(c, "skipped", 0);
    hb_rawf(h, "<span class=\"counts\">%lld passed", p);
    if (f)
        hb_rawf(h, ", <strong class=\"fail\">%lld failed</strong>", f);
    if (s)
        hb_rawf(h, ", %lld skipped", s);
    hb_raw(h, "</span>");
}

static const char *gpu_name(const json_t *g)
{
    const char *n = js(g, "name");
    return n ? n : json_string_value(g);
}

static void hb_gpu_names(hb *h, const json_t *gpus)
{
    size_t n = json_array_size(gpus);
    if (n == 0) {
        hb_raw(h, "<span class=\"muted\">none recorded</span>");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            hb_raw(h, ", ");
        const char *name = gpu_name(json_array_get(gpus, i));
        hb_esc(h, name ? name : "unnamed GPU");
    }
}

/* ---- the layout and the error pages ---- */

typedef struct page {
    srv *s;
    const html_tmpls *t;
    gp_buf *body;
    int *status;
    const char **ctype;
    const char *refresh; /* a same-site path to go to at once (a 303's page) */
} page;

/* Renders `name` with vars as the main content of the layout. alt: the JSON twin (a path the
 * code built from validated or encoded pieces; escaped anyway). */
static int page_finish(page *p, const char *title, const char *alt, const char *name, html_vars *vars)
{
    html_vars lv = HTML_VARS_INIT;
    hb main = HB_INIT, link = HB_INIT;
    int error;

    if ((error = html_render(p->t, name, vars, &main.b)) < 0)
        goto done;
    if (alt) {
        hb_raw(&link, "<link rel=\"alternate\" type=\"application/json\" href=\"");
        hb_esc(&link, alt);
        hb_raw(&link, "\">\n");
        if ((error = link.err) < 0)
            goto done;
    }
    if (p->refresh) {
        hb_raw(&link, "<meta http-equiv=\"refresh\" content=\"0; url=");
        hb_esc(&link, p->refresh);
        hb_raw(&link, "\">\n");
        if ((error = link.err) < 0)
            goto done;
    }
    if ((error = html_vars_text(&lv, "title", title)) < 0 || (error = html_vars_html(&lv, "alternate", &link.b)) < 0 ||
        (error = html_vars_html(&lv, "main", &main.b)) < 0)
        goto done;
    error = html_render(p->t, "layout", &lv, p->body);
    *p->ctype = CT_HTML;
done:
    html_vars_free(&lv);
    hb_free(&main);
    hb_free(&link);
    return error;
}

/* An HTML error page: `message` is text (escaped), `hint` is HTML the code built (may be NULL). */
static int page_error(page *p, int status, const char *title, const char *message, hb *hint)
{
    html_vars v = HTML_VARS_INIT;
    hb empty = HB_INIT;
    int error;
    gp_buf_reset(p->body);
    *p->status = status;
    if ((error = html_vars_text(&v, "heading", title)) < 0 || (error = html_vars_text(&v, "message", message)) < 0 ||
        (error = html_vars_textf(&v, "status", "%d", status)) < 0 ||
        (error = html_vars_html(&v, "hint", hint ? &hint->b : &empty.b)) < 0)
        goto done;
    error = page_finish(p, title, NULL, "error", &v);
done:
    html_vars_free(&v);
    hb_free(&empty);
    return error;
}

static int page_not_found(page *p, const char *what)
{
    hb hint = HB_INIT;
    int error;
    hb_raw(&hint, "<p>Look up a commit sha (7 or more hex digits) or a GitHub login from the "
                  "<a href=\"/\">dashboard</a>.</p>");
    error = page_error(p, 404, "Not found", what, &hint);
    hb_free(&hint);
    return error;
}

/* Maps a srv_doc_* failure to a page. */
static int page_doc_error(page *p, int code, const char *what)
{
    if (code == GP_ENOTFOUND)
        return page_not_found(p, what);
    if (code == GP_EINVALID)
        return page_error(p, 400, "Bad request", gp_error_last(), NULL);
    return page_error(p, 503, "Server error",
                      "The server could not read its database just now. Try again in a moment.", NULL);
}

static int redirect(page *p, hb *target)
{
    html_vars v = HTML_VARS_INIT;
    int error;
    if (target->err)
        return target->err;
    snprintf(tl_location, sizeof(tl_location), "%s", target->b.ptr ? target->b.ptr : "/");
    *p->status = 303;
    p->refresh = tl_location;
    if ((error = html_vars_text(&v, "target", tl_location)) < 0)
        goto done;
    error = page_finish(p, "Redirect", NULL, "redirect", &v);
done:
    html_vars_free(&v);
    return error;
}

/* ---- dashboard ---- */

static void latest_table(hb *h, const json_t *receipts)
{
    size_t n = json_array_size(receipts);
    if (n == 0) {
        hb_raw(h, "<p class=\"empty\">No receipts yet. Submit one with <code>gpuproof-cli submit gpu-proof.json</code>.</p>");
        return;
    }
    hb_raw(h, "<div class=\"table-wrap\"><table class=\"latest\">\n<caption>The newest receipts, newest first</caption>\n"
              "<thead><tr><th scope=\"col\">Received</th><th scope=\"col\">Signer</th><th scope=\"col\">Repository</th>"
              "<th scope=\"col\">Commit</th><th scope=\"col\">Tests</th><th scope=\"col\">Result</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(receipts, i);
        hb_raw(h, "<tr><td data-label=\"Received\">");
        hb_time(h, js(r, "received_at"));
        hb_raw(h, "</td><td data-label=\"Signer\">");
        hb_signer(h, js(r, "signer"));
        hb_raw(h, "</td><td data-label=\"Repository\">");
        hb_repo(h, js(r, "repo"));
        hb_raw(h, "</td><td data-label=\"Commit\">");
        hb_commit(h, js(r, "commit"));
        hb_raw(h, "</td><td data-label=\"Tests\">");
        hb_counts(h, r);
        hb_raw(h, "</td><td data-label=\"Result\"><a class=\"state-link\" href=\"/receipts/");
        hb_seg(h, js(r, "id"));
        hb_raw(h, "\">");
        hb_receipt_state(h, r);
        hb_raw(h, "</a></td></tr>\n");
    }
    hb_raw(h, "</tbody></table></div>\n");
}

static int page_dashboard(page *p)
{
    json_t *repos = NULL, *latest = NULL;
    html_vars v = HTML_VARS_INIT;
    hb rt = HB_INIT, lt = HB_INIT;
    int error;

    if ((error = srv_doc_repos(p->s, &repos)) < 0 || (error = srv_doc_latest(p->s, LATEST_COUNT, &latest)) < 0) {
        error = page_doc_error(p, error, "");
        goto done;
    }
    const json_t *list = json_object_get(repos, "repos");
    if (json_array_size(list) == 0) {
        hb_raw(&rt, "<p class=\"empty\">No repositories yet: they appear with their first receipt.</p>");
    } else {
        hb_raw(&rt, "<div class=\"table-wrap\"><table class=\"repos\">\n<caption>Repositories and the state of their latest commit</caption>\n"
                    "<thead><tr><th scope=\"col\">Repository</th><th scope=\"col\">Latest commit</th><th scope=\"col\">State</th>"
                    "<th scope=\"col\">Validated by</th><th scope=\"col\">GPUs</th><th scope=\"col\">Last receipt</th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < json_array_size(list); i++) {
            const json_t *r = json_array_get(list, i), *l = json_object_get(r, "latest");
            hb_raw(&rt, "<tr><th scope=\"row\">");
            hb_repo(&rt, js(r, "repo"));
            hb_raw(&rt, "</th><td data-label=\"Latest commit\">");
            hb_commit(&rt, js(l, "commit"));
            hb_raw(&rt, "</td><td data-label=\"State\">");
            hb_state(&rt, js(l, "state"));
            hb_raw(&rt, "</td><td data-label=\"Validated by\">");
            hb_signer_list(&rt, json_object_get(l, "validated_by"));
            hb_raw(&rt, "</td><td data-label=\"GPUs\">");
            hb_gpu_names(&rt, json_object_get(l, "gpus"));
            hb_raw(&rt, "</td><td data-label=\"Last receipt\">");
            hb_time(&rt, js(l, "last_received_at"));
            hb_raw(&rt, "</td></tr>\n");
        }
        hb_raw(&rt, "</tbody></table></div>\n");
    }
    latest_table(&lt, json_object_get(latest, "receipts"));
    if ((error = rt.err) < 0 || (error = lt.err) < 0)
        goto done;
    if ((error = html_vars_html(&v, "repos", &rt.b)) < 0 || (error = html_vars_html(&v, "latest", &lt.b)) < 0 ||
        (error = html_vars_textf(&v, "latest_count", "%d", LATEST_COUNT)) < 0)
        goto done;
    *p->status = 200;
    error = page_finish(p, "Dashboard", "/api/repos", "dashboard", &v);
done:
    json_decref(repos);
    json_decref(latest);
    html_vars_free(&v);
    hb_free(&rt);
    hb_free(&lt);
    return error;
}

/* ---- repository ---- */

static int page_repo(page *p, const char *owner, const char *name, const char *query)
{
    json_t *doc = NULL;
    html_vars v = HTML_VARS_INIT;
    hb t = HB_INIT, pager = HB_INIT, alt = HB_INIT;
    char repo[512], cursor[256] = "";
    int error;

    snprintf(repo, sizeof(repo), "%s/%s", owner, name);
    if (html_query_get(cursor, sizeof(cursor), query, "cursor") < 0)
        cursor[0] = '\0';
    error = srv_doc_repo_commits(p->s, repo, REPO_PAGE_SIZE, cursor[0] ? cursor : NULL, &doc);
    if (error < 0) {
        error = page_doc_error(p, error, "No receipts for this repository.");
        goto done;
    }
    const json_t *commits = json_object_get(doc, "commits");
    if (json_array_size(commits) == 0 && !cursor[0]) {
        error = page_not_found(p, "No receipts for this repository yet.");
        goto done;
    }
    hb_raw(&t, "<div class=\"table-wrap\"><table class=\"commits\">\n<caption>Commits of ");
    hb_esc(&t, repo);
    hb_raw(&t, ", newest first</caption>\n<thead><tr><th scope=\"col\">Commit</th><th scope=\"col\">State</th>"
               "<th scope=\"col\">Validated by</th><th scope=\"col\">GPUs</th><th scope=\"col\">Receipts</th>"
               "<th scope=\"col\">Last receipt</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < json_array_size(commits); i++) {
        const json_t *c = json_array_get(commits, i);
        hb_raw(&t, "<tr><th scope=\"row\">");
        hb_commit(&t, js(c, "commit"));
        hb_raw(&t, "</th><td data-label=\"State\">");
        hb_state(&t, js(c, "state"));
        hb_raw(&t, "</td><td data-label=\"Validated by\">");
        hb_signer_list(&t, json_object_get(c, "validated_by"));
        hb_raw(&t, "</td><td data-label=\"GPUs\">");
        hb_gpu_names(&t, json_object_get(c, "gpus"));
        hb_rawf(&t, "</td><td data-label=\"Receipts\">%lld</td><td data-label=\"Last receipt\">", ji(c, "receipts", 0));
        hb_time(&t, js(c, "last_received_at"));
        hb_raw(&t, "</td></tr>\n");
    }
    if (json_array_size(commits) == 0)
        hb_raw(&t, "<tr><td colspan=\"6\">No more commits.</td></tr>\n");
    hb_raw(&t, "</tbody></table></div>\n");

    const char *next = js(doc, "next_cursor");
    if (cursor[0] || next) {
        hb_raw(&pager, "<nav class=\"pager\" aria-label=\"Pages of commits\"><ul>");
        if (cursor[0]) {
            hb_raw(&pager, "<li><a href=\"");
            hb_repo_href(&pager, repo);
            hb_raw(&pager, "\">Newest commits</a></li>");
        }
        if (next) {
            hb_raw(&pager, "<li><a rel=\"next\" href=\"");
            hb_repo_href(&pager, repo);
            hb_raw(&pager, "?cursor=");
            hb_seg(&pager, next);
            hb_raw(&pager, "\">Older commits <span aria-hidden=\"true\">&#8594;</span></a></li>");
        }
        hb_raw(&pager, "</ul></nav>\n");
    }
    hb_raw(&alt, "/api");
    hb_repo_href(&alt, repo);
    hb_raw(&alt, "/commits");
    if (cursor[0]) {
        hb_raw(&alt, "?cursor=");
        hb_seg(&alt, cursor);
    }
    if ((error = t.err) < 0 || (error = pager.err) < 0 || (error = alt.err) < 0)
        goto done;
    const json_t *first = json_array_get(commits, 0);
    if ((error = html_vars_text(&v, "repo", repo)) < 0 || (error = html_vars_html(&v, "commits", &t.b)) < 0 ||
        (error = html_vars_html(&v, "pager", &pager.b)) < 0 ||
        (error = html_vars_text(&v, "github", "")) < 0)
        goto done;
    {
        hb gh = HB_INIT, badge = HB_INIT;
        hb_raw(&gh, "https://github.com/");
        hb_seg(&gh, owner);
        hb_raw(&gh, "/");
        hb_seg(&gh, name);
        if (first && js(first, "commit")) {
            hb_raw(&badge, "<p class=\"badge-line\"><img alt=\"gpu-proof badge of the newest commit\" src=\"/badge/");
            hb_seg(&badge, owner);
            hb_raw(&badge, "/");
            hb_seg(&badge, name);
            hb_raw(&badge, "/");
            hb_seg(&badge, js(first, "commit"));
            hb_raw(&badge, ".svg\" width=\"150\" height=\"20\"></p>");
        }
        error = gh.err ? gh.err : badge.err;
        if (error == 0 && (error = html_vars_text(&v, "github", gh.b.ptr)) == 0)
            error = html_vars_html(&v, "badge", &badge.b);
        hb_free(&gh);
        hb_free(&badge);
        if (error < 0)
            goto done;
    }
    *p->status = 200;
    error = page_finish(p, repo, alt.b.ptr, "repo", &v);
done:
    json_decref(doc);
    html_vars_free(&v);
    hb_free(&t);
    hb_free(&pager);
    hb_free(&alt);
    return error;
}

/* ---- receipt cards (commit page and receipt page) ---- */

static json_t *load_raw(srv *s, const char *id)
{
    char *raw = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    json_error_t jerr;
    if (!id || srv_receipt_raw(s, id, &raw, &len) < 0)
        return NULL;
    if (len <= RAW_RECEIPT_LIMIT)
        doc = json_loadb(raw, len, JSON_ALLOW_NUL, &jerr);
    if (!doc && len <= RAW_RECEIPT_LIMIT) /* integers past 64 bits: read them as doubles */
        doc = json_loadb(raw, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    free(raw);
    return doc;
}

static void hb_gpus(hb *h, const json_t *gpus)
{
    size_t n = json_array_size(gpus);
    if (n == 0) {
        hb_raw(h, "<p class=\"muted\">No GPU information in this receipt.</p>");
        return;
    }
    hb_raw(h, "<ul class=\"gpus\">");
    for (size_t i = 0; i < n; i++) {
        const json_t *g = json_array_get(gpus, i), *v;
        hb_raw(h, "<li><strong>");
        hb_esc(h, gpu_name(g) ? gpu_name(g) : "Unnamed GPU");
        hb_raw(h, "</strong>");
        if (!json_is_object(g)) {
            hb_raw(h, "</li>");
            continue;
        }
        static const struct {
            const char *key, *label;
        } fields[] = {
            {"driver_version", "driver"}, {"cuda_driver_version", "CUDA"}, {"memory_total_mib", "memory (MiB)"},
            {"memory", "memory"}, {"compute_capability", "compute capability"}, {"ecc", "ECC"}, {"mig", "MIG"},
            {"cc", "confidential computing"}, {"pci_bus_id", "PCI"}, {"uuid", "UUID"},
        };
        hb_raw(h, "<span class=\"gpu-facts\">");
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
            if (!(v = json_object_get(g, fields[k].key)) || json_is_null(v))
                continue;
            hb_raw(h, " <span class=\"fact\">");
            hb_raw(h, fields[k].label);
            hb_raw(h, " <span class=\"v\">");
            hb_value(h, v);
            hb_raw(h, "</span></span>");
        }
        hb_raw(h, "</span> ");
        v = json_object_get(g, "used_by_tests");
        if (json_is_true(v)) {
            hb_raw(h, "<span class=\"used used-yes\">used by the tests");
            const json_t *peak = json_object_get(g, "peak_memory_mib");
            if (json_is_number(peak)) {
                hb_raw(h, " (peak ");
                hb_value(h, peak);
                hb_raw(h, " MiB)");
            }
            hb_raw(h, "</span>");
        } else if (json_is_false(v)) {
            hb_raw(h, "<span class=\"used used-no\">not used by the tests</span>");
        } else {
            hb_raw(h, "<span class=\"used used-unknown\">use by the tests not recorded</span>");
        }
        hb_raw(h, "</li>");
    }
    hb_raw(h, "</ul>");
}

static int outcome_rank(const char *o)
{
    if (o && strcmp(o, "failed") == 0)
        return 0;
    if (o && strcmp(o, "skipped") == 0)
        return 1;
    if (o && strcmp(o, "passed") == 0)
        return 2;
    return 0; /* anything else is suspicious: show it first */
}

/* The tests of a raw receipt as a table, failures first; only_failed hides the others.
 * with_checks adds the checks and their metadata (the receipt page). */
static void hb_tests(hb *h, const json_t *raw, const char *caption_who, bool only_failed, bool with_checks)
{
    const json_t *tests = json_object_get(raw, "tests");
    size_t n = json_array_size(tests), shown = 0;
    if (!raw) {
        hb_raw(h, "<p class=\"muted\">The raw receipt could not be read, so its tests are not listed.</p>");
        return;
    }
    hb_raw(h, "<div class=\"table-wrap\"><table class=\"tests\" data-tests>\n<caption>Tests in ");
    hb_esc(h, caption_who);
    hb_raw(h, only_failed ? ": failed only" : ", failures first");
    hb_raw(h, "</caption>\n<thead><tr><th scope=\"col\">Test</th><th scope=\"col\">Outcome</th>"
              "<th scope=\"col\" class=\"num\">Duration</th>");
    if (with_checks)
        hb_raw(h, "<th scope=\"col\">Checks</th>");
    hb_raw(h, "</tr></thead>\n<tbody>\n");
    for (int rank = 0; rank <= 2; rank++) {
        for (size_t i = 0; i < n; i++) {
            const json_t *t = json_array_get(tests, i);
            const char *o = js(t, "outcome");
            if (outcome_rank(o) != rank || (only_failed && rank != 0))
                continue;
            const char *cls = rank == 0 ? "failed" : rank == 1 ? "skipped" : "passed";
            shown++;
            hb_rawf(h, "<tr class=\"outcome-%s\"><th scope=\"row\" class=\"node\"><code>", cls);
            const json_t *node = json_object_get(t, "node_id");
            hb_escn(h, json_string_value(node), json_string_length(node));
            hb_rawf(h, "</code></th><td><span class=\"outcome o-%s\">", cls);
            hb_esc(h, o ? o : "unknown");
            hb_raw(h, "</span></td><td class=\"num\">");
            const json_t *d = json_object_get(t, "duration_s");
            if (json_is_number(d))
                hb_rawf(h, "%.4f&#8239;s", json_number_value(d));
            else
                hb_raw(h, "&#8212;");
            hb_raw(h, "</td>");
            if (with_checks) {
                const json_t *checks = json_object_get(t, "checks");
                hb_raw(h, "<td>");
                if (json_array_size(checks) == 0)
                    hb_raw(h, "<span class=\"muted\">none</span>");
                else
                    hb_raw(h, "<ul class=\"checks\">");
                for (size_t k = 0; k < json_array_size(checks); k++) {
                    const json_t *c = json_array_get(checks, k);
                    hb_raw(h, "<li>");
                    hb_value(h, json_object_get(c, "name"));
                    hb_raw(h, ": ");
                    hb_value(h, json_object_get(c, "outcome"));
                    const json_t *md = json_object_get(c, "metadata");
                    if (md && !(json_is_object(md) && json_object_size(md) == 0)) {
                        hb_raw(h, " <code class=\"meta\">");
                        hb_value(h, md);
                        hb_raw(h, "</code>");
                    }
                    hb_raw(h, "</li>");
                }
                if (json_array_size(checks))
                    hb_raw(h, "</ul>");
                hb_raw(h, "</td>");
            }
            hb_raw(h, "</tr>\n");
        }
    }
    if (shown == 0)
        hb_rawf(h, "<tr><td colspan=\"%d\">%s</td></tr>\n", with_checks ? 4 : 3,
                only_failed ? "No test failed." : "This receipt lists no tests.");
    hb_raw(h, "</tbody></table></div>\n");
}

/* One receipt as a card. `self`: the card is on the receipt's own page. */
static void hb_card(hb *h, srv *s, const json_t *r, const json_t *raw, bool self, bool only_failed, int heading)
{
    const char *id = js(r, "id"), *signer = js(r, "signer");
    const json_t *reasons = json_object_get(r, "reasons"), *ledger = json_object_get(r, "ledger");
    char who[128];

    snprintf(who, sizeof(who), "%s's run", signer ? signer : "an unknown signer");
    hb_rawf(h, "<article class=\"card card-%s\" aria-labelledby=\"r-", receipt_state(r));
    hb_seg(h, id);
    hb_rawf(h, "\">\n<h%d id=\"r-", heading);
    hb_seg(h, id);
    hb_raw(h, "\">");
    hb_esc(h, who);
    hb_raw(h, " ");
    hb_receipt_state(h, r);
    hb_rawf(h, "</h%d>\n", heading);

    if (json_array_size(reasons)) {
        hb_raw(h, "<div class=\"reasons\"><p>Why this receipt does not validate the commit:</p><ul>");
        for (size_t i = 0; i < json_array_size(reasons); i++) {
            hb_raw(h, "<li>");
            hb_value(h, json_array_get(reasons, i));
            hb_raw(h, "</li>");
        }
        hb_raw(h, "</ul></div>\n");
    }

    hb_raw(h, "<dl class=\"facts\">\n<div><dt>Signer</dt><dd>");
    hb_signer(h, signer);
    hb_raw(h, "</dd></div>\n<div class=\"wide\"><dt>Key</dt><dd>");
    if (js(r, "key_fingerprint")) {
        hb_raw(h, "<code class=\"fp\">");
        hb_esc(h, js(r, "key_fingerprint"));
        hb_raw(h, "</code> ");
        hb_esc(h, js(r, "key_type"));
    } else {
        hb_raw(h, "<span class=\"muted\">not verified yet</span>");
    }
    hb_raw(h, "</dd></div>\n<div><dt>Status</dt><dd>");
    hb_esc(h, js(r, "status") ? js(r, "status") : "unknown");
    hb_raw(h, "</dd></div>\n<div><dt>Tests</dt><dd>");
    hb_counts(h, r);
    hb_raw(h, "</dd></div>\n<div><dt>Repository</dt><dd>");
    hb_repo(h, js(r, "repo"));
    hb_raw(h, "</dd></div>\n<div><dt>Commit</dt><dd>");
    hb_commit(h, js(r, "commit"));
    if (js(r, "branch")) {
        hb_raw(h, " on <code>");
        hb_esc(h, js(r, "branch"));
        hb_raw(h, "</code>");
    }
    hb_raw(h, "</dd></div>\n<div><dt>Mode</dt><dd>");
    hb_value(h, json_object_get(r, "mode"));
    hb_raw(h, "</dd></div>\n<div><dt>Working tree</dt><dd>");
    hb_raw(h, jtrue(r, "dirty") ? "<strong class=\"fail\">dirty</strong> (uncommitted changes)" : "clean");
    hb_raw(h, "</dd></div>\n<div><dt>Started</dt><dd>");
    hb_time(h, js(r, "started_at"));
    hb_raw(h, "</dd></div>\n<div><dt>Ended</dt><dd>");
    hb_time(h, js(r, "ended_at"));
    hb_raw(h, "</dd></div>\n<div><dt>Received</dt><dd>");
    hb_time(h, js(r, "received_at"));
    hb_raw(h, "</dd></div>\n<div><dt>Ledger</dt><dd>");
    if (json_is_object(ledger) && json_is_integer(json_object_get(ledger, "index"))) {
        long long idx = ji(ledger, "index", 0);
        hb_rawf(h, "entry <a href=\"/api/ledger/entries/%lld\">#%lld</a>, in every "
                   "<a href=\"/api/ledger/checkpoint\">checkpoint</a> of size %lld or more",
                idx, idx, idx + 1);
    } else {
        hb_raw(h, "<span class=\"muted\">not in the ledger yet</span>");
    }
    hb_raw(h, "</dd></div>\n</dl>\n");

    hb_raw(h, "<h");
    hb_rawf(h, "%d>GPUs</h%d>\n", heading + 1, heading + 1);
    hb_gpus(h, json_object_get(r, "gpus"));
    hb_rawf(h, "<h%d>Tests</h%d>\n", heading + 1, heading + 1);
    hb_tests(h, raw, who, only_failed, self);

    hb_raw(h, "<p class=\"links\">");
    if (!self) {
        hb_raw(h, "<a href=\"/receipts/");
        hb_seg(h, id);
        hb_raw(h, "\">Receipt ");
        hb_short_id(h, id);
        hb_raw(h, "</a> &#183; ");
    }
    hb_raw(h, "<a href=\"/api/receipts/");
    hb_seg(h, id);
    hb_raw(h, "/raw\">Raw receipt (JSON, as signed)</a> &#183; <a href=\"/api/receipts/");
    hb_seg(h, id);
    hb_raw(h, "\">Summary (JSON)</a></p>\n</article>\n");
    (void)s;
}

/* The one-line answer of the commit page: fills cls ("ok" | "bad" | "none") and the text. */
static void commit_verdict(hb *h, const json_t *doc, const char **cls)
{
    const json_t *receipts = json_object_get(doc, "receipts");
    size_t n = json_array_size(receipts);
    if (jtrue(doc, "validated")) {
        *cls = "ok";
        hb_raw(h, "GPU-validated by ");
        hb_signer_list(h, json_object_get(doc, "validated_by"));
        return;
    }
    if (n == 0) {
        *cls = "none";
        hb_raw(h, "No receipts for this commit yet");
        return;
    }
    *cls = "bad";
    /* the most telling reason, from the newest receipt that shows it */
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(receipts, i);
        long long f = ji(json_object_get(r, "counts"), "failed", 0);
        if (f > 0 && strcmp(receipt_state(r), "failed") == 0) {
            hb_rawf(h, "Not GPU-validated: %lld test%s failed in ", f, f == 1 ? "" : "s");
            hb_signer(h, js(r, "signer"));
            hb_raw(h, "&#39;s run");
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(receipts, i);
        if (strcmp(receipt_state(r), "pending") == 0) {
            *cls = "wait";
            hb_raw(h, "Not GPU-validated yet: ");
            hb_signer(h, js(r, "signer"));
            hb_raw(h, "&#39;s receipt is waiting for its signature to be verified");
            return;
        }
    }
    const json_t *r = json_array_get(receipts, 0);
    const json_t *c = json_object_get(r, "counts");
    hb_raw(h, "Not GPU-validated: ");
    if (ji(c, "skipped", 0) > 0) {
        long long k = ji(c, "skipped", 0);
        hb_rawf(h, "%lld test%s skipped in ", k, k == 1 ? "" : "s");
    } else if (jtrue(r, "dirty")) {
        hb_raw(h, "the working tree was dirty in ");
    } else if (strcmp(receipt_state(r), "rejected") == 0) {
        hb_raw(h, "the signature did not verify in ");
    } else if (json_array_size(json_object_get(r, "reasons"))) {
        hb_value(h, json_array_get(json_object_get(r, "reasons"), 0));
        hb_raw(h, " (");
        hb_signer(h, js(r, "signer"));
        hb_raw(h, "&#39;s run)");
        return;
    } else {
        hb_raw(h, "no receipt validates it, see ");
    }
    hb_signer(h, js(r, "signer"));
    hb_raw(h, "&#39;s run");
}

static int page_commit(page *p, const char *sha, const char *query)
{
    json_t *doc = NULL;
    html_vars v = HTML_VARS_INIT;
    hb verdict = HB_INIT, cards = HB_INIT, filter = HB_INIT, alt = HB_INIT, overview = HB_INIT;
    char repo[256] = "", only[16] = "";
    const char *cls = "none";
    int error;

    if (html_query_get(repo, sizeof(repo), query, "repo") < 0)
        repo[0] = '\0';
    if (html_query_get(only, sizeof(only), query, "only") < 0)
        only[0] = '\0';
    bool only_failed = strcmp(only, "failed") == 0;
    if ((error = srv_doc_commit(p->s, sha, repo[0] ? repo : NULL, &doc)) < 0) {
        error = page_doc_error(p, error, "No such commit.");
        goto done;
    }
    commit_verdict(&verdict, doc, &cls);
    const json_t *receipts = json_object_get(doc, "receipts");
    size_t n = json_array_size(receipts);
    if (n) {
        hb_raw(&overview, "<div class=\"table-wrap\"><table class=\"latest overview\">\n<caption>Receipts for this commit, "
                          "newest first</caption>\n<thead><tr><th scope=\"col\">Signer</th><th scope=\"col\">Result</th>"
                          "<th scope=\"col\">Tests</th><th scope=\"col\">GPUs</th><th scope=\"col\">Received</th>"
                          "<th scope=\"col\">Details</th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < n; i++) {
            const json_t *r = json_array_get(receipts, i);
            hb_raw(&overview, "<tr><td data-label=\"Signer\">");
            hb_signer(&overview, js(r, "signer"));
            hb_raw(&overview, "</td><td data-label=\"Result\">");
            hb_receipt_state(&overview, r);
            hb_raw(&overview, "</td><td data-label=\"Tests\">");
            hb_counts(&overview, r);
            hb_raw(&overview, "</td><td data-label=\"GPUs\">");
            hb_gpu_names(&overview, json_object_get(r, "gpus"));
            hb_raw(&overview, "</td><td data-label=\"Received\">");
            hb_time(&overview, js(r, "received_at"));
            hb_raw(&overview, "</td><td><a href=\"#r-");
            hb_seg(&overview, js(r, "id"));
            hb_raw(&overview, "\">Receipt ");
            hb_short_id(&overview, js(r, "id"));
            hb_raw(&overview, "</a></td></tr>\n");
        }
        hb_raw(&overview, "</tbody></table></div>\n");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(receipts, i);
        json_t *raw = load_raw(p->s, js(r, "id"));
        hb_card(&cards, p->s, r, raw, false, only_failed, 2);
        json_decref(raw);
    }
    if (n) {
        hb_raw(&filter, "<p class=\"filter\"><a data-filter=\"failed\" href=\"");
        hb_raw(&filter, "/commits/");
        hb_seg(&filter, sha);
        if (only_failed) {
            if (repo[0]) {
                hb_raw(&filter, "?repo=");
                hb_seg(&filter, repo);
            }
            hb_raw(&filter, "\" aria-pressed=\"true\">Show all tests</a></p>");
        } else {
            hb_raw(&filter, "?only=failed");
            if (repo[0]) {
                hb_raw(&filter, "&amp;repo=");
                hb_seg(&filter, repo);
            }
            hb_raw(&filter, "\" aria-pressed=\"false\">Show only failed tests</a></p>");
        }
    }
    hb_raw(&alt, "/api/commits/");
    hb_seg(&alt, sha);
    if (repo[0]) {
        hb_raw(&alt, "?repo=");
        hb_seg(&alt, repo);
    }
    if ((error = verdict.err) < 0 || (error = cards.err) < 0 || (error = filter.err) < 0 || (error = alt.err) < 0 ||
        (error = overview.err) < 0)
        goto done;
    {
        char title[64];
        snprintf(title, sizeof(title), "Commit %.7s", sha);
        if ((error = html_vars_html(&v, "overview", &overview.b)) < 0)
            goto done;
        if ((error = html_vars_text(&v, "sha", sha)) < 0 || (error = html_vars_textf(&v, "short", "%.7s", sha)) < 0 ||
            (error = html_vars_text(&v, "verdict_class", cls)) < 0 ||
            (error = html_vars_html(&v, "verdict", &verdict.b)) < 0 ||
            (error = html_vars_textf(&v, "count", "%zu receipt%s", n, n == 1 ? "" : "s")) < 0 ||
            (error = html_vars_html(&v, "filter", &filter.b)) < 0 || (error = html_vars_html(&v, "cards", &cards.b)) < 0)
            goto done;
        *p->status = 200;
        error = page_finish(p, title, alt.b.ptr, "commit", &v);
    }
done:
    json_decref(doc);
    html_vars_free(&v);
    hb_free(&verdict);
    hb_free(&cards);
    hb_free(&filter);
    hb_free(&alt);
    hb_free(&overview);
    return error;
}

/* ---- receipt ---- */

static int page_receipt(page *p, const char *id, const char *query)
{
    json_t *doc = NULL, *raw = NULL;
    html_vars v = HTML_VARS_INIT;
    hb card = HB_INIT, head = HB_INIT, env = HB_INIT, alt = HB_INIT;
    char only[16] = "";
    int error;

    if (html_query_get(only, sizeof(only), query, "only") < 0)
        only[0] = '\0';
    if ((error = srv_doc_receipt(p->s, id, &doc)) < 0) {
        error = page_doc_error(p, error, "No receipt with this id.");
        goto done;
    }
    raw = load_raw(p->s, id);
    const char *st = receipt_state(doc);
    hb_rawf(&head, "<p class=\"verdict verdict-%s\">",
            strcmp(st, "validates") == 0 ? "ok" : strcmp(st, "pending") == 0 ? "wait" : "bad");
    if (strcmp(st, "validates") == 0)
        hb_raw(&head, "This receipt GPU-validates commit ");
    else if (strcmp(st, "pending") == 0)
        hb_raw(&head, "This receipt is waiting for its signature to be verified; commit ");
    else
        hb_raw(&head, "This receipt does not GPU-validate commit ");
    hb_commit(&head, js(doc, "commit"));
    hb_raw(&head, "</p>");
    hb_card(&card, p->s, doc, raw, true, strcmp(only, "failed") == 0, 2);

    /* what the receipt says about where it ran, and what it fingerprinted */
    const json_t *e = json_object_get(raw, "environment"), *fp = json_object_get(raw, "fingerprint");
    hb_raw(&env, "<dl class=\"facts\">");
    static const struct {
        const char *key, *label;
    } ekeys[] = {{"platform", "Platform"}, {"python_version", "Python"}, {"pytest_version", "pytest"},
                 {"plugin_version", "pytest-gpu-proof"}, {"tool", "Tool"}};
    for (size_t i = 0; i < sizeof(ekeys) / sizeof(ekeys[0]); i++) {
        const json_t *x = json_object_get(e, ekeys[i].key);
        if (!x)
            continue;
        hb_raw(&env, "<div><dt>");
        hb_raw(&env, ekeys[i].label);
        hb_raw(&env, "</dt><dd>");
        hb_value(&env, x);
        hb_raw(&env, "</dd></div>");
    }
    if (json_is_object(fp)) {
        hb_raw(&env, "<div class=\"wide\"><dt>Code fingerprint</dt><dd><code class=\"fp\">");
        hb_value(&env, json_object_get(fp, "digest"));
        hb_raw(&env, "</code> (");
        hb_value(&env, json_object_get(fp, "algorithm"));
        hb_raw(&env, ", ");
        hb_value(&env, json_object_get(fp, "file_count"));
        hb_raw(&env, " files of ");
        hb_value(&env, json_object_get(fp, "included_paths"));
        hb_raw(&env, ")</dd></div>");
    }
    hb_raw(&env, "</dl>");

    hb_raw(&alt, "/api/receipts/");
    hb_seg(&alt, id);
    if ((error = card.err) < 0 || (error = head.err) < 0 || (error = env.err) < 0 || (error = alt.err) < 0)
        goto done;
    {
        char title[64];
        snprintf(title, sizeof(title), "Receipt %.12s", id);
        if ((error = html_vars_text(&v, "id", id)) < 0 || (error = html_vars_textf(&v, "short", "%.12s", id)) < 0 ||
            (error = html_vars_html(&v, "verdict", &head.b)) < 0 || (error = html_vars_html(&v, "card", &card.b)) < 0 ||
            (error = html_vars_html(&v, "environment", &env.b)) < 0)
            goto done;
        *p->status = 200;
        error = page_finish(p, title, alt.b.ptr, "receipt", &v);
    }
done:
    json_decref(doc);
    json_decref(raw);
    html_vars_free(&v);
    hb_free(&card);
    hb_free(&head);
    hb_free(&env);
    hb_free(&alt);
    return error;
}

/* ---- signer ---- */

static int page_signer(page *p, const char *login)
{
    json_t *doc = NULL;
    html_vars v = HTML_VARS_INIT;
    hb t = HB_INIT, keys = HB_INIT, alt = HB_INIT, gh = HB_INIT;
    int error;

    if ((error = srv_doc_signer(p->s, login, &doc)) < 0) {
        error = page_doc_error(p, error, "No receipts signed by this login.");
        goto done;
    }
    const json_t *receipts = json_object_get(doc, "receipts");
    size_t n = json_array_size(receipts);
    if (n == 0) {
        error = page_not_found(p, "No receipts signed by this login.");
        goto done;
    }
    hb_raw(&t, "<div class=\"table-wrap\"><table class=\"latest\">\n<caption>Receipts signed by ");
    hb_esc(&t, login);
    hb_raw(&t, ", newest first</caption>\n<thead><tr><th scope=\"col\">Received</th><th scope=\"col\">Repository</th>"
               "<th scope=\"col\">Commit</th><th scope=\"col\">GPUs</th><th scope=\"col\">Tests</th>"
               "<th scope=\"col\">Result</th></tr></thead>\n<tbody>\n");
    /* distinct verifying keys */
    json_t *seen = json_object();
    hb_raw(&keys, "<ul class=\"keys\">");
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(receipts, i);
        hb_raw(&t, "<tr><td data-label=\"Received\">");
        hb_time(&t, js(r, "received_at"));
        hb_raw(&t, "</td><td data-label=\"Repository\">");
        hb_repo(&t, js(r, "repo"));
        hb_raw(&t, "</td><td data-label=\"Commit\">");
        hb_commit(&t, js(r, "commit"));
        hb_raw(&t, "</td><td data-label=\"GPUs\">");
        hb_gpu_names(&t, json_object_get(r, "gpus"));
        hb_raw(&t, "</td><td data-label=\"Tests\">");
        hb_counts(&t, r);
        hb_raw(&t, "</td><td data-label=\"Result\"><a class=\"state-link\" href=\"/receipts/");
        hb_seg(&t, js(r, "id"));
        hb_raw(&t, "\">");
        hb_receipt_state(&t, r);
        hb_raw(&t, "</a></td></tr>\n");
        const char *fpr = js(r, "key_fingerprint");
        if (fpr && seen && !json_object_get(seen, fpr)) {
            json_object_set_new(seen, fpr, json_true());
            hb_raw(&keys, "<li><code class=\"fp\">");
            hb_esc(&keys, fpr);
            hb_raw(&keys, "</code> ");
            hb_esc(&keys, js(r, "key_type"));
            hb_raw(&keys, "</li>");
        }
    }
    if (json_object_size(seen) == 0)
        hb_raw(&keys, "<li class=\"muted\">none verified yet</li>");
    json_decref(seen);
    hb_raw(&keys, "</ul>");
    hb_raw(&t, "</tbody></table></div>\n");
    hb_raw(&alt, "/api/signers/");
    hb_seg(&alt, login);
    hb_raw(&gh, "https://github.com/");
    hb_seg(&gh, login);
    hb_raw(&gh, ".keys");
    if ((error = t.err) < 0 || (error = keys.err) < 0 || (error = alt.err) < 0 || (error = gh.err) < 0)
        goto done;
    if ((error = html_vars_text(&v, "login", login)) < 0 || (error = html_vars_html(&v, "receipts", &t.b)) < 0 ||
        (error = html_vars_html(&v, "keys", &keys.b)) < 0 || (error = html_vars_text(&v, "keys_url", gh.b.ptr)) < 0 ||
        (error = html_vars_textf(&v, "count", "%zu receipt%s", n, n == 1 ? "" : "s")) < 0)
        goto done;
    *p->status = 200;
    error = page_finish(p, login, alt.b.ptr, "signer", &v);
done:
    json_decref(doc);
    html_vars_free(&v);
    hb_free(&t);
    hb_free(&keys);
    hb_free(&alt);
    hb_free(&gh);
    return error;
}

/* ---- lookup ---- */

static bool all_hex(const char *s)
{
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return false;
    return true;
}

static int page_lookup(page *p, const char *query)
{
    char q[128];
    json_t *doc = NULL;
    html_vars v = HTML_VARS_INIT;
    hb target = HB_INIT, list = HB_INIT;
    int error = 0;

    if (html_query_get(q, sizeof(q), query, "q") < 0)
        q[0] = '\0';
    /* trim spaces */
    char *b = q, *e;
    while (*b == ' ' || *b == '\t')
        b++;
    e = b + strlen(b);
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    if (*b == '\0') {
        hb_raw(&target, "/");
        error = redirect(p, &target);
        goto done;
    }
    size_t len = strlen(b);
    bool hex = all_hex(b);
    if (hex)
        for (char *c = b; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    if (hex && (len == 40 || len == 64)) {
        hb_raw(&target, "/commits/");
        hb_seg(&target, b);
        error = redirect(p, &target);
        goto done;
    }
    if (!(hex && len >= 7) && !gp_login_valid(b)) {
        hb hint = HB_INIT;
        hb_raw(&hint, "<p>Type a commit sha (7 to 64 hex digits) or a GitHub login.</p>");
        error = page_error(p, 400, "Not a commit or a login", "That is neither a commit sha nor a GitHub login.", &hint);
        hb_free(&hint);
        goto done;
    }
    if ((error = srv_doc_lookup(p->s, b, &doc)) < 0) {
        error = page_doc_error(p, error, "");
        goto done;
    }
    const json_t *commits = json_object_get(doc, "commits"), *signers = json_object_get(doc, "signers");
    size_t nc = json_array_size(commits), ns = json_array_size(signers);
    /* an exact login wins */
    for (size_t i = 0; i < ns; i++) {
        const char *l = json_string_value(json_array_get(signers, i));
        if (l && strcasecmp(l, b) == 0 && !(hex && nc > 0)) {
            hb_raw(&target, "/signers/");
            hb_seg(&target, l);
            error = redirect(p, &target);
            goto done;
        }
    }
    if (nc + ns == 1) {
        const char *only = json_string_value(json_array_get(nc ? commits : signers, 0));
        hb_raw(&target, nc ? "/commits/" : "/signers/");
        hb_seg(&target, only);
        error = redirect(p, &target);
        goto done;
    }
    if (nc + ns == 0) {
        hb hint = HB_INIT;
        hb_raw(&hint, "<p>No commit starting with <code>");
        hb_esc(&hint, b);
        hb_raw(&hint, "</code> and no signer with that login has a receipt here. Receipts appear after "
                      "<code>gpuproof-cli submit</code>; check the sha with <code>git rev-parse</code>.</p>");
        error = page_error(p, 404, "Nothing found", "Nothing matches what you looked up.", &hint);
        hb_free(&hint);
        goto done;
    }
    hb_raw(&list, "<ul class=\"candidates\">");
    for (size_t i = 0; i < nc; i++) {
        const char *c = json_string_value(json_array_get(commits, i));
        hb_raw(&list, "<li>Commit <a href=\"/commits/");
        hb_seg(&list, c);
        hb_raw(&list, "\"><code>");
        hb_esc(&list, c);
        hb_raw(&list, "</code></a></li>");
    }
    for (size_t i = 0; i < ns; i++) {
        hb_raw(&list, "<li>Signer ");
        hb_signer(&list, json_string_value(json_array_get(signers, i)));
        hb_raw(&list, "</li>");
    }
    hb_raw(&list, "</ul>");
    if ((error = list.err) < 0)
        goto done;
    if ((error = html_vars_text(&v, "q", b)) < 0 || (error = html_vars_html(&v, "candidates", &list.b)) < 0 ||
        (error = html_vars_textf(&v, "count", "%zu", nc + ns)) < 0)
        goto done;
    *p->status = 200;
    error = page_finish(p, "Which one?", NULL, "lookup", &v);
done:
    json_decref(doc);
    html_vars_free(&v);
    hb_free(&target);
    hb_free(&list);
    return error;
}

/* ---- badge ---- */

static int page_badge(page *p, const char *owner, const char *name, const char *sha)
{
    json_t *doc = NULL;
    char repo[512];
    const char *label = "not validated", *color = "#6e7681";
    int error;

    snprintf(repo, sizeof(repo), "%s/%s", owner, name);
    if ((error = srv_doc_commit(p->s, sha, repo, &doc)) < 0 && error != GP_ENOTFOUND)
        return page_doc_error(p, error, "");
    if (doc && jtrue(doc, "validated")) {
        label = "validated", color = "#2da44e";
    } else if (doc) {
        const json_t *rs = json_object_get(doc, "receipts");
        bool failed = false, pending = false;
        for (size_t i = 0; i < json_array_size(rs); i++) {
            const char *st = receipt_state(json_array_get(rs, i));
            failed |= strcmp(st, "failed") == 0;
            pending |= strcmp(st, "pending") == 0;
        }
        if (failed)
            label = "failed", color = "#cf222e";
        else if (pending)
            label = "pending", color = "#d4a72c";
    }
    json_decref(doc);
    /* shields.io "flat" layout; Verdana 11px is about 6.5px per character */
    int lw = 6 + (int)(6.5 * 9) + 6, rw = 6 + (int)(6.5 * (double)strlen(label)) + 6, w = lw + rw;
    gp_buf_reset(p->body);
    error = gp_buf_printf(
        p->body,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"20\" role=\"img\" aria-label=\"gpu-proof: %s\">"
        "<title>gpu-proof: %s</title>"
        "<linearGradient id=\"s\" x2=\"0\" y2=\"100%%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/>"
        "<stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>"
        "<clipPath id=\"r\"><rect width=\"%d\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>"
        "<g clip-path=\"url(#r)\"><rect width=\"%d\" height=\"20\" fill=\"#555\"/>"
        "<rect x=\"%d\" width=\"%d\" height=\"20\" fill=\"%s\"/><rect width=\"%d\" height=\"20\" fill=\"url(#s)\"/></g>"
        "<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\">"
        "<text x=\"%d\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\">gpu-proof</text><text x=\"%d\" y=\"14\">gpu-proof</text>"
        "<text x=\"%d\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\">%s</text><text x=\"%d\" y=\"14\">%s</text></g></svg>\n",
        w, label, label, w, lw, lw, rw, color, w, lw / 2, lw / 2, lw + rw / 2, label, lw + rw / 2, label);
    *p->status = 200;
    *p->ctype = CT_SVG;
    tl_cache_control = "max-age=60, must-revalidate";
    return error;
}

/* ---- static files ---- */

static int page_static(page *p, const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".css", "text/css; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"}, {".svg", "image/svg+xml"},
        {".png", "image/png"}, {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *type = NULL, *dir = srv_web_dir(p->s);
    char path[4096];
    char *data = NULL;
    size_t len = 0, n = strlen(name);
    struct stat st;
    int error;

    /* one plain file name: letters, digits, '-', '_', at most one '.', not starting with '.';
     * so neither "..", "/", "%2e" nor "\" can ever name something outside web/static */
    if (n == 0 || n > 64 || name[0] == '.' || strstr(name, ".."))
        return page_not_found(p, "No such file.");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
            return page_not_found(p, "No such file.");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t el = strlen(types[i].ext);
        if (n > el && strcmp(name + n - el, types[i].ext) == 0)
            type = types[i].type;
    }
    if (!type)
        return page_not_found(p, "No such file.");
    if ((size_t)snprintf(path, sizeof(path), "%s/static/%s", dir ? dir : "web", name) >= sizeof(path))
        return page_not_found(p, "No such file.");
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return page_not_found(p, "No such file.");
    if ((error = gp_read_file(&data, &len, path, STATIC_LIMIT)) < 0)
        return page_not_found(p, "No such file.");
    gp_buf_reset(p->body);
    error = gp_buf_add(p->body, data, len);
    free(data);
    *p->status = 200;
    *p->ctype = type;
    tl_cache_control = "max-age=300";
    return error;
}

/* ---- routing ---- */

/* Splits path (after a prefix) into up to `max` segments separated by '/'; each copied into
 * seg[i] (size 256). Returns the number of segments, or -1 when one is empty or too long. */
static int split(const char *path, char seg[][256], int max)
{
    int n = 0;
    const char *p = path;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == max || len == 0 || len >= 256)
            return -1;
        memcpy(seg[n], p, len);
        seg[n][len] = '\0';
        n++;
        p += len;
        if (*p == '/') {
            p++;
            if (*p == '\0')
                break; /* one trailing slash is fine */
        }
    }
    return n;
}

int pages_handle(srv *s, const char *path, const char *query, gp_buf *body, int *status,
                 const char **content_type)
{
    page pg = {s, NULL, body, status, content_type, NULL};
    char seg[4][256];
    int n, error;

    tl_location[0] = '\0';
    tl_cache_control = "no-cache";
    *status = 200;
    *content_type = CT_HTML;
    if ((error = templates(s, &pg.t)) < 0)
        return error;
    if (!path || path[0] != '/')
        return page_not_found(&pg, "No such page.");
    if (strcmp(path, "/") == 0)
        return page_dashboard(&pg);
    if (strcmp(path, "/lookup") == 0)
        return page_lookup(&pg, query);
    if (strncmp(path, "/static/", 8) == 0)
        return page_static(&pg, path + 8);
    if (strcmp(path, "/favicon.ico") == 0)
        return page_static(&pg, "favicon.svg");

    if (strncmp(path, "/repos/", 7) == 0 && (n = split(path + 7, seg, 2)) == 2 &&
        repo_part_ok(seg[0], strlen(seg[0])) && repo_part_ok(seg[1], strlen(seg[1])))
        return page_repo(&pg, seg[0], seg[1], query);

    if (strncmp(path, "/commits/", 9) == 0 && (n = split(path + 9, seg, 1)) == 1) {
        size_t len = strlen(seg[0]);
        if (all_hex(seg[0])) {
            for (char *c = seg[0]; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            if (len == 40 || len == 64)
                return page_commit(&pg, seg[0], query);
            if (len >= 7 && len < 64) {
                char q[300];
                snprintf(q, sizeof(q), "q=%s", seg[0]);
                return page_lookup(&pg, q);
            }
        }
        return page_not_found(&pg, "A commit is named by 40 (or 64) hex digits.");
    }

    if (strncmp(path, "/receipts/", 10) == 0 && (n = split(path + 10, seg, 1)) == 1) {
        if (strlen(seg[0]) == 64 && is_lower_hex(seg[0], 64))
            return page_receipt(&pg, seg[0], query);
        return page_not_found(&pg, "A receipt is named by its id: 64 lower-case hex digits.");
    }

    if (strncmp(path, "/signers/", 9) == 0 && (n = split(path + 9, seg, 1)) == 1) {
        if (gp_login_valid(seg[0]))
            return page_signer(&pg, seg[0]);
        return page_not_found(&pg, "That is not a GitHub login.");
    }

    if (strncmp(path, "/badge/", 7) == 0 && (n = split(path + 7, seg, 3)) == 3) {
        size_t len = strlen(seg[2]);
        if (repo_part_ok(seg[0], strlen(seg[0])) && repo_part_ok(seg[1], strlen(seg[1])) && len > 4 &&
            strcmp(seg[2] + len - 4, ".svg") == 0) {
            seg[2][len - 4] = '\0';
            len -= 4;
            if ((len == 40 || len == 64) && all_hex(seg[2])) {
                for (char *c = seg[2]; *c; c++)
                    *c = (char)tolower((unsigned char)*c);
                return page_badge(&pg, seg[0], seg[1], seg[2]);
            }
        }
    }
    return page_not_found(&pg, "No such page.");
}
