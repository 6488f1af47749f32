import Foundation

// The records half of the wire types (files, entries, approval requests, scans, reports); see AgentAPI.swift.

/// One history entry as the API shows it: hashes in hex.
public struct EntryView: Codable, Sendable, Equatable {
    public let sequence: Int
    public let kind: String
    public let noteID: String
    public let time: String
    public let contentHash: String
    public let signatureHash: String
    public let signerFingerprint: String
    public let attachmentHash: String?
    public let previousHash: String
    public let hash: String
    /// The entry's leaf in the department log (nil for a store without one).
    public let leafIndex: Int?

    public init(_ entry: HistoryEntry, leafIndex: Int? = nil) {
        self.leafIndex = leafIndex
        sequence = entry.sequence
        kind = entry.kind.rawValue
        noteID = entry.noteID
        time = UTCTimeText.format(entry.time)
        contentHash = Hex.encode(entry.contentHash)
        signatureHash = Hex.encode(entry.signatureHash)
        signerFingerprint = Hex.encode(entry.signerFingerprint)
        attachmentHash = entry.attachmentHash.map { Hex.encode($0) }
        previousHash = Hex.encode(entry.previousHash)
        hash = Hex.encode(entry.hash)
    }
}

/// A signed checkpoint as the API shows it (its signature is in the bundle).
public struct CheckpointView: Codable, Sendable, Equatable {
    public let size: Int
    public let headHash: String
    public let time: String

    public init(_ checkpoint: Checkpoint) {
        size = checkpoint.size
        headHash = Hex.encode(checkpoint.headHash)
        time = UTCTimeText.format(checkpoint.time)
    }
}

/// GET /v1/files.
public struct FileListAnswer: Codable, Sendable {
    public let files: [FileRecord]
    public init(files: [FileRecord]) { self.files = files }
}

/// POST /v1/files (the request is a FileRecord).
public struct FileCreatedAnswer: Codable, Sendable {
    public let file: FileRecord
    public init(file: FileRecord) { self.file = file }
}

/// GET /v1/files/{file}, and `signctl history show --json`.
public struct FileHistoryAnswer: Codable, Sendable {
    public let file: FileRecord
    /// Number of entries; the next append's sequence is size + 1.
    public let size: Int
    /// The hash a new signature's e-Office context must name as previous entry (64 zeros for an empty file).
    public let head: String
    public let entries: [EntryView]
    public let checkpoints: [CheckpointView]

    public init(_ file: FileRecord, entries: [HistoryEntry], checkpoints: [Checkpoint], leafIndexes: [Int: Int] = [:]) {
        self.file = file
        size = entries.count
        head = Hex.encode(entries.last?.hash ?? HistoryEntry.genesis)
        self.entries = entries.map { EntryView($0, leafIndex: leafIndexes[$0.sequence]) }
        self.checkpoints = checkpoints.map(CheckpointView.init)
    }
}

/// POST /v1/files/{file}/entries.
public struct AppendRequestBody: Codable, Sendable {
    /// "note" (proof of origin) or "approval" (proof of approval).
    public var kind: String
    public var noteID: String
    /// The signed extract, base64.
    public var content: String
    /// The detached .p7s over it, base64 (DER or PEM).
    public var signature: String

    public init(kind: EntryKind, noteID: String, content: [UInt8], signature: [UInt8]) {
        self.kind = kind.rawValue
        self.noteID = noteID
        self.content = Data(content).base64EncodedString()
        self.signature = Data(signature).base64EncodedString()
    }
}

/// The answer to an append.
public struct AppendAnswer: Codable, Sendable {
    public let entry: EntryView
    public let signer: String
    public let indication: String
    /// The entry's leaf in the department log: known at once, proven by the next tree head.
    public let leafIndex: Int
    /// The inclusion proof against a signed tree head, when one covers the leaf at answer time (always, when the
    /// append asked `?wait=true`; see docs/history.md).
    public var inclusion: InclusionView?

    public init(entry: EntryView, signer: String, indication: String, leafIndex: Int, inclusion: InclusionView? = nil) {
        self.entry = entry
        self.signer = signer
        self.indication = indication
        self.leafIndex = leafIndex
        self.inclusion = inclusion
    }
}

/// POST /v1/entries: notes and approvals for several files in one request (at most
/// `BatchAppendRequestBody.maximumEntries`), each judged and stored as one POST /v1/files/{file}/entries would be,
/// all in one store transaction.
public struct BatchAppendRequestBody: Codable, Sendable {
    public static let maximumEntries = 100
    public var entries: [Item]

    public struct Item: Codable, Sendable {
        public var file: String
        public var kind: String
        public var noteID: String
        public var content: String
        public var signature: String

        public init(file: String, kind: EntryKind, noteID: String, content: [UInt8], signature: [UInt8]) {
            self.file = file
            self.kind = kind.rawValue
            self.noteID = noteID
            self.content = Data(content).base64EncodedString()
            self.signature = Data(signature).base64EncodedString()
        }
    }

    public init(entries: [Item]) { self.entries = entries }
}

/// The answer to POST /v1/entries: one result per item, in order, each with the status a single append would have
/// had (201, or the refusal's 4xx/5xx and its code).
public struct BatchAppendAnswer: Codable, Sendable {
    public let results: [Result]

    public struct Result: Codable, Sendable {
        public let file: String
        public let noteID: String
        public let status: Int
        /// When appended (201): what POST /v1/files/{file}/entries answers.
        public let appended: AppendAnswer?
        /// When refused: "code: reason", and the code.
        public let error: String?
        public let code: String?

