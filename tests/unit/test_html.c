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
#include "../../server/pages.c"

#include <sys/stat.h>

/* generated fixtures for the page tests (hostile strings included) */
static const char *fx_receipt_a = "{\"id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"status\": \"verified\", \"repo\": \"alice/gpukernels\", \"commit\": \"2c6362308d6f0ac578fee055f120fa766638b970\", \"branch\": \"main\\\"'<script>alert(1)</script>\", \"signer\": \"alice\", \"key_fingerprint\": \"SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ\", \"key_type\": \"ssh-ed25519\", \"mode\": \"local<img src=x onerror=alert(2)>\", \"dirty\": false, \"started_at\": \"2026-11-28T17:25:19Z\", \"ended_at\": \"2026-11-28T17:25:20Z\", \"received_at\": \"2026-11-28T17:30:00Z\", \"counts\": {\"passed\": 6, \"failed\": 0, \"skipped\": 0, \"total\": 6}, \"gpus\": [{\"name\": \"NVIDIA H200<script>alert(1)</script>\", \"uuid\": \"GPU-1\", \"driver_version\": \"580.1\", \"cuda_driver_version\": \"13.0\", \"memory_total_mib\": 143771, \"compute_capability\": \"9.0\", \"ecc\": true, \"mig\": false, \"cc\": false, \"used_by_tests\": true, \"peak_memory_mib\": 1234}], \"validates\": true, \"reasons\": [], \"ledger\": {\"index\": 0, \"entry\": \"x\"}, \"url\": \"/commits/2c6362308d6f0ac578fee055f120fa766638b970\"}";
static const char *fx_receipt_b = "{\"id\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"status\": \"verified\", \"repo\": \"alice/gpukernels\", \"commit\": \"67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\", \"branch\": \"main\\\"'<script>alert(1)</script>\", \"signer\": \"bob\", \"key_fingerprint\": \"SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ\", \"key_type\": \"ssh-ed25519\", \"mode\": \"local<img src=x onerror=alert(2)>\", \"dirty\": false, \"started_at\": \"2026-11-28T17:25:19Z\", \"ended_at\": \"2026-11-28T17:25:20Z\", \"received_at\": \"2026-11-28T17:30:00Z\", \"counts\": {\"passed\": 5, \"failed\": 1, \"skipped\": 1, \"total\": 7}, \"gpus\": [{\"name\": \"NVIDIA A100\", \"driver_version\": \"550\", \"memory\": \"40 GiB\"}], \"validates\": false, \"reasons\": [\"1 test failed: <script>alert(1)</script>\", \"skipped <img src=x onerror=alert(2)>\"], \"ledger\": {\"index\": 1, \"entry\": \"x\"}, \"url\": \"/commits/67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\"}";
static const char *fx_commit_c1 = "{\"commit\": \"2c6362308d6f0ac578fee055f120fa766638b970\", \"validated\": true, \"validated_by\": [\"alice\"], \"receipts\": [{\"id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"status\": \"verified\", \"repo\": \"alice/gpukernels\", \"commit\": \"2c6362308d6f0ac578fee055f120fa766638b970\", \"branch\": \"main\\\"'<script>alert(1)</script>\", \"signer\": \"alice\", \"key_fingerprint\": \"SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ\", \"key_type\": \"ssh-ed25519\", \"mode\": \"local<img src=x onerror=alert(2)>\", \"dirty\": false, \"started_at\": \"2026-11-28T17:25:19Z\", \"ended_at\": \"2026-11-28T17:25:20Z\", \"received_at\": \"2026-11-28T17:30:00Z\", \"counts\": {\"passed\": 6, \"failed\": 0, \"skipped\": 0, \"total\": 6}, \"gpus\": [{\"name\": \"NVIDIA H200<script>alert(1)</script>\", \"uuid\": \"GPU-1\", \"driver_version\": \"580.1\", \"cuda_driver_version\": \"13.0\", \"memory_total_mib\": 143771, \"compute_capability\": \"9.0\", \"ecc\": true, \"mig\": false, \"cc\": false, \"used_by_tests\": true, \"peak_memory_mib\": 1234}], \"validates\": true, \"reasons\": [], \"ledger\": {\"index\": 0, \"entry\": \"x\"}, \"url\": \"/commits/2c6362308d6f0ac578fee055f120fa766638b970\"}]}";
static const char *fx_commit_c2 = "{\"commit\": \"67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\", \"validated\": false, \"validated_by\": [], \"receipts\": [{\"id\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"status\": \"verified\", \"repo\": \"alice/gpukernels\", \"commit\": \"67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\", \"branch\": \"main\\\"'<script>alert(1)</script>\", \"signer\": \"bob\", \"key_fingerprint\": \"SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ\", \"key_type\": \"ssh-ed25519\", \"mode\": \"local<img src=x onerror=alert(2)>\", \"dirty\": false, \"started_at\": \"2026-11-28T17:25:19Z\", \"ended_at\": \"2026-11-28T17:25:20Z\", \"received_at\": \"2026-11-28T17:30:00Z\", \"counts\": {\"passed\": 5, \"failed\": 1, \"skipped\": 1, \"total\": 7}, \"gpus\": [{\"name\": \"NVIDIA A100\", \"driver_version\": \"550\", \"memory\": \"40 GiB\"}], \"validates\": false, \"reasons\": [\"1 test failed: <script>alert(1)</script>\", \"skipped <img src=x onerror=alert(2)>\"], \"ledger\": {\"index\": 1, \"entry\": \"x\"}, \"url\": \"/commits/67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\"}]}";
static const char *fx_repos = "{\"repos\": [{\"repo\": \"alice/gpukernels\", \"commits\": 2, \"receipts\": 2, \"latest\": {\"commit\": \"67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\", \"state\": \"failed\", \"validated_by\": [], \"receipts\": 1, \"gpus\": [\"NVIDIA A100<script>alert(1)</script>\"], \"last_received_at\": \"2026-11-28T17:30:00Z\"}}, {\"repo\": \"evil/x<script>alert(1)</script>\", \"commits\": 1, \"receipts\": 1, \"latest\": {\"commit\": \"2c6362308d6f0ac578fee055f120fa766638b970\", \"state\": \"validated\", \"validated_by\": [\"alice\"], \"receipts\": 1, \"gpus\": [], \"last_received_at\": \"2026-11-28T17:30:00Z\"}}]}";
static const char *fx_repo_commits = "{\"repo\": \"alice/gpukernels\", \"commits\": [{\"commit\": \"67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\", \"state\": \"failed\", \"validated_by\": [], \"receipts\": 1, \"gpus\": [\"NVIDIA A100\"], \"last_received_at\": \"2026-11-28T17:30:00Z\"}, {\"commit\": \"2c6362308d6f0ac578fee055f120fa766638b970\", \"state\": \"validated\", \"validated_by\": [\"alice\", \"bob\"], \"receipts\": 2, \"gpus\": [\"NVIDIA H200<script>alert(1)</script>\"], \"last_received_at\": \"2026-11-28T17:29:00Z\"}], \"next_cursor\": \"c/<script>alert(1)</script>\"}";
static const char *fx_signer = "{\"signer\": \"bob\", \"receipts\": [{\"id\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"status\": \"verified\", \"repo\": \"alice/gpukernels\", \"commit\": \"67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\", \"branch\": \"main\\\"'<script>alert(1)</script>\", \"signer\": \"bob\", \"key_fingerprint\": \"SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ\", \"key_type\": \"ssh-ed25519\", \"mode\": \"local<img src=x onerror=alert(2)>\", \"dirty\": false, \"started_at\": \"2026-11-28T17:25:19Z\", \"ended_at\": \"2026-11-28T17:25:20Z\", \"received_at\": \"2026-11-28T17:30:00Z\", \"counts\": {\"passed\": 5, \"failed\": 1, \"skipped\": 1, \"total\": 7}, \"gpus\": [{\"name\": \"NVIDIA A100\", \"driver_version\": \"550\", \"memory\": \"40 GiB\"}], \"validates\": false, \"reasons\": [\"1 test failed: <script>alert(1)</script>\", \"skipped <img src=x onerror=alert(2)>\"], \"ledger\": {\"index\": 1, \"entry\": \"x\"}, \"url\": \"/commits/67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\"}]}";
static const char *fx_latest = "{\"receipts\": [{\"id\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"status\": \"verified\", \"repo\": \"alice/gpukernels\", \"commit\": \"67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\", \"branch\": \"main\\\"'<script>alert(1)</script>\", \"signer\": \"bob\", \"key_fingerprint\": \"SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ\", \"key_type\": \"ssh-ed25519\", \"mode\": \"local<img src=x onerror=alert(2)>\", \"dirty\": false, \"started_at\": \"2026-11-28T17:25:19Z\", \"ended_at\": \"2026-11-28T17:25:20Z\", \"received_at\": \"2026-11-28T17:30:00Z\", \"counts\": {\"passed\": 5, \"failed\": 1, \"skipped\": 1, \"total\": 7}, \"gpus\": [{\"name\": \"NVIDIA A100\", \"driver_version\": \"550\", \"memory\": \"40 GiB\"}], \"validates\": false, \"reasons\": [\"1 test failed: <script>alert(1)</script>\", \"skipped <img src=x onerror=alert(2)>\"], \"ledger\": {\"index\": 1, \"entry\": \"x\"}, \"url\": \"/commits/67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\"}, {\"id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"status\": \"verified\", \"repo\": \"alice/gpukernels\", \"commit\": \"2c6362308d6f0ac578fee055f120fa766638b970\", \"branch\": \"main\\\"'<script>alert(1)</script>\", \"signer\": \"alice\", \"key_fingerprint\": \"SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ\", \"key_type\": \"ssh-ed25519\", \"mode\": \"local<img src=x onerror=alert(2)>\", \"dirty\": false, \"started_at\": \"2026-11-28T17:25:19Z\", \"ended_at\": \"2026-11-28T17:25:20Z\", \"received_at\": \"2026-11-28T17:30:00Z\", \"counts\": {\"passed\": 6, \"failed\": 0, \"skipped\": 0, \"total\": 6}, \"gpus\": [{\"name\": \"NVIDIA H200<script>alert(1)</script>\", \"uuid\": \"GPU-1\", \"driver_version\": \"580.1\", \"cuda_driver_version\": \"13.0\", \"memory_total_mib\": 143771, \"compute_capability\": \"9.0\", \"ecc\": true, \"mig\": false, \"cc\": false, \"used_by_tests\": true, \"peak_memory_mib\": 1234}], \"validates\": true, \"reasons\": [], \"ledger\": {\"index\": 0, \"entry\": \"x\"}, \"url\": \"/commits/2c6362308d6f0ac578fee055f120fa766638b970\"}]}";
static const char *fx_lookup_many = "{\"commits\": [\"2c6362308d6f0ac578fee055f120fa766638b970\", \"2c63623000000000000000000000000000000000\"], \"signers\": []}";
static const char *fx_lookup_one = "{\"commits\": [\"2c6362308d6f0ac578fee055f120fa766638b970\"], \"signers\": []}";
static const char *fx_lookup_none = "{\"commits\": [], \"signers\": []}";
static const char *fx_lookup_login = "{\"commits\": [], \"signers\": [\"alice\"]}";
static const char *fx_raw = "{\"schema_version\": \"1\", \"mode\": \"local<img src=x onerror=alert(2)>\", \"repo\": {\"remote_url\": \"git@github.com:alice/gpukernels.git\", \"commit_sha\": \"67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\", \"branch\": \"main\", \"dirty\": false, \"github_username\": \"bob\"}, \"fingerprint\": {\"algorithm\": \"sha256\", \"digest\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"file_count\": 3, \"included_paths\": [\"src\", \"<script>alert(1)</script>\"]}, \"session\": {\"started_at\": \"2026-11-28T17:25:19Z\", \"ended_at\": \"2026-11-28T17:25:20Z\", \"node_ids\": []}, \"tests\": [{\"node_id\": \"tests/test_a.py::test_ok\", \"outcome\": \"passed\", \"duration_s\": 0.0002, \"checks\": []}, {\"node_id\": \"tests/test_a.py::test_<script>alert(1)</script>\", \"outcome\": \"failed\", \"duration_s\": 1.5, \"checks\": [{\"name\": \"<img src=x onerror=alert(2)>\", \"outcome\": \"failed\", \"metadata\": {\"note\": \"<script>alert(1)</script>\", \"n\": 1}}]}, {\"node_id\": \"tests/test_a.py::test_skip[<img src=x onerror=alert(2)>]\", \"outcome\": \"skipped\", \"duration_s\": 0, \"checks\": []}], \"environment\": {\"platform\": \"linux<script>alert(1)</script>\", \"python_version\": \"3.11\", \"pytest_version\": \"7\", \"plugin_version\": \"0.1.0\", \"gpu_info\": null}, \"signature\": {\"algorithm\": \"ed25519\", \"backend\": \"x\", \"signer\": \"bob\", \"key_fingerprint\": \"SHA256:x\", \"value\": \"AA==\"}}";

