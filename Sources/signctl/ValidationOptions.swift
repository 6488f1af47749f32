import ArgumentParser
import Foundation
import SignKit

/// The validation policy and the material given beside a signature: shared by `verify` and `history verify`
/// (docs/verification.md, "Validation policy").
struct ValidationOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            """
            How revocation is checked: require (default: every certificate below the anchor needs a usable CRL or OCSP \
            answer, else INDETERMINATE TRY_LATER), soft (a certificate that names no OCSP responder and no CRL \
            distribution point passes with a warning; one that names a source is still checked), off (not checked; the \
            report says so).
            """, valueName: "require|soft|off"))
    var revocation: RevocationMode = .require

    @Option(
        name: .customLong("policy"),
        help: ArgumentHelp(
            """
            A certificate policy OID of the initial policy set (RFC 5280 6.1.1 (c)); repeat for more. Default: \
            any-policy. The report names the policies that held.
            """, valueName: "oid"))
    var policies: [String] = []

    @Flag(name: .customLong("explicit-policy"), help: "Require the path to be valid for a policy of the initial set (RFC 5280 initial-explicit-policy).")
    var explicitPolicy = false

    @Flag(name: .customLong("inhibit-policy-mapping"), help: "Do not follow policy mappings (RFC 5280 initial-policy-mapping-inhibit).")
    var inhibitPolicyMapping = false

    @Flag(name: .customLong("inhibit-any-policy"), help: "anyPolicy in a certificate does not stand for every policy (RFC 5280 initial-any-policy-inhibit).")
    var inhibitAnyPolicy = false

    @Option(
        name: .customLong("certs"),
        help: ArgumentHelp(
            """
            A file of certificates (PEM or DER) to build paths with, beside those the signature carries; repeatable.
            """, valueName: "file"))
    var certificateFiles: [String] = []

    @Option(
        name: .customLong("crls"),
        help: ArgumentHelp(
            """
            A file of CRLs (PEM or DER) to judge revocation with, beside those the signature carries; repeatable.
            """, valueName: "file"))
    var crlFiles: [String] = []

    func validate() throws {
        for oid in policies where !VerificationPolicy.isObjectIdentifier(oid) {
            throw ValidationError("--policy takes a dotted OID such as 2.16.356.100.2.3, not \(oid)")
        }
    }

    /// The policy these options ask for, with `acceptSHA1`.
    func policy(acceptSHA1: Bool = false) -> VerificationPolicy {
        VerificationPolicy(
            acceptSHA1: acceptSHA1, revocation: revocation, initialPolicySet: policies, explicitPolicy: explicitPolicy,
            inhibitPolicyMapping: inhibitPolicyMapping, inhibitAnyPolicy: inhibitAnyPolicy)
    }

    /// The certificates and CRLs of --certs and --crls; an unreadable file is a usage error that names it.
    func adjunct() throws -> AdjunctMaterial {
        var material = AdjunctMaterial()
        do {
            for file in certificateFiles { material.certificates += try CertificateFolder.load(file: file) }
            for file in crlFiles { material.revocationData += try AdjunctMaterial.loadCRLs(file: file) }
        } catch {
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        return material
    }
}

extension RevocationMode: ExpressibleByArgument {}
