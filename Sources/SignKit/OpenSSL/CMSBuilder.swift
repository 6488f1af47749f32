import CPKCS
import Foundation
import Synchronization

/// A detached CMS SignedData (RFC 5652 5.1) with one SignerInfo, built for a signature value made elsewhere (a
/// token). OpenSSL lays out the structure (`CMS_sign` and `CMS_add1_signer` with `CMS_PARTIAL`, so it signs
/// nothing), takes the attributes, encodes the signed attributes as they are signed, and encodes the whole; the
/// signature value is put in afterwards. Owns one CMS_ContentInfo.
///
/// ```
/// SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo (eContent absent),
///     certificates [0] IMPLICIT CertificateSet, signerInfos SET OF SignerInfo }
/// ```
final class CMSBuilder {
    private let cms: OpaquePointer  // CMS_ContentInfo*, owned: freed in deinit
    private let signer: OpaquePointer  // CMS_SignerInfo*, get0: owned by `cms`, lives as long as it

    /// `signer` is the SignerInfo inside `contentInfo`; the ContentInfo is freed with this object.
    private init(takingOwnershipOf contentInfo: OpaquePointer, signer: OpaquePointer) {
        (cms, self.signer) = (contentInfo, signer)
    }

    /// SHA-256 with the algorithm of `certificate`'s key; the certificate and `chain` are embedded.
    convenience init(signer certificate: X509Certificate, chain: [X509Certificate]) throws {
        OpenSSLError.clearQueue()
        // CMS_sign with no signer and CMS_PARTIAL: an empty SignedData to add the signer to; new, freed here until
        // this object owns it.
        guard let cms = CMS_sign(nil, nil, nil, nil, UInt32(CMS_PARTIAL | CMS_DETACHED | CMS_BINARY)) else {
            throw OpenSSLError.drain("CMS_sign (empty SignedData)")
        }
        guard let publicKey = X509_get0_pubkey(certificate.pointer) else {  // get0: owned by the certificate
            CMS_ContentInfo_free(cms)
            throw OpenSSLError.drain("X509_get0_pubkey")
        }
        // add1: the CMS takes its own reference to the certificate. The key only sets the algorithms (PARTIAL).
        // The SignerInfo returned is owned by the CMS.
        guard
            let signer = CMS_add1_signer(
                cms, certificate.pointer, publicKey, EVP_sha256(),
                UInt32(CMS_PARTIAL | CMS_NOSMIMECAP | CMS_BINARY))
        else {
            CMS_ContentInfo_free(cms)
            throw OpenSSLError.drain("CMS_add1_signer")
        }
        self.init(takingOwnershipOf: cms, signer: signer)
        for intermediate in chain {
            guard CMS_add1_cert(cms, intermediate.pointer) == 1 else { throw OpenSSLError.drain("CMS_add1_cert") }  // add1: own reference
        }
    }

    deinit { CMS_ContentInfo_free(cms) }

    // MARK: Attributes

    /// A signed attribute whose one value is the DER `sequence` (a SEQUENCE TLV).
    func addSignedAttribute(_ oid: String, sequence der: [UInt8]) throws {
        try addSignedAttribute(oid, type: V_ASN1_SEQUENCE, bytes: der)
    }

    /// A signed attribute whose one value is an OCTET STRING holding `content`.
    func addSignedAttribute(_ oid: String, octetString content: [UInt8]) throws {
        try addSignedAttribute(oid, type: V_ASN1_OCTET_STRING, bytes: content)
    }

    /// A signed attribute whose one value is the OBJECT IDENTIFIER `value` (dotted).
    func addSignedAttribute(_ oid: String, objectIdentifier value: String) throws {
        let object = try Self.object(oid)
        let valueObject = try Self.object(value)
        // len -1: `valueObject` is the ASN1_OBJECT itself, copied into the attribute (the cached one stays ours).
        guard CMS_signed_add1_attr_by_OBJ(signer, object, V_ASN1_OBJECT, UnsafeRawPointer(valueObject), -1) == 1 else {
            throw OpenSSLError.drain("adding signed attribute \(oid)")
        }
    }

