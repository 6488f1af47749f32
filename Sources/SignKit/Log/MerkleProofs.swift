import Foundation

/// An inclusion proof (RFC 9162 2.1.3): the audit path that leads from one leaf's hash to the root of a tree of
/// `treeSize` leaves. Checking it needs the leaf's hash and the root, never the other leaves.
public struct InclusionProof: Sendable, Hashable {
    /// The leaf's index, counted from 0.
    public let leafIndex: Int
    public let treeSize: Int
    /// The audit path, from the leaf's sibling up (`MerkleTree.inclusionProof`).
    public let hashes: [[UInt8]]

    public init(leafIndex: Int, treeSize: Int, hashes: [[UInt8]]) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.hashes = hashes
    }

    /// The root the path leads to from `leafHash`, by RFC 9162 2.1.3.2 (steps 1 to 4, and step 5's check of sn):
    ///
    ///     1. If leaf_index >= tree_size, fail.
    ///     2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
    ///     4. For each p in the path: if sn = 0, fail.
    ///        If LSB(fn) is set or fn = sn: r = HASH(0x01 || p || r), then, if LSB(fn) is not set, right-shift fn
    ///        and sn until LSB(fn) is set or fn is 0. Otherwise r = HASH(0x01 || r || p).
    ///        Then right-shift fn and sn once.
    ///     5. Succeed only if sn = 0 and r = root_hash.
    ///
    /// Throws `proof-not-valid` when the path cannot belong to this leaf and size (too long, too short, a hash that
    /// is not 32 bytes).
    public func rootHash(fromLeafHash leafHash: [UInt8]) throws -> [UInt8] {
        try rootHash(fromLeafHash: leafHash, node: MerkleHash.node)
    }

    /// `rootHash(fromLeafHash:)` with the node hash given: a verifier checking thousands of proofs passes one that
    /// reuses a hasher (`MerkleHash.node(_:_:using:)`), which spares an OpenSSL context per node.
    public func rootHash(fromLeafHash leafHash: [UInt8], node: ([UInt8], [UInt8]) -> [UInt8]) throws -> [UInt8] {
        try Self.requireHashes(hashes, what: "the inclusion proof of leaf \(leafIndex)")
        try Self.requireHashes([leafHash], what: "the leaf hash given")
        guard leafIndex >= 0, leafIndex < treeSize else {
            throw LogError(.proofNotValid, "leaf \(leafIndex) cannot be in a tree of \(treeSize) leaves")
        }
        var fn = leafIndex, sn = treeSize - 1
        var r = leafHash
        for p in hashes {
            guard sn != 0 else {
                throw LogError(
                    .proofNotValid, "the inclusion proof of leaf \(leafIndex) in a tree of \(treeSize) has more hashes (\(hashes.count)) than it can use")
            }
            if fn & 1 == 1 || fn == sn {
                r = node(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else {
            throw LogError(.proofNotValid, "the inclusion proof of leaf \(leafIndex) in a tree of \(treeSize) is too short (\(hashes.count) hashes)")
        }
        return r
    }

    /// Succeeds when the path leads from `leafHash` to `rootHash` (RFC 9162 2.1.3.2); throws `proof-not-valid`
    /// saying why not.
    public func verify(leafHash: [UInt8], rootHash: [UInt8]) throws {
        let reached = try self.rootHash(fromLeafHash: leafHash)
        guard reached == rootHash else {
            throw LogError(
                .proofNotValid,
                "the inclusion proof of leaf \(leafIndex) leads to the root \(Hex.encode(reached)), not to the tree head's \(Hex.encode(rootHash)) (size \(treeSize))"
            )
        }
    }

    public func isValid(leafHash: [UInt8], rootHash: [UInt8]) -> Bool {
        (try? verify(leafHash: leafHash, rootHash: rootHash)) != nil
    }

    /// `isValid(leafHash:rootHash:)` hashing the nodes with `hasher` (reused: one OpenSSL context for the whole path).
    public func isValid(leafHash: [UInt8], rootHash: [UInt8], using hasher: SHA256Hasher) -> Bool {
        (try? self.rootHash(fromLeafHash: leafHash) { MerkleHash.node($0, $1, using: hasher) }) == rootHash
    }

    static func requireHashes(_ hashes: [[UInt8]], what: String) throws {
        if let index = hashes.firstIndex(where: { $0.count != MerkleHash.size }) {
            throw LogError(.proofNotValid, "\(what): a hash of \(hashes[index].count) bytes, not \(MerkleHash.size)")
        }
    }
}

/// A consistency proof (RFC 9162 2.1.4): the hashes that show the tree of `oldSize` leaves is a prefix of the tree
/// of `newSize` leaves, i.e. that the log only appended. Checking it needs the two root hashes, never the leaves.
public struct ConsistencyProof: Sendable, Hashable {
    public let oldSize: Int
    public let newSize: Int
    public let hashes: [[UInt8]]

    public init(oldSize: Int, newSize: Int, hashes: [[UInt8]]) {
        self.oldSize = oldSize
        self.newSize = newSize
        self.hashes = hashes
    }

    /// Succeeds when the proof shows the tree with root `oldRoot` (`oldSize` leaves) is a prefix of the tree with
    /// root `newRoot` (`newSize` leaves); throws `proof-not-valid` saying why not.
    ///
    /// For 0 < first < second, RFC 9162 2.1.4.2 exactly:
    ///
    ///     1. If consistency_path is empty, fail.
    ///     2. If first is an exact power of 2, prepend first_hash to consistency_path.
    ///     3. fn = first - 1, sn = second - 1.
    ///     4. If LSB(fn) is set, right-shift fn and sn until LSB(fn) is not set.
    ///     5. fr = sr = the first value of consistency_path.
    ///     6. For each subsequent value c: if sn = 0, fail.
    ///        If LSB(fn) is set or fn = sn: fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c || sr), then, if LSB(fn)
    ///        is not set, right-shift fn and sn until LSB(fn) is set or fn is 0. Otherwise sr = HASH(0x01 || sr || c).
    ///        Then right-shift fn and sn once.
    ///     7. Succeed only if fr = first_hash, sr = second_hash and sn = 0.
    ///
    /// The RFC leaves two cases aside, which are decided here as `MerkleTree.consistencyProof` makes them: equal
    /// sizes need an empty proof and equal roots; an old size of 0 needs an empty proof and the empty tree's root.
    public func verify(oldRoot: [UInt8], newRoot: [UInt8]) throws {
        let what = "the consistency proof from \(oldSize) to \(newSize) leaves"
        try InclusionProof.requireHashes(hashes, what: what)
        try InclusionProof.requireHashes([oldRoot, newRoot], what: "the root hashes given")
        guard oldSize >= 0, oldSize <= newSize else {
            throw LogError(.proofNotValid, "a tree of \(oldSize) leaves cannot be a prefix of one of \(newSize)")
        }
        if oldSize == newSize || oldSize == 0 {
            guard hashes.isEmpty else { throw LogError(.proofNotValid, "\(what) must be empty; it has \(hashes.count) hashes") }
            if oldSize == 0, oldRoot != MerkleHash.emptyRoot {
                throw LogError(.proofNotValid, "the root \(Hex.encode(oldRoot)) is not the empty tree's")
            }
            if oldSize == newSize, oldRoot != newRoot {
                throw LogError(
                    .proofNotValid, "two tree heads of \(oldSize) leaves have different roots: \(Hex.encode(oldRoot)) and \(Hex.encode(newRoot))")
            }
            return
        }
        guard !hashes.isEmpty else { throw LogError(.proofNotValid, "\(what) is empty") }
        var path = hashes
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1, sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw LogError(.proofNotValid, "\(what) has more hashes (\(hashes.count)) than it can use") }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw LogError(.proofNotValid, "\(what) is too short (\(hashes.count) hashes)") }
        guard fr == oldRoot else {
            throw LogError(.proofNotValid, "\(what) leads to the old root \(Hex.encode(fr)), not to the older tree head's \(Hex.encode(oldRoot))")
        }
        guard sr == newRoot else {
            throw LogError(.proofNotValid, "\(what) leads to the new root \(Hex.encode(sr)), not to the newer tree head's \(Hex.encode(newRoot))")
        }
    }

    public func isValid(oldRoot: [UInt8], newRoot: [UInt8]) -> Bool {
        (try? verify(oldRoot: oldRoot, newRoot: newRoot)) != nil
    }
}
