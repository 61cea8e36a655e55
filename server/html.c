/*
 * html.c - HTML and URL escaping, query decoding and the template engine of the pages.
 *
 * Escaping follows the OWASP rules for HTML text and quoted attribute values: the five
 * characters & < > " ' become entities. The input is also decoded as UTF-8 on the way: invalid
 * sequences (overlong forms, surrogates, code points past U+10FFFF, truncated sequences) and
 * control characters other than tab, newline and carriage return become U+FFFD, so what reaches
 * the browser is always well-formed UTF-8 text.
 *
 * A template is parsed once into literal and variable segments (see html.h for the syntax).
 */
#include "html.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLACEMENT "\xEF\xBF\xBD"

/* Length of the valid UTF-8 sequence at s (1..4) and its code point, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c = s[0];
    size_t n, i;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

int html_escape(gp_buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* bytes [i - run, i) are copied as they are */
    int error = 0;

    if (!s)
        return 0;
    while (i < len) {
        unsigned cp = 0;
        size_t n = utf8_decode(p + i, len - i, &cp);
        const char *rep = NULL;
        if (n == 0) {
            rep = REPLACEMENT, n = 1;
        } else if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp < 0xA0)) {
            rep = REPLACEMENT;
        } else {
            switch (cp) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            default: break;
            }
        }
        if (rep) {
            if (run && (error = gp_buf_add(out, s + i - run, run)) < 0)
                return error;
            run = 0;
            if ((error = gp_buf_puts(out, rep)) < 0)
                return error;
            i += n;
        } else {
            i += n;
            run += n;
        }
    }
    if (run)
        error = gp_buf_add(out, s + i - run, run);
    return error;
}

int html_escape_str(gp_buf *out, const char *s)
{
    return s ? html_escape(out, s, strlen(s)) : 0;
}

int html_url_segment(gp_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    int error = 0;
    for (size_t i = 0; i < len && error == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            error = gp_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            error = gp_buf_add(out, e, 3);
        }
    }
    return error;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int html_query_decode(char *out, size_t outlen, const char *s, size_t len)
{
    size_t o = 0;
    if (outlen == 0)
        return gp_error_setf(GP_ETOOBIG, "query value too long");
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return gp_error_setf(GP_EINVALID, "bad %%-escape in the query");
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0)
                return gp_error_setf(GP_EINVALID, "bad %%-escape in the query");
            c = a * 16 + b;
            i += 2;
        }
        if (c == 0)
            return gp_error_setf(GP_EINVALID, "NUL in the query");
        if (o + 1 >= outlen)
            return gp_error_setf(GP_ETOOBIG, "query value too long");
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

int html_query_get(char *out, size_t outlen, const char *query, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = query;
    if (!p)
        return GP_ENOTFOUND;
    if (*p == '?')
        p++;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen >= nlen && strncmp(p, name, nlen) == 0 && (plen == nlen || p[nlen] == '=')) {
            const char *v = plen == nlen ? p + plen : p + nlen + 1;
            return html_query_decode(out, outlen, v, (size_t)(p + plen - v));
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    return GP_ENOTFOUND;
}

/* ---- variables ---- */

static int vars_set(html_vars *vars, const char *name, char *value, bool html)
{
    for (size_t i = 0; i < vars->n; i++) {
        if (strcmp(vars->v[i].name, name) == 0) {
            free(vars->v[i].value);
            vars->v[i].value = value;
            vars->v[i].html = html;
            return 0;
        }
    }
    if (vars->n == HTML_VARS_MAX) {
        free(value);
        return gp_error_setf(GP_ETOOBIG, "too many template variables (max %d)", HTML_VARS_MAX);
    }
    vars->v[vars->n].name = name;
    vars->v[vars->n].value = value;
    vars->v[vars->n].html = html;
    vars->n++;
    return 0;
}

