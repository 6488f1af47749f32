import Foundation

/// Reads the QR codes on a scan with zbar (Debian's zbar-tools); PDF pages are first rasterised by poppler's
/// pdftoppm. Runs only on scans the intake accepted, so page count and pixel size are already within limits.
public enum ScanQR {
    /// Resolution PDF pages are rasterised at: a QR code printed 3 cm wide comes out ~350 pixels, ample for zbar.
    static let dpi = 150

    /// Every QR code's text found on the scan (all pages), in page order; empty when none could be read.
    public static func texts(in path: String, type: ScanType, pages: Int, timeout: Double = 120) throws -> [String] {
        switch type {
        case .pdf:
            let folder = NSTemporaryDirectory() + "signservice-qr-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let raster = try Subprocess(
                executable: "/usr/bin/pdftoppm",
                arguments: ["-r", String(dpi), "-gray", "-png", "-l", String(pages), path, folder + "/page"],
                timeout: timeout
            ).runOnScan(package: "poppler-utils")
            guard raster.status == 0 else { throw IntakeError(.truncated, "the PDF's pages could not be rasterised: \(raster.errorLine)") }
            let images = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted().map { folder + "/" + $0 }
            return try images.flatMap { try zbar($0, timeout: timeout) }
        case .png, .jpeg, .tiff:
            return try zbar(path, timeout: timeout)
        }
    }

    /// zbarimg exits 4 when it finds no symbol; other failures mean it could not read the image.
    static func zbar(_ path: String, timeout: Double) throws -> [String] {
        let outcome = try Subprocess(
            executable: "/usr/bin/zbarimg", arguments: ["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path],
            timeout: timeout
        ).runOnScan(package: "zbar-tools")
        switch outcome.status {
        case 0: return String(decoding: outcome.output, as: UTF8.self).split(separator: "\n").map(String.init)
        case 4: return []
        default: throw IntakeError(.truncated, "the scan's image could not be decoded to look for a QR code: \(outcome.errorLine)")
        }
    }
}

/// What the QR code on an uploaded scan said about its approval request.
public enum QRFinding: String, Codable, Sendable {
    /// A QR code signed by this service names the request the scan was uploaded for.
    case matched
    /// No readable SignService QR code on the scan (torn, smudged, not printed).
    case notRead = "not-read"

    /// Looks at the QR texts found on a scan: `.matched` when one names `request`; a code naming another request is
    /// refused (the scan is of another note); anything else is `.notRead`.
    ///
    /// The service passes its document signer's certificate as `signer`: a code counts only when its signature
    /// verifies. An uploader, who has the request's QR text from the service but not the service's certificate,
    /// passes nil: a code then counts as this request's only when it is exactly the request's QR text.
    public static func judge(_ texts: [String], request: ApprovalRequest, signer: X509Certificate?) throws -> QRFinding {
        var others = [String]()
        for text in texts where text.hasPrefix(ApprovalRequest.prefix + "|") {
            guard let signer else {
                if text == request.qrText { return .matched }
                if let id = ApprovalRequest.claimedID(inQRText: text), id != request.id { others.append(id) }
                continue
            }
            guard let printed = try? ApprovalRequest.read(qrText: text, signer: signer) else { continue }
            if printed.id == request.id && printed.fileNumber == request.fileNumber && printed.noteID == request.noteID
                && printed.extractHash == request.extractHash
            {
                return .matched
            }
            others.append("\(printed.id) (file \(printed.fileNumber), note \(printed.noteID))")
        }
        if !others.isEmpty {
            throw ScanError(
                .qrOtherRequest,
                "the scan's QR code is for approval request \(others.joined(separator: ", ")), not \(request.id) "
                    + "(file \(request.fileNumber), note \(request.noteID)): it is the scan of another extract")
        }
        return .notRead
    }
}
