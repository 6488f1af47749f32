import ArgumentParser
import CPKCS
import Foundation
import SignKit

/// Signatures verified per second on one core, beside the limit measured in the same run: one SHA-256 over the
/// extract plus one RSA-2048 verification (an in-process loop with a prepared OpenSSL context).
struct VerifyRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verifier throughput (full checks, TOTAL-PASSED each) beside SHA-256 + RSA-2048 verify per second.",
        discussion: """
            Signatures are made first (TestCerts officer-rsa key, chain embedded) over distinct small extracts; \
            then one Verifier checks them round-robin: structure, digest, signature, signing certificate, path \
            (built once per signer), validity, key usage, revocation (fetched once from the rig's OCSP responder \
            and CRL server, then reused). Needs the rig: scripts/rig.sh up.
            """)

    @OptionGroup var rounds: RoundOptions

    @Option(name: .customLong("signatures"), help: "Distinct signatures verified round-robin.")
    var signatureCount = 200

    @Option(name: .customLong("extract-bytes"), help: "Size of each extract.")
    var extractBytes = 2048

    @Option(name: .customLong("profile-seconds"), help: "Only run the verifier for this long (for perf record), no comparison.")
    var profileSeconds: Double?

    @Option(name: .customLong("profile-count"), help: "Only run this many verifications (for perf stat), no comparison.")
    var profileCount: Int?

    @Option(name: .customLong("test-certs"), help: "The TestCerts folder.")
    var testCerts = FileManager.default.currentDirectoryPath + "/TestCerts"

    func run() throws {
        let certificate = try CertificateFolder.load(file: "\(testCerts)/certs/officer-rsa.crt")[0]
        let chain = try CertificateFolder.load(file: "\(testCerts)/ca/chain-individual.pem")
        let key = try PrivateKey(pemFile: "\(testCerts)/keys/officer-rsa.key")
        var extracts = [[UInt8]](), signatures = [[UInt8]]()
        for index in 0..<signatureCount {
            var extract = (0..<extractBytes).map { UInt8(truncatingIfNeeded: 32 + $0 % 90) }
            withUnsafeBytes(of: UInt64(index)) { extract.replaceSubrange(0..<8, with: $0) }
            let parameters = SignatureParameters(
                context: EOfficeContext(fileNumber: "DIT-12/3/2026-IT", noteID: "N-\(index)"),
                commitment: .proofOfOrigin, signingTime: Date(), chain: chain)
            signatures.append(
                try CAdES.signDetached(
                    contentDigest: SHA256Hasher.hash(extract), certificate: certificate,
                    parameters: parameters
                ) { TokenSignature(algorithm: .sha256WithRSAEncryption, bytes: try key.sign($0)) })
            extracts.append(extract)
        }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("signbench-cache-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let verifier = Verifier(
            trust: try TrustStore.load(directory: "\(testCerts)/trust"),
            revocation: RevocationChecker(options: RevocationOptions(online: true, cacheDirectory: cache, timeout: 3)))
        let now = Date()
        let first = try verifier.verify(signature: signatures[0], content: .bytes(extracts[0]), at: now)
        guard first.indication == .totalPassed else {
            throw ValidationError("the first signature is \(first.indication.rawValue): \(first.summary) (is the rig up?)")
        }

        if let profileCount {
            for index in 0..<profileCount {
                _ = try verifier.verify(signature: signatures[index % signatureCount], content: .bytes(extracts[index % signatureCount]), at: now)
            }
            return
        }
        if let profileSeconds {
            var index = 0
            let rate = try Bench.measure(seconds: profileSeconds) {
                _ = try verifier.verify(signature: signatures[index % signatureCount], content: .bytes(extracts[index % signatureCount]), at: now)
                index += 1
            }
            print(String(format: "verify/s: %.1f", rate))
            return
        }

        // The limit: SHA-256 of the extract and one RSA-2048 verification, nothing else.
        let signatureValues = try signatures.map { try CMSSignedData(der: $0).signatureValue() }
        let attributeDigests = try signatures.map { try SHA256Hasher.hash(CMSSignedData(der: $0).signedAttributesDER()) }
        var next = 0, failures = 0
        print(
            "signatures: \(signatureCount) over \(extractBytes)-byte extracts, signer \(certificate.subject.commonName ?? "?") (RSA-2048), "
                + ".p7s \(signatures[0].count) bytes; \(rounds.count) rounds of \(rounds.seconds) s per side, interleaved, one thread")
        try Bench.interleave(
            rounds, reference: "SHA256+RSAvfy/s",
            {
                let index = next % signatureCount
                next += 1
                _ = SHA256Hasher.hash(extracts[index])
                if !certificate.verifySignature(signatureValues[index], digest: attributeDigests[index], algorithm: .sha256) { failures += 1 }
            }, measured: "verify/s",
            {
                let index = next % signatureCount
                next += 1
                let verdict = try verifier.verify(signature: signatures[index], content: .bytes(extracts[index]), at: now)
                if verdict.indication != .totalPassed { failures += 1 }
            }, ratio: "verify/limit", target: 0.5)
        guard failures == 0 else { throw ValidationError("\(failures) verifications did not pass") }
    }
}

/// A PEM private key signing SHA-256 with OpenSSL: makes the benchmark's signatures without a token.
final class PrivateKey: @unchecked Sendable {  // immutable after init; OpenSSL signing with one EVP_PKEY is thread-safe
    private let key: OpaquePointer  // EVP_PKEY*, owned

    init(pemFile: String) throws {
        guard let bio = BIO_new_file(pemFile, "r") else { throw ValidationError("cannot open \(pemFile)") }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { throw ValidationError("\(pemFile) is not a PEM key") }
        self.key = key
    }

    deinit { EVP_PKEY_free(key) }

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw ValidationError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var length = 0
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1,
            EVP_DigestSign(context, nil, &length, message, message.count) == 1
        else { throw ValidationError("EVP_DigestSign") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { throw ValidationError("EVP_DigestSign") }
        return Array(signature.prefix(length))
    }
}
