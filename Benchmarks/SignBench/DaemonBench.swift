import ArgumentParser
import Foundation
import Synchronization
import SignKit

/// The daemon under load: wrk (Debian's) with 16 connections on loopback against the release daemon binary, round
/// by round beside the same work done in this process. Verify: /v1/verify beside a Verifier on every core; sign:
/// /v1/sign on SoftHSM2 beside raw C_Sign on the same key (a token signs one thing at a time, so one thread).
struct DaemonRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "/v1/verify and /v1/sign under wrk (16 clients, loopback) beside the in-process verify rate and raw C_Sign.",
        discussion: """
            Starts the SignService binary next to this benchmark (swift build -c release) with its own state folder \
            on a free loopback port, and talks to it as a local program (admin token). Needs the rig (scripts/rig.sh \
            up) and wrk (apt-get install wrk). Rounds alternate between the reference and the daemon; the ratio is \
            of the medians. Every answer must be 200: wrk's non-2xx and socket-error counts are printed and must be 0.
            """)

    @OptionGroup var keyArguments: KeyArguments

    @Option(name: .customLong("rounds"), help: "Rounds per side.")
    var rounds = 3

    @Option(name: .customLong("round-seconds"), help: "Length of one round.")
    var seconds = 5

    @Option(help: "Concurrent HTTP connections (wrk -c).")
    var connections = 16

    @Option(help: "The SignService binary (default: next to this benchmark).")
    var daemon: String?

    @Option(name: .customLong("test-certs"), help: "The TestCerts folder.")
    var testCerts = FileManager.default.currentDirectoryPath + "/TestCerts"

    @Option(name: .customLong("signatures"), help: "Distinct signatures verified in turn.")
    var signatureCount = 64

    @Option(help: "What to measure: verify, sign or both.")
    var only: String = "both"

    func run() throws {
        try Bench.loadRigEnvironment()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else { throw ValidationError("wrk is missing: apt-get install wrk") }
        let binary = daemon ?? Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("SignService").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no SignService at \(binary): swift build -c release --product SignService, or pass --daemon")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("signbench-daemon-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        print(
            "daemon: \(binary), \(connections) connections, wrk -t2; \(rounds) rounds of \(seconds) s per side, interleaved; "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        if only != "sign" {
            let running = try RunningDaemon(binary: binary, folder: folder + "/verify", testCerts: testCerts)
            defer { running.stop() }
            try verify(running, folder: folder + "/verify")
        }
        if only != "verify" {
            // As configured by default (log in and out per request), then with keepTokenSessionSeconds.
            for keep in [0.0, 60.0] {
                let running = try RunningDaemon(binary: binary, folder: folder + "/sign-\(Int(keep))", testCerts: testCerts, keepSessionSeconds: keep)
                defer { running.stop() }
                try sign(running, folder: folder + "/sign-\(Int(keep))", keepSeconds: keep)
            }
        }
    }

    func verify(_ running: RunningDaemon, folder: String) throws {
        let certificate = try CertificateFolder.load(file: "\(testCerts)/certs/officer-rsa.crt")[0]
        let chain = try CertificateFolder.load(file: "\(testCerts)/ca/chain-individual.pem")
        let key = try PrivateKey(pemFile: "\(testCerts)/keys/officer-rsa.key")
        // Distinct signatures over distinct extracts, taken in turn on both sides: nothing can be answered from a
        // cache of earlier answers.
        var extracts = [[UInt8]](), signatures = [[UInt8]](), bodies = [Data]()
        for index in 0..<signatureCount {
            var extract = (0..<2048).map { UInt8(truncatingIfNeeded: 32 + $0 % 90) }
            withUnsafeBytes(of: UInt64(index)) { extract.replaceSubrange(0..<8, with: $0) }
            let parameters = SignatureParameters(
                context: EOfficeContext(fileNumber: "DIT-12/3/2026-IT", noteID: "N-\(index)"),
                commitment: .proofOfOrigin, signingTime: Date(), chain: chain)
            let signature = try CAdES.signDetached(contentDigest: SHA256Hasher.hash(extract), certificate: certificate, parameters: parameters) {
                TokenSignature(algorithm: .sha256WithRSAEncryption, bytes: try key.sign($0))
            }
            extracts.append(extract)
            signatures.append(signature)
            bodies.append(try JSONOutput.encoder(pretty: false).encode(VerifyRequestBody(signature: signature, content: extract)))
        }
        let script = try running.script(in: folder, name: "verify", bodies: bodies)
        let (signature, extract) = (signatures[0], extracts[0])
        let body = bodies[0]
        let (allSignatures, allExtracts, count) = (signatures, extracts, signatureCount)

        // The reference: the same verification in this process, on every core, with the daemon's kind of verifier
        // (online revocation, cached after the first fetch).
        let verifier = Verifier(
            trust: try TrustStore.load(directory: "\(testCerts)/trust"),
            revocation: RevocationChecker(options: RevocationOptions(online: true, cacheDirectory: folder + "/cache", timeout: 3)))
        let now = Date()
        guard try verifier.verify(signature: signature, content: .bytes(extract), at: now).indication == .totalPassed else {
            throw ValidationError("the benchmark's signature does not verify in process (is the rig up?)")
        }
        // The daemon's first verification fetches revocation data (then cached), as the in-process one did.
        try running.warmUp("/v1/verify", body: body)
        let first = try running.wrk(script: script, path: "/v1/verify", seconds: 1, connections: connections)
        guard first.non2xx == 0, first.requests > 0 else { throw ValidationError("the daemon's /v1/verify answers errors: \(first.summary)\n\(running.log)") }
        let threads = ProcessInfo.processInfo.activeProcessorCount
        print(
            "\nverify: \(signatureCount) distinct \(signature.count)-byte .p7s over 2 KiB extracts (RSA-2048, chain embedded) in turn, every answer TOTAL-PASSED"
        )
        let next = Atomic<Int>(0)
        try compare(
            reference: "in-process/s (\(threads) threads)",
            {
                try Self.parallelRate(threads: threads, seconds: Double(seconds)) {
                    let index = next.add(1, ordering: .relaxed).newValue % count
                    guard try verifier.verify(signature: allSignatures[index], content: .bytes(allExtracts[index]), at: now).indication == .totalPassed else {
                        throw ValidationError("an in-process verification did not pass")
                    }
                }
            }, daemon: { try running.wrk(script: script, path: "/v1/verify", seconds: seconds, connections: connections) },
            ratio: "daemon verify / in-process verify", target: 0.7)
        // The floor of any endpoint here: the same wrk on GET /v1/health (HTTP, the guard, a tiny JSON answer).
        let health = try running.script(in: folder, name: "health", bodies: [], method: "GET")
        let floor = try running.wrk(script: health, path: "/v1/health", seconds: seconds, connections: connections)
        print(
            String(
                format: "HTTP alone: GET /v1/health under the same wrk %.1f/s, p50 %.2f ms, %d errors: any endpoint's ceiling on this machine",
                floor.rate, floor.p50 * 1000, floor.errors))
    }

    func sign(_ running: RunningDaemon, folder: String, keepSeconds: Double) throws {
        let pin = try keyArguments.readPIN()
        let pinText = try pin.withBytes { String(decoding: $0, as: UTF8.self) }
        pin.wipe()
        let extract = Data((0..<2048).map { UInt8(truncatingIfNeeded: 32 + $0 % 90) })
        let body = try JSONOutput.encoder(pretty: false).encode(
            SignRequestBody(
                extract: Array(extract), fileNumber: "DIT-12/3/2026-IT", noteID: "N-1", commitment: .proofOfOrigin, key: keyArguments.key, pin: pinText))
        let script = try running.script(in: folder, name: "sign", bodies: [body])
        try running.warmUp("/v1/sign", body: body)
        let first = try running.wrk(script: script, path: "/v1/sign", seconds: 1, connections: connections)
        guard first.non2xx == 0, first.requests > 0 else { throw ValidationError("the daemon's /v1/sign answers errors: \(first.summary)") }
        let message = [UInt8](repeating: 0x31, count: 420)  // about the size of the signed attributes
        print(
            "\nsign: \(keyArguments.key) on SoftHSM2, 2 KiB extract -> CAdES .p7s per request, audited; a token signs one thing at a time; "
                + (keepSeconds == 0
                    ? "log in and out per request (the default)" : "keepTokenSessionSeconds \(Int(keepSeconds)) (one login, PIN checked per request)"))
        try compare(
            reference: "raw C_Sign/s",
            {
                // Logged in for the round only, so that the daemon's rounds have the token to themselves.
                let (session, raw, pin) = try keyArguments.openSessions()
                pin.wipe()
                defer {
                    raw.close()
                    session.close()
                }
                return try Bench.measure(seconds: Double(seconds)) { _ = try raw.sign(message) }
            }, daemon: { try running.wrk(script: script, path: "/v1/sign", seconds: seconds, connections: connections) },
            ratio: "daemon sign / raw C_Sign", target: 0.8)
    }

    /// Alternating rounds; prints each and the medians, latency and error totals of the daemon side.
    func compare(reference: String, _ referenceRound: () throws -> Double, daemon: () throws -> WrkResult, ratio: String, target: Double) throws {
        print(
            "round  " + reference.leftPadded(28) + "  " + "daemon/s".leftPadded(10) + "  " + "p50 ms".leftPadded(8) + "  " + "p99 ms".leftPadded(8) + "  errors"
        )
        var references = [Double](), daemons = [WrkResult]()
        for round in 1...rounds {
            var reference = 0.0, measured: WrkResult? = nil
            for first in round % 2 == 1 ? [true, false] : [false, true] {
                if first { reference = try referenceRound() } else { measured = try daemon() }
            }
            references.append(reference)
            daemons.append(measured!)
            print(
                String(
                    format: "%5d  %28.1f  %10.1f  %8.2f  %8.2f  %d", round, reference, measured!.rate, measured!.p50 * 1000, measured!.p99 * 1000,
                    measured!.errors))
        }
        let referenceMedian = Bench.median(references), daemonMedian = Bench.median(daemons.map(\.rate))
        let errors = daemons.reduce(0) { $0 + $1.errors }, requests = daemons.reduce(0) { $0 + $1.requests }
        print(
            String(
                format: "median %27.1f  %10.1f  %8.2f  %8.2f", referenceMedian, daemonMedian,
                Bench.median(daemons.map(\.p50)) * 1000, Bench.median(daemons.map(\.p99)) * 1000))
        print(
            String(
                format: "ratio %@: %.3f of the medians (target >= %.1f); %d requests, %d errors (target 0)", ratio,
                daemonMedian / referenceMedian, target, requests, errors))
    }

    /// Calls per second of `body` on `threads` threads for `seconds`.
    static func parallelRate(threads: Int, seconds: Double, _ body: @escaping @Sendable () throws -> Void) throws -> Double {
        let total = Atomic<Int>(0), failure = Mutex<(any Error)?>(nil)
        let deadline = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var count = 0
            do {
                while ContinuousClock.now < deadline {
                    try body()
                    count += 1
                }
            } catch {
                failure.withLock { $0 = error }
            }
            total.add(count, ordering: .relaxed)
        }
        if let error = failure.withLock({ $0 }) { throw error }
        let (s, attoseconds) = (ContinuousClock.now - start).components
        return Double(total.load(ordering: .relaxed)) / (Double(s) + Double(attoseconds) / 1e18)
    }
}