/* ---- fake documents: the pages only see server.h ---- */

static const char *fake_web_dir;
static int fake_doc_error; /* when set, every srv_doc_* fails with it */

static int fake(const char *text, json_t **out)
{
    json_error_t e;
    if (fake_doc_error)
        return gp_error_setf(fake_doc_error, "fake failure");
    *out = json_loads(text, 0, &e);
    return *out ? 0 : GP_ERROR;
}

const char *srv_web_dir(const srv *s)
{
    (void)s;
    return fake_web_dir;
}

int srv_doc_receipt(srv *s, const char *id, json_t **out)
{
    if (id[0] == 'a')
        return fake(fx_receipt_a, out);
    if (id[0] == 'b')
        return fake(fx_receipt_b, out);
    return gp_error_setf(GP_ENOTFOUND, "no receipt");
}

int srv_receipt_raw(srv *s, const char *id, char **out, size_t *len)
{
    *out = strdup(fx_raw);
    *len = strlen(fx_raw);
    return 0;
}

int srv_doc_commit(srv *s, const char *sha, const char *repo, json_t **out)
{
    return fake(sha[0] == '2' ? fx_commit_c1 : sha[0] == '6' ? fx_commit_c2 : "{\"commit\":\"x\",\"validated\":false,\"validated_by\":[],\"receipts\":[]}", out);
}

