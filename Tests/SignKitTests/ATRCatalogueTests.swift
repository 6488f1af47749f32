import Foundation
import Testing
@testable import SignKit

@Suite("ATR catalogue")
struct ATRCatalogueTests {
    @Test("the bundled catalogue loads and names the emulated card")
    func emulatedCard() throws {
        let catalogue = try ATRCatalogue.bundled()
        let atr = try #require(Hex.decode("3B8A800153474E5356432D50495675"))
        let entry = try #require(catalogue.identify(atr: atr))
        #expect(entry.model.contains("Emulated PIV"))
        #expect(entry.opensc)
    }

    @Test("identifies India's common tokens and nothing else")
    func indianTokens() throws {
        let catalogue = try ATRCatalogue.bundled()
        // ePass2003 (pcsc-tools smartcard_list): open-ended pattern, any trailing bytes.
        let epass = try #require(Hex.decode("3B9F958131FE9F006646530510002571DF000000000000"))
        #expect(catalogue.identify(atr: epass)?.vendor == "Feitian")
        // One byte changed in the fixed part: not an ePass2003.
        var other = epass
        other[4] = 0x30
        #expect(catalogue.identify(atr: other)?.vendor != "Feitian")
        #expect(catalogue.identify(atr: [0x3B, 0x00]) == nil)
    }

    @Test("patterns: '..' is any byte, a trailing '*' any tail, otherwise lengths must match")
    func patterns() throws {
        let pattern = try #require(ATRCatalogue.Pattern("3B .. 80 *"))
        #expect(pattern.matches([0x3B, 0x11, 0x80]))
        #expect(pattern.matches([0x3B, 0xFF, 0x80, 0x01, 0x02]))
        #expect(!pattern.matches([0x3B, 0x11, 0x81]))
        #expect(!pattern.matches([0x3B, 0x11]))
        let exact = try #require(ATRCatalogue.Pattern("3B 80"))
        #expect(exact.matches([0x3B, 0x80]))
        #expect(!exact.matches([0x3B, 0x80, 0x00]))
        #expect(ATRCatalogue.Pattern("3B 8") == nil)
        #expect(ATRCatalogue.Pattern("") == nil)
    }

    @Test("a catalogue file with a bad pattern is refused with its name")
    func badFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("atr-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try #"{"opensc": [], "entries": [{"pattern": "3B ZZ", "vendor": "V", "model": "Broken", "modules": [], "opensc": false, "note": null}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        #expect { try ATRCatalogue.load(contentsOf: file) } throws: { error in
            "\(error)".contains("Broken") && "\(error)".contains("3B ZZ")
        }
    }
}
