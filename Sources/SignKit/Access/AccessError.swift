import Foundation

/// Refusals of the records service's access control: logins, sessions, API keys, roles and departments.
public typealias AccessError = DomainError<AccessErrorDomain>

/// The domain of `AccessError`: its codes are the `ErrorCode<AccessErrorDomain>` statics below. Each says whether a
/// caller should authenticate again (HTTP 401) or is known and not allowed (HTTP 403).
public enum AccessErrorDomain {}

extension ErrorCode where Domain == AccessErrorDomain {
    /// No credentials, credentials that do not read, or a session token the service does not know (401).
    public static let unauthenticated = Self("unauthenticated")
    /// The session token was issued but its lifetime is over: log in again (401).
    public static let sessionExpired = Self("session-expired")
    /// An API key the service does not know, or one revoked (401).
    public static let unknownKey = Self("unknown-key")
    /// A login that does not hold: the challenge does not read or names another service, the signature is not
    /// TOTAL-PASSED, or it is not a login signature for this challenge (401).
    public static let loginRefused = Self("login-refused")
    /// The challenge's nonce was never issued here or was already used: a replayed login (401).
    public static let challengeUsed = Self("challenge-used")
    /// The challenge's lifetime is over: ask for a new one (401).
    public static let challengeExpired = Self("challenge-expired")
    /// The login signature holds but its signer's certificate is not in the roster (403).
    public static let notInRoster = Self("not-in-roster")
    /// The principal's role, department or Minister does not allow the action (403).
    public static let forbidden = Self("forbidden")
    /// An append's signature was made by someone other than the logged-in officer (403).
    public static let signerMismatch = Self("signer-mismatch")
    /// A roster member, API key or scope that does not read (400; the same meaning as other domains' code).
    public static let invalidRequest = Self("invalid-request")
}
