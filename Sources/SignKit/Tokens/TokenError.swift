/// An error from a token, a reader or a PKCS#11 module. Compared by `code`; new codes never break callers.
/// It carries the token's PIN state where one was read, and whether trying again can help.
public struct TokenError: CodedError {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The shared object could not be loaded or is not a PKCS#11 module.
        public static let moduleLoad = Code("module-load")
        /// A PKCS#11 call failed in a way not covered below; `returnValue` says how.
        public static let moduleCall = Code("module-call")
        /// No token matches what was asked for.
        public static let tokenNotFound = Code("token-not-found")
        /// More than one token or key matches; the caller must say which.
        public static let ambiguous = Code("ambiguous")
        /// The token was pulled out or stopped answering during the operation.
        public static let tokenRemoved = Code("token-removed")
        /// The PIN was wrong; `pinState` says what the token reports now. Never retried automatically.
        public static let pinIncorrect = Code("pin-incorrect")
        /// The token's PIN is locked; nothing was sent to it.
        public static let pinLocked = Code("pin-locked")
        /// The token is at its final try and the caller did not say it knows; nothing was sent to it.
        public static let pinFinalTry = Code("pin-final-try")
        /// The PIN's length is outside what the token accepts; nothing was sent to it.
        public static let pinLength = Code("pin-length")
        /// The PIN must be changed on the token before it can sign.
        public static let pinExpired = Code("pin-expired")
        /// No key or certificate matches the URI on the token.
        public static let keyNotFound = Code("key-not-found")
        /// The certificate exists but is not offered for signing (encryption-only, wrong usage, expired...).
        public static let notForSigning = Code("not-for-signing")
        /// The token lacks the mechanism the key needs.
        public static let mechanismUnsupported = Code("mechanism-unsupported")
        /// The token refused the key use (permissions, CKA_SIGN false, user consent).
        public static let keyUseRefused = Code("key-use-refused")
        /// A PKCS#11 URI is malformed or asks for something refused (a PIN in the URI).
        public static let invalidURI = Code("invalid-uri")
        /// pcscd is not reachable.
        public static let pcscUnavailable = Code("pcsc-unavailable")
        /// A PC/SC call failed; `reason` names it.
        public static let pcscCall = Code("pcsc-call")
        /// Another signing session of this process holds the token; try again when it closes.
        public static let busy = Code("token-busy")
        /// The PIN could not be obtained (no terminal, pinentry cancelled...).
        public static let pinUnavailable = Code("pin-unavailable")
        /// The token's part of a request did not end within the agent's deadline (a token that stopped answering).
        public static let timeout = Code("token-timeout")
    }

    public var code: Code
    public var codeName: String { code.name }
    public var reason: String
    /// The CK_RV a PKCS#11 call returned, when one did.
    public var returnValue: UInt?
    /// The token's PIN state read after the failure, when it could be read.
    public var pinState: PINState?
    /// True when the same request may succeed later without anything changing on the caller's side.
    public var retryable: Bool
    public var file: String
    public var line: Int

    public init(
        _ code: Code, _ reason: String, returnValue: UInt? = nil, pinState: PINState? = nil,
        retryable: Bool = false, file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.returnValue = returnValue
        self.pinState = pinState
        self.retryable = retryable
        self.file = file
        self.line = line
    }

    /// One line for people: the reason, the PKCS#11 code in words, the PIN state.
    public var description: String {
        var text = reason
        if let rv = returnValue { text += " [\(CKR.name(rv))]" }
        if let state = pinState, [Code.pinIncorrect, .pinLocked, .pinFinalTry, .pinLength, .pinExpired].contains(code) {
            text += "; token PIN state: \(state)"
        }
        return text
    }
}
