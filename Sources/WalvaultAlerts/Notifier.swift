import WalvaultCatalog
import WalvaultConfig
import WalvaultHTTP
import WalvaultKit
import WalvaultPipeline
import WalvaultPolicy
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The one notifier every command uses (and the dashboard will): it keeps each condition's
/// streak in a small state file (under `flock`, beside the cluster lock), asks `AlertPolicy`
/// whether to speak, and sends the same `AlertMessage` to the Telegram chat, the webhook and the
/// e-mail address that `[alerts]` names. It never throws and never changes an exit status: a
/// channel that cannot be reached is one warning line.
public struct Notifier: Sendable {
    public let context: WalvaultContext
    package let settings: AlertSettings
    package let now: @Sendable () -> Int64

    /// nil without `[alerts]`.
    public init?(context: WalvaultContext, now: @escaping @Sendable () -> Int64 = { WallClock.nowMicros() }) {
        guard let settings = context.config.alerts else { return nil }
        self.context = context
        self.settings = settings
        self.now = now
    }

    package struct State: Codable {
        package var conditions: [String: AlertPolicy.Condition] = [:]
        package var backupAgeCheckedAt: Int64?
        /// Notices already sent (one per backup about to expire), so each goes once.
        package var noticesSent: [String]?
    }

    public var statePath: String {
        Paths.join(context.config.cluster.spool ?? ClusterLock.privateDirectory, "\(context.config.cluster.name).alerts")
    }

    // MARK: Events

    /// A failure of `condition`; `immediate` for operations a person started (backup, restore).
    @discardableResult
    public func failed(_ condition: String, error: String, immediate: Bool = false) -> [String] {
        var decision = AlertPolicy.Decision.none
        var snapshot = AlertPolicy.Condition()
        let warnings = withState { state in
            var entry = state.conditions[condition] ?? AlertPolicy.Condition()
            decision = AlertPolicy.failed(&entry, error: error, threshold: immediate ? 1 : settings.afterFailures, now: now())
            state.conditions[condition] = entry
            snapshot = entry
        }
        guard decision == .alert else { return warnings }
        return warnings + send(.alert, condition: condition, state: snapshot)
    }

    /// Successes of every condition whose name starts with `prefix` (archive-push succeeded: every
    /// sync store worked). Costs one `stat` when nothing is failing.
    @discardableResult
    public func succeeded(_ prefix: String) -> [String] {
        guard FileSystem.exists(statePath) else { return [] }
        var recovered: [(String, AlertPolicy.Condition)] = []
        let warnings = withState { state in
            for (name, var entry) in state.conditions where name.hasPrefix(prefix) && (entry.failures > 0 || entry.alerted) {
                let before = entry
                if AlertPolicy.succeeded(&entry) == .recovered { recovered.append((name, before)) }
                state.conditions[name] = entry
            }
        }
        return warnings + recovered.flatMap { send(.recovered, condition: $0.0, state: $0.1) }
    }

    /// The newest complete backup against `backup_max_age_hours`; at most every 15 minutes
    /// unless `force` (backup, check).
    /// - Parameter newest: the newest complete backup, when the caller has read it already (check).
    @discardableResult
    public func checkBackupAge(force: Bool = false, newest known: BackupManifest?? = nil) -> [String] {
        let at = now()
        var due = force
        var warnings = withState { state in
            if force || at - (state.backupAgeCheckedAt ?? 0) >= 15 * 60 * 1_000_000 {
                state.backupAgeCheckedAt = at
                due = true
            }
        }
        guard due else { return warnings }
        let newest = known ?? lastBackup()
        if AlertPolicy.backupTooOld(newestStop: newest?.stopTime, now: at, maxAgeHours: settings.backupMaxAgeHours) {
            let error =
                newest.map { "the newest complete backup (\($0.label)) is older than backup_max_age_hours = \(settings.backupMaxAgeHours)" }
                ?? "there is no complete backup"
            warnings += failed("backup age", error: error, immediate: true)
        } else {
            warnings += succeeded("backup age")
        }
        return warnings
    }

    /// A notice sent once per `key` (a backup about to expire), on every channel.
    @discardableResult
    public func noticeOnce(key: String, about: String, detail: String) -> [String] {
        var fresh = false
        let warnings = withState { state in
            var sent = state.noticesSent ?? []
            guard !sent.contains(key) else { return }
            sent.append(key)
            // Bounded: the oldest are forgotten first (a backup that expired is not noticed again).
            state.noticesSent = Array(sent.suffix(1000))
            fresh = true
        }
        guard fresh else { return warnings }
        var state = AlertPolicy.Condition()
        state.lastError = detail
        return warnings + send(.notice, condition: about, state: state)
    }

    // MARK: State

