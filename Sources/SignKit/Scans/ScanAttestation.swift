import Foundation

/// The document a PPS/PS signs with their own DSC when uploading the scan of an extract the Minister signed by hand
/// (docs/scans.md "Attestation"). It names the request, the extract and the scan by their SHA-256, and what the QR
/// code on the scan said; the PPS's detached signature over these bytes is the scan-approval entry's signature.
///
/// UTF-8 lines, LF-terminated, in this order and no other:
/// ```
/// SignService scan attestation 1
/// request: AR-7KQ2M9XW4P
/// file: GAD-11011/3/2026-ADMIN
/// note: N-4
/// minister: Shri R. Verma
/// extract-sha256: <64 hex>
/// scan-sha256: <64 hex>
/// scan-type: application/pdf
/// scan-bytes: 183233
/// qr: matched            (or not-read)
/// time: 2026-11-23T07:01:49Z
/// statement: <the words below>
/// ```
public struct ScanAttestation: Sendable, Hashable {
    public var requestID: String
    public var fileNumber: String
    public var noteID: String
    public var minister: String
    public var extractHash: [UInt8]
    public var scanHash: [UInt8]
    public var scanType: ScanType
    public var scanBytes: Int
    public var qr: QRFinding
    public var time: Date

    static let header = "SignService scan attestation 1"
    static let keys = ["request", "file", "note", "minister", "extract-sha256", "scan-sha256", "scan-type", "scan-bytes", "qr", "time", "statement"]

    public init(request: ApprovalRequest, scanHash: [UInt8], scanType: ScanType, scanBytes: Int, qr: QRFinding, at time: Date) {
        requestID = request.id
        fileNumber = request.fileNumber
        noteID = request.noteID
        minister = request.minister
        extractHash = request.extractHash
        self.scanHash = scanHash
        self.scanType = scanType
        self.scanBytes = scanBytes
        self.qr = qr
        self.time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
    }

    /// What the PPS states, fixed by the fields so that it cannot say anything else.
    public var statement: String {
        "I attest that the attached scan is a complete and unaltered copy of the printed extract of note \(noteID) of file "
            + "\(fileNumber), approved by \(minister) by hand signature on the paper, and that I upload it on their behalf."
    }

    public var bytes: [UInt8] {
        let values = [
            requestID, fileNumber, noteID, minister, Hex.encode(extractHash), Hex.encode(scanHash), scanType.mediaType,
            String(scanBytes), qr.rawValue, UTCTimeText.format(time), statement,
        ]
        return Array(([Self.header] + zip(Self.keys, values).map { "\($0): \($1)" }).map { $0 + "\n" }.joined().utf8)
    }

    /// Reads an attestation; anything not exactly in the form above is refused with what is wrong.
    public init(bytes: [UInt8]) throws {
        func refuse(_ why: String) -> ScanError { ScanError(.attestationMismatch, "the attestation does not read: \(why)") }
        guard bytes.count <= 4096, let text = String(validating: bytes, as: UTF8.self), text.hasSuffix("\n") else {
            throw refuse("it must be UTF-8 text of at most 4 KiB ending in a new line")
        }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count == Self.keys.count + 1, lines[0] == Self.header else { throw refuse("it must be \"\(Self.header)\" and \(Self.keys.count) lines") }
        var values = [String]()
        for (key, line) in zip(Self.keys, lines.dropFirst()) {
            guard line.hasPrefix(key + ": ") else { throw refuse("line \"\(line.prefix(40))\" should be \"\(key): …\"") }
            values.append(String(line.dropFirst(key.count + 2)))
        }
        guard let extract = Hex.decode(values[4]), extract.count == 32, let scan = Hex.decode(values[5]), scan.count == 32 else {
            throw refuse("the SHA-256 values must be 64 hex digits")
        }
        guard let type = ScanType.allCases.first(where: { $0.mediaType == values[6] }) else { throw refuse("scan-type \(values[6]) is not one accepted") }
        guard let size = Int(values[7]), size > 0 else { throw refuse("scan-bytes must be a positive number") }
        guard let qr = QRFinding(rawValue: values[8]) else { throw refuse("qr must be matched or not-read") }
        guard let time = UTCTimeText.parse(values[9]) else { throw refuse("time must read like 2026-11-23T07:01:49Z") }
        (requestID, fileNumber, noteID, minister) = (values[0], values[1], values[2], values[3])
        (extractHash, scanHash, scanType, scanBytes, self.qr, self.time) = (extract, scan, type, size, qr, time)
        guard values[10] == statement else { throw refuse("the statement is not the one this form states") }
    }

