import ArgumentParser
import CPKCS
import Foundation
import SignKit

/// Signatures per second through SignKit beside the raw PKCS#11 rate of the same key in the same run.
///
/// The raw loop is the floor of what any wrapper can reach: C_SignInit + C_Sign on an open, logged-in session,
/// called straight through the module's function list. The SignKit loop is `TokenSigningSession.sign`, which
/// adds the per-token lock, the mechanism plan and the error mapping. Rounds alternate (raw, SignKit, SignKit,
/// raw, ...) so that a noisy neighbour on the machine hurts both sides alike; the ratio is of the medians.
@main
struct SignBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "SignBench",
        abstract: "Signing benchmarks on the token rig (SoftHSM2 by default); each prints its figures beside a reference measured in the same run.",
        subcommands: [
            TokenRate.self, CAdESRate.self, Memory.self, VerifyRate.self, HistoryRate.self, DaemonRate.self, UploadRate.self, RecordsRate.self,
        ],
        defaultSubcommand: TokenRate.self)
}

/// Common options: the key and its PIN.
struct KeyArguments: ParsableArguments {
    @Option(help: "PKCS#11 URI of the key.")
    var key = "pkcs11:token=SignService%20Test;id=%01;type=private"

    @Option(name: .customLong("pin-file"), help: "File holding the PIN (default: the rig's .rig/softhsm.pin).")
    var pinFile: String?

    var pinPath: String { pinFile ?? (Bench.rigFolder() + "/softhsm.pin") }

    /// Logs in to the key (SignKit) and opens a raw session beside it. The PIN is returned for keys that need it
    /// again (CKA_ALWAYS_AUTHENTICATE); the caller wipes it.
    func openSessions() throws -> (session: TokenSigningSession, raw: RawSigner, pin: PIN) {
        try Bench.loadRigEnvironment()
        let manager = TokenManager(configuration: TokenConfiguration(catalogue: try ATRCatalogue.bundled()))
        let uri = try PKCS11URI(key)
        let pin = try readPIN()
        let session = try manager.openSigningSession(uri, pin: pin, at: Date())
        do {
            return (session, try RawSigner(session: session, manager: manager, uri: uri), pin)
        } catch {
            session.close()
            throw error
        }
    }

    func readPIN() throws -> PIN {
        let fd = open(pinPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("cannot open PIN file \(pinPath); start the rig (scripts/rig.sh up) or pass --pin-file") }
        defer { close(fd) }
        return try PIN.read(fromDescriptor: fd)
    }
}

struct TokenRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "SignKit signatures per second beside raw C_Sign on the same key, interleaved rounds.")

    @OptionGroup var keyArguments: KeyArguments

    @OptionGroup var rounds: RoundOptions

    @Option(name: .customLong("message-bytes"), help: "Bytes signed each time (CMS signed attributes are ~250-400).")
    var messageBytes = 300

    func run() throws {
        let (session, raw, pin) = try keyArguments.openSessions()
        defer { session.close() }
        pin.wipe()
        defer { raw.close() }
        let message = (0..<messageBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }

        // Warm-up: both paths once, and check that they agree on what a signature is.
        let viaKit = try session.sign(message)
        let viaRaw = try raw.sign(message)
        if session.algorithm == .sha256WithRSAEncryption && viaKit.bytes != viaRaw {
            throw ValidationError("SignKit and raw C_Sign produced different PKCS#1 v1.5 signatures over the same bytes")
        }

        print("key: \(session.certificate.subject.commonName ?? "?") on token \"\(session.token.label)\" (\(session.algorithm.rawValue))")
        print("message: \(messageBytes) bytes; \(rounds.count) rounds of \(rounds.seconds) s per side, interleaved")
        try Bench.interleave(
            rounds, reference: "raw C_Sign/s", { _ = try raw.sign(message) },
            measured: "SignKit/s", { _ = try session.sign(message) }, ratio: "SignKit/raw", target: 0.9)
    }
}

/// C_SignInit + C_Sign straight through the module's function list, on a session of its own. PKCS#11 login
/// state belongs to the application, so the SignKit session's login covers this session too.
final class RawSigner {
    let functions: CK_FUNCTION_LIST_PTR
    var module = cpkcs_module()
    var session: CK_SESSION_HANDLE = 0
    var key: CK_OBJECT_HANDLE = 0
    var mechanism: CK_MECHANISM

