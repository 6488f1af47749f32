import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import SignKit

// The wire types are SignKit's (Sources/SignKit/API); here they become Hummingbird answers.
extension HealthAnswer: ResponseEncodable {}
extension VersionAnswer: ResponseEncodable {}
extension PairingRequestAnswer: ResponseEncodable {}
extension PairingPollAnswer: ResponseEncodable {}
extension PairingApproved: ResponseEncodable {}
extension PairingListAnswer: ResponseEncodable {}
extension PairingRevoked: ResponseEncodable {}
extension InventoryReport: ResponseEncodable {}
extension BatchSignAnswer: ResponseEncodable {}

func buildRouter(_ state: ServiceState) -> Router<ServiceRequestContext> {
    let router = Router(context: ServiceRequestContext.self)
    router.add(middleware: BrowserGuard(state: state))

    router.get("/v1/health") { _, _ in
        HealthAnswer(status: "ok", version: SignKitVersion.string)
    }
    router.get("/v1/version") { _, _ in
        VersionAnswer(
            version: SignKitVersion.string, openssl: Verifier.openSSLVersion, verifier: Verifier.name,
            pinEntry: state.configuration.pinEntry.rawValue)
    }

    // Pairing.
    router.post("/v1/pairings") { _, context -> PairingRequestAnswer in
        guard let origin = context.caller.origin else {
            throw HTTPError(.badRequest, message: "pairing is for web pages: the request has no Origin header")
        }
        guard let request = state.pairings.request(origin: origin, now: Date()) else {
            try state.refused("pairing flood", origin: origin, detail: "pairing request: too many pending requests")
            throw HTTPError(
                .tooManyRequests,
                message: "too many pairing requests are waiting (at most \(Pairings.maximumPerOrigin) per page, "
                    + "\(Pairings.maximumPending) in all): approve or let them expire first")
        }
        try state.record(AuditRecord(time: Date(), action: "pairing-requested", result: "ok", origin: origin, detail: "code \(request.code)"))
        state.logger.notice(
            "pairing requested: approve with `signctl pair approve \(request.code)` if you opened this page",
            metadata: ["origin": "\(origin)", "code": "\(request.code)"])
        return PairingRequestAnswer(
            id: request.id, code: request.code, expires: UTCTimeText.format(request.expires),
            approveWith: "signctl pair approve \(request.code)")
    }
    router.get("/v1/pairings/{id}") { _, context -> PairingPollAnswer in
        guard let origin = context.caller.origin else { throw HTTPError(.badRequest, message: "the request has no Origin header") }
        let id = try context.parameters.require("id")
        switch state.pairings.poll(id: id, origin: origin) {
        case .pending: return PairingPollAnswer(status: "pending", token: nil)
        case .approved(let token): return PairingPollAnswer(status: "approved", token: token)
        case .collected: return PairingPollAnswer(status: "collected", token: nil)
        case .unknown: throw HTTPError(.notFound, message: "no live pairing request \(id) for \(origin) (expired?)")
        }
    }
    router.post("/v1/admin/pairings/approve") { request, context -> PairingApproved in
        try requireLocal(context, state: state, "approve a pairing")
        let body = try await request.decodeSmall(as: PairingApproval.self, limit: 1024)
        guard let origin = try state.pairings.approve(code: body.code) else {
            try state.record(AuditRecord(time: Date(), action: "pairing-approved", result: "refused", detail: "no live request with code \(body.code)"))
            throw HTTPError(.notFound, message: "no pending pairing request has the code \(body.code) (expired, already approved, or mistyped)")
        }
        try state.record(AuditRecord(time: Date(), action: "pairing-approved", result: "ok", origin: origin, detail: "code \(body.code)"))
        return PairingApproved(origin: origin)
    }
    router.get("/v1/admin/pairings") { _, context -> PairingListAnswer in
        try requireLocal(context, state: state, "list pairings")
        return PairingListAnswer(
            paired: state.pairings.list().map {
                .init(
                    origin: $0.origin, tokenHash: $0.tokenHash, created: $0.created,
                    expires: UTCTimeText.format($0.expiry(lifetime: state.pairings.tokenDays)), lastUsed: $0.lastUsed)
            },
            pending: state.pairings.pending().map {
                .init(origin: $0.origin, code: $0.code, expires: UTCTimeText.format($0.expires))
            })
    }
    router.delete("/v1/admin/pairings") { request, context -> PairingRevoked in
        try requireLocal(context, state: state, "revoke a pairing")
        guard let origin = request.uri.queryParameters.get("origin") else { throw HTTPError(.badRequest, message: "give ?origin=https://...") }
        let count = try state.pairings.revoke(origin: origin)
        try state.record(AuditRecord(time: Date(), action: "pairing-revoked", result: "ok", origin: origin, detail: "\(count) token(s)"))
        return PairingRevoked(origin: origin, revoked: count)
    }

    // Tokens.
    router.get("/v1/tokens") { request, context -> InventoryReport in
        _ = try requireTokenAccess(context, state: state, "list tokens")
        let all = request.uri.queryParameters.get("all") == "true"
        return try await blocking { InventoryReport(state.tokens.inventory(at: Date()), includeHidden: all) }
    }
    router.get("/v1/events") { _, context -> Response in
        _ = try requireTokenAccess(context, state: state, "token events")
        // Each stream holds a connection and a subscription for as long as the page stays: capped.
        guard let slot = state.eventStreams.take() else {
            throw HTTPError(
                .serviceUnavailable,
                message: "\(state.configuration.maximumEventStreams) token event streams are open already (maximumEventStreams); close one first")
        }
        let stream = state.monitor.subscribe()
        let readers = state.monitor.readers
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer { slot.release() }
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

    // Signing: the request decoded, signed by the SignKit workflow (checks, PIN, token, CAdES, audit), answered.
    router.post("/v1/sign") { request, context -> Response in
        let origin = try requireTokenAccess(context, state: state, "sign")
        let body = try await request.decode(as: SignRequestBody.self, context: context)
        let signed = try await blocking { try state.signer.sign(body, origin: origin, settings: state.signing, at: Date()) }
        var headers = HTTPFields()
        headers[.contentType] = "application/pkcs7-signature"
        headers[HTTPField.Name(SignAnswerHeader.signer)!] = signed.signerName.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "?"
        headers[HTTPField.Name(SignAnswerHeader.certificate)!] = Hex.encode(signed.certificate.sha256Fingerprint)
        headers[HTTPField.Name(SignAnswerHeader.timeStamp)!] = signed.timeStampAuthority?.absoluteString ?? "none"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: signed.signature)))
    }

    // Several notes for one PIN: the officer sees every note and its digest in one dialog (docs/daemon.md "Batch signing").
    router.post("/v1/sign/batch") { request, context -> BatchSignAnswer in
        let origin = try requireTokenAccess(context, state: state, "sign a batch")
        let body = try await request.decode(as: BatchSignRequestBody.self, context: context)
        let limits = BatchLimits(maximumNotes: state.configuration.maximumBatchNotes, seconds: state.configuration.batchSeconds)
        return BatchSignAnswer(
            try await blocking { try state.signer.signBatch(body, origin: origin, settings: state.signing, limits: limits, at: Date()) })
    }

    // A records service's login challenge signed on a token: the login signature can never pass for a note's
    // (Access/LoginBinding.swift), and the PIN dialog says it is a login and to which service.
    router.post("/v1/login/sign") { request, context -> LoginSignAnswer in
        let origin = try requireTokenAccess(context, state: state, "sign a login challenge")
        let body = try await request.decodeSmall(as: LoginSignRequestBody.self, limit: 8 * 1024)
        return LoginSignAnswer(try await blocking { try state.signer.signLogin(body, origin: origin, settings: state.signing, at: Date()) })
    }

    // Verification: paired pages and local programs with the admin token. It touches no token, but it reads
    // signatures a caller chose and may fetch what their certificates name: not for any page or local process.
    addVerifyRoute(to: router, state: state, check: { context in _ = try requireTokenAccess(context, state: state, "verify") })
    return router
}

