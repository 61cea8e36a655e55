/*
 * test_merkle.c - RFC 9162 Merkle trees: known answers, the §2.1.5 proofs, and a property test
 * over every proof of every tree up to 100 leaves.
 *
 * Known answers: the roots of the RFC 6962 reference test data (the 8 leaves "", 00, 10, 2021,
 * ...) that Certificate Transparency's implementations test against. The §2.1.5 tree of 7 leaves
 * names its nodes a..l; the proofs are compared node by node against those names.
 *
 * `test_merkle --dump FILE` writes proofs of a few trees as JSON lines for
 * tests/e2e/test_rfc9162_crosscheck.py, which checks them with the independent Python verifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "merkle.h"
#include "util.h"

static const char *rfc6962_leaves[] = {"",
                                       "00",
                                       "10",
                                       "2021",
                                       "3031",
                                       "40414243",
                                       "5051525354555657",
                                       "606162636465666768696a6b6c6d6e6f"};
static const char *rfc6962_roots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void rfc6962_leaf_hashes(gp_hash leaves[8])
{
    for (int i = 0; i < 8; i++) {
        unsigned char data[16];
        size_t len = strlen(rfc6962_leaves[i]) / 2;
        assert_int_equal(gp_unhex(data, len, rfc6962_leaves[i], 2 * len), 0);
        gp_merkle_leaf_hash(leaves[i], data, len);
    }
}

static void assert_hash_hex(const gp_hash h, const char *hex)
{
    char got[65];
    gp_hex(got, h, GP_HASH_LEN);
    assert_string_equal(got, hex);
}

static void test_empty_and_known_roots(void **state)
{
    gp_hash leaves[8], root;
    gp_merkle_mem mem = {leaves, 8};
    rfc6962_leaf_hashes(leaves);
    assert_int_equal(gp_merkle_root(root, 0, gp_merkle_mem_subtree, &mem), 0);
    assert_hash_hex(root, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (int n = 1; n <= 8; n++) {
        mem.n = (uint64_t)n; /* the source holds exactly the tree */
        assert_int_equal(gp_merkle_root(root, (uint64_t)n, gp_merkle_mem_subtree, &mem), 0);
        assert_hash_hex(root, rfc6962_roots[n - 1]);
    }
}

/* RFC 9162 §2.1.5: the tree of d0..d6 with nodes a..l. */
enum { A, B, C, D, E, F, G, H, I, J, K, L, NODES };

static void rfc9162_nodes(gp_hash leaves[7], gp_hash node[NODES])
{
    gp_hash all[8];
    rfc6962_leaf_hashes(all);
    memcpy(leaves, all, 7 * sizeof(gp_hash));
    for (int i = 0; i < 6; i++)
        memcpy(node[A + i], leaves[i], GP_HASH_LEN); /* a..f = d0..d5 */
    memcpy(node[J], leaves[6], GP_HASH_LEN);         /* j = d6 */
    gp_merkle_node_hash(node[G], node[A], node[B]);
    gp_merkle_node_hash(node[H], node[C], node[D]);
    gp_merkle_node_hash(node[I], node[E], node[F]);
    gp_merkle_node_hash(node[K], node[G], node[H]);
    gp_merkle_node_hash(node[L], node[I], node[J]);
}

static void assert_proof_is(const gp_hash *proof, size_t count, gp_hash node[NODES],
                            const int *want, size_t nwant)
{
    assert_int_equal(count, nwant);
    for (size_t i = 0; i < nwant; i++)
        assert_memory_equal(proof[i], node[want[i]], GP_HASH_LEN);
}

