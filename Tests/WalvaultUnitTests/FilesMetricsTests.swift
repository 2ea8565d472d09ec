import Foundation
import Testing
import WalvaultFiles
import WalvaultKit
import WalvaultMaintenance
import WalvaultSystem

/// /metrics carries each [[storage]] tree's newest snapshot: its age, its size and what it stored
/// (issue 30). A local store in a temporary directory, the snapshot taken in-process.
@Suite struct FilesMetricsTests {
    @Test func metricsCarryTheNewestSnapshotsAgeAndSizePerTree() throws {
        let root = NSTemporaryDirectory() + "walvault-files-metrics-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["store", "tree/a", "empty"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        try Data(repeating: 7, count: 300_000).write(to: URL(fileURLWithPath: "\(root)/tree/a/file.bin"))
        let config = "\(root)/walvault.toml"
        try """
        [cluster]
        name = "main"
        [[stores]]
        name = "local"
        type = "local"
        path = "\(root)/store"
        [[storage]]
        name = "uploads"
        path = "\(root)/tree"
        [[storage]]
        name = "never"
        path = "\(root)/empty"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o600)
        let context = try WalvaultContext.load(configPath: config)
        let taken = try FilesBackup(context: context).run(context.config.storage[0])
        #expect(taken.bytes == 300_000 && taken.files == 1)

        let samples = MetricsSnapshot.gather(context: context, now: WallClock.nowMicros() + 5_000_000).samples
        func value(_ name: String, tree: String) -> Double? {
            samples.first { $0.name == name && $0.labels.contains { $0 == ("tree", tree) } }?.value
        }
        let age = try #require(value("walvault_files_snapshot_since_last_seconds", tree: "uploads"))
        #expect(age >= 5 && age < 120, "\(age)")
        #expect(value("walvault_files_snapshot_last_size_bytes", tree: "uploads") == 300_000)
        #expect(value("walvault_files_snapshot_last_new_bytes", tree: "uploads") == 300_000)
        // A tree never snapshotted has no age to give (check says so and alerts).
        #expect(value("walvault_files_snapshot_since_last_seconds", tree: "never") == nil)
        #expect(samples.first { $0.name == "walvault_scrape_error" && $0.labels.contains { $0 == ("source", "files") } }?.value == 0)
    }
}
