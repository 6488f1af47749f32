import Foundation

/// The digest algorithms a CMS signature may name, with what verification thinks of each.
public enum DigestAlgorithm: String, Sendable, Codable, CaseIterable {
    case sha1 = "SHA-1", sha224 = "SHA-224", sha256 = "SHA-256", sha384 = "SHA-384", sha512 = "SHA-512"
    case sha3_224 = "SHA3-224", sha3_256 = "SHA3-256", sha3_384 = "SHA3-384", sha3_512 = "SHA3-512"

    private static let byOID: [OID: DigestAlgorithm] = [
        OID("1.3.14.3.2.26"): .sha1, OID("2.16.840.1.101.3.4.2.4"): .sha224, OID("2.16.840.1.101.3.4.2.1"): .sha256,
        OID("2.16.840.1.101.3.4.2.2"): .sha384, OID("2.16.840.1.101.3.4.2.3"): .sha512,
        OID("2.16.840.1.101.3.4.2.7"): .sha3_224, OID("2.16.840.1.101.3.4.2.8"): .sha3_256, OID("2.16.840.1.101.3.4.2.9"): .sha3_384,
        OID("2.16.840.1.101.3.4.2.10"): .sha3_512,
    ]

    init?(oid: OID) {
        guard let found = Self.byOID[oid] else { return nil }
        self = found
    }

    /// SHA-1 is broken for collisions (SHAttered, 2017) and no longer accepted for new signatures.
    public var isWeak: Bool { self == .sha1 }

    // Hashing (`hash(_:)`, `hash(fileAt:)`) is OpenSSL's: OpenSSL/DigestAlgorithm+EVP.swift.
}

/// How a signature value is checked with a key, beyond its digest: the key type's usual scheme (RSA PKCS#1 v1.5,
/// ECDSA, DSA), or RSASSA-PSS with its parameters (RFC 4055 3.1).
enum SignatureScheme: Hashable, Sendable {
    case standard
    case pss(mgf1: DigestAlgorithm, saltLength: Int)
}

/// A signatureAlgorithm of a SignerInfo: which key type it needs, which digest it binds (when it names one) and how
/// the value is checked.
struct CMSSignatureAlgorithm {
    enum KeyType: String { case rsa = "RSA", ec = "ECDSA", dsa = "DSA" }
    let keyType: KeyType
    /// The digest the algorithm names; nil for rsaEncryption, id-ecPublicKey and id-dsa, which take the SignerInfo's.
    let digest: DigestAlgorithm?
    let scheme: SignatureScheme
    /// Whether the AlgorithmIdentifier must carry parameters (RSASSA-PSS does).
    let takesParameters: Bool

    static let rsassaPSS = OID("1.2.840.113549.1.1.10")

    private static let known: [OID: CMSSignatureAlgorithm] = [
        OID("1.2.840.113549.1.1.1"): .init(.rsa, nil),
        OID("1.2.840.113549.1.1.5"): .init(.rsa, .sha1),
        OID("1.2.840.113549.1.1.14"): .init(.rsa, .sha224),
        OID("1.2.840.113549.1.1.11"): .init(.rsa, .sha256),
        OID("1.2.840.113549.1.1.12"): .init(.rsa, .sha384),
        OID("1.2.840.113549.1.1.13"): .init(.rsa, .sha512),
        OID("2.16.840.1.101.3.4.3.13"): .init(.rsa, .sha3_224),
        OID("2.16.840.1.101.3.4.3.14"): .init(.rsa, .sha3_256),
        OID("2.16.840.1.101.3.4.3.15"): .init(.rsa, .sha3_384),
        OID("2.16.840.1.101.3.4.3.16"): .init(.rsa, .sha3_512),
        OID("1.2.840.10045.2.1"): .init(.ec, nil),
        OID("1.2.840.10045.4.1"): .init(.ec, .sha1),
        OID("1.2.840.10045.4.3.1"): .init(.ec, .sha224),
        OID("1.2.840.10045.4.3.2"): .init(.ec, .sha256),
        OID("1.2.840.10045.4.3.3"): .init(.ec, .sha384),
        OID("1.2.840.10045.4.3.4"): .init(.ec, .sha512),
        OID("2.16.840.1.101.3.4.3.9"): .init(.ec, .sha3_224),
        OID("2.16.840.1.101.3.4.3.10"): .init(.ec, .sha3_256),
        OID("2.16.840.1.101.3.4.3.11"): .init(.ec, .sha3_384),
        OID("2.16.840.1.101.3.4.3.12"): .init(.ec, .sha3_512),
        OID("1.2.840.10040.4.1"): .init(.dsa, nil),
        OID("1.2.840.10040.4.3"): .init(.dsa, .sha1),
        OID("2.16.840.1.101.3.4.3.1"): .init(.dsa, .sha224),
        OID("2.16.840.1.101.3.4.3.2"): .init(.dsa, .sha256),
        OID("2.16.840.1.101.3.4.3.3"): .init(.dsa, .sha384),
        OID("2.16.840.1.101.3.4.3.4"): .init(.dsa, .sha512),
        OID("2.16.840.1.101.3.4.3.5"): .init(.dsa, .sha3_224),
        OID("2.16.840.1.101.3.4.3.6"): .init(.dsa, .sha3_256),
        OID("2.16.840.1.101.3.4.3.7"): .init(.dsa, .sha3_384),
        OID("2.16.840.1.101.3.4.3.8"): .init(.dsa, .sha3_512),
    ]

