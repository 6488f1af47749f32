import Foundation
import Testing
import TestSupport
@testable import SignKit

/// What a newcomer meets following the README: `signctl doctor` in a shell that has not sourced the rig's environment.
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
}
