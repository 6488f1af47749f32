import Foundation

/// What a file given to a command is, judged by its first bytes (never by its name): the words a person reads when a
/// command was handed the wrong kind of file ("README.md is not a signature file (.p7s): it starts with text").
public enum InputKind: Equatable, Sendable {
    case empty
    case text
    case pdf, jpeg, png, tiff, gif
    case zip
    /// A zip with a manifest.json: a SignService history bundle.
    case bundle
    /// Starts as a zip but its central directory does not read (cut short or damaged).
    case damagedZip
    /// A CMS/PKCS#7 signature (SignedData), DER or PEM.
    case signature
    case certificate
    case crl
    case ocspResponse
    case privateKey
    /// A PEM block with another label ("CERTIFICATE REQUEST", "PUBLIC KEY").
    case pem(String)
    /// DER whose outer element declares more bytes than the file holds.
    case cutShortDER(declared: Int, present: Int)
    /// DER of a kind not named above.
    case der
    case binary

    /// How many leading bytes `of(_:)` looks at.
    public static let sniffLength = 64 << 10

    /// The kind of the bytes (the start of a file is enough: `sniffLength` bytes). A zip is `.zip` here; `of(fileAt:)`
    /// looks inside it for a bundle's manifest.
    public static func of(_ head: [UInt8], fileSize: Int? = nil) -> InputKind {
        let size = fileSize ?? head.count
        guard size > 0, !head.isEmpty else { return .empty }
        func starts(_ prefix: [UInt8]) -> Bool { head.starts(with: prefix) }
        if starts(Array("%PDF-".utf8)) { return .pdf }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if let label = pemLabel(head) {
            switch label {
            case "PKCS7", "CMS": return .signature
            case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE": return .certificate
            case "X509 CRL": return .crl
            case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY": return .privateKey
            default: return .pem(label)
            }
        }
        if head[0] == 0x30, let kind = derKind(head, fileSize: size) { return kind }
        return isText(head) ? .text : .binary
    }

    /// The kind of the file at `path` (its first `sniffLength` bytes; a zip is opened to look for a bundle's
    /// manifest). Throws the operating system's reason when the file cannot be read.
    public static func of(fileAt path: String, expecting noun: String = "a file to read") throws(InputFileError) -> InputKind {
        let (head, size) = try InputFile.head(path, noun: noun)
        let kind = of(head, fileSize: size)
        guard kind == .zip else { return kind }
        guard let reader = try? BundleReader(path) else { return .damagedZip }
        return reader.names.contains("manifest.json") ? .bundle : .zip
    }

    /// What it is, in words that follow "it" ("is a PDF document", "starts with text").
    public var words: String {
        switch self {
        case .empty: "is empty (0 bytes)"
        case .text: "starts with text"
        case .pdf: "is a PDF document"
        case .jpeg: "is a JPEG image"
        case .png: "is a PNG image"
        case .tiff: "is a TIFF image"
        case .gif: "is a GIF image"
        case .zip: "is a zip archive without the manifest.json of a SignService history bundle"
        case .bundle: "is a SignService history bundle: check it with `signctl history verify`"
        case .damagedZip: "is a damaged zip archive: its table of contents (at the end) does not read, so it may be cut short"
        case .signature: "is a signature (.p7s): check it with `signctl verify`"
        case .certificate: "is a certificate"
        case .crl: "is a certificate revocation list (CRL)"
        case .ocspResponse: "is an OCSP response"
        case .privateKey: "is a private key (keep it secret)"
        case .pem(let label): "is a PEM file holding a \(label.lowercased())"
        case .cutShortDER(let declared, let present):
            "is cut short: it declares \(declared) bytes but the file holds \(present)"
        case .der: "is binary data of another kind (ASN.1, but not a signature)"
        case .binary: "is binary data of an unknown kind"
        }
    }

    // MARK: Sniffing

