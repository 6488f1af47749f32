import Foundation

/// A tree head of the department log in the C2SP tlog-checkpoint form (c2sp.org/tlog-checkpoint): the note text
///
/// ```
/// <origin>
/// <tree size in decimal, no leading zeros>
/// <root hash in base64>
/// [extension lines]
/// ```
///
/// each line ended by a newline, signed as a `SignedNote` by the document signer (`signed(by:sign:)`) and read back
/// only through a verified note (`init(verifying:origin:key:)`).
public struct TreeHead: Sendable, Hashable {
    /// The log's identity, e.g. "records.dit.mn.gov.in/log"; the log's key name is the same.
    public let origin: String
    public let size: Int
    /// MTH of the first `size` leaves (`MerkleTree.rootHash(size:)`).
    public let rootHash: [UInt8]
    /// Optional, opaque lines after the root hash; this service writes none but keeps those it reads.
    public let extensionLines: [String]

    public init(origin: String, size: Int, rootHash: [UInt8], extensionLines: [String] = []) throws {
        guard !origin.isEmpty else { throw LogError(.treeHeadMalformed, "a checkpoint's origin line must not be empty") }
        for line in [origin] + extensionLines {
            guard !line.isEmpty, !line.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw LogError(.treeHeadMalformed, "a checkpoint's lines are not empty and hold no control character (nor a newline)")
            }
        }
        guard size >= 0 else { throw LogError(.treeHeadMalformed, "a tree cannot have \(size) leaves") }
        guard rootHash.count == MerkleHash.size else {
            throw LogError(.treeHeadMalformed, "a checkpoint's root hash is \(MerkleHash.size) bytes, not \(rootHash.count)")
        }
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
        self.extensionLines = extensionLines
    }

    /// Reads a checkpoint's note text (not yet verified: see `init(verifying:origin:key:)`).
    public init(checkpoint text: String) throws {
        guard text.hasSuffix("\n") else { throw LogError(.treeHeadMalformed, "a checkpoint's text ends with a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3 else {
            throw LogError(.treeHeadMalformed, "a checkpoint has at least three lines (origin, size, root hash), not \(lines.count)")
        }
        let digits = lines[1].utf8
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            digits.first != UInt8(ascii: "0") || digits.count == 1, let size = Int(lines[1])
        else {
            throw LogError(.treeHeadMalformed, "a checkpoint's second line is the tree size in decimal without leading zeros, not \"\(lines[1])\"")
        }
        guard let root = NoteBase64.decode(lines[2]) else {
            throw LogError(.treeHeadMalformed, "a checkpoint's third line is the root hash in base64, not \"\(lines[2])\"")
        }
        try self.init(origin: lines[0], size: size, rootHash: root, extensionLines: Array(lines.dropFirst(3)))
    }

    /// The note text: origin, size, root hash and any extension lines, each ended by a newline.
    public var checkpointText: String {
        ([origin, String(size), NoteBase64.encode(rootHash)] + extensionLines).map { $0 + "\n" }.joined()
    }

    /// This head as a signed note with one line by `key`, whose name must be the origin (C2SP: the log's key name
    /// should match its origin). `sign` signs the bytes it is given on the document signer's token.
    public func signed(by key: X509NoteKey, sign: ([UInt8]) throws -> [UInt8]) throws -> SignedNote {
        guard key.name == origin else {
            throw LogError(.invalidRequest, "the log \(origin) signs its tree heads under its own name, not as \(key.name)")
        }
        let text = checkpointText
        return try SignedNote(text: text, signatures: [try key.sign(text, with: sign)])
    }

    /// The tree head a signed note states, once `key`'s signature on it has been verified (`SignedNote.verify`) and
    /// its origin found to be `origin`. Throws `tree-head-unsigned` or `tree-head-signature-not-valid` when the
    /// signature does not hold, `tree-head-malformed` when the text is no checkpoint, `origin-mismatch` when it is
    /// another log's.
    public init(verifying note: SignedNote, origin: String, key: X509NoteKey) throws {
        try note.verify(by: key)
        try self.init(checkpoint: note.text)
        guard self.origin == origin else {
            throw LogError(.originMismatch, "the tree head is of the log \(self.origin), not of \(origin)")
        }
    }
}
