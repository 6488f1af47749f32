import Foundation
import SignKit

/// Scans made by real encoders: a PDF written here, rasterised by poppler's pdftoppm into JPEG, PNG and TIFF.
public enum ScanFixtures {
    /// A PDF of `pages` A4 pages, each with a line of text; the cross-reference table is exact.
    public static func pdf(pages: Int, width: Int = 595, height: Int = 842) -> [UInt8] {
        var objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [\((0..<pages).map { "\(4 + 2 * $0) 0 R" }.joined(separator: " "))] /Count \(pages) >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        for page in 0..<pages {
            let text = "BT /F1 18 Tf 72 760 Td (File GAD-11011/3/2026-ADMIN, note N-4, page \(page + 1): approved) Tj ET"
            objects.append(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(width) \(height)] /Resources << /Font << /F1 3 0 R >> >> /Contents \(5 + 2 * page) 0 R >>")
            objects.append("<< /Length \(text.utf8.count) >>\nstream\n\(text)\nendstream")
        }
        return pdf(objects: objects.map { Array($0.utf8) })
    }

    /// A PNG with a real header declaring `width` x `height` and a tiny (wrong) data chunk: what a decompression
    /// bomb looks like before anyone inflates it.
    public static func pngHeaderOnly(width: UInt32, height: UInt32) -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            let typed = Array(type.utf8) + data
            png += bigEndian(UInt32(data.count)) + typed + bigEndian(crc32(typed))
        }
        chunk("IHDR", bigEndian(width) + bigEndian(height) + [8, 0, 0, 0, 0])
        chunk("IDAT", [0x78, 0xDA, 0xED, 0xC1, 0x01, 0x0D, 0x00, 0x00, 0x00, 0xC2, 0xA0, 0xF7, 0x4F, 0x6D, 0x0E, 0x37, 0xA0, 0x00, 0x00])
        chunk("IEND", [])
        return png
    }

    /// A little-endian TIFF with one IFD per page (width, height, one 8-byte strip each): the pages' sizes as declared.
    public static func tiff(pages: [(UInt32, UInt32)]) -> [UInt8] {
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
    public static func image(_ format: String, from pdf: [UInt8], in folder: TemporaryFolder) throws -> [UInt8] {
        let source = try folder.file("source.pdf", pdf)
        let result = try Command.run("/usr/bin/pdftoppm", ["-\(format)", "-r", "50", "-singlefile", source.path, folder.path("page")])
        guard result.status == 0 else { throw RigError("pdftoppm -\(format) failed: \(result.stderr)") }
        let name = folder.path("page." + (format == "jpeg" ? "jpg" : format == "tiff" ? "tif" : format))
        return Array(try Data(contentsOf: URL(fileURLWithPath: name)))
    }
}

extension ScanFixtures {
    static func bigEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// A PDF from objects given as bytes (1-based numbering in order), with an exact cross-reference table.
    static func pdf(objects: [[UInt8]], root: Int = 1) -> [UInt8] {
        var out = Array("%PDF-1.4\n%\u{E2}\u{E3}\u{CF}\u{D3}\n".utf8)
        var offsets = [Int]()
        for (index, object) in objects.enumerated() {
            offsets.append(out.count)
            out += Array("\(index + 1) 0 obj\n".utf8) + object + Array("\nendobj\n".utf8)
        }
        let xref = out.count
        var tail = "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n" + offsets.map { String(format: "%010d 00000 n \n", $0) }.joined()
        tail += "trailer\n<< /Size \(objects.count + 1) /Root \(root) 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return out + Array(tail.utf8)
    }

    static func stream(_ dictionary: String, _ data: [UInt8]) -> [UInt8] {
        Array("<< \(dictionary) /Length \(data.count) >>\nstream\n".utf8) + data + Array("\nendstream".utf8)
    }

