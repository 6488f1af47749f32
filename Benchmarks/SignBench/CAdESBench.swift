import ArgumentParser
import Foundation
import SignKit

/// End-to-end signatures per second (extract file -> streamed SHA-256 -> CAdES signed attributes -> token -> DER
/// .p7s with its self-check) beside raw C_Sign on the same key, interleaved rounds, medians compared.
struct CAdESRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cades",
        abstract: "signctl sign's path (extract -> .p7s) per second beside the raw C_Sign rate of the same key.",
        discussion: "The .p7s stays in memory: writing it with fsync would measure the disk, not the signing path.")

    @OptionGroup var keyArguments: KeyArguments

    @OptionGroup var rounds: RoundOptions

    @Option(name: .customLong("extract-bytes"), help: "Size of the extract signed.")
    var extractBytes = 4096

    func run() throws {
        let (session, raw, pin) = try keyArguments.openSessions()
        defer { session.close() }
        defer { raw.close() }
        defer { pin.wipe() }

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("signbench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = folder.appendingPathComponent("extract.txt")
        try Data((0..<extractBytes).map { UInt8(truncatingIfNeeded: 32 + $0 % 90) }).write(to: extract)
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: "DIT-12/3/2026-IT", noteID: "N-1"),
            commitment: .proofOfOrigin, signingTime: Date())
        let attributesSized = [UInt8](repeating: 0x31, count: 420)  // about the size of the signed attributes
        var lastSize = 0
        func endToEnd() throws {
            let (digest, _) = try ExtractDigest.sha256(ofFileAt: extract.path)
            let p7s = try CAdES.signDetached(contentDigest: digest, certificate: session.certificate, parameters: parameters) {
                try session.sign($0, pin: session.alwaysAuthenticate ? pin : nil)
            }
            lastSize = p7s.count
        }
        try endToEnd()
        _ = try raw.sign(attributesSized)
        print("key: \(session.certificate.subject.commonName ?? "?") on token \"\(session.token.label)\" (\(session.algorithm.rawValue))")
        print("extract: \(extractBytes) bytes; .p7s: \(lastSize) bytes; \(rounds.count) rounds of \(rounds.seconds) s per side, interleaved")
        try Bench.interleave(
            rounds, reference: "raw C_Sign/s", { _ = try raw.sign(attributesSized) },
            measured: "extract->.p7s/s", { try endToEnd() }, ratio: "end-to-end/raw", target: 0.9)
    }
}

/// Peak memory of `signctl sign` on a large extract, read from the kernel's accounting of the child process
/// (getrusage RUSAGE_CHILDREN ru_maxrss), beside the same figure for `signctl --version` as the floor.
struct Memory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Peak resident memory of signctl signing a large extract (default 1 GiB).")

    @OptionGroup var keyArguments: KeyArguments

    @Option(name: .customLong("size-mib"), help: "Extract size in MiB.")
    var sizeMiB = 1024

    @Option(help: "The signctl binary to run (default: next to this benchmark).")
    var signctl: String?

    @Option(help: "Folder for the extract (default: the system's temporary folder).")
    var folder: String?

    func run() throws {
        try Bench.loadRigEnvironment()
        let binary = signctl ?? Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("signctl").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no signctl at \(binary): swift build -c release --product signctl, or pass --signctl")
        }
        let base = URL(fileURLWithPath: folder ?? FileManager.default.temporaryDirectory.path)
            .appendingPathComponent("signbench-memory-\(getpid())")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let extract = base.appendingPathComponent("extract.bin")
        try writeExtract(extract, mebibytes: sizeMiB)

        let floor = try peakKiB(binary, ["--version"])
        let start = Date()
        let peak = try peakKiB(
            binary,
            [
                "sign", extract.path, "--key", keyArguments.key, "--file-number", "BENCH-1",
                "--note-id", "1", "--pin-fd", "0", "-o", base.appendingPathComponent("extract.p7s").path,
            ])
        let seconds = Date().timeIntervalSince(start)
        print(
            "extract: \(sizeMiB) MiB; signctl sign took \(String(format: "%.1f", seconds)) s "
                + "(\(String(format: "%.0f", Double(sizeMiB) / seconds)) MiB/s)")
        print("peak RSS: signctl --version \(floor / 1024) MiB (floor); signctl sign \(peak / 1024) MiB (target < 64 MiB)")
    }

    private func writeExtract(_ url: URL, mebibytes: Int) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: url.path)
        else { throw ValidationError("cannot create \(url.path)") }
        defer { try? handle.close() }
        var chunk = Data(count: 1 << 20)
        for index in 0..<mebibytes {
            chunk[0] = UInt8(truncatingIfNeeded: index)  // each MiB differs
            chunk[chunk.count - 1] = UInt8(truncatingIfNeeded: index >> 8)
            try handle.write(contentsOf: chunk)
        }
    }

    /// Runs the binary with the PIN on stdin and returns the child's peak RSS in KiB.
    private func peakKiB(_ binary: String, _ arguments: [String]) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardInput = FileHandle(forReadingAtPath: keyArguments.pinPath)
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(binary) \(arguments.first ?? "") failed: \(String(decoding: message, as: UTF8.self))")
        }
        var after = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &after)
        // ru_maxrss of RUSAGE_CHILDREN is the largest of all waited-for children: run the small one first.
        return Int(after.ru_maxrss)
    }
}
