/// Reading DER without copying: a scanner walks the elements of one constructed value as slices of the input.
///
/// Verification reads every signature through this scanner, not through OpenSSL's CMS parser, so that the
/// certificates a signature carries are only sliced (and looked up by their bytes), never decoded again when the run
/// has seen them before. Only DER is read: definite lengths up to 2^32 - 1, one-byte tags. BER input is re-encoded by
/// OpenSSL first (see `SignedDataStructure.init`).
/// DER that does not read: a length past the end, a tag where another was due.
public struct DERError: CodedError {
    public let reason: String
    public let file: String
    public let line: Int
    public var codeName: String { "der-malformed" }

    init(_ reason: String, file: String = #fileID, line: Int = #line) {
        self.reason = reason
        self.file = file
        self.line = line
    }
}

/// One element: its tag, its content and the whole encoding (tag, length, content), as positions in the input
/// (slices are made only when a field is read: making two per element cost more than the scanning).
struct DERElement {
    let tag: UInt8
    let base: [UInt8]
    let start: Int
    let contentStart: Int
    let end: Int

    var content: ArraySlice<UInt8> { base[contentStart..<end] }
    var encoded: ArraySlice<UInt8> { base[start..<end] }
    var contentCount: Int { end - contentStart }
    var isConstructed: Bool { tag & 0x20 != 0 }

    /// A scanner over this element's content (the elements inside a SEQUENCE, SET or constructed tag).
    func children(_ what: String) throws(DERError) -> DERScanner {
        guard isConstructed else { throw DERError("\(what) is not a constructed value (tag 0x\(hex(tag)))") }
        return DERScanner(base, from: contentStart, to: end, what: what)
    }
}

struct DERScanner {
    private let base: [UInt8]
    private var position: Int
    private let limit: Int
    /// What is being read, for error messages ("SignerInfo", "certificates").
    let what: String

    init(_ base: [UInt8], from start: Int, to end: Int, what: String) {
        self.base = base
        self.position = start
        self.limit = end
        self.what = what
    }

    init(_ bytes: ArraySlice<UInt8>, what: String) {
        self.init(Array(bytes), from: 0, to: bytes.count, what: what)
    }

    init(_ bytes: [UInt8], what: String) { self.init(bytes, from: 0, to: bytes.count, what: what) }

    var isAtEnd: Bool { position >= limit }
    var peekTag: UInt8? { position < limit ? base[position] : nil }

    /// The next element, or nil at the end.
    mutating func next() throws(DERError) -> DERElement? {
        guard position < limit else { return nil }
        let start = position
        let tag = base[start]
        guard tag & 0x1F != 0x1F else { throw DERError("\(what): multi-byte tags are not used in CMS (at byte \(start))") }
        guard limit - start >= 2 else { throw DERError("\(what): truncated at byte \(start), a length is missing") }
        var cursor = start + 1
        var length = Int(base[cursor])
        cursor += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count != 0 else { throw DERError("\(what): indefinite length at byte \(start) (BER, not DER)") }
            guard count <= 4 else { throw DERError("\(what): a length of \(count) bytes at byte \(start) is beyond any signature") }
            guard cursor + count <= limit else { throw DERError("\(what): truncated inside a length at byte \(start)") }
            length = 0
            for index in cursor..<cursor + count { length = length << 8 | Int(base[index]) }
            cursor += count
        }
        guard length <= limit - cursor else {
            throw DERError("\(what): an element at byte \(start) claims \(length) bytes but only \(limit - cursor) follow (truncated or corrupt)")
        }
        position = cursor + length
        return DERElement(tag: tag, base: base, start: start, contentStart: cursor, end: position)
    }

    /// The next element, which must have tag `tag`.
    mutating func expect(_ tag: UInt8, _ name: String) throws(DERError) -> DERElement {
        guard let element = try next() else { throw DERError("\(what): \(name) is missing (the structure ends early)") }
        guard element.tag == tag else {
            throw DERError("\(what): \(name) has tag 0x\(hex(element.tag)), expected 0x\(hex(tag))")
        }
        return element
    }

    /// The next element if it has tag `tag`; nothing consumed otherwise.
    mutating func optional(_ tag: UInt8) throws(DERError) -> DERElement? {
        guard peekTag == tag else { return nil }
        return try next()
    }

    /// Every remaining element.
    mutating func all() throws(DERError) -> [DERElement] {
        var elements = [DERElement]()
        while let element = try next() { elements.append(element) }
        return elements
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}

/// An OBJECT IDENTIFIER kept as its DER content bytes, compared byte for byte.
public struct OID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }  // one call, not one per byte
    }

    public static func == (lhs: OID, rhs: OID) -> Bool { lhs.bytes == rhs.bytes }

    init(content: some Collection<UInt8>) { bytes = Array(content) }

    /// From dotted form; a malformed literal is a programming error.
    public init(_ dotted: String) {
        guard let encoded = try? DER.objectIdentifier(dotted) else { preconditionFailure("bad OID literal \(dotted)") }
        bytes = Array(encoded.dropFirst(2))  // literals used here are shorter than 128 bytes: one length byte
    }

    /// The dotted form ("1.2.840.113549.1.9.4"); arcs beyond 64 bits are shown as "?".
    public var description: String {
        var arcs = [String]()
        var value: UInt64 = 0
        var overflow = false
        for byte in bytes {
            if value > UInt64.max >> 7 { overflow = true }
            value = value << 7 | UInt64(byte & 0x7F)
            if byte & 0x80 == 0 {
                if arcs.isEmpty {
                    let first = min(value / 40, 2)
                    arcs.append(String(first))
                    arcs.append(overflow ? "?" : String(value - first * 40))
                } else {
                    arcs.append(overflow ? "?" : String(value))
                }
                value = 0
                overflow = false
            }
        }
        return arcs.joined(separator: ".")
    }
}

extension DERElement {
    func objectIdentifier(_ name: String) throws(DERError) -> OID {
        guard tag == 0x06, end > contentStart, base[end - 1] & 0x80 == 0 else { throw DERError("\(name) is not an OBJECT IDENTIFIER") }
        return OID(content: content)
    }

    /// A small non-negative INTEGER (a version number).
    func smallInteger(_ name: String) throws(DERError) -> Int {
        guard tag == 0x02, (1...4).contains(contentCount), base[contentStart] & 0x80 == 0 else {
            throw DERError("\(name) is not a small non-negative INTEGER")
        }
        return base[contentStart..<end].reduce(0) { $0 << 8 | Int($1) }
    }
}
