import Foundation

/// A certificate found on a token, with its key and whether it is offered for signing.
public struct TokenCertificate: Sendable {
    public let certificate: X509Certificate
    /// CKA_ID, shared by the certificate and its key.
    public let id: [UInt8]
    /// CKA_LABEL of the certificate object.
    public let label: String
    public let key: KeyPresence
    /// CKA_ALWAYS_AUTHENTICATE of the private key, when the key is visible.
    public let alwaysAuthenticate: Bool?
    /// The key's PKCS#11 URI: token and CKA_ID, which is what `sign` takes.
    public let keyURI: PKCS11URI
    public let eligibility: SigningEligibility
    public var certificateClass: CertificateClass { CertificateClass(policies: certificate.policies) }
}

/// One token in one slot of one module.
public struct TokenEntry: Sendable {
    public let modulePath: String
    public let module: PKCS11Module.ModuleInfo
    public let slot: SlotInfo
    public let info: TokenInfo
    /// The PC/SC reader the slot belongs to (smart-card modules name slots after readers); nil for software tokens.
    public let readerName: String?
    public let certificates: [TokenCertificate]
    /// Why the certificates could not be read, when they could not.
    public let problem: String?
}

/// A loaded (or failed) module.
public struct ModuleStatus: Sendable {
    public let path: String
    public let source: ModuleSource
    public let installed: Bool
    public let info: PKCS11Module.ModuleInfo?
    public let problem: String?
}

/// Everything SignKit can see of readers, modules and tokens at one moment.
public struct TokenInventory: Sendable {
    public let readers: [CardReader]
    /// The catalogue's identification of each reader's card, by reader name.
    public let identified: [String: ATRCatalogue.Entry]
    /// Why PC/SC could not be read, when it could not.
    public let pcscProblem: String?
    public let modules: [ModuleStatus]
    public let tokens: [TokenEntry]
    public let time: Date
}
