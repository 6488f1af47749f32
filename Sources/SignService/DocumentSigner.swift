import Foundation
import Logging
import Synchronization
import SignKit

/// The service's own key (docs/daemon.md "History"): signs a checkpoint after every append and the seal of every
/// exported bundle. Unlike an officer's DSC it has no one to type its PIN, so the PIN comes from a file only the
/// daemon's user can read; it is read at login and wiped, and the session stays logged in (on a token of its own,
/// so officers' tokens are never held). After a failure (token pulled, session lost) the next use logs in again.
final class DocumentSigner: Sendable {
    let configuration: ServiceConfiguration.DocumentSignerConfiguration
    let chain: [X509Certificate]
    private let tokens: TokenManager
    private let logger: Logger
    private let session = Mutex<TokenSigningSession?>(nil)

    init(_ configuration: ServiceConfiguration.DocumentSignerConfiguration, tokens: TokenManager, logger: Logger) throws {
        self.configuration = configuration
        self.tokens = tokens
        self.logger = logger
        if let file = configuration.chainFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8), let certificates = try? X509Certificate.fromPEM(text),
                  !certificates.isEmpty else { throw ConfigurationError("documentSigner.chainFile \(file) does not hold PEM certificates") }
            chain = certificates
        } else {
            chain = []
        }
        try Self.checkPINFile(configuration.pinFile)
    }

    /// A PIN file others can read is refused, as ssh refuses a readable private key.
    static func checkPINFile(_ path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else { throw ConfigurationError("documentSigner.pinFile \(path) cannot be read (errno \(errno))") }
        guard status.st_mode & 0o077 == 0 else {
            throw ConfigurationError("documentSigner.pinFile \(path) is readable by others (mode \(String(status.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
    }

    /// A checkpoint signer on the logged-in session, logging in first when needed.
    func signer() throws -> CheckpointSigner {
        let current = try session.withLock { current throws -> TokenSigningSession in
            if let current { return current }
            let opened = try login()
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

    private func login() throws -> TokenSigningSession {
        try Self.checkPINFile(configuration.pinFile)
        let descriptor = open(configuration.pinFile, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw TokenError(.pinUnavailable, "cannot open documentSigner.pinFile \(configuration.pinFile) (errno \(errno))") }
        defer { Glibc.close(descriptor) }
        let pin = try PIN.read(fromDescriptor: descriptor)
        defer { pin.wipe() }
        let opened = try tokens.openSigningSession(try PKCS11URI(configuration.key), pin: pin, at: Date())
        // Its PIN is read once per login; a key that wants the PIN again for every signature cannot be kept.
        guard !opened.alwaysAuthenticate else {
            opened.close()
            throw TokenError(.keyUseRefused, "documentSigner.key \(configuration.key) asks for its PIN at every signature (CKA_ALWAYS_AUTHENTICATE); the document signer needs a key that signs on a logged-in session")
        }
        logger.info("document signer logged in", metadata: ["certificate": "\(opened.certificate.subject.commonName ?? "?")", "token": "\(opened.token.label)"])
        return opened
    }

    func close() {
        session.withLock { current in
            current?.close()
            current = nil
        }
    }
}
