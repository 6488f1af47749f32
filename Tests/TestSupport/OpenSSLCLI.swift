import Foundation
import SignKit

/// Independent checks with the openssl command-line tool.
public enum OpenSSLCLI {
    /// `openssl dgst -sha256 -verify <certificate's public key> -signature <signature> <message>`: true on
    /// "Verified OK", false on "Verification failure".
    public static func verify(message: [UInt8], signature: [UInt8], certificate: X509Certificate) throws -> Bool {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("signkit-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("key.pem")
        let signatureFile = folder.appendingPathComponent("signature.bin")
        let messageFile = folder.appendingPathComponent("message.bin")
        try PEM.encode(certificate.subjectPublicKeyInfo, label: "PUBLIC KEY").write(to: key, atomically: true, encoding: .utf8)
        try Data(signature).write(to: signatureFile)
        try Data(message).write(to: messageFile)
        let openssl = Command.which("openssl") ?? "/usr/bin/openssl"
        let result = try Command.run(openssl, ["dgst", "-sha256", "-verify", key.path, "-signature", signatureFile.path, messageFile.path])
        if result.status == 0 && result.stdout.contains("Verified OK") { return true }
        if result.stdout.contains("Verification failure") { return false }
        throw RigError("openssl dgst failed unexpectedly (\(result.status)): \(result.stdout) \(result.stderr)")
    }
}
