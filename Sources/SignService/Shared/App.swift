import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOPosix
import NIOSSL
import Logging
import ServiceLifecycle
import Synchronization
import SignKit

/// Who is calling, as the browser guard established it.
enum Caller: Sendable {
    /// A web page from an allowed origin, paired (it showed a valid token for its origin).
    case paired(origin: String)
    /// A web page from an allowed origin without (or before) pairing.
    case page(origin: String)
    /// A local program (no Origin header) that showed the admin token from the state folder.
    case local
    /// A local program without the admin token.
    case anonymous

    var origin: String? {
        switch self {
        case .paired(let origin), .page(let origin): origin
        case .local, .anonymous: nil
        }
    }
}

struct ServiceRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var caller: Caller = .anonymous
    /// The Authorization header as sent (the records role reads sessions and API keys from it).
    var authorization: String?
    /// Set once at start from the configuration (maximumRequestBytes plus room for base64 and JSON).
    nonisolated(unsafe) static var uploadLimit = 48 * 1024 * 1024
    var maxUploadSize: Int { Self.uploadLimit }
    /// Every JSON answer in one form: sorted keys, times as 2026-11-23T07:01:49Z.
    var responseEncoder: JSONEncoder { JSONOutput.encoder(pretty: false) }

    /// The peer is on this machine (the operator's admin token is taken from loopback peers only).
    let fromLoopback: Bool

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        switch source.channel.remoteAddress {
        case .v4(let address)?: fromLoopback = address.host.hasPrefix("127.")
        case .v6(let address)?: fromLoopback = address.host == "::1" || address.host.hasPrefix("::ffff:127.")
        case .unixDomainSocket?: fromLoopback = true
        default: fromLoopback = false
        }
    }
}

