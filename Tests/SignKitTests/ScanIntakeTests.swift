import Foundation
import Testing
import TestSupport
@testable import SignKit

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
        let intake = try ScanIntake(
            folder: folder.path("store"),
            limits: {
                var limits = ScanLimits(); limits.maximumPages = 3; return limits
            }())
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
        let intake = try ScanIntake(
            folder: folder.path("store"),
            limits: {
                var limits = ScanLimits(); limits.maximumBytes = 100_000; return limits
            }())
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
