import Foundation
import Synchronization

/// What a verification accepts beyond the standards' minimum, and the inputs of RFC 5280 6.1.1 that vary: a value
/// passed to each verification.
public struct VerificationPolicy: Sendable, Hashable {
    /// SHA-1 digests are reported as weak: INDETERMINATE CRYPTO_CONSTRAINTS_FAILURE_NO_POE unless this is set.
    public var acceptSHA1: Bool
    public var minimumRSABits: Int
    /// How revocation is checked.
    public var revocation: RevocationMode
    /// user-initial-policy-set (RFC 5280 6.1.1 (c)) as dotted OIDs; empty means any-policy (2.5.29.32.0).
    public var initialPolicySet: [String]
    /// initial-explicit-policy: the path must be valid for at least one policy of the initial set.
    public var explicitPolicy: Bool
    /// initial-policy-mapping-inhibit: policy mappings are not followed.
    public var inhibitPolicyMapping: Bool
    /// initial-any-policy-inhibit: anyPolicy in a certificate does not stand for every policy.
    public var inhibitAnyPolicy: Bool

    public init(
        acceptSHA1: Bool = false, minimumRSABits: Int = 2048, revocation: RevocationMode = .require,
        initialPolicySet: [String] = [], explicitPolicy: Bool = false, inhibitPolicyMapping: Bool = false,
        inhibitAnyPolicy: Bool = false
    ) {
        self.acceptSHA1 = acceptSHA1
        self.minimumRSABits = minimumRSABits
        self.revocation = revocation
        self.initialPolicySet = initialPolicySet
        self.explicitPolicy = explicitPolicy
        self.inhibitPolicyMapping = inhibitPolicyMapping
        self.inhibitAnyPolicy = inhibitAnyPolicy
    }

    /// anyPolicy (RFC 5280 4.2.1.4).
    public static let anyPolicy = "2.5.29.32.0"

    /// True for a dotted object identifier ("2.16.356.100.2.3"): what `initialPolicySet` holds.
    public static func isObjectIdentifier(_ text: String) -> Bool {
        let arcs = text.split(separator: ".", omittingEmptySubsequences: false)
        return arcs.count >= 2 && arcs.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
            && ["0", "1", "2"].contains(String(arcs[0]))
    }
}

/// How revocation is checked (the `--revocation` option).
public enum RevocationMode: String, Sendable, Codable, CaseIterable, Hashable {
    /// Every certificate below the anchor needs usable status from a CRL or OCSP; without it the verdict is
    /// INDETERMINATE TRY_LATER. The default (CCA signing classes name both).
    case require
    /// As `require` for a certificate that names an OCSP responder or a CRL distribution point; one that names
    /// neither, and for which no CRL is at hand, passes the revocation check with a warning.
    case soft
    /// Not checked; the report says so.
    case off
}

/// Certificates and revocation data given beside a signature (`--certs`, `--crls`, a bundle's, a request's): used
/// to build paths and judge revocation as if the signature carried them.
public struct AdjunctMaterial: Sendable {
    public var certificates: [X509Certificate]
    /// DER CRLs and OCSP responses.
    public var revocationData: [[UInt8]]

    public init(certificates: [X509Certificate] = [], revocationData: [[UInt8]] = []) {
        self.certificates = certificates
        self.revocationData = revocationData
    }

