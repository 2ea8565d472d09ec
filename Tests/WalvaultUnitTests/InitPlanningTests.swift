import Foundation
import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultPolicy
import WalvaultSchedules
import WalvaultSystem

/// The pure halves of `walvault init`: what it alters, how a store is named on one line, the
/// config it writes, where a running server listens, and the schedules it installs.
@Suite struct InitPlanningTests {
    let command = "/usr/bin/walvault --config /etc/walvault/walvault.toml archive-push %p"
    let restore = "/usr/bin/walvault --config /etc/walvault/walvault.toml archive-get %f \"%p\""

    func plan(_ current: [String: String], force: Bool = false) -> ArchiveSettingsPlan.Verdict {
        ArchiveSettingsPlan.plan(
            current: current, archiveCommand: command, restoreCommand: restore, force: force,
            isWalvault: { $0.contains("--config /etc/walvault/walvault.toml") })
    }

    @Test func aFreshClusterGetsEverySettingAndARestart() {
        let fresh = ["wal_level": "replica", "archive_mode": "off", "archive_command": "", "restore_command": "", "archive_timeout": "0"]
        guard case .changes(let changes) = plan(fresh) else {
            Issue.record("refused")
            return
        }
        #expect(changes.map(\.name) == ["archive_mode", "archive_command", "restore_command", "archive_timeout"])
        #expect(changes.first { $0.name == "archive_timeout" }?.to == "60")
        #expect(ArchiveSettingsPlan.needingRestart(changes) == ["archive_mode"])
    }

    @Test func minimalWALIsRaisedAndNeedsARestartToo() {
        guard case .changes(let changes) = plan(["wal_level": "minimal", "archive_mode": "off"]) else {
            Issue.record("refused")
            return
        }
        #expect(ArchiveSettingsPlan.needingRestart(changes) == ["wal_level", "archive_mode"])
    }

    @Test func aProtectedClusterChangesNothing() {
        let done = [
            "wal_level": "logical", "archive_mode": "always", "archive_command": command, "restore_command": restore, "archive_timeout": "120"
        ]
        #expect(plan(done) == .changes([]))
    }

    @Test func archiveTimeoutIsKeptUnlessOffOrLongerThanFiveMinutes() {
        let base = ["wal_level": "replica", "archive_mode": "on", "archive_command": command, "restore_command": restore]
        for (value, changed) in [("0", true), ("-1", true), ("30", false), ("300", false), ("301", true), ("3600", true)] {
            let verdict = plan(base.merging(["archive_timeout": value]) { $1 })
            #expect((verdict != .changes([])) == changed, "archive_timeout \(value)")
        }
    }

    @Test func anotherArchiverIsRefusedUnlessForced() {
        let other = ["wal_level": "replica", "archive_mode": "on", "archive_command": "pgbackrest --stanza=main archive-push %p"]
        #expect(plan(other) == .refused(setting: "archive_command", current: "pgbackrest --stanza=main archive-push %p"))
        guard case .changes(let changes) = plan(other, force: true) else {
            Issue.record("refused with --force")
            return
        }
        #expect(changes.first { $0.name == "archive_command" }?.to == command)
        let otherRestore = ["archive_mode": "on", "archive_command": command, "restore_command": "cp /mnt/archive/%f %p"]
        #expect(plan(otherRestore) == .refused(setting: "restore_command", current: "cp /mnt/archive/%f %p"))
        // walvault with this config from another path is walvault: replaced without --force.
        guard case .changes = plan(["archive_command": "/usr/local/bin/walvault --config /etc/walvault/walvault.toml archive-push %p"]) else {
            Issue.record("an older path of walvault was refused")
            return
        }
        #expect(plan(["archive_library": "basic_archive"]) == .archiveLibrary("basic_archive"))
    }

