import Testing
import WalvaultConfig
import WalvaultPipeline
import WalvaultPolicy
import WalvaultSystem
import WalvaultTesting

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ConfigTests {
    let full = """
        [cluster]
        name = "main"
        pgdata = "/var/lib/postgresql/15/main"
        conninfo = "host=/var/run/postgresql port=5432 user=postgres dbname=postgres"

        [compression]
        algorithm = "lz4"
        level = 5

        [[stores]]
        name = "local"
        type = "local"
        path = "/var/backups/walvault"

        [[stores]]
        name = "second"
        type = "local"
        path = "/mnt/other"
        """

    func parseError(_ text: String) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(text, path: "/etc/walvault/walvault.toml")
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    @Test func readsEverySetting() throws {
        let config = try ConfigLoader.parse(full, path: "/x.toml")
        #expect(
            config.cluster
                == ClusterSettings(
                    name: "main", pgdata: "/var/lib/postgresql/15/main",
                    conninfo: "host=/var/run/postgresql port=5432 user=postgres dbname=postgres"))
        #expect(config.compression == CompressionSettings(algorithm: .lz4, level: 5))
        #expect(config.stores.map(\.name) == ["local", "second"])
        #expect(config.stores[0].kind == .local(path: "/var/backups/walvault"))
    }

    @Test func encryptionSettings() throws {
        let stores = "[[stores]]\nname = \"l\"\ntype = \"local\"\npath = \"/s\"\n"
        let plain = try ConfigLoader.parse("[cluster]\nname = \"a\"\n" + stores, path: "/x")
        #expect(plain.encryption == nil)
        let file = try ConfigLoader.parse(
            "[cluster]\nname = \"a\"\n[encryption]\npassphrase_file = \"/etc/walvault/passphrase\"\n" + stores, path: "/x")
        #expect(file.encryption == EncryptionSettings(passphrase: .file("/etc/walvault/passphrase"), keyCache: .under("/dev/shm")))
        let env = try ConfigLoader.parse(
            "[cluster]\nname = \"a\"\n[encryption]\npassphrase_env = \"WALVAULT_PASSPHRASE\"\nkey_cache = \"off\"\n" + stores, path: "/x")
        #expect(env.encryption == EncryptionSettings(passphrase: .environment("WALVAULT_PASSPHRASE"), keyCache: .off))
    }

    @Test func compressionDefaultsToZstdLevel3() throws {
        let config = try ConfigLoader.parse("[cluster]\nname = \"a\"\n[[stores]]\nname = \"l\"\ntype = \"local\"\npath = \"/s\"\n", path: "/x")
        #expect(config.compression == CompressionSettings(algorithm: .zstd, level: 3))
    }

    @Test func badTOMLNamesTheLine() throws {
        let error = try #require(parseError("[cluster]\nname = \"main\"\nlevel = = 3\n"))
        #expect(error.file.hasPrefix("/etc/walvault/walvault.toml:3:"))
        #expect(error.description.contains("invalid TOML"))
    }

    @Test(arguments: [
        ("[cluster]\nname = \"m\"\nnmae = \"x\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster.nmae", "unknown key"),
        ("[cluster]\nname = \"m\"\n[encryption]\nx = 1\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "encryption.x", "unknown key"),
        ("[cluster]\nname = \"m\"\n[vault]\nx = 1\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "vault", "unknown key"),
        ("[cluster]\nname = \"m\"\n[encryption]\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "encryption", "no passphrase source"),
        (
            "[cluster]\nname = \"m\"\n[encryption]\npassphrase_file = \"/p\"\npassphrase_env = \"P\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"",
            "encryption", "both passphrase_file and passphrase_env"
        ),
        (
            "[cluster]\nname = \"m\"\n[encryption]\npassphrase_file = \"passphrase\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"",
            "encryption.passphrase_file", "not an absolute path"
        ),
        (
            "[cluster]\nname = \"m\"\n[encryption]\npassphrase_env = \"my secret\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"",
            "encryption.passphrase_env", "not an environment variable name"
        ),
        (
            "[cluster]\nname = \"m\"\n[encryption]\npassphrase_env = \"P\"\nkey_cache = \"shm\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"",
            "encryption.key_cache", "neither an absolute path nor"
        ),
        (
            "[cluster]\nname = \"m\"\n[encryption]\npassphrase_env = \"P\"\nkey_cache = false\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"",
            "encryption.key_cache", "expected a string"
        ),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"\nbucket=\"b\"", "stores #1.bucket", "unknown key"),
        ("[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster", "missing section"),
        ("[cluster]\nname = \"m\"", "stores", "no store configured"),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"", "stores #1.path", "missing"),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"backups\"", "stores #1.path", "not an absolute path"),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"ftp\"\npath=\"/s\"", "stores #1.type", "unknown store type \"ftp\""),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"telegram\"", "stores #1.chat_id", "missing"),
        (
            "[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/a\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/b\"",
            "stores #2.name", "used twice"
        ),
        ("[cluster]\nname = 5\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster.name", "expected a string, found integer"),
        ("[cluster]\nname = \"../x\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster.name", "not a usable name"),
        ("[cluster]\nname = \"m\"\npgdata = \"data\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster.pgdata", "not an absolute path"),
        (
            "[cluster]\nname = \"m\"\n[compression]\nalgorithm = \"brotli\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"",
            "compression.algorithm", "unknown algorithm"
        ),
        (
            "[cluster]\nname = \"m\"\n[compression]\nlevel = 99\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "compression.level",
            "out of range"
        ),
        (
            "[cluster]\nname = \"m\"\n[compression]\nalgorithm = \"gzip\"\nlevel = \"9\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"",
            "compression.level", "expected an integer"
        ),
        ("cluster = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster", "expected a table"),
        ("[cluster]\nname = \"m\"\nstores = 3", "cluster.stores", "unknown key"),
        ("[cluster]\nname = \"m\"\n[stores]\nname=\"l\"", "stores", "expected an array of tables")
    ])
    func everyMistakeNamesItsKey(text: String, key: String, problem: String) throws {
        let error = try #require(parseError(text))
        #expect(error.key == key)
        #expect(error.problem.contains(problem))
        #expect(error.file == "/etc/walvault/walvault.toml")
        #expect(!error.fix.isEmpty)
        #expect(!error.description.contains("\n"))
    }

    @Test func missingFileSaysHowToPointAtOne() throws {
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/walvault.toml")
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.description.contains("/nonexistent/walvault.toml"))
            #expect(error.description.contains("No such file"))
            #expect(error.description.contains("--config"))
        }
    }

    @Test func locationPrefersFlagThenEnvironmentThenDefault() {
        #expect(ConfigLocation.resolve(explicit: "/a", environment: { _ in "/b" }) == "/a")
        #expect(ConfigLocation.resolve(explicit: nil, environment: { $0 == "WALVAULT_CONFIG" ? "/b" : nil }) == "/b")
        #expect(ConfigLocation.resolve(explicit: nil, environment: { _ in nil }) == "/etc/walvault/walvault.toml")
    }
}

