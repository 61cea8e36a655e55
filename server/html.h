/*
 * html.h - escaping for HTML and URLs, and a tiny template engine over the web/ templates.
 *
 * Every string that came from a receipt is hostile. It reaches a page only through
 * html_escape() (text and attribute values: & < > " ' escaped, invalid UTF-8 and control
 * characters replaced by U+FFFD) or html_url_segment() (a path segment of a link we build).
 *
 * Templates are the files web/<name>.html. `{{name}}` inserts a variable escaped. `{{{name}}}`
 * inserts a variable unescaped only when it was set with html_vars_html(), i.e. HTML the code
 * itself built (itself from escaped pieces); a text variable is escaped whatever the braces, so
 * no template construct can insert an unescaped receipt string. There are no loops or
 * conditions: the C code renders partial templates or builds rows and passes them as HTML.
 * A template naming a variable that was not set is an error (GP_EINVALID), so typos show.
 */
#ifndef GP_HTML_H
#define GP_HTML_H

#include "buf.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>

/* Appends s[0..len) escaped for HTML text and double- or single-quoted attribute values. */
int html_escape(gp_buf *out, const char *s, size_t len);
int html_escape_str(gp_buf *out, const char *s); /* NULL appends nothing */
/* Appends s percent-encoded as one URL path segment (everything but A-Z a-z 0-9 - . _ ~).
 * The result holds only ASCII letters, digits and "-._~%", so it is also safe in an attribute. */
int html_url_segment(gp_buf *out, const char *s, size_t len);
/* Same for a query value (space as %20). */
#define html_url_query html_url_segment
/* printf into out, every %s argument NOT escaped: only for format strings and values the code
 * controls (numbers, constants). */
#define html_raw(out, ...) gp_buf_printf((out), __VA_ARGS__)

/* Decodes %XX and '+' (as space) of one query-string value into out (NUL-terminated, bounded by
 * outlen). GP_EINVALID on a bad escape, GP_ETOOBIG when it does not fit. */
int html_query_decode(char *out, size_t outlen, const char *s, size_t len);
/* Finds `name` in an a=b&c=d query string and decodes its value; GP_ENOTFOUND when absent. */
int html_query_get(char *out, size_t outlen, const char *query, const char *name);

/* Template variables: up to HTML_VARS_MAX names; values are copied. */
#define HTML_VARS_MAX 32
typedef struct html_vars {
    size_t n;
    struct {
        const char *name; /* a string constant */
        char *value;      /* owned */
        bool html;        /* built by the code: may be inserted with {{{name}}} */
    } v[HTML_VARS_MAX];
} html_vars;

#define HTML_VARS_INIT {0}
int html_vars_text(html_vars *vars, const char *name, const char *text); /* NULL -> "" */
int html_vars_textf(html_vars *vars, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Takes the content of *html (built from escaped pieces) and resets it. */
int html_vars_html(html_vars *vars, const char *name, gp_buf *html);
void html_vars_free(html_vars *vars);

/* A set of parsed templates, loaded from a directory. */
typedef struct html_tmpls html_tmpls;

/* Loads and parses every <name>.html of dir (each at most 256 KiB). Caller frees. */
int html_tmpls_load(html_tmpls **out, const char *dir);
/* Parses one template from memory (tests); adds or replaces `name`. */
int html_tmpls_add(html_tmpls *t, const char *name, const char *text, size_t len);
html_tmpls *html_tmpls_new(void);
void html_tmpls_free(html_tmpls *t);

/* Renders template `name` with vars, appending to out. GP_ENOTFOUND for an unknown template,
 * GP_EINVALID for a variable the template uses that vars does not hold. */
int html_render(const html_tmpls *t, const char *name, const html_vars *vars, gp_buf *out);

/*
 * Response headers the pages need but pages_handle() (server.h) cannot return; pages.c sets them
 * per thread on every pages_handle() call, and the HTTP layer adds them to that response:
 *   pages_location()      the Location of a 303 (NULL when none);
 *   pages_cache_control() the Cache-Control value (never NULL after a call: "no-cache" for pages,
 *                         "max-age=60, must-revalidate" for badges, "max-age=300" for static files).
 */
const char *pages_location(void);
const char *pages_cache_control(void);

#endif
