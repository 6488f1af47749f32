import Foundation

/// What an uploaded scan may be (docs/scans.md "Intake").
public struct ScanLimits: Sendable, Codable {
    /// Bytes on disk; an upload is cut off as soon as it passes this, not after.
    public var maximumBytes = 64 << 20
    /// Pages of a PDF or TIFF.
    public var maximumPages = 20
    /// Pixels of one image (width × height, from its header): a small file declaring a huge image (a
    /// decompression bomb) is refused before anything decodes it.
    public var maximumPixels = 100_000_000
    /// A PDF page's longest side, in points (A3 is 1,191).
    public var maximumPagePoints = 2_000.0

    public init() {}
}

/// The kinds of scan accepted, told by content (magic bytes and structure), never by name.
public enum ScanType: String, Sendable, Codable, CaseIterable {
    case pdf, jpeg, png, tiff

    public var mediaType: String {
        switch self {
        case .pdf: "application/pdf"
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .tiff: "image/tiff"
        }
    }
}

/// An accepted scan: on disk in the intake folder under a random name, checked, not yet anyone's.
public struct ScanFile: Sendable {
    public let path: String
    public let size: Int
    public let sha256: [UInt8]
    public let type: ScanType
    public let pages: Int
    /// Of the first image (nil for PDF).
    public let width: Int?
    public let height: Int?
}

/// Why an upload was refused, in words; nothing of it is left on disk.
public typealias IntakeError = DomainError<IntakeErrorDomain>

/// The domain of `IntakeError`: its codes are the `ErrorCode<IntakeErrorDomain>` statics below.
public enum IntakeErrorDomain {}

extension ErrorCode where Domain == IntakeErrorDomain {
    public static let empty = Self("empty")
    public static let tooLarge = Self("too-large")
    public static let notAllowedType = Self("not-allowed-type")
    public static let truncated = Self("truncated")
    public static let tooManyPages = Self("too-many-pages")
    public static let tooManyPixels = Self("too-many-pixels")
    public static let badName = Self("bad-name")
    public static let storage = Self("storage")
}

/// Receives scans: each upload streams into `<folder>/incoming/<random>.part` (0600, created exclusively) while it
/// is hashed and counted; it is checked by content when complete and either handed on or deleted. Partial files
/// from a crash (kill -9 mid-upload) are removed when the intake opens, and are never visible to readers: nothing
/// refers to them.
public final class ScanIntake: Sendable {
    public let folder: String
    public let limits: ScanLimits

    public init(folder: String, limits: ScanLimits = ScanLimits()) throws {
        self.folder = folder + "/incoming"
        self.limits = limits
        do {
            try FileManager.default.createDirectory(atPath: self.folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw IntakeError(.storage, "cannot make the intake folder \(self.folder): \(error.localizedDescription)")
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: self.folder)) ?? [] where name.hasSuffix(".part") {
            try? FileManager.default.removeItem(atPath: self.folder + "/" + name)
        }
    }

    /// The name the uploader gave, kept only as a label: a name with a path in it is refused outright.
    public static func checkName(_ name: String) throws {
        guard !name.isEmpty, name.count <= 255, !name.contains("/"), !name.contains("\\"), name != ".", name != "..",
            !name.hasPrefix(".."), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw IntakeError(.badName, "the file name \"\(name.prefix(80))\" is not a plain file name (no folders, no \"..\", no control characters)")
        }
    }

    /// Checks a file already on disk as an upload would be (signctl, before the PPS attests it): by content,
    /// within `limits`; the file is left where it is.
    public static func examine(path: String, limits: ScanLimits = ScanLimits()) throws -> ScanFile {
        let digest: (digest: [UInt8], size: Int)
        do {
            let read = try ExtractDigest.sha256(ofFileAt: path)
            digest = (read.digest, Int(read.size))
        } catch {
            throw IntakeError(.storage, "cannot read \(path): \(error)")
        }
        guard digest.size > 0 else { throw IntakeError(.empty, "\(path) is empty") }
        guard digest.size <= limits.maximumBytes else { throw IntakeError(.tooLarge, "\(path) is larger than \(limits.maximumBytes) bytes") }
        let checked = try ScanInspection.inspect(path: path, size: digest.size, limits: limits)
        return ScanFile(
            path: path, size: digest.size, sha256: digest.digest, type: checked.type, pages: checked.pages,
            width: checked.width, height: checked.height)
    }

    public func begin() throws -> ScanUpload {
        try ScanUpload(intake: self)
    }
}

