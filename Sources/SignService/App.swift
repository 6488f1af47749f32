import Foundation
import Hummingbird
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
    /// Set once at start from the configuration (maximumRequestBytes plus room for base64 and JSON).
    nonisolated(unsafe) static var uploadLimit = 48 * 1024 * 1024
    var maxUploadSize: Int { Self.uploadLimit }
    /// Every JSON answer in one form: sorted keys, times as 2026-11-23T07:01:49Z.
    var responseEncoder: JSONEncoder { JSONOutput.encoder(pretty: false) }

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// Everything the routes share.
final class ServiceState: Sendable {
    let configuration: ServiceConfiguration
    let logger: Logger
    let audit: AuditLog
    let pairings: Pairings
    let adminToken: String
    let monitor: TokenMonitor
    let tokens: TokenManager
    let verifier: Verifier?
    let verifierProblem: String?
    let chain: [X509Certificate]
    let history: SQLiteHistoryStore
    /// Uploads of scans stream here (beside the store, so an accepted scan moves into it without a copy).
    let intake: ScanIntake
    let roles: ApprovalRoles?
    let documentSigner: DocumentSigner?
    let keptSession: KeptSession
    init(configuration: ServiceConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let state = configuration.stateDirectory
        do {
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigurationError("cannot make the state folder \(state): \(error.localizedDescription)")
        }
        audit = try AuditLog(path: ServicePaths.auditLog(in: state))
        let kept = KeptSession(seconds: configuration.keepTokenSessionSeconds)
        keptSession = kept
        pairings = try Pairings(file: ServicePaths.pairings(in: state), lifetime: configuration.pairingCodeLifetime)
        adminToken = try Self.adminToken(path: ServicePaths.adminToken(in: state))
        let manager = TokenManager(configuration: TokenConfiguration(discovery: ModuleDiscovery(configuredModules: configuration.modules),
                                                                     catalogue: try ATRCatalogue.bundled()), logger: logger)
        tokens = manager
        // Any card or reader change: where keys were found is forgotten (a new token may share a label), and a kept
        // session on a pulled token is closed at once rather than at its next use or idle expiry.
        monitor = TokenMonitor(logger: logger) { events in
            manager.forgetLocations()
            if events.contains(where: { $0.type == "card-removed" || $0.type == "reader-removed" }) { kept.expire(force: true) }
        }
        if let chainFile = configuration.chainFile {
            guard let text = try? String(contentsOfFile: chainFile, encoding: .utf8), let certificates = try? X509Certificate.fromPEM(text),
                  !certificates.isEmpty else { throw ConfigurationError("chainFile \(chainFile) does not hold PEM certificates") }
            chain = certificates
        } else {
            chain = []
        }
        do {
            history = try SQLiteHistoryStore(folder: configuration.historyFolder)
        } catch {
            throw ConfigurationError("cannot open the history store \(configuration.historyFolder): \(error)")
        }
        do {
            intake = try ScanIntake(folder: configuration.historyFolder, limits: configuration.scans.limits)
            roles = try configuration.scans.rolesFile.map { try ApprovalRoles.load($0) }
        } catch {
            throw ConfigurationError("scans: \(error)")
        }
        // Bundles are exported here and unlinked as soon as they are open for sending; a crash can leave one.
        try? FileManager.default.removeItem(atPath: state + "/exports")
        documentSigner = try configuration.documentSigner.map { try DocumentSigner($0, tokens: manager, logger: logger) }
        let trustFolder = configuration.trustDirectory ?? Self.defaultTrust()
        do {
            let trust = try TrustStore.load(directory: trustFolder)
            verifier = Verifier(trust: trust, revocation: RevocationChecker(options: RevocationOptions(online: true, cacheDirectory: ServicePaths.revocationCache(in: state))))
            verifierProblem = nil
        } catch {
            verifier = nil
            verifierProblem = "no trust store: \(error)"
            logger.warning("verification is unavailable", metadata: ["trust": "\(trustFolder)", "reason": "\(error)"])
        }
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

    /// Appends to the audit log. Most actions are recorded before they happen, so a log that cannot be written stops
    /// them (nothing is signed unaudited); `committed` says the action already took effect (a history append), and
    /// the error then says so.
    func record(committed: Bool = false, _ record: AuditRecord) throws {
        do {
            try audit.append(record)
        } catch {
            logger.error("audit log write failed", metadata: ["reason": "\(error)", "action": "\(record.action)", "committed": "\(committed)"])
            throw HTTPError(.internalServerError, message: committed
                ? "\(record.action) was done and stored, but the audit log cannot be written; see the daemon's log"
                : "the audit log cannot be written; nothing was done")
        }
    }
}

/// Runs `body` on a thread that may block (PKCS#11, PC/SC, OpenSSL network fetches), not on the event loop.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

public func buildApplication(_ configuration: ServiceConfiguration) throws -> some ApplicationProtocol {
    var configuredLogger = Logger(label: "signservice")
    configuredLogger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
    let logger = configuredLogger
    ServiceRequestContext.uploadLimit = configuration.maximumRequestBytes * 4 / 3 + 64 * 1024
    let state = try ServiceState(configuration: configuration, logger: logger)
    try state.record(AuditRecord(action: "started", result: "ok", detail: "SignService \(SignKitVersion.string) on \(configuration.host):\(configuration.port)"))
    var app = Application(
        router: buildRouter(state),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "SignService"),
        services: [state.monitor],
        onServerRunning: { channel in
            logger.notice("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
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
        try? state.audit.append(AuditRecord(action: "stopped", result: "ok"))
    }
}
