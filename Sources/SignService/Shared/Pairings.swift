import Foundation
import Synchronization
import SignKit

/// Per-origin pairing (docs/daemon.md): a page asks, the daemon shows a short code on the officer's machine, the
/// officer approves it with `signctl pair approve CODE`, and the page collects a token bound to its origin. Tokens
/// are kept only as SHA-256 hashes (pairings.json, mode 0600); revoking an origin drops its tokens at once.
final class Pairings: Sendable {
    struct Request: Sendable {
        let id: String
        let code: String
        let origin: String
        let expires: Date
        var approved = false
        /// The token, held only until the page collects it once.
        var token: String?
    }

    struct Pairing: Codable, Sendable {
        let origin: String
        let tokenHash: String
        let created: String
    }

    private struct State: Sendable {
        var requests: [String: Request] = [:]
        var pairings: [Pairing] = []
    }

    private let state: Mutex<State>
    private let file: String
    let lifetime: Double

    init(file: String, lifetime: Double) throws {
        self.file = file
        self.lifetime = lifetime
        var pairings = [Pairing]()
        if FileManager.default.fileExists(atPath: file) {
            do {
                pairings = try JSONDecoder().decode([Pairing].self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            } catch {
                throw ConfigurationError("the pairings file \(file) does not read: \(error)")
            }
        }
        state = Mutex(State(pairings: pairings))
    }

    /// Live requests one origin may have, and all origins together: a page cannot bury the officer in codes.
    static let maximumPerOrigin = 3
    static let maximumPending = 20

    /// A new pairing request for `origin`: its id (for the page to poll) and the code the officer approves, unique
    /// among the live requests; nil when the origin, or the daemon, has as many live requests as allowed.
    func request(origin: String, now: Date) -> Request? {
        state.withLock { state in
            state.requests = state.requests.filter { $0.value.expires > now }
            let live = state.requests.values.filter { !$0.approved }
            guard live.count < Self.maximumPending, live.filter({ $0.origin == origin }).count < Self.maximumPerOrigin else { return nil }
            var code = Self.code()
            while state.requests.values.contains(where: { $0.code == code }) { code = Self.code() }
            let request = Request(id: Self.random(bytes: 16), code: code, origin: origin, expires: now.addingTimeInterval(lifetime))
            state.requests[request.id] = request
            return request
        }
    }

    /// Approves the pending request with `code`; returns its origin, or nil when no live request has that code.
    func approve(code: String, now: Date = Date()) throws -> String? {
        let normalized = code.filter(\.isNumber)
        return try state.withLock { state -> String? in
            guard
                let (id, request) = state.requests.first(where: {
                    $0.value.code.filter(\.isNumber) == normalized && $0.value.expires > now && !$0.value.approved
                })
            else {
                return nil
            }
            let token = Self.random(bytes: 32)
            state.requests[id]?.approved = true
            state.requests[id]?.token = token
            state.pairings.append(Pairing(origin: request.origin, tokenHash: Self.hash(token), created: UTCTimeText.format(now)))
            try save(state.pairings)
            return request.origin
        }
    }

    enum Poll { case pending, approved(token: String), collected, unknown }

    /// What the page sees when it polls its request: the token exactly once.
    func poll(id: String, origin: String, now: Date = Date()) -> Poll {
        state.withLock { state in
            guard let request = state.requests[id], request.origin == origin else { return .unknown }
            if let token = request.token {
                state.requests[id]?.token = nil
                return .approved(token: token)
            }
            if request.approved { return .collected }
            return request.expires > now ? .pending : .unknown
        }
    }

    /// True when `token` was issued to `origin` and not revoked.
    func isPaired(origin: String, token: String) -> Bool {
        let hash = Self.hash(token)
        return state.withLock { state in
            state.pairings.contains { $0.origin == origin && Self.constantTimeEqual($0.tokenHash, hash) }
        }
    }

    /// Drops every token of `origin`; returns how many there were.
    func revoke(origin: String) throws -> Int {
        try state.withLock { state in
            let before = state.pairings.count
            state.pairings.removeAll { $0.origin == origin }
            try save(state.pairings)
            return before - state.pairings.count
        }
    }

    func list() -> [Pairing] { state.withLock { $0.pairings } }

    func pending(now: Date = Date()) -> [Request] {
        state.withLock { $0.requests.values.filter { !$0.approved && $0.expires > now }.sorted { $0.expires < $1.expires } }
    }

    private func save(_ pairings: [Pairing]) throws {
        try AtomicFile.write(Array(try JSONOutput.encoder().encode(pairings)), to: file, mode: 0o600)
    }

    static func hash(_ token: String) -> String { Hex.encode(SHA256Hasher.hash(Array(token.utf8))) }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(left, right) { difference |= x ^ y }
        return difference == 0
    }

    /// URL-safe random text from the system's generator.
    static func random(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A six-digit code shown as "123-456".
    static func code() -> String {
        var generator = SystemRandomNumberGenerator()
        let number = Int.random(in: 0..<1_000_000, using: &generator)
        let digits = String(format: "%06d", number)
        return digits.prefix(3) + "-" + digits.suffix(3)
    }
}
