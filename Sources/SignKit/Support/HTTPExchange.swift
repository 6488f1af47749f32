import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One blocking HTTP exchange with a hard deadline, for the small fetches signing and verification make
/// (time-stamps, OCSP, CRLs, CA certificates). The error names the service and what went wrong.
struct HTTPExchange {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// What the peer is, in messages ("the time-stamping authority", "the OCSP responder").
    var service: String
    var url: URL
    var timeout: Double
    var maximumSize = 16 << 20

    /// GET when `body` is nil, POST with `contentType` otherwise. Only HTTP 200 with a body counts as an answer.
    func run(body: [UInt8]? = nil, contentType: String? = nil) throws(Failure) -> [UInt8] {
        guard url.scheme == "http" || url.scheme == "https" else {
            throw Failure(description: "\(service) \(url.absoluteString): only http and https URLs are fetched")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        if let body {
            request.httpMethod = "POST"
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body)
        }
        let exchange = Exchange()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        session.dataTask(with: request) { data, response, error in
            exchange.finish(data: data, response: response, error: error)
        }.resume()
        guard exchange.wait(seconds: timeout + 1) else {
            throw Failure(description: "\(service) \(url.absoluteString) did not answer within \(Self.seconds(timeout))")
        }
        let (data, response, error) = exchange.result
        if let error {
            throw Failure(description: "\(service) \(url.absoluteString) is unreachable: \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else {
            throw Failure(description: "\(service) \(url.absoluteString) gave no HTTP response")
        }
        guard http.statusCode == 200 else {
            let text = data.map { String(decoding: $0.prefix(200), as: UTF8.self) } ?? ""
            throw Failure(description: "\(service) \(url.absoluteString) answered HTTP \(http.statusCode): \(text)")
        }
        guard let data, !data.isEmpty else { throw Failure(description: "\(service) \(url.absoluteString) sent an empty reply") }
        guard data.count <= maximumSize else {
            throw Failure(description: "\(service) \(url.absoluteString) sent \(data.count) bytes, more than the \(maximumSize) allowed")
        }
        return Array(data)
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    /// One HTTP exchange handed from URLSession's queue to the waiting caller.
    private final class Exchange: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var stored: (Data?, URLResponse?, (any Error)?) = (nil, nil, nil)

        func finish(data: Data?, response: URLResponse?, error: (any Error)?) {
            lock.withLock { stored = (data, response, error) }
            done.signal()
        }

        func wait(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
        var result: (Data?, URLResponse?, (any Error)?) { lock.withLock { stored } }
    }
}
