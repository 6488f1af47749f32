import CPKCS
import Foundation
import Synchronization

/// An X.509 certificate (RFC 5280), parsed by OpenSSL. Owns one `X509*`.
///
///     Certificate ::= SEQUENCE {
///         tbsCertificate       TBSCertificate,
///         signatureAlgorithm   AlgorithmIdentifier,
///         signatureValue       BIT STRING }
///
/// Instances are immutable after init; OpenSSL's lazily cached extension data is filled in init
/// (X509_check_purpose), so concurrent readers never race on it.
public final class X509Certificate: @unchecked Sendable {
    /// X509*, owned: X509_free in deinit. Only files in OpenSSL/ touch it: nothing outside the fence sees OpenSSL.
    let pointer: OpaquePointer
    /// The certificate's DER encoding, as given.
    public let der: [UInt8]
    /// The signingCertificateV2 attribute value for this certificate, made once (Signing/SigningCertificate.swift).
    let signingCertificateV2Cache = Mutex<[UInt8]?>(nil)
    /// EVP_PKEY_CTXs set up once per digest algorithm for verification with this certificate's key (owned: freed in
    /// deinit).
    private let verifiers = Mutex<VerifierContexts>(VerifierContexts())
    /// SHA-256 over the DER, computed once.
    public let sha256Fingerprint: [UInt8]

    /// Idle contexts per digest algorithm: a verification takes one out (or makes one), uses it without holding the
    /// lock, and puts it back, so threads verifying with the same certificate do not wait for each other.
    private struct VerifierContexts: @unchecked Sendable {
        var pointers: [ContextKind: [OpaquePointer]] = [:]
    }

    private struct ContextKind: Hashable {
        let digest: DigestAlgorithm
        let scheme: SignatureScheme
    }

    /// `x509` is the certificate `der` decodes to; it is freed with this object.
    private init(takingOwnershipOf x509: OpaquePointer, der: [UInt8]) {
        self.pointer = x509
        self.der = der
        self.sha256Fingerprint = SHA256Hasher.hash(der)
        self.subject = DistinguishedName(X509_get_subject_name(x509))  // get0: owned by the X509, copied out
        self.issuer = DistinguishedName(X509_get_issuer_name(x509))  // get0: owned by the X509, copied out
        self.notBefore = Self.date(X509_get0_notBefore(x509))  // get0: owned by the X509
        self.notAfter = Self.date(X509_get0_notAfter(x509))  // get0: owned by the X509
        _ = X509_check_purpose(x509, -1, 0)  // fills OpenSSL's extension cache now, see the type's comment
    }

