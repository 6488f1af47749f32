import CPKCS
import Foundation

/// A set of trust anchors as OpenSSL holds them: what path building (`X509StoreContext`) and OCSP response
/// verification (`OCSPBasicResponse.verify`) end at. Owns one X509_STORE; read-only after init, so threads share it.
/// Its cert_crl function is `X509StoreContext.recordingCertCRL` (OpenSSL's own, after noting which CRL a path's
/// certificate is checked against).
final class CertificateStore: @unchecked Sendable {
    /// X509_STORE*, owned: freed in deinit. Only files in OpenSSL/ touch it.
    let pointer: OpaquePointer

    private init(takingOwnershipOf store: OpaquePointer) {
        pointer = store
    }

    /// With `checkTime`, every validation through the store that sets no time of its own (OCSP_basic_verify's
    /// check of a responder's certificate) is judged at that time instead of the system clock.
    convenience init(anchors: [X509Certificate], checkTime: Date? = nil) throws {
        guard let store = X509_STORE_new() else { throw OpenSSLError.drain("X509_STORE_new") }
        self.init(takingOwnershipOf: store)
        X509_STORE_set_cert_crl(store, X509StoreContext.recordingCertCRL)
        if let checkTime {
            // get0: the parameters are owned by the store; contexts made from it inherit the time.
            X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), time_t(checkTime.timeIntervalSince1970.rounded(.down)))
        }
        for anchor in anchors {
            guard X509_STORE_add_cert(store, anchor.pointer) == 1 else {  // add: the store takes its own reference
                throw OpenSSLError.drain("X509_STORE_add_cert")
            }
        }
    }

    deinit { X509_STORE_free(pointer) }
}

/// The OpenSSL library SignKit runs on.
enum OpenSSLLibrary {
    /// "OpenSSL 3.0.13 30 Jan 2024".
    static let version = String(cString: OpenSSL_version(OPENSSL_VERSION_STRING))
}
