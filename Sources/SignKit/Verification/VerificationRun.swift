import Foundation

/// The checks on one signature, in the order of ETSI EN 319 102-1 (format, signer identification, cryptographic
/// verification, time, path, validity, constraints, revocation). Each finding is recorded; the verdict is the first
/// TOTAL-FAILED finding, else the first INDETERMINATE one, else TOTAL-PASSED.
struct Run {
    let verifier: Verifier
    let structure: SignedDataStructure
    let signer: SignerInfoStructure
    let policy: VerificationPolicy
    let validationTime: Date

    var checks: [Verdict.Check] = {
        var list = [Verdict.Check](); list.reserveCapacity(12); return list
    }()
    var warnings = [String]()
    var findings = [(SubIndication, String)]()
    var signerCertificate: X509Certificate?
    var chain = [X509Certificate]()
    var contentDigest: Verdict.ContentDigest?
    var signingTime: Verdict.SigningTimeEvidence?
    var timeStamp: Verdict.TimeStampSummary?
    var revocation = [Verdict.RevocationFinding]()
    var context: EOfficeContext?
    var commitment: String?
    var login: LoginBinding?
    var policiesHeld: [String]?
    let adjunct: Adjunct
    /// CRLs at hand that are out of date for this signature (not given to path validation), with their sources.
    var staleCRLs = [(crl: CertificateRevocationList, source: String)]()

    /// What came beside the signature for one verification (shared by its signers and their time-stamps).
    struct Adjunct {
        var certificates: [X509Certificate] = []
        var revocation = RevocationChecker.Supplied()
    }

    init(
        verifier: Verifier, structure: SignedDataStructure, signer: SignerInfoStructure, policy: VerificationPolicy, validationTime: Date,
        adjunct: Adjunct
    ) {
        self.verifier = verifier
        self.structure = structure
        self.signer = signer
        self.policy = policy
        self.validationTime = validationTime
        self.adjunct = adjunct
    }

    static let tstInfoType = OID("1.2.840.113549.1.9.16.1.4")
    static let signingCertificateV1 = OID("1.2.840.113549.1.9.16.2.12")
    static let signingCertificateV2 = OID(AttributeOID.signingCertificateV2)
    static let contentType = OID(AttributeOID.contentType)
    static let messageDigest = OID(AttributeOID.messageDigest)
    static let signingTimeOID = OID(AttributeOID.signingTime)
    static let algorithmProtection = OID(AttributeOID.cmsAlgorithmProtection)
    static let commitmentType = OID(AttributeOID.commitmentTypeIndication)
    static let eOfficeContext = OID(AttributeOID.eOfficeContext)
    static let loginOID = OID(AttributeOID.login)
    static let timeStampToken = OID(AttributeOID.signatureTimeStampToken)
    static let commitments = Dictionary(uniqueKeysWithValues: Commitment.allCases.map { (OID($0.oid), $0) })

    mutating func check(_ name: String, _ passed: Bool, _ detail: String) {
        checks.append(Verdict.Check(name: name, passed: passed, detail: detail))
    }

    mutating func find(_ subIndication: SubIndication, _ reason: String) {
        findings.append((subIndication, reason))
    }

    // MARK: The steps