    /// Parses one DER certificate; trailing bytes are refused.
    public convenience init(der: [UInt8]) throws {
        OpenSSLError.clearQueue()
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            let x = d2i_X509(nil, &cursor, buffer.count)
            if x != nil, let start = buffer.baseAddress, cursor != start + buffer.count {
                X509_free(x)
                return nil
            }
            return x
        }
        guard let parsed else { throw OpenSSLError.drain("d2i_X509 (certificate DER)") }
        self.init(takingOwnershipOf: parsed, der: der)
    }

    /// Parses every certificate in a PEM text, in order.
    public static func fromPEM(_ pem: String) throws -> [X509Certificate] {
        guard let blocks = PEM.decode(pem, label: "CERTIFICATE") else {
            throw OpenSSLError(operation: "PEM certificate", queue: ["base64 body does not decode"])
        }
        return try blocks.map { try X509Certificate(der: $0) }
    }

    deinit {
        verifiers.withLock { contexts in
            for context in contexts.pointers.values.joined() { EVP_PKEY_CTX_free(context) }
        }
        X509_free(pointer)
    }

    // MARK: Names

    /// The subject's attributes in the order they appear (most general first, as in the DER).
    public let subject: DistinguishedName
    public let issuer: DistinguishedName

    /// The issuer Name's DER as encoded in the certificate.
    var issuerNameDER: [UInt8] {
        get throws { try OpenSSLDER.encode("i2d_X509_NAME") { i2d_X509_NAME(X509_get_issuer_name(pointer), &$0) } }  // get0 name
    }

    /// The serialNumber INTEGER's DER (tag, length, value).
    var serialNumberDER: [UInt8] {
        get throws { try OpenSSLDER.encode("i2d_ASN1_INTEGER") { i2d_ASN1_INTEGER(X509_get0_serialNumber(pointer), &$0) } }  // get0
    }

    /// The serial number in upper-case hex, as CAs and revocation lists print it.
    public var serialNumberHex: String {
        guard let serial = X509_get0_serialNumber(pointer),  // get0: owned by the X509
            let bn = ASN1_INTEGER_to_BN(serial, nil)
        else { return "" }  // new BIGNUM: freed below
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }  // new string: freed below
        defer { cpkcs_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    // MARK: Validity

    /// Read once in init, not per signature.
    public let notBefore: Date
    public let notAfter: Date

    /// True when `time` lies within notBefore...notAfter (both inclusive, RFC 5280 4.1.2.5).
    public func isValid(at time: Date) -> Bool { notBefore <= time && time <= notAfter }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date { ASN1Time.date(time) ?? .distantPast }

    // MARK: Extensions

    /// keyUsage (RFC 5280 4.2.1.3); nil when the extension is absent, which allows any use.
    public var keyUsage: KeyUsage? {
        let bits = X509_get_key_usage(pointer)
        return bits == UInt32.max ? nil : KeyUsage(rawValue: bits)
    }

    /// extendedKeyUsage purposes as dotted OIDs; empty when absent.
    public var extendedKeyUsage: [String] { lines(cpkcs_X509_eku_oids) }

    /// certificatePolicies policy identifiers as dotted OIDs; empty when absent.
    public var policies: [String] { lines(cpkcs_X509_policy_oids) }

    /// basicConstraints cA is true.
    public var isCertificateAuthority: Bool { X509_check_ca(pointer) > 0 }

    /// What a CPKCS shim writes as newline-separated text (OIDs, URLs); empty when the extension is absent.
    private func lines(_ read: (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int) -> Int32) -> [String] {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard read(pointer, &buffer, buffer.count) > 0 else { return [] }
        return String(nulTerminated: buffer).split(separator: "\n").map(String.init)
    }

    // MARK: Key and fingerprint

    public var publicKeyAlgorithm: PublicKeyAlgorithm {
        guard let key = X509_get0_pubkey(pointer) else { return .other(name: "unreadable") }  // get0: owned by the X509
        let bits = Int(EVP_PKEY_get_bits(key))
        switch EVP_PKEY_get_base_id(key) {
        case NID_rsaEncryption:
            return .rsa(bits: bits)
        case NID_dsa:
            return .dsa(bits: bits)
        case NID_X9_62_id_ecPublicKey:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            EVP_PKEY_get_group_name(key, &name, name.count, &length)
            return .ec(curve: String(nulTerminated: name), bits: bits)
        case let id:
            return .other(name: String(cString: OBJ_nid2sn(id)))
        }
    }

    /// The DER SubjectPublicKeyInfo, for comparing a certificate's key with a token's public key object.
    public var subjectPublicKeyInfo: [UInt8] {
        guard let key = X509_get0_pubkey(pointer) else { return [] }  // get0: owned by the X509
        return (try? OpenSSLDER.encode("i2d_PUBKEY") { i2d_PUBKEY(key, &$0) }) ?? []
    }

    /// True when `signature` (PKCS#1 v1.5, or DER ECDSA-Sig-Value) is this certificate's key's SHA-256 signature
    /// over `message`. The key is the one OpenSSL decoded with the certificate; nothing is parsed again.
    public func verifySignature(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        verifySignature(signature, digest: SHA256Hasher.hash(message), algorithm: .sha256)
    }

    /// True when `signature` is this certificate's key's signature over a precomputed `digest` made with `algorithm`
    /// (RSA PKCS#1 v1.5, ECDSA or DSA; RSASSA-PSS with `scheme`). One verification context per algorithm and scheme
    /// is made and kept.
    public func verifySignature(_ signature: some ContiguousBytes, digest: [UInt8], algorithm: DigestAlgorithm) -> Bool {
        verifySignature(signature, digest: digest, algorithm: algorithm, scheme: .standard)
    }

    func verifySignature(_ signature: some ContiguousBytes, digest: [UInt8], algorithm: DigestAlgorithm, scheme: SignatureScheme) -> Bool {
        let kind = ContextKind(digest: algorithm, scheme: scheme)
        var context = verifiers.withLock { $0.pointers[kind]?.popLast() }
        if context == nil {
            // Set up once per concurrent user: key, verify operation, digest (PKCS#1 v1.5 is RSA's default padding).
            guard let key = X509_get0_pubkey(pointer), let made = EVP_PKEY_CTX_new(key, nil) else { return false }  // get0 key
            var ready = EVP_PKEY_verify_init(made) == 1 && EVP_PKEY_CTX_set_signature_md(made, algorithm.evp) == 1
            if ready, case .pss(let mgf1, let saltLength) = scheme {
                ready =
                    EVP_PKEY_CTX_set_rsa_padding(made, RSA_PKCS1_PSS_PADDING) == 1
                    && EVP_PKEY_CTX_set_rsa_mgf1_md(made, mgf1.evp) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(made, Int32(saltLength)) == 1
            }
            guard ready else {
                EVP_PKEY_CTX_free(made)
                OpenSSLError.clearQueue()
                return false
            }
            context = made
        }
        let valid = signature.withUnsafeBytes { bytes in
            EVP_PKEY_verify(context, bytes.baseAddress, bytes.count, digest, digest.count) == 1
        }
        if !valid { OpenSSLError.clearQueue() }
        verifiers.withLock { $0.pointers[kind, default: []].append(context!) }
        return valid
    }

    /// True when `issuer`'s subject and key identifiers match this certificate's issuer (X509_check_issued; the
    /// signature is not checked).
    func isIssued(by issuer: X509Certificate) -> Bool { X509_check_issued(issuer.pointer, pointer) == X509_V_OK }

    // MARK: Where to find more

    /// authorityInfoAccess OCSP responder URLs.
    public var ocspURLs: [String] { lines { cpkcs_X509_aia_urls($0, 1, $1, $2) } }
    /// authorityInfoAccess caIssuers URLs (where the issuer's certificate can be fetched).
    public var caIssuersURLs: [String] { lines { cpkcs_X509_aia_urls($0, 0, $1, $2) } }
    /// cRLDistributionPoints full-name URLs.
    public var crlURLs: [String] { lines { cpkcs_X509_crl_urls($0, $1, $2) } }

    /// The subjectKeyIdentifier extension's bytes, nil when absent.
    public var subjectKeyIdentifier: [UInt8]? {
        guard let id = X509_get0_subject_key_id(pointer) else { return nil }  // get0: owned by the X509
        return Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data(id), count: Int(ASN1_STRING_length(id))))
    }
}

