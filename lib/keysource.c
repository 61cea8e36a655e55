/*
 * keysource.c - fetching a login's published SSH keys with libcurl (see keysource.h).
 *
 * One easy handle per fetch: only http, https and file; redirects followed at most 3 times and
 * only to http(s); connect and whole-transfer timeouts; no signals (safe in threaded servers);
 * the body is bounded in the write callback. The answer is classified for the caller:
 *   200 + a body with at least one key line           -> 0
 *   404, 410, a missing file, 200 + an empty body      -> GP_ENOTFOUND (no such user / no keys)
 *   anything else (refused, timeout, 5xx, 429, over the size limit, a body with no key line at
 *   all, e.g. an HTML error page from a proxy)         -> GP_EUNAVAILABLE (retry later)
 * libcurl is loaded, and initialised once per process, on the first fetch (curl_lazy.c).
 */
#include "keysource.h"
#include "buf.h"
#include "error.h"
#include "sshkey.h"
#include "util.h"

#include "curl_lazy.h"
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GP_KEYS_MAX_REDIRS 3L

/* A libcurl handle, or NULL with the error set. */
static CURL *new_handle(void)
{
    CURL *h = curl_easy_init();
    if (!h)
        gp_error_setf(GP_ERROR, "libcurl could not create a handle%s%s", *gp_curl_error() ? ": " : "",
                      gp_curl_error());
    return h;
}

static bool allowed_scheme(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0 ||
           strncasecmp(url, "file://", 7) == 0;
}

int gp_keys_url(char **out, const char *url_template, const char *login)
{
    const char *tpl = url_template ? url_template : GP_KEYS_URL_DEFAULT;
    const char *at = strstr(tpl, "{user}");
    if (!gp_login_valid(login))
        return gp_error_setf(GP_EINVALID, "\"%.60s\" is not a valid GitHub login",
                             login ? login : "");
    if (!at || strstr(at + 6, "{user}"))
        return gp_error_setf(GP_EINVALID, "the keys URL template must contain {user} exactly once");
    if (!allowed_scheme(tpl))
        return gp_error_setf(GP_EINVALID,
                             "the keys URL template must start with https://, http:// or file://");
    size_t pre = (size_t)(at - tpl), ulen = strlen(login), post = strlen(at + 6);
    char *url = malloc(pre + ulen + post + 1);
    if (!url) return gp_error_setf(GP_ERROR, "out of memory");
    memcpy(url, tpl, pre);
    memcpy(url + pre, login, ulen);
    memcpy(url + pre + ulen, at + 6, post + 1);
    *out = url;
    return 0;
}

typedef struct {
    CURL *h;
    gp_buf body;
    bool too_big;
} fetch_state;

static size_t on_data(char *data, size_t size, size_t nmemb, void *userp)
{
    fetch_state *st = userp;
    size_t n = size * nmemb;
    long status = 0;
    /* Only a 200's body matters (file: reports 0); an error page of any size is dropped. */
    if (curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status != 200 &&
        status != 0)
        return n;
    if (gp_buf_add(&st->body, data, n) < 0) {
        st->too_big = true;
        return 0; /* less than given: curl aborts the transfer */
    }
    return n;
}

/* Whether text holds at least one line shaped like a key (known type or not). */
static bool has_key_line(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        gp_pubkey k;
        int rc = gp_pubkey_parse_line(&k, p, (size_t)(eol - p));
        if (rc == 0) gp_pubkey_clear(&k);
        if (rc == 0 || rc == GP_EUNSUPPORTED) return true;
        p = nl ? nl + 1 : end;
    }
    return false;
}

static bool all_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", s[i])) return false;
    return true;
}

/*
 * file: URLs are read here rather than through libcurl, so that offline verification never loads
 * libcurl (see curl_lazy.h). Same rules as curl's: "file://" then an absolute path (or
 * "file://localhost/..."), %XX decoded; a missing file is not-found, anything else unavailable.
 */
static int read_file_url(gp_buf *out, const char *url, const char *login, size_t max_body)
{
    const char *p = url + strlen("file://");
    char *path = NULL, *data = NULL;
    size_t n = 0, j = 0;
    int error;
    if (!strncmp(p, "localhost/", strlen("localhost/"))) p += strlen("localhost");
    if (*p != '/')
        return gp_error_setf(GP_EUNAVAILABLE, "keys of %s: %s is not a local file: URL", login, url);
    if (!(path = malloc(strlen(p) + 1))) return gp_error_setf(GP_ERROR, "out of memory");
    for (size_t i = 0; p[i]; i++) {
        unsigned char byte;
        if (p[i] == '%' && p[i + 1] && p[i + 2] && gp_unhex(&byte, 1, p + i + 1, 2) == 0) {
            if (byte == '\0') break;
            path[j++] = (char)byte;
            i += 2;
        } else {
            path[j++] = p[i];
        }
    }
    path[j] = '\0';
    error = gp_read_file(&data, &n, path, max_body);
    if (error == GP_ENOTFOUND)
        error = gp_error_setf(GP_ENOTFOUND, "keys of %s: %s does not exist", login, url);
    else if (error == GP_ETOOBIG)
        error = gp_error_setf(GP_EUNAVAILABLE, "keys of %s from %s: body larger than %zu bytes",
                              login, url, max_body);
    else if (error < 0)
        error = gp_error_setf(GP_EUNAVAILABLE, "keys of %s from %s: %s", login, url, gp_error_last());
    else
        error = gp_buf_add(out, data, n);
    free(data);
    free(path);
    return error;
}

