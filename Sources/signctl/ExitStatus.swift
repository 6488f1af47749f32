import SignKit

/// The exit codes of signctl, documented in `SignCtl.configuration` (`signctl --help`).
enum ExitStatus: Int32 {
    case success = 0
    /// The thing asked about does not hold or was refused: verify TOTAL-FAILED, a problem found in a bundle or the
    /// audit log, a scan for another request, the daemon's refusal of an upload.
    case failure = 1
    /// verify: INDETERMINATE (not enough to decide: revocation unknown, a path not built).
    case indeterminate = 2
    /// Usage error or unreadable input.
    case usage = 3
    /// Token or PIN error: wrong PIN, locked token, token removed, key not found.
    case token = 4
    /// Environment: pcscd not running, no PKCS#11 module loads, a server unreachable, the daemon failed.
    case environment = 5

    /// The one table from an error's code to the exit status. A code not listed is a problem with the input (3).
    static let table: [String: ExitStatus] = [
        // Tokens and PINs.
        "token-not-found": .token, "ambiguous": .token, "token-removed": .token, "pin-incorrect": .token, "pin-locked": .token,
        "pin-final-try": .token, "pin-length": .token, "pin-expired": .token, "key-not-found": .token, "not-for-signing": .token,
        "mechanism-unsupported": .token, "key-use-refused": .token, "invalid-uri": .token, "pcsc-call": .token, "module-call": .token,
        "token-busy": .token, "pin-unavailable": .token, "pin-empty": .token, "pin-too-long": .token, "pin-wiped": .token,
        "pin-unreadable": .token, "no-terminal": .token, "token-timeout": .token, "pinentry": .token, "signing": .token,
        // The machine or a server, not the input.
        "pcsc-unavailable": .environment, "module-load": .environment, "atr-catalogue": .environment, "fetch-failed": .environment,
        "storage": .environment, "store-unavailable": .environment, "revocation-unavailable": .environment, "signer-unavailable": .environment,
        "verifier-unavailable": .environment,
        "audit-log": .environment, "file-unwritable": .environment,
        // Refusals of what the input claims.
        "qr-other-request": .failure, "unauthorised-uploader": .failure,
        // The department log: a head or proof that does not hold is a verdict against the log.
        "proof-not-valid": .failure, "tree-head-unsigned": .failure, "tree-head-signature-not-valid": .failure, "origin-mismatch": .failure,
        "tree-head-malformed": .failure, "store-diverged": .environment,
    ]

    static func of(_ error: any CodedError) -> ExitStatus { table[error.codeName] ?? .usage }
}

/// A failure with the exit status it maps to, a one-line message for stderr and a stable code for `--json`
/// (the SignKit error's code where there was one, else the class of the exit status).
struct CommandFailure: Error, CustomStringConvertible {
    let status: ExitStatus
    let message: String
    let code: String

    init(status: ExitStatus, message: String, code: String? = nil) {
        self.status = status
        self.message = message
        self.code = code ?? status.codeName
    }

    /// A SignKit error as signctl reports it: its own code, its reason, the status the table gives it.
    init(_ error: any CodedError, message: String? = nil) {
        self.init(status: ExitStatus.of(error), message: message ?? error.reason, code: error.codeName)
    }

    var description: String { message }
}

extension ExitStatus {
    /// The code of a failure that has no SignKit code of its own.
    var codeName: String {
        switch self {
        case .success: "ok"
        case .failure: "refused"
        case .indeterminate: "indeterminate"
        case .usage: "usage"
        case .token: "token"
        case .environment: "environment"
        }
    }
}

/// What signctl prints on stdout instead of its report when a command given `--json` fails: one line of JSON
/// (schema "signservice.error/1"), so a script never has to parse a sentence from stderr.
struct ErrorReport: Codable {
    var schema = "signservice.error/1"
    let code: String
    let error: String
    let exitStatus: Int32
}

/// A command with a `--json` flag: its failures are reported as `ErrorReport` on stdout.
protocol JSONReporting {
    var json: Bool { get }
}

extension Verify: JSONReporting {}
extension HistoryVerify: JSONReporting {}
extension HistoryShow: JSONReporting {}
extension ScanRequest: JSONReporting {}
extension ScanUploadCommand: JSONReporting {}
extension Tokens: JSONReporting {}
extension Doctor: JSONReporting {}
extension DailyStatus: JSONReporting {
    var json: Bool { format == "json" }
}
