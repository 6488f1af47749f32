import CPKCS
import Foundation

/// An RFC 3161 time-stamping client. For CAdES-T the stamped data is the SignerInfo's signature value; the token
/// goes into the unsigned attribute id-aa-signatureTimeStampToken (RFC 3161 appendix A, ETSI EN 319 122-1 5.3).
public struct TimeStampAuthority: Sendable {
    public var url: URL
    /// The whole exchange must finish within this many seconds.
    public var timeout: Double
    /// What carries the request to the TSA (HTTP by default; a test passes a double).
    public var fetcher: any NetworkFetcher

    public init(url: URL, timeout: Double = 10, fetcher: any NetworkFetcher = HTTPFetcher()) {
        self.url = url
        self.timeout = timeout
        self.fetcher = fetcher
    }

    /// A time-stamp token over SHA-256(`data`): the DER ContentInfo (SignedData with TSTInfo) the TSA returned,
    /// checked to answer this request (imprint, nonce, version). The TSA's own signature and chain are checked
    /// by the verifier, which has the trust anchors.
    public func timeStamp(_ data: [UInt8]) throws -> TimeStampToken {
        let digest = SHA256Hasher.hash(data)
        let request = try TimeStampRequest(digest: digest)
        let reply = try post(request.der)
        return try request.check(reply)
    }

    private func post(_ body: [UInt8]) throws -> [UInt8] {
        do {
            return try fetcher.fetch(.timeStamp, url: url, body: body, timeout: timeout)
        } catch {
            throw SigningError("\(error)")
        }
    }
}

/// A time-stamp token and the time it states.
public struct TimeStampToken: Sendable {
    /// DER ContentInfo (SignedData over a TSTInfo).
    public let der: [UInt8]
    /// genTime of the TSTInfo.
    public let time: Date
}

/// A TimeStampReq (RFC 3161 2.4.1) for a SHA-256 imprint, with a random nonce and certReq true. Owns one TS_REQ.
final class TimeStampRequest {
    private let pointer: OpaquePointer  // TS_REQ*, owned: freed in deinit
    let der: [UInt8]

    init(digest: [UInt8]) throws {
        OpenSSLError.clearQueue()
        guard let request = TS_REQ_new() else { throw OpenSSLError.drain("TS_REQ_new") }
        pointer = request
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
              TS_REQ_set_msg_imprint(request, imprint) == 1 else {
            throw OpenSSLError.drain("building the message imprint")
        }
        var nonceBytes = [UInt8](repeating: 0, count: 8)
        guard RAND_bytes(&nonceBytes, Int32(nonceBytes.count)) == 1,
              let number = BN_bin2bn(nonceBytes, Int32(nonceBytes.count), nil) else { throw OpenSSLError.drain("nonce") }
        defer { BN_free(number) }
        guard let nonce = BN_to_ASN1_INTEGER(number, nil) else { throw OpenSSLError.drain("BN_to_ASN1_INTEGER") }
        defer { ASN1_INTEGER_free(nonce) }  // set_nonce copies it
        guard TS_REQ_set_nonce(request, nonce) == 1, TS_REQ_set_cert_req(request, 1) == 1 else {
            throw OpenSSLError.drain("TS_REQ_set_nonce")
        }
        der = try OpenSSLDER.encode("i2d_TS_REQ") { i2d_TS_REQ(request, &$0) }
    }

    deinit { TS_REQ_free(pointer) }

    /// Parses the TimeStampResp, requires status granted, and checks it answers this request.
    func check(_ reply: [UInt8]) throws -> TimeStampToken {
        OpenSSLError.clearQueue()
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = reply.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_TS_RESP(nil, &cursor, buffer.count)
        }
        guard let response = parsed else { throw SigningError("the time-stamp reply does not parse: \(OpenSSLError.drain("d2i_TS_RESP"))") }
        defer { TS_RESP_free(response) }
        let status = TS_RESP_get_status_info(response).flatMap { ASN1_INTEGER_get(TS_STATUS_INFO_get0_status($0)) } ?? -1  // get0s
        guard status == 0 || status == 1 else {
            throw SigningError("the time-stamping authority refused the request (PKIStatus \(status))")
        }
        guard let context = TS_REQ_to_TS_VERIFY_CTX(pointer, nil) else { throw OpenSSLError.drain("TS_REQ_to_TS_VERIFY_CTX") }
        defer { TS_VERIFY_CTX_free(context) }
        // Imprint, nonce, version; not the TSA's signature (no trust anchors here, the verifier checks it).
        _ = TS_VERIFY_CTX_set_flags(context, Int32(TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE))
        guard TS_RESP_verify_response(context, response) == 1 else {
            throw SigningError("the time-stamp does not answer this request: \(OpenSSLError.drain("TS_RESP_verify_response"))")
        }
        guard let token = TS_RESP_get_token(response), let info = TS_RESP_get_tst_info(response),  // get: owned by the response
              let generalizedTime = TS_TST_INFO_get_time(info) else {
            throw SigningError("the time-stamp reply carries no token")
        }
        guard let time = ASN1Time.date(generalizedTime) else { throw SigningError("the time-stamp's time does not read") }
        let der = try OpenSSLDER.encode("i2d_PKCS7") { i2d_PKCS7(token, &$0) }
        return TimeStampToken(der: der, time: time)
    }
}
