import Foundation
import Logging
import SignKit

/// The daemon's configuration (docs/daemon.md; config/signservice.example.json). Every key is optional: the
/// defaults bind loopback, keep state under the user's state folder, allow no web origin and ask for PINs in a
/// native pinentry dialog, never in a web page.
public struct ServiceConfiguration: Codable, Sendable {
    public var host = "127.0.0.1"
    public var port = 8787
    /// Where the audit log, pairings, admin token, history store and revocation cache live.
    public var stateDirectory: String = ServicePaths.defaultStateDirectory()
    /// Web origins allowed to call the API ("https://eoffice.example.gov.in"); exact matches, never a wildcard.
    public var allowedOrigins: [String] = []
    /// "pinentry" (the default): the agent asks through `pinentryProgram` on the officer's desktop, showing what is
    /// signed, and a PIN in a body is refused; "request": the PIN comes in the sign request's body, typed into the
    /// web page (any script on that page can read it; the agent warns at start).
    public var pinEntry: PINEntryMode = .pinentry
    /// Debian's /usr/bin/pinentry is the alternatives link to the desktop's pinentry (-gnome3, -qt, -curses).
    public var pinentryProgram: String? = "/usr/bin/pinentry"
    /// Trust anchors for verification (a folder of PEM/DER certificates); default: the test PKI's trust folder when
    /// run from the repository, else /etc/signservice/trust.
    public var trustDirectory: String? = nil
    /// PEM file of CA certificates embedded in every signature (the signers' intermediates), so that any verifier
    /// can build the path with the root alone.
    public var chainFile: String? = nil
    /// Extra PKCS#11 modules to load besides those discovered.
    public var modules: [String] = []
    /// RFC 3161 time-stamping authority: every signature is time-stamped (CAdES-T) unless its request says
    /// `"timeStamp": false`.
    public var timeStampAuthority: String? = nil
    /// The largest extract or signature a request may carry, in bytes.
    public var maximumRequestBytes = 32 * 1024 * 1024
    /// How long a pairing code stays valid, in seconds.
    public var pairingCodeLifetime = 300.0
    /// How long a page's pairing token stays valid, in days; the page then pairs again.
    public var pairingTokenDays = 30.0
    /// Seconds a request waits for its token's part (login and signature) before it is answered token-timeout.
    public var tokenDeadlineSeconds = 30.0
    /// Batch signing (POST /v1/sign/batch): at most this many notes for one PIN, signed within `batchSeconds`.
    public var maximumBatchNotes = 10
    public var batchSeconds = 60.0
    /// A connection with no request for this many seconds is closed.
    public var idleTimeoutSeconds = 30.0
    /// Connections open at once; more wait in the listen queue.
    public var maximumConnections = 64
    /// Token event streams (GET /v1/events) open at once.
    public var maximumEventStreams = 8
    /// Verification may fetch certificates, CRLs and OCSP answers from loopback, private and link-local addresses
    /// (an intranet CA): off by default, so that a signature cannot make the agent read internal web servers.
    public var fetchFromPrivateAddresses = false
    public var logLevel = "info"
    /// The service's own document-signer key, which signs each history checkpoint and each exported bundle. Without
    /// it the history endpoints still read and verify, but appending and exporting answer 503.
    public var documentSigner: DocumentSignerConfiguration? = nil
    /// Keep a token logged in for this many seconds after a signature, for further requests for the same key with
    /// the same PIN (docs/daemon.md "Kept sessions"). 0 (the default): log in and out for every request.
    public var keepTokenSessionSeconds = 0.0
    /// The history store (SQLite + blobs); default: `history` in the state folder. Records role only.
    public var historyDirectory: String? = nil
    /// The records role's store in PostgreSQL instead of SQLite: several instances then serve one department.
    public var postgres: PostgresConfiguration? = nil
    /// HTTPS for the records role: a PEM certificate chain and its private key.
    public var tls: TLSFiles? = nil
    /// The records service's name, which every login challenge and login signature carries (its public URL, e.g.
    /// https://records.finance.example.gov.in); default: the address it binds.
    public var serviceName: String? = nil
    /// How long a DSC login's session lasts, in seconds (records role).
    public var sessionSeconds = 1800.0
    /// The department log's origin: the first line of its tree heads and its key's name, one word like
    /// "records.finance.example.gov.in/log" (records role); default: serviceName (or the bound address) without its
    /// scheme, followed by "/log". Change it and every earlier head and proof names another log.
    public var logOrigin: String? = nil
    /// A new tree head is signed at most this long after a leaf arrives (records role; 50 to 60000). Each head is one
    /// signature by the document signer however many appends it covers.
    public var treeHeadIntervalMilliseconds = 1000