    mutating func execute(content: SignedContent) throws(VerificationInputError) {
        // Algorithms.
        guard let digestAlgorithm = DigestAlgorithm(oid: signer.digestAlgorithm.oid) else {
            find(.cryptoConstraintsFailureNoPOE, "the digest algorithm \(signer.digestAlgorithm.oid) is not one this verifier knows")
            return
        }
        let signatureAlgorithm: CMSSignatureAlgorithm
        do {
            guard let known = try CMSSignatureAlgorithm(signer.signatureAlgorithm) else {
                find(
                    .cryptoConstraintsFailureNoPOE,
                    "the signature algorithm \(signer.signatureAlgorithm.oid) is not one this verifier knows (RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA and DSA are)")
                return
            }
            signatureAlgorithm = known
        } catch {
            find(.formatFailure, "the signature algorithm's parameters do not read: \(error.description)")
            return
        }
        if !signer.digestAlgorithm.hasNoParameters || (!signatureAlgorithm.takesParameters && !signer.signatureAlgorithm.hasNoParameters) {
            find(.formatFailure, "the digest or signature algorithm carries parameters where none (or NULL) are allowed")
        }
        if let named = signatureAlgorithm.digest, named != digestAlgorithm {
            find(.formatFailure, "the signature algorithm names \(named.rawValue) but the digest algorithm is \(digestAlgorithm.rawValue)")
        }

        // The content and its digest.
        let digest: [UInt8]
        switch content {
        case .embedded:
            guard let embedded = structure.eContent else {
                find(.signedDataNotFound, "the signature is detached and no content was given to check it against")
                return
            }
            digest = digestAlgorithm.hash(embedded)
            contentDigest = Verdict.ContentDigest(algorithm: digestAlgorithm.rawValue, hex: Hex.encode(digest), size: UInt64(embedded.count))
        case .bytes(let bytes):
            digest = digestAlgorithm.hash(bytes)
            contentDigest = Verdict.ContentDigest(algorithm: digestAlgorithm.rawValue, hex: Hex.encode(digest), size: UInt64(bytes.count))
            if let embedded = structure.eContent, !embedded.elementsEqual(bytes) {
                find(.hashFailure, "the content given differs from the content inside the signature")
            }
        case .file(let path):
            let size: UInt64
            do {
                (digest, size) = try digestAlgorithm.hash(fileAt: path)
            } catch {
                throw VerificationInputError("cannot read the content: \(error)")
            }
            contentDigest = Verdict.ContentDigest(algorithm: digestAlgorithm.rawValue, hex: Hex.encode(digest), size: size)
            if let embedded = structure.eContent, digestAlgorithm.hash(embedded) != digest {
                find(.hashFailure, "the content given differs from the content inside the signature")
            }
        }

        // Signed attributes: each once, the required ones present, the digest matching.
        let attributes = signer.signedAttributes
        var byOID = AttributeTable()
        if signer.signedAttributesDER != nil {
            for attribute in attributes {
                if byOID[attribute.oid] != nil {
                    find(.formatFailure, "the signed attribute \(Self.attributeName(attribute.oid)) appears more than once")
                }
                byOID[attribute.oid] = attribute
                if attribute.values.count != 1, attribute.oid != Self.commitmentType {
                    find(.formatFailure, "the signed attribute \(Self.attributeName(attribute.oid)) has \(attribute.values.count) values, not one")
                }
            }
            if let type = byOID[Self.contentType] {
                let value = try? type.values.first?.objectIdentifier("contentType")
                if value != structure.eContentType {
                    find(
                        .formatFailure,
                        "the contentType attribute (\(value?.description ?? "unreadable")) differs from the encapsulated content type \(structure.eContentType)"
                    )
                }
            } else {
                find(.formatFailure, "the signed attribute contentType is missing (RFC 5652 11.1 requires it)")
            }
            if let attribute = byOID[Self.messageDigest] {
                if let value = attribute.values.first, value.tag == 0x04 {
                    let matches = value.content.elementsEqual(digest)
                    check(
                        "message digest", matches,
                        matches
                            ? "the content's digest equals the signed messageDigest"
                            : "the content's digest differs from the signed messageDigest")
                    if !matches {
                        find(.hashFailure, "the content is not what was signed: its \(digestAlgorithm.rawValue) differs from the signed message digest")
                    }
                } else {
                    find(.formatFailure, "the messageDigest attribute is not an OCTET STRING")
                }
            } else {
                find(.formatFailure, "the signed attribute messageDigest is missing (RFC 5652 11.2 requires it)")
            }
        } else {
            warnings.append("the signature has no signed attributes: no signing time, no binding to the signer's certificate; it covers the content only")
            if structure.eContentType != SignedDataStructure.dataType {
                find(.formatFailure, "without signed attributes the content type must be id-data, not \(structure.eContentType)")
            }
        }

        // Who signed: the certificate the SignerInfo names.
        guard let certificate = findSignerCertificate() else {
            find(.noSigningCertificateFound, "the certificate the signature names is not in it (nor among the intermediates given)")
            return
        }
        signerCertificate = certificate

        // The signature value (a key that does not decode cannot say whether it holds).
        if case .other(let name) = certificate.publicKeyAlgorithm, name == "unreadable" {
            let reason =
                "the signer certificate's public key does not decode, so the signature cannot be checked (a DSA key whose parameters are inherited from its issuer, RFC 3279 2.3.2, is one OpenSSL 3 cannot use)"
            check("signature value", false, reason)
            find(.cryptoConstraintsFailureNoPOE, reason)
            return
        }
        let signedBytesDigest = signer.signedAttributesDER.map { digestAlgorithm.hash($0) } ?? digest
        let keyMatches: Bool
        switch (signatureAlgorithm.keyType, certificate.publicKeyAlgorithm) {
        case (.rsa, .rsa), (.ec, .ec), (.dsa, .dsa): keyMatches = true
        default: keyMatches = false
        }
        let signatureValid =
            keyMatches
            && certificate.verifySignature(
                signer.signature, digest: signedBytesDigest, algorithm: digestAlgorithm,
                scheme: signatureAlgorithm.scheme)
        let algorithmWords = "\(signatureAlgorithm.words) over \(digestAlgorithm.rawValue)"
        check(
            "signature value", signatureValid,
            signatureValid
                ? "the signature (\(algorithmWords)) verifies with the signer certificate's public key"
                : "the signature (\(algorithmWords)) does not verify with the signer certificate's public key")
        if !signatureValid {
            find(
                .sigCryptoFailure,
                keyMatches
                    ? "the signature value does not verify with the signer's public key (altered signature or attributes, or another key)"
                    : "the signature algorithm (\(signatureAlgorithm.keyType.rawValue)) does not fit the certificate's key (\(certificate.publicKeyAlgorithm))")
        }

        checkSigningCertificateAttribute(byOID, certificate: certificate)
        checkAlgorithmProtection(byOID)
        readContextAndCommitment(byOID)

        // Cryptographic strength.
        if digestAlgorithm.isWeak && !policy.acceptSHA1 {
            find(
                .cryptoConstraintsFailureNoPOE,
                "the signature uses SHA-1, which is broken and no longer accepted (a legacy signature; re-sign or judge it with other proof of its date)")
        }
        if case .rsa(let bits) = certificate.publicKeyAlgorithm, bits < policy.minimumRSABits {
            find(.cryptoConstraintsFailureNoPOE, "the signer's RSA key has \(bits) bits, fewer than the \(policy.minimumRSABits) required")
        }

        // When: the time-stamp's time, else the claimed signing time, else the validation time.
        let claimed = byOID[Self.signingTimeOID]?.values.first.flatMap { DERTime.date($0) }
        if byOID[Self.signingTimeOID] != nil && claimed == nil { find(.formatFailure, "the signingTime attribute does not read as a time") }
        var provenTime: Date? = nil
        if let token = signer.unsignedAttributes.first(where: { $0.oid == Self.timeStampToken })?.values.first {
            provenTime = checkTimeStamp(token.encoded)
        }
        if let provenTime {
            signingTime = Verdict.SigningTimeEvidence(
                time: provenTime, source: .timeStamp,
                explanation: "proven by an RFC 3161 time-stamp from \(timeStamp?.authority ?? "a TSA")")
            if let claimed, claimed.timeIntervalSince(provenTime) > 300 {
                warnings.append("the claimed signing time \(Self.format(claimed)) is after the time-stamp \(Self.format(provenTime))")
            }
        } else if let claimed {
            signingTime = Verdict.SigningTimeEvidence(
                time: claimed, source: .claimed,
                explanation: "claimed by the signer (signingTime attribute); no time-stamp proves it")
        } else {
            signingTime = Verdict.SigningTimeEvidence(
                time: validationTime, source: .validationTime,
                explanation: "the signature states no signing time; it is judged at the validation time")
        }
        let at = signingTime!.time

        // The path to a trust anchor, validated by OpenSSL at the signing time with the CRLs at hand.
        let untrusted = structure.certificates.compactMap { verifier.certificate($0) } + adjunct.certificates + verifier.intermediates
        var crls = revocationLists(for: [certificate] + untrusted, at: at)
        var problems = [String]()
        var path = verifier.validatePath(
            leaf: certificate, untrusted: untrusted, crls: crls.map(\.crl), at: at, validationTime: validationTime,
            policy: policy, problems: &problems)
        chain = path.chain
        EvidenceLog.note(path: path.chain)
        if let failure = path.failure {
            let extra = problems.isEmpty ? "" : " (\(problems.joined(separator: "; ")))"
            check("certification path", false, failure.reason + extra)
            find(failure.subIndication, failure.reason + extra)
        } else {
            check("certification path", true, "the path reaches a trust anchor")
            policiesHeld = path.policies
            if !policy.initialPolicySet.isEmpty || policy.explicitPolicy || !path.policies.isEmpty {
                check(
                    "certificate policies", true,
                    path.policies.isEmpty
                        ? "no certificate policy held on the path, and none was required"
                        : "held on the path: \(path.policies.joined(separator: ", "))")
            }
        }

        checkValidity(at: at, source: signingTime!.source)
        checkKeyUsage(certificate)
        if path.failure == nil && chain.count > 1 {
            checkRevocation(&path, crls: &crls, untrusted: untrusted, at: at, proven: provenTime != nil)
        }
    }

