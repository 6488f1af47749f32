import Foundation
import HTTPTypes
import Hummingbird
import Testing
@testable import SignKit
@testable import SignService

@Suite("One error shape: codes to HTTP statuses")
struct ErrorStatusTests {
    @Test("each class of SignKit error gets its status from the one table, and the body carries the code")
    func statuses() throws {
        let cases: [(any CodedError, HTTPResponse.Status)] = [
            (HistoryError(.headMoved, "another append won"), .conflict),
            (HistoryError(.unknownFile, "there is no file F-1"), .notFound),
            (HistoryError(.signerUnavailable, "no token"), .serviceUnavailable),
            (HistoryError(.storage, "disk full"), .internalServerError),
            (TokenError(.pinIncorrect, "wrong PIN"), .forbidden),
            (TokenError(.tokenRemoved, "pulled out"), .notFound),
            (TokenError(.busy, "in use"), .serviceUnavailable),
            (ScanError(.unauthorisedUploader, "not a PPS"), .forbidden),
            (IntakeError(.tooLarge, "too big"), .contentTooLarge),
            (IntakeError(.notAllowedType, "an executable"), .unsupportedMediaType),
            (SigningRequestError("fileNumber must not hold control characters"), .badRequest),
            (PINError.pinentry("cancelled by the user"), .forbidden),
            (VerificationInputError("not CMS"), .unprocessableContent),
            (AuditError("cannot write"), .internalServerError),
            (RecordsError(.verifierUnavailable, "no trust store"), .serviceUnavailable),
        ]
        for (error, status) in cases {
            #expect(ErrorStatus.status(for: error) == status, "\(error.codeName)")
            let response = ErrorStatus.response(for: error)
            #expect(response.status == status)
        }
        // A code nobody has placed is a failure of the service, never a success or a client error by accident.
        struct Unplaced: CodedError {
            var reason: String { "new" }
            var file: String { #fileID }
            var line: Int { 1 }
            var codeName: String { "something-new" }
        }
        #expect(ErrorStatus.status(for: Unplaced()) == .internalServerError)
    }

    @Test("codes are stable names that say where an error was raised, and equal codes compare equal")
    func shape() {
        let error = HistoryError(.contextMismatch, "the signature was made for file B")
        #expect(error.codeName == "context-mismatch" && error.codedDescription == "context-mismatch: the signature was made for file B")
        #expect(error.file.hasSuffix("ErrorStatusTests.swift") && error.line > 0)
        #expect(error.code == .contextMismatch && error.code != .headMoved)
        #expect(PINError.wiped() == PINError.wiped(), "PIN errors compare by what they say, not where")
    }
}
