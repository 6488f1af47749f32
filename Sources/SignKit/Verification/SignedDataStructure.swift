/// A CMS SignedData (RFC 5652 5) read by `DERScanner`: every field is a slice of the input, nothing is decoded
/// beyond what verification needs.
///
/// ```
/// ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, content [0] EXPLICIT ANY }
/// SignedData ::= SEQUENCE { version, digestAlgorithms SET OF AlgorithmIdentifier,
///     encapContentInfo SEQUENCE { eContentType OBJECT IDENTIFIER, eContent [0] EXPLICIT OCTET STRING OPTIONAL },
///     certificates [0] IMPLICIT SET OF CertificateChoices OPTIONAL,
///     crls [1] IMPLICIT SET OF RevocationInfoChoice OPTIONAL, signerInfos SET OF SignerInfo }
/// ```
struct SignedDataStructure {
    /// The DER the slices point into (the input, or OpenSSL's DER re-encoding of BER input).
    let der: [UInt8]
    /// True when the input was BER and was re-encoded.
    let reencodedFromBER: Bool
    let eContentType: OID
    /// The encapsulated content when the signature is not detached.
    let eContent: ArraySlice<UInt8>?
    /// Each embedded X.509 certificate, whole (other certificate choices are skipped).
    let certificates: [ArraySlice<UInt8>]
    /// Each embedded X.509 CRL, whole (RevocationInfoChoice crl).
    let crls: [ArraySlice<UInt8>]
    /// OCSP responses embedded as `[1] OtherRevocationInfoFormat` with id-ri-ocsp-response (RFC 5940).
    let ocspResponses: [ArraySlice<UInt8>]
    let signers: [SignerInfoStructure]

    static let signedDataType = OID("1.2.840.113549.1.7.2")
    static let dataType = OID("1.2.840.113549.1.7.1")
    static let ocspResponseFormat = OID("1.3.6.1.5.5.7.16.2")

    init(_ input: [UInt8]) throws(DERError) {
        do {
            try self.init(der: input, reencoded: false)
        } catch let error where error.description.contains("indefinite length") {
            // BER (as some tools write with streaming): let OpenSSL re-encode it as DER, then read that.
            guard let der = OpenSSLDER.reencodeContentInfo(ber: input) else { throw error }
            try self.init(der: der, reencoded: true)
        }
    }

    private init(der: [UInt8], reencoded: Bool) throws(DERError) {
        self.der = der
        self.reencodedFromBER = reencoded
        var outer = DERScanner(der, what: "the signature file")
        let contentInfo = try outer.expect(0x30, "ContentInfo")
        guard outer.isAtEnd else { throw DERError("the signature file has \(der.count - contentInfo.encoded.count) bytes after its ContentInfo") }
        var info = try contentInfo.children("ContentInfo")
        let type = try info.expect(0x06, "contentType").objectIdentifier("ContentInfo contentType")
        guard type == Self.signedDataType else {
            throw DERError("the file is a CMS ContentInfo of type \(type), not SignedData (1.2.840.113549.1.7.2)")
        }
        var explicit = try info.expect(0xA0, "content [0]").children("ContentInfo content")
        var signedData = try explicit.expect(0x30, "SignedData").children("SignedData")
        _ = try signedData.expect(0x02, "version").smallInteger("SignedData version")
        _ = try signedData.expect(0x31, "digestAlgorithms")
        var encap = try signedData.expect(0x30, "encapContentInfo").children("encapContentInfo")
        eContentType = try encap.expect(0x06, "eContentType").objectIdentifier("eContentType")
        if let wrapped = try encap.optional(0xA0) {
            var inner = try wrapped.children("eContent")
            eContent = try inner.expect(0x04, "eContent OCTET STRING").content
        } else {
            eContent = nil
        }
        var certificates = [ArraySlice<UInt8>]()
        if let set = try signedData.optional(0xA0) {
            var choices = try set.children("certificates")
            while let choice = try choices.next() {
                if choice.tag == 0x30 { certificates.append(choice.encoded) }
            }
        }
        self.certificates = certificates
        var crls = [ArraySlice<UInt8>](), ocsp = [ArraySlice<UInt8>]()
        if let set = try signedData.optional(0xA1) {
            var choices = try set.children("crls")
            while let choice = try choices.next() {
                if choice.tag == 0x30 {
                    crls.append(choice.encoded)
                } else if choice.tag == 0xA1 {
                    var other = try choice.children("OtherRevocationInfoFormat")
                    let format = try other.expect(0x06, "otherRevInfoFormat").objectIdentifier("otherRevInfoFormat")
                    if format == Self.ocspResponseFormat, let response = try other.next() { ocsp.append(response.encoded) }
                }
            }
        }
        self.crls = crls
        self.ocspResponses = ocsp
        var signerSet = try signedData.expect(0x31, "signerInfos").children("signerInfos")
        var signers = [SignerInfoStructure]()
        while let element = try signerSet.next() {
            signers.append(try SignerInfoStructure(element, index: signers.count))
        }
        self.signers = signers
    }
}

/// ```
/// SignerInfo ::= SEQUENCE { version, sid SignerIdentifier, digestAlgorithm,
///     signedAttrs [0] IMPLICIT SET OF Attribute OPTIONAL, signatureAlgorithm, signature OCTET STRING,
///     unsignedAttrs [1] IMPLICIT SET OF Attribute OPTIONAL }
/// SignerIdentifier ::= CHOICE { issuerAndSerialNumber SEQUENCE { issuer Name, serialNumber INTEGER },
///     subjectKeyIdentifier [0] IMPLICIT OCTET STRING }
/// ```
struct SignerInfoStructure {
    enum Identifier {
        case issuerAndSerial(issuer: ArraySlice<UInt8>, serial: ArraySlice<UInt8>)
        case subjectKeyIdentifier(ArraySlice<UInt8>)
    }

