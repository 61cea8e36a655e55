/*
 * canonical.c - strict JSON parsing into a read-only tree, and Python-compatible emitters.
 *
 * The parser is a single recursive-descent pass (depth bounded by GP_JSON_MAX_DEPTH) over the
 * input bytes. Every node, string and number text lives in one arena owned by the root, so a
 * parsed document costs a handful of mallocs and is freed at once. Container elements are
 * collected on a shared scratch stack and copied into the arena, contiguous, when the container
 * closes; object members are sorted there (UTF-8 byte order = Unicode code point order, the order
 * of Python's sort_keys) and repeated keys are found as equal neighbours, so a document of n
 * members costs O(n log n), never O(n^2).
 *
 * The emitters reproduce Python 3's json.dumps(obj, sort_keys=True, ...) with ensure_ascii:
 * strings escaped as Python's encoder does, integers as their exact digit strings, floats as
 * repr(float) (shortest round-trip digits, David Gay's "mode 0", computed here with a
 * correctly rounding printf and strtod). Each dump runs twice over the tree: once to measure the
 * exact output size, once to write it into a single allocation.
 *
 * Numbers are read and formatted in the "C" locale whatever the process locale is.
 */
#include "canonical.h"
#include "buf.h"
#include "error.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GP_JSON_MAX_DEPTH 512
#define GP_JSON_MAX_INT_DIGITS 4300 /* Python 3.11's int/str conversion limit */

typedef struct gp_member gp_member;

/* A node. Strings: s/len. Numbers: text/len (canonical spelling), d (REAL only). Containers:
 * items or members, len = count. */
struct gp_json {
    unsigned char type;
    unsigned char is_root;
    size_t len;
    union {
        const char *s;
        struct {
            const char *text;
            double d;
        } num;
        gp_json *items;
        gp_member *members;
    } u;
};

struct gp_member {
    const char *key;
    size_t klen;
    gp_json val;
};


/* ---- arena ---------------------------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} chunk;

typedef struct gp_doc {
    gp_json root; /* first: a root gp_json * is the gp_doc * */
    chunk *arena;
} gp_doc;

static void *arena_alloc(gp_doc *doc, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    chunk *c = doc->arena;
    if (!c || c->cap - c->used < size) {
        size_t cap = c ? c->cap * 2 : 4096;
        if (cap > ((size_t)16 << 20)) cap = (size_t)16 << 20;
        if (cap < size) cap = size;
        chunk *n = malloc(sizeof(chunk) + cap);
        if (!n) return NULL;
        n->cap = cap;
        n->used = 0;
        /* A chunk much smaller than the current one goes behind it, so the current keeps
         * serving small allocations. */
        if (c && c->cap - c->used > cap / 2 && size > 4096) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            doc->arena = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

static gp_doc *doc_new(void)
{
    gp_doc *doc = calloc(1, sizeof(*doc));
    if (doc) doc->root.is_root = 1;
    return doc;
}

void gp_json_free(gp_json *v)
{
    if (!v || !v->is_root) return;
    gp_doc *doc = (gp_doc *)v;
    chunk *c = doc->arena;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

/* ---- numbers -------------------------------------------------------------------------------- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static double strtod_c(const char *s, char **end)
{
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale) return strtod_l(s, end, c_locale);
    return strtod(s, end);
}

/* Does the decimal digits[0..n) x 10^exp10 (scientific: d.ddd) read back as a? */
static bool roundtrips(double a, const char *digits, int n, int exp10)
{
    char buf[48];
    int k = 0;
    buf[k++] = digits[0];
    if (n > 1) {
        buf[k++] = '.';
        memcpy(buf + k, digits + 1, (size_t)n - 1);
        k += n - 1;
    }
    snprintf(buf + k, sizeof(buf) - (size_t)k, "e%d", exp10);
    return strtod_c(buf, NULL) == a;
}

/*
 * The shortest p-digit decimal that reads back as a (> 0, finite), if one has p digits. The
 * correctly rounded p-digit value is the nearest one; when it misses the rounding interval (which
 * is lopsided at powers of two) only its neighbour on the other side of a can hit it.
 */
static bool digits_at(double a, int p, char out[20], int *exp10)
{
    char buf[48], dig[20];
    int n = 0, e;
    snprintf(buf, sizeof(buf), "%.*e", p - 1, a);
    const char *s = buf;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && n < 19) dig[n++] = *s;
    if (*s != 'e' || n != p) return false;
    e = (int)strtol(s + 1, NULL, 10);
    if (roundtrips(a, dig, n, e)) goto found;

    char up[20], down[20];
    int eu = e, ed = e;
    memcpy(up, dig, (size_t)n);
    memcpy(down, dig, (size_t)n);
    int i = n - 1;
    while (i >= 0 && up[i] == '9') up[i--] = '0';
    if (i >= 0) {
        up[i]++;
    } else {
        up[0] = '1';
        eu++;
    }
    i = n - 1;
    while (i >= 0 && down[i] == '0') down[i--] = '9';
    if (i < 0) return false; /* dig[0] is never '0' */
    down[i]--;
    if (down[0] == '0') {
        memset(down, '9', (size_t)n);
        ed--;
    }
    if (roundtrips(a, up, n, eu)) {
        memcpy(dig, up, (size_t)n);
        e = eu;
        goto found;
    }
    if (roundtrips(a, down, n, ed)) {
        memcpy(dig, down, (size_t)n);
        e = ed;
        goto found;
    }
    return false;
found:
    memcpy(out, dig, (size_t)n);
    *exp10 = e;
    return true;
}

/*
 * Writes the decimal dig[0..n) x 10^e (scientific exponent: d.ddd) as repr(float) lays it out:
 * positional for -4 <= e < 16, always with a digit after the point, else d.ddde[+-]XX.
 */
static void layout(char *o, const char *dig, int n, int e)
{
    while (n > 1 && dig[n - 1] == '0') n--;

    if (e < -4 || e >= 16) {
        *o++ = dig[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)n - 1);
            o += n - 1;
        }
        int ae = e < 0 ? -e : e; /* at most 324 */
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        if (ae >= 100) *o++ = (char)('0' + ae / 100);
        *o++ = (char)('0' + ae / 10 % 10);
        *o++ = (char)('0' + ae % 10);
        *o = '\0';
        return;
    }
    if (e < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e - 1; i++) *o++ = '0';
        memcpy(o, dig, (size_t)n);
        o += n;
    } else {
        for (int i = 0; i <= e; i++) *o++ = i < n ? dig[i] : '0';
        *o++ = '.';
        if (n > e + 1) {
            memcpy(o, dig + e + 1, (size_t)(n - e - 1));
            o += n - e - 1;
        } else {
            *o++ = '0';
        }
    }
    *o = '\0';
}


