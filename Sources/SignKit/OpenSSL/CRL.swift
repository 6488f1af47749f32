import CPKCS
import Foundation

/// A CRL parsed once and checked against its issuer once. Owns one X509_CRL.
final class CertificateRevocationList: @unchecked Sendable {
    private let pointer: OpaquePointer  // X509_CRL*, owned: freed in deinit; read-only after init
    let thisUpdate: Date
    let nextUpdate: Date?

    private init(takingOwnershipOf crl: OpaquePointer) {
        pointer = crl
        thisUpdate = ASN1Time.date(X509_CRL_get0_lastUpdate(crl)) ?? .distantPast  // get0: owned by the CRL
        nextUpdate = ASN1Time.date(X509_CRL_get0_nextUpdate(crl))  // get0: owned by the CRL
    }

    convenience init(der: [UInt8]) throws {
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_X509_CRL(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw OpenSSLError.drain("d2i_X509_CRL (the CRL does not parse)") }
        self.init(takingOwnershipOf: parsed)
    }

    deinit { X509_CRL_free(pointer) }

    func isIssued(by issuer: X509Certificate) -> Bool {
        X509_NAME_cmp(X509_CRL_get_issuer(pointer), X509_get_subject_name(issuer.pointer)) == 0  // get0s
    }

    func isSigned(by issuer: X509Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.pointer) else { return false }  // get0
        defer { OpenSSLError.clearQueue() }
        return X509_CRL_verify(pointer, key) == 1
    }

    /// The certificate's entry: nil when not listed (or removed from the CRL).
    func entry(for certificate: X509Certificate) -> (date: Date, reason: Int?)? {
        var revoked: OpaquePointer? = nil  // X509_REVOKED*, get0: owned by the CRL
        guard let serial = X509_get0_serialNumber(certificate.pointer),  // get0: owned by the certificate
              X509_CRL_get0_by_serial(pointer, &revoked, serial) == 1, let revoked else { return nil }
        let reason = cpkcs_X509_REVOKED_reason(revoked)
        let date = X509_REVOKED_get0_revocationDate(revoked)  // get0: owned by the entry
        return (ASN1Time.date(date) ?? .distantPast, reason < 0 ? nil : Int(reason))
    }
}
