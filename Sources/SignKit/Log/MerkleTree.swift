import Foundation
import Synchronization

/// The hashes of an RFC 9162 Merkle tree (section 2.1.1), with SHA-256:
///
///     MTH({}) = SHA-256()
///     MTH({d(0)}) = SHA-256(0x00 || d(0))
///     MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
///         where k is the largest power of two smaller than n
///
/// The 0x00 and 0x01 prefixes keep a leaf from ever passing for an inner node (second-preimage resistance).
public enum MerkleHash {
    /// The length of every hash in a tree.
    public static let size = 32

    /// MTH({}): the root of the empty tree, SHA-256 of no bytes.
    public static let emptyRoot: [UInt8] = SHA256Hasher.hash([UInt8]())

    /// The leaf hash of `data`: SHA-256(0x00 || data).
    public static func leaf(_ data: [UInt8]) -> [UInt8] {
        var input = [UInt8]()
        input.reserveCapacity(1 + data.count)
        input.append(0x00)
        input += data
        return SHA256Hasher.hash(input)
    }

    /// `node(_:_:)` through `hasher` (left reset for the next use).
    public static func node(_ left: [UInt8], _ right: [UInt8], using hasher: SHA256Hasher) -> [UInt8] {
        hasher.update([UInt8(0x01)])
        hasher.update(left)
        hasher.update(right)
        return hasher.finalize()
    }

    /// The hash of an inner node: SHA-256(0x01 || left || right).
    public static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var input = [UInt8]()
        input.reserveCapacity(1 + left.count + right.count)
        input.append(0x01)
        input += left
        input += right
        return SHA256Hasher.hash(input)
    }

    /// k for a subtree of `count` leaves (count > 1): the largest power of two smaller than `count`, where RFC 9162
    /// splits it into a complete left subtree and the rest.
    static func split(_ count: Int) -> Int {
        precondition(count > 1, "only a tree of two or more leaves splits")
        return 1 << (Int.bitWidth - 1 - (count - 1).leadingZeroBitCount)
    }

    /// The root of a complete subtree from its leaf hashes (a power of two of them), one level at a time.
    static func completeRoot(_ hashes: [[UInt8]]) -> [UInt8] {
        precondition(!hashes.isEmpty && hashes.count & (hashes.count - 1) == 0, "a complete subtree has 2^l leaves")
        var level = hashes
        while level.count > 1 {
            level = stride(from: 0, to: level.count, by: 2).map { node(level[$0], level[$0 + 1]) }
        }
        return level[0]
    }
}

/// Where a tree's leaf hashes come from: an array in tests, the store later. The leaves are append-only: the hash at
/// an index never changes once it is there, which is what lets `MerkleTree` keep the roots of complete subtrees.
public protocol MerkleLeafSource: Sendable {
    /// The leaf hashes (`MerkleHash.leaf` of each leaf's data) at `range`, in order; throws when the range reaches
    /// past the leaves held.
    func leafHashes(in range: Range<Int>) throws -> [[UInt8]]
}

extension MerkleLeafSource {
    public func leafHash(at index: Int) throws -> [UInt8] {
        try leafHashes(in: index..<index + 1)[0]
    }
}

/// Leaf hashes held in memory.
extension Array: MerkleLeafSource where Element == [UInt8] {
    public func leafHashes(in range: Range<Int>) throws -> [[UInt8]] {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw LogError(.invalidRequest, "leaves \(range.lowerBound)..<\(range.upperBound) asked of a list of \(count)")
        }
        return Array(self[range])
    }
}

/// An append-only RFC 9162 Merkle tree over a `MerkleLeafSource`: the Merkle Tree Hash of its first n leaves, the
/// audit path of a leaf (section 2.1.3.1) and the consistency proof between two sizes (section 2.1.4.1). A tree of
/// size n is the first n leaves of the source, so one `MerkleTree` answers for every size the source has reached.
///
/// The proofs follow the RFC's recursive definitions. Every subtree the recursion names starts at a multiple of the
/// smallest power of two not below its size, so each complete subtree among them (2^l leaves) is aligned on 2^l and
/// never changes as the tree grows: the roots of those of 16 leaves or more are kept for the tree's lifetime. A
/// tree's leaves are read and hashed once, for its first root; a proof afterwards reads a few dozen leaf hashes at
/// most (the parts below 16 leaves, 16 at a time) and costs O(log n) hashes.
public final class MerkleTree: Sendable {
    public let leaves: any MerkleLeafSource
    private let completeRoots = Mutex<[Subtree: [UInt8]]>([:])

    /// The complete subtree of 2^level leaves starting at leaf index << level.
    private struct Subtree: Hashable {
        let level: Int
        let index: Int
    }

    /// The level from which complete subtrees' roots are kept (2^4 = 16 leaves): below it they are recomputed from
    /// one read of at most 16 leaf hashes, which keeps the cache at about n/8 entries.
    static let keptLevel = 4

    public init(leaves: any MerkleLeafSource) {
        self.leaves = leaves
    }

    /// MTH(D[size]): the root hash of the tree of the first `size` leaves.
    public func rootHash(size: Int) throws -> [UInt8] {
        guard size >= 0 else { throw LogError(.invalidRequest, "a tree cannot have \(size) leaves") }
        return size == 0 ? MerkleHash.emptyRoot : try subtreeHash(start: 0, count: size)
    }