    package func withState(_ body: (inout State) -> Void) -> [String] {
        let path = statePath
        do {
            try FileSystem.makeDirectories(Paths.dirname(path), mode: 0o750)
            let file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
            try file.lockExclusive()
            let bytes = try file.readToEnd(limit: 1 << 20)
            var state = bytes.isEmpty ? State() : ((try? JSONDecoder().decode(State.self, from: Data(bytes))) ?? State())
            body(&state)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys  // the same state, the same bytes
            let encoded = Array(try encoder.encode(state))
            // ship asks after every pass: rewrite only what changed.
            guard encoded != bytes else { return [] }
            guard ftruncate(file.raw, 0) == 0 else { throw SystemError("truncate", path: path) }
            try file.rewind()
            try file.writeAll(encoded)
            return []
        } catch {
            var state = State()
            body(&state)
            return ["alert state \(path) cannot be kept (\(error)); alerts may repeat or be late"]
        }
    }

    // MARK: Facts and sending

    package func lastBackup() -> BackupManifest? { (try? context.newestBackup()) ?? nil }

    package static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "this host" }
        return String(cString: buffer)
    }

    package func message(_ status: AlertMessage.Status, condition: String, state: AlertPolicy.Condition) -> AlertMessage {
        let backup = lastBackup()
        return AlertMessage(
            status: status, cluster: context.config.cluster.name, host: Self.hostName(), condition: condition, failures: state.failures,
            since: state.since, error: state.lastError, lastBackupLabel: backup?.label, lastBackupStop: backup?.stopTime,
            databaseBytes: backup?.totalSize, now: now())
    }

    /// Every configured channel; one warning per channel that failed.
    package func send(_ status: AlertMessage.Status, condition: String, state: AlertPolicy.Condition) -> [String] {
        let message = message(status, condition: condition, state: state)
        var warnings: [String] = []
        if let chat = settings.telegramChatID {
            do { try sendTelegram(message, chat: chat) } catch { warnings.append("the alert was not sent to Telegram chat \(chat): \(error)") }
        }
        if let source = settings.webhookURL {
            do { try sendWebhook(message, source: source) } catch { warnings.append("the alert was not sent to the webhook: \(error)") }
        }
        if !settings.emailTo.isEmpty {
            do { try sendEmail(message) } catch {
                warnings.append("the alert was not e-mailed to \(settings.emailTo.joined(separator: ", ")): \(error)")
            }
        }
        return warnings
    }

    package func sendTelegram(_ message: AlertMessage, chat: String) throws {
        guard let (index, store) = context.config.stores.enumerated().first(where: { $0.element.telegramChatID != nil }),
            case .telegram(let telegram) = store.kind
        else { return }
        let api = try WalvaultContext.telegramAPI(store.name, telegram, index: index, configPath: context.config.path, maxRetryAfterSeconds: 30)
        try api.sendMessage(message.text, to: chat)
    }

    package func sendWebhook(_ message: AlertMessage, source: SecretSource) throws {
        guard case .environment(let variable) = source, let raw = getenv(variable), raw.pointee != 0 else {
            throw CommandError(
                problem: "the environment variable named by alerts.webhook_url_env is not set",
                fix: "set it to the webhook's URL for the process running walvault")
        }
        let url = String(cString: raw)
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            throw CommandError(
                problem: "the webhook in $\(variable) is not an http:// or https:// URL (not shown: it may hold a token)",
                fix: "set \(variable) to the webhook's https:// URL")
        }
        // The URL usually holds the webhook's token: messages name the variable only.
        let request = HTTPRequest(
            method: "POST", url: url, displayURL: "the webhook in $\(variable)", headers: [("Content-Type", "application/json")],
            body: .bytes(try message.json()))
        let (response, _) = try HTTPClient().perform(request, limit: 1 << 16)
        guard (200..<300).contains(response.status) else {
            throw CommandError(problem: "the webhook in $\(variable) answered HTTP \(response.status)", fix: "check the webhook's URL")
        }
    }

    package func sendEmail(_ message: AlertMessage) throws {
        guard let url = settings.smtpURL else { return }
        var user: SecretBytes?
        var password: SecretBytes?
        if let source = settings.smtpUser {
            user = try StoreCredentials.read(source, key: "alerts.smtp_user", configPath: context.config.path, fileKey: false)
        }
        if let source = settings.smtpPassword {
            password = try StoreCredentials.read(source, key: "alerts.smtp_password", configPath: context.config.path, fileKey: false)
        }
        let userText = user.map { $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
        let from = settings.emailFrom ?? userText.flatMap { AlertSettings.isValidAddress($0) ? $0 : nil } ?? "walvault@\(Self.hostName())"
        let display = String(url.prefix { $0 != "?" })
        try HTTPClient().sendMail(
            url: url, displayURL: display, from: from, to: settings.emailTo, user: userText,
            password: password.map(CStringSecret.init), message: message.email(from: from, to: settings.emailTo))
    }
}

/// A secret as the NUL-terminated string libcurl takes, in wiped memory for as long as it lives.
package struct CStringSecret: SecretBytesView {
    package let secret: SecretBytes

    package func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        let count = secret.withUnsafeBytes { $0.count }
        let copy = SecretBytes(count: count + 1)
        copy.withUnsafeMutableBytes { target in secret.withUnsafeBytes { target.copyMemory(from: $0) } }
        return try copy.withUnsafeBytes { try body($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }
}
