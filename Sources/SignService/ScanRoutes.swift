import Foundation
import HTTPTypes
import Hummingbird
import SignKit

/// The answer to an accepted scan upload.
struct ScanApprovalResponse: ResponseEncodable {
    let entry: EntryView
    let request: String
    let uploadedBy: String
    let qr: String
    let scanSHA256: String
    let scanType: String
    let scanBytes: Int
    let pages: Int
}

extension HTTPField.Name {
    /// The attestation document (base64), signed by the PPS/PS (docs/scans.md "Attestation").
    static let scanAttestation = HTTPField.Name("SignService-Attestation")!
    /// The PPS/PS's detached signature over the attestation (base64 DER).
    static let scanAttestationSignature = HTTPField.Name("SignService-Attestation-Signature")!
    /// The scan's file name on the uploader's machine (optional; a label in the audit log, never a path here).
    static let scanName = HTTPField.Name("SignService-Scan-Name")!
}

extension ScanError {
    var status: HTTPResponse.Status {
        switch code {
        case .badRequest, .qrNotValid: .badRequest
        case .unknownRequest: .notFound
        case .unauthorisedUploader: .forbidden
        case .qrOtherRequest, .qrRequired, .attestationMismatch: .unprocessableContent
        }
    }
}

extension IntakeError {
    var status: HTTPResponse.Status {
        switch code {
        case .tooLarge: .contentTooLarge
        case .notAllowedType: .unsupportedMediaType
        case .storage: .internalServerError
        case .badName: .badRequest
        case .empty, .truncated, .tooManyPages, .tooManyPixels: .unprocessableContent
        }
    }
}

