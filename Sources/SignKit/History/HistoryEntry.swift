import Foundation

/// An e-Office file whose signing history SignService keeps.
public struct FileRecord: Codable, Sendable, Hashable {
    public var number: String
    public var subject: String
    public var department: String

    public init(number: String, subject: String, department: String) {
        self.number = number
        self.subject = subject
        self.department = department
    }

    /// Why this record cannot be a file, or nil. File numbers are at most 200 characters without control
    /// characters or "|" (the separator of an approval request's QR form); subject and department are not empty.
    public var problem: String? {
        if number.isEmpty || number.count > 200 { return "the file number must have 1 to 200 characters" }
        if number.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "|" }) {
            return "the file number must not hold control characters or \"|\""
        }
        if subject.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "the subject must not be empty" }
        if department.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "the department must not be empty" }
        return nil
    }
}

/// What an entry records. Open to more kinds: the raw value is stored, unknown values are kept as they are.
public struct EntryKind: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// An officer's DSC signature over a note-sheet extract (commitment proof of origin).
    public static let note = EntryKind(rawValue: "note")
    /// A DSC signature with the proof-of-approval commitment (a Minister or an approving officer).
    public static let approval = EntryKind(rawValue: "approval")
    /// A hand-signed printed extract, scanned and uploaded by a PPS/PS who attests it with their own DSC.
    public static let scanApproval = EntryKind(rawValue: "scan-approval")

    public var description: String { rawValue }
}

/// One link of a file's history. Its hash covers every field but itself, and the previous entry's hash, so the list
/// is a hash chain: removing, inserting, swapping or changing an entry breaks every hash after it.
public struct HistoryEntry: Codable, Sendable, Hashable {
    public var fileNumber: String
    /// 1, 2, 3... without gaps.
    public var sequence: Int
    public var kind: EntryKind
    /// The note id the signature's e-Office context names.
    public var noteID: String
    /// When the service accepted the entry (the signature's own time is in its verdict).
    public var time: Date
    /// SHA-256 of the signed extract (or of the attestation document, for scan approvals).
    public var contentHash: [UInt8]
    /// SHA-256 of the .p7s.
    public var signatureHash: [UInt8]
    /// SHA-256 of the signer's certificate.
    public var signerFingerprint: [UInt8]
    /// SHA-256 of the scan for scan approvals; nil otherwise.
    public var attachmentHash: [UInt8]?
    /// The previous entry's hash; `HistoryEntry.genesis` for the first.
    public var previousHash: [UInt8]
    /// SHA-256 over `canonicalBytes`.
    public var hash: [UInt8]

    /// The previous hash of a file's first entry, and the head hash of an empty file: 32 zero bytes.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    public init(
        fileNumber: String, sequence: Int, kind: EntryKind, noteID: String, time: Date, contentHash: [UInt8],
        signatureHash: [UInt8], signerFingerprint: [UInt8], attachmentHash: [UInt8]? = nil, previousHash: [UInt8]
    ) {
        self.fileNumber = fileNumber
        self.sequence = sequence
        self.kind = kind
        self.noteID = noteID
        self.time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
        self.contentHash = contentHash
        self.signatureHash = signatureHash
        self.signerFingerprint = signerFingerprint
        self.attachmentHash = attachmentHash
        self.previousHash = previousHash
        self.hash = []
        self.hash = SHA256Hasher.hash(canonicalBytes)
    }

    /// What the hash covers (docs/history.md):
    /// ```
    /// HistoryEntryV1 ::= SEQUENCE { version INTEGER (1), fileNumber UTF8String, sequence INTEGER,
    ///     kind UTF8String, noteID UTF8String, time GeneralizedTime, contentHash OCTET STRING,
    ///     signatureHash OCTET STRING, signerFingerprint OCTET STRING, attachmentHash [0] IMPLICIT OCTET STRING OPTIONAL,
    ///     previousHash OCTET STRING }
    /// ```
    public var canonicalBytes: [UInt8] {
        var content = [UInt8]()
        content.reserveCapacity(192 + fileNumber.utf8.count + noteID.utf8.count)
        DER.append(0x02, [0x01], to: &content)
        DER.append(0x0C, fileNumber.utf8, to: &content)
        content += DER.unsignedInteger(withUnsafeBytes(of: UInt64(sequence).bigEndian, Array.init))
        DER.append(0x0C, kind.rawValue.utf8, to: &content)
        DER.append(0x0C, noteID.utf8, to: &content)
        DER.append(0x18, Self.generalizedTime(time), to: &content)
        DER.append(0x04, contentHash, to: &content)
        DER.append(0x04, signatureHash, to: &content)
        DER.append(0x04, signerFingerprint, to: &content)
        if let attachmentHash { DER.append(0x80, attachmentHash, to: &content) }
        DER.append(0x04, previousHash, to: &content)
        return DER.tlv(0x30, content)
    }

    /// True when `hash` is what the fields give.
    public var hashIsConsistent: Bool { SHA256Hasher.hash(canonicalBytes) == hash }

    /// "20261123070149Z" (X.690 11.7: UTC, no fraction), the bytes of a GeneralizedTime.
    static func generalizedTime(_ date: Date) -> [UInt8] {
        let text = UTCTimeText.bytes(date)  // "2026-11-23T07:01:49Z"
        return text.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "T") && $0 != UInt8(ascii: ":") }
    }
}

/// A statement by the service, signed with its document-signer key after each append: this file had `size` entries
/// and its head was `headHash` at `time`. A history cut short, or rewritten after the fact, contradicts the latest one.
public struct Checkpoint: Codable, Sendable, Hashable {
    public var fileNumber: String
    public var size: Int
    public var headHash: [UInt8]
    public var time: Date
    /// Detached CMS signature over `canonicalBytes` by the document signer.
    public var signature: [UInt8]

    public init(fileNumber: String, size: Int, headHash: [UInt8], time: Date, signature: [UInt8] = []) {
        self.fileNumber = fileNumber
        self.size = size
        self.headHash = headHash
        self.time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
        self.signature = signature
    }

    /// ```
    /// CheckpointV1 ::= SEQUENCE { version INTEGER (1), fileNumber UTF8String, size INTEGER, headHash OCTET STRING,
    ///     time GeneralizedTime }
    /// ```
    public var canonicalBytes: [UInt8] {
        var content = DER.tlv(0x02, [0x01])
        content += DER.tlv(0x0C, Array(fileNumber.utf8))
        content += DER.unsignedInteger(withUnsafeBytes(of: UInt64(size).bigEndian, Array.init))
        content += DER.tlv(0x04, headHash)
        content += DER.tlv(0x18, HistoryEntry.generalizedTime(time))
        return DER.tlv(0x30, content)
    }
}