int html_vars_text(html_vars *vars, const char *name, const char *text)
{
    char *copy = strdup(text ? text : "");
    if (!copy)
        return gp_error_setf(GP_ERROR, "out of memory");
    return vars_set(vars, name, copy, false);
}

int html_vars_textf(html_vars *vars, const char *name, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return gp_error_setf(GP_ERROR, "out of memory");
    return vars_set(vars, name, s, false);
}

int html_vars_html(html_vars *vars, const char *name, gp_buf *html)
{
    size_t len;
    char *s;
    if (html->ptr == NULL) {
        s = strdup("");
        if (!s)
            return gp_error_setf(GP_ERROR, "out of memory");
    } else {
        s = gp_buf_detach(html, &len);
    }
    return vars_set(vars, name, s, true);
}

void html_vars_free(html_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++)
        free(vars->v[i].value);
    vars->n = 0;
}

/* ---- templates ---- */

#define TMPL_MAX_BYTES (256 * 1024)
#define TMPL_NAME_MAX 64

typedef struct tmpl_seg {
    const char *text; /* literal text, or the variable name (NUL-terminated copy) */
    size_t len;
    int kind;         /* 0 literal, 2 {{name}}, 3 {{{name}}} */
} tmpl_seg;

typedef struct tmpl {
    char name[TMPL_NAME_MAX];
    char *src;   /* the file text; literals point into it */
    char *names; /* variable names, NUL-separated */
    tmpl_seg *segs;
    size_t nsegs;
} tmpl;

struct html_tmpls {
    tmpl *t;
    size_t n;
};

html_tmpls *html_tmpls_new(void)
{
    return calloc(1, sizeof(html_tmpls));
}

static void tmpl_clear(tmpl *t)
{
    free(t->src);
    free(t->names);
    free(t->segs);
    memset(t, 0, sizeof(*t));
}

void html_tmpls_free(html_tmpls *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        tmpl_clear(&t->t[i]);
    free(t->t);
    free(t);
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int tmpl_parse(tmpl *t, const char *name, const char *text, size_t len)
{
    size_t cap = 8, i = 0, lit = 0, noff = 0;
    int error = 0;

    memset(t, 0, sizeof(*t));
    if (strlen(name) >= TMPL_NAME_MAX)
        return gp_error_setf(GP_EINVALID, "template name too long: %s", name);
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->src = malloc(len + 1);
    t->names = malloc(len + 1);
    t->segs = malloc(cap * sizeof(tmpl_seg));
    if (!t->src || !t->names || !t->segs) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    memcpy(t->src, text, len);
    t->src[len] = '\0';

    while (i <= len) {
        bool at_end = i == len;
        bool open = !at_end && i + 1 < len && t->src[i] == '{' && t->src[i + 1] == '{';
        if (!at_end && !open) {
            i++;
            continue;
        }
        if (t->nsegs + 2 > cap) {
            tmpl_seg *n = realloc(t->segs, (cap *= 2) * sizeof(tmpl_seg));
            if (!n) {
                error = gp_error_setf(GP_ERROR, "out of memory");
                goto done;
            }
            t->segs = n;
        }
        if (i > lit)
            t->segs[t->nsegs++] = (tmpl_seg){t->src + lit, i - lit, 0};
        if (at_end)
            break;
        /* {{name}} or {{{name}}} */
        int braces = (i + 2 < len && t->src[i + 2] == '{') ? 3 : 2;
        size_t j = i + (size_t)braces, start;
        while (j < len && t->src[j] == ' ')
            j++;
        start = j;
        while (j < len && name_char(t->src[j]))
            j++;
        size_t nlen = j - start;
        while (j < len && t->src[j] == ' ')
            j++;
        if (nlen == 0 || j + (size_t)braces > len || strncmp(t->src + j, "}}}", (size_t)braces) != 0) {
            size_t line = 1;
            for (size_t k = 0; k < i; k++)
                line += t->src[k] == '\n';
            error = gp_error_setf(GP_EINVALID, "template %s line %zu: expected {{name}} or {{{name}}}",
                                  name, line);
            goto done;
        }
        memcpy(t->names + noff, t->src + start, nlen);
        t->names[noff + nlen] = '\0';
        t->segs[t->nsegs++] = (tmpl_seg){(const char *)(uintptr_t)noff, nlen, braces};
        noff += nlen + 1;
        i = lit = j + (size_t)braces;
    }
    /* names was filled by offset; turn offsets into pointers now that it no longer moves */
    for (size_t k = 0; k < t->nsegs; k++)
        if (t->segs[k].kind)
            t->segs[k].text = t->names + (uintptr_t)t->segs[k].text;

done:
    if (error < 0)
        tmpl_clear(t);
    return error;
}

int html_tmpls_add(html_tmpls *t, const char *name, const char *text, size_t len)
{
    tmpl parsed;
    int error;
    if (len > TMPL_MAX_BYTES)
        return gp_error_setf(GP_ETOOBIG, "template %s is over %d bytes", name, TMPL_MAX_BYTES);
    if ((error = tmpl_parse(&parsed, name, text, len)) < 0)
        return error;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->t[i].name, name) == 0) {
            tmpl_clear(&t->t[i]);
            t->t[i] = parsed;
            return 0;
        }
    }
    tmpl *n = realloc(t->t, (t->n + 1) * sizeof(tmpl));
    if (!n) {
        tmpl_clear(&parsed);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    t->t = n;
    t->t[t->n++] = parsed;
    return 0;
}

