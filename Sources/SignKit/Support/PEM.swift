import Foundation

/// PEM (RFC 7468): DER bytes as text and back.
public enum PEM {
    /// The DER of every complete "-----BEGIN <label>-----" ... "-----END <label>-----" block, in order (any label
    /// when `label` is nil); whitespace in the body (LF or CRLF lines) is ignored. Nil when a body does not decode.
    public static func decode(_ text: String, label: String? = nil) -> [[UInt8]]? {
        var blocks = [[UInt8]]()
        var remaining = Substring(text)
        while let begin = remaining.range(of: "-----BEGIN "),
            let close = remaining.range(of: "-----", range: begin.upperBound..<remaining.endIndex)
        {
            let found = remaining[begin.upperBound..<close.lowerBound]
            guard let end = remaining.range(of: "-----END \(found)-----", range: close.upperBound..<remaining.endIndex) else { break }
            if label == nil || found == label! {
                let body = remaining[close.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
                guard let der = Data(base64Encoded: String(body)) else { return nil }
                blocks.append(Array(der))
            }
            remaining = remaining[end.upperBound...]
        }
        return blocks
    }

    public static func encode(_ der: [UInt8], label: String) -> String {
        let base64 = Data(der).base64EncodedString()
        var lines = ["-----BEGIN \(label)-----"]
        var index = base64.startIndex
        while index < base64.endIndex {
            let end = base64.index(index, offsetBy: 64, limitedBy: base64.endIndex) ?? base64.endIndex
            lines.append(String(base64[index..<end]))
            index = end
        }
        lines.append("-----END \(label)-----")
        return lines.joined(separator: "\n") + "\n"
    }
}
