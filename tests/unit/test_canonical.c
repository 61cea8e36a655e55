/*
 * test_canonical.c - the strict JSON parser and the Python-compatible emitters.
 *
 * The expected bytes in ../data/canonical/python_table.inc were printed by Python 3
 * (gen_table.py): every float class, integers past 2^64, escapes, key order across the BMP and
 * astral planes, indentation. The refusal table lists what the parser must refuse and a part of
 * the message it must give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "canonical.h"
#include "error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct canon_case {
    const char *in;
    size_t inlen;
    const char *out;
    size_t outlen;
};

struct indent_n_case {
    const char *in;
    size_t inlen;
    int indent;
    const char *out;
    size_t outlen;
};

#include "../data/canonical/python_table.inc"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check_bytes(const char *what, const char *got, size_t gotlen, const char *want, size_t wantlen)
{
    if (gotlen != wantlen || memcmp(got, want, wantlen) != 0) {
        print_error("%s:\n  got  %.*s\n  want %.*s\n", what, (int)(gotlen > 300 ? 300 : gotlen), got,
                    (int)(wantlen > 300 ? 300 : wantlen), want);
        fail();
    }
}

static void test_python_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(canon_cases); i++) {
        const struct canon_case *c = &canon_cases[i];
        gp_json *v = NULL, *w = NULL;
        char *out = NULL, *again = NULL;
        size_t len = 0, len2 = 0;
        if (gp_json_parse(&v, c->in, c->inlen) != 0) {
            print_error("case %zu %.*s refused: %s\n", i, (int)(c->inlen > 200 ? 200 : c->inlen), c->in,
                        gp_error_last());
            fail();
        }
        assert_int_equal(gp_json_canonical(&out, &len, v, NULL), 0);
        check_bytes(c->in, out, len, c->out, c->outlen);
        assert_int_equal(out[len], '\0');
        /* canonical bytes are a fixed point */
        assert_int_equal(gp_json_parse(&w, out, len), 0);
        assert_int_equal(gp_json_canonical(&again, &len2, w, NULL), 0);
        check_bytes("re-canonicalized", again, len2, c->out, c->outlen);
        free(out);
        free(again);
        gp_json_free(v);
        gp_json_free(w);
    }
}

static void test_indent_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(indent_cases); i++) {
        const struct canon_case *c = &indent_cases[i];
        gp_json *v = NULL;
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(gp_json_parse(&v, c->in, c->inlen), 0);
        assert_int_equal(gp_json_dump_indent(&out, &len, v, 2), 0);
        check_bytes(c->in, out, len, c->out, c->outlen);
        free(out);
        gp_json_free(v);
    }
    for (size_t i = 0; i < N(indent_n_cases); i++) {
        const struct indent_n_case *c = &indent_n_cases[i];
        gp_json *v = NULL;
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(gp_json_parse(&v, c->in, c->inlen), 0);
        assert_int_equal(gp_json_dump_indent(&out, &len, v, c->indent), 0);
        check_bytes(c->in, out, len, c->out, c->outlen);
        free(out);
        gp_json_free(v);
    }
}

struct refusal {
    const char *in;
    size_t len; /* 0: strlen */
    const char *msg; /* part of the message */
};

