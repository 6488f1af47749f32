import Foundation
import Synchronization

/// The department log of one records service (docs/history.md "The department log"): every entry the store accepts,
/// in any file, is a leaf of one append-only RFC 9162 tree; signed tree heads (C2SP checkpoints) are published over
/// the leaves that are durable, one document-signer signature per head however many appends it covers.
///
/// Each instance keeps the tree's leaf hashes in memory, read from the store at start (`rebuild`) and then as the
/// store grows (`catchUp`; other instances append too). The leaf hashes are computed from the entries' rows, so an
/// entry rewritten in the database changes the tree this instance rebuilds: it refuses to sign a head that does not
/// extend the latest one stored (`publish`), and a monitor holding an earlier head sees the fork.
public final class DepartmentLog: Sendable {
    /// The log's name: the first line of its checkpoints and the name of its key.
    public let origin: String
    public let store: any LogStore
    private let hashes = LeafHashes()
    public let tree: MerkleTree
    /// One catch-up or publication at a time in this instance.
    private let serial = Mutex(())

    public init(origin: String, store: any LogStore) throws {
        guard !origin.isEmpty, !origin.unicodeScalars.contains(where: { $0.value <= 0x20 }) else {
            throw LogError(
                .invalidRequest, "a log's origin is one word without spaces or control characters (like records.gad.example.gov.in/log), not \"\(origin)\"")
        }
        self.origin = origin
        self.store = store
        tree = MerkleTree(leaves: hashes)
    }

    /// Cosignatures kept per head: a served note stays far below what a reader accepts (`SignedNote.maximumSignatures`).
    public static let maximumCosignatures = 16

    /// Leaves read from the store at a time.
    static let page = 10_000

    /// Reads the leaves the store holds beyond those in memory; returns the size now held.
    @discardableResult
    public func catchUp() throws -> Int {
        try serial.withLock { _ in try catchUpLocked() }
    }

    private func catchUpLocked() throws -> Int {
        while true {
            let held = hashes.count
            let records = try store.logLeaves(in: held..<held + Self.page)
            var added = [[UInt8]]()
            added.reserveCapacity(records.count)
            for (offset, record) in records.enumerated() {
                guard record.index == held + offset else {
                    throw LogError(
                        .storeDiverged, "the store's log has no leaf \(held + offset) (the next is \(record.index)): leaves were removed behind the service")
                }
                added.append(try record.leaf(origin: origin).leafHash)
            }
            hashes.append(added)
            if records.count < Self.page { return hashes.count }
        }
    }

    /// The size of the tree held in memory.
    public var size: Int { hashes.count }

    /// Reads every leaf from the store again (at start) and checks the result against the latest signed head:
    /// throws `store-diverged` when the store no longer gives that head's root (rows changed behind the service).
    @discardableResult
    public func rebuild() throws -> Int {
        try serial.withLock { _ in
            // The head first, then the leaves: every stored head is over committed leaves, so the leaves read after
            // it cover it, however many another instance adds and signs meanwhile.
            let latest = try store.latestTreeHead()
            let size = try catchUpLocked()
            if let latest { try check(latest, size: size) }
            return size
        }
    }

    private func check(_ latest: StoredTreeHead, size: Int) throws {
        guard latest.size <= size else {
            throw LogError(
                .storeDiverged,
                "the latest signed tree head has \(latest.size) leaves but the store holds \(size): leaves were removed behind the service")
        }
        let root = try tree.rootHash(size: latest.size)
        guard root == latest.rootHash else {
            throw LogError(
                .storeDiverged,
                "the store's first \(latest.size) leaves give the root \(Hex.encode(root)), not the signed head's \(Hex.encode(latest.rootHash)): "
                    + "entries were changed behind the service")
        }
    }

