import Foundation

/// Where file histories live. The SQLite store is the embedded default; the protocol is what a PostgreSQL store
/// would implement to serve a whole state.
public protocol HistoryStore: LogStore {
    func createFile(_ file: FileRecord) throws
    func file(_ number: String) throws -> FileRecord?
    func files() throws -> [FileRecord]
    /// Every entry of a file, in sequence order.
    func entries(of number: String) throws -> [HistoryEntry]
    func checkpoints(of number: String) throws -> [Checkpoint]
    /// (number of entries, head hash); an empty or unknown file is (0, genesis).
    func head(of number: String) throws -> (size: Int, hash: [UInt8])
    /// The file's entry whose signature has this SHA-256, if there is one: an append retried after an answer was
    /// lost finds the entry it made.
    func entry(of number: String, signatureHash: [UInt8]) throws -> HistoryEntry?
    /// Appends one entry and its department-log leaf in one transaction, after the blobs (content, signature) are
    /// durable, and returns the leaf's index. `checkpoint`, when given, is stored with it (the per-file checkpoints of
    /// histories made before the log; new appends give none).
    /// Refused when the file's head is no longer `entry.previousHash` (a concurrent append won). For a scan
    /// approval, `scan`: the scan file is moved into the blob store first and the approval request is closed in the
    /// same transaction, refused when the request is not open or not this file's.
    @discardableResult
    func append(_ entry: HistoryEntry, checkpoint: Checkpoint?, blobs: [[UInt8]], scan: ScanAppendix?) throws -> Int
    /// Appends entries of any files in one transaction (notes and approvals: no scans, no checkpoints), in order,
    /// each refused (`head-moved`) when its file's head is no longer its previous hash; the others commit. One
    /// result per item: the leaf index, or the refusal. Throws only when the transaction itself fails.
    func appendBatch(_ items: [(entry: HistoryEntry, blobs: [[UInt8]])]) throws -> [Result<Int, HistoryError>]
    /// The entries (with their leaf indexes) that signatures of these SHA-256s made in these files: a batch's retried
    /// signatures found at once. Keyed by file and signature hash.
    func entries(signedWith signatures: [(file: String, signatureHash: [UInt8])]) throws -> [SignedEntryKey: (entry: HistoryEntry, leafIndex: Int)]
    /// Several files at once, by number (unknown ones are absent).
    func files(_ numbers: [String]) throws -> [String: FileRecord]
    /// The heads of several files at once (an unknown or empty file is absent).
    func heads(of numbers: [String]) throws -> [String: (size: Int, hash: [UInt8])]
    /// A stored blob by its SHA-256.
    func blob(_ hash: [UInt8]) throws -> [UInt8]?
    /// The file holding a stored blob, where the store keeps blobs as files (large scans are read from it as they
    /// are sent); nil otherwise.
    func blobFile(_ hash: [UInt8]) -> String?
    /// Stores a new approval request for an existing file (the scan-upload path, Scans/).
    func createApprovalRequest(_ request: ApprovalRequest) throws
    func approvalRequest(_ id: String) throws -> ApprovalRequest?
    func approvalRequests(of number: String) throws -> [ApprovalRequest]
}

/// A signature's place: its file and SHA-256.
public struct SignedEntryKey: Hashable, Sendable {
    public let file: String
    public let signatureHash: [UInt8]

    public init(file: String, signatureHash: [UInt8]) {
        self.file = file
        self.signatureHash = signatureHash
    }
}

/// The parts of a scan approval that are not small blobs: the accepted scan on disk and the request it answers.
public struct ScanAppendix: Sendable {
    /// The checked upload (ScanIntake), moved into the store; it must be on the same file system as the store.
    public let path: String
    public let sha256: [UInt8]
    public let requestID: String

    public init(path: String, sha256: [UInt8], requestID: String) {
        self.path = path
        self.sha256 = sha256
        self.requestID = requestID
    }
}

