import Foundation
import Logging
import Synchronization

/// How SignKit finds tokens.
public struct TokenConfiguration: Sendable {
    public var discovery: ModuleDiscovery
    public var catalogue: ATRCatalogue

    public init(discovery: ModuleDiscovery = ModuleDiscovery(), catalogue: ATRCatalogue) {
        self.discovery = discovery
        self.catalogue = catalogue
    }
}

/// What the caller knows when logging in.
public struct LoginOptions: Sendable {
    /// The caller was told the token is at its final try and still wants to try. Without it, a final-try token
    /// is refused before any PIN is sent.
    public var acknowledgeFinalTry: Bool
    /// How long to wait for a token another signing session in this process is using.
    public var waitForToken: Double

    public init(acknowledgeFinalTry: Bool = false, waitForToken: Double = 30) {
        self.acknowledgeFinalTry = acknowledgeFinalTry
        self.waitForToken = waitForToken
    }
}

/// The signature algorithms SignKit produces, with the output format CMS needs.
public enum SignatureAlgorithm: String, Sendable, Codable, Hashable {
    /// PKCS#1 v1.5 over SHA-256 (1.2.840.113549.1.1.11).
    case sha256WithRSAEncryption
    /// ECDSA over SHA-256, DER ECDSA-Sig-Value (1.2.840.10045.4.3.2).
    case ecdsaWithSHA256

    public var oid: String {
        switch self {
        case .sha256WithRSAEncryption: return "1.2.840.113549.1.1.11"
        case .ecdsaWithSHA256: return "1.2.840.10045.4.3.2"
        }
    }
}

/// Finds tokens and their signing certificates, and opens signing sessions. The only door from the rest of the
/// program to PKCS#11 and PC/SC.
public final class TokenManager: Sendable {
    public let configuration: TokenConfiguration
    private let logger: Logger
    /// Where each key URI was last found (module and slot), so that signing again with it need not read every
    /// reader and module (~23 ms with a card in a reader; most of a signing request). Checked on use: the slot must
    /// still hold the same token (label, manufacturer and serial) with the key, else the full inventory runs. Only
    /// URIs that name their token (serial or label) are remembered, and `forgetLocations()` (called by the daemon on
    /// every PC/SC event) drops them all: a token inserted since could share the label, and the URI must then go
    /// through the full inventory to be refused as ambiguous.
    private let recent = Mutex<[String: Place]>([:])

    private struct Place: Sendable {
        let modulePath: String
        let slot: UInt
        let readerName: String?
        let token: TokenInfo

        func holdsSameToken(_ info: TokenInfo) -> Bool {
            info.serial == token.serial && info.label == token.label && info.manufacturer == token.manufacturer
        }
    }

