import Foundation
import HTTPTypes
import Hummingbird
import SignKit

/// One history entry as the API shows it: hashes in hex.
struct EntryView: Codable, Sendable {
    let sequence: Int
    let kind: String
    let noteID: String
    let time: String
    let contentHash: String
    let signatureHash: String
    let signerFingerprint: String
    let attachmentHash: String?
    let previousHash: String
    let hash: String

    init(_ entry: HistoryEntry) {
        sequence = entry.sequence
        kind = entry.kind.rawValue
        noteID = entry.noteID
        time = UTCTimeText.format(entry.time)
        contentHash = Hex.encode(entry.contentHash)
        signatureHash = Hex.encode(entry.signatureHash)
        signerFingerprint = Hex.encode(entry.signerFingerprint)
        attachmentHash = entry.attachmentHash.map { Hex.encode($0) }
        previousHash = Hex.encode(entry.previousHash)
        hash = Hex.encode(entry.hash)
    }
}

struct CheckpointView: Codable, Sendable {
    let size: Int
    let headHash: String
    let time: String
}

struct FileList: ResponseEncodable { let files: [FileRecord] }
struct FileCreated: ResponseEncodable { let file: FileRecord }

struct FileHistoryResponse: ResponseEncodable {
    let file: FileRecord
    /// Number of entries; the next append's sequence is size + 1.
    let size: Int
    /// The hash a new signature's e-Office context must name as previous entry (64 zeros for an empty file).
    let head: String
    let entries: [EntryView]
    let checkpoints: [CheckpointView]
}

struct AppendRequest: Decodable {
    /// "note" (proof of origin) or "approval" (proof of approval).
    let kind: String
    let noteID: String
    /// The signed extract, base64.
    let content: String
    /// The detached .p7s over it, base64 (DER or PEM).
    let signature: String
}

struct AppendResponse: ResponseEncodable {
    let entry: EntryView
    let signer: String
    let indication: String
    /// The signed checkpoint's size (equal to the entry's sequence).
    let checkpoint: Int
}

struct ApprovalRequestBody: Decodable {
    let noteID: String
    /// SHA-256 of the extract that goes to the Minister, hex.
    let extractSHA256: String
    let minister: String
    /// SHA-256 fingerprints (hex) of the certificates of the PPS/PS who may upload the signed scan; when absent,
    /// the Minister's PPS/PS in the roles file.
    let pps: [String]?
}

/// The daily report as JSON (DailyReport's own encoding).
struct DailyReportView: ResponseGenerator {
    let report: DailyReport

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONOutput.encoder(pretty: false).encode(report))))
    }
}

/// An approval request as the API carries it (`ApprovalRequest.JSON`, shared with signctl).
struct ApprovalRequestView: ResponseEncodable {
    let json: ApprovalRequest.JSON

    init(_ request: ApprovalRequest) { json = ApprovalRequest.JSON(request) }

    func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

extension HistoryError {
    var status: HTTPResponse.Status {
        switch code {
        case .unknownFile: .notFound
        case .invalidRequest: .badRequest
        case .fileExists, .headMoved, .contextMismatch, .requestClosed: .conflict
        case .signatureNotValid: .unprocessableContent
        case .storage, .bundle: .internalServerError
        case .signerUnavailable: .serviceUnavailable
        }
    }
}

/// The file number from the path: e-Office numbers hold slashes ("GAD-11011/3/2026-ADMIN"), sent as %2F.
func fileNumber(_ context: ServiceRequestContext) throws -> String {
    let raw = try context.parameters.require("file")
    guard let number = raw.removingPercentEncoding, !number.isEmpty, number.count <= 200,
          !number.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
        throw HTTPError(.badRequest, message: "the file number in the path does not read (percent-encode it, at most 200 characters)")
    }
    return number
}

