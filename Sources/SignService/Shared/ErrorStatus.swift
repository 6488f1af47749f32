import Foundation
import HTTPTypes
import Hummingbird
import SignKit

/// The one place where an error becomes an HTTP answer: the status by the error's stable code, and the body
/// `{"error": "code: reason", "code": "code"}` (ErrorAnswer). Codes not listed are 500: a new code is a failure of the
/// service until someone decides otherwise here.
enum ErrorStatus {
    static let table: [String: HTTPResponse.Status] = [
        // What was asked does not read or cannot be done as asked.
        "invalid-request": .badRequest, "bad-request": .badRequest, "bad-name": .badRequest, "qr-not-valid": .badRequest,
        "invalid-uri": .badRequest, "pin-empty": .badRequest, "pin-too-long": .badRequest, "ambiguous": .badRequest,
        // Not there.
        "unknown-file": .notFound, "unknown-request": .notFound, "token-not-found": .notFound, "token-removed": .notFound,
        "key-not-found": .notFound,
        // The state moved on: another append won, the file exists, the request is closed.
        "file-exists": .conflict, "head-moved": .conflict, "context-mismatch": .conflict, "request-closed": .conflict,
        // Read but refused for what it is.
        "signature-not-valid": .unprocessableContent, "signature-unreadable": .unprocessableContent,
        "qr-other-request": .unprocessableContent, "qr-required": .unprocessableContent,
        "attestation-mismatch": .unprocessableContent, "empty": .unprocessableContent, "truncated": .unprocessableContent,
        "too-many-pages": .unprocessableContent, "too-many-pixels": .unprocessableContent,
        "not-for-signing": .unprocessableContent, "mechanism-unsupported": .unprocessableContent,
        "key-use-refused": .unprocessableContent, "module-call": .unprocessableContent, "pcsc-call": .unprocessableContent,
        // The person is not allowed, or did not give a (right) PIN.
        "unauthorised-uploader": .forbidden, "pin-incorrect": .forbidden, "pin-locked": .forbidden, "pin-final-try": .forbidden,
        "pin-length": .forbidden, "pin-expired": .forbidden, "pin-unavailable": .forbidden, "pinentry": .forbidden,
        "no-terminal": .forbidden,
        // Who may come in (Access/): not logged in, or logged in but not allowed.
        "unauthenticated": .unauthorized, "session-expired": .unauthorized, "unknown-key": .unauthorized, "login-refused": .unauthorized,
        "challenge-used": .unauthorized, "challenge-expired": .unauthorized, "not-in-roster": .forbidden, "forbidden": .forbidden,
        "signer-mismatch": .forbidden,
        // Too big, wrong type.
        "too-large": .contentTooLarge, "not-allowed-type": .unsupportedMediaType,
        // Not now: try again later.
        "signer-unavailable": .serviceUnavailable, "verifier-unavailable": .serviceUnavailable, "token-busy": .serviceUnavailable,
        "pcsc-unavailable": .serviceUnavailable, "module-load": .serviceUnavailable, "store-unavailable": .serviceUnavailable,
        "revocation-unavailable": .serviceUnavailable, "store-diverged": .serviceUnavailable,
        // The department log: a proof or a cosignature that does not hold.
        "proof-not-valid": .unprocessableContent, "tree-head-malformed": .badRequest, "tree-head-unsigned": .unprocessableContent,
        "tree-head-signature-not-valid": .unprocessableContent, "origin-mismatch": .unprocessableContent,
        // A token that stopped answering within the deadline.
        "token-timeout": .gatewayTimeout,
    ]

    static func status(for error: any CodedError) -> HTTPResponse.Status {
        table[error.codeName] ?? .internalServerError
    }

    /// The answer to any error a route threw. Hummingbird's own errors (a body that does not decode, a route not
    /// found) keep their status and message; anything that is not a coded error is a 500 that names no internals.
    static func response(for error: any Error, headers: HTTPFields = [:]) -> Response {
        switch error {
        case let error as HTTPError:
            var fields = headers
            for field in error.headers { fields[field.name] = field.value }
            return answer(error.status, ErrorAnswer(error: error.body ?? error.status.reasonPhrase, code: nil), headers: fields)
        case let error as any CodedError:
            return answer(status(for: error), ErrorAnswer(error: error.codedDescription, code: error.codeName), headers: headers)
        default:
            return answer(.internalServerError, ErrorAnswer(error: "internal: \(error)", code: "internal"), headers: headers)
        }
    }

    static func answer(_ status: HTTPResponse.Status, _ body: ErrorAnswer, headers: HTTPFields) -> Response {
        let data = (try? JSONOutput.encoder(pretty: false).encode(body)) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
