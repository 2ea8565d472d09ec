import WalvaultAlerts
import WalvaultHistory
import WalvaultKit
import WalvaultMaintenance
import WalvaultShipping
import WalvaultSystem

/// What the runner does around every operation, behind one seam so that the server, a test or
/// the CLI get the same lifecycle: the history, the alerts, expire after a backup, and the
/// shipper. Each returns warnings rather than throwing, except expire: none of them may fail or
/// change the operation's outcome.
public protocol JobServices: Sendable {
    /// History rows for the operation's events (nothing without `[history]`).
    func recordHistory(_ events: [OperationEvent], durationMs: Int, actor: HistoryActor, context: WalvaultContext) -> String?
    func recordExpiry(_ report: ExpireReport, context: WalvaultContext) -> String?
    /// History rows for objects an async store made durable (ship records per flush: with
    /// `--follow` there is no end to wait for).
    func recordShipped(_ shipped: [Ship.Shipped], durationMs: Int, actor: HistoryActor, context: WalvaultContext) -> String?
    func alertFailed(_ condition: String, error: String, immediate: Bool, context: WalvaultContext) -> [String]
    func alertSucceeded(_ condition: String, context: WalvaultContext) -> [String]
    /// `force`: check now rather than at most hourly (after a backup).
    func checkBackupAge(force: Bool, context: WalvaultContext) -> [String]
    func expire(context: WalvaultContext) throws -> ExpireReport
    /// Starts `walvault ship` (the context's launcher) when none runs; a warning when it cannot.
    func startShipper(context: WalvaultContext) -> String?
}

/// The real services: the control-plane database, `Notifier`, `Expire` and `ShipLauncher`.
public struct LiveServices: JobServices {
    public init() {}

    public func recordHistory(_ events: [OperationEvent], durationMs: Int, actor: HistoryActor, context: WalvaultContext) -> String? {
        guard let settings = context.config.history else { return nil }
        let rows = HistoryEvents.rows(settings, context: context, events: events, durationMs: durationMs, actor: actor)
        return HistoryRecorder(settings: settings).record(rows)
    }

    public func recordExpiry(_ report: ExpireReport, context: WalvaultContext) -> String? {
        guard let settings = context.config.history else { return nil }
        let stores = report.stores.filter { !report.cannotDelete.contains($0.store) }.map { store in
            (store: store.store, present: Set(store.keep.map(\.name)), due: store.due)
        }
        return HistoryRecorder(settings: settings).reconcileExpiry(
            stores, before: report.readAt, cluster: context.config.cluster.name,
            logsManaged: context.config.retention?.logsDays != nil)
    }

    public func recordShipped(_ shipped: [Ship.Shipped], durationMs: Int, actor: HistoryActor, context: WalvaultContext) -> String? {
        guard let settings = context.config.history else { return nil }
        let rows = HistoryEvents.shippedRows(settings, context: context, shipped: shipped, durationMs: durationMs, actor: actor)
        return HistoryRecorder(settings: settings).record(rows)
    }

    public func alertFailed(_ condition: String, error: String, immediate: Bool, context: WalvaultContext) -> [String] {
        Notifier(context: context)?.failed(condition, error: error, immediate: immediate) ?? []
    }

    public func alertSucceeded(_ condition: String, context: WalvaultContext) -> [String] {
        Notifier(context: context)?.succeeded(condition) ?? []
    }

    public func checkBackupAge(force: Bool, context: WalvaultContext) -> [String] {
        Notifier(context: context)?.checkBackupAge(force: force) ?? []
    }

    public func expire(context: WalvaultContext) throws -> ExpireReport { try Expire(context: context).run() }

    public func startShipper(context: WalvaultContext) -> String? { ShipLauncher.startIfIdle(context: context) }
}
