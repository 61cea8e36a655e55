/*
 * test_html.c - escaping, URL segments, query decoding and the template engine of server/html.c.
 * html.c lives in server/ (not in the core library), so it is compiled into this test directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../server/html.c"

static void test_escape_table(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"plain", 5, "plain"},
        {"<script>alert(1)</script>", 25, "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a&b", 3, "a&amp;b"},
        {"\"'", 2, "&quot;&#39;"},
        {"<img src=x onerror=alert(1)>", 28, "&lt;img src=x onerror=alert(1)&gt;"},
        {"na\xC3\xAFve \xE2\x80\x94 \xF0\x9F\x9A\x80", 15, "na\xC3\xAFve \xE2\x80\x94 \xF0\x9F\x9A\x80"},
        {"bad\xFFx", 5, "bad\xEF\xBF\xBDx"},                 /* invalid byte */
        {"\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},          /* overlong '/' */
        {"\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
        {"\xE2\x82", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},          /* truncated */
        {"\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
        {"a\0b", 3, "a\xEF\xBF\xBD" "b"},                    /* embedded NUL */
        {"t\tn\nr\r", 6, "t\tn\nr\r"},
        {"\x1b[31m", 5, "\xEF\xBF\xBD[31m"},
        {"\xC2\x85", 2, "\xEF\xBF\xBD"},                      /* C1 control */
        {"", 0, ""},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gp_buf b = GP_BUF_INIT(0);
        assert_int_equal(html_escape(&b, cases[i].in, cases[i].len), 0);
        assert_string_equal(b.ptr ? b.ptr : "", cases[i].want);
        gp_buf_free(&b);
    }
}

static void test_escape_no_markup_survives(void **state)
{
    /* every byte value: no < > " ' or bare & survives */
    char in[256];
    gp_buf b = GP_BUF_INIT(0);
    (void)state;
    for (int i = 0; i < 256; i++)
        in[i] = (char)i;
    assert_int_equal(html_escape(&b, in, sizeof(in)), 0);
    assert_null(strpbrk(b.ptr, "<>\"'"));
    for (const char *p = strchr(b.ptr, '&'); p; p = strchr(p + 1, '&'))
        assert_true(strncmp(p, "&amp;", 5) == 0 || strncmp(p, "&lt;", 4) == 0 || strncmp(p, "&gt;", 4) == 0 ||
                    strncmp(p, "&quot;", 6) == 0 || strncmp(p, "&#39;", 5) == 0);
    gp_buf_free(&b);
}

static void test_escape_limit(void **state)
{
    gp_buf b = GP_BUF_INIT(8);
    (void)state;
    assert_int_equal(html_escape_str(&b, "<<<<"), GP_ETOOBIG);
    gp_buf_free(&b);
}

static void test_url_segment(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"alice", "alice"},
        {"a/b", "a%2Fb"},
        {"../x", "..%2Fx"},
        {"\"><script>", "%22%3E%3Cscript%3E"},
        {"a b?c#d&e", "a%20b%3Fc%23d%26e"},
        {"\xC3\xBC", "%C3%BC"},
        {"A-Z._~", "A-Z._~"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gp_buf b = GP_BUF_INIT(0);
        assert_int_equal(html_url_segment(&b, cases[i].in, strlen(cases[i].in)), 0);
        assert_string_equal(b.ptr, cases[i].want);
        gp_buf_free(&b);
    }
}

static void test_query(void **state)
{
    char v[64];
    (void)state;
    assert_int_equal(html_query_get(v, sizeof(v), "q=2c63623&x=1", "q"), 0);
    assert_string_equal(v, "2c63623");
    assert_int_equal(html_query_get(v, sizeof(v), "?a=1&q=hello+world%21", "q"), 0);
    assert_string_equal(v, "hello world!");
    assert_int_equal(html_query_get(v, sizeof(v), "qq=1&q", "q"), 0);
    assert_string_equal(v, "");
    assert_int_equal(html_query_get(v, sizeof(v), "qq=1", "q"), GP_ENOTFOUND);
    assert_int_equal(html_query_get(v, sizeof(v), NULL, "q"), GP_ENOTFOUND);
    assert_int_equal(html_query_get(v, sizeof(v), "q=%zz", "q"), GP_EINVALID);
    assert_int_equal(html_query_get(v, sizeof(v), "q=%4", "q"), GP_EINVALID);
    assert_int_equal(html_query_get(v, sizeof(v), "q=%00", "q"), GP_EINVALID);
    assert_int_equal(html_query_get(v, 4, "q=abcd", "q"), GP_ETOOBIG);
    assert_int_equal(html_query_get(v, 5, "q=abcd", "q"), 0);
}

static void test_template(void **state)
{
    html_tmpls *t = html_tmpls_new();
    html_vars vars = HTML_VARS_INIT;
    gp_buf out = GP_BUF_INIT(0), html = GP_BUF_INIT(0);
    const char *src = "<h1>{{title}}</h1>{{{body}}}<p>{{ body }}</p><i>{{{title}}}</i>{{{ok}}}";
    (void)state;
    assert_non_null(t);
    assert_int_equal(html_tmpls_add(t, "page", src, strlen(src)), 0);
    assert_int_equal(html_vars_text(&vars, "title", "<script>x</script>"), 0);
    assert_int_equal(gp_buf_puts(&html, "<b>built</b>"), 0);
    assert_int_equal(html_vars_html(&vars, "body", &html), 0);
    assert_int_equal(html_vars_textf(&vars, "ok", "%d<", 3), 0);
    assert_int_equal(html_render(t, "page", &vars, &out), 0);
    /* text variables are escaped even inside {{{ }}}; html variables only unescaped in {{{ }}} */
    assert_string_equal(out.ptr, "<h1>&lt;script&gt;x&lt;/script&gt;</h1><b>built</b>"
                                 "<p>&lt;b&gt;built&lt;/b&gt;</p><i>&lt;script&gt;x&lt;/script&gt;</i>3&lt;");
    gp_buf_reset(&out);
    assert_int_equal(html_render(t, "nope", &vars, &out), GP_ENOTFOUND);
    html_vars_free(&vars);
    assert_int_equal(html_render(t, "page", &vars, &out), GP_EINVALID);
    assert_non_null(strstr(gp_error_last(), "title"));
    gp_buf_free(&out);
    gp_buf_free(&html);
    html_tmpls_free(t);
}

static void test_template_syntax_errors(void **state)
{
    static const char *bad[] = {"a {{ b", "{{}}", "{{a b}}", "{{{a}}", "x\n{{a-b}}", "{{a}"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        html_tmpls *t = html_tmpls_new();
        assert_int_equal(html_tmpls_add(t, "bad", bad[i], strlen(bad[i])), GP_EINVALID);
        html_tmpls_free(t);
    }
}

static void test_templates_on_disk(void **state)
{
    /* every template shipped in web/ parses */
    const char *src = getenv("GP_SOURCE_DIR");
    char dir[4096];
    html_tmpls *t = NULL;
    (void)state;
    if (!src)
        skip();
    snprintf(dir, sizeof(dir), "%s/web", src);
    assert_int_equal(html_tmpls_load(&t, dir), 0);
    assert_non_null(t);
    assert_true(t->n >= 1);
    html_tmpls_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_escape_no_markup_survives),
        cmocka_unit_test(test_escape_limit),
        cmocka_unit_test(test_url_segment),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_template_syntax_errors),
        cmocka_unit_test(test_templates_on_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
