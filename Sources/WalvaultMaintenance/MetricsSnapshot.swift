import WalvaultCatalog
import WalvaultFiles
import WalvaultHistory
import WalvaultKit
import WalvaultPostgres
import WalvaultSystem

/// The figures `GET /metrics` exports, named as the pgBackRest and WAL-G exporters name theirs
/// (`…_since_last_completion_seconds`, `…_size_bytes`, a `store` label per repository). Each source
/// is read on its own: one that fails is a `walvault_scrape_error{source=…}` of 1, and the others
/// still report, so a dead control plane does not blind the archive's alerts.
public struct MetricsSnapshot: Sendable {
    public struct Sample: Equatable, Sendable {
        public let name: String
        public let help: String
        public let labels: [(String, String)]
        public let value: Double

        public init(name: String, help: String, labels: [(String, String)], value: Double) {
            self.name = name
            self.help = help
            self.labels = labels
            self.value = value
        }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.name == b.name && a.value == b.value && a.labels.map { $0.0 + "=" + $0.1 } == b.labels.map { $0.0 + "=" + $0.1 }
        }
    }

    public var samples: [Sample] = []

    mutating func add(_ name: String, _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
        samples.append(Sample(name: name, help: help, labels: labels, value: value))
    }

    public static func gather(context: WalvaultContext, now: Int64 = WallClock.nowMicros()) -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        let cluster = [("cluster", context.config.cluster.name)]
        func failed(_ source: String, _ error: Bool) {
            snapshot.add("walvault_scrape_error", "1 when this source could not be read for this scrape", error ? 1 : 0, [("source", source)])
        }
        do {
            let info = try InfoReport.gather(context: context, now: now)
            let manifests = info.backups.compactMap { backup in RecoveryTarget.parseTime(backup.stopTime).map { (backup, $0) } }
            if let (newest, stop) = manifests.last {
                snapshot.add(
                    "walvault_backup_since_last_completion_seconds", "Seconds since the newest complete base backup stopped",
                    Double(now - stop) / 1e6, cluster)
                snapshot.add(
                    "walvault_backup_last_size_bytes", "The newest complete base backup's size, before compression", Double(newest.size), cluster)
            }
            snapshot.add("walvault_backup_count", "Complete base backups in the stores", Double(info.backups.count), cluster)
            for store in info.stores {
                let label = cluster + [("store", store.name)]
                snapshot.add("walvault_store_bytes", "Bytes this cluster holds in the store", Double(store.bytes), label)
                if let queued = store.queuedObjects {
                    snapshot.add("walvault_shipping_lag_objects", "Objects waiting to ship to an async store", Double(queued), label)
                    snapshot.add(
                        "walvault_shipping_lag_seconds", "How long the oldest object waiting to ship has waited",
                        Double(store.oldestQueuedSeconds ?? 0),
                        label)
                }
                if let start = manifests.first(where: { $0.0.stores.contains(store.name) })?.1 {
                    snapshot.add(
                        "walvault_restorable_window_start_timestamp_seconds", "The earliest moment a restore from the store can reach",
                        Double(start) / 1e6, label)
                }
            }
            failed("stores", false)
        } catch {
            failed("stores", true)
        }
        if !context.config.storage.isEmpty {
            do {
                let newest = try FilesList(context: context).newest()
                for (tree, item) in newest.sorted(by: { $0.key < $1.key }) {
                    let label = cluster + [("tree", tree)]
                    snapshot.add(
                        "walvault_files_snapshot_since_last_seconds", "Seconds since the newest snapshot of a [[storage]] tree began",
                        Double(now - item.time) / 1e6, label)
                    snapshot.add("walvault_files_snapshot_last_size_bytes", "The newest snapshot's files, in bytes", Double(item.bytes), label)
                    snapshot.add(
                        "walvault_files_snapshot_last_new_bytes", "What the newest snapshot stored that no store held", Double(item.newBytes), label)
                }
                failed("files", false)
            } catch {
                failed("files", true)
            }
        }
        if context.config.cluster.conninfo != nil {
            do {
                let db = try DatabaseTarget(context: context, database: nil, command: "metrics").connect()
                // The segments PostgreSQL has marked ready and not archived yet, and how long the
                // oldest has waited (pg_ls_archive_statusdir: superuser or pg_monitor).
                let row = try db.query(
                    """
                    SELECT count(*)::text, coalesce(extract(epoch FROM now() - min(modification)), 0)::bigint::text
                    FROM pg_ls_archive_statusdir() WHERE name ~ '^[0-9A-F]{24}[.]ready$'
                    """
                ).first
                if let segments = row?[0].flatMap({ Int($0 ?? "") }), let seconds = row?[1].flatMap({ Int64($0 ?? "") }) {
                    snapshot.add("walvault_archive_lag_segments", "Completed WAL segments not archived yet", Double(segments), cluster)
                    snapshot.add(
                        "walvault_archive_lag_seconds", "How long the oldest segment not archived yet has waited (0: none waits)",
                        Double(max(0, seconds)), cluster)
                }
                if let age = try db.query(
                    "SELECT extract(epoch FROM now() - last_archived_time)::bigint::text FROM pg_stat_archiver WHERE last_archived_time IS NOT NULL"
                ).first?.first.flatMap({ Int64($0 ?? "") }) {
                    snapshot.add(
                        "walvault_archive_last_archived_age_seconds", "Seconds since the archiver last archived a file", Double(max(0, age)), cluster)
                }
                failed("postgres", false)
            } catch {
                failed("postgres", true)
            }
            do {
                let stats = try DatabaseStats.gather(context: context, now: now)
                let database = cluster + [("database", stats.database)]
                snapshot.add("walvault_database_size_bytes", "pg_database_size of the cluster's database", Double(stats.bytes), database)
                if let rate = stats.bytesPerDay {
                    snapshot.add("walvault_database_growth_bytes_per_day", "The 30-day growth trend of the database's size", rate, database)
                }
                failed("database", false)
            } catch {
                failed("database", true)
            }
        }
        if let settings = context.config.history {
            do {
                let db = try PostgresConnection(
                    conninfo: settings.conninfo, database: .controlPlane, connectTimeout: HistoryRecorder.connectTimeoutSeconds)
                let outcomes = try HistoryQuery.outcomes(
                    db, projectID: settings.projectID, type: "database", operation: "backup", since: now - 30 * 86_400_000_000)
                let runs = outcomes.succeeded + outcomes.failed
                if runs > 0 {
                    snapshot.add(
                        "walvault_backup_success_ratio", "Base backups that succeeded over the last 30 days, of all attempted",
                        Double(outcomes.succeeded) / Double(runs), cluster)
                }
                failed("history", false)
            } catch {
                failed("history", true)
            }
        }
        return snapshot
    }
}
