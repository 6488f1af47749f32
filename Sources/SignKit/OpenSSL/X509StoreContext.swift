import CPKCS
import Foundation

/// One certification path built and validated by OpenSSL (RFC 5280 6, `X509_verify_cert`): from a leaf through
/// untrusted certificates to an anchor of a `CertificateStore`, with CRLs over the whole path (X509_V_FLAG_CRL_CHECK,
/// CRL_CHECK_ALL, EXTENDED_CRL_SUPPORT for indirect CRLs, distribution points and reasons, USE_DELTAS) and the
/// certificate policy processing of RFC 5280 6.1 (POLICY_CHECK with the initial policy set and the explicit-policy,
/// inhibit-mapping and inhibit-any-policy inputs). Owns one X509_STORE_CTX and the stacks it is given, and keeps
/// the store, every certificate and every CRL OpenSSL points at alive while it lives.
///
/// OpenSSL judges everything at one time, the signature's own. A verify callback records every error OpenSSL
/// reports, in order, and lets validation go on past the ones the caller decides itself: certificate validity
/// times (reported in ETSI's words by the caller), a CRL's times (a CRL issued after the signature, or current at
/// the validation time, is usable: `crlUsable`), a revocation (judged by IT Act s.73 against the signing time) and
/// any CRL that cannot give a status (the caller may ask OCSP instead). Every other error stops validation, as
/// OpenSSL's default callback would.
final class X509StoreContext {
    private let context: OpaquePointer  // X509_STORE_CTX*, owned: freed in deinit
    private let stack: OpaquePointer  // STACK_OF(X509)*, owned (the stack only, not its certificates): freed in deinit
    private let crlStack: OpaquePointer  // STACK_OF(X509_CRL)*, owned (the stack only): freed in deinit
    private let recorder: Recorder  // reached by the callbacks through the context's app data
    // What the context points at without holding references: kept alive here.
    private let store: CertificateStore
    private let leaf: X509Certificate
    private let untrusted: [X509Certificate]
    private let crls: [CertificateRevocationList]

    /// The inputs of RFC 5280 6.1.1 that vary, and whether CRLs are checked at all.
    struct Settings: Hashable, Sendable {
        /// Check every certificate below the anchor against the CRLs given (and report those without one).
        var checkCRLs = true
        /// user-initial-policy-set as dotted OIDs; empty means any-policy.
        var initialPolicySet: [String] = []
        var explicitPolicy = false
        var inhibitPolicyMapping = false
        var inhibitAnyPolicy = false
    }

    /// What an error OpenSSL reported is about, in the groups verification treats alike.
    enum ErrorKind: Sendable, Equatable {
        /// No issuer for some certificate (an intermediate is missing, or the root is not trusted).
        case missingIssuer
        /// The path ends at a self-signed certificate that is not an anchor.
        case untrustedRoot
        /// A constraint on the path fails: path length, CA flag, key usage, purpose, critical extensions, a loop,
        /// name constraints.
        case constraints
        /// The certificate policies of the path do not satisfy the initial settings (RFC 5280 6.1.5 (g)).
        case policy
        /// A certificate outside its validity at the time (left to the caller, who words it).
        case certificateTime
        /// The certificate is on a CRL (`Event.revocation` says when and why).
        case revoked
        /// No CRL in scope for the certificate could be found.
        case noCRL
        /// A CRL was found but cannot be used: its signature, issuer, key usage, scope, times, extensions, or the
        /// path of its issuer.
        case crlUnusable
        case other
    }