/// Everything the routes share: the configuration, the SignKit workflows they call, and the audit log those write to.
final class ServiceState: Sendable {
    let role: DaemonRole
    let configuration: ServiceConfiguration
    let logger: Logger
    /// The state folder's lock file, held (flock) for the daemon's life; it holds the daemon's pid.
    let stateLock: Int32
    let audit: AuditLog
    let trail: DaemonAudit
    /// Refused requests, written in full up to a rate and summarised beyond it.
    let refusals: Refusals
    let pairings: Pairings
    let adminToken: String
    let monitor: TokenMonitor
    /// Token event streams open now (at most maximumEventStreams).
    let eventStreams: Slots
    let tokens: TokenManager
    let verifier: Verifier?
    let verifierProblem: String?
    let keptSession: KeptSession
    let documentSigner: DocumentSigner?
    /// Signs extracts for pages and local programs (Workflows/ExtractSigning.swift).
    let signer: ExtractSigner
    let signing: AgentSigningSettings
    /// The records role's desk: files, entries, approval requests, scans, reports, bundles (Workflows/Records.swift)
    /// and who may come in (Access/). Nil in the agent.
    let desk: RecordsDesk?
    init(configuration: ServiceConfiguration, role: DaemonRole, logger: Logger) throws {
        self.role = role
        self.configuration = configuration
        self.logger = logger
        let state = configuration.stateDirectory
        do {
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigurationError("cannot make the state folder \(state): \(error.localizedDescription)")
        }
        try Self.checkOwnership(folder: state)
        // One daemon per state folder: a second one would fork the audit chain and race the first for the tokens.
        stateLock = try Self.lock(folder: state)
        audit = try AuditLog(path: ServicePaths.auditLog(in: state))
        let trail = DaemonAudit(log: audit, logger: logger)
        self.trail = trail
        refusals = Refusals(trail: trail)
        if audit.repairedBytes > 0 {
            logger.warning(
                "the audit log ended in a torn line (a write cut short); it was cut back to its last whole record",
                metadata: ["bytes": "\(audit.repairedBytes)"])
            try trail.record(
                AuditRecord(
                    time: Date(), action: "audit-repaired", result: "ok",
                    detail: "\(audit.repairedBytes) bytes of a torn last line cut off (a write cut short by a crash or a full disk)"),
                committed: false)
        }
        let kept = KeptSession(seconds: configuration.keepTokenSessionSeconds, deadline: configuration.tokenDeadlineSeconds)
        keptSession = kept
        pairings = try Pairings(
            file: ServicePaths.pairings(in: state), lifetime: configuration.pairingCodeLifetime, tokenDays: configuration.pairingTokenDays)
        adminToken = try Self.adminToken(path: ServicePaths.adminToken(in: state))
        eventStreams = Slots(configuration.maximumEventStreams)
        let manager = TokenManager(
            configuration: TokenConfiguration(
                discovery: ModuleDiscovery(configuredModules: configuration.modules),
                catalogue: try ATRCatalogue.bundled()), logger: logger)
        tokens = manager
        // Any card or reader change: where keys were found is forgotten (a new token may share a label), and a kept
        // session on a pulled token is closed at once rather than at its next use or idle expiry.
        monitor = TokenMonitor(logger: logger) { events in
            manager.forgetLocations()
            if events.contains(where: { $0.type == "card-removed" || $0.type == "reader-removed" }) { kept.expire(force: true) }
        }
        var chain = [X509Certificate]()
        if let chainFile = configuration.chainFile {
            guard let text = try? String(contentsOfFile: chainFile, encoding: .utf8), let certificates = try? X509Certificate.fromPEM(text),
                !certificates.isEmpty
            else { throw ConfigurationError("chainFile \(chainFile) does not hold PEM certificates") }
            chain = certificates
        }
        // Bundles are exported here and unlinked as soon as they are open for sending; a crash can leave one.
        try? FileManager.default.removeItem(atPath: state + "/exports")
        do {
            documentSigner = try configuration.documentSigner.map { try DocumentSigner($0, tokens: manager, logger: logger) }
        } catch let error as DocumentSignerError {
            throw ConfigurationError(error.reason)
        }
        let trustFolder = configuration.trustDirectory ?? Self.defaultTrust()
        do {
            let trust = try TrustStore.load(directory: trustFolder)
            verifier = Verifier(
                trust: trust,
                revocation: RevocationChecker(
                    options: RevocationOptions(
                        online: true, cacheDirectory: ServicePaths.revocationCache(in: state),
                        fetcher: GuardedFetcher(allowPrivateAddresses: configuration.fetchFromPrivateAddresses))))
            verifierProblem = nil
        } catch {
            verifier = nil
            verifierProblem = "no trust store: \(error)"
            logger.warning("verification is unavailable", metadata: ["trust": "\(trustFolder)", "reason": "\(error)"])
        }
        signing = AgentSigningSettings(
            pinEntry: configuration.pinEntry, pinentryProgram: configuration.pinentryProgram, chain: chain,
            timeStampAuthority: configuration.timeStampAuthority.flatMap(URL.init(string:)).map { TimeStampAuthority(url: $0, timeout: 10) },
            maximumExtractBytes: configuration.maximumRequestBytes)
        signer = ExtractSigner(tokens: manager, sessions: kept, audit: trail)
        desk =
            role == .records
            ? try RecordsDesk(
                configuration: configuration, verifier: verifier, verifierProblem: verifierProblem, documentSigner: documentSigner, audit: trail,
                logger: logger) : nil
    }

