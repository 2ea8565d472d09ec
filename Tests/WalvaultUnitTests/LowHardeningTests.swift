import Testing
import WalvaultConfig
import WalvaultHTTP
import WalvaultPipeline
import WalvaultPolicy
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultAlerts
@testable import WalvaultKit
@testable import WalvaultStores

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 24, the low items: permissions checked the same way everywhere, and messages that point
/// the right way.
@Suite struct LowHardeningTests {
    func writeConfig(_ dir: TempDir, extra: String = "") -> String {
        let path = dir.write(
            "walvault.toml",
            Array(
                "[cluster]\nname = \"main\"\nspool = \"\(dir.sub("spool"))\"\n\n[[stores]]\nname = \"local\"\ntype = \"local\"\npath = \"\(dir.sub("store"))\"\n\(extra)"
                    .utf8))
        chmod(path, 0o600)
        return path
    }

    func failure(_ body: () throws -> Void) -> String? {
        do { try body() } catch { return "\(error)" }
        Issue.record("expected an error")
        return nil
    }

    @Test func aConfigEveryoneCanRewriteIsRefusedAndOneItsGroupCanIsNamed() throws {
        let dir = TempDir()
        let config = writeConfig(dir)
        chmod(config, 0o666)
        let refused = failure { _ = try WalvaultContext.load(configPath: config) }
        #expect(refused?.contains("the config file \(config) can be rewritten by every user (mode 666)") == true, "\(refused ?? "")")
        #expect(refused?.contains("\n") == false)
        chmod(config, 0o660)
        let grouped = try WalvaultContext.load(configPath: config)
        #expect(grouped.warnings.contains { $0.contains("the config file \(config) can be rewritten by its group (mode 660)") })
        chmod(config, 0o600)
        #expect(try WalvaultContext.load(configPath: config).warnings.isEmpty)
    }

    @Test(.enabled(if: geteuid() == 0, "chown to another user needs root"))
    func aConfigAnotherUserOwnsIsNamed() throws {
        let dir = TempDir()
        let config = writeConfig(dir)
        chown(config, 65534, 65534)
        let context = try WalvaultContext.load(configPath: config)
        #expect(context.warnings.contains { $0.contains("the config file \(config) belongs to nobody, not to root who runs walvault") })
    }

