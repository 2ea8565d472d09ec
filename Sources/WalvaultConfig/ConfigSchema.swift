/// Every key the config accepts, with its default and why it exists: the loader takes its
/// lists of known keys from here, `walvault init` writes its comments from here, and
/// docs/admin-guide.md is rendered from here, so none of the three can name a key the
/// others do not know.
public enum ConfigSchema {
    public struct Key: Sendable, Equatable {
        public let name: String
        /// What a config without the key gets, as it would be written in TOML; "" when there is no default.
        public let defaultValue: String
        /// One line: why a person would set it.
        public let meaning: String

        init(_ name: String, _ defaultValue: String, _ meaning: String) {
            self.name = name
            self.defaultValue = defaultValue
            self.meaning = meaning
        }
    }

    public struct Section: Sendable, Equatable {
        /// The table's name in TOML; store types are "stores" with a `storeType`.
        public let name: String
        /// `type = "local"` and the like, for the keys only that type of store accepts.
        public let storeType: String?
        public let summary: String
        public let keys: [Key]

        /// How the section is written: `[cluster]`, `[[stores]]`, `[[stores]] type = "s3"`.
        public var heading: String {
            if let storeType { return "[[stores]] type = \"\(storeType)\"" }
            return name == "stores" || name == "storage" ? "[[\(name)]]" : "[\(name)]"
        }

        public var keyNames: [String] { keys.map(\.name) }
    }

    public static func section(_ name: String, storeType: String? = nil) -> Section {
        sections.first { $0.name == name && $0.storeType == storeType }!
    }

