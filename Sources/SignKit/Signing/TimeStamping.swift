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
        let reply = try post(request.encoded())
        return try Self.token(in: reply, answering: request)
    }

    /// Reads the TimeStampResp, requires status granted, and checks it answers `request`.
    static func token(in reply: [UInt8], answering request: TimeStampRequest) throws -> TimeStampToken {
        let response: TimeStampResponse
        do {
            response = try TimeStampResponse(der: reply)
        } catch {
            throw SigningError("the time-stamp reply does not parse: \(error)")
        }
        let status = response.status
        guard status == 0 || status == 1 else {
            throw SigningError("the time-stamping authority refused the request (PKIStatus \(status))")
        }
        do {
            try request.check(response)
        } catch {
            throw SigningError("the time-stamp does not answer this request: \(error)")
        }
        guard let (der, time) = try response.token() else { throw SigningError("the time-stamp reply carries no token") }
        guard let time else { throw SigningError("the time-stamp's time does not read") }
        return TimeStampToken(der: der, time: time)
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