/// One upload in progress. Used by one task at a time (it may pass from one thread to another between calls).
public final class ScanUpload: @unchecked Sendable {
    let intake: ScanIntake
    public let path: String
    private var descriptor: Int32
    private let hasher = SHA256Hasher()
    public private(set) var size = 0
    private var finished = false

    init(intake: ScanIntake) throws {
        self.intake = intake
        let name = Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255) })
        path = intake.folder + "/" + name + ".part"
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw IntakeError(.storage, "cannot create \(path) (errno \(errno))") }
    }

    deinit { if !finished { abort() } }

    /// Appends bytes; past the size limit the upload is abandoned (file deleted) and `.tooLarge` thrown.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw IntakeError(.storage, "the upload is already finished") }
        size += bytes.count
        guard size <= intake.limits.maximumBytes else {
            abort()
            throw IntakeError(.tooLarge, "the scan is larger than \(intake.limits.maximumBytes) bytes; the upload was stopped at \(size) bytes")
        }
        hasher.update(bytes)
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                abort()
                throw IntakeError(.storage, "cannot write the scan (errno \(code))")
            }
            offset += written
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Deletes what was received.
    public func abort() {
        guard !finished else { return }
        finished = true
        close(descriptor)
        unlink(path)
    }

    /// Flushes the file to disk and checks it by content; on any refusal the file is deleted.
    public func finish() throws -> ScanFile {
        guard !finished else { throw IntakeError(.storage, "the upload is already finished") }
        guard fsync(descriptor) == 0 else {
            let code = errno
            abort()
            throw IntakeError(.storage, "cannot flush the scan to disk (errno \(code))")
        }
        finished = true
        close(descriptor)
        do {
            guard size > 0 else { throw IntakeError(.empty, "the upload is empty") }
            let checked = try ScanInspection.inspect(path: path, size: size, limits: intake.limits)
            return ScanFile(
                path: path, size: size, sha256: hasher.finalize(), type: checked.type, pages: checked.pages,
                width: checked.width, height: checked.height)
        } catch {
            unlink(path)
            throw error
        }
    }
}

/// Reading a scan's type, size in pixels and pages from its own bytes.
enum ScanInspection {
    struct Result {
        let type: ScanType
        let pages: Int
        let width: Int?
        let height: Int?
    }