        public init(file: String, noteID: String, status: Int, appended: AppendAnswer?, error: String?, code: String?) {
            self.file = file
            self.noteID = noteID
            self.status = status
            self.appended = appended
            self.error = error
            self.code = code
        }
    }

    public init(results: [Result]) { self.results = results }
}

/// An entry's inclusion proof in the department log and the signed tree head it leads to (GET /v1/log/proof/inclusion,
/// and an append's answer).
public struct InclusionView: Codable, Sendable, Equatable {
    public let leafIndex: Int
    public let treeSize: Int
    /// The audit path, from the leaf's sibling up, each hash in hex.
    public let hashes: [String]
    /// The signed tree head of `treeSize` leaves (a C2SP signed note), when the answer carries it.
    public let checkpoint: String?

    public init(_ proof: InclusionProof, checkpoint: String?) {
        leafIndex = proof.leafIndex
        treeSize = proof.treeSize
        hashes = proof.hashes.map { Hex.encode($0) }
        self.checkpoint = checkpoint
    }

    /// The proof, its hashes decoded; nil when one does not read.
    public var proof: InclusionProof? {
        decodedHashes(hashes).map { InclusionProof(leafIndex: leafIndex, treeSize: treeSize, hashes: $0) }
    }
}

/// GET /v1/log/proof/consistency.
public struct ConsistencyView: Codable, Sendable, Equatable {
    public let oldSize: Int
    public let newSize: Int
    public let hashes: [String]

    public init(_ proof: ConsistencyProof) {
        oldSize = proof.oldSize
        newSize = proof.newSize
        hashes = proof.hashes.map { Hex.encode($0) }
    }

    public var proof: ConsistencyProof? {
        decodedHashes(hashes).map { ConsistencyProof(oldSize: oldSize, newSize: newSize, hashes: $0) }
    }
}

/// A proof's hashes from hex; nil unless every one is 32 bytes of hex.
private func decodedHashes(_ hashes: [String]) -> [[UInt8]]? {
    let decoded = hashes.compactMap { Hex.decode($0) }
    guard decoded.count == hashes.count, decoded.allSatisfy({ $0.count == MerkleHash.size }) else { return nil }
    return decoded
}

/// GET /v1/log: what a monitor or verifier needs to know of the log before its first head.
public struct LogInfoAnswer: Codable, Sendable, Equatable {
    /// The checkpoints' first line and the log key's name.
    public let origin: String
    /// The document signer's certificate (PEM), whose key signs the tree heads (signservice-x509-sha256 notes).
    public let certificate: String
    /// The latest head's size (0 before the first).
    public let size: Int
    /// Heads are signed at most this far apart while leaves wait for one.
    public let headIntervalMilliseconds: Int

    public init(origin: String, certificate: String, size: Int, headIntervalMilliseconds: Int) {
        self.origin = origin
        self.certificate = certificate
        self.size = size
        self.headIntervalMilliseconds = headIntervalMilliseconds
    }
}

/// POST /v1/log/cosignatures: a witness's cosignature of a head the log signed.
public struct CosignatureBody: Codable, Sendable {
    /// The head's signed note with the witness's line among its signatures.
    public var checkpoint: String
    /// The witness key's name in the note.
    public var name: String
    /// The witness's certificate (PEM).
    public var certificate: String

    public init(checkpoint: String, name: String, certificate: String) {
        self.checkpoint = checkpoint
        self.name = name
        self.certificate = certificate
    }
}

/// The answer to POST /v1/log/cosignatures.
public struct CosignatureAnswer: Codable, Sendable {
    public let size: Int
    public let witness: String

    public init(size: Int, witness: String) {
        self.size = size
        self.witness = witness
    }
}

/// POST /v1/files/{file}/approvals; the answer is an `ApprovalRequest.JSON`.
public struct ApprovalRequestBody: Codable, Sendable {
    public var noteID: String
    /// SHA-256 of the extract that goes to the Minister, hex.
    public var extractSHA256: String
    public var minister: String
    /// SHA-256 fingerprints (hex) of the certificates of the PPS/PS who may upload the signed scan; when absent,
    /// the Minister's PPS/PS in the roles file.
    public var pps: [String]?

    public init(noteID: String, extractHash: [UInt8], minister: String, pps: [[UInt8]]) {
        self.noteID = noteID
        extractSHA256 = Hex.encode(extractHash)
        self.minister = minister
        self.pps = pps.isEmpty ? nil : pps.map { Hex.encode($0) }
    }
}

/// Request headers of POST /v1/files/{file}/approvals/{request}/scan (the body is the scan, streamed).
public enum ScanUploadHeader {
    /// The attestation document (base64), signed by the PPS/PS (docs/scans.md "Attestation").
    public static let attestation = "SignService-Attestation"
    /// The PPS/PS's detached signature over the attestation (base64 DER).
    public static let attestationSignature = "SignService-Attestation-Signature"
    /// The scan's file name on the uploader's machine (optional; a label in the audit log, never a path here).
    public static let scanName = "SignService-Scan-Name"
}

/// The answer to an accepted scan upload.
public struct ScanApprovalAnswer: Codable, Sendable {
    public let entry: EntryView
    public let request: String
    public let uploadedBy: String
    public let qr: String
    public let scanSHA256: String
    public let scanType: String
    public let scanBytes: Int
    public let pages: Int

    public init(
        entry: EntryView, request: String, uploadedBy: String, qr: String, scanSHA256: String, scanType: String,
        scanBytes: Int, pages: Int
    ) {
        self.entry = entry
        self.request = request
        self.uploadedBy = uploadedBy
        self.qr = qr
        self.scanSHA256 = scanSHA256
        self.scanType = scanType
        self.scanBytes = scanBytes
        self.pages = pages
    }
}
