import Dispatch
import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// Where a PostgreSQL database is, read from a URL
/// (`postgres://user:password@host:port/database?sslmode=verify-full&sslrootcert=/path/root.pem&search_path=schema`).
///
/// `sslmode` is `disable` (loopback test servers only), `require` (encrypted, server not authenticated) or
/// `verify-full` (the default: encrypted, the server's certificate checked against `sslrootcert`, or the system's
/// roots, and its name against the host).
public struct PostgresLocation: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable { case disable, require, verifyFull = "verify-full" }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    public var rootCertificate: String?
    /// The schema the tables live in (`search_path=records_it`): one database can hold several departments' stores.
    public var schema: String?

    public init(url text: String) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else {
            throw HistoryError(.invalidRequest, "a PostgreSQL location is postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=...; this one does not read")
        }
        self.host = host
        port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? self.user : path
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        guard let mode = TLSMode(rawValue: query["sslmode"] ?? "verify-full") else {
            throw HistoryError(.invalidRequest, "sslmode must be disable, require or verify-full, not \(query["sslmode"] ?? "")")
        }
        tls = mode
        rootCertificate = query["sslrootcert"]
        if let schema = query["search_path"] {
            guard !schema.isEmpty, schema.count <= 63, schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw HistoryError(.invalidRequest, "search_path must be one schema name (letters, digits, _), not \(schema)")
            }
            self.schema = schema
        }
    }

    /// The location without its password, for messages and logs.
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)" + (schema.map { " schema \($0)" } ?? "") + " (sslmode \(tls.rawValue))"
    }

    func clientConfiguration() throws -> PostgresClient.Configuration {
        let tlsSetting: PostgresClient.Configuration.TLS
        switch tls {
        case .disable:
            tlsSetting = .disable
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            tlsSetting = .require(configuration)
        case .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if let rootCertificate {
                guard FileManager.default.isReadableFile(atPath: rootCertificate) else {
                    throw HistoryError(.invalidRequest, "sslrootcert \(rootCertificate) cannot be read")
                }
                configuration.trustRoots = .file(rootCertificate)
            }
            tlsSetting = .require(configuration)
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tlsSetting)
        if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        return configuration
    }
}

/// A pool of connections to one PostgreSQL database, used from blocking code.
///
/// SignKit's stores are synchronous (the daemon calls them on threads that may block, never on an event loop);
/// postgres-nio is async. Each call here runs its async work as a task whose jobs execute on a dispatch queue, not
/// on Swift's cooperative pool, and waits for it with a deadline: a caller on any thread (a test on the
/// cooperative pool included) cannot starve the task it waits for. A database that is down, unreachable or
/// shutting down answers `HistoryError(.unavailable)` within the deadline; the pool reconnects by itself when it
/// is back, so the service resumes without a restart.
public final class PostgresPool: Sendable {
    public let location: PostgresLocation
    let client: PostgresClient
    private let runner: Task<Void, Never>
    /// The longest a call waits for the database (connecting included).
    let deadline: Double
    /// Set when the database was last found away (unreachable, shutting down, or silent past the deadline); cleared by
    /// the next call that succeeds. While set, calls wait `quickDeadline` at most: a database that is down answers
    /// 503 at once instead of holding every request for the full deadline, and the first call after it is back clears
    /// it. (postgres-nio's own circuit breaker trips only after 60 s of failed connections.)
    private let away = Mutex(false)
    static let quickDeadline = 1.5
    let logger: Logger

    public init(_ location: PostgresLocation, maximumConnections: Int = 20, deadline: Double = 5, logger: Logger) throws {
        self.location = location
        self.deadline = deadline
        self.logger = logger
        var configuration = try location.clientConfiguration()
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(Int64(max(1, min(deadline, 5))))
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task(executorPreference: BlockingQueueExecutor.shared) { await client.run() }
    }

    /// Stops the pool: its connections close, later calls fail.
    public func close() {
        runner.cancel()
    }

