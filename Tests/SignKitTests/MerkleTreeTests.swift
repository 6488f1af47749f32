import Foundation
import Synchronization
import Testing
import TestSupport
@testable import SignKit

/// The department log's first layer (docs/formats.md "Department log"): RFC 9162 hashing and proofs over leaf
/// hashes, the leaf of a history entry, and tree heads as signed C2SP checkpoints. Nothing here needs the token rig.
@Suite("The department log: Merkle tree, proofs, tree heads")
struct MerkleTreeTests {
    // MARK: Known vectors

    /// The leaves of the Certificate Transparency reference tests (RFC 6962's C++ and Go implementations).
    static let ctLeaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    /// Their roots for the first 1 to 8 leaves.
    static let ctRoots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    static func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex)! }
    static func hexes(_ hashes: [[UInt8]]) -> [String] { hashes.map { Hex.encode($0) } }

    /// The code of the error `body` throws; nil when it throws none.
    static func code(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? any CodedError)?.codeName ?? "not-coded: \(error)"
        }
    }

    @Test("Hashing: the empty tree, leaves and nodes, small trees composed by hand, the CT roots")
    func hashing() throws {
        #expect(Hex.encode(MerkleHash.emptyRoot) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(MerkleHash.leaf([0xAB, 0xCD]) == SHA256Hasher.hash([0x00, 0xAB, 0xCD]))
        let l = Self.ctLeaves.map { MerkleHash.leaf(Self.bytes($0)) }
        #expect(Hex.encode(l[0]) == Self.ctRoots[0])  // a one-leaf tree's root is its leaf hash
        #expect(MerkleHash.node(l[0], l[1]) == SHA256Hasher.hash([0x01] + l[0] + l[1]))
        let tree = MerkleTree(leaves: l)
        #expect(try tree.rootHash(size: 0) == MerkleHash.emptyRoot)
        #expect(try tree.rootHash(size: 1) == l[0])
        let n01 = MerkleHash.node(l[0], l[1]), n23 = MerkleHash.node(l[2], l[3]), n45 = MerkleHash.node(l[4], l[5])
        // Three leaves: the complete pair on the left, the third leaf alone on the right.
        #expect(try tree.rootHash(size: 3) == MerkleHash.node(n01, l[2]))
        // Five: the complete four, then the fifth leaf.
        #expect(try tree.rootHash(size: 5) == MerkleHash.node(MerkleHash.node(n01, n23), l[4]))
        // Seven: the complete four, then ((4 5) 6).
        #expect(try tree.rootHash(size: 7) == MerkleHash.node(MerkleHash.node(n01, n23), MerkleHash.node(n45, l[6])))
        for (index, root) in Self.ctRoots.enumerated() {
            #expect(Hex.encode(try tree.rootHash(size: index + 1)) == root, "the root of \(index + 1) CT leaves")
        }
        #expect(Self.code { _ = try tree.rootHash(size: 9) } == "invalid-request")
        #expect(Self.code { _ = try tree.rootHash(size: -1) } == "invalid-request")
    }

    @Test("Proofs: by hand for three leaves, the CT reference vectors, sizes the leaves do not reach")
    func proofVectors() throws {
        let l = Self.ctLeaves.map { MerkleHash.leaf(Self.bytes($0)) }
        let tree = MerkleTree(leaves: l)
        let n01 = MerkleHash.node(l[0], l[1])
        #expect(try tree.inclusionProof(leafIndex: 0, treeSize: 3).hashes == [l[1], l[2]])
        #expect(try tree.inclusionProof(leafIndex: 1, treeSize: 3).hashes == [l[0], l[2]])
        #expect(try tree.inclusionProof(leafIndex: 2, treeSize: 3).hashes == [n01])
        #expect(try tree.inclusionProof(leafIndex: 0, treeSize: 1).hashes == [])
        #expect(try tree.consistencyProof(oldSize: 1, newSize: 3).hashes == [l[1], l[2]])
        #expect(try tree.consistencyProof(oldSize: 2, newSize: 3).hashes == [l[2]])
        #expect(try tree.consistencyProof(oldSize: 3, newSize: 3).hashes == [])
        #expect(try tree.consistencyProof(oldSize: 0, newSize: 3).hashes == [])
        let root3 = try tree.rootHash(size: 3)
        for index in 0..<3 {
            try tree.inclusionProof(leafIndex: index, treeSize: 3).verify(leafHash: l[index], rootHash: root3)
        }

        let inclusion: [(Int, Int, [String])] = [
            (
                0, 8,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]
            ),
            (
                5, 8,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]
            ),
            (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        ]
        for (index, size, path) in inclusion {
            let proof = try tree.inclusionProof(leafIndex: index, treeSize: size)
            #expect(Self.hexes(proof.hashes) == path, "the audit path of leaf \(index) of \(size)")
            try proof.verify(leafHash: l[index], rootHash: Self.bytes(Self.ctRoots[size - 1]))
        }
        let consistency: [(Int, Int, [String])] = [
            (1, 1, []),
            (
                1, 8,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]
            ),
            (
                6, 8,
                [
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]
            ),
            (
                2, 5,
                [
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ]
            ),
        ]
        for (old, new, path) in consistency {
            let proof = try tree.consistencyProof(oldSize: old, newSize: new)
            #expect(Self.hexes(proof.hashes) == path, "the consistency proof from \(old) to \(new)")
            try proof.verify(oldRoot: Self.bytes(Self.ctRoots[old - 1]), newRoot: Self.bytes(Self.ctRoots[new - 1]))
        }

        // The empty tree is a prefix of every tree; nothing but an empty proof and the empty root shows it.
        let empty = try tree.consistencyProof(oldSize: 0, newSize: 8)
        try empty.verify(oldRoot: MerkleHash.emptyRoot, newRoot: Self.bytes(Self.ctRoots[7]))
        #expect(!empty.isValid(oldRoot: l[0], newRoot: Self.bytes(Self.ctRoots[7])))
        #expect(!ConsistencyProof(oldSize: 0, newSize: 8, hashes: [l[0]]).isValid(oldRoot: MerkleHash.emptyRoot, newRoot: Self.bytes(Self.ctRoots[7])))
        // Equal sizes: an empty proof and the same root.
        #expect(!ConsistencyProof(oldSize: 8, newSize: 8, hashes: []).isValid(oldRoot: l[0], newRoot: Self.bytes(Self.ctRoots[7])))

        // A proof is never made for a tree the leaves do not reach, not even the audit path of its last leaf, which
        // needs no hash of it.
        #expect(Self.code { _ = try tree.inclusionProof(leafIndex: 8, treeSize: 9) } == "invalid-request")
        #expect(Self.code { _ = try tree.inclusionProof(leafIndex: 3, treeSize: 3) } == "invalid-request")
        #expect(Self.code { _ = try tree.consistencyProof(oldSize: 9, newSize: 9) } == "invalid-request")
        #expect(Self.code { _ = try tree.consistencyProof(oldSize: 0, newSize: 9) } == "invalid-request")
        #expect(Self.code { _ = try tree.consistencyProof(oldSize: 5, newSize: 4) } == "invalid-request")
        // A proof holding a hash of the wrong length is refused before any hashing.
        var short = try tree.inclusionProof(leafIndex: 0, treeSize: 8).hashes
        short[1].removeLast()
        #expect(
            Self.code { try InclusionProof(leafIndex: 0, treeSize: 8, hashes: short).verify(leafHash: l[0], rootHash: Self.bytes(Self.ctRoots[7])) }
                == "proof-not-valid")
    }

    // MARK: Agreement with an independent implementation

    /// What scripts/merkle_reference.py is asked, in one batch.
    struct ReferenceQuestion: Encodable {
        let leaves: [String]
        let roots: [Int]
        let inclusion: [[Int]]
        let consistency: [[Int]]
    }

    struct ReferenceAnswer: Decodable {
        let leafHashes: [String]
        let roots: [String]
        let inclusion: [[String]]
        let consistency: [[String]]
    }

    /// The leaves of a department's first `count` history entries, over seven files.
    static func historyLeaves(_ count: Int) throws -> [DepartmentLogLeaf] {
        var sequences = [String: Int]()
        let start = try #require(UTCTimeText.parse("2026-12-01T04:30:00Z"))
        return try (0..<count).map { index in
            let file = "DIT-\(index % 7 + 1)/2026-IT"
            sequences[file, default: 0] += 1
            return try DepartmentLogLeaf(
                origin: "records.dit.mn.gov.in/log", fileNumber: file, sequence: sequences[file]!,
                entryHash: SHA256Hasher.hash(Array("entry \(index)".utf8)), time: start.addingTimeInterval(Double(index * 37)))
        }
    }

    @Test("Roots, audit paths and consistency proofs agree with scripts/merkle_reference.py for 1 to 1,000 leaves; tampered proofs fail")
    func agreesWithReference() throws {
        let clock = ContinuousClock()
        let leaves = try Self.historyLeaves(1000)
        let tree = MerkleTree(leaves: leaves.map(\.leafHash))
        var random = SplitMix64(seed: 21)

        // Every size to 64, then a spread to 1,000: powers of two and their neighbours, and random sizes.
        let spread = [65, 100, 127, 128, 129, 255, 256, 257, 333, 500, 511, 512, 513, 640, 777, 999, 1000]
        let sizes = Array(1...64) + spread + (0..<20).map { _ in Int.random(in: 65...1000, using: &random) }
        var inclusion = [[Int]](), consistency = [[Int]]()
        for n in sizes {
            let indexes =
                n <= 64 || n == 1000
                ? Array(0..<n) : [0, 1, n / 2, n - 2, n - 1] + (0..<10).map { _ in Int.random(in: 0..<n, using: &random) }
            inclusion += indexes.map { [$0, n] }
            let olds =
                n <= 64
                ? Array(1...n) : [1, 2, MerkleHash.split(n), n / 2, n - 1, n] + (0..<10).map { _ in Int.random(in: 1...n, using: &random) }
            consistency += olds.map { [$0, n] }
        }
        for _ in 0..<300 {
            let n = Int.random(in: 1...1000, using: &random)
            consistency.append([Int.random(in: 1...n, using: &random), n])
        }

        let question = ReferenceQuestion(
            leaves: leaves.map { Hex.encode($0.canonicalBytes) }, roots: sizes, inclusion: inclusion, consistency: consistency)
        let pythonStart = clock.now
        let script = Rig.root.appendingPathComponent("scripts/merkle_reference.py").path
        let result = try Command.run("/usr/bin/python3", [script], stdin: try JSONEncoder().encode(question))
        try #require(result.status == 0, "merkle_reference.py failed: \(result.stderr)")
        let answer = try JSONDecoder().decode(ReferenceAnswer.self, from: result.stdoutData)
        let pythonTime = clock.now - pythonStart
        try #require(answer.roots.count == sizes.count && answer.inclusion.count == inclusion.count && answer.consistency.count == consistency.count)

        let swiftStart = clock.now
        var problems = [String]()
        #expect(answer.leafHashes == leaves.map { Hex.encode($0.leafHash) }, "the leaf hashes of the history leaves")
        var roots = [Int: [UInt8]]()
        func root(_ size: Int) throws -> [UInt8] {
            if let known = roots[size] { return known }
            let made = try tree.rootHash(size: size)
            roots[size] = made
            return made
        }
        for (size, expected) in zip(sizes, answer.roots) {
            if Hex.encode(try root(size)) != expected { problems.append("the root of \(size) leaves") }
        }
        let leafHashes = leaves.map(\.leafHash)
        for (asked, expected) in zip(inclusion, answer.inclusion) {
            let (m, n) = (asked[0], asked[1])
            let proof = try tree.inclusionProof(leafIndex: m, treeSize: n), rootN = try root(n)
            if Self.hexes(proof.hashes) != expected { problems.append("the audit path of leaf \(m) of \(n)") }
            if !proof.isValid(leafHash: leafHashes[m], rootHash: rootN) { problems.append("the audit path of leaf \(m) of \(n) does not verify") }
            // One byte changed: in a hash of the path, or in the leaf's hash when the path is empty.
            if proof.hashes.isEmpty {
                if proof.isValid(leafHash: Self.flipped([leafHashes[m]], &random)[0], rootHash: rootN) {
                    problems.append("a changed leaf verifies in a tree of 1")
                }
            } else if InclusionProof(leafIndex: m, treeSize: n, hashes: Self.flipped(proof.hashes, &random)).isValid(
                leafHash: leafHashes[m], rootHash: rootN)
            {
                problems.append("the audit path of leaf \(m) of \(n) verifies with a byte changed")
            }
            // Another index: the same path claimed for the next leaf, with either leaf's hash.
            if n > 1 {
                let other = (m + 1) % n
                let moved = InclusionProof(leafIndex: other, treeSize: n, hashes: proof.hashes)
                if moved.isValid(leafHash: leafHashes[m], rootHash: rootN) || moved.isValid(leafHash: leafHashes[other], rootHash: rootN) {
                    problems.append("the audit path of leaf \(m) of \(n) verifies as leaf \(other)'s")
                }
            }
            // Another size: the path claimed for a tree one larger (or smaller), against that tree's root.
            for size in [n + 1, n - 1] where size > m && size <= 1000 {
                if InclusionProof(leafIndex: m, treeSize: size, hashes: proof.hashes).isValid(leafHash: leafHashes[m], rootHash: try root(size)) {
                    problems.append("the audit path of leaf \(m) of \(n) verifies in a tree of \(size)")
                }
            }
        }
        for (asked, expected) in zip(consistency, answer.consistency) {
            let (m, n) = (asked[0], asked[1])
            let proof = try tree.consistencyProof(oldSize: m, newSize: n)
            if Self.hexes(proof.hashes) != expected { problems.append("the consistency proof from \(m) to \(n)") }
            if !proof.isValid(oldRoot: try root(m), newRoot: try root(n)) { problems.append("the consistency proof from \(m) to \(n) does not verify") }
            if !proof.hashes.isEmpty,
                ConsistencyProof(oldSize: m, newSize: n, hashes: Self.flipped(proof.hashes, &random)).isValid(oldRoot: try root(m), newRoot: try root(n))
            {
                problems.append("the consistency proof from \(m) to \(n) verifies with a byte changed")
            }
            // Other sizes, each against the roots of the sizes claimed.
            for (old, new) in [(m, n + 1), (m + 1, n), (m - 1, n), (m, n - 1)] where old >= 1 && old <= new && new <= 1000 && (old, new) != (m, n) {
                if ConsistencyProof(oldSize: old, newSize: new, hashes: proof.hashes).isValid(oldRoot: try root(old), newRoot: try root(new)) {
                    problems.append("the consistency proof from \(m) to \(n) verifies from \(old) to \(new)")
                }
            }
        }
        let swiftTime = clock.now - swiftStart
        #expect(problems.isEmpty, "\(problems.count) disagreements or accepted forgeries, first: \(problems.prefix(5))")
        print(
            "MerkleTreeTests: \(sizes.count) roots, \(inclusion.count) audit paths, \(consistency.count) consistency proofs over 1 to 1,000 leaves: "
                + "Swift (make, verify, 3-4 forgeries each) \(swiftTime), merkle_reference.py \(pythonTime)")
    }

    /// `hashes` with one byte of one hash changed.
    static func flipped(_ hashes: [[UInt8]], _ random: inout SplitMix64) -> [[UInt8]] {
        var changed = hashes
        let which = Int.random(in: 0..<changed.count, using: &random)
        changed[which][Int.random(in: 0..<MerkleHash.size, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
        return changed
    }

    /// A leaf source that counts the leaf hashes it hands out, as a store would count rows read.
    final class CountingLeaves: MerkleLeafSource {
        let hashes: [[UInt8]]
        let reads = Mutex(0)
        init(_ hashes: [[UInt8]]) { self.hashes = hashes }
        func leafHashes(in range: Range<Int>) throws -> [[UInt8]] {
            reads.withLock { $0 += range.count }
            return try hashes.leafHashes(in: range)
        }
        /// The leaf hashes read since the last call.
        func taken() -> Int {
            reads.withLock { count in
                let taken = count
                count = 0
                return taken
            }
        }
    }

    @Test("A 1,000-leaf tree reads each leaf once for its root; proofs afterwards read a few leaves each")
    func leavesAreReadOnce() throws {
        let source = CountingLeaves(try Self.historyLeaves(1000).map(\.leafHash))
        let tree = MerkleTree(leaves: source)
        let root = try tree.rootHash(size: 1000)
        #expect(source.taken() == 1000)
        #expect(try tree.rootHash(size: 1000) == root)
        #expect(source.taken() < 32, "the second root comes from the kept subtrees")
        for index in 0..<1000 {
            let proof = try tree.inclusionProof(leafIndex: index, treeSize: 1000)
            #expect(proof.isValid(leafHash: source.hashes[index], rootHash: root))
        }
        let perProof = Double(source.taken()) / 1000
        #expect(perProof < 48, "leaf hashes read per audit path: \(perProof)")
        for old in stride(from: 1, through: 1000, by: 7) {
            _ = try tree.consistencyProof(oldSize: old, newSize: 1000)
        }
        #expect(Double(source.taken()) / 143 < 96, "leaf hashes read per consistency proof")
    }

    // MARK: Leaves

    @Test("A history entry's leaf: DER written by hand, read back by openssl asn1parse")
    func leafEncoding() throws {
        let time = try #require(UTCTimeText.parse("2026-11-23T07:01:49Z"))
        let leaf = try DepartmentLogLeaf(origin: "a", fileNumber: "F", sequence: 1, entryHash: [UInt8](repeating: 0xAB, count: 32), time: time)
        let expected =
            "303f" + "020101" + "0c0161" + "0c0146" + "020101" + "0420" + String(repeating: "ab", count: 32) + "180f"
            + Hex.encode(Array("20261123070149Z".utf8))
        #expect(Hex.encode(leaf.canonicalBytes) == expected)
        #expect(leaf.leafHash == SHA256Hasher.hash([0x00] + Self.bytes(expected)))
        // A sequence whose high bit is set takes a leading zero byte (X.690 8.3.2); fractions of a second are dropped.
        let later = try DepartmentLogLeaf(
            origin: "a", fileNumber: "F", sequence: 200, entryHash: [UInt8](repeating: 0xAB, count: 32), time: time.addingTimeInterval(0.75))
        #expect(Hex.encode(later.canonicalBytes).contains("0c0146" + "020200c8" + "0420"))
        #expect(later.time == time)

        // From an entry: its file, sequence, hash and time.
        let entry = HistoryEntry(
            fileNumber: "DIT-12/3/2026-IT", sequence: 4, kind: .note, noteID: "N-4", time: time, contentHash: SHA256Hasher.hash([1]),
            signatureHash: SHA256Hasher.hash([2]), signerFingerprint: SHA256Hasher.hash([3]), previousHash: HistoryEntry.genesis)
        let fromEntry = try DepartmentLogLeaf(origin: "records.dit.mn.gov.in/log", entry: entry)
        #expect(fromEntry.fileNumber == entry.fileNumber && fromEntry.sequence == 4 && fromEntry.entryHash == entry.hash && fromEntry.time == time)
        let scratch = try TemporaryFolder("signkit-leaf")
        let file = try scratch.file("leaf.der", fromEntry.canonicalBytes)
        let parsed = try Command.run(Command.which("openssl") ?? "/usr/bin/openssl", ["asn1parse", "-inform", "DER", "-in", file.path])
        try #require(parsed.status == 0, "openssl asn1parse: \(parsed.stderr)")
        let fields = parsed.stdout.split(separator: "\n").compactMap { $0.split(separator: ":", maxSplits: 3).last.map(String.init) }
        #expect(fields.contains("records.dit.mn.gov.in/log") && fields.contains("DIT-12/3/2026-IT") && fields.contains("04"))
        #expect(fields.contains(Hex.encode(entry.hash, uppercase: true)) && fields.contains("20261123070149Z"))

        #expect(Self.code { _ = try DepartmentLogLeaf(origin: "a", fileNumber: "F", sequence: 0, entryHash: entry.hash, time: time) } == "invalid-request")
        #expect(Self.code { _ = try DepartmentLogLeaf(origin: "a", fileNumber: "F", sequence: 1, entryHash: [1, 2], time: time) } == "invalid-request")
        #expect(Self.code { _ = try DepartmentLogLeaf(origin: "", fileNumber: "F", sequence: 1, entryHash: entry.hash, time: time) } == "invalid-request")
    }

    // MARK: Tree heads

    static let origin = "records.dit.mn.gov.in/log"

    @Test("A tree head as a C2SP checkpoint: the exact text, read back, malformed ones refused")
    func checkpointText() throws {
        let head = try TreeHead(origin: Self.origin, size: 8, rootHash: Self.bytes(Self.ctRoots[7]))
        #expect(head.checkpointText == "records.dit.mn.gov.in/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n")
        #expect(try TreeHead(checkpoint: head.checkpointText) == head)
        let empty = try TreeHead(origin: Self.origin, size: 0, rootHash: MerkleHash.emptyRoot)
        #expect(empty.checkpointText == "records.dit.mn.gov.in/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
        let extended = try TreeHead(checkpoint: head.checkpointText + "extension one\n")
        #expect(extended.extensionLines == ["extension one"] && extended.checkpointText == head.checkpointText + "extension one\n")

        let root = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
        let malformed = [
            "records.dit.mn.gov.in/log\n8\n\(root)",  // no final newline
            "records.dit.mn.gov.in/log\n8\n",  // no root
            "\n8\n\(root)\n",  // no origin
            "records.dit.mn.gov.in/log\n08\n\(root)\n",  // a leading zero
            "records.dit.mn.gov.in/log\n+8\n\(root)\n",
            "records.dit.mn.gov.in/log\n-1\n\(root)\n",
            "records.dit.mn.gov.in/log\n99999999999999999999\n\(root)\n",  // past Int
            "records.dit.mn.gov.in/log\n8\n\(root.dropLast())\n",  // not padded
            "records.dit.mn.gov.in/log\n8\n\(NoteBase64.encode(Array(Self.bytes(Self.ctRoots[7]).dropLast())))\n",  // 31 bytes
            "records.dit.mn.gov.in/log\n8\n\(root)\n\n",  // an empty extension line
        ]
        for text in malformed {
            #expect(Self.code { _ = try TreeHead(checkpoint: text) } == "tree-head-malformed", "\(text.debugDescription)")
        }
    }

    @Test("Signed tree heads: RSA and ECDSA keys sign, openssl verifies, changed sizes, roots and keys fail, cosignatures are kept")
    func signedTreeHeads() throws {
        let head = try TreeHead(origin: Self.origin, size: 8, rootHash: Self.bytes(Self.ctRoots[7]))
        for signer in ["docsigner", "officer-ec"] {
            let certificate = try Fixture.certificate(signer), key = try Fixture.key(signer)
            let noteKey = try X509NoteKey(name: Self.origin, certificate: certificate)
            let note = try head.signed(by: noteKey) { try key.sign($0).bytes }
            let encoded = note.encoded
            #expect(encoded.hasPrefix(head.checkpointText + "\n— records.dit.mn.gov.in/log ") && encoded.hasSuffix("\n"))
            #expect(encoded.components(separatedBy: "\n").count == 6)  // three lines, the blank one, the signature, ""

            // Read back and verified.
            let read = try SignedNote(parsing: encoded)
            #expect(read == note && read.encoded == encoded)
            #expect(try TreeHead(verifying: read, origin: Self.origin, key: noteKey) == head)

            // The key ID as docs/formats.md gives it, from the public key openssl reads out of the certificate.
            let spki = try Self.opensslPublicKey(Fixture.folder.appendingPathComponent("certs/\(signer).crt").path)
            let digest = SHA256Hasher.hash(Array("\(Self.origin)\n".utf8) + [0xFF] + Array("signservice-x509-sha256".utf8) + spki)
            let keyID: [UInt8] = withUnsafeBytes(of: read.signatures[0].keyID.bigEndian) { Array($0) }
            #expect(keyID == Array(digest.prefix(4)))
            // The signature is a plain SHA-256 signature over the note's text: openssl checks it.
            #expect(try OpenSSLCLI.verify(message: Array(head.checkpointText.utf8), signature: read.signatures[0].signature, certificate: certificate))

            // A changed size or root: the signature no longer holds.
            let resized = encoded.replacingOccurrences(of: "\n8\n", with: "\n9\n")
            #expect(
                Self.code { _ = try TreeHead(verifying: try SignedNote(parsing: resized), origin: Self.origin, key: noteKey) }
                    == "tree-head-signature-not-valid")
            let otherRoot = NoteBase64.encode(Self.bytes(Self.ctRoots[6]))
            let rerooted = encoded.replacingOccurrences(of: "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=", with: otherRoot)
            #expect(rerooted != encoded)
            #expect(
                Self.code { _ = try TreeHead(verifying: try SignedNote(parsing: rerooted), origin: Self.origin, key: noteKey) }
                    == "tree-head-signature-not-valid")
            // Another log's name for the same head.
            #expect(Self.code { _ = try TreeHead(verifying: read, origin: "records.fin.mn.gov.in/log", key: noteKey) } == "origin-mismatch")
        }

        // The wrong key: same name, another certificate. The error says the key is another.
        let rsaKey = try X509NoteKey(name: Self.origin, certificate: try Fixture.certificate("docsigner"))
        let ecKey = try X509NoteKey(name: Self.origin, certificate: try Fixture.certificate("officer-ec"))
        #expect(rsaKey.keyID != ecKey.keyID)
        let signed = try head.signed(by: rsaKey) { try Fixture.key("docsigner").sign($0).bytes }
        do {
            _ = try TreeHead(verifying: signed, origin: Self.origin, key: ecKey)
            Issue.record("a head signed by the document signer verified with another key")
        } catch let error as LogError {
            #expect(error.code == .treeHeadUnsigned && error.reason.contains("by another key"), "\(error.reason)")
        }
        // Another key's signature under the right key ID: the line is the key's, and it does not verify.
        let forged = try NoteSignature(
            name: Self.origin, keyID: rsaKey.keyID, signature: try Fixture.key("officer-rsa").sign(Array(head.checkpointText.utf8)).bytes)
        #expect(Self.code { _ = try SignedNote(text: head.checkpointText, signatures: [forged]).verify(by: rsaKey) } == "tree-head-signature-not-valid")
        #expect(
            Self.code { _ = try SignedNote(text: head.checkpointText, signatures: signed.signatures + [forged]).verify(by: rsaKey) }
                == "tree-head-signature-not-valid")
        // A token whose key is not the certificate's cannot sign.
        #expect(Self.code { _ = try head.signed(by: rsaKey) { try Fixture.key("officer-ec").sign($0).bytes } } == "tree-head-signature-not-valid")
        // The log signs under its origin only.
        let elsewhere = try X509NoteKey(name: "records.fin.mn.gov.in/log", certificate: try Fixture.certificate("docsigner"))
        #expect(Self.code { _ = try head.signed(by: elsewhere) { try Fixture.key("docsigner").sign($0).bytes } } == "invalid-request")

        // A witness's cosignature (c2sp.org/tlog-cosignature: key ID, 8-byte time, Ed25519 signature) is read as
        // one more line, kept in place and ignored by the log's key.
        let witnessKeyID: [UInt8] = [0x1A, 0x2B, 0x3C, 0x4D], timestamp: [UInt8] = [0, 0, 0, 0, 0x67, 0x5A, 0x3B, 0x00]
        let cosignature = "— witness.example.org/w1 " + NoteBase64.encode(witnessKeyID + timestamp + [UInt8](repeating: 7, count: 64))
        let witnessed = try SignedNote(parsing: signed.encoded + cosignature + "\n")
        #expect(witnessed.signatures.count == 2 && witnessed.signatures[1].name == "witness.example.org/w1" && witnessed.signatures[1].keyID == 0x1A2B_3C4D)
        #expect(witnessed.encoded == signed.encoded + cosignature + "\n")
        #expect(try TreeHead(verifying: witnessed, origin: Self.origin, key: rsaKey) == head)
        #expect(try signed.adding(witnessed.signatures[1]) == witnessed)
        #expect(try witnessed.adding(witnessed.signatures[1]) == witnessed)
        // Only the witness signed: unsigned as far as the log's key is concerned, and the error names who did sign.
        let onlyWitness = try SignedNote(text: head.checkpointText, signatures: [witnessed.signatures[1]])
        do {
            try onlyWitness.verify(by: rsaKey)
            Issue.record("a head signed by a witness only verified with the log's key")
        } catch let error as LogError {
            #expect(error.code == .treeHeadUnsigned && error.reason.contains("witness.example.org/w1"), "\(error.reason)")
        }
    }

    @Test("Signed notes that do not read are refused")
    func malformedNotes() throws {
        let text = "records.dit.mn.gov.in/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
        let signature = NoteBase64.encode([1, 2, 3, 4] + [UInt8](repeating: 9, count: 64))
        let good = text + "\n— records.dit.mn.gov.in/log \(signature)\n"
        #expect(try SignedNote(parsing: good).signatures.count == 1)
        let malformed = [
            text,  // no signatures
            text + "\n",  // a blank line, nothing after
            text + "\n- records.dit.mn.gov.in/log \(signature)\n",  // a hyphen, not an em dash
            text + "\n— records.dit.mn.gov.in/log  \(signature)\n",  // two spaces
            text + "\n— records.dit.mn.gov.in/log \(signature)",  // no final newline
            text + "\n— records.dit.mn.gov.in/log \(signature)\n\n",  // a trailing blank line
            text + "\n— records+dit \(signature)\n",  // "+" in the name
            text + "\n— records.dit.mn.gov.in/log AQIDBA==\n",  // a key ID and no signature
            text + "\n— records.dit.mn.gov.in/log \(signature.dropLast())\n",  // base64 not padded
            "records.dit.mn.gov.in/log\t\n8\n\n— records.dit.mn.gov.in/log \(signature)\n",  // a control character
            text + "\n" + String(repeating: "— records.dit.mn.gov.in/log \(signature)\n", count: 101),  // too many lines
        ]
        for note in malformed {
            #expect(Self.code { _ = try SignedNote(parsing: note) } == "tree-head-malformed", "\(note.debugDescription)")
        }
        var notUTF8 = Array(good.utf8)
        notUTF8[3] = 0xFF
        #expect(Self.code { _ = try SignedNote(parsing: notUTF8) } == "tree-head-malformed")
        #expect(Self.code { _ = try X509NoteKey(name: "two words", certificate: try Fixture.certificate("docsigner")) } == "invalid-request")
    }

    /// The DER SubjectPublicKeyInfo of a certificate's key, as the openssl command line writes it.
    static func opensslPublicKey(_ certificatePath: String) throws -> [UInt8] {
        let openssl = Command.which("openssl") ?? "/usr/bin/openssl"
        let pem = try Command.run(openssl, ["x509", "-in", certificatePath, "-pubkey", "-noout"])
        try #require(pem.status == 0, "openssl x509: \(pem.stderr)")
        let der = try Command.run(openssl, ["pkey", "-pubin", "-outform", "DER"], stdin: Data(pem.stdout.utf8))
        try #require(der.status == 0, "openssl pkey: \(der.stderr)")
        return Array(der.stdoutData)
    }
}

/// SplitMix64: a small seeded generator, so the random sizes and tampered bytes are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
