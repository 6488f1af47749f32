import Foundation

/// What a caller asks the records service to do; each route names one. The raw values are also API-key scopes.
public enum RecordsAction: String, Codable, Sendable, CaseIterable {
    case listFiles = "list-files"
    case readFile = "read-file"
    case createFile = "create-file"
    /// Append a note or an approval to a file.
    case append
    case requestApproval = "request-approval"
    /// Upload a Minister's hand-signed scan against an approval request.
    case uploadScan = "upload-scan"
    /// The department's daily report.
    case readReport = "read-report"
    case exportBundle = "export-bundle"
    /// Verify a signature (no file is read).
    case verify
    case manageRoster = "manage-roster"
    case manageKeys = "manage-keys"

    /// True for the actions that act on one department's files or figures (every one but verify and management).
    public var isDepartmental: Bool { ![.verify, .manageRoster, .manageKeys].contains(self) }
}

/// Who is asking: a roster member logged in with their DSC, or a machine with an API key.
public enum Principal: Sendable, Equatable {
    case member(RosterMember)
    case machine(APIKey)

    /// The one department this principal may see, nil when it may see every department (an auditor, a key for
    /// every department). A route that lists files or reports filters by it.
    public var departmentLimit: String? {
        switch self {
        case .member(let member): member.role == .auditor ? nil : member.department
        case .machine(let key): key.department
        }
    }

    /// How refusals name the principal.
    public var words: String {
        switch self {
        case .member(let member): "\(member.name) (\(member.role.rawValue), \(member.department))"
        case .machine(let key): "API key \(key.id) (\(key.name))"
        }
    }
}

/// The rules of issue 18, item 4: what each role may do, where. Departments and Ministers compare exactly as the
/// roster and the files spell them.
///
/// | role | may |
/// | --- | --- |
/// | officer | list, read, export, create files, append, request approvals: in their department |
/// | Minister | list, read, export; append approvals only: in their department |
/// | PPS/PS | list and read their department's files; upload scans for their own Minister (any department) |
/// | nodal officer | read the daily report, list, read, export: in their department |
/// | auditor | list, read, export, read reports: in every department; nothing else |
/// | admin | manage the roster and the API keys; list, read, export, read reports in their department |
///
/// Every member may verify. An API key may do exactly its scopes, in its department when it names one.
public enum AccessRules {
    /// Refuses (`forbidden`) unless `principal` may do `action` on a file or report of `department` (nil: of every
    /// department, as a list across departments asks), for `minister` (an upload's approval request's Minister), and,
    /// for an append, an entry of `kind` (a Minister appends approvals only; nil is not an approval).
    public static func authorize(
        _ principal: Principal, _ action: RecordsAction, department: String?, minister: String? = nil, kind: EntryKind? = nil
    ) throws(AccessError) {
        func refuse(_ why: String) -> AccessError { AccessError(.forbidden, "\(principal.words) may not \(why)") }
        let whose = department.map { "in \($0)" } ?? "across every department"
        switch principal {
        case .machine(let key):
            guard key.allows(action) else { throw refuse("\(action.rawValue): the key's scopes are \(key.scopes.joined(separator: ", "))") }
            if action.isDepartmental, let own = key.department, department != own {
                throw refuse("\(action.rawValue) \(whose): the key is for \(own) only")
            }
        case .member(let member):
            if action == .verify { return }
            guard allowed(member.role).contains(action) else { throw refuse(action.rawValue) }
            if action == .uploadScan {
                guard let minister, minister == member.minister else {
                    throw refuse("upload a scan for \(minister ?? "an unnamed Minister"): they are the PPS/PS of \(member.minister ?? "no Minister")")
                }
                return
            }
            if action.isDepartmental, member.role != .auditor, department != member.department {
                throw refuse("\(action.rawValue) \(whose)")
            }
            if action == .append, member.role == .minister, kind != .approval {
                throw refuse("append a \(kind?.rawValue ?? "entry") that is not an approval")
            }
        }
    }

    /// What each role may do at all (where is checked after).
    static func allowed(_ role: RosterRole) -> Set<RecordsAction> {
        switch role {
        case .officer: [.listFiles, .readFile, .exportBundle, .createFile, .append, .requestApproval]
        case .minister: [.listFiles, .readFile, .exportBundle, .append]
        case .pps: [.listFiles, .readFile, .uploadScan]
        case .nodal: [.listFiles, .readFile, .exportBundle, .readReport]
        case .auditor: [.listFiles, .readFile, .exportBundle, .readReport]
        case .admin: [.listFiles, .readFile, .exportBundle, .readReport, .manageRoster, .manageKeys]
        }
    }
}
