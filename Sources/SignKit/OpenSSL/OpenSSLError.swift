import CPKCS

/// A failed OpenSSL call, with the whole of OpenSSL's error queue: the useful detail is often deep in it.
public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
    /// The OpenSSL function or operation that failed.
    public let operation: String
    /// OpenSSL's error queue at the time, oldest first.
    public let queue: [String]

    public var description: String {
        queue.isEmpty ? "\(operation) failed" : "\(operation) failed: \(queue.joined(separator: "; "))"
    }

    /// Reads and clears this thread's error queue.
    static func drain(_ operation: String) -> OpenSSLError {
        var buffer = [CChar](repeating: 0, count: 4096)
        _ = cpkcs_ERR_drain(&buffer, buffer.count)
        let text = String(nulTerminated: buffer)
        return OpenSSLError(operation: operation, queue: text.split(separator: "\n").map(String.init))
    }

    /// Empties the queue so that a later failure reports only its own entries.
    static func clearQueue() {
        ERR_clear_error()
    }
}