static void test_rfc9162_vectors(void **state)
{
    gp_hash leaves[7], node[NODES], root, proof[GP_MERKLE_MAX_PROOF], sub[4];
    size_t count;
    gp_merkle_mem mem = {leaves, 7};
    rfc9162_nodes(leaves, node);

    assert_int_equal(gp_merkle_root(root, 7, gp_merkle_mem_subtree, &mem), 0);
    gp_hash top;
    gp_merkle_node_hash(top, node[K], node[L]);
    assert_memory_equal(root, top, GP_HASH_LEN);
    assert_hash_hex(root, rfc6962_roots[6]);

    static const struct {
        uint64_t index;
        int want[3];
        size_t n;
    } incl[] = {{0, {B, H, L}, 3}, {3, {C, G, L}, 3}, {4, {F, J, K}, 3}, {6, {I, K, 0}, 2}};
    for (size_t t = 0; t < sizeof(incl) / sizeof(incl[0]); t++) {
        assert_int_equal(
            gp_merkle_inclusion_proof(proof, &count, incl[t].index, 7, gp_merkle_mem_subtree, &mem),
            0);
        assert_proof_is(proof, count, node, incl[t].want, incl[t].n);
        assert_int_equal(
            gp_merkle_verify_inclusion(leaves[incl[t].index], incl[t].index, 7, proof, count, root),
            0);
    }

    static const struct {
        uint64_t m;
        int want[4];
        size_t n;
    } cons[] = {{3, {C, D, G, L}, 4}, {4, {L}, 1}, {6, {I, J, K}, 3}};
    for (size_t t = 0; t < sizeof(cons) / sizeof(cons[0]); t++) {
        assert_int_equal(
            gp_merkle_consistency_proof(proof, &count, cons[t].m, 7, gp_merkle_mem_subtree, &mem),
            0);
        assert_proof_is(proof, count, node, cons[t].want, cons[t].n);
        assert_int_equal(gp_merkle_root(sub[0], cons[t].m, gp_merkle_mem_subtree, &mem), 0);
        assert_int_equal(gp_merkle_verify_consistency(cons[t].m, 7, sub[0], root, proof, count), 0);
    }
    /* The RFC's hash0..hash2: roots of the trees of 3, 4 and 6 leaves. */
    gp_merkle_node_hash(sub[1], node[G], node[C]);
    assert_int_equal(gp_merkle_root(sub[0], 3, gp_merkle_mem_subtree, &mem), 0);
    assert_memory_equal(sub[0], sub[1], GP_HASH_LEN);
    assert_int_equal(gp_merkle_root(sub[0], 4, gp_merkle_mem_subtree, &mem), 0);
    assert_memory_equal(sub[0], node[K], GP_HASH_LEN);
    gp_merkle_node_hash(sub[1], node[K], node[I]);
    assert_int_equal(gp_merkle_root(sub[0], 6, gp_merkle_mem_subtree, &mem), 0);
    assert_memory_equal(sub[0], sub[1], GP_HASH_LEN);
}