int srv_doc_repos(srv *s, json_t **out) { return fake(fx_repos, out); }

int srv_doc_repo_commits(srv *s, const char *repo, int limit, const char *cursor, json_t **out)
{
    if (strcmp(repo, "alice/gpukernels") != 0)
        return fake("{\"repo\":\"x\",\"commits\":[],\"next_cursor\":null}", out);
    return fake(fx_repo_commits, out);
}

int srv_doc_signer(srv *s, const char *login, json_t **out) { return fake(fx_signer, out); }
int srv_doc_latest(srv *s, int limit, json_t **out) { return fake(fx_latest, out); }

int srv_doc_lookup(srv *s, const char *q, json_t **out)
{
    if (strcmp(q, "2c63623") == 0)
        return fake(fx_lookup_many, out);
    if (strcmp(q, "2c636230") == 0)
        return fake(fx_lookup_one, out);
    if (strcmp(q, "alice") == 0)
        return fake(fx_lookup_login, out);
    return fake(fx_lookup_none, out);
}

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
    static char dir[4096];
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

/* ---- pages ---- */

typedef struct {
    const char *path, *query;
    int status;
    const char *ctype_prefix;
    const char *must[4];   /* substrings the body must hold */
    const char *location;  /* expected pages_location() */
} page_case;

