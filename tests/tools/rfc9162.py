#!/usr/bin/python3
"""An independent RFC 9162 Merkle tree verifier, written from the RFC text with hashlib only.

It shares no code with lib/merkle.c: other tests call it to check the proofs that the C code
and the server produce.

    rfc9162.py inclusion <leaf_hash_b64> <index> <size> <root_b64> [<proof_b64>...]
    rfc9162.py consistency <first> <second> <root1_b64> <root2_b64> [<proof_b64>...]
    rfc9162.py selftest

Exit status: 0 the proof is valid, 1 it is not (or a self-test failed), 2 usage error.
As a module: leaf_hash, node_hash, mth, path, proof, verify_inclusion, verify_consistency.
"""
import base64
import binascii
import hashlib
import sys


def _sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(entry):
    """RFC 9162 2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return _sha256(b"\x00" + entry)


def node_hash(left, right):
    """RFC 9162 2.1.1: SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return _sha256(b"\x01" + left + right)


def _split(n):
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes):
    """MTH over a list of *leaf hashes* (RFC 9162 2.1.1); the empty list gives SHA-256("")."""
    n = len(hashes)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def path(m, hashes):
    """PATH(m, D[n]) of RFC 9162 2.1.3.1 over leaf hashes."""
    n = len(hashes)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return path(m, hashes[:k]) + [mth(hashes[k:])]
    return path(m - k, hashes[k:]) + [mth(hashes[:k])]


def _subproof(m, hashes, b):
    n = len(hashes)
    if m == n:
        return [] if b else [mth(hashes)]
    k = _split(n)
    if m <= k:
        return _subproof(m, hashes[:k], b) + [mth(hashes[k:])]
    return _subproof(m - k, hashes[k:], False) + [mth(hashes[:k])]


def proof(m, hashes):
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1; [] for m == 0 and m == n (gpuproof's ledger.md)."""
    if m == 0 or m == len(hashes):
        return []
    return _subproof(m, hashes, True)


def verify_inclusion(leaf, index, size, root, inclusion_path):
    """RFC 9162 2.1.3.2, step by step."""
    if index < 0 or index >= size:  # step 1
        return False
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in inclusion_path:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root  # step 5


def verify_consistency(first, second, first_hash, second_hash, consistency_path):
    """RFC 9162 2.1.4.2, with ledger.md's decisions for first == 0 and first == second."""
    if first < 0 or first > second:
        return False
    if first == 0:
        return not consistency_path and first_hash == _sha256(b"")
    if first == second:
        return not consistency_path and first_hash == second_hash
    path_ = list(consistency_path)
    if not path_:  # step 1
        return False
    if first & (first - 1) == 0:  # step 2: first is an exact power of 2
        path_.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path_[0]  # step 5
    for c in path_[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0  # step 7


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("a hash must be 32 bytes, got %d" % len(raw))
    return raw


# RFC 9162 2.1.5's tree of d0..d6, built on the RFC 6962 reference leaves; nodes a..l as named
# there, so the proofs below are the RFC's lists of names.
_RFC6962_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                   "606162636465666768696a6b6c6d6e6f"]
_RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def selftest():
    if not __debug__:
        raise SystemExit("rfc9162.py selftest needs assertions: run it without -O")
    leaves = [leaf_hash(binascii.unhexlify(x)) for x in _RFC6962_LEAVES]
    assert mth([]).hex() == hashlib.sha256(b"").hexdigest()
    for n in range(1, 9):
        assert mth(leaves[:n]).hex() == _RFC6962_ROOTS[n - 1], n
    d = leaves[:7]
    a, b, c, d3, e, f = d[:6]
    g, h, i, j = node_hash(a, b), node_hash(c, d3), node_hash(e, f), d[6]
    k, l = node_hash(g, h), node_hash(i, j)
    root = node_hash(k, l)
    assert mth(d) == root
    for index, want in ((0, [b, h, l]), (3, [c, g, l]), (4, [f, j, k]), (6, [i, k])):
        assert path(index, d) == want, index
        assert verify_inclusion(d[index], index, 7, root, want), index
    for m, want in ((3, [c, d3, g, l]), (4, [l]), (6, [i, j, k])):
        assert proof(m, d) == want, m
        assert verify_consistency(m, 7, mth(d[:m]), root, want), m
    # Every proof of every tree up to 20 leaves, and a few forgeries.
    hashes = [leaf_hash(b"selftest %d" % x) for x in range(21)]
    for n in range(1, 21):
        r = mth(hashes[:n])
        for index in range(n):
            p = path(index, hashes[:n])
            assert verify_inclusion(hashes[index], index, n, r, p)
            assert not verify_inclusion(hashes[index], index, n, r, p + [r])
            if p:
                assert not verify_inclusion(hashes[index], index, n, r, p[:-1])
                assert not verify_inclusion(hashes[index], index, n, r,
                                            [bytes([p[0][0] ^ 1]) + p[0][1:]] + p[1:])
        for m in range(n + 1):
            p = proof(m, hashes[:n])
            assert verify_consistency(m, n, mth(hashes[:m]), r, p)
            assert not verify_consistency(m, n, mth(hashes[:m]), r, p + [r])
            if p:
                assert not verify_consistency(m, n, mth(hashes[:m]), r, p[:-1])
    return 0


def main(argv):
    try:
        if len(argv) == 2 and argv[1] == "selftest":
            selftest()
            print("rfc9162.py selftest: ok")
            return 0
        if len(argv) >= 6 and argv[1] == "inclusion":
            ok = verify_inclusion(unb64(argv[2]), int(argv[3]), int(argv[4]), unb64(argv[5]),
                                  [unb64(x) for x in argv[6:]])
        elif len(argv) >= 6 and argv[1] == "consistency":
            ok = verify_consistency(int(argv[2]), int(argv[3]), unb64(argv[4]), unb64(argv[5]),
                                    [unb64(x) for x in argv[6:]])
        else:
            sys.stderr.write(__doc__)
            return 2
    except (ValueError, binascii.Error) as exc:
        sys.stderr.write("rfc9162.py: %s\n" % exc)
        return 2
    except AssertionError as exc:
        sys.stderr.write("rfc9162.py: self-test failed: %r\n" % (exc.args,))
        return 1
    print("valid" if ok else "INVALID")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
