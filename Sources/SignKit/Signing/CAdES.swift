import Foundation

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

    public init(
        context: EOfficeContext, commitment: Commitment, signingTime: Date, chain: [X509Certificate] = [],
        timeStampAuthority: TimeStampAuthority? = nil
    ) {
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
    /// SignService login (`LoginBinding`): on login signatures only, never beside an e-Office context.
    public static let login = LoginBinding.oid
}

/// Detached CMS SignedData (CAdES baseline B) whose signature value comes from somewhere else, a token.
///
/// OpenSSL builds the structure (`CMSBuilder`: the certificate's public key and `CMS_PARTIAL`, so it signs
/// nothing). SignKit adds the signed attributes (signingCertificateV2 made once per certificate, which is what
/// OpenSSL's `CMS_CADES` would recompute for every signature), takes their DER as they are signed, has the token
/// sign it, puts the signature into the SignerInfo and checks it with OpenSSL before returning.
public enum CAdES {
    /// - Parameters:
    ///   - contentDigest: SHA-256 of the extract's exact bytes (`ExtractDigest` streams a file).
    ///   - sign: signs the DER of the signed attributes with the certificate's key (SHA-256 inside).
    /// - Returns: the DER ContentInfo (.p7s), eContent absent.
    public static func signDetached(
        contentDigest: [UInt8], certificate: X509Certificate, parameters: SignatureParameters,
        sign: ([UInt8]) throws -> TokenSignature
    ) throws -> [UInt8] {
        let prepared = try Prepared(contentDigest: contentDigest, certificate: certificate, parameters: parameters)
        return try prepared.finish(sign(prepared.toBeSigned))
    }

    /// A login signature: detached CAdES over a login challenge's canonical bytes whose signed attributes carry the
    /// login attribute (`binding`) instead of an e-Office context and a commitment, so it can only ever log in.
    /// - Returns: the DER ContentInfo (.p7s), eContent absent.
    public static func signLogin(
        challenge: [UInt8], certificate: X509Certificate, binding: LoginBinding, signingTime: Date, chain: [X509Certificate] = [],
        sign: ([UInt8]) throws -> TokenSignature
    ) throws -> [UInt8] {
        let prepared = try Prepared(
            challenge: challenge, certificate: certificate, binding: binding, signingTime: signingTime, chain: chain)
        return try prepared.finish(sign(prepared.toBeSigned))
    }

    /// What binds a signature to its purpose: a place in a file with a commitment, or a login.
    enum Purpose {
        case eOffice(EOfficeContext, Commitment)
        case login(LoginBinding)
    }

    /// id-data (RFC 5652 4): the type of the content a detached signature covers.
    static let dataContentType = "1.2.840.113549.1.7.1"

    /// A detached SignedData waiting for its signature value: built before the token is reached and finished after
    /// it, so a caller that serialises token use (the daemon) holds its token only for the signature itself.
    public final class Prepared: @unchecked Sendable {  // used by one thread at a time: prepared, signed, finished
        /// The DER of the signed attributes: what the token signs.
        public let toBeSigned: [UInt8]
        public let certificate: X509Certificate
        private let timeStampAuthority: TimeStampAuthority?
        private let builder: CMSBuilder

        public convenience init(contentDigest: [UInt8], certificate: X509Certificate, parameters: SignatureParameters) throws {
            try self.init(
                contentDigest: contentDigest, certificate: certificate, purpose: .eOffice(parameters.context, parameters.commitment),
                signingTime: parameters.signingTime, chain: parameters.chain, timeStampAuthority: parameters.timeStampAuthority)
        }

        /// A login signature over `challenge` (a login challenge's canonical bytes) waiting for its signature value.
        public convenience init(
            challenge: [UInt8], certificate: X509Certificate, binding: LoginBinding, signingTime: Date, chain: [X509Certificate] = []
        ) throws {
            try self.init(
                contentDigest: SHA256Hasher.hash(challenge), certificate: certificate, purpose: .login(binding),
                signingTime: signingTime, chain: chain, timeStampAuthority: nil)
        }

