import Foundation
import Synchronization

/// The last signing session, kept logged in for `keepTokenSessionSeconds` after its last signature
/// (docs/daemon.md "Kept sessions"). Off by default: each request logs in and out.
///
/// A kept session is used only by a request for the same key whose PIN is the one it logged in with. The PIN is
/// not kept: only an HMAC-SHA256 of it under a random key made for this session, both held in memory and wiped when
/// the session closes. A different PIN closes the kept session and goes to the token as a normal login, so the
/// token, not the daemon, judges it and counts a wrong try. A signature that fails on a kept session closes it; when the
/// session was lost (token pulled and put back, login forgotten) the request is tried once more with a fresh login.
///
/// Requests that may use a kept session reach their tokens one at a time, across tokens, on one worker thread: the
/// kept session holds its token, so taking turns is what lets a request for another key close it first. A turn covers
/// the token's part only; the CMS structure is built before and finished after it (`sign(_:pin:tokens:at:prepare:)`).
///
/// Every token job has a deadline (`deadline` seconds): a token or reader that stops answering in C_Login or C_Sign
/// blocks its thread, and PKCS#11 has no way to interrupt it, but the request stops waiting and is answered
/// `token-timeout`; a job still queued behind the stuck one when its request gave up is skipped, never run late.
public final class KeptSession: Sendable {
    public let seconds: Double
    /// Seconds a request waits for its token's part (login and signature), queueing included.
    public let deadline: Double
    /// Runs the token's part of every request that may use a kept session, one after another in arrival order
    /// (none when keeping is off).
    private let worker: SerialWorker?
    private let kept = Mutex<Kept?>(nil)

    private final class Kept: @unchecked Sendable {  // touched only on the worker's thread or under `kept`
        let session: TokenSigningSession
        let uri: String
        var hmacKey: [UInt8]
        var check: [UInt8]
        var lastUsed: ContinuousClock.Instant

        init(session: TokenSigningSession, uri: String, pin: PIN) throws {
            self.session = session
            self.uri = uri
            hmacKey = (0..<32).map { _ in UInt8.random(in: 0...255) }
            check = []
            lastUsed = .now
            check = try Self.mac(hmacKey, pin)
        }

        func matches(_ pin: PIN) -> Bool {
            guard let other = try? Self.mac(hmacKey, pin), other.count == check.count else { return false }
            return zip(other, check).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }

        func close() {
            session.close()
            for index in hmacKey.indices { hmacKey[index] = 0 }
            for index in check.indices { check[index] = 0 }
        }

        /// HMAC-SHA256 (RFC 2104) of the PIN's bytes.
        static func mac(_ key: [UInt8], _ pin: PIN) throws -> [UInt8] {
            var inner = key.map { $0 ^ 0x36 } + [UInt8](repeating: 0x36, count: 64 - key.count)
            var outer = key.map { $0 ^ 0x5c } + [UInt8](repeating: 0x5c, count: 64 - key.count)
            defer {
                for index in inner.indices { inner[index] = 0 }
                for index in outer.indices { outer[index] = 0 }
            }
            let hasher = SHA256Hasher()
            hasher.update(inner)
            try pin.withBytes { hasher.update($0) }
            let first = hasher.finalize()
            return SHA256Hasher.hash(outer + first)
        }
    }

    /// `seconds` 0: every signature logs in and out (no worker thread is made).
    public init(seconds: Double, deadline: Double = 30) {
        self.seconds = seconds
        self.deadline = deadline
        worker = seconds > 0 ? SerialWorker(name: "kept-session") : nil
    }

    /// Runs a token job on the worker (kept sessions) or on a thread of its own, waiting at most `seconds`.
    private func run<T>(deadline seconds: Double, _ job: @escaping () throws -> T) throws -> T {
        let timeout = TokenError(
            .timeout,
            "the token did not answer within \(Int(seconds.rounded())) s (a stuck token or reader: pull it out and put it back); "
                + "nothing was handed out", retryable: true)
        if let worker { return try worker.run(deadline: seconds, timeout: timeout, job) }
        return try SerialWorker.alone(deadline: seconds, timeout: timeout, job)
    }