    /// The label of a PEM file's first block, when the file starts with one (after blank lines).
    public static func pemLabel(_ head: [UInt8]) -> String? {
        let start = head.firstIndex { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) } ?? head.endIndex
        let begin = Array("-----BEGIN ".utf8)
        guard head[start...].starts(with: begin) else { return nil }
        let rest = head[(start + begin.count)...]
        guard let end = rest.firstIndex(of: UInt8(ascii: "-")) else { return nil }
        return String(decoding: rest[..<end], as: UTF8.self)
    }

    /// One DER element's header at `offset`: its tag, where its content starts and its declared length.
    struct Element {
        let tag: UInt8
        let start: Int
        let length: Int
        var indefinite = false
        var end: Int { start + length }
    }

    static func element(_ bytes: [UInt8], at offset: Int) -> Element? {
        guard offset + 2 <= bytes.count else { return nil }
        let tag = bytes[offset]
        guard tag & 0x1F != 0x1F else { return nil }  // multi-byte tags appear in none of the kinds named here
        let first = Int(bytes[offset + 1])
        if first < 0x80 { return Element(tag: tag, start: offset + 2, length: first) }
        // BER's indefinite length (openssl cms -stream writes it): the element runs to its end-of-contents octets;
        // here, to the end of what was read.
        if first == 0x80 && tag & 0x20 != 0 { return Element(tag: tag, start: offset + 2, length: bytes.count - offset - 2, indefinite: true) }
        let count = first & 0x7F
        guard count >= 1, count <= 4, offset + 2 + count <= bytes.count else { return nil }
        var length = 0
        for byte in bytes[(offset + 2)..<(offset + 2 + count)] { length = length << 8 | Int(byte) }
        return Element(tag: tag, start: offset + 2 + count, length: length)
    }

    /// The children of a constructed element (as far as `bytes` holds them).
    static func children(_ bytes: [UInt8], of parent: Element) -> [Element] {
        var found = [Element]()
        var offset = parent.start
        let end = min(parent.end, bytes.count)
        while offset < end, let child = element(bytes, at: offset) {
            found.append(child)
            offset = child.end
        }
        return found
    }

    /// The kind of DER starting with a SEQUENCE: a CMS ContentInfo (signedData), a certificate, a CRL or an OCSP
    /// response, told apart by the shape of their first elements. Nil when the bytes are not DER at all.
    static func derKind(_ head: [UInt8], fileSize: Int) -> InputKind? {
        guard let outer = element(head, at: 0), outer.tag == 0x30 else { return nil }
        // A text file that happens to start with "0" (0x30) declares a length its bytes never match.
        if outer.end > fileSize && !outer.indefinite {
            return isText(head) ? nil : .cutShortDER(declared: outer.end, present: fileSize)
        }
        if outer.end < fileSize, isText(head) { return nil }
        let parts = children(head, of: outer)
        guard let first = parts.first else { return .der }
        switch first.tag {
        case 0x06:  // ContentInfo: contentType OID; 1.2.840.113549.1.7.2 is signedData
            let signedData: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02]
            return first.end <= head.count && Array(head[first.start..<first.end]) == signedData ? .signature : .der
        case 0x0A:  // OCSPResponse: responseStatus ENUMERATED
            return .ocspResponse
        case 0x30:  // a to-be-signed SEQUENCE: TBSCertificate or TBSCertList
            var fields = children(head, of: first)
            if fields.first?.tag == 0xA0 { return .certificate }  // [0] EXPLICIT version: certificates only
            if fields.first?.tag == 0x02 { fields.removeFirst() }  // a v1 certificate's serial, or a CRL's version
            // Then: signature AlgorithmIdentifier, issuer Name, and a Validity SEQUENCE (certificate) or thisUpdate
            // (a CRL: UTCTime or GeneralizedTime).
            guard fields.count >= 3, fields[0].tag == 0x30, fields[1].tag == 0x30 else { return .der }
            if fields[2].tag == 0x30 { return .certificate }
            if fields[2].tag == 0x17 || fields[2].tag == 0x18 { return .crl }
            return .der
        case 0x02:  // PrivateKeyInfo (version INTEGER, AlgorithmIdentifier, OCTET STRING) or an RSA/EC private key
            return parts.count >= 3 && (parts[1].tag == 0x30 || parts[1].tag == 0x04 || parts[1].tag == 0x02) ? .privateKey : .der
        default:
            return .der
        }
    }

    /// UTF-8 text (a character cut at the end of `head` allowed) of printable characters, tabs and line breaks.
    static func isText(_ head: [UInt8]) -> Bool {
        var bytes = head[...]
        // A UTF-8 sequence cut by the sniff length is not a reason to call a text file binary.
        var back = 0
        while back < 3, let last = bytes.last, last & 0xC0 == 0x80 {
            bytes = bytes.dropLast()
            back += 1
        }
        if let last = bytes.last, last >= 0xC0 { bytes = bytes.dropLast() }
        guard let text = String(validating: bytes, as: UTF8.self) else { return false }
        return text.unicodeScalars.allSatisfy { scalar in
            scalar == "\n" || scalar == "\r" || scalar == "\t" || scalar == "\u{FEFF}" || scalar == "\u{0C}"
                || !(scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .unassigned)
        }
    }
}

