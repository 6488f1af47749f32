import Foundation

/// A folder of its own under the system's temporary directory, removed with everything in it at deinit.
public final class TemporaryFolder {
    public let url: URL

    public init(_ prefix: String = "signservice-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// A path in the folder (the file is not created).
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `contents` to `name` in the folder and returns its URL.
    @discardableResult
    public func file(_ name: String, _ contents: some DataProtocol) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(contents).write(to: file)
        return file
    }
}