    /// Every CRL of a file: PEM ("X509 CRL" blocks, one or more) or DER (one).
    public static func loadCRLs(file path: String) throws(VerificationInputError) -> [[UInt8]] {
        guard let data = FileManager.default.contents(atPath: path) else { throw VerificationInputError("cannot read the CRL file \(path)") }
        let bytes = Array(data)
        let text = String(decoding: bytes.prefix(64 * 1024 * 1024), as: UTF8.self)
        if text.contains("-----BEGIN X509 CRL-----"), (PEM.decode(text, label: "X509 CRL") ?? []).isEmpty {
            throw VerificationInputError("\(path) holds a PEM CRL whose body does not decode or whose END line is missing")
        }
        let crls = text.contains("-----BEGIN X509 CRL-----") ? (PEM.decode(text, label: "X509 CRL") ?? []) : [bytes]
        for der in crls where (try? CertificateRevocationList(der: der)) == nil {
            throw VerificationInputError("\(path) is neither a PEM nor a DER CRL (a CRL in it does not parse)")
        }
        return crls
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
/// One verifier serves a whole run: each distinct certificate and CRL is parsed once (looked up by its bytes), each
/// path is validated by OpenSSL once per set of certificates, CRLs, policy inputs and time (`validatePath`), each
/// CRL distribution point is read or fetched once. Per signature what remains is reading its DER, one digest of the
/// content, one digest of the signed attributes and one public-key verification.
public final class Verifier: Sendable {
    public let trust: TrustStore
    public let intermediates: [X509Certificate]
    public let revocation: RevocationChecker
    private let caches = Mutex(Caches())

    private struct Caches: @unchecked Sendable {
        /// Certificates by their DER.
        var certificates: [DERKey: X509Certificate] = [:]
        /// Path validations by their inputs (see `PathKey`).
        var paths: [PathKey: PathValidation] = [:]
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
        let key = DERKey(bytes: der)  // a slice of the signature: no copy to look it up
        if let known = caches.withLock({ $0.certificates[key] }) { return known }
        guard let parsed = try? X509Certificate(der: Array(der)) else { return nil }
        return caches.withLock { caches in
            if let raced = caches.certificates[key] { return raced }
            caches.certificates[DERKey(bytes: parsed.der[...])] = parsed
            return parsed
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

    /// Verifies `signature` (a DER or BER CMS ContentInfo) over `content`: every SignerInfo in it, each at its own
    /// signing time.
    ///
    /// - Throws: `VerificationInputError` only when the input is not a readable CMS SignedData, the content cannot
    ///   be read or the policy names a malformed OID; every other problem is a verdict.
    /// - Parameter adjunct: certificates, CRLs and OCSP responses to use besides those in the signature (given with
    ///   it, or a bundle's).
    public func verify(
        signature: [UInt8], content: SignedContent, policy: VerificationPolicy = VerificationPolicy(),
        at validationTime: Date, adjunct: AdjunctMaterial = AdjunctMaterial()
    ) throws(VerificationInputError) -> Verdict {
        for oid in policy.initialPolicySet where !VerificationPolicy.isObjectIdentifier(oid) {
            throw VerificationInputError("the initial policy \(oid) is not a dotted object identifier")
        }
        let structure: SignedDataStructure
        do {
            structure = try SignedDataStructure(signature)
        } catch {
            throw VerificationInputError("not a readable CMS signature: \(error.description)")
        }
        guard !structure.signers.isEmpty else {
            throw VerificationInputError("the SignedData has no SignerInfo: there is no signature in it")
        }
        var given = Run.Adjunct(certificates: adjunct.certificates.compactMap { certificate($0.der[...]) })
        given.revocation.add(adjunct.revocationData)
        if structure.signers.count == 1 {  // the usual case, without the combining copies
            var run = Run(
                verifier: self, structure: structure, signer: structure.signers[0], policy: policy, validationTime: validationTime,
                adjunct: given)
            if structure.reencodedFromBER { run.warnings.append("the signature file is BER, not DER; it was read after re-encoding") }
            try run.execute(content: content)
            return run.verdict()
        }
        var verdicts = [Verdict]()
        for signer in structure.signers {
            var run = Run(verifier: self, structure: structure, signer: signer, policy: policy, validationTime: validationTime, adjunct: given)
            if structure.reencodedFromBER { run.warnings.append("the signature file is BER, not DER; it was read after re-encoding") }
            try run.execute(content: content)
            verdicts.append(run.verdict())
        }
        return Verdict.combining(verdicts)
    }

    // MARK: Paths

    /// OpenSSL's validation of the path from `leaf` at `time`: built through `untrusted` (and the issuers named in
    /// authorityInfoAccess, fetched or cached), with `crls` over the whole path and the policy inputs of `policy`.
    /// Validated once per distinct inputs and time class (`PathKey`): a second signature by the same signer with
    /// the same material costs a dictionary lookup.
    func validatePath(
        leaf: X509Certificate, untrusted given: [X509Certificate], crls: [CertificateRevocationList],
        at time: Date, validationTime: Date, policy: VerificationPolicy, problems: inout [String]
    ) -> PathValidation {
        var untrusted = given
        var fetchedURLs = Set<String>()
        var outcome = validatePathOnce(leaf: leaf, untrusted: untrusted, crls: crls, at: time, validationTime: validationTime, policy: policy)
        for _ in 0..<4 {
            guard outcome.failure?.missingIssuer == true else { break }
            // Fetch the missing issuers named in authorityInfoAccess (cache first; online only when allowed).
            // Only up the leaf's own chain: from the leaf through the issuers at hand to the first certificate whose
            // issuer is missing. Other certificates a signature carries never make the verifier fetch anything.
            var added = false
            var candidate = leaf
            var walked = Set<[UInt8]>()
            while walked.insert(candidate.sha256Fingerprint).inserted, !trust.anchors.contains(where: { candidate.isIssued(by: $0) }),
                let issuer = untrusted.first(where: { candidate.isIssued(by: $0) && !walked.contains($0.sha256Fingerprint) })
            {
                candidate = issuer
            }
            if !trust.anchors.contains(where: { candidate.isIssued(by: $0) }) {
                for url in candidate.caIssuersURLs where !fetchedURLs.contains(url) {
                    fetchedURLs.insert(url)
                    for found in revocation.fetchIssuers(url: url, problems: &problems)
                    where !untrusted.contains(where: { $0.sha256Fingerprint == found.sha256Fingerprint }) {
                        untrusted.append(self.certificate(found.der[...]) ?? found)
                        added = true
                    }
                }
            }
            if !added { break }
            outcome = validatePathOnce(leaf: leaf, untrusted: untrusted, crls: crls, at: time, validationTime: validationTime, policy: policy)
        }
        return outcome
    }

    private func validatePathOnce(
        leaf: X509Certificate, untrusted: [X509Certificate], crls: [CertificateRevocationList], at time: Date,
        validationTime: Date, policy: VerificationPolicy
    ) -> PathValidation {
        let settings = X509StoreContext.Settings(
            checkCRLs: policy.revocation != .off, initialPolicySet: policy.initialPolicySet,
            explicitPolicy: policy.explicitPolicy, inhibitPolicyMapping: policy.inhibitPolicyMapping,
            inhibitAnyPolicy: policy.inhibitAnyPolicy)
        let seconds = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))  // as OpenSSL sees it
        let key = PathKey(
            leaf: leaf, untrusted: untrusted, crls: crls, anchors: trust.anchors, settings: settings, at: seconds,
            validationTime: validationTime)
        if let known = caches.withLock({ $0.paths[key] }) { return known }
        let validation: PathValidation
        do {
            let context = try X509StoreContext(
                store: trust.store, anchors: trust.anchors, leaf: leaf, untrusted: untrusted, crls: crls,
                settings: settings, at: seconds
            ) { crl in
                RevocationEvidence.isUsable(
                    thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, signingTime: seconds,
                    validationTime: validationTime)
            }
            validation = PathValidation(context.verify(), leaf: leaf, anchors: trust, retained: [leaf] + untrusted + crls)
        } catch {
            validation = PathValidation(
                failure: ChainFailure(
                    subIndication: .certificateChainGeneralFailure, reason: error.description,
                    missingIssuer: false), leaf: leaf)
        }
        caches.withLock { caches in
            if caches.paths.count >= 50_000 { caches.paths.removeAll() }  // a long-lived daemon: forget, never grow without end
            caches.paths[key] = validation
        }
        return validation
    }

    struct ChainFailure: Error {
        let subIndication: SubIndication
        let reason: String
        let missingIssuer: Bool
    }
}

/// A dictionary key for a certificate's or CRL's DER: hashed on its length and last 32 bytes (inside the signature
/// value, as good as random), compared whole. Hashing all 1-2 KiB of every carried certificate cost more than the
/// rest of the lookup.
struct DERKey: Hashable {
    let bytes: ArraySlice<UInt8>

    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.suffix(32).withUnsafeBytes { hasher.combine(bytes: $0) }  // the end of the signature value: as good as random
    }

    static func == (lhs: DERKey, rhs: DERKey) -> Bool {
        lhs.bytes.count == rhs.bytes.count
            && lhs.bytes.withUnsafeBytes { left in
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
