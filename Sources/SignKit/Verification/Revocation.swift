import Foundation
import Synchronization

/// Where revocation data may come from and how long to wait for it.
public struct RevocationOptions: Sendable {
    /// Fetch CRLs, OCSP responses and CA certificates over HTTP. Offline, only the cache and the material inside the
    /// signature (or bundle) is used.
    public var online: Bool
    /// A folder where fetched data is kept with its validity and reused (created when missing); nil keeps nothing.
    public var cacheDirectory: String?
    /// Seconds each fetch may take.
    public var timeout: Double
    /// What fetches OCSP responses, CRLs and caIssuers certificates when `online` (HTTP by default; a test passes
    /// a double).
    public var fetcher: any NetworkFetcher

    public init(
        online: Bool = true, cacheDirectory: String? = RevocationOptions.defaultCacheDirectory, timeout: Double = 5,
        fetcher: any NetworkFetcher = HTTPFetcher()
    ) {
        self.online = online
        self.cacheDirectory = cacheDirectory
        self.timeout = timeout
        self.fetcher = fetcher
    }

    /// `$SIGNSERVICE_CACHE`, else `$XDG_CACHE_HOME/signservice`, else `~/.cache/signservice`.
    public static var defaultCacheDirectory: String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["SIGNSERVICE_CACHE"], !explicit.isEmpty { return explicit }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/signservice" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/signservice" }
        return nil
    }
}

/// What is known about one certificate's revocation, from one CRL or OCSP response.
struct RevocationEvidence: Sendable {
    enum Status: Sendable { case good, revoked(at: Date, reason: Int?), unknown }
    var status: Status
    /// "OCSP http://127.0.0.1:18791", "CRL http://.../x.crl", "CRL carried in the signature".
    var source: String
    var thisUpdate: Date
    var nextUpdate: Date?
    /// The CRL or OCSP response as received, for bundles.
    var der: [UInt8]
    /// "not revoked as of ...", made once: the same evidence serves every signature of the certificate.
    private let asOf: String

    init(status: Status, source: String, thisUpdate: Date, nextUpdate: Date?, der: [UInt8]) {
        self.status = status
        self.source = source
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.der = der
        self.asOf = "not revoked as of \(UTCTimeText.format(thisUpdate))"
    }

    func goodFinding(name: String) -> Verdict.RevocationFinding {
        Verdict.RevocationFinding(
            certificate: name, status: .good, source: source, producedAt: thisUpdate, revokedAt: nil, reason: nil,
            detail: asOf)
    }

    /// Usable to judge a signature made at `signingTime`, checked at `validationTime`: current at the validation time,
    /// or issued after the signing time (it then knows of any revocation before the signature; RFC 5280 keeps revoked
    /// entries until the certificate expires).
    func isUsable(signingTime: Date, validationTime: Date) -> Bool {
        Self.isUsable(thisUpdate: thisUpdate, nextUpdate: nextUpdate, signingTime: signingTime, validationTime: validationTime)
    }

    /// How far a responder's or CA's clock may run ahead of the verifier's.
    static let clockSkew: TimeInterval = 300

    /// The rule for CRLs and OCSP responses alike (a CRL out of its dates at the signing time is still used when
    /// this holds).
    static func isUsable(thisUpdate: Date, nextUpdate: Date?, signingTime: Date, validationTime: Date) -> Bool {
        let current = thisUpdate <= validationTime.addingTimeInterval(clockSkew) && (nextUpdate.map { validationTime <= $0 } ?? false)
        return current || thisUpdate >= signingTime
    }
}

/// RFC 5280 5.3.1 reason codes, named.
enum RevocationReason {
    static func name(_ code: Int?) -> String? {
        guard let code else { return nil }
        let names = [
            0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged", 4: "superseded",
            5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL", 9: "privilegeWithdrawn",
            10: "aACompromise",
        ]
        return names[code] ?? "reason \(code)"
    }
}

/// Where revocation data comes from and what it says, for the path validation that judges CRLs (OpenSSL's, through
/// `Verifier.validatePath`) and the OCSP checks that stand in for a CRL. Each CRL is parsed once per checker (looked
/// up by its bytes), each CRL distribution point is read from the cache or fetched once, each certificate's OCSP
/// evidence is looked up once and reused while it stays usable.
public final class RevocationChecker: Sendable {
    public let options: RevocationOptions
    private let state = Mutex(State())
    /// Signalled when a CRL fetch ends, for verifications waiting on the same URL.
    private let crlFetched = NSCondition()

