import CPKCS

/// A failed OpenSSL call, with the whole of OpenSSL's error queue: the useful detail is often deep in it.
public struct OpenSSLError: CodedError {
    /// The OpenSSL function or operation that failed.
    public let operation: String
    /// OpenSSL's error queue at the time, oldest first.
    public let queue: [String]
    public let file: String
    public let line: Int
    public var codeName: String { "openssl" }

    init(operation: String, queue: [String], file: String = #fileID, line: Int = #line) {
        self.operation = operation
        self.queue = queue
        self.file = file
        self.line = line
    }

    public var reason: String {
        queue.isEmpty ? "\(operation) failed" : "\(operation) failed: \(queue.joined(separator: "; "))"
    }

    /// Reads and clears this thread's error queue.
    static func drain(_ operation: String, file: String = #fileID, line: Int = #line) -> OpenSSLError {
        var buffer = [CChar](repeating: 0, count: 4096)
        _ = cpkcs_ERR_drain(&buffer, buffer.count)
        let text = String(nulTerminated: buffer)
        return OpenSSLError(operation: operation, queue: text.split(separator: "\n").map(String.init), file: file, line: line)
    }

    /// Empties the queue so that a later failure reports only its own entries.
    static func clearQueue() {
        ERR_clear_error()
    }
}
