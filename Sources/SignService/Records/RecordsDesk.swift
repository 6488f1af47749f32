import Foundation
import Hummingbird
import Logging
import SignKit

/// What the records role has and the agent does not: the department's store (SQLite in the state folder, or
/// PostgreSQL shared by every instance), the records workflows over it, and who may come in.
final class RecordsDesk: Sendable {
    let records: Records
    /// Logins, sessions, API keys and the role rules; nil when verification is unavailable (no trust store), so
    /// nobody can log in and only the operator's admin token works.
    let access: Access?
    let history: any HistoryStore
    let accessStore: any AccessStore
    let log: DepartmentLog

    init(
        configuration: ServiceConfiguration, verifier: Verifier?, verifierProblem: String?, documentSigner: DocumentSigner?,
        audit: any AuditTrail, logger: Logger
    ) throws {
        if let postgres = configuration.postgres {
            do {
                let store = try PostgresHistoryStore(
                    url: postgres.url, migrationURL: postgres.migrationURL, deadline: postgres.deadlineSeconds ?? 5, logger: logger)
                history = store
                accessStore = PostgresAccessStore(sharing: store)
                logger.notice("records store", metadata: ["store": "PostgreSQL \(store.pool.location)"])
            } catch {
                throw ConfigurationError("cannot open the PostgreSQL store: \(error)")
            }
        } else {
            do {
                history = try SQLiteHistoryStore(folder: configuration.historyFolder)
                accessStore = try SQLiteAccessStore(folder: configuration.historyFolder)
                logger.notice("records store", metadata: ["store": "SQLite \(configuration.historyFolder)"])
            } catch {
                throw ConfigurationError("cannot open the history store \(configuration.historyFolder): \(error)")
            }
        }
        let intake: ScanIntake, roles: ApprovalRoles?
        do {
            // Uploads stream into the state folder while they are checked (beside SQLite's blobs, so an accepted scan
            // moves in by rename; PostgreSQL copies it into the database).
            intake = try ScanIntake(folder: configuration.historyFolder, limits: configuration.scans.limits)
            roles = try configuration.scans.rolesFile.map { try ApprovalRoles.load($0) }
        } catch {
            throw ConfigurationError("scans: \(error)")
        }
        let service = configuration.serviceName ?? "\(configuration.tls == nil ? "http" : "https")://\(configuration.host):\(configuration.port)"
        // The department log: its leaves read back from the store now, and checked against the latest signed head.
        let origin = configuration.logOrigin ?? Self.logOrigin(service: service)
        let log: DepartmentLog
        do {
            log = try DepartmentLog(origin: origin, store: history)
        } catch {
            throw ConfigurationError("logOrigin: \(error)")
        }
        do {
            let size = try log.rebuild()
            logger.notice("department log", metadata: ["origin": "\(origin)", "leaves": "\(size)"])
        } catch let error as LogError where error.code == .storeDiverged {
            // Refused loudly but not fatal: files can still be read, and proofs against earlier heads served; no new
            // head is signed over this store until an operator looks (docs/history.md "When the store diverges").
            logger.error("department log: \(error.reason); no tree head will be signed over this store")
            _ = try? audit.record(AuditRecord(time: Date(), action: "log-diverged", result: "failed", detail: error.codedDescription), committed: false)
        } catch {
            throw ConfigurationError("cannot read the department log from the store: \(error)")
        }
        self.log = log
        records = Records(
            store: history, verifier: verifier, verifierProblem: verifierProblem, documentSigner: documentSigner, roles: roles,
            rolesSource: configuration.scans.rolesFile, intake: intake, acceptWithoutQR: configuration.scans.acceptWithoutQR, audit: audit,
            log: log)
        if let verifier {
            access = Access(store: accessStore, verifier: verifier, service: service, sessionLifetime: configuration.sessionSeconds, audit: audit)
        } else {
            access = nil
        }
    }