    private struct State: @unchecked Sendable {
        /// CRLs by their DER.
        var crls: [DERKey: CertificateRevocationList] = [:]
        /// CRLs read from the cache or fetched, by distribution point URL; nil when the cache has none (not asked
        /// again in this run).
        var crlsByURL: [String: (crl: CertificateRevocationList, source: String)?] = [:]
        /// cRLDistributionPoints URLs by certificate (the extension is decoded once).
        var crlURLs: [ObjectIdentifier: (certificate: X509Certificate, urls: [String])] = [:]
        /// knownCRLs' answers by certificate, valid while `crlGeneration` is what it was.
        var knownCRLs: [ObjectIdentifier: (generation: Int, certificate: X509Certificate, list: [(crl: CertificateRevocationList, source: String)])] = [:]
        /// The same for lists of certificates (a signature's), by their identities.
        var knownCRLsOfPaths:
            [[ObjectIdentifier]: (generation: Int, certificates: [X509Certificate], list: [(crl: CertificateRevocationList, source: String)])] = [:]
        /// Counts changes of `crlsByURL` that add a CRL.
        var crlGeneration = 0
        /// Distribution points fetched in this run (each at most once).
        var fetchedCRLURLs = Set<String>()
        /// URLs being fetched now: another verification needing the same CRL waits for that fetch (`crlFetched`).
        var fetchingCRLURLs = Set<String>()
        /// OCSP evidence by certificate fingerprint.
        var evidence: [FingerprintKey: RevocationEvidence] = [:]
        /// URLs that failed in this run, so one dead server costs one timeout, not one per signature.
        var failedURLs: [String: String] = [:]
        /// Issuer certificates fetched through authorityInfoAccess, by URL.
        var fetchedIssuers: [String: [X509Certificate]] = [:]
    }

    public init(options: RevocationOptions = RevocationOptions()) {
        self.options = options
    }

    /// Material that came with a signature or bundle: DER CRLs and OCSP responses.
    struct Supplied {
        var crls: [ArraySlice<UInt8>] = []
        var ocspResponses: [ArraySlice<UInt8>] = []

        /// Sorts DER blobs into CRLs and OCSP responses: an OCSPResponse begins with its ENUMERATED status.
        mutating func add(_ ders: [[UInt8]]) {
            for der in ders {
                var scanner = DERScanner(der, what: "revocation data")
                if let outer = try? scanner.next(), let inner = try? outer.children("revocation data"), inner.peekTag == 0x0A {
                    ocspResponses.append(der[...])
                } else {
                    crls.append(der[...])
                }
            }
        }
    }

    // MARK: CRLs

    /// The CRL with this DER, parsed once per checker; nil when it does not parse.
    func crl(der: ArraySlice<UInt8>) -> CertificateRevocationList? {
        let key = DERKey(bytes: der)
        if let known = state.withLock({ $0.crls[key] }) { return known }
        guard let parsed = try? CertificateRevocationList(der: Array(der)) else { return nil }
        return state.withLock { state in
            if let raced = state.crls[key] { return raced }
            state.crls[DERKey(bytes: parsed.der[...])] = parsed
            return parsed
        }
    }

    /// The certificate's cRLDistributionPoints URLs, decoded once per checker.
    func crlURLs(of certificate: X509Certificate) -> [String] {
        let key = ObjectIdentifier(certificate)
        if let known = state.withLock({ $0.crlURLs[key] }) { return known.urls }
        let urls = certificate.crlURLs
        state.withLock { $0.crlURLs[key] = (certificate, urls) }
        return urls
    }

    /// `knownCRLs(for:)` of each certificate, each CRL once: one lookup per signature while nothing new comes.
    func knownCRLs(for certificates: [X509Certificate]) -> [(crl: CertificateRevocationList, source: String)] {
        let key = certificates.map(ObjectIdentifier.init)
        if let known = state.withLock({ state in state.knownCRLsOfPaths[key].flatMap { $0.generation == state.crlGeneration ? $0.list : nil } }) {
            return known
        }
        let generation = state.withLock { $0.crlGeneration }
        var list = [(crl: CertificateRevocationList, source: String)]()
        for certificate in certificates {
            for found in knownCRLs(for: certificate) where !list.contains(where: { $0.crl === found.crl }) { list.append(found) }
        }
        state.withLock { state in
            if state.knownCRLsOfPaths.count >= 10_000 { state.knownCRLsOfPaths.removeAll() }
            state.knownCRLsOfPaths[key] = (generation, certificates, list)
        }
        return list
    }

