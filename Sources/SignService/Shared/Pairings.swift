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
        /// When the token stops working (pairingTokenDays after it was issued); nil in files from before tokens
        /// expired, which then expire that long after `created`.
        var expires: String?
        /// When a page last showed the token (kept to the minute).
        var lastUsed: String?

        func expiry(lifetime days: Double) -> Date {
            expires.flatMap(UTCTimeText.parse)
                ?? (UTCTimeText.parse(created) ?? .distantPast).addingTimeInterval(days * 86400)
        }
    }

    private struct State: Sendable {
        var requests: [String: Request] = [:]
        var pairings: [Pairing] = []
    }

    private let state: Mutex<State>
    private let file: String
    let lifetime: Double
    /// How long a token lasts, in days.
    let tokenDays: Double

    init(file: String, lifetime: Double, tokenDays: Double = 30) throws {
        self.file = file
        self.lifetime = lifetime
        self.tokenDays = tokenDays
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
            state.pairings.append(
                Pairing(
                    origin: request.origin, tokenHash: Self.hash(token), created: UTCTimeText.format(now),
                    expires: UTCTimeText.format(now.addingTimeInterval(tokenDays * 86400))))
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

    /// True when `token` was issued to `origin`, has not expired and was not revoked. Its last use is noted (and
    /// written at most once a minute).
    func isPaired(origin: String, token: String, now: Date = Date()) -> Bool {
        let hash = Self.hash(token)
        return state.withLock { state in
            guard
                let index = state.pairings.firstIndex(where: { $0.origin == origin && Self.constantTimeEqual($0.tokenHash, hash) }),
                state.pairings[index].expiry(lifetime: tokenDays) > now
            else { return false }
            let minute = String(UTCTimeText.format(now).prefix(16)) + ":00Z"
            if state.pairings[index].lastUsed != minute {
                state.pairings[index].lastUsed = minute
                try? save(state.pairings)  // only the note of its last use; the token is valid whether or not it is written
            }
            return true
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

    /// The pairings whose tokens still work.
    func list(now: Date = Date()) -> [Pairing] { state.withLock { $0.pairings.filter { $0.expiry(lifetime: tokenDays) > now } } }

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
