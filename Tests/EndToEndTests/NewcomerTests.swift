import Foundation
import Testing
import TestSupport
@testable import SignKit

/// What a newcomer meets following the README: the tour itself (scripts/tour runs the README's lines as written),
/// `signctl doctor` in a shell that has not sourced the rig's environment, and the daemon time-stamping by default.
@Suite("A newcomer's path", .serialized)
struct NewcomerTests {
    static let tour = Rig.root.appendingPathComponent("scripts/tour").path
    static var bin: String { URL(fileURLWithPath: Rig.signctl).deletingLastPathComponent().path }

    /// A TCP port nobody listens on now (the kernel's choice for port 0).
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw RigError("socket: \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw RigError("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The README's tour lines, as scripts/tour reads them.
    static func readmeTourLines() throws -> [String] {
        let readme = try String(contentsOf: Rig.root.appendingPathComponent("README.md"), encoding: .utf8)
        var lines = [String](), inTour = false, inCode = false, pending = ""
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.contains("<!-- tour:begin -->") { inTour = true; continue }
            if line.contains("<!-- tour:end -->") { inTour = false; continue }
            if inTour && line.hasPrefix("```") { inCode = line.hasPrefix("```sh"); continue }
            guard inTour && inCode else { continue }
            var text = line.replacingOccurrences(of: #"\s+# .*$"#, with: "", options: .regularExpression)
            if text.hasSuffix("\\") {
                text.removeLast()
                pending += text
                continue
            }
            text = (pending + text).trimmingCharacters(in: .whitespaces)
            pending = ""
            if !text.isEmpty { lines.append(text) }
        }
        return lines
    }

    @Test(
        "scripts/tour runs the README's tour as written on the rig, twice in a row from a clean state, every line checked; what it made verifies independently")
    func tourTwice() async throws {
        let lines = try Self.readmeTourLines()
        #expect(lines.count >= 25, "\(lines)")
        // The copy-paste traps the issue found are gone from the README's commands.
        #expect(!lines.contains { $0.contains("<head>") } && lines.contains { $0.contains("--previous-hash \"$HEAD\"") })
        #expect(lines.filter { $0.hasPrefix("signctl sign") }.allSatisfy { $0.contains("--pin-fd 3 3<\"$SIGNSERVICE_RIG/") })
        try await Rig.exclusive {
            let port = try Self.freePort()
            var recordsPort = try Self.freePort()
            while recordsPort == port { recordsPort = try Self.freePort() }
            for run in 1...2 {
                let result = try Command.run(
                    "/bin/bash", [Self.tour, "--no-build"],
                    environment: ["SIGNSERVICE_BIN": Self.bin, "TOUR_PORT": String(port), "TOUR_RECORDS_PORT": String(recordsPort)])
                #expect(result.status == 0, "run \(run): \(result.stdout.suffix(4000))\n\(result.stderr)")
                let oks = result.stdout.split(separator: "\n").filter { $0.hasPrefix("tour: ok ") }
                #expect(oks.count == lines.count, "run \(run): every README line passed its check (\(oks.count) of \(lines.count))")
                #expect(result.stdout.contains("tour: all \(lines.count) steps passed"))
                #expect(result.stdout.contains("SignService ready on http://127.0.0.1:\(port)"), "the daemon's ready line")
                #expect(!result.stdout.contains("file-exists"), "the second run starts clean")

                // What the tour made, checked by others than the tour.
                let tourFolder = Rig.root.appendingPathComponent(".tour")
                // Both daemons stopped cleanly at the tour's `kill` (the records service's document signer and its
                // tree-head publisher once crashed on the way out, after the token modules were unloaded).
                for log in ["state/daemon.log", "records/daemon.log"] {
                    let text = (try? String(contentsOf: tourFolder.appendingPathComponent(log), encoding: .utf8)) ?? ""
                    #expect(!text.isEmpty && !text.contains("Program crashed") && !text.contains("Fatal error"), "run \(run): \(log): \(text.suffix(3000))")
                }
                let openssl = try Command.run(
                    Command.which("openssl") ?? "/usr/bin/openssl",
                    [
                        "cms", "-verify", "-binary", "-inform", "DER", "-in", tourFolder.appendingPathComponent("extract.txt.p7s").path,
                        "-content", tourFolder.appendingPathComponent("extract.txt").path,
                        "-CAfile", Rig.root.appendingPathComponent("TestCerts/ca/root.crt").path, "-out", "/dev/null",
                    ])
                #expect(openssl.status == 0, "\(openssl.stderr)")
                let bundle = try Command.run(
                    Rig.signctl,
                    [
                        "history", "verify", tourFolder.appendingPathComponent("file.zip").path,
                        "--trust", Rig.root.appendingPathComponent("TestCerts/trust").path, "--json",
                    ])
                #expect(bundle.status == 0 && bundle.stdout.contains("\"passed\" : true"), "\(bundle.stdout)")
                let judged = UTCTimeText.format(
                    try TestTime.judging(Array(try Data(contentsOf: tourFolder.appendingPathComponent("note.txt.p7s")))))
                let note = try Command.run(
                    Rig.signctl,
                    [
                        "verify", tourFolder.appendingPathComponent("note.txt.p7s").path,
                        "--content", tourFolder.appendingPathComponent("note.txt").path,
                        "--trust", Rig.root.appendingPathComponent("TestCerts/trust").path, "--json",
                        "--cache", tourFolder.appendingPathComponent("cache").path, "--at", judged,
                    ])
                let report = try? VerificationReport.decode(Array(note.stdoutData))
                #expect(report?.verdict.signingTime?.source == .timeStamp, "the daemon time-stamped the note by default")
                let hindi = try String(contentsOf: tourFolder.appendingPathComponent("file-hi.html"), encoding: .utf8)
                #expect(hindi.contains("<html lang=\"hi\">"))
                let pid =
                    Int32(
                        (try? String(contentsOf: tourFolder.appendingPathComponent("state/daemon.pid"), encoding: .utf8))?
                            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
                #expect(pid > 0 && kill(pid, 0) != 0, "the tour's daemon is gone")
            }
        }
    }

    @Test("the tour fails on a README line it has no check for, and on a command that does not do what the README says")
    func rottenReadme() throws {
        try Rig.require()
        let folder = try TemporaryFolder("signservice-tour-readme")
        func readme(_ lines: [String]) throws -> String {
            try folder.file(
                "README-\(UUID().uuidString).md",
                Array(
                    (["<!-- tour:begin -->", "```sh"] + lines + ["```", "<!-- tour:end -->"])
                        .joined(separator: "\n").utf8)
            ).path
        }
        let padding = Array(repeating: "signctl doctor --ckr 0xa4", count: 20)
        let unchecked = try Command.run(
            "/bin/bash", [Self.tour, "--no-build"],
            environment: [
                "SIGNSERVICE_BIN": Self.bin, "TOUR_README": try readme(["signctl frobnicate"] + padding),
            ])
        #expect(
            unchecked.status == 1 && unchecked.stderr.contains("no check for this README line (add one to scripts/tour): signctl frobnicate"),
            "\(unchecked.stderr)")
        // The old README's placeholder: `<head>` is a shell redirection, so the command fails.
        let placeholder = try Command.run(
            "/bin/bash", [Self.tour, "--no-build"],
            environment: [
                "SIGNSERVICE_BIN": Self.bin, "TOUR_README": try readme(["signctl verify README.md --trust <head>"] + padding),
            ])
        #expect(placeholder.status == 1 && placeholder.stderr.contains("FAILED step 1"), "\(placeholder.stderr)")
        let short = try Command.run(
            "/bin/bash", [Self.tour, "--no-build"],
            environment: [
                "SIGNSERVICE_BIN": Self.bin, "TOUR_README": try readme(["signctl doctor --ckr 0xa4"]),
            ])
        #expect(short.status == 1 && short.stderr.contains("markers moved?"))
    }

    /// signctl doctor run from `folder` with the rig's variables removed from the environment, as in a new terminal.
    static func doctorUnsourced(in folder: String) throws -> Command.Result {
        try Command.run(
            "/usr/bin/env",
            [
                "-u", "PCSCLITE_CSOCK_NAME", "-u", "SOFTHSM2_CONF", "-u", "SIGNSERVICE_RIG",
                "/bin/sh", "-c", "cd \"$1\" && exec \"$2\" doctor", "sh", folder, Rig.signctl,
            ])
    }

    @Test("doctor in a shell that has not sourced the rig's env.sh says that the rig is up and how to point the shell at it, not to start the system's pcscd")
    func doctorSeesTheRig() throws {
        try Rig.require()
        // A checkout whose .rig is the rig that is up (a link to it: the rig may live in another checkout), in a new
        // terminal, in a folder below the checkout.
        let checkout = try TemporaryFolder("signservice-doctor-checkout")
        try FileManager.default.createSymbolicLink(atPath: checkout.path(".rig"), withDestinationPath: Rig.folder.path)
        try FileManager.default.createDirectory(atPath: checkout.path("docs"), withIntermediateDirectories: true)
        let rig = checkout.url.standardizedFileURL.appendingPathComponent(".rig").path
        let unsourced = try Self.doctorUnsourced(in: checkout.path("docs"))
        #expect(unsourced.status == 5, "\(unsourced.stdout)")
        let first = unsourced.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(
            first.hasPrefix("[FAIL] rig: the project's token rig is up at \(rig)") && first.contains("has not sourced its environment"),
            "\(unsourced.stdout)")
        #expect(unsourced.stdout.contains("next: run `source \(rig)/env.sh` in this shell"))
        #expect(!unsourced.stdout.contains("[FAIL] pcscd"), "the system's pcscd is not the problem: \(unsourced.stdout)")
        #expect(unsourced.stdout.contains("the rig's card and SoftHSM2 tokens are there once this shell has run `source \(rig)/env.sh`"))
        // A shell that has sourced the rig's env.sh (as this test process has).
        let sourced = try Command.run(Rig.signctl, ["doctor"])
        #expect(
            sourced.stdout.contains("[ok] rig: the project's token rig at \(Rig.folder.path); this shell uses it") && !sourced.stdout.contains("[FAIL] rig"),
            "\(sourced.stdout)")
        // A checkout whose rig is down: said as such, with the command that starts it.
        let stopped = try TemporaryFolder("signservice-doctor")
        try FileManager.default.createDirectory(atPath: stopped.path(".rig"), withIntermediateDirectories: true)
        try stopped.file(".rig/env.sh", Array("export PCSCLITE_CSOCK_NAME=\(stopped.path(".rig/pcscd/pcscd.comm"))\n".utf8))
        try stopped.file(".rig/pcscd.pid", Array("999999999\n".utf8))
        let down = try Self.doctorUnsourced(in: stopped.url.path)
        #expect(down.stdout.contains("[warn] rig: the project's token rig at \(stopped.url.standardizedFileURL.path)/.rig is not running"), "\(down.stdout)")
        #expect(down.stdout.contains("scripts/rig.sh up") && !down.stdout.contains("[FAIL] rig"))
    }

