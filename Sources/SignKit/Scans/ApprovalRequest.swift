import Foundation

/// A scan-path operation refused, with the reason in words.
public typealias ScanError = DomainError<ScanErrorDomain>

/// The domain of `ScanError`: its codes are the `ErrorCode<ScanErrorDomain>` statics below.
public enum ScanErrorDomain {}

extension ErrorCode where Domain == ScanErrorDomain {
    public static let badRequest = Self("bad-request")
    public static let unknownRequest = Self("unknown-request")
    public static let qrNotValid = Self("qr-not-valid")
    /// The scan's QR code names another approval request.
    public static let qrOtherRequest = Self("qr-other-request")
    /// No readable QR code, and the policy wants one.
    public static let qrRequired = Self("qr-required")
    /// The attestation does not read, or says something other than the request and the scan do.
    public static let attestationMismatch = Self("attestation-mismatch")
    /// The attestation's signer is not a PPS/PS authorised for this request's Minister.
    public static let unauthorisedUploader = Self("unauthorised-uploader")
}

/// An approval request (DESIGN.md "Scan-upload path"): issued when a note goes to a Minister, printed on the extract
/// as a QR code, and later matched against the scan of the hand-signed extract the PPS uploads.
///
/// The QR code carries a compact form signed by the service's document signer, so a printout can be checked
/// offline against the service's certificate:
/// `SSAR1|<id>|<file>|<note>|<extract SHA-256 hex>|<minister>|<PPS certificate SHA-256 prefixes, comma-separated>|<issued>|<signature>`
/// where the signature (PKCS#1 v1.5 or ECDSA over SHA-256, base64url) covers every byte before the last `|`.
public struct ApprovalRequest: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable { case open, closed }

    public var id: String
    public var fileNumber: String
    public var noteID: String
    public var extractHash: [UInt8]
    /// The Minister's name as printed.
    public var minister: String
    /// SHA-256 fingerprints of the certificates of the PPS/PS allowed to upload the scan.
    public var authorisedPPS: [[UInt8]]
    public var issuedAt: Date
    public var status: Status
    /// The text in the QR code (payload and signature).
    public var qrText: String

    static let prefix = "SSAR1"
    /// Hex digits of each PPS fingerprint in the QR code (64 bits: enough to tell certificates apart on a printout;
    /// the store keeps the whole fingerprint).
    static let ppsDigits = 16

    /// A new open request, its QR text signed by `signer`.
    public static func issue(
        fileNumber: String, noteID: String, extractHash: [UInt8], minister: String, authorisedPPS: [[UInt8]],
        signer: CheckpointSigner, at time: Date
    ) throws -> ApprovalRequest {
        for (name, value) in [("file number", fileNumber), ("note id", noteID), ("minister", minister)] {
            guard !value.isEmpty, value.count <= 200, !value.contains("|"),
                !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                throw ScanError(.badRequest, "the \(name) must be 1 to 200 characters without \"|\" or control characters")
            }
        }
        guard extractHash.count == 32 else { throw ScanError(.badRequest, "the extract's SHA-256 must be 32 bytes") }
        guard !authorisedPPS.isEmpty, authorisedPPS.allSatisfy({ $0.count == 32 }) else {
            throw ScanError(.badRequest, "name at least one PPS/PS by the SHA-256 fingerprint of their certificate (64 hex digits)")
        }
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        let id = "AR-" + String((0..<10).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
        let issued = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
        let payload = [
            prefix, id, fileNumber, noteID, Hex.encode(extractHash), minister,
            authorisedPPS.map { String(Hex.encode($0).prefix(ppsDigits)) }.joined(separator: ","), UTCTimeText.format(issued),
        ]
        .joined(separator: "|")
        let signature = try signer.sign(Array(payload.utf8))
        return ApprovalRequest(
            id: id, fileNumber: fileNumber, noteID: noteID, extractHash: extractHash, minister: minister,
            authorisedPPS: authorisedPPS, issuedAt: issued, status: .open,
            qrText: payload + "|" + Base64URL.encode(signature.bytes))
    }

    /// What a QR code read from a printout says, once its signature is checked against the service's certificate.
    public struct Printed: Sendable, Hashable {
        public let id: String
        public let fileNumber: String
        public let noteID: String
        public let extractHash: [UInt8]
        public let minister: String
        public let ppsPrefixes: [String]
        public let issuedAt: Date
    }

    /// The request id a QR text claims to be, without checking its signature (signctl, which has no certificate of
    /// the service, uses it only to warn); nil when the text is not an approval request's.
    public static func claimedID(inQRText text: String) -> String? {
        let fields = text.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
        return fields.count == 3 && fields[0] == prefix ? String(fields[1]) : nil
    }

    /// Reads and checks a QR text; throws `.qrNotValid` naming what is wrong (not ours, altered, wrongly signed).
    public static func read(qrText text: String, signer certificate: X509Certificate) throws -> Printed {
        guard let cut = text.lastIndex(of: "|") else { throw ScanError(.qrNotValid, "the QR code is not a SignService approval request") }
        let payload = String(text[..<cut])
        let fields = payload.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 8, fields[0] == prefix else { throw ScanError(.qrNotValid, "the QR code is not a SignService approval request (SSAR1)") }
        guard let signature = Base64URL.decode(String(text[text.index(after: cut)...])),
            certificate.verifySignature(signature, over: Array(payload.utf8))
        else {
            throw ScanError(.qrNotValid, "the QR code's signature does not verify with the service's certificate: it was altered or not issued by this service")
        }
        guard let hash = Hex.decode(fields[4]), hash.count == 32, let issued = UTCTimeText.parse(fields[7]) else {
            throw ScanError(.qrNotValid, "the QR code's fields do not read")
        }
        return Printed(
            id: fields[1], fileNumber: fields[2], noteID: fields[3], extractHash: hash, minister: fields[5],
            ppsPrefixes: fields[6].split(separator: ",").map(String.init), issuedAt: issued)
    }
}

