import CPKCS
import Foundation
import Synchronization

/// What a signature says beyond the content's digest: the e-Office context, the commitment and the time.
public struct SignatureParameters: Sendable {
    public var context: EOfficeContext
    public var commitment: Commitment
    /// The signer's claimed time (the signingTime attribute). A time-stamp, when added, proves it.
    public var signingTime: Date
    /// Intermediate CA certificates embedded with the signer's, so verifiers can build the path offline.
    public var chain: [X509Certificate]
    /// With a TSA, the signature is time-stamped (CAdES-T): the signing time is then proven, not only claimed.
    public var timeStampAuthority: TimeStampAuthority?

    public init(context: EOfficeContext, commitment: Commitment, signingTime: Date, chain: [X509Certificate] = [],
                timeStampAuthority: TimeStampAuthority? = nil) {
        self.context = context
        self.commitment = commitment
        self.signingTime = signingTime
        self.chain = chain
        self.timeStampAuthority = timeStampAuthority
    }
}

/// Signed-attribute OIDs SignKit writes (RFC 5652, RFC 5035, RFC 6211, ETSI EN 319 122-1).
public enum AttributeOID {
    public static let contentType = "1.2.840.113549.1.9.3"
    public static let messageDigest = "1.2.840.113549.1.9.4"
    public static let signingTime = "1.2.840.113549.1.9.5"
    public static let signingCertificateV2 = "1.2.840.113549.1.9.16.2.47"
    public static let cmsAlgorithmProtection = "1.2.840.113549.1.9.52"
    public static let commitmentTypeIndication = "1.2.840.113549.1.9.16.2.16"
    public static let signatureTimeStampToken = "1.2.840.113549.1.9.16.2.14"
    public static let eOfficeContext = EOfficeContext.oid
}

/// Detached CMS SignedData (CAdES baseline B) whose signature value comes from somewhere else, a token.
///
/// OpenSSL builds the structure: `CMS_add1_signer` with the certificate's public key and `CMS_PARTIAL` (so it signs
/// nothing). SignKit adds the signed attributes (signingCertificateV2 made once per certificate, which is what
/// OpenSSL's `CMS_CADES` would recompute for every signature), takes their DER as
/// they are signed (`cpkcs_CMS_signed_attributes_der`), has the token sign it, puts the signature into the
/// SignerInfo and checks it with OpenSSL before returning.
public enum CAdES {
    /// - Parameters:
    ///   - contentDigest: SHA-256 of the extract's exact bytes (`ExtractDigest` streams a file).
    ///   - sign: signs the DER of the signed attributes with the certificate's key (SHA-256 inside).
    /// - Returns: the DER ContentInfo (.p7s), eContent absent.
    public static func signDetached(contentDigest: [UInt8], certificate: X509Certificate, parameters: SignatureParameters,
                                    sign: ([UInt8]) throws -> TokenSignature) throws -> [UInt8] {
        let prepared = try Prepared(contentDigest: contentDigest, certificate: certificate, parameters: parameters)
        return try prepared.finish(sign(prepared.toBeSigned))
    }

    /// A detached SignedData waiting for its signature value: built before the token is reached and finished after
    /// it, so a caller that serialises token use (the daemon) holds its token only for the signature itself.
    public final class Prepared: @unchecked Sendable {  // used by one thread at a time: prepared, signed, finished
        /// The DER of the signed attributes: what the token signs.
        public let toBeSigned: [UInt8]
        public let certificate: X509Certificate
        private let parameters: SignatureParameters
        private let cms: OpaquePointer  // CMS_ContentInfo*, owned
        private let signer: OpaquePointer  // CMS_SignerInfo*, owned by `cms`