    /// A signed attribute whose one value is `date` as UTCTime through 2049 and GeneralizedTime after (RFC 5652
    /// 11.3, as signingTime needs), to the second.
    func addSignedAttribute(_ oid: String, time date: Date) throws {
        guard let time = ASN1_TIME_set(nil, time_t(date.timeIntervalSince1970.rounded(.down))) else {  // new: freed below
            throw OpenSSLError.drain("ASN1_TIME_set")
        }
        defer { ASN1_TIME_free(time) }
        let object = try Self.object(oid)
        // add1: the attribute gets its own copy of the time.
        guard CMS_signed_add1_attr_by_OBJ(signer, object, time.pointee.type, UnsafeRawPointer(time), -1) == 1 else {
            throw OpenSSLError.drain("adding signingTime")
        }
    }

    /// An unsigned attribute whose one value is the DER `sequence`.
    func addUnsignedAttribute(_ oid: String, sequence der: [UInt8]) throws {
        let object = try Self.object(oid)
        let added = der.withUnsafeBytes { raw in  // add1: the bytes are copied into the attribute
            CMS_unsigned_add1_attr_by_OBJ(signer, object, V_ASN1_SEQUENCE, raw.baseAddress, Int32(raw.count))
        }
        guard added == 1 else { throw OpenSSLError.drain("adding unsigned attribute \(oid)") }
    }

    private func addSignedAttribute(_ oid: String, type: Int32, bytes: [UInt8]) throws {
        let object = try Self.object(oid)
        let added = bytes.withUnsafeBytes { raw in  // add1: the bytes are copied into the attribute
            CMS_signed_add1_attr_by_OBJ(signer, object, type, raw.baseAddress, Int32(raw.count))
        }
        guard added == 1 else { throw OpenSSLError.drain("adding signed attribute \(oid)") }
    }

    // MARK: Reading back

    /// The SignerInfo's digestAlgorithm and signatureAlgorithm, each a DER AlgorithmIdentifier as encoded in it.
    func algorithmIdentifiers() throws -> (digest: [UInt8], signature: [UInt8]) {
        var digest: UnsafeMutablePointer<X509_ALGOR>? = nil  // get0: owned by the SignerInfo
        var signature: UnsafeMutablePointer<X509_ALGOR>? = nil  // get0: owned by the SignerInfo
        CMS_SignerInfo_get0_algs(signer, nil, nil, &digest, &signature)
        guard let digest, let signature else { throw SigningError("the SignerInfo has no algorithms") }
        return (
            try OpenSSLDER.encode("i2d_X509_ALGOR") { i2d_X509_ALGOR(digest, &$0) },
            try OpenSSLDER.encode("i2d_X509_ALGOR") { i2d_X509_ALGOR(signature, &$0) }
        )
    }

    /// The DER of the signed attributes as they are signed: a SET OF Attribute in DER order (RFC 5652 5.4).
    func signedAttributesDER() throws -> [UInt8] {
        try OpenSSLDER.encode("encoding the signed attributes") { cpkcs_CMS_signed_attributes_der(signer, &$0) }
    }

    // MARK: Finishing

    /// Puts `signature` into the SignerInfo's signature OCTET STRING.
    func setSignature(_ signature: [UInt8]) throws {
        OpenSSLError.clearQueue()
        // get0: the SignerInfo's own signature OCTET STRING, filled in place (ASN1_STRING_set copies the bytes).
        guard let value = CMS_SignerInfo_get0_signature(signer),
            ASN1_STRING_set(value, signature, Int32(signature.count)) == 1
        else {
            throw OpenSSLError.drain("setting the signature value")
        }
    }

    /// The DER ContentInfo.
    func encode() throws -> [UInt8] {
        try OpenSSLDER.encode("i2d_CMS_ContentInfo") { i2d_CMS_ContentInfo(cms, &$0) }
    }

    // MARK: Attribute types

    /// The ASN1_OBJECT for a dotted OID, made once per process and kept (a handful of attribute types): OpenSSL
    /// copies the object into each attribute, so the cached one is only read.
    private static func object(_ oid: String) throws -> OpaquePointer {
        try objectCache.withLock { cache in
            if let object = cache[oid] { return object.pointer }
            guard let object = OBJ_txt2obj(oid, 1) else { throw OpenSSLError.drain("OBJ_txt2obj(\(oid))") }  // new: kept for the process
            cache[oid] = CachedObject(pointer: object)
            return object
        }
    }

    private struct CachedObject: @unchecked Sendable {
        let pointer: OpaquePointer  // ASN1_OBJECT*, owned by the cache for the life of the process
    }

    private static let objectCache = Mutex<[String: CachedObject]>([:])
}
