import Foundation

/// Writes a file so that readers see either nothing or the whole file: a temporary file in the same folder,
/// fsynced, renamed over the target, then the folder fsynced. A crash leaves at most a `.tmp-` file behind.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        try replace(path) { temporary in
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            guard fd >= 0 else { throw FileError(path: path, errno: errno, action: "create a temporary file beside") }
            defer { close(fd) }
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + offset, bytes.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError(path: path, errno: errno, action: "write")
                }
                offset += n
            }
        }
    }

    /// `make` writes the new file at the temporary path it is given (beside `path`); the file is then fsynced,
    /// renamed over `path` and the folder fsynced. If anything fails the temporary file is removed.
    public static func replace(_ path: String, _ make: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/.tmp-\(url.lastPathComponent)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var done = false
        defer {
            if !done { unlink(temporary) }
        }
        try make(temporary)
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, errno: errno, action: "reopen the temporary file of") }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced else { throw FileError(path: path, errno: errno, action: "flush") }
        guard rename(temporary, path) == 0 else { throw FileError(path: path, errno: errno, action: "rename into") }
        done = true
        syncFolder(folder)
    }

    /// Renames a file already flushed to disk (`source`, on the same file system) to `path` and fsyncs the folder,
    /// so the new name survives a crash. No copy is made, whatever the file's size.
    public static func move(_ source: String, to path: String) throws {
        guard rename(source, path) == 0 else { throw FileError(path: path, errno: errno, action: "move \(source) to") }
        syncFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }
}

/// A file-system failure naming the file and what was being done.
public struct FileError: CodedError {
    public let path: String
    public let errno: Int32
    public let action: String
    public let file: String
    public let line: Int
    /// "file-unreadable" or "file-unwritable" by what was being done; the reason carries the system's own words.
    public var codeName: String { ["open", "read"].contains(action) ? "file-unreadable" : "file-unwritable" }

    public init(path: String, errno: Int32, action: String, file: String = #fileID, line: Int = #line) {
        self.path = path
        self.errno = errno
        self.action = action
        self.file = file
        self.line = line
    }

    public var reason: String { "cannot \(action) \(path): \(String(cString: strerror(errno)))" }
}
