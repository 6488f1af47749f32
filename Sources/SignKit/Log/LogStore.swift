import Foundation

/// One leaf of the department log as the store keeps it: the leaf's place and the entry it stands for. Its hash is
/// computed from the entry's row (`DepartmentLogLeaf`), so a row changed behind the service changes the tree the
/// service rebuilds from it, and the change shows against every head signed before.
public struct LogLeafRecord: Sendable, Hashable {
    public let index: Int
    public let fileNumber: String
    public let sequence: Int
    /// The entry's `hash` as stored.
    public let entryHash: [UInt8]
    public let time: Date

    public init(index: Int, fileNumber: String, sequence: Int, entryHash: [UInt8], time: Date) {
        self.index = index
        self.fileNumber = fileNumber
        self.sequence = sequence
        self.entryHash = entryHash
        self.time = time
    }

    public func leaf(origin: String) throws -> DepartmentLogLeaf {
        try DepartmentLogLeaf(origin: origin, fileNumber: fileNumber, sequence: sequence, entryHash: entryHash, time: time)
    }
}

/// A signed tree head as stored: its size and root, the signed note (the C2SP checkpoint with the document signer's
/// line) and when it was signed.
public struct StoredTreeHead: Sendable, Hashable {
    public let size: Int
    public let rootHash: [UInt8]
    /// The signed note's text form (`SignedNote.encoded`).
    public let note: String
    public let time: Date

    public init(size: Int, rootHash: [UInt8], note: String, time: Date) {
        self.size = size
        self.rootHash = rootHash
        self.note = note
        self.time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
    }
}

/// A witness's cosignature of a stored head: its note line and the certificate whose key made it.
public struct StoredCosignature: Sendable, Hashable {
    public let size: Int
    /// The signature line ("— <name> <base64>").
    public let line: String
    /// DER of the witness's certificate.
    public let certificate: [UInt8]

    public init(size: Int, line: String, certificate: [UInt8]) {
        self.size = size
        self.line = line
        self.certificate = certificate
    }
}

/// The department log's part of a store (docs/history.md "The department log"). Leaves are written by
/// `HistoryStore.append`, in the entry's own transaction, so a leaf exists exactly when its entry does; their
/// indexes are dense (0, 1, 2...) and given in commit order, so the committed leaves are always a prefix of the log.
public protocol LogStore: Sendable {
    /// The number of committed leaves.
    func logSize() throws -> Int
    /// The leaves at `range` that exist, in index order, each joined with its entry's row.
    func logLeaves(in range: Range<Int>) throws -> [LogLeafRecord]
    /// The leaf index of each entry of a file, by sequence.
    func leafIndexes(of number: String) throws -> [Int: Int]
    /// The head of the largest size, if any is signed.
    func latestTreeHead() throws -> StoredTreeHead?
    func treeHead(size: Int) throws -> StoredTreeHead?
    /// Stores a signed head, in one transaction that first checks that the store holds `head.size` leaves and no head
    /// of that size or larger: sizes only grow and one size has one head. False (nothing stored) when a head of that
    /// size or larger is there already (another instance signed first).
    func addTreeHead(_ head: StoredTreeHead) throws -> Bool
    /// Keeps a witness's cosignature of the stored head of its size (once per line).
    func addCosignature(_ cosignature: StoredCosignature) throws
    func cosignatures(size: Int) throws -> [StoredCosignature]
}