    /// One error OpenSSL reported.
    struct Event: Sendable {
        let kind: ErrorKind
        /// OpenSSL's words for the error (X509_verify_cert_error_string).
        let text: String
        /// The error in a report's words (for CRL errors, what is wrong with the CRL); else `text`.
        var detail: String {
            if inCRLIssuerPath && code == X509_V_ERR_CRL_PATH_VALIDATION_ERROR {
                // A nested validation does not validate CRL issuers' paths in turn (OpenSSL refuses to recurse).
                return "its certificates' revocation needs a CRL whose issuer's path would have to be validated in turn, which OpenSSL does not do"
            }
            return Self.words[code] ?? text
        }
        /// X509_V_ERR_*.
        let code: Int32
        let depth: Int
        /// Reported while validating the path of a CRL's issuer (a nested context), not the signer's path.
        let inCRLIssuerPath: Bool
        /// The certificate the error is about, when OpenSSL names one.
        let certificate: X509Certificate?
        let crl: CertificateRevocationList?
        /// For `.revoked`: the CRL entry's date and reasonCode.
        let revocation: (date: Date, reason: Int?)?
        /// Validation went on past it (the caller judges it); false for the error that ended validation.
        let continued: Bool

        private static let words: [Int32: String] = [
            X509_V_ERR_UNABLE_TO_GET_CRL: "no CRL at hand covers it",
            X509_V_ERR_CRL_SIGNATURE_FAILURE: "the CRL's signature does not verify with its issuer's key",
            X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE: "the CRL's signature does not verify with its issuer's key",
            X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER: "the CRL's issuer cannot be found",
            X509_V_ERR_KEYUSAGE_NO_CRL_SIGN: "the CRL's issuer may not sign CRLs (its keyUsage lacks cRLSign)",
            X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION: "the CRL or its entry has a critical extension this verifier does not know",
            X509_V_ERR_DIFFERENT_CRL_SCOPE: "the CRL does not cover this certificate (its issuing distribution point's scope)",
            X509_V_ERR_CRL_PATH_VALIDATION_ERROR: "the path of the CRL's issuer does not validate",
            X509_V_ERR_CRL_NOT_YET_VALID: "the CRL is dated after the validation time",
            X509_V_ERR_CRL_HAS_EXPIRED: "the CRL is out of date (its nextUpdate passed before the signing time, and it is not current)",
            X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD: "the CRL's thisUpdate does not read",
            X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD: "the CRL's nextUpdate does not read",
        ]
    }

    /// What one validation found.
    struct Outcome: @unchecked Sendable {  // immutable; the certificates and CRLs are read-only objects
        /// The path as far as OpenSSL built it, leaf first (complete, ending at an anchor, when `verified`).
        let path: [X509Certificate]
        /// X509_verify_cert succeeded: every error it reported was one the callback let pass.
        let verified: Bool
        /// Every error reported, in order.
        let events: [Event]
        /// The CRLs each certificate of the path (by depth) was checked against, base and delta, in order.
        let crlsChecked: [Int: [CertificateRevocationList]]
        /// The policies that held (RFC 5280 6.1.6's valid policy set, restricted to the initial set); empty when none.
        let policies: [String]
    }

    private init(
        takingOwnershipOf context: OpaquePointer, stack: OpaquePointer, crlStack: OpaquePointer, recorder: Recorder,
        store: CertificateStore, leaf: X509Certificate, untrusted: [X509Certificate], crls: [CertificateRevocationList]
    ) {
        (self.context, self.stack, self.crlStack, self.recorder) = (context, stack, crlStack, recorder)
        (self.store, self.leaf, self.untrusted, self.crls) = (store, leaf, untrusted, crls)
    }

