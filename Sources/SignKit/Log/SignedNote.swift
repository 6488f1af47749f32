import Foundation

/// A C2SP signed note (c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line, then one or more
/// signature lines `— <key name> <base64(key ID || signature)>`, each ended by a newline. The text is what every
/// signature covers; it must be ignored until a signature by a trusted key has been verified (`verify(by:)`).
///
/// Lines by keys this service does not know (a witness's cosignature, C2SP tlog-cosignature) are read and kept in
/// order, so a note passes through the service with every signature it came with.
public struct SignedNote: Sendable, Hashable {
    /// The signed text, with its final newline and without the blank line.
    public let text: String
    public private(set) var signatures: [NoteSignature]

    /// A note larger than this is refused unread (16 post-quantum signatures fit many times over).
    public static let maximumSize = 1 << 20
    /// At most this many signature lines (C2SP asks verifiers to accept at least 16).
    public static let maximumSignatures = 100

    public init(text: String, signatures: [NoteSignature]) throws {
        try Self.checkText(Array(text.utf8))
        guard !signatures.isEmpty else { throw LogError(.treeHeadMalformed, "a signed note needs at least one signature") }
        guard signatures.count <= Self.maximumSignatures else {
            throw LogError(.treeHeadMalformed, "a signed note may carry at most \(Self.maximumSignatures) signatures, not \(signatures.count)")
        }
        self.text = text
        self.signatures = signatures
    }

    /// Reads a signed note: the text is everything up to the last blank line, the signature lines follow it.
    public init(parsing note: [UInt8]) throws {
        guard note.count <= Self.maximumSize else {
            throw LogError(.treeHeadMalformed, "a signed note of \(note.count) bytes is larger than the \(Self.maximumSize) accepted")
        }
        try Self.checkCharacters(note)
        let newline = UInt8(ascii: "\n")
        guard let blank = note.indices.dropLast().last(where: { note[$0] == newline && note[$0 + 1] == newline }) else {
            throw LogError(.treeHeadMalformed, "a signed note has a blank line between its text and its signatures; this has none")
        }
        let text = Array(note[...blank])
        try Self.checkText(text)
        let block = note[(blank + 2)...]
        guard block.last == newline else { throw LogError(.treeHeadMalformed, "the note's last signature line does not end with a newline") }
        let lines = block.dropLast().split(separator: newline, omittingEmptySubsequences: false)
        guard lines.count <= Self.maximumSignatures else {
            throw LogError(.treeHeadMalformed, "a signed note may carry at most \(Self.maximumSignatures) signatures, not \(lines.count)")
        }
        try self.init(text: String(decoding: text, as: UTF8.self), signatures: lines.map { try NoteSignature(line: Array($0)) })
    }

    public init(parsing note: String) throws {
        try self.init(parsing: Array(note.utf8))
    }

    /// The note as sent: the text, a blank line, one line per signature.
    public var encoded: String {
        text + "\n" + signatures.map { $0.line + "\n" }.joined()
    }

    /// The note with `signature` added after the others (a witness's cosignature); a line already there is not
    /// repeated.
    public func adding(_ signature: NoteSignature) throws -> SignedNote {
        if signatures.contains(signature) { return self }
        return try SignedNote(text: text, signatures: signatures + [signature])
    }

    /// Checks the note against `key` as C2SP signed-note asks: lines by other keys are ignored; every line by this
    /// key (its name and key ID) must verify, and there must be one. Returns that signature. Throws
    /// `tree-head-unsigned` when the key signed no line (naming who did), `tree-head-signature-not-valid` when a
    /// line by it does not verify over the text.
    @discardableResult
    public func verify(by key: X509NoteKey) throws -> NoteSignature {
        let known = signatures.filter { key.identifies($0) }
        guard let first = known.first else {
            if let other = signatures.first(where: { $0.name == key.name }) {
                throw LogError(
                    .treeHeadUnsigned,
                    "the tree head is signed as \(key.name) by another key (key ID \(Self.hex(other.keyID)), not \(Self.hex(key.keyID))): "
                        + "the signer's key is not the certificate's \(key.certificate.subject)")
            }
            let signers = signatures.map { "\($0.name) (\(Self.hex($0.keyID)))" }.joined(separator: ", ")
            throw LogError(.treeHeadUnsigned, "the tree head carries no signature by \(key.name) (key ID \(Self.hex(key.keyID))); it is signed by \(signers)")
        }
        for signature in known where !key.isValid(signature, over: text) {
            throw LogError(
                .treeHeadSignatureNotValid,
                "the signature by \(key.name) (key ID \(Self.hex(signature.keyID))) does not verify over this tree head's text: "
                    + "the text was changed after signing, or the signature was")
        }
        return first
    }

