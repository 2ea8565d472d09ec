import Foundation
import Testing
import WalvaultHTTP
import WalvaultKit
import WalvaultServer
import WalvaultSystem

/// The owner's actions on a real PostgreSQL 15 through the API: the backups listed and detailed,
/// verify, delete and restore; the destructive two refused without the typed word, without a code
/// newer than the login, while a conflicting job runs, and (delete) while recovery needs the backup.
@Suite(.serialized) struct ServerActionsTests {
    @Test func listVerifyDeleteAndRestoreIntoANewDirectoryThatPromotes() throws {
        let server = try ServerFixture()
        try server.cluster.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g")
        #expect(try server.login().0 == 201)
        let first = try server.backupNow()
        try server.cluster.sql("INSERT INTO t SELECT g FROM generate_series(10001, 20000) g")
        // Fulls: an incremental's prior cannot be deleted (tested in IncrementalBackupTests).
        let second = try server.backupNow(type: "full")
        let target = try server.cluster.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        try server.cluster.waitForClock(pastBy: 0.5, target)
        try server.cluster.sql("INSERT INTO t SELECT g FROM generate_series(20001, 25000) g")
        let third = try server.backupNow(type: "full")
        #expect(try server.call("POST", "/api/backups?type=weekly").status == 400)

        // The list, newest first, paged and by store; the detail.
        #expect(try server.labels() == [third, second, first])
        let page = try server.call("GET", "/api/backups?limit=1&offset=1&store=store1").body
        #expect((page["backups"] as? [[String: Any]])?.compactMap { $0["label"] as? String } == [second] && page["total"] as? Int == 3)
        for query in ["limit=0", "offset=-1", "offset=1000000001"] {
            #expect(try server.call("GET", "/api/backups?\(query)").status == 400, "\(query)")
        }
        #expect(try server.call("GET", "/api/backups?store=nope").status == 404)
        let detail = try server.call("GET", "/api/backups/\(second)").body
        let backup = try #require(detail["backup"] as? [String: Any], "\(detail)")
        #expect(backup["stores"] as? [String] == ["store1"] && (backup["postgres_version"] as? Int).map { $0 / 10000 } == 15, "\(backup)")
        #expect((backup["parts"] as? Int ?? 0) >= 1 && (backup["size"] as? Int ?? 0) > 0)
        #expect(try server.call("GET", "/api/backups/20990101T000000Z").status == 404)

        // Verify one backup: a job, and its outcome in the detail.
        let verify = try server.call("POST", "/api/backups/\(second)/verify")
        #expect(verify.status == 202, "\(verify.text)")
        #expect(try server.finished(#require(verify.body["job_id"] as? String))["state"] as? String == "succeeded")
        let verification = try #require(try server.call("GET", "/api/backups/\(second)").body["verification"] as? [String: String])
        #expect(verification["status"] == "succeeded" && verification["actor"] == "owner" && verification["origin"] == "dashboard from 10.0.0.9")

        // Delete: the typed word first, then a code newer than the login, then recovery's needs.
        let noWord = try server.call("DELETE", "/api/backups/\(second)")
        #expect(noWord.status == 400 && noWord.body["code"] as? String == "auth.confirmation", "\(noWord.text)")
        #expect(try server.call("DELETE", "/api/backups/\(second)", body: "{\"confirmation\": \"delete\", \"totp\": \"000000\"}").status == 400)
        let replayed = try server.call("DELETE", "/api/backups/\(second)", body: "{\"confirmation\": \"DELETE\", \"totp\": \"\(server.lastCode)\"}")
        #expect(replayed.status == 403 && (replayed.body["problem"] as? String)?.contains("already used") == true, "\(replayed.text)")
        #expect(try server.call("DELETE", "/api/backups/\(second)", body: "{\"confirmation\": \"DELETE\"}").status == 403)
        #expect(
            try server.call(
                "DELETE", "/api/backups/\(second)", body: "{\"confirmation\": \"DELETE\", \"totp\": \"\(server.freshCode())\"}", csrf: false
            )
            .status == 403)
        let newest = try server.call("DELETE", "/api/backups/\(third)", body: "{\"confirmation\": \"DELETE\", \"totp\": \"\(server.freshCode())\"}")
        #expect(newest.status == 409 && (newest.body["problem"] as? String)?.contains("newest backup") == true, "\(newest.text)")
        #expect(try server.labels() == [third, second, first], "a refusal deletes nothing")
        let deleted = try server.call("DELETE", "/api/backups/\(second)", body: "{\"confirmation\": \"DELETE\", \"totp\": \"\(server.freshCode())\"}")
        #expect(deleted.status == 202, "\(deleted.text)")
        #expect(try server.finished(#require(deleted.body["job_id"] as? String))["state"] as? String == "succeeded")
        #expect(try server.labels() == [third, first])
        let audit = try server.history("type=audit&operation=delete-backup&status=succeeded")
        #expect(audit.count == 1 && audit.first?["object_name"] == second && audit.first?["origin"] == "dashboard from 10.0.0.9", "\(audit)")

