/*
 * libgit2_tls.c - keeps git_libgit2_init() from setting up network transports gpuproof-cli
 * never uses.
 *
 * gpuproof-cli never lets libgit2 open a network connection: repositories are local; keys and
 * the server are fetched with libcurl, which has its own TLS setup. Yet git_libgit2_init() of
 * Debian's libgit2-1.5 readies its TLS (mbedTLS) and SSH (libssh2) transports on every call, and
 * that was most of the CPU time of a whole `gpuproof-cli verify` (docs/performance.md). The
 * definitions below, in the executable, take the place of the libraries' own for libgit2 (the
 * dynamic linker binds a library's reference to the executable's symbol first). The server
 * does not link this file.
 *
 *   mbedtls_x509_crt_parse_file  loads and parses every certificate of the system CA bundle
 *                                (about 10 ms). Here it loads nothing: should libgit2 ever be
 *                                asked for TLS, it has no trusted CA and refuses every
 *                                certificate, so it fails closed.
 *   libssh2_init                 initialises libssh2's crypto back end, which for OpenSSL loads
 *                                and registers OpenSSL's built-in engines and error strings
 *                                (about 0.4 ms). Here it does nothing; OpenSSL initialises
 *                                itself on first use, and libssh2 (also libcurl's) is never
 *                                asked for a session by gpuproof-cli.
 *   mbedtls_havege_init          fills the state of mbedTLS's (deprecated) HAVEGE entropy
 *                                source with about a million instructions of timed,
 *                                cache-thrashing loops (an eighth of a whole verify), for the
 *                                DRBG libgit2 seeds for TLS it never does here. Here it only
 *                                zeroes the state, as the real function does first; that DRBG
 *                                is seeded from the platform's getrandom() source as well.
 *
 * With a libgit2 built on OpenSSL or without SSH support these functions are simply never
 * called. When libgit2 is linked from its static archives (CMakeLists.txt, GP_LIBGIT2_STATIC),
 * the same functions are put in place with the linker's --wrap, which sends every reference to
 * NAME to __wrap_NAME.
 */
#ifdef GP_LIBGIT2_STATIC
#define REPLACE(name) __wrap_##name
#else
#define REPLACE(name) name
#endif

struct mbedtls_x509_crt;

int REPLACE(mbedtls_x509_crt_parse_file)(struct mbedtls_x509_crt *chain, const char *path);
int REPLACE(libssh2_init)(int flags);

int REPLACE(mbedtls_x509_crt_parse_file)(struct mbedtls_x509_crt *chain, const char *path)
{
    (void)chain;
    (void)path;
    return 0;
}

int REPLACE(libssh2_init)(int flags)
{
    (void)flags;
    return 0;
}

#if defined(__has_include)
#if __has_include(<mbedtls/havege.h>)
#include <mbedtls/havege.h>
#include <string.h>

#if defined(MBEDTLS_HAVEGE_C)
void REPLACE(mbedtls_havege_init)(mbedtls_havege_state *hs);
void REPLACE(mbedtls_havege_init)(mbedtls_havege_state *hs)
{
    memset(hs, 0, sizeof(*hs));
}
#endif
#endif
#endif