    // MARK: Steps in detail

    private func findSignerCertificate() -> X509Certificate? {
        switch signer.identifier {
        case .issuerAndSerial:
            if let slice = structure.certificates.first(where: { CertificateIdentity(in: structure.der, $0.indices)?.matches(signer.identifier) == true }) {
                return verifier.certificate(slice)
            }
            return verifier.intermediates.first { CertificateIdentity($0)?.matches(signer.identifier) == true }
        case .subjectKeyIdentifier(let id):
            let carried = structure.certificates.compactMap { verifier.certificate($0) }
            return (carried + verifier.intermediates).first { $0.subjectKeyIdentifier.map { id.elementsEqual($0) } == true }
        }
    }

    /// signingCertificateV2 (RFC 5035) or signingCertificate (RFC 2634): the first ESSCertID must name the signer.
    private mutating func checkSigningCertificateAttribute(_ byOID: AttributeTable, certificate: X509Certificate) {
        let v2 = byOID[Self.signingCertificateV2], v1 = byOID[Self.signingCertificateV1]
        guard let attribute = v2 ?? v1, let value = attribute.values.first else {
            if signer.signedAttributesDER != nil {
                warnings.append("no signing-certificate attribute: the signature is CMS, not CAdES; nothing in it binds the signer's certificate")
            }
            return
        }
        do {
            var outer = try value.children("SigningCertificate")
            var ids = try outer.expect(0x30, "certs").children("certs")
            var id = try ids.expect(0x30, "ESSCertID").children("ESSCertID")
            var algorithm = DigestAlgorithm.sha1
            if v2 != nil {
                algorithm = .sha256
                if id.peekTag == 0x30 {
                    let identifier = try AlgorithmIdentifier(try id.expect(0x30, "hashAlgorithm"), "ESSCertIDv2 hashAlgorithm")
                    guard let named = DigestAlgorithm(oid: identifier.oid) else {
                        find(.formatFailure, "the signing-certificate attribute uses an unknown hash \(identifier.oid)")
                        return
                    }
                    algorithm = named
                }
            }
            let hash = try id.expect(0x04, "certHash").content
            var serialMatches = true
            if let issuerSerial = try id.optional(0x30) {
                var parts = try issuerSerial.children("IssuerSerial")
                _ = try parts.expect(0x30, "issuer")
                let serial = try parts.expect(0x02, "serialNumber").content
                serialMatches = CertificateIdentity(certificate)?.serial.elementsEqual(serial) ?? false
            }
            let certificateHash = algorithm == .sha256 ? certificate.sha256Fingerprint : algorithm.hash(certificate.der)
            let matches = hash.elementsEqual(certificateHash) && serialMatches
            check(
                "signing certificate", matches,
                matches
                    ? (v2 != nil
                        ? "the signed signingCertificateV2 names the signer's certificate"
                        : "the signed signingCertificate (SHA-1) names the signer's certificate")
                    : "the signed signing-certificate attribute names another certificate")
            if !matches {
                find(.noSigningCertificateFound, "the signed signing-certificate attribute names a different certificate from the one that signed")
            }
        } catch {
            find(.formatFailure, "the signing-certificate attribute does not read: \(error.description)")
        }
    }

