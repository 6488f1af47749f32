import CPKCS
import Foundation

/// An OCSPRequest (RFC 6960 4.1.1) about one certificate, with a nonce. Owns one OCSP_REQUEST, kept to check that
/// the answer echoes the nonce.
///
///     OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
///     TBSRequest ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT GeneralName OPTIONAL,
///         requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
final class OCSPRequest {
    fileprivate let pointer: OpaquePointer  // OCSP_REQUEST*, owned: freed in deinit

    private init(takingOwnershipOf request: OpaquePointer) {
        pointer = request
    }

    /// The CertID uses SHA-1, as RFC 5019 responders expect.
    convenience init(certificate: X509Certificate, issuer: X509Certificate) throws(OpenSSLError) {
        OpenSSLError.clearQueue()
        guard let request = OCSP_REQUEST_new() else { throw OpenSSLError.drain("OCSP request") }
        self.init(takingOwnershipOf: request)
        guard let id = OCSP_cert_to_id(EVP_sha1(), certificate.pointer, issuer.pointer) else {  // new: ours until added
            throw OpenSSLError.drain("OCSP request")
        }
        guard OCSP_request_add0_id(request, id) != nil else {  // add0: the request owns the id from here
            OCSP_CERTID_free(id)
            throw OpenSSLError.drain("OCSP request")
        }
        _ = OCSP_request_add1_nonce(request, nil, -1)  // add1: a random nonce, copied into the request
    }

    deinit { OCSP_REQUEST_free(pointer) }

    /// The DER OCSPRequest: what is POSTed to the responder.
    func encoded() throws -> [UInt8] {
        try OpenSSLDER.encode("i2d_OCSP_REQUEST") { i2d_OCSP_REQUEST(pointer, &$0) }
    }
}

/// An OCSPResponse (RFC 6960 4.2.1) as received. Owns one OCSP_RESPONSE.
///
///     OCSPResponse ::= SEQUENCE { responseStatus OCSPResponseStatus, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
final class OCSPResponse {
    private let pointer: OpaquePointer  // OCSP_RESPONSE*, owned: freed in deinit

    private init(takingOwnershipOf response: OpaquePointer) {
        pointer = response
    }

    convenience init(der: [UInt8]) throws(OpenSSLError) {
        OpenSSLError.clearQueue()
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_OCSP_RESPONSE(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw OpenSSLError.drain("d2i_OCSP_RESPONSE") }
        self.init(takingOwnershipOf: parsed)
    }

    deinit { OCSP_RESPONSE_free(pointer) }

    /// responseStatus is successful (0): only then are there responseBytes.
    var isSuccessful: Bool { OCSP_response_status(pointer) == OCSP_RESPONSE_STATUS_SUCCESSFUL }

    /// responseStatus in OpenSSL's words ("successful", "unauthorized", ...).
    var statusText: String { String(cString: OCSP_response_status_str(Int(OCSP_response_status(pointer)))) }

    /// The BasicOCSPResponse inside, nil when there is none.
    func basicResponse() -> OCSPBasicResponse? {
        defer { OpenSSLError.clearQueue() }
        return OCSP_response_get1_basic(pointer).map(OCSPBasicResponse.init(takingOwnershipOf:))  // get1: a new object
    }
}

/// A BasicOCSPResponse (RFC 6960 4.2.1): the signed answers. Owns one OCSP_BASICRESP.
///
///     BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm AlgorithmIdentifier,
///         signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
final class OCSPBasicResponse {
    private let pointer: OpaquePointer  // OCSP_BASICRESP*, owned: freed in deinit

    /// What one SingleResponse says about a certificate (RFC 6960 4.2.1 CertStatus, thisUpdate, nextUpdate).
    struct CertificateStatus {
        enum State { case good, revoked(at: Date, reason: Int?), unknown }
        let state: State
        let thisUpdate: Date?
        let nextUpdate: Date?
    }

    fileprivate init(takingOwnershipOf basic: OpaquePointer) {
        pointer = basic
    }

    deinit { OCSP_BASICRESP_free(pointer) }

    /// True when the response carries the nonce of `request` (RFC 6960 4.4.1).
    func echoesNonce(of request: OCSPRequest) -> Bool {
        defer { OpenSSLError.clearQueue() }
        return OCSP_check_nonce(request.pointer, pointer) > 0
    }

    /// Checks the response's signature and its signer: the issuer itself or a responder it delegated to, with a path
    /// to an anchor of `store` through `untrusted` (OCSP_basic_verify, no flags).
    func verify(untrusted: [X509Certificate], store: CertificateStore) throws(OpenSSLError) {
        OpenSSLError.clearQueue()
        guard let stack = cpkcs_sk_X509_new() else { throw OpenSSLError.drain("OCSP_basic_verify") }  // the stack only; freed below
        defer { cpkcs_sk_X509_free(stack) }
        // push: no reference taken; `untrusted` keeps each certificate alive for the call.
        for certificate in untrusted { _ = cpkcs_sk_X509_push(stack, certificate.pointer) }
        let verified = withExtendedLifetime(untrusted) { OCSP_basic_verify(pointer, stack, store.pointer, 0) == 1 }
        guard verified else { throw OpenSSLError.drain("OCSP_basic_verify") }
    }

    /// The status of `certificate` (issued by `issuer`); nil when the response is about other certificates.
    func status(of certificate: X509Certificate, issuer: X509Certificate) -> CertificateStatus? {
        defer { OpenSSLError.clearQueue() }
        guard let id = OCSP_cert_to_id(EVP_sha1(), certificate.pointer, issuer.pointer) else { return nil }  // new: freed below
        defer { OCSP_CERTID_free(id) }
        var status: Int32 = -1, reason: Int32 = -1
        var revokedAt: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil, thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
        var nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil  // get0s: owned by the response
        guard OCSP_resp_find_status(pointer, id, &status, &reason, &revokedAt, &thisUpdate, &nextUpdate) == 1 else { return nil }
        let state: CertificateStatus.State
        switch status {
        case V_OCSP_CERTSTATUS_GOOD: state = .good
        case V_OCSP_CERTSTATUS_REVOKED:
            state = .revoked(at: ASN1Time.date(revokedAt) ?? .distantPast, reason: reason < 0 ? nil : Int(reason))
        default: state = .unknown
        }
        return CertificateStatus(state: state, thisUpdate: ASN1Time.date(thisUpdate), nextUpdate: ASN1Time.date(nextUpdate))
    }
}
