/*
 * canonical.h - strict JSON parsing and Python-compatible canonical JSON.
 *
 * The receipt's signed bytes are what Python 3 prints for
 *     json.dumps(obj, sort_keys=True, separators=(",", ":"))      (ensure_ascii=True)
 * where obj = json.loads(file). jansson cannot keep integers past 64 bits, the exact spelling of
 * numbers or repeated keys, so receipts are parsed here into a small read-only tree (gp_json)
 * that keeps every value exactly, and dumped from it byte-for-byte as Python would.
 * See ../shared/spec/receipt-v1.md, "What is signed" and "Decisions".
 *
 * The parser refuses (GP_EINVALID, message naming the problem and its byte offset): invalid
 * UTF-8, a BOM, lone surrogate escapes, control characters in strings, repeated keys in one
 * object (compared after unescaping), NaN/Infinity, numbers that overflow a double, integers of
 * more than 4300 digits, nesting deeper than 512, trailing garbage.
 */
#ifndef GP_CANONICAL_H
#define GP_CANONICAL_H

#include "buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    GP_JSON_NULL,
    GP_JSON_FALSE,
    GP_JSON_TRUE,
    GP_JSON_INT,   /* a JSON number without '.', 'e', 'E': exact, unbounded */
    GP_JSON_REAL,  /* any other number: an IEEE double */
    GP_JSON_STRING,
    GP_JSON_ARRAY,
    GP_JSON_OBJECT,
} gp_json_type;

typedef struct gp_json gp_json;

/*
 * Parses one JSON document of `len` bytes (need not be NUL-terminated). On success *out is
 * owned by the caller; on failure *out is NULL and the message says what and at which byte.
 * The tree does not point into buf. Every node, key and string of the tree lives until
 * gp_json_free() of its root; the tree is read-only and may be read from several threads.
 * Strings are valid UTF-8 (no surrogates) and may hold embedded NULs (use the length).
 */
int gp_json_parse(gp_json **out, const char *buf, size_t len);
/* Frees a root returned by gp_json_parse/gp_json_from_jansson; NULL or a borrowed node: no-op. */
void gp_json_free(gp_json *v);

gp_json_type gp_json_typeof(const gp_json *v);
bool gp_json_is_number(const gp_json *v); /* INT or REAL */

/* Object member by key (NULL when absent or v is not an object). Borrowed. */
const gp_json *gp_json_get(const gp_json *obj, const char *key);
/* Number of elements of an array / members of an object; 0 otherwise. */
size_t gp_json_size(const gp_json *v);
/* Array element or object member value at i (objects keep their members sorted by key). */
const gp_json *gp_json_at(const gp_json *v, size_t i);
/* Object member key at i (NUL-terminated UTF-8). */
const char *gp_json_key_at(const gp_json *obj, size_t i);

/* String value (UTF-8, NUL-terminated; *len excludes the NUL and may count embedded NULs). */
const char *gp_json_string(const gp_json *v, size_t *len);
/* Integer value if it fits in int64 (0), GP_ETOOBIG if it does not, GP_EINVALID if not an INT. */
int gp_json_int64(const gp_json *v, int64_t *out);
/* Numeric value as a double (INT or REAL); 0.0 for anything else. */
double gp_json_double(const gp_json *v);
/* The canonical spelling of a number ("3", "0.1", "1e-05"). Borrowed. */
const char *gp_json_number_text(const gp_json *v);

/*
 * Canonical bytes: Python's json.dumps(v, sort_keys=True, separators=(",", ":")). When
 * `omit_key` is not NULL and v is an object, that top-level member is left out (the signed bytes
 * omit "signature"). *out is NUL-terminated ASCII; caller frees.
 */
int gp_json_canonical(char **out, size_t *len, const gp_json *v, const char *omit_key);

/*
 * Python's json.dumps(v, sort_keys=True, indent=indent) (separators ", " / ": ", ensure_ascii),
 * followed by no newline: how pytest-gpu-proof writes gpu-proof.json. Caller frees.
 */
int gp_json_dump_indent(char **out, size_t *len, const gp_json *v, int indent);

/* Conversions to and from jansson, for code that builds or serves JSON. Integers past int64
 * become jansson reals when converted to jansson (so a round trip through jansson changes the
 * canonical bytes of such a document: never re-sign or re-hash through it); NULL when out of
 * memory or an integer is beyond a double. From jansson: integers become INT, reals REAL (with
 * repr's spelling), keys are sorted, strings must be valid UTF-8, depth <= 512 (GP_EINVALID). */
json_t *gp_json_to_jansson(const gp_json *v);
int gp_json_from_jansson(gp_json **out, const json_t *j);

/* Appends s (len bytes) to out as Python's json.dumps writes a string with ensure_ascii: in double
 * quotes, lower-case \u escapes, surrogate pairs. GP_EINVALID when s is not valid UTF-8. */
int gp_json_escape_string(gp_buf *out, const char *s, size_t len);

/* Appends Python's repr(float) of d to out (size >= 32). GP_EINVALID for NaN/Infinity. */
int gp_json_format_double(char out[32], double d);

#endif