    init(session signing: TokenSigningSession, manager: TokenManager, uri: PKCS11URI) throws {
        let inventory = manager.inventory(at: Date())
        let (entry, chosen) = try manager.resolve(uri, in: inventory)
        var error = [CChar](repeating: 0, count: 512)
        guard cpkcs_module_open(entry.modulePath, &module, &error, error.count) == 0, let functions = module.functions else {
            throw ValidationError("cannot open \(entry.modulePath)")
        }
        self.functions = functions
        switch signing.algorithm {
        case .sha256WithRSAEncryption: mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_SHA256_RSA_PKCS), pParameter: nil, ulParameterLen: 0)
        case .ecdsaWithSHA256: mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_ECDSA), pParameter: nil, ulParameterLen: 0)
        }
        let rv = cpkcs_initialize(functions)
        guard rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED else { throw ValidationError("C_Initialize: \(CKR.name(UInt(rv)))") }
        var handle: CK_SESSION_HANDLE = 0
        try Self.check(functions.pointee.C_OpenSession(entry.slot.id, cpkcs_CKF_SERIAL_SESSION, nil, nil, &handle), "C_OpenSession")
        session = handle
        var keyClass = CK_OBJECT_CLASS(CKO_PRIVATE_KEY)
        var id = chosen.id
        try withUnsafeMutableBytes(of: &keyClass) { classBytes in
            try id.withUnsafeMutableBytes { idBytes in
                var template = [
                    CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_CLASS), pValue: classBytes.baseAddress, ulValueLen: CK_ULONG(classBytes.count)),
                    CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_ID), pValue: idBytes.baseAddress, ulValueLen: CK_ULONG(idBytes.count)),
                ]
                try Self.check(functions.pointee.C_FindObjectsInit(handle, &template, CK_ULONG(template.count)), "C_FindObjectsInit")
            }
        }
        var count: CK_ULONG = 0
        var found: CK_OBJECT_HANDLE = 0
        try Self.check(functions.pointee.C_FindObjects(handle, &found, 1, &count), "C_FindObjects")
        _ = functions.pointee.C_FindObjectsFinal(handle)
        guard count == 1 else { throw ValidationError("raw session: private key not found") }
        key = found
    }

    /// One signature. For ECDSA the raw side signs a precomputed 32-byte value, as the token sees it.
    func sign(_ message: [UInt8]) throws -> [UInt8] {
        var input = message
        if mechanism.mechanism == CK_MECHANISM_TYPE(CKM_ECDSA) { input = Array(message.prefix(32)) }
        try Self.check(functions.pointee.C_SignInit(session, &mechanism, key), "C_SignInit")
        var output = [UInt8](repeating: 0, count: 512)
        var length = CK_ULONG(output.count)
        try Self.check(functions.pointee.C_Sign(session, &input, CK_ULONG(input.count), &output, &length), "C_Sign")
        return Array(output.prefix(Int(length)))
    }

    func close() {
        _ = functions.pointee.C_CloseSession(session)
        // The module stays loaded: SignKit's instance of the same shared object finalises it at exit.
    }

    static func check(_ rv: CK_RV, _ name: String) throws {
        guard rv == CKR_OK else { throw ValidationError("\(name): \(CKR.name(UInt(rv)))") }
    }
}

/// How long to measure: rounds per side, each of a fixed length.
struct RoundOptions: ParsableArguments {
    @Option(name: .customLong("rounds"), help: "Rounds per side.")
    var count = 6

    @Option(name: .customLong("round-seconds"), help: "Length of one round.")
    var seconds = 1.0
}

/// Helpers shared by the benchmarks.
enum Bench {
    /// Alternates the two loops round by round (reference first in odd rounds, second in even ones) so that a
    /// noisy neighbour hurts both alike, prints each round, the medians and their ratio.
    static func interleave(
        _ rounds: RoundOptions, reference: String, _ referenceBody: () throws -> Void,
        measured: String, _ measuredBody: () throws -> Void, ratio: String, target: Double
    ) throws {
        print("round  " + reference.leftPadded(16) + "  " + measured.leftPadded(16))
        var referenceRates = [Double](), measuredRates = [Double]()
        for round in 1...rounds.count {
            var rates = [Bool: Double]()
            for isReference in round % 2 == 1 ? [true, false] : [false, true] {
                rates[isReference] = try measure(seconds: rounds.seconds, isReference ? referenceBody : measuredBody)
            }
            referenceRates.append(rates[true]!)
            measuredRates.append(rates[false]!)
            print(String(format: "%5d  %16.1f  %16.1f", round, rates[true]!, rates[false]!))
        }
        let referenceMedian = median(referenceRates), measuredMedian = median(measuredRates)
        print(String(format: "median %16.1f  %16.1f", referenceMedian, measuredMedian))
        let paired = median(zip(measuredRates, referenceRates).map { $0 / $1 })
        print(
            String(
                format: "ratio %@: %.3f of the medians, %.3f median of the per-round pairs (target >= %.1f)", ratio,
                measuredMedian / referenceMedian, paired, target))
    }

    static func measure(seconds: Double, _ body: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var count = 0
        while true {
            try body()
            count += 1
            let elapsed = clock.now - start
            if elapsed >= .seconds(seconds) {
                let (s, attoseconds) = elapsed.components
                return Double(count) / (Double(s) + Double(attoseconds) / 1e18)
            }
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func rigFolder() -> String {
        ProcessInfo.processInfo.environment["SIGNSERVICE_RIG"] ?? FileManager.default.currentDirectoryPath + "/.rig"
    }

    /// Uses the rig's SoftHSM2 configuration when the environment does not name one.
    static func loadRigEnvironment() throws {
        guard ProcessInfo.processInfo.environment["SOFTHSM2_CONF"] == nil else { return }
        guard let text = try? String(contentsOfFile: rigFolder() + "/env.sh", encoding: .utf8) else { return }
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { setenv(String(pair[0]), String(pair[1]), 1) }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
