import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import SignKit

/// A reader or card change, as the event stream sends it.
struct TokenEvent: Codable, Sendable {
    /// reader-added, reader-removed, card-inserted, card-removed, pcsc-unavailable.
    let type: String
    let reader: String?
    let atr: String?
    let time: String
}

/// Watches PC/SC (pcscd) for readers and cards on its own thread and keeps the live model the API and the event
/// stream read. Each change reaches subscribers as soon as SCardGetStatusChange returns (well within a second).
final class TokenMonitor: Service, Sendable {
    private struct State: Sendable {
        var readers: [String: CardReader] = [:]
        var subscribers: [UUID: AsyncStream<TokenEvent>.Continuation] = [:]
        var stopping = false
    }
    private let state = Mutex(State())
    private let logger: Logger
    /// Called (on the monitor's thread) with each batch of events, before subscribers hear of them.
    private let onEvents: @Sendable ([TokenEvent]) -> Void

    init(logger: Logger, onEvents: @escaping @Sendable ([TokenEvent]) -> Void = { _ in }) {
        self.logger = logger
        self.onEvents = onEvents
    }

    var readers: [CardReader] { state.withLock { $0.readers.values.sorted { $0.name < $1.name } } }

    /// A stream of every change from now on; it ends when the caller stops reading or the daemon stops.
    func subscribe() -> AsyncStream<TokenEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: TokenEvent.self, bufferingPolicy: .bufferingNewest(64))
        let id = UUID()
        state.withLock { $0.subscribers[id] = continuation }
        continuation.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) } }
        return stream
    }

    func run() async throws {
        let thread = Thread { [self] in watch() }
        thread.name = "signservice-pcsc"
        thread.start()
        await withGracefulShutdownHandler {
            while !state.withLock({ $0.stopping }) {
                try? await Task.sleep(for: .milliseconds(200))
            }
        } onGracefulShutdown: { [self] in
            stop()
        }
    }

    func stop() {
        let subscribers = state.withLock { state -> [AsyncStream<TokenEvent>.Continuation] in
            state.stopping = true
            return Array(state.subscribers.values)
        }
        subscribers.forEach { $0.finish() }
    }

    private func publish(_ events: [TokenEvent], readers: [CardReader]) {
        let subscribers = state.withLock { state -> [AsyncStream<TokenEvent>.Continuation] in
            state.readers = Dictionary(uniqueKeysWithValues: readers.map { ($0.name, $0) })
            return Array(state.subscribers.values)
        }
        if !events.isEmpty { onEvents(events) }
        for event in events {
            logger.info("token event", metadata: ["event": "\(event.type)", "reader": "\(event.reader ?? "-")"])
            subscribers.forEach { $0.yield(event) }
        }
    }

    private func watch() {
        var context: PCSCContext?
        var known = [String: UInt]()
        var reportedUnavailable = false
        while !state.withLock({ $0.stopping }) {
            do {
                if context == nil { context = try PCSCContext() }
                let previous = state.withLock { $0.readers }
                let current = try context!.readers()
                publish(Self.differences(from: previous, to: current), readers: current)
                reportedUnavailable = false
                _ = try context!.waitForChange(known: &known, timeoutMilliseconds: 500)
            } catch {
                context = nil
                known = [:]
                if !reportedUnavailable {
                    reportedUnavailable = true
                    let previous = state.withLock { $0.readers }
                    var events = Self.differences(from: previous, to: [])
                    events.append(TokenEvent(type: "pcsc-unavailable", reader: nil, atr: nil, time: UTCTimeText.format(Date())))
                    publish(events, readers: [])
                    logger.warning("PC/SC is not reachable; retrying", metadata: ["reason": "\(error)"])
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    static func differences(from previous: [String: CardReader], to current: [CardReader]) -> [TokenEvent] {
        let time = UTCTimeText.format(Date())
        var events = [TokenEvent]()
        let now = Dictionary(uniqueKeysWithValues: current.map { ($0.name, $0) })
        for (name, reader) in previous.sorted(by: { $0.key < $1.key }) where now[name] == nil {
            if reader.cardPresent { events.append(TokenEvent(type: "card-removed", reader: name, atr: reader.atrHex, time: time)) }
            events.append(TokenEvent(type: "reader-removed", reader: name, atr: nil, time: time))
        }
        for reader in current {
            let before = previous[reader.name]
            if before == nil { events.append(TokenEvent(type: "reader-added", reader: reader.name, atr: nil, time: time)) }
            let wasPresent = before?.cardPresent ?? false
            if reader.cardPresent && (!wasPresent || before?.atr != reader.atr) {
                events.append(TokenEvent(type: "card-inserted", reader: reader.name, atr: reader.atrHex, time: time))
            } else if !reader.cardPresent && wasPresent {
                events.append(TokenEvent(type: "card-removed", reader: reader.name, atr: before?.atrHex, time: time))
            }
        }
        return events
    }
}