int gp_keys_fetch(char **body, size_t *len, const gp_keysource *src, const char *login)
{
    static const gp_keysource defaults = {NULL, 0, 0, 0};
    const gp_keysource *s = src ? src : &defaults;
    size_t max_body = s->max_body ? s->max_body : 256 * 1024;
    long connect_ms = s->connect_timeout_ms > 0 ? s->connect_timeout_ms : 2000;
    long total_ms = s->timeout_ms > 0 ? s->timeout_ms : 5000;
    fetch_state st = {NULL, GP_BUF_INIT(max_body), false};
    char *url = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *h = NULL;
    CURLcode rc;
    long status = 0;
    int error;

    if ((error = gp_keys_url(&url, s->url_template, login)) < 0) goto done;
    if (!strncasecmp(url, "file://", strlen("file://"))) {
        if ((error = read_file_url(&st.body, url, login, max_body)) < 0) goto done;
        goto got_body;
    }
    if (!(h = new_handle())) {
        error = GP_ERROR;
        goto done;
    }
    st.h = h;
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, GP_KEYS_MAX_REDIRS) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &st) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "gpuproof/" GP_VERSION) != CURLE_OK) {
        error =
            gp_error_setf(GP_ERROR, "libcurl refused an option (built without http/https/file?)");
        goto done;
    }
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK && status != 404 && status != 410) {
        if (st.too_big || rc == CURLE_FILESIZE_EXCEEDED)
            error = gp_error_setf(GP_EUNAVAILABLE, "keys of %s from %s: body larger than %zu bytes",
                                  login, url, max_body);
        else if (rc == CURLE_FILE_COULDNT_READ_FILE)
            error = gp_error_setf(GP_ENOTFOUND, "keys of %s: %s does not exist", login, url);
        else
            error = gp_error_setf(GP_EUNAVAILABLE, "keys of %s from %s: %s", login, url,
                                  errbuf[0] ? errbuf : curl_easy_strerror(rc));
        goto done;
    }
    /* file: URLs report status 0; a 404 / 410 counts even when its page was cut off */
    if (status == 404 || status == 410) {
        error = gp_error_setf(GP_ENOTFOUND, "keys of %s: %s answered %ld (no such user)", login,
                              url, status);
        goto done;
    }
    if (status != 200 && status != 0) {
        error = gp_error_setf(GP_EUNAVAILABLE, "keys of %s: %s answered %ld; retry later", login,
                              url, status);
        goto done;
    }
got_body:
    if (all_space(st.body.ptr ? st.body.ptr : "", st.body.len)) {
        error = gp_error_setf(GP_ENOTFOUND, "%s publishes no keys", login);
        goto done;
    }
    if (!has_key_line(st.body.ptr, st.body.len)) {
        error = gp_error_setf(GP_EUNAVAILABLE,
                              "keys of %s: %s answered with something that holds no SSH key", login,
                              url);
        goto done;
    }
    if (!(*body = gp_buf_detach(&st.body, len))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    error = 0;
done:
    if (h) curl_easy_cleanup(h);
    gp_buf_free(&st.body);
    free(url);
    return error;
}

/* ---- GitHub REST API: ssh_signing_keys ------------------------------------------------------ */

typedef struct api_state {
    gp_buf body;
    bool too_big;
} api_state;

static size_t on_api_data(char *data, size_t size, size_t nmemb, void *userp)
{
    api_state *st = userp;
    size_t n = size * nmemb;
    if (gp_buf_add(&st->body, data, n) < 0) {
        st->too_big = true;
        return 0;
    }
    return n;
}

/* Appends the "key" strings of a JSON array of objects as lines. GP_EUNAVAILABLE when the
 * document is not such an array. */