    /// - Parameters:
    ///   - anchors: the store's anchors, to name the certificates of the path OpenSSL returns.
    ///   - time: the time everything is judged at (the signing time).
    ///   - crlUsable: whether a CRL that is not current at `time` may still be used (asked by the callback).
    convenience init(
        store: CertificateStore, anchors: [X509Certificate], leaf: X509Certificate, untrusted: [X509Certificate],
        crls: [CertificateRevocationList], settings: Settings, at time: Date,
        crlUsable: @escaping (CertificateRevocationList) -> Bool
    ) throws(OpenSSLError) {
        OpenSSLError.clearQueue()
        guard let context = X509_STORE_CTX_new() else { throw OpenSSLError.drain("X509_STORE_CTX_new") }
        guard let stack = cpkcs_sk_X509_new() else {
            X509_STORE_CTX_free(context)
            throw OpenSSLError.drain("sk_X509_new")
        }
        guard let crlStack = cpkcs_sk_X509_CRL_new() else {
            X509_STORE_CTX_free(context)
            cpkcs_sk_X509_free(stack)
            throw OpenSSLError.drain("sk_X509_CRL_new")
        }
        let recorder = Recorder(known: [leaf] + untrusted + anchors, crls: crls, crlUsable: crlUsable)
        self.init(
            takingOwnershipOf: context, stack: stack, crlStack: crlStack, recorder: recorder, store: store, leaf: leaf,
            untrusted: untrusted, crls: crls)
        // push: no reference taken; `untrusted` and `crls` keep each alive.
        for certificate in untrusted { _ = cpkcs_sk_X509_push(stack, certificate.pointer) }
        for crl in crls { _ = cpkcs_sk_X509_CRL_push(crlStack, crl.pointer) }
        // init: the context borrows the store, the leaf and the stack (all kept alive by this object).
        guard X509_STORE_CTX_init(context, store.pointer, leaf.pointer, stack) == 1 else {
            throw OpenSSLError.drain("X509_STORE_CTX_init")
        }
        X509_STORE_CTX_set0_crls(context, crlStack)  // set0: borrowed, not freed by the context (freed in deinit)
        var flags = X509_V_FLAG_POLICY_CHECK
        if settings.checkCRLs {
            flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS
        }
        if settings.explicitPolicy { flags |= X509_V_FLAG_EXPLICIT_POLICY }
        if settings.inhibitPolicyMapping { flags |= X509_V_FLAG_INHIBIT_MAP }
        if settings.inhibitAnyPolicy { flags |= X509_V_FLAG_INHIBIT_ANY }
        X509_STORE_CTX_set_flags(context, UInt(flags))
        X509_STORE_CTX_set_time(context, 0, time_t(time.timeIntervalSince1970.rounded(.down)))
        let parameters = X509_STORE_CTX_get0_param(context)  // get0: owned by the context
        // An empty initial set is any-policy, given as such: OpenSSL computes the user-constrained policy set (and
        // with it explicit policy) only from the policies it is given.
        for policy in settings.initialPolicySet.isEmpty ? ["2.5.29.32.0"] : settings.initialPolicySet {
            guard let object = OBJ_txt2obj(policy, 1) else { throw OpenSSLError.drain("OBJ_txt2obj (policy \(policy))") }
            guard X509_VERIFY_PARAM_add0_policy(parameters, object) == 1 else {  // add0: the parameters own it from here
                ASN1_OBJECT_free(object)
                throw OpenSSLError.drain("X509_VERIFY_PARAM_add0_policy")
            }
        }
        // app data: a pointer to the recorder, which this object keeps alive while the context lives.
        X509_STORE_CTX_set_ex_data(context, 0, Unmanaged.passUnretained(recorder).toOpaque())
        X509_STORE_CTX_set_verify_cb(context, Self.recordingVerifyCallback)
    }

    deinit {
        X509_STORE_CTX_free(context)
        cpkcs_sk_X509_free(stack)
        cpkcs_sk_X509_CRL_free(crlStack)
    }

