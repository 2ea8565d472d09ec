import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

/// libpq's functions, resolved from `libpq.so.5` at first use. Linking libpq would make every
/// archive-push load it and about 25 libraries it depends on (Kerberos, LDAP, GnuTLS…), doubling
/// start-up for a command that runs once per WAL segment and never connects to a database.
struct LibPQ: @unchecked Sendable {
    let connectdbParams: @convention(c) (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?, Int32) -> OpaquePointer?
    let status: @convention(c) (OpaquePointer?) -> ConnStatusType
    let errorMessage: @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    let finish: @convention(c) (OpaquePointer?) -> Void
    let execParams:
        @convention(c) (
            OpaquePointer?, UnsafePointer<CChar>?, Int32, UnsafePointer<Oid>?,
            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?,
            UnsafePointer<Int32>?, Int32
        ) -> OpaquePointer?
    let exec: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> OpaquePointer?
    let resultStatus: @convention(c) (OpaquePointer?) -> ExecStatusType
    let resultErrorMessage: @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    let ntuples: @convention(c) (OpaquePointer?) -> Int32
    let nfields: @convention(c) (OpaquePointer?) -> Int32
    let getvalue: @convention(c) (OpaquePointer?, Int32, Int32) -> UnsafeMutablePointer<CChar>?
    let getisnull: @convention(c) (OpaquePointer?, Int32, Int32) -> Int32
    let clear: @convention(c) (OpaquePointer?) -> Void
    let libVersion: @convention(c) () -> Int32
    let getlength: @convention(c) (OpaquePointer?, Int32, Int32) -> Int32
    let conninfoParse:
        @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> UnsafeMutablePointer<PQconninfoOption>?
    let conninfoFree: @convention(c) (UnsafeMutablePointer<PQconninfoOption>?) -> Void
    let getCopyData: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, Int32) -> Int32
    let getResult: @convention(c) (OpaquePointer?) -> OpaquePointer?
    let cmdTuples: @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    let freemem: @convention(c) (UnsafeMutableRawPointer?) -> Void

    static let shared: Result<LibPQ, PostgresError> = load()

    private static func load() -> Result<LibPQ, PostgresError> {
        guard let handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            return .failure(PostgresError(problem: "cannot load libpq (\(why))", fix: "install it: apt-get install libpq5"))
        }
        func symbol<T>(_ name: String, as _: T.Type) -> T? {
            guard let pointer = dlsym(handle, name) else { return nil }
            return unsafeBitCast(pointer, to: T.self)
        }
        guard
            let connectdbParams = symbol(
                "PQconnectdbParams",
                as: (@convention(c) (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?, Int32) -> OpaquePointer?).self),
            let status = symbol("PQstatus", as: (@convention(c) (OpaquePointer?) -> ConnStatusType).self),
            let errorMessage = symbol("PQerrorMessage", as: (@convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?).self),
            let finish = symbol("PQfinish", as: (@convention(c) (OpaquePointer?) -> Void).self),
            let execParams = symbol(
                "PQexecParams",
                as: (@convention(c) (
                    OpaquePointer?, UnsafePointer<CChar>?, Int32, UnsafePointer<Oid>?,
                    UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?,
                    UnsafePointer<Int32>?, Int32
                ) -> OpaquePointer?).self),
            let exec = symbol("PQexec", as: (@convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> OpaquePointer?).self),
            let resultStatus = symbol("PQresultStatus", as: (@convention(c) (OpaquePointer?) -> ExecStatusType).self),
            let resultErrorMessage = symbol("PQresultErrorMessage", as: (@convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?).self),
            let ntuples = symbol("PQntuples", as: (@convention(c) (OpaquePointer?) -> Int32).self),
            let nfields = symbol("PQnfields", as: (@convention(c) (OpaquePointer?) -> Int32).self),
            let getvalue = symbol("PQgetvalue", as: (@convention(c) (OpaquePointer?, Int32, Int32) -> UnsafeMutablePointer<CChar>?).self),
            let getisnull = symbol("PQgetisnull", as: (@convention(c) (OpaquePointer?, Int32, Int32) -> Int32).self),
            let clear = symbol("PQclear", as: (@convention(c) (OpaquePointer?) -> Void).self),
            let libVersion = symbol("PQlibVersion", as: (@convention(c) () -> Int32).self),
            let getlength = symbol("PQgetlength", as: (@convention(c) (OpaquePointer?, Int32, Int32) -> Int32).self),
            let conninfoParse = symbol(
                "PQconninfoParse",
                as: (@convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> UnsafeMutablePointer<
                    PQconninfoOption
                >?).self),
            let conninfoFree = symbol("PQconninfoFree", as: (@convention(c) (UnsafeMutablePointer<PQconninfoOption>?) -> Void).self),
            let getCopyData = symbol(
                "PQgetCopyData", as: (@convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, Int32) -> Int32).self),
            let getResult = symbol("PQgetResult", as: (@convention(c) (OpaquePointer?) -> OpaquePointer?).self),
            let cmdTuples = symbol("PQcmdTuples", as: (@convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?).self),
            let freemem = symbol("PQfreemem", as: (@convention(c) (UnsafeMutableRawPointer?) -> Void).self)
        else {
            return .failure(
                PostgresError(problem: "the installed libpq lacks functions walvault needs", fix: "install libpq5 from PostgreSQL 15 or later"))
        }
        return .success(
            LibPQ(
                connectdbParams: connectdbParams, status: status, errorMessage: errorMessage, finish: finish,
                execParams: execParams, exec: exec, resultStatus: resultStatus, resultErrorMessage: resultErrorMessage,
                ntuples: ntuples, nfields: nfields, getvalue: getvalue, getisnull: getisnull, clear: clear,
                libVersion: libVersion, getlength: getlength, conninfoParse: conninfoParse, conninfoFree: conninfoFree,
                getCopyData: getCopyData, getResult: getResult, cmdTuples: cmdTuples, freemem: freemem))
    }
}
