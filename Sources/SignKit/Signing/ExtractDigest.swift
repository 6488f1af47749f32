import Foundation

/// SHA-256 of a file read in fixed-size chunks: memory stays flat whatever the extract's size.
public enum ExtractDigest {
    public static let chunkSize = 1 << 20

    /// The digest and the number of bytes read.
    public static func sha256(ofFileAt path: String) throws -> (digest: [UInt8], size: UInt64) {
        let hasher = SHA256Hasher()
        let total = try read(fileAt: path) { hasher.update($0) }
        return (hasher.finalize(), total)
    }

    /// Reads the file at `path` in chunks, handing each to `consume`; returns the number of bytes read.
    static func read(fileAt path: String, _ consume: (UnsafeRawBufferPointer) -> Void) throws -> UInt64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, errno: errno, action: "open") }
        defer { close(fd) }
        // A small extract gets a buffer its size: a 1 MiB allocation is an mmap and munmap each time.
        var status = stat()
        let size = fstat(fd, &status) == 0 ? Int(status.st_size) : chunkSize
        let bufferSize = min(chunkSize, max(4096, size + 1))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, bufferSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, errno: errno, action: "read")
            }
            if n == 0 { break }
            consume(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            total += UInt64(n)
        }
        return total
    }
}
