import Foundation
import Testing
import WalvaultTesting

@testable import walvault

/// What an operator sees: exit statuses PostgreSQL acts on and one line of stderr.
@Suite struct CommandLineTests {
    func oneLine(_ result: ProcessResult) -> Bool {
        result.stderr.hasSuffix("\n") && result.stderr.dropLast().split(separator: "\n").count == 1
    }

    /// The version, the commit it was built from (this checkout's), when, and the PostgreSQL it supports.
    @Test func versionNamesTheCommitTheBuildDateAndThePostgreSQLVersions() throws {
        let ws = try Workspace()
        let result = try ws.walvault(["--version"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(result.stdout)")
        #expect(lines.first?.hasPrefix("walvault ") == true && lines[0].split(separator: ".").count == 3, "\(result.stdout)")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let head = try run("/usr/bin/git", ["-C", root, "rev-parse", "--short=12", "HEAD"])
        if head.status == 0 {
            #expect(lines.count > 1 && lines[1].hasPrefix("commit \(head.stdout.trimmingCharacters(in: .newlines))"), "\(result.stdout)")
        } else {
            #expect(lines.count > 1 && lines[1] == "commit unknown", "\(result.stdout)")
        }
        #expect(lines.count > 2 && lines[2].hasPrefix("built 20") && lines[2].hasSuffix(" UTC"), "\(result.stdout)")
        #expect(lines.last == "supports PostgreSQL 15")
    }

    /// archive-push starts once per WAL segment: libpq and libcurl (with ~25 libraries behind them)
    /// must be loaded only by the commands that use them, never linked into the executable.
    @Test func executableDoesNotLinkLibpqOrLibcurl() throws {
        let result = try run("/usr/bin/ldd", [Fixture.builtWalvault])
        #expect(result.status == 0)
        #expect(result.stdout.contains("libzstd"))
        #expect(!result.stdout.contains("libpq"))
        #expect(!result.stdout.contains("libcurl"))
        #expect(!result.stdout.contains("libxml2"))
    }

    /// And at run time: a command on a local store never maps libcurl or libxml2, while the same
    /// command on an S3 store does (so the check can see a load when there is one). glibc's
    /// LD_DEBUG=files names every library the process loads.
    @Test func onlyCommandsThatSpeakHTTPLoadLibcurlAndLibxml2() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let local = try ws.config(stores: [store])
        let key = try ws.write("key", "k\n")
        let s3 = try ws.write(
            "s3.toml",
            """
            [cluster]
            name = "main"
            [[stores]]
            name = "cloud"
            type = "s3"
            endpoint = "http://127.0.0.1:9"
            region = "us-east-1"
            bucket = "nowhere"
            access_key_id_file = "\(key)"
            secret_access_key_file = "\(key)"
            """)
        var environment = ProcessInfo.processInfo.environment
        environment["LD_DEBUG"] = "files"
        let onLocal = try run(ws.walvault, ["--config", local, "info"], environment: environment)
        #expect(onLocal.status == 0, "\(onLocal.stderr.suffix(500))")
        #expect(onLocal.stderr.contains("libzstd"), "LD_DEBUG output is there to be searched")
        #expect(!onLocal.stderr.contains("libcurl"))
        #expect(!onLocal.stderr.contains("libxml2"))
        let onS3 = try run(ws.walvault, ["--config", s3, "info"], environment: environment)
        #expect(onS3.stderr.contains("libcurl.so.4"))
    }

    @Test func expireSaysWhatIsMissing() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let config = try ws.config(stores: [store])
        let refused = try ws.walvault(["--config", config, "expire"])
        #expect(refused.status == 1)
        #expect(oneLine(refused))
        #expect(refused.stderr.contains("no retention is configured"))
        let noRetention = try ws.walvault(["--config", config, "expire", "--dry-run"])
        #expect(noRetention.status == 1)
        #expect(oneLine(noRetention))
        #expect(noRetention.stderr.contains("no retention is configured"))
        let withRetention = try ws.config(stores: [store], extra: "[retention]\ndays = 30\n")
        let empty = try ws.walvault(["--config", withRetention, "expire", "--dry-run", "--as-of", "2026-11-24 00:00:00+00"])
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect(empty.stdout.contains("store \"store1\" (keeps 30 days):"))
        #expect(empty.stdout.contains("nothing stored for this cluster"))
        let badTime = try ws.walvault(["--config", withRetention, "expire", "--dry-run", "--as-of", "yesterday"])
        #expect(badTime.status == 64)
        #expect(oneLine(badTime))
    }

