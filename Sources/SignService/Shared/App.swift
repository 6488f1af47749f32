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
    let pairings: Pairings
    let adminToken: String
    let monitor: TokenMonitor
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
        // One daemon per state folder: a second one would fork the audit chain and race the first for the tokens.
        stateLock = try Self.lock(folder: state)
        audit = try AuditLog(path: ServicePaths.auditLog(in: state))
        let trail = DaemonAudit(log: audit, logger: logger)
        self.trail = trail
        let kept = KeptSession(seconds: configuration.keepTokenSessionSeconds)
        keptSession = kept
        pairings = try Pairings(file: ServicePaths.pairings(in: state), lifetime: configuration.pairingCodeLifetime)
        adminToken = try Self.adminToken(path: ServicePaths.adminToken(in: state))
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
                trust: trust, revocation: RevocationChecker(options: RevocationOptions(online: true, cacheDirectory: ServicePaths.revocationCache(in: state))))
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

    func record(_ record: AuditRecord, committed: Bool) throws {
        do {
            try log.append(record)
        } catch {
            logger.error("audit log write failed", metadata: ["reason": "\(error)", "action": "\(record.action)", "committed": "\(committed)"])
            throw AuditError(
                committed
                    ? "\(record.action) was done and stored, but the audit log cannot be written; see the daemon's log"
                    : "the audit log cannot be written; nothing was done")
        }
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
    let server: HTTPServerBuilder
    if let tls = configuration.tls {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
            var settings = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            settings.minimumTLSVersion = .tlsv12
            server = try .tls(.http1(), tlsConfiguration: settings)
        } catch {
            throw ConfigurationError("tls: cannot load \(tls.certificateChain) and \(tls.privateKey): \(error)")
        }
    } else {
        server = .http1()
    }
    let scheme = configuration.tls == nil ? "http" : "https"
    var app = Application(
        router: role == .agent ? buildRouter(state) : try buildRecordsRouter(state),
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "SignService"),
        services: role == .agent ? [state.monitor] : [],
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
        }
        state.keptSession.expire(force: true)
        state.documentSigner?.close()
        state.desk?.close()
        _ = try? state.audit.append(AuditRecord(time: Date(), action: "stopped", result: "ok"))
    }
}
