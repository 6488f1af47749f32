import Foundation

/// What the department log holds for one history entry: the leaf's data, whose `MerkleHash.leaf` is the tree's leaf
/// hash (docs/formats.md "Department log"):
///
/// ```
/// DepartmentLogLeafV1 ::= SEQUENCE { version INTEGER (1), origin UTF8String, fileNumber UTF8String,
///     sequence INTEGER, entryHash OCTET STRING (SIZE (32)), time GeneralizedTime }
/// ```
///
/// The entry's hash commits to every field of the entry and, through the chain, to the file's history before it;
/// the file number, sequence and time are repeated so that a monitor can name the entry from the leaf alone. The
/// origin binds the leaf to one department's log, so that an entry proven in one log cannot be presented as proven
/// in another's.
public struct DepartmentLogLeaf: Sendable, Hashable {
    /// The log's origin, the first line of its checkpoints (e.g. "records.dit.mn.gov.in/log").
    public let origin: String
    public let fileNumber: String
    /// The entry's sequence in its file (1, 2, 3...).
    public let sequence: Int
    /// `HistoryEntry.hash`: SHA-256 over the entry's HistoryEntryV1 DER.
    public let entryHash: [UInt8]
    /// When the service accepted the entry (`HistoryEntry.time`), to the second.
    public let time: Date

    public init(origin: String, fileNumber: String, sequence: Int, entryHash: [UInt8], time: Date) throws {
        guard !origin.isEmpty else { throw LogError(.invalidRequest, "a log leaf needs the log's origin") }
        guard sequence >= 1 else { throw LogError(.invalidRequest, "an entry's sequence starts at 1, not \(sequence)") }
        guard entryHash.count == 32 else { throw LogError(.invalidRequest, "an entry's hash is 32 bytes, not \(entryHash.count)") }
        self.origin = origin
        self.fileNumber = fileNumber
        self.sequence = sequence
        self.entryHash = entryHash
        self.time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
    }

    /// The leaf of `entry` in the log named `origin`.
    public init(origin: String, entry: HistoryEntry) throws {
        try self.init(origin: origin, fileNumber: entry.fileNumber, sequence: entry.sequence, entryHash: entry.hash, time: entry.time)
    }

    /// The leaf's data: the DER of DepartmentLogLeafV1 (the type's comment). The time is written as in
    /// HistoryEntryV1, "YYYYMMDDHHMMSSZ" in UTC without a fraction.
    public var canonicalBytes: [UInt8] {
        var content = [UInt8]()
        content.reserveCapacity(80 + origin.utf8.count + fileNumber.utf8.count)
        DER.append(0x02, [0x01], to: &content)
        DER.append(0x0C, origin.utf8, to: &content)
        DER.append(0x0C, fileNumber.utf8, to: &content)
        content += DER.unsignedInteger(withUnsafeBytes(of: UInt64(sequence).bigEndian, Array.init))
        DER.append(0x04, entryHash, to: &content)
        DER.append(0x18, HistoryEntry.generalizedTime(time), to: &content)
        return DER.tlv(0x30, content)
    }

    /// The tree's leaf hash: SHA-256(0x00 || canonicalBytes).
    public var leafHash: [UInt8] { MerkleHash.leaf(canonicalBytes) }
}