    /// {"url": "postgres://signservice:...@db:5432/signservice?sslmode=verify-full&sslrootcert=/etc/ssl/db-root.pem",
    ///  "migrationURL": "postgres://signservice_owner:...@db:5432/signservice?sslmode=verify-full&..."}
    public struct PostgresConfiguration: Codable, Sendable {
        /// The service's own role: SELECT, INSERT, UPDATE and DELETE only (deploy/postgres-records.sql).
        public var url: String
        /// A role that owns the schema, used only to apply migrations at start; without it `url` must be able to.
        public var migrationURL: String?
        /// How long a request waits for the database before it answers 503 store-unavailable (default 5 s).
        public var deadlineSeconds: Double?
    }

    /// {"certificateChain": "/etc/signservice/tls/chain.pem", "privateKey": "/etc/signservice/tls/key.pem"}
    public struct TLSFiles: Codable, Sendable {
        public var certificateChain: String
        public var privateKey: String
    }

    /// {"key": "pkcs11:token=...;id=%10;type=private", "pinFile": "...", "chainFile": "..."}
    /// The document signer's key, PIN file and chain (SignKit's DocumentSigner.Settings).
    public typealias DocumentSignerConfiguration = DocumentSigner.Settings

    /// The scan-upload path (docs/scans.md): limits on uploads, the QR policy and who may upload for which Minister.
    public var scans = ScanConfiguration()

    public struct ScanConfiguration: Codable, Sendable {
        /// Largest scan in bytes; an upload is stopped as soon as it passes this. The defaults are ScanLimits'.
        public var maximumBytes = ScanLimits().maximumBytes
        public var maximumPages = ScanLimits().maximumPages
        /// Pixels of one image or TIFF page (width × height from its header).
        public var maximumPixels = ScanLimits().maximumPixels
        /// Accept a scan on which no QR code of this service can be read; the entry then says so. Off by default.
        public var acceptWithoutQR = false
        /// JSON file naming each Minister's PPS/PS by certificate fingerprint (docs/scans.md "Roles"). Without it, a
        /// request must name its PPS/PS itself and only those may upload.
        public var rolesFile: String? = nil

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = ScanConfiguration()
            maximumBytes = try container.decodeIfPresent(Int.self, forKey: .maximumBytes) ?? defaults.maximumBytes
            maximumPages = try container.decodeIfPresent(Int.self, forKey: .maximumPages) ?? defaults.maximumPages
            maximumPixels = try container.decodeIfPresent(Int.self, forKey: .maximumPixels) ?? defaults.maximumPixels
            acceptWithoutQR = try container.decodeIfPresent(Bool.self, forKey: .acceptWithoutQR) ?? false
            rolesFile = try container.decodeIfPresent(String.self, forKey: .rolesFile)
        }