    static func hex(_ keyID: UInt32) -> String { Hex.encode(withUnsafeBytes(of: keyID.bigEndian, Array.init)) }

    /// C2SP: valid UTF-8 ending in a newline, no ASCII control characters but the newline. (A text of only a
    /// newline is refused too: nothing would be signed.)
    static func checkText(_ text: [UInt8]) throws {
        guard text.count >= 2, text.last == UInt8(ascii: "\n") else {
            throw LogError(.treeHeadMalformed, "a note's text is at least one line, ended by a newline")
        }
        try checkCharacters(text)
    }

    /// Valid UTF-8 without ASCII control characters other than the newline.
    static func checkCharacters(_ bytes: [UInt8]) throws {
        if let control = bytes.first(where: { $0 < 0x20 && $0 != UInt8(ascii: "\n") }) {
            throw LogError(.treeHeadMalformed, "a note must not hold the control character 0x\(Hex.encode([control]))")
        }
        guard Array(String(decoding: bytes, as: UTF8.self).utf8) == bytes else {
            throw LogError(.treeHeadMalformed, "a note is not valid UTF-8")
        }
    }
}

/// One signature line of a signed note: `— <key name> <base64(key ID || signature)>`, where the key ID is 4 bytes,
/// big-endian, and the signature is whatever the key's signature type makes over the note's text.
public struct NoteSignature: Sendable, Hashable {
    public let name: String
    public let keyID: UInt32
    /// The bytes after the key ID.
    public let signature: [UInt8]

    public init(name: String, keyID: UInt32, signature: [UInt8]) throws {
        try Self.checkName(name)
        guard !signature.isEmpty else { throw LogError(.treeHeadMalformed, "the signature by \(name) is empty") }
        self.name = name
        self.keyID = keyID
        self.signature = signature
    }

    /// Reads one line (without its newline).
    init(line: [UInt8]) throws {
        let dash: [UInt8] = [0xE2, 0x80, 0x94, 0x20]  // U+2014 EM DASH, then a space
        guard line.starts(with: dash) else {
            throw LogError(.treeHeadMalformed, "a note's signature line starts with an em dash (U+2014) and a space")
        }
        let parts = line.dropFirst(dash.count).split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw LogError(.treeHeadMalformed, "a note's signature line is \"— <key name> <base64 signature>\", one space between")
        }
        let name = String(decoding: parts[0], as: UTF8.self)
        try Self.checkName(name, code: .treeHeadMalformed)
        guard let bytes = NoteBase64.decode(String(decoding: parts[1], as: UTF8.self)), bytes.count > 4 else {
            throw LogError(.treeHeadMalformed, "the signature by \(name) is not base64 of a key ID and a signature")
        }
        try self.init(name: name, keyID: bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }, signature: Array(bytes.dropFirst(4)))
    }

    public var line: String {
        "— \(name) " + NoteBase64.encode(withUnsafeBytes(of: keyID.bigEndian, Array.init) + signature)
    }

    /// C2SP: a key name is not empty and holds no Unicode space and no "+" (nor, here, any control character).
    static func checkName(_ name: String, code: LogError.Code = .invalidRequest) throws {
        guard !name.isEmpty,
            !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0 == "+" || $0.properties.generalCategory == .control })
        else {
            throw LogError(code, "\"\(name)\" cannot name a note's key: it must not be empty, nor hold a space or \"+\"")
        }
    }
}

/// The base64 of notes and checkpoints: RFC 4648 section 4, padded, read only in its canonical form.
enum NoteBase64 {
    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Nil unless `text` is exactly what `encode` writes for some bytes (no whitespace, no stray bits).
    static func decode(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text), data.base64EncodedString() == text else { return nil }
        return Array(data)
    }
}
