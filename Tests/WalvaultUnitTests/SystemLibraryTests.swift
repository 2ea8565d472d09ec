import CCurl
import CCurlShims
import CLibPQ
import Testing

/// The C libraries the design card names are the ones linked, at versions with the APIs used.
@Suite struct SystemLibraryTests {
    @Test func libpqIsVersion15OrLater() {
        #expect(PQlibVersion() >= 150_000)
    }

    @Test func libcurlTypedSettersReachCurl() throws {
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        #expect(wv_curl_setopt_long(handle, CURLOPT_TIMEOUT, 5) == CURLE_OK)
        #expect(wv_curl_setopt_string(handle, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK)
        var code = 0
        #expect(wv_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
        #expect(code == 0)
    }
}
