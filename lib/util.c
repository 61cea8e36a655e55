/*
 * util.c - hex, SHA-256, base64, timestamps and login checks (see util.h).
 */
#include "util.h"
#include "error.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256: libsodium for the first SODIUM_SHA256_BUDGET bytes, then OpenSSL ----------- */

#define SODIUM_SHA256_BUDGET (256u << 10)

static atomic_size_t sodium_sha256_bytes;
static pthread_once_t sha256_md_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* fetched once, kept for the process */

/* Whether `len` more bytes go to libsodium: until the process has hashed the budget there.
 * Threads racing past the limit overshoot it a little, which only costs speed. */
static bool sha256_by_sodium(size_t len)
{
    size_t used = atomic_load_explicit(&sodium_sha256_bytes, memory_order_relaxed);
    if (used > SODIUM_SHA256_BUDGET || len > SODIUM_SHA256_BUDGET - used || sodium_init() < 0)
        return false;
    atomic_fetch_add_explicit(&sodium_sha256_bytes, len, memory_order_relaxed);
    return true;
}

static void sha256_md_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* OpenSSL's SHA-256, fetched once rather than looked up again on every digest. */
static const EVP_MD *evp_sha256(void)
{
    pthread_once(&sha256_md_once, sha256_md_fetch);
    return sha256_md ? sha256_md : EVP_sha256();
}

void gp_sha256(unsigned char out[GP_SHA256_LEN], const void *data, size_t len)
{
    unsigned int n = 0;
    if (sha256_by_sodium(len))
        crypto_hash_sha256(out, data, len);
    else
        EVP_Digest(data, len, out, &n, evp_sha256(), NULL);
}

struct gp_sha256_ctx {
    EVP_MD_CTX *evp; /* NULL: libsodium's state below */
    crypto_hash_sha256_state st;
};

gp_sha256_ctx *gp_sha256_begin(size_t size_hint)
{
    gp_sha256_ctx *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    if (sha256_by_sodium(size_hint)) {
        crypto_hash_sha256_init(&c->st);
    } else if (!(c->evp = EVP_MD_CTX_new()) || EVP_DigestInit_ex(c->evp, evp_sha256(), NULL) != 1) {
        gp_sha256_free(c);
        return NULL;
    }
    return c;
}

void gp_sha256_update(gp_sha256_ctx *c, const void *data, size_t len)
{
    if (c->evp)
        EVP_DigestUpdate(c->evp, data, len);
    else
        crypto_hash_sha256_update(&c->st, data, len);
}

void gp_sha256_end(gp_sha256_ctx *c, unsigned char out[GP_SHA256_LEN])
{
    if (!c) return;
    if (c->evp)
        EVP_DigestFinal_ex(c->evp, out, NULL);
    else
        crypto_hash_sha256_final(&c->st, out);
    gp_sha256_free(c);
}

void gp_sha256_free(gp_sha256_ctx *c)
{
    if (!c) return;
    EVP_MD_CTX_free(c->evp);
    free(c);
}

/* ---- hex, base64, time, logins ------------------------------------------------------------ */

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
    /* timegm() without it: glibc's reads /etc/localtime on first use, which UTC never needs.
     * Days since 1970-01-01 of the proleptic Gregorian calendar, counting years from March so
     * that the leap day ends a year (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"). */
    int ya = mo <= 2 ? y - 1 : y;
    int era = (ya >= 0 ? ya : ya - 399) / 400; /* ya is -1 for January 0000 */
    int yoe = ya - era * 400;
    int doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long days = (long long)era * 146097 + doe - 719468;
    *out = (time_t)(days * 86400 + h * 3600 + mi * 60 + se);
    return 0;
}

void gp_time_format(char out[21], time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint32_t gp_hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 16777619u;
    return h;
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