    let identifier: Identifier
    let digestAlgorithm: AlgorithmIdentifier
    /// The signed attributes as signed: the [0] field with its tag changed to SET (RFC 5652 5.4).
    let signedAttributesDER: [UInt8]?
    let signedAttributes: [CMSAttribute]
    let signatureAlgorithm: AlgorithmIdentifier
    let signature: ArraySlice<UInt8>
    let unsignedAttributes: [CMSAttribute]

    init(_ element: DERElement, index: Int) throws(DERError) {
        // Fixed names (no interpolation): this runs for every signature; errors add the position themselves.
        guard element.tag == 0x30 else { throw DERError("SignerInfo \(index + 1) is not a SEQUENCE") }
        var fields = try element.children("SignerInfo")
        _ = try fields.expect(0x02, "version").smallInteger("SignerInfo version")
        guard let sid = try fields.next() else { throw DERError("SignerInfo \(index + 1): the signer identifier is missing") }
        switch sid.tag {
        case 0x30:
            var parts = try sid.children("SignerInfo issuerAndSerialNumber")
            let issuer = try parts.expect(0x30, "issuer").encoded
            let serial = try parts.expect(0x02, "serialNumber").content
            identifier = .issuerAndSerial(issuer: issuer, serial: serial)
        case 0x80:
            identifier = .subjectKeyIdentifier(sid.content)
        default:
            throw DERError("SignerInfo \(index + 1): the signer identifier has tag 0x\(String(sid.tag, radix: 16))")
        }
        digestAlgorithm = try AlgorithmIdentifier(try fields.expect(0x30, "digestAlgorithm"), "SignerInfo digestAlgorithm")
        if let signed = try fields.optional(0xA0) {
            var der = Array(signed.encoded)
            der[0] = 0x31
            signedAttributesDER = der
            signedAttributes = try CMSAttribute.list(signed, "SignerInfo signedAttrs")
        } else {
            signedAttributesDER = nil
            signedAttributes = []
        }
        signatureAlgorithm = try AlgorithmIdentifier(try fields.expect(0x30, "signatureAlgorithm"), "SignerInfo signatureAlgorithm")
        signature = try fields.expect(0x04, "signature").content
        if let unsigned = try fields.optional(0xA1) {
            unsignedAttributes = try CMSAttribute.list(unsigned, "SignerInfo unsignedAttrs")
        } else {
            unsignedAttributes = []
        }
        guard fields.isAtEnd else { throw DERError("SignerInfo \(index + 1) has unexpected fields after its signature") }
    }
}

/// AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
struct AlgorithmIdentifier {
    let oid: OID
    /// The parameters' whole encoding, nil when absent.
    let parameters: ArraySlice<UInt8>?

    init(_ element: DERElement, _ name: String) throws(DERError) {
        var fields = try element.children(name)
        oid = try fields.expect(0x06, "algorithm").objectIdentifier(name)
        parameters = try fields.next()?.encoded
    }

    /// True when the parameters are absent or NULL (both are seen for the SHA-2 family).
    var hasNoParameters: Bool { parameters == nil || parameters.map(Array.init) == [0x05, 0x00] }
}

/// Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }
struct CMSAttribute {
    let oid: OID
    /// Each value, whole.
    let values: [DERElement]

    static func list(_ element: DERElement, _ name: String) throws(DERError) -> [CMSAttribute] {
        var scanner = try element.children(name)
        var attributes = [CMSAttribute]()
        while let attribute = try scanner.next() {
            // Names are fixed strings: this runs for every attribute of every signature.
            var fields = try attribute.children(name)
            let oid = try fields.expect(0x06, "attrType").objectIdentifier("an attribute type")
            var values = try fields.expect(0x31, "attrValues").children(name)
            attributes.append(CMSAttribute(oid: oid, values: try values.all()))
        }
        return attributes
    }
}

/// The parts of a DER certificate verification needs before (or instead of) parsing it with OpenSSL.
///
/// ```
/// Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm, signatureValue BIT STRING }
/// TBSCertificate ::= SEQUENCE { version [0] EXPLICIT OPTIONAL, serialNumber INTEGER, signature, issuer Name, ... }
/// ```
struct CertificateIdentity {
    let issuer: ArraySlice<UInt8>
    let serial: ArraySlice<UInt8>

    /// `range` of `base` holds the certificate (no copy is made).
    init?(in base: [UInt8], _ range: Range<Int>) {
        var outer = DERScanner(base, from: range.lowerBound, to: range.upperBound, what: "certificate")
        guard let whole = try? outer.expect(0x30, "Certificate"),
            var certificateFields = try? whole.children("Certificate"),
            let tbs = try? certificateFields.expect(0x30, "tbsCertificate"),
            var fields = try? tbs.children("tbsCertificate")
        else { return nil }
        _ = try? fields.optional(0xA0)
        guard let serial = try? fields.expect(0x02, "serialNumber"),
            (try? fields.expect(0x30, "signature")) != nil,
            let issuer = try? fields.expect(0x30, "issuer")
        else { return nil }
        self.issuer = issuer.encoded
        self.serial = serial.content
    }

    init?(_ certificate: X509Certificate) { self.init(in: certificate.der, 0..<certificate.der.count) }

    func matches(_ identifier: SignerInfoStructure.Identifier) -> Bool {
        guard case .issuerAndSerial(let issuer, let serial) = identifier else { return false }
        return serial.elementsEqual(self.serial) && issuer.elementsEqual(self.issuer)
    }
}
