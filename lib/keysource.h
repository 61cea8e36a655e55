/*
 * keysource.h - fetching a GitHub login's published SSH keys with libcurl.
 *
 * The URL comes from a template where "{user}" is replaced by the login (default
 * "https://github.com/{user}.keys"); http:, https: and file: URLs are allowed, nothing else.
 * The login is validated (util.h gp_login_valid) before it touches the URL; timeouts and the body
 * size are bounded; redirects are not followed outside http(s).
 *
 * Results: 0 with the body; GP_ENOTFOUND when the user does not exist or publishes no key (404,
 * missing file, an empty body); GP_EUNAVAILABLE when the source could not answer (connection
 * refused, timeout, 5xx, 429, body over the limit, garbage that holds no key line): retry later.
 * GP_EINVALID for an invalid login or template (checked before any I/O).
 *
 * "Key line": a line gp_pubkey_parse_line() accepts or finds well-formed but of an unknown type
 * (GP_EUNSUPPORTED). A 200 whose body is empty or only whitespace is GP_ENOTFOUND; a non-empty
 * body without any key line (an HTML page from a proxy) is GP_EUNAVAILABLE. Redirects: at most 3,
 * http(s) only. libcurl is used with CURLOPT_NOSIGNAL, so any thread may fetch.
 *
 * libcurl global state: set up once per process when libcurl is first loaded (curl_lazy.c) and
 * never cleaned up; programs need not call curl_global_init().
 */
#ifndef GP_KEYSOURCE_H
#define GP_KEYSOURCE_H

#include <stddef.h>

#define GP_KEYS_URL_DEFAULT "https://github.com/{user}.keys"

typedef struct gp_keysource {
    const char *url_template; /* NULL = GP_KEYS_URL_DEFAULT */
    long connect_timeout_ms;  /* 0 = 2000 */
    long timeout_ms;          /* whole transfer; 0 = 5000 */
    size_t max_body;          /* 0 = 256 KiB */
} gp_keysource;

/* Builds the URL for a login (validated first; a valid login needs no URL escaping). The
 * template (NULL = default) must start with https://, http:// or file:// and contain "{user}"
 * exactly once; GP_EINVALID otherwise. Caller frees *out. */
int gp_keys_url(char **out, const char *url_template, const char *login);

/* Fetches the .keys text of a login (src NULL = all defaults). On success *body is
 * NUL-terminated, *len its length (without the NUL); caller frees *body. On failure *body is
 * left untouched. */
int gp_keys_fetch(char **body, size_t *len, const gp_keysource *src, const char *login);

/*
 * GitHub REST API: the SSH keys a login registered for *signing*,
 * GET {api_url}/users/{login}/ssh_signing_keys?per_page=100 (a JSON array of objects whose "key"
 * is "TYPE BASE64"; read with jansson). api_url is an http:// or https:// base URL such as
 * "https://api.github.com" (a trailing '/' is allowed); token, when not NULL, is sent as
 * "Authorization: Bearer TOKEN" and never appears in any message. src gives the timeouts and
 * the body limit (its url_template is not used). The login is validated first. Redirects are
 * not followed.
 *
 * On success *body is the keys as a .keys text, one "TYPE BASE64" line each (entries that are
 * not strings of printable ASCII are skipped), NUL-terminated, *len its length; caller frees.
 * GP_ENOTFOUND: 404 or an array without keys. GP_EUNAVAILABLE: no answer, timeout, 5xx, 429,
 * 401/403 (rate limit or a bad token), over the limit, or not a JSON array of objects.
 * GP_EINVALID: an invalid login or API URL. On failure *body is left untouched.
 */
int gp_signing_keys_fetch(char **body, size_t *len, const gp_keysource *src, const char *api_url,
                          const char *login, const char *token);

#endif