    @Test("with a TSA configured the daemon time-stamps every signature unless the request opts out; X-Time-Stamp and signctl say which")
    func timeStampByDefault() async throws {
        let tsa = ProcessInfo.processInfo.environment["SIGNSERVICE_TEST_TSA"] ?? "http://127.0.0.1:18792/"
        try await Rig.exclusive {
            let folder = try TemporaryFolder("signservice-tsa-default")
            let pin = try Rig.secretStrings()[1]
            let note = try folder.file("note.txt", Array("File TS-1/2026, note N-1: time-stamped by default.\n".utf8)).path
            let trust = Rig.root.appendingPathComponent("TestCerts/trust").path
            func source(_ signature: String) throws -> Verdict.SigningTimeEvidence.Source? {
                let at = UTCTimeText.format(try TestTime.judging(Array(try Data(contentsOf: URL(fileURLWithPath: signature)))))
                let checked = try Command.run(
                    Rig.signctl, ["verify", signature, "--content", note, "--trust", trust, "--json", "--cache", folder.path("cache"), "--at", at])
                return (try? VerificationReport.decode(Array(checked.stdoutData)))?.verdict.signingTime?.source
            }
            let daemon = try DaemonTests.Daemon(documentSigner: false, extra: ["timeStampAuthority": tsa])
            defer { _ = daemon.stop() }
            let sign = ["sign", note, "--key", DaemonTests.softKey, "--file-number", "TS-1/2026", "--note-id", "N-1"]
            let stamped = try DaemonTests.signctl(daemon, sign + ["-o", folder.path("stamped.p7s")], pin: pin)
            #expect(stamped.status == 0 && stamped.stderr.contains("time-stamped by \(tsa)"), "\(stamped.stderr)")
            #expect(try source(folder.path("stamped.p7s")) == .timeStamp)
            let optedOut = try DaemonTests.signctl(daemon, sign + ["-o", folder.path("plain.p7s"), "--no-time-stamp"], pin: pin)
            #expect(optedOut.status == 0 && optedOut.stderr.contains("not time-stamped"), "\(optedOut.stderr)")
            #expect(try source(folder.path("plain.p7s")) == .claimed)
            // The API: no timeStamp means the configured authority; false means none; the header says which.
            let auth = ["Authorization: Bearer \(daemon.adminToken)"]
            var body = DaemonTests.signBody(key: DaemonTests.softKey, pin: pin, note: "N-2", extract: Array("extract".utf8))
            let byDefault = try DaemonTests.request(daemon, "POST", "/v1/sign", headers: auth, body: body)
            #expect(byDefault.status == 200 && byDefault.headers.lowercased().contains("x-time-stamp: \(tsa)"), "\(byDefault.headers)")
            body.timeStamp = false
            let without = try DaemonTests.request(daemon, "POST", "/v1/sign", headers: auth, body: body)
            #expect(without.status == 200 && without.headers.lowercased().contains("x-time-stamp: none"), "\(without.headers)")
            #expect(daemon.everythingWritten().allSatisfy { !$0.contains(pin) }, "no PIN in what the daemon wrote")
            let openapi = try DaemonTests.checkOpenAPI(daemon)
            #expect(openapi.status == 0, "\(openapi.stdout)\(openapi.stderr)")

            // Without an authority nothing is time-stamped, and asking for a time-stamp is refused.
            let plainDaemon = try DaemonTests.Daemon(documentSigner: false)
            defer { _ = plainDaemon.stop() }
            let unstamped = try DaemonTests.signctl(plainDaemon, sign + ["-o", folder.path("none.p7s")], pin: pin)
            #expect(unstamped.status == 0 && unstamped.stderr.contains("not time-stamped"), "\(unstamped.stderr)")
            let asked = try DaemonTests.signctl(plainDaemon, sign + ["-o", folder.path("asked.p7s"), "--time-stamp"], pin: pin)
            #expect(asked.status == 3 && asked.stderr.contains("no timeStampAuthority configured"), "\(asked.stderr)")
        }
    }
}
