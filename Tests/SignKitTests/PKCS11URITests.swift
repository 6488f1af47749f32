import Testing
@testable import SignKit

@Suite("PKCS#11 URIs (RFC 7512)")
struct PKCS11URITests {
    @Test("parses the RFC's own example with percent-encoded id and commas")
    func rfcExample() throws {
        let uri = try PKCS11URI(
            "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
                + "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=")
        #expect(uri.token == "The Software PKCS#11 Softtoken")
        #expect(uri.manufacturer == "Snake Oil, Inc.")
        #expect(uri.model == "1.0")
        #expect(uri.object == "my-certificate")
        #expect(uri.type == "cert")
        #expect(uri.id == [0x69, 0x95, 0x3E, 0x5C, 0xF4, 0xBD, 0xEC, 0x91])
        #expect(uri.serial == "")
    }

    @Test("formats and parses back to the same URI")
    func roundTrip() throws {
        let original = PKCS11URI(
            token: "Anita Sharma", manufacturer: "piv_II", serial: "f712797264eedd12",
            model: "PKCS#15 emulated", id: [0x01], type: "private")
        let text = original.description
        #expect(text.hasPrefix("pkcs11:"))
        #expect(text.contains("token=Anita%20Sharma"))
        #expect(text.contains("model=PKCS%2315%20emulated"))
        #expect(text.contains("id=%01"))
        #expect(try PKCS11URI(text) == original)
    }

    @Test("takes module-path and module-name from the query")
    func query() throws {
        let uri = try PKCS11URI("pkcs11:token=A;id=%02?module-path=/usr/lib/softhsm/libsofthsm2.so&module-name=softhsm2")
        #expect(uri.modulePath == "/usr/lib/softhsm/libsofthsm2.so")
        #expect(uri.moduleName == "softhsm2")
        #expect(uri.id == [0x02])
    }

    @Test(
        "refuses a PIN inside the URI",
        arguments: [
            "pkcs11:token=A?pin-value=123456", "pkcs11:token=A?pin-source=file:/tmp/pin",
        ])
    func refusesPIN(text: String) {
        #expect(throws: TokenError.self) { try PKCS11URI(text) }
        do {
            _ = try PKCS11URI(text)
        } catch let error as TokenError {
            #expect(error.code == .invalidURI)
            #expect(!error.description.contains("123456"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test(
        "refuses malformed URIs",
        arguments: [
            "token=A", "pkcs11:type=banana", "pkcs11:id=%ZZ", "pkcs11:token=A;token=B", "pkcs11:slot-id=abc",
        ])
    func malformed(text: String) {
        #expect(throws: TokenError.self) { try PKCS11URI(text) }
    }
}