extension HistoryStore {
    @discardableResult
    public func append(_ entry: HistoryEntry, checkpoint: Checkpoint? = nil, blobs: [[UInt8]]) throws -> Int {
        try append(entry, checkpoint: checkpoint, blobs: blobs, scan: nil)
    }

    public func head(of number: String) throws -> (size: Int, hash: [UInt8]) {
        guard let last = try entries(of: number).last else { return (0, HistoryEntry.genesis) }
        return (last.sequence, last.hash)
    }

    public func entry(of number: String, signatureHash: [UInt8]) throws -> HistoryEntry? {
        try entries(of: number).first { $0.signatureHash == signatureHash }
    }

    /// One append after another (a store without a transaction of its own for batches).
    public func appendBatch(_ items: [(entry: HistoryEntry, blobs: [[UInt8]])]) throws -> [Result<Int, HistoryError>] {
        try items.map { item in
            do {
                return .success(try append(item.entry, checkpoint: nil, blobs: item.blobs, scan: nil))
            } catch let error as HistoryError where error.code == .headMoved || error.code == .unknownFile {
                return .failure(error)
            }
        }
    }

    public func entries(signedWith signatures: [(file: String, signatureHash: [UInt8])]) throws
        -> [SignedEntryKey: (entry: HistoryEntry, leafIndex: Int)]
    {
        var found = [SignedEntryKey: (entry: HistoryEntry, leafIndex: Int)]()
        for (file, hash) in signatures {
            if let entry = try entry(of: file, signatureHash: hash), let index = try leafIndexes(of: file)[entry.sequence] {
                found[SignedEntryKey(file: file, signatureHash: hash)] = (entry, index)
            }
        }
        return found
    }

    public func files(_ numbers: [String]) throws -> [String: FileRecord] {
        var found = [String: FileRecord]()
        for number in numbers { found[number] = try file(number) }
        return found
    }

    public func heads(of numbers: [String]) throws -> [String: (size: Int, hash: [UInt8])] {
        var heads = [String: (size: Int, hash: [UInt8])]()
        for number in numbers {
            let head = try head(of: number)
            if head.size > 0 { heads[number] = head }
        }
        return heads
    }
}

/// A history operation refused, with the reason in words.
public typealias HistoryError = DomainError<HistoryErrorDomain>

/// The domain of `HistoryError`: its codes are the `ErrorCode<HistoryErrorDomain>` statics below.
public enum HistoryErrorDomain {}

extension ErrorCode where Domain == HistoryErrorDomain {
    public static let unknownFile = Self("unknown-file")
    public static let fileExists = Self("file-exists")
    public static let signatureNotValid = Self("signature-not-valid")
    public static let contextMismatch = Self("context-mismatch")
    /// Another append reached the file first; the answer names the new head.
    public static let headMoved = Self("head-moved")
    /// The approval request is closed (its scan is in) or belongs to another file.
    public static let requestClosed = Self("request-closed")
    /// What was asked does not read (a day that is not YYYY-MM-DD, a kind that does not exist).
    public static let invalidRequest = Self("invalid-request")
    public static let storage = Self("storage")
    /// The store cannot be reached now (its database is down, restarting or out of connections); nothing was
    /// stored, and the same request may be sent again.
    public static let unavailable = Self("store-unavailable")
    /// A signature's revocation status cannot be established now (INDETERMINATE TRY_LATER): nothing was stored; the
    /// same request may be sent again.
    public static let revocationUnavailable = Self("revocation-unavailable")
    public static let bundle = Self("bundle")
    /// The service's document signer could not sign (token absent, PIN file unreadable, login refused).
    public static let signerUnavailable = Self("signer-unavailable")
}

extension DomainError where Domain == HistoryErrorDomain {
    /// Another append reached the file first: the answer names the file's head now, so the signer can sign over it.
    public static func headMoved(file: String, size: Int, head: [UInt8], fileID: String = #fileID, line: Int = #line) -> HistoryError {
        HistoryError(
            .headMoved,
            "the file \(file) has moved on: its head is now entry \(size) (\(Hex.encode(head))); sign again over the new head",
            file: fileID, line: line)
    }
}