int gp_json_format_double(char out[32], double d)
{
    if (!isfinite(d)) return gp_error_setf(GP_EINVALID, "NaN and Infinity are not JSON numbers");
    char *o = out;
    if (signbit(d)) *o++ = '-';
    if (d == 0) {
        strcpy(o, "0.0");
        return 0;
    }
    double a = fabs(d);
    char dig[20];
    int n, e = 0;
    /*
     * Some p-digit decimal reads back as a iff p >= the shortest length. For a normal double,
     * every decimal of at most 15 digits survives decimal -> double -> 15 digits (DBL_DIG), so
     * when the 15-digit rounding round-trips it is the shortest once its trailing zeros go, and
     * otherwise the answer is 16 or 17. Subnormals have fewer bits: binary search.
     */
    bool ok;
    if (a >= DBL_MIN) {
        if ((ok = digits_at(a, 15, dig, &e))) n = 15;
        else if ((ok = digits_at(a, 16, dig, &e))) n = 16;
        else ok = digits_at(a, n = 17, dig, &e);
    } else {
        int lo = 1, hi = 17;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (digits_at(a, mid, dig, &e)) hi = mid;
            else lo = mid + 1;
        }
        ok = digits_at(a, n = lo, dig, &e);
    }
    if (!ok) { /* cannot happen with a correctly rounding libc */
        snprintf(out, 32, "%.17g", d);
        return 0;
    }
    layout(o, dig, n, e);
    return 0;
}

/* ---- parser --------------------------------------------------------------------------------- */

typedef struct {
    gp_member m;
    size_t off; /* byte offset of the key, for messages */
} slot;

typedef struct {
    const unsigned char *buf, *p, *end;
    gp_doc *doc;
    slot *st; /* scratch stack of container elements */
    size_t nst, capst;
    char *tmp; /* scratch for number tokens */
    size_t tmpcap;
    int depth;
} parser;

static int perr(const parser *P, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(const parser *P, const unsigned char *at, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gp_error_setf(GP_EINVALID, "invalid JSON at byte %zu: %s", (size_t)(at - P->buf), msg);
}

static int oom(void)
{
    return gp_error_setf(GP_ERROR, "out of memory");
}

static void skip_ws(parser *P)
{
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\n' || *P->p == '\r' || *P->p == '\t')) P->p++;
}

/* A printable one-line excerpt of a key for messages. */
static void excerpt(char *out, size_t outlen, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, outlen - o, "\\x%02x", c);
            o += 4;
        }
        if (i + 1 < len && o + 8 >= outlen) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
    }
    out[o] = '\0';
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Length of the valid UTF-8 sequence starting at p (a byte >= 0x80), or 0 when it is invalid:
 * overlong, a surrogate, above U+10FFFF or truncated.
 */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c == 0xe0) n = 3, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xec) n = 3;
    else if (c == 0xed) n = 3, hi = 0x9f;
    else if (c >= 0xee && c <= 0xef) n = 3;
    else if (c == 0xf0) n = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) n = 4;
    else if (c == 0xf4) n = 4, hi = 0x8f;
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return n;
}

