import Foundation

/// Asks for a PIN through a pinentry program (GnuPG's pinentry-curses, -gtk, -qt...) speaking the Assuan protocol
/// on its standard input and output, so that the PIN is typed into the pinentry's own window or screen and reaches
/// this process only as the bytes of one `D` line, which are copied into a `PIN` and wiped.
public enum PINEntry {
    /// - Parameters:
    ///   - program: the pinentry executable.
    ///   - description: the text shown above the field (which token, which certificate, how many tries).
    ///   - timeout: seconds after which the pinentry gives up (an officer who walked away), 0 for none.
    public static func ask(
        program: String, description: String, prompt: String = "PIN:",
        timeout: Int = 60
    ) throws(PINError) -> PIN {
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw .pinentry("cannot make pipes") }
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(program), nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, environ)
        close(toChild[0])
        close(fromChild[1])
        let input = toChild[1], output = fromChild[0]
        defer {
            close(input)
            close(output)
            if spawned == 0 {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
        }
        guard spawned == 0 else { throw .pinentry("cannot run \(program): \(String(cString: strerror(spawned)))") }

        var session = AssuanSession(input: input, output: output)
        defer { session.wipe() }
        try session.expectOK("the greeting")
        // Where to draw, for curses pinentries: the terminal this process runs on, if any.
        if let terminal = controllingTerminal() {
            try session.command("OPTION ttyname=\(terminal)", optional: true)
            try session.command("OPTION ttytype=\(ProcessInfo.processInfo.environment["TERM"] ?? "vt100")", optional: true)
        }
        try session.command("SETDESC " + AssuanSession.escape(description))
        try session.command("SETPROMPT " + AssuanSession.escape(prompt))
        if timeout > 0 { try session.command("SETTIMEOUT \(timeout)", optional: true) }
        let pin = try session.getPIN()
        session.bye()
        return pin
    }

    /// The bytes `text` takes on a SETDESC line once escaped (Assuan lines hold at most 1,000 bytes).
    public static func escapedLength(_ text: String) -> Int { AssuanSession.escape(text).utf8.count }

    static func controllingTerminal() -> String? {
        for fd in [Int32(0), 1, 2] where isatty(fd) == 1 {
            if let name = ttyname(fd) { return String(cString: name) }
        }
        let fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return ttyname(fd).map { String(cString: $0) }
    }
}

/// The client side of an Assuan conversation (the GnuPG IPC protocol): one command per line, answered by
/// `OK`, `ERR code text`, or data lines `D percent-escaped-bytes` before the `OK`.
struct AssuanSession {
    let input: Int32
    let output: Int32
    private var pending = [UInt8]()

    init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
    }

    /// %, CR and LF percent-escaped, as Assuan requires.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    mutating func command(_ line: String, optional: Bool = false) throws(PINError) {
        write(line)
        var reply = try readLine()
        defer { Self.wipe(&reply) }
        if reply.starts(with: Array("OK".utf8)) { return }
        if optional && reply.starts(with: Array("ERR".utf8)) { return }
        throw .pinentry("\(line.split(separator: " ").first ?? "") refused: \(String(decoding: reply.prefix(120), as: UTF8.self))")
    }

    mutating func expectOK(_ what: String) throws(PINError) {
        var reply = try readLine()
        defer { Self.wipe(&reply) }
        guard reply.starts(with: Array("OK".utf8)) else { throw .pinentry("no OK in \(what)") }
    }

    /// GETPIN: the `D` line's bytes, unescaped straight into a PIN. Cancel and errors become PINError.
    mutating func getPIN() throws(PINError) -> PIN {
        write("GETPIN")
        var data = [UInt8]()
        defer { Self.wipe(&data) }
        while true {
            var line = try readLine()
            defer { Self.wipe(&line) }
            if line.starts(with: Array("D ".utf8)) {
                var index = 2
                while index < line.count {
                    if line[index] == UInt8(ascii: "%"), index + 2 < line.count,
                        let high = Self.hex(line[index + 1]), let low = Self.hex(line[index + 2])
                    {
                        data.append(high << 4 | low)
                        index += 3
                    } else {
                        data.append(line[index])
                        index += 1
                    }
                }
            } else if line.starts(with: Array("OK".utf8)) {
                guard !data.isEmpty else { throw .empty() }
                let result: Result<PIN, PINError> = data.withUnsafeBytes { raw in
                    do throws(PINError) { return .success(try PIN(bytes: raw)) } catch { return .failure(error) }
                }
                return try result.get()
            } else if line.starts(with: Array("ERR".utf8)) {
                let text = String(decoding: line.prefix(120), as: UTF8.self)
                throw .pinentry(text.localizedCaseInsensitiveContains("cancel") ? "cancelled by the user" : text)
            } else if line.starts(with: Array("S ".utf8)) || line.starts(with: Array("#".utf8)) {
                continue  // status and comment lines carry nothing we need
            } else {
                throw .pinentry("unexpected reply to GETPIN")
            }
        }
    }

    mutating func bye() {
        write("BYE")
        _ = try? readLine()
    }

    mutating func wipe() { Self.wipe(&pending) }

    private func write(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(input, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    /// One line without its newline. Assuan lines are at most 1000 bytes.
    private mutating func readLine() throws(PINError) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 512)
        defer { Self.wipe(&chunk) }
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                let rest = Array(pending[(newline + 1)...])
                Self.wipe(&pending)
                pending = rest
                return line
            }
            guard pending.count < 4096 else { throw .pinentry("a reply line is too long") }
            let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .pinentry("the pinentry program ended without an answer") }
            pending += chunk[..<n]
        }
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    /// Zeroes the array's own storage (in place: a copy would be wiped instead of the original).
    private static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { if let base = $0.baseAddress, $0.count > 0 { explicit_bzero(base, $0.count) } }
    }
}