    /// CMSAlgorithmProtection (RFC 6211): the algorithms signed must be the ones the SignerInfo names.
    private mutating func checkAlgorithmProtection(_ byOID: AttributeTable) {
        guard let value = byOID[Self.algorithmProtection]?.values.first else { return }
        do {
            var fields = try value.children("CMSAlgorithmProtection")
            let digest = try AlgorithmIdentifier(try fields.expect(0x30, "digestAlgorithm"), "CMSAlgorithmProtection digestAlgorithm")
            var signatureMatches = true
            if let signature = try fields.optional(0xA1) {
                var inner = try signature.children("signatureAlgorithm [1]")
                let oid = try inner.expect(0x06, "algorithm").objectIdentifier("CMSAlgorithmProtection signatureAlgorithm")
                signatureMatches = oid == signer.signatureAlgorithm.oid
            } else {
                signatureMatches = false
            }
            let matches = digest.oid == signer.digestAlgorithm.oid && signatureMatches
            check(
                "algorithm protection", matches,
                matches
                    ? "the signed CMSAlgorithmProtection names the algorithms used"
                    : "the signed CMSAlgorithmProtection names other algorithms than the SignerInfo")
            if !matches { find(.formatFailure, "CMSAlgorithmProtection does not match the SignerInfo's algorithms (an algorithm substitution)") }
        } catch {
            find(.formatFailure, "the CMSAlgorithmProtection attribute does not read: \(error.description)")
        }
    }

    private mutating func readContextAndCommitment(_ byOID: AttributeTable) {
        if let value = byOID[Self.eOfficeContext]?.values.first {
            context = EOfficeContext(der: Array(value.encoded))
            if context == nil { find(.formatFailure, "the e-Office context attribute does not read") }
        }
        if let value = byOID[Self.commitmentType]?.values.first {
            var fields = try? value.children("CommitmentTypeIndication")
            if let oid = try? fields?.expect(0x06, "commitmentTypeId").objectIdentifier("commitmentTypeId") {
                commitment = Self.commitments[oid]?.rawValue ?? oid.description
            }
        }
        if let value = byOID[Self.loginOID]?.values.first {
            login = LoginBinding(der: Array(value.encoded))
            if login == nil { find(.formatFailure, "the SignService login attribute does not read") }
        }
        if byOID[Self.loginOID] != nil, byOID[Self.eOfficeContext] != nil {
            find(.formatFailure, "the signature carries both a SignService login and an e-Office context; a signature is one or the other")
        }
    }

    /// The signature time-stamp: a CMS SignedData over TSTInfo whose imprint is the hash of this signature value.
    /// Returns the time it proves, nil when it does not hold (recorded as a finding).
    private mutating func checkTimeStamp(_ token: ArraySlice<UInt8>) -> Date? {
        func fail(_ reason: String) -> Date? {
            check("time-stamp", false, reason)
            find(.sigConstraintsFailure, "the signature time-stamp does not hold: \(reason)")
            return nil
        }
        let structure: SignedDataStructure
        do { structure = try SignedDataStructure(Array(token)) } catch { return fail("it does not read: \(error.description)") }
        guard structure.eContentType == Self.tstInfoType, let info = structure.eContent, let tsaSigner = structure.signers.first else {
            return fail("it is not a time-stamp token (no TSTInfo)")
        }
        let tst: TSTInfo
        do { tst = try TSTInfo(info) } catch { return fail("its TSTInfo does not read: \(error.description)") }
        guard let imprintAlgorithm = DigestAlgorithm(oid: tst.imprintAlgorithm) else { return fail("unknown imprint hash \(tst.imprintAlgorithm)") }
        guard tst.imprint.elementsEqual(imprintAlgorithm.hash(signer.signature)) else {
            return fail("its message imprint is not the hash of this signature value (a time-stamp of something else)")
        }
        // The TSA's signature over the TSTInfo, with the same checks as any SignerInfo.
        var tsaPolicy = policy  // the signer's certificate policy inputs are not the TSA's
        (tsaPolicy.initialPolicySet, tsaPolicy.explicitPolicy, tsaPolicy.inhibitPolicyMapping, tsaPolicy.inhibitAnyPolicy) = ([], false, false, false)
        var inner = Run(
            verifier: verifier, structure: structure, signer: tsaSigner, policy: tsaPolicy, validationTime: validationTime,
            adjunct: adjunct)
        try? inner.execute(content: .embedded)
        let authority = inner.signerCertificate?.subject.commonName ?? "an unidentified TSA"
        let innerFailure = inner.findings.first
        let timeStamping = inner.signerCertificate?.extendedKeyUsage.contains("1.3.6.1.5.5.7.3.8") ?? false
        var detail = "genTime \(Self.format(tst.genTime)), serial \(Hex.encode(tst.serial)), TSA \(authority)"
        var valid = innerFailure == nil && timeStamping
        if !timeStamping && innerFailure == nil { detail += "; the TSA certificate lacks the timeStamping extended key usage" }
        if let innerFailure { detail += "; " + innerFailure.1 }
        if inner.signingTime?.source == .claimed, let claimedByTSA = inner.signingTime?.time, abs(claimedByTSA.timeIntervalSince(tst.genTime)) > 300 {
            valid = false
            detail += "; the TSA's signing time differs from its genTime"
        }
        let tsaStatus = inner.signerCertificate.flatMap { certificate in
            inner.revocation.first { $0.certificate == (certificate.subject.commonName ?? certificate.subject.description) }
        }
        if let tsaStatus { detail += "; the TSA's certificate: \(tsaStatus.status.rawValue)" + (tsaStatus.source.map { " (\($0))" } ?? "") }
        timeStamp = Verdict.TimeStampSummary(
            time: tst.genTime, authority: authority, serialNumber: Hex.encode(tst.serial),
            policy: tst.policy.description, valid: valid, detail: detail, certificateStatus: tsaStatus?.status)
        revocation += inner.revocation.map { finding in
            var finding = finding
            finding.certificate = "TSA: " + finding.certificate
            return finding
        }
        guard valid else { return fail(detail) }
        check("time-stamp", true, detail)
        return tst.genTime
    }

