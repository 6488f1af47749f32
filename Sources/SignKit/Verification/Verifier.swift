import Foundation
import Synchronization

/// What a verification accepts beyond the standards' minimum.
public struct VerificationPolicy: Sendable {
    /// SHA-1 digests are reported as weak: INDETERMINATE CRYPTO_CONSTRAINTS_FAILURE_NO_POE unless this is set.
    public var acceptSHA1: Bool
    public var minimumRSABits: Int

    public init(acceptSHA1: Bool = false, minimumRSABits: Int = 2048) {
        self.acceptSHA1 = acceptSHA1
        self.minimumRSABits = minimumRSABits
    }
}

/// The signed content: bytes in memory, a file streamed through the digest, or the content inside the signature.
public enum SignedContent: Sendable {
    case bytes([UInt8])
    case file(String)
    case embedded
}

/// Verifies CMS / CAdES signatures against trust anchors, as of a validation time passed in.
///
/// One verifier serves a whole run: each distinct certificate is parsed once (looked up by its bytes), each signer
/// certificate's path is built and checked once, each CRL's signature is checked once. Per signature what remains is
/// reading its DER, one digest of the content, one digest of the signed attributes and one public-key verification.
public final class Verifier: Sendable {
    public let trust: TrustStore
    public let intermediates: [X509Certificate]
    public let revocation: RevocationChecker
    private let caches = Mutex(Caches())

    private struct Caches: @unchecked Sendable {
        /// Certificates by their DER.
        var certificates: [CertificateKey: X509Certificate] = [:]
        /// Built paths by signer certificate fingerprint (paths that failed are built again each time).
        var chains: [FingerprintKey: [X509Certificate]] = [:]
        /// Report summaries by certificate fingerprint (names are costly to render).
        var summaries: [FingerprintKey: Verdict.CertificateSummary] = [:]
        var signers: [FingerprintKey: Verdict.SignerSummary] = [:]
    }

    public static let openSSLVersion = OpenSSLLibrary.version
    public static let name = "SignService signctl \(SignKitVersion.string) (OpenSSL \(openSSLVersion))"

    public init(trust: TrustStore, intermediates: [X509Certificate] = [], revocation: RevocationChecker = RevocationChecker()) {
        self.trust = trust
        self.intermediates = intermediates
        self.revocation = revocation
    }

    /// The certificate with this DER, parsed once per verifier.
    func certificate(_ der: ArraySlice<UInt8>) -> X509Certificate? {
        let key = CertificateKey(bytes: der)  // a slice of the signature: no copy to look it up
        if let known = caches.withLock({ $0.certificates[key] }) { return known }
        guard let parsed = try? X509Certificate(der: Array(der)) else { return nil }
        caches.withLock { $0.certificates[key] = parsed }
        return parsed
    }

    /// The certificates of every path this verifier has built (for bundles that verify offline).
    public func pathCertificates() -> [X509Certificate] {
        caches.withLock { caches in
            var seen = Set<FingerprintKey>(), list = [X509Certificate]()
            for chain in caches.chains.values {
                for certificate in chain where seen.insert(FingerprintKey(certificate)).inserted { list.append(certificate) }
            }
            return list
        }
    }

    func summary(of certificate: X509Certificate) -> Verdict.CertificateSummary {
        if let known = caches.withLock({ $0.summaries[FingerprintKey(certificate)] }) { return known }
        let made = Run.certificateSummary(certificate, anchor: trust.isAnchor(certificate))
        caches.withLock { $0.summaries[FingerprintKey(certificate)] = made }
        return made
    }

    func signerSummary(of certificate: X509Certificate) -> Verdict.SignerSummary {
        if let known = caches.withLock({ $0.signers[FingerprintKey(certificate)] }) { return known }
        let made = Run.signerSummary(certificate, kind: SignerKind.of(policies: certificate.policies))
        caches.withLock { $0.signers[FingerprintKey(certificate)] = made }
        return made
    }

    /// Verifies `signature` (a DER or BER CMS ContentInfo) over `content`.
    ///
    /// - Throws: `VerificationInputError` only when the input is not a readable CMS SignedData or the content cannot
    ///   be read; every other problem is a verdict.
    /// - Parameter revocationData: CRLs and OCSP responses to use besides those in the signature (a bundle's).
    public func verify(signature: [UInt8], content: SignedContent, policy: VerificationPolicy = VerificationPolicy(),
                       at validationTime: Date, revocationData: [[UInt8]] = []) throws(VerificationInputError) -> Verdict {
        let structure: SignedDataStructure
        do {
            structure = try SignedDataStructure(signature)
        } catch {
            throw VerificationInputError("not a readable CMS signature: \(error.description)")
        }
        guard let signer = structure.signers.first else {
            throw VerificationInputError("the SignedData has no SignerInfo: there is no signature in it")
        }
        var run = Run(verifier: self, structure: structure, signer: signer, policy: policy, validationTime: validationTime)
        run.extraRevocationData = revocationData
        if structure.signers.count > 1 {
            run.warnings.append("the SignedData holds \(structure.signers.count) signatures; this report is about the first")
        }
        if structure.reencodedFromBER { run.warnings.append("the signature file is BER, not DER; it was read after re-encoding") }
        try run.execute(content: content)
        return run.verdict()
    }