static void test_edges(void **state)
{
    gp_hash leaves[8], root, empty, proof[GP_MERKLE_MAX_PROOF], r3;
    size_t count = 99;
    gp_merkle_mem mem = {leaves, 8};
    rfc6962_leaf_hashes(leaves);
    gp_sha256(empty, "", 0);
    assert_int_equal(gp_merkle_root(root, 8, gp_merkle_mem_subtree, &mem), 0);
    assert_int_equal(gp_merkle_root(r3, 3, gp_merkle_mem_subtree, &mem), 0);

    /* Index beyond the tree, m > n: refused by generation and verification. */
    assert_int_equal(gp_merkle_inclusion_proof(proof, &count, 8, 8, gp_merkle_mem_subtree, &mem),
                     GP_EINVALID);
    assert_int_equal(gp_merkle_inclusion_proof(proof, &count, 0, 0, gp_merkle_mem_subtree, &mem),
                     GP_EINVALID);
    assert_int_equal(gp_merkle_verify_inclusion(leaves[0], 8, 8, proof, 0, root), GP_EBADSIG);
    assert_int_equal(gp_merkle_verify_inclusion(leaves[0], 0, 0, proof, 0, empty), GP_EBADSIG);
    assert_int_equal(gp_merkle_consistency_proof(proof, &count, 9, 8, gp_merkle_mem_subtree, &mem),
                     GP_EINVALID);
    assert_int_equal(gp_merkle_verify_consistency(8, 3, root, r3, proof, 0), GP_EBADSIG);

    /* A tree of one leaf: the root is the leaf, the proof is empty. */
    assert_int_equal(gp_merkle_inclusion_proof(proof, &count, 0, 1, gp_merkle_mem_subtree, &mem),
                     0);
    assert_int_equal(count, 0);
    assert_int_equal(gp_merkle_verify_inclusion(leaves[0], 0, 1, proof, 0, leaves[0]), 0);

    /* From 0, and between equal sizes: the empty proof, decided here. */
    for (uint64_t n = 0; n <= 8; n++) {
        gp_hash rn;
        assert_int_equal(gp_merkle_root(rn, n, gp_merkle_mem_subtree, &mem), 0);
        count = 99;
        assert_int_equal(
            gp_merkle_consistency_proof(proof, &count, 0, n, gp_merkle_mem_subtree, &mem), 0);
        assert_int_equal(count, 0);
        assert_int_equal(gp_merkle_verify_consistency(0, n, empty, rn, proof, 0), 0);
        count = 99;
        assert_int_equal(
            gp_merkle_consistency_proof(proof, &count, n, n, gp_merkle_mem_subtree, &mem), 0);
        assert_int_equal(count, 0);
        assert_int_equal(gp_merkle_verify_consistency(n, n, rn, rn, proof, 0), 0);
    }
    /* m == 0 must name the empty root and carry no hashes; m == n needs equal roots, no hashes. */
    assert_int_equal(gp_merkle_verify_consistency(0, 8, r3, root, proof, 0), GP_EBADSIG);
    memcpy(proof[0], root, GP_HASH_LEN);
    assert_int_equal(gp_merkle_verify_consistency(0, 8, empty, root, proof, 1), GP_EBADSIG);
    assert_int_equal(gp_merkle_verify_consistency(8, 8, root, root, proof, 1), GP_EBADSIG);
    assert_int_equal(gp_merkle_verify_consistency(8, 8, root, r3, proof, 0), GP_EBADSIG);
    /* A non-trivial consistency proof is never empty. */
    assert_int_equal(gp_merkle_verify_consistency(4, 8, root, root, proof, 0), GP_EBADSIG);
    /* A subtree source refuses what lies outside its leaves. */
    mem.n = 3;
    assert_int_equal(gp_merkle_mem_subtree(&mem, 2, 0, r3), GP_EINVALID);
    assert_int_equal(gp_merkle_mem_subtree(&mem, 0, 3, r3), GP_EINVALID);
    assert_int_equal(gp_merkle_mem_subtree(&mem, 64, 0, r3), GP_EINVALID);
}

/* ---- property test ---------------------------------------------------------------------- */

#define MAXN 100

typedef struct tree {
    gp_hash leaves[MAXN + 1];
    gp_hash roots[MAXN + 2]; /* roots[n] for n in 0..MAXN+1 */
    gp_merkle_mem mem;
} tree;

static tree the_tree; /* static, so that a failed assertion leaks nothing */

static tree *make_tree(void)
{
    tree *t = &the_tree;
    for (int i = 0; i <= MAXN; i++) {
        char data[32];
        int len = snprintf(data, sizeof(data), "gpuproof leaf %d", i);
        gp_merkle_leaf_hash(t->leaves[i], data, (size_t)len);
    }
    t->mem.leaves = (const gp_hash *)t->leaves;
    t->mem.n = MAXN + 1;
    for (uint64_t n = 0; n <= MAXN + 1; n++)
        assert_int_equal(gp_merkle_root(t->roots[n], n, gp_merkle_mem_subtree, &t->mem), 0);
    return t;
}

static int same_proof(const gp_hash *a, size_t na, const gp_hash *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(gp_hash)) == 0);
}

/* Altered (index, size) may only verify against the true root if it is the same proof. */
static void check_altered_inclusion(tree *t, const gp_hash *proof, size_t count, uint64_t i,
                                    uint64_t n, uint64_t i2, uint64_t n2)
{
    gp_hash genuine[GP_MERKLE_MAX_PROOF];
    size_t gcount = 0;
    if (n2 == 0 || n2 > MAXN + 1 || i2 >= n2 || (i2 == i && n2 == n)) return;
    if (gp_merkle_verify_inclusion(t->leaves[i], i2, n2, proof, count, t->roots[n2]) != 0) return;
    assert_int_equal(
        gp_merkle_inclusion_proof(genuine, &gcount, i2, n2, gp_merkle_mem_subtree, &t->mem), 0);
    assert_true(same_proof(proof, count, genuine, gcount) &&
                !memcmp(t->leaves[i], t->leaves[i2], GP_HASH_LEN));
}