    /// Builds and validates the path.
    func verify() -> Outcome {
        defer { OpenSSLError.clearQueue() }
        let verified = withExtendedLifetime((recorder, crls)) { X509_verify_cert(context) == 1 }
        if !verified && !recorder.events.contains(where: { !$0.continued && !$0.inCRLIssuerPath }) {
            // Failed without telling the callback (an internal error): record what the context says.
            let error = X509_STORE_CTX_get_error(context)
            recorder.events.append(
                Event(
                    kind: Self.kind(of: error), text: Self.text(of: error), code: error,
                    depth: Int(X509_STORE_CTX_get_error_depth(context)), inCRLIssuerPath: false,
                    certificate: nil, crl: nil, revocation: nil, continued: false))
        }
        var path = [X509Certificate]()
        if let built = X509_STORE_CTX_get0_chain(context) {  // get0: owned by the context
            for index in 0..<cpkcs_sk_X509_num(built) {
                guard let x509 = cpkcs_sk_X509_value(built, index) else { continue }  // get0: owned by the stack
                if let known = recorder.certificate(x509) {
                    path.append(known)
                } else if let der = try? OpenSSLDER.encode("i2d_X509", { i2d_X509(x509, &$0) }), let parsed = try? X509Certificate(der: der) {
                    path.append(parsed)  // not one given (a store lookup can return its own copy)
                }
            }
        }
        var policies = [String]()
        if verified, let tree = X509_STORE_CTX_get0_policy_tree(context) {  // get0: owned by the context
            var buffer = [CChar](repeating: 0, count: 8192)
            if cpkcs_X509_policy_tree_oids(tree, &buffer, buffer.count) > 0 {
                policies = String(nulTerminated: buffer).split(separator: "\n").map(String.init)
            }
        }
        return Outcome(path: path, verified: verified, events: recorder.events, crlsChecked: recorder.crlsChecked, policies: policies)
    }

    // MARK: The callbacks

    /// The recorder of one validation: what the callbacks found, and the objects to name what OpenSSL points at.
    fileprivate final class Recorder {
        private let known: [OpaquePointer: X509Certificate]
        private let crlObjects: [OpaquePointer: CertificateRevocationList]
        let crlUsable: (CertificateRevocationList) -> Bool
        var events = [Event]()
        var crlsChecked = [Int: [CertificateRevocationList]]()
        /// The CRL cert_crl was last given (for the entry of a revocation it reports).
        var crlBeingChecked: CertificateRevocationList?

        init(known: [X509Certificate], crls: [CertificateRevocationList], crlUsable: @escaping (CertificateRevocationList) -> Bool) {
            var table = [OpaquePointer: X509Certificate]()
            for certificate in known { table[certificate.pointer] = certificate }
            self.known = table
            var crlTable = [OpaquePointer: CertificateRevocationList]()
            for crl in crls { crlTable[crl.pointer] = crl }
            crlObjects = crlTable
            self.crlUsable = crlUsable
        }

        func certificate(_ x509: OpaquePointer?) -> X509Certificate? { x509.flatMap { known[$0] } }
        func crl(_ pointer: OpaquePointer?) -> CertificateRevocationList? { pointer.flatMap { crlObjects[$0] } }

        /// The recorder of the validation `context` belongs to, and that validation's context (a CRL issuer's path
        /// is validated in a nested context whose app data is not set: its outermost parent's is).
        static func of(_ context: OpaquePointer?) -> (recorder: Recorder, outer: OpaquePointer)? {
            guard var outer = context else { return nil }
            while let parent = X509_STORE_CTX_get0_parent_ctx(outer) { outer = parent }  // get0: outlives the nested one
            guard let data = X509_STORE_CTX_get_ex_data(outer, 0) else { return nil }  // not ours (OCSP_basic_verify's)
            return (Unmanaged<Recorder>.fromOpaque(data).takeUnretainedValue(), outer)
        }
    }

    /// The verify callback: records each error and says whether validation goes on (see the type's comment).
    private static let recordingVerifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { ok, context in
        guard ok == 0, let found = Recorder.of(context) else { return ok }
        let recorder = found.recorder, nested = found.outer != context
        let error = X509_STORE_CTX_get_error(context)
        let kind = kind(of: error)
        let current = X509_STORE_CTX_get_current_cert(context)  // get0: owned by the context
        let crl = recorder.crl(X509_STORE_CTX_get0_current_crl(context))  // get0: owned by the context
        let goOn: Bool
        switch kind {
        case .crlUnusable where error == X509_V_ERR_CRL_NOT_YET_VALID || error == X509_V_ERR_CRL_HAS_EXPIRED:
            // Out of its time at the signing time, yet usable when issued after it or current at validation time.
            if let crl, recorder.crlUsable(crl) { return 1 }
            goOn = !nested
        case .certificateTime, .revoked, .noCRL, .crlUnusable:
            goOn = !nested
        default:
            goOn = false
        }
        // A revocation is found by cert_crl, on the CRL it was given (a delta's entries are not on the base CRL
        // that the context names as current).
        let revocation = kind == .revoked ? current.flatMap { recorder.crlBeingChecked?.entry(for: $0) } : nil
        // The depth in the signer's path: a nested context's error is about the CRL of the outer one's certificate.
        let depth = X509_STORE_CTX_get_error_depth(found.outer)
        recorder.events.append(
            Event(
                kind: kind, text: text(of: error), code: error, depth: Int(depth), inCRLIssuerPath: nested,
                certificate: recorder.certificate(current), crl: kind == .revoked ? recorder.crlBeingChecked : crl,
                revocation: revocation, continued: goOn))
        return goOn ? 1 : 0
    }

