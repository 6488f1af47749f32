import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import SignKit

// The department log over HTTP (docs/history.md "The department log"). Tree heads and proofs by leaf index are
// public: anyone holding a bundle or a head may check it, which is the point of the log. Proofs by file number, a
// head on request and cosignatures need a caller the records service knows.

extension InclusionView: ResponseEncodable {}
extension ConsistencyView: ResponseEncodable {}
extension LogInfoAnswer: ResponseEncodable {}
extension CosignatureAnswer: ResponseEncodable {}

/// A signed note as text/plain (C2SP's checkpoint endpoints answer so).
struct NoteResponse: ResponseGenerator {
    let note: String

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: note)))
    }
}

/// A query parameter that must be a count (0, 1, 2...), or nil when absent.
func countParameter(_ request: Request, _ name: Substring) throws -> Int? {
    guard let text = request.uri.queryParameters[name].map(String.init) else { return nil }
    guard let value = Int(text), value >= 0 else { throw HTTPError(.badRequest, message: "\(name) must be a whole number, not \"\(text)\"") }
    return value
}

func addLogRoutes(to router: Router<ServiceRequestContext>, state: ServiceState, desk: RecordsDesk) {
    let records = desk.records
    let log = desk.log

    router.get("/v1/log") { _, _ -> LogInfoAnswer in
        try await blocking {
            let signer = try records.checkpointSigner(at: Date())
            return LogInfoAnswer(
                origin: log.origin, certificate: PEM.encode(signer.certificate.der, label: "CERTIFICATE"),
                size: try log.store.latestTreeHead()?.size ?? 0,
                headIntervalMilliseconds: state.configuration.treeHeadIntervalMilliseconds)
        }
    }

    // The latest signed head with its cosignatures, or the one of ?size=N.
    router.get("/v1/log/checkpoint") { request, _ -> NoteResponse in
        let size = try countParameter(request, "size")
        return try await blocking {
            let head: StoredTreeHead?
            if let size {
                head = try log.store.treeHead(size: size).map { try log.cosigned($0) }
            } else {
                head = try log.latestHead()
            }
            guard let head else {
                throw HTTPError(.notFound, message: size.map { "this log signed no tree head of size \($0)" } ?? "this log has signed no tree head yet")
            }
            return NoteResponse(note: head.note)
        }
    }

    // A head now (an exporter or monitor that will not wait for the next tick): the latest when it covers every leaf.
    router.post("/v1/log/checkpoint") { _, context -> NoteResponse in
        _ = try await state.recordsCaller(context)
        return try await blocking {
            guard let head = try records.publishTreeHead(at: Date()) else { throw HTTPError(.notFound, message: "the log has no leaves yet") }
            return NoteResponse(note: try log.cosigned(head).note)
        }
    }

    // ?leaf=I or ?file=F&sequence=S (the file's readers only), against ?size=N or the latest head.
    router.get("/v1/log/proof/inclusion") { request, context -> InclusionView in
        var leaf = try countParameter(request, "leaf")
        if leaf == nil, let file = request.uri.queryParameters["file"].map(String.init) {
            guard let sequence = try countParameter(request, "sequence") else {
                throw HTTPError(.badRequest, message: "give leaf=INDEX, or file=NUMBER and sequence=N")
            }
            _ = try await state.authorize(context, .readFile, file: file)
            leaf = try await blocking { try log.store.leafIndexes(of: file)[sequence] }
            guard leaf != nil else { throw LogError(.invalidRequest, "file \(file) has no entry \(sequence) in the log") }
        }
        guard let leaf else { throw HTTPError(.badRequest, message: "give leaf=INDEX, or file=NUMBER and sequence=N") }
        let size = try countParameter(request, "size")
        return try await blocking {
            guard let head = try size.map({ try log.store.treeHead(size: $0) }) ?? log.store.latestTreeHead() else {
                throw HTTPError(.notFound, message: size.map { "this log signed no tree head of size \($0)" } ?? "this log has signed no tree head yet")
            }
            guard leaf < head.size else {
                throw LogError(.invalidRequest, "leaf \(leaf) is not under the tree head of \(head.size) leaves yet: ask again after the next head")
            }
            return InclusionView(try log.inclusionProof(leafIndex: leaf, treeSize: head.size), checkpoint: try log.cosigned(head).note)
        }
    }

    router.get("/v1/log/proof/consistency") { request, _ -> ConsistencyView in
        guard let from = try countParameter(request, "from"), let to = try countParameter(request, "to") else {
            throw HTTPError(.badRequest, message: "give from=SIZE and to=SIZE")
        }
        return try await blocking {
            // Only between sizes this log signed heads for: a proof to a size nobody signed proves nothing.
            for size in [from, to] where size > 0 {
                guard try log.store.treeHead(size: size) != nil else { throw HTTPError(.notFound, message: "this log signed no tree head of size \(size)") }
            }
            return ConsistencyView(try log.consistencyProof(oldSize: from, newSize: to))
        }
    }

    // A witness's cosignature of a head this log signed. Witnesses are machines: an API key (or the operator), not a
    // person's session, may add one.
    router.post("/v1/log/cosignatures") { request, context -> EditedResponse<CosignatureAnswer> in
        let caller = try await state.recordsCaller(context)
        switch caller {
        case .hostOperator, .principal(.machine): break
        case .principal(.member):
            throw AccessError(.forbidden, "a cosignature comes from a witness, which holds an API key; a person's session cannot add one")
        }
        let who = caller.words(origin: context.caller.origin)
        let body = try await request.decodeSmall(as: CosignatureBody.self, limit: 64 * 1024)
        let answer = try await blocking { () throws -> CosignatureAnswer in
            guard let certificate = try? X509Certificate.fromPEM(body.certificate).first else {
                throw LogError(.invalidRequest, "certificate must be the witness's certificate in PEM")
            }
            let note: SignedNote
            do {
                note = try SignedNote(parsing: body.checkpoint)
            } catch {
                throw LogError(.treeHeadMalformed, "checkpoint does not read as a signed note: \(error)")
            }
            let head = try log.addCosignature(note: note, name: body.name, certificate: certificate)
            try state.record(
                AuditRecord(
                    time: Date(), action: "log-cosigned", result: "ok", origin: who,
                    detail: "tree head \(head.size) cosigned by \(body.name) (\(certificate.subject))"))
            return CosignatureAnswer(size: head.size, witness: body.name)
        }
        return EditedResponse(status: .created, response: answer)
    }
}

/// Signs a tree head over new leaves every `treeHeadIntervalMilliseconds` (records role): the latency between an
/// append and its proof is at most that, and a head costs one document-signer signature however many appends it
/// covers. Instances on one PostgreSQL each run one; the store keeps one head per size and sizes growing, and an
/// instance that finds a head of its size already there signs nothing.
struct TreeHeadPublisher: Service {
    let records: Records
    let interval: Duration
    let logger: Logger

    func run() async throws {
        var lastProblem: String? = nil
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                break
            }
            do {
                try await blocking { _ = try records.publishTreeHead(at: Date()) }
                if lastProblem != nil { logger.notice("department log: tree heads are signed again") }
                lastProblem = nil
            } catch {
                // Stopping: the document signer is closed already; nothing to say.
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                // Said once per distinct problem (a signer away, a store down), not at every tick.
                let problem = (error as? any CodedError)?.codedDescription ?? "\(error)"
                if problem != lastProblem { logger.error("department log: no tree head signed: \(problem)") }
                lastProblem = problem
            }
        }
    }
}