@Suite struct StoreKeysPerTypeTests {
    @Test func eachTypeTakesItsOwnKeys() throws {
        do {
            _ = try ConfigLoader.parse("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"\nbucket=\"b\"", path: "/c.toml")
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.key == "stores #1.bucket")
            #expect(error.problem == "unknown key for a local store")
            #expect(error.fix.hasSuffix("a local store accepts name, type, retention_days, price_per_gb_month, mode, path"))
        }
        // The contract of the coming store types, declared in the one table (issues 12 and 13).
        #expect(
            Set(StoreSettings.keysByType["s3"] ?? []).isSuperset(of: [
                "mode", "endpoint", "region", "bucket", "prefix", "access_key_id_env",
                "access_key_id_file", "secret_access_key_env", "secret_access_key_file", "path_style"
            ]))
        #expect(
            Set(StoreSettings.keysByType["telegram"] ?? []).isSuperset(of: [
                "mode", "api_base", "bot_token_env", "bot_token_file", "chat_id",
                "part_size_mb", "local_files"
            ]))
        #expect(StoreSettings.keysByType["local"] == ["mode", "path"])
    }
}

/// `type = "s3"`: every key of the contract, and one line for each way to get it wrong.
@Suite struct S3ConfigTests {
    static let head = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"local\"\ntype=\"local\"\npath=\"/s\"\n[[stores]]\nname=\"b2\"\ntype=\"s3\"\n"
    static let good = [
        "endpoint": "\"https://s3.us-west-004.backblazeb2.com\"", "region": "\"us-west-004\"", "bucket": "\"acme-backups\"",
        "access_key_id_env": "\"B2_KEY_ID\"", "secret_access_key_env": "\"B2_APP_KEY\""
    ]

