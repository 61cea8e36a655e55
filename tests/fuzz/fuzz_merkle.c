/*
 * fuzz_merkle.c - RFC 9162 proof verification with attacker-chosen proofs, sizes and indexes
 * (what a client gets from an untrusted ledger server), and generation on fuzzer-sized trees.
 * Input: n, index/m (8 bytes each, little-endian), then 32-byte hashes: root1, root2/leaf, proof.
 * Property: no crash; a proof generated for a tree built from the input verifies, and the same
 * proof with one hash flipped, or for another index or size, does not.
 */
#include "merkle.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16 + 2 * GP_HASH_LEN) return 0;
    uint64_t n = rd64(data), x = rd64(data + 8);
    const uint8_t *h1 = data + 16, *h2 = h1 + GP_HASH_LEN;
    const uint8_t *pr = h2 + GP_HASH_LEN;
    size_t count = (size - 16 - 2 * GP_HASH_LEN) / GP_HASH_LEN;
    gp_hash proof[GP_MERKLE_MAX_PROOF + 8];
    if (count > GP_MERKLE_MAX_PROOF + 8) count = GP_MERKLE_MAX_PROOF + 8;
    memcpy(proof, pr, count * GP_HASH_LEN);
    (void)gp_merkle_verify_inclusion(h2, x, n, (const gp_hash *)proof, count, h1);
    (void)gp_merkle_verify_consistency(x, n, h1, h2, (const gp_hash *)proof, count);

    /* a small real tree: size and index from the input, leaves from the hash bytes */
    uint64_t tn = 1 + (n % 70), ti = x % tn, tm = 1 + (x >> 8) % tn;
    gp_hash *leaves = malloc(tn * sizeof(gp_hash));
    if (!leaves) return 0;
    for (uint64_t i = 0; i < tn; i++) gp_merkle_leaf_hash(leaves[i], &i, sizeof(i));
    gp_merkle_leaf_hash(leaves[ti], h1, GP_HASH_LEN);
    gp_merkle_mem mem = {(const gp_hash *)leaves, tn};
    gp_hash root, root_m, p[GP_MERKLE_MAX_PROOF];
    size_t c = 0;
    if (gp_merkle_root(root, tn, gp_merkle_mem_subtree, &mem) < 0) abort();
    if (gp_merkle_inclusion_proof(p, &c, ti, tn, gp_merkle_mem_subtree, &mem) < 0) abort();
    if (gp_merkle_verify_inclusion(leaves[ti], ti, tn, (const gp_hash *)p, c, root) != 0) abort();
    if (c > 0) {
        unsigned at = (unsigned)(h2[0] % c), bit = h2[1] % 256;
        p[at][bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (gp_merkle_verify_inclusion(leaves[ti], ti, tn, (const gp_hash *)p, c, root) == 0) abort();
        p[at][bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (gp_merkle_verify_inclusion(leaves[ti], (ti + 1) % tn, tn, (const gp_hash *)p, c, root) == 0 &&
            memcmp(leaves[ti], leaves[(ti + 1) % tn], GP_HASH_LEN) != 0)
            abort();
    }
    mem.n = tm;
    if (gp_merkle_root(root_m, tm, gp_merkle_mem_subtree, &mem) < 0) abort();
    mem.n = tn;
    if (gp_merkle_consistency_proof(p, &c, tm, tn, gp_merkle_mem_subtree, &mem) < 0) abort();
    if (gp_merkle_verify_consistency(tm, tn, root_m, root, (const gp_hash *)p, c) != 0) abort();
    if (c > 0) {
        p[0][h2[2] % GP_HASH_LEN] ^= 0x01;
        if (gp_merkle_verify_consistency(tm, tn, root_m, root, (const gp_hash *)p, c) == 0) abort();
    }
    free(leaves);
    return 0;
}