/* Parses a string at P->p (the opening quote) into the arena. */
static int parse_string(parser *P, const char **out, size_t *outlen)
{
    const unsigned char *start = P->p + 1, *q = start;
    /* Find the closing quote (escapes skip one byte) to size the decoded copy. */
    for (;;) {
        const unsigned char *hit = memchr(q, '"', (size_t)(P->end - q));
        if (!hit) return perr(P, P->p, "unterminated string");
        size_t bs = 0;
        for (const unsigned char *b = hit; b > start && b[-1] == '\\'; b--) bs++;
        q = hit + 1;
        if (bs % 2 == 0) break;
    }
    const unsigned char *close = q - 1;
    char *dst = arena_alloc(P->doc, (size_t)(close - start) + 1);
    if (!dst) return oom();
    size_t o = 0;
    const unsigned char *s = start;
    while (s < close) {
        unsigned c = *s;
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            dst[o++] = (char)c;
            s++;
        } else if (c < 0x20) {
            return perr(P, s, "control character 0x%02x in a string must be escaped", c);
        } else if (c >= 0x80) {
            size_t n = utf8_seq(s, close);
            if (!n) return perr(P, s, "invalid UTF-8");
            memcpy(dst + o, s, n);
            o += n;
            s += n;
        } else { /* backslash */
            if (s + 1 >= close) return perr(P, s, "unterminated escape");
            unsigned e = s[1];
            switch (e) {
            case '"': dst[o++] = '"'; s += 2; break;
            case '\\': dst[o++] = '\\'; s += 2; break;
            case '/': dst[o++] = '/'; s += 2; break;
            case 'b': dst[o++] = '\b'; s += 2; break;
            case 'f': dst[o++] = '\f'; s += 2; break;
            case 'n': dst[o++] = '\n'; s += 2; break;
            case 'r': dst[o++] = '\r'; s += 2; break;
            case 't': dst[o++] = '\t'; s += 2; break;
            case 'u': {
                unsigned cp, lo;
                if (close - s < 6 || hex4(s + 2, &cp) < 0) return perr(P, s, "invalid \\u escape");
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return perr(P, s, "lone surrogate \\u%04x (a low surrogate without a high one)", cp);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (close - s < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &lo) < 0 ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return perr(P, s, "lone surrogate \\u%04x (a high surrogate without a low one)", cp);
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 12;
                } else {
                    s += 6;
                }
                o += put_utf8(dst + o, cp);
                break;
            }
            default:
                return perr(P, s, "invalid escape \\%c", e >= 0x20 && e < 0x7f ? (char)e : '?');
            }
        }
    }
    dst[o] = '\0';
    *out = dst;
    *outlen = o;
    P->p = close + 1;
    return 0;
}

/*
 * repr(float) straight from the token when it has at most 15 significant digits and reads as a
 * normal double: such a decimal is the only one of <= 15 digits that reads as d (DBL_DIG), so
 * without its zeros it is the shortest. Saves the printf/strtod search for 0.0002 or 1e-05.
 */
static bool short_repr(char out[32], double d, const unsigned char *tok, size_t len)
{
    if (!(fabs(d) >= DBL_MIN)) return false;
    char dig[16];
    int n = 0;
    long intlen = 0, first = -1, pos = 0, exp = 0;
    size_t i = 0;
    bool in_frac = false;
    if (tok[0] == '-') i++;
    for (; i < len && tok[i] != 'e' && tok[i] != 'E'; i++) {
        if (tok[i] == '.') {
            in_frac = true;
            continue;
        }
        if (!in_frac) intlen++;
        if (tok[i] != '0' || first >= 0) {
            if (first < 0) first = pos;
            if (n == 16) return false; /* may still be <= 15 after trailing zeros; stay safe */
            dig[n++] = (char)tok[i];
        }
        pos++;
    }
    if (first < 0) return false;
    while (n > 0 && dig[n - 1] == '0') n--;
    if (n > 15) return false;
    if (i < len) { /* exponent, saturated: d is normal, so a huge one cannot get here */
        bool eneg = false;
        i++;
        if (tok[i] == '+' || tok[i] == '-') eneg = tok[i++] == '-';
        for (; i < len; i++)
            if (exp < 100000) exp = exp * 10 + (tok[i] - '0');
        if (eneg) exp = -exp;
    }
    long e = intlen - 1 - first + exp;
    if (e < -400 || e > 400) return false;
    char *o = out;
    if (d < 0) *o++ = '-';
    layout(o, dig, n, (int)e);
    return true;
}

