import Testing
import WalvaultConfig
import WalvaultPipeline

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
        #expect(config.cluster == ClusterSettings(name: "main", pgdata: "/var/lib/postgresql/15/main",
                                                  conninfo: "host=/var/run/postgresql port=5432 user=postgres dbname=postgres"))
        #expect(config.compression == CompressionSettings(algorithm: .lz4, level: 5))
        #expect(config.stores.map(\.name) == ["local", "second"])
        #expect(config.stores[0].kind == .local(path: "/var/backups/walvault"))
    }

    @Test func encryptionSettings() throws {
        let stores = "[[stores]]\nname = \"l\"\ntype = \"local\"\npath = \"/s\"\n"
        let plain = try ConfigLoader.parse("[cluster]\nname = \"a\"\n" + stores, path: "/x")
        #expect(plain.encryption == nil)
        let file = try ConfigLoader.parse("[cluster]\nname = \"a\"\n[encryption]\npassphrase_file = \"/etc/walvault/passphrase\"\n" + stores, path: "/x")
        #expect(file.encryption == EncryptionSettings(passphrase: .file("/etc/walvault/passphrase"), keyCache: .under("/dev/shm")))
        let env = try ConfigLoader.parse("[cluster]\nname = \"a\"\n[encryption]\npassphrase_env = \"WALVAULT_PASSPHRASE\"\nkey_cache = \"off\"\n" + stores, path: "/x")
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
        ("[cluster]\nname = \"m\"\n[encryption]\npassphrase_file = \"/p\"\npassphrase_env = \"P\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "encryption", "both passphrase_file and passphrase_env"),
        ("[cluster]\nname = \"m\"\n[encryption]\npassphrase_file = \"passphrase\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "encryption.passphrase_file", "not an absolute path"),
        ("[cluster]\nname = \"m\"\n[encryption]\npassphrase_env = \"my secret\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "encryption.passphrase_env", "not an environment variable name"),
        ("[cluster]\nname = \"m\"\n[encryption]\npassphrase_env = \"P\"\nkey_cache = \"shm\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "encryption.key_cache", "neither an absolute path nor"),
        ("[cluster]\nname = \"m\"\n[encryption]\npassphrase_env = \"P\"\nkey_cache = false\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "encryption.key_cache", "expected a string"),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"\nbucket=\"b\"", "stores #1.bucket", "unknown key"),
        ("[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster", "missing section"),
        ("[cluster]\nname = \"m\"", "stores", "no store configured"),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"", "stores #1.path", "missing"),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"backups\"", "stores #1.path", "not an absolute path"),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"ftp\"\npath=\"/s\"", "stores #1.type", "unknown store type \"ftp\""),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"s3\"", "stores #1.type", "not available in this version"),
        ("[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/a\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/b\"", "stores #2.name", "used twice"),
        ("[cluster]\nname = 5\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster.name", "expected a string, found integer"),
        ("[cluster]\nname = \"../x\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster.name", "not a usable name"),
        ("[cluster]\nname = \"m\"\npgdata = \"data\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster.pgdata", "not an absolute path"),
        ("[cluster]\nname = \"m\"\n[compression]\nalgorithm = \"brotli\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "compression.algorithm", "unknown algorithm"),
        ("[cluster]\nname = \"m\"\n[compression]\nlevel = 99\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "compression.level", "out of range"),
        ("[cluster]\nname = \"m\"\n[compression]\nalgorithm = \"gzip\"\nlevel = \"9\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "compression.level", "expected an integer"),
        ("cluster = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"", "cluster", "expected a table"),
        ("[cluster]\nname = \"m\"\nstores = 3", "cluster.stores", "unknown key"),
        ("[cluster]\nname = \"m\"\n[stores]\nname=\"l\"", "stores", "expected an array of tables"),
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
            #expect(error.fix.hasSuffix("a local store accepts name, type, path"))
        }
        // The contract of the coming store types, declared in the one table (issues 12 and 13).
        #expect(Set(StoreSettings.keysByType["s3"] ?? []).isSuperset(of: ["mode", "endpoint", "region", "bucket", "prefix", "access_key_id_env",
                                                                          "access_key_id_file", "secret_access_key_env", "secret_access_key_file", "path_style"]))
        #expect(Set(StoreSettings.keysByType["telegram"] ?? []).isSuperset(of: ["mode", "api_base", "bot_token_env", "bot_token_file", "chat_id",
                                                                                "part_size_mb", "local_files"]))
        #expect(StoreSettings.keysByType["local"] == ["path"])
    }
}
