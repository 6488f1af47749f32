import CPKCS
import Foundation

/// A smart-card reader as PC/SC (pcscd) sees it.
public struct CardReader: Sendable, Hashable, Codable {
    public let name: String
    public let cardPresent: Bool
    /// The card's Answer To Reset; empty without a card.
    public let atr: [UInt8]
    /// The card does not answer (SCARD_STATE_MUTE): a broken or half-inserted card.
    public let mute: Bool
    /// Another application holds the card exclusively.
    public let exclusive: Bool

    public var atrHex: String { Hex.encode(atr, separator: " ", uppercase: true) }
}

/// A PC/SC context (libpcsclite). All PC/SC calls of SignKit go through here and through `check`.
public final class PCSCContext: @unchecked Sendable {
    private let context: SCARDCONTEXT
    private var released = false
    private let lock = NSLock()

    /// Connects to pcscd. Fails with `.pcscUnavailable` when pcscd is not running or its socket is unreachable.
    public init() throws {
        var context: SCARDCONTEXT = 0
        let rv = SCardEstablishContext(cpcsc_SCARD_SCOPE_SYSTEM, nil, nil, &context)
        if rv == cpcsc_SCARD_E_NO_SERVICE || rv == cpcsc_SCARD_E_SERVICE_STOPPED {
            let socket = ProcessInfo.processInfo.environment["PCSCLITE_CSOCK_NAME"] ?? "/run/pcscd/pcscd.comm"
            throw TokenError(.pcscUnavailable, "pcscd is not running or not reachable at \(socket): start it (systemctl start pcscd.socket)")
        }
        try Self.check(rv, "SCardEstablishContext")
        self.context = context
    }

    deinit { release() }

    public func release() {
        lock.lock()
        defer { lock.unlock() }
        guard !released else { return }
        released = true
        SCardReleaseContext(context)
    }

    static func check(_ rv: LONG, _ function: StaticString, file: String = #fileID, line: Int = #line) throws {
        guard rv != cpcsc_SCARD_S_SUCCESS else { return }
        let text = String(cString: pcsc_stringify_error(rv))
        let code: TokenError.Code =
            (rv == cpcsc_SCARD_E_NO_SERVICE || rv == cpcsc_SCARD_E_SERVICE_STOPPED)
            ? .pcscUnavailable : .pcscCall
        throw TokenError(
            code, "\(function): \(text) (0x\(String(UInt32(bitPattern: Int32(truncatingIfNeeded: rv)), radix: 16)))",
            retryable: true, file: file, line: line)
    }

    /// Reader names; empty when no reader is attached.
    public func readerNames() throws -> [String] {
        var length: DWORD = 0
        var rv = SCardListReaders(context, nil, nil, &length)
        if rv == cpcsc_SCARD_E_NO_READERS_AVAILABLE { return [] }
        try Self.check(rv, "SCardListReaders")
        var buffer = [CChar](repeating: 0, count: Int(length))
        rv = SCardListReaders(context, nil, &buffer, &length)
        if rv == cpcsc_SCARD_E_NO_READERS_AVAILABLE { return [] }
        try Self.check(rv, "SCardListReaders")
        // A multi-string: names separated by NUL, ended by two NULs.
        return buffer.split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    /// Every reader with its current state and the ATR of the card in it.
    public func readers() throws -> [CardReader] {
        let names = try readerNames()
        guard !names.isEmpty else { return [] }
        return try states(of: names, timeoutMilliseconds: 0).map(\.reader)
    }

    struct ReaderState {
        let reader: CardReader
        let eventState: DWORD
    }

    /// SCardGetStatusChange with every reader's current state unaware: answers at once with the state.
    func states(of names: [String], timeoutMilliseconds: DWORD) throws -> [ReaderState] {
        let cNames = names.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        var states = cNames.map { name -> SCARD_READERSTATE in
            var state = SCARD_READERSTATE()
            state.szReader = UnsafePointer(name)
            state.dwCurrentState = cpcsc_SCARD_STATE_UNAWARE
            return state
        }
        let rv = SCardGetStatusChange(context, timeoutMilliseconds, &states, DWORD(states.count))
        if rv != cpcsc_SCARD_E_TIMEOUT { try Self.check(rv, "SCardGetStatusChange") }
        return zip(names, states).map { name, state in
            let event = state.dwEventState
            let present = event & cpcsc_SCARD_STATE_PRESENT != 0
            let atr = withUnsafeBytes(of: state.rgbAtr) { Array($0.prefix(Int(min(state.cbAtr, DWORD(MAX_ATR_SIZE))))) }
            return ReaderState(
                reader: CardReader(
                    name: name, cardPresent: present, atr: present ? atr : [],
                    mute: event & cpcsc_SCARD_STATE_MUTE != 0,
                    exclusive: event & cpcsc_SCARD_STATE_EXCLUSIVE != 0),
                eventState: event)
        }
    }
}

extension PCSCContext {
    /// Blocks until a card is inserted or removed, a reader is attached or detached, or `timeoutMilliseconds`
    /// pass (SCardGetStatusChange with the states last seen, and pcsc-lite's "\\?PnP?\Notification" reader for
    /// reader changes). Returns true when something changed. `known` holds each reader's last event state and is
    /// updated.
    public func waitForChange(known: inout [String: UInt], timeoutMilliseconds: UInt) throws -> Bool {
        let names = try readerNames()
        let pnp = "\\\\?PnP?\\Notification"
        let all = names + [pnp]
        let cNames = all.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        var states = zip(all, cNames).map { name, cName -> SCARD_READERSTATE in
            var state = SCARD_READERSTATE()
            state.szReader = UnsafePointer(cName)
            if name == pnp {
                // pcsc-lite reports reader changes through the high word of the PnP reader's state: a count.
                state.dwCurrentState = DWORD(names.count) << 16
            } else {
                state.dwCurrentState = known[name].map { DWORD($0) & ~DWORD(cpcsc_SCARD_STATE_CHANGED) } ?? cpcsc_SCARD_STATE_UNAWARE
            }
            return state
        }
        // A reader known before but gone now is a change already.
        let vanished = Set(known.keys).subtracting(names)
        let rv = SCardGetStatusChange(context, DWORD(timeoutMilliseconds), &states, DWORD(states.count))
        if rv == cpcsc_SCARD_E_TIMEOUT { return !vanished.isEmpty }
        if rv == cpcsc_SCARD_E_UNKNOWN_READER || rv == cpcsc_SCARD_E_NO_READERS_AVAILABLE { known = [:]; return true }
        try Self.check(rv, "SCardGetStatusChange")
        var changed = !vanished.isEmpty
        for (name, state) in zip(all, states) where name != pnp {
            if state.dwEventState & cpcsc_SCARD_STATE_CHANGED != 0 { changed = true }
            known[name] = UInt(state.dwEventState)
        }
        for name in vanished { known[name] = nil }
        if let last = states.last, last.dwEventState & cpcsc_SCARD_STATE_CHANGED != 0 { changed = true }
        return changed
    }
}
