import Foundation

/// Runs a helper program from Debian (pdfinfo, pdftoppm, zbarimg) on a file the service holds, with a time limit.
/// Both output streams are read while it runs (a full stderr pipe cannot stall it), each kept up to
/// `maximumOutput` bytes; past the time limit it is killed and the run fails.
struct Subprocess {
    struct Outcome {
        let status: Int32
        let output: [UInt8]
        let errors: [UInt8]

        var errorLine: String {
            String(decoding: errors, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "exit status \(status)"
        }
    }

    /// A helper program (zbarimg, pdftoppm, pdfinfo) could not be run or did not finish in time.
    struct Failure: CodedError {
        let reason: String
        /// It ran but was stopped at its time limit (the input may be built to make it run for ever).
        var timedOut = false
        let file: String
        let line: Int
        var codeName: String { "helper-program" }

        static func cannotStart(_ program: String, _ why: String, file: String = #fileID, line: Int = #line) -> Failure {
            Failure(reason: "cannot run \(program): \(why)", file: file, line: line)
        }

        static func timedOut(_ program: String, _ seconds: Double, file: String = #fileID, line: Int = #line) -> Failure {
            Failure(reason: "\(program) did not finish within \(Int(seconds)) s and was stopped", timedOut: true, file: file, line: line)
        }
    }

    let executable: String
    var arguments: [String]
    var timeout: Double = 60
    var maximumOutput = 4 << 20

    func run() throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            throw Failure.cannotStart(executable, "\(error)")
        }
        let readers = DispatchGroup()
        let limit = maximumOutput
        let collected = Collected()
        // Each stream is drained on a thread of its own, not on a global queue: the caller itself usually runs on a
        // global queue thread (the daemon's blocking work), and on two cores the readers could wait behind the very
        // callers waiting for them.
        for (index, pipe) in [output, errors].enumerated() {
            readers.enter()
            let reader = Thread {
                var bytes = [UInt8]()
                let handle = pipe.fileHandleForReading
                while let chunk = try? handle.read(upToCount: 64 << 10), !chunk.isEmpty {
                    if bytes.count < limit { bytes += chunk.prefix(limit - bytes.count) }
                }
                collected.set(index, bytes)
                readers.leave()
            }
            reader.name = "subprocess-reader"
            reader.start()
        }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
            readers.wait()
            throw Failure.timedOut(URL(fileURLWithPath: executable).lastPathComponent, timeout)
        }
        readers.wait()
        return Outcome(status: process.terminationStatus, output: collected.get(0), errors: collected.get(1))
    }

    private final class Collected: @unchecked Sendable {  // each slot written once by its reader, read after both end
        private let lock = NSLock()
        private var slots: [[UInt8]] = [[], []]
        func set(_ index: Int, _ bytes: [UInt8]) { lock.withLock { slots[index] = bytes } }
        func get(_ index: Int) -> [UInt8] { lock.withLock { slots[index] } }
    }
}