static int parse_number(parser *P, gp_json *v)
{
    const unsigned char *start = P->p, *s = P->p, *end = P->end;
    bool neg = false, is_int = true;
    if (s < end && *s == '-') {
        neg = true;
        s++;
    }
    if (s < end && *s == 'I') return perr(P, start, "NaN and Infinity are not JSON numbers");
    if (s >= end || *s < '0' || *s > '9') return perr(P, start, "invalid number");
    const unsigned char *digits = s;
    if (*s == '0') {
        s++;
        if (s < end && *s >= '0' && *s <= '9') return perr(P, start, "leading zeros are not allowed in numbers");
    } else {
        while (s < end && *s >= '0' && *s <= '9') s++;
    }
    size_t ndigits = (size_t)(s - digits);
    if (s < end && *s == '.') {
        is_int = false;
        s++;
        if (s >= end || *s < '0' || *s > '9') return perr(P, start, "invalid number: digits must follow '.'");
        while (s < end && *s >= '0' && *s <= '9') s++;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        is_int = false;
        s++;
        if (s < end && (*s == '+' || *s == '-')) s++;
        if (s >= end || *s < '0' || *s > '9') return perr(P, start, "invalid number: digits must follow the exponent");
        while (s < end && *s >= '0' && *s <= '9') s++;
    }
    size_t toklen = (size_t)(s - start);
    if (is_int) {
        if (ndigits > GP_JSON_MAX_INT_DIGITS)
            return perr(P, start, "integer of %zu digits is longer than the limit of %d", ndigits,
                        GP_JSON_MAX_INT_DIGITS);
        bool zero = ndigits == 1 && digits[0] == '0';
        size_t n = zero ? 1 : toklen;
        char *t = arena_alloc(P->doc, n + 1);
        if (!t) return oom();
        memcpy(t, zero ? "0" : (const char *)start, n);
        t[n] = '\0';
        v->type = GP_JSON_INT;
        v->u.num.text = t;
        v->u.num.d = 0;
        v->len = n;
        (void)neg;
    } else {
        if (toklen + 1 > P->tmpcap) {
            size_t cap = toklen + 64;
            char *t = realloc(P->tmp, cap);
            if (!t) return oom();
            P->tmp = t;
            P->tmpcap = cap;
        }
        memcpy(P->tmp, start, toklen);
        P->tmp[toklen] = '\0';
        double d = strtod_c(P->tmp, NULL);
        if (!isfinite(d)) return perr(P, start, "number out of the range of a double");
        char repr[32];
        if (!short_repr(repr, d, start, toklen)) gp_json_format_double(repr, d);
        size_t n = strlen(repr);
        char *t = arena_alloc(P->doc, n + 1);
        if (!t) return oom();
        memcpy(t, repr, n + 1);
        v->type = GP_JSON_REAL;
        v->u.num.text = t;
        v->u.num.d = d;
        v->len = n;
    }
    P->p = s;
    return 0;
}

static int push_slot(parser *P)
{
    if (P->nst == P->capst) {
        size_t cap = P->capst ? P->capst * 2 : 64;
        slot *n = realloc(P->st, cap * sizeof(*n));
        if (!n) return oom();
        P->st = n;
        P->capst = cap;
    }
    P->nst++;
    return 0;
}