int html_tmpls_load(html_tmpls **out, const char *dir)
{
    html_tmpls *t = NULL;
    DIR *d = NULL;
    struct dirent *e;
    char *text = NULL;
    size_t len;
    int error = 0;

    *out = NULL;
    if (!(t = html_tmpls_new())) {
        error = gp_error_setf(GP_ERROR, "out of memory");
        goto done;
    }
    if (!(d = opendir(dir))) {
        error = gp_error_setf(GP_ENOTFOUND, "cannot open the templates directory %s", dir);
        goto done;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char path[4096], name[TMPL_NAME_MAX];
        if (n <= 5 || n - 5 >= sizeof(name) || strcmp(e->d_name + n - 5, ".html") != 0 ||
            e->d_name[0] == '.')
            continue;
        memcpy(name, e->d_name, n - 5);
        name[n - 5] = '\0';
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
            continue;
        if ((error = gp_read_file(&text, &len, path, TMPL_MAX_BYTES)) < 0)
            goto done;
        if ((error = html_tmpls_add(t, name, text, len)) < 0)
            goto done;
        free(text);
        text = NULL;
    }
    *out = t;
    t = NULL;
done:
    if (d)
        closedir(d);
    free(text);
    html_tmpls_free(t);
    return error;
}

int html_render(const html_tmpls *t, const char *name, const html_vars *vars, gp_buf *out)
{
    const tmpl *tp = NULL;
    int error = 0;

    for (size_t i = 0; t && i < t->n; i++)
        if (strcmp(t->t[i].name, name) == 0)
            tp = &t->t[i];
    if (!tp)
        return gp_error_setf(GP_ENOTFOUND, "no template named %s", name);
    for (size_t i = 0; i < tp->nsegs && error == 0; i++) {
        const tmpl_seg *sg = &tp->segs[i];
        if (sg->kind == 0) {
            error = gp_buf_add(out, sg->text, sg->len);
            continue;
        }
        const char *value = NULL;
        bool html = false;
        for (size_t k = 0; vars && k < vars->n; k++) {
            if (strcmp(vars->v[k].name, sg->text) == 0) {
                value = vars->v[k].value;
                html = vars->v[k].html;
                break;
            }
        }
        if (!value)
            return gp_error_setf(GP_EINVALID, "template %s uses {{%s}}, which was not set", name, sg->text);
        if (sg->kind == 3 && html)
            error = gp_buf_puts(out, value);
        else
            error = html_escape_str(out, value);
    }
    return error;
}