        public init(contentDigest: [UInt8], certificate: X509Certificate, parameters: SignatureParameters) throws {
            guard contentDigest.count == 32 else { throw SigningError("the content digest must be a SHA-256 (32 bytes)") }
            OpenSSLError.clearQueue()
            // CMS_sign with no signer and CMS_PARTIAL: an empty SignedData to add the signer to; owned (freed here on
            // failure, by deinit after).
            guard let cms = CMS_sign(nil, nil, nil, nil, UInt32(CMS_PARTIAL | CMS_DETACHED | CMS_BINARY)) else {
                throw OpenSSLError.drain("CMS_sign (empty SignedData)")
            }
            var built = false
            defer { if !built { CMS_ContentInfo_free(cms) } }
            guard let publicKey = X509_get0_pubkey(certificate.pointer) else {  // get0: owned by the certificate
                throw OpenSSLError.drain("X509_get0_pubkey")
            }
            // add1: the CMS takes its own reference to the certificate. The key only sets the algorithms (PARTIAL).
            guard let signer = CMS_add1_signer(cms, certificate.pointer, publicKey, EVP_sha256(),
                                               UInt32(CMS_PARTIAL | CMS_NOSMIMECAP | CMS_BINARY)) else {
                throw OpenSSLError.drain("CMS_add1_signer")
            }
            for intermediate in parameters.chain {
                guard CMS_add1_cert(cms, intermediate.pointer) == 1 else { throw OpenSSLError.drain("CMS_add1_cert") }  // add1: own reference
            }
            try CAdES.addAttribute(signer, AttributeOID.contentType, type: V_ASN1_OBJECT, object: OBJ_nid2obj(NID_pkcs7_data))
            try CAdES.addSigningTime(signer, parameters.signingTime)
            try CAdES.addAttribute(signer, AttributeOID.messageDigest, type: V_ASN1_OCTET_STRING, bytes: contentDigest)
            try CAdES.addAttribute(signer, AttributeOID.signingCertificateV2, type: V_ASN1_SEQUENCE,
                                   bytes: try certificate.signingCertificateV2)
            try CAdES.addAttribute(signer, AttributeOID.cmsAlgorithmProtection, type: V_ASN1_SEQUENCE,
                                   bytes: try CAdES.algorithmProtection(signer))
            try CAdES.addAttribute(signer, AttributeOID.commitmentTypeIndication, type: V_ASN1_SEQUENCE,
                                   bytes: DER.tlv(0x30, try DER.objectIdentifier(parameters.commitment.oid)))
            try CAdES.addAttribute(signer, AttributeOID.eOfficeContext, type: V_ASN1_SEQUENCE, bytes: parameters.context.der)
            toBeSigned = try CAdES.signedAttributesDER(signer)
            (self.cms, self.signer, self.certificate, self.parameters) = (cms, signer, certificate, parameters)
            built = true
        }

        deinit { CMS_ContentInfo_free(cms) }

        /// Checks the token's signature over `toBeSigned` against the certificate, puts it in, time-stamps it when the
        /// parameters name a TSA, and returns the DER ContentInfo (.p7s).
        public func finish(_ signature: TokenSignature) throws -> [UInt8] {
            OpenSSLError.clearQueue()
            // The token's signature must check against the certificate before anyone sees it: a token whose key is
            // not the certificate's (a swapped or re-keyed token) cannot produce a .p7s.
            guard certificate.verifySignature(signature.bytes, over: toBeSigned) else {
                throw SigningError("the token's signature does not verify with the public key of \"\(certificate.subject.commonName ?? "the certificate")\"; "
                    + "the key that signed is not the certificate's")
            }
            // get0: the SignerInfo's own signature OCTET STRING, filled in place.
            guard let value = CMS_SignerInfo_get0_signature(signer),
                  ASN1_STRING_set(value, signature.bytes, Int32(signature.bytes.count)) == 1 else {
                throw OpenSSLError.drain("setting the signature value")
            }
            if let authority = parameters.timeStampAuthority {
                let token = try authority.timeStamp(signature.bytes)
                let object = try CAdES.objectFor(AttributeOID.signatureTimeStampToken)
                let added = token.der.withUnsafeBytes { raw in
                    CMS_unsigned_add1_attr_by_OBJ(signer, object, V_ASN1_SEQUENCE, raw.baseAddress, Int32(raw.count))
                }
                guard added == 1 else { throw OpenSSLError.drain("adding the signature time-stamp") }
            }
            return try CAdES.encode(cms)
        }
    }

    // MARK: Attributes

    static func addAttribute(_ signer: OpaquePointer, _ oid: String, type: Int32, bytes: [UInt8]) throws {
        let object = try objectFor(oid)
        let added = bytes.withUnsafeBytes { raw in
            CMS_signed_add1_attr_by_OBJ(signer, object, type, raw.baseAddress, Int32(raw.count))
        }
        guard added == 1 else { throw OpenSSLError.drain("adding signed attribute \(oid)") }
    }

    static func addAttribute(_ signer: OpaquePointer, _ oid: String, type: Int32, object value: OpaquePointer?) throws {
        let object = try objectFor(oid)
        // len -1: `value` is the ASN1_OBJECT itself, copied into the attribute.
        guard let value, CMS_signed_add1_attr_by_OBJ(signer, object, type, UnsafeRawPointer(value), -1) == 1 else {
            throw OpenSSLError.drain("adding signed attribute \(oid)")
        }
    }

