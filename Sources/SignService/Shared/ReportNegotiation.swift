import Foundation
import HTTPTypes
import Hummingbird
import SignKit

/// How a report is answered: JSON for programs (the same in every language), or the text or HTML report a person
/// reads, in the language `Accept-Language` prefers (English or Hindi). Chosen from the request's `Accept` header
/// by its q-values; JSON when it names none of these or is absent.
struct ReportNegotiation {
    enum Format: String { case json = "application/json", text = "text/plain", html = "text/html" }

    let format: Format
    let language: ReportLanguage

    init(_ request: Request) {
        format = Self.format(accept: request.headers[.accept])
        language = ReportLanguage.negotiate(acceptLanguage: request.headers[.acceptLanguage])
    }

    static func format(accept: String?) -> Format {
        guard let accept else { return .json }
        var best: (format: Format, quality: Double)? = nil
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let range = parts.first, let format = Format(rawValue: range) else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") { quality = Double(parameter.dropFirst(2)) ?? 0 }
            if quality > 0, quality > (best?.quality ?? 0) { best = (format, quality) }
        }
        return best?.format ?? .json
    }

    /// The answer: `json` as is, or the text or HTML the renderers make, with `Content-Language` (and `Vary`, so a
    /// cache keeps the languages apart).
    func response(json: [UInt8], text: (ReportLanguage) -> String, html: (ReportLanguage) -> String) -> Response {
        var headers = HTTPFields()
        headers[.vary] = "Accept, Accept-Language"
        let body: [UInt8]
        switch format {
        case .json:
            headers[.contentType] = "application/json"
            body = json
        case .text:
            headers[.contentType] = "text/plain; charset=utf-8"
            headers[.contentLanguage] = language.rawValue
            body = Array((text(language) + "\n").utf8)
        case .html:
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.contentLanguage] = language.rawValue
            body = Array(html(language).utf8)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
