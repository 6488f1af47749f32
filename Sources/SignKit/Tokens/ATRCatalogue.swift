import Foundation

/// Maps a card's ATR to a vendor, a model and the PKCS#11 modules that can drive it. Loaded from a JSON data file
/// (the package's `atr-catalogue.json` by default), so new tokens need no code change.
public struct ATRCatalogue: Sendable {
    public struct Entry: Sendable, Hashable, Codable {
        /// Hex bytes; ".." is any byte; a final "*" is any remaining bytes.
        public let pattern: String
        public let vendor: String
        public let model: String
        /// Vendor modules, most preferred first.
        public let modules: [String]
        /// OpenSC's module can drive this token.
        public let opensc: Bool
        public let note: String?
    }

    public let entries: [Entry]
    /// Where OpenSC's PKCS#11 module may be, by distribution layout.
    public let openscModules: [String]

    private struct File: Codable {
        let entries: [Entry]
        let opensc: [String]
    }

    /// The catalogue shipped with SignKit: `$SIGNSERVICE_ATR_CATALOGUE`, `/etc/signservice/atr-catalogue.json`, the
    /// resource bundle next to the executable, or the source tree it was built from, first found wins. Looked up by
    /// hand rather than through `Bundle.module`, which ends the process when the bundle is missing.
    public static func bundled() throws -> ATRCatalogue {
        var candidates = [URL]()
        if let configured = ProcessInfo.processInfo.environment["SIGNSERVICE_ATR_CATALOGUE"], !configured.isEmpty {
            candidates.append(URL(fileURLWithPath: configured))
        }
        candidates.append(URL(fileURLWithPath: "/etc/signservice/atr-catalogue.json"))
        let bundleName = "SignService_SignKit.resources/atr-catalogue.json"
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(bundleName))
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent(bundleName))
        }
        candidates.append(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Resources/atr-catalogue.json"))
        guard let url = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw CatalogueError(
                "atr-catalogue.json not found (looked in "
                    + candidates.map(\.path).joined(separator: ", ") + "); set SIGNSERVICE_ATR_CATALOGUE")
        }
        return try load(contentsOf: url)
    }

    public static func load(contentsOf url: URL) throws -> ATRCatalogue {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        } catch {
            throw CatalogueError("ATR catalogue \(url.path) does not read: \(error)")
        }
        for entry in file.entries where Pattern(entry.pattern) == nil {
            throw CatalogueError("ATR catalogue \(url.path): bad pattern \"\(entry.pattern)\" for \(entry.model)")
        }
        return ATRCatalogue(entries: file.entries, openscModules: file.opensc)
    }

    public init(entries: [Entry], openscModules: [String]) {
        self.entries = entries
        self.openscModules = openscModules
    }

    /// The first entry whose pattern matches the ATR.
    public func identify(atr: [UInt8]) -> Entry? {
        entries.first { Pattern($0.pattern)?.matches(atr) == true }
    }

    /// OpenSC's module on this machine, if installed.
    public var installedOpenSC: String? {
        openscModules.first { FileManager.default.fileExists(atPath: $0) }
    }

    struct Pattern {
        let bytes: [UInt8?]  // nil: any byte
        let openEnded: Bool

        init?(_ text: String) {
            var parts = text.split(separator: " ").map(String.init)
            openEnded = parts.last == "*"
            if openEnded { parts.removeLast() }
            var bytes = [UInt8?]()
            for part in parts {
                if part == ".." {
                    bytes.append(nil)
                } else if part.count == 2, let value = UInt8(part, radix: 16) {
                    bytes.append(value)
                } else {
                    return nil
                }
            }
            guard !bytes.isEmpty else { return nil }
            self.bytes = bytes
        }

        func matches(_ atr: [UInt8]) -> Bool {
            guard openEnded ? atr.count >= bytes.count : atr.count == bytes.count else { return false }
            return zip(bytes, atr).allSatisfy { wanted, actual in wanted == nil || wanted == actual }
        }
    }
}

public typealias CatalogueError = SingleCodeError<CatalogueErrorDomain>

/// "atr-catalogue": the catalogue is missing or does not read.
public enum CatalogueErrorDomain: SingleCodeDomain { public static let codeName = "atr-catalogue" }
