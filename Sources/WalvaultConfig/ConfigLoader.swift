import TOMLKit
import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Turns a TOML file into a validated `WalvaultConfig`, or one `ConfigError` that names
/// the file, the key and what is expected.
public enum ConfigLoader {
    static let topLevelKeys = ConfigSchema.sections.map(\.name).reduce(into: [String]()) { names, name in
        if !names.contains(name) { names.append(name) }
    }
    static let performanceKeys = ConfigSchema.section("performance").keyNames
    static let dashboardKeys = ConfigSchema.section("dashboard").keyNames
    static let checkKeys = ConfigSchema.section("check").keyNames
    static let backupKeys = ConfigSchema.section("backup").keyNames
    static let alertKeys = ConfigSchema.section("alerts").keyNames
    static let encryptionKeys = ConfigSchema.section("encryption").keyNames
    static let historyKeys = ConfigSchema.section("history").keyNames
    static let clusterKeys = ConfigSchema.section("cluster").keyNames
    static let shippingKeys = ConfigSchema.section("shipping").keyNames
    static let retentionKeys = ConfigSchema.section("retention").keyNames
    static let compressionKeys = ConfigSchema.section("compression").keyNames
    static let storageKeys = ConfigSchema.section("storage").keyNames

    public static func load(path: String) throws -> WalvaultConfig {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readSmallFile(path)
        } catch let error as SystemError {
            let fix: String
            switch error.code {
            case ENOENT: fix = "create it (see README), or pass --config FILE or set \(ConfigLocation.environmentVariable)"
            case EISDIR: fix = "--config (or \(ConfigLocation.environmentVariable)) must name the TOML file, not a directory"
            case EFBIG: fix = "a walvault config is a few KiB; check that --config names the right file"
            case EACCES, EPERM: fix = "make it readable by the user running walvault (the postgres user for archive_command)"
            default: fix = error.hint ?? "check the file"
            }
            throw ConfigError(
                file: path, problem: "cannot read the config file: \(error.code == EFBIG ? "it is larger than 1 MiB" : error.reason)", fix: fix)
        }
        if let nul = bytes.firstIndex(of: 0) {
            let line = bytes[..<nul].filter { $0 == 10 }.count + 1
            throw ConfigError(
                file: "\(path):\(line)", problem: "contains a NUL byte, so it is not a text file", fix: "save the config as UTF-8 TOML text")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(file: path, problem: "not valid UTF-8 text", fix: "save the file as UTF-8 TOML")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> WalvaultConfig {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(
                file: "\(path):\(error.source.begin.line):\(error.source.begin.column)",
                problem: "invalid TOML: \(error.description)",
                fix: "correct the syntax at that line")
        }
        for name in root.keys.sorted() where !topLevelKeys.contains(name) {
            throw ConfigError(
                file: path, key: name, problem: "unknown key",
                fix:
                    "remove it or fix its spelling; the config accepts [cluster], [compression], [[stores]], [history], [encryption], [shipping], [retention], [alerts], [backup], [check], [performance], [dashboard] and [[storage]]"
            )
        }
        let cluster = try parseCluster(root, path: path)
        let compression = try parseCompression(root, path: path)
        let stores = try parseStores(root, path: path)
        let history = try parseHistory(root, path: path)
        let encryption = try parseEncryption(root, path: path)
        let shipping = try parseShipping(root, path: path)
        let retention = try parseRetention(root, path: path)
        let alerts = try parseAlerts(root, path: path, stores: stores)
        let check = try parseCheck(root, path: path)
        let backup = try parseBackup(root, path: path)
        let performance = try parsePerformance(root, path: path)
        let dashboard = try parseDashboard(root, path: path)
        let storage = try parseStorage(root, path: path)
        if stores.contains(where: { $0.mode == .async }) {
            // Every store async is a machine that only reads (restoring from Telegram on a new
            // server); archive-push and backup refuse there. Otherwise the first must be sync.
            guard stores[0].mode == .sync || stores.allSatisfy({ $0.mode == .async }) else {
                throw ConfigError(
                    file: path, key: "stores #1.mode", problem: "the first store is async",
                    fix: "make the first store sync (usually the local one): archive-push must hold every segment somewhere before it returns")
            }
            guard cluster.spool != nil else {
                throw ConfigError(
                    file: path, key: "cluster.spool", problem: "missing, but store \"\(stores.first { $0.mode == .async }!.name)\" is async",
                    fix: "set spool = \"/var/lib/walvault/spool\" (a directory owned by the postgres user): the shipping queue lives there")
            }
        }
        return WalvaultConfig(
            path: path, cluster: cluster, compression: compression, stores: stores, history: history,
            encryption: encryption, shipping: shipping, retention: retention, alerts: alerts, check: check,
            performance: performance, dashboard: dashboard, backup: backup, storage: storage)
    }