extension ApprovalRequest {
    /// The request as the daemon's API carries it (docs/openapi.yaml `ApprovalRequest`): hashes in hex, the time as
    /// 2026-11-23T07:01:49Z, the QR text as `qr`.
    public struct JSON: Codable, Sendable {
        public let id: String
        public let fileNumber: String
        public let noteID: String
        public let extractSHA256: String
        public let minister: String
        public let pps: [String]
        public let issuedAt: String
        public let status: String
        public let qr: String

        public init(_ request: ApprovalRequest) {
            id = request.id
            fileNumber = request.fileNumber
            noteID = request.noteID
            extractSHA256 = Hex.encode(request.extractHash)
            minister = request.minister
            pps = request.authorisedPPS.map { Hex.encode($0) }
            issuedAt = UTCTimeText.format(request.issuedAt)
            status = request.status.rawValue
            qr = request.qrText
        }

        /// The request these fields describe; throws `.badRequest` naming a field that does not read.
        public func request() throws -> ApprovalRequest {
            guard let extract = Hex.decode(extractSHA256), extract.count == 32 else { throw ScanError(.badRequest, "extractSHA256 is not a SHA-256") }
            let fingerprints = pps.compactMap { Hex.decode($0) }
            guard fingerprints.count == pps.count else { throw ScanError(.badRequest, "pps must be SHA-256 fingerprints in hex") }
            guard let issued = UTCTimeText.parse(issuedAt) else { throw ScanError(.badRequest, "issuedAt does not read") }
            guard let state = Status(rawValue: status) else { throw ScanError(.badRequest, "status must be open or closed") }
            return ApprovalRequest(
                id: id, fileNumber: fileNumber, noteID: noteID, extractHash: extract, minister: minister,
                authorisedPPS: fingerprints, issuedAt: issued, status: state, qrText: qr)
        }
    }
}

/// base64url without padding (RFC 4648 section 5).
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map { Array($0) }
    }
}
