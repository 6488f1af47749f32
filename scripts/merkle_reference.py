#!/usr/bin/env python3
"""An independent RFC 9162 Merkle tree, for checking SignKit's (Tests/SignKitTests/MerkleTreeTests.swift).

Written straight from the RFC's recursive definitions (section 2.1.1 MTH, 2.1.3.1 PATH, 2.1.4.1 PROOF and
SUBPROOF), with nothing shared with the Swift code but the standard: subtree hashes are memoised by their leaf
range, which changes how often a hash is computed, never what it is.

Reads one JSON question on stdin and writes one JSON answer on stdout:
  {"leaves": [hex leaf data...], "roots": [n...], "inclusion": [[m, n]...], "consistency": [[m, n]...]}
  {"leafHashes": [hex...], "roots": [hex...], "inclusion": [[hex...]...], "consistency": [[hex...]...]}
where a tree of size n holds the first n leaves, "inclusion" asks PATH(m, D[n]) and "consistency" PROOF(m, D[n]).
"""
import hashlib
import json
import sys
from functools import lru_cache


def sha256(data):
    return hashlib.sha256(data).digest()


def split(n):
    """k, the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def answer(question):
    data = [bytes.fromhex(leaf) for leaf in question["leaves"]]

    @lru_cache(maxsize=None)
    def mth(lo, hi):
        """MTH(D[lo:hi])."""
        n = hi - lo
        if n == 0:
            return sha256(b"")
        if n == 1:
            return sha256(b"\x00" + data[lo])
        k = split(n)
        return sha256(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi))

    def path(m, lo, hi):
        """PATH(m, D[lo:hi]): the audit path of leaf m of that subtree."""
        n = hi - lo
        if n == 1:
            return []
        k = split(n)
        if m < k:
            return path(m, lo, lo + k) + [mth(lo + k, hi)]
        return path(m - k, lo + k, hi) + [mth(lo, lo + k)]

    def subproof(m, lo, hi, whole):
        """SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if whole else [mth(lo, hi)]
        k = split(n)
        if m <= k:
            return subproof(m, lo, lo + k, whole) + [mth(lo + k, hi)]
        return subproof(m - k, lo + k, hi, False) + [mth(lo, lo + k)]

    def hexes(hashes):
        return [h.hex() for h in hashes]

    return {
        "leafHashes": [sha256(b"\x00" + d).hex() for d in data],
        "roots": [mth(0, n).hex() for n in question["roots"]],
        "inclusion": [hexes(path(m, 0, n)) for m, n in question["inclusion"]],
        "consistency": [hexes(subproof(m, 0, n, True)) for m, n in question["consistency"]],
    }


if __name__ == "__main__":
    json.dump(answer(json.load(sys.stdin)), sys.stdout)
    sys.stdout.write("\n")