func addHistoryRoutes(to router: Router<ServiceRequestContext>, state: ServiceState) {
    let store = state.history

    @Sendable func historyCall<T: Sendable>(_ what: String, origin: String?, file: String?, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await blocking(body)
        } catch let error as HistoryError {
            try state.record(AuditRecord(action: what, result: error.status.code >= 500 ? "failed" : "refused", origin: origin,
                                         file: file, detail: "\(error.code.rawValue): \(error.description)"))
            throw HTTPError(error.status, message: "\(error.code.rawValue): \(error.description)")
        }
    }

    @Sendable func documentSigner() throws -> DocumentSigner {
        guard let signer = state.documentSigner else {
            throw HTTPError(.serviceUnavailable, message: "this daemon has no documentSigner configured: it cannot sign checkpoints or bundles (docs/daemon.md)")
        }
        return signer
    }

    router.get("/v1/files") { _, context -> FileList in
        _ = try requireTokenAccess(context, state: state, "list files")
        return FileList(files: try await historyCall("history-read", origin: context.caller.origin, file: nil) { try store.files() })
    }

    router.post("/v1/files") { request, context -> EditedResponse<FileCreated> in
        let origin = try requireTokenAccess(context, state: state, "create a file")
        let file = try await request.decode(as: FileRecord.self, context: context)
        if let problem = file.problem { throw HTTPError(.badRequest, message: problem) }
        try await historyCall("file-created", origin: origin, file: file.number) { try store.createFile(file) }
        try state.record(committed: true, AuditRecord(action: "file-created", result: "ok", origin: origin, file: file.number, detail: "\(file.subject) (\(file.department))"))
        return EditedResponse(status: .created, response: FileCreated(file: file))
    }

    router.get("/v1/reports/daily") { request, context -> DailyReportView in
        _ = try requireTokenAccess(context, state: state, "read the daily report")
        let query = request.uri.queryParameters
        guard let from = query["from"].map(String.init) else { throw HTTPError(.badRequest, message: "from (YYYY-MM-DD) is required") }
        let to = query["to"].map(String.init) ?? from
        let zoneName = query["timeZone"].map(String.init) ?? "Asia/Kolkata"
        guard let zone = TimeZone(identifier: zoneName) else { throw HTTPError(.badRequest, message: "timeZone \(zoneName) is not a time zone name") }
        let department = query["department"].map(String.init)
        return DailyReportView(report: try await historyCall("report-read", origin: context.caller.origin, file: nil) {
            try DailyReport.build(store: store, from: from, to: to, timeZone: zone, department: department)
        })
    }

    router.get("/v1/files/{file}") { _, context -> FileHistoryResponse in
        _ = try requireTokenAccess(context, state: state, "read a file's history")
        let number = try fileNumber(context)
        return try await historyCall("history-read", origin: context.caller.origin, file: number) {
            guard let file = try store.file(number) else { throw HistoryError(.unknownFile, "there is no file \(number)") }
            let entries = try store.entries(of: number)
            let checkpoints = try store.checkpoints(of: number)
            return FileHistoryResponse(file: file, size: entries.count, head: Hex.encode(entries.last?.hash ?? HistoryEntry.genesis),
                                       entries: entries.map(EntryView.init),
                                       checkpoints: checkpoints.map { CheckpointView(size: $0.size, headHash: Hex.encode($0.headHash), time: UTCTimeText.format($0.time)) })
        }
    }

    router.post("/v1/files/{file}/entries") { request, context -> EditedResponse<AppendResponse> in
        let origin = try requireTokenAccess(context, state: state, "append to a file's history")
        let number = try fileNumber(context)
        let body = try await request.decode(as: AppendRequest.self, context: context)
        let kind: EntryKind
        switch body.kind {
        case "note": kind = .note
        case "approval": kind = .approval
        default: throw HTTPError(.badRequest, message: "kind must be note or approval (scan approvals have their own upload)")
        }
        guard !body.noteID.isEmpty else { throw HTTPError(.badRequest, message: "noteID must not be empty") }
        guard let content = Data(base64Encoded: body.content), let signatureText = Data(base64Encoded: body.signature) else {
            throw HTTPError(.badRequest, message: "content and signature must be base64")
        }
        var given = Array(signatureText)
        if given.starts(with: Array("-----BEGIN ".utf8)) {
            guard let decoded = PEM.decode(String(decoding: given, as: UTF8.self))?.first else {
                throw HTTPError(.badRequest, message: "the signature is PEM but does not decode")
            }
            given = decoded
        }
        let signature = given
        guard let verifier = state.verifier else { throw HTTPError(.serviceUnavailable, message: state.verifierProblem ?? "verification unavailable") }
        let signer = try documentSigner()
        let appended = try await historyCall("history-append", origin: origin, file: number) { () throws -> AppendResponse in
            let checkpointSigner: CheckpointSigner
            do {
                checkpointSigner = try signer.signer()
            } catch {
                throw HistoryError(.signerUnavailable, "the document signer cannot sign the checkpoint: \(error)")
            }
            let history = FileHistory(store: store, verifier: verifier, checkpointSigner: checkpointSigner)
            let (entry, verdict) = try history.append(file: number, kind: kind, noteID: body.noteID, content: Array(content), signature: signature)
            return AppendResponse(entry: EntryView(entry), signer: verdict.signer?.name ?? "?", indication: verdict.indication.rawValue,
                                  checkpoint: entry.sequence)
        }
        try state.record(committed: true, AuditRecord(action: "history-append", result: "ok", origin: origin, file: number, note: body.noteID,
                                     certificate: appended.entry.signerFingerprint,
                                     detail: "entry \(appended.entry.sequence) (\(appended.entry.kind)) by \(appended.signer), hash \(appended.entry.hash)"))
        return EditedResponse(status: .created, response: appended)
    }

    // Approval requests (the scan-upload path): issued when a note goes to a Minister, printed as a QR code.
    router.post("/v1/files/{file}/approvals") { request, context -> EditedResponse<ApprovalRequestView> in
        let origin = try requireTokenAccess(context, state: state, "issue an approval request")
        let number = try fileNumber(context)
        let body = try await request.decode(as: ApprovalRequestBody.self, context: context)
        guard let extractHash = Hex.decode(body.extractSHA256), extractHash.count == 32 else {
            throw HTTPError(.badRequest, message: "extractSHA256 must be 64 hex digits")
        }
        let named = body.pps ?? []
        var chosen = named.compactMap { Hex.decode($0) }
        guard chosen.count == named.count else { throw HTTPError(.badRequest, message: "pps must list certificate SHA-256 fingerprints in hex") }
        if let roles = state.roles {
            guard let allowed = roles.pps(of: body.minister) else {
                throw HTTPError(.badRequest, message: "\(body.minister) is not a Minister in the roles file (\(state.configuration.scans.rolesFile ?? ""))")
            }
            if chosen.isEmpty { chosen = allowed }
            if let stranger = chosen.first(where: { !allowed.contains($0) }) {
                throw HTTPError(.badRequest, message: "certificate \(Hex.encode(stranger)) is not a PPS/PS of \(body.minister) in the roles file")
            }
        }
        let pps = chosen
        let signer = try documentSigner()
        let issued = try await historyCall("approval-requested", origin: origin, file: number) { () throws -> ApprovalRequest in
            let qrSigner: CheckpointSigner
            do {
                qrSigner = try signer.signer()
            } catch {
                throw HistoryError(.signerUnavailable, "the document signer cannot sign the request: \(error)")
            }
            let issued: ApprovalRequest
            do {
                issued = try ApprovalRequest.issue(fileNumber: number, noteID: body.noteID, extractHash: extractHash, minister: body.minister,
                                                   authorisedPPS: pps, signer: qrSigner)
            } catch let error as ScanError {
                throw HTTPError(.badRequest, message: "\(error.code.rawValue): \(error.description)")
            }
            try store.createApprovalRequest(issued)
            return issued
        }
        try state.record(committed: true, AuditRecord(action: "approval-requested", result: "ok", origin: origin, file: number, note: body.noteID,
                                     detail: "request \(issued.id) for \(body.minister), extract SHA-256 \(body.extractSHA256.lowercased()), \(pps.count) PPS/PS"))
        return EditedResponse(status: .created, response: ApprovalRequestView(issued))
    }

    router.get("/v1/files/{file}/approvals/{request}") { _, context -> ApprovalRequestView in
        _ = try requireTokenAccess(context, state: state, "read an approval request")
        let number = try fileNumber(context)
        let id = try context.parameters.require("request")
        return try await historyCall("history-read", origin: context.caller.origin, file: number) {
            guard let found = try store.approvalRequest(id), found.fileNumber == number else {
                throw HistoryError(.unknownFile, "file \(number) has no approval request \(id)")
            }
            return ApprovalRequestView(found)
        }
    }

    router.get("/v1/files/{file}/bundle") { _, context -> Response in
        let origin = try requireTokenAccess(context, state: state, "export a file's history")
        let number = try fileNumber(context)
        guard let verifier = state.verifier else { throw HTTPError(.serviceUnavailable, message: state.verifierProblem ?? "verification unavailable") }
        let signer = try documentSigner()
        let folder = state.configuration.stateDirectory + "/exports"
        let path = folder + "/\(Pairings.random(bytes: 12)).zip"
        let size = try await historyCall("history-export", origin: origin, file: number) { () throws -> Int in
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let sealer: CheckpointSigner
            do {
                sealer = try signer.signer()
            } catch {
                throw HistoryError(.signerUnavailable, "the document signer cannot seal the bundle: \(error)")
            }
            return try HistoryBundle.export(file: number, from: store, verifier: verifier, sealer: sealer, to: path)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw HTTPError(.internalServerError, message: "the exported bundle vanished before it was sent")
        }
        // Unlinked at once: the open handle keeps it readable while it is sent, and nothing is left behind.
        unlink(path)
        try state.record(AuditRecord(action: "history-export", result: "ok", origin: origin, file: number, detail: "\(size) entries"))
        var headers = HTTPFields()
        headers[.contentType] = "application/zip"
        let name = number.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }
        headers[.contentDisposition] = "attachment; filename=\"\(String(name)).zip\""
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        })
    }
}
