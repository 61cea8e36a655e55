/*
 * util.h - small shared helpers: hex, SHA-256, standard base64, UTC timestamps, GitHub logins.
 *
 * SHA-256 is libsodium's for the first 256 KiB a process hashes and OpenSSL's (EVP) after that:
 * OpenSSL's first digest sets up its provider and algorithm tables (about 1 ms, a sixth of a
 * whole `gpuproof-cli verify`), libsodium's costs nothing to start but runs at a quarter of the
 * speed, so small jobs never pay for OpenSSL and large ones hash at its speed. The two give the
 * same digests. base64 is libsodium's, in the padded standard alphabet with no whitespace
 * allowed, which is exactly what receipt-v1.md requires of signature values.
 */
#ifndef GP_UTIL_H
#define GP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GP_SHA256_LEN 32
#define GP_SHA256_HEX_LEN 64

void gp_sha256(unsigned char out[GP_SHA256_LEN], const void *data, size_t len);

/* Incremental SHA-256 (thread-safe; one context per thread). */
typedef struct gp_sha256_ctx gp_sha256_ctx;
/* Starts a digest of about `size_hint` bytes (the implementation is chosen from it; more or
 * fewer bytes are fine). NULL when out of memory or SHA-256 is unavailable. */
gp_sha256_ctx *gp_sha256_begin(size_t size_hint);
void gp_sha256_update(gp_sha256_ctx *c, const void *data, size_t len);
/* Writes the digest into out and frees c. NULL is a no-op. */
void gp_sha256_end(gp_sha256_ctx *c, unsigned char out[GP_SHA256_LEN]);
/* Frees c without a digest (error paths). NULL is a no-op. */
void gp_sha256_free(gp_sha256_ctx *c);
/* Writes 2*len lower-case hex digits and a NUL into out (size 2*len+1). */
void gp_hex(char *out, const unsigned char *in, size_t len);
/* Writes the lower-case hex SHA-256 (64 digits + NUL) of data into out. */
void gp_sha256_hex(char out[GP_SHA256_HEX_LEN + 1], const void *data, size_t len);
/* Decodes exactly 2*outlen hex digits (either case); GP_EINVALID otherwise. */
int gp_unhex(unsigned char *out, size_t outlen, const char *hex, size_t hexlen);
/* True when s is exactly n hex digits (either case). */
bool gp_is_hex(const char *s, size_t n);

/* Standard padded base64. Encode: caller frees *out (NUL-terminated). */
int gp_base64_encode(char **out, const unsigned char *in, size_t len);
/* Strict decode: padded standard alphabet, no whitespace; GP_EINVALID otherwise. Caller frees. */
int gp_base64_decode(unsigned char **out, size_t *outlen, const char *in, size_t inlen);
/* Unpadded base64 (as in "SHA256:..." fingerprints); out must hold 4*ceil(len/3)+1 bytes. */
void gp_base64_nopad(char *out, const unsigned char *in, size_t len);

/* Parses "YYYY-MM-DDTHH:MM:SSZ" (exactly that layout, a valid date); GP_EINVALID otherwise. */
int gp_time_parse(time_t *out, const char *s);
/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into out (21 bytes). */
void gp_time_format(char out[21], time_t t);

/* FNV-1a of a NUL-terminated string: the slot of a key in the small fixed tables (not for
 * anything an attacker must not steer; the tables bound their size, not their collisions). */
uint32_t gp_hash_str(const char *s);

/* A valid GitHub login: 1-39 of [A-Za-z0-9-], no leading/trailing hyphen, no "--". */
bool gp_login_valid(const char *login);

/* Constant-time comparison of two equal-length buffers. */
bool gp_memeq(const void *a, const void *b, size_t len);

#endif