    /// Runs `body` with a pooled connection and waits for it (at most `deadline` seconds).
    func run<T: Sendable>(_ what: String, deadline: Double? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) throws -> T {
        try wait(what, deadline: deadline ?? self.deadline) { [client] in try await client.withConnection { connection in try await body(connection) } }
    }

    /// Runs `body` in one transaction (BEGIN … COMMIT, ROLLBACK on any error) and waits for it. An error thrown by
    /// `body` is rethrown as it is; a failed COMMIT is `unavailable` (the outcome is unknown: a retry of the same
    /// signed append is answered with the stored entry, never a duplicate).
    func transaction<T: Sendable>(
        _ what: String, deadline: Double? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) throws -> T {
        try run(what, deadline: deadline) { [logger] connection in
            try await connection.query("BEGIN", logger: logger)
            let value: T
            do {
                value = try await body(connection)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            try await connection.query("COMMIT", logger: logger)
            return value
        }
    }

    private func wait<T: Sendable>(_ what: String, deadline: Double, _ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        let task = Task(executorPreference: BlockingQueueExecutor.shared) {
            do {
                box.result = .success(try await body())
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        let limit = away.withLock { $0 } ? Self.quickDeadline : deadline
        guard done.wait(timeout: .now() + limit) == .success, let result = box.result else {
            task.cancel()
            away.withLock { $0 = true }
            throw HistoryError(
                .unavailable, "the database \(location) did not answer within \(limit) s (\(what)); it may be down or restarting; try again shortly")
        }
        switch result {
        case .success(let value):
            away.withLock { $0 = false }
            return value
        case .failure(let error):
            let described = Self.describe(error, what: what, location: location)
            if let coded = described as? HistoryError, coded.code == .unavailable { away.withLock { $0 = true } }
            throw described
        }
    }

    /// A store error in words: the database away (unreachable, shutting down, out of connections) is `unavailable`,
    /// anything else `storage` with PostgreSQL's own message and SQLSTATE.
    static func describe(_ error: any Error, what: String, location: PostgresLocation) -> any Error {
        switch error {
        case is HistoryError:
            return error
        case let error as PSQLError:
            if let info = error.serverInfo {
                let state = info[.sqlState] ?? "?"
                let message = info[.message] ?? "no message"
                // 08: connection exceptions; 57: operator intervention (shutdown, terminated); 53: out of resources.
                if ["08", "57", "53"].contains(String(state.prefix(2))) {
                    return HistoryError(
                        .unavailable, "the database \(location) is not serving (\(message), SQLSTATE \(state)); cannot \(what); try again shortly")
                }
                return HistoryError(.storage, "cannot \(what): PostgreSQL says \(message) (SQLSTATE \(state))")
            }
            let underlying = error.underlying.map { ": \($0)" } ?? ""
            return HistoryError(.unavailable, "the database \(location) cannot be reached (\(error.code)\(underlying)); cannot \(what); try again shortly")
        case is CancellationError:
            return HistoryError(.unavailable, "the database \(location) did not answer (\(what)); try again shortly")
        default:
            return HistoryError(.storage, "cannot \(what): \(String(reflecting: error))")
        }
    }
}

/// The outcome of a task, handed to the thread that waits for it (written before the semaphore is signalled, read
/// after the wait returns).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

/// Runs task jobs on threads of its own, neither Swift's cooperative pool nor libdispatch's global queues: the
/// callers of `PostgresPool` block while they wait, and on Linux both of those pools are as wide as the machine has
/// cores (two here), with libdispatch adding a thread at most once a second when they are all blocked. Jobs waiting
/// on a blocked pool stalled a records service at 8 concurrent requests (0.8 appends/s, each taking 13 s; seen with
/// gdb in SignBench records); on threads of their own the waiters and the work they wait for never compete.
final class BlockingQueueExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = BlockingQueueExecutor(threads: 4)
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var next = 0

    init(threads: Int) {
        for index in 0..<threads {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "signkit-postgres-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while next == jobs.count { condition.wait() }
            let job = jobs[next]
            next += 1
            if next > 1024 && next * 2 > jobs.count {  // drop what has run, now and then, not on every job
                jobs.removeFirst(next)
                next = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
