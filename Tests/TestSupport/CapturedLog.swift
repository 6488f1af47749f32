import Foundation
import Logging
import Synchronization

/// Collects every log record, rendered with its metadata, for tests that read what a component logged.
public final class CapturedLog: Sendable {
    private let records = Mutex<[String]>([])

    public init() {}

    public var lines: [String] { records.withLock { $0 } }

    public func handler(level: Logger.Level) -> some LogHandler {
        Handler(log: self, logLevel: level)
    }

    fileprivate func append(_ line: String) { records.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            log.append("\(event.level) \(event.message) \(rendered) \(event.error.map { "\($0)" } ?? "")")
        }
    }
}
