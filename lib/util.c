/*
 * util.c - hex, SHA-256, base64, timestamps and login checks (see util.h).
 */
#include "util.h"
#include "error.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gp_sha256(unsigned char out[GP_SHA256_LEN], const void *data, size_t len)
{
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void gp_hex(char *out, const unsigned char *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void gp_sha256_hex(char out[GP_SHA256_HEX_LEN + 1], const void *data, size_t len)
{
    unsigned char md[GP_SHA256_LEN];
    gp_sha256(md, data, len);
    gp_hex(out, md, sizeof(md));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int gp_unhex(unsigned char *out, size_t outlen, const char *hex, size_t hexlen)
{
    if (hexlen != 2 * outlen) return gp_error_setf(GP_EINVALID, "expected %zu hex digits", 2 * outlen);
    for (size_t i = 0; i < outlen; i++) {
        int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return gp_error_setf(GP_EINVALID, "not a hex digit");
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

bool gp_is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (hexval((unsigned char)s[i]) < 0) return false;
    return true;
}

int gp_base64_encode(char **out, const unsigned char *in, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *p = malloc(n);
    if (!p) return gp_error_setf(GP_ERROR, "out of memory");
    sodium_bin2base64(p, n, in, len, sodium_base64_VARIANT_ORIGINAL);
    *out = p;
    return 0;
}

int gp_base64_decode(unsigned char **out, size_t *outlen, const char *in, size_t inlen)
{
    if (inlen % 4 != 0) return gp_error_setf(GP_EINVALID, "not padded standard base64");
    size_t cap = inlen / 4 * 3 + 1;
    unsigned char *p = malloc(cap);
    const char *end = NULL;
    if (!p) return gp_error_setf(GP_ERROR, "out of memory");
    if (sodium_base642bin(p, cap, in, inlen, NULL, outlen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != in + inlen) {
        free(p);
        return gp_error_setf(GP_EINVALID, "not padded standard base64");
    }
    *out = p;
    return 0;
}

void gp_base64_nopad(char *out, const unsigned char *in, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_bin2base64(out, n, in, len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

int gp_time_parse(time_t *out, const char *s)
{
    int y, mo, d, h, mi, se;
    char z, tail;
    if (!s || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%c", &y, &mo, &d, &h, &mi, &se, &z,
                               &tail) != 7 || z != 'Z')
        return gp_error_setf(GP_EINVALID, "not a YYYY-MM-DDTHH:MM:SSZ timestamp");
    for (int i = 0; i < 19; i++) {
        if (i == 4 || i == 7 || i == 10 || i == 13 || i == 16) continue;
        if (s[i] < '0' || s[i] > '9') return gp_error_setf(GP_EINVALID, "not a YYYY-MM-DDTHH:MM:SSZ timestamp");
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
        mi > 59 || se > 60)
        return gp_error_setf(GP_EINVALID, "timestamp is not a valid date and time");
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
                    .tm_sec = se};
    *out = timegm(&tm);
    return 0;
}

void gp_time_format(char out[21], time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool gp_login_valid(const char *login)
{
    if (!login) return false;
    size_t n = strlen(login);
    if (n < 1 || n > 39 || login[0] == '-' || login[n - 1] == '-') return false;
    for (size_t i = 0; i < n; i++) {
        char c = login[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || (c == '-' && login[i + 1] == '-')) return false;
    }
    return true;
}

bool gp_memeq(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}
