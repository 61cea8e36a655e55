/*
 * test_dsse.c - DSSE v1: the PAE bytes of the spec's example (protocol.md), sign/verify round
 * trips, keyid selection, URL-safe base64, and tampering of every part of the envelope.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "dsse.h"
#include "error.h"

static const struct {
    const char *type, *payload, *pae;
} pae_cases[] = {
    /* secure-systems-lab/dsse protocol.md, "Test vectors" */
    {"http://example.com/HelloWorld", "hello world",
     "DSSEv1 29 http://example.com/HelloWorld 11 hello world"},
    {"a", "", "DSSEv1 1 a 0 "},
    {GP_DSSE_INTOTO_TYPE, "{}", "DSSEv1 28 application/vnd.in-toto+json 2 {}"},
};

static void test_pae(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pae_cases) / sizeof(pae_cases[0]); i++) {
        unsigned char *out = NULL;
        size_t len = 0;
        assert_int_equal(gp_dsse_pae(&out, &len, pae_cases[i].type,
                                     (const unsigned char *)pae_cases[i].payload,
                                     strlen(pae_cases[i].payload)),
                         0);
        assert_int_equal(len, strlen(pae_cases[i].pae));
        assert_memory_equal(out, pae_cases[i].pae, len);
        free(out);
    }
    /* bytes, not a C string: an embedded NUL counts */
    unsigned char *out = NULL;
    size_t len = 0;
    assert_int_equal(gp_dsse_pae(&out, &len, "t", (const unsigned char *)"a\0b", 3), 0);
    assert_int_equal(len, 16);
    assert_memory_equal(out, "DSSEv1 1 t 3 a\0b", 16);
    free(out);
}

typedef struct keys {
    unsigned char pk[32], sk[64], pk2[32], sk2[64];
} keys;

static void make_keys(keys *k)
{
    unsigned char seed[32];
    assert_true(sodium_init() >= 0);
    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    memset(seed, 9, sizeof(seed));
    crypto_sign_seed_keypair(k->pk2, k->sk2, seed);
}

static const char payload[] = "{\"_type\":\"https://in-toto.io/Statement/v1\"}";

static int verify(const char *env, const unsigned char *pk, const char *keyid)
{
    unsigned char *p = NULL;
    size_t plen = 0;
    char *type = NULL;
    int rc = gp_dsse_verify(&p, &plen, &type, env, strlen(env), pk, keyid);
    if (rc == 0) {
        assert_int_equal(plen, strlen(payload));
        assert_memory_equal(p, payload, plen);
        assert_string_equal(type, GP_DSSE_INTOTO_TYPE);
    } else {
        assert_null(p);
        assert_null(type);
    }
    free(p);
    free(type);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    keys k;
    char *env = NULL;
    make_keys(&k);
    assert_int_equal(gp_dsse_sign(&env, GP_DSSE_INTOTO_TYPE, (const unsigned char *)payload,
                                  strlen(payload), "kid", k.sk),
                     0);
    json_error_t jerr;
    json_t *doc = json_loads(env, 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "payloadType")),
                        GP_DSSE_INTOTO_TYPE);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(doc, "signatures"), 0), "keyid")),
                        "kid");
    json_decref(doc);
    assert_int_equal(verify(env, k.pk, NULL), 0);
    assert_int_equal(verify(env, k.pk, "kid"), 0);
    assert_int_equal(verify(env, k.pk, "other"), GP_EBADSIG); /* not tried */
    assert_int_equal(verify(env, k.pk2, NULL), GP_EBADSIG);   /* another key */
    free(env);

    /* no keyid member */
    assert_int_equal(gp_dsse_sign(&env, GP_DSSE_INTOTO_TYPE, (const unsigned char *)payload,
                                  strlen(payload), NULL, k.sk),
                     0);
    assert_null(strstr(env, "keyid"));
    assert_int_equal(verify(env, k.pk, "kid"), 0);
    free(env);
    assert_int_equal(gp_dsse_sign(&env, "", (const unsigned char *)payload, 1, NULL, k.sk),
                     GP_EINVALID);
}