        init(
            contentDigest: [UInt8], certificate: X509Certificate, purpose: Purpose, signingTime: Date, chain: [X509Certificate],
            timeStampAuthority: TimeStampAuthority?
        ) throws {
            guard contentDigest.count == 32 else { throw SigningError("the content digest must be a SHA-256 (32 bytes)") }
            let builder = try CMSBuilder(signer: certificate, chain: chain)
            try builder.addSignedAttribute(AttributeOID.contentType, objectIdentifier: CAdES.dataContentType)
            try builder.addSignedAttribute(AttributeOID.signingTime, time: signingTime)
            try builder.addSignedAttribute(AttributeOID.messageDigest, octetString: contentDigest)
            try builder.addSignedAttribute(AttributeOID.signingCertificateV2, sequence: try certificate.signingCertificateV2)
            try builder.addSignedAttribute(AttributeOID.cmsAlgorithmProtection, sequence: try CAdES.algorithmProtection(builder))
            switch purpose {
            case .eOffice(let context, let commitment):
                try builder.addSignedAttribute(
                    AttributeOID.commitmentTypeIndication, sequence: DER.tlv(0x30, try DER.objectIdentifier(commitment.oid)))
                try builder.addSignedAttribute(AttributeOID.eOfficeContext, sequence: context.der)
            case .login(let binding):
                try builder.addSignedAttribute(AttributeOID.login, sequence: binding.der)
            }
            toBeSigned = try builder.signedAttributesDER()
            (self.builder, self.certificate, self.timeStampAuthority) = (builder, certificate, timeStampAuthority)
        }

        /// Checks the token's signature over `toBeSigned` against the certificate, puts it in, time-stamps it when the
        /// parameters name a TSA, and returns the DER ContentInfo (.p7s).
        public func finish(_ signature: TokenSignature) throws -> [UInt8] {
            // The token's signature must check against the certificate before anyone sees it: a token whose key is
            // not the certificate's (a swapped or re-keyed token) cannot produce a .p7s.
            guard certificate.verifySignature(signature.bytes, over: toBeSigned) else {
                throw SigningError(
                    "the token's signature does not verify with the public key of \"\(certificate.subject.commonName ?? "the certificate")\"; "
                        + "the key that signed is not the certificate's")
            }
            try builder.setSignature(signature.bytes)
            if let authority = timeStampAuthority {
                let token = try authority.timeStamp(signature.bytes)
                try builder.addUnsignedAttribute(AttributeOID.signatureTimeStampToken, sequence: token.der)
            }
            return try builder.encode()
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
    static func algorithmProtection(_ builder: CMSBuilder) throws -> [UInt8] {
        var (digestDER, signatureDER) = try builder.algorithmIdentifiers()
        signatureDER[0] = 0xA1  // [1] IMPLICIT: the SEQUENCE tag becomes context-specific constructed 1
        return DER.tlv(0x30, digestDER + signatureDER)
    }
}

public typealias SigningError = SingleCodeError<SigningErrorDomain>

/// "signing": the signature could not be made or did not check (a token that signed with another key, a TSA whose answer does not verify).
public enum SigningErrorDomain: SingleCodeDomain { public static let codeName = "signing" }

extension DER {
    /// OBJECT IDENTIFIER TLV for a dotted OID (X.690 8.19) whose arcs fit in 64 bits, as every OID SignKit writes does.
    static func objectIdentifier(_ dotted: String) throws -> [UInt8] {
        let arcs = dotted.split(separator: ".").map { UInt64($0) }
        guard arcs.count >= 2, arcs.allSatisfy({ $0 != nil }), let first = arcs[0], let second = arcs[1], first <= 2,
            first == 2 || second < 40
        else {
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
