import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One blocking HTTP exchange with a hard deadline, for the small fetches signing and verification make
/// (time-stamps, OCSP, CRLs, CA certificates) and for signctl's calls to the daemon. The error names the service
/// and what went wrong.
public struct HTTPExchange {
    /// The peer could not be reached, did not answer in time, or answered with something other than a success.
    public struct Failure: CodedError {
        public let reason: String
        public let file: String
        public let line: Int
        public var codeName: String { "fetch-failed" }

        public init(description: String, file: String = #fileID, line: Int = #line) {
            reason = description
            self.file = file
            self.line = line
        }
    }

    /// What the peer is, in messages ("the time-stamping authority", "the OCSP responder").
    public var service: String
    public var url: URL
    public var timeout: Double
    public var maximumSize: Int

    public init(service: String, url: URL, timeout: Double, maximumSize: Int = 16 << 20) {
        self.service = service
        self.url = url
        self.timeout = timeout
        self.maximumSize = maximumSize
    }

    /// Follow HTTP redirects (URLSession's default). Verification's fetches do not: a redirect could lead a fetch
    /// the guard allowed to an address it would not.
    public var followRedirects = true

    /// GET when `body` is nil, POST with `contentType` otherwise. Only HTTP 200 with a body counts as an answer.
    /// What a failed answer said is never repeated: it goes into reports, and a body could be an internal page's.
    func run(body: [UInt8]? = nil, contentType: String? = nil, headers extra: [String: String] = [:]) throws(Failure) -> [UInt8] {
        var headers = extra
        if let contentType { headers["Content-Type"] = contentType }
        let (status, data) = try send(method: body == nil ? "GET" : "POST", headers: headers, body: body)
        guard status == 200 else {
            throw Failure(description: "\(service) \(url.absoluteString) answered HTTP \(status) (\(data.count) bytes, not read)")
        }
        guard !data.isEmpty else { throw Failure(description: "\(service) \(url.absoluteString) sent an empty reply") }
        return data
    }

    /// One request; the status and body of whatever HTTP answer comes back (failures are only for no answer, a
    /// non-HTTP answer or one larger than `maximumSize`).
    public func send(method: String, headers: [String: String] = [:], body: [UInt8]? = nil) throws(Failure) -> (status: Int, body: [UInt8]) {
        let answer = try sendReadingHeaders(method: method, headers: headers, body: body)
        return (answer.status, answer.body)
    }

    /// `send`, with the answer's headers (names in lower case).
    public func sendReadingHeaders(method: String, headers: [String: String] = [:], body: [UInt8]? = nil)
        throws(Failure) -> (status: Int, headers: [String: String], body: [UInt8])
    {
        try exchange(method: method, headers: headers, total: timeout) { session, request, finish in
            var request = request
            if let body { request.httpBody = Data(body) }
            return session.dataTask(with: request) { finish($0, $1, $2) }
        }
    }

    /// A request whose body is read from the file at `path` while it is sent (a scan of any size). `timeout` is how
    /// long the peer may stay silent; `total` bounds the whole exchange.
    public func send(method: String, headers: [String: String] = [:], bodyFile path: String, total: Double) throws(Failure) -> (status: Int, body: [UInt8]) {
        let answer = try exchange(method: method, headers: headers, total: total) { session, request, finish in
            session.uploadTask(with: request, fromFile: URL(fileURLWithPath: path)) { finish($0, $1, $2) }
        }
        return (answer.status, answer.body)
    }

    /// A GET whose 200 answer is written to a temporary file, handed to `keep` (which moves or copies it) before
    /// it is removed; other answers come back in memory as with `send`. Nothing of the body is held in memory.
    public func download(headers: [String: String] = [:], total: Double, keep: @escaping @Sendable (String) throws -> Void) throws(Failure) -> (
        status: Int, body: [UInt8]
    ) {
        let limit = maximumSize
        let answer = try exchange(method: "GET", headers: headers, total: total) { session, request, finish in
            session.downloadTask(with: request) { location, response, error in
                guard let location, let http = response as? HTTPURLResponse else { return finish(nil, response, error) }
                if http.statusCode == 200 {
                    do {
                        try keep(location.path)
                        finish(Data(), response, nil)
                    } catch {
                        finish(nil, response, NotKept(reason: error))
                    }
                } else {
                    finish(try? Data(contentsOf: location, options: .alwaysMapped).prefix(limit), response, error)
                }
            }
        }
        return (answer.status, answer.body)
    }

    /// A downloaded answer that `keep` could not take (the disk is full, the folder is gone).
    private struct NotKept: Error {
        let reason: any Error
    }

    private func exchange(
        method: String, headers: [String: String], total: Double,
        task: (URLSession, URLRequest, @escaping @Sendable (Data?, URLResponse?, (any Error)?) -> Void) -> URLSessionTask
    )
        throws(Failure) -> (status: Int, headers: [String: String], body: [UInt8])
    {
        guard url.scheme == "http" || url.scheme == "https" else {
            throw Failure(description: "\(service) \(url.absoluteString): only http and https URLs are fetched")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let exchange = Exchange()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = total
        let session = URLSession(configuration: configuration, delegate: followRedirects ? nil : NoRedirects(), delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        task(session, request) { data, response, error in
            exchange.finish(data: data, response: response, error: error)
        }.resume()
        guard exchange.wait(seconds: total + 1) else {
            throw Failure(description: "\(service) \(url.absoluteString) did not answer within \(Self.seconds(total))")
        }
        let (data, response, error) = exchange.result
        if let error = error as? NotKept {
            throw Failure(description: "the answer of \(service) \(url.absoluteString) could not be kept: \(error.reason)")
        }
        if let error {
            throw Failure(description: "\(service) \(url.absoluteString) is unreachable: \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else {
            throw Failure(description: "\(service) \(url.absoluteString) gave no HTTP response")
        }
        let bytes = data.map { Array($0) } ?? []
        guard bytes.count <= maximumSize else {
            throw Failure(description: "\(service) \(url.absoluteString) sent \(bytes.count) bytes, more than the \(maximumSize) allowed")
        }
        var answerHeaders = [String: String]()
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { answerHeaders[name.lowercased()] = value }
        }
        return (http.statusCode, answerHeaders, bytes)
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    /// Answers a redirect with no new request: the 3xx comes back as the answer (and is not a 200).
    private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
            completionHandler: @escaping (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
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