static void test_property_inclusion(void **state)
{
    tree *t = make_tree();
    gp_hash proof[GP_MERKLE_MAX_PROOF + 1];
    size_t count;
    for (uint64_t n = 1; n <= MAXN; n++) {
        t->mem.n = n; /* the generators must not ask beyond the tree */
        for (uint64_t i = 0; i < n; i++) {
            assert_int_equal(
                gp_merkle_inclusion_proof(proof, &count, i, n, gp_merkle_mem_subtree, &t->mem), 0);
            assert_int_equal(
                gp_merkle_verify_inclusion(t->leaves[i], i, n, proof, count, t->roots[n]), 0);
            /* A flipped bit anywhere: in each proof hash, the leaf, the root. */
            for (size_t h = 0; h < count; h++)
                for (int bit = 0; bit < 256; bit += 37) {
                    proof[h][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                    assert_int_equal(
                        gp_merkle_verify_inclusion(t->leaves[i], i, n, proof, count, t->roots[n]),
                        GP_EBADSIG);
                    proof[h][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                }
            gp_hash bad;
            memcpy(bad, t->leaves[i], GP_HASH_LEN);
            bad[31] ^= 1;
            assert_int_equal(gp_merkle_verify_inclusion(bad, i, n, proof, count, t->roots[n]),
                             GP_EBADSIG);
            memcpy(bad, t->roots[n], GP_HASH_LEN);
            bad[0] ^= 0x80;
            assert_int_equal(gp_merkle_verify_inclusion(t->leaves[i], i, n, proof, count, bad),
                             GP_EBADSIG);
            /* Another index with the same root; another size with that size's root. */
            for (uint64_t i2 = 0; i2 < n; i2++)
                if (i2 != i)
                    assert_int_equal(
                        gp_merkle_verify_inclusion(t->leaves[i], i2, n, proof, count, t->roots[n]),
                        GP_EBADSIG);
            for (uint64_t d = 1; d <= 3; d++) {
                check_altered_inclusion(t, proof, count, i, n, i, n + d);
                if (n > d) check_altered_inclusion(t, proof, count, i, n, i, n - d);
                check_altered_inclusion(t, proof, count, i, n, i + d, n + d);
            }
            /* Truncated and extended proofs. */
            if (count > 0)
                assert_int_equal(
                    gp_merkle_verify_inclusion(t->leaves[i], i, n, proof, count - 1, t->roots[n]),
                    GP_EBADSIG);
            memcpy(proof[count], t->roots[n], GP_HASH_LEN);
            assert_int_equal(
                gp_merkle_verify_inclusion(t->leaves[i], i, n, proof, count + 1, t->roots[n]),
                GP_EBADSIG);
            memcpy(proof[count], t->leaves[i], GP_HASH_LEN);
            assert_int_equal(
                gp_merkle_verify_inclusion(t->leaves[i], i, n, proof, count + 1, t->roots[n]),
                GP_EBADSIG);
        }
    }
}

static void check_altered_consistency(tree *t, const gp_hash *proof, size_t count, uint64_t m,
                                      uint64_t n, uint64_t m2, uint64_t n2)
{
    gp_hash genuine[GP_MERKLE_MAX_PROOF];
    size_t gcount = 0;
    if (m2 > n2 || n2 > MAXN + 1 || (m2 == m && n2 == n)) return;
    if (gp_merkle_verify_consistency(m2, n2, t->roots[m2], t->roots[n2], proof, count) != 0) return;
    assert_int_equal(
        gp_merkle_consistency_proof(genuine, &gcount, m2, n2, gp_merkle_mem_subtree, &t->mem), 0);
    assert_true(same_proof(proof, count, genuine, gcount));
}

static void test_property_consistency(void **state)
{
    tree *t = make_tree();
    gp_hash proof[GP_MERKLE_MAX_PROOF + 1];
    size_t count;
    for (uint64_t n = 1; n <= MAXN; n++) {
        for (uint64_t m = 0; m <= n; m++) {
            t->mem.n = n;
            assert_int_equal(
                gp_merkle_consistency_proof(proof, &count, m, n, gp_merkle_mem_subtree, &t->mem),
                0);
            t->mem.n = MAXN + 1;
            const unsigned char *r1 = t->roots[m], *r2 = t->roots[n];
            assert_int_equal(gp_merkle_verify_consistency(m, n, r1, r2, proof, count), 0);
            for (size_t h = 0; h < count; h++)
                for (int bit = 0; bit < 256; bit += 41) {
                    proof[h][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                    assert_int_equal(gp_merkle_verify_consistency(m, n, r1, r2, proof, count),
                                     GP_EBADSIG);
                    proof[h][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                }
            gp_hash bad;
            memcpy(bad, r1, GP_HASH_LEN);
            bad[5] ^= 4;
            assert_int_equal(gp_merkle_verify_consistency(m, n, bad, r2, proof, count), GP_EBADSIG);
            memcpy(bad, r2, GP_HASH_LEN);
            bad[17] ^= 1;
            if (m > 0) /* every tree extends the empty one */
                assert_int_equal(gp_merkle_verify_consistency(m, n, r1, bad, proof, count),
                                 GP_EBADSIG);
            /* Roots of other sizes, and the same proof for other sizes. */
            if (m > 0 && m < n)
                assert_int_equal(
                    gp_merkle_verify_consistency(m, n, t->roots[m - 1], r2, proof, count),
                    GP_EBADSIG);
            for (uint64_t d = 1; d <= 3; d++) {
                check_altered_consistency(t, proof, count, m, n, m + d, n);
                if (m >= d) check_altered_consistency(t, proof, count, m, n, m - d, n);
                check_altered_consistency(t, proof, count, m, n, m, n + d);
                if (n - d >= m) check_altered_consistency(t, proof, count, m, n, m, n - d);
            }
            if (count > 0)
                assert_int_equal(gp_merkle_verify_consistency(m, n, r1, r2, proof, count - 1),
                                 GP_EBADSIG);
            memcpy(proof[count], r2, GP_HASH_LEN);
            assert_int_equal(gp_merkle_verify_consistency(m, n, r1, r2, proof, count + 1),
                             GP_EBADSIG);
        }
    }
}

/* ---- the generators ask only for O(log n) complete subtrees inside the tree -------------- */

typedef struct counting {
    uint64_t n;
    unsigned calls;
} counting;

/* A stand-in store: hash(level, start) is any deterministic function; only the asking matters. */
static int counting_subtree(void *ctx, unsigned level, uint64_t start, gp_hash out)
{
    counting *c = ctx;
    c->calls++;
    if (level >= 64 || start > (c->n >> level) || ((start + 1) << level) > c->n) fail();
    unsigned char seed[16];
    memcpy(seed, &start, 8);
    memcpy(seed + 8, &level, sizeof(level));
    gp_sha256(out, seed, 8 + sizeof(level));
    return 0;
}

static void test_logarithmic_reads(void **state)
{
    static const uint64_t sizes[] = {1,
                                     2,
                                     3,
                                     1000,
                                     1u << 20,
                                     (1u << 20) + 1,
                                     123456789,
                                     UINT64_C(1) << 40,
                                     (UINT64_C(1) << 40) - 1};
    gp_hash root, proof[GP_MERKLE_MAX_PROOF];
    size_t count;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        unsigned lg = 1;
        while ((UINT64_C(1) << lg) < n)
            lg++;
        counting c = {n, 0};
        assert_int_equal(gp_merkle_root(root, n, counting_subtree, &c), 0);
        assert_true(c.calls <= lg + 1);
        uint64_t picks[] = {0, n / 3, n / 2, n - 1};
        for (size_t p = 0; p < 4; p++) {
            c.calls = 0;
            assert_int_equal(
                gp_merkle_inclusion_proof(proof, &count, picks[p], n, counting_subtree, &c), 0);
            assert_true(c.calls <= 3 * (lg + 1));
            c.calls = 0;
            assert_int_equal(
                gp_merkle_consistency_proof(proof, &count, picks[p] + 1, n, counting_subtree, &c),
                0);
            assert_true(c.calls <= 3 * (lg + 1));
        }
    }
}

/* An error from the store is passed up unchanged. */
static int failing_subtree(void *ctx, unsigned level, uint64_t start, gp_hash out)
{
    return gp_error_setf(GP_EUNAVAILABLE, "store unavailable");
}

static void test_store_error(void **state)
{
    gp_hash root, proof[GP_MERKLE_MAX_PROOF];
    size_t count;
    assert_int_equal(gp_merkle_root(root, 5, failing_subtree, NULL), GP_EUNAVAILABLE);
    assert_int_equal(gp_merkle_inclusion_proof(proof, &count, 1, 5, failing_subtree, NULL),
                     GP_EUNAVAILABLE);
    assert_int_equal(gp_merkle_consistency_proof(proof, &count, 3, 5, failing_subtree, NULL),
                     GP_EUNAVAILABLE);
    assert_string_equal(gp_error_last(), "store unavailable");
}

/* ---- --dump: proofs for the Python cross-check ------------------------------------------- */

static void put_b64(FILE *f, const gp_hash h)
{
    char *s = NULL;
    if (gp_base64_encode(&s, h, GP_HASH_LEN) == 0) fprintf(f, "\"%s\"", s);
    free(s);
}

static void put_proof(FILE *f, const gp_hash *proof, size_t count)
{
    fputc('[', f);
    for (size_t i = 0; i < count; i++) {
        if (i) fputc(',', f);
        put_b64(f, proof[i]);
    }
    fputc(']', f);
}

static int dump(const char *path)
{
    static const uint64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 64, 100};
    FILE *f = fopen(path, "w");
    gp_hash leaves[MAXN], root, root1, proof[GP_MERKLE_MAX_PROOF];
    size_t count;
    if (!f) return 2;
    /* Leaf i is the bytes "gpuproof leaf <i>"; the verifier recomputes them itself. */
    for (int i = 0; i < MAXN; i++) {
        char data[32];
        int len = snprintf(data, sizeof(data), "gpuproof leaf %d", i);
        gp_merkle_leaf_hash(leaves[i], data, (size_t)len);
    }
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        gp_merkle_mem mem = {leaves, n};
        if (gp_merkle_root(root, n, gp_merkle_mem_subtree, &mem) < 0) goto fail;
        for (uint64_t i = 0; i < n; i++) {
            if (gp_merkle_inclusion_proof(proof, &count, i, n, gp_merkle_mem_subtree, &mem) < 0)
                goto fail;
            fprintf(f, "{\"kind\":\"inclusion\",\"index\":%llu,\"size\":%llu,\"leaf\":",
                    (unsigned long long)i, (unsigned long long)n);
            put_b64(f, leaves[i]);
            fputs(",\"root\":", f);
            put_b64(f, root);
            fputs(",\"proof\":", f);
            put_proof(f, proof, count);
            fputs("}\n", f);
        }
        for (uint64_t m = 0; m <= n; m++) {
            if (gp_merkle_root(root1, m, gp_merkle_mem_subtree, &mem) < 0 ||
                gp_merkle_consistency_proof(proof, &count, m, n, gp_merkle_mem_subtree, &mem) < 0)
                goto fail;
            fprintf(f, "{\"kind\":\"consistency\",\"first\":%llu,\"second\":%llu,\"root1\":",
                    (unsigned long long)m, (unsigned long long)n);
            put_b64(f, root1);
            fputs(",\"root2\":", f);
            put_b64(f, root);
            fputs(",\"proof\":", f);
            put_proof(f, proof, count);
            fputs("}\n", f);
        }
    }
    return fclose(f) == 0 ? 0 : 2;
fail:
    fclose(f);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--dump")) return dump(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_known_roots),
        cmocka_unit_test(test_rfc9162_vectors),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_property_inclusion),
        cmocka_unit_test(test_property_consistency),
        cmocka_unit_test(test_logarithmic_reads),
        cmocka_unit_test(test_store_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