/// A file given to a command that cannot serve: missing, unreadable, a folder, empty, too large, or another kind of
/// file than the command needs. The reason is one line that names the file and says what it is or is not.
public typealias InputFileError = DomainError<InputFileErrorDomain>

/// The domain of `InputFileError`: its codes are the `ErrorCode<InputFileErrorDomain>` statics below.
public enum InputFileErrorDomain {}

extension ErrorCode where Domain == InputFileErrorDomain {
    /// No file by that name (ENOENT), or a folder on the way is missing.
    public static let missing = Self("file-missing")
    /// The operating system refused to read it (permissions, I/O); the reason is the system's.
    public static let unreadable = Self("file-unreadable")
    /// A folder or a device, not a regular file.
    public static let notAFile = Self("not-a-file")
    public static let empty = Self("file-empty")
    public static let tooLarge = Self("file-too-large")
    /// A readable file of another kind than the command needs (text for a signature, a signature for a bundle).
    public static let wrongKind = Self("wrong-kind")
}

/// Reading the files commands are given, with the operating system's reason when one cannot be read and plain words
/// when it is the wrong kind.
public enum InputFile {
    /// What a command expects a file to be.
    public enum Expected: Sendable {
        case signature
        case bundle
        case scan
        /// Signed content: any bytes will do.
        case content

        /// "a signature file (.p7s)".
        public var noun: String {
            switch self {
            case .signature: "a signature file (.p7s)"
            case .bundle: "a history bundle (.zip)"
            case .scan: "a scan (PDF, JPEG, PNG or TIFF)"
            case .content: "a file to check"
            }
        }

        func accepts(_ kind: InputKind) -> Bool {
            switch self {
            case .signature: kind == .signature
            case .bundle: kind == .bundle
            case .scan: [.pdf, .jpeg, .png, .tiff].contains(kind)
            case .content: true
            }
        }
    }

    /// The first `InputKind.sniffLength` bytes of a regular file and its size; the operating system's reason when
    /// it cannot be opened, and plain words for a folder.
    static func head(_ path: String, noun: String) throws(InputFileError) -> (head: [UInt8], size: Int) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw openFailure(path, errno, noun: noun) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw openFailure(path, errno, noun: noun) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw InputFileError(.notAFile, "\(path) is \((status.st_mode & S_IFMT) == S_IFDIR ? "a folder" : "a device or pipe"), not \(noun)")
        }
        var head = [UInt8](repeating: 0, count: min(InputKind.sniffLength, max(0, Int(status.st_size))))
        var filled = 0
        while filled < head.count {
            let count = head.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw openFailure(path, errno, noun: noun) }
            if count == 0 { break }
            filled += count
        }
        return (Array(head.prefix(filled)), Int(status.st_size))
    }

    static func openFailure(_ path: String, _ code: Int32, noun: String) -> InputFileError {
        let reason = String(cString: strerror(code))
        if code == EISDIR { return InputFileError(.notAFile, "\(path) is a folder, not \(noun)") }
        return InputFileError(code == ENOENT || code == ENOTDIR ? .missing : .unreadable, "cannot read \(path): \(reason)")
    }

    /// Checks that `path` can be read and is `expected`; returns its kind. A wrong kind is one line: "README.md is
    /// not a signature file (.p7s): it starts with text".
    @discardableResult
    public static func check(_ path: String, is expected: Expected) throws(InputFileError) -> InputKind {
        let kind = try InputKind.of(fileAt: path, expecting: expected.noun)
        if kind == .empty, expected != .content { throw InputFileError(.empty, "\(path) is empty (0 bytes), not \(expected.noun)") }
        guard expected.accepts(kind) else {
            throw InputFileError(.wrongKind, "\(path) is not \(expected.noun): it \(kind.words)")
        }
        return kind
    }

    /// The whole file, at most `limit` bytes, after `check`.
    public static func read(_ path: String, is expected: Expected, limit: Int) throws(InputFileError) -> [UInt8] {
        try check(path, is: expected)
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw InputFileError(.unreadable, "cannot read \(path): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        guard data.count <= limit else {
            throw InputFileError(.tooLarge, "\(path) is larger than \(limit >> 20) MiB, too large for \(expected.noun)")
        }
        return Array(data)
    }
}