    static func text(_ changes: [String: String?]) -> String {
        var keys = good
        for (key, value) in changes { keys[key] = value }
        return head + keys.keys.sorted().map { "\($0) = \(keys[$0]!)\n" }.joined()
    }

    @Test func theIssuesExampleParses() throws {
        let config = try ConfigLoader.parse(
            Self.text([
                "prefix": "\"/pg/\"", "path_style": "true", "mode": "\"sync\"",
                "secret_access_key_env": nil, "secret_access_key_file": "\"/etc/walvault/b2-key\""
            ]), path: "/c.toml")
        #expect(config.stores.count == 2)
        #expect(config.stores[1].mode == .sync)
        guard case .s3(let s3) = config.stores[1].kind else { Issue.record("not s3"); return }
        #expect(
            s3
                == S3StoreSettings(
                    endpoint: "https://s3.us-west-004.backblazeb2.com", region: "us-west-004", bucket: "acme-backups", prefix: "pg",
                    accessKeyID: .environment("B2_KEY_ID"), secretAccessKey: .file("/etc/walvault/b2-key"), pathStyle: true))
    }

    @Test(
        arguments: [
            (["endpoint": nil], "stores #2.endpoint", "missing"),
            (["endpoint": "\"s3.amazonaws.com\""], "stores #2.endpoint", "not an http:// or https:// URL"),
            (["endpoint": "\"https://s3.amazonaws.com/acme\""], "stores #2.endpoint", "has a path"),
            (["endpoint": "\"https://KEY:SECRET@s3.amazonaws.com\""], "stores #2.endpoint", "contains credentials"),
            (["region": nil], "stores #2.region", "missing"),
            (["region": "\"US West\""], "stores #2.region", "not a region name"),
            (["bucket": "\"Acme_Backups\""], "stores #2.bucket", "not a valid bucket name"),
            (["bucket": "\"ab\""], "stores #2.bucket", "not a valid bucket name"),
            (["prefix": "\"pg//x\""], "stores #2.prefix", "not a usable key prefix"),
            (["prefix": "\"pg/../x\""], "stores #2.prefix", "not a usable key prefix"),
            (["access_key_id_env": nil], "stores #2.access_key_id_env", "missing"),
            (["access_key_id_file": "\"/k\""], "stores #2.access_key_id_env", "both access_key_id_env and access_key_id_file"),
            (["secret_access_key_env": "\"K005abcdefSECRET+/x\""], "stores #2.secret_access_key_env", "not an environment variable name"),
            (["secret_access_key_env": nil, "secret_access_key_file": "\"keys/b2\""], "stores #2.secret_access_key_file", "not an absolute path"),
            (["path_style": "\"yes\""], "stores #2.path_style", "expected true or false"),
            (["mode": "\"later\""], "stores #2.mode", "unknown mode"),
            (["mode": "\"async\""], "cluster.spool", "missing, but store \"b2\" is async"),
            (["path": "\"/x\""], "stores #2.path", "unknown key for a s3 store"),
            (["secret_access_key": "\"abc\""], "stores #2.secret_access_key", "unknown key")
        ] as [([String: String?], String, String)])
    func everyMistakeIsOneLineNamingTheKey(changes: [String: String?], key: String, problem: String) throws {
        do {
            _ = try ConfigLoader.parse(Self.text(changes), path: "/etc/walvault/walvault.toml")
            Issue.record("expected an error for \(changes)")
        } catch let error as ConfigError {
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error)")
            #expect(!error.fix.isEmpty)
            #expect(!error.description.contains("\n"))
            // A secret pasted where a variable's name belongs is not echoed whole.
            #expect(!error.description.contains("K005abcdefSECRET"))
        }
    }

    @Test func credentialsAreReadFromTheirSourceAndMissingOnesNameTheKey() throws {
        let dir = TempDir()
        let file = dir.write("key", Array("SECRET-FROM-FILE\n".utf8))
        let fromFile = try StoreCredentials.read(.file(file), key: "stores #2.secret_access_key", configPath: "/c.toml")
        #expect(fromFile.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == "SECRET-FROM-FILE")
        setenv("WALVAULT_TEST_S3_SECRET", "SECRET-FROM-ENV", 1)
        let fromEnvironment = try StoreCredentials.read(
            .environment("WALVAULT_TEST_S3_SECRET"), key: "stores #2.secret_access_key", configPath: "/c.toml")
        #expect(fromEnvironment.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == "SECRET-FROM-ENV")
        for (source, key, problem) in [
            (SecretSource.environment("WALVAULT_TEST_UNSET_VARIABLE"), "stores #2.secret_access_key_env", "is not set"),
            (.file(Paths.join(dir.path, "none")), "stores #2.secret_access_key_file", "No such file"),
            (.file(dir.write("empty", [])), "stores #2.secret_access_key_file", "is empty"),
            (.file(dir.path), "stores #2.secret_access_key_file", "not a regular file")
        ] {
            do {
                _ = try StoreCredentials.read(source, key: "stores #2.secret_access_key", configPath: "/c.toml")
                Issue.record("expected an error for \(source)")
            } catch let error as ConfigError {
                #expect(error.key == key)
                #expect(error.description.contains(problem), "\(error)")
            }
        }
    }
}