    @Test func missingConfig() throws {
        let ws = try Workspace()
        let push = try ws.walvault(["--config", ws.file("nope.toml"), "archive-push", ws.file("000000010000000000000001")])
        #expect(push.status == 1)
        #expect(oneLine(push))
        #expect(push.stderr.contains("config \(ws.file("nope.toml")): cannot read the config file: No such file or directory"))
        let get = try ws.walvault(["--config", ws.file("nope.toml"), "archive-get", "000000010000000000000001", ws.file("x")])
        #expect(get.status == 255, "a broken restore_command must stop recovery, not end it")
        #expect(oneLine(get))
    }

    @Test func configFromTheEnvironment() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let config = try ws.config(stores: [store])
        let result = try run(
            ws.walvault, ["archive-get", "000000010000000000000001", ws.file("x")],
            environment: ["WALVAULT_CONFIG": config])
        #expect(result.status == 1)
        #expect(result.stderr.isEmpty, "a file past the end of the archive is normal during recovery: stay quiet")
        #expect(!FileManager.default.fileExists(atPath: ws.file("x")))
    }

    @Test func badTOMLAndUnknownKeysAreOneLineEach() throws {
        let ws = try Workspace()
        let bad = try ws.write("bad.toml", "[cluster]\nname = \"main\"\npath = = 3\n")
        let result = try ws.walvault(["--config", bad, "archive-push", ws.file("000000010000000000000001")])
        #expect(result.status == 1)
        #expect(oneLine(result))
        #expect(result.stderr.contains("\(bad):3:"))
        let unknown = try ws.write(
            "unknown.toml", "[cluster]\nname = \"main\"\n[[stores]]\nname = \"l\"\ntype = \"local\"\npath = \"/x\"\ncompress = true\n")
        let second = try ws.walvault(["--config", unknown, "archive-push", ws.file("000000010000000000000001")])
        #expect(oneLine(second))
        #expect(second.stderr.contains("stores #1.compress: unknown key"))
    }

    @Test func usageErrorsInRestoreCommandStopRecovery() throws {
        let ws = try Workspace()
        let result = try ws.walvault(["archive-get", "000000010000000000000001"])
        #expect(result.status == 255)
        #expect(oneLine(result))
    }

    @Test func corruptObjectStopsRecoveryWithTheObjectNamed() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let config = try ws.config(stores: [store])
        let key = "main/wal/0000000100000000/000000010000000000000001-" + String(repeating: "0", count: 64) + ".zst"
        _ = try ws.write("store/" + key, "not zstd")
        let result = try ws.walvault(["--config", config, "archive-get", "000000010000000000000001", ws.file("x")])
        #expect(result.status == 255)
        #expect(oneLine(result))
        #expect(result.stderr.contains(key))
        #expect(!FileManager.default.fileExists(atPath: ws.file("x")))
    }

    @Test func encryptionSetupProblemsAreWarningsOrOneLineErrors() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let passphrase = try ws.write("passphrase", "cli test passphrase\n")
        chmod(passphrase, 0o644)
        let config = try ws.config(stores: [store], extra: "[encryption]\npassphrase_file = \"\(passphrase)\"\nkey_cache = \"off\"\n")
        chmod(config, 0o644)
        let info = try ws.walvault(["--config", config, "info"])
        #expect(info.status == 0, "\(info.stderr)")
        let warnings = info.stderr.split(separator: "\n")
        #expect(warnings.count == 2)
        #expect(
            warnings.contains {
                $0.contains("walvault info: warning: the passphrase file \(passphrase) is readable by group or others (mode 644); run chmod 600")
            })
        #expect(warnings.contains { $0.contains("walvault info: warning: the config file \(config) is readable by group or others") })
        #expect(!info.stderr.contains("cli test passphrase"))

        chmod(passphrase, 0o600)
        chmod(config, 0o600)
        #expect(try ws.walvault(["--config", config, "info"]).stderr.isEmpty)

        // A store with an encrypted object and the wrong passphrase: recovery must stop (255), in one line.
        let key = "main/wal/0000000100000000/000000010000000000000001-" + String(repeating: "0", count: 64) + ".zst"
        _ = try ws.write("store/" + key, "WALVAULT" + String(repeating: "x", count: 200))
        let get = try ws.walvault(["--config", config, "archive-get", "000000010000000000000001", ws.file("x")])
        #expect(get.status == 255)
        #expect(oneLine(get))
        #expect(get.stderr.contains("cannot decrypt \(key) in store \"store1\""))
        #expect(!FileManager.default.fileExists(atPath: ws.file("x")))

        let envConfig = try ws.write(
            "env.toml",
            "[cluster]\nname = \"main\"\n[encryption]\npassphrase_env = \"WALVAULT_TEST_NOT_SET\"\n[[stores]]\nname = \"s\"\ntype = \"local\"\npath = \"\(store)\"\n"
        )
        chmod(envConfig, 0o600)
        let push = try ws.walvault(["--config", envConfig, "archive-push", ws.file("000000010000000000000001")])
        #expect(push.status == 1)
        #expect(oneLine(push))
        #expect(push.stderr.contains("encryption.passphrase_env: the environment variable WALVAULT_TEST_NOT_SET is not set or empty"))
        var environment = ProcessInfo.processInfo.environment
        environment["WALVAULT_TEST_NOT_SET"] = "cli test passphrase"
        let withVariable = try run(ws.walvault, ["--config", envConfig, "info"], environment: environment)
        #expect(withVariable.status == 0, "\(withVariable.stderr)")
    }

    /// `nan` used to trap with a backtrace after the backup had started; `-1` and `inf` were accepted.
    @Test func numericOptionsAreCheckedWhileParsing() throws {
        let ws = try Workspace()
        for value in ["nan", "inf", "-1", "0", "1e9", "five"] {
            let result = try ws.walvault(["--config", ws.file("never-read.toml"), "backup", "--wal-timeout=\(value)"])
            #expect(result.status == 64, "\(value)")
            #expect(oneLine(result), "\(value): \(result.stderr)")
            #expect(
                result.stderr.hasPrefix(
                    "walvault backup: error: The value '\(value)' is invalid for '--wal-timeout <seconds>': expected a number of seconds greater than 0"
                ))
        }
    }

    @Test func anUnknownBackupTypeIsRefusedWhileParsing() throws {
        let ws = try Workspace()
        let result = try ws.walvault(["--config", ws.file("never-read.toml"), "backup", "--type", "weekly"])
        #expect(result.status == 64)
        #expect(oneLine(result), "\(result.stderr)")
        #expect(result.stderr.contains("--type weekly: use full, diff or incr"), "\(result.stderr)")
    }

    @Test func usageErrorsShareTheOneLineErrorFormat() throws {
        let ws = try Workspace()
        let get = try ws.walvault(["archive-get"])
        #expect(get.status == 255)
        #expect(oneLine(get))
        #expect(get.stderr.hasPrefix("walvault archive-get: error: Missing expected argument '<file>'; see walvault archive-get --help"))
        let restore = try ws.walvault(["restore", "--target", "latest"])
        #expect(restore.status == 64)
        #expect(oneLine(restore))
        #expect(restore.stderr.hasPrefix("walvault restore: error: Missing expected argument '--pgdata <dir>'"))
        let unknown = try ws.walvault(["bogus"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr == "walvault: error: Unexpected argument 'bogus'; see walvault --help\n")
        for result in [get, restore, unknown] { #expect(!result.stderr.contains("Error:"), "\(result.stderr)") }
        let help = try ws.walvault(["restore", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--force"))
        #expect(help.stdout.contains("never /, a directory with a file"))
    }
}

/// archive-push and archive-get are parsed against their own command when only global options
/// come before them (start-up, once per segment): every form the root parse accepts still works,
/// with the same effect, and every mistake still gets the root's message and status.
@Suite struct PerSegmentCommandLineTests {
    @Test func globalOptionsBeforeOrAfterTheCommandAllWork() throws {
        let ws = try Workspace()
        let config = try ws.config(stores: [try ws.mkdir("store")])
        let names = (1...4).map { "00000001000000000000000\($0)" }
        for name in names { _ = try ws.writeBytes("pg_wal/\(name)", makeSegment(name: seg(name))) }
        let forms: [[String]] = [
            ["--verbose", "--config", config, "archive-push", ws.file("pg_wal/\(names[0])")],
            ["--config=\(config)", "--log-format", "json", "--verbose", "archive-push", ws.file("pg_wal/\(names[1])")],
            ["archive-push", "--config", config, "--verbose", ws.file("pg_wal/\(names[2])")],
            ["--quiet", "--log-format=text", "archive-push", "--verbose", "--config", config, ws.file("pg_wal/\(names[3])")]
        ]
        for (form, name) in zip(forms, names) {
            let result = try ws.walvault(form)
            #expect(result.status == 0, "\(form): \(result.stderr)")
            #expect(result.stderr.contains(name) && result.stderr.contains("stored"), "\(form): \(result.stderr)")
        }
        #expect(try ws.walvault(forms[1]).stderr.hasPrefix("{"), "--log-format json before the command is applied")
        let get = try ws.walvault(["--log-format", "text", "--config", config, "archive-get", names[2], ws.file("RECOVERYXLOG")])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(FileManager.default.contents(atPath: ws.file("RECOVERYXLOG")) == Data(makeSegment(name: seg(names[2]))))
    }

    /// Which forms skip ArgumentParser: the ones PostgreSQL passes; the rest go to it.
    @Test func onlyThePlainFormsSkipTheParser() throws {
        let push = try #require(PerSegmentArguments.command(["--config", "/etc/w.toml", "archive-push", "pg_wal/0001"]) as? ArchivePushCommand)
        #expect(push.global.config == "/etc/w.toml" && push.path == "pg_wal/0001" && !push.global.verbose && push.global.logFormat == .text)
        let get = try #require(
            PerSegmentArguments.command(["--log-format=json", "archive-get", "--verbose", "0001", "pg_wal/RECOVERYXLOG"]) as? ArchiveGetCommand)
        #expect(get.global.config == nil && get.global.verbose && get.global.logFormat == .json)
        #expect(get.fileName == "0001" && get.destination == "pg_wal/RECOVERYXLOG")
        let refused: [[String]] = [
            ["--config", "a", "--config", "b", "archive-push", "p"], ["archive-push", "p", "q"], ["archive-get", "f"],
            ["archive-push", "--", "p"], ["archive-push", "-p"], ["--config", "-x", "archive-push", "p"], ["--config=", "archive-push", "p"],
            ["--log-format", "xml", "archive-push", "p"], ["archive-push", "--help"], ["info"], ["archive-push", ""], []
        ]
        for arguments in refused { #expect(PerSegmentArguments.command(arguments) == nil, "\(arguments)") }
    }

    @Test func mistakesStillGetTheRootsMessageAndStatus() throws {
        let ws = try Workspace()
        let config = try ws.config(stores: [try ws.mkdir("store")])
        let extra = try ws.walvault(["--config", config, "archive-push", ws.file("a"), ws.file("b")])
        #expect(extra.status == 64)
        #expect(extra.stderr.hasPrefix("walvault archive-push: error: Unexpected argument"), "\(extra.stderr)")
        let unknownOption = try ws.walvault(["--config", config, "archive-get", "--bogus", "000000010000000000000001", ws.file("x")])
        #expect(unknownOption.status == 255, "a usage error stops a targeted recovery")
        #expect(unknownOption.stderr.hasPrefix("walvault archive-get: error: Unknown option '--bogus'"), "\(unknownOption.stderr)")
        let missingValue = try ws.walvault(["--config"])
        #expect(missingValue.status == 64, "\(missingValue.stderr)")
        let help = try ws.walvault(["--config", config, "archive-push", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("archive_command"), "\(help.stdout)")
    }
}

/// `--log-format json`: every line on stderr is one JSON object with the time, the level, the
/// command, the message and the error's code, whatever the failure.
@Suite struct JSONLogLineTests {
    /// Each stderr line, parsed; a line that is not a JSON object fails the test.
    func objects(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: String]] {
        result.stderr.split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
            #expect(object != nil, "not a JSON object of strings: \(line)", sourceLocation: sourceLocation)
            return object
        }
    }

    @Test func everyErrorLineIsAJSONObject() throws {
        let ws = try Workspace()
        let config = try ws.config(stores: [ws.file("missing-store")])
        let cases: [([String], String, String)] = [
            (["--log-format", "json", "archive-push"], "archive-push", "input.invalid"),
            (["--log-format=json", "--config", ws.file("nowhere.toml"), "info"], "info", "config.invalid"),
            (["--log-format", "json", "--config", config, "archive-push", ws.file("000000010000000000000001")], "archive-push", "")
        ]
        for (arguments, command, code) in cases {
            let result = try ws.walvault(arguments)
            #expect(result.status != 0)
            let lines = objects(result)
            #expect(lines.count == 1, "\(arguments): \(result.stderr)")
            guard let line = lines.first else { continue }
            #expect(line["level"] == "error" && line["command"] == command, "\(line)")
            #expect(line["message"]?.isEmpty == false)
            #expect(line["time"]?.hasSuffix("Z") == true && line["time"]?.count == 27, "\(line)")
            #expect(line["error_code"]?.isEmpty == false, "\(line)")
            if !code.isEmpty { #expect(line["error_code"] == code, "\(line)") }
        }
        // Text stays the default, the same line without the JSON.
        let text = try ws.walvault(["--config", ws.file("nowhere.toml"), "info"])
        #expect(text.stderr.hasPrefix("walvault info: error: "), "\(text.stderr)")
    }
}