/* Replaces member `key` (top level, or of the first signature when sig) by value. */
static char *edit(const char *env, bool sig, const char *key, json_t *value)
{
    json_error_t jerr;
    json_t *doc = json_loads(env, 0, &jerr);
    json_t *obj = sig ? json_array_get(json_object_get(doc, "signatures"), 0) : doc;
    if (value)
        json_object_set_new(obj, key, value);
    else
        json_object_del(obj, key);
    char *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return out;
}

static void test_tamper(void **state)
{
    (void)state;
    keys k;
    char *env = NULL;
    make_keys(&k);
    assert_int_equal(gp_dsse_sign(&env, GP_DSSE_INTOTO_TYPE, (const unsigned char *)payload,
                                  strlen(payload), "kid", k.sk),
                     0);
    json_error_t jerr;
    json_t *doc = json_loads(env, 0, &jerr);
    const char *p64 = json_string_value(json_object_get(doc, "payload"));
    const char *s64 = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "signatures"), 0), "sig"));

    /* URL-safe, unpadded base64 of the same bytes still verifies (the spec allows it) */
    char *url = strdup(p64);
    for (char *c = url; *c; c++) {
        if (*c == '+') *c = '-';
        if (*c == '/') *c = '_';
        if (*c == '=') *c = '\0';
    }
    char *e = edit(env, false, "payload", json_string(url));
    assert_int_equal(verify(e, k.pk, NULL), 0);
    free(e);
    free(url);

    /* one changed byte of the payload */
    unsigned char other[sizeof(payload)];
    memcpy(other, payload, sizeof(payload));
    other[5] ^= 1;
    char b[256];
    sodium_bin2base64(b, sizeof(b), other, strlen(payload), sodium_base64_VARIANT_ORIGINAL);
    e = edit(env, false, "payload", json_string(b));
    assert_int_equal(verify(e, k.pk, NULL), GP_EBADSIG);
    free(e);
    /* another payload type: PAE binds it */
    e = edit(env, false, "payloadType", json_string("application/json"));
    assert_int_equal(verify(e, k.pk, NULL), GP_EBADSIG);
    free(e);
    /* a flipped signature bit */
    unsigned char sig[64];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(sig, sizeof(sig), s64, strlen(s64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    sig[10] ^= 0x20;
    sodium_bin2base64(b, sizeof(b), sig, 64, sodium_base64_VARIANT_ORIGINAL);
    e = edit(env, true, "sig", json_string(b));
    assert_int_equal(verify(e, k.pk, NULL), GP_EBADSIG);
    free(e);
    /* a short signature */
    e = edit(env, true, "sig", json_string("AAAA"));
    assert_int_equal(verify(e, k.pk, NULL), GP_EBADSIG);
    free(e);
    /* malformed envelopes */
    e = edit(env, false, "signatures", json_array());
    assert_int_equal(verify(e, k.pk, NULL), GP_EINVALID);
    free(e);
    e = edit(env, false, "payload", json_string("not base64!"));
    assert_int_equal(verify(e, k.pk, NULL), GP_EINVALID);
    free(e);
    e = edit(env, false, "payloadType", NULL);
    assert_int_equal(verify(e, k.pk, NULL), GP_EINVALID);
    free(e);
    e = edit(env, true, "sig", json_integer(1));
    assert_int_equal(verify(e, k.pk, NULL), GP_EINVALID);
    free(e);
    assert_int_equal(verify("[]", k.pk, NULL), GP_EINVALID);
    assert_int_equal(verify("{\"payload\":\"\",\"payload\":\"\"}", k.pk, NULL), GP_EINVALID);
    json_decref(doc);
    free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pae),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tamper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
