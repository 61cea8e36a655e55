/*
 * note.c - C2SP signed notes (signed-note.md) and tlog checkpoints (tlog-checkpoint.md) with
 * Ed25519 from libsodium, and the server's key file.
 *
 * A note is text (UTF-8 lines, each ending in "\n", none empty, no control characters but the
 * newline), an empty line, and one or more signature lines "— NAME BASE64\n" (U+2014, a space).
 * BASE64 decodes to a 4-byte key id and the signature. The parser is strict, as Go's
 * golang.org/x/mod/sumdb/note is: the note is split at its last "\n\n", at most 100 signature
 * lines, every line well-formed; unknown signers are skipped, a known one that fails rejects.
 *
 * Secret keys live in sodium_malloc()ed memory and are wiped when cleared. The key file is the
 * 32-byte Ed25519 seed, raw, created 0600 with O_EXCL|O_NOFOLLOW and refused when group or
 * others can read it.
 */
#include "note.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOTE_MAX_LEN (1u << 20) /* bytes in a whole note */
#define NOTE_MAX_SIGS 100       /* signature lines, as Go's note.Open */
#define NOTE_MAX_SIG_LEN 1024   /* decoded bytes of one signature (key id + signature) */
#define ALG_ED25519 0x01

static const char em_dash[] = "\xe2\x80\x94 "; /* U+2014 and a space: starts a signature line */

/* Decodes one UTF-8 sequence at s[0..n): its length (1-4) and *cp, or 0 when malformed. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t len;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        len = 2, c &= 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, c &= 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

static bool is_unicode_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Valid UTF-8 with no control characters other than "\n". */
static bool text_chars_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t l = utf8_next(p + i, n - i, &c);
        if (l == 0 || (c < 0x20 && c != '\n') || c == 0x7f) return false;
        i += l;
    }
    return true;
}

/* A key name: 1-255 bytes of UTF-8, no spaces (Unicode's either), no '+', no controls. */
static bool name_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0 || n > 255) return false;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t l = utf8_next(p + i, n - i, &c);
        if (l == 0 || c < 0x20 || c == 0x7f || c == '+' || is_unicode_space(c)) return false;
        i += l;
    }
    return true;
}

/* Note text: non-empty, ends in "\n", no empty line, valid characters. */
static int check_text(const char *text, size_t len)
{
    if (len == 0 || text[len - 1] != '\n')
        return gp_error_setf(GP_EINVALID, "note text must be non-empty and end in a newline");
    if (text[0] == '\n' || memmem(text, len, "\n\n", 2))
        return gp_error_setf(GP_EINVALID, "note text must not contain an empty line");
    if (!text_chars_ok(text, len))
        return gp_error_setf(
            GP_EINVALID, "note text must be UTF-8 without control characters other than newline");
    return 0;
}

static void key_id(unsigned char out[4], const char *name, const unsigned char pk[32])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    static const unsigned char sep[2] = {'\n', ALG_ED25519};
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, sizeof(sep));
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, h, 4);
}

static int set_name(gp_note_signer *s, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!name_ok(name ? name : "", n))
        return gp_error_setf(GP_EINVALID,
                             "key name must be 1-255 bytes of UTF-8 without spaces or '+'");
    memcpy(s->name, name, n + 1);
    return 0;
}

int gp_note_signer_from_seed(gp_note_signer *out, const char *name, const unsigned char seed[32])
{
    int error;
    memset(out, 0, sizeof(*out));
    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium failed to initialise");
    if ((error = set_name(out, name)) < 0) return error;
    out->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!out->sk) return gp_error_setf(GP_ERROR, "out of memory for a secret key");
    crypto_sign_seed_keypair(out->pk, out->sk, seed);
    key_id(out->key_id, out->name, out->pk);
    return 0;
}

int gp_note_keygen(gp_note_signer *out, const char *name)
{
    unsigned char seed[32];
    int error;
    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium failed to initialise");
    randombytes_buf(seed, sizeof(seed));
    error = gp_note_signer_from_seed(out, name, seed);
    sodium_memzero(seed, sizeof(seed));
    return error;
}

void gp_note_signer_clear(gp_note_signer *s)
{
    if (!s) return;
    sodium_free(s->sk); /* wipes it; NULL is a no-op */
    sodium_memzero(s, sizeof(*s));
}