/* No receipt string may open a tag: the only "<script" is the layout's own, the only "<img"
 * the repository badge, and none of the payloads appear unescaped. */
static void assert_no_injection(const char *body)
{
    const char *p;
    int scripts = 0;
    for (p = strstr(body, "<script"); p; p = strstr(p + 1, "<script")) {
        assert_true(strncmp(p, "<script src=\"/static/app.js\" defer></script>", 44) == 0);
        scripts++;
    }
    assert_true(scripts <= 1);
    for (p = strstr(body, "<img"); p; p = strstr(p + 1, "<img"))
        assert_true(strncmp(p, "<img alt=\"gpu-proof badge", 25) == 0);
    assert_null(strstr(body, "<img src=x"));
    assert_null(strstr(body, "<script>alert"));
    assert_null(strstr(body, " style="));
    assert_null(strstr(body, " onclick="));
}

static void save_preview(const char *path, const gp_buf *body)
{
    const char *dir = getenv("GP_BUILD_DIR");
    char file[4096], name[256];
    size_t i;
    if (!dir)
        return;
    for (i = 0; path[i] && i + 1 < sizeof(name); i++)
        name[i] = isalnum((unsigned char)path[i]) ? path[i] : '_';
    name[i] = '\0';
    snprintf(file, sizeof(file), "%s/pages-preview", dir);
    mkdir(file, 0755);
    snprintf(file, sizeof(file), "%s/pages-preview/%s.html", dir, name);
    FILE *f = fopen(file, "w");
    if (f) {
        fwrite(body->ptr, 1, body->len, f);
        fclose(f);
    }
}