    public static let sections: [Section] = [
        Section(
            name: "cluster", storeType: nil, summary: "Which PostgreSQL cluster this config protects. Required.",
            keys: [
                Key(
                    "name", "",
                    "The cluster's folder inside every store; several clusters may share a store. Letters, digits, '-', '_', '.'; required."),
                Key("pgdata", "", "The data directory, for backup, check and drill."),
                Key(
                    "conninfo", "", "How backup, check and drill connect, as a libpq string (\"host=/var/run/postgresql port=5432 dbname=postgres\")."
                ),
                Key("spool", "", "A local directory for prefetched WAL and the queue of async stores; required when a store is async.")
            ]),
        Section(
            name: "compression", storeType: nil, summary: "How WAL and backups are compressed before they are stored.",
            keys: [
                Key("algorithm", "\"zstd\"", "zstd, lz4, gzip or none; zstd is the best ratio for its speed."),
                Key("level", "the algorithm's default (3 for zstd)", "Higher is smaller and slower.")
            ]),
        Section(
            name: "stores", storeType: nil,
            summary: "Where copies go. One entry per store; the first must be sync. Keys every store takes:",
            keys: [
                Key("name", "", "How messages, info and the dashboard call the store; required, unique."),
                Key("type", "", "local, s3 or telegram; required."),
                Key("retention_days", "[retention] days", "This store's own window, when it keeps more or less than the others."),
                Key("price_per_gb_month", "", "What the provider charges per GB a month, for the dashboard's cost column.")
            ]),
        Section(
            name: "stores", storeType: "local", summary: "A directory on this machine or a mounted disk.",
            keys: [
                Key("mode", "\"sync\"", "sync: archive-push waits for it; async: shipped later from the spool's queue."),
                Key("path", "", "The directory; required. Not inside the data directory, and best on another disk.")
            ]),
        Section(
            name: "stores", storeType: "s3", summary: "AWS S3, Backblaze B2, Google Cloud Storage or any S3-compatible service.",
            keys: [
                Key("mode", "\"sync\"", "async keeps a slow or unreachable cloud from ever stalling PostgreSQL."),
                Key("endpoint", "", "Scheme and host, such as \"https://s3.eu-central-1.amazonaws.com\"; required."),
                Key("region", "", "The bucket's region (\"auto\" for GCS); required: it is part of every signature."),
                Key("bucket", "", "The bucket's name; required."),
                Key("prefix", "\"\"", "A folder inside the bucket, so one bucket can hold several things."),
                Key("access_key_id_file", "", "A 0600 file holding the access key id (or access_key_id_env)."),
                Key("access_key_id_env", "", "An environment variable holding the access key id."),
                Key("secret_access_key_file", "", "A 0600 file holding the secret key (or secret_access_key_env)."),
                Key("secret_access_key_env", "", "An environment variable holding the secret key."),
                Key("path_style", "false", "true for services that want https://host/bucket/key (MinIO, moto).")
            ]),
        Section(
            name: "stores", storeType: "telegram", summary: "A Telegram chat that a bot posts documents to: off-site at no cost.",
            keys: [
                Key("mode", "\"sync\"", "Use async: Telegram paces a bot at about 20 messages a minute."),
                Key("chat_id", "", "The chat, \"-1001234567890\" or \"@channel\"; required."),
                Key("bot_token_file", "", "A 0600 file holding the bot's token (or bot_token_env)."),
                Key("bot_token_env", "", "An environment variable holding the bot's token."),
                Key("api_base", "\"https://api.telegram.org\"", "A self-hosted Bot API server instead of Telegram's."),
                Key("part_size_mb", "19", "The size of each document; the cloud Bot API downloads 20 MiB at most."),
                Key("local_files", "false", "true when api_base is a Bot API server started with --local on this machine."),
                Key("messages_per_minute", "18", "walvault's own pace, below Telegram's limit so it never waits on a 429."),
                Key(
                    "forum_topics", "false",
                    "One forum topic per base backup, deleted whole by expire: the only way a bot deletes messages older than 48 hours. Needs a forum supergroup and a bot with Manage topics and Delete messages."
                )
            ]),
        Section(
            name: "storage", storeType: nil,
            summary: "A tree of the application's files that walvault files backup keeps beside the database. One entry per tree:",
            keys: [
                Key("name", "", "How files backup, list and restore call the tree; required, unique."),
                Key("path", "", "The tree's root, an absolute path; required."),
                Key("exclude", "[]", "gitignore-style patterns relative to path that snapshots leave out, such as [\"*.tmp\", \"cache/\"].")
            ]),
        Section(
            name: "encryption", storeType: nil,
            summary: "Client-side encryption of everything stored; without the passphrase nothing restores.",
            keys: [
                Key("passphrase_file", "", "A 0600 file holding the passphrase (or passphrase_env); keep a copy elsewhere."),
                Key("passphrase_env", "", "An environment variable holding the passphrase."),
                Key("key_cache", "\"/dev/shm\"", "Where the derived key is cached between archive-push runs (memory only), or \"off\".")
            ]),
        Section(
            name: "retention", storeType: nil, summary: "How long backups and WAL are kept; without it nothing is deleted.",
            keys: [
                Key("days", "", "Any moment of the last this many days stays restorable; required in [retention]."),
                Key("notify_before_days", "", "Alert this many days before a backup expires, so an owner can keep it."),
                Key("logs_days", "", "How long an export of deleted log rows is kept.")
            ]),
        Section(
            name: "shipping", storeType: nil, summary: "The background shipper of async stores.",
            keys: [
                Key("parallel", "4", "Objects shipped at once."),
                Key(
                    "max_queue_mb", "4096",
                    "Past this much queued for one store, archive-push stops queueing for it and ship catches up from listings.")
            ]),
        Section(
            name: "performance", storeType: nil, summary: "Threads and read-ahead; the defaults follow the machine's cores.",
            keys: [
                Key("prefetch", "8", "Segments fetched ahead during recovery; 0 turns it off."),
                Key("push_parallel", "the number of cores", "Segments archive-push stores at once when a backlog is ready."),
                Key("restore_parallel", "the number of cores", "Backup parts restore fetches and writes at once."),
                Key("backup_parallel", "the number of cores", "Files backup reads and compresses at once.")
            ]),
        Section(
            name: "backup", storeType: nil, summary: "When `walvault backup` without --type takes a full instead of an incremental.",
            keys: [
                Key("full_every_days", "7", "A new full when the newest full is older: a restore never reads a chain older than this."),
                Key("max_chain", "14", "Never more backups than this from a full to the newest incremental, the full included.")
            ]),
        Section(
            name: "check", storeType: nil, summary: "The thresholds of `walvault check`.",
            keys: [
                Key("backup_max_age_hours", "28", "The newest backup must be younger: a nightly backup and a margin."),
                Key("shipping_lag_minutes", "60", "The oldest object queued for an async store must be younger."),
                Key("min_free_percent", "15", "pg_wal, local stores and the spool must keep this much free."),
                Key("round_trip_seconds", "60", "A WAL switch must reach every sync store within this.")
            ]),
        Section(
            name: "alerts", storeType: nil, summary: "Who hears about a failure, and when.",
            keys: [
                Key("telegram_chat_id", "", "A chat the Telegram store's bot writes alerts to."),
                Key("webhook_url_env", "", "An environment variable holding a webhook URL (Slack, ntfy, …)."),
                Key("email_to", "", "Addresses for alert mail, comma-separated."),
                Key("email_from", "", "The sender of alert mail."),
                Key("smtp_url", "", "smtps://host:465 or smtp://host:587, without credentials; required with email_to."),
                Key("smtp_user_env", "", "An environment variable holding the SMTP login."),
                Key("smtp_password_env", "", "An environment variable holding the SMTP password."),
                Key("backup_max_age_hours", "28", "Alert when the newest backup is older than this."),
                Key("after_failures", "3", "Alert after this many archive-push failures in a row: one is often a blip.")
            ]),
        Section(
            name: "history", storeType: nil, summary: "The control_plane.backups history table, in a database of your choice.",
            keys: [
                Key("conninfo", "", "The control-plane database, as a libpq string; required in [history]."),
                Key("project_id", "", "This project's name in the history table; required in [history]."),
                Key("journal", "\"/var/lib/walvault/journal\"", "Where rows wait while the control-plane database is unreachable."),
                Key("retention_days", "30", "How long history rows are kept.")
            ]),
        Section(
            name: "dashboard", storeType: nil, summary: "The owner's web dashboard and HTTP API (walvault-server).",
            keys: [
                Key("listen", "\"127.0.0.1:8085\"", "Address and port; keep it on loopback behind a TLS proxy, or set the TLS files."),
                Key("owner_password_file", "\"/etc/walvault/owner.hash\"", "The owner's password hash (walvault owner set-password)."),
                Key("totp_secret_file", "\"/etc/walvault/owner.totp\"", "The owner's second factor (walvault owner enroll-2fa)."),
                Key("jwt_public_key_file", "", "A public key whose tokens the API accepts, for automation."),
                Key("metrics_token_file", "", "A file holding the bearer token /metrics accepts."),
                Key("tls_certificate_file", "", "A PEM certificate chain, to serve HTTPS directly."),
                Key("tls_key_file", "", "The certificate's PEM private key."),
                Key("sample_minutes", "15", "Minutes between the database size samples of the growth chart."),
                Key("trusted_proxy", "false", "true behind a reverse proxy, so X-Forwarded-For names the client.")
            ])
    ]
}

extension ConfigSchema {
    /// The heading docs/admin-guide.md's generated reference starts at; everything after it is
    /// `markdownReference()`, which a test compares with the page.
    public static let referenceHeading = "## Every config key"

    /// One table per section: key, default, why.
    public static func markdownReference() -> String {
        var lines = [
            referenceHeading, "",
            "Generated from the config schema (`ConfigSchema`), which the loader also takes its keys from, so this list cannot drift:",
            "a key that is not here is refused as unknown, with the keys its section accepts. An empty default means the key is",
            "unset unless given.", ""
        ]
        for section in sections {
            lines.append("### `\(section.heading)`")
            lines.append("")
            lines.append(section.summary)
            lines.append("")
            lines.append("| key | default | why |")
            lines.append("| --- | --- | --- |")
            for key in section.keys {
                let literal = key.defaultValue.first.map { $0 == "\"" || $0.isNumber } == true || ["true", "false"].contains(key.defaultValue)
                let defaultText = literal ? "`\(key.defaultValue)`" : key.defaultValue
                lines.append("| `\(key.name)` | \(defaultText) | \(key.meaning.split(separator: "|").joined(separator: "\\|")) |")
            }
            lines.append("")
        }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }
}
