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
 */
#ifndef GP_KEYSOURCE_H
#define GP_KEYSOURCE_H

#include <stddef.h>

#define GP_KEYS_URL_DEFAULT "https://github.com/{user}.keys"

typedef struct gp_keysource {
    const char *url_template;  /* NULL = GP_KEYS_URL_DEFAULT */
    long connect_timeout_ms;   /* 0 = 2000 */
    long timeout_ms;           /* whole transfer; 0 = 5000 */
    size_t max_body;           /* 0 = 256 KiB */
} gp_keysource;

/* Builds the URL for a login (validated first). Caller frees. */
int gp_keys_url(char **out, const char *url_template, const char *login);

/* Fetches the .keys text of a login. Caller frees *body. */
int gp_keys_fetch(char **body, size_t *len, const gp_keysource *src, const char *login);

#endif
