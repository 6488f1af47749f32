import Foundation
import Testing

@testable import SignKit

/// Verification's fetches as a service makes them (Support/GuardedFetcher.swift); no network is needed: every
/// target here is refused before a connection is opened.
@Suite("Guarded fetches")
struct GuardedFetcherTests {
    @Test("a loopback or private target is refused before any connection, naming the address and the setting")
    func internalTargetRefused() throws {
        let fetcher = GuardedFetcher(allowPrivateAddresses: false)
        for url in ["http://127.0.0.1:9/ca.crt", "http://localhost/ca.crt", "http://[::1]/ca.crt", "http://169.254.169.254/latest/meta-data"] {
            let error = #expect(throws: HTTPExchange.Failure.self) {
                try fetcher.fetch(.caIssuers, url: URL(string: url)!, body: nil, timeout: 1)
            }
            #expect(error?.reason.contains("internal address") == true && error?.reason.contains("fetchFromPrivateAddresses") == true, "\(url)")
        }
        let scheme = #expect(throws: HTTPExchange.Failure.self) {
            try fetcher.fetch(.crl, url: URL(string: "file:///etc/passwd")!, body: nil, timeout: 1)
        }
        #expect(scheme?.reason.contains("only http and https") == true)
    }

    @Test("one request's verification makes at most its budget of fetches")
    func budgetCapsFetches() throws {
        let fetcher = GuardedFetcher(allowPrivateAddresses: false)
        let reasons = FetchBudget.$current.withValue(FetchBudget(2)) {
            (0..<3).map { index -> String in
                do {
                    _ = try fetcher.fetch(.ocsp, url: URL(string: "http://127.0.0.1/ocsp/\(index)")!, body: [0], timeout: 1)
                    return "fetched"
                } catch {
                    return "\(error)"
                }
            }
        }
        #expect(reasons[0].contains("internal address") && reasons[1].contains("internal address"), "\(reasons)")
        #expect(reasons[2].contains("already made 2 fetches"), "\(reasons)")
        // Outside a request's budget (signctl on the officer's own files), fetches are not counted.
        #expect(throws: HTTPExchange.Failure.self) { try fetcher.fetch(.ocsp, url: URL(string: "http://127.0.0.1/ocsp/x")!, body: [0], timeout: 1) }
    }
}
