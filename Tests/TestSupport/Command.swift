import Foundation

/// Runs a program to completion and collects its output, with posix_spawn and waitpid. (Foundation's Process
/// on Linux was seen to miss a child's exit when several tests ran commands at once, leaving a zombie and a
/// hung test.)
public enum Command {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        public let stdoutData: Data
    }

    public static func run(
        _ executable: String, _ arguments: [String], stdin: Data? = nil,
        environment: [String: String] = [:]
    ) throws -> Result {
        var merged = ProcessInfo.processInfo.environment
        environment.forEach { merged[$0.key] = $0.value }
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0], errors: [Int32] = [0, 0]
        // Pipes are made close-on-exec and the child spawned under one lock, so that a child spawned at the
        // same moment by another test never inherits these pipes (and holds their end-of-file back).
        spawnLock.lock()
        var locked = true
        defer { if locked { spawnLock.unlock() } }
        for index in 0..<3 {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw CommandError("pipe: \(String(cString: strerror(errno)))") }
            fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
            switch index {
            case 0: input = fds
            case 1: output = fds
            default: errors = fds
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(input[0])
        close(output[1])
        close(errors[1])
        spawnLock.unlock()
        locked = false
        guard spawned == 0 else {
            close(input[1]); close(output[0]); close(errors[0])
            throw CommandError("cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        if let stdin {
            stdin.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(input[1], raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    offset += n
                }
            }
        }
        close(input[1])

        // Drain both pipes until both reach end of file.
        var collected: [Int32: [UInt8]] = [output[0]: [], errors[0]: []]
        var open = [output[0], errors[0]]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress!, $0.count) }
                if n > 0 {
                    collected[entry.fd]! += buffer[..<n]
                } else if n == 0 || errno != EINTR {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let stdoutData = Data(collected[output[0]]!)
        return Result(
            status: exitStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: collected[errors[0]]!, as: UTF8.self), stdoutData: stdoutData)
    }

    /// A program on PATH.
    public static func which(_ name: String) -> String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

private let spawnLock = NSLock()

public struct CommandError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