@Suite struct ShippingConfigTests {
    static let base = "[cluster]\nname = \"m\"\nspool = \"/var/lib/walvault/spool\"\n"
    static let local = "[[stores]]\nname=\"local\"\ntype=\"local\"\npath=\"/s\"\n"
    static let cloud = "[[stores]]\nname=\"b2\"\ntype=\"local\"\npath=\"/b\"\nmode=\"async\"\n"

    @Test func asyncStoresWithASpoolAndShippingSettingsParse() throws {
        let config = try ConfigLoader.parse(Self.base + "[shipping]\nparallel = 8\nmax_queue_mb = 1024\n" + Self.local + Self.cloud, path: "/c.toml")
        #expect(config.cluster.spool == "/var/lib/walvault/spool")
        #expect(config.shipping == ShippingSettings(parallel: 8, maxQueueBytes: 1024 << 20))
        #expect(config.stores.map(\.mode) == [.sync, .async])
        #expect(try ConfigLoader.parse(Self.base + Self.local, path: "/c.toml").shipping == ShippingSettings(parallel: 4, maxQueueBytes: 4096 << 20))
    }

    @Test(arguments: [
        (base + cloud + local, "stores #1.mode", "the first store is async"),
        ("[cluster]\nname = \"m\"\nspool = \"spool\"\n" + local, "cluster.spool", "not an absolute path"),
        (base + "[shipping]\nparallel = 0\n" + local, "shipping.parallel", "out of range"),
        (base + "[shipping]\nmax_queue_mb = 1\n" + local, "shipping.max_queue_mb", "out of range"),
        (base + "[shipping]\nspeed = 1\n" + local, "shipping.speed", "unknown key"),
        (base + "[shipping]\nparallel = \"4\"\n" + local, "shipping.parallel", "expected an integer")
    ])
    func mistakesAreOneLine(text: String, key: String, problem: String) throws {
        do {
            _ = try ConfigLoader.parse(text, path: "/c.toml")
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error)")
            #expect(!error.fix.isEmpty)
        }
    }
}

/// `type = "telegram"`: the issue's keys, and one line for each way to get them wrong.
@Suite struct TelegramConfigTests {
    static let head =
        "[cluster]\nname = \"m\"\nspool = \"/var/lib/walvault/spool\"\n[[stores]]\nname=\"local\"\ntype=\"local\"\npath=\"/s\"\n[[stores]]\nname=\"telegram\"\ntype=\"telegram\"\n"
    static let good = ["mode": "\"async\"", "bot_token_env": "\"WALVAULT_TELEGRAM_TOKEN\"", "chat_id": "\"-1001234567890\""]

    static func text(_ changes: [String: String?], head: String = head) -> String {
        var keys = good
        for (key, value) in changes { keys[key] = value }
        return head + keys.keys.sorted().map { "\($0) = \(keys[$0]!)\n" }.joined()
    }

