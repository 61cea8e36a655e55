/*
 * common.c - what the gpuproof-cli commands share (see cli.h): settings resolved in cli.md's order
 * (flag, environment, git config), small file / JSON / path helpers, and an HTTP client on libcurl
 * with bounded responses and retries with exponential backoff that honour Retry-After.
 */
#include "cli.h"

#include "buf.h"
#include "error.h"
#include "receipt.h"

#include "curl_lazy.h"
#include <errno.h>
#include <git2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- settings ------------------------------------------------------------------------------ */

static char *git_config_value(const char *key, const char *repo_dir)
{
    git_repository *repo = NULL;
    git_config *cfg = NULL, *snap = NULL;
    const char *v = NULL;
    char *out = NULL;

    git_libgit2_init();
    if (git_repository_open_ext(&repo, repo_dir ? repo_dir : ".", 0, NULL) == 0) {
        if (git_repository_config_snapshot(&snap, repo) != 0) snap = NULL;
    } else if (git_config_open_default(&cfg) == 0) {
        if (git_config_snapshot(&snap, cfg) != 0) snap = NULL;
    }
    if (snap && git_config_get_string(&v, snap, key) == 0 && v && *v) out = strdup(v);
    git_config_free(snap);
    git_config_free(cfg);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return out;
}

char *cli_setting(const char *flag_value, const char *env, const char *git_key, const char *repo_dir)
{
    const char *e;
    if (flag_value && *flag_value) return strdup(flag_value);
    if (env && (e = getenv(env)) && *e) return strdup(e);
    if (git_key) return git_config_value(git_key, repo_dir);
    return NULL;
}

char *cli_server(const char *flag_value, bool json_out)
{
    char *s = cli_setting(flag_value, "GPUPROOF_SERVER", "gpuproof.server", NULL);
    if (!s) {
        cli_fail(json_out, "no server: pass --server URL, or set GPUPROOF_SERVER or `git config gpuproof.server URL`");
        return NULL;
    }
    if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
        cli_fail(json_out, "server '%s' is not an http:// or https:// URL", s);
        free(s);
        return NULL;
    }
    return s;
}

char *cli_origin_owner(const char *repo_dir)
{
    /* read remote.origin.url from the config: git_remote_lookup leaks pcre2 match data in libgit2 1.5 */
    char *url = git_config_value("remote.origin.url", repo_dir);
    char repo_name[256], *out = NULL, *slash;
    if (url && gp_github_repo_from_url(repo_name, sizeof(repo_name), url) == 0) {
        if ((slash = strchr(repo_name, '/'))) *slash = '\0';
        out = strdup(repo_name);
    }
    gp_error_clear();
    free(url);
    return out;
}

/* ---- files, JSON, messages ------------------------------------------------------------------ */

int cli_read_file(char **out, size_t *len, const char *path, size_t limit)
{
    int error = gp_read_file(out, len, path, limit);
    if (error == GP_ETOOBIG) {
        cli_errorf("%s is larger than %zu bytes", path, limit);
        return CLI_ERROR;
    }
    if (error < 0) {
        cli_errorf("cannot read %s: %s", path, gp_error_last());
        return CLI_ERROR;
    }
    return CLI_OK;
}

void cli_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    fflush(stdout);
}

int cli_fail(bool json_out, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cli_errorf("%s", msg);
    if (json_out) {
        json_t *o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
        cli_print_json(o);
        json_decref(o);
    }
    return CLI_ERROR;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cli_strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

int cli_split_paths(char ***out, const char *csv)
{
    size_t n = 1, k = 0;
    char **v;
    const char *p = csv;
    for (const char *c = csv; *c; c++) n += *c == ',';
    if (!(v = calloc(n, sizeof(*v)))) return -1;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && p[len - 1] == '/') len--; /* "src/" is "src" */
        if (len == 0 || !(v[k] = strndup(p, len))) {
            cli_strv_free(v, k);
            return -1;
        }
        k++;
        if (!comma) break;
        p = comma + 1;
    }
    qsort(v, k, sizeof(*v), cmpstr);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m && !strcmp(v[m - 1], v[i])) free(v[i]);
        else v[m++] = v[i];
    }
    *out = v;
    return (int)m;
}

char *cli_url_join(const char *base, const char *path)
{
    size_t bl = strlen(base);
    char *out;
    while (bl && base[bl - 1] == '/') bl--;
    while (*path == '/') path++;
    if (!(out = malloc(bl + strlen(path) + 2))) return NULL;
    memcpy(out, base, bl);
    out[bl] = '/';
    strcpy(out + bl + 1, path);
    return out;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

typedef struct http_ctx {
    gp_buf body;
    cli_http_response *res;
    bool too_big;
} http_ctx;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    http_ctx *c = arg;
    if (gp_buf_add(&c->body, p, size * n) < 0) {
        c->too_big = true;
        return 0;
    }
    return size * n;
}

#define RETRY_AFTER_MAX 86400L

