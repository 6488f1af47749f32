import Foundation
import Testing
@testable import SignKit

@Suite("PIN type")
struct PINTests {
    static let secret = "Zq9Xw7Lm"

    @Test("never shows its value in descriptions, reflection or dumps")
    func redacted() throws {
        let pin = try Array(Self.secret.utf8).withUnsafeBytes { try PIN(bytes: $0) }
        var dumped = ""
        dump(pin, to: &dumped)
        let renderings = [
            "\(pin)", String(describing: pin), String(reflecting: pin), dumped, "\([pin])",
            "\(Optional(pin) as Any)",
        ]
        for text in renderings {
            #expect(!text.contains(Self.secret), "rendering leaked: \(text)")
        }
        #expect(Mirror(reflecting: pin).children.isEmpty)
    }

    @Test("lends its bytes until wiped, then refuses")
    func wipe() throws {
        let pin = try Array(Self.secret.utf8).withUnsafeBytes { try PIN(bytes: $0) }
        #expect(pin.count == Self.secret.utf8.count)
        let copy = try pin.withBytes { Array($0) }
        #expect(copy == Array(Self.secret.utf8))
        pin.wipe()
        #expect(pin.isWiped)
        #expect(pin.count == 0)
        #expect(throws: PINError.wiped()) { try pin.withBytes { _ in () } }
    }

    @Test("reads one line from a descriptor, without its line ending")
    func readFromDescriptor() throws {
        for input in ["\(Self.secret)\n", "\(Self.secret)\r\n", Self.secret, "\(Self.secret)\nsecond line\n"] {
            let pin = try withPipe(input) { try PIN.read(fromDescriptor: $0) }
            #expect(try pin.withBytes { Array($0) } == Array(Self.secret.utf8))
        }
    }

    @Test("refuses an empty or oversized PIN")
    func refusals() throws {
        #expect(throws: PINError.empty()) { try withPipe("\n") { try PIN.read(fromDescriptor: $0) } }
        #expect(throws: PINError.empty()) { try withPipe("") { try PIN.read(fromDescriptor: $0) } }
        let long = String(repeating: "a", count: PIN.maximumLength + 1)
        #expect(throws: PINError.tooLong()) { try withPipe(long + "\n") { try PIN.read(fromDescriptor: $0) } }
        #expect(throws: PINError.unreadable(errno: EBADF)) { try PIN.read(fromDescriptor: -1) }
    }

    private func withPipe<R>(_ text: String, _ body: (Int32) throws -> R) throws -> R {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw PINError.unreadable(errno: errno) }
        defer { close(fds[0]) }
        _ = text.withCString { write(fds[1], $0, strlen($0)) }
        close(fds[1])
        return try body(fds[0])
    }
}
