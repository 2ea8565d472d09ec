/// `postmaster.pid`, which a running server keeps in its data directory: the lines PostgreSQL
/// documents in `pidfile.h` (pid, data directory, start time, port, socket directory, listen
/// address, shared memory key, status). How `walvault init` finds where to connect without
/// asking.
public struct PostmasterPID: Equatable, Sendable {
    public let pid: Int32
    public let dataDirectory: String
    public let port: Int
    /// The first Unix socket directory, or nil when the server listens on TCP only.
    public let socketDirectory: String?
    /// "ready", "starting", "stopping" or "standby" (PostgreSQL 10 and later), when written.
    public let status: String?

    public init(pid: Int32, dataDirectory: String, port: Int, socketDirectory: String?, status: String?) {
        self.pid = pid
        self.dataDirectory = dataDirectory
        self.port = port
        self.socketDirectory = socketDirectory
        self.status = status
    }

    public static func parse(_ text: String) -> PostmasterPID? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
        guard lines.count >= 4, let pid = Int32(lines[0]), pid > 0, lines[1].hasPrefix("/"), let port = Int(lines[3]), (1...65535).contains(port)
        else { return nil }
        let socket = lines.count > 4 ? lines[4].split(separator: ",").first.map { String($0).trimmingSpaces() } : nil
        let status = lines.count > 7 && !lines[7].isEmpty ? lines[7] : nil
        return PostmasterPID(
            pid: pid, dataDirectory: lines[1], port: port, socketDirectory: socket.flatMap { $0.isEmpty ? nil : $0 }, status: status)
    }
}