    /// The state folder and the files the daemon trusts in it (audit log, pairings, admin token, lock) must be this
    /// user's, closed to others and not symbolic links: another local user who could swap or read one could forge
    /// pairings, read the admin token or redirect the audit log. Refuses to start otherwise, naming the file and
    /// the fix.
    static func checkOwnership(folder: String) throws {
        func check(_ path: String, folder isFolder: Bool) throws {
            var info = stat()
            guard lstat(path, &info) == 0 else {
                if errno == ENOENT && !isFolder { return }
                throw ConfigurationError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            let kind = info.st_mode & S_IFMT
            guard kind != S_IFLNK else {
                throw ConfigurationError("\(path) is a symbolic link; the daemon's state files must be plain files in its own folder")
            }
            guard kind == (isFolder ? S_IFDIR : S_IFREG) else { throw ConfigurationError("\(path) is not a \(isFolder ? "folder" : "plain file")") }
            guard info.st_uid == geteuid() else {
                throw ConfigurationError("\(path) belongs to user \(info.st_uid), not to the daemon's user \(geteuid()); chown it or use another --state-dir")
            }
            let open = info.st_mode & (isFolder ? 0o022 : 0o077)
            guard open == 0 else {
                throw ConfigurationError(
                    "\(path) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))); chmod \(isFolder ? "700" : "600") it")
            }
        }
        try check(folder, folder: true)
        for path in [
            ServicePaths.auditLog(in: folder), ServicePaths.pairings(in: folder), ServicePaths.adminToken(in: folder), folder + "/daemon.lock",
        ] {
            try check(path, folder: false)
        }
    }

    /// Takes the state folder's lock (`daemon.lock`, 0600) or names the daemon holding it. The lock goes with the
    /// process (a crash or kill -9 frees it), so a stale pid in the file never blocks a start.
    static func lock(folder: String) throws -> Int32 {
        let path = folder + "/daemon.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(descriptor, &buffer, buffer.count)
            close(descriptor)
            let holder = count > 0 ? String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            guard reason == EWOULDBLOCK else { throw ConfigurationError("cannot lock \(path): \(String(cString: strerror(reason)))") }
            throw ConfigurationError("another SignService (pid \(holder)) is running on the state folder \(folder); stop it first or give another --state-dir")
        }
        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(descriptor, 0) == 0, pwrite(descriptor, pid, pid.count, 0) == pid.count else {
            close(descriptor)
            throw ConfigurationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    /// The test PKI's trust folder when run from the repository (the README's first command), else the system's.
    static func defaultTrust() -> String {
        let repository = FileManager.default.currentDirectoryPath + "/TestCerts/trust"
        return FileManager.default.fileExists(atPath: repository) ? repository : "/etc/signservice/trust"
    }

    /// The admin token local programs (signctl) show: random, in a 0600 file only the daemon's user can read.
    static func adminToken(path: String) throws -> String {
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if token.count >= 32 { return token }
        }
        let token = Pairings.random(bytes: 32)
        try AtomicFile.write(Array((token + "\n").utf8), to: path, mode: 0o600)
        return token
    }

    /// Appends to the audit log (see DaemonAudit).
    func record(committed: Bool = false, _ record: AuditRecord) throws {
        try trail.record(record, committed: committed)
    }

    /// Audits a refused request, rate-limited (see Refusals).
    func refused(_ kind: String, origin: String?, detail: String) throws {
        try refusals.record(
            AuditRecord(time: Date(), action: "refused", result: "refused", origin: origin.map { BrowserGuard.clipped($0) }, detail: detail), kind: kind)
    }
}

/// A count of things open at once (event streams), up to a limit.
final class Slots: Sendable {
    let limit: Int
    private let used = Mutex(0)

    init(_ limit: Int) { self.limit = limit }

    /// One slot, or nil when all are taken. Give it back with `release()`.
    func take() -> Slot? {
        used.withLock { used in
            guard used < limit else { return nil }
            used += 1
            return Slot(self)
        }
    }

    fileprivate func give() { used.withLock { $0 -= 1 } }

    /// A taken slot; released once, however often `release()` is called.
    final class Slot: Sendable {
        private let slots: Slots
        private let released = Mutex(false)
        fileprivate init(_ slots: Slots) { self.slots = slots }
        func release() {
            if released.withLock({ was in
                defer { was = true }; return !was
            }) {
                slots.give()
            }
        }
        deinit { release() }
    }
}

/// The daemon's audit log as the workflows write to it. Most actions are recorded before they happen, so a log that
/// cannot be written stops them (nothing is signed unaudited); `committed` says the action already took effect (a
/// history append), and the error then says so.
final class DaemonAudit: AuditTrail {
    let log: AuditLog
    let logger: Logger

    init(log: AuditLog, logger: Logger) {
        self.log = log
        self.logger = logger
    }

    func record(_ records: [AuditRecord], committed: Bool) throws {
        do {
            try log.append(contentsOf: records.map(Self.clipped))
        } catch {
            let action = (records.first?.action ?? "?") + (records.count > 1 ? " (\(records.count) records)" : "")
            logger.error("audit log write failed", metadata: ["reason": "\(error)", "action": "\(action)", "committed": "\(committed)"])
            throw AuditError(
                committed
                    ? "\(action) was done and stored, but the audit log cannot be written; see the daemon's log"
                    : "the audit log cannot be written; nothing was done")
        }
    }

    func record(_ record: AuditRecord, committed: Bool) throws {
        try self.record([record], committed: committed)
    }

    /// Fields a caller may have chosen (a refused request's file number, an error quoting it) cut short: a paired
    /// page sending 100 KB file numbers must not write 100 KB fsynced lines.
    static func clipped(_ record: AuditRecord) -> AuditRecord {
        var record = record
        record.origin = record.origin.map { BrowserGuard.clipped($0) }
        record.file = record.file.map { BrowserGuard.clipped($0, limit: ExtractSigningRequest.maximumFieldLength) }
        record.note = record.note.map { BrowserGuard.clipped($0, limit: ExtractSigningRequest.maximumFieldLength) }
        record.detail = record.detail.map { BrowserGuard.clipped($0, limit: 600) }
        return record
    }
}

/// Threads for work that blocks (PKCS#11, PC/SC, OpenSSL's network fetches, SQLite, waits on PostgreSQL), apart
/// from the event loops, Swift's cooperative pool and libdispatch's global queues, which are all as wide as the
/// machine has cores: blocking those stalled the records service (SignBench records: 8 concurrent appends took 13 s
/// each; libdispatch adds a thread at most once a second). 32 threads: more blocked requests than a department's
/// instance sees at once; the rest queue.
let blockingPool: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: 32)
    pool.start()
    return pool
}()