/// Fetches one POST /v1/verify may cause: a signer's path of three or four certificates needs an issuer or two and
/// a CRL or OCSP answer for each; a signature naming more is not worth more of the service's time.
let fetchesPerVerification = 8

/// POST /v1/verify: a signature and its content judged at a time and under a policy; JSON, text or HTML.
/// `check` refuses callers the role does not serve (the records service verifies for those who may come in).
func addVerifyRoute(
    to router: Router<ServiceRequestContext>, state: ServiceState, check: @escaping @Sendable (ServiceRequestContext) async throws -> Void
) {
    router.post("/v1/verify") { request, context -> Response in
        try await check(context)
        guard let verifier = state.verifier else { throw HTTPError(.serviceUnavailable, message: state.verifierProblem ?? "verification unavailable") }
        let body = try await request.decode(as: VerifyRequestBody.self, context: context)
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
        let inputs: (policy: VerificationPolicy, adjunct: AdjunctMaterial)
        do {
            inputs = try body.validationInputs()
        } catch {
            throw HTTPError(.badRequest, message: (error as? VerificationInputError)?.reason ?? "\(error)")
        }
        // A signature that does not read is a VerificationInputError (signature-unreadable, 422); an invalid one is a verdict.
        // At most `fetchesPerVerification` fetches (issuers, CRLs, OCSP) for what one request's signature names.
        let verdict = try await blocking {
            try FetchBudget.$current.withValue(FetchBudget(fetchesPerVerification)) {
                try verifier.verify(
                    signature: Array(signature), content: .bytes(Array(content)), policy: inputs.policy, at: time,
                    adjunct: inputs.adjunct)
            }
        }
        let report = VerificationReport(signatureFile: nil, contentFile: nil, trustFolder: nil, offline: false, verdict: verdict)
        // JSON for programs; the text or HTML report for people, in the language Accept-Language prefers.
        return ReportNegotiation(request).response(
            json: report.compactJSON,
            text: { HumanReport.text(verdict, signatureFile: nil, contentFile: nil, language: $0) },
            html: { report.html(in: $0) })
    }
}