    @Test func secretFilesOthersCanReadGetThePassphraseFilesWarning() throws {
        let dir = TempDir()
        let secret = dir.write("s3-secret", Array("SECRETMARKER\n".utf8))
        let token = dir.write("bot-token", Array("123:TOKENMARKER\n".utf8))
        chmod(secret, 0o644)
        chmod(token, 0o640)
        let passphrase = dir.write("passphrase", Array("a passphrase for the test\n".utf8))
        chmod(passphrase, 0o600)
        let config = writeConfig(
            dir,
            extra: """
                [[stores]]
                name = "cloud"
                type = "s3"
                endpoint = "http://127.0.0.1:9"
                region = "us-east-1"
                bucket = "b-walvault"
                path_style = true
                access_key_id_file = "\(secret)"
                secret_access_key_file = "\(secret)"

                [[stores]]
                name = "chat"
                type = "telegram"
                api_base = "http://127.0.0.1:9"
                bot_token_file = "\(token)"
                chat_id = "-1001234567890"

                [encryption]
                passphrase_file = "\(passphrase)"
                """)
        let parsed = try ConfigLoader.load(path: config)
        var warnings: [String] = []
        for (index, store) in parsed.stores.enumerated() {
            switch store.kind {
            case .s3(let s3):
                warnings += StoreCredentials.permissionWarning(s3.secretAccessKey, key: "stores #\(index + 1).secret_access_key").map { [$0] } ?? []
            case .telegram(let t):
                warnings += StoreCredentials.permissionWarning(t.botToken, key: "stores #\(index + 1).bot_token").map { [$0] } ?? []
            case .local: break
            }
        }
        #expect(
            warnings == [
                "the secret file \(secret) (stores #2.secret_access_key_file) is readable by group or others (mode 644); run chmod 600 \(secret)",
                "the secret file \(token) (stores #3.bot_token_file) is readable by group or others (mode 640); run chmod 600 \(token)"
            ])
        let context = try WalvaultContext.load(configPath: config)
        #expect(context.warnings.filter { $0.hasPrefix("the secret file") } == warnings)
        #expect(!context.warnings.joined().contains("SECRETMARKER") && !context.warnings.joined().contains("TOKENMARKER"))
        chmod(secret, 0o600)
        chmod(token, 0o600)
        #expect(try WalvaultContext.load(configPath: config).warnings.filter { $0.hasPrefix("the secret file") }.isEmpty)
    }

    @Test func messagesPointTheRightWay() throws {
        let head = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"local\"\ntype=\"local\"\npath=\"/s\"\n"
        let s3 = "[[stores]]\nname=\"c\"\ntype=\"s3\"\nregion=\"r\"\nbucket=\"bkt\"\naccess_key_id_env=\"A\"\nsecret_access_key_env=\"B\"\n"
        for endpoint in ["http://", "https:///"] {
            let message = failure { _ = try ConfigLoader.parse(head + s3 + "endpoint = \"\(endpoint)\"\n", path: "/c.toml") }
            #expect(message?.contains("names no server") == true, "\(message ?? "")")
        }
        let queue = failure { _ = try ConfigLoader.parse(head + "[shipping]\nmax_queue_mb = 1\n", path: "/c.toml") }
        #expect(queue?.contains("use 16 to 16777216 MB") == true, "\(queue ?? "")")
        // The SMTP login has only _env keys: the fix names no _file key.
        unsetenv("WALVAULT_TEST_NO_SUCH_SMTP_USER")
        let smtp = failure {
            _ = try StoreCredentials.read(
                .environment("WALVAULT_TEST_NO_SUCH_SMTP_USER"), key: "alerts.smtp_user", configPath: "/c.toml", fileKey: false)
        }
        #expect(smtp?.contains("_file") == false, "\(smtp ?? "")")
        let s3Key = failure {
            _ = try StoreCredentials.read(.environment("WALVAULT_TEST_NO_SUCH_SMTP_USER"), key: "stores #2.secret_access_key", configPath: "/c.toml")
        }
        #expect(s3Key?.contains("or use secret_access_key_file") == true)
    }

    /// A bucket name on an IP endpoint cannot resolve in virtual-hosted style: the fix says path_style.
    @Test func anUnresolvableVirtualHostSuggestsPathStyle() throws {
        let store = S3Store(
            name: "minio", endpoint: "http://walvault-test.invalid:9000", region: "us-east-1", bucket: "bkt", prefix: "", pathStyle: false,
            accessKeyID: "AKIA", secret: Array("s".utf8).withUnsafeBytes { SecretBytes(copying: $0) })
        let message = failure { _ = try store.head(key: "x") }
        #expect(message?.contains("set path_style = true") == true, "\(message ?? "")")
    }

    /// No URL from a config or the environment makes walvault read a file or speak anything but HTTP.
    @Test func onlyHTTPAndHTTPSAreSpoken() throws {
        let dir = TempDir()
        let secret = dir.write("secret", Array("FILEMARKER".utf8))
        let client = try HTTPClient()
        do {
            let (_, body) = try client.perform(HTTPRequest(method: "GET", url: "file://" + secret), limit: 1024)
            Issue.record("file:// was read: \(body.count) bytes")
        } catch {
            #expect(!"\(error)".contains("FILEMARKER"))
        }
        setenv("WALVAULT_TEST_WEBHOOK", "file://" + secret, 1)
        var config = makeContext(stores: [dir.sub("store")]).config
        config.alerts = AlertSettings(webhookURL: .environment("WALVAULT_TEST_WEBHOOK"))
        let notifier = try #require(Notifier(context: WalvaultContext(config: config, stores: [])))
        let message = AlertMessage(
            status: .alert, cluster: "main", host: "db1", condition: "c", failures: 1, since: nil, error: "e",
            lastBackupLabel: nil, lastBackupStop: nil, databaseBytes: nil, now: 0)
        let refused = failure { try notifier.sendWebhook(message, source: .environment("WALVAULT_TEST_WEBHOOK")) }
        #expect(refused?.contains("the webhook in $WALVAULT_TEST_WEBHOOK is not an http:// or https:// URL") == true, "\(refused ?? "")")
        #expect(refused?.contains(secret) == false)
    }
}
