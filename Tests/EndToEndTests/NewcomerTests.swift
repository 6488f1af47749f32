import Foundation
import Testing
import TestSupport
@testable import SignKit

/// What a newcomer meets following the README: `signctl doctor` in a shell that has not sourced the rig's environment,
/// and the daemon time-stamping by default.
@Suite("A newcomer's path", .serialized)
struct NewcomerTests {
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
