import Foundation
import Synchronization

/// What the verifications made inside `EvidenceLog.collecting` rested on: the certification paths and the CRLs and
/// OCSP responses each verdict used, whether fetched just now or found in the verifier's caches.
///
/// A bundle holds the evidence of its own file's entries and nothing else. A long-lived verifier (the records
/// service's) has seen every file's signers; reading its caches would put one file's signer certificates and OCSP
/// responses into another file's bundle. So a bundle's evidence is what its own verifications used, logged here.
public final class EvidenceLog: Sendable {
    private struct Collected {
        var certificates: [X509Certificate] = []
        var certificateKeys = Set<[UInt8]>()
        var revocation: [[UInt8]] = []
        var revocationKeys = Set<[UInt8]>()
    }
    private let collected = Mutex(Collected())

    /// The log verifications on this task or thread write to, while `collecting` runs.
    @TaskLocal static var current: EvidenceLog?

    public init() {}

    /// Runs `body`, logging into this log the evidence of every verification it makes (on this task or thread).
    public func collecting<T>(_ body: () throws -> T) rethrows -> T {
        try Self.$current.withValue(self) { try body() }
    }

    /// The path certificates, in the order first used, each once.
    public var certificates: [X509Certificate] { collected.withLock { $0.certificates } }
    /// The CRLs and OCSP responses (DER), in the order first used, each once.
    public var revocation: [[UInt8]] { collected.withLock { $0.revocation } }

    static func note(path: [X509Certificate]) {
        guard let log = current else { return }
        log.collected.withLock { collected in
            for certificate in path where collected.certificateKeys.insert(certificate.sha256Fingerprint).inserted {
                collected.certificates.append(certificate)
            }
        }
    }

    static func note(revocation der: [UInt8]) {
        guard let log = current else { return }
        log.collected.withLock { collected in
            if collected.revocationKeys.insert(SHA256Hasher.hash(der)).inserted { collected.revocation.append(der) }
        }
    }
}