    /// The printed extract a Minister signs: an A4 page with the note's lines, a "signature" scrawl and the approval
    /// request's QR code (4 inches wide, bottom left), as the service's page would print it.
    public static func printedExtract(lines: [String], qr: QRCode) -> [UInt8] {
        let quiet = 4, side = qr.size + 2 * quiet
        var pixels = [UInt8]()
        for row in 0..<side {
            for column in 0..<side {
                let (r, c) = (row - quiet, column - quiet)
                let dark = r >= 0 && c >= 0 && r < qr.size && c < qr.size && qr.isDark(row: r, column: c)
                pixels.append(dark ? 0x00 : 0xFF)
            }
        }
        func escaped(_ text: String) -> String {
            text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "(", with: "\\(").replacingOccurrences(of: ")", with: "\\)")
        }
        var content = "BT /F1 12 Tf 72 770 Td 16 TL\n"
        for line in lines { content += "(\(escaped(line))) Tj T*\n" }
        content += "ET\n"
        // The Minister's hand: a few strokes.
        content += "2 w 330 300 m 360 340 l 380 290 l 410 350 l 440 300 l 470 330 l S\n"
        content += "BT /F1 10 Tf 330 270 Td (Approved. Sd/- Minister) Tj ET\n"
        content += "q 288 0 0 288 72 60 cm /QR Do Q\n"
        return pdf(objects: [
            Array("<< /Type /Catalog /Pages 2 0 R >>".utf8),
            Array("<< /Type /Pages /Kids [4 0 R] /Count 1 >>".utf8),
            Array("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".utf8),
            Array(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> /XObject << /QR 6 0 R >> >> /Contents 5 0 R >>".utf8),
            stream("", Array(content.utf8)),
            stream("/Type /XObject /Subtype /Image /Width \(side) /Height \(side) /ColorSpace /DeviceGray /BitsPerComponent 8", pixels),
        ])
    }

    /// What a scanner makes of a page: one JPEG per page wrapped in a PDF (DCTDecode), A4.
    public static func scannedPDF(jpeg: [UInt8]) -> [UInt8] {
        // Size and colour components from the JPEG's start-of-frame header (pdftoppm -gray still writes 3).
        var index = 2, width = 0, height = 0, components = 1
        while index + 9 < jpeg.count, jpeg[index] == 0xFF {
            let marker = jpeg[index + 1], length = Int(jpeg[index + 2]) << 8 | Int(jpeg[index + 3])
            if (0xC0...0xC3).contains(marker) {
                height = Int(jpeg[index + 5]) << 8 | Int(jpeg[index + 6])
                width = Int(jpeg[index + 7]) << 8 | Int(jpeg[index + 8])
                components = Int(jpeg[index + 9])
                break
            }
            index += 2 + length
        }
        let space = components == 3 ? "/DeviceRGB" : "/DeviceGray"
        let content = "q 595 0 0 842 0 0 cm /Scan Do Q\n"
        return pdf(objects: [
            Array("<< /Type /Catalog /Pages 2 0 R >>".utf8),
            Array("<< /Type /Pages /Kids [3 0 R] /Count 1 >>".utf8),
            Array("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Scan 5 0 R >> >> /Contents 4 0 R >>".utf8),
            stream("", Array(content.utf8)),
            stream("/Type /XObject /Subtype /Image /Width \(width) /Height \(height) /ColorSpace \(space) /BitsPerComponent 8 /Filter /DCTDecode", jpeg),
        ])
    }

    /// "Scans" the printed extract: pdftoppm renders it in grey at `dpi` as a JPEG (the JPEG scan), which is then
    /// wrapped in a PDF as a scanner would (the PDF scan). Returns (jpeg, pdf).
    public static func scan(_ printed: [UInt8], dpi: Int = 150, in folder: TemporaryFolder) throws -> (jpeg: [UInt8], pdf: [UInt8]) {
        let source = try folder.file("printed-\(UUID().uuidString).pdf", printed)
        let prefix = folder.path("scanned-\(UUID().uuidString)")
        let result = try Command.run("/usr/bin/pdftoppm", ["-jpeg", "-gray", "-r", String(dpi), "-singlefile", source.path, prefix])
        guard result.status == 0 else { throw RigError("pdftoppm -jpeg failed: \(result.stderr)") }
        let jpeg = Array(try Data(contentsOf: URL(fileURLWithPath: prefix + ".jpg")))
        return (jpeg, scannedPDF(jpeg: jpeg))
    }
}
