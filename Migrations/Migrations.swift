/// The SQL files of this directory, compiled into the binary (SwiftPM `embedInCode`, no Foundation
/// bundle at run time), so `walvault migrate` needs nothing but the executable. Numbered, forward-only.
public enum Migrations {
    public struct File: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    public static let all: [File] = [
        File(version: 1, name: "0001_control_plane.sql", sql: String(decoding: PackageResources._001_control_plane_sql, as: UTF8.self)),
        File(version: 2, name: "0002_expiry.sql", sql: String(decoding: PackageResources._002_expiry_sql, as: UTF8.self)),
        File(version: 3, name: "0003_exports.sql", sql: String(decoding: PackageResources._003_exports_sql, as: UTF8.self)),
        File(version: 4, name: "0004_actor.sql", sql: String(decoding: PackageResources._004_actor_sql, as: UTF8.self)),
        File(version: 5, name: "0005_dashboard.sql", sql: String(decoding: PackageResources._005_dashboard_sql, as: UTF8.self)),
    ]
}
