import Foundation
import Testing
@testable import SignService
@testable import SignKit

@Suite("Daemon configuration and guards")
struct HealthTests {
    @Test("refuses to bind a non-loopback address unless told")
    func loopbackOnly() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("signservice-config-\(getpid())").path
        #expect(throws: (any Error).self) { try SignServiceCommand.parseAsRoot(["--host", "0.0.0.0", "--state-dir", state]) }
        #expect(throws: (any Error).self) { try SignServiceCommand.parseAsRoot(["agent", "--host", "0.0.0.0", "--state-dir", state]) }
        #expect(throws: Never.self) { try SignServiceCommand.parseAsRoot(["--host", "0.0.0.0", "--allow-remote", "--state-dir", state]) }
        #expect(throws: Never.self) { try SignServiceCommand.parseAsRoot(["--state-dir", state]) }
        // The records service off loopback: HTTPS of its own, or --allow-remote for a TLS proxy in front.
        #expect(throws: (any Error).self) { try SignServiceCommand.parseAsRoot(["records", "--host", "0.0.0.0", "--state-dir", state]) }
        #expect(throws: Never.self) { try SignServiceCommand.parseAsRoot(["records", "--host", "0.0.0.0", "--allow-remote", "--state-dir", state]) }
        #expect(throws: Never.self) { try SignServiceCommand.parseAsRoot(["records", "--state-dir", state]) }
    }

    @Test("deploy/records.example.json reads as a records service's configuration (every key known)")
    func deployedExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try ServiceConfiguration.load(path: root.appendingPathComponent("deploy/records.example.json").path)
        #expect(example.postgres?.url.contains("sslmode=verify-full") == true && example.tls != nil && example.serviceName != nil)
        #expect(example.allowedOrigins == ["https://eoffice.example.gov.in"])
    }

    @Test("configuration files: unknown keys, wildcard origins and origins with paths are refused; defaults fill the rest")
    func configuration() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("signservice-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func load(_ json: String) throws -> ServiceConfiguration {
            let file = folder.appendingPathComponent("config.json")
            try Data(json.utf8).write(to: file)
            let configuration = try ServiceConfiguration.load(path: file.path)
            try configuration.validate(allowRemote: false)
            return configuration
        }
        let minimal = try load(#"{"allowedOrigins": ["https://eoffice.example.gov.in"]}"#)
        // The PIN goes into a native dialog, never a page, unless configured otherwise.
        #expect(minimal.host == "127.0.0.1" && minimal.port == 8787 && minimal.pinEntry == .pinentry && minimal.pinentryProgram == "/usr/bin/pinentry")
        #expect(throws: ConfigurationError.self) { try load(#"{"alowedOrigins": []}"#) }
        #expect(throws: ConfigurationError.self) { try load(#"{"allowedOrigins": ["*"]}"#) }
        #expect(throws: ConfigurationError.self) { try load(#"{"allowedOrigins": ["https://eoffice.example.gov.in/app"]}"#) }
        #expect(throws: ConfigurationError.self) { try load(#"{"host": "0.0.0.0"}"#) }
        for limit in [
            #"{"tokenDeadlineSeconds": 0}"#, #"{"maximumBatchNotes": 100}"#, #"{"idleTimeoutSeconds": 0}"#, #"{"maximumConnections": 1}"#,
            #"{"pairingTokenDays": 0}"#, #"{"maximumEventStreams": 0}"#,
        ] {
            #expect(throws: ConfigurationError.self, "\(limit)") { try load(limit) }
        }
        #expect(throws: ConfigurationError.self) { try load("[1, 2]") }
        #expect(throws: ConfigurationError.self) { try load(#"{"keepTokenSessionSeconds": -1}"#) }
        #expect(throws: ConfigurationError.self) { try load(#"{"documentSigner": {"key": "not a uri", "pinFile": "/x"}}"#) }

        // The example in the repository reads and validates, with every key it documents.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try ServiceConfiguration.load(path: root.appendingPathComponent("config/signservice.example.json").path)
        try example.validate(allowRemote: false)
        #expect(example.documentSigner?.key.hasPrefix("pkcs11:") == true && example.keepTokenSessionSeconds == 0)
        #expect(example.scans.rolesFile == "/etc/signservice/roles.json" && !example.scans.acceptWithoutQR && example.scans.maximumPages == 20)
        // A partial scans section keeps the other defaults; nonsense limits are refused.
        let partial = try load(#"{"scans": {"acceptWithoutQR": true}}"#)
        #expect(partial.scans.acceptWithoutQR && partial.scans.maximumBytes == 64 << 20)
        #expect(throws: ConfigurationError.self) { try load(#"{"scans": {"maximumBytes": 0}}"#) }

        // Kept sessions last at most a minute.
        #expect(throws: ConfigurationError.self) { try load(#"{"keepTokenSessionSeconds": 61}"#) }
        #expect(try load(#"{"keepTokenSessionSeconds": 60}"#).keepTokenSessionSeconds == 60)

        // A document signer's PIN file others can read is refused.
        let pinFile = folder.appendingPathComponent("pin").path
        try Data("1234\n".utf8).write(to: URL(fileURLWithPath: pinFile))
        chmod(pinFile, 0o644)
        #expect(throws: DocumentSignerError.self) { try DocumentSigner.checkPINFile(pinFile) }
        chmod(pinFile, 0o600)
        #expect(throws: Never.self) { try DocumentSigner.checkPINFile(pinFile) }
    }

    @Test("only loopback names pass the Host check")
    func hostCheck() {
        for good in ["127.0.0.1:8787", "localhost:8787", "localhost", "[::1]:8787", "LOCALHOST:1"] { #expect(BrowserGuard.isLoopbackHost(good), "\(good)") }
        for bad in [
            "evil.example", "evil.example:8787", "127.0.0.1.evil.example", "localhost.evil.example:8787", "[::2]:8787", "",
            "[::1]evil.example", "localhost:8787@evil", "localhost:x", "localhost:", "127.0.0.1:99999", "[::1]:80:80", "localhost evil",
        ] {
            #expect(!BrowserGuard.isLoopbackHost(bad), "\(bad)")
        }
    }

    @Test("the audit log chains its records; an edit, a removal and a swap are each found")
    func auditChain() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("signservice-audit-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try AuditLog(path: path)
        for index in 1...5 {
            try log.append(
                AuditRecord(
                    time: Date(timeIntervalSince1970: 1_796_000_000), action: "sign", result: "ok", origin: "https://eoffice.test", file: "F-1",
                    note: "N-\(index)"))
        }
        let summary = try AuditLog.verify(path: path)
        #expect(summary.problem == nil && summary.records == 5 && summary.head == log.head.hash)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        func check(_ edited: [String]) throws -> String? {
            try (edited.joined(separator: "\n") + "\n").write(toFile: path + ".edited", atomically: true, encoding: .utf8)
            return try AuditLog.verify(path: path + ".edited").problem
        }
        defer { try? FileManager.default.removeItem(atPath: path + ".edited") }
        #expect(
            try check(lines.enumerated().map { $0.offset == 2 ? $0.element.replacingOccurrences(of: "N-3", with: "N-7") : $0.element })?.contains("changed")
                == true)
        #expect(try check(lines.enumerated().filter { $0.offset != 2 }.map(\.element))?.contains("sequence") == true)
        #expect(try check([lines[0], lines[2], lines[1], lines[3], lines[4]]) != nil)
        // A reopened log continues the chain.
        let reopened = try AuditLog(path: path)
        try reopened.append(AuditRecord(time: Date(timeIntervalSince1970: 1_796_000_600), action: "stopped", result: "ok"))
        #expect(try AuditLog.verify(path: path).records == 6)
    }
}
