import WalvaultAlerts
import WalvaultBackup
import WalvaultCatalog
import WalvaultConfig
import WalvaultFiles
import WalvaultHistory
import WalvaultKit
import WalvaultPolicy
import WalvaultPostgres
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `walvault check`: the figures behind each `HealthCheck`, gathered from the server, the stores,
/// the queues, the volumes and the control plane. Every check runs whatever the others found, so
/// one run says everything that is wrong.
public struct Check {
    public let context: WalvaultContext
    package var now: () -> Int64 = { WallClock.nowMicros() }

    public init(context: WalvaultContext) { self.context = context }

    package var settings: CheckSettings { context.config.check }
    package var layout: ArchiveLayout { ArchiveLayout(cluster: context.config.cluster.name) }

    /// Each group of checks is a step of its progress; the findings are the result, never a throw.
    public func run(events: OperationObserver = IgnoredEvents()) -> [HealthCheck] {
        let steps: [() -> [HealthCheck]] = [
            archiving, { context.stores.map(probe) }, telegramRetention, { [backupAge()] }, filesSnapshotAge, shippingLag, freeSpace, history
        ]
        let meter = ProgressMeter(events: events, phase: "check", unit: .files, total: Int64(steps.count))
        var checks: [HealthCheck] = []
        for step in steps {
            checks += step()
            meter.add(1)
        }
        meter.finish()
        return checks
    }

    /// archive_mode and archive_command, then a real round trip: a WAL switch, and that segment in
    /// every sync store within `round_trip_seconds`.
    package func archiving() -> [HealthCheck] {
        guard let conninfo = context.config.cluster.conninfo else {
            return [
                HealthCheck(
                    name: "archiving", ok: false, figure: "[cluster] conninfo is not set, so the server cannot be asked",
                    fix: "set conninfo in [cluster]")
            ]
        }
        var checks: [HealthCheck] = []
        do {
            let session = try PostgresBackupSession(conninfo: conninfo)
            let facts = try session.facts()
            let warnings = try Backup(context: context).checkArchiver(facts, layout: layout, forBackup: false)
            checks.append(
                HealthCheck(
                    name: "archiving", ok: warnings.isEmpty,
                    figure: warnings.first ?? "archive_mode = \(facts.archiveMode), archive_command runs walvault archive-push with this config",
                    fix: warnings.isEmpty ? nil : "see the server log"))
        } catch let error as PostgresError where error.isConnectionFailure {
            return [HealthCheck(name: "archiving", ok: false, figure: "\(error)")]
        } catch {
            // A refused setting still gets the round trip: it shows whether WAL arrives anyway.
            checks.append(HealthCheck(name: "archiving", ok: false, figure: "\(error)"))
        }
        checks.append(roundTrip(conninfo: conninfo))
        return checks
    }

