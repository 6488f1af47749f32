import CPKCS

/// One certification path built and validated by OpenSSL (RFC 5280 6, `X509_verify_cert`): from a leaf through
/// untrusted certificates to an anchor of a `CertificateStore`. Owns one X509_STORE_CTX and the stack of untrusted
/// certificates, and keeps the store and every certificate OpenSSL points at alive while it lives.
///
/// OpenSSL never reads the clock here (X509_V_FLAG_NO_CHECK_TIME): each signature is judged at its own signing
/// time by the caller, with the validity dates of the path it gets back.
final class X509StoreContext {
    private let context: OpaquePointer  // X509_STORE_CTX*, owned: freed in deinit
    private let stack: OpaquePointer  // STACK_OF(X509)*, owned (the stack only, not its certificates): freed in deinit
    // What the context points at without holding references: kept alive here.
    private let store: CertificateStore
    private let leaf: X509Certificate
    private let untrusted: [X509Certificate]

    /// Why a path was not found, in the groups verification reports them.
    enum FailureKind: Sendable {
        /// No issuer for some certificate (an intermediate is missing, or the root is not trusted).
        case missingIssuer
        /// The path ends at a self-signed certificate that is not an anchor.
        case untrustedRoot
        /// A constraint on the path fails: path length, CA flag, key usage, purpose, critical extensions, a loop.
        case constraints
        /// The path was validated but could not be read back; `text` says why.
        case unreadablePath
        case other
    }

    struct Failure: Error, Sendable {
        let kind: FailureKind
        /// OpenSSL's words for the error (X509_verify_cert_error_string).
        let text: String
        let depth: Int
        /// The DER of the certificate the error is about, when OpenSSL names one.
        let certificateDER: [UInt8]?
    }

    private init(takingOwnershipOf context: OpaquePointer, stack: OpaquePointer, store: CertificateStore, leaf: X509Certificate,
                 untrusted: [X509Certificate]) {
        (self.context, self.stack, self.store, self.leaf, self.untrusted) = (context, stack, store, leaf, untrusted)
    }

    convenience init(store: CertificateStore, leaf: X509Certificate, untrusted: [X509Certificate]) throws(OpenSSLError) {
        OpenSSLError.clearQueue()
        guard let context = X509_STORE_CTX_new() else { throw OpenSSLError.drain("X509_STORE_CTX_new") }
        guard let stack = cpkcs_sk_X509_new() else {
            X509_STORE_CTX_free(context)
            throw OpenSSLError.drain("sk_X509_new")
        }
        self.init(takingOwnershipOf: context, stack: stack, store: store, leaf: leaf, untrusted: untrusted)
        // push: no reference taken; `untrusted` keeps each certificate alive.
        for certificate in untrusted { _ = cpkcs_sk_X509_push(stack, certificate.pointer) }
        // init: the context borrows the store, the leaf and the stack (all kept alive by this object).
        guard X509_STORE_CTX_init(context, store.pointer, leaf.pointer, stack) == 1 else {
            throw OpenSSLError.drain("X509_STORE_CTX_init")
        }
        X509_STORE_CTX_set_flags(context, UInt(X509_V_FLAG_NO_CHECK_TIME))
    }

    deinit {
        X509_STORE_CTX_free(context)
        cpkcs_sk_X509_free(stack)
    }

    /// Builds and validates the path. On success, the DER of each certificate on it, leaf first, anchor last.
    func verify() -> Result<[[UInt8]], Failure> {
        defer { OpenSSLError.clearQueue() }
        if X509_verify_cert(context) == 1 {
            guard let built = X509_STORE_CTX_get1_chain(context) else {  // get1: a new stack of new references, freed below
                return .failure(Failure(kind: .unreadablePath, text: "no chain", depth: 0, certificateDER: nil))
            }
            defer { cpkcs_sk_X509_pop_free(built) }
            var path = [[UInt8]]()
            for index in 0..<cpkcs_sk_X509_num(built) {
                guard let x509 = cpkcs_sk_X509_value(built, index),  // get0: owned by the stack
                      let der = try? OpenSSLDER.encode("i2d_X509", { i2d_X509(x509, &$0) }) else {
                    return .failure(Failure(kind: .unreadablePath, text: "a path certificate does not re-encode", depth: Int(index), certificateDER: nil))
                }
                path.append(der)
            }
            return .success(path)
        }
        let error = X509_STORE_CTX_get_error(context)
        let text = String(cString: X509_verify_cert_error_string(Int(error)))
        let current = X509_STORE_CTX_get_current_cert(context).flatMap { x509 in  // get0: owned by the context
            try? OpenSSLDER.encode("i2d_X509", { i2d_X509(x509, &$0) })
        }
        let kind: FailureKind
        switch error {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            kind = .missingIssuer
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            kind = .untrustedRoot
        case X509_V_ERR_PATH_LENGTH_EXCEEDED, X509_V_ERR_INVALID_CA, X509_V_ERR_KEYUSAGE_NO_CERTSIGN, X509_V_ERR_INVALID_PURPOSE,
             X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, X509_V_ERR_INVALID_EXTENSION, X509_V_ERR_INVALID_NON_CA,
             X509_V_ERR_PATH_LOOP:
            kind = .constraints
        default:
            kind = .other
        }
        return .failure(Failure(kind: kind, text: text, depth: Int(X509_STORE_CTX_get_error_depth(context)), certificateDER: current))
    }
}