    /// Runs `body` on one fresh session for the key: one login for several signatures (a batch the officer gave one
    /// PIN for). A kept session is closed first (it may hold the same token's login) and this one is closed after,
    /// never kept. The whole job, login and every signature, has `deadline` seconds; `body` gets the session and the
    /// job's own copy of the PIN (for keys that ask for it at every signature).
    public func withFreshSession<T>(
        _ uri: PKCS11URI, pin: PIN, tokens: TokenManager, options: LoginOptions = LoginOptions(), at time: Date, deadline seconds: Double,
        _ body: @escaping (TokenSigningSession, PIN) throws -> T
    ) throws -> T {
        let owned = try pin.copy()  // the job's own, as in `sign`
        return try run(deadline: seconds) { [self] in
            defer { owned.wipe() }
            kept.withLock { current -> Kept? in
                defer { current = nil }
                return current
            }?.close()
            let session = try tokens.openSigningSession(uri, pin: owned, options: options, at: time)
            defer { session.close() }
            return try body(session, owned)
        }
    }

    /// Signs, with the key at `uri`, the signed attributes `prepare` builds for the key's certificate: on the kept
    /// session when it may serve, else after a fresh login (kept afterwards when keeping is on). The caller finishes
    /// the signature (checks it, time-stamps it, encodes it) after this returns.
    ///
    /// With a kept session for the key, `prepare` runs before the request's turn on the worker, so the turn holds
    /// only the token's signature; it runs again in the turn if the session turned out to hold another certificate.
    public func sign(
        _ uri: PKCS11URI, pin: PIN, tokens: TokenManager, options: LoginOptions = LoginOptions(), at time: Date,
        prepare: @escaping (X509Certificate) throws -> CAdES.Prepared
    ) throws -> (CAdES.Prepared, TokenSignature) {
        // The token job works with a PIN of its own, wiped when the job ends: a caller that stopped waiting (the
        // deadline) wipes its PIN at once, and a job that resumes later never logs in with a wiped one.
        let owned = try pin.copy()
        func signed(on session: TokenSigningSession, _ early: CAdES.Prepared?) throws -> (CAdES.Prepared, TokenSignature) {
            let ready =
                try early.flatMap { $0.certificate.sha256Fingerprint == session.certificate.sha256Fingerprint ? $0 : nil }
                ?? prepare(session.certificate)
            return (ready, try session.sign(ready.toBeSigned, pin: owned))
        }
        guard worker != nil else {
            return try run(deadline: deadline) {
                defer { owned.wipe() }
                let session = try tokens.openSigningSession(uri, pin: owned, options: options, at: time)
                defer { session.close() }
                return try signed(on: session, nil)
            }
        }
        let early = try kept.withLock { $0?.uri == uri.description ? $0?.session.certificate : nil }.map(prepare)
        return try run(deadline: deadline) { [self] in
            defer { owned.wipe() }
            if let current = kept.withLock({ current -> Kept? in
                defer { current = nil }; return current
            }) {
                if current.uri == uri.description && current.matches(owned) && ContinuousClock.now - current.lastUsed < .seconds(seconds) {
                    do {
                        let result = try signed(on: current.session, early)
                        current.lastUsed = .now
                        kept.withLock { $0 = current }
                        return result
                    } catch {
                        current.close()
                        // Only a lost session is tried again with a fresh login; any other failure would fail again
                        // (and a second try could sign twice where the first one reached the token).
                        guard (error as? TokenError)?.sessionLost == true else { throw error }
                    }
                } else {
                    current.close()
                }
            }
            let session = try tokens.openSigningSession(uri, pin: owned, options: options, at: time)
            let fresh: Kept
            do {
                fresh = try Kept(session: session, uri: uri.description, pin: owned)
            } catch {
                session.close()
                throw error
            }
            do {
                let result = try signed(on: session, early)
                // A key that asks for its PIN at every signature (CKA_ALWAYS_AUTHENTICATE, PIV's 9C) is never kept:
                // its session would hold the token's login for nothing the next request could use without a PIN.
                if session.alwaysAuthenticate {
                    fresh.close()
                } else {
                    kept.withLock { $0 = fresh }
                }
                return result
            } catch {
                fresh.close()
                throw error
            }
        }
    }

