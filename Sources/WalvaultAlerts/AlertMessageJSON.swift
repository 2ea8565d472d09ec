import WalvaultPolicy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension AlertMessage {
    /// For Slack (`text`), Discord (`content`) and anything else that reads the fields.
    public func json() throws -> [UInt8] {
        var object: [String: String] = [
            "text": text, "content": text, "status": status.rawValue, "cluster": cluster, "host": host,
            "condition": condition, "failures": String(failures)
        ]
        object["since"] = since.map(AlertMessage.utc)
        object["error"] = error
        object["last_backup"] = lastBackupLabel
        object["last_backup_finished"] = lastBackupStop.map(AlertMessage.utc)
        object["database_bytes"] = databaseBytes.map(String.init)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(object))
    }
}
