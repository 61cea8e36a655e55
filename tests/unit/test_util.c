/*
 * test_util.c - lib/util.c's SHA-256 (libsodium within its budget, OpenSSL after) and its
 * timestamp parser.
 *
 * SHA-256: FIPS 180-2 known answers through gp_sha256() and the incremental interface, cut
 * into pieces of every size, first while the process is within libsodium's 256 KiB budget,
 * then again after spending it (OpenSSL), and against OpenSSL's EVP_Digest on random data on
 * both sides of the budget, so that both implementations are checked against the same answers.
 *
 * gp_time_parse: against glibc's timegm() for every day of 1900-2100, the ends of the range
 * (0000, 9999), leap days and a leap second, and the malformed forms it must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *msg;
    const char *hex;
} kat[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};
/* one million 'a' */
static const char million_a[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void hex_of(char out[65], const unsigned char md[32])
{
    gp_hex(out, md, 32);
}

/* The known answers through both interfaces; the incremental one in pieces of `piece` bytes. */
static void check_kat(size_t hint, size_t piece)
{
    for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
        unsigned char md[32];
        char hex[65];
        size_t len = strlen(kat[i].msg);
        gp_sha256(md, kat[i].msg, len);
        hex_of(hex, md);
        assert_string_equal(hex, kat[i].hex);

        gp_sha256_ctx *c = gp_sha256_begin(hint);
        assert_non_null(c);
        for (size_t off = 0; off < len; off += piece)
            gp_sha256_update(c, kat[i].msg + off, len - off < piece ? len - off : piece);
        gp_sha256_end(c, md);
        hex_of(hex, md);
        assert_string_equal(hex, kat[i].hex);
    }
}

static void check_million_a(size_t hint)
{
    static char block[1000];
    unsigned char md[32];
    char hex[65];
    memset(block, 'a', sizeof(block));
    gp_sha256_ctx *c = gp_sha256_begin(hint);
    assert_non_null(c);
    for (int i = 0; i < 1000; i++)
        gp_sha256_update(c, block, sizeof(block));
    gp_sha256_end(c, md);
    hex_of(hex, md);
    assert_string_equal(hex, million_a);
}

/* Random data of many lengths against OpenSSL's one-shot digest. */
static void check_random(void)
{
    unsigned char data[3000], want[32], got[32];
    unsigned int n;
    srand(7);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)rand();
    for (size_t len = 0; len <= sizeof(data); len += len < 130 ? 1 : 97) {
        assert_int_equal(EVP_Digest(data, len, want, &n, EVP_sha256(), NULL), 1);
        gp_sha256(got, data, len);
        assert_memory_equal(got, want, 32);
        gp_sha256_ctx *c = gp_sha256_begin(len);
        assert_non_null(c);
        gp_sha256_update(c, data, len / 3);
        gp_sha256_update(c, data + len / 3, len - len / 3);
        gp_sha256_end(c, got);
        assert_memory_equal(got, want, 32);
    }
}

static void test_sha256_within_budget(void **state)
{
    (void)state;
    /* small inputs first: this process has hashed nothing yet, so libsodium answers */
    check_kat(0, 1);
    check_kat(56, 7);
    check_kat(100, 64);
    check_random(); /* about 110 KB in all: still within the budget */
}

static void test_sha256_past_budget(void **state)
{
    (void)state;
    /* 1 MB with a hint over the budget goes to OpenSSL; then spend what is left of the budget */
    check_million_a(1000000);
    unsigned char md[32], buf[4096] = {0};
    for (int i = 0; i < 100; i++)
        gp_sha256(md, buf, sizeof(buf));
    check_kat(0, 1);
    check_kat(56, 3);
    check_million_a(0);
    check_random();
}

static void test_sha256_free(void **state)
{
    (void)state;
    gp_sha256_end(NULL, NULL);
    gp_sha256_free(NULL);
    gp_sha256_ctx *c = gp_sha256_begin(10);
    assert_non_null(c);
    gp_sha256_update(c, "abc", 3);
    gp_sha256_free(c); /* abandoned: no leak under the sanitizer */
}

static void expect_time(const char *s, int y, int mo, int d, int h, int mi, int se)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    time_t want = timegm(&tm), got = 0;
    assert_int_equal(gp_time_parse(&got, s), 0);
    if (got != want) fail_msg("%s: %lld, timegm says %lld", s, (long long)got, (long long)want);
}

static void test_time_parse(void **state)
{
    (void)state;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char s[32];
    time_t t;
    for (int y = 1900; y <= 2100; y++) {
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for (int mo = 1; mo <= 12; mo++) {
            int n = mdays[mo - 1] + (mo == 2 && leap);
            for (int d = 1; d <= n; d++) {
                int h = (y + d) % 24, mi = (mo * 7 + d) % 60, se = (y + mo + d) % 60;
                snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, se);
                expect_time(s, y, mo, d, h, mi, se);
            }
        }
    }
    expect_time("1970-01-01T00:00:00Z", 1970, 1, 1, 0, 0, 0);
    assert_int_equal(gp_time_parse(&t, "1970-01-01T00:00:00Z"), 0);
    assert_int_equal(t, 0);
    expect_time("0000-01-01T00:00:00Z", 0, 1, 1, 0, 0, 0);
    expect_time("0000-02-29T12:00:00Z", 0, 2, 29, 12, 0, 0);
    expect_time("0000-03-01T00:00:00Z", 0, 3, 1, 0, 0, 0);
    expect_time("0001-01-01T00:00:00Z", 1, 1, 1, 0, 0, 0);
    expect_time("1600-02-29T23:59:59Z", 1600, 2, 29, 23, 59, 59);
    expect_time("1969-12-31T23:59:59Z", 1969, 12, 31, 23, 59, 59);
    expect_time("2016-12-31T23:59:60Z", 2016, 12, 31, 23, 59, 60); /* a leap second */
    expect_time("2400-02-29T00:00:00Z", 2400, 2, 29, 0, 0, 0);
    expect_time("9999-12-31T23:59:59Z", 9999, 12, 31, 23, 59, 59);

    static const char *bad[] = {
        "",
        "2026-11-28T20:30:00",
        "2026-11-28T20:30:00z",
        "2026-11-28 20:30:00Z",
        "2026-11-28T20:30:00+00:00",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T23:60:00Z",
        "2026-11-28T23:59:61Z",
        "2026-11-2xT23:59:59Z",
        "-026-11-28T23:59:59Z",
        "2026-11-28T23:59:59ZZ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (gp_time_parse(&t, bad[i]) != GP_EINVALID) fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(gp_time_parse(&t, NULL), GP_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_within_budget), /* first: the budget is per process */
        cmocka_unit_test(test_sha256_past_budget),
        cmocka_unit_test(test_sha256_free),
        cmocka_unit_test(test_time_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
