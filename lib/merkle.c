/*
 * merkle.c - RFC 9162 Merkle tree hashing, proof generation and proof verification.
 *
 * Every hash the generators need is the hash of a range D[lo:lo+len] of leaves that RFC 9162's
 * recursion reaches. Such a range always starts at a multiple of the smallest power of two >= len,
 * so its hash is the right fold of the complete, aligned subtrees of len's binary decomposition:
 * MTH = node(S1, node(S2, ... Sk)), S1 the largest. range_hash() asks the subtree callback for
 * those O(log n) subtrees only, which lets a store answer from level hashes it keeps. PATH and
 * SUBPROOF (RFC 9162 §2.1.3.1, §2.1.4.1) then cost O(log n) callbacks each, because once the
 * recursion enters a left (complete) half every later sibling is one complete subtree.
 *
 * Verification is the letter of RFC 9162 §2.1.3.2 and §2.1.4.2, plus the decisions of
 * ../shared/spec/ledger.md for the cases the RFC leaves out (m == 0, m == n).
 */
#include "merkle.h"
#include "error.h"
#include "util.h"

#include <sodium.h>
#include <string.h>

void gp_merkle_leaf_hash(gp_hash out, const void *entry, size_t len)
{
    static const unsigned char prefix = 0x00;
    crypto_hash_sha256_state st; /* libsodium's multi-part SHA-256 cannot fail */
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, entry, len);
    crypto_hash_sha256_final(&st, out);
}

void gp_merkle_node_hash(gp_hash out, const gp_hash left, const gp_hash right)
{
    unsigned char buf[1 + 2 * GP_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, left, GP_HASH_LEN);
    memcpy(buf + 1 + GP_HASH_LEN, right, GP_HASH_LEN);
    gp_sha256(out, buf, sizeof(buf));
}

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static unsigned log2_exact(uint64_t pow2)
{
    unsigned l = 0;
    while ((UINT64_C(1) << l) < pow2)
        l++;
    return l;
}

/* Hash of the complete aligned subtree of `size` (a power of two) leaves starting at leaf lo. */
static int complete_hash(gp_hash out, uint64_t lo, uint64_t size, gp_merkle_subtree_fn fn,
                         void *ctx)
{
    unsigned level = log2_exact(size);
    return fn(ctx, level, lo >> level, out);
}

/* MTH(D[lo:lo+len]) for a range RFC 9162's recursion reaches (see the top of this file). */
static int range_hash(gp_hash out, uint64_t lo, uint64_t len, gp_merkle_subtree_fn fn, void *ctx)
{
    gp_hash parts[64];
    unsigned count = 0;
    int error;
    if (len == 0) {
        gp_sha256(out, "", 0);
        return 0;
    }
    for (int bit = 63; bit >= 0; bit--) {
        uint64_t size = UINT64_C(1) << bit;
        if (!(len & size)) continue;
        if ((error = fn(ctx, (unsigned)bit, lo >> bit, parts[count])) < 0) return error;
        count++;
        lo += size;
    }
    memcpy(out, parts[count - 1], GP_HASH_LEN);
    for (unsigned i = count - 1; i-- > 0;)
        gp_merkle_node_hash(out, parts[i], out);
    return 0;
}

int gp_merkle_root(gp_hash out, uint64_t n, gp_merkle_subtree_fn fn, void *ctx)
{
    return range_hash(out, 0, n, fn, ctx);
}

static int append(gp_hash *proof, size_t *count, const gp_hash h)
{
    if (*count >= GP_MERKLE_MAX_PROOF)
        return gp_error_setf(GP_ETOOBIG, "Merkle proof longer than %d hashes", GP_MERKLE_MAX_PROOF);
    memcpy(proof[(*count)++], h, GP_HASH_LEN);
    return 0;
}

/* PATH(m, D[lo:lo+len]) of RFC 9162 §2.1.3.1, appended leaf-side first. */
static int path(gp_hash *proof, size_t *count, uint64_t m, uint64_t lo, uint64_t len,
                gp_merkle_subtree_fn fn, void *ctx)
{
    gp_hash sibling;
    int error;
    if (len <= 1) return 0;
    uint64_t k = split_point(len);
    if (m < k) {
        if ((error = path(proof, count, m, lo, k, fn, ctx)) < 0) return error;
        if ((error = range_hash(sibling, lo + k, len - k, fn, ctx)) < 0) return error;
    } else {
        if ((error = path(proof, count, m - k, lo + k, len - k, fn, ctx)) < 0) return error;
        if ((error = complete_hash(sibling, lo, k, fn, ctx)) < 0) return error;
    }
    return append(proof, count, sibling);
}

int gp_merkle_inclusion_proof(gp_hash *proof, size_t *count, uint64_t index, uint64_t n,
                              gp_merkle_subtree_fn fn, void *ctx)
{
    *count = 0;
    if (index >= n)
        return gp_error_setf(GP_EINVALID, "leaf index %llu is not in a tree of size %llu",
                             (unsigned long long)index, (unsigned long long)n);
    return path(proof, count, index, 0, n, fn, ctx);
}