int gp_note_verifier_string(char **out, const gp_note_signer *s)
{
    unsigned char raw[33];
    char hex[9], *b64 = NULL, *str = NULL;
    int error;
    raw[0] = ALG_ED25519;
    memcpy(raw + 1, s->pk, 32);
    gp_hex(hex, s->key_id, 4);
    if ((error = gp_base64_encode(&b64, raw, sizeof(raw))) < 0) return error;
    if (asprintf(&str, "%s+%s+%s", s->name, hex, b64) < 0) {
        free(b64);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    free(b64);
    *out = str;
    return 0;
}

int gp_note_verifier_parse(gp_note_signer *out, const char *vkey)
{
    const char *plus1, *plus2;
    unsigned char *raw = NULL, id[4];
    size_t rawlen = 0, vlen = vkey ? strlen(vkey) : 0;
    int error = 0;
    memset(out, 0, sizeof(*out));
    if (vlen == 0 || vlen > 512 || !(plus1 = strchr(vkey, '+')) ||
        !(plus2 = strchr(plus1 + 1, '+')))
        return gp_error_setf(GP_EINVALID, "a verifier key is NAME+KEYID+BASE64KEY");
    size_t nlen = (size_t)(plus1 - vkey);
    if (!name_ok(vkey, nlen))
        return gp_error_setf(GP_EINVALID, "verifier key name must be UTF-8 without spaces or '+'");
    memcpy(out->name, vkey, nlen);
    out->name[nlen] = '\0';
    if (plus2 - plus1 - 1 != 8 || gp_unhex(id, 4, plus1 + 1, 8) < 0) {
        error = gp_error_setf(GP_EINVALID, "verifier key id must be 8 hex digits");
        goto done;
    }
    if (gp_base64_decode(&raw, &rawlen, plus2 + 1, strlen(plus2 + 1)) < 0 || rawlen != 33 ||
        raw[0] != ALG_ED25519) {
        error = gp_error_setf(GP_EUNSUPPORTED,
                              "verifier key is not base64 of an Ed25519 key (0x01 and 32 bytes)");
        goto done;
    }
    memcpy(out->pk, raw + 1, 32);
    key_id(out->key_id, out->name, out->pk);
    if (memcmp(id, out->key_id, 4) != 0)
        error = gp_error_setf(GP_EINVALID, "verifier key id does not match its name and key");
done:
    free(raw);
    if (error < 0) memset(out, 0, sizeof(*out));
    return error;
}

int gp_note_sign(char **out, const char *text, size_t len, const gp_note_signer *s)
{
    unsigned char sig[4 + crypto_sign_BYTES];
    char *b64 = NULL, *note = NULL;
    int error;
    if (!s->sk) return gp_error_setf(GP_EINVALID, "a verifier key cannot sign");
    if (len > NOTE_MAX_LEN / 2) return gp_error_setf(GP_ETOOBIG, "note text is too long");
    if ((error = check_text(text, len)) < 0) return error;
    memcpy(sig, s->key_id, 4);
    crypto_sign_detached(sig + 4, NULL, (const unsigned char *)text, len, s->sk);
    if ((error = gp_base64_encode(&b64, sig, sizeof(sig))) < 0) return error;
    size_t nlen = strlen(s->name), blen = strlen(b64);
    size_t total = len + 1 + (sizeof(em_dash) - 1) + nlen + 1 + blen + 1;
    if (!(note = malloc(total + 1))) {
        free(b64);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    char *p = note;
    memcpy(p, text, len), p += len;
    *p++ = '\n';
    memcpy(p, em_dash, sizeof(em_dash) - 1), p += sizeof(em_dash) - 1;
    memcpy(p, s->name, nlen), p += nlen;
    *p++ = ' ';
    memcpy(p, b64, blen), p += blen;
    *p++ = '\n';
    *p = '\0';
    free(b64);
    *out = note;
    return 0;
}

/* Finds the last "\n\n" in s[0..n): its offset, or -1. */
static long last_blank(const char *s, size_t n)
{
    for (size_t i = n; i-- > 1;)
        if (s[i] == '\n' && s[i - 1] == '\n') return (long)(i - 1);
    return -1;
}

int gp_note_verify(const char *note, size_t len, const gp_note_signer *v, size_t *text_len)
{
    unsigned char *sig = NULL;
    size_t siglen = 0, nsigs = 0;
    bool found = false, bad = false;
    int error = 0;
    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium failed to initialise");
    if (len > NOTE_MAX_LEN)
        return gp_error_setf(GP_ETOOBIG, "signed note is longer than %u bytes", NOTE_MAX_LEN);
    if (memchr(note, '\0', len) || !text_chars_ok(note, len))
        return gp_error_setf(GP_EINVALID,
                             "signed note is not UTF-8 text without control characters");
    long split = last_blank(note, len);
    if (split < 0)
        return gp_error_setf(GP_EINVALID, "signed note has no empty line before its signatures");
    size_t tlen = (size_t)split + 1;
    if ((error = check_text(note, tlen)) < 0) return error;
    const char *p = note + tlen + 1, *end = note + len;
    if (p == end) return gp_error_setf(GP_EINVALID, "signed note has no signature lines");
    if (end[-1] != '\n') return gp_error_setf(GP_EINVALID, "signed note must end in a newline");
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *sp;
        if (++nsigs > NOTE_MAX_SIGS) {
            error = gp_error_setf(GP_EINVALID, "signed note has more than %d signatures",
                                  NOTE_MAX_SIGS);
            goto done;
        }
        if ((size_t)(eol - p) < sizeof(em_dash) - 1 ||
            memcmp(p, em_dash, sizeof(em_dash) - 1) != 0) {
            error = gp_error_setf(GP_EINVALID,
                                  "signature line does not start with an em dash and a space");
            goto done;
        }
        const char *name = p + sizeof(em_dash) - 1;
        if (!(sp = memchr(name, ' ', (size_t)(eol - name))) ||
            !name_ok(name, (size_t)(sp - name))) {
            error = gp_error_setf(GP_EINVALID,
                                  "signature line must be '— NAME BASE64' with a valid name");
            goto done;
        }
        size_t b64len = (size_t)(eol - sp - 1);
        if (b64len > (NOTE_MAX_SIG_LEN / 3 + 1) * 4 ||
            gp_base64_decode(&sig, &siglen, sp + 1, b64len) < 0 || siglen < 5) {
            error = gp_error_setf(
                GP_EINVALID, "signature line does not hold base64 of a key id and a signature");
            goto done;
        }
        size_t nlen = (size_t)(sp - name);
        if (nlen == strlen(v->name) && memcmp(name, v->name, nlen) == 0 &&
            memcmp(sig, v->key_id, 4) == 0) {
            if (siglen == 4 + crypto_sign_BYTES &&
                crypto_sign_verify_detached(sig + 4, (const unsigned char *)note, tlen, v->pk) == 0)
                found = true;
            else
                bad = true;
        }
        free(sig);
        sig = NULL;
        p = eol + 1;
    }
    if (bad)
        error =
            gp_error_setf(GP_EBADSIG, "the signature by %s on this note does not verify", v->name);
    else if (!found)
        error = gp_error_setf(GP_ENOTFOUND,
                              "the note carries no signature by the key %s+%02x%02x%02x%02x",
                              v->name, v->key_id[0], v->key_id[1], v->key_id[2], v->key_id[3]);
    else if (text_len)
        *text_len = tlen;
done:
    free(sig);
    return error;
}

int gp_checkpoint_text(char **out, const char *origin, uint64_t size, const gp_hash root)
{
    char *b64 = NULL, *text = NULL;
    int error;
    if (!name_ok(origin ? origin : "", origin ? strlen(origin) : 0))
        return gp_error_setf(
            GP_EINVALID, "checkpoint origin must be 1-255 bytes of UTF-8 without spaces or '+'");
    if ((error = gp_base64_encode(&b64, root, GP_HASH_LEN)) < 0) return error;
    if (asprintf(&text, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64) < 0)
        error = gp_error_setf(GP_ERROR, "out of memory");
    else
        *out = text;
    free(b64);
    return error;
}

int gp_checkpoint_parse(char **origin, uint64_t *size, gp_hash root, const char *text, size_t len)
{
    const char *line[3], *end = text + len, *p = text;
    size_t llen[3];
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    int error;
    if ((error = check_text(text, len)) < 0) return error;
    for (int i = 0; i < 3; i++) {
        const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (!eol)
            return gp_error_setf(GP_EINVALID, "checkpoint needs origin, size and root hash lines");
        line[i] = p, llen[i] = (size_t)(eol - p), p = eol + 1;
    }
    /* Extension lines may follow (C2SP tlog-checkpoint); check_text() made them well-formed. */
    if (!name_ok(line[0], llen[0]))
        return gp_error_setf(GP_EINVALID, "checkpoint origin must be UTF-8 without spaces or '+'");
    uint64_t n = 0;
    if (llen[1] == 0 || llen[1] > 20 || (llen[1] > 1 && line[1][0] == '0'))
        return gp_error_setf(GP_EINVALID,
                             "checkpoint size must be a decimal number without leading zeros");
    for (size_t i = 0; i < llen[1]; i++) {
        unsigned d = (unsigned)(line[1][i] - '0');
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return gp_error_setf(GP_EINVALID,
                                 "checkpoint size must be a decimal number below 2^64");
        n = n * 10 + d;
    }
    if (gp_base64_decode(&raw, &rawlen, line[2], llen[2]) < 0 || rawlen != GP_HASH_LEN) {
        free(raw);
        return gp_error_setf(GP_EINVALID, "checkpoint root hash must be base64 of 32 bytes");
    }
    char *o = strndup(line[0], llen[0]);
    if (!o) {
        free(raw);
        return gp_error_setf(GP_ERROR, "out of memory");
    }
    memcpy(root, raw, GP_HASH_LEN);
    free(raw);
    *origin = o;
    *size = n;
    return 0;
}

int gp_checkpoint_open(char **origin, uint64_t *size, gp_hash root, const char *note, size_t len,
                       const gp_note_signer *v)
{
    size_t tlen = 0;
    char *o = NULL;
    int error;
    if ((error = gp_note_verify(note, len, v, &tlen)) < 0) return error;
    if ((error = gp_checkpoint_parse(&o, size, root, note, tlen)) < 0) return error;
    if (strcmp(o, v->name) != 0) {
        error = gp_error_setf(GP_EINVALID, "checkpoint origin '%s' is not the key's name '%s'", o,
                              v->name);
        free(o);
        return error;
    }
    *origin = o;
    return 0;
}

/* ---- the key file ------------------------------------------------------------------------ */

static int create_key_file(gp_note_signer *out, const char *path, const char *name)
{
    unsigned char *seed = NULL;
    int error = 0, fd = -1;
    if (!(seed = sodium_malloc(32)))
        return gp_error_setf(GP_ERROR, "out of memory for a secret key");
    randombytes_buf(seed, 32);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = errno == EEXIST ? GP_EEXISTS
                                : gp_error_setf(GP_ERROR, "cannot create ledger key file %s: %s",
                                                path, strerror(errno));
        goto done;
    }
    size_t off = 0;
    while (off < 32) {
        ssize_t w = write(fd, seed + off, 32 - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (off != 32 || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        error =
            gp_error_setf(GP_ERROR, "cannot write ledger key file %s: %s", path, strerror(errno));
        unlink(path);
        goto done;
    }
    error = gp_note_signer_from_seed(out, name, seed);
done:
    if (fd >= 0 && close(fd) != 0 && error == 0)
        error =
            gp_error_setf(GP_ERROR, "cannot write ledger key file %s: %s", path, strerror(errno));
    sodium_free(seed);
    return error;
}

static int load_key_file(gp_note_signer *out, const char *path, const char *name)
{
    unsigned char *seed = NULL;
    struct stat st;
    int error = 0, fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return gp_error_setf(errno == ENOENT ? GP_ENOTFOUND : GP_ERROR,
                             "cannot open ledger key file %s: %s%s", path, strerror(errno),
                             errno == ELOOP ? " (it is a symbolic link; use the real path)" : "");
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        error = gp_error_setf(GP_EINVALID, "ledger key file %s is not a regular file", path);
        goto done;
    }
    if (st.st_mode & 077) {
        error = gp_error_setf(GP_EINVALID,
                              "ledger key file %s can be read or written by group or others (mode "
                              "%03o): run 'chmod 600 %s'",
                              path, (unsigned)(st.st_mode & 0777), path);
        goto done;
    }
    if (!(seed = sodium_malloc(33))) {
        error = gp_error_setf(GP_ERROR, "out of memory for a secret key");
        goto done;
    }
    size_t off = 0;
    while (off < 33) {
        ssize_t r = read(fd, seed + off, 33 - off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            error = gp_error_setf(GP_ERROR, "cannot read ledger key file %s: %s", path,
                                  strerror(errno));
            goto done;
        }
        if (r == 0) break;
        off += (size_t)r;
    }
    if (off != 32) {
        error = gp_error_setf(
            GP_EINVALID,
            "ledger key file %s is not a gpuproof ledger key (32 bytes of Ed25519 seed)", path);
        goto done;
    }
    error = gp_note_signer_from_seed(out, name, seed);
done:
    sodium_free(seed);
    close(fd);
    return error;
}

int gp_note_signer_load_or_create(gp_note_signer *out, const char *path, const char *name,
                                  bool *created)
{
    int error;
    memset(out, 0, sizeof(*out));
    if (created) *created = false;
    if (sodium_init() < 0) return gp_error_setf(GP_ERROR, "libsodium failed to initialise");
    if (!name_ok(name ? name : "", name ? strlen(name) : 0))
        return gp_error_setf(GP_EINVALID,
                             "key name must be 1-255 bytes of UTF-8 without spaces or '+'");
    error = load_key_file(out, path, name);
    if (error != GP_ENOTFOUND) return error;
    error = create_key_file(out, path, name);
    if (error == GP_EEXISTS) return load_key_file(out, path, name); /* another process made it */
    if (error == 0 && created) *created = true;
    return error;
}
