import Foundation

/// Debian's Chromium, headless, as a reader's browser: the DOM it builds from a page, the page printed to PDF (and
/// that PDF's text and fonts, read back by poppler), a screenshot.
public struct Browser {
    public let chromium: String
    let profile: TemporaryFolder

    public init() throws {
        guard let chromium = Command.which("chromium") else { throw RigError("chromium is not installed (scripts/setup.sh installs it)") }
        self.chromium = chromium
        profile = try TemporaryFolder("signservice-chromium")
    }

    func run(_ arguments: [String], _ page: String) throws -> Command.Result {
        let result = try Command.run(
            chromium,
            ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.url.path)"] + arguments
                + ["file://\(page)"])
        guard result.status == 0 else { throw RigError("chromium \(arguments.first ?? "") failed (\(result.status)): \(result.stderr)") }
        return result
    }

    /// The DOM Chromium built from the page.
    public func dom(_ page: String) throws -> String {
        try run(["--dump-dom"], page).stdout
    }

    /// The page printed to A4 PDF: its text as poppler's pdftotext reads it (in reading order, `layout` keeps the
    /// columns) and the names of the fonts embedded in it (pdffonts), i.e. what was actually drawn.
    public func printed(_ page: String, layout: Bool = false) throws -> (text: String, fonts: [String]) {
        let pdf = profile.path("printed-\(UUID().uuidString).pdf")
        _ = try run(["--no-pdf-header-footer", "--print-to-pdf=\(pdf)"], page)
        let text = try Command.run("/usr/bin/pdftotext", (layout ? ["-layout"] : []) + ["-enc", "UTF-8", pdf, "-"])
        guard text.status == 0 else { throw RigError("pdftotext failed: \(text.stderr)") }
        let fonts = try Command.run("/usr/bin/pdffonts", [pdf])
        guard fonts.status == 0 else { throw RigError("pdffonts failed: \(fonts.stderr)") }
        let names = fonts.stdout.split(separator: "\n").dropFirst(2).compactMap { $0.split(separator: " ").first.map(String.init) }
        return (text.stdout, names)
    }

    /// Text with every run of white space (line ends of the printed page) as one space, to find phrases in.
    public static func flat(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// A PNG screenshot of the page at `width` x `height`.
    public func screenshot(_ page: String, width: Int = 1400, height: Int = 1800) throws -> Data {
        let shot = profile.path("shot-\(UUID().uuidString).png")
        _ = try run(["--hide-scrollbars", "--window-size=\(width),\(height)", "--screenshot=\(shot)"], page)
        return try Data(contentsOf: URL(fileURLWithPath: shot))
    }
}