/// Runs `body` on a thread that may block (see `blockingPool`), not on the event loop.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await blockingPool.runIfActive { try body() }
}

public func buildApplication(_ configuration: ServiceConfiguration, role: DaemonRole = .agent) throws -> some ApplicationProtocol {
    var configuredLogger = Logger(label: "signservice")
    configuredLogger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
    let logger = configuredLogger
    ServiceRequestContext.uploadLimit = configuration.maximumRequestBytes * 4 / 3 + 64 * 1024
    let state = try ServiceState(configuration: configuration, role: role, logger: logger)
    try state.record(
        AuditRecord(
            time: Date(), action: "started", result: "ok",
            detail: "SignService \(SignKitVersion.string) (\(role.rawValue)) on \(configuration.host):\(configuration.port)"))
    if role == .agent {
        switch configuration.pinEntry {
        case .request:
            logger.warning(
                "pinEntry is \"request\": officers type their PIN into the web page, where any script on it (an XSS, an extension) can read it; use \"pinentry\""
            )
        case .pinentry:
            if let program = configuration.pinentryProgram, !FileManager.default.isExecutableFile(atPath: program) {
                logger.warning(
                    "pinentryProgram \(program) is not an executable: signing will fail until a pinentry is installed (apt install pinentry-gnome3)")
            }
        }
    }
    // Slow or idle connections are closed, and at most maximumConnections are served at once (more wait in the
    // listen queue): a page or local process cannot hold the agent's sockets open. Headers are capped to 32 KiB.
    let http1 = HTTP1Channel.Configuration(
        idleTimeout: .milliseconds(Int64(configuration.idleTimeoutSeconds * 1000)),
        httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100))
    let server: HTTPServerBuilder
    if let tls = configuration.tls {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
            var settings = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            settings.minimumTLSVersion = .tlsv12
            server = try .tls(.http1(configuration: http1), tlsConfiguration: settings)
        } catch {
            throw ConfigurationError("tls: cannot load \(tls.certificateChain) and \(tls.privateKey): \(error)")
        }
    } else {
        server = .http1(configuration: http1)
    }
    let scheme = configuration.tls == nil ? "http" : "https"
    var app = Application(
        router: role == .agent ? buildRouter(state) : try buildRecordsRouter(state),
        server: server,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "SignService",
            availableConnectionsDelegate: MaximumAvailableConnections(configuration.maximumConnections, logger: logger)),
        services: role == .agent
            ? [state.monitor]
            : state.desk.map {
                [TreeHeadPublisher(records: $0.records, interval: .milliseconds(configuration.treeHeadIntervalMilliseconds), logger: logger)]
            } ?? [],
        onServerRunning: { channel in
            logger.notice("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            // One plain line on stdout for the person (or script) that started it: where it answers, how to stop it.
            let port = channel.localAddress?.port.map(String.init) ?? String(configuration.port)
            let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
            let line =
                "SignService \(role == .agent ? "" : "records ")ready on \(scheme)://\(host):\(port) (pid \(getpid()), state \(configuration.stateDirectory)); "
                + "stop it with Ctrl-C or kill \(getpid())\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        },
        logger: logger
    )
    app.addServices(AuditOnStop(state: state))
    return app
}

/// Closes idle kept sessions; on a graceful shutdown (SIGTERM) closes every session and writes the "stopped"
/// audit record.
struct AuditOnStop: Service {
    let state: ServiceState
    func run() async throws {
        // Kept sessions close after their idle time, checked every second, and all of them at the end.
        // A cancelled task (the group ending for another reason) stops the loop too: sleep throws at once then.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(1))
            } catch {
                break
            }
            state.keptSession.expire()
            state.refusals.flush()
        }
        state.keptSession.expire(force: true)
        state.documentSigner?.close()
        state.desk?.close()
        _ = try? state.audit.append(AuditRecord(time: Date(), action: "stopped", result: "ok"))
    }
}