static int member_cmp(const void *a, const void *b)
{
    const gp_member *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

static int parse_value(parser *P, gp_json *v);

static int parse_array(parser *P, gp_json *v)
{
    int error;
    size_t base = P->nst;
    const unsigned char *open = P->p;
    P->p++;
    skip_ws(P);
    if (P->p < P->end && *P->p == ']') {
        P->p++;
    } else {
        for (;;) {
            if ((error = push_slot(P)) < 0) return error;
            gp_json el = {0};
            if ((error = parse_value(P, &el)) < 0) return error;
            P->st[P->nst - 1].m.val = el;
            skip_ws(P);
            if (P->p >= P->end) return perr(P, open, "unterminated array");
            if (*P->p == ',') {
                P->p++;
                skip_ws(P);
                continue;
            }
            if (*P->p == ']') {
                P->p++;
                break;
            }
            return perr(P, P->p, "expected ',' or ']' in an array");
        }
    }
    size_t n = P->nst - base;
    v->type = GP_JSON_ARRAY;
    v->len = n;
    v->u.items = NULL;
    if (n) {
        gp_json *items = arena_alloc(P->doc, n * sizeof(gp_json));
        if (!items) return oom();
        for (size_t i = 0; i < n; i++) items[i] = P->st[base + i].m.val;
        v->u.items = items;
    }
    P->nst = base;
    return 0;
}

static int slot_cmp(const void *a, const void *b)
{
    return member_cmp(&((const slot *)a)->m, &((const slot *)b)->m);
}

static int parse_object(parser *P, gp_json *v)
{
    int error;
    size_t base = P->nst;
    const unsigned char *open = P->p;
    P->p++;
    skip_ws(P);
    if (P->p < P->end && *P->p == '}') {
        P->p++;
    } else {
        for (;;) {
            if (P->p >= P->end) return perr(P, open, "unterminated object");
            if (*P->p != '"') return perr(P, P->p, "expected a string key in an object");
            if ((error = push_slot(P)) < 0) return error;
            slot sl = {.off = (size_t)(P->p - P->buf)};
            if ((error = parse_string(P, &sl.m.key, &sl.m.klen)) < 0) return error;
            skip_ws(P);
            if (P->p >= P->end || *P->p != ':') return perr(P, P->p, "expected ':' after an object key");
            P->p++;
            skip_ws(P);
            if ((error = parse_value(P, &sl.m.val)) < 0) return error;
            P->st[P->nst - 1] = sl;
            skip_ws(P);
            if (P->p >= P->end) return perr(P, open, "unterminated object");
            if (*P->p == ',') {
                P->p++;
                skip_ws(P);
                continue;
            }
            if (*P->p == '}') {
                P->p++;
                break;
            }
            return perr(P, P->p, "expected ',' or '}' in an object");
        }
    }
    size_t n = P->nst - base;
    v->type = GP_JSON_OBJECT;
    v->len = n;
    v->u.members = NULL;
    if (n) {
        slot *sl = P->st + base;
        if (n > 1) qsort(sl, n, sizeof(*sl), slot_cmp);
        for (size_t i = 1; i < n; i++) {
            if (member_cmp(&sl[i - 1].m, &sl[i].m) == 0) {
                char ex[64];
                excerpt(ex, sizeof(ex), sl[i].m.key, sl[i].m.klen);
                size_t off = sl[i].off > sl[i - 1].off ? sl[i].off : sl[i - 1].off;
                return perr(P, P->buf + off, "repeated key \"%s\" in one object", ex);
            }
        }
        gp_member *m = arena_alloc(P->doc, n * sizeof(gp_member));
        if (!m) return oom();
        for (size_t i = 0; i < n; i++) m[i] = sl[i].m;
        v->u.members = m;
    }
    P->nst = base;
    return 0;
}

static int parse_literal(parser *P, const char *word, gp_json_type t, gp_json *v)
{
    size_t n = strlen(word);
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, word, n) != 0) return perr(P, P->p, "invalid literal");
    P->p += n;
    v->type = (unsigned char)t;
    return 0;
}

static int parse_value(parser *P, gp_json *v)
{
    int error;
    if (P->p >= P->end) return perr(P, P->p, "unexpected end of input, expected a value");
    switch (*P->p) {
    case '{':
    case '[':
        if (++P->depth > GP_JSON_MAX_DEPTH)
            return perr(P, P->p, "nesting deeper than %d levels", GP_JSON_MAX_DEPTH);
        error = *P->p == '{' ? parse_object(P, v) : parse_array(P, v);
        P->depth--;
        return error;
    case '"': {
        const char *s;
        size_t len;
        if ((error = parse_string(P, &s, &len)) < 0) return error;
        v->type = GP_JSON_STRING;
        v->u.s = s;
        v->len = len;
        return 0;
    }
    case 't': return parse_literal(P, "true", GP_JSON_TRUE, v);
    case 'f': return parse_literal(P, "false", GP_JSON_FALSE, v);
    case 'n': return parse_literal(P, "null", GP_JSON_NULL, v);
    case 'N': return perr(P, P->p, "NaN and Infinity are not JSON numbers");
    case 'I': return perr(P, P->p, "NaN and Infinity are not JSON numbers");
    default:
        if (*P->p == '-' || (*P->p >= '0' && *P->p <= '9')) return parse_number(P, v);
        if (*P->p >= 0x20 && *P->p < 0x7f) return perr(P, P->p, "unexpected character '%c'", *P->p);
        return perr(P, P->p, "unexpected byte 0x%02x", *P->p);
    }
}

int gp_json_parse(gp_json **out, const char *buf, size_t len)
{
    int error;
    parser P = {.buf = (const unsigned char *)buf, .p = (const unsigned char *)buf,
                .end = (const unsigned char *)buf + len};
    *out = NULL;
    if (!buf) len = 0, P.buf = P.p = P.end = (const unsigned char *)"";
    if (!(P.doc = doc_new())) return oom();
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        error = perr(&P, P.p, "a byte order mark (BOM) is not allowed");
        goto done;
    }
    skip_ws(&P);
    if (P.p >= P.end) {
        error = perr(&P, P.p, "empty document");
        goto done;
    }
    gp_json root = {0};
    if ((error = parse_value(&P, &root)) < 0) goto done;
    skip_ws(&P);
    if (P.p < P.end) {
        error = perr(&P, P.p, "unexpected data after the JSON value");
        goto done;
    }
    root.is_root = 1;
    P.doc->root = root;
    *out = &P.doc->root;
    P.doc = NULL;
    error = 0;