    public init(configuration: TokenConfiguration, logger: Logger = Logger(label: "signkit.tokens")) {
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Inventory

    /// Reads readers (PC/SC), loads the modules discovery names, and lists every token with its certificates.
    /// Problems are reported in the inventory, not thrown: a missing pcscd must not hide a software token.
    public func inventory(at time: Date) -> TokenInventory {
        var readers = [CardReader]()
        var pcscProblem: String?
        do {
            let context = try PCSCContext()
            readers = try context.readers()
        } catch {
            pcscProblem = "\(error)"
        }
        var identified = [String: ATRCatalogue.Entry]()
        for reader in readers where reader.cardPresent {
            identified[reader.name] = configuration.catalogue.identify(atr: reader.atr)
        }
        var modules = [ModuleStatus]()
        var tokens = [TokenEntry]()
        for candidate in configuration.discovery.candidates(readers: readers, catalogue: configuration.catalogue) {
            guard candidate.installed else {
                modules.append(
                    ModuleStatus(
                        path: candidate.path, source: candidate.source, installed: false, info: nil,
                        problem: "not installed"))
                continue
            }
            do {
                let module = try PKCS11Module.load(path: candidate.path)
                modules.append(
                    ModuleStatus(
                        path: candidate.path, source: candidate.source, installed: true,
                        info: module.info, problem: nil))
                tokens += try self.tokens(in: module, readers: readers, at: time)
            } catch {
                logger.warning("module unusable", metadata: ["module": "\(candidate.path)", "error": "\(error)"])
                modules.append(
                    ModuleStatus(
                        path: candidate.path, source: candidate.source, installed: true, info: nil,
                        problem: "\(error)"))
            }
        }
        return TokenInventory(
            readers: readers, identified: identified, pcscProblem: pcscProblem, modules: modules,
            tokens: tokens, time: time)
    }

    private func tokens(in module: PKCS11Module, readers: [CardReader], at time: Date) throws -> [TokenEntry] {
        var entries = [TokenEntry]()
        for slot in try module.slots(tokenPresent: true) {
            // A token can leave between the slot list and these calls; skip it then.
            guard let slotInfo = try? module.slotInfo(slot), let info = try? module.tokenInfo(slot) else { continue }
            // A blank token has no keys to offer; listing it would only confuse.
            guard info.initialized else { continue }
            let reader = readers.first { slotInfo.description == $0.name || slotInfo.description.hasPrefix($0.name) }
            var certificates = [TokenCertificate]()
            var problem: String?
            do {
                certificates = try listCertificates(module: module, slot: slotInfo, token: info, at: time)
            } catch {
                problem = "\(error)"
            }
            entries.append(
                TokenEntry(
                    modulePath: module.path, module: module.info, slot: slotInfo, info: info,
                    readerName: reader?.name, certificates: certificates, problem: problem))
        }
        return entries
    }

    /// Certificates paired with keys by CKA_ID. Before login most tokens show only public keys; a private key
    /// visible now (or a public key with the same CKA_ID) counts as the pair, and signing confirms it after login.
    func listCertificates(module: PKCS11Module, slot: SlotInfo, token: TokenInfo, at time: Date) throws -> [TokenCertificate] {
        let session = try module.openSession(slot: slot.id)
        defer { session.close() }
        let certificateObjects = try session.find(.x509Certificate)
        var privateKeys = [[UInt8]: Bool?]()  // CKA_ID -> CKA_ALWAYS_AUTHENTICATE
        for key in try session.find(.privateKey) {
            // Private keys show only while this process is logged in, and another session's logout can take them
            // away mid-read (SoftHSM2 then answers CKR_GENERAL_ERROR): such a key counts as not visible now.
            // Anything else (a pulled token above all) is an error.
            guard let id = try Self.unlessLoggedOut({ try session.attribute(key, .id) }) else { continue }
            privateKeys[id] = try Self.unlessLoggedOut { try session.boolAttribute(key, .alwaysAuthenticate) }
        }
        var publicKeyIDs = Set<[UInt8]>()
        for key in try session.find(.publicKey) {
            if let id = try session.attribute(key, .id) { publicKeyIDs.insert(id) }
        }
        var found = [TokenCertificate]()
        for object in certificateObjects {
            guard let der = try session.attribute(object, .value),
                let certificate = try? X509Certificate(der: der)
            else {
                logger.warning("unreadable certificate object skipped", metadata: ["token": "\(token.label)"])
                continue
            }
            let id = try session.attribute(object, .id) ?? []
            let label = try session.attribute(object, .label).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let presence: KeyPresence =
                privateKeys.keys.contains(id)
                ? .privateKey
                : (publicKeyIDs.contains(id) ? .publicKeyOnly : .none)
            var uri = PKCS11URI(
                token: token.label, manufacturer: token.manufacturer, serial: token.serial,
                model: token.model, id: id, type: "private")
            uri.object = nil
            found.append(
                TokenCertificate(
                    certificate: certificate, id: id, label: label, key: presence,
                    alwaysAuthenticate: privateKeys[id] ?? nil, keyURI: uri,
                    eligibility: SigningFilter.evaluate(certificate, key: presence, at: time)))
        }
        return found
    }

    /// The value `read` gives, or nil when the read failed as a logout racing it fails (CKR_GENERAL_ERROR on
    /// SoftHSM2; a vanished object reads as nil already).
    private static func unlessLoggedOut<T>(_ read: () throws -> T?) throws -> T? {
        do {
            return try read()
        } catch let error as TokenError where error.isGeneralError {
            return nil
        }
    }

    // MARK: Choosing a key

    /// Forgets where keys were found: the next signature with any URI reads the inventory again.
    public func forgetLocations() {
        recent.withLock { $0.removeAll() }
    }

    /// The key where it was found last time, re-read from that slot alone; nil (and forgotten) when the slot no
    /// longer holds a token the URI names with exactly one such key.
    func recentlyResolved(_ uri: PKCS11URI, at time: Date) -> (TokenEntry, TokenCertificate)? {
        guard let place = recent.withLock({ $0[uri.description] }) else { return nil }
        let found: (TokenEntry, TokenCertificate)? = try? {
            let module = try PKCS11Module.load(path: place.modulePath)
            let slot = try module.slotInfo(place.slot), info = try module.tokenInfo(place.slot)
            guard slot.tokenPresent, info.initialized, place.holdsSameToken(info),
                uri.matches(token: info, slot: slot, module: module.info)
            else { return nil }
            let certificates = try listCertificates(module: module, slot: slot, token: info, at: time)
            let entry = TokenEntry(
                modulePath: module.path, module: module.info, slot: slot, info: info, readerName: place.readerName,
                certificates: certificates, problem: nil)
            let matches = certificates.filter { (uri.id == nil || uri.id == $0.id) && (uri.object == nil || uri.object == $0.label) }
            return matches.count == 1 ? (entry, matches[0]) : nil
        }()
        if found == nil { recent.withLock { _ = $0.removeValue(forKey: uri.description) } }
        return found
    }

    /// The one key the URI names, among the tokens of the inventory. Throws when none or several match.
    public func resolve(_ uri: PKCS11URI, in inventory: TokenInventory) throws -> (TokenEntry, TokenCertificate) {
        let tokens = inventory.tokens.filter { entry in
            (uri.modulePath == nil || URL(fileURLWithPath: uri.modulePath!).resolvingSymlinksInPath().path == entry.modulePath)
                && uri.matches(token: entry.info, slot: entry.slot, module: entry.module)
        }
        guard !tokens.isEmpty else {
            let seen = inventory.tokens.map { "\"\($0.info.label)\" (serial \($0.info.serial))" }
            throw TokenError(
                .tokenNotFound,
                "no token matches \(uri)"
                    + (seen.isEmpty
                        ? "; no token is present"
                        : "; present: " + seen.joined(separator: ", ")),
                retryable: true)
        }
        let matches = tokens.flatMap { entry in
            entry.certificates.filter { certificate in
                (uri.id == nil || uri.id == certificate.id) && (uri.object == nil || uri.object == certificate.label)
            }.map { (entry, $0) }
        }
        guard let first = matches.first else {
            throw TokenError(
                .keyNotFound,
                "no certificate on token \"\(tokens[0].info.label)\" matches \(uri)"
                    + (tokens[0].problem.map { " (its certificates could not be read: \($0))" } ?? ""))
        }
        guard matches.count == 1 else {
            let offered = matches.filter { $0.1.eligibility.isOffered }
            if offered.count == 1 { return offered[0] }
            throw TokenError(
                .ambiguous,
                "\(matches.count) keys match \(uri): "
                    + matches.map { $0.1.keyURI.description }.joined(separator: " | ") + "; name one with id=")
        }
        return first
    }

    // MARK: Signing

    /// Logs in to the token holding the key and returns a session that signs with it.
    ///
    /// Before any PIN reaches the token: a locked token is refused (`.pinLocked`), a final-try token is refused
    /// unless `options.acknowledgeFinalTry` (`.pinFinalTry`), a PIN of the wrong length is refused (`.pinLength`).
    /// The PIN is sent once. On a wrong PIN the error carries the token's new PIN state; nothing retries it.
    /// The caller keeps ownership of `pin` (it may be needed again for CKA_ALWAYS_AUTHENTICATE keys) and wipes it.
    public func openSigningSession(
        _ uri: PKCS11URI, pin: PIN, options: LoginOptions = LoginOptions(),
        at time: Date
    ) throws -> TokenSigningSession {
        let (entry, chosen) =
            try recentlyResolved(uri, at: time)
            ?? { () throws -> (TokenEntry, TokenCertificate) in
                let found = try resolve(uri, in: inventory(at: time))
                if uri.serial != nil || uri.token != nil {
                    let place = Place(modulePath: found.0.modulePath, slot: found.0.slot.id, readerName: found.0.readerName, token: found.0.info)
                    recent.withLock { $0[uri.description] = place }
                }
                return found
            }()
        if let reason = chosen.eligibility.reason {
            throw TokenError(.notForSigning, "certificate \"\(chosen.certificate.subject.commonName ?? chosen.label)\" is not offered for signing: \(reason)")
        }
        let module = try PKCS11Module.load(path: entry.modulePath)
        // PKCS#11 login state belongs to the whole process, not to a session: two signing sessions on one token
        // would log each other out. The token is held from here until the signing session closes.
        let hold = TokenLocks.hold(for: "\(entry.modulePath)|\(entry.info.manufacturer)|\(entry.info.serial)|\(entry.info.label)")
        guard hold.acquire(waitingAtMost: options.waitForToken) else {
            throw TokenError(
                .busy, "token \"\(entry.info.label)\" is busy with another signing session (waited \(Int(options.waitForToken)) s)",
                retryable: true)
        }
        do {
            let state = try module.tokenInfo(entry.slot.id)
            try Self.checkBeforeLogin(state, pin: pin, options: options)
            let session = try module.openSession(slot: entry.slot.id)
            let signing = try finishOpening(session, module: module, entry: entry, chosen: chosen, pin: pin, hold: hold)
            logger.debug(
                "signing session opened",
                metadata: [
                    "token": "\(entry.info.label)", "serial": "\(entry.info.serial)", "key-id": "\(Hex.encode(chosen.id))",
                    "always-authenticate": "\(signing.alwaysAuthenticate)",
                ])
            return signing
        } catch {
            hold.release()
            let explained = Self.explain(error, module: module, slot: entry.slot.id)
            if let tokenError = explained as? TokenError {
                logger.notice(
                    "login refused or failed",
                    metadata: [
                        "token": "\(entry.info.label)", "code": "\(tokenError.code)",
                        "pin-state": "\(tokenError.pinState?.summary ?? "unknown")", "reason": "\(tokenError.reason)",
                    ])
            }
            throw explained
        }
    }

    private func finishOpening(
        _ session: PKCS11Session, module: PKCS11Module, entry: TokenEntry, chosen: TokenCertificate,
        pin: PIN, hold: TokenHold
    ) throws -> TokenSigningSession {
        do {
            try login(session, module: module, slot: entry.slot.id, pin: pin)
            let key = try session.find(.privateKey, id: chosen.id)
            guard key.count == 1 else {
                throw TokenError(
                    .keyNotFound,
                    key.isEmpty
                        ? "token \"\(entry.info.label)\" has the certificate but no private key with CKA_ID \(Hex.encode(chosen.id))"
                        : "token \"\(entry.info.label)\" has \(key.count) private keys with CKA_ID \(Hex.encode(chosen.id))")
            }
            let keyType = try session.keyType(of: key[0])
            let alwaysAuthenticate = try session.boolAttribute(key[0], .alwaysAuthenticate) ?? false
            let mechanisms = try module.mechanisms(entry.slot.id)
            let plan: TokenSigningSession.Plan
            switch keyType {
            case .rsa:
                if PKCS11Mechanism.sha256RSAPKCS.isOffered(in: mechanisms) {
                    plan = .rsaSHA256
                } else if PKCS11Mechanism.rsaPKCS.isOffered(in: mechanisms) {
                    plan = .rsaDigestInfo
                } else {
                    throw TokenError(.mechanismUnsupported, "token \"\(entry.info.label)\" offers neither CKM_SHA256_RSA_PKCS nor CKM_RSA_PKCS")
                }
            case .ec:
                guard PKCS11Mechanism.ecdsa.isOffered(in: mechanisms) else {
                    throw TokenError(.mechanismUnsupported, "token \"\(entry.info.label)\" does not offer CKM_ECDSA")
                }
                plan = .ecdsa
            case .other(let value):
                throw TokenError(.mechanismUnsupported, "key type \(value) is not RSA or EC")
            case nil:
                throw TokenError(.mechanismUnsupported, "key type unknown is not RSA or EC")
            }
            return TokenSigningSession(
                module: module, session: session, slot: entry.slot.id, key: key[0], plan: plan,
                alwaysAuthenticate: alwaysAuthenticate, certificate: chosen.certificate,
                uri: chosen.keyURI, token: entry.info, hold: hold)
        } catch {
            session.logout()
            session.close()
            throw error
        }
    }

    /// Signs `message` once: opens a session, logs in, signs, logs out, and wipes the PIN.
    public func sign(
        _ message: [UInt8], with uri: PKCS11URI, pin: PIN, options: LoginOptions = LoginOptions(),
        at time: Date
    ) throws -> TokenSignature {
        defer { pin.wipe() }
        let session = try openSigningSession(uri, pin: pin, options: options, at: time)
        defer { session.close() }
        return try session.sign(message, pin: pin)
    }

    static func checkBeforeLogin(_ state: TokenInfo, pin: PIN, options: LoginOptions) throws {
        if state.pinState.locked {
            throw TokenError(.pinLocked, "token \"\(state.label)\" is locked; no PIN was sent", pinState: state.pinState)
        }
        if state.pinState.finalTry && !options.acknowledgeFinalTry {
            throw TokenError(
                .pinFinalTry,
                "token \"\(state.label)\" has one PIN try left; no PIN was sent. "
                    + "Try again saying you know it is the last try (--last-try), or unblock the token first",
                pinState: state.pinState)
        }
        if let min = state.minPINLength, let max = state.maxPINLength, min <= max, min > 0,
            !(min...max).contains(pin.count)
        {
            throw TokenError(
                .pinLength, "token \"\(state.label)\" takes PINs of \(min) to \(max) characters; no PIN was sent",
                pinState: state.pinState)
        }
    }

    /// One C_Login. Where the module reports the user already logged in (PKCS#11 login state is per application,
    /// so a session elsewhere in this process logged in), that C_Login checked nothing: log out and send the PIN,
    /// so a wrong PIN is never accepted on another session's login.
    private func login(_ session: PKCS11Session, module: PKCS11Module, slot: UInt, pin: PIN) throws {
        do {
            try session.login(pin)
        } catch let error as TokenError where error.isUserAlreadyLoggedIn {
            session.logout()
            try session.login(pin)
        } catch let error as TokenError where error.code == .pinIncorrect || error.code == .pinLocked {
            var detailed = error
            detailed.pinState = (try? module.tokenInfo(slot))?.pinState
            detailed.reason =
                error.code == .pinLocked
                ? "the token refused the PIN and is now locked (that was its last try)"
                : "wrong PIN (the token counted one failed try)"
            throw detailed
        }
    }

    /// Turns a vague module error into "token removed" when the token is indeed gone.
    static func explain(_ error: any Error, module: PKCS11Module, slot: UInt) -> any Error {
        guard var tokenError = error as? TokenError, tokenError.code == .moduleCall else { return error }
        let present = (try? module.slotInfo(slot))?.tokenPresent ?? false
        if !present {
            tokenError.code = .tokenRemoved
            tokenError.reason = "the token was removed during the operation (\(tokenError.reason))"
            tokenError.retryable = true
        }
        return tokenError
    }
}

/// A signature from a token, in the form CMS needs.
public struct TokenSignature: Sendable, Hashable {
    public let algorithm: SignatureAlgorithm
    /// PKCS#1 v1.5 signature bytes, or DER ECDSA-Sig-Value.
    public let bytes: [UInt8]