    /// Signs and stores a head over every leaf the store holds, when there are leaves no head covers yet; returns
    /// the latest head either way (nil while the log is empty and unsigned). Leaves are read from committed rows
    /// only, so a head never covers a leaf that is not durable; the store keeps sizes growing and one head a size.
    /// Refuses (`store-diverged`) to sign a head that does not extend the latest one.
    @discardableResult
    public func publish(signer: CheckpointSigner, at time: Date) throws -> StoredTreeHead? {
        try serial.withLock { _ in
            let latest = try store.latestTreeHead()  // before the leaves, as in `rebuild`
            let size = try catchUpLocked()
            if let latest {
                try check(latest, size: size)
                if latest.size >= size { return latest }
            } else if size == 0 {
                return nil
            }
            let head = try TreeHead(origin: origin, size: size, rootHash: try tree.rootHash(size: size))
            let key = try X509NoteKey(name: origin, certificate: signer.certificate)
            let note = try head.signed(by: key) { try signer.sign($0).bytes }
            let stored = StoredTreeHead(size: size, rootHash: head.rootHash, note: note.encoded, time: time)
            if try store.addTreeHead(stored) { return stored }
            return try store.latestTreeHead()
        }
    }

    /// The latest head with every cosignature kept for it added to its note.
    public func latestHead() throws -> StoredTreeHead? {
        try store.latestTreeHead().map(cosigned)
    }

    /// `head` with the witnesses' lines kept for its size added after the log's own.
    public func cosigned(_ head: StoredTreeHead) throws -> StoredTreeHead {
        let lines = try store.cosignatures(size: head.size)
        guard !lines.isEmpty else { return head }
        var note = try SignedNote(parsing: head.note)
        for cosignature in lines {
            note = try note.adding(try NoteSignature(line: Array(cosignature.line.utf8)))
        }
        return StoredTreeHead(size: head.size, rootHash: head.rootHash, note: note.encoded, time: head.time)
    }

    /// The audit path of leaf `leafIndex` in the tree of `treeSize` leaves (reading new leaves first if needed).
    public func inclusionProof(leafIndex: Int, treeSize: Int) throws -> InclusionProof {
        if treeSize > size { try catchUp() }
        guard treeSize <= size else { throw LogError(.invalidRequest, "the log has \(size) leaves, not \(treeSize)") }
        return try tree.inclusionProof(leafIndex: leafIndex, treeSize: treeSize)
    }

    /// The consistency proof from the tree of `oldSize` leaves to that of `newSize`.
    public func consistencyProof(oldSize: Int, newSize: Int) throws -> ConsistencyProof {
        if newSize > size { try catchUp() }
        guard newSize <= size else { throw LogError(.invalidRequest, "the log has \(size) leaves, not \(newSize)") }
        return try tree.consistencyProof(oldSize: oldSize, newSize: newSize)
    }

    /// Checks a witness's cosignature of a stored head: `note` must be that head's text with a line by
    /// `certificate`'s key (named `name`) that verifies. Keeps the line and returns the head it cosigns.
    public func addCosignature(note: SignedNote, name: String, certificate: X509Certificate) throws -> StoredTreeHead {
        let claimed = try TreeHead(checkpoint: note.text)
        guard claimed.origin == origin else { throw LogError(.originMismatch, "the cosigned head is of the log \(claimed.origin), not \(origin)") }
        guard let stored = try store.treeHead(size: claimed.size), let ours = try? SignedNote(parsing: stored.note), ours.text == note.text else {
            throw LogError(.invalidRequest, "this log signed no head of size \(claimed.size) with that root: a witness cosigns only heads the log signed")
        }
        let key = try X509NoteKey(name: name, certificate: certificate)
        let line = try note.verify(by: key)
        let kept = try store.cosignatures(size: stored.size)
        guard kept.count < Self.maximumCosignatures || kept.contains(where: { $0.line == line.line }) else {
            throw LogError(.invalidRequest, "the tree head of \(stored.size) leaves has \(Self.maximumCosignatures) cosignatures already")
        }
        try store.addCosignature(StoredCosignature(size: stored.size, line: line.line, certificate: certificate.der))
        return stored
    }
}

/// The tree's leaf hashes in memory, appended to as the store grows. 32 bytes and an array header per leaf: a
/// million leaves take about 80 MB.
final class LeafHashes: MerkleLeafSource, Sendable {
    private let hashes = Mutex<[[UInt8]]>([])

    var count: Int { hashes.withLock { $0.count } }

    func append(_ more: [[UInt8]]) {
        hashes.withLock { $0 += more }
    }

    func leafHashes(in range: Range<Int>) throws -> [[UInt8]] {
        try hashes.withLock { all in
            guard range.lowerBound >= 0, range.upperBound <= all.count else {
                throw LogError(.invalidRequest, "leaves \(range.lowerBound)..<\(range.upperBound) asked of a log of \(all.count)")
            }
            return Array(all[range])
        }
    }
}