    private mutating func checkValidity(at time: Date, source: Verdict.SigningTimeEvidence.Source) {
        var allValid = true
        for (index, certificate) in chain.enumerated() {
            // Named only when something is wrong: building the words for every signature costs.
            var role: String {
                index == 0 ? "the signer's certificate" : "the CA certificate \"\(certificate.subject.commonName ?? certificate.subject.description)\""
            }
            if time > certificate.notAfter {
                allValid = false
                if source == .validationTime {
                    find(.outOfBoundsNoPOE, "\(role) expired on \(Self.format(certificate.notAfter)) and nothing proves the signature was made before")
                } else {
                    find(.expired, "\(role) had expired on \(Self.format(certificate.notAfter)), before the signing time \(Self.format(time))")
                }
            } else if time < certificate.notBefore {
                allValid = false
                find(.notYetValid, "\(role) was not yet valid at the signing time \(Self.format(time)) (valid from \(Self.format(certificate.notBefore)))")
            }
        }
        check(
            "validity at signing time", allValid,
            allValid
                ? "every certificate on the path was valid at the signing time"
                : "a certificate on the path was outside its validity at the signing time")
    }

    private mutating func checkKeyUsage(_ certificate: X509Certificate) {
        guard let usage = certificate.keyUsage else {
            check("key usage", true, "no keyUsage extension (any use allowed)")
            return
        }
        if usage.contains(.nonRepudiation) || usage.contains(.digitalSignature) {
            check("key usage", true, usage.contains(.nonRepudiation) ? "nonRepudiation (content commitment)" : "digitalSignature")
            return
        }
        let encryptionOnly = usage.contains(.keyEncipherment) || usage.contains(.dataEncipherment) || usage.contains(.keyAgreement)
        let reason =
            encryptionOnly
            ? "the signer's certificate is for encryption or key agreement only (keyUsage \(usage.names.joined(separator: ", "))), not for signing"
            : "the signer's certificate allows neither digitalSignature nor nonRepudiation (keyUsage \(usage.names.joined(separator: ", ")))"
        check("key usage", false, reason)
        find(.chainConstraintsFailure, reason)
    }