/// What one wrk run printed.
struct WrkResult {
    var rate = 0.0
    var requests = 0
    var p50 = 0.0
    var p99 = 0.0
    var non2xx = 0
    var socketErrors = 0
    var errors: Int { non2xx + socketErrors }
    var summary = ""

    /// Reads wrk's report: "Requests/sec:", the --latency distribution, "N requests in", "Non-2xx or 3xx responses:",
    /// "Socket errors: connect a, read b, write c, timeout d".
    init(parsing text: String) {
        summary = text
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("Requests/sec:"), let value = words.last.flatMap({ Double($0) }) { rate = value }
            if line.hasPrefix("50%"), let value = words.last { p50 = Self.seconds(String(value)) }
            if line.hasPrefix("99%"), let value = words.last { p99 = Self.seconds(String(value)) }
            if words.count > 2, words[1] == "requests", words[2] == "in", let value = Int(words[0]) { requests = value }
            if line.hasPrefix("Non-2xx or 3xx responses:"), let value = words.last.flatMap({ Int($0) }) { non2xx = value }
            if line.hasPrefix("Socket errors:") {
                socketErrors = line.split(separator: ",").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
            }
        }
    }

    /// "812.00us", "9.50ms", "1.20s" -> seconds.
    static func seconds(_ text: String) -> Double {
        for (unit, scale) in [("us", 1e-6), ("ms", 1e-3), ("s", 1.0)] where text.hasSuffix(unit) {
            return (Double(text.dropLast(unit.count)) ?? .nan) * scale
        }
        return .nan
    }
}