        public var limits: ScanLimits {
            var limits = ScanLimits()
            limits.maximumBytes = maximumBytes
            limits.maximumPages = maximumPages
            limits.maximumPixels = maximumPixels
            return limits
        }
    }

    public var historyFolder: String { historyDirectory ?? stateDirectory + "/history" }

    public typealias PINEntryMode = SignKit.PINEntryMode

    public init() {}

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ServiceConfiguration()
        host = try container.decodeIfPresent(String.self, forKey: .host) ?? defaults.host
        port = try container.decodeIfPresent(Int.self, forKey: .port) ?? defaults.port
        stateDirectory = try container.decodeIfPresent(String.self, forKey: .stateDirectory) ?? defaults.stateDirectory
        allowedOrigins = try container.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? defaults.allowedOrigins
        pinEntry = try container.decodeIfPresent(PINEntryMode.self, forKey: .pinEntry) ?? defaults.pinEntry
        pinentryProgram = try container.decodeIfPresent(String.self, forKey: .pinentryProgram) ?? defaults.pinentryProgram
        trustDirectory = try container.decodeIfPresent(String.self, forKey: .trustDirectory)
        modules = try container.decodeIfPresent([String].self, forKey: .modules) ?? []
        chainFile = try container.decodeIfPresent(String.self, forKey: .chainFile)
        timeStampAuthority = try container.decodeIfPresent(String.self, forKey: .timeStampAuthority)
        maximumRequestBytes = try container.decodeIfPresent(Int.self, forKey: .maximumRequestBytes) ?? defaults.maximumRequestBytes
        pairingCodeLifetime = try container.decodeIfPresent(Double.self, forKey: .pairingCodeLifetime) ?? defaults.pairingCodeLifetime
        pairingTokenDays = try container.decodeIfPresent(Double.self, forKey: .pairingTokenDays) ?? defaults.pairingTokenDays
        tokenDeadlineSeconds = try container.decodeIfPresent(Double.self, forKey: .tokenDeadlineSeconds) ?? defaults.tokenDeadlineSeconds
        maximumBatchNotes = try container.decodeIfPresent(Int.self, forKey: .maximumBatchNotes) ?? defaults.maximumBatchNotes
        batchSeconds = try container.decodeIfPresent(Double.self, forKey: .batchSeconds) ?? defaults.batchSeconds
        idleTimeoutSeconds = try container.decodeIfPresent(Double.self, forKey: .idleTimeoutSeconds) ?? defaults.idleTimeoutSeconds
        maximumConnections = try container.decodeIfPresent(Int.self, forKey: .maximumConnections) ?? defaults.maximumConnections
        maximumEventStreams = try container.decodeIfPresent(Int.self, forKey: .maximumEventStreams) ?? defaults.maximumEventStreams
        fetchFromPrivateAddresses = try container.decodeIfPresent(Bool.self, forKey: .fetchFromPrivateAddresses) ?? false
        logLevel = try container.decodeIfPresent(String.self, forKey: .logLevel) ?? defaults.logLevel
        documentSigner = try container.decodeIfPresent(DocumentSignerConfiguration.self, forKey: .documentSigner)
        historyDirectory = try container.decodeIfPresent(String.self, forKey: .historyDirectory)
        keepTokenSessionSeconds = try container.decodeIfPresent(Double.self, forKey: .keepTokenSessionSeconds) ?? 0
        scans = try container.decodeIfPresent(ScanConfiguration.self, forKey: .scans) ?? ScanConfiguration()
        postgres = try container.decodeIfPresent(PostgresConfiguration.self, forKey: .postgres)
        tls = try container.decodeIfPresent(TLSFiles.self, forKey: .tls)
        serviceName = try container.decodeIfPresent(String.self, forKey: .serviceName)
        sessionSeconds = try container.decodeIfPresent(Double.self, forKey: .sessionSeconds) ?? defaults.sessionSeconds
        logOrigin = try container.decodeIfPresent(String.self, forKey: .logOrigin)
        treeHeadIntervalMilliseconds =
            try container.decodeIfPresent(Int.self, forKey: .treeHeadIntervalMilliseconds) ?? defaults.treeHeadIntervalMilliseconds
    }

    /// Reads a configuration file; unknown keys are refused (a misspelt key must not silently fall back to a default).
    public static func load(path: String) throws -> ServiceConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError("cannot read the configuration \(path): \(error.localizedDescription)")
        }
        /// Any JSON value, read only to learn the object's keys.
        struct AnyValue: Decodable { init(from decoder: any Decoder) throws {} }
        guard let object = try? JSONDecoder().decode([String: AnyValue].self, from: data) else {
            throw ConfigurationError("the configuration \(path) is not a JSON object")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = object.keys.filter({ !known.contains($0) }).sorted().first {
            throw ConfigurationError("the configuration \(path) has an unknown key \"\(unknown)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
        do {
            return try JSONDecoder().decode(ServiceConfiguration.self, from: data)
        } catch {
            throw ConfigurationError("the configuration \(path) does not read: \(error)")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case host, port, stateDirectory, allowedOrigins, pinEntry, pinentryProgram, trustDirectory, chainFile, modules, timeStampAuthority
        case maximumRequestBytes, pairingCodeLifetime, logLevel, documentSigner, historyDirectory, keepTokenSessionSeconds, scans
        case postgres, tls, serviceName, sessionSeconds
        case pairingTokenDays, tokenDeadlineSeconds, maximumBatchNotes, batchSeconds, idleTimeoutSeconds, maximumConnections
        case maximumEventStreams, fetchFromPrivateAddresses, logOrigin, treeHeadIntervalMilliseconds
    }

    /// Problems that must stop the daemon from starting in `role`.
    public func validate(allowRemote: Bool, role: DaemonRole = .agent) throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ConfigurationError("logLevel must be one of trace, debug, info, notice, warning, error, critical")
        }
        switch role {
        case .agent:
            if !ServiceConfiguration.isLoopback(host) && !allowRemote {
                throw ConfigurationError(
                    "refusing to bind \(host): the agent drives signing tokens and listens on loopback only; pass --allow-remote to override")
            }
            if postgres != nil || tls != nil {
                throw ConfigurationError("postgres and tls are for the records role (SignService records); the agent keeps no histories")
            }
        case .records:
            // Sessions and API keys travel in headers: off loopback they need HTTPS, here or in a proxy in front
            // (--allow-remote says there is one).
            if !ServiceConfiguration.isLoopback(host) && tls == nil && !allowRemote {
                throw ConfigurationError(
                    "refusing to serve \(host) over plain HTTP: give tls (certificateChain, privateKey), or --allow-remote when a TLS proxy is in front")
            }
            if let tls {
                for (key, path) in [("tls.certificateChain", tls.certificateChain), ("tls.privateKey", tls.privateKey)]
                where !FileManager.default.isReadableFile(atPath: path) {
                    throw ConfigurationError("\(key) \(path) cannot be read")
                }
            }
            if let postgres {
                if let deadline = postgres.deadlineSeconds, !(1...120).contains(deadline) {
                    throw ConfigurationError("postgres.deadlineSeconds must be between 1 and 120")
                }
                for url in [postgres.url] + (postgres.migrationURL.map { [$0] } ?? []) {
                    do {
                        _ = try PostgresLocation(url: url)
                    } catch let error as HistoryError {
                        throw ConfigurationError("postgres: \(error.reason)")
                    }
                }
            }
            guard (60...86400).contains(sessionSeconds) else { throw ConfigurationError("sessionSeconds must be between 60 and 86400") }
            guard (50...60000).contains(treeHeadIntervalMilliseconds) else {
                throw ConfigurationError("treeHeadIntervalMilliseconds must be between 50 and 60000")
            }
            if let logOrigin, logOrigin.isEmpty || logOrigin.unicodeScalars.contains(where: { $0.value <= 0x20 || $0 == "+" }) {
                throw ConfigurationError(
                    "logOrigin \"\(logOrigin)\" must be one word without spaces, control characters or \"+\" (like records.finance.example.gov.in/log)")
            }
        }
        for origin in allowedOrigins {
            guard origin != "*", let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                url.path.isEmpty, url.query == nil
            else {
                throw ConfigurationError("allowedOrigins: \"\(origin)\" is not an origin like https://eoffice.example.gov.in (no wildcard, no path)")
            }
        }
        if pinEntry == .pinentry && pinentryProgram == nil {
            throw ConfigurationError("pinEntry \"pinentry\" needs pinentryProgram (for example /usr/bin/pinentry-gnome3)")
        }
        guard (1...65535).contains(port) || port == 0 else { throw ConfigurationError("port must be between 1 and 65535") }
        guard maximumRequestBytes > 0 else { throw ConfigurationError("maximumRequestBytes must be positive") }
        guard (0...60).contains(keepTokenSessionSeconds) else {
            throw ConfigurationError("keepTokenSessionSeconds must be between 0 and 60: a token kept logged in longer signs for any page that asks")
        }
        for (name, value, range) in [
            ("pairingTokenDays", pairingTokenDays, 1.0...365), ("tokenDeadlineSeconds", tokenDeadlineSeconds, 1...600),
            ("batchSeconds", batchSeconds, 5...600), ("idleTimeoutSeconds", idleTimeoutSeconds, 1...3600),
        ] where !range.contains(value) {
            throw ConfigurationError("\(name) must be between \(Int(range.lowerBound)) and \(Int(range.upperBound))")
        }
        for (name, value, range) in [
            ("maximumBatchNotes", maximumBatchNotes, 1...50), ("maximumConnections", maximumConnections, 4...10000),
            ("maximumEventStreams", maximumEventStreams, 1...1000),
        ] where !range.contains(value) {
            throw ConfigurationError("\(name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        guard scans.maximumBytes > 0, scans.maximumPages > 0, scans.maximumPixels > 0 else {
            throw ConfigurationError("scans.maximumBytes, maximumPages and maximumPixels must be positive")
        }
        if let signer = documentSigner {
            guard (try? PKCS11URI(signer.key)) != nil else {
                throw ConfigurationError("documentSigner.key \"\(signer.key)\" is not a PKCS#11 URI (signctl tokens prints them)")
            }
        }
    }

    public static func isLoopback(_ host: String) -> Bool {
        ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
    }
}

/// Which daemon this is (DESIGN.md "Two roles"): an officer's agent on loopback (tokens, signing, pairing) or a
/// department's records service (histories, approvals, scans, reports, logins).
public enum DaemonRole: String, Sendable {
    case agent, records
}

/// The configuration does not hold; the daemon does not start.
public struct ConfigurationError: CodedError {
    public let reason: String
    public let file: String
    public let line: Int
    public var codeName: String { "configuration" }

    init(_ reason: String, file: String = #fileID, line: Int = #line) {
        self.reason = reason
        self.file = file
        self.line = line
    }
}