    @Test func storeSpecsParse() throws {
        #expect(try StoreSpec.parse("local:/srv/walvault/") == .local(path: "/srv/walvault"))
        #expect(
            try StoreSpec.parse("s3://my-bucket/db/main?region=eu-central-1")
                == .s3(
                    bucket: "my-bucket", prefix: "db/main", endpoint: "https://s3.eu-central-1.amazonaws.com", region: "eu-central-1",
                    pathStyle: false))
        #expect(
            try StoreSpec.parse("s3://b2-bucket?endpoint=https%3A%2F%2Fs3.us-west-004.backblazeb2.com&region=us-west-004&path_style=true")
                == .s3(bucket: "b2-bucket", prefix: "", endpoint: "https://s3.us-west-004.backblazeb2.com", region: "us-west-004", pathStyle: true))
        #expect(try StoreSpec.parse("telegram:-1001234567890") == .telegram(chatID: "-1001234567890", apiBase: nil))
        #expect(
            try StoreSpec.parse("telegram:@mychannel?api_base=http://127.0.0.1:8081")
                == .telegram(chatID: "@mychannel", apiBase: "http://127.0.0.1:8081"))
    }

    @Test(arguments: [
        ("local:relative/path", "is not an absolute path"), ("s3://My_Bucket?region=x", "is not a bucket name"),
        ("s3://bucket-name/p", "no region"), ("s3://bucket-name?region=r&secret=x", "unknown parameter \"secret\""),
        ("s3://bucket-name?region=r&endpoint=ftp://x", "is not an http:// or https:// URL"),
        ("s3://bucket-name?region=r&endpoint=%zz", "broken %-escape"), ("s3://bucket-name?region=r&path_style=yes", "path_style=yes"),
        ("telegram:chat", "is not a chat id"), ("/srv/walvault", "not a store")
    ])
    func badStoreSpecsSayWhatIsWrong(spec: String, problem: String) {
        #expect {
            _ = try StoreSpec.parse(spec)
        } throws: { error in
            "\(error)".hasPrefix("--store \(spec): ") && "\(error)".contains(problem)
        }
    }

    @Test func theWrittenConfigLoadsAndSaysEveryKey() throws {
        let template = ConfigTemplate(
            clusterName: "main", pgdata: "/var/lib/postgresql/15/main", conninfo: "host=/var/run/postgresql port=5432 user=postgres dbname=postgres",
            spool: "/var/lib/walvault/spool",
            stores: [
                .init(name: "local", spec: .local(path: "/srv/walvault \"quoted\""), mode: .sync),
                .init(
                    name: "s3", spec: .s3(bucket: "bucket", prefix: "db", endpoint: "https://s3.example.com", region: "auto", pathStyle: true),
                    mode: .async,
                    secretFiles: [
                        "access_key_id_file": "/etc/walvault/s3-access-key-id", "secret_access_key_file": "/etc/walvault/s3-secret-access-key"
                    ]),
                .init(
                    name: "telegram", spec: .telegram(chatID: "-100123", apiBase: nil), mode: .async,
                    secretFiles: ["bot_token_file": "/etc/walvault/telegram-bot-token"])
            ], passphraseFile: "/etc/walvault/passphrase")
        let text = template.render()
        #expect(text == template.render(), "the same answers render the same bytes")
        let config = try ConfigLoader.parse(text, path: "/etc/walvault/walvault.toml")
        #expect(config.cluster.name == "main")
        #expect(config.cluster.spool == "/var/lib/walvault/spool")
        #expect(config.stores.map(\.name) == ["local", "s3", "telegram"])
        #expect(config.stores.map(\.mode) == [.sync, .async, .async])
        #expect(config.stores[0].kind == .local(path: "/srv/walvault \"quoted\""))
        #expect(config.retention?.days == 30)
        #expect(config.encryption != nil)
        for section in ConfigSchema.sections where section.storeType == nil && section.name != "stores" {
            #expect(text.contains("[\(section.name)]"), "section \(section.name)")
            for key in section.keys { #expect(text.contains("\(key.name) ="), "\(section.name).\(key.name)") }
        }
        let plain = ConfigTemplate(
            clusterName: "main", pgdata: "/d", conninfo: "port=5432", spool: "/s",
            stores: [.init(name: "local", spec: .local(path: "/b"), mode: .sync)],
            passphraseFile: nil)
        #expect(try ConfigLoader.parse(plain.render(), path: "/c").encryption == nil)
    }

    @Test func theSchemaIsWhatTheLoaderAccepts() throws {
        // A key the schema names is accepted; one it does not is refused as unknown.
        for section in ConfigSchema.sections where section.storeType == nil && section.name != "stores" {
            let text = "[cluster]\nname = \"m\"\n[[stores]]\nname = \"s\"\ntype = \"local\"\npath = \"/x\"\n[\(section.name)]\nnot_a_key = 1\n"
            #expect(throws: ConfigError.self, "[\(section.name)]") { try ConfigLoader.parse(text, path: "/c") }
        }
        #expect(StoreSettings.keysByType.keys.sorted() == ["local", "s3", "telegram"])
        #expect(StoreSettings.keysByType["local"] == ["mode", "path"])
    }

    @Test func postmasterPIDSaysWhereTheServerListens() {
        let text = "4242\n/var/lib/postgresql/15/main\n1733300000\n5432\n/var/run/postgresql,/tmp\n*\n  1234567     98765\nready   \n"
        #expect(
            PostmasterPID.parse(text)
                == PostmasterPID(
                    pid: 4242, dataDirectory: "/var/lib/postgresql/15/main", port: 5432, socketDirectory: "/var/run/postgresql", status: "ready"))
        #expect(PostmasterPID.parse("4242\n/d\n1\n5433\n\n")?.socketDirectory == nil)
        #expect(PostmasterPID.parse("4242\n/d\n1\n5433\n/tmp\n*\n1 2\nstandby\n")?.status == "standby")
        #expect(PostmasterPID.parse("") == nil)
        #expect(PostmasterPID.parse("x\n/d\n1\n5432\n") == nil)
        #expect(PostmasterPID.parse("42\nrelative\n1\n5432\n") == nil)
        #expect(PostmasterPID.parse("42\n/d\n1\n70000\n") == nil)
    }

    @Test func schedulesNameThisMachinesBinaryConfigAndUser() {
        let cron = Schedules.cron.first { $0.name == "walvault-backup" }!
        let rendered = Schedules.render(cron.text, executable: "/opt/wv/walvault", config: "/srv/wv.toml", user: "pg")
        #expect(rendered.contains("0 3 * * * pg /opt/wv/walvault --config /srv/wv.toml backup"))
        #expect(!rendered.contains("/usr/bin/walvault") && !rendered.contains("/etc/walvault/walvault.toml"))
        for unit in Schedules.systemdUnits where unit.name.hasSuffix(".service") {
            let text = Schedules.render(unit.text, executable: "/opt/wv/walvault", config: "/srv/wv.toml", user: "pg")
            #expect(text.contains("User=pg\n") && text.contains("Group=pg\n"), "\(unit.name)")
            #expect(text.contains("ExecStart=/opt/wv/walvault --config /srv/wv.toml "), "\(unit.name)")
        }
        for timer in Schedules.timers {
            #expect(Schedules.systemdUnits.contains { $0.name == timer })
            #expect(Schedules.systemdUnits.contains { $0.name == timer.replacing(".timer", with: ".service") })
        }
    }
}

/// docs/admin-guide.md ends with every config key, rendered from the schema the loader uses.
@Suite struct AdminGuideTests {
    @Test func theAdminGuideListsEveryKeyOfTheSchema() throws {
        let path = Paths.join(ErrorRegistryTests.root, "docs/admin-guide.md")
        let onDisk = String(decoding: try FileSystem.readSmallFile(path), as: UTF8.self)
        let heading = try #require(onDisk.range(of: "\n" + ConfigSchema.referenceHeading + "\n"), "the page has \(ConfigSchema.referenceHeading)")
        let regenerated = String(onDisk[...heading.lowerBound]) + ConfigSchema.markdownReference()
        if Environment.value("WALVAULT_REGENERATE_DOCS") == "1" {
            try FileSystem.writeAtomically(path, contents: Array(regenerated.utf8), mode: 0o644)
        }
        #expect(onDisk == regenerated, "docs/admin-guide.md is stale: WALVAULT_REGENERATE_DOCS=1 swift test --filter AdminGuideTests")
        for section in ConfigSchema.sections {
            for key in section.keys { #expect(onDisk.contains("| `\(key.name)` |"), "\(section.heading) \(key.name)") }
        }
    }
}