    static func inspect(path: String, size: Int, limits: ScanLimits) throws -> Result {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw IntakeError(.storage, "cannot read back \(path)") }
        defer { try? handle.close() }
        let head = Array((try? handle.read(upToCount: 64 << 10)) ?? Data())
        func tail(_ count: Int) -> [UInt8] {
            _ = try? handle.seek(toOffset: UInt64(max(0, size - count)))
            return Array((try? handle.readToEnd()) ?? Data())
        }
        let result: Result
        if head.starts(with: Array("%PDF-".utf8)) {
            guard String(decoding: tail(1024), as: UTF8.self).contains("%%EOF") else {
                throw IntakeError(.truncated, "the PDF has no end-of-file marker (%%EOF): the upload was cut short")
            }
            result = try pdf(path: path, limits: limits)
        } else if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            guard head.count >= 24, Array(head[12..<16]) == Array("IHDR".utf8) else { throw IntakeError(.truncated, "the PNG has no image header") }
            guard tail(12) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82] else {
                throw IntakeError(.truncated, "the PNG does not end with its IEND chunk: the upload was cut short")
            }
            result = Result(type: .png, pages: 1, width: Int(readUInt32(head, 16, bigEndian: true)), height: Int(readUInt32(head, 20, bigEndian: true)))
        } else if head.starts(with: [0xFF, 0xD8, 0xFF]) {
            guard tail(2) == [0xFF, 0xD9] else { throw IntakeError(.truncated, "the JPEG does not end with its end-of-image marker: the upload was cut short") }
            guard let (width, height) = jpegSize(head) else { throw IntakeError(.truncated, "the JPEG has no frame header in its first 64 KiB") }
            result = Result(type: .jpeg, pages: 1, width: width, height: height)
        } else if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) {
            result = try tiff(path: path)
        } else {
            throw IntakeError(.notAllowedType, "the file is not a PDF, JPEG, PNG or TIFF (judged by its content, not its name)")
        }
        guard result.pages <= limits.maximumPages else {
            throw IntakeError(.tooManyPages, "the scan has \(result.pages) pages; at most \(limits.maximumPages) are accepted")
        }
        if let width = result.width, let height = result.height {
            guard width > 0, height > 0 else { throw IntakeError(.truncated, "the image declares no pixels (\(width)×\(height))") }
            guard width.multipliedReportingOverflow(by: height).partialValue <= limits.maximumPixels, width <= 1 << 20, height <= 1 << 20 else {
                throw IntakeError(
                    .tooManyPixels,
                    "the image declares \(width)×\(height) pixels, more than \(limits.maximumPixels): "
                        + "refused before decoding (a decompression bomb, or a scan at far too high a resolution)")
            }
        }
        return result
    }

    static func readUInt32<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, _ offset: Int, bigEndian: Bool) -> UInt32 where Bytes.Index == Int {
        guard offset + 4 <= bytes.count else { return 0 }
        let b = bytes[offset..<offset + 4].map(UInt32.init)
        return bigEndian ? b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0]
    }

    static func readUInt16<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, _ offset: Int, bigEndian: Bool) -> UInt16 where Bytes.Index == Int {
        guard offset + 2 <= bytes.count else { return 0 }
        return bigEndian ? UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) : UInt16(bytes[offset + 1]) << 8 | UInt16(bytes[offset])
    }

    /// Width and height from the first start-of-frame marker (SOF0-SOF15 but DHT, JPG and DAC).
    static func jpegSize(_ bytes: [UInt8]) -> (Int, Int)? {
        var index = 2
        while index + 9 < bytes.count {
            guard bytes[index] == 0xFF else { return nil }
            let marker = bytes[index + 1]
            if marker == 0xFF { index += 1; continue }
            let length = Int(readUInt16(bytes, index + 2, bigEndian: true))
            if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                return (Int(readUInt16(bytes, index + 7, bigEndian: true)), Int(readUInt16(bytes, index + 5, bigEndian: true)))
            }
            guard length >= 2 else { return nil }
            index += 2 + length
        }
        return nil
    }

    /// Pages from the IFD chain and the largest page's size (every page is judged by the pixel limit, not only the
    /// first); every IFD and strip must lie inside the file.
    static func tiff(path: String) throws -> Result {
        // Mapped, not read: only the pages holding directories are touched, however large the image data.
        guard let bytes = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped), !bytes.isEmpty else {
            throw IntakeError(.storage, "cannot read back \(path)")
        }
        let big = bytes[0] == 0x4D
        var offset = Int(readUInt32(bytes, 4, bigEndian: big))
        var pages = 0, width: Int?, height: Int?
        var seen = Set<Int>()
        while offset != 0 {
            guard offset + 2 <= bytes.count, seen.insert(offset).inserted, pages < 10_000 else {
                throw IntakeError(.truncated, "the TIFF's page directory at byte \(offset) is outside the file: the upload was cut short")
            }
            let count = Int(readUInt16(bytes, offset, bigEndian: big))
            guard offset + 2 + count * 12 + 4 <= bytes.count else { throw IntakeError(.truncated, "the TIFF's page directory is cut off") }
            var stripOffsets = [Int](), stripCounts = [Int]()
            var pageWidth = 0, pageHeight = 0
            for entry in 0..<count {
                let at = offset + 2 + entry * 12
                let tag = readUInt16(bytes, at, bigEndian: big), type = readUInt16(bytes, at + 2, bigEndian: big)
                let values = Int(readUInt32(bytes, at + 4, bigEndian: big))
                func value(_ index: Int) -> Int {
                    let short = type == 3
                    let inline = values * (short ? 2 : 4) <= 4
                    let base = inline ? at + 8 : Int(readUInt32(bytes, at + 8, bigEndian: big))
                    return short ? Int(readUInt16(bytes, base + index * 2, bigEndian: big)) : Int(readUInt32(bytes, base + index * 4, bigEndian: big))
                }
                switch tag {
                case 256: pageWidth = value(0)
                case 257: pageHeight = value(0)
                case 273: stripOffsets = (0..<min(values, 100_000)).map(value)
                case 279: stripCounts = (0..<min(values, 100_000)).map(value)
                default: break
                }
            }
            for (start, length) in zip(stripOffsets, stripCounts) where start + length > bytes.count {
                throw IntakeError(.truncated, "the TIFF's image data runs past the end of the file: the upload was cut short")
            }
            guard pageWidth > 0, pageHeight > 0 else { throw IntakeError(.truncated, "TIFF page \(pages + 1) declares no pixels") }
            if let width, let height, Double(width) * Double(height) >= Double(pageWidth) * Double(pageHeight) {
                // the largest page so far stays
            } else {
                (width, height) = (pageWidth, pageHeight)
            }
            pages += 1
            offset = Int(readUInt32(bytes, offset + 2 + count * 12, bigEndian: big))
        }
        return Result(type: .tiff, pages: pages, width: width, height: height)
    }

    /// Pages and page sizes from poppler's pdfinfo (Debian's poppler-utils), which also refuses a broken PDF.
    static func pdf(path: String, limits: ScanLimits) throws -> Result {
        let outcome = try Subprocess(executable: "/usr/bin/pdfinfo", arguments: ["-l", String(limits.maximumPages + 1), path], timeout: 30)
            .runOnScan(package: "poppler-utils")
        guard outcome.status == 0 else { throw IntakeError(.truncated, "the PDF does not read: \(outcome.errorLine)") }
        let text = String(decoding: outcome.output, as: UTF8.self)
        var pages = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Pages:"), let value = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) { pages = value }
            // "Page    1 size: 595.276 x 841.89 pts (A4)"
            if line.hasPrefix("Page "), line.contains(" size: ") {
                let numbers = line.split(separator: ":")[1].split(separator: " ").compactMap { Double($0) }
                if numbers.count >= 2, max(numbers[0], numbers[1]) > limits.maximumPagePoints {
                    throw IntakeError(
                        .tooManyPixels,
                        "a PDF page is \(Int(numbers[0]))×\(Int(numbers[1])) points, larger than \(Int(limits.maximumPagePoints)): not a scanned note sheet")
                }
            }
        }
        guard pages > 0 else { throw IntakeError(.truncated, "the PDF has no pages") }
        return Result(type: .pdf, pages: pages, width: nil, height: nil)
    }
}

extension Subprocess {
    /// Runs a helper on a scan: a scan it cannot finish in time is refused (a hostile file, not a slow machine); a
    /// helper that cannot start is the service's problem, named with the Debian package that provides it.
    func runOnScan(package: String) throws -> Outcome {
        do {
            return try run()
        } catch let failure as Failure {
            if failure.timedOut { throw IntakeError(.notAllowedType, "the scan took too long to read (\(failure)); refused") }
            throw IntakeError(.storage, "\(failure) (apt-get install \(package))")
        }
    }
}
