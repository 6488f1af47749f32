import Foundation

/// What an e-Office signature is about, bound into the signed attributes so that a signature over one note cannot be
/// replayed as another file's or another position's (docs/formats.md).
///
/// ```
/// id-signservice-eoffice-context OBJECT IDENTIFIER ::= { 2 25 4185439844061794791 }
///
/// EOfficeContext ::= SEQUENCE {
///     version            INTEGER { v1(1) },
///     fileNumber         UTF8String,                  -- e-Office file number, e.g. "DIT-12/3/2026-IT"
///     noteId             UTF8String,                  -- the note or extract within the file
///     previousEntryHash  [0] IMPLICIT OCTET STRING OPTIONAL,  -- SHA-256 of the file history's head entry
///     origin             [1] IMPLICIT UTF8String OPTIONAL }   -- requesting web origin, e.g. "https://eoffice.mn.gov.in"
/// ```
public struct EOfficeContext: Sendable, Hashable, Codable {
    /// 2.25 is the UUID arc (ITU-T X.667). The arc here is a random 62-bit number, that is the UUID
    /// 00000000-0000-0000-3a15-ab5cde11d1e7, not a full 122-bit random UUID: GnuTLS 3.7 (libtasn1, behind `certtool`)
    /// cannot parse an arc over 64 bits and re-encodes arcs of 2^63 or more differently, which breaks its signature
    /// check. Signatures must stay verifiable by every verifier, so the arc stays below 2^63.
    public static let oid = "2.25.4185439844061794791"

    public var fileNumber: String
    public var noteID: String
    public var previousEntryHash: [UInt8]?
    public var origin: String?

    public init(fileNumber: String, noteID: String, previousEntryHash: [UInt8]? = nil, origin: String? = nil) {
        self.fileNumber = fileNumber
        self.noteID = noteID
        self.previousEntryHash = previousEntryHash
        self.origin = origin
    }

    enum CodingKeys: String, CodingKey { case fileNumber, noteID, previousEntryHash, origin }

    /// In JSON the previous entry's hash is hex, as every other hash in the reports.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        fileNumber = try container.decode(String.self, forKey: .fileNumber)
        noteID = try container.decode(String.self, forKey: .noteID)
        origin = try container.decodeIfPresent(String.self, forKey: .origin)
        if let hex = try container.decodeIfPresent(String.self, forKey: .previousEntryHash) {
            guard let bytes = Hex.decode(hex) else {
                throw DecodingError.dataCorruptedError(forKey: .previousEntryHash, in: container, debugDescription: "not hex")
            }
            previousEntryHash = bytes
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(fileNumber, forKey: .fileNumber)
        try container.encode(noteID, forKey: .noteID)
        try container.encodeIfPresent(previousEntryHash.map { Hex.encode($0) }, forKey: .previousEntryHash)
        try container.encodeIfPresent(origin, forKey: .origin)
    }

    public var der: [UInt8] {
        var content = DER.tlv(0x02, [0x01])
        content += DER.tlv(0x0C, Array(fileNumber.utf8))
        content += DER.tlv(0x0C, Array(noteID.utf8))
        if let previousEntryHash { content += DER.tlv(0x80, previousEntryHash) }
        if let origin { content += DER.tlv(0x81, Array(origin.utf8)) }
        return DER.tlv(0x30, content)
    }

    /// Reads the DER above; nil when it is not an EOfficeContext v1.
    public init?(der: [UInt8]) {
        var outer = DERScanner(der, what: "EOfficeContext")
        guard let sequence = try? outer.expect(0x30, "EOfficeContext"), outer.isAtEnd,
            var reader = try? sequence.children("EOfficeContext"),
            let version = try? reader.expect(0x02, "version"), version.content.elementsEqual([0x01]),
            let file = try? reader.expect(0x0C, "fileNumber"), let fileText = String(validating: file.content, as: UTF8.self),
            let note = try? reader.expect(0x0C, "noteID"), let noteText = String(validating: note.content, as: UTF8.self)
        else {
            return nil
        }
        fileNumber = fileText
        noteID = noteText
        let hash: DERElement?, origin: DERElement?
        do {
            (hash, origin) = (try reader.optional(0x80), try reader.optional(0x81))
        } catch {
            return nil
        }
        guard reader.isAtEnd else { return nil }
        previousEntryHash = hash.map { Array($0.content) }
        if let origin {
            guard let text = String(validating: origin.content, as: UTF8.self) else { return nil }
            self.origin = text
        } else {
            self.origin = nil
        }
    }
}

/// What the signer commits to (ETSI EN 319 122-1 commitment-type-indication, RFC 5126 5.11.1).
public enum Commitment: String, Sendable, Codable, Hashable, CaseIterable {
    /// id-cti-ets-proofOfOrigin: the signer wrote this note.
    case proofOfOrigin = "proof-of-origin"
    /// id-cti-ets-proofOfApproval: the signer approves what the extract proposes.
    case proofOfApproval = "proof-of-approval"

    public var oid: String {
        switch self {
        case .proofOfOrigin: return "1.2.840.113549.1.9.16.6.1"
        case .proofOfApproval: return "1.2.840.113549.1.9.16.6.5"
        }
    }

    public init?(oid: String) {
        guard let found = Self.allCases.first(where: { $0.oid == oid }) else { return nil }
        self = found
    }
}
