import CCurl
import CCurlShims
import CLibPQ
import Testing
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultHTTP

#if canImport(Glibc)
    import Glibc
#endif

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

/// fallocate through the shim: blocks given before restore writes out of order, and a failure
/// named with its file.
@Suite struct FileAllocationTests {
    @Test func allocatingGivesTheFileItsLengthAndAFailureNamesTheFile() throws {
        let dir = TempDir()
        let path = dir.path + "/relation"
        let file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_TRUNC)
        defer { try? file.close() }
        #expect(try file.allocate(length: 1 << 20))
        #expect(try file.size() == 1 << 20)

        // A descriptor open for reading only cannot be allocated: EBADF, with the path.
        let readOnly = try FileDescriptor.openForReading(path)
        defer { try? readOnly.close() }
        let error = try #require(throws: SystemError.self) { _ = try readOnly.allocate(length: 2 << 20) }
        #expect("\(error)".contains(path))
        #expect("\(error)".contains("allocate"))
    }
}
