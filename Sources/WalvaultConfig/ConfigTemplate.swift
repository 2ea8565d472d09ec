/// The config `walvault init` writes: the values it chose, and every other key of the schema
/// commented out with its default and why, so an owner reads in the file itself what can be
/// tuned. The same answers always render the same bytes, which is how a second init knows that
/// it has nothing to change.
public struct ConfigTemplate: Sendable, Equatable {
    public struct Store: Sendable, Equatable {
        public let name: String
        public let spec: StoreSpec
        public let mode: StoreSettings.Mode
        /// `access_key_id_file` and the like: where each credential was put.
        public let secretFiles: [String: String]

        public init(name: String, spec: StoreSpec, mode: StoreSettings.Mode, secretFiles: [String: String] = [:]) {
            self.name = name
            self.spec = spec
            self.mode = mode
            self.secretFiles = secretFiles
        }
    }

    public var clusterName: String
    public var pgdata: String
    public var conninfo: String
    public var spool: String
    public var stores: [Store]
    public var passphraseFile: String?
    public var retentionDays: Int

    public init(
        clusterName: String, pgdata: String, conninfo: String, spool: String, stores: [Store], passphraseFile: String?, retentionDays: Int = 30
    ) {
        self.clusterName = clusterName
        self.pgdata = pgdata
        self.conninfo = conninfo
        self.spool = spool
        self.stores = stores
        self.passphraseFile = passphraseFile
        self.retentionDays = retentionDays
    }

    public func render() -> String {
        var lines = [
            "# walvault's config, written by `walvault init`. Every key is in docs/admin-guide.md;",
            "# `walvault check` proves it works. A commented key shows its default.", ""
        ]
        func section(_ schema: ConfigSchema.Section, values: [String: String], commentedOut: Bool = false) {
            lines.append("# \(schema.summary)")
            lines.append(commentedOut ? "# \(schema.heading)" : schema.heading)
            for key in schema.keys {
                if let value = values[key.name] {
                    lines.append("\(commentedOut ? "# " : "")\(key.name) = \(value)")
                    lines.append("#   \(key.meaning)")
                } else {
                    lines.append("# \(key.name) = \(key.defaultValue.isEmpty ? "(not set)" : key.defaultValue)")
                    lines.append("#   \(key.meaning)")
                }
            }
            lines.append("")
        }
        section(
            ConfigSchema.section("cluster"),
            values: ["name": Self.quoted(clusterName), "pgdata": Self.quoted(pgdata), "conninfo": Self.quoted(conninfo), "spool": Self.quoted(spool)])
        section(ConfigSchema.section("compression"), values: [:])
        for store in stores {
            var values = ["name": Self.quoted(store.name), "type": Self.quoted(store.spec.type), "mode": Self.quoted(store.mode.rawValue)]
            switch store.spec {
            case .local(let path):
                values["path"] = Self.quoted(path)
            case .s3(let bucket, let prefix, let endpoint, let region, let pathStyle):
                values["bucket"] = Self.quoted(bucket)
                values["prefix"] = Self.quoted(prefix)
                values["endpoint"] = Self.quoted(endpoint)
                values["region"] = Self.quoted(region)
                if pathStyle { values["path_style"] = "true" }
            case .telegram(let chatID, let apiBase):
                values["chat_id"] = Self.quoted(chatID)
                if let apiBase { values["api_base"] = Self.quoted(apiBase) }
            }
            for (key, file) in store.secretFiles { values[key] = Self.quoted(file) }
            let common = ConfigSchema.section("stores")
            let typed = ConfigSchema.section("stores", storeType: store.spec.type)
            lines.append("# \(typed.summary)")
            lines.append("[[stores]]")
            for key in common.keys + typed.keys {
                if let value = values[key.name] {
                    lines.append("\(key.name) = \(value)")
                } else if !key.defaultValue.isEmpty {
                    lines.append("# \(key.name) = \(key.defaultValue)")
                } else {
                    continue
                }
                lines.append("#   \(key.meaning)")
            }
            lines.append("")
        }
        if let passphraseFile {
            section(ConfigSchema.section("encryption"), values: ["passphrase_file": Self.quoted(passphraseFile)])
        } else {
            section(ConfigSchema.section("encryption"), values: [:], commentedOut: true)
        }
        section(ConfigSchema.section("retention"), values: ["days": String(retentionDays)])
        for name in ["backup", "check", "performance", "shipping"] { section(ConfigSchema.section(name), values: [:]) }
        for name in ["alerts", "history", "dashboard", "storage"] { section(ConfigSchema.section(name), values: [:], commentedOut: true) }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A TOML basic string.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