    /// The CRLs at hand for a path among `certificates`: carried in the signature, given beside it, and those of the
    /// certificates' distribution points already fetched in this run or cached. Each once, with where it came from.
    /// Only usable ones are given to path validation (current at the validation time, or issued after the signing
    /// time: `RevocationEvidence.isUsable`); the others are kept in `staleCRLs` for the report.
    private mutating func revocationLists(for certificates: [X509Certificate], at time: Date) -> [(crl: CertificateRevocationList, source: String)] {
        guard policy.revocation != .off else { return [] }
        let seconds = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))  // as path validation sees it
        var list = [(crl: CertificateRevocationList, source: String)]()
        let known = verifier.revocation.knownCRLs(for: certificates)  // each CRL once
        if structure.crls.isEmpty && adjunct.revocation.crls.isEmpty {  // the usual case: nothing to merge
            for (crl, source) in known {
                if RevocationEvidence.isUsable(thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, signingTime: seconds, validationTime: validationTime) {
                    list.append((crl, source))
                } else {
                    staleCRLs.append((crl, source))
                }
            }
            return list
        }
        var seen = Set<ObjectIdentifier>()
        func add(_ crl: CertificateRevocationList?, _ source: String) {
            guard let crl, seen.insert(ObjectIdentifier(crl)).inserted else { return }
            if RevocationEvidence.isUsable(thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, signingTime: seconds, validationTime: validationTime) {
                list.append((crl, source))
            } else {
                staleCRLs.append((crl, source))
            }
        }
        for der in structure.crls { add(verifier.revocation.crl(der: der), "CRL carried with the signature") }
        for der in adjunct.revocation.crls { add(verifier.revocation.crl(der: der), "CRL given beside the signature") }
        for (crl, source) in known { add(crl, source) }
        return list
    }

    /// Revocation of each certificate below the anchor: its CRL status as OpenSSL judged it; where no CRL gives one,
    /// OCSP, then (online) the CRLs of its distribution points, after which the path is validated again with them.
    private mutating func checkRevocation(
        _ path: inout PathValidation, crls: inout [(crl: CertificateRevocationList, source: String)],
        untrusted: [X509Certificate], at time: Date, proven: Bool
    ) {
        if policy.revocation == .off {
            check("revocation", true, "not checked: the validation policy turns revocation checking off (--revocation off)")
            warnings.append("revocation was not checked (revocation off): a revoked certificate on the path would not be noticed")
            return
        }
        var supplied: RevocationChecker.Supplied {  // only where OCSP is asked
            RevocationChecker.Supplied(
                crls: structure.crls + adjunct.revocation.crls,
                ocspResponses: structure.ocspResponses + adjunct.revocation.ocspResponses)
        }
        var intermediates: [X509Certificate] { Array(chain.dropFirst()) }
        revocation.reserveCapacity(revocation.count + chain.count)
        var depth = 0
        while depth < min(path.crlStatus.count, chain.count - 1) {
            let certificate = chain[depth], issuer = chain[depth + 1]
            if verifier.trust.isAnchor(certificate) { break }
            let name = certificate.subject.commonName ?? certificate.subject.description
            var problems = [String]()
            switch path.crlStatus[depth] {
            case .notChecked:
                break
            case .good(let used):
                for crl in used { EvidenceLog.note(revocation: crl.der) }
                let newest = used.count == 1 ? used[0] : used.max { $0.thisUpdate < $1.thisUpdate }!
                func source(_ crl: CertificateRevocationList) -> String {
                    crls.first { $0.crl === crl }?.source ?? "CRL of \(crl.issuer.description)"
                }
                var sources = used.count == 1 ? source(used[0]) : ""
                if used.count > 1 {
                    var names = [String]()
                    for crl in used where !names.contains(source(crl)) { names.append(source(crl)) }
                    sources = names.joined(separator: " + ")
                }
                revocation.append(
                    Verdict.RevocationFinding(
                        certificate: name, status: .good, source: sources,
                        producedAt: newest.thisUpdate, revokedAt: nil, reason: nil,
                        detail: used.count == 1 ? newest.notRevokedText : "\(newest.notRevokedText) (\(used.count) CRLs)"))
            case .revoked(let crl, let date, let code):
                EvidenceLog.note(revocation: crl.der)
                let source = crls.first { $0.crl === crl }?.source ?? "CRL of \(crl.issuer.description)"
                judgeRevocation(
                    name: name, depth: depth, source: source, producedAt: crl.thisUpdate, revokedAt: date, code: code, at: time,
                    proven: proven)
            case .unavailable(let noCRL, let errors):
                if let evidence = verifier.revocation.ocspEvidence(
                    for: certificate, issuer: issuer, trust: verifier.trust,
                    intermediates: intermediates, supplied: supplied, signingTime: time,
                    validationTime: validationTime, problems: &problems)
                {
                    EvidenceLog.note(revocation: evidence.der)
                    switch evidence.status {
                    case .good:
                        revocation.append(evidence.goodFinding(name: name))
                    case .unknown:
                        revocation.append(
                            Verdict.RevocationFinding(
                                certificate: name, status: .unknown, source: evidence.source,
                                producedAt: evidence.thisUpdate, revokedAt: nil, reason: nil,
                                detail: "the responder does not know the certificate"))
                        find(.tryLater, "the revocation status of \"\(name)\" is unknown to \(evidence.source)")
                    case .revoked(let revokedAt, let code):
                        judgeRevocation(
                            name: name, depth: depth, source: evidence.source, producedAt: evidence.thisUpdate, revokedAt: revokedAt,
                            code: code, at: time, proven: proven)
                    }
                    break
                }
                // The CRLs of its distribution points: at hand (fetched for another signature, or cached) but not given
                // yet (a certificate of the path that the signature did not carry), else fetched now.
                let seconds = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
                func usableNew(_ found: [(crl: CertificateRevocationList, source: String)]) -> [(crl: CertificateRevocationList, source: String)] {
                    var usable = [(crl: CertificateRevocationList, source: String)]()
                    for entry in found where !crls.contains(where: { $0.crl === entry.crl }) && !staleCRLs.contains(where: { $0.crl === entry.crl }) {
                        if RevocationEvidence.isUsable(
                            thisUpdate: entry.crl.thisUpdate, nextUpdate: entry.crl.nextUpdate, signingTime: seconds,
                            validationTime: validationTime)
                        {
                            usable.append(entry)
                        } else {
                            staleCRLs.append(entry)
                        }
                    }
                    return usable
                }
                var fetched = usableNew(verifier.revocation.knownCRLs(for: certificate))
                if fetched.isEmpty { fetched = usableNew(verifier.revocation.fetchCRLs(for: certificate, problems: &problems)) }
                if !fetched.isEmpty {
                    // New CRLs: validate the path again with them and judge this certificate anew.
                    crls += fetched
                    var more = [String]()
                    let again = verifier.validatePath(
                        leaf: chain[0], untrusted: untrusted, crls: crls.map(\.crl), at: time,
                        validationTime: validationTime, policy: policy, problems: &more)
                    if let failure = again.failure {
                        find(failure.subIndication, failure.reason)
                        return
                    }
                    path = again
                    EvidenceLog.note(path: again.chain)
                    continue
                }
                let names = !verifier.revocation.crlURLs(of: certificate).isEmpty || !certificate.ocspURLs.isEmpty
                if policy.revocation == .soft && noCRL && !names {
                    let detail =
                        "not checked: the certificate names no OCSP responder and no CRL distribution point, and no CRL at hand covers it (revocation soft)"
                    revocation.append(
                        Verdict.RevocationFinding(
                            certificate: name, status: .unknown, source: nil, producedAt: nil, revokedAt: nil,
                            reason: nil, detail: detail))
                    warnings.append("the revocation status of \"\(name)\" was not checked: it names no source of revocation data (revocation soft)")
                    break
                }
                var all = [String]()
                for event in errors where event.kind != .noCRL {
                    let source = event.crl.map { crl in crls.first { $0.crl === crl }?.source ?? "CRL of \(crl.issuer.description)" }
                    let words = (source.map { "\($0): " } ?? "") + (event.inCRLIssuerPath ? "the path of the CRL's issuer: " : "") + event.detail
                    if !all.contains(words) { all.append(words) }
                }
                if noCRL { all.insert("no CRL at hand covers it", at: 0) }
                for (crl, source) in staleCRLs where crl.issuer == certificate.issuer {
                    all.append("\(source) is out of date (this update \(Self.format(crl.thisUpdate)))")
                }
                all += problems
                if !names { all.append("the certificate names no OCSP responder and no CRL distribution point") }
                let detail = "no usable revocation data: " + (all.isEmpty ? "none found" : all.joined(separator: "; "))
                revocation.append(
                    Verdict.RevocationFinding(
                        certificate: name, status: .unknown, source: nil, producedAt: nil, revokedAt: nil,
                        reason: nil, detail: detail))
                find(.tryLater, "the revocation status of \"\(name)\" cannot be established now: \(detail)")
            }
            depth += 1
        }
        let clean =
            revocation.allSatisfy { $0.status != .revoked || ($0.revokedAt ?? .distantPast) > time }
            && !findings.contains { $0.0 == .tryLater }
        check("revocation", clean, clean ? "no certificate on the path was revoked at the signing time" : "see the revocation findings")
    }

    /// A revocation found on a CRL or in an OCSP response, judged against the signing time (IT Act s.73).
    private mutating func judgeRevocation(
        name: String, depth: Int, source: String, producedAt: Date, revokedAt: Date, code: Int?, at time: Date,
        proven: Bool
    ) {
        let reason = RevocationReason.name(code)
        var finding = Verdict.RevocationFinding(
            certificate: name, status: .revoked, source: source, producedAt: producedAt,
            revokedAt: revokedAt, reason: reason, detail: "")
        let reasonText = reason.map { " (\($0))" } ?? ""
        if revokedAt <= time {
            finding.detail = "revoked on \(Self.format(revokedAt))\(reasonText), before the signing time"
            if depth == 0 {
                find(
                    .revoked,
                    "the signer's certificate was revoked on \(Self.format(revokedAt))\(reasonText), before the signature was made (\(Self.format(time)))")
            } else {
                find(.revokedCANoPOE, "the CA certificate \"\(name)\" was revoked on \(Self.format(revokedAt))\(reasonText), before the signing time")
            }
        } else if proven || !Self.compromise(code) {
            finding.detail =
                "revoked on \(Self.format(revokedAt))\(reasonText), after the signature \(proven ? "proven by time-stamp" : "claimed") at \(Self.format(time)); a revocation after signing does not undo the signature (IT Act s.73)"
            warnings.append("\"\(name)\" was revoked on \(Self.format(revokedAt))\(reasonText), after this signature was made")
        } else {
            finding.detail = "revoked on \(Self.format(revokedAt))\(reasonText); the signature claims an earlier time but nothing proves it"
            find(
                depth == 0 ? .revokedNoPOE : .revokedCANoPOE,
                "\"\(name)\" was revoked for \(reason ?? "compromise") on \(Self.format(revokedAt)); the signature claims to be older, but without a time-stamp a holder of the compromised key could have back-dated it"
            )
        }
        revocation.append(finding)
    }

    /// Reasons under which a claimed time cannot be trusted after the revocation.
    private static func compromise(_ code: Int?) -> Bool {
        guard let code else { return true }
        return [0, 1, 2, 10].contains(code)
    }

    // MARK: The verdict

    func verdict() -> Verdict {
        let failed = findings.first { $0.0.indication == .totalFailed }
        let chosen = failed ?? findings.first
        let indication = chosen?.0.indication ?? .totalPassed
        let certificate = signerCertificate
        let name = certificate?.subject.commonName ?? "an unidentified signer"
        let signerSummary = certificate.map { verifier.signerSummary(of: $0) }
        let kind = signerSummary?.kind ?? .unknown
        let summary: String
        switch indication {
        case .totalPassed:
            let when =
                signingTime.map {
                    "\(Self.format($0.time)) (\($0.source == .timeStamp ? "proven by time-stamp" : $0.source == .claimed ? "claimed" : "not stated"))"
                } ?? ""
            summary = "Valid: signed by \(name), \(kind.words), at \(when); the content is exactly what was signed."
        case .totalFailed:
            summary = "Not valid: \(chosen!.1)."
        case .indeterminate:
            summary = "Cannot be confirmed: \(chosen!.1)."
        }
        var allWarnings = warnings
        for (subIndication, reason) in findings.dropFirst() where subIndication.rawValue != chosen?.0.rawValue || reason != chosen?.1 {
            allWarnings.append("also \(subIndication.rawValue): \(reason)")
        }
        var verdict = Verdict(
            indication: indication, subIndication: chosen?.0, summary: summary,
            signer: signerSummary, signingTime: signingTime, content: contentDigest,
            chain: chain.map { verifier.summary(of: $0) }, revocation: revocation,
            timeStamp: timeStamp, context: context, commitment: commitment, checks: checks, warnings: allWarnings,
            validationTime: validationTime, verifier: Verifier.name)
        verdict.login = login
        verdict.validationPolicy = Verdict.ValidationPolicySummary(
            revocation: policy.revocation, initialPolicySet: policy.initialPolicySet.isEmpty ? [VerificationPolicy.anyPolicy] : policy.initialPolicySet,
            explicitPolicy: policy.explicitPolicy, inhibitPolicyMapping: policy.inhibitPolicyMapping, inhibitAnyPolicy: policy.inhibitAnyPolicy,
            policiesHeld: policiesHeld)
        return verdict
    }

    static func signerSummary(_ certificate: X509Certificate, kind: SignerKind) -> Verdict.SignerSummary {
        Verdict.SignerSummary(
            name: certificate.subject.commonName ?? certificate.subject.description, subject: certificate.subject.description,
            issuer: certificate.issuer.description, serialNumber: certificate.serialNumberHex,
            sha256Fingerprint: Hex.encode(certificate.sha256Fingerprint), kind: kind, kindDescription: kind.words,
            policies: certificate.policies, keyUsage: certificate.keyUsage?.names ?? [], publicKey: certificate.publicKeyAlgorithm.description,
            notBefore: certificate.notBefore, notAfter: certificate.notAfter)
    }

    static func certificateSummary(_ certificate: X509Certificate, anchor: Bool) -> Verdict.CertificateSummary {
        Verdict.CertificateSummary(
            subject: certificate.subject.description, issuer: certificate.issuer.description,
            serialNumber: certificate.serialNumberHex, sha256Fingerprint: Hex.encode(certificate.sha256Fingerprint),
            notBefore: certificate.notBefore, notAfter: certificate.notAfter, trustAnchor: anchor)
    }

    static func attributeName(_ oid: OID) -> String {
        let names: [OID: String] = [
            contentType: "contentType", messageDigest: "messageDigest", signingTimeOID: "signingTime",
            signingCertificateV2: "signingCertificateV2", signingCertificateV1: "signingCertificate",
            algorithmProtection: "CMSAlgorithmProtection", commitmentType: "commitment-type-indication",
            eOfficeContext: "e-Office context", loginOID: "SignService login",
        ]
        return names[oid] ?? oid.description
    }

    static func format(_ date: Date) -> String { UTCTimeText.format(date) }
}

