import Foundation
import Synchronization

/// The trust anchors a verification ends at: a folder of certificates (PEM or DER, `.pem`, `.crt`, `.cer`, `.der`).
/// In production that is CCA India 2022 (README: "Trusting India's root"); in tests, TestCerts' root.
public final class TrustStore: Sendable {
    public let anchors: [X509Certificate]
    /// The anchors as OpenSSL's path building uses them (each validation sets its own time).
    let store: CertificateStore
    /// Stores that judge at a fixed time (OCSP responders' certificates at the validation time), by that time.
    private let timedStores = Mutex<[Date: CertificateStore]>([:])

    public init(anchors: [X509Certificate]) throws {
        guard !anchors.isEmpty else { throw VerificationInputError("the trust store holds no certificates") }
        self.store = try CertificateStore(anchors: anchors)
        self.anchors = anchors
    }

    /// The anchors in a store whose validations without a time of their own (OCSP_basic_verify's check of the
    /// responder) are judged at `time`, not at the system clock. One per time, kept (a run has one validation time).
    func store(checkingAt time: Date) throws -> CertificateStore {
        if let known = timedStores.withLock({ $0[time] }) { return known }
        let made = try CertificateStore(anchors: anchors, checkTime: time)
        return timedStores.withLock { stores in
            if stores.count >= 16 { stores.removeAll() }
            if let raced = stores[time] { return raced }
            stores[time] = made
            return made
        }
    }

    /// Every certificate in the files of `directory` (not recursive). An unreadable file is an error that names it.
    public static func load(directory: String) throws -> TrustStore {
        try TrustStore(anchors: CertificateFolder.load(directory: directory, what: "trust store"))
    }

    func isAnchor(_ certificate: X509Certificate) -> Bool {
        anchors.contains { $0.sha256Fingerprint == certificate.sha256Fingerprint }
    }
}

/// Reading certificates from files and folders.
public enum CertificateFolder {
    static let extensions: Set<String> = ["pem", "crt", "cer", "der"]

    public static func load(directory: String, what: String = "certificate folder") throws -> [X509Certificate] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VerificationInputError("the \(what) \(directory) is not a folder")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        var certificates = [X509Certificate]()
        for name in names where extensions.contains((name as NSString).pathExtension.lowercased()) {
            certificates += try load(file: (directory as NSString).appendingPathComponent(name))
        }
        guard !certificates.isEmpty else {
            throw VerificationInputError("the \(what) \(directory) holds no .pem, .crt, .cer or .der certificate")
        }
        return certificates
    }

    /// The certificates of one file, PEM (one or more) or DER (one).
    public static func load(file path: String) throws -> [X509Certificate] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VerificationInputError("cannot read the certificate file \(path)")
        }
        return try parse(Array(data), name: path)
    }

    static func parse(_ bytes: [UInt8], name: String) throws -> [X509Certificate] {
        let text = String(decoding: bytes.prefix(64 * 1024 * 1024), as: UTF8.self)
        if text.contains("-----BEGIN CERTIFICATE-----") {
            let certificates: [X509Certificate]
            do { certificates = try X509Certificate.fromPEM(text) } catch {
                throw VerificationInputError("\(name) holds a PEM certificate that does not parse: \(error)")
            }
            guard !certificates.isEmpty else { throw VerificationInputError("\(name) has a PEM certificate without its END line") }
            return certificates
        }
        do { return [try X509Certificate(der: bytes)] } catch {
            throw VerificationInputError("\(name) is neither a PEM nor a DER certificate")
        }
    }
}

/// Input that cannot be verified at all: unreadable, not a signature, not a SignedData. (An invalid signature is a
/// verdict, not this.) The description is one line.
public struct VerificationInputError: CodedError {
    public let reason: String
    public let file: String
    public let line: Int
    /// "signature-unreadable": what was given is not a signature the verifier can read (not CMS, cut short...).
    public var codeName: String { "signature-unreadable" }

    public init(_ reason: String, file: String = #fileID, line: Int = #line) {
        self.reason = reason.replacingOccurrences(of: "\n", with: "; ")
        self.file = file
        self.line = line
    }
}
