import Testing
import WalvaultConfig
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct KeyCacheTests {
    @Test func aSecondProcessReusesTheDerivedKeyAndTheSalt() throws {
        let dir = TempDir()
        let opened = KeyCache.open(parent: dir.path)
        let cache = try #require(opened.cache)
        #expect(opened.warning == nil)
        #expect(try FileSystem.status(cache.directory)?.mode == 0o700)

        let first = makeKeyRing(cache: cache)
        let object = try encrypt(sampleBytes(3000, seed: 1), first)
        #expect(first.derivations == 1)
        let file = Paths.join(cache.directory, "derived-keys")
        #expect(try FileSystem.status(file)?.mode == 0o600)
        #expect(!contains(read(file), Array("correct horse".utf8)))

        let second = makeKeyRing(cache: KeyCache.open(parent: dir.path).cache)
        #expect(try decrypt(object, second) == sampleBytes(3000, seed: 1))
        #expect(try second.writingKey().salt == first.writingKey().salt)
        #expect(second.derivations == 0)
    }

    @Test func anotherPassphraseIsNeverServedACachedKey() throws {
        let dir = TempDir()
        let cache = KeyCache.open(parent: dir.path).cache
        let object = try encrypt(sampleBytes(100, seed: 2), makeKeyRing(cache: cache))
        let other = makeKeyRing("another passphrase", cache: cache)
        #expect(decryptionError { _ = try decrypt(object, other) }?.kind == .wrongPassphraseOrDamaged)
        #expect(other.derivations == 1)
        #expect(try other.writingKey().salt != makeKeyRing(cache: cache).writingKey().salt)
    }

    @Test func aDamagedCacheEntryIsIgnoredAndReplaced() throws {
        let dir = TempDir()
        let cache = try #require(KeyCache.open(parent: dir.path).cache)
        let object = try encrypt(sampleBytes(100, seed: 3), makeKeyRing(cache: cache))
        let file = Paths.join(cache.directory, "derived-keys")
        var text = read(file)
        text[text.count - 2] = text[text.count - 2] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        try FileSystem.writeAtomically(file, contents: text, mode: 0o600)
        let ring = makeKeyRing(cache: cache)
        #expect(try decrypt(object, ring) == sampleBytes(100, seed: 3))
        #expect(ring.derivations == 1)
        #expect(makeKeyRing(cache: cache).derivations == 0)
    }

    @Test func aCacheDirectoryOthersCanReadIsRefused() throws {
        let dir = TempDir()
        let directory = Paths.join(dir.path, "walvault-\(geteuid())")
        #expect(mkdir(directory, 0o755) == 0)
        _ = chmod(directory, 0o755)
        let opened = KeyCache.open(parent: dir.path)
        #expect(opened.cache == nil)
        #expect(opened.warning?.contains("is not a directory private to this user") == true)
        #expect(opened.warning?.contains("\n") == false)
        let missing = KeyCache.open(parent: Paths.join(dir.path, "no/such/dir"))
        #expect(missing.cache == nil)
        #expect(missing.warning?.hasPrefix("the derived-key cache is off") == true)
    }
}

@Suite struct PassphraseTests {
    let configPath = "/etc/walvault/walvault.toml"

    func settings(file: String) -> EncryptionSettings { EncryptionSettings(passphrase: .file(file)) }

    func configError(_ body: () throws -> Void) -> ConfigError? {
        do { try body() } catch let error as ConfigError { return error } catch {
            Issue.record("expected a ConfigError, got \(error)")
        }
        return nil
    }

    @Test func aFileLosesOneTrailingNewlineAndMatchesTheSameVariable() throws {
        let dir = TempDir()
        let path = dir.write("passphrase", Array("s3cret phrase\n".utf8))
        _ = chmod(path, 0o600)
        let (fromFile, warnings) = try Passphrase.load(settings(file: path), configPath: configPath)
        #expect(warnings.isEmpty)
        #expect(fromFile.withUnsafeBytes { Array($0) } == Array("s3cret phrase".utf8))

        setenv("WALVAULT_TEST_PASSPHRASE", "s3cret phrase", 1)
        let (fromEnvironment, _) = try Passphrase.load(
            EncryptionSettings(passphrase: .environment("WALVAULT_TEST_PASSPHRASE")), configPath: configPath)
        // Read once, then wiped from this process's environment.
        #expect(getenv("WALVAULT_TEST_PASSPHRASE") == nil)
        let object = try encrypt([1, 2, 3], KeyRing(passphrase: fromFile, iterations: 1000, cache: nil))
        #expect(try decrypt(object, KeyRing(passphrase: fromEnvironment, iterations: 1000, cache: nil)) == [1, 2, 3])
    }

    @Test func aSymlinkToThePassphraseIsFollowed() throws {
        let dir = TempDir()
        let target = dir.write("secrets/passphrase", Array("linked".utf8))
        _ = chmod(target, 0o600)
        let link = Paths.join(dir.path, "passphrase")
        try FileSystem.makeSymlink(target, at: link)
        let (secret, warnings) = try Passphrase.load(settings(file: link), configPath: configPath)
        #expect(secret.withUnsafeBytes { Array($0) } == Array("linked".utf8))
        #expect(warnings.isEmpty)
    }

    @Test func aFileOthersCanReadIsAWarning() throws {
        let dir = TempDir()
        let path = dir.write("passphrase", Array("s3cret".utf8))
        _ = chmod(path, 0o640)
        let (_, warnings) = try Passphrase.load(settings(file: path), configPath: configPath)
        #expect(warnings == ["the passphrase file \(path) is readable by group or others (mode 640); run chmod 600 \(path)"])
    }

    @Test func badSourcesAreOneLineErrors() throws {
        let dir = TempDir()
        let empty = dir.write("empty", Array("\n".utf8))
        #expect(
            configError { _ = try Passphrase.load(settings(file: empty), configPath: configPath) }?.problem == "the passphrase file \(empty) is empty"
        )
        let missing = Paths.join(dir.path, "missing")
        let error = configError { _ = try Passphrase.load(settings(file: missing), configPath: configPath) }
        #expect(
            error?.description.hasPrefix(
                "config \(configPath): encryption.passphrase_file: cannot read the passphrase file \(missing): No such file or directory; ") == true)
        #expect(
            configError { _ = try Passphrase.load(settings(file: dir.sub("adir")), configPath: configPath) }?.problem.hasSuffix(
                "is not a regular file") == true)
        let long = dir.write("long", [UInt8](repeating: 65, count: 5000))
        #expect(
            configError { _ = try Passphrase.load(settings(file: long), configPath: configPath) }?.problem.contains("longer than 4096 bytes") == true)
        unsetenv("WALVAULT_TEST_UNSET")
        #expect(
            configError { _ = try Passphrase.load(EncryptionSettings(passphrase: .environment("WALVAULT_TEST_UNSET")), configPath: configPath) }?
                .problem == "the environment variable WALVAULT_TEST_UNSET is not set or empty")
    }
}