        // Restore: checked fields, a conflicting job, the typed word, a fresh code.
        let pgdata = server.ws.file("restored")
        func restore(_ fields: String) throws -> (status: Int, body: [String: Any], text: String) {
            try server.call("POST", "/api/restore", body: "{\(fields)}")
        }
        let refusals: [(String, Int, String)] = [
            ("\"target_time\": \"\(target)\", \"pgdata\": \"\(pgdata)\"", 400, "auth.confirmation"),
            (
                "\"target_time\": \"\(target)\", \"confirmation\": \"RESTORE\", \"totp\": \"\(server.lastCode)\", \"pgdata\": \"\(pgdata)\"", 403,
                "auth.forbidden"
            ),
            ("\"target_time\": \"yesterday\", \"confirmation\": \"RESTORE\", \"pgdata\": \"\(pgdata)\"", 400, "input.invalid"),
            ("\"backup_id\": \"../x\", \"confirmation\": \"RESTORE\", \"pgdata\": \"\(pgdata)\"", 400, "input.invalid"),
            ("\"target_time\": \"\(target)\", \"confirmation\": \"RESTORE\", \"pgdata\": \"relative/dir\"", 400, "input.invalid"),
            ("\"target_time\": \"\(target)\", \"confirmation\": \"RESTORE\", \"pgdata\": \"\(server.cluster.pgdata)\"", 409, "command.refused")
        ]
        for (fields, status, code) in refusals {
            let refused = try restore(fields)
            #expect(refused.status == status && refused.body["code"] as? String == code, "\(fields): \(refused.text)")
        }
        // A running expire (another process's status file, this test's own live pid) blocks a restore.
        var expire = JobStatus(
            id: "20261204T000000Z-\(getpid())-9", operation: .expire, cluster: "main", pid: getpid(),
            processStart: FileSystem.processStartTicks(getpid()), startedAt: WallClock.nowMicros(), actor: "cron", origin: "cli")
        expire.state = .running
        let jobs = JobStatusDirectory(spool: server.ws.file("spool"))
        try jobs.write(expire)
        try server.ws.giveToPostgres()
        let conflict = try restore(
            "\"target_time\": \"\(target)\", \"confirmation\": \"RESTORE\", \"totp\": \"\(server.freshCode())\", \"pgdata\": \"\(pgdata)\"")
        #expect(conflict.status == 409 && conflict.body["code"] as? String == "operation.conflict", "\(conflict.text)")
        #expect((conflict.body["problem"] as? String)?.contains("started by cron") == true)
        try FileManager.default.removeItem(atPath: jobs.path + "/\(expire.id).json")
        #expect(!FileManager.default.fileExists(atPath: pgdata), "no refusal wrote anything")

        let accepted = try restore(
            "\"target_time\": \"\(target)\", \"confirmation\": \"RESTORE\", \"totp\": \"\(server.freshCode())\", \"pgdata\": \"\(pgdata)\"")
        #expect(accepted.status == 202, "\(accepted.text)")
        #expect(accepted.body["pgdata"] as? String == pgdata && (accepted.body["next"] as? [String])?.isEmpty == false)
        let job = try server.finished(#require(accepted.body["job_id"] as? String))
        #expect(job["state"] as? String == "succeeded", "\(job)")
        try server.cluster.stop()
        let restored = PostgresCluster(workspace: server.ws, pgdata: pgdata, port: server.cluster.port)
        try restored.start()
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM t") == "20000", "the moment between the second and third backups")
        try restored.stop()
        try server.cluster.start()

        // In place: refused while the cluster runs; stopped, its directory is renamed aside, never deleted.
        let running = try restore("\"target_time\": \"latest\", \"in_place\": true, \"confirmation\": \"RESTORE\", \"totp\": \"000000\"")
        #expect(running.status == 409 && (running.body["problem"] as? String)?.contains("is running") == true, "\(running.text)")
        try server.cluster.stop()
        let inPlace = try restore(
            "\"target_time\": \"latest\", \"in_place\": true, \"confirmation\": \"RESTORE\", \"totp\": \"\(server.freshCode())\"")
        #expect(inPlace.status == 202, "\(inPlace.text)")
        let asideLine = (inPlace.body["next"] as? [String])?.first { $0.contains("before-restore-") } ?? ""
        #expect(try server.finished(#require(inPlace.body["job_id"] as? String))["state"] as? String == "succeeded")
        let asides = try FileManager.default.contentsOfDirectory(atPath: server.ws.path).filter { $0.hasPrefix("pgdata.before-restore-") }
        #expect(asides.count == 1 && asideLine.contains(asides.first ?? "?"), "\(asides) \(asideLine)")
        #expect(FileManager.default.fileExists(atPath: server.ws.file("\(asides.first ?? "?")/PG_VERSION")), "the old directory is kept whole")
        try server.cluster.start()
        try server.cluster.waitForPromotion()
        #expect(try server.cluster.sql("SELECT count(*) FROM t") == "25000", "latest: every archived change")

        let restores = try server.history("operation=restore")
        #expect(
            restores.contains { $0["status"] == "succeeded" && $0["actor"] == "owner" && $0["origin"] == "dashboard from 10.0.0.9" }, "\(restores)")
        #expect(restores.contains { $0["status"] == "failed" && $0["type"] == "audit" && $0["error_code"] == "auth.forbidden" })
        let everything = try server.call("GET", "/api/history?limit=1000").text
        #expect(!everything.contains("PASSWORD-MARKER") && !everything.contains(server.secret))
    }
}
