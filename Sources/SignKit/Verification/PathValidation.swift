import Foundation

/// OpenSSL's validation of one certification path (`X509StoreContext`), read the way verification reports it: the
/// path, what stops it from holding, each certificate's status on the CRLs and the policies that held.
///
/// OpenSSL decides the RFC 5280 mathematics: path building, signatures, basic and name constraints, key usage of
/// certificate and CRL issuers, certificate policies, and CRLs with their full meaning (issuer, signature, scope and
/// issuing distribution point, indirect CRLs, delta CRLs, reasons, critical extensions, the CRL issuer's own path).
/// What stays with the caller: the validity dates in ETSI's words, the signer's key usage, OCSP where no CRL gives a
/// status, and whether a revocation undoes a signature (IT Act s.73).
struct PathValidation: @unchecked Sendable {  // immutable; the certificates and CRLs are read-only objects
    /// A certificate's status on the CRLs at hand.
    enum CRLStatus {
        /// Checked against these CRLs (a base and its delta, or one per reason partition) and not on them.
        case good([CertificateRevocationList])
        /// On `crl` since `date` (RFC 5280 reasonCode `reason`).
        case revoked(crl: CertificateRevocationList, date: Date, reason: Int?)
        /// No CRL could give a status: none in scope (`noCRL`), or the ones found cannot be used; the errors say why.
        case unavailable(noCRL: Bool, errors: [X509StoreContext.Event])
        /// Not checked: revocation is off, or OpenSSL skips the certificate (self-signed).
        case notChecked
    }

    /// The path, signer first, anchor last when it was found; the signer alone otherwise.
    let chain: [X509Certificate]
    /// Why the path does not hold, apart from validity dates and revocation; nil when it holds.
    let failure: Verifier.ChainFailure?
    /// For each certificate of `chain` below the anchor, by depth.
    let crlStatus: [CRLStatus]
    /// The policies that held (the valid policy set within the initial set); empty when none did.
    let policies: [String]
    /// The inputs, kept alive while the result is cached under their identities (`PathKey`).
    private let retained: [AnyObject]

    init(failure: Verifier.ChainFailure, leaf: X509Certificate) {
        chain = [leaf]
        self.failure = failure
        crlStatus = []
        policies = []
        retained = []
    }

    init(_ outcome: X509StoreContext.Outcome, leaf: X509Certificate, anchors: TrustStore, retained: [AnyObject]) {
        self.retained = retained
        policies = outcome.policies
        let fatal = outcome.events.first { !$0.continued && !$0.inCRLIssuerPath }
        if outcome.verified || fatal == nil {
            chain = outcome.path.isEmpty ? [leaf] : outcome.path
            failure = outcome.verified ? nil : ChainFailureWords.failure(for: nil, path: chain)
        } else {
            // Stopped: report the path only when it reached an anchor (what follows reads its CRL statuses).
            let reachedAnchor = outcome.path.last.map(anchors.isAnchor) ?? false
            chain = reachedAnchor ? outcome.path : [leaf]
            failure = ChainFailureWords.failure(for: fatal, path: outcome.path)
        }
        var statuses = [CRLStatus]()
        let depths = max(0, chain.count - 1)
        for depth in 0..<depths {
            let events = outcome.events.filter { $0.depth == depth && [.revoked, .noCRL, .crlUnusable].contains($0.kind) }
            let outer = events.filter { !$0.inCRLIssuerPath }
            if let first = outer.first {
                if first.kind == .revoked, let crl = first.crl, let entry = first.revocation {
                    statuses.append(.revoked(crl: crl, date: entry.date, reason: entry.reason))
                } else {
                    statuses.append(.unavailable(noCRL: outer.allSatisfy { $0.kind == .noCRL }, errors: events))
                }
            } else if let checked = outcome.crlsChecked[depth], !checked.isEmpty {
                statuses.append(.good(checked))
            } else {
                statuses.append(.notChecked)
            }
        }
        crlStatus = statuses
    }
}