static const struct refusal refusals[] = {
    {"", 0, "empty document"},
    {"   \n\t ", 0, "empty document"},
    {"\xef\xbb\xbf{}", 0, "byte order mark"},
    {"\xff\xfe{\0}\0", 6, "unexpected byte"},
    {"{\0\"\0a\0\"\0:\0", 10, "byte 1:"},
    /* invalid UTF-8 */
    {"[\"\xc0\xaf\"]", 0, "invalid UTF-8"},           /* overlong '/' */
    {"[\"\xe0\x80\xaf\"]", 0, "invalid UTF-8"},       /* overlong, 3 bytes */
    {"[\"\xf0\x80\x80\xaf\"]", 0, "invalid UTF-8"},   /* overlong, 4 bytes */
    {"[\"\xed\xa0\x80\"]", 0, "invalid UTF-8"},       /* U+D800 encoded */
    {"[\"\xed\xbf\xbf\"]", 0, "invalid UTF-8"},       /* U+DFFF encoded */
    {"[\"\xf4\x90\x80\x80\"]", 0, "invalid UTF-8"},   /* U+110000 */
    {"[\"\xf5\x80\x80\x80\"]", 0, "invalid UTF-8"},
    {"[\"\xe2\x82\"]", 0, "invalid UTF-8"},           /* truncated */
    {"[\"\xe2\x82", 0, "unterminated string"},
    {"[\"\x80\"]", 0, "invalid UTF-8"},               /* lone continuation */
    {"[\"a\xfe\"]", 0, "byte 3: invalid UTF-8"},
    {"{\"\xc3\x28\":1}", 0, "invalid UTF-8"},
    /* surrogate escapes */
    {"[\"\\ud800\"]", 0, "lone surrogate"},
    {"[\"\\ud800x\"]", 0, "lone surrogate"},
    {"[\"\\udc00\"]", 0, "lone surrogate"},
    {"[\"\\udc00\\ud800\"]", 0, "lone surrogate"},
    {"[\"\\ud800\\ud800\"]", 0, "lone surrogate"},
    {"[\"\\ud83d\\u0041\"]", 0, "lone surrogate"},
    {"{\"\\udfff\":1}", 0, "lone surrogate"},
    /* strings */
    {"[\"a\nb\"]", 0, "control character 0x0a"},
    {"[\"\x01\"]", 0, "control character 0x01"},
    {"[\"\t\"]", 0, "control character 0x09"},
    {"[\"a\0\"]", 5, "control character 0x00"},
    {"[\"\\x41\"]", 0, "invalid escape"},
    {"[\"\\u12\"]", 0, "invalid \\u escape"},
    {"[\"\\u12g4\"]", 0, "invalid \\u escape"},
    {"[\"\\'\"]", 0, "invalid escape"},
    {"[\"abc]", 0, "unterminated string"},
    {"[\"abc\\\"]", 0, "unterminated string"},
    {"['a']", 0, "unexpected character '''"},
    /* repeated keys, compared after unescaping */
    {"{\"a\":1,\"a\":2}", 0, "repeated key \"a\""},
    {"{\"a\":1,\"\\u0061\":2}", 0, "repeated key \"a\""},
    {"{\"\\u00e9\":1,\"\xc3\xa9\":2}", 0, "repeated key"},
    {"{\"\\ud83d\\ude80\":1,\"\xf0\x9f\x9a\x80\":2}", 0, "repeated key"},
    {"{\"\\/\":1,\"/\":2}", 0, "repeated key \"/\""},
    {"{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", 0, "byte 18: repeated key \"b\""},
    {"{\"a\\u0000\":1,\"a\\u0000\":2}", 0, "repeated key \"a\\x00\""},
    /* NaN, Infinity, overflow */
    {"[NaN]", 0, "NaN and Infinity"},
    {"[Infinity]", 0, "NaN and Infinity"},
    {"[-Infinity]", 0, "NaN and Infinity"},
    {"[nan]", 0, "invalid literal"},
    {"[1e400]", 0, "out of the range of a double"},
    {"[-1e400]", 0, "out of the range of a double"},
    {"[1.7976931348623159e308]", 0, "out of the range"},
    {"[1e99999999999999999999]", 0, "out of the range"},
    /* number forms that are not JSON */
    {"[01]", 0, "leading zeros"},
    {"[-01]", 0, "leading zeros"},
    {"[00]", 0, "leading zeros"},
    {"[0.5.1]", 0, "expected ',' or ']'"},
    {"[+1]", 0, "unexpected character '+'"},
    {"[.5]", 0, "unexpected character '.'"},
    {"[1.]", 0, "digits must follow '.'"},
    {"[1.e5]", 0, "digits must follow '.'"},
    {"[1e]", 0, "digits must follow the exponent"},
    {"[1e+]", 0, "digits must follow the exponent"},
    {"[-]", 0, "invalid number"},
    {"[- 1]", 0, "invalid number"},
    {"[0x10]", 0, "expected ',' or ']'"},
    {"[1_000]", 0, "expected ',' or ']'"},
    /* structure */
    {"[1,]", 0, "unexpected character ']'"},
    {"{\"a\":1,}", 0, "expected a string key"},
    {"{\"a\" 1}", 0, "expected ':'"},
    {"{a:1}", 0, "expected a string key"},
    {"[1 2]", 0, "expected ',' or ']'"},
    {"[", 0, "unexpected end of input"},
    {"[1", 0, "unterminated array"},
    {"{\"a\":1", 0, "unterminated object"},
    {"{", 0, "unterminated object"},
    {"]", 0, "unexpected character ']'"},
    {"tru", 0, "invalid literal"},
    {"True", 0, "unexpected character 'T'"},
    {"nul", 0, "invalid literal"},
    /* trailing data */
    {"{} {}", 0, "byte 3: unexpected data after the JSON value"},
    {"1 2", 0, "unexpected data after"},
    {"[]x", 0, "unexpected data after"},
    {"[]\0", 3, "unexpected data after"},
    {"[] \f", 0, "unexpected data after"},
    {"\xc2\xa0[]", 0, "unexpected byte 0xc2"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(refusals); i++) {
        const struct refusal *r = &refusals[i];
        size_t len = r->len ? r->len : strlen(r->in);
        gp_json *v = NULL;
        gp_error_clear();
        int rc = gp_json_parse(&v, r->in, len);
        if (rc != GP_EINVALID || v != NULL || !strstr(gp_error_last(), r->msg) ||
            strchr(gp_error_last(), '\n') || !strstr(gp_error_last(), "at byte ")) {
            print_error("refusal %zu (%.*s): rc %d, message \"%s\", want \"%s\"\n", i, (int)len, r->in, rc,
                        gp_error_last(), r->msg);
            gp_json_free(v);
            fail();
        }
    }
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    assert_non_null(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++) memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    gp_json *v = NULL;
    char *open = repeat("", "[", 512, ""), *close = repeat("", "]", 512, "");
    char *ok = malloc(1025);
    assert_non_null(ok);
    memcpy(ok, open, 512);
    memcpy(ok + 512, close, 513);
    assert_int_equal(gp_json_parse(&v, ok, 1024), 0);
    char *out = NULL;
    size_t len;
    assert_int_equal(gp_json_canonical(&out, &len, v, NULL), 0);
    assert_int_equal(len, 1024);
    free(out);
    gp_json_free(v);
    v = NULL;

    char *deep = repeat("[", "{\"a\":", 512, "1");
    assert_int_equal(gp_json_parse(&v, deep, strlen(deep)), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "nesting deeper than 512"));
    assert_null(v);

    /* a hostile depth far beyond the limit does not recurse past it */
    char *hostile = repeat("", "[", 1000000, "");
    assert_int_equal(gp_json_parse(&v, hostile, strlen(hostile)), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "byte 512: nesting deeper than 512"));
    free(open);
    free(close);
    free(ok);
    free(deep);
    free(hostile);
}