    package func roundTrip(conninfo: String) -> HealthCheck {
        let started = now()
        do {
            let db = try PostgresConnection(conninfo: conninfo)
            // A record first: on an idle server pg_switch_wal switches nothing and names a segment
            // archived long ago, which would prove nothing.
            _ = try db.query("SELECT pg_logical_emit_message(false, 'walvault check', '')")
            guard let name = try db.query("SELECT pg_walfile_name(pg_switch_wal())").first?.first ?? nil, let file = WALFileName(name) else {
                return HealthCheck(name: "round trip", ok: false, figure: "the server did not say which WAL file it switched")
            }
            let deadline = started + Int64(settings.roundTripSeconds) * 1_000_000
            var missing = context.syncStores.map(\.name)
            while true {
                missing = try context.syncStores.filter { try $0.objects(of: file, layout: layout).isEmpty }.map(\.name)
                if missing.isEmpty {
                    return HealthCheck(
                        name: "round trip", ok: true,
                        figure: "\(name) in every sync store \(HealthCheck.milliseconds(now() - started)) after the switch")
                }
                if now() >= deadline { break }
                usleep(200_000)
            }
            return HealthCheck(
                name: "round trip", ok: false,
                figure: "\(name) not in \(missing.map { "\"\($0)\"" }.joined(separator: ", ")) \(settings.roundTripSeconds) s after the switch",
                fix: "check pg_stat_archiver and walvault's lines in the server log")
        } catch {
            return HealthCheck(name: "round trip", ok: false, figure: "\(error)")
        }
    }

    /// A small object written and removed where the store can remove it; otherwise (Telegram)
    /// a read of the cluster's binding, so the check never leaves anything behind.
    package func probe(_ store: Store) -> HealthCheck {
        let name = "store \"\(store.name)\""
        do {
            guard store.capabilities.contains(.deletion), !store.capabilities.contains(.deferredCommit) else {
                _ = try store.head(key: layout.infoKey)
                return HealthCheck(name: name, ok: true, figure: "reachable at \(store.location) (read only: writing a probe would stay there)")
            }
            let key = "\(layout.cluster)/.walvault-check-\(UInt64.random(in: 0...UInt64.max))"
            guard try store.createSmall(key: key, contents: Array("walvault check\n".utf8)) else {
                return HealthCheck(name: name, ok: false, figure: "a probe object already existed at \(key)")
            }
            try store.delete(key: key)
            return HealthCheck(name: name, ok: true, figure: "reachable and writable at \(store.location)")
        } catch let error as StoreError where error.store == store.name {
            // The line already starts with the store's name: not twice.
            return HealthCheck(name: name, ok: false, figure: error.problem + (error.fix.isEmpty ? "" : "; \(error.fix)"))
        } catch {
            return HealthCheck(name: name, ok: false, figure: "\(error)")
        }
    }

    /// Per Telegram store: with forum_topics, that the chat and the bot's rights let expire delete
    /// topics; without, whether the chat already holds what retention should have deleted.
    package func telegramRetention() -> [HealthCheck] {
        context.config.stores.indices.compactMap { index -> HealthCheck? in
            let settings = context.config.stores[index]
            guard case .telegram(let telegram) = settings.kind, index < context.rawStores.count,
                let store = context.rawStores[index].driver(as: TelegramStore.self)
            else { return nil }
            let name = "retention in \"\(settings.name)\""
            do {
                if telegram.forumTopics {
                    try store.checkForum()
                    return HealthCheck(
                        name: name, ok: true,
                        figure: "chat \(telegram.chatID) is a forum and the bot may open and delete topics: expire deletes each backup's topic whole")
                }
                guard let days = context.config.retentionDays(store: index) else { return nil }
                return HealthCheck.telegramRetention(
                    store: settings.name, oldestSentAt: try store.oldestUntopicedDocumentDate(), now: now(), days: days)
            } catch let error as StoreError {
                return HealthCheck(name: name, ok: false, figure: error.problem, fix: error.fix.isEmpty ? nil : error.fix)
            } catch {
                return HealthCheck(name: name, ok: false, figure: "\(error)")
            }
        }
    }

    package func backupAge() -> HealthCheck {
        do {
            let newest = try context.newestBackup()
            _ = Notifier(context: context)?.checkBackupAge(force: true, newest: .some(newest))
            return HealthCheck.backupAge(newest: newest.map { ($0.label, $0.stopTime) }, now: now(), maxHours: settings.backupMaxAgeHours)
        } catch {
            return HealthCheck(name: "last backup", ok: false, figure: "\(error)")
        }
    }

    /// Each `[[storage]]` tree's newest snapshot, at most `backup_max_age_hours` old; an overdue or
    /// missing one alerts as an old base backup does, and a fresh one clears it.
    package func filesSnapshotAge() -> [HealthCheck] {
        guard !context.config.storage.isEmpty else { return [] }
        let newest: [String: FilesListItem]
        do {
            newest = try FilesList(context: context).newest()
        } catch {
            return [HealthCheck(name: "files snapshots", ok: false, figure: "\(error)")]
        }
        let notifier = Notifier(context: context)
        return context.config.storage.map { tree in
            let check = HealthCheck.filesSnapshotAge(
                tree: tree.name, newest: newest[tree.name].map { ($0.id, $0.time) }, now: now(), maxHours: settings.backupMaxAgeHours)
            let condition = "files snapshot age of \(tree.name)"
            _ = check.ok ? notifier?.succeeded(condition) : notifier?.failed(condition, error: "\(check.name): \(check.figure)", immediate: true)
            return check
        }
    }

    package func shippingLag() -> [HealthCheck] {
        guard let spool = context.config.cluster.spool else { return [] }
        return context.asyncIndexes.map { index in
            let store = context.stores[index].name
            do {
                let entries = try ShippingQueue.open(spool: spool, store: store).entries()
                let oldest = entries.map(\.queuedAt).min().map { Int((now() - $0) / 1_000_000) }
                return HealthCheck.shippingLag(store: store, queued: entries.count, oldestSeconds: oldest, maxMinutes: settings.shippingLagMinutes)
            } catch {
                return HealthCheck(name: "shipping to \"\(store)\"", ok: false, figure: "\(error)")
            }
        }
    }

    package func freeSpace() -> [HealthCheck] {
        DiskSpace.measure(context.config).map { disk in
            guard let free = disk.freeBytes, let total = disk.totalBytes else {
                return HealthCheck(name: "free space for \(disk.what)", ok: false, figure: disk.unreadable ?? "cannot read \(disk.path)")
            }
            return HealthCheck.freeSpace(what: disk.what, path: disk.path, free: free, total: total, minPercent: settings.minFreePercent)
        }
    }

    /// The control-plane database answers, and no history row has waited in the journal an hour.
    package func history() -> [HealthCheck] {
        guard let settings = context.config.history else { return [] }
        var checks: [HealthCheck] = []
        do {
            let db = try PostgresConnection(
                conninfo: settings.conninfo, database: .controlPlane, connectTimeout: HistoryRecorder.connectTimeoutSeconds)
            _ = try db.query("SELECT 1")
            checks.append(HealthCheck(name: "control plane", ok: true, figure: "reachable"))
            // A cron-only user gets the growth chart's series from check's samples.
            if context.config.cluster.conninfo != nil {
                do {
                    let sample = try DatabaseStats.sample(context: context, now: now())
                    let megabytes = Double(sample.bytes) / 1_048_576
                    checks.append(
                        HealthCheck(
                            name: "database size", ok: true,
                            figure: "\((megabytes * 10).rounded() / 10) MB in \(sample.tables) tables, sampled for the growth chart"))
                } catch {
                    checks.append(HealthCheck(name: "database size", ok: false, figure: "not sampled: \(error)"))
                }
            }
        } catch {
            checks.append(HealthCheck(name: "control plane", ok: false, figure: "\(error)"))
        }
        let bytes = (try? FileSystem.readSmallFile(settings.journalFile, limit: 64 << 20)) ?? []
        let waiting = HistoryJournal.records(in: bytes)
        if let oldest = waiting.map(\.createdAt).min() {
            let age = now() - oldest
            let ok = age < 3_600_000_000
            checks.append(
                HealthCheck(
                    name: "history journal", ok: ok, figure: "\(waiting.count) rows waiting, the oldest \(HealthCheck.hours(age)) old",
                    fix: ok ? nil : "the control-plane database has been unreachable: see the line above"))
        } else {
            checks.append(HealthCheck(name: "history journal", ok: true, figure: "empty"))
        }
        return checks
    }
}

extension HealthCheck {
    package static func milliseconds(_ micros: Int64) -> String { "\(micros / 1000) ms" }
}