    @Test func theIssuesExampleParsesWithItsDefaults() throws {
        let config = try ConfigLoader.parse(Self.text([:]), path: "/c.toml")
        #expect(config.stores[1].mode == .async)
        guard case .telegram(let telegram) = config.stores[1].kind else { Issue.record("not telegram"); return }
        #expect(
            telegram
                == TelegramStoreSettings(
                    apiBase: "https://api.telegram.org", botToken: .environment("WALVAULT_TELEGRAM_TOKEN"),
                    chatID: "-1001234567890", partSizeMB: 19, localFiles: false))
        // A self-hosted server takes larger documents and local files; mode defaults to async.
        let local = try ConfigLoader.parse(
            Self.text([
                "mode": nil, "api_base": "\"http://127.0.0.1:8081/\"", "part_size_mb": "1000",
                "local_files": "true", "bot_token_env": nil, "bot_token_file": "\"/etc/walvault/bot\""
            ]), path: "/c.toml")
        #expect(local.stores[1].mode == .async)
        #expect(
            local.stores[1].kind
                == .telegram(
                    TelegramStoreSettings(
                        apiBase: "http://127.0.0.1:8081", botToken: .file("/etc/walvault/bot"),
                        chatID: "-1001234567890", partSizeMB: 1000, localFiles: true)))
        #expect(try ConfigLoader.parse(Self.text(["chat_id": "\"@acme_backups\""]), path: "/c.toml").stores[1].telegramChatID == "@acme_backups")
        guard case .telegram(let paced) = try ConfigLoader.parse(Self.text(["messages_per_minute": "60"]), path: "/c.toml").stores[1].kind else {
            return
        }
        #expect(paced.messagesPerMinute == 60)
    }

    /// A machine that only restores: every store async is accepted; writing commands refuse there.
    @Test func aConfigWithOnlyTheTelegramStoreLoads() throws {
        let head = "[cluster]\nname = \"m\"\nspool = \"/var/lib/walvault/spool\"\n[[stores]]\nname=\"telegram\"\ntype=\"telegram\"\n"
        let config = try ConfigLoader.parse(Self.text([:], head: head), path: "/c.toml")
        #expect(config.stores.map(\.mode) == [.async])
    }

    @Test(
        arguments: [
            (["chat_id": nil], "stores #2.chat_id", "missing"),
            (["chat_id": "\"my group\""], "stores #2.chat_id", "not a chat id"),
            (["chat_id": "-100123"], "stores #2.chat_id", "expected a string"),
            (["mode": "\"sync\""], "stores #2.mode", "cannot be sync"),
            (["api_base": "\"api.telegram.org\""], "stores #2.api_base", "not an http:// or https:// URL"),
            (["api_base": "\"https://123:TOKEN@api.telegram.org\""], "stores #2.api_base", "credentials"),
            // Issue 24: a token pasted into the URL is refused and never echoed.
            (["api_base": "\"https://api.telegram.org/bot123456:AAEsecretTOKENMARKER\""], "stores #2.api_base", "has /bot in its path"),
            (["api_base": "\"http://127.0.0.1:8081/bot123456:AAEsecretTOKENMARKER/\""], "stores #2.api_base", "has /bot in its path"),
            (["api_base": "\"api.telegram.org/bot123456:AAEsecretTOKENMARKER\""], "stores #2.api_base", "not an http:// or https:// URL"),
            (["api_base": "\"https://api.telegram.org/bot123456:AAEsecretTOKENMARKER?x=1\""], "stores #2.api_base", "has a query"),
            (["api_base": "\"http://\""], "stores #2.api_base", "names no server"),
            (["part_size_mb": "21"], "stores #2.part_size_mb", "cloud Bot API stops at 20 MiB"),
            (["part_size_mb": "0"], "stores #2.part_size_mb", "out of range"),
            (["part_size_mb": "2001", "api_base": "\"http://127.0.0.1:8081\""], "stores #2.part_size_mb", "out of range"),
            (["local_files": "true"], "stores #2.local_files", "no local files"),
            (["messages_per_minute": "0"], "stores #2.messages_per_minute", "out of range"),
            (["bot_token_env": nil], "stores #2.bot_token_env", "missing"),
            (["bot_token_env": "\"123456:AAEsecretTOKENMARKER\""], "stores #2.bot_token_env", "not an environment variable name"),
            (["bot_token": "\"123456:AAEsecretTOKENMARKER\""], "stores #2.bot_token", "unknown key"),
            (["bucket": "\"b\""], "stores #2.bucket", "unknown key for a telegram store")
        ] as [([String: String?], String, String)])
    func everyMistakeIsOneLineNamingTheKey(changes: [String: String?], key: String, problem: String) throws {
        do {
            _ = try ConfigLoader.parse(Self.text(changes), path: "/etc/walvault/walvault.toml")
            Issue.record("expected an error for \(changes)")
        } catch let error as ConfigError {
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error)")
            #expect(!error.fix.isEmpty)
            #expect(!error.description.contains("\n"))
            #expect(!error.description.contains("TOKENMARKER"))
        }
    }
}

@Suite struct RetentionConfigTests {
    static let store = "[[stores]]\nname=\"local\"\ntype=\"local\"\npath=\"/s\"\n"

