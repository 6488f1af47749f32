import Foundation

/// Where a PKCS#11 module to try comes from.
public enum ModuleSource: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Named in SignService's configuration or on the command line.
    case configured
    /// A vendor module the ATR catalogue names for a card in a reader.
    case catalogue(model: String)
    /// OpenSC, the fallback for cards it can drive.
    case opensc
    /// Registered with p11-kit (a *.module file).
    case p11kit(file: String)

    public var description: String {
        switch self {
        case .configured: return "configuration"
        case .catalogue(let model): return "ATR catalogue (\(model))"
        case .opensc: return "OpenSC fallback"
        case .p11kit(let file): return "p11-kit (\(file))"
        }
    }
}

public struct ModuleCandidate: Sendable, Hashable {
    public let path: String
    public let source: ModuleSource
    public var installed: Bool { FileManager.default.fileExists(atPath: path) }
}

/// Finds the PKCS#11 modules to load: configured ones, those the ATR catalogue names for the cards present,
/// OpenSC as the fallback, and the modules registered with p11-kit. Each file appears once, under its first source.
public struct ModuleDiscovery: Sendable {
    public var configuredModules: [String]
    public var useP11Kit: Bool
    public var useCatalogue: Bool
    /// Folders of p11-kit module registrations, system first.
    public var p11kitFolders: [String]

    public init(
        configuredModules: [String] = [], useP11Kit: Bool = true, useCatalogue: Bool = true,
        p11kitFolders: [String] = ["/usr/share/p11-kit/modules", "/etc/pkcs11/modules"]
    ) {
        self.configuredModules = configuredModules
        self.useP11Kit = useP11Kit
        self.useCatalogue = useCatalogue
        self.p11kitFolders = p11kitFolders
    }

    public func candidates(readers: [CardReader], catalogue: ATRCatalogue) -> [ModuleCandidate] {
        var found = [ModuleCandidate]()
        var seen = Set<String>()
        func add(_ path: String, _ source: ModuleSource) {
            let key = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            if seen.insert(key).inserted { found.append(ModuleCandidate(path: path, source: source)) }
        }
        configuredModules.forEach { add($0, .configured) }
        if useCatalogue {
            for reader in readers where reader.cardPresent {
                guard let entry = catalogue.identify(atr: reader.atr) else {
                    if let opensc = catalogue.installedOpenSC { add(opensc, .opensc) }
                    continue
                }
                for path in entry.modules where FileManager.default.fileExists(atPath: path) {
                    add(path, .catalogue(model: entry.model))
                }
                if entry.opensc, let opensc = catalogue.installedOpenSC { add(opensc, .opensc) }
            }
        }
        if useP11Kit {
            for registration in p11kitRegistrations() { add(registration.path, .p11kit(file: registration.file)) }
        }
        return found
    }

    struct Registration {
        let file: String
        let path: String
    }

    /// p11-kit's *.module files (pkcs11.conf(5)): "module:" names the library, relative names live in p11-kit's
    /// module folder. Trust-policy modules (p11-kit-trust) hold CA lists, not signing keys, and are skipped, as are
    /// modules disabled for SignService or enabled only for other programs.
    func p11kitRegistrations() -> [Registration] {
        var registrations = [Registration]()
        for folder in p11kitFolders {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for file in files.sorted() where file.hasSuffix(".module") {
                guard let text = try? String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8) else { continue }
                var fields = [String: String]()
                for line in text.split(separator: "\n") {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    guard !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { continue }
                    fields[String(trimmed[..<colon]).trimmingCharacters(in: .whitespaces)] =
                        String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                }
                guard let module = fields["module"], !module.isEmpty else { continue }
                if fields["trust-policy"] == "yes" { continue }
                if let disabled = fields["disable-in"], disabled.split(separator: " ").contains("signservice") { continue }
                if let enabled = fields["enable-in"], !enabled.split(separator: " ").contains("signservice") { continue }
                registrations.append(Registration(file: file, path: Self.resolve(module)))
            }
        }
        return registrations
    }

    /// A relative module name resolves in p11-kit's module folder for this architecture.
    static func resolve(_ module: String) -> String {
        if module.hasPrefix("/") { return module }
        var system = utsname()
        uname(&system)
        let machine = withUnsafeBytes(of: system.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        for folder in ["/usr/lib/\(machine)-linux-gnu/pkcs11", "/usr/lib64/pkcs11", "/usr/lib/pkcs11"] {
            let path = "\(folder)/\(module)"
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return "/usr/lib/\(machine)-linux-gnu/pkcs11/\(module)"
    }
}