    private static func parseStorage(_ root: TOMLTable, path: String) throws -> [StorageSettings] {
        guard let value = root["storage"] else { return [] }
        guard let array = value.array else {
            throw ConfigError(
                file: path, key: "storage", problem: "expected an array of tables, found \(value.type)",
                fix: "write each tree as a [[storage]] section")
        }
        var trees: [StorageSettings] = []
        for index in 0..<array.count {
            let place = "storage #\(index + 1)"
            guard let table = array[index].table else {
                throw ConfigError(file: path, key: place, problem: "expected a table", fix: "write each tree as a [[storage]] section")
            }
            let reader = TableReader(table: table, file: path, place: place, knownKeys: storageKeys)
            try reader.rejectUnknownKeys(what: "[[storage]]")
            let name = try reader.requiredString("name", meaning: "a short name for this tree, e.g. \"uploads\"")
            guard ClusterSettings.isValidName(name) else {
                throw ConfigError(
                    file: path, key: "\(place).name", problem: "\"\(name)\" is not a usable name", fix: "use letters, digits, '-', '_' and '.'")
            }
            if trees.contains(where: { $0.name == name }) {
                throw ConfigError(
                    file: path, key: "\(place).name", problem: "storage name \"\(name)\" is used twice", fix: "give every tree its own name")
            }
            let treePath = try reader.requiredString("path", meaning: "the tree's root, e.g. \"/srv/app/uploads\"")
            guard treePath.hasPrefix("/") else {
                throw ConfigError(
                    file: path, key: "\(place).path", problem: "\"\(treePath)\" is not an absolute path",
                    fix: "give the full path: cron and the server do not start in your directory")
            }
            var exclude: [String] = []
            if let value = table["exclude"] {
                guard let patterns = value.array else {
                    throw ConfigError(
                        file: path, key: "\(place).exclude", problem: "expected an array of strings, found \(value.type)",
                        fix: "write it as exclude = [\"*.tmp\", \"cache/\"]")
                }
                for item in 0..<patterns.count {
                    guard let pattern = patterns[item].string, !pattern.isEmpty, !pattern.utf8.contains(0) else {
                        throw ConfigError(
                            file: path, key: "\(place).exclude", problem: "item \(item + 1) is not a non-empty string",
                            fix: "write each pattern as a quoted string, such as \"*.tmp\" or \"cache/\"")
                    }
                    exclude.append(pattern)
                }
            }
            trees.append(StorageSettings(name: name, path: treePath, exclude: exclude))
        }
        return trees
    }

    private static func parseDashboard(_ root: TOMLTable, path: String) throws -> DashboardSettings? {
        guard let table = try table(root, "dashboard", path: path) else { return nil }
        let reader = TableReader(table: table, file: path, place: "dashboard", knownKeys: dashboardKeys)
        try reader.rejectUnknownKeys(what: "[dashboard]")
        var settings = DashboardSettings()
        if let listen = try reader.string("listen") {
            guard let (host, port) = DashboardSettings.parseListen(listen) else {
                throw ConfigError(
                    file: path, key: "dashboard.listen", problem: "\"\(listen)\" is not an address and port",
                    fix: "write it as \"127.0.0.1:8085\" (or \"[::1]:8085\")")
            }
            settings.host = host
            settings.port = port
        }
        for (key, assign) in [
            ("owner_password_file", { settings.ownerPasswordFile = $0 }), ("totp_secret_file", { settings.totpSecretFile = $0 }),
            ("jwt_public_key_file", { settings.jwtPublicKeyFile = $0 }), ("metrics_token_file", { settings.metricsTokenFile = $0 }),
            ("tls_certificate_file", { settings.tlsCertificateFile = $0 }), ("tls_key_file", { settings.tlsKeyFile = $0 })
        ] as [(String, (String) -> Void)] {
            guard let value = try reader.string(key) else { continue }
            guard value.hasPrefix("/") else {
                throw ConfigError(
                    file: path, key: "dashboard." + key, problem: "\"\(value)\" is not an absolute path",
                    fix: "name the file from the root (/etc/walvault/...): the server does not run where the config was written")
            }
            assign(value)
        }
        guard (settings.tlsCertificateFile == nil) == (settings.tlsKeyFile == nil) else {
            throw ConfigError(
                file: path, key: settings.tlsKeyFile == nil ? "dashboard.tls_key_file" : "dashboard.tls_certificate_file",
                problem: "missing, but its pair is set", fix: "set both tls_certificate_file and tls_key_file, or neither")
        }
        if let minutes = try reader.int("sample_minutes") {
            guard (1...1440).contains(minutes) else {
                throw ConfigError(
                    file: path, key: "dashboard.sample_minutes", problem: "\(minutes) is out of range",
                    fix: "use 15 (minutes between database size samples, 1 to 1440)")
            }
            settings.sampleMinutes = minutes
        }
        if let trusted = try reader.bool("trusted_proxy") { settings.trustedProxy = trusted }
        return settings
    }