    public init(algorithm: SignatureAlgorithm, bytes: [UInt8]) {
        self.algorithm = algorithm
        self.bytes = bytes
    }
}

/// A logged-in session bound to one key. Signs any number of messages; `close()` logs out.
/// Calls are serialised per token (one signing at a time per token); the type is safe to share between threads.
public final class TokenSigningSession: @unchecked Sendable {
    enum Plan {
        case rsaSHA256  // CKM_SHA256_RSA_PKCS: the token hashes
        case rsaDigestInfo  // CKM_RSA_PKCS over DigestInfo(SHA-256)
        case ecdsa  // CKM_ECDSA over SHA-256, r||s -> DER
    }

    public let certificate: X509Certificate
    public let uri: PKCS11URI
    public let token: TokenInfo
    /// The key needs the PIN again before each signature (CKA_ALWAYS_AUTHENTICATE).
    public let alwaysAuthenticate: Bool
    public var algorithm: SignatureAlgorithm { plan == .ecdsa ? .ecdsaWithSHA256 : .sha256WithRSAEncryption }

    private let module: PKCS11Module
    private let session: PKCS11Session
    private let slot: UInt
    private let key: PKCS11Object
    private let plan: Plan
    private let hold: TokenHold
    private let lock = NSLock()
    private var closed = false

