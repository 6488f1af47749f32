import CQREncode
import Foundation

/// A QR code made by libqrencode (error correction level M, byte mode), as a grid of dark and light modules, and
/// drawn as PNG or SVG for printing on an extract.
public struct QRCode: Sendable {
    /// Modules per side (21 for version 1, +4 per version).
    public let size: Int
    /// Row-major, true for dark.
    public let modules: [Bool]

    public init(text: String) throws {
        guard !text.isEmpty else { throw ScanError(.badRequest, "a QR code needs text") }
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else {
            throw ScanError(.badRequest, "libqrencode cannot encode \(text.utf8.count) bytes (errno \(errno)); the most a QR code holds at level M is 2,331")
        }
        defer { QRcode_free(code) }
        size = Int(code.pointee.width)
        // Bit 0 of each byte is the module's colour (qrencode.h).
        modules = (0..<size * size).map { code.pointee.data[$0] & 1 == 1 }
    }

    public func isDark(row: Int, column: Int) -> Bool { modules[row * size + column] }

    /// An SVG drawing: one path of unit squares, `quiet` light modules around (4 is the standard's minimum).
    public func svg(quiet: Int = 4) -> String {
        let side = size + 2 * quiet
        var path = ""
        for row in 0..<size {
            for column in 0..<size where isDark(row: row, column: column) {
                path += "M\(column + quiet) \(row + quiet)h1v1h-1z"
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(side) \(side)" width="\(side * 4)" height="\(side * 4)" shape-rendering="crispEdges">
            <rect width="\(side)" height="\(side)" fill="#fff"/>
            <path d="\(path)" fill="#000"/>
            </svg>

            """
    }

    /// An 8-bit greyscale PNG, `scale` pixels per module, `quiet` light modules around. Written here (zlib stored
    /// blocks, CRC-32, Adler-32): a QR image is small and needs no compression.
    public func png(scale: Int = 4, quiet: Int = 4) -> [UInt8] {
        let side = (size + 2 * quiet) * scale
        var raw = [UInt8]()
        raw.reserveCapacity((side + 1) * side)
        for y in 0..<side {
            raw.append(0)  // filter: none
            let row = y / scale - quiet
            for x in 0..<side {
                let column = x / scale - quiet
                let dark = row >= 0 && row < size && column >= 0 && column < size && isDark(row: row, column: column)
                raw.append(dark ? 0 : 255)
            }
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            let typed = Array(type.utf8) + data
            png += Self.bigEndian(UInt32(data.count)) + typed + Self.bigEndian(Self.crc32(typed))
        }
        chunk("IHDR", Self.bigEndian(UInt32(side)) + Self.bigEndian(UInt32(side)) + [8, 0, 0, 0, 0])
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65_535, raw.count - offset)
            let final: UInt8 = offset + length == raw.count ? 1 : 0
            zlib += [final, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            zlib += raw[offset..<offset + length]
            offset += length
        } while offset < raw.count
        zlib += Self.bigEndian(Self.adler32(raw))
        chunk("IDAT", zlib)
        chunk("IEND", [])
        return png
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }
}