    /// OpenSSL's own cert_crl (the check of one certificate against one CRL), read once from a fresh context: the
    /// store's `recordingCertCRL` calls it after noting which CRLs each certificate was checked against.
    private static let defaultCertCRL: X509_STORE_CTX_cert_crl_fn = {
        let store = X509_STORE_new()  // owned: freed below
        let context = X509_STORE_CTX_new()  // owned: freed below
        defer {
            X509_STORE_CTX_free(context)
            X509_STORE_free(store)
        }
        _ = X509_STORE_CTX_init(context, store, nil, nil)
        guard let function = X509_STORE_CTX_get_cert_crl(context) else { fatalError("OpenSSL has no default cert_crl") }
        return function
    }()

    /// Installed in every `CertificateStore` (X509_STORE_set_cert_crl): notes the CRL a certificate of the signer's
    /// path is checked against, then lets OpenSSL check it.
    static let recordingCertCRL: @convention(c) (OpaquePointer?, OpaquePointer?, OpaquePointer?) -> Int32 = { context, crl, x509 in
        if let found = Recorder.of(context) {
            let known = found.recorder.crl(crl)
            found.recorder.crlBeingChecked = known
            if found.outer == context, let known {
                found.recorder.crlsChecked[Int(X509_STORE_CTX_get_error_depth(context)), default: []].append(known)
            }
        }
        return defaultCertCRL(context, crl, x509)
    }

    private static func text(of error: Int32) -> String { String(cString: X509_verify_cert_error_string(Int(error))) }

    private static func kind(of error: Int32) -> ErrorKind {
        switch error {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return .missingIssuer
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return .untrustedRoot
        case X509_V_ERR_PATH_LENGTH_EXCEEDED, X509_V_ERR_INVALID_CA, X509_V_ERR_KEYUSAGE_NO_CERTSIGN, X509_V_ERR_INVALID_PURPOSE,
            X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, X509_V_ERR_INVALID_EXTENSION, X509_V_ERR_INVALID_NON_CA, X509_V_ERR_PATH_LOOP,
            X509_V_ERR_PERMITTED_VIOLATION, X509_V_ERR_EXCLUDED_VIOLATION, X509_V_ERR_SUBTREE_MINMAX,
            X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE, X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX, X509_V_ERR_UNSUPPORTED_NAME_SYNTAX,
            X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED, X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
            return .constraints
        case X509_V_ERR_NO_EXPLICIT_POLICY, X509_V_ERR_INVALID_POLICY_EXTENSION:
            return .policy
        case X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD,
            X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
            return .certificateTime
        case X509_V_ERR_CERT_REVOKED:
            return .revoked
        case X509_V_ERR_UNABLE_TO_GET_CRL:
            return .noCRL
        case X509_V_ERR_CRL_NOT_YET_VALID, X509_V_ERR_CRL_HAS_EXPIRED, X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD,
            X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD, X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE,
            X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER, X509_V_ERR_KEYUSAGE_NO_CRL_SIGN, X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION,
            X509_V_ERR_DIFFERENT_CRL_SCOPE, X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
            return .crlUnusable
        default:
            return .other
        }
    }
}