    init(
        module: PKCS11Module, session: PKCS11Session, slot: UInt, key: PKCS11Object, plan: Plan,
        alwaysAuthenticate: Bool, certificate: X509Certificate, uri: PKCS11URI, token: TokenInfo, hold: TokenHold
    ) {
        self.module = module
        self.session = session
        self.slot = slot
        self.key = key
        self.plan = plan
        self.alwaysAuthenticate = alwaysAuthenticate
        self.certificate = certificate
        self.uri = uri
        self.token = token
        self.hold = hold
    }

    deinit { close() }

    /// Signs `message` with SHA-256. For CKA_ALWAYS_AUTHENTICATE keys `pin` is required and used for the
    /// context-specific login; otherwise it is ignored.
    public func sign(_ message: [UInt8], pin: PIN? = nil) throws -> TokenSignature {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw TokenError(.moduleCall, "the signing session was closed") }
        if alwaysAuthenticate && pin == nil {
            throw TokenError(.pinUnavailable, "this key asks for the PIN before every signature (CKA_ALWAYS_AUTHENTICATE); none was given")
        }
        let contextPIN = alwaysAuthenticate ? pin : nil
        do {
            switch plan {
            case .rsaSHA256:
                let signature = try session.sign(mechanism: .sha256RSAPKCS, key: key, data: message, contextPIN: contextPIN)
                return TokenSignature(algorithm: .sha256WithRSAEncryption, bytes: signature)
            case .rsaDigestInfo:
                let input = DER.sha256DigestInfo(SHA256Hasher.hash(message))
                let signature = try session.sign(mechanism: .rsaPKCS, key: key, data: input, contextPIN: contextPIN)
                return TokenSignature(algorithm: .sha256WithRSAEncryption, bytes: signature)
            case .ecdsa:
                let raw = try session.sign(mechanism: .ecdsa, key: key, data: SHA256Hasher.hash(message), contextPIN: contextPIN)
                guard let der = DER.ecdsaSignature(rawRS: raw) else {
                    throw TokenError(.moduleCall, "the token returned a malformed ECDSA signature (\(raw.count) bytes)")
                }
                return TokenSignature(algorithm: .ecdsaWithSHA256, bytes: der)
            }
        } catch {
            throw TokenManager.explain(error, module: module, slot: slot)
        }
    }

    /// Logs out and closes the session. Safe to call twice.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        session.logout()
        session.close()
        hold.release()
    }
}

/// Exclusive use of one token by one signing session at a time, across threads: requests for a token queue
/// instead of interleaving on its login state. A semaphore, because the session that takes it may be closed on
/// another thread.
final class TokenHold: Sendable {
    private let semaphore = DispatchSemaphore(value: 1)

    func acquire(waitingAtMost seconds: Double) -> Bool {
        semaphore.wait(timeout: .now() + seconds) == .success
    }

    func release() { semaphore.signal() }
}

enum TokenLocks {
    private static let holds = Mutex<[String: TokenHold]>([:])

    static func hold(for token: String) -> TokenHold {
        holds.withLock { table in
            if let hold = table[token] { return hold }
            let hold = TokenHold()
            table[token] = hold
            return hold
        }
    }
}
