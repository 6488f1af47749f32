import Foundation
import Testing
import TestSupport
@testable import SignKit

/// Scans made by real encoders: a PDF written here, rasterised by poppler's pdftoppm into JPEG, PNG and TIFF.
enum ScanFixtures {
    /// A PDF of `pages` A4 pages, each with a line of text; the cross-reference table is exact.
    static func pdf(pages: Int, width: Int = 595, height: Int = 842) -> [UInt8] {
        var objects = ["<< /Type /Catalog /Pages 2 0 R >>",
                       "<< /Type /Pages /Kids [\((0..<pages).map { "\(4 + 2 * $0) 0 R" }.joined(separator: " "))] /Count \(pages) >>",
                       "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
        for page in 0..<pages {
            let text = "BT /F1 18 Tf 72 760 Td (File GAD-11011/3/2026-ADMIN, note N-4, page \(page + 1): approved) Tj ET"
            objects.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(width) \(height)] /Resources << /Font << /F1 3 0 R >> >> /Contents \(5 + 2 * page) 0 R >>")
            objects.append("<< /Length \(text.utf8.count) >>\nstream\n\(text)\nendstream")
        }
        var out = "%PDF-1.4\n"
        var offsets = [Int]()
        for (index, object) in objects.enumerated() {
            offsets.append(out.utf8.count)
            out += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = out.utf8.count
        out += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n" + offsets.map { String(format: "%010d 00000 n \n", $0) }.joined()
        out += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Array(out.utf8)
    }

    /// A PNG with a real header declaring `width` x `height` and a tiny (wrong) data chunk: what a decompression
    /// bomb looks like before anyone inflates it.
    static func pngHeaderOnly(width: UInt32, height: UInt32) -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            let typed = Array(type.utf8) + data
            png += QRCode.bigEndian(UInt32(data.count)) + typed + QRCode.bigEndian(QRCode.crc32(typed))
        }
        chunk("IHDR", QRCode.bigEndian(width) + QRCode.bigEndian(height) + [8, 0, 0, 0, 0])
        chunk("IDAT", [0x78, 0xDA, 0xED, 0xC1, 0x01, 0x0D, 0x00, 0x00, 0x00, 0xC2, 0xA0, 0xF7, 0x4F, 0x6D, 0x0E, 0x37, 0xA0, 0x00, 0x00])
        chunk("IEND", [])
        return png
    }

    /// A little-endian TIFF with one IFD per page (width, height, one 8-byte strip each): the pages' sizes as declared.
    static func tiff(pages: [(UInt32, UInt32)]) -> [UInt8] {
        func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        var bytes: [UInt8] = [0x49, 0x49, 0x2A, 0x00] + le32(8)
        let ifdSize = 2 + 4 * 12 + 4
        for (index, (width, height)) in pages.enumerated() {
            let strip = UInt32(8 + pages.count * ifdSize + index * 8)
            let next = index + 1 < pages.count ? UInt32(8 + (index + 1) * ifdSize) : 0
            bytes += le16(4)
            for (tag, value) in [(256, width), (257, height), (273, strip), (279, UInt32(8))] {
                bytes += le16(UInt16(tag)) + le16(4) + le32(1) + le32(value)
            }
            bytes += le32(next)
        }
        return bytes + [UInt8](repeating: 0, count: pages.count * 8)
    }

    /// The first page of `pdf` rasterised at 50 dpi by pdftoppm as "jpeg", "png" or "tiff".
    static func image(_ format: String, from pdf: [UInt8], in folder: TemporaryFolder) throws -> [UInt8] {
        let source = try folder.file("source.pdf", pdf)
        let result = try Command.run("/usr/bin/pdftoppm", ["-\(format)", "-r", "50", "-singlefile", source.path, folder.path("page")])
        guard result.status == 0 else { throw RigError("pdftoppm -\(format) failed: \(result.stderr)") }
        let name = folder.path("page." + (format == "jpeg" ? "jpg" : format == "tiff" ? "tif" : format))
        return Array(try Data(contentsOf: URL(fileURLWithPath: name)))
    }
}