done:
    if (P.doc) gp_json_free(&P.doc->root);
    free(P.st);
    free(P.tmp);
    return error;
}

/* ---- accessors ------------------------------------------------------------------------------ */

gp_json_type gp_json_typeof(const gp_json *v)
{
    return v ? (gp_json_type)v->type : GP_JSON_NULL;
}

bool gp_json_is_number(const gp_json *v)
{
    return v && (v->type == GP_JSON_INT || v->type == GP_JSON_REAL);
}

const gp_json *gp_json_get(const gp_json *obj, const char *key)
{
    if (!obj || obj->type != GP_JSON_OBJECT || !key) return NULL;
    gp_member k = {.key = key, .klen = strlen(key)};
    size_t lo = 0, hi = obj->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = member_cmp(&k, &obj->u.members[mid]);
        if (c == 0) return &obj->u.members[mid].val;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

size_t gp_json_size(const gp_json *v)
{
    return v && (v->type == GP_JSON_ARRAY || v->type == GP_JSON_OBJECT) ? v->len : 0;
}

const gp_json *gp_json_at(const gp_json *v, size_t i)
{
    if (!v || i >= gp_json_size(v)) return NULL;
    return v->type == GP_JSON_ARRAY ? &v->u.items[i] : &v->u.members[i].val;
}

const char *gp_json_key_at(const gp_json *obj, size_t i)
{
    if (!obj || obj->type != GP_JSON_OBJECT || i >= obj->len) return NULL;
    return obj->u.members[i].key;
}

const char *gp_json_string(const gp_json *v, size_t *len)
{
    if (!v || v->type != GP_JSON_STRING) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = v->len;
    return v->u.s;
}

int gp_json_int64(const gp_json *v, int64_t *out)
{
    if (!v || v->type != GP_JSON_INT) return gp_error_setf(GP_EINVALID, "not an integer");
    const char *s = v->u.num.text;
    bool neg = *s == '-';
    if (neg) s++;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, acc = 0;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (acc > (limit - d) / 10) return gp_error_setf(GP_ETOOBIG, "integer %s does not fit in 64 bits", v->u.num.text);
        acc = acc * 10 + d;
    }
    *out = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    return 0;
}

double gp_json_double(const gp_json *v)
{
    if (!v) return 0.0;
    if (v->type == GP_JSON_REAL) return v->u.num.d;
    if (v->type == GP_JSON_INT) return strtod_c(v->u.num.text, NULL);
    return 0.0;
}

const char *gp_json_number_text(const gp_json *v)
{
    return gp_json_is_number(v) ? v->u.num.text : NULL;
}

/* ---- emitters ------------------------------------------------------------------------------- */

typedef struct {
    char *p; /* NULL while measuring */
    size_t n;
} out_t;

static inline void put(out_t *o, const char *s, size_t n)
{
    if (o->p) memcpy(o->p + o->n, s, n);
    o->n += n;
}

static inline void putc1(out_t *o, char c)
{
    if (o->p) o->p[o->n] = c;
    o->n++;
}

static void put_u(out_t *o, unsigned u)
{
    static const char hex[] = "0123456789abcdef";
    char b[6] = {'\\', 'u', hex[u >> 12 & 15], hex[u >> 8 & 15], hex[u >> 4 & 15], hex[u & 15]};
    put(o, b, 6);
}

