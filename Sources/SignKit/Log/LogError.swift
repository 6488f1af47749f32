import Foundation

/// A department-log operation refused, or a proof or tree head that does not hold, with the reason in words.
public typealias LogError = DomainError<LogErrorDomain>

/// The domain of `LogError`: its codes are the `ErrorCode<LogErrorDomain>` statics below.
public enum LogErrorDomain {}

extension ErrorCode where Domain == LogErrorDomain {
    /// An inclusion or consistency proof that does not lead to the tree heads it was checked against.
    public static let proofNotValid = Self("proof-not-valid")
    /// A checkpoint's text or its signed note does not read as C2SP specifies.
    public static let treeHeadMalformed = Self("tree-head-malformed")
    /// A signed tree head carries no signature by the key it was checked with.
    public static let treeHeadUnsigned = Self("tree-head-unsigned")
    /// A signature line by the key a tree head was checked with does not verify.
    public static let treeHeadSignatureNotValid = Self("tree-head-signature-not-valid")
    /// A tree head of another log than the one expected.
    public static let originMismatch = Self("origin-mismatch")
    /// What was asked cannot be answered as asked: a leaf or size outside the tree, a name a note cannot carry.
    public static let invalidRequest = Self("invalid-request")
    /// The store's leaves do not give the latest signed head (rows changed or removed behind the service): no head
    /// is signed over them.
    public static let storeDiverged = Self("store-diverged")
}
