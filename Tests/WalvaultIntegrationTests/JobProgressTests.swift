import Foundation
import Testing
import WalvaultTesting

/// Live progress and job status from the real executable against a real PostgreSQL 15: the
/// restic-style status line under a pseudo-terminal (`script`), phase lines without one, silence
/// with `--quiet`, `walvault status` and `info` reading the jobs' files from another process.
@Suite(.serialized) struct JobProgressTests {
    @Test func theTerminalGetsAStatusLineAndEveryOtherProcessSeesTheJobs() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let spool = try ws.mkdir("spool")
        let pgdata = ws.file("pgdata")
        let config = try ws.config(
            stores: [store],
            extra: "pgdata = \"\(pgdata)\"\nconninfo = \"host=\(ws.path) port=PORT user=postgres dbname=postgres\"\nspool = \"\(spool)\"\n")
        let cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        try ws.giveToPostgres()
        try cluster.start()
        defer { try? cluster.stop() }
        try cluster.sql("CREATE TABLE t AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 50000) g")

        // Under a pseudo-terminal: the line is drawn in place on stderr, then cleared.
        let command = "\(ws.walvault) --config \(config) backup"
        let onTerminal = try run("/usr/bin/script", ["-qec", command, "/dev/null"], asPostgres: true)
        #expect(onTerminal.status == 0, "\(onTerminal.stdout)")
        #expect(onTerminal.stdout.contains("\r\u{1B}[K[0:"), "a status line rewritten in place: \(onTerminal.stdout.debugDescription)")
        #expect(onTerminal.stdout.contains("backup copy "), "\(onTerminal.stdout.debugDescription)")
        #expect(onTerminal.stdout.contains(" files  ") && onTerminal.stdout.contains(" MB/s"), "\(onTerminal.stdout.debugDescription)")
        #expect(onTerminal.stdout.contains("backup wait-wal "), "\(onTerminal.stdout.debugDescription)")
        #expect(onTerminal.stdout.contains("complete"))

        let quiet = try run("/usr/bin/script", ["-qec", "\(ws.walvault) --config \(config) --quiet verify", "/dev/null"], asPostgres: true)
        #expect(quiet.status == 0, "\(quiet.stdout)")
        #expect(!quiet.stdout.contains("\u{1B}[K["), "--quiet draws no line: \(quiet.stdout.debugDescription)")
        #expect(quiet.stdout.contains("no problems"))

        // Without a terminal: nothing on stderr by default (cron mails what a job prints), one
        // line per phase with --verbose, each naming its size.
        let plain = try ws.walvault(["--config", config, "verify"], asPostgres: true)
        #expect(plain.status == 0 && plain.stderr.isEmpty, "\(plain.stderr)")
        let verbose = try ws.walvault(["--config", config, "--verbose", "backup", "--no-expire"], asPostgres: true)
        #expect(verbose.status == 0, "\(verbose.stderr)")
        let phases = verbose.stderr.split(separator: "\n").filter { $0.contains(": phase ") }
        #expect(phases.count == 2, "\(verbose.stderr)")
        #expect(phases.first?.hasPrefix("walvault backup: phase copy: ") == true && phases.first?.hasSuffix(" MB") == true, "\(verbose.stderr)")
        #expect(phases.last?.hasPrefix("walvault backup: phase wait-wal: ") == true, "\(verbose.stderr)")
        #expect(!verbose.stderr.contains("\u{1B}"), "no terminal codes without a terminal")

        // Every job is visible from another process, newest first, with who ran it.
        let status = try ws.walvault(["--config", config, "status", "--json"], asPostgres: true)
        #expect(status.status == 0, "\(status.stderr)")
        let jobs = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]])
        #expect(jobs.map { $0["operation"] as? String } == ["backup", "verify", "verify", "backup"], "\(status.stdout)")
        #expect(jobs.allSatisfy { $0["state"] as? String == "succeeded" && $0["actor"] as? String == "postgres" && $0["origin"] as? String == "cli" })
        let text = try ws.walvault(["--config", config, "status"], asPostgres: true)
        #expect(text.stdout.split(separator: "\n").count == 4 && text.stdout.contains("backup succeeded"), "\(text.stdout)")

        // A job another process is running now (its file, its live pid): info says how far it is.
        let sleeper = try spawn("/bin/sleep", ["60"], asPostgres: false, stdout: "/dev/null", stderr: "/dev/null")
        defer {
            kill(sleeper, SIGKILL)
            _ = waitFor(sleeper)
        }
        let statFields = try String(contentsOfFile: "/proc/\(sleeper)/stat", encoding: .utf8).split(separator: ")").last!.split(separator: " ")
        let running = """
            {"actor":"cron","cluster":"main","id":"20261204T030000Z-\(sleeper)-1","operation":"backup","origin":"cli","pid":\(sleeper),\
            "processStart":\(statFields[19]),"progress":{"done":43,"phase":"copy","total":100,"unit":"bytes"},"startedAt":1796353200000000,\
            "state":"running","updatedAt":1796353200000000}
            """
        try running.write(toFile: spool + "/jobs/20261204T030000Z-\(sleeper)-1.json", atomically: true, encoding: .utf8)
        let info = try ws.walvault(["--config", config, "info"], asPostgres: true)
        #expect(info.stdout.contains("backup running, 43 % (copy), started 2026-12-04 03:00:00+00 by cron, pid \(sleeper)"), "\(info.stdout)")

        // Killed with -9: interrupted, never running.
        kill(sleeper, SIGKILL)
        _ = waitFor(sleeper)
        let after = try ws.walvault(["--config", config, "status"], asPostgres: true)
        #expect(after.stdout.contains("20261204T030000Z-\(sleeper)-1  backup interrupted, 43 % (copy)"), "\(after.stdout)")
        #expect(!(try ws.walvault(["--config", config, "info"], asPostgres: true).stdout.contains("running")))
    }
}