    private static func parsePerformance(_ root: TOMLTable, path: String) throws -> PerformanceSettings {
        guard let table = try table(root, "performance", path: path) else { return PerformanceSettings() }
        let reader = TableReader(table: table, file: path, place: "performance", knownKeys: performanceKeys)
        try reader.rejectUnknownKeys(what: "[performance]")
        var settings = PerformanceSettings()
        if let prefetch = try reader.int("prefetch") {
            guard (0...64).contains(prefetch) else {
                throw ConfigError(
                    file: path, key: "performance.prefetch", problem: "\(prefetch) is out of range",
                    fix: "use 8 (segments fetched ahead during recovery; 0 turns it off; at most 64)")
            }
            settings.prefetch = prefetch
        }
        settings.pushParallel = try parallel(
            reader, "push_parallel", path: path, default: settings.pushParallel,
            what: "segments archive-push stores at once when a backlog is ready; 1 turns push-ahead off")
        settings.restoreParallel = try parallel(
            reader, "restore_parallel", path: path, default: settings.restoreParallel,
            what: "backup parts restore fetches, decompresses and writes at once; 1 restores one part at a time")
        settings.backupParallel = try parallel(
            reader, "backup_parallel", path: path, default: settings.backupParallel,
            what: "files backup reads and compresses at once; 1 reads one file at a time with zstd's threads beside it")
        return settings
    }

    /// A `[performance]` thread count: 1 to 32.
    private static func parallel(_ reader: TableReader, _ key: String, path: String, default value: Int, what: String) throws -> Int {
        guard let parallel = try reader.int(key) else { return value }
        guard (1...32).contains(parallel) else {
            throw ConfigError(
                file: path, key: "performance." + key, problem: "\(parallel) is out of range",
                fix: "use the number of cores (\(what); at most 32)")
        }
        return parallel
    }