    /// PATH(m, D[n]): the audit path of leaf `leafIndex` (counted from 0) in the tree of `treeSize` leaves, from the
    /// leaf's sibling up to the child of the root.
    public func inclusionProof(leafIndex: Int, treeSize: Int) throws -> InclusionProof {
        guard leafIndex >= 0, leafIndex < treeSize else {
            throw LogError(.invalidRequest, "leaf \(leafIndex) is not in a tree of \(treeSize) leaves")
        }
        try requireLeaves(treeSize)
        var hashes = [[UInt8]]()
        try path(leafIndex, start: 0, count: treeSize, into: &hashes)
        return InclusionProof(leafIndex: leafIndex, treeSize: treeSize, hashes: hashes)
    }

    /// PROOF(m, D[n]): the consistency proof that the tree of `oldSize` leaves is a prefix of the tree of `newSize`
    /// leaves. RFC 9162 defines it for 0 < m < n; for m = n and for m = 0 it is empty (any tree extends itself and
    /// the empty tree), as `ConsistencyProof.verify` expects.
    public func consistencyProof(oldSize: Int, newSize: Int) throws -> ConsistencyProof {
        guard oldSize >= 0, oldSize <= newSize else {
            throw LogError(.invalidRequest, "no consistency proof leads from a tree of \(oldSize) leaves to one of \(newSize)")
        }
        try requireLeaves(newSize)
        var hashes = [[UInt8]]()
        if oldSize > 0 { try subproof(oldSize, start: 0, count: newSize, whole: true, into: &hashes) }
        return ConsistencyProof(oldSize: oldSize, newSize: newSize, hashes: hashes)
    }

    /// Throws unless the source holds `size` leaves: a proof must not be made for a tree that does not exist, even
    /// where its hashes happen not to need the last leaf (the audit path of the last leaf does not).
    private func requireLeaves(_ size: Int) throws {
        if size > 0 { _ = try leaves.leafHashes(in: size - 1..<size) }
    }

    /// PATH(m, D[start:start+count]), appended to `hashes` deepest first:
    ///
    ///     PATH(0, {d(0)}) = {}
    ///     PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])        for m < k
    ///     PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])    for m >= k
    private func path(_ m: Int, start: Int, count: Int, into hashes: inout [[UInt8]]) throws {
        guard count > 1 else { return }
        let k = MerkleHash.split(count)
        if m < k {
            try path(m, start: start, count: k, into: &hashes)
            hashes.append(try subtreeHash(start: start + k, count: count - k))
        } else {
            try path(m - k, start: start + k, count: count - k, into: &hashes)
            hashes.append(try subtreeHash(start: start, count: k))
        }
    }

    /// SUBPROOF(m, D[start:start+count], whole), appended to `hashes`:
    ///
    ///     SUBPROOF(m, D[m], true) = {}
    ///     SUBPROOF(m, D[m], false) = {MTH(D[m])}
    ///     SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])           for m <= k
    ///     SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])   for m > k
    private func subproof(_ m: Int, start: Int, count: Int, whole: Bool, into hashes: inout [[UInt8]]) throws {
        if m == count {
            if !whole { hashes.append(try subtreeHash(start: start, count: count)) }
            return
        }
        let k = MerkleHash.split(count)
        if m <= k {
            try subproof(m, start: start, count: k, whole: whole, into: &hashes)
            hashes.append(try subtreeHash(start: start + k, count: count - k))
        } else {
            try subproof(m - k, start: start + k, count: count - k, whole: false, into: &hashes)
            hashes.append(try subtreeHash(start: start, count: k))
        }
    }

    /// MTH(D[start:start+count]) for a subtree the RFC's recursion names (see the type's comment).
    private func subtreeHash(start: Int, count: Int) throws -> [UInt8] {
        if count & (count - 1) == 0 {
            let level = count.trailingZeroBitCount
            precondition(start & (count - 1) == 0, "a complete subtree of the recursion is aligned on its size")
            return try completeRoot(Subtree(level: level, index: start >> level))
        }
        let k = MerkleHash.split(count)
        return MerkleHash.node(try subtreeHash(start: start, count: k), try subtreeHash(start: start + k, count: count - k))
    }

    /// The root of a complete subtree: from its leaves below the kept level, else from its two halves, kept.
    private func completeRoot(_ subtree: Subtree) throws -> [UInt8] {
        if subtree.level <= Self.keptLevel {
            if subtree.level == Self.keptLevel, let kept = completeRoots.withLock({ $0[subtree] }) { return kept }
            let first = subtree.index << subtree.level
            let root = MerkleHash.completeRoot(try leaves.leafHashes(in: first..<first + (1 << subtree.level)))
            if subtree.level == Self.keptLevel { completeRoots.withLock { $0[subtree] = root } }
            return root
        }
        if let kept = completeRoots.withLock({ $0[subtree] }) { return kept }
        let left = try completeRoot(Subtree(level: subtree.level - 1, index: subtree.index * 2))
        let right = try completeRoot(Subtree(level: subtree.level - 1, index: subtree.index * 2 + 1))
        let root = MerkleHash.node(left, right)
        completeRoots.withLock { $0[subtree] = root }
        return root
    }
}