    /// signingTime as UTCTime through 2049 and GeneralizedTime after (RFC 5652 11.3).
    static func addSigningTime(_ signer: OpaquePointer, _ date: Date) throws {
        guard let time = ASN1_TIME_set(nil, time_t(date.timeIntervalSince1970.rounded(.down))) else {  // new: freed below
            throw OpenSSLError.drain("ASN1_TIME_set")
        }
        defer { ASN1_TIME_free(time) }
        let object = try objectFor(AttributeOID.signingTime)
        guard CMS_signed_add1_attr_by_OBJ(signer, object, time.pointee.type, UnsafeRawPointer(time), -1) == 1 else {
            throw OpenSSLError.drain("adding signingTime")
        }
    }

    /// CMSAlgorithmProtection (RFC 6211): the digest and signature algorithms exactly as the SignerInfo names them,
    /// so a verifier can tell that neither was swapped.
    ///
    /// ```
    /// CMSAlgorithmProtection ::= SEQUENCE {
    ///     digestAlgorithm         DigestAlgorithmIdentifier,
    ///     signatureAlgorithm  [1] SignatureAlgorithmIdentifier OPTIONAL,
    ///     macAlgorithm        [2] MessageAuthenticationCodeAlgorithm OPTIONAL }
    /// ```
    static func algorithmProtection(_ signer: OpaquePointer) throws -> [UInt8] {
        var digest: UnsafeMutablePointer<X509_ALGOR>? = nil     // get0: owned by the SignerInfo
        var signature: UnsafeMutablePointer<X509_ALGOR>? = nil  // get0: owned by the SignerInfo
        CMS_SignerInfo_get0_algs(signer, nil, nil, &digest, &signature)
        guard let digest, let signature else { throw SigningError("the SignerInfo has no algorithms") }
        let digestDER = try encodeAlgorithm(digest)
        var signatureDER = try encodeAlgorithm(signature)
        signatureDER[0] = 0xA1  // [1] IMPLICIT: the SEQUENCE tag becomes context-specific constructed 1
        return DER.tlv(0x30, digestDER + signatureDER)
    }

    static func encodeAlgorithm(_ algorithm: UnsafeMutablePointer<X509_ALGOR>) throws -> [UInt8] {
        try OpenSSLDER.encode("i2d_X509_ALGOR") { i2d_X509_ALGOR(algorithm, &$0) }
    }

    static func signedAttributesDER(_ signer: OpaquePointer) throws -> [UInt8] {
        try OpenSSLDER.encode("encoding the signed attributes") { cpkcs_CMS_signed_attributes_der(signer, &$0) }
    }

    /// The ASN1_OBJECT for a dotted OID, made once per process and kept (a handful of attribute types): OpenSSL
    /// copies the object into each attribute, so the cached one is only read.
    static func objectFor(_ oid: String) throws -> OpaquePointer {
        try objectCache.withLock { cache in
            if let object = cache[oid] { return object.pointer }
            guard let object = OBJ_txt2obj(oid, 1) else { throw OpenSSLError.drain("OBJ_txt2obj(\(oid))") }  // new: kept for the process
            cache[oid] = CachedObject(pointer: object)
            return object
        }
    }

    private struct CachedObject: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private static let objectCache = Mutex<[String: CachedObject]>([:])

    static func encode(_ cms: OpaquePointer) throws -> [UInt8] {
        try OpenSSLDER.encode("i2d_CMS_ContentInfo") { i2d_CMS_ContentInfo(cms, &$0) }
    }
}

public struct SigningError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ reason: String, file: String = #fileID, line: Int = #line) {
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { reason }
}

extension DER {
    /// OBJECT IDENTIFIER TLV for a dotted OID (X.690 8.19) whose arcs fit in 64 bits, as every OID SignKit writes does.
    static func objectIdentifier(_ dotted: String) throws -> [UInt8] {
        let arcs = dotted.split(separator: ".").map { UInt64($0) }
        guard arcs.count >= 2, arcs.allSatisfy({ $0 != nil }), let first = arcs[0], let second = arcs[1], first <= 2,
              first == 2 || second < 40 else {
            throw SigningError("\(dotted) is not an OBJECT IDENTIFIER SignKit can encode")
        }
        var content = [UInt8]()
        for arc in [first * 40 + second] + arcs.dropFirst(2).map({ $0! }) {
            var groups = [UInt8(arc & 0x7F)]
            var rest = arc >> 7
            while rest > 0 {
                groups.insert(UInt8(rest & 0x7F) | 0x80, at: 0)
                rest >>= 7
            }
            content += groups
        }
        return tlv(0x06, content)
    }
}