    @Test func windowsParse() throws {
        let config = try ConfigLoader.parse(
            "[cluster]\nname = \"m\"\n[retention]\ndays = 30\n" + Self.store + "retention_days = 7\n"
                + "[[stores]]\nname=\"cloud\"\ntype=\"local\"\npath=\"/c\"\n", path: "/c.toml")
        #expect(config.retention == RetentionSettings(days: 30))
        #expect(
            try ConfigLoader.parse("[cluster]\nname = \"m\"\n[retention]\ndays = 30\nnotify_before_days = 3\n" + Self.store, path: "/c.toml")
                .retention
                == RetentionSettings(days: 30, notifyBeforeDays: 3))
        #expect(config.retentionDays(store: 0) == 7)
        #expect(config.retentionDays(store: 1) == 30)
        #expect(try ConfigLoader.parse("[cluster]\nname = \"m\"\n" + Self.store, path: "/c.toml").retentionDays(store: 0) == nil)
    }

    @Test(arguments: [
        ("[retention]\n", "retention.days", "missing"),
        ("[retention]\ndays = 0\n", "retention.days", "out of range"),
        ("[retention]\ndays = \"30\"\n", "retention.days", "expected an integer"),
        ("[retention]\ndays = 30\nnotify_before_days = 30\n", "retention.notify_before_days", "out of range"),
        ("[retention]\ndays = 30\nnotify_before_days = 0\n", "retention.notify_before_days", "out of range"),
        ("[retention]\ndays = 30\nkeep = 3\n", "retention.keep", "unknown key")
    ])
    func mistakesAreOneLine(section: String, key: String, problem: String) throws {
        do {
            _ = try ConfigLoader.parse("[cluster]\nname = \"m\"\n" + section + Self.store, path: "/c.toml")
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error)")
        }
        do {
            _ = try ConfigLoader.parse("[cluster]\nname = \"m\"\n" + Self.store + "retention_days = -1\n", path: "/c.toml")
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.key == "stores #1.retention_days")
        }
    }
}

@Suite struct StorePriceTests {
    static let store = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"b2\"\ntype=\"local\"\npath=\"/s\"\n"

    @Test func aPriceIsAFloatOrAnIntegerAndOptional() throws {
        #expect(try ConfigLoader.parse(Self.store + "price_per_gb_month = 0.006\n", path: "/c.toml").stores[0].pricePerGBMonth == 0.006)
        #expect(try ConfigLoader.parse(Self.store + "price_per_gb_month = 5\n", path: "/c.toml").stores[0].pricePerGBMonth == 5)
        #expect(try ConfigLoader.parse(Self.store + "price_per_gb_month = 0\n", path: "/c.toml").stores[0].pricePerGBMonth == 0)
        #expect(try ConfigLoader.parse(Self.store, path: "/c.toml").stores[0].pricePerGBMonth == nil)
    }

    @Test(arguments: [
        ("price_per_gb_month = -0.01\n", "-0.01 is out of range"), ("price_per_gb_month = 1000.5\n", "1000.5 is out of range"),
        ("price_per_gb_month = \"0.006\"\n", "expected a number, found string"), ("price_per_gb_month = nan\n", "nan is out of range")
    ])
    func aWrongPriceIsOneLine(line: String, problem: String) throws {
        do {
            _ = try ConfigLoader.parse(Self.store + line, path: "/c.toml")
            Issue.record("expected an error for \(line)")
        } catch let error as ConfigError {
            #expect(error.key == "stores #1.price_per_gb_month")
            #expect(error.problem == problem, "\(error)")
        }
    }
}

@Suite struct StorageCostTests {
    @Test func costIsDecimalGigabytesTimesThePrice() {
        #expect(StorageCost.monthly(bytes: 2_000_000_000, pricePerGBMonth: 0.006) == 0.012)
        #expect(StorageCost.monthly(bytes: 0, pricePerGBMonth: 0.023) == 0)
        #expect(StorageCost.monthly(bytes: 5_000_000_000, pricePerGBMonth: nil) == nil)
        #expect(StorageCost.monthly(bytes: -1, pricePerGBMonth: 1) == 0)
    }

    @Test(arguments: [(0.0, "0.00"), (0.004, "0.00"), (0.005, "0.01"), (0.42, "0.42"), (1234.5, "1234.50"), (2.999, "3.00"), (10.07, "10.07")])
    func textHasCents(cost: Double, text: String) {
        #expect(StorageCost.text(cost) == text)
    }
}