static long parse_retry_after(const char *v)
{
    char *end;
    long secs;
    while (*v == ' ' || *v == '\t') v++;
    errno = 0;
    secs = strtol(v, &end, 10);
    /* a day at most: a hostile or broken server's huge value must not overflow the wait in ms
     * (the retry budget then ends the retries) */
    if (end != v && errno == ERANGE && secs > 0) return RETRY_AFTER_MAX;
    if (end != v && errno == 0 && secs >= 0) return secs < RETRY_AFTER_MAX ? secs : RETRY_AFTER_MAX;
    time_t t = curl_getdate(v, NULL);
    if (t > 0) {
        time_t now = time(NULL);
        return t <= now ? 0 : t - now < RETRY_AFTER_MAX ? (long)(t - now) : RETRY_AFTER_MAX;
    }
    return -1;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    http_ctx *c = arg;
    size_t len = size * n;
    char line[512];
    if (len >= sizeof(line)) return len;
    memcpy(line, p, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (!strncasecmp(line, "HTTP/", 5)) { /* a new response (e.g. after 100 Continue) */
        c->res->retry_after = -1;
        free(c->res->content_type);
        c->res->content_type = NULL;
    } else if (!strncasecmp(line, "Retry-After:", 12)) {
        c->res->retry_after = parse_retry_after(line + 12);
    } else if (!strncasecmp(line, "Content-Type:", 13)) {
        const char *v = line + 13;
        while (*v == ' ') v++;
        free(c->res->content_type);
        c->res->content_type = strdup(v);
    }
    return len;
}

void cli_http_response_free(cli_http_response *res)
{
    if (!res) return;
    free(res->body);
    free(res->content_type);
    memset(res, 0, sizeof(*res));
}

int cli_http(cli_http_response *res, const cli_http_request *req)
{
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    http_ctx c;
    char ua[64], ctype[256];
    CURLcode rc;
    int error = 0;

    memset(res, 0, sizeof(*res));
    res->retry_after = -1;
    gp_buf_init(&c.body, req->max_response ? req->max_response : 8u << 20);
    c.res = res;
    c.too_big = false;
    if (!(h = curl_easy_init())) {
        error = gp_error_setf(GP_ERROR, "cannot start libcurl%s%s", *gp_curl_error() ? ": " : "", gp_curl_error());
        goto done;
    }
    snprintf(ua, sizeof(ua), "gpuproof-cli/%s", GP_VERSION);
    hdrs = curl_slist_append(hdrs, "Accept: application/json, application/problem+json");
    if (req->body) {
        snprintf(ctype, sizeof(ctype), "Content-Type: %s", req->content_type ? req->content_type : "application/json");
        hdrs = curl_slist_append(hdrs, ctype);
        hdrs = curl_slist_append(hdrs, "Expect:");
    }
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    if (req->method && !strcmp(req->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
    }
    rc = curl_easy_perform(h);
    if (c.too_big) {
        error = gp_error_setf(GP_EUNAVAILABLE, "%s: response larger than %zu bytes", req->url, c.body.limit);
        goto done;
    }
    if (rc != CURLE_OK) {
        error = gp_error_setf(GP_EUNAVAILABLE, "%s: %s", req->url, curl_easy_strerror(rc));
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    if (!c.body.ptr && gp_buf_add(&c.body, "", 0) < 0) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    res->body = gp_buf_detach(&c.body, &res->len);
done:
    if (error < 0) cli_http_response_free(res), res->retry_after = -1;
    gp_buf_free(&c.body);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return error;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_http_retry(cli_http_response *res, const cli_http_request *req)
{
    int tries = req->max_tries > 0 ? req->max_tries : 5;
    long budget = req->max_total_ms > 0 ? req->max_total_ms : 60000;
    long delay = 500, start = now_ms();
    int error = 0;

    for (int i = 1;; i++) {
        bool again;
        long wait = delay;
        error = cli_http(res, req);
        again = error == GP_EUNAVAILABLE || (error == 0 && (res->status >= 500 || res->status == 429));
        if (!again || i >= tries) break;
        if (error == 0 && res->retry_after >= 0) wait = res->retry_after * 1000;
        if (wait < 0) wait = 0;
        if (now_ms() - start + wait > budget) break;
        if (!req->quiet) {
            if (error < 0)
                cli_warnf("%s; retrying in %.1f s (try %d of %d)", gp_error_last(), (double)wait / 1000, i + 1, tries);
            else
                cli_warnf("%s answered %ld; retrying in %.1f s (try %d of %d)", req->url, res->status,
                          (double)wait / 1000, i + 1, tries);
        }
        if (error == 0) cli_http_response_free(res);
        usleep((useconds_t)wait * 1000);
        delay *= 2;
    }
    return error;
}

char *cli_problem_text(const cli_http_response *res)
{
    json_t *j = res->body ? json_loadb(res->body, res->len, 0, NULL) : NULL;
    const char *title = json_string_value(json_object_get(j, "title"));
    const char *detail = json_string_value(json_object_get(j, "detail"));
    char *out = NULL;
    size_t n;
    if (detail || title) {
        n = (title ? strlen(title) : 0) + (detail ? strlen(detail) : 0) + 4;
        if ((out = malloc(n)))
            snprintf(out, n, "%s%s%s", title ? title : "", title && detail ? ": " : "", detail ? detail : "");
    } else {
        n = res->len > 300 ? 300 : res->len;
        out = strndup(res->body ? res->body : "", n);
    }
    /* the server's words go to a terminal: bounded, and no control characters (escape sequences) */
    if (out && strlen(out) > 500) strcpy(out + 497, "...");
    for (char *p = out; p && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) *p = ' ';
    json_decref(j);
    return out;
}