    /// The signer's path to a trust anchor (signer first, anchor last), built once per signer certificate.
    func chain(for leaf: X509Certificate, carried: () -> [X509Certificate], problems: inout [String]) -> Result<[X509Certificate], ChainFailure> {
        if let known = caches.withLock({ $0.chains[FingerprintKey(leaf)] }) { return .success(known) }
        var untrusted = carried() + intermediates
        var fetchedURLs = Set<String>()
        for _ in 0..<4 {
            let outcome = buildChain(leaf: leaf, untrusted: untrusted)
            switch outcome {
            case .success(let chain):
                caches.withLock { $0.chains[FingerprintKey(leaf)] = chain }
                return .success(chain)
            case .failure(let failure) where failure.missingIssuer:
                // Fetch the missing issuers named in authorityInfoAccess (cache first; online only when allowed).
                var added = false
                for certificate in [leaf] + untrusted {
                    let hasIssuer = (untrusted + trust.anchors).contains { certificate.isIssued(by: $0) }
                    guard !hasIssuer else { continue }
                    for url in certificate.caIssuersURLs where !fetchedURLs.contains(url) {
                        fetchedURLs.insert(url)
                        for found in revocation.fetchIssuers(url: url, problems: &problems)
                        where !untrusted.contains(where: { $0.sha256Fingerprint == found.sha256Fingerprint }) {
                            untrusted.append(found)
                            added = true
                        }
                    }
                }
                if !added { return outcome }
            case .failure:
                return outcome
            }
        }
        return buildChain(leaf: leaf, untrusted: untrusted)
    }

    struct ChainFailure: Error {
        let subIndication: SubIndication
        let reason: String
        let missingIssuer: Bool
    }

    private func buildChain(leaf: X509Certificate, untrusted: [X509Certificate]) -> Result<[X509Certificate], ChainFailure> {
        let outcome: Result<[[UInt8]], X509StoreContext.Failure>
        do {
            outcome = try X509StoreContext(store: trust.store, leaf: leaf, untrusted: untrusted).verify()
        } catch {
            return .failure(ChainFailure(subIndication: .certificateChainGeneralFailure, reason: error.description, missingIssuer: false))
        }
        switch outcome {
        case .success(let path):
            var chain = [X509Certificate]()
            for der in path {
                guard let certificate = certificate(der[...]) else {
                    return .failure(ChainFailure(subIndication: .certificateChainGeneralFailure, reason: "a path certificate does not re-encode",
                                                 missingIssuer: false))
                }
                chain.append(certificate)
            }
            return .success(chain)
        case .failure(let failure):
            let at: String
            if let der = failure.certificateDER, let certificate = certificate(der[...]) {
                at = " at \"\(certificate.subject.commonName ?? certificate.subject.description)\" (depth \(failure.depth))"
            } else {
                at = " at depth \(failure.depth)"
            }
            let reason = "\(failure.text)\(at)"
            switch failure.kind {
            case .missingIssuer:
                return .failure(ChainFailure(subIndication: .noCertificateChainFound,
                                             reason: "no path to a trusted root: \(reason); an intermediate CA certificate is missing or the root is not trusted",
                                             missingIssuer: true))
            case .untrustedRoot:
                return .failure(ChainFailure(subIndication: .noCertificateChainFound,
                                             reason: "the path ends at a root that is not in the trust store: \(reason)", missingIssuer: false))
            case .constraints:
                return .failure(ChainFailure(subIndication: .chainConstraintsFailure, reason: reason, missingIssuer: false))
            case .unreadablePath:
                return .failure(ChainFailure(subIndication: .certificateChainGeneralFailure, reason: failure.text, missingIssuer: false))
            case .other:
                return .failure(ChainFailure(subIndication: .certificateChainGeneralFailure, reason: reason, missingIssuer: false))
            }
        }
    }
}

/// A dictionary key for a certificate's DER: hashed on its length and last 32 bytes (inside the signature value,
/// as good as random), compared whole. Hashing all 1-2 KiB of every carried certificate cost more than the rest of
/// the lookup.
struct CertificateKey: Hashable {
    let bytes: ArraySlice<UInt8>

    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.suffix(32).withUnsafeBytes { hasher.combine(bytes: $0) }  // the end of the signature value: as good as random
    }

    static func == (lhs: CertificateKey, rhs: CertificateKey) -> Bool {
        lhs.bytes.count == rhs.bytes.count && lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
        }
    }
}

/// A certificate's SHA-256 fingerprint as a dictionary key, hashed in one call ([UInt8]'s own hashing goes byte
/// by byte).
struct FingerprintKey: Hashable {
    let bytes: [UInt8]

    init(_ certificate: X509Certificate) { bytes = certificate.sha256Fingerprint }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