    /// Closes the kept session when it has been idle too long (called every second) or at once (`force`: a token
    /// left, the daemon stops).
    public func expire(force: Bool = false) {
        guard seconds > 0 else { return }
        let stale = kept.withLock { current -> Kept? in
            guard let held = current, force || ContinuousClock.now - held.lastUsed >= .seconds(seconds) else { return nil }
            current = nil
            return held
        }
        stale?.close()
    }
}

/// One thread that runs the jobs given to it one at a time, in the order they came. A caller waits for its own job.
///
/// For the token: a lock handed from one request's thread to the next leaves the token idle until the woken thread
/// gets a core (under load on two cores, perf showed SoftHSM2 idle a third of the time); this thread goes from one
/// signature straight to the next while requests are waiting.
final class SerialWorker: Sendable {
    /// What the caller and the thread share; the thread holds only this, so the worker can go away.
    private final class Queue: @unchecked Sendable {  // `jobs` and `stopped` only under `condition`
        let condition = NSCondition()
        var jobs = [() -> Void]()
        var stopped = false
    }
    private let queue = Queue()

    init(name: String) {
        let queue = self.queue
        let thread = Thread {
            while true {
                queue.condition.lock()
                while queue.jobs.isEmpty && !queue.stopped { queue.condition.wait() }
                guard !queue.jobs.isEmpty else {
                    queue.condition.unlock()
                    return  // stopped, nothing left
                }
                let job = queue.jobs.removeFirst()
                queue.condition.unlock()
                job()
            }
        }
        thread.name = name
        thread.start()
    }

    /// The thread finishes the jobs it has and ends.
    deinit {
        queue.condition.lock()
        queue.stopped = true
        queue.condition.signal()
        queue.condition.unlock()
    }

    /// Runs `body` on the worker's thread after the jobs before it, and returns what it returned or threw; throws
    /// `timeout` when that has not happened within `deadline` seconds. A job whose caller gave up before it started
    /// is skipped.
    func run<T>(deadline: Double, timeout: any Error, _ body: @escaping () throws -> T) throws -> T {
        let job = Job(body)
        queue.condition.lock()
        queue.jobs.append { job.start() }
        queue.condition.signal()
        queue.condition.unlock()
        return try job.wait(deadline: deadline, timeout: timeout)
    }

    /// Runs `body` on a thread of its own (a token job without kept sessions), as `run` does.
    static func alone<T>(deadline: Double, timeout: any Error, _ body: @escaping () throws -> T) throws -> T {
        let job = Job(body)
        let thread = Thread { job.start() }
        thread.name = "token-job"
        thread.start()
        return try job.wait(deadline: deadline, timeout: timeout)
    }

    /// One job and its result, shared by its caller and the thread that runs it.
    private final class Job<T>: @unchecked Sendable {  // `result` and `abandoned` only under `lock`
        private let body: () throws -> T
        private let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var result: Result<T, any Error>?
        private var abandoned = false

        init(_ body: @escaping () throws -> T) { self.body = body }

        func start() {
            guard !lock.withLock({ abandoned }) else { return }
            let outcome = Result { try body() }
            lock.withLock { result = outcome }
            done.signal()
        }

        func wait(deadline: Double, timeout: any Error) throws -> T {
            if done.wait(timeout: .now() + deadline) == .timedOut {
                let outcome = lock.withLock { () -> Result<T, any Error>? in
                    abandoned = true
                    return result
                }
                guard let outcome else { throw timeout }
                return try outcome.get()
            }
            return try lock.withLock { result! }.get()
        }
    }
}
