import CPKCS
import Foundation

/// A TimeStampReq (RFC 3161 2.4.1) for a SHA-256 imprint, with a random nonce and certReq true. Owns one TS_REQ,
/// kept to check that the reply answers it.
///
/// ```
/// TimeStampReq ::= SEQUENCE { version INTEGER { v1(1) }, messageImprint MessageImprint,
///     reqPolicy TSAPolicyId OPTIONAL, nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE,
///     extensions [0] IMPLICIT Extensions OPTIONAL }
/// ```
final class TimeStampRequest {
    private let pointer: OpaquePointer  // TS_REQ*, owned: freed in deinit

    private init(takingOwnershipOf request: OpaquePointer) {
        pointer = request
    }

    convenience init(digest: [UInt8]) throws {
        OpenSSLError.clearQueue()
        guard let request = TS_REQ_new() else { throw OpenSSLError.drain("TS_REQ_new") }
        self.init(takingOwnershipOf: request)
        guard TS_REQ_set_version(request, 1) == 1 else { throw OpenSSLError.drain("TS_REQ_set_version") }
        guard let imprint = TS_MSG_IMPRINT_new() else { throw OpenSSLError.drain("TS_MSG_IMPRINT_new") }
        defer { TS_MSG_IMPRINT_free(imprint) }  // set_msg_imprint copies it
        guard let algorithm = X509_ALGOR_new() else { throw OpenSSLError.drain("X509_ALGOR_new") }
        defer { X509_ALGOR_free(algorithm) }  // set_algo copies it
        X509_ALGOR_set0(algorithm, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nil)  // set0: OBJ_nid2obj's object is static
        let digestSet = digest.withUnsafeBufferPointer { bytes in  // set_msg copies the bytes
            TS_MSG_IMPRINT_set_msg(imprint, UnsafeMutablePointer(mutating: bytes.baseAddress), Int32(bytes.count)) == 1
        }
        guard TS_MSG_IMPRINT_set_algo(imprint, algorithm) == 1, digestSet,
            TS_REQ_set_msg_imprint(request, imprint) == 1
        else {
            throw OpenSSLError.drain("building the message imprint")
        }
        var nonceBytes = [UInt8](repeating: 0, count: 8)
        guard RAND_bytes(&nonceBytes, Int32(nonceBytes.count)) == 1,
            let number = BN_bin2bn(nonceBytes, Int32(nonceBytes.count), nil)
        else { throw OpenSSLError.drain("nonce") }
        defer { BN_free(number) }
        guard let nonce = BN_to_ASN1_INTEGER(number, nil) else { throw OpenSSLError.drain("BN_to_ASN1_INTEGER") }
        defer { ASN1_INTEGER_free(nonce) }  // set_nonce copies it
        guard TS_REQ_set_nonce(request, nonce) == 1, TS_REQ_set_cert_req(request, 1) == 1 else {
            throw OpenSSLError.drain("TS_REQ_set_nonce")
        }
    }

    deinit { TS_REQ_free(pointer) }

    /// The DER TimeStampReq: what is POSTed to the TSA.
    func encoded() throws -> [UInt8] {
        try OpenSSLDER.encode("i2d_TS_REQ") { i2d_TS_REQ(pointer, &$0) }
    }

    /// Checks that `response` answers this request: version, message imprint and nonce (TS_RESP_verify_response).
    /// Not the TSA's signature: there are no trust anchors here; the verifier checks it.
    func check(_ response: TimeStampResponse) throws(OpenSSLError) {
        OpenSSLError.clearQueue()
        guard let context = TS_REQ_to_TS_VERIFY_CTX(pointer, nil) else { throw OpenSSLError.drain("TS_REQ_to_TS_VERIFY_CTX") }  // new: freed below
        defer { TS_VERIFY_CTX_free(context) }
        _ = TS_VERIFY_CTX_set_flags(context, Int32(TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE))
        guard response.withPointer({ TS_RESP_verify_response(context, $0) }) == 1 else {
            throw OpenSSLError.drain("TS_RESP_verify_response")
        }
    }
}

/// A TimeStampResp (RFC 3161 2.4.2) as received. Owns one TS_RESP.
///
/// ```
/// TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }
/// ```
final class TimeStampResponse {
    private let pointer: OpaquePointer  // TS_RESP*, owned: freed in deinit

    private init(takingOwnershipOf response: OpaquePointer) {
        pointer = response
    }

    convenience init(der: [UInt8]) throws(OpenSSLError) {
        OpenSSLError.clearQueue()
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_TS_RESP(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw OpenSSLError.drain("d2i_TS_RESP") }
        self.init(takingOwnershipOf: parsed)
    }

    deinit { TS_RESP_free(pointer) }

    fileprivate func withPointer<R>(_ body: (OpaquePointer) -> R) -> R { body(pointer) }

    /// PKIStatus: 0 granted, 1 grantedWithMods, 2 and above refused; -1 when it does not read.
    var status: Int {
        TS_RESP_get_status_info(pointer).flatMap { ASN1_INTEGER_get(TS_STATUS_INFO_get0_status($0)) } ?? -1  // get0s
    }

    /// The timeStampToken's DER ContentInfo and the genTime of its TSTInfo (nil when it does not read); nil when
    /// the reply carries no token.
    func token() throws -> (der: [UInt8], time: Date?)? {
        guard let token = TS_RESP_get_token(pointer), let info = TS_RESP_get_tst_info(pointer),  // get: owned by the response
            let generalizedTime = TS_TST_INFO_get_time(info)
        else { return nil }  // get: owned by the TSTInfo
        let der = try OpenSSLDER.encode("i2d_PKCS7") { i2d_PKCS7(token, &$0) }
        return (der, ASN1Time.date(generalizedTime))
    }
}