/// POST /v1/files/{file}/approvals/{request}/scan: the PPS/PS uploads the scan of the extract the Minister signed by
/// hand, with their signed attestation in two headers and the scan as the body, streamed. Checked in this order,
/// each refusal naming its reason, nothing stored on any of them: the request is this file's and open; the
/// attestation reads and names this request; its signature verifies and its signer is an authorised PPS/PS for the
/// Minister; the scan, streamed to disk while hashed and counted (stopped at the size limit), is an allowed type
/// within the limits and is the scan the attestation names; the QR code read from it is this request's (or none is
/// readable and the policy allows that) and the attestation says what was found. Then one transaction appends the
/// scan-approval entry and closes the request.
func addScanRoutes(to router: Router<ServiceRequestContext>, state: ServiceState) {
    router.post("/v1/files/{file}/approvals/{request}/scan") { request, context -> EditedResponse<ScanApprovalResponse> in
        let origin = try requireTokenAccess(context, state: state, "upload a scan")
        let number = try fileNumber(context)
        let id = try context.parameters.require("request")
        func refuse(_ status: HTTPResponse.Status, _ code: String, _ reason: String) throws -> HTTPError {
            try state.record(AuditRecord(action: "scan-upload", result: "refused", origin: origin, file: number, detail: "\(id): \(code): \(reason)"))
            return HTTPError(status, message: "\(code): \(reason)")
        }
        func refuse(_ error: Error) throws -> HTTPError {
            switch error {
            case let error as ScanError: try refuse(error.status, error.code.rawValue, error.description)
            case let error as IntakeError: try refuse(error.status, error.code.rawValue, error.description)
            case let error as HistoryError: try refuse(error.status, error.code.rawValue, error.description)
            case let error as HTTPError: error
            default: try refuse(.internalServerError, "storage", "\(error)")
            }
        }
        guard let verifier = state.verifier else { throw HTTPError(.serviceUnavailable, message: state.verifierProblem ?? "verification unavailable") }
        guard let documentSigner = state.documentSigner else {
            throw HTTPError(.serviceUnavailable, message: "this daemon has no documentSigner configured: it cannot check QR codes or sign checkpoints (docs/daemon.md)")
        }

        // Everything that can be judged before the body is read.
        let approval: ApprovalRequest, attestation: ScanAttestation, attestationBytes: [UInt8], signature: [UInt8], uploader: String
        do {
            guard let found = try state.history.approvalRequest(id), found.fileNumber == number else {
                throw ScanError(.unknownRequest, "file \(number) has no approval request \(id)")
            }
            guard found.status == .open else { throw HistoryError(.requestClosed, "approval request \(id) is closed: its scan is already in the history") }
            approval = found
            if let name = request.headers[.scanName] { try ScanIntake.checkName(name) }
            guard let encoded = request.headers[.scanAttestation], encoded.count <= 8192, let decoded = Data(base64Encoded: encoded),
                  let signatureText = request.headers[.scanAttestationSignature], signatureText.count <= 128 * 1024,
                  let signatureBytes = Data(base64Encoded: signatureText) else {
                throw ScanError(.badRequest, "send the attestation and the PPS/PS's signature over it, base64, in the SignService-Attestation and SignService-Attestation-Signature headers")
            }
            attestationBytes = Array(decoded)
            signature = Array(signatureBytes)
            attestation = try ScanAttestation(bytes: attestationBytes)
            try attestation.check(against: found)
            uploader = try await blocking {
                try checkUploader(signature: signature, attestation: attestationBytes, request: found, roles: state.roles, verifier: verifier)
            }
        } catch {
            throw try refuse(error)
        }

        // The scan, streamed to disk while hashed; refused the moment it passes the size limit.
        let scan: ScanFile
        do {
            let upload = try state.intake.begin()
            do {
                for try await buffer in request.body {
                    try buffer.withUnsafeReadableBytes { try upload.write($0) }
                }
            } catch let error as IntakeError {
                throw error
            } catch {
                upload.abort()
                throw IntakeError(.truncated, "the upload broke off: \(error)")
            }
            scan = try await blocking { try upload.finish() }
        } catch {
            throw try refuse(error)
        }
        var stored = false
        defer { if !stored { unlink(scan.path) } }

        do {
            guard scan.sha256 == attestation.scanHash, scan.size == attestation.scanBytes, scan.type == attestation.scanType else {
                throw ScanError(.attestationMismatch, "the attestation is over another scan (SHA-256 \(Hex.encode(attestation.scanHash.prefix(8)))…, "
                                + "\(attestation.scanBytes) bytes); this upload is \(Hex.encode(scan.sha256.prefix(8)))…, \(scan.size) bytes")
            }
            let appended = try await blocking { () throws -> (HistoryEntry, QRFinding) in
                let checkpointSigner: CheckpointSigner
                do {
                    checkpointSigner = try documentSigner.signer()
                } catch {
                    throw HistoryError(.signerUnavailable, "the document signer cannot sign: \(error)")
                }
                let texts = try ScanQR.texts(in: scan.path, type: scan.type, pages: scan.pages)
                let finding = try QRFinding.judge(texts, request: approval, signer: checkpointSigner.certificate)
                if finding == .notRead && !state.configuration.scans.acceptWithoutQR {
                    throw ScanError(.qrRequired, "no QR code of this service can be read on the scan (\(texts.count) other code(s) found), "
                                    + "and this service accepts scans only with the request's QR code readable: scan it again, clearer")
                }
                guard attestation.qr == finding else {
                    throw ScanError(.attestationMismatch, "the attestation says the QR code was \(attestation.qr.rawValue), but the service found \(finding.rawValue)")
                }
                let history = FileHistory(store: state.history, verifier: verifier, checkpointSigner: checkpointSigner)
                let (entry, _) = try history.append(file: number, kind: .scanApproval, noteID: approval.noteID, content: attestationBytes,
                                                    signature: signature, scan: ScanAppendix(path: scan.path, sha256: scan.sha256, requestID: id))
                return (entry, finding)
            }
            stored = true
            try state.record(committed: true, AuditRecord(
                action: "scan-upload", result: "ok", origin: origin, file: number, note: approval.noteID,
                certificate: Hex.encode(appended.0.signerFingerprint),
                detail: "\(id): entry \(appended.0.sequence) (scan-approval) attested by \(uploader); scan "
                    + (request.headers[.scanName].map { "\"\($0)\" " } ?? "") + "\(scan.type.mediaType) \(scan.size) bytes "
                    + "SHA-256 \(Hex.encode(scan.sha256)); QR \(appended.1.rawValue)"))
            return EditedResponse(status: .created, response: ScanApprovalResponse(
                entry: EntryView(appended.0), request: id, uploadedBy: uploader, qr: appended.1.rawValue, scanSHA256: Hex.encode(scan.sha256),
                scanType: scan.type.mediaType, scanBytes: scan.size, pages: scan.pages))
        } catch {
            throw try refuse(error)
        }
    }
}

/// The attestation's signature must verify (TOTAL-PASSED) and its signer be one of the request's PPS/PS and, when a
/// roles file is configured, one of the Minister's PPS/PS there now. Returns the signer's name and DSC serial.
func checkUploader(signature: [UInt8], attestation: [UInt8], request: ApprovalRequest, roles: ApprovalRoles?, verifier: Verifier) throws -> String {
    let verdict: Verdict
    do {
        verdict = try verifier.verify(signature: signature, content: .bytes(attestation), at: Date())
    } catch {
        throw ScanError(.attestationMismatch, "the attestation's signature does not read: \(error.description)")
    }
    guard verdict.indication == .totalPassed, let signer = verdict.signer, let fingerprint = Hex.decode(signer.sha256Fingerprint) else {
        throw ScanError(.attestationMismatch, "the attestation's signature is \(verdict.indication.rawValue): \(verdict.summary)")
    }
    let name = "\(signer.name) (DSC serial \(signer.serialNumber))"
    guard request.authorisedPPS.contains(fingerprint) else {
        throw ScanError(.unauthorisedUploader, "\(name) is not a PPS/PS named on approval request \(request.id) for \(request.minister)")
    }
    if let roles, !(roles.pps(of: request.minister) ?? []).contains(fingerprint) {
        throw ScanError(.unauthorisedUploader, "\(name) is not, or no longer, a PPS/PS of \(request.minister) in the roles file")
    }
    return name
}