    /// "records.finance.example.gov.in/log" from "https://records.finance.example.gov.in".
    static func logOrigin(service: String) -> String {
        var name = Substring(service)
        if let scheme = name.range(of: "://") { name = name[scheme.upperBound...] }
        while name.hasSuffix("/") { name = name.dropLast() }
        return String(name.filter { $0.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "+" } }) + "/log"
    }

    func close() {
        (history as? PostgresHistoryStore)?.close()
    }
}

/// Who is calling the records service.
enum RecordsCaller: Sendable {
    /// A program on the service's own machine showing the admin token of its state folder: the operator, who
    /// bootstraps the roster and may do anything (signctl on the server).
    case hostOperator
    /// A person logged in with their DSC (a session), or a machine with an API key.
    case principal(Principal)

    /// Who, in audit records: the principal and, for a page, its origin.
    func words(origin: String?) -> String {
        let who =
            switch self {
            case .hostOperator: "operator (admin token)"
            case .principal(let principal): principal.words
            }
        return origin.map { "\(who) via \($0)" } ?? who
    }
}

extension ServiceState {
    /// The records desk; only records-role routes call this, and they exist only in the records role.
    var recordsDesk: RecordsDesk {
        get throws {
            guard let desk else { throw HTTPError(.notFound, message: "this is an agent: files and histories are at the records service") }
            return desk
        }
    }

    /// Who calls (from the Authorization header), refused with 401 when nobody valid is named. The session or key is
    /// looked up in the store off the event loop.
    func recordsCaller(_ context: ServiceRequestContext) async throws -> RecordsCaller {
        let header = context.authorization
        if context.caller.origin == nil, context.fromLoopback, let header, header.hasPrefix("Bearer "),
            Pairings.constantTimeEqual(String(header.dropFirst(7)), adminToken)
        {
            return .hostOperator
        }
        guard let access = try recordsDesk.access else {
            throw RecordsError(.verifierUnavailable, "nobody can log in: \(verifierProblem ?? "verification is unavailable")")
        }
        do {
            return .principal(try await blocking { try access.principal(header, at: Date()) })
        } catch {
            try record(
                AuditRecord(
                    time: Date(), action: "refused", result: "refused", origin: context.caller.origin,
                    detail: "\((error as? any CodedError)?.codedDescription ?? "\(error)")"))
            throw error
        }
    }

    /// The caller, allowed to do `action` on `file` (its department read from the store) or in `department`, for
    /// `minister`, an entry of `kind`; a refusal (403) is audited. Returns the caller and the words for audit records.
    func authorize(
        _ context: ServiceRequestContext, _ action: RecordsAction, file: String? = nil, department: String? = nil, minister: String? = nil,
        kind: EntryKind? = nil
    ) async throws -> (caller: RecordsCaller, who: String) {
        try await authorize(context, caller: try await recordsCaller(context), action, file: file, department: department, minister: minister, kind: kind)
    }

    /// `authorize` for a caller already known (a batch checks many files for one caller).
    func authorize(
        _ context: ServiceRequestContext, caller: RecordsCaller, _ action: RecordsAction, file: String? = nil, department: String? = nil,
        minister: String? = nil, kind: EntryKind? = nil
    ) async throws -> (caller: RecordsCaller, who: String) {
        let who = caller.words(origin: context.caller.origin)
        guard case .principal(let principal) = caller, let access = try recordsDesk.access else { return (caller, who) }
        let store = try recordsDesk.history
        var department = department
        if let file {
            guard let found = try await blocking({ try store.file(file) }) else { throw HistoryError(.unknownFile, "there is no file \(file)") }
            department = found.department
        }
        do {
            try access.authorize(principal, action, department: department, minister: minister, kind: kind)
        } catch {
            try record(
                AuditRecord(
                    time: Date(), action: "refused", result: "refused", origin: who, file: file,
                    detail: "\(action.rawValue): \((error as? any CodedError)?.codedDescription ?? "\(error)")"))
            throw error
        }
        return (caller, who)
    }
}
