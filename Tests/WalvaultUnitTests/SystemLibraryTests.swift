import CCurl
import CCurlShims
import CLibPQ
import Testing
import WalvaultTesting

@testable import WalvaultHTTP

/// The C libraries the design card names are the ones linked, at versions with the APIs used.
@Suite struct SystemLibraryTests {
    @Test func libpqIsVersion15OrLater() {
        #expect(PQlibVersion() >= 150_000)
    }

    /// libcurl is loaded with dlopen (never linked), and reached through the typed trampolines.
    @Test func libcurlTypedSettersReachCurl() throws {
        let curl = try LibCurl.shared.get()
        let handle = try #require(curl.easyInit())
        defer { curl.easyCleanup(handle) }
        #expect(wv_curl_setopt_long(curl.setopt, handle, CURLOPT_TIMEOUT, 5) == CURLE_OK)
        #expect(wv_curl_setopt_string(curl.setopt, handle, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK)
        var code = 0
        #expect(wv_curl_getinfo_long(curl.getinfo, handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
        #expect(code == 0)
    }
}