static int signing_keys_lines(gp_buf *out, const char *text, size_t len, const char *login)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *item;
    size_t i;
    int error = 0;
    if (!json_is_array(doc)) {
        json_decref(doc);
        return gp_error_setf(GP_EUNAVAILABLE,
                             "signing keys of %s: the API answered with something that is not a "
                             "JSON array",
                             login);
    }
    json_array_foreach(doc, i, item) {
        const char *key = json_string_value(json_object_get(item, "key"));
        bool ok = json_is_object(item) && key && *key;
        if (!json_is_object(item)) {
            error = gp_error_setf(GP_EUNAVAILABLE,
                                  "signing keys of %s: the API's array holds a non-object", login);
            break;
        }
        for (const char *c = key; ok && *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) ok = false;
        if (!ok) continue;
        if (gp_buf_puts(out, key) < 0 || gp_buf_putc(out, '\n') < 0) {
            error = gp_error_setf(GP_EUNAVAILABLE, "signing keys of %s: too many keys", login);
            break;
        }
    }
    json_decref(doc);
    return error;
}

int gp_signing_keys_fetch(char **body, size_t *len, const gp_keysource *src, const char *api_url,
                          const char *login, const char *token)
{
    static const gp_keysource defaults = {NULL, 0, 0, 0};
    const gp_keysource *s = src ? src : &defaults;
    size_t max_body = s->max_body ? s->max_body : 256 * 1024;
    long connect_ms = s->connect_timeout_ms > 0 ? s->connect_timeout_ms : 2000;
    long total_ms = s->timeout_ms > 0 ? s->timeout_ms : 5000;
    api_state st = {GP_BUF_INIT(max_body), false};
    gp_buf lines = GP_BUF_INIT(max_body);
    gp_buf auth = GP_BUF_INIT(8192);
    struct curl_slist *hdrs = NULL, *h2;
    char *url = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *h = NULL;
    CURLcode rc;
    long status = 0;
    int error;

    if (!gp_login_valid(login)) {
        error = gp_error_setf(GP_EINVALID, "\"%.60s\" is not a valid GitHub login",
                              login ? login : "");
        goto done;
    }
    if (!api_url || (strncasecmp(api_url, "https://", 8) != 0 &&
                     strncasecmp(api_url, "http://", 7) != 0)) {
        error = gp_error_setf(GP_EINVALID, "the GitHub API URL must start with https:// or http://");
        goto done;
    }
    size_t base = strlen(api_url);
    while (base > 0 && api_url[base - 1] == '/')
        base--;
    if (asprintf(&url, "%.*s/users/%s/ssh_signing_keys?per_page=100", (int)base, api_url, login) <
        0) {
        url = NULL;
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    if (token && *token) {
        if (gp_buf_printf(&auth, "Authorization: Bearer %s", token) < 0 ||
            !(h2 = curl_slist_append(hdrs, auth.ptr))) {
            error = gp_error_setf(GP_ERROR, "out of memory");
            goto done;
        }
        hdrs = h2;
    }
    if (!(h2 = curl_slist_append(hdrs, "Accept: application/vnd.github+json")) ||
        !(hdrs = h2, h2 = curl_slist_append(hdrs, "X-GitHub-Api-Version: 2022-11-28"))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    hdrs = h2;
    if (!(h = new_handle())) {
        error = GP_ERROR;
        goto done;
    }
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_api_data) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &st) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "gpuproof/" GP_VERSION) != CURLE_OK) {
        error = gp_error_setf(GP_ERROR, "libcurl refused an option (built without http/https?)");
        goto done;
    }
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 404 || status == 410) {
        error = gp_error_setf(GP_ENOTFOUND, "signing keys of %s: the API answered %ld (no such user)",
                              login, status);
        goto done;
    }
    if (rc != CURLE_OK) {
        if (st.too_big || rc == CURLE_FILESIZE_EXCEEDED)
            error = gp_error_setf(GP_EUNAVAILABLE,
                                  "signing keys of %s: the API's answer is larger than %zu bytes",
                                  login, max_body);
        else
            error = gp_error_setf(GP_EUNAVAILABLE, "signing keys of %s from the GitHub API: %s",
                                  login, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        goto done;
    }
    if (status != 200) {
        error = gp_error_setf(GP_EUNAVAILABLE, "signing keys of %s: the GitHub API answered %ld%s",
                              login, status,
                              status == 401 || status == 403
                                  ? " (rate limited, or the token is not accepted)"
                                  : "; retry later");
        goto done;
    }
    if ((error = signing_keys_lines(&lines, st.body.ptr ? st.body.ptr : "", st.body.len, login)) <
        0)
        goto done;
    if (lines.len == 0) {
        error = gp_error_setf(GP_ENOTFOUND, "%s registered no signing keys", login);
        goto done;
    }
    if (!(*body = gp_buf_detach(&lines, len))) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    error = 0;
done:
    if (h) curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    if (auth.ptr) sodium_memzero(auth.ptr, auth.cap);
    gp_buf_free(&auth);
    gp_buf_free(&st.body);
    gp_buf_free(&lines);
    free(url);
    return error;
}
