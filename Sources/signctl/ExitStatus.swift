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
        "pin-unreadable": .token, "no-terminal": .token, "pinentry": .token, "signing": .token,
        // The machine or a server, not the input.
        "pcsc-unavailable": .environment, "module-load": .environment, "atr-catalogue": .environment, "fetch-failed": .environment,
        "storage": .environment, "signer-unavailable": .environment, "verifier-unavailable": .environment,
        "audit-log": .environment, "file-unwritable": .environment,
        // Refusals of what the input claims.
        "qr-other-request": .failure, "unauthorised-uploader": .failure,
    ]

    static func of(_ error: any CodedError) -> ExitStatus { table[error.codeName] ?? .usage }
}

/// A failure with the exit status it maps to and a one-line message for stderr.
struct CommandFailure: Error, CustomStringConvertible {
    let status: ExitStatus
    let message: String
    var description: String { message }
}
