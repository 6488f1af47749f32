/// The one shape of every error SignKit throws (swift-certificates' `CertificateError` is the model): a stable code
/// that callers compare and map, the reason in words for people, and where it was raised.
///
/// Codes are values, not enum cases, so adding one never breaks a caller's `switch`. The fronts map them once each:
/// the daemon to an HTTP status (Sources/SignService/Shared/ErrorStatus.swift), signctl to an exit code
/// (Sources/signctl/ExitStatus.swift). Two types may share a code name only when it means the same to a caller.
public protocol CodedError: Error, CustomStringConvertible, Sendable {
    /// The stable code, kebab-case ("pin-incorrect", "head-moved"); never reworded once published.
    var codeName: String { get }
    /// What went wrong and, where it helps, what to do; one line, no internal type names.
    var reason: String { get }
    /// Where the error was raised (#fileID, #line), for logs and bug reports; never shown as the reason.
    var file: String { get }
    var line: Int { get }
}

extension CodedError {
    public var description: String { reason }
    /// "code: reason", as the daemon's error answers and signctl's messages start.
    public var codedDescription: String { "\(codeName): \(reason)" }
}

/// A code of one error type: a name compared by value (`error.code == .headMoved`).
public struct ErrorCode<Domain>: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }
}

/// An error of one domain (histories, scans, intake, records, input files): a code of that domain, the reason and
/// where it was raised. Each domain is an empty enum that names it, and its codes are `ErrorCode<Domain>` statics;
/// `HistoryError` is `DomainError<HistoryErrorDomain>`, so `catch let error as HistoryError` and
/// `HistoryError(.headMoved, "...")` read as before.
public struct DomainError<Domain>: CodedError {
    public typealias Code = ErrorCode<Domain>
    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int
    public var codeName: String { code.name }

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }
}

extension DomainError: Equatable {
    /// Equal when they say the same; where they were raised does not count.
    public static func == (lhs: DomainError, rhs: DomainError) -> Bool { lhs.code == rhs.code && lhs.reason == rhs.reason }
}

/// The domain of an error that has one code: its name.
public protocol SingleCodeDomain { static var codeName: String { get } }

/// An error of a domain with one code (the audit log, signing, the ATR catalogue...): the reason and where it was
/// raised; the code is the domain's.
public struct SingleCodeError<Domain: SingleCodeDomain>: CodedError {
    public let reason: String
    public let file: String
    public let line: Int
    public var codeName: String { Domain.codeName }

    public init(_ reason: String, file: String = #fileID, line: Int = #line) {
        self.reason = reason
        self.file = file
        self.line = line
    }
}
