import CPKCS
import Foundation

/// A parsed CMS SignedData (RFC 5652 5.1), read through OpenSSL. Owns one CMS_ContentInfo.
///
/// ```
/// SignerInfo ::= SEQUENCE {
///     version CMSVersion, sid SignerIdentifier, digestAlgorithm DigestAlgorithmIdentifier,
///     signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL, signatureAlgorithm SignatureAlgorithmIdentifier,
///     signature SignatureValue, unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
/// ```
public final class CMSSignedData: @unchecked Sendable {
    private let pointer: OpaquePointer  // CMS_ContentInfo*, owned: CMS_ContentInfo_free in deinit
    public let der: [UInt8]

    /// One attribute: its OID and the DER of its SET OF values.
    public struct Attribute: Sendable, Hashable {
        public let oid: String
        /// The values' DER, each a complete TLV.
        public let values: [[UInt8]]
    }

    /// `contentInfo` is a CMS_ContentInfo of type SignedData whose encoding is `der`; it is freed with this object.
    private init(takingOwnershipOf contentInfo: OpaquePointer, der: [UInt8]) {
        pointer = contentInfo
        self.der = der
    }

    public convenience init(der: [UInt8]) throws {
        OpenSSLError.clearQueue()
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            let cms = d2i_CMS_ContentInfo(nil, &cursor, buffer.count)
            if cms != nil, let start = buffer.baseAddress, cursor != start + buffer.count {
                CMS_ContentInfo_free(cms)
                return nil
            }
            return cms
        }
        guard let parsed else { throw OpenSSLError.drain("d2i_CMS_ContentInfo (CMS DER)") }
        self.init(takingOwnershipOf: parsed, der: der)
        guard OBJ_obj2nid(CMS_get0_type(parsed)) == NID_pkcs7_signed else {  // get0: owned by the CMS
            throw SigningError("the CMS is not SignedData")
        }
    }

    deinit { CMS_ContentInfo_free(pointer) }

    /// True when eContent is absent (a detached signature).
    public var isDetached: Bool { CMS_is_detached(pointer) == 1 }

    public var signerCount: Int { Int(max(0, cpkcs_CMS_signer_count(pointer))) }

    /// The certificates embedded in the SignedData.
    public var certificates: [X509Certificate] {
        guard let stack = CMS_get1_certs(pointer) else { return [] }  // get1: a new stack of new references
        defer { cpkcs_sk_X509_pop_free(stack) }
        return (0..<Int(cpkcs_sk_X509_num(stack))).compactMap { index in
            guard let x509 = cpkcs_sk_X509_value(stack, Int32(index)) else { return nil }
            return (try? OpenSSLDER.encode("i2d_X509") { i2d_X509(x509, &$0) }).flatMap { try? X509Certificate(der: $0) }
        }
    }

    /// Checks the first SignerInfo's signature over its signed attributes with `certificate`'s public key
    /// (CMS_SignerInfo_verify). It does not check the content digest, the chain or any policy.
    public func checkSignerSignature(with certificate: X509Certificate, signer index: Int = 0) throws {
        guard let signer = cpkcs_CMS_signer(pointer, Int32(index)) else { throw SigningError("no SignerInfo \(index)") }
        OpenSSLError.clearQueue()
        CMS_SignerInfo_set1_signer_cert(signer, certificate.pointer)  // set1: the SignerInfo takes its own reference
        guard CMS_SignerInfo_verify(signer) == 1 else {
            throw SigningError(
                "the signature does not verify with the public key of \"\(certificate.subject.commonName ?? "the certificate")\"; "
                    + "the key that signed is not the certificate's (\(OpenSSLError.drain("CMS_SignerInfo_verify")))")
        }
    }

    /// The SignerInfo's signature value (what a CAdES-T time-stamp covers).
    public func signatureValue(signer index: Int = 0) throws -> [UInt8] {
        guard let signer = cpkcs_CMS_signer(pointer, Int32(index)),
            let value = CMS_SignerInfo_get0_signature(signer)
        else { throw SigningError("no SignerInfo \(index)") }  // get0
        return Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data(value), count: Int(ASN1_STRING_length(value))))
    }

    /// The signed attributes' DER as signed (a SET), what the signature value covers.
    public func signedAttributesDER(signer index: Int = 0) throws -> [UInt8] {
        guard let signer = cpkcs_CMS_signer(pointer, Int32(index)) else { throw SigningError("no SignerInfo \(index)") }
        return try OpenSSLDER.encode("signed attributes DER") { cpkcs_CMS_signed_attributes_der(signer, &$0) }
    }

    public func signedAttributes(signer index: Int = 0) throws -> [Attribute] {
        try attributes(signer: index, signed: true)
    }

    public func unsignedAttributes(signer index: Int = 0) throws -> [Attribute] {
        try attributes(signer: index, signed: false)
    }

    private func attributes(signer index: Int, signed: Bool) throws -> [Attribute] {
        guard let signer = cpkcs_CMS_signer(pointer, Int32(index)) else { throw SigningError("no SignerInfo \(index)") }
        let count = signed ? CMS_signed_get_attr_count(signer) : CMS_unsigned_get_attr_count(signer)
        var found = [Attribute]()
        for position in 0..<max(0, count) {
            var oid = [CChar](repeating: 0, count: 128)
            let set = try OpenSSLDER.encode("reading attribute \(position)") {
                cpkcs_CMS_attribute(signer, signed ? 1 : 0, position, &oid, oid.count, &$0)
            }
            var outer = DERScanner(set, what: "attribute \(position)")
            guard let element = try? outer.expect(0x31, "its SET of values"), outer.isAtEnd, var reader = try? element.children("its values") else {
                throw SigningError("attribute \(position) is not a SET")
            }
            var values = [[UInt8]]()
            do {
                while let value = try reader.next() { values.append(Array(value.encoded)) }
            } catch {
                throw SigningError("attribute \(position): \(error)")
            }
            found.append(Attribute(oid: String(nulTerminated: oid), values: values))
        }
        return found
    }
}
