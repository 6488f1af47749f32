import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import SignKit

/// The browser guard, in front of every route (docs/daemon.md "Browser safety"):
/// - the Host header must name loopback (127.0.0.1, localhost, [::1]): a DNS-rebound page sends its own name;
/// - a request with an Origin must come from an allowed origin; it gets CORS headers for that origin only, never `*`;
/// - preflights (OPTIONS) are answered here, with Access-Control-Allow-Private-Network when the browser asks
///   (Private Network Access);
/// - the caller is identified: a paired page (Bearer token issued to its origin), a page, a local program showing
///   the admin token, or an anonymous local program.
/// Refusals are audited and answered before any route runs, so none of them reaches a token.
struct BrowserGuard: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let state: ServiceState

    static let allowPrivateNetwork = HTTPField.Name("Access-Control-Allow-Private-Network")!
    static let requestPrivateNetwork = HTTPField.Name("Access-Control-Request-Private-Network")!
    static let allowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    static let allowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    static let maxAge = HTTPField.Name("Access-Control-Max-Age")!
    static let exposeHeaders = HTTPField.Name("Access-Control-Expose-Headers")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin]
        func refuse(_ status: HTTPResponse.Status, _ reason: String) throws -> Response {
            try state.record(AuditRecord(action: "refused", result: "refused", origin: origin, detail: "\(request.method) \(request.uri.path): \(reason)"))
            state.logger.notice("request refused", metadata: ["origin": "\(origin ?? "-")", "path": "\(request.uri.path)", "reason": "\(reason)"])
            return Self.error(status, reason, headers: [:])
        }
        guard let host = request.head.authority, Self.isLoopbackHost(host) else {
            return try refuse(.misdirectedRequest, "the Host header \"\(request.head.authority ?? "")\" is not a loopback name (a DNS-rebinding page?)")
        }
        var cors = HTTPFields()
        if let origin {
            guard state.configuration.allowedOrigins.contains(origin) else {
                return try refuse(.forbidden, "the origin \(origin) is not on this daemon's allowlist (allowedOrigins in the configuration)")
            }
            cors[.accessControlAllowOrigin] = origin
            cors[.vary] = "Origin"
            // A page may read who signed and the bundle's name; other response headers stay hidden from it.
            cors[Self.exposeHeaders] = "X-Signer, X-Certificate-SHA256, Content-Disposition"
        }
        if request.method == .options {
            var headers = cors
            headers[Self.allowMethods] = "GET, POST, DELETE"
            headers[Self.allowHeaders] = "Authorization, Content-Type, SignService-Attestation, SignService-Attestation-Signature, SignService-Scan-Name"
            headers[Self.maxAge] = "600"
            if request.headers[Self.requestPrivateNetwork] == "true" { headers[Self.allowPrivateNetwork] = "true" }
            return Response(status: .noContent, headers: headers)
        }
        var context = context
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        if let origin {
            context.caller = bearer.map { state.pairings.isPaired(origin: origin, token: $0) } == true ? .paired(origin: origin) : .page(origin: origin)
        } else {
            context.caller = bearer.map { Pairings.constantTimeEqual($0, state.adminToken) } == true ? .local : .anonymous
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            response = Self.error(error.status, error.body ?? error.status.reasonPhrase, headers: error.headers)
        }
        for field in cors { response.headers[field.name] = field.value }
        return response
    }

    static func isLoopbackHost(_ value: String) -> Bool {
        var host = value.lowercased()
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        return host == "localhost" || host == "127.0.0.1" || host == "::1"
    }

    /// Errors as JSON: {"error": "..."}; history and token errors start with their code ("pin-incorrect: ...").
    static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields) -> Response {
        let body: [String: String] = ["error": message]
        let data = (try? JSONOutput.encoder(pretty: false).encode(body)) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Paired pages and local programs with the admin token may use tokens; nobody else.
func requireTokenAccess(_ context: ServiceRequestContext, state: ServiceState, _ what: String) throws -> String? {
    switch context.caller {
    case .paired(let origin): return origin
    case .local: return nil
    case .page(let origin):
        try state.record(AuditRecord(action: "refused", result: "refused", origin: origin, detail: "\(what): not paired (no valid pairing token for this origin)"))
        throw HTTPError(.unauthorized, message: "this page is not paired with the daemon: pair first (POST /v1/pairings), then send Authorization: Bearer <token>")
    case .anonymous:
        try state.record(AuditRecord(action: "refused", result: "refused", detail: "\(what): no admin token"))
        throw HTTPError(.unauthorized, message: "local callers must send Authorization: Bearer <the admin token in the state folder>")
    }
}

func requireLocal(_ context: ServiceRequestContext, state: ServiceState, _ what: String) throws {
    guard case .local = context.caller else {
        try state.record(AuditRecord(action: "refused", result: "refused", origin: context.caller.origin, detail: "\(what): administration is for local programs with the admin token"))
        throw HTTPError(.forbidden, message: "only signctl on this machine (with the admin token) may do this")
    }
}

struct HealthResponse: ResponseEncodable {
    let status: String
    let version: String
}

struct VersionResponse: ResponseEncodable {
    let version: String
    let openssl: String
    let verifier: String
    let pinEntry: String
}

struct PairingRequestResponse: ResponseEncodable {
    let id: String
    /// Shown on the officer's machine (daemon log) and approved with `signctl pair approve CODE`; the page may show
    /// it too so the officer can compare.
    let code: String
    let expires: String
    let approveWith: String
}

struct PairingPollResponse: ResponseEncodable {
    let status: String
    let token: String?
}

struct ApproveRequest: Decodable { let code: String }
struct ApproveResponse: ResponseEncodable { let origin: String }
struct PairingList: ResponseEncodable {
    struct Pending: Codable { let origin: String; let code: String; let expires: String }
    let paired: [Pairings.Pairing]
    let pending: [Pending]
}
struct RevokeResponse: ResponseEncodable { let origin: String; let revoked: Int }

extension InventoryReport: ResponseEncodable {}

struct SignRequest: Decodable {
    /// The extract's bytes, base64.
    let extract: String
    let fileNumber: String
    let noteID: String
    /// "proofOfOrigin" (default) or "proofOfApproval".
    let commitment: String?
    /// The signing key's PKCS#11 URI (from GET /v1/tokens).
    let key: String
    /// Only when pinEntry is "request".
    let pin: String?
    let previousHash: String?
    /// Ask the configured time-stamping authority for a time-stamp (CAdES-T).
    let timeStamp: Bool?
}

struct VerifyRequest: Decodable {
    /// The .p7s, base64 (DER or PEM).
    let signature: String
    /// The signed extract, base64.
    let content: String
    /// Validation time, "2026-11-23T07:01:49Z"; default now.
    let at: String?
}

func buildRouter(_ state: ServiceState) -> Router<ServiceRequestContext> {
    let router = Router(context: ServiceRequestContext.self)
    router.add(middleware: BrowserGuard(state: state))

    router.get("/v1/health") { _, _ in
        HealthResponse(status: "ok", version: SignKitVersion.string)
    }
    router.get("/v1/version") { _, _ in
        VersionResponse(version: SignKitVersion.string, openssl: Verifier.openSSLVersion, verifier: Verifier.name,
                        pinEntry: state.configuration.pinEntry.rawValue)
    }

    // Pairing.
    router.post("/v1/pairings") { _, context -> PairingRequestResponse in
        guard let origin = context.caller.origin else {
            throw HTTPError(.badRequest, message: "pairing is for web pages: the request has no Origin header")
        }
        let request = state.pairings.request(origin: origin)
        try state.record(AuditRecord(action: "pairing-requested", result: "ok", origin: origin, detail: "code \(request.code)"))
        state.logger.notice("pairing requested: approve with `signctl pair approve \(request.code)` if you opened this page",
                            metadata: ["origin": "\(origin)", "code": "\(request.code)"])
        return PairingRequestResponse(id: request.id, code: request.code, expires: UTCTimeText.format(request.expires),
                                      approveWith: "signctl pair approve \(request.code)")
    }
    router.get("/v1/pairings/{id}") { _, context -> PairingPollResponse in
        guard let origin = context.caller.origin else { throw HTTPError(.badRequest, message: "the request has no Origin header") }
        let id = try context.parameters.require("id")
        switch state.pairings.poll(id: id, origin: origin) {
        case .pending: return PairingPollResponse(status: "pending", token: nil)
        case .approved(let token): return PairingPollResponse(status: "approved", token: token)
        case .collected: return PairingPollResponse(status: "collected", token: nil)
        case .unknown: throw HTTPError(.notFound, message: "no live pairing request \(id) for \(origin) (expired?)")
        }
    }
    router.post("/v1/admin/pairings/approve") { request, context -> ApproveResponse in
        try requireLocal(context, state: state, "approve a pairing")
        let body = try await request.decode(as: ApproveRequest.self, context: context)
        guard let origin = try state.pairings.approve(code: body.code) else {
            try state.record(AuditRecord(action: "pairing-approved", result: "refused", detail: "no live request with code \(body.code)"))
            throw HTTPError(.notFound, message: "no pending pairing request has the code \(body.code) (expired, already approved, or mistyped)")
        }
        try state.record(AuditRecord(action: "pairing-approved", result: "ok", origin: origin, detail: "code \(body.code)"))
        return ApproveResponse(origin: origin)
    }
    router.get("/v1/admin/pairings") { _, context -> PairingList in
        try requireLocal(context, state: state, "list pairings")
        return PairingList(paired: state.pairings.list(), pending: state.pairings.pending().map {
            .init(origin: $0.origin, code: $0.code, expires: UTCTimeText.format($0.expires))
        })
    }
    router.delete("/v1/admin/pairings") { request, context -> RevokeResponse in
        try requireLocal(context, state: state, "revoke a pairing")
        guard let origin = request.uri.queryParameters.get("origin") else { throw HTTPError(.badRequest, message: "give ?origin=https://...") }
        let count = try state.pairings.revoke(origin: origin)
        try state.record(AuditRecord(action: "pairing-revoked", result: "ok", origin: origin, detail: "\(count) token(s)"))
        return RevokeResponse(origin: origin, revoked: count)
    }

    // Tokens.
    router.get("/v1/tokens") { request, context -> InventoryReport in
        _ = try requireTokenAccess(context, state: state, "list tokens")
        let all = request.uri.queryParameters.get("all") == "true"
        return try await blocking { InventoryReport(state.tokens.inventory(at: Date()), includeHidden: all) }
    }
    router.get("/v1/events") { _, context -> Response in
        _ = try requireTokenAccess(context, state: state, "token events")
        let stream = state.monitor.subscribe()
        let readers = state.monitor.readers
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            func send(_ event: TokenEvent) async throws {
                try await writer.write(ByteBuffer(string: "event: \(event.type)\ndata: \(try JSONOutput.string(event, pretty: false))\n\n"))
            }
            // The current readers first, so a page knows what is there before anything changes.
            for reader in readers where reader.cardPresent {
                try await send(TokenEvent(type: "card-present", reader: reader.name, atr: reader.atrHex, time: UTCTimeText.format(Date())))
            }
            try await writer.write(ByteBuffer(string: ": ready\n\n"))
            // The stream ends when the page goes or the daemon stops (a graceful stop does not wait on open streams).
            for try await event in stream.cancelOnGracefulShutdown() { try await send(event) }
            try await writer.finish(nil)
        })
    }

    // Signing.
    router.post("/v1/sign") { request, context -> Response in
        let origin = try requireTokenAccess(context, state: state, "sign")
        let body = try await request.decode(as: SignRequest.self, context: context)
        let result = try await SignOperation(state: state, request: body, origin: origin).run()
        var headers = HTTPFields()
        headers[.contentType] = "application/pkcs7-signature"
        headers[HTTPField.Name("X-Signer")!] = result.signer.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "?"
        headers[HTTPField.Name("X-Certificate-SHA256")!] = result.certificate
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: result.signature)))
    }

    // Verification: any allowed origin or local program (no token is touched).
    router.post("/v1/verify") { request, context -> Response in
        guard let verifier = state.verifier else { throw HTTPError(.serviceUnavailable, message: state.verifierProblem ?? "verification unavailable") }
        let body = try await request.decode(as: VerifyRequest.self, context: context)
        guard let signature = Data(base64Encoded: body.signature), let content = Data(base64Encoded: body.content) else {
            throw HTTPError(.badRequest, message: "signature and content must be base64")
        }
        let time: Date
        if let at = body.at {
            guard let parsed = UTCTimeText.parse(at) else { throw HTTPError(.badRequest, message: "at must be a time like 2026-11-23T07:01:49Z") }
            time = parsed
        } else {
            time = Date()
        }
        let verdict: Verdict
        do {
            verdict = try await blocking { try verifier.verify(signature: Array(signature), content: .bytes(Array(content)), at: time) }
        } catch let error as VerificationInputError {
            throw HTTPError(.unprocessableContent, message: "the signature does not read: \(error.description)")
        }
        let report = VerificationReport(signatureFile: nil, contentFile: nil, trustFolder: nil, offline: false, verdict: verdict)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: report.compactJSON)))
    }
    addHistoryRoutes(to: router, state: state)
    addScanRoutes(to: router, state: state)
    return router
}

