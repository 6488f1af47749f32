import Foundation
import HTTPTypes
import Hummingbird
import SignKit

// Files, entries, approval requests, the daily report and bundles: each route checks who calls, decodes, calls one
// `Records` workflow off the event loop (Sources/SignKit/Workflows/Records.swift) and encodes its answer. Errors
// become answers in Shared/ErrorStatus.swift.

extension FileListAnswer: ResponseEncodable {}
extension FileCreatedAnswer: ResponseEncodable {}
extension FileHistoryAnswer: ResponseEncodable {}
extension AppendAnswer: ResponseEncodable {}
extension BatchAppendAnswer: ResponseEncodable {}
extension ApprovalRequest.JSON: ResponseEncodable {}

/// The daily report as JSON (DailyReport's own encoding).
struct DailyReportView: ResponseGenerator {
    let report: DailyReport

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONOutput.encoder(pretty: false).encode(report))))
    }
}

/// The file number from the path: e-Office numbers hold slashes ("GAD-11011/3/2026-ADMIN"), sent as %2F.
func fileNumber(_ context: ServiceRequestContext) throws -> String {
    let raw = try context.parameters.require("file")
    guard let number = raw.removingPercentEncoding, !number.isEmpty, number.count <= 200,
        !number.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    else {
        throw HTTPError(.badRequest, message: "the file number in the path does not read (percent-encode it, at most 200 characters)")
    }
    return number
}