/// keyUsage bits as OpenSSL reports them (its KU_* values, which follow the DER bit order).
public struct KeyUsage: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let digitalSignature = KeyUsage(rawValue: UInt32(KU_DIGITAL_SIGNATURE))
    public static let nonRepudiation = KeyUsage(rawValue: UInt32(KU_NON_REPUDIATION))
    public static let keyEncipherment = KeyUsage(rawValue: UInt32(KU_KEY_ENCIPHERMENT))
    public static let dataEncipherment = KeyUsage(rawValue: UInt32(KU_DATA_ENCIPHERMENT))
    public static let keyAgreement = KeyUsage(rawValue: UInt32(KU_KEY_AGREEMENT))
    public static let keyCertSign = KeyUsage(rawValue: UInt32(KU_KEY_CERT_SIGN))
    public static let cRLSign = KeyUsage(rawValue: UInt32(KU_CRL_SIGN))

    /// RFC 5280's names for the bits that are set, in the order of the standard.
    public var names: [String] {
        let all: [(KeyUsage, String)] = [
            (.digitalSignature, "digitalSignature"), (.nonRepudiation, "nonRepudiation"),
            (.keyEncipherment, "keyEncipherment"), (.dataEncipherment, "dataEncipherment"),
            (.keyAgreement, "keyAgreement"), (.keyCertSign, "keyCertSign"), (.cRLSign, "cRLSign"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

public enum PublicKeyAlgorithm: Sendable, Hashable, CustomStringConvertible {
    case rsa(bits: Int)
    case ec(curve: String, bits: Int)
    case dsa(bits: Int)
    case other(name: String)

    public var description: String {
        switch self {
        case .rsa(let bits): return "RSA-\(bits)"
        case .ec(let curve, _): return "EC \(curve)"
        case .dsa(let bits): return "DSA-\(bits)"
        case .other(let name): return name
        }
    }
}

/// A distinguished name's attributes, in DER order.
public struct DistinguishedName: Sendable, Hashable, CustomStringConvertible {
    /// (short name such as "CN", "O", "title", "pseudonym"; value as UTF-8)
    public let attributes: [Attribute]

    public struct Attribute: Sendable, Hashable {
        public let type: String
        public let value: String
    }

    init(_ name: OpaquePointer?) {
        var attributes = [Attribute]()
        if let name {
            for index in 0..<X509_NAME_entry_count(name) {
                guard let entry = X509_NAME_get_entry(name, index) else { continue }  // get0: owned by the name
                let nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry))  // get: owned by the entry
                let type: String
                if nid != NID_undef, let short = OBJ_nid2sn(nid) {
                    type = String(cString: short)
                } else {
                    var oid = [CChar](repeating: 0, count: 128)
                    OBJ_obj2txt(&oid, Int32(oid.count), X509_NAME_ENTRY_get_object(entry), 1)  // get: owned by the entry
                    type = String(nulTerminated: oid)
                }
                var utf8: UnsafeMutablePointer<UInt8>? = nil
                let length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry))  // allocates: freed below
                var value = ""
                if length >= 0, let utf8 {
                    value = String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
                    cpkcs_OPENSSL_free(utf8)
                }
                attributes.append(Attribute(type: type, value: value))
            }
        }
        self.attributes = attributes
    }

    public init(attributes: [Attribute]) { self.attributes = attributes }

    public subscript(type: String) -> String? { attributes.last { $0.type == type }?.value }

    public var commonName: String? { self["CN"] }

    /// RFC 4514 order (most specific first), e.g. "CN=Anita Sharma,title=Under Secretary,O=...,C=IN".
    public var description: String {
        attributes.reversed().map { "\($0.type)=\(Self.escape($0.value))" }.joined(separator: ",")
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for (index, character) in value.enumerated() {
            if ",+\"\\<>;=".contains(character) || (index == 0 && (character == "#" || character == " "))
                || (index == value.count - 1 && character == " ")
            {
                out.append("\\")
            }
            out.append(character)
        }
        return out
    }
}