@Suite("Scan intake: type by content, limits while streaming, nothing left of a refusal")
struct ScanIntakeTests {
    func leftovers(_ intake: ScanIntake) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: intake.folder)) ?? []
    }

    func upload(_ bytes: [UInt8], to intake: ScanIntake, chunk: Int = 8192) throws -> ScanFile {
        let upload = try intake.begin()
        var offset = 0
        while offset < bytes.count {
            try upload.write(Array(bytes[offset..<min(bytes.count, offset + chunk)]))
            offset += chunk
        }
        return try upload.finish()
    }

    @Test("PDF, JPEG, PNG and TIFF from real encoders are accepted with their type, pages, size and SHA-256")
    func accepted() throws {
        let folder = try TemporaryFolder("signservice-intake")
        let intake = try ScanIntake(folder: folder.path("store"))
        let pdf = ScanFixtures.pdf(pages: 2)
        let file = try upload(pdf, to: intake)
        #expect(file.type == .pdf && file.pages == 2 && file.size == pdf.count && file.sha256 == SHA256Hasher.hash(pdf))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file.path)) == Data(pdf))
        for (format, type) in [("jpeg", ScanType.jpeg), ("png", .png), ("tiff", .tiff)] {
            let bytes = try ScanFixtures.image(format, from: pdf, in: folder)
            let scanned = try upload(bytes, to: intake)
            // 50 dpi of an A4 page (595 x 842 points): pdftoppm makes 414 x 585 pixels; each header must say so.
            #expect(scanned.type == type && scanned.pages == 1 && scanned.width == 414 && scanned.height == 585, "\(format): \(scanned)")
        }
    }

    @Test("refused with a named reason and nothing left: empty, cut short, not an allowed type, too many pages, a decompression bomb, a path in the name")
    func refused() throws {
        let folder = try TemporaryFolder("signservice-intake")
        let intake = try ScanIntake(folder: folder.path("store"), limits: { var limits = ScanLimits(); limits.maximumPages = 3; return limits }())
        let pdf = ScanFixtures.pdf(pages: 1)
        func refusal(_ bytes: [UInt8]) -> IntakeError.Code? {
            do {
                let accepted = try upload(bytes, to: intake)
                unlink(accepted.path)
                return nil
            } catch let error as IntakeError {
                return error.code
            } catch {
                return .storage
            }
        }
        #expect(refusal([]) == .empty)
        #expect(refusal(Array(pdf.prefix(pdf.count / 2))) == .truncated)
        for format in ["jpeg", "png", "tiff"] {
            let image = try ScanFixtures.image(format, from: pdf, in: folder)
            #expect(refusal(Array(image.prefix(image.count * 2 / 3))) == .truncated, "\(format) cut short")
        }
        #expect(refusal(Array("#!/bin/sh\nrm -rf /\n".utf8)) == .notAllowedType)
        #expect(refusal(Array(try Data(contentsOf: URL(fileURLWithPath: "/bin/true")))) == .notAllowedType, "an executable, whatever its name")
        #expect(refusal(ScanFixtures.pdf(pages: 4)) == .tooManyPages)
        #expect(refusal(ScanFixtures.pdf(pages: 1, width: 5000, height: 5000)) == .tooManyPixels)

        // A PNG of a few hundred bytes declaring 60000 x 60000 pixels: refused from its header, never decoded.
        var bomb = ScanFixtures.pngHeaderOnly(width: 60_000, height: 60_000)
        #expect(bomb.count < 1000)
        #expect(refusal(bomb) == .tooManyPixels)
        bomb.removeLast(12)
        #expect(refusal(bomb) == .truncated)
        // A TIFF whose first page is small and whose second declares 60000 x 60000: every page is judged.
        #expect(refusal(ScanFixtures.tiff(pages: [(10, 10), (10, 10)])) == nil, "the hand-made TIFF itself is accepted")
        #expect(refusal(ScanFixtures.tiff(pages: [(10, 10), (60_000, 60_000)])) == .tooManyPixels)

        for name in ["../../etc/passwd", "/etc/shadow", "scans\\..\\x.pdf", "..", "a\u{0}b.pdf"] {
            #expect(throws: IntakeError.self) { try ScanIntake.checkName(name) }
        }
        #expect(throws: Never.self) { try ScanIntake.checkName("Minister signed N-4 (scan).pdf") }
        #expect(leftovers(intake).isEmpty, "nothing of a refused upload stays: \(leftovers(intake))")
    }

    @Test("an oversized upload is stopped while it streams, at the chunk that passes the limit")
    func oversized() throws {
        let folder = try TemporaryFolder("signservice-intake")
        let intake = try ScanIntake(folder: folder.path("store"), limits: { var limits = ScanLimits(); limits.maximumBytes = 100_000; return limits }())
        let upload = try intake.begin()
        var sent = 0
        var refused: IntakeError?
        let chunk = [UInt8](repeating: 0x25, count: 8192)
        while sent < 1_000_000 && refused == nil {
            do {
                try upload.write(chunk)
                sent += chunk.count
            } catch let error as IntakeError {
                refused = error
            }
        }
        #expect(refused?.code == .tooLarge)
        #expect(sent < 100_000 && sent + chunk.count > 100_000, "refused at the chunk that crossed the limit, after \(sent) bytes")
        #expect(leftovers(intake).isEmpty)
    }

    @Test("partial uploads left by a crash are removed when the intake opens again")
    func restartCleans() throws {
        let folder = try TemporaryFolder("signservice-intake")
        let first = try ScanIntake(folder: folder.path("store"))
        // As a killed process leaves it: a .part file written halfway, never finished or aborted.
        let partial = first.folder + "/0123456789abcdef.part"
        try Data(ScanFixtures.pdf(pages: 1).prefix(100)).write(to: URL(fileURLWithPath: partial))
        #expect(FileManager.default.fileExists(atPath: partial))
        let reopened = try ScanIntake(folder: folder.path("store"))
        #expect(!FileManager.default.fileExists(atPath: partial) && leftovers(reopened).isEmpty)
    }
}
