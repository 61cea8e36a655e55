/*
 * merkle.h - RFC 9162 (RFC 6962) Merkle tree hashing and proofs over SHA-256.
 *
 * leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right), a tree of n > 1 leaves
 * splits at k = the largest power of two < n, the empty tree's root is SHA-256("").
 * Generation reads hashes through a callback so that a store can serve stored subtree hashes
 * (O(log n) reads) instead of a pass over all leaves. See ../shared/spec/ledger.md.
 */
#ifndef GP_MERKLE_H
#define GP_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define GP_HASH_LEN 32
/* The most hashes a proof can hold; callers pass arrays of this many to the generators. */
#define GP_MERKLE_MAX_PROOF 64
typedef unsigned char gp_hash[GP_HASH_LEN];

void gp_merkle_leaf_hash(gp_hash out, const void *entry, size_t len);
void gp_merkle_node_hash(gp_hash out, const gp_hash left, const gp_hash right);

/*
 * Hash of the complete subtree of 2^level leaves starting at leaf index (start << level), i.e.
 * level 0 = leaf hashes. The callback returns 0 or a negative error (passed up unchanged). The
 * generators below only ever ask for complete subtrees that lie inside the tree (level < 64).
 */
typedef int (*gp_merkle_subtree_fn)(void *ctx, unsigned level, uint64_t start, gp_hash out);

/*
 * Root of the first n leaves (n == 0: SHA-256("")). Asks fn for at most ~log2(n)+1 complete
 * subtrees (the binary decomposition of n). Returns 0, or fn's error unchanged.
 */
int gp_merkle_root(gp_hash out, uint64_t n, gp_merkle_subtree_fn fn, void *ctx);
/*
 * Inclusion proof (RFC 9162 §2.1.3.1 PATH) of leaf `index` in the tree of size n: *count hashes
 * (<= GP_MERKLE_MAX_PROOF) into proof, leaf side first. O(log n) calls to fn.
 * GP_EINVALID for index >= n; fn's error unchanged.
 */
int gp_merkle_inclusion_proof(gp_hash *proof, size_t *count, uint64_t index, uint64_t n,
                              gp_merkle_subtree_fn fn, void *ctx);
/*
 * Consistency proof (RFC 9162 §2.1.4.1 PROOF) between sizes m <= n: empty for m == 0 or m == n.
 * O(log n) calls to fn. GP_EINVALID for m > n; fn's error unchanged.
 */
int gp_merkle_consistency_proof(gp_hash *proof, size_t *count, uint64_t m, uint64_t n,
                                gp_merkle_subtree_fn fn, void *ctx);

/*
 * RFC 9162 §2.1.3.2: 0 if `leaf` (a leaf hash) at `index` is in the tree of size n with `root`;
 * GP_EBADSIG otherwise (also for index >= n, and for a proof with a hash too many or too few).
 * Note that the size is bound only through the root: verify against a root whose size you trust
 * (a signed checkpoint's).
 */
int gp_merkle_verify_inclusion(const gp_hash leaf, uint64_t index, uint64_t n, const gp_hash *proof,
                               size_t count, const gp_hash root);
/*
 * RFC 9162 §2.1.4.2: 0 if root2 (size n) extends root1 (size m); GP_EBADSIG otherwise.
 * Decided here where the RFC is silent: m > n fails; m == 0 needs an empty proof and root1 ==
 * SHA-256("") (any tree extends the empty one); m == n needs an empty proof and root1 == root2.
 */
int gp_merkle_verify_consistency(uint64_t m, uint64_t n, const gp_hash root1, const gp_hash root2,
                                 const gp_hash *proof, size_t count);

/*
 * Convenience: an in-memory array of n leaf hashes as a subtree source (ctx = gp_merkle_mem*).
 * Recomputes each subtree from its leaves (O(2^level)): for tests and small trees. GP_EINVALID
 * for a subtree that is not inside the n leaves.
 */
typedef struct gp_merkle_mem {
    const gp_hash *leaves;
    uint64_t n;
} gp_merkle_mem;
int gp_merkle_mem_subtree(void *ctx, unsigned level, uint64_t start, gp_hash out);

#endif
