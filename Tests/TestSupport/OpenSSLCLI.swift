import Foundation
import SignKit

/// Independent checks with the openssl command-line tool.
public enum OpenSSLCLI {
    /// `openssl dgst -sha256 -verify <certificate's public key> -signature <signature> <message>`: true on
    /// "Verified OK", false on "Verification failure".
    public static func verify(message: [UInt8], signature: [UInt8], certificate: X509Certificate) throws -> Bool {
        let scratch = try TemporaryFolder("signkit-verify")
        let key = try scratch.file("key.pem", Array(PEM.encode(certificate.subjectPublicKeyInfo, label: "PUBLIC KEY").utf8))
        let signatureFile = try scratch.file("signature.bin", signature)
        let messageFile = try scratch.file("message.bin", message)
        let openssl = Command.which("openssl") ?? "/usr/bin/openssl"
        let result = try Command.run(openssl, ["dgst", "-sha256", "-verify", key.path, "-signature", signatureFile.path, messageFile.path])
        if result.status == 0 && result.stdout.contains("Verified OK") { return true }
        if result.stdout.contains("Verification failure") { return false }
        throw RigError("openssl dgst failed unexpectedly (\(result.status)): \(result.stdout) \(result.stderr)")
    }
}
