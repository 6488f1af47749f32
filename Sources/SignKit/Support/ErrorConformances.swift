// Interim: error types of Signing/, Verification/ and OpenSSL/ join the one error shape here until their own files
// carry the source location (they are being reworked with the C fence).

extension SigningError: CodedError {
    public var codeName: String { "signing" }
}

extension VerificationInputError: CodedError {
    public var codeName: String { "signature-unreadable" }
    public var reason: String { description }
    public var file: String { "" }
    public var line: Int { 0 }
}

extension OpenSSLError: CodedError {
    public var codeName: String { "openssl" }
    public var reason: String { description }
    public var file: String { "" }
    public var line: Int { 0 }
}