    private static func parseEncryption(_ root: TOMLTable, path: String) throws -> EncryptionSettings? {
        guard let table = try table(root, "encryption", path: path) else { return nil }
        let reader = TableReader(table: table, file: path, place: "encryption", knownKeys: encryptionKeys)
        try reader.rejectUnknownKeys()
        let file = try reader.string("passphrase_file")
        let variable = try reader.string("passphrase_env")
        let source: EncryptionSettings.PassphraseSource
        switch (file, variable) {
        case (let file?, nil):
            guard file.hasPrefix("/") else {
                throw ConfigError(
                    file: path, key: "encryption.passphrase_file", problem: "\"\(file)\" is not an absolute path",
                    fix: "give the full path: archive_command runs inside the data directory")
            }
            source = .file(file)
        case (nil, let variable?):
            guard !variable.isEmpty,
                variable.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) })
            else {
                throw ConfigError(
                    file: path, key: "encryption.passphrase_env", problem: "\"\(variable)\" is not an environment variable name",
                    fix: "give the variable's name, e.g. \"WALVAULT_PASSPHRASE\", never the passphrase itself")
            }
            source = .environment(variable)
        case (nil, nil):
            throw ConfigError(
                file: path, key: "encryption", problem: "no passphrase source",
                fix: "set passphrase_file = \"/etc/walvault/passphrase\" or passphrase_env = \"WALVAULT_PASSPHRASE\"")
        case (_?, _?):
            throw ConfigError(
                file: path, key: "encryption", problem: "both passphrase_file and passphrase_env are set",
                fix: "keep one of them, so there is no doubt which passphrase encrypts the stores")
        }
        var cache = EncryptionSettings.KeyCacheSetting.under(EncryptionSettings.defaultKeyCacheParent)
        if let value = try reader.string("key_cache") {
            if value == "off" {
                cache = .off
            } else {
                guard value.hasPrefix("/") else {
                    throw ConfigError(
                        file: path, key: "encryption.key_cache", problem: "\"\(value)\" is neither an absolute path nor \"off\"",
                        fix: "give a memory-backed directory such as \"/dev/shm\", or \"off\"")
                }
                cache = .under(value)
            }
        }
        return EncryptionSettings(passphrase: source, keyCache: cache)
    }

    private static func parseAlerts(_ root: TOMLTable, path: String, stores: [StoreSettings]) throws -> AlertSettings? {
        guard let table = try table(root, "alerts", path: path) else { return nil }
        let reader = TableReader(table: table, file: path, place: "alerts", knownKeys: alertKeys)
        try reader.rejectUnknownKeys(what: "[alerts]")
        func fail(_ key: String, _ problem: String, _ fix: String) -> ConfigError {
            ConfigError(file: path, key: "alerts." + key, problem: problem, fix: fix)
        }
        var settings = AlertSettings()
        if let chat = try reader.string("telegram_chat_id") {
            guard TelegramStoreSettings.isValidChatID(chat) else {
                throw fail(
                    "telegram_chat_id", "\"\(chat)\" is not a chat id",
                    "use the chat's number, e.g. \"123456789\" (your user id) or \"-1001234567890\"")
            }
            guard stores.contains(where: { $0.telegramChatID != nil }) else {
                throw fail(
                    "telegram_chat_id", "alerts go through the bot of a Telegram store, and there is none",
                    "add a [[stores]] entry with type = \"telegram\", or remove telegram_chat_id")
            }
            settings.telegramChatID = chat
        }
        if let variable = try reader.string("webhook_url_env") {
            guard isEnvironmentName(variable) else {
                throw fail(
                    "webhook_url_env", "the value is not an environment variable name (not shown: it may be the URL itself)",
                    "give the variable's name, e.g. \"WALVAULT_ALERT_WEBHOOK\", and put the URL in that variable")
            }
            settings.webhookURL = .environment(variable)
        }
        if let to = try reader.string("email_to") {
            let addresses = to.split(separator: ",").map { String($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
            guard !addresses.isEmpty, addresses.allSatisfy(AlertSettings.isValidAddress) else {
                throw fail("email_to", "\"\(to)\" is not a list of e-mail addresses", "use \"owner@example.com\" or \"a@example.com, b@example.com\"")
            }
            settings.emailTo = addresses
            guard let url = try reader.string("smtp_url") else {
                throw fail("smtp_url", "missing, but email_to is set", "set smtp_url = \"smtps://smtp.example.com:465\" (or smtp:// with STARTTLS)")
            }
            guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://"), !Array(url.utf8).contains(UInt8(ascii: "@")) else {
                throw fail(
                    "smtp_url", "\"\(url.hasPrefix("smtp") ? "the URL" : url)\" is not an smtp:// or smtps:// URL without credentials",
                    "use smtps://host:465 or smtp://host:587; the login goes in smtp_user_env and smtp_password_env")
            }
            settings.smtpURL = url
            if let from = try reader.string("email_from") {
                guard AlertSettings.isValidAddress(from) else {
                    throw fail("email_from", "\"\(from)\" is not an e-mail address", "use e.g. \"walvault@example.com\"")
                }
                settings.emailFrom = from
            }
            for (key, assign) in [("smtp_user_env", { settings.smtpUser = $0 }), ("smtp_password_env", { settings.smtpPassword = $0 })]
                as [(String, (SecretSource) -> Void)]
            {
                if let variable = try reader.string(key) {
                    guard isEnvironmentName(variable) else {
                        throw fail(
                            key, "the value is not an environment variable name (not shown: it may be the secret itself)",
                            "give the variable's name, e.g. \"WALVAULT_SMTP_PASSWORD\"")
                    }
                    assign(.environment(variable))
                }
            }
        } else {
            for key in ["smtp_url", "smtp_user_env", "smtp_password_env", "email_from"] where try reader.string(key) != nil {
                throw fail(key, "set, but email_to is not", "set email_to = \"owner@example.com\", or remove \(key)")
            }
        }
        if let hours = try reader.int("backup_max_age_hours") {
            guard (1...8760).contains(hours) else {
                throw fail("backup_max_age_hours", "\(hours) is out of range", "use 28 for a nightly backup (a day and a margin), at most 8760")
            }
            settings.backupMaxAgeHours = hours
        }
        if let count = try reader.int("after_failures") {
            guard (1...1000).contains(count) else {
                throw fail("after_failures", "\(count) is out of range", "use 3: one failed archive-push is often a blip, three in a row is not")
            }
            settings.afterFailures = count
        }
        return settings
    }

    private static func parseBackup(_ root: TOMLTable, path: String) throws -> BackupSettings {
        guard let table = try table(root, "backup", path: path) else { return BackupSettings() }
        let reader = TableReader(table: table, file: path, place: "backup", knownKeys: backupKeys)
        try reader.rejectUnknownKeys(what: "[backup]")
        var settings = BackupSettings()
        for (key, range, fix, assign) in [
            ("full_every_days", 1...366, "use 7: a weekly full keeps every chain short", { settings.fullEveryDays = $0 }),
            ("max_chain", 1...1000, "use 14; 1 makes every backup a full", { settings.maxChain = $0 })
        ] as [(String, ClosedRange<Int>, String, (Int) -> Void)] {
            guard let value = try reader.int(key) else { continue }
            guard range.contains(value) else {
                throw ConfigError(
                    file: path, key: "backup." + key, problem: "\(value) is out of range", fix: fix + " (\(range.lowerBound) to \(range.upperBound))")
            }
            assign(value)
        }
        return settings
    }

    private static func parseCheck(_ root: TOMLTable, path: String) throws -> CheckSettings {
        guard let table = try table(root, "check", path: path) else { return CheckSettings() }
        let reader = TableReader(table: table, file: path, place: "check", knownKeys: checkKeys)
        try reader.rejectUnknownKeys(what: "[check]")
        var settings = CheckSettings()
        for (key, range, fix, assign) in [
            ("backup_max_age_hours", 1...8760, "use 28 for a nightly backup", { settings.backupMaxAgeHours = $0 }),
            (
                "shipping_lag_minutes", 1...10080, "use 60: an off-site copy more than an hour behind is worth a look",
                { settings.shippingLagMinutes = $0 }
            ),
            ("min_free_percent", 1...99, "use 15", { settings.minFreePercent = $0 }),
            ("round_trip_seconds", 5...3600, "use 60", { settings.roundTripSeconds = $0 })
        ] as [(String, ClosedRange<Int>, String, (Int) -> Void)] {
            guard let value = try reader.int(key) else { continue }
            guard range.contains(value) else {
                throw ConfigError(
                    file: path, key: "check." + key, problem: "\(value) is out of range", fix: fix + " (\(range.lowerBound) to \(range.upperBound))")
            }
            assign(value)
        }
        return settings
    }

    private static func parseRetention(_ root: TOMLTable, path: String) throws -> RetentionSettings? {
        guard let table = try table(root, "retention", path: path) else { return nil }
        let reader = TableReader(table: table, file: path, place: "retention", knownKeys: retentionKeys)
        try reader.rejectUnknownKeys()
        guard let days = try reader.int("days") else {
            throw ConfigError(
                file: path, key: "retention.days", problem: "missing", fix: "set days = 30: any moment of the last 30 days stays restorable")
        }
        guard (1...36_500).contains(days) else {
            throw ConfigError(file: path, key: "retention.days", problem: "\(days) is out of range", fix: "use a number of days from 1 to 36500")
        }
        var notify: Int?
        if let value = try reader.int("notify_before_days") {
            guard (1...365).contains(value), value < days else {
                throw ConfigError(
                    file: path, key: "retention.notify_before_days", problem: "\(value) is out of range",
                    fix: "use a number of days from 1 to 365, less than days (\(days)), e.g. 3")
            }
            notify = value
        }
        let logsDays = try reader.int("logs_days")
        if let logsDays, !(1...36_500).contains(logsDays) {
            throw ConfigError(
                file: path, key: "retention.logs_days", problem: "\(logsDays) is out of range",
                fix: "use a number of days from 1 to 36500: how long an export of deleted log rows is kept, e.g. 365")
        }
        return RetentionSettings(days: days, notifyBeforeDays: notify, logsDays: logsDays)
    }

    private static func parseShipping(_ root: TOMLTable, path: String) throws -> ShippingSettings {
        guard let table = try table(root, "shipping", path: path) else { return ShippingSettings() }
        let reader = TableReader(table: table, file: path, place: "shipping", knownKeys: shippingKeys)
        try reader.rejectUnknownKeys()
        let parallel = try reader.int("parallel") ?? ShippingSettings.defaultParallel
        guard (1...64).contains(parallel) else {
            throw ConfigError(file: path, key: "shipping.parallel", problem: "\(parallel) is out of range", fix: "use 1 to 64 objects at once")
        }
        let megabytes = try reader.int("max_queue_mb") ?? ShippingSettings.defaultMaxQueueMB
        guard (16...(1 << 24)).contains(megabytes) else {
            throw ConfigError(
                file: path, key: "shipping.max_queue_mb", problem: "\(megabytes) is out of range",
                fix: "use 16 to \(1 << 24) MB (the default is \(ShippingSettings.defaultMaxQueueMB))")
        }
        return ShippingSettings(parallel: parallel, maxQueueBytes: megabytes << 20)
    }

    private static func parseHistory(_ root: TOMLTable, path: String) throws -> HistorySettings? {
        guard let table = try table(root, "history", path: path) else { return nil }
        let reader = TableReader(table: table, file: path, place: "history", knownKeys: historyKeys)
        try reader.rejectUnknownKeys()
        let conninfo = try reader.requiredString(
            "conninfo", meaning: "the control-plane database, e.g. \"host=10.0.0.5 dbname=control user=walvault\"")
        let project = try reader.requiredString("project_id", meaning: "this project's name in the history table, e.g. \"analyticbot\"")
        let journal = try reader.string("journal") ?? HistorySettings.defaultJournal
        guard journal.hasPrefix("/") else {
            throw ConfigError(
                file: path, key: "history.journal", problem: "\"\(journal)\" is not an absolute path",
                fix: "give the full path of the journal file")
        }
        let retention = try reader.int("retention_days") ?? HistorySettings.defaultRetentionDays
        guard (1...36_500).contains(retention) else {
            throw ConfigError(
                file: path, key: "history.retention_days", problem: "\(retention) is out of range", fix: "use a number of days from 1 to 36500")
        }
        return HistorySettings(conninfo: conninfo, projectID: project, journal: journal, retentionDays: retention)
    }

    private static func table(_ root: TOMLTable, _ name: String, path: String) throws -> TOMLTable? {
        guard let value = root[name] else { return nil }
        guard let table = value.table else {
            throw ConfigError(
                file: path, key: name, problem: "expected a table, found \(value.type)",
                fix: "write it as a [\(name)] section")
        }
        return table
    }

    private static func parseCluster(_ root: TOMLTable, path: String) throws -> ClusterSettings {
        guard let table = try table(root, "cluster", path: path) else {
            throw ConfigError(
                file: path, key: "cluster", problem: "missing section",
                fix: "add a [cluster] section with at least name = \"main\"")
        }
        let reader = TableReader(table: table, file: path, place: "cluster", knownKeys: clusterKeys)
        try reader.rejectUnknownKeys()
        let name = try reader.requiredString("name", meaning: "this cluster's name inside the stores, e.g. \"main\"")
        guard ClusterSettings.isValidName(name) else {
            throw ConfigError(
                file: path, key: "cluster.name", problem: "\"\(name)\" is not a usable name",
                fix: "use letters, digits, '-', '_' and '.', not starting with '.', at most 64 characters")
        }
        let pgdata = try reader.string("pgdata")
        if let pgdata, !pgdata.hasPrefix("/") {
            throw ConfigError(
                file: path, key: "cluster.pgdata", problem: "\"\(pgdata)\" is not an absolute path",
                fix: "give the full path of the data directory")
        }
        let spool = try reader.string("spool")
        if let spool, !spool.hasPrefix("/") {
            throw ConfigError(
                file: path, key: "cluster.spool", problem: "\"\(spool)\" is not an absolute path",
                fix: "give the full path of the spool directory, e.g. \"/var/lib/walvault/spool\"")
        }
        return ClusterSettings(name: name, pgdata: pgdata, conninfo: try reader.string("conninfo"), spool: spool)
    }

    private static func parseCompression(_ root: TOMLTable, path: String) throws -> CompressionSettings {
        guard let table = try table(root, "compression", path: path) else { return CompressionSettings() }
        let reader = TableReader(table: table, file: path, place: "compression", knownKeys: compressionKeys)
        try reader.rejectUnknownKeys()
        var algorithm = CompressionAlgorithm.default
        if let name = try reader.string("algorithm") {
            guard let known = CompressionAlgorithm(rawValue: name) else {
                throw ConfigError(
                    file: path, key: "compression.algorithm", problem: "unknown algorithm \"\(name)\"",
                    fix: "use one of \(CompressionAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            algorithm = known
        }
        let level = try reader.int("level")
        if let level, algorithm != .none, !algorithm.levelRange.contains(level) {
            throw ConfigError(
                file: path, key: "compression.level", problem: "\(level) is out of range for \(algorithm.rawValue)",
                fix: "use a level from \(algorithm.levelRange.lowerBound) to \(algorithm.levelRange.upperBound)")
        }
        return CompressionSettings(algorithm: algorithm, level: algorithm == .none ? 0 : level)
    }

    private static func parseS3(_ reader: TableReader, path: String) throws -> S3StoreSettings {
        func fail(_ key: String, _ problem: String, _ fix: String) -> ConfigError {
            ConfigError(file: path, key: reader.key(key), problem: problem, fix: fix)
        }
        var endpoint = try reader.requiredString("endpoint", meaning: "the service's URL, e.g. \"https://s3.us-west-004.backblazeb2.com\"")
        let scheme = endpoint.hasPrefix("https://") ? "https://" : endpoint.hasPrefix("http://") ? "http://" : nil
        guard let scheme else {
            throw fail(
                "endpoint", "\"\(endpoint)\" is not an http:// or https:// URL",
                "give the service's URL, e.g. \"https://s3.eu-central-1.amazonaws.com\"")
        }
        while endpoint.hasSuffix("/"), endpoint.utf8.count > scheme.utf8.count { endpoint.removeLast() }
        guard endpoint.utf8.count > scheme.utf8.count else {
            throw fail(
                "endpoint", "\"\(scheme)\" names no server",
                "give the service's URL with its host, e.g. \"https://s3.eu-central-1.amazonaws.com\" or \"http://127.0.0.1:9000\"")
        }
        let host = endpoint.dropFirst(scheme.count)
        // Bytes, not String.contains(String): with TOMLKit importing Foundation, that would resolve
        // to Foundation's range(of:) and link ICU's 36 MB into every archive-push.
        let bytes = Array(host.utf8)
        guard !bytes.isEmpty, !bytes.contains(where: { "/?# ".utf8.contains($0) }) else {
            throw fail(
                "endpoint", "\"\(endpoint)\" has a path or query",
                "give only scheme and host (and port); the bucket goes in bucket, the folder in prefix")
        }
        guard !bytes.contains(UInt8(ascii: "@")) else {
            throw fail(
                "endpoint", "the endpoint contains credentials",
                "remove them from the URL; set access_key_id_env/_file and secret_access_key_env/_file")
        }
        let region = try reader.requiredString(
            "region", meaning: "the bucket's region, e.g. \"us-west-004\" (B2), \"eu-central-1\" (AWS), \"auto\" (GCS)")
        guard region.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }) else {
            throw fail("region", "\"\(region)\" is not a region name", "use the region as the service names it, e.g. \"us-east-1\"")
        }
        let bucket = try reader.requiredString("bucket", meaning: "the bucket's name, e.g. \"acme-backups\"")
        guard S3StoreSettings.isValidBucket(bucket) else {
            throw fail(
                "bucket", "\"\(bucket)\" is not a valid bucket name",
                "use 3 to 63 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit")
        }
        var prefix = try reader.string("prefix") ?? ""
        while prefix.hasPrefix("/") { prefix.removeFirst() }
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let components = prefix.split(separator: "/", omittingEmptySubsequences: false)
        guard prefix.isEmpty || components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.hasPrefix(".") }),
            prefix.utf8.allSatisfy({ $0 >= 32 && $0 != 127 && $0 != UInt8(ascii: "\\") })
        else {
            throw fail(
                "prefix", "\"\(prefix)\" is not a usable key prefix",
                "use folder names separated by '/', none empty or starting with '.', e.g. \"pg/prod\"")
        }
        let pathStyle = try reader.bool("path_style") ?? false
        return S3StoreSettings(
            endpoint: endpoint, region: region, bucket: bucket, prefix: prefix,
            accessKeyID: try secretSource(reader, "access_key_id", path: path, example: "B2_KEY_ID"),
            secretAccessKey: try secretSource(reader, "secret_access_key", path: path, example: "B2_APP_KEY"),
            pathStyle: pathStyle)
    }

    /// `<base>_env` or `<base>_file`, exactly one of them.
    private static func parseTelegram(_ reader: TableReader, path: String) throws -> TelegramStoreSettings {
        func fail(_ key: String, _ problem: String, _ fix: String) -> ConfigError {
            ConfigError(file: path, key: reader.key(key), problem: problem, fix: fix)
        }
        var apiBase = try reader.string("api_base") ?? "https://api.telegram.org"
        // Messages show the value only up to its host: a token pasted into the URL stays out.
        let scheme = apiBase.hasPrefix("https://") ? "https://" : apiBase.hasPrefix("http://") ? "http://" : nil
        guard let scheme else {
            throw fail(
                "api_base", "is not an http:// or https:// URL (not shown: it may hold the bot token)",
                "use \"https://api.telegram.org\" or your Bot API server's URL")
        }
        while apiBase.hasSuffix("/"), apiBase.utf8.count > scheme.utf8.count { apiBase.removeLast() }
        let rest = Array(apiBase.utf8.dropFirst(scheme.utf8.count))
        let host = String(decoding: rest.prefix { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "@") }, as: UTF8.self)
        guard !host.isEmpty else {
            throw fail(
                "api_base", "\"\(scheme)\" names no server",
                "use \"https://api.telegram.org\" or your Bot API server's URL, e.g. \"http://127.0.0.1:8081\"")
        }
        guard !rest.contains(where: { "?# @".utf8.contains($0) }) else {
            throw fail(
                "api_base", "\(scheme)\(host)… has a query, credentials or spaces (the rest is not shown)",
                "give the server's URL only; the token goes in bot_token_env or bot_token_file")
        }
        let path = String(decoding: rest.drop { $0 != UInt8(ascii: "/") }, as: UTF8.self)
        guard !path.lowercased().utf8.contains(subsequence: "/bot") else {
            throw fail(
                "api_base", "\(scheme)\(host)… has /bot in its path (not shown: it may hold the bot token); walvault adds /bot<token>/ itself",
                "give the server's URL only, e.g. \"\(scheme)\(host)\"; the token goes in bot_token_env or bot_token_file")
        }
        let chatID = try reader.requiredString("chat_id", meaning: "the chat the bot posts to, e.g. \"-1001234567890\"")
        guard TelegramStoreSettings.isValidChatID(chatID) else {
            throw fail(
                "chat_id", "\"\(chatID)\" is not a chat id", "use the chat's number (\"-1001234567890\" for a group or channel) or \"@channelname\"")
        }
        let partSize = try reader.int("part_size_mb") ?? 19
        guard TelegramStoreSettings.partSizeRange.contains(partSize) else {
            throw fail("part_size_mb", "\(partSize) is out of range", "use 1 to 20 MiB for the cloud Bot API, up to 2000 with a local Bot API server")
        }
        let localFiles = try reader.bool("local_files") ?? false
        let forumTopics = try reader.bool("forum_topics") ?? false
        let pace = try reader.int("messages_per_minute") ?? 18
        guard TelegramStoreSettings.messagesPerMinuteRange.contains(pace) else {
            throw fail(
                "messages_per_minute", "\(pace) is out of range",
                "use 18 for a group or channel (Telegram allows about 20), up to 60 for a private chat with the bot")
        }
        if host == TelegramStoreSettings.cloudHost {
            guard partSize <= TelegramStoreSettings.cloudLimitMB else {
                throw fail(
                    "part_size_mb", "\(partSize) MiB documents could not be downloaded again: the cloud Bot API stops at 20 MiB",
                    "use 19 (the default), or a self-hosted Bot API server in api_base")
            }
            guard !localFiles else {
                throw fail(
                    "local_files", "the cloud Bot API has no local files",
                    "set local_files = false, or point api_base at a server started with --local")
            }
        }
        return TelegramStoreSettings(
            apiBase: apiBase, botToken: try secretSource(reader, "bot_token", path: path, example: "WALVAULT_TELEGRAM_TOKEN"),
            chatID: chatID, partSizeMB: partSize, localFiles: localFiles, messagesPerMinute: pace, forumTopics: forumTopics)
    }

    private static func secretSource(_ reader: TableReader, _ base: String, path: String, example: String) throws -> SecretSource {
        let variable = try reader.string(base + "_env")
        let file = try reader.string(base + "_file")
        switch (variable, file) {
        case (let variable?, nil):
            guard isEnvironmentName(variable) else {
                throw ConfigError(
                    file: path, key: reader.key(base + "_env"),
                    problem: "the value is not an environment variable name (not shown: it may be the secret itself)",
                    fix: "give the variable's name, e.g. \"\(example)\", never the key itself")
            }
            return .environment(variable)
        case (nil, let file?):
            guard file.hasPrefix("/") else {
                throw ConfigError(
                    file: path, key: reader.key(base + "_file"), problem: "\"\(file)\" is not an absolute path",
                    fix: "give the full path of the file holding it: archive_command runs inside the data directory")
            }
            return .file(file)
        case (nil, nil):
            throw ConfigError(
                file: path, key: reader.key(base + "_env"), problem: "missing",
                fix: "set \(base)_env = \"\(example)\" (an environment variable's name) or \(base)_file = \"/etc/walvault/\(base)\"")
        case (_?, _?):
            throw ConfigError(
                file: path, key: reader.key(base + "_env"), problem: "both \(base)_env and \(base)_file are set",
                fix: "keep one of them")
        }
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(48...57).contains(first) else { return false }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
    }

    private static func parseStores(_ root: TOMLTable, path: String) throws -> [StoreSettings] {
        guard let value = root["stores"] else {
            throw ConfigError(
                file: path, key: "stores", problem: "no store configured",
                fix: "add at least one [[stores]] entry with name, type = \"local\" and path")
        }
        guard let array = value.array else {
            throw ConfigError(
                file: path, key: "stores", problem: "expected an array of tables, found \(value.type)",
                fix: "write each store as a [[stores]] section")
        }
        var stores: [StoreSettings] = []
        for index in 0..<array.count {
            let place = "stores #\(index + 1)"
            guard let table = array[index].table else {
                throw ConfigError(
                    file: path, key: place, problem: "expected a table",
                    fix: "write each store as a [[stores]] section")
            }
            let common = TableReader(table: table, file: path, place: place, knownKeys: StoreSettings.commonKeys)
            let name = try common.requiredString("name", meaning: "a short name for this store, e.g. \"local\"")
            guard ClusterSettings.isValidName(name) else {
                throw ConfigError(
                    file: path, key: "\(place).name", problem: "\"\(name)\" is not a usable name",
                    fix: "use letters, digits, '-', '_' and '.'")
            }
            if stores.contains(where: { $0.name == name }) {
                throw ConfigError(
                    file: path, key: "\(place).name", problem: "store name \"\(name)\" is used twice",
                    fix: "give every store its own name")
            }
            let type = try common.requiredString("type", meaning: "the store type, e.g. \"local\"")
            let reader = TableReader(
                table: table, file: path, place: place, knownKeys: StoreSettings.commonKeys + (StoreSettings.keysByType[type] ?? []))
            if StoreSettings.knownTypes.contains(type) { try reader.rejectUnknownKeys(what: "a \(type) store") }
            var mode = StoreSettings.Mode.sync
            if StoreSettings.knownTypes.contains(type), let value = try reader.string("mode") {
                guard let known = StoreSettings.Mode(rawValue: value) else {
                    throw ConfigError(
                        file: path, key: "\(place).mode", problem: "unknown mode \"\(value)\"",
                        fix: "use \"sync\" (archive-push waits for this store) or \"async\" (shipped in the background)")
                }
                mode = known
            }
            var retentionDays: Int?
            if StoreSettings.knownTypes.contains(type), let days = try reader.int("retention_days") {
                guard (1...36_500).contains(days) else {
                    throw ConfigError(
                        file: path, key: "\(place).retention_days", problem: "\(days) is out of range", fix: "use a number of days from 1 to 36500")
                }
                retentionDays = days
            }
            var price: Double?
            if StoreSettings.knownTypes.contains(type), let value = try reader.number("price_per_gb_month") {
                guard value.isFinite, value >= 0, value <= 1000 else {
                    throw ConfigError(
                        file: path, key: "\(place).price_per_gb_month", problem: "\(value) is out of range",
                        fix: "give the provider's price per GB and month, from 0 to 1000 (e.g. 0.006 for Backblaze B2)")
                }
                price = value
            }
            switch type {
            case "local":
                let storePath = try reader.requiredString("path", meaning: "the directory that holds the store, e.g. \"/var/backups/walvault\"")
                guard storePath.hasPrefix("/") else {
                    throw ConfigError(
                        file: path, key: "\(place).path", problem: "\"\(storePath)\" is not an absolute path",
                        fix: "give the full path: archive_command runs inside the data directory")
                }
                stores.append(
                    StoreSettings(name: name, kind: .local(path: storePath), mode: mode, retentionDays: retentionDays, pricePerGBMonth: price))
            case "s3":
                stores.append(
                    StoreSettings(
                        name: name, kind: .s3(try parseS3(reader, path: path)), mode: mode, retentionDays: retentionDays, pricePerGBMonth: price))
            case "telegram":
                let explicitMode = try reader.string("mode")
                guard mode == .async || explicitMode == nil else {
                    throw ConfigError(
                        file: path, key: "\(place).mode", problem: "a Telegram store cannot be sync",
                        fix: "set mode = \"async\": Telegram takes about 20 messages a minute, so archive-push must not wait for it")
                }
                mode = .async
                stores.append(
                    StoreSettings(
                        name: name, kind: .telegram(try parseTelegram(reader, path: path)), mode: mode, retentionDays: retentionDays,
                        pricePerGBMonth: price))
            default:
                throw ConfigError(
                    file: path, key: "\(place).type", problem: "unknown store type \"\(type)\"",
                    fix: "use one of \(StoreSettings.knownTypes.joined(separator: ", "))")
            }
        }
        if stores.isEmpty {
            throw ConfigError(
                file: path, key: "stores", problem: "no store configured",
                fix: "add at least one [[stores]] entry")
        }
        return stores
    }
}
