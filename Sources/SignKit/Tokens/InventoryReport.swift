import Foundation

/// A plain, Codable picture of a `TokenInventory`: what `signctl tokens --json` prints and what the daemon will
/// serve. Field names are part of the JSON contract documented in docs/tokens.md.
public struct InventoryReport: Codable, Sendable {
    public struct Reader: Codable, Sendable {
        public let name: String
        public let cardPresent: Bool
        public let atr: String?
        public let mute: Bool
        /// Vendor and model from the ATR catalogue; nil when the ATR is not in it.
        public let vendor: String?
        public let model: String?
        /// Labels of the tokens PKCS#11 shows in this reader.
        public let tokens: [String]
    }

    public struct Certificate: Codable, Sendable {
        public let subject: String
        public let commonName: String?
        public let issuer: String
        public let serial: String
        public let notBefore: Date
        public let notAfter: Date
        public let certificateClass: String
        public let classDescription: String
        public let keyAlgorithm: String
        public let keyUsage: [String]
        public let sha256: String
        public let key: String
        /// Whether the private key needs the PIN before every signature; nil until it can be read (after login on
        /// most tokens).
        public let alwaysAuthenticate: Bool?
        public let uri: String
        public let offered: Bool
        /// Why the certificate is not offered; nil when it is.
        public let hiddenReason: String?
    }

    public struct Token: Codable, Sendable {
        public let label: String
        public let manufacturer: String
        public let model: String
        public let serial: String
        public let reader: String?
        public let slotDescription: String
        public let slotID: UInt
        public let module: String
        public let pinState: String
        public let pinStateDescription: String
        public let minPINLength: Int?
        public let maxPINLength: Int?
        public let protectedAuthenticationPath: Bool
        public let uri: String
        public let certificates: [Certificate]
        /// Certificates present but not offered for signing (listed only with `--all`).
        public let hiddenCount: Int
        public let problem: String?
    }

    public struct Module: Codable, Sendable {
        public let path: String
        public let source: String
        public let installed: Bool
        public let description: String?
        public let manufacturer: String?
        public let libraryVersion: String?
        public let problem: String?
    }

    public let time: Date
    public let pcscProblem: String?
    public let readers: [Reader]
    public let tokens: [Token]
    public let modules: [Module]

    /// - Parameter includeHidden: keep certificates that are not offered for signing, with their reasons.
    public init(_ inventory: TokenInventory, includeHidden: Bool) {
        time = inventory.time
        pcscProblem = inventory.pcscProblem
        readers = inventory.readers.map { reader in
            let entry = inventory.identified[reader.name]
            return Reader(
                name: reader.name, cardPresent: reader.cardPresent,
                atr: reader.cardPresent ? reader.atrHex : nil, mute: reader.mute,
                vendor: entry?.vendor, model: entry?.model,
                tokens: inventory.tokens.filter { $0.readerName == reader.name }.map(\.info.label))
        }
        tokens = inventory.tokens.map { entry in
            let shown = entry.certificates.filter { includeHidden || $0.eligibility.isOffered }
            let tokenURI = PKCS11URI(
                token: entry.info.label, manufacturer: entry.info.manufacturer,
                serial: entry.info.serial, model: entry.info.model)
            return Token(
                label: entry.info.label, manufacturer: entry.info.manufacturer, model: entry.info.model,
                serial: entry.info.serial, reader: entry.readerName, slotDescription: entry.slot.description,
                slotID: entry.slot.id, module: entry.modulePath, pinState: entry.info.pinState.summary,
                pinStateDescription: entry.info.pinState.description, minPINLength: entry.info.minPINLength,
                maxPINLength: entry.info.maxPINLength,
                protectedAuthenticationPath: entry.info.protectedAuthenticationPath,
                uri: tokenURI.description,
                certificates: shown.map(Certificate.init),
                hiddenCount: entry.certificates.count - entry.certificates.filter(\.eligibility.isOffered).count,
                problem: entry.problem)
        }
        modules = inventory.modules.map { module in
            Module(
                path: module.path, source: module.source.description, installed: module.installed,
                description: module.info?.description, manufacturer: module.info?.manufacturer,
                libraryVersion: module.info?.libraryVersion, problem: module.problem)
        }
    }
}

extension InventoryReport.Certificate {
    init(_ entry: TokenCertificate) {
        let certificate = entry.certificate
        self.init(
            subject: certificate.subject.description, commonName: certificate.subject.commonName,
            issuer: certificate.issuer.description, serial: certificate.serialNumberHex,
            notBefore: certificate.notBefore, notAfter: certificate.notAfter,
            certificateClass: entry.certificateClass.rawValue, classDescription: entry.certificateClass.description,
            keyAlgorithm: certificate.publicKeyAlgorithm.description,
            keyUsage: certificate.keyUsage?.names ?? [],
            sha256: Hex.encode(certificate.sha256Fingerprint),
            key: entry.key.rawValue, alwaysAuthenticate: entry.alwaysAuthenticate, uri: entry.keyURI.description,
            offered: entry.eligibility.isOffered, hiddenReason: entry.eligibility.reason)
    }
}

extension InventoryReport {
    /// JSON with ISO 8601 dates and sorted keys, the form every SignService tool prints.
    public func json() throws -> String { try JSONOutput.string(self) }
}
