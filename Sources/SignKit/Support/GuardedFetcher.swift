import Foundation
import Synchronization

/// Verification's fetches (caIssuers certificates, CRLs, OCSP answers) as a service makes them for callers it does
/// not fully trust: a signature chooses the URLs its certificates name, so without this guard a page could make
/// the agent read an internal web server (docs/daemon.md "Threat model"). The guard:
/// - fetches http and https URLs only, and never follows a redirect;
/// - resolves the host first and refuses loopback, private (RFC 1918, carrier-grade NAT, IPv6 unique-local),
///   link-local, multicast and unspecified addresses unless `allowPrivateAddresses` (an intranet CA); a plain-http
///   fetch then goes to the address that was checked (Host header kept), so a second DNS answer cannot move it;
/// - spends one unit of the request's `FetchBudget` per fetch;
/// - never repeats what a refused or failed answer said (HTTPExchange.run).
public struct GuardedFetcher: NetworkFetcher {
    public var allowPrivateAddresses: Bool

    public init(allowPrivateAddresses: Bool) {
        self.allowPrivateAddresses = allowPrivateAddresses
    }

    public func fetch(_ kind: FetchKind, url: URL, body: [UInt8]?, timeout: Double) throws -> [UInt8] {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
            throw HTTPExchange.Failure(description: "\(kind.service) \(url.absoluteString): only http and https URLs with a host are fetched")
        }
        try FetchBudget.spend(kind, url)
        let addresses = try Self.resolve(host, kind: kind, url: url)
        var target = url
        var headers = [String: String]()
        if !allowPrivateAddresses {
            if let inside = addresses.first(where: { Self.isInternal($0) }) {
                throw HTTPExchange.Failure(
                    description: "\(kind.service) \(url.absoluteString) was not fetched: \(host) is an internal address (\(inside.text)); "
                        + "a signature may not make this service reach loopback, private or link-local hosts (fetchFromPrivateAddresses)")
            }
            if scheme == "http", let first = addresses.first, var parts = URLComponents(url: url, resolvingAgainstBaseURL: false) {
                parts.host = first.isIPv6 ? "[\(first.text)]" : first.text
                if let pinned = parts.url {
                    target = pinned
                    headers["Host"] = url.port.map { "\(host):\($0)" } ?? host
                }
            }
        }
        var exchange = HTTPExchange(service: kind.service, url: target, timeout: timeout, maximumSize: kind.maximumSize)
        exchange.followRedirects = false
        do {
            return try exchange.run(body: body, contentType: body == nil ? nil : kind.contentType, headers: headers)
        } catch {
            // Named by the URL the signature gave, not the pinned address.
            throw HTTPExchange.Failure(description: error.reason.replacingOccurrences(of: target.absoluteString, with: url.absoluteString))
        }
    }

    /// One resolved address: its bytes (4 or 16) and its text.
    public struct Address: Sendable {
        public let bytes: [UInt8]
        public init(bytes: [UInt8]) { self.bytes = bytes }
        public var isIPv6: Bool { bytes.count == 16 }
        public var text: String {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            bytes.withUnsafeBytes { raw in
                _ = inet_ntop(isIPv6 ? AF_INET6 : AF_INET, raw.baseAddress, &buffer, socklen_t(buffer.count))
            }
            return String(cString: buffer)
        }
    }

    static func resolve(_ host: String, kind: FetchKind, url: URL) throws -> [Address] {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        guard status == 0, let list else {
            throw HTTPExchange.Failure(description: "\(kind.service) \(url.absoluteString) is unreachable: \(host) does not resolve")
        }
        defer { freeaddrinfo(list) }
        var addresses = [Address]()
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            if let socket = current.pointee.ai_addr {
                switch Int32(socket.pointee.sa_family) {
                case AF_INET:
                    socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { value in
                        addresses.append(Address(bytes: withUnsafeBytes(of: value.pointee.sin_addr) { Array($0) }))
                    }
                case AF_INET6:
                    socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { value in
                        addresses.append(Address(bytes: withUnsafeBytes(of: value.pointee.sin6_addr) { Array($0) }))
                    }
                default: break
                }
            }
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else {
            throw HTTPExchange.Failure(description: "\(kind.service) \(url.absoluteString) is unreachable: \(host) has no address")
        }
        return addresses
    }

    /// Loopback, private, carrier-grade NAT, link-local, multicast, unspecified or reserved (and IPv4-mapped IPv6
    /// forms of them).
    public static func isInternal(_ address: Address) -> Bool {
        let b = address.bytes
        if b.count == 4 {
            switch (b[0], b[1]) {
            case (0, _), (10, _), (127, _), (169, 254), (192, 168): return true
            case (172, 16...31), (100, 64...127): return true
            case (224...255, _): return true
            default: return false
            }
        }
        guard b.count == 16 else { return true }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return isInternal(Address(bytes: Array(b[12...]))) }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return true }  // :: and ::1
        if b[0] & 0xfe == 0xfc { return true }  // fc00::/7 unique-local
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return true }  // fe80::/10 link-local
        if b[0] == 0xff { return true }  // multicast
        return false
    }
}

/// How many fetches one request's verification may make (caIssuers, CRLs, OCSP together): bound around the
/// verification with `FetchBudget.$current.withValue(FetchBudget(limit))`. Without one bound, fetches are not
/// counted (signctl on the officer's own files).
public final class FetchBudget: Sendable {
    @TaskLocal public static var current: FetchBudget?
    public let limit: Int
    private let spent = Mutex(0)

    public init(_ limit: Int) { self.limit = limit }

    static func spend(_ kind: FetchKind, _ url: URL) throws {
        guard let budget = current else { return }
        let allowed = budget.spent.withLock { spent in
            guard spent < budget.limit else { return false }
            spent += 1
            return true
        }
        guard allowed else {
            throw HTTPExchange.Failure(
                description: "\(kind.service) \(url.absoluteString) was not fetched: this request already made \(budget.limit) fetches, the most one may")
        }
    }
}