/* Python's ensure_ascii string encoder. s is valid UTF-8 (a tree invariant). */
static void put_string(out_t *o, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    putc1(o, '"');
    while (s < end) {
        const unsigned char *run = s;
        while (s < end && *s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') s++;
        if (s > run) put(o, (const char *)run, (size_t)(s - run));
        if (s >= end) break;
        unsigned c = *s;
        if (c < 0x80) {
            switch (c) {
            case '"': put(o, "\\\"", 2); break;
            case '\\': put(o, "\\\\", 2); break;
            case '\b': put(o, "\\b", 2); break;
            case '\f': put(o, "\\f", 2); break;
            case '\n': put(o, "\\n", 2); break;
            case '\r': put(o, "\\r", 2); break;
            case '\t': put(o, "\\t", 2); break;
            default: put_u(o, c); break;
            }
            s++;
            continue;
        }
        unsigned cp;
        if (c < 0xe0) {
            cp = (c & 0x1f) << 6 | (s[1] & 0x3f);
            s += 2;
        } else if (c < 0xf0) {
            cp = (c & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
            s += 3;
        } else {
            cp = (c & 0x07) << 18 | (unsigned)(s[1] & 0x3f) << 12 | (unsigned)(s[2] & 0x3f) << 6 |
                 (s[3] & 0x3f);
            s += 4;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_u(o, 0xd800 | cp >> 10);
            put_u(o, 0xdc00 | (cp & 0x3ff));
        } else {
            put_u(o, cp);
        }
    }
    putc1(o, '"');
}

static int utf8_check(const char *str, size_t len);

int gp_json_escape_string(gp_buf *out, const char *s, size_t len)
{
    int error;
    if ((error = utf8_check(s, len)) < 0) return error;
    out_t o = {NULL, 0};
    put_string(&o, s, len); /* measure */
    if (!(o.p = malloc(o.n))) return oom();
    o.n = 0;
    put_string(&o, s, len);
    error = gp_buf_add(out, o.p, o.n);
    free(o.p);
    return error;
}

static void put_indent(out_t *o, int indent, int level)
{
    putc1(o, '\n');
    for (long i = 0; i < (long)indent * level; i++) putc1(o, ' ');
}

/* indent < 0: compact canonical form. */
static void emit(out_t *o, const gp_json *v, int indent, int level, const char *omit, size_t omitlen)
{
    switch (v->type) {
    case GP_JSON_NULL: put(o, "null", 4); break;
    case GP_JSON_TRUE: put(o, "true", 4); break;
    case GP_JSON_FALSE: put(o, "false", 5); break;
    case GP_JSON_INT:
    case GP_JSON_REAL: put(o, v->u.num.text, v->len); break;
    case GP_JSON_STRING: put_string(o, v->u.s, v->len); break;
    case GP_JSON_ARRAY:
        putc1(o, '[');
        for (size_t i = 0; i < v->len; i++) {
            if (i) putc1(o, ',');
            if (indent >= 0) put_indent(o, indent, level + 1);
            emit(o, &v->u.items[i], indent, level + 1, NULL, 0);
        }
        if (indent >= 0 && v->len) put_indent(o, indent, level);
        putc1(o, ']');
        break;
    case GP_JSON_OBJECT: {
        putc1(o, '{');
        bool first = true;
        for (size_t i = 0; i < v->len; i++) {
            const gp_member *m = &v->u.members[i];
            if (omit && m->klen == omitlen && memcmp(m->key, omit, omitlen) == 0) continue;
            if (!first) putc1(o, ',');
            first = false;
            if (indent >= 0) put_indent(o, indent, level + 1);
            put_string(o, m->key, m->klen);
            if (indent >= 0) put(o, ": ", 2);
            else putc1(o, ':');
            emit(o, &m->val, indent, level + 1, NULL, 0);
        }
        if (indent >= 0 && !first) put_indent(o, indent, level);
        putc1(o, '}');
        break;
    }
    }
}

static int dump(char **out, size_t *len, const gp_json *v, int indent, const char *omit_key)
{
    *out = NULL;
    if (len) *len = 0;
    if (!v) return gp_error_setf(GP_EINVALID, "no JSON value to dump");
    size_t omitlen = omit_key ? strlen(omit_key) : 0;
    out_t o = {NULL, 0};
    emit(&o, v, indent, 0, omit_key, omitlen);
    size_t n = o.n;
    if (!(o.p = malloc(n + 1))) return oom();
    o.n = 0;
    emit(&o, v, indent, 0, omit_key, omitlen);
    o.p[n] = '\0';
    *out = o.p;
    if (len) *len = n;
    return 0;
}

int gp_json_canonical(char **out, size_t *len, const gp_json *v, const char *omit_key)
{
    return dump(out, len, v, -1, omit_key);
}

int gp_json_dump_indent(char **out, size_t *len, const gp_json *v, int indent)
{
    if (indent < 0) indent = 0; /* Python: ' ' * negative == '' */
    if (indent > 1024) return gp_error_setf(GP_EINVALID, "indent %d is too large", indent);
    return dump(out, len, v, indent, NULL);
}

/* ---- jansson -------------------------------------------------------------------------------- */

json_t *gp_json_to_jansson(const gp_json *v)
{
    if (!v) return NULL;
    switch (v->type) {
    case GP_JSON_NULL: return json_null();
    case GP_JSON_TRUE: return json_true();
    case GP_JSON_FALSE: return json_false();
    case GP_JSON_INT: {
        int64_t i;
        if (gp_json_int64(v, &i) == 0) return json_integer((json_int_t)i);
        double d = gp_json_double(v);
        return isfinite(d) ? json_real(d) : NULL;
    }
    case GP_JSON_REAL: return json_real(v->u.num.d);
    case GP_JSON_STRING: return json_stringn(v->u.s, v->len);
    case GP_JSON_ARRAY: {
        json_t *a = json_array();
        if (!a) return NULL;
        for (size_t i = 0; i < v->len; i++) {
            json_t *el = gp_json_to_jansson(&v->u.items[i]);
            if (!el || json_array_append_new(a, el) < 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case GP_JSON_OBJECT: {
        json_t *obj = json_object();
        if (!obj) return NULL;
        for (size_t i = 0; i < v->len; i++) {
            const gp_member *m = &v->u.members[i];
            json_t *el = gp_json_to_jansson(&m->val);
            if (!el || json_object_setn_new(obj, m->key, m->klen, el) < 0) {
                json_decref(obj);
                return NULL;
            }
        }
        return obj;
    }
    }
    return NULL;
}

static int utf8_check(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        if (*s < 0x80) {
            s++;
            continue;
        }
        size_t n = utf8_seq(s, end);
        if (!n) return gp_error_setf(GP_EINVALID, "invalid UTF-8 in a JSON string");
        s += n;
    }
    return 0;
}

static int copy_str(gp_doc *doc, const char *s, size_t len, const char **out)
{
    int error;
    if ((error = utf8_check(s, len)) < 0) return error;
    char *d = arena_alloc(doc, len + 1);
    if (!d) return oom();
    memcpy(d, s, len);
    d[len] = '\0';
    *out = d;
    return 0;
}

static int from_j(gp_doc *doc, gp_json *v, const json_t *j, int depth)
{
    int error;
    memset(v, 0, sizeof(*v));
    switch (json_typeof(j)) {
    case JSON_NULL: v->type = GP_JSON_NULL; return 0;
    case JSON_TRUE: v->type = GP_JSON_TRUE; return 0;
    case JSON_FALSE: v->type = GP_JSON_FALSE; return 0;
    case JSON_INTEGER: {
        char b[32];
        int n = snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        char *t = arena_alloc(doc, (size_t)n + 1);
        if (!t) return oom();
        memcpy(t, b, (size_t)n + 1);
        v->type = GP_JSON_INT;
        v->u.num.text = t;
        v->len = (size_t)n;
        return 0;
    }
    case JSON_REAL: {
        char b[32];
        double d = json_real_value(j);
        if ((error = gp_json_format_double(b, d)) < 0) return error;
        size_t n = strlen(b);
        char *t = arena_alloc(doc, n + 1);
        if (!t) return oom();
        memcpy(t, b, n + 1);
        v->type = GP_JSON_REAL;
        v->u.num.text = t;
        v->u.num.d = d;
        v->len = n;
        return 0;
    }
    case JSON_STRING:
        v->type = GP_JSON_STRING;
        v->len = json_string_length(j);
        return copy_str(doc, json_string_value(j), v->len, &v->u.s);
    case JSON_ARRAY: {
        if (depth >= GP_JSON_MAX_DEPTH)
            return gp_error_setf(GP_EINVALID, "JSON nesting deeper than %d levels", GP_JSON_MAX_DEPTH);
        size_t n = json_array_size(j);
        v->type = GP_JSON_ARRAY;
        v->len = n;
        if (!n) return 0;
        if (!(v->u.items = arena_alloc(doc, n * sizeof(gp_json)))) return oom();
        for (size_t i = 0; i < n; i++)
            if ((error = from_j(doc, &v->u.items[i], json_array_get(j, i), depth + 1)) < 0) return error;
        return 0;
    }
    case JSON_OBJECT: {
        if (depth >= GP_JSON_MAX_DEPTH)
            return gp_error_setf(GP_EINVALID, "JSON nesting deeper than %d levels", GP_JSON_MAX_DEPTH);
        size_t n = json_object_size(j), i = 0;
        v->type = GP_JSON_OBJECT;
        v->len = n;
        if (!n) return 0;
        gp_member *m = arena_alloc(doc, n * sizeof(gp_member));
        if (!(v->u.members = m)) return oom();
        for (void *it = json_object_iter((json_t *)j); it && i < n;
             it = json_object_iter_next((json_t *)j, it), i++) {
            m[i].klen = json_object_iter_key_len(it);
            if ((error = copy_str(doc, json_object_iter_key(it), m[i].klen, &m[i].key)) < 0) return error;
            if ((error = from_j(doc, &m[i].val, json_object_iter_value(it), depth + 1)) < 0) return error;
        }
        v->len = i;
        qsort(m, i, sizeof(*m), member_cmp);
        return 0;
    }
    }
    return gp_error_setf(GP_EINVALID, "unknown jansson value type");
}

int gp_json_from_jansson(gp_json **out, const json_t *j)
{
    int error;
    *out = NULL;
    if (!j) return gp_error_setf(GP_EINVALID, "no JSON value to convert");
    gp_doc *doc = doc_new();
    if (!doc) return oom();
    gp_json root;
    if ((error = from_j(doc, &root, j, 0)) < 0) {
        gp_json_free(&doc->root);
        return error;
    }
    root.is_root = 1;
    doc->root = root;
    *out = &doc->root;
    return 0;
}