    /// The CRLs at hand for `certificate`'s distribution points without fetching: fetched earlier in this run, or
    /// in the disk cache. Each with where it came from.
    func knownCRLs(for certificate: X509Certificate) -> [(crl: CertificateRevocationList, source: String)] {
        // Per signature this is one lookup: the answer is kept per certificate until a distribution point's CRL
        // changes (`crlGeneration`).
        let key = ObjectIdentifier(certificate)
        if let known = state.withLock({ state in state.knownCRLs[key].flatMap { $0.generation == state.crlGeneration ? $0.list : nil } }) {
            return known
        }
        let generation = state.withLock { $0.crlGeneration }
        var found = [(crl: CertificateRevocationList, source: String)]()
        for url in crlURLs(of: certificate) {
            if let known = state.withLock({ $0.crlsByURL[url] }) {
                if let known { found.append(known) }
                continue
            }
            var entry: (crl: CertificateRevocationList, source: String)? = nil
            if let cached = readCache(kind: "crl", url: url, certificate: nil), let crl = crl(der: cached[...]) {
                entry = (crl, "CRL \(url) (cached)")
            }
            state.withLock { state in
                guard state.crlsByURL[url] == nil else { return }
                state.crlsByURL[url] = .some(entry)
                if entry != nil { state.crlGeneration += 1 }
            }
            if let entry { found.append(entry) }
        }
        state.withLock { $0.knownCRLs[key] = (generation, certificate, found) }
        return found
    }

    /// Fetches the CRLs of `certificate`'s distribution points that this run has not fetched yet (online only).
    /// Returns the ones that parse; `problems` says why others did not come.
    func fetchCRLs(for certificate: X509Certificate, problems: inout [String]) -> [(crl: CertificateRevocationList, source: String)] {
        guard options.online else { return [] }
        var fetched = [(crl: CertificateRevocationList, source: String)]()
        for url in crlURLs(of: certificate) {
            if let failure = state.withLock({ $0.failedURLs[url] }) {
                problems.append(failure)
                continue
            }
            // One fetch per URL. A verification that finds it fetched, or being fetched by another (concurrent appends
            // on a records service just started), waits for that fetch and takes its CRL: skipping it judged the
            // signature INDETERMINATE for want of a CRL that was arriving (seen under SIGKILL restarts).
            let first = state.withLock { state in
                let first = state.fetchedCRLURLs.insert(url).inserted
                if first { state.fetchingCRLURLs.insert(url) }
                return first
            }
            guard first else {
                crlFetched.lock()
                while state.withLock({ $0.fetchingCRLURLs.contains(url) }) { crlFetched.wait() }
                crlFetched.unlock()
                let outcome = state.withLock { ($0.crlsByURL[url] ?? nil, $0.failedURLs[url]) }
                if let entry = outcome.0 {
                    fetched.append(entry)
                } else if let failure = outcome.1 {
                    problems.append(failure)
                }
                continue
            }
            defer {
                state.withLock { _ = $0.fetchingCRLURLs.remove(url) }
                crlFetched.lock()
                crlFetched.broadcast()
                crlFetched.unlock()
            }
            guard let target = URL(string: url) else {
                problems.append("\(url) is not a URL")
                state.withLock { $0.failedURLs[url] = "\(url) is not a URL" }
                continue
            }
            do {
                let der = try options.fetcher.fetch(.crl, url: target, body: nil, timeout: options.timeout)
                guard let crl = crl(der: der[...]) else {
                    let failure = "CRL \(url) does not parse as a CRL"
                    state.withLock { $0.failedURLs[url] = failure }
                    problems.append(failure)
                    continue
                }
                writeCache(kind: "crl", url: url, certificate: nil, der: der)
                let entry = (crl: crl, source: "CRL \(url)")
                state.withLock { state in
                    state.crlsByURL[url] = .some(entry)
                    state.crlGeneration += 1
                }
                fetched.append(entry)
            } catch {
                let failure = "\(error)"
                state.withLock { $0.failedURLs[url] = failure }
                problems.append(failure)
            }
        }
        return fetched
    }

    // MARK: OCSP

