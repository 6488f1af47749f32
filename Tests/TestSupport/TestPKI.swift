import Foundation
import SignKit

/// A throwaway PKI made with the openssl command line for one test: roots, CAs and signers with exactly the
/// defects a case needs (a pathLen broken, a CA without cA, an unreachable OCSP responder), and CRLs published
/// through the rig's CRL server (`$SIGNSERVICE_RIG/www/crl/`).
public final class TestPKI {
    public let folder: TemporaryFolder
    /// Unique per PKI, so CRL file names and caches never meet another test's.
    public let name = "pki-" + UUID().uuidString.prefix(8).lowercased()

    public struct Issued {
        public let name: String
        public let certificatePath: String
        public let keyPath: String
        public let certificate: X509Certificate
        public var key: SoftwareKey { get throws { try SoftwareKey(pemFile: keyPath) } }
    }

    public init() throws { folder = try TemporaryFolder("signservice-pki") }

    static var openssl: String { Command.which("openssl") ?? "/usr/bin/openssl" }

    /// Where the rig's CRL server publishes this PKI's CRL for `issuer`.
    public func crlURL(for issuer: String) -> String {
        let base = ProcessInfo.processInfo.environment["SIGNSERVICE_TEST_FILES"] ?? "http://127.0.0.1:18790"
        return "\(base)/crl/\(name)-\(Self.slug(issuer)).crl"
    }

    public func root(_ cn: String) throws -> Issued {
        let key = folder.path("\(cn).key"), cert = folder.path("\(cn).crt")
        try run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
            "-days", "3650", "-subj", "/O=\(name)/CN=\(cn)", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash",
        ])
        return try issued(cn, cert, key)
    }

    /// A certificate issued by `issuer`. `extensions` are openssl x509v3 lines; with `crl`, a CRL distribution point
    /// at `crlURL(for: issuer)` is added.
    public func issue(_ cn: String, by issuer: Issued, extensions: [String], crl: Bool = true, days: Int = 365) throws -> Issued {
        let key = folder.path("\(cn).key"), csr = folder.path("\(cn).csr"), cert = folder.path("\(cn).crt")
        try run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/O=\(name)/CN=\(cn)",
        ])
        var lines = extensions + ["subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"]
        if crl { lines.append("crlDistributionPoints=URI:\(crlURL(for: issuer.name))") }
        let extfile = try folder.file("\(cn).ext", Array(lines.joined(separator: "\n").utf8)).path
        let serial = "0x" + (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255) & 0x7F) }.joined()
        try run([
            "x509", "-req", "-in", csr, "-CA", issuer.certificatePath, "-CAkey", issuer.keyPath, "-set_serial", serial,
            "-days", String(days), "-sha256", "-extfile", extfile, "-out", cert,
        ])
        return try issued(cn, cert, key)
    }

    /// Publishes `issuer`'s CRL listing `revoked` (certificate, date, RFC 5280 reason in python-cryptography's
    /// spelling: key_compromise, superseded...). With `signedBy`, another key signs it (a forged CRL).
    public func publishCRL(issuer: Issued, revoked: [(Issued, Date, String)] = [], signedBy: Issued? = nil) throws {
        guard let rig = ProcessInfo.processInfo.environment["SIGNSERVICE_RIG"] else { throw RigError("SIGNSERVICE_RIG is not set: source .rig/env.sh") }
        let out = "\(rig)/www/crl/\(name)-\(Self.slug(issuer.name)).crl"
        var arguments = [
            Rig.root.appendingPathComponent("scripts/rig/make_crl.py").path, "--ca-cert", issuer.certificatePath,
            "--ca-key", issuer.keyPath, "--out", out,
        ]
        if let signedBy { arguments += ["--signing-key", signedBy.keyPath] }
        for (certificate, date, reason) in revoked {
            arguments += ["--revoked", "\(certificate.certificate.serialNumberHex):\(Int(date.timeIntervalSince1970)):\(reason)"]
        }
        let result = try Command.run("/usr/bin/python3", arguments)
        guard result.status == 0 else { throw RigError("make_crl.py failed: \(result.stderr)") }
    }

    static func slug(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    private func issued(_ cn: String, _ cert: String, _ key: String) throws -> Issued {
        guard let certificate = try CertificateFolder.load(file: cert).first else { throw RigError("no certificate in \(cert)") }
        return Issued(name: cn, certificatePath: cert, keyPath: key, certificate: certificate)
    }

    private func run(_ arguments: [String]) throws {
        let result = try Command.run(Self.openssl, arguments)
        guard result.status == 0 else { throw RigError("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.stderr)") }
    }
}