    /// The algorithm `identifier` names, with its parameters read; nil when unknown. RSASSA-PSS parameters that do
    /// not read, or name something other than MGF1 and the trailer field 1, throw.
    init?(_ identifier: AlgorithmIdentifier) throws(DERError) {
        if identifier.oid == Self.rsassaPSS {
            guard let parameters = identifier.parameters else { throw DERError("RSASSA-PSS without its parameters") }
            let read = try Self.pssParameters(parameters)
            self.init(.rsa, read.hash, scheme: .pss(mgf1: read.mgf1, saltLength: read.saltLength), takesParameters: true)
            return
        }
        guard let found = Self.known[identifier.oid] else { return nil }
        self = found
    }

    /// "RSASSA-PSS (MGF1 SHA-256, salt 32 bytes)", "RSA PKCS#1 v1.5", "ECDSA", "DSA".
    var words: String {
        switch (keyType, scheme) {
        case (_, .pss(let mgf1, let saltLength)): "RSASSA-PSS (MGF1 \(mgf1.rawValue), salt \(saltLength) bytes)"
        case (.rsa, _): "RSA PKCS#1 v1.5"
        case (.ec, _): "ECDSA"
        case (.dsa, _): "DSA"
        }
    }

    private init(_ keyType: KeyType, _ digest: DigestAlgorithm?, scheme: SignatureScheme = .standard, takesParameters: Bool = false) {
        self.keyType = keyType
        self.digest = digest
        self.scheme = scheme
        self.takesParameters = takesParameters
    }

    /// RSASSA-PSS-params (RFC 4055 3.1), every field with its DEFAULT:
    ///
    ///     RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1,
    ///         maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1, saltLength [2] INTEGER DEFAULT 20,
    ///         trailerField [3] TrailerField DEFAULT trailerFieldBC }
    private static func pssParameters(_ der: ArraySlice<UInt8>) throws(DERError) -> (hash: DigestAlgorithm, mgf1: DigestAlgorithm, saltLength: Int) {
        var outer = DERScanner(der, what: "RSASSA-PSS-params")
        var fields = try outer.expect(0x30, "RSASSA-PSS-params").children("RSASSA-PSS-params")
        var hash = DigestAlgorithm.sha1, mgf1 = DigestAlgorithm.sha1, saltLength = 20
        if let tagged = try fields.optional(0xA0) {
            var inner = try tagged.children("hashAlgorithm")
            let identifier = try AlgorithmIdentifier(try inner.expect(0x30, "hashAlgorithm"), "RSASSA-PSS hashAlgorithm")
            guard let known = DigestAlgorithm(oid: identifier.oid) else { throw DERError("RSASSA-PSS names an unknown hash \(identifier.oid)") }
            hash = known
        }
        if let tagged = try fields.optional(0xA1) {
            var inner = try tagged.children("maskGenAlgorithm")
            let identifier = try AlgorithmIdentifier(try inner.expect(0x30, "maskGenAlgorithm"), "RSASSA-PSS maskGenAlgorithm")
            guard identifier.oid == mgf1OID, let parameters = identifier.parameters else {
                throw DERError("RSASSA-PSS names a mask generation function other than MGF1 (\(identifier.oid))")
            }
            var scanner = DERScanner(parameters, what: "MGF1 hash")
            let mgfHash = try AlgorithmIdentifier(try scanner.expect(0x30, "MGF1 hash"), "MGF1 hash")
            guard let known = DigestAlgorithm(oid: mgfHash.oid) else { throw DERError("MGF1 names an unknown hash \(mgfHash.oid)") }
            mgf1 = known
        }
        if let tagged = try fields.optional(0xA2) {
            var inner = try tagged.children("saltLength")
            saltLength = try inner.expect(0x02, "saltLength").smallInteger("RSASSA-PSS saltLength")
        }
        if let tagged = try fields.optional(0xA3) {
            var inner = try tagged.children("trailerField")
            guard try inner.expect(0x02, "trailerField").smallInteger("RSASSA-PSS trailerField") == 1 else {
                throw DERError("RSASSA-PSS trailerField is not 1 (trailerFieldBC)")
            }
        }
        guard fields.isAtEnd else { throw DERError("RSASSA-PSS-params has unexpected fields") }
        return (hash, mgf1, saltLength)
    }

    private static let mgf1OID = OID("1.2.840.113549.1.1.8")
}