/// TSTInfo (RFC 3161 2.4.2): the fields verification uses.
///
/// ```
/// TSTInfo ::= SEQUENCE { version INTEGER, policy TSAPolicyId, messageImprint MessageImprint,
///     serialNumber INTEGER, genTime GeneralizedTime, accuracy Accuracy OPTIONAL, ordering BOOLEAN DEFAULT FALSE,
///     nonce INTEGER OPTIONAL, tsa [0] GeneralName OPTIONAL, extensions [1] IMPLICIT Extensions OPTIONAL }
/// MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
/// ```
struct TSTInfo {
    let policy: OID
    let imprintAlgorithm: OID
    let imprint: ArraySlice<UInt8>
    let serial: ArraySlice<UInt8>
    let genTime: Date

    init(_ der: ArraySlice<UInt8>) throws(DERError) {
        var outer = DERScanner(der, what: "TSTInfo")
        var fields = try outer.expect(0x30, "TSTInfo").children("TSTInfo")
        _ = try fields.expect(0x02, "version")
        policy = try fields.expect(0x06, "policy").objectIdentifier("TSTInfo policy")
        var imprintFields = try fields.expect(0x30, "messageImprint").children("messageImprint")
        imprintAlgorithm = try AlgorithmIdentifier(try imprintFields.expect(0x30, "hashAlgorithm"), "messageImprint hashAlgorithm").oid
        imprint = try imprintFields.expect(0x04, "hashedMessage").content
        serial = try fields.expect(0x02, "serialNumber").content
        guard let time = DERTime.date(try fields.expect(0x18, "genTime")) else { throw DERError("TSTInfo genTime does not read") }
        genTime = time
    }
}