    /// OCSP evidence for `certificate` (issued by `issuer`) that can judge a signature made at `signingTime`: from
    /// responses that came with the signature or bundle, the disk cache, then (online) the certificate's responders.
    /// `problems` collects why sources failed, for the report.
    func ocspEvidence(
        for certificate: X509Certificate, issuer: X509Certificate, trust: TrustStore, intermediates: [X509Certificate],
        supplied: Supplied, signingTime: Date, validationTime: Date, problems: inout [String]
    ) -> RevocationEvidence? {
        let key = FingerprintKey(certificate)
        if let known = state.withLock({ $0.evidence[key] }), known.isUsable(signingTime: signingTime, validationTime: validationTime) {
            return known
        }
        var candidates = [RevocationEvidence]()
        let urls = certificate.ocspURLs
        // 1. What came with the signature or bundle.
        for der in supplied.ocspResponses {
            if let found = ocspEvidence(
                response: Array(der), source: "OCSP response carried with the signature or bundle", certificate: certificate,
                issuer: issuer, trust: trust, intermediates: intermediates, validationTime: validationTime, nonce: nil,
                problems: &problems)
            {
                candidates.append(found)
            }
        }
        // 2. The disk cache.
        for url in urls {
            guard let cached = readCache(kind: "ocsp", url: url, certificate: certificate) else { continue }
            if let found = ocspEvidence(
                response: cached, source: "OCSP \(url) (cached)", certificate: certificate, issuer: issuer, trust: trust,
                intermediates: intermediates, validationTime: validationTime, nonce: nil, problems: &problems)
            {
                candidates.append(found)
            }
        }
        if let best = Self.best(candidates, signingTime: signingTime, validationTime: validationTime) {
            state.withLock { $0.evidence[key] = best }
            return best
        }
        // 3. The network.
        if options.online {
            for url in urls {
                if let found = fetchOCSP(
                    url: url, certificate: certificate, issuer: issuer, trust: trust, intermediates: intermediates,
                    validationTime: validationTime, problems: &problems)
                {
                    candidates.append(found)
                    if case .unknown = found.status { continue }
                    if found.isUsable(signingTime: signingTime, validationTime: validationTime) { break }
                }
            }
        } else if !urls.isEmpty, candidates.isEmpty {
            problems.append("offline, and no cached OCSP response for it")
        }
        guard let best = Self.best(candidates, signingTime: signingTime, validationTime: validationTime) else {
            for candidate in candidates where candidate.isUsable(signingTime: signingTime, validationTime: validationTime) == false {
                problems.append("\(candidate.source) is out of date (this update \(UTCTimeText.format(candidate.thisUpdate)))")
            }
            return nil
        }
        state.withLock { $0.evidence[key] = best }
        return best
    }

    /// Usable evidence with a definite status, revocations first (a revocation anywhere outweighs a "good").
    private static func best(_ candidates: [RevocationEvidence], signingTime: Date, validationTime: Date) -> RevocationEvidence? {
        let usable = candidates.filter { $0.isUsable(signingTime: signingTime, validationTime: validationTime) }
        if let revoked = usable.first(where: { if case .revoked = $0.status { true } else { false } }) { return revoked }
        return usable.first(where: { if case .good = $0.status { true } else { false } })
    }

    private func ocspEvidence(
        response der: [UInt8], source: String, certificate: X509Certificate, issuer: X509Certificate,
        trust: TrustStore, intermediates: [X509Certificate], validationTime: Date, nonce request: OCSPRequest?,
        problems: inout [String]
    ) -> RevocationEvidence? {
        guard let response = try? OCSPResponse(der: der) else {
            problems.append("\(source) does not parse as an OCSP response")
            return nil
        }
        guard response.isSuccessful else {
            problems.append("\(source) answered with status \(response.statusText)")
            return nil
        }
        guard let basic = response.basicResponse() else {
            problems.append("\(source) holds no basic OCSP response")
            return nil
        }
        if let request, !basic.echoesNonce(of: request) {
            problems.append("\(source) did not echo this request's nonce (a replayed answer?)")
            return nil
        }
        do {
            // The responder's certificate and path are judged at the validation time, not at the system clock.
            try basic.verify(untrusted: intermediates + [issuer], store: try trust.store(checkingAt: validationTime))
        } catch {
            problems.append("\(source): the response's signature or its signer does not check (\(error))")
            return nil
        }
        guard let single = basic.status(of: certificate, issuer: issuer) else {
            return nil  // the response is about other certificates
        }
        let found: RevocationEvidence.Status
        switch single.state {
        case .good: found = .good
        case .revoked(let at, let reason): found = .revoked(at: at, reason: reason)
        case .unknown: found = .unknown
        }
        return RevocationEvidence(
            status: found, source: source, thisUpdate: single.thisUpdate ?? .distantPast,
            nextUpdate: single.nextUpdate, der: der)
    }

