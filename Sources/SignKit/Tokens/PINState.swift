/// What a token says about its user PIN (PKCS#11 CK_TOKEN_INFO.flags). PKCS#11 has no retry count: a token only
/// says "count low", "final try" or "locked", so the state is reported as the token gives it.
public struct PINState: Sendable, Hashable, Codable, CustomStringConvertible {
    /// CKF_USER_PIN_COUNT_LOW: at least one wrong PIN since the last good one.
    public var countLow: Bool
    /// CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks the token.
    public var finalTry: Bool
    /// CKF_USER_PIN_LOCKED: the PIN is blocked; only the SO PIN (or the issuer) can unblock it.
    public var locked: Bool
    /// CKF_USER_PIN_TO_BE_CHANGED: the PIN must be changed before use.
    public var toBeChanged: Bool
    /// CKF_USER_PIN_INITIALIZED.
    public var initialized: Bool

    public init(
        countLow: Bool = false, finalTry: Bool = false, locked: Bool = false, toBeChanged: Bool = false,
        initialized: Bool = true
    ) {
        self.countLow = countLow
        self.finalTry = finalTry
        self.locked = locked
        self.toBeChanged = toBeChanged
        self.initialized = initialized
    }

    /// One word for scripts: locked, final-try, count-low, must-change, not-initialized, ok.
    public var summary: String {
        if locked { return "locked" }
        if finalTry { return "final-try" }
        if countLow { return "count-low" }
        if toBeChanged { return "must-change" }
        if !initialized { return "not-initialized" }
        return "ok"
    }

    /// Plain words for an officer.
    public var description: String {
        switch summary {
        case "locked": return "PIN locked: the token refuses every PIN until it is unblocked with the SO PIN (PUK)"
        case "final-try": return "one try left: one more wrong PIN locks the token"
        case "count-low": return "a wrong PIN was entered since the last good one (tries left: the token does not say)"
        case "must-change": return "the PIN must be changed before use"
        case "not-initialized": return "no user PIN is set on this token"
        default: return "no PIN warning from the token (it does not say how many tries are left)"
        }
    }
}
