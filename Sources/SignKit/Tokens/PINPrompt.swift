import Foundation

/// Asks for a PIN on the controlling terminal with echo off. The terminal's settings are restored on return and
/// on Ctrl-C, so an interrupted prompt never leaves the officer's terminal silent.
public enum PINPrompt {
    /// Writes `prompt` to /dev/tty and reads one line from it with echo off.
    public static func readFromTerminal(prompt: String) throws(PINError) -> PIN {
        let tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard tty >= 0 else { throw .noTerminal() }
        defer { close(tty) }
        var original = termios()
        guard tcgetattr(tty, &original) == 0 else { throw .noTerminal() }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO | ECHONL)
        silent.c_lflag |= tcflag_t(ICANON)

        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        // Set before the handler is installed and cleared after it is removed: the handler only reads it.
        terminalForSignal = (tty, original)
        let previous = signal(SIGINT, restoreAndExit)
        defer {
            tcsetattr(tty, TCSAFLUSH, &original)
            signal(SIGINT, previous)
            terminalForSignal = (-1, nil)
            _ = write(tty, "\n", 1)
        }
        guard tcsetattr(tty, TCSAFLUSH, &silent) == 0 else { throw .noTerminal() }
        return try PIN.read(fromDescriptor: tty)
    }
}

/// The terminal to restore if SIGINT arrives during the prompt. One prompt runs at a time (it owns the terminal).
nonisolated(unsafe) private var terminalForSignal: (fd: Int32, settings: termios?) = (-1, nil)

/// SIGINT during the prompt: put the terminal back and leave as shells expect (128 + signal).
/// tcsetattr and _exit are async-signal-safe.
private func restoreAndExit(_ signal: Int32) {
    if var settings = terminalForSignal.settings, terminalForSignal.fd >= 0 {
        tcsetattr(terminalForSignal.fd, TCSAFLUSH, &settings)
    }
    _exit(128 + signal)
}
