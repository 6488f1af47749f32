import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import SignKit

/// The browser guard, in front of every route (docs/daemon.md "Browser safety"):
/// - the agent's Host header must name loopback (127.0.0.1, localhost, [::1]): a DNS-rebound page sends its own name;
/// - a request with an Origin must come from an allowed origin; it gets CORS headers for that origin only, never `*`;
/// - preflights (OPTIONS) are answered here, with Access-Control-Allow-Private-Network when the browser asks
///   (Private Network Access);
/// - the agent's caller is identified: a paired page (Bearer token issued to its origin), a page, a local program
///   showing the admin token, or an anonymous local program; the records service's callers by their session or API
///   key, read by the routes (Records/RecordsDesk.swift).
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
        func refuse(_ status: HTTPResponse.Status, _ kind: String, _ reason: String) throws -> Response {
            // What the caller chose (path, origin, Host) is cut short before it is written, and refusals beyond a rate
            // are only counted (Refusals): a refused request must not be able to fill the fsynced audit log.
            let path = Self.clipped(request.uri.path), origin = origin.map { Self.clipped($0) }
            try state.refused(kind, origin: origin, detail: "\(request.method) \(path): \(reason)")
            state.logger.debug("request refused", metadata: ["origin": "\(origin ?? "-")", "path": "\(path)", "reason": "\(reason)"])
            return ErrorStatus.answer(status, ErrorAnswer(error: reason, code: "refused"), headers: [:])
        }
        // The agent is on loopback and answers loopback names only; the records service has a public name, and its
        // callers prove who they are with a session or API key, not by where they are.
        if state.role == .agent, !(request.head.authority.map(Self.isLoopbackHost) ?? false) {
            return try refuse(
                .misdirectedRequest, "host", "the Host header \"\(Self.clipped(request.head.authority ?? ""))\" is not a loopback name (a DNS-rebinding page?)")
        }
        var cors = HTTPFields()
        if let origin {
            guard state.configuration.allowedOrigins.contains(origin) else {
                return try refuse(
                    .forbidden, "origin", "the origin \(Self.clipped(origin)) is not on this daemon's allowlist (allowedOrigins in the configuration)")
            }
            cors[.accessControlAllowOrigin] = origin
            cors[.vary] = "Origin"
            // A page may read who signed and the bundle's name; other response headers stay hidden from it.
            cors[Self.exposeHeaders] = "X-Signer, X-Certificate-SHA256, X-Time-Stamp, Content-Disposition, Content-Language"
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
        context.authorization = request.headers[.authorization]
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        if state.role == .records {
            context.caller = origin.map { .page(origin: $0) } ?? .anonymous
        } else if let origin {
            context.caller = bearer.map { state.pairings.isPaired(origin: origin, token: $0) } == true ? .paired(origin: origin) : .page(origin: origin)
        } else {
            context.caller = bearer.map { Pairings.constantTimeEqual($0, state.adminToken) } == true ? .local : .anonymous
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = ErrorStatus.response(for: error)
        }
        for field in cors where field.name != .vary { response.headers[field.name] = field.value }
        // Every answer depends on the Origin (CORS, pairing), so no cache may hand one origin's answer to another; a
        // route's own Vary (a report negotiated by Accept-Language) is kept beside it.
        if let own = response.headers[.vary] {
            if !own.contains("Origin") { response.headers[.vary] = own + ", Origin" }
        } else {
            response.headers[.vary] = "Origin"
        }
        // Answers carry pairing tokens, signatures, histories: none is for a cache.
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }

    /// At most `limit` characters of a value a caller chose, marked when cut.
    static func clipped(_ value: String, limit: Int = 120) -> String {
        value.count <= limit ? value : String(value.prefix(limit)) + "…(\(value.utf8.count) bytes)"
    }

    /// A Host header naming loopback and nothing more: `localhost`, `127.0.0.1` or `[::1]`, optionally followed by
    /// `:` and a port of digits. Anything else after the name (`[::1]evil.example`, `localhost:8787@evil`,
    /// `localhost:x`) is refused: a browser sends exactly the page's host, so a rebound name never looks like this.
    static func isLoopbackHost(_ value: String) -> Bool {
        let text = value.lowercased()
        for name in ["localhost", "127.0.0.1", "[::1]"] where text.hasPrefix(name) {
            let rest = text.dropFirst(name.count)
            if rest.isEmpty { return true }
            guard rest.first == ":" else { return false }
            let port = rest.dropFirst()
            return (1...5).contains(port.count) && port.allSatisfy(\.isASCII) && port.allSatisfy(\.isNumber) && Int(port).map { $0 <= 65535 } == true
        }
        return false
    }
}

/// Paired pages and local programs with the admin token may use tokens; nobody else.
func requireTokenAccess(_ context: ServiceRequestContext, state: ServiceState, _ what: String) throws -> String? {
    switch context.caller {
    case .paired(let origin): return origin
    case .local: return nil
    case .page(let origin):
        try state.refused("not paired", origin: origin, detail: "\(what): not paired (no valid pairing token for this origin)")
        throw HTTPError(
            .unauthorized, message: "this page is not paired with the daemon: pair first (POST /v1/pairings), then send Authorization: Bearer <token>")
    case .anonymous:
        try state.refused("no admin token", origin: nil, detail: "\(what): no admin token")
        throw HTTPError(.unauthorized, message: "local callers must send Authorization: Bearer <the admin token in the state folder>")
    }
}

func requireLocal(_ context: ServiceRequestContext, state: ServiceState, _ what: String) throws {
    guard case .local = context.caller else {
        try state.refused("not admin", origin: context.caller.origin, detail: "\(what): administration is for local programs with the admin token")
        throw HTTPError(.forbidden, message: "only signctl on this machine (with the admin token) may do this")
    }
}

extension Request {
    /// The body of a small JSON route (pairing approval, a new file, an approval request) read up to `limit` bytes
    /// and decoded as a wire type: anything longer is refused with 413 before it is buffered, where the upload limit
    /// would let every route take tens of MiB.
    func decodeSmall<T: Decodable>(as type: T.Type, limit: Int = 16 * 1024) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch {
            throw HTTPError(.contentTooLarge, message: "this request's body may have at most \(limit) bytes")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "the body is not the JSON this request takes: \(error)")
        }
    }
}