    // MARK: Fetching and the cache

    private func fetchOCSP(
        url: String, certificate: X509Certificate, issuer: X509Certificate, trust: TrustStore,
        intermediates: [X509Certificate], validationTime: Date, problems: inout [String]
    ) -> RevocationEvidence? {
        if let failure = state.withLock({ $0.failedURLs[url] }) {
            problems.append(failure)
            return nil
        }
        guard let target = URL(string: url) else {
            problems.append("\(url) is not a URL")
            return nil
        }
        do {
            let request: OCSPRequest, body: [UInt8]
            do {
                request = try OCSPRequest(certificate: certificate, issuer: issuer)
                body = try request.encoded()
            } catch {
                problems.append("could not make an OCSP request: \(error)")
                return nil
            }
            let der = try options.fetcher.fetch(.ocsp, url: target, body: body, timeout: options.timeout)
            guard
                let found = ocspEvidence(
                    response: der, source: "OCSP \(url)", certificate: certificate, issuer: issuer, trust: trust,
                    intermediates: intermediates, validationTime: validationTime, nonce: request, problems: &problems)
            else {
                return nil
            }
            if case .unknown = found.status {
                problems.append("OCSP \(url) does not know the certificate (status unknown)")
            } else {
                writeCache(kind: "ocsp", url: url, certificate: certificate, der: der)
            }
            return found
        } catch {
            let failure = "\(error)"
            state.withLock { $0.failedURLs[url] = failure }
            problems.append(failure)
            return nil
        }
    }

    /// The issuer certificates at an authorityInfoAccess caIssuers URL (DER, PEM, or a certs-only PKCS#7).
    func fetchIssuers(url: String, problems: inout [String]) -> [X509Certificate] {
        if let known = state.withLock({ $0.fetchedIssuers[url] }) { return known }
        var der = readCache(kind: "ca", url: url, certificate: nil)
        if der == nil, options.online, let target = URL(string: url), state.withLock({ $0.failedURLs[url] }) == nil {
            do {
                der = try options.fetcher.fetch(.caIssuers, url: target, body: nil, timeout: options.timeout)
            } catch {
                let failure = "\(error)"
                state.withLock { $0.failedURLs[url] = failure }
                problems.append(failure)
            }
        }
        guard let der else { return [] }
        let certificates = (try? CertificateFolder.parse(der, name: url)) ?? Self.pkcs7Certificates(der)
        if !certificates.isEmpty { writeCache(kind: "ca", url: url, certificate: nil, der: der) }
        state.withLock { $0.fetchedIssuers[url] = certificates }
        return certificates
    }

    private static func pkcs7Certificates(_ der: [UInt8]) -> [X509Certificate] {
        guard let structure = try? SignedDataStructure(der) else { return [] }
        return structure.certificates.compactMap { try? X509Certificate(der: Array($0)) }
    }

    private func cachePath(kind: String, url: String, certificate: X509Certificate?) -> String? {
        guard let folder = options.cacheDirectory else { return nil }
        // OCSP answers are per certificate; CRLs and CA certificates per URL.
        let key = SHA256Hasher.hash(Array(url.utf8) + (kind == "ocsp" ? certificate?.sha256Fingerprint ?? [] : []))
        return "\(folder)/revocation/\(kind)-\(Hex.encode(key.prefix(16))).der"
    }

    private func readCache(kind: String, url: String, certificate: X509Certificate?) -> [UInt8]? {
        guard let path = cachePath(kind: kind, url: url, certificate: certificate),
            let data = FileManager.default.contents(atPath: path)
        else { return nil }
        return Array(data)
    }

    private func writeCache(kind: String, url: String, certificate: X509Certificate?, der: [UInt8]) {
        guard let path = cachePath(kind: kind, url: url, certificate: certificate) else { return }
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try? AtomicFile.write(der, to: path, mode: 0o600)
    }
}
