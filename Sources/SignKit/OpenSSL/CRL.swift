import CPKCS
import Foundation

/// An X.509 CRL (RFC 5280 5), parsed once per verifier and judged by OpenSSL's path validation
/// (`X509StoreContext`), which checks its signature, issuer, scope, times and extensions. Owns one X509_CRL.
///
///     CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier,
///         signatureValue BIT STRING }
///     TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name,
///         thisUpdate Time, nextUpdate Time OPTIONAL, revokedCertificates SEQUENCE OF SEQUENCE { ... } OPTIONAL,
///         crlExtensions [0] EXPLICIT Extensions OPTIONAL }
///
/// Read-only after init (OpenSSL sorts the entries under its own lock on first lookup), so threads share it.
final class CertificateRevocationList: @unchecked Sendable {
    /// X509_CRL*, owned: freed in deinit. Only files in OpenSSL/ touch it.
    let pointer: OpaquePointer
    /// The CRL as received, for bundles.
    let der: [UInt8]
    let thisUpdate: Date
    let nextUpdate: Date?
    /// "not revoked as of <thisUpdate>", a report's words for a certificate this CRL does not list, made once: each
    /// signature's report says it.
    let notRevokedText: String
    /// The issuer's name in RFC 4514 order, for reports.
    let issuer: DistinguishedName
    /// What tells CRLs of one issuer and scope apart: the issuer Name, authorityKeyIdentifier, issuingDistributionPoint
    /// and deltaCRLIndicator extensions' DER (empty where absent). Two CRLs with the same scope key cover the same
    /// certificates for the same reasons, and the newer knows every revocation the older does.
    let scopeKey: [UInt8]

    private init(takingOwnershipOf crl: OpaquePointer, der: [UInt8]) {
        pointer = crl
        self.der = der
        thisUpdate = ASN1Time.date(X509_CRL_get0_lastUpdate(crl)) ?? .distantPast  // get0: owned by the CRL
        nextUpdate = ASN1Time.date(X509_CRL_get0_nextUpdate(crl))  // get0: owned by the CRL
        notRevokedText = "not revoked as of " + UTCTimeText.format(thisUpdate)
        issuer = DistinguishedName(X509_CRL_get_issuer(crl))  // get0: owned by the CRL, copied out
        var key = (try? OpenSSLDER.encode("i2d_X509_NAME") { i2d_X509_NAME(X509_CRL_get_issuer(crl), &$0) }) ?? []  // get0 name
        for nid in [NID_authority_key_identifier, NID_issuing_distribution_point, NID_delta_crl] {
            key.append(0)
            let index = X509_CRL_get_ext_by_NID(crl, nid, -1)
            // get0s: the extension and its value are owned by the CRL.
            if index >= 0, let value = X509_EXTENSION_get_data(X509_CRL_get_ext(crl, index)) {
                key += UnsafeBufferPointer(start: ASN1_STRING_get0_data(value), count: Int(ASN1_STRING_length(value)))
            }
        }
        scopeKey = key
    }

    convenience init(der: [UInt8]) throws {
        OpenSSLError.clearQueue()
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            let crl = d2i_X509_CRL(nil, &cursor, buffer.count)
            if crl != nil, let start = buffer.baseAddress, cursor != start + buffer.count {
                X509_CRL_free(crl)
                return nil
            }
            return crl
        }
        guard let parsed else { throw OpenSSLError.drain("d2i_X509_CRL (the CRL does not parse)") }
        self.init(takingOwnershipOf: parsed, der: der)
    }

    deinit { X509_CRL_free(pointer) }

    /// The entry for `certificate` on this CRL (X509_CRL_get0_by_cert, which follows certificateIssuer entries of an
    /// indirect CRL): the revocation date and reasonCode; nil when the certificate is not listed.
    func entry(for certificate: X509Certificate) -> (date: Date, reason: Int?)? { entry(for: certificate.pointer) }

    /// The same for a certificate OpenSSL holds (X509*, borrowed for the call).
    func entry(for x509: OpaquePointer) -> (date: Date, reason: Int?)? {
        var revoked: OpaquePointer? = nil  // X509_REVOKED*, get0: owned by the CRL
        guard X509_CRL_get0_by_cert(pointer, &revoked, x509) == 1, let revoked else { return nil }
        let reason = cpkcs_X509_REVOKED_reason(revoked)
        let date = X509_REVOKED_get0_revocationDate(revoked)  // get0: owned by the entry
        return (ASN1Time.date(date) ?? .distantPast, reason < 0 ? nil : Int(reason))
    }
}
