import CPKCS
/// OpenSSL's i2d pattern in one place: the function allocates `*out` (OPENSSL_malloc), which is copied and freed.
enum OpenSSLDER {
    static func encode(_ operation: String, _ i2d: (inout UnsafeMutablePointer<UInt8>?) -> Int32) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d(&out)  // allocates *out: freed below
        guard length > 0, let out else { throw OpenSSLError.drain(operation) }
        defer { cpkcs_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }
}
