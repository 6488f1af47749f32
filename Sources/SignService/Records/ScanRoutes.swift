import Foundation
import HTTPTypes
import Hummingbird
import SignKit

extension ScanApprovalAnswer: ResponseEncodable {}

/// POST /v1/files/{file}/approvals/{request}/scan: the PPS/PS uploads the scan of the extract the Minister signed by
/// hand, with their signed attestation in two headers and the scan as the body, streamed. What can be judged from
/// the headers is judged before the body is read (`Records.admitScan`); the body streams to disk while hashed and
/// counted, stopped at the size limit (`ScanIntake`); then `Records.acceptScan` checks the scan against the
/// attestation and its QR code, and appends the scan-approval entry. Every refusal names its reason and stores nothing.
func addScanRoutes(to router: Router<ServiceRequestContext>, state: ServiceState) {
    router.post("/v1/files/{file}/approvals/{request}/scan") { request, context -> EditedResponse<ScanApprovalAnswer> in
        let records = try state.recordsDesk.records
        let number = try fileNumber(context)
        let id = try context.parameters.require("request")
        // A PPS/PS uploads only for their own Minister: the request's.
        let minister = try await blocking { try records.store.approvalRequest(id) }.map(\.minister)
        let origin = try await state.authorize(context, .uploadScan, minister: minister).who
        let headers = request.headers
        let admission = try await blocking {
            try records.admitScan(
                file: number, request: id, attestation: headers[HTTPField.Name(ScanUploadHeader.attestation)!],
                signature: headers[HTTPField.Name(ScanUploadHeader.attestationSignature)!],
                scanName: headers[HTTPField.Name(ScanUploadHeader.scanName)!], origin: origin, at: Date())
        }
        // The scan, streamed to disk while hashed; refused the moment it passes the size limit.
        let scan: ScanFile
        do {
            let upload = try records.beginScan()
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
            throw records.refuseScan(error, file: number, request: id, origin: origin, at: Date())
        }
        return EditedResponse(status: .created, response: try await blocking { try records.acceptScan(admission, scan: scan, at: Date()) })
    }
}