/* SUBPROOF(m, D[lo:lo+len], b) of RFC 9162 §2.1.4.1, appended in the RFC's order. */
static int subproof(gp_hash *proof, size_t *count, uint64_t m, uint64_t lo, uint64_t len, int whole,
                    gp_merkle_subtree_fn fn, void *ctx)
{
    gp_hash h;
    int error;
    if (m == len) {
        if (whole) return 0;
        if ((error = range_hash(h, lo, len, fn, ctx)) < 0) return error;
        return append(proof, count, h);
    }
    uint64_t k = split_point(len);
    if (m <= k) {
        if ((error = subproof(proof, count, m, lo, k, whole, fn, ctx)) < 0) return error;
        if ((error = range_hash(h, lo + k, len - k, fn, ctx)) < 0) return error;
    } else {
        if ((error = subproof(proof, count, m - k, lo + k, len - k, 0, fn, ctx)) < 0) return error;
        if ((error = complete_hash(h, lo, k, fn, ctx)) < 0) return error;
    }
    return append(proof, count, h);
}

int gp_merkle_consistency_proof(gp_hash *proof, size_t *count, uint64_t m, uint64_t n,
                                gp_merkle_subtree_fn fn, void *ctx)
{
    *count = 0;
    if (m > n)
        return gp_error_setf(GP_EINVALID,
                             "consistency proof asked from size %llu to smaller size %llu",
                             (unsigned long long)m, (unsigned long long)n);
    if (m == 0 || m == n) return 0;
    return subproof(proof, count, m, 0, n, 1, fn, ctx);
}

static int bad_proof(const char *what)
{
    return gp_error_setf(GP_EBADSIG, "%s", what);
}

int gp_merkle_verify_inclusion(const gp_hash leaf, uint64_t index, uint64_t n, const gp_hash *proof,
                               size_t count, const gp_hash root)
{
    gp_hash r;
    if (index >= n) return bad_proof("inclusion proof: leaf index is not below the tree size");
    uint64_t fn = index, sn = n - 1;
    memcpy(r, leaf, GP_HASH_LEN);
    for (size_t i = 0; i < count; i++) {
        if (sn == 0) return bad_proof("inclusion proof has more hashes than the tree size allows");
        if ((fn & 1) || fn == sn) {
            gp_merkle_node_hash(r, proof[i], r);
            while (!(fn & 1) && fn != 0) { /* a right edge: climb to where we are a right child */
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            gp_merkle_node_hash(r, r, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return bad_proof("inclusion proof has fewer hashes than the tree size needs");
    if (!gp_memeq(r, root, GP_HASH_LEN))
        return bad_proof("inclusion proof does not lead to the checkpoint's root hash");
    return 0;
}

int gp_merkle_verify_consistency(uint64_t m, uint64_t n, const gp_hash root1, const gp_hash root2,
                                 const gp_hash *proof, size_t count)
{
    gp_hash fr, sr, empty;
    if (m > n) return bad_proof("consistency proof: the first tree is larger than the second");
    if (m == 0) {
        gp_sha256(empty, "", 0);
        if (count != 0) return bad_proof("consistency proof from the empty tree must be empty");
        if (!gp_memeq(root1, empty, GP_HASH_LEN))
            return bad_proof("a tree of size 0 must have the empty tree's root hash");
        return 0;
    }
    if (m == n) {
        if (count != 0) return bad_proof("consistency proof between equal sizes must be empty");
        if (!gp_memeq(root1, root2, GP_HASH_LEN))
            return bad_proof("two trees of the same size have different root hashes");
        return 0;
    }
    if (count == 0) return bad_proof("consistency proof is empty");
    /* Step 2: when m is a power of two the path implicitly starts with root1. */
    int prepend = (m & (m - 1)) == 0;
    size_t total = count + (size_t)prepend;
#define PATH_AT(i) (prepend ? ((i) == 0 ? root1 : proof[(i)-1]) : proof[(i)])
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, PATH_AT(0), GP_HASH_LEN);
    memcpy(sr, PATH_AT(0), GP_HASH_LEN);
    for (size_t i = 1; i < total; i++) {
        const unsigned char *c = PATH_AT(i);
        if (sn == 0) return bad_proof("consistency proof has more hashes than the sizes allow");
        if ((fn & 1) || fn == sn) {
            gp_merkle_node_hash(fr, c, fr);
            gp_merkle_node_hash(sr, c, sr);
            while (!(fn & 1) && fn != 0) { /* a right edge: climb to where we are a right child */
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            gp_merkle_node_hash(sr, sr, c);
        }
        fn >>= 1;
        sn >>= 1;
    }
#undef PATH_AT
    if (sn != 0) return bad_proof("consistency proof has fewer hashes than the sizes need");
    if (!gp_memeq(fr, root1, GP_HASH_LEN))
        return bad_proof("consistency proof does not lead to the earlier root hash");
    if (!gp_memeq(sr, root2, GP_HASH_LEN))
        return bad_proof("consistency proof does not lead to the later root hash");
    return 0;
}

static int mem_hash(const gp_merkle_mem *mem, unsigned level, uint64_t start, gp_hash out)
{
    gp_hash l, r;
    int error;
    if (level == 0) {
        memcpy(out, mem->leaves[start], GP_HASH_LEN);
        return 0;
    }
    if ((error = mem_hash(mem, level - 1, 2 * start, l)) < 0) return error;
    if ((error = mem_hash(mem, level - 1, 2 * start + 1, r)) < 0) return error;
    gp_merkle_node_hash(out, l, r);
    return 0;
}

int gp_merkle_mem_subtree(void *ctx, unsigned level, uint64_t start, gp_hash out)
{
    const gp_merkle_mem *mem = ctx;
    if (level >= 64 || start >= (UINT64_MAX >> level) || ((start + 1) << level) > mem->n)
        return gp_error_setf(GP_EINVALID,
                             "subtree (level %u, start %llu) is not inside %llu leaves", level,
                             (unsigned long long)start, (unsigned long long)mem->n);
    return mem_hash(mem, level, start, out);
}
