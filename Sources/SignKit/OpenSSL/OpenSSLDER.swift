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

    /// A CMS ContentInfo in BER (indefinite lengths, as streaming tools write) re-encoded as DER; nil when OpenSSL
    /// cannot read it.
    static func reencodeContentInfo(ber input: [UInt8]) -> [UInt8]? {
        OpenSSLError.clearQueue()
        defer { OpenSSLError.clearQueue() }
        return input.withUnsafeBufferPointer { buffer -> [UInt8]? in
            var cursor = buffer.baseAddress
            guard let cms = d2i_CMS_ContentInfo(nil, &cursor, buffer.count) else { return nil }  // new: freed below
            defer { CMS_ContentInfo_free(cms) }
            return try? encode("i2d_CMS_ContentInfo") { i2d_CMS_ContentInfo(cms, &$0) }
        }
    }
}