/// The release daemon in the background with its own state folder, on a free loopback port.
final class RunningDaemon {
    let pid: Int32
    let url: String
    let adminToken: String
    let logPath: String
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    init(binary: String, folder: String, testCerts: String, keepSessionSeconds: Double = 0, extra: [String: Any] = [:]) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var config: [String: Any] = [
            "port": 0, "stateDirectory": folder + "/state", "trustDirectory": testCerts + "/trust",
            "chainFile": testCerts + "/ca/chain-individual.pem", "logLevel": "notice",
            "keepTokenSessionSeconds": keepSessionSeconds,
            // The benchmark sends the test PIN in its requests; the rig's CRL and OCSP servers are on loopback.
            "pinEntry": "request", "fetchFromPrivateAddresses": true,
        ]
        config.merge(extra) { $1 }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/config.json"))
        let log = folder + "/daemon.log"
        logPath = log
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--config", folder + "/config.json"]
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        pid = process.processIdentifier
        var found: String?
        for _ in 0..<300 where found == nil {
            Thread.sleep(forTimeInterval: 0.1)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"127\.0\.0\.1:(\d+) \[SignService\] listening"#, options: .regularExpression) {
                found = String(text[range].split(separator: ":")[1].split(separator: " ")[0])
            }
        }
        guard let port = found else {
            kill(pid, SIGKILL)
            throw ValidationError("the daemon did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        url = "http://127.0.0.1:\(port)"
        adminToken = ((try? String(contentsOfFile: folder + "/state/admin.token", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A wrk Lua script posting the bodies in turn as JSON with the admin token (0600: the sign body holds the
    /// test PIN).
    func script(in folder: String, name: String, bodies: [Data], method: String = "POST") throws -> String {
        var paths = [String]()
        for (index, body) in bodies.enumerated() {
            let path = folder + "/\(name)-\(index).json"
            try AtomicFile.write(Array(body), to: path, mode: 0o600)
            paths.append("\"\(path)\"")
        }
        let lua =
            bodies.isEmpty
            ? """
            wrk.method = "\(method)"
            wrk.headers["Authorization"] = "Bearer \(adminToken)"
            """
            : """
            wrk.method = "\(method)"
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["Authorization"] = "Bearer \(adminToken)"
            local bodies = {}
            for _, path in ipairs({\(paths.joined(separator: ", "))}) do
              local file = io.open(path, "rb")
              bodies[#bodies + 1] = file:read("*a")
              file:close()
            end
            local next = 0
            request = function()
              next = next % #bodies + 1
              return wrk.format(nil, nil, nil, bodies[next])
            end
            """
        let path = folder + "/\(name).lua"
        try AtomicFile.write(Array(lua.utf8), to: path, mode: 0o600)
        return path
    }

    /// One request, waited for as long as it takes; it must answer 200.
    func warmUp(_ path: String, body: Data) throws {
        let answer = try HTTPExchange(service: "the daemon", url: URL(string: url + path)!, timeout: 60)
            .send(method: "POST", headers: ["Authorization": "Bearer \(adminToken)", "Content-Type": "application/json"], body: Array(body))
        guard answer.status == 200 else {
            throw ValidationError("\(path) answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
        }
    }

    func wrk(script: String, path: String, seconds: Int, connections: Int) throws -> WrkResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = ["-t2", "-c\(connections)", "-d\(seconds)s", "--timeout", "10s", "--latency", "-s", script, url + path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("wrk failed: \(String(decoding: output, as: UTF8.self))") }
        return WrkResult(parsing: String(decoding: output, as: UTF8.self))
    }

    func stop() {
        kill(pid, SIGTERM)
        for _ in 0..<100 where kill(pid, 0) == 0 { Thread.sleep(forTimeInterval: 0.1) }
        if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }
}