/// Words for the ways a path fails.
enum ChainFailureWords {
    static func failure(for event: X509StoreContext.Event?, path: [X509Certificate]) -> Verifier.ChainFailure {
        guard let event else {
            return Verifier.ChainFailure(
                subIndication: .certificateChainGeneralFailure, reason: "OpenSSL did not validate the path",
                missingIssuer: false)
        }
        let named = event.certificate ?? (event.depth < path.count ? path[event.depth] : nil)
        let at = named.map { " at \"\($0.subject.commonName ?? $0.subject.description)\" (depth \(event.depth))" } ?? " at depth \(event.depth)"
        let reason = "\(event.text)\(at)"
        switch event.kind {
        case .missingIssuer:
            return Verifier.ChainFailure(
                subIndication: .noCertificateChainFound,
                reason: "no path to a trusted root: \(reason); an intermediate CA certificate is missing or the root is not trusted",
                missingIssuer: true)
        case .untrustedRoot:
            return Verifier.ChainFailure(
                subIndication: .noCertificateChainFound,
                reason: "the path ends at a root that is not in the trust store: \(reason)", missingIssuer: false)
        case .constraints:
            return Verifier.ChainFailure(subIndication: .chainConstraintsFailure, reason: reason, missingIssuer: false)
        case .policy:
            return Verifier.ChainFailure(
                subIndication: .chainConstraintsFailure,
                reason: "the certificate policies of the path do not meet the validation policy (RFC 5280 6.1.5): \(reason)",
                missingIssuer: false)
        default:
            return Verifier.ChainFailure(subIndication: .certificateChainGeneralFailure, reason: reason, missingIssuer: false)
        }
    }
}

/// What a path validation depends on, as a cache key: the leaf, the untrusted certificates and the CRLs (by
/// identity: the verifier parses each distinct DER once), the policy inputs, and the times as classes. OpenSSL
/// compares the signing time with nothing but the validity dates of the certificates and CRLs, and the CRL usability
/// rule compares the validation time with the CRLs' dates; so the place of each time among those dates (how many lie
/// before it, how many on it) decides the result, and two signatures whose times fall in the same places share it.
struct PathKey: Hashable {
    let leaf: ObjectIdentifier
    let untrusted: [ObjectIdentifier]
    let crls: [ObjectIdentifier]
    let settings: X509StoreContext.Settings
    let signingTimeClass: TimeClass
    let validationTimeClass: TimeClass

    struct TimeClass: Hashable {
        var before = 0
        var equal = 0

        mutating func place(_ time: Date, against boundary: Date) {
            if boundary < time {
                before += 1
            } else if boundary == time {
                equal += 1
            }
        }
    }

    /// `time` is the signing time as OpenSSL sees it (whole seconds).
    init(
        leaf: X509Certificate, untrusted: [X509Certificate], crls: [CertificateRevocationList], anchors: [X509Certificate],
        settings: X509StoreContext.Settings, at time: Date, validationTime: Date
    ) {
        self.leaf = ObjectIdentifier(leaf)
        self.untrusted = untrusted.map(ObjectIdentifier.init)
        self.crls = crls.map(ObjectIdentifier.init)
        self.settings = settings
        var signing = TimeClass(), validation = TimeClass()
        for certificate in [leaf] + untrusted + anchors {
            signing.place(time, against: certificate.notBefore)
            signing.place(time, against: certificate.notAfter)
        }
        for crl in crls {
            signing.place(time, against: crl.thisUpdate)
            validation.place(validationTime, against: crl.thisUpdate.addingTimeInterval(-RevocationEvidence.clockSkew))
            if let next = crl.nextUpdate {
                signing.place(time, against: next)
                validation.place(validationTime, against: next)
            }
        }
        signingTimeClass = signing
        validationTimeClass = validation
    }
}
