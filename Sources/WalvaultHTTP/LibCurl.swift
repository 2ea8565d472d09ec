import CCurl
import CCurlShims

#if canImport(Glibc)
    import Glibc
#endif

/// libcurl's functions, resolved from `libcurl.so.4` at first use. Linking it would make every
/// archive-push load it and about 30 libraries behind it: 5 to 6 ms on a start-up of about 6
/// (scripts/measure-dlopen.sh). Only a process that really speaks HTTP pays for it.
struct LibCurl: @unchecked Sendable {
    let easyInit: @convention(c) () -> UnsafeMutableRawPointer?
    let easyCleanup: @convention(c) (UnsafeMutableRawPointer?) -> Void
    let easyPerform: @convention(c) (UnsafeMutableRawPointer?) -> CURLcode
    let easyStrerror: @convention(c) (CURLcode) -> UnsafePointer<CChar>?
    let slistAppend: @convention(c) (UnsafeMutablePointer<curl_slist>?, UnsafePointer<CChar>?) -> UnsafeMutablePointer<curl_slist>?
    let slistFreeAll: @convention(c) (UnsafeMutablePointer<curl_slist>?) -> Void
    let version: @convention(c) () -> UnsafePointer<CChar>?
    /// curl_easy_setopt and curl_easy_getinfo are variadic: called through CCurlShims' trampolines.
    let setopt: UnsafeMutableRawPointer
    let getinfo: UnsafeMutableRawPointer
    /// multipart/form-data (Telegram's sendDocument): curl's mime API, not variadic.
    let mimeInit: @convention(c) (UnsafeMutableRawPointer?) -> OpaquePointer?
    let mimeFree: @convention(c) (OpaquePointer?) -> Void
    let mimeAddPart: @convention(c) (OpaquePointer?) -> OpaquePointer?
    let mimeName: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> CURLcode
    let mimeFilename: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> CURLcode
    let mimeData: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> CURLcode
    let mimeDataCallback:
        @convention(c) (
            OpaquePointer?, curl_off_t, wv_curl_data_callback?, wv_curl_seek_callback?, (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
            UnsafeMutableRawPointer?
        ) -> CURLcode

    static let shared: Result<LibCurl, HTTPError> = load()

    private static func load() -> Result<LibCurl, HTTPError> {
        guard let handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            return .failure(HTTPError(kind: .permanent, problem: "cannot load libcurl (\(why))", fix: "install it: apt-get install libcurl4"))
        }
        func symbol<T>(_ name: String, as _: T.Type) -> T? {
            guard let pointer = dlsym(handle, name) else { return nil }
            return unsafeBitCast(pointer, to: T.self)
        }
        guard let globalInit = symbol("curl_global_init", as: (@convention(c) (Int) -> CURLcode).self),
            let easyInit = symbol("curl_easy_init", as: (@convention(c) () -> UnsafeMutableRawPointer?).self),
            let easyCleanup = symbol("curl_easy_cleanup", as: (@convention(c) (UnsafeMutableRawPointer?) -> Void).self),
            let easyPerform = symbol("curl_easy_perform", as: (@convention(c) (UnsafeMutableRawPointer?) -> CURLcode).self),
            let easyStrerror = symbol("curl_easy_strerror", as: (@convention(c) (CURLcode) -> UnsafePointer<CChar>?).self),
            let slistAppend = symbol(
                "curl_slist_append",
                as: (@convention(c) (UnsafeMutablePointer<curl_slist>?, UnsafePointer<CChar>?) -> UnsafeMutablePointer<curl_slist>?).self),
            let slistFreeAll = symbol("curl_slist_free_all", as: (@convention(c) (UnsafeMutablePointer<curl_slist>?) -> Void).self),
            let version = symbol("curl_version", as: (@convention(c) () -> UnsafePointer<CChar>?).self),
            let setopt = dlsym(handle, "curl_easy_setopt"), let getinfo = dlsym(handle, "curl_easy_getinfo"),
            let mimeInit = symbol("curl_mime_init", as: (@convention(c) (UnsafeMutableRawPointer?) -> OpaquePointer?).self),
            let mimeFree = symbol("curl_mime_free", as: (@convention(c) (OpaquePointer?) -> Void).self),
            let mimeAddPart = symbol("curl_mime_addpart", as: (@convention(c) (OpaquePointer?) -> OpaquePointer?).self),
            let mimeName = symbol("curl_mime_name", as: (@convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> CURLcode).self),
            let mimeFilename = symbol("curl_mime_filename", as: (@convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> CURLcode).self),
            let mimeData = symbol("curl_mime_data", as: (@convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> CURLcode).self),
            let mimeDataCallback = symbol(
                "curl_mime_data_cb",
                as: (@convention(c) (
                    OpaquePointer?, curl_off_t, wv_curl_data_callback?, wv_curl_seek_callback?, (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
                    UnsafeMutableRawPointer?
                ) -> CURLcode).self)
        else {
            return .failure(
                HTTPError(kind: .permanent, problem: "the installed libcurl lacks functions walvault needs", fix: "install libcurl4 7.88 or later"))
        }
        // Once, before any thread uses curl (CURL_GLOBAL_ALL).
        guard globalInit(3) == CURLE_OK else {
            return .failure(HTTPError(kind: .permanent, problem: "libcurl failed to initialise", fix: "check the installation of libcurl4"))
        }
        return .success(
            LibCurl(
                easyInit: easyInit, easyCleanup: easyCleanup, easyPerform: easyPerform, easyStrerror: easyStrerror,
                slistAppend: slistAppend, slistFreeAll: slistFreeAll, version: version, setopt: setopt, getinfo: getinfo,
                mimeInit: mimeInit, mimeFree: mimeFree, mimeAddPart: mimeAddPart, mimeName: mimeName, mimeFilename: mimeFilename,
                mimeData: mimeData, mimeDataCallback: mimeDataCallback))
    }
}