static void test_pages(void **state)
{
    static const page_case cases[] = {
        {"/", NULL, 200, "text/html", {"GPU validation dashboard", "alice/gpukernels", "href=\"/signers/alice\"", "/api/repos"}, NULL},
        {"/repos/alice/gpukernels", NULL, 200, "text/html", {"href=\"/commits/67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0\"", "rel=\"next\"", "?cursor=c%2F%3Cscript", "/api/repos/alice/gpukernels/commits"}, NULL},
        {"/repos/alice/gpukernels", "cursor=abc", 200, "text/html", {"Newest commits", "cursor=abc", NULL, NULL}, NULL},
        {"/repos/nobody/none", NULL, 404, "text/html", {"Not found", NULL, NULL, NULL}, NULL},
        {"/repos/a/..", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/commits/2c6362308d6f0ac578fee055f120fa766638b970", NULL, 200, "text/html",
         {"GPU-validated by <a class=\"signer\" href=\"/signers/alice\">alice</a>", "SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ", "used by the tests (peak 1234 MiB)", "/api/receipts/aaaa"}, NULL},
        {"/commits/67CB7FBED1021AA18A61B7DFA69FD7E93CF68AB0", NULL, 200, "text/html",
         {"Not GPU-validated: 1 test failed in <a class=\"signer\" href=\"/signers/bob\">bob</a>&#39;s run", "outcome-failed", "1 test failed: &lt;script&gt;", "?only=failed"}, NULL},
        {"/commits/67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0", "only=failed", 200, "text/html", {"Show all tests", "test_&lt;script&gt;", NULL, NULL}, NULL},
        {"/commits/ffffffffffffffffffffffffffffffffffffffff", NULL, 200, "text/html", {"No receipts for this commit yet", NULL, NULL, NULL}, NULL},
        {"/commits/nothex", NULL, 404, "text/html", {"Not found", NULL, NULL, NULL}, NULL},
        {"/commits/2c63623", NULL, 200, "text/html", {"Which one?", "href=\"/commits/2c6362300", NULL, NULL}, NULL},
        {"/receipts/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL, 200, "text/html",
         {"does not GPU-validate", "&lt;img src=x onerror=alert(2)&gt;", "linux&lt;script&gt;", "/raw\""}, NULL},
        {"/receipts/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/receipts/AAAA", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/signers/bob", NULL, 200, "text/html", {"Receipts signed by bob", "https://github.com/bob.keys", "/api/signers/bob", NULL}, NULL},
        {"/signers/-bad-", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/lookup", "q=2c63623", 200, "text/html", {"Which one?", NULL, NULL, NULL}, NULL},
        {"/lookup", "q=2C636230", 303, "text/html", {NULL, NULL, NULL, NULL}, "/commits/2c6362308d6f0ac578fee055f120fa766638b970"},
        {"/lookup", "q=+alice+", 303, "text/html", {NULL, NULL, NULL, NULL}, "/signers/alice"},
        {"/lookup", "q=67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0", 303, "text/html", {NULL, NULL, NULL, NULL}, "/commits/67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0"},
        {"/lookup", "q=deadbeef99", 404, "text/html", {"Nothing found", "deadbeef99", NULL, NULL}, NULL},
        {"/lookup", "q=%3Cscript%3E", 400, "text/html", {"neither a commit", NULL, NULL, NULL}, NULL},
        {"/lookup", "q=", 303, "text/html", {NULL, NULL, NULL, NULL}, "/"},
        {"/badge/alice/gpukernels/2c6362308d6f0ac578fee055f120fa766638b970.svg", NULL, 200, "image/svg+xml", {">validated<", "#2da44e", NULL, NULL}, NULL},
        {"/badge/alice/gpukernels/67cb7fbed1021aa18a61b7dfa69fd7e93cf68ab0.svg", NULL, 200, "image/svg+xml", {">failed<", NULL, NULL, NULL}, NULL},
        {"/badge/alice/gpukernels/ffffffffffffffffffffffffffffffffffffffff.svg", NULL, 200, "image/svg+xml", {">not validated<", NULL, NULL, NULL}, NULL},
        {"/badge/alice/gpukernels/2c63623.svg", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/static/style.css", NULL, 200, "text/css", {"prefers-color-scheme", NULL, NULL, NULL}, NULL},
        {"/static/app.js", NULL, 200, "text/javascript", {"textContent", NULL, NULL, NULL}, NULL},
        {"/static/../layout.html", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/static/..%2flayout.html", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/static/%2e%2e/layout.html", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/static/x/../../layout.html", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/static/layout.html", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/static/.hidden.css", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/static/missing.css", NULL, 404, "text/html", {NULL, NULL, NULL, NULL}, NULL},
        {"/nope", NULL, 404, "text/html", {"No such page", NULL, NULL, NULL}, NULL},
    };
    static char dir[4096];
    const char *src = getenv("GP_SOURCE_DIR");
    (void)state;
    if (!src)
        skip();
    snprintf(dir, sizeof(dir), "%s/web", src);
    fake_web_dir = dir;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const page_case *c = &cases[i];
        gp_buf body = GP_BUF_INIT(1 << 24);
        int status = 0;
        const char *ctype = NULL;
        int rc = pages_handle(NULL, c->path, c->query, &body, &status, &ctype);
        if (rc != 0 || status != c->status)
            print_error("case %zu %s?%s: rc %d status %d (%s)\n", i, c->path, c->query ? c->query : "", rc, status,
                        gp_error_last());
        assert_int_equal(rc, 0);
        assert_int_equal(status, c->status);
        assert_non_null(ctype);
        assert_true(strncmp(ctype, c->ctype_prefix, strlen(c->ctype_prefix)) == 0);
        assert_non_null(body.ptr);
        for (int k = 0; k < 4 && c->must[k]; k++) {
            if (!strstr(body.ptr, c->must[k]))
                print_error("case %zu %s: missing %s\n", i, c->path, c->must[k]);
            assert_non_null(strstr(body.ptr, c->must[k]));
        }
        if (c->location) {
            assert_non_null(pages_location());
            assert_string_equal(pages_location(), c->location);
        } else {
            assert_null(pages_location());
        }
        assert_non_null(pages_cache_control());
        if (strncmp(ctype, "text/html", 9) == 0) {
            assert_no_injection(body.ptr);
            assert_non_null(strstr(body.ptr, "<!doctype html>"));
            if (c->status == 200 && strncmp(c->path, "/lookup", 7) != 0 && strncmp(c->path, "/commits/2c63623", 17) != 0 &&
                strcmp(c->path, "/commits/2c63623") != 0)
                assert_non_null(strstr(body.ptr, "<link rel=\"alternate\" type=\"application/json\" href=\"/api/"));
            save_preview(c->path, &body);
        }
        gp_buf_free(&body);
    }
}

static void test_pages_doc_errors(void **state)
{
    static char dir[4096];
    const char *src = getenv("GP_SOURCE_DIR");
    gp_buf body = GP_BUF_INIT(1 << 24);
    int status = 0;
    const char *ctype = NULL;
    (void)state;
    if (!src)
        skip();
    snprintf(dir, sizeof(dir), "%s/web", src);
    fake_web_dir = dir;
    fake_doc_error = GP_ERROR;
    assert_int_equal(pages_handle(NULL, "/", NULL, &body, &status, &ctype), 0);
    assert_int_equal(status, 503);
    gp_buf_reset(&body);
    fake_doc_error = GP_EINVALID;
    assert_int_equal(pages_handle(NULL, "/signers/alice", NULL, &body, &status, &ctype), 0);
    assert_int_equal(status, 400);
    fake_doc_error = 0;
    gp_buf_free(&body);
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
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_pages_doc_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
