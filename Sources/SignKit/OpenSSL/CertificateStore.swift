import CPKCS

/// A set of trust anchors as OpenSSL holds them: what path building (`X509StoreContext`) and OCSP response
/// verification (`OCSPBasicResponse.verify`) end at. Owns one X509_STORE; read-only after init, so threads share it.
final class CertificateStore: @unchecked Sendable {
    /// X509_STORE*, owned: freed in deinit. Only files in OpenSSL/ touch it.
    let pointer: OpaquePointer

    private init(takingOwnershipOf store: OpaquePointer) {
        pointer = store
    }

    convenience init(anchors: [X509Certificate]) throws {
        guard let store = X509_STORE_new() else { throw OpenSSLError.drain("X509_STORE_new") }
        self.init(takingOwnershipOf: store)
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