    /// The uploader's side of the scan path: the scan at `path` judged as the service will judge it (type by content,
    /// SHA-256, pages; no size limit, the service applies its own), its QR codes read and judged against `request`
    /// (another request's code is refused here already), and the attestation the PPS/PS will sign.
    public static func prepare(scanAt path: String, for request: ApprovalRequest, at time: Date) throws
        -> (scan: ScanFile, finding: QRFinding, attestation: ScanAttestation)
    {
        var limits = ScanLimits()
        limits.maximumBytes = Int.max
        let scan = try ScanIntake.examine(path: path, limits: limits)
        let finding = try QRFinding.judge(try ScanQR.texts(in: path, type: scan.type, pages: scan.pages), request: request, signer: nil)
        return (
            scan, finding,
            ScanAttestation(
                request: request, scanHash: scan.sha256, scanType: scan.type, scanBytes: scan.size,
                qr: finding, at: time)
        )
    }

    /// Refuses an attestation that names another request, file, note, Minister or extract than `request`.
    public func check(against request: ApprovalRequest) throws {
        let differences = [
            ("request", requestID, request.id), ("file", fileNumber, request.fileNumber), ("note", noteID, request.noteID),
            ("minister", minister, request.minister), ("extract SHA-256", Hex.encode(extractHash), Hex.encode(request.extractHash)),
        ]
        .filter { $0.1 != $0.2 }
        if let first = differences.first {
            throw ScanError(.attestationMismatch, "the attestation names \(first.0) \(first.1), but the request \(request.id) has \(first.2)")
        }
    }
}

/// Who may upload a Minister's hand-signed extracts (docs/scans.md "Roles"): a JSON file the department keeps,
/// `{"ministers": [{"name": "Shri R. Verma", "pps": [{"name": "…", "certificateSHA256": "<hex>"}]}]}`.
public struct ApprovalRoles: Codable, Sendable {
    public struct Minister: Codable, Sendable {
        public var name: String
        public var pps: [Person]
    }

    public struct Person: Codable, Sendable {
        public var name: String
        public var certificateSHA256: String
    }

    public var ministers: [Minister]

    public static func load(_ path: String) throws -> ApprovalRoles {
        guard let data = FileManager.default.contents(atPath: path) else { throw ScanError(.badRequest, "cannot read the roles file \(path)") }
        let roles: ApprovalRoles
        do {
            roles = try JSONDecoder().decode(ApprovalRoles.self, from: data)
        } catch {
            throw ScanError(.badRequest, "the roles file \(path) does not read: \(error)")
        }
        for minister in roles.ministers {
            for person in minister.pps where Hex.decode(person.certificateSHA256)?.count != 32 {
                throw ScanError(.badRequest, "roles file \(path): \(person.name)'s certificateSHA256 is not 64 hex digits")
            }
        }
        return roles
    }

    /// SHA-256 fingerprints of the certificates of `minister`'s PPS/PS; nil when the Minister is not listed.
    public func pps(of minister: String) -> [[UInt8]]? {
        ministers.first { $0.name == minister }.map { $0.pps.compactMap { Hex.decode($0.certificateSHA256) } }
    }
}
