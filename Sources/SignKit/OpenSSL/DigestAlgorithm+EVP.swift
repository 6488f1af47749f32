import CPKCS
import Foundation

/// The digests through OpenSSL's EVP interface.
extension DigestAlgorithm {
    /// The EVP_MD, fetched from the default provider once (an implicit fetch on every digest costs a lookup).
    var evp: OpaquePointer {  // EVP_MD*, fetched once, never freed
        Self.fetched[self]!
    }

    private nonisolated(unsafe) static let fetched: [DigestAlgorithm: OpaquePointer] = {
        var table = [DigestAlgorithm: OpaquePointer]()
        for algorithm in DigestAlgorithm.allCases {
            let name =
                switch algorithm {
                case .sha1: "SHA1"
                case .sha224: "SHA224"
                case .sha256: "SHA256"
                case .sha384: "SHA384"
                case .sha512: "SHA512"
                case .sha3_224: "SHA3-224"
                case .sha3_256: "SHA3-256"
                case .sha3_384: "SHA3-384"
                case .sha3_512: "SHA3-512"
                }
            table[algorithm] = EVP_MD_fetch(nil, name, nil) ?? EVP_get_digestbyname(name)
        }
        return table
    }()

    public func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(EVP_MAX_MD_SIZE)) { digest, count in
            var length: UInt32 = 0
            bytes.withUnsafeBytes { buffer in
                _ = EVP_Digest(buffer.baseAddress, buffer.count, digest.baseAddress, &length, evp, nil)
            }
            count = Int(length)
        }
    }

    /// The digest of a file read in chunks (memory stays flat whatever its size), and its size.
    public func hash(fileAt path: String) throws -> (digest: [UInt8], size: UInt64) {
        let context = try DigestContext(self)
        let size = try ExtractDigest.read(fileAt: path) { context.update($0) }
        return (context.finalize(), size)
    }
}

/// A streaming digest of any `DigestAlgorithm`. Owns one EVP_MD_CTX. (`SHA256Hasher` is the public SHA-256 one.)
final class DigestContext {
    private let context: OpaquePointer  // EVP_MD_CTX*, owned: freed in deinit

    private init(takingOwnershipOf context: OpaquePointer) {
        self.context = context
    }

    convenience init(_ algorithm: DigestAlgorithm) throws {
        guard let context = EVP_MD_CTX_new() else { throw OpenSSLError.drain("EVP_MD_CTX_new") }
        self.init(takingOwnershipOf: context)
        EVP_DigestInit_ex(context, algorithm.evp, nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    /// The digest; the context is then spent.
    func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return Array(digest.prefix(Int(length)))
    }
}