static void test_integer_digit_limit(void **state)
{
    (void)state;
    gp_json *v = NULL;
    char *ok = repeat("[-", "7", 4300, "]");
    assert_int_equal(gp_json_parse(&v, ok, strlen(ok)), 0);
    assert_int_equal(gp_json_typeof(gp_json_at(v, 0)), GP_JSON_INT);
    assert_int_equal(strlen(gp_json_number_text(gp_json_at(v, 0))), 4301);
    int64_t i;
    assert_int_equal(gp_json_int64(gp_json_at(v, 0), &i), GP_ETOOBIG);
    gp_json_free(v);
    v = NULL;
    char *big = repeat("[", "7", 4301, "]");
    assert_int_equal(gp_json_parse(&v, big, strlen(big)), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "4301 digits"));
    /* a float with many digits is not an integer: Python reads it */
    char *flt = repeat("[0.", "1", 5000, "]");
    assert_int_equal(gp_json_parse(&v, flt, strlen(flt)), 0);
    assert_string_equal(gp_json_number_text(gp_json_at(v, 0)), "0.1111111111111111");
    gp_json_free(v);
    free(ok);
    free(big);
    free(flt);
}

static void test_accessors(void **state)
{
    (void)state;
    const char doc[] = "{\"s\":\"a\\u0000b\",\"i\":-9223372036854775808,\"j\":9223372036854775808,"
                       "\"r\":1E2,\"t\":true,\"f\":false,\"n\":null,\"a\":[1,\"x\"],\"o\":{\"\\u00e9\":1,\"z\":2},"
                       "\"k\\u0000\":3,\"m0\":-0}";
    gp_json *v = NULL;
    assert_int_equal(gp_json_parse(&v, doc, sizeof(doc) - 1), 0);
    assert_int_equal(gp_json_typeof(v), GP_JSON_OBJECT);
    assert_int_equal(gp_json_size(v), 11);
    /* sorted by UTF-8 bytes */
    const char *keys[] = {"a", "f", "i", "j", "k", "m0", "n", "o", "r", "s", "t"};
    for (size_t k = 0; k < 11; k++) assert_string_equal(gp_json_key_at(v, k), keys[k]);
    assert_null(gp_json_key_at(v, 11));
    assert_null(gp_json_at(v, 11));

    size_t len = 0;
    const char *s = gp_json_string(gp_json_get(v, "s"), &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 4);
    assert_null(gp_json_string(gp_json_get(v, "i"), &len));

    int64_t i = 0;
    assert_int_equal(gp_json_int64(gp_json_get(v, "i"), &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(gp_json_int64(gp_json_get(v, "j"), &i), GP_ETOOBIG);
    assert_int_equal(gp_json_int64(gp_json_get(v, "r"), &i), GP_EINVALID);
    assert_int_equal(gp_json_int64(gp_json_get(v, "m0"), &i), 0);
    assert_int_equal(i, 0);
    assert_string_equal(gp_json_number_text(gp_json_get(v, "m0")), "0");
    assert_true(gp_json_double(gp_json_get(v, "j")) == 9223372036854775808.0);
    assert_true(gp_json_double(gp_json_get(v, "r")) == 100.0);
    assert_true(gp_json_double(gp_json_get(v, "s")) == 0.0);
    assert_string_equal(gp_json_number_text(gp_json_get(v, "r")), "100.0");
    assert_null(gp_json_number_text(gp_json_get(v, "s")));
    assert_true(gp_json_is_number(gp_json_get(v, "i")));
    assert_true(gp_json_is_number(gp_json_get(v, "r")));
    assert_false(gp_json_is_number(gp_json_get(v, "t")));
    assert_int_equal(gp_json_typeof(gp_json_get(v, "t")), GP_JSON_TRUE);
    assert_int_equal(gp_json_typeof(gp_json_get(v, "f")), GP_JSON_FALSE);
    assert_int_equal(gp_json_typeof(gp_json_get(v, "n")), GP_JSON_NULL);
    assert_null(gp_json_get(v, "missing"));
    assert_null(gp_json_get(gp_json_get(v, "a"), "x"));
    const gp_json *a = gp_json_get(v, "a");
    assert_int_equal(gp_json_size(a), 2);
    assert_string_equal(gp_json_string(gp_json_at(a, 1), NULL), "x");
    assert_null(gp_json_key_at(a, 0));
    const gp_json *o = gp_json_get(v, "o");
    assert_string_equal(gp_json_key_at(o, 0), "z");
    assert_string_equal(gp_json_key_at(o, 1), "\xc3\xa9");
    assert_non_null(gp_json_get(o, "\xc3\xa9"));
    assert_int_equal(gp_json_size(gp_json_get(v, "s")), 0);

    /* omit_key drops only that top-level member */
    char *out = NULL;
    assert_int_equal(gp_json_canonical(&out, &len, v, "a"), 0);
    assert_string_equal(out, "{\"f\":false,\"i\":-9223372036854775808,\"j\":9223372036854775808,"
                             "\"k\\u0000\":3,\"m0\":0,\"n\":null,\"o\":{\"z\":2,\"\\u00e9\":1},"
                             "\"r\":100.0,\"s\":\"a\\u0000b\",\"t\":true}");
    free(out);
    assert_int_equal(gp_json_canonical(&out, &len, gp_json_get(v, "o"), "z"), 0);
    assert_string_equal(out, "{\"\\u00e9\":1}");
    free(out);
    assert_int_equal(gp_json_canonical(&out, &len, v, "k"), 0); /* "k\0" is not "k" */
    assert_non_null(strstr(out, "\"k\\u0000\":3"));
    free(out);
    assert_int_equal(gp_json_canonical(&out, &len, NULL, NULL), GP_EINVALID);
    assert_null(out);

    gp_json_free(v);
    gp_json_free(NULL);
    /* freeing a borrowed node is a no-op, not a crash */
}

static void test_format_double(void **state)
{
    (void)state;
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {0.0, "0.0"}, {-0.0, "-0.0"}, {1.0, "1.0"}, {0.1, "0.1"}, {0.1 + 0.2, "0.30000000000000004"},
        {1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {1e-4, "0.0001"}, {1e-5, "1e-05"},
        {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"}, {123456789.0, "123456789.0"},
        {-2.5, "-2.5"}, {1e22, "1e+22"}, {1e23, "1e+23"}, {9007199254740993.0, "9007199254740992.0"},
        {0x1p-1022, "2.2250738585072014e-308"}, {0x1p-1074, "5e-324"}, {0x0.fffffffffffffp-1022, "2.225073858507201e-308"},
        {0x1p+60, "1.152921504606847e+18"}, {0x1p-20, "9.5367431640625e-07"}, {1e100, "1e+100"},
    };
    char out[32];
    for (size_t i = 0; i < N(cases); i++) {
        assert_int_equal(gp_json_format_double(out, cases[i].d), 0);
        assert_string_equal(out, cases[i].want);
    }
    assert_int_equal(gp_json_format_double(out, NAN), GP_EINVALID);
    assert_int_equal(gp_json_format_double(out, INFINITY), GP_EINVALID);
    assert_int_equal(gp_json_format_double(out, -INFINITY), GP_EINVALID);
}

static void test_jansson(void **state)
{
    (void)state;
    const char doc[] = "{\"b\":[1,2.5,-0.0,1e-05,\"\\u00e9\\u0000\",null,true,false],"
                       "\"a\":{\"k\\u0000\":1},\"big\":18446744073709551616}";
    gp_json *v = NULL, *w = NULL;
    assert_int_equal(gp_json_parse(&v, doc, sizeof(doc) - 1), 0);
    json_t *j = gp_json_to_jansson(v);
    assert_non_null(j);
    assert_true(json_is_real(json_object_get(j, "big")));
    assert_true(json_is_integer(json_array_get(json_object_get(j, "b"), 0)));
    assert_int_equal(json_string_length(json_array_get(json_object_get(j, "b"), 4)), 3);
    assert_int_equal(gp_json_from_jansson(&w, j), 0);
    char *out = NULL;
    size_t len;
    assert_int_equal(gp_json_canonical(&out, &len, w, NULL), 0);
    assert_string_equal(out, "{\"a\":{\"k\\u0000\":1},\"b\":[1,2.5,-0.0,1e-05,\"\\u00e9\\u0000\",null,true,false],"
                             "\"big\":1.8446744073709552e+19}");
    free(out);
    json_decref(j);
    gp_json_free(w);
    gp_json_free(v);

    /* keys sorted on the way in; reals keep the shortest repr, integers stay integers */
    json_t *o = json_pack("{s:f,s:i,s:f,s:[]}", "z", 0.1, "\xf0\x9f\x9a\x80", 7, "\xef\xbf\xbf", 100.0, "a");
    assert_non_null(o);
    assert_int_equal(gp_json_from_jansson(&w, o), 0);
    assert_int_equal(gp_json_canonical(&out, &len, w, NULL), 0);
    assert_string_equal(out, "{\"a\":[],\"z\":0.1,\"\\uffff\":100.0,\"\\ud83d\\ude80\":7}");
    assert_int_equal(gp_json_typeof(gp_json_get(w, "\xf0\x9f\x9a\x80")), GP_JSON_INT);
    free(out);
    gp_json_free(w);
    json_decref(o);

    /* a jansson string that is not UTF-8 (built unchecked) is refused */
    json_t *bad = json_stringn_nocheck("\xed\xa0\x80", 3);
    assert_int_equal(gp_json_from_jansson(&w, bad), GP_EINVALID);
    assert_null(w);
    json_decref(bad);
    assert_int_equal(gp_json_from_jansson(&w, NULL), GP_EINVALID);
}

/* floats.txt (gen_floats.py): IEEE bits and Python's repr, for random and boundary doubles. */
static void test_repr_corpus(void **state)
{
    (void)state;
    const char *src = getenv("GP_SOURCE_DIR");
    char path[1024], line[128];
    snprintf(path, sizeof(path), "%s/tests/data/canonical/floats.txt", src && *src ? src : ".");
    FILE *f = fopen(path, "r");
    if (!f) {
        print_error("cannot open %s\n", path);
        fail();
    }
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        char want[64], out[32], doc[80], *canon = NULL;
        unsigned long long bits;
        double d;
        size_t len;
        gp_json *v = NULL;
        assert_int_equal(sscanf(line, "%llx %63s", &bits, want), 2);
        memcpy(&d, &bits, sizeof(d));
        assert_int_equal(gp_json_format_double(out, d), 0);
        if (strcmp(out, want) != 0) {
            print_error("%016llx: got %s, Python says %s\n", bits, out, want);
            fail();
        }
        /* Python's spelling reads back as the same double and is its own canonical form */
        snprintf(doc, sizeof(doc), "[%s]", want);
        assert_int_equal(gp_json_parse(&v, doc, strlen(doc)), 0);
        double back = gp_json_double(gp_json_at(v, 0));
        assert_memory_equal(&back, &d, sizeof(d));
        assert_int_equal(gp_json_canonical(&canon, &len, v, NULL), 0);
        assert_string_equal(canon, doc);
        free(canon);
        gp_json_free(v);
        n++;
    }
    fclose(f);
    assert_true(n > 3000);
}

/* Big inputs stay linear: a 1 MiB-class object, a long escaped string, a long array. */
static void test_large_inputs(void **state)
{
    (void)state;
    size_t n = 100000;
    char *doc = malloc(n * 24 + 16), *p = doc;
    assert_non_null(doc);
    *p++ = '{';
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s\"k%zu\":%zu", i ? "," : "", n - i, i);
    *p++ = '}';
    gp_json *v = NULL;
    assert_int_equal(gp_json_parse(&v, doc, (size_t)(p - doc)), 0);
    assert_int_equal(gp_json_size(v), n);
    assert_string_equal(gp_json_key_at(v, 0), "k1");
    assert_string_equal(gp_json_key_at(v, 1), "k10");
    int64_t x;
    assert_int_equal(gp_json_int64(gp_json_get(v, "k1"), &x), 0);
    assert_int_equal(x, (int64_t)n - 1);
    gp_json_free(v);
    v = NULL;
    /* the same object with the last key repeated */
    p[-1] = ',';
    p += sprintf(p, "\"k1\":0}");
    assert_int_equal(gp_json_parse(&v, doc, (size_t)(p - doc)), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "repeated key \"k1\""));
    free(doc);

    char *s = repeat("[\"", "\\u00e9\\\"\\\\\\ud83d\\ude80", 50000, "\"]");
    assert_int_equal(gp_json_parse(&v, s, strlen(s)), 0);
    size_t len;
    assert_non_null(gp_json_string(gp_json_at(v, 0), &len));
    assert_int_equal(len, 50000 * 8);
    char *out = NULL;
    assert_int_equal(gp_json_canonical(&out, &len, v, NULL), 0);
    assert_int_equal(len, strlen(s));
    free(out);
    gp_json_free(v);
    free(s);

    s = repeat("[0", ",0.25,1.7976931348623157e308,-1", 60000, "]");
    assert_int_equal(gp_json_parse(&v, s, strlen(s)), 0);
    assert_int_equal(gp_json_size(v), 180001);
    gp_json_free(v);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_table), cmocka_unit_test(test_indent_table),
        cmocka_unit_test(test_refusals),     cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_integer_digit_limit), cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_format_double), cmocka_unit_test(test_repr_corpus),
        cmocka_unit_test(test_jansson),
        cmocka_unit_test(test_large_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
