import Foundation
import Logging
import Synchronization

/// The service's own key (docs/daemon.md "History"): signs a checkpoint after every append and the seal of every
/// exported bundle. Unlike an officer's DSC it has no one to type its PIN, so the PIN comes from a file only the
/// daemon's user can read; it is read at login and wiped, and the session stays logged in (on a token of its own,
/// so officers' tokens are never held). After a failure (token pulled, session lost) the next use logs in again.
public final class DocumentSigner: Sendable {
    /// Where the key is and how its PIN is read:
    /// {"key": "pkcs11:token=...;id=%10;type=private", "pinFile": "...", "chainFile": "..."}
    public struct Settings: Codable, Sendable {
        /// The PKCS#11 URI of the document-signer key (`signctl tokens` prints it).
        public var key: String
        /// A file holding the key's PIN (one line), readable by the service's user only (mode 0600 or 0400); with
        /// systemd, a credential (`LoadCredential=`, $CREDENTIALS_DIRECTORY). Read at login, never kept.
        public var pinFile: String
        /// PEM file of the document signer's intermediate CAs, carried once in every bundle.
        public var chainFile: String?

        public init(key: String, pinFile: String, chainFile: String? = nil) {
            self.key = key
            self.pinFile = pinFile
            self.chainFile = chainFile
        }
    }

    public let configuration: Settings
    public let chain: [X509Certificate]
    private let tokens: TokenManager
    private let logger: Logger
    private let session = Mutex<TokenSigningSession?>(nil)
    private let closed = Mutex(false)

    public init(_ configuration: Settings, tokens: TokenManager, logger: Logger) throws {
        self.configuration = configuration
        self.tokens = tokens
        self.logger = logger
        if let file = configuration.chainFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8), let certificates = try? X509Certificate.fromPEM(text),
                !certificates.isEmpty
            else { throw DocumentSignerError("documentSigner.chainFile \(file) does not hold PEM certificates") }
            chain = certificates
        } else {
            chain = []
        }
        try Self.checkPINFile(configuration.pinFile)
    }

    /// A PIN file others can read is refused, as ssh refuses a readable private key.
    public static func checkPINFile(_ path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else { throw DocumentSignerError("documentSigner.pinFile \(path) cannot be read (errno \(errno))") }
        guard status.st_mode & 0o077 == 0 else {
            throw DocumentSignerError("documentSigner.pinFile \(path) is readable by others (mode \(String(status.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
    }

    /// A checkpoint signer on the logged-in session, logging in first when needed; `.signerUnavailable` when the
    /// key cannot sign (token absent, PIN file unreadable, login refused).
    public func signer(at time: Date) throws -> CheckpointSigner {
        do {
            return try loggedIn(at: time)
        } catch {
            throw HistoryError(.signerUnavailable, "the document signer cannot sign: \(error)")
        }
    }

    private func loggedIn(at time: Date) throws -> CheckpointSigner {
        let current = try session.withLock { current throws -> TokenSigningSession in
            if let current { return current }
            // After `close` (the daemon stopping) nothing logs in again: a session opened then would outlive the
            // token modules.
            guard !closed.withLock({ $0 }) else { throw TokenError(.tokenRemoved, "the document signer is closed: the service is stopping") }
            let opened = try login(at: time)
            current = opened
            return opened
        }
        return CheckpointSigner(certificate: current.certificate, chain: chain) { [self] message in
            do {
                return try current.sign(message)
            } catch {
                // The next use logs in again (the token may have been pulled and put back).
                session.withLock { if $0 === current { $0 = nil } }
                current.close()
                throw error
            }
        }
    }

    private func login(at time: Date) throws -> TokenSigningSession {
        try Self.checkPINFile(configuration.pinFile)
        let descriptor = open(configuration.pinFile, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw TokenError(.pinUnavailable, "cannot open documentSigner.pinFile \(configuration.pinFile) (errno \(errno))") }
        defer { Glibc.close(descriptor) }
        let pin = try PIN.read(fromDescriptor: descriptor)
        defer { pin.wipe() }
        let opened = try tokens.openSigningSession(try PKCS11URI(configuration.key), pin: pin, at: time)
        // Its PIN is read once per login; a key that wants the PIN again for every signature cannot be kept.
        guard !opened.alwaysAuthenticate else {
            opened.close()
            throw TokenError(
                .keyUseRefused,
                "documentSigner.key \(configuration.key) asks for its PIN at every signature (CKA_ALWAYS_AUTHENTICATE); the document signer needs a key that signs on a logged-in session"
            )
        }
        logger.info(
            "document signer logged in", metadata: ["certificate": "\(opened.certificate.subject.commonName ?? "?")", "token": "\(opened.token.label)"])
        return opened
    }

    /// Logs out and closes the session, for good: later uses fail (the daemon is stopping).
    public func close() {
        closed.withLock { $0 = true }
        session.withLock { current in
            current?.close()
            current = nil
        }
    }
}

/// The document signer's settings do not hold (a PIN file others can read, a chain file without certificates).
public typealias DocumentSignerError = SingleCodeError<DocumentSignerErrorDomain>

/// "document-signer-settings": a PIN file others can read, a chain file without certificates.
public enum DocumentSignerErrorDomain: SingleCodeDomain { public static let codeName = "document-signer-settings" }
