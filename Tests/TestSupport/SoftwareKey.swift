import CPKCS
import Foundation
import SignKit

/// A private key from a PEM file, signing with OpenSSL: how tests make signatures with certificates that are on no
/// token (throwaway CAs, crafted cases). Token signing itself is tested against the rig.
public final class SoftwareKey: @unchecked Sendable {
    private let key: OpaquePointer  // EVP_PKEY*, owned: freed in deinit
    public let isEC: Bool

    public init(pemFile: String) throws {
        guard let bio = BIO_new_file(pemFile, "r") else { throw RigError("cannot open the key \(pemFile)") }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { throw RigError("\(pemFile) is not a PEM private key") }
        self.key = key
        isEC = EVP_PKEY_get_base_id(key) == NID_X9_62_id_ecPublicKey
    }

    deinit { EVP_PKEY_free(key) }

    /// SHA-256 (or `digest`) signature over `message`: PKCS#1 v1.5 for RSA, DER ECDSA-Sig-Value for EC.
    public func sign(_ message: [UInt8], digest: OpaquePointer? = EVP_sha256()) throws -> TokenSignature {
        guard let context = EVP_MD_CTX_new() else { throw RigError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, digest, nil, key) == 1 else { throw RigError("EVP_DigestSignInit failed") }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { throw RigError("EVP_DigestSign (size) failed") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { throw RigError("EVP_DigestSign failed") }
        return TokenSignature(algorithm: isEC ? .ecdsaWithSHA256 : .sha256WithRSAEncryption, bytes: Array(signature.prefix(length)))
    }
}
