import Foundation

/// What a fetch is for. It decides the HTTP method, the content type, the size allowed and how the peer is named in
/// messages; a test double can answer by kind.
public enum FetchKind: String, Sendable, Hashable, CaseIterable {
    /// An OCSP request (RFC 6960 A.1) POSTed to a responder named in authorityInfoAccess.
    case ocsp
    /// A CRL (RFC 5280 5) fetched from a cRLDistributionPoints URL.
    case crl
    /// Issuer certificates (DER, PEM or certs-only PKCS#7) at an authorityInfoAccess caIssuers URL.
    case caIssuers
    /// A TimeStampReq (RFC 3161 3.4, application/timestamp-query) POSTed to a time-stamping authority.
    case timeStamp
}

/// How SignKit reaches the network: OCSP responders, CRL distribution points, caIssuers URLs and time-stamping
/// authorities. The library never opens a connection itself; it asks the fetcher it was given
/// (`RevocationOptions.fetcher`, `TimeStampAuthority(url:timeout:fetcher:)`), so tests can answer from memory.
public protocol NetworkFetcher: Sendable {
    /// The body of a successful answer. `body` nil is a GET, otherwise `body` is POSTed. Any error means no usable
    /// answer; its description (`"\(error)"`) goes into the report as is, so it should name the peer and the URL.
    func fetch(_ kind: FetchKind, url: URL, body: [UInt8]?, timeout: Double) throws -> [UInt8]
}

/// The default fetcher: one blocking HTTP exchange (`HTTPExchange`) per fetch; only HTTP 200 with a body counts.
public struct HTTPFetcher: NetworkFetcher {
    public init() {}

    public func fetch(_ kind: FetchKind, url: URL, body: [UInt8]?, timeout: Double) throws -> [UInt8] {
        let exchange = HTTPExchange(service: kind.service, url: url, timeout: timeout, maximumSize: kind.maximumSize)
        return try exchange.run(body: body, contentType: body == nil ? nil : kind.contentType)
    }
}

extension FetchKind {
    /// The peer, as messages name it.
    var service: String {
        switch self {
        case .ocsp: "the OCSP responder"
        case .crl: "the CRL server"
        case .caIssuers: "the CA certificate server"
        case .timeStamp: "the time-stamping authority"
        }
    }

    /// The largest answer accepted: CRLs of large CAs run to tens of MiB, the rest are small.
    var maximumSize: Int {
        switch self {
        case .crl: 64 << 20
        case .ocsp, .caIssuers: 1 << 20
        case .timeStamp: 256 * 1024
        }
    }

    var contentType: String {
        switch self {
        case .ocsp: "application/ocsp-request"
        case .timeStamp: "application/timestamp-query"
        case .crl, .caIssuers: "application/octet-stream"
        }
    }
}