/// One signing request: checks, PIN, token session, CAdES, audit. Errors name the problem; nothing is half-done.
struct SignOperation {
    let state: ServiceState
    let request: SignRequest
    let origin: String?

    struct Result: Sendable {
        let signature: [UInt8]
        let signer: String
        let certificate: String
    }

    func run() async throws -> Result {
        let audit = { (result: String, detail: String, certificate: String?) in
            try state.record(AuditRecord(action: "sign", result: result, origin: origin, file: request.fileNumber, note: request.noteID,
                                         certificate: certificate, detail: detail))
        }
        guard let extract = Data(base64Encoded: request.extract) else { throw HTTPError(.badRequest, message: "extract must be base64") }
        guard extract.count <= state.configuration.maximumRequestBytes else {
            throw HTTPError(.contentTooLarge, message: "the extract is larger than maximumRequestBytes (\(state.configuration.maximumRequestBytes))")
        }
        guard !request.fileNumber.isEmpty, !request.noteID.isEmpty else { throw HTTPError(.badRequest, message: "fileNumber and noteID must not be empty") }
        let commitment: Commitment
        switch request.commitment ?? "proofOfOrigin" {
        case "proofOfOrigin": commitment = .proofOfOrigin
        case "proofOfApproval": commitment = .proofOfApproval
        default: throw HTTPError(.badRequest, message: "commitment must be proofOfOrigin or proofOfApproval")
        }
        var previous: [UInt8]? = nil
        if let text = request.previousHash {
            guard let hash = Hex.decode(text), hash.count == 32 else { throw HTTPError(.badRequest, message: "previousHash must be 64 hex digits") }
            previous = hash
        }
        let uri: PKCS11URI
        do {
            uri = try PKCS11URI(request.key)
        } catch {
            throw HTTPError(.badRequest, message: "key is not a PKCS#11 URI: \(error)")
        }
        var tsa: TimeStampAuthority? = nil
        if request.timeStamp == true {
            guard let url = state.configuration.timeStampAuthority.flatMap(URL.init(string:)) else {
                throw HTTPError(.badRequest, message: "a time-stamp was asked for but the daemon has no timeStampAuthority configured")
            }
            tsa = TimeStampAuthority(url: url, timeout: 10)
        }
        let pin: PIN
        switch state.configuration.pinEntry {
        case .request:
            guard let text = request.pin, !text.isEmpty else { throw HTTPError(.badRequest, message: "this daemon takes the PIN in the request (pin)") }
            do {
                pin = try Array(text.utf8).withUnsafeBytes { try PIN(bytes: $0) }
            } catch {
                throw HTTPError(.badRequest, message: "the PIN is not acceptable: \(error)")
            }
        case .pinentry:
            guard request.pin == nil else {
                try audit("refused", "a PIN was sent in the request, but this daemon asks through pinentry only", nil)
                throw HTTPError(.badRequest, message: "this daemon asks for the PIN through pinentry on the officer's screen; do not send it in the request")
            }
            let program = state.configuration.pinentryProgram!
            do {
                pin = try await blocking { try PINEntry.ask(program: program, description: "SignService: PIN to sign note \(request.noteID) of file \(request.fileNumber)\(origin.map { " for \($0)" } ?? "")") }
            } catch {
                try audit("failed", "pinentry: \(error)", nil)
                throw HTTPError(.forbidden, message: "no PIN was given: \(error)")
            }
        }
        let digest = SHA256Hasher.hash(Array(extract))
        let (manager, kept, size) = (state.tokens, state.keptSession, extract.count)
        let (previousHash, authority, chain) = (previous, tsa, state.chain)
        do {
            let made = try await blocking { () throws -> Result in
                defer { pin.wipe() }
                let now = Date()
                let parameters = SignatureParameters(
                    context: EOfficeContext(fileNumber: request.fileNumber, noteID: request.noteID, previousEntryHash: previousHash, origin: origin),
                    commitment: commitment, signingTime: now, chain: chain, timeStampAuthority: authority)
                // Built before and finished after the token signs: the token (and a kept session's lock) is held
                // for the signature alone, not for the CMS work or a time-stamp authority's answer.
                let (prepared, tokenSignature) = try kept.sign(uri, pin: pin, tokens: manager, at: now) { certificate in
                    try CAdES.Prepared(contentDigest: digest, certificate: certificate, parameters: parameters)
                }
                let certificate = prepared.certificate
                let made = Result(signature: try prepared.finish(tokenSignature),
                                  signer: certificate.subject.commonName ?? certificate.subject.description,
                                  certificate: Hex.encode(certificate.sha256Fingerprint))
                // Audited (written and fsynced) here, off the event loop; a signature that cannot be audited is not
                // handed out.
                try state.record(AuditRecord(action: "sign", result: "ok", origin: origin, file: request.fileNumber, note: request.noteID,
                                             certificate: made.certificate,
                                             detail: "signed \(size) bytes, SHA-256 \(Hex.encode(digest)), \(commitment.rawValue)"))
                return made
            }
            return made
        } catch let error as TokenError {
            try audit("failed", "\(error.code): \(error.reason)", nil)
            let status: HTTPResponse.Status = switch error.code {
            case .pinIncorrect, .pinLocked, .pinFinalTry, .pinLength, .pinExpired: .forbidden
            case .tokenNotFound, .tokenRemoved: .notFound
            case .busy: .serviceUnavailable
            default: .unprocessableContent
            }
            throw HTTPError(status, message: "\(error.code): \(error.reason)")
        } catch let error as HTTPError {
            throw error
        } catch {
            try audit("failed", "\(error)", nil)
            throw HTTPError(.internalServerError, message: "signing failed: \(error)")
        }
    }
}
