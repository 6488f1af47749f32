import Foundation

/// The digest algorithms a CMS signature may name, with what verification thinks of each.
public enum DigestAlgorithm: String, Sendable, Codable, CaseIterable {
    case sha1 = "SHA-1", sha224 = "SHA-224", sha256 = "SHA-256", sha384 = "SHA-384", sha512 = "SHA-512"

    private static let byOID: [OID: DigestAlgorithm] = [
        OID("1.3.14.3.2.26"): .sha1, OID("2.16.840.1.101.3.4.2.4"): .sha224, OID("2.16.840.1.101.3.4.2.1"): .sha256,
        OID("2.16.840.1.101.3.4.2.2"): .sha384, OID("2.16.840.1.101.3.4.2.3"): .sha512,
    ]

    init?(oid: OID) {
        guard let found = Self.byOID[oid] else { return nil }
        self = found
    }

    /// SHA-1 is broken for collisions (SHAttered, 2017) and no longer accepted for new signatures.
    public var isWeak: Bool { self == .sha1 }

    // Hashing (`hash(_:)`, `hash(fileAt:)`) is OpenSSL's: OpenSSL/DigestAlgorithm+EVP.swift.
}

/// A signatureAlgorithm of a SignerInfo: which key type it needs and which digest it binds (when it names one).
struct CMSSignatureAlgorithm {
    enum KeyType: String { case rsa = "RSA", ec = "ECDSA" }
    let keyType: KeyType
    /// The digest the algorithm names; nil for rsaEncryption and id-ecPublicKey, which take the SignerInfo's.
    let digest: DigestAlgorithm?

    private static let known: [OID: CMSSignatureAlgorithm] = [
        OID("1.2.840.113549.1.1.1"): .init(keyType: .rsa, digest: nil),
        OID("1.2.840.113549.1.1.5"): .init(keyType: .rsa, digest: .sha1),
        OID("1.2.840.113549.1.1.14"): .init(keyType: .rsa, digest: .sha224),
        OID("1.2.840.113549.1.1.11"): .init(keyType: .rsa, digest: .sha256),
        OID("1.2.840.113549.1.1.12"): .init(keyType: .rsa, digest: .sha384),
        OID("1.2.840.113549.1.1.13"): .init(keyType: .rsa, digest: .sha512),
        OID("1.2.840.10045.2.1"): .init(keyType: .ec, digest: nil),
        OID("1.2.840.10045.4.1"): .init(keyType: .ec, digest: .sha1),
        OID("1.2.840.10045.4.3.1"): .init(keyType: .ec, digest: .sha224),
        OID("1.2.840.10045.4.3.2"): .init(keyType: .ec, digest: .sha256),
        OID("1.2.840.10045.4.3.3"): .init(keyType: .ec, digest: .sha384),
        OID("1.2.840.10045.4.3.4"): .init(keyType: .ec, digest: .sha512),
    ]

    init?(oid: OID) {
        guard let found = Self.known[oid] else { return nil }
        self = found
    }

    private init(keyType: KeyType, digest: DigestAlgorithm?) {
        self.keyType = keyType
        self.digest = digest
    }
}
