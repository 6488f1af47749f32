import Foundation
import CPKCS

/// Streaming SHA-256 through OpenSSL's EVP interface. Owns one EVP_MD_CTX.
///
/// The digest implementation is the one fetched from OpenSSL's provider once (`DigestAlgorithm.evp`). Passing
/// `EVP_sha256()` instead makes OpenSSL 3 fetch it again at every initialisation, under a lock every thread shares.
public final class SHA256Hasher {
    private let context: OpaquePointer  // EVP_MD_CTX*, owned: freed in deinit

    private init(takingOwnershipOf context: OpaquePointer) {
        self.context = context
    }

    public convenience init() {
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.init(takingOwnershipOf: context)
        start()
    }

    deinit { EVP_MD_CTX_free(context) }

    private func start() {
        guard EVP_DigestInit_ex2(context, DigestAlgorithm.sha256.evp, nil) == 1 else {
            fatalError("EVP_DigestInit_ex2(SHA-256) failed: \(OpenSSLError.drain("EVP_DigestInit_ex2"))")
        }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest; the hasher is reset and can be used again.
    public func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        start()  // a reset: the algorithm is already fetched
        return digest
    }

    /// One-shot SHA-256 (`DigestAlgorithm.hash`, no hasher object).
    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        DigestAlgorithm.sha256.hash(bytes)
    }
}