/// UTCTime and GeneralizedTime (X.680), as RFC 5280 and RFC 3161 restrict them: Z, seconds, optional fraction.
enum DERTime {
    static func date(_ element: DERElement) -> Date? {
        let bytes = element.content
        guard bytes.last == UInt8(ascii: "Z") else { return nil }
        var numbers = [Int]()
        numbers.reserveCapacity(14)
        var fraction = 0.0, scale = 0.1, inFraction = false
        for byte in bytes.dropLast() {
            if byte == UInt8(ascii: ".") || byte == UInt8(ascii: ",") {
                guard !inFraction else { return nil }
                inFraction = true
                continue
            }
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            if inFraction {
                fraction += Double(byte - 0x30) * scale
                scale /= 10
            } else {
                numbers.append(Int(byte - 0x30))
            }
        }
        func value(_ from: Int, _ count: Int) -> Int { numbers[from..<from + count].reduce(0) { $0 * 10 + $1 } }
        var parts = tm()
        switch (element.tag, numbers.count) {
        case (0x17, 12):
            let year = value(0, 2)
            parts.tm_year = Int32((year >= 50 ? 1900 + year : 2000 + year) - 1900)
            parts.tm_mon = Int32(value(2, 2) - 1); parts.tm_mday = Int32(value(4, 2))
            parts.tm_hour = Int32(value(6, 2)); parts.tm_min = Int32(value(8, 2)); parts.tm_sec = Int32(value(10, 2))
        case (0x18, 14):
            parts.tm_year = Int32(value(0, 4) - 1900)
            parts.tm_mon = Int32(value(4, 2) - 1); parts.tm_mday = Int32(value(6, 2))
            parts.tm_hour = Int32(value(8, 2)); parts.tm_min = Int32(value(10, 2)); parts.tm_sec = Int32(value(12, 2))
        default:
            return nil
        }
        guard (0...11).contains(parts.tm_mon), (1...31).contains(parts.tm_mday), parts.tm_hour < 24, parts.tm_min < 60,
            parts.tm_sec < 61
        else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(CivilTime.secondsSinceEpoch(parts)) + fraction)
    }
}

/// The signed attributes by type: a handful, so a linear scan beats hashing.
struct AttributeTable {
    private var entries = [CMSAttribute]()

    subscript(oid: OID) -> CMSAttribute? {
        get { entries.first { $0.oid == oid } }
        set {
            entries.removeAll { $0.oid == oid }
            if let newValue { entries.append(newValue) }
        }
    }
}