func addRecordsRoutes(to router: Router<ServiceRequestContext>, state: ServiceState, desk: RecordsDesk) {
    let records = desk.records

    router.get("/v1/files") { _, context -> FileListAnswer in
        // Each caller lists the files of the departments they may read.
        let caller = try await state.recordsCaller(context)
        let limit: String? = if case .principal(let principal) = caller { principal.departmentLimit } else { nil }
        let origin = try await state.authorize(context, .listFiles, department: limit).who
        let all = try await blocking { try records.files(origin: origin, at: Date()) }
        return FileListAnswer(files: limit.map { own in all.files.filter { $0.department == own } } ?? all.files)
    }

    router.post("/v1/files") { request, context -> EditedResponse<FileCreatedAnswer> in
        let file = try await request.decodeSmall(as: FileRecord.self)
        let origin = try await state.authorize(context, .createFile, department: file.department).who
        return EditedResponse(status: .created, response: try await blocking { try records.createFile(file, origin: origin, at: Date()) })
    }

    router.get("/v1/reports/daily") { request, context -> DailyReportView in
        let query = request.uri.queryParameters
        guard let from = query["from"].map(String.init) else { throw HTTPError(.badRequest, message: "from (YYYY-MM-DD) is required") }
        let to = query["to"].map(String.init) ?? from
        let zoneName = query["timeZone"].map(String.init) ?? "Asia/Kolkata"
        guard let zone = TimeZone(identifier: zoneName) else { throw HTTPError(.badRequest, message: "timeZone \(zoneName) is not a time zone name") }
        let caller = try await state.recordsCaller(context)
        let limit: String? = if case .principal(let principal) = caller { principal.departmentLimit } else { nil }
        let department = query["department"].map(String.init) ?? limit
        let origin = try await state.authorize(context, .readReport, department: department).who
        return DailyReportView(
            report: try await blocking {
                try records.dailyReport(from: from, to: to, timeZone: zone, department: department, origin: origin, at: Date())
            })
    }

    router.get("/v1/files/{file}") { _, context -> FileHistoryAnswer in
        let number = try fileNumber(context)
        let origin = try await state.authorize(context, .readFile, file: number).who
        return try await blocking { try records.history(of: number, origin: origin, at: Date()) }
    }

    router.post("/v1/files/{file}/entries") { request, context -> EditedResponse<AppendAnswer> in
        let number = try fileNumber(context)
        let body = try await request.decode(as: AppendRequestBody.self, context: context)
        let (caller, origin) = try await state.authorize(context, .append, file: number, kind: EntryKind(rawValue: body.kind))
        // The signature must be the caller's own (checked once it is verified, before anything is stored).
        let signerCheck: (@Sendable ([UInt8]) throws -> Void)? =
            switch caller {
            case .hostOperator: nil
            case .principal(let principal): { fingerprint in try desk.access?.checkSigner(principal, fingerprint: fingerprint) }
            }
        var answer = try await blocking { try records.append(body, to: number, origin: origin, signer: signerCheck, at: Date()) }
        // ?wait=true: the answer waits for the tree head that covers the new leaf (at most the head interval, and
        // a few seconds more if the signer is slow), and carries its inclusion proof (docs/history.md).
        if request.uri.queryParameters["wait"].map(String.init) == "true" {
            let deadline = ContinuousClock.now + .milliseconds(state.configuration.treeHeadIntervalMilliseconds) + .seconds(5)
            while answer.inclusion == nil, ContinuousClock.now < deadline {
                answer.inclusion = try await blocking { [leaf = answer.leafIndex] in try records.inclusion(leafIndex: leaf) }
                if answer.inclusion == nil { try await Task.sleep(for: .milliseconds(25)) }
            }
        }
        return EditedResponse(status: .created, response: answer)
    }

    // Several notes or approvals, of any files, in one request and one store transaction (an officer's batch of
    // drafts signed with one PIN, or the e-Office server's queue): each item allowed, judged and answered as alone.
    router.post("/v1/entries") { request, context -> BatchAppendAnswer in
        let body = try await request.decode(as: BatchAppendRequestBody.self, context: context)
        guard body.entries.count <= BatchAppendRequestBody.maximumEntries else {
            throw HistoryError(.invalidRequest, "at most \(BatchAppendRequestBody.maximumEntries) entries in one request, not \(body.entries.count)")
        }
        let caller = try await state.recordsCaller(context)
        let origin = caller.words(origin: context.caller.origin)
        // Allowed per department and kind (the files' departments read in one query, each distinct pair checked
        // once); an unknown file or a refusal is that item's answer.
        let store = desk.history
        let files = try await blocking { try store.files(Array(Set(body.entries.map(\.file)))) }
        var refused = [Int: any Error](), checked = [String: (any Error)?]()
        for (position, item) in body.entries.enumerated() {
            guard let department = files[item.file]?.department else {
                refused[position] = HistoryError(.unknownFile, "there is no file \(item.file)")
                continue
            }
            let key = department + "\u{0}" + item.kind
            if checked[key] == nil {
                do {
                    _ = try await state.authorize(context, caller: caller, .append, department: department, kind: EntryKind(rawValue: item.kind))
                    checked[key] = .some(nil)
                } catch {
                    checked[key] = .some(error)
                }
            }
            if let error = checked[key] ?? nil { refused[position] = error }
        }
        let signerCheck: (@Sendable ([UInt8]) throws -> Void)? =
            switch caller {
            case .hostOperator: nil
            case .principal(let principal): { fingerprint in try desk.access?.checkSigner(principal, fingerprint: fingerprint) }
            }
        let results = try await blocking { [refused] in
            try records.appendBatch(body.entries, refused: refused, origin: origin, signer: signerCheck, at: Date())
        }
        return BatchAppendAnswer(
            results: zip(body.entries, results).map { item, result in
                switch result {
                case .success(let answer):
                    return .init(file: item.file, noteID: item.noteID, status: 201, appended: answer, error: nil, code: nil)
                case .failure(let error):
                    let coded = error as? any CodedError
                    let status = coded.map { Int(ErrorStatus.status(for: $0).code) } ?? (error as? HTTPError).map { Int($0.status.code) } ?? 500
                    return .init(
                        file: item.file, noteID: item.noteID, status: status, appended: nil,
                        error: coded?.codedDescription ?? (error as? HTTPError)?.body ?? "internal: \(error)", code: coded?.codeName)
                }
            })
    }

    // Approval requests (the scan-upload path): issued when a note goes to a Minister, printed as a QR code.
    router.post("/v1/files/{file}/approvals") { request, context -> EditedResponse<ApprovalRequest.JSON> in
        let number = try fileNumber(context)
        let body = try await request.decodeSmall(as: ApprovalRequestBody.self)
        let origin = try await state.authorize(context, .requestApproval, file: number).who
        return EditedResponse(
            status: .created,
            response: try await blocking {
                try records.issueApprovalRequest(body, file: number, origin: origin, at: Date())
            })
    }

    router.get("/v1/files/{file}/approvals/{request}") { _, context -> ApprovalRequest.JSON in
        let number = try fileNumber(context)
        let id = try context.parameters.require("request")
        let origin = try await state.authorize(context, .readFile, file: number).who
        return try await blocking { try records.approvalRequest(id, file: number, origin: origin, at: Date()) }
    }

    // The file's history verified as its bundle's holder would verify it: JSON (signservice.history-report/1), or
    // the text or HTML report in the language Accept-Language prefers.
    router.get("/v1/files/{file}/report") { request, context -> Response in
        let number = try fileNumber(context)
        let origin = try await state.authorize(context, .exportBundle, file: number).who
        let folder = state.configuration.stateDirectory + "/exports"
        let path = folder + "/\(Pairings.random(bytes: 12)).zip"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let report = try await blocking { try records.historyReport(file: number, scratch: path, origin: origin, at: Date()) }
        return ReportNegotiation(request).response(
            json: Array(try JSONOutput.encoder(pretty: false).encode(report)),
            text: { report.text(in: $0) }, html: { report.html(in: $0) })
    }

    router.get("/v1/files/{file}/bundle") { _, context -> Response in
        let number = try fileNumber(context)
        let origin = try await state.authorize(context, .exportBundle, file: number).who
        let folder = state.configuration.stateDirectory + "/exports"
        let path = folder + "/\(Pairings.random(bytes: 12)).zip"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = try await blocking { try records.exportBundle(file: number, to: path, origin: origin, at: Date()) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw HTTPError(.internalServerError, message: "the exported bundle vanished before it was sent")
        }
        // Unlinked at once: the open handle keeps it readable while it is sent, and nothing is left behind.
        unlink(path)
        var headers = HTTPFields()
        headers[.contentType] = "application/zip"
        let name = number.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }
        headers[.contentDisposition] = "attachment; filename=\"\(String(name)).zip\""
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer { try? handle.close() }
                while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                try await writer.finish(nil)
            })
    }
}
