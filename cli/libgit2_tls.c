/*
 * libgit2_tls.c - keeps git_libgit2_init() from parsing the system CA bundle in gpuproof-cli.
 *
 * libgit2 built with mbedTLS (Debian's libgit2-1.5) loads and parses every certificate of
 * /etc/ssl/certs/ca-certificates.crt inside git_libgit2_init(): about 10 ms of CPU, a third of a
 * whole `gpuproof-cli verify` (docs/performance.md). gpuproof-cli never lets libgit2 open a
 * network connection (repositories are local; keys and the server are fetched with libcurl,
 * which has its own CA store), so those certificates are never used.
 *
 * This definition in the executable takes the place of mbedTLS's for libgit2 (the dynamic linker
 * binds libgit2's reference to the executable's symbol first): it loads nothing and reports
 * success. Should libgit2 ever be asked for TLS here, it would have no trusted CA and refuse
 * every certificate: it fails closed. With a libgit2 built on OpenSSL or WinHTTP this function
 * is simply never called.
 */
struct mbedtls_x509_crt;

int mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain, const char *path);

int mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain, const char *path)
{
    (void)chain;
    (void)path;
    return 0;
}
