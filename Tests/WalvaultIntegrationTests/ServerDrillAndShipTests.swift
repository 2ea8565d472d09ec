import Foundation
import Testing
import WalvaultKit
import WalvaultMaintenance
import WalvaultPolicy
import WalvaultSystem

/// The overview's other actions on a real PostgreSQL 15: a restore drill and "ship now" as jobs,
/// and the overview's figures that come with them (pg_stat_archiver, the free-disk gauges, the
/// stores' cost a month, the last check).
@Suite(.serialized) struct ServerDrillAndShipTests {
    @Test func aDrillIsAJobWithItsHistoryRowAndASecondWaitsItsTurn() throws {
        let server = try ServerFixture()
        try server.cluster.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 5000) g")
        #expect(try server.login().0 == 201)
        let label = try server.backupNow()
        for body in ["{\"backup_id\": \"../etc\"}", "{\"target_time\": \"yesterday\"}", "[1]"] {
            let refused = try server.call("POST", "/api/drill", body: body)
            #expect(refused.status == 400 && refused.body["code"] as? String == "input.invalid", "\(body): \(refused.text)")
        }
        #expect(try server.call("POST", "/api/drill", csrf: false).status == 403)

        let started = try server.call("POST", "/api/drill", body: "{\"backup_id\": \"\(label)\"}")
        let id = try #require(started.body["job_id"] as? String, "\(started.text)")
        let second = try server.call("POST", "/api/drill")
        #expect(second.status == 409 && second.body["code"] as? String == "operation.conflict", "\(second.text)")
        let job = try server.finished(id)
        #expect(job["state"] as? String == "succeeded", "\(job)")
        let row = try #require(try server.history("operation=drill").first)
        #expect(row["status"] == "succeeded" && row["actor"] == "owner" && row["origin"] == "dashboard from 10.0.0.9", "\(row)")

        // The overview: pg_stat_archiver's count, a gauge per volume, and the last check once one ran.
        let before = try server.call("GET", "/")
        #expect(before.text.contains("No check has run yet"), "\(before.text)")
        #expect(before.text.contains("<button type=\"button\" id=\"drill\" data-post=\"/api/drill\">"))
        #expect(!before.text.contains("id=\"ship-now\""), "no async store, no ship button")
        let noShip = try server.call("POST", "/api/ship")
        #expect(noShip.status == 409 && noShip.body["code"] as? String == "command.refused", "\(noShip.text)")
        #expect((noShip.body["problem"] as? String ?? "").hasPrefix("no store is async"), "\(noShip.text)")
        let archived = try server.cluster.sql("SELECT archived_count FROM pg_stat_archiver")
        #expect(before.text.contains("<span id=\"archived-count\">\(archived)</span>"), "\(archived): \(before.text)")
        for what in ["pg_wal", "store &quot;store1&quot;", "the spool"] {
            #expect(before.text.contains("<td>\(what)</td>"), "\(what)")
        }
        #expect(before.text.components(separatedBy: "<meter min=\"0\"").count == 4)
        #expect(before.text.contains("<td class=\"cost\">price_per_gb_month not set</td>"))
        let check = try server.call("GET", "/api/check")
        #expect(check.status == 200, "\(check.text)")
        let after = try server.call("GET", "/")
        let ok = check.body["ok"] as? Bool ?? false
        #expect(after.text.contains(ok ? "<span id=\"check-result\">every check passed</span>" : "some checks failed"), "\(after.text)")
        // Kept beside the job files in the spool, where `walvault check` from cron also writes it.
        let kept = try JSONDecoder().decode(
            LastCheck.self, from: Data(contentsOf: URL(fileURLWithPath: server.ws.file("spool/last-check-main.json"))))
        #expect(kept.checks.count == (check.body["checks"] as? [Any])?.count && kept.ok == ok)

        // A backup attempt newer than the last backup that failed (cron's, say) is said beside it.
        var attempt = JobStatus(
            id: "20991231T000000Z-1-1", operation: .backup, cluster: "main", pid: 1, processStart: nil, startedAt: WallClock.nowMicros(),
            actor: "cron", origin: "cli")
        attempt.state = .failed
        attempt.error = "ATTEMPT-MARKER the store is full"
        try JobStatusDirectory(spool: server.ws.file("spool")).write(attempt)
        if getuid() == 0 {
            try FileManager.default.setAttributes(
                [.ownerAccountName: "postgres"], ofItemAtPath: server.ws.file("spool/jobs/20991231T000000Z-1-1.json"))
        }
        let failing = try server.call("GET", "/").text
        #expect(failing.contains("<p id=\"last-attempt\" class=\"error\">") && failing.contains("is failed: ATTEMPT-MARKER the store is full."))
        #expect(!after.text.contains("id=\"last-attempt\""), "no failed attempt before")
    }

    @Test func shipNowFailsWhileTheStoreRefusesAndDrainsTheQueueOnceItTakes() throws {
        let offsite = try Workspace()
        let directory = try offsite.mkdir("offsite")
        try offsite.giveToPostgres()
        let server = try ServerFixture(
            moreStores: "[[stores]]\nname = \"offsite\"\ntype = \"local\"\nmode = \"async\"\npath = \"\(directory)\"\nprice_per_gb_month = 1000\n")
        #expect(try server.login().0 == 201)
        let context = try WalvaultContext.load(configPath: server.config)
        func queued() throws -> Int {
            try InfoReport.gather(context: context).stores.first { $0.name == "offsite" }?.queuedObjects ?? -1
        }
        /// No background shipper left from archive-push: this test's job is the one that ships.
        func noOtherShipper() throws {
            try poll("the background shipper to finish") {
                guard let lock = try FileDescriptor.tryLocking(ShipLauncher.lockPath(spool: server.ws.file("spool"))) else { return false }
                try lock.close()
                return true
            }
        }
        // The store refuses every write: what archive-push queued stays queued, and the job says so.
        chmod(directory, 0)
        try server.cluster.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 5000) g; SELECT pg_switch_wal()")
        _ = try server.backupNow()
        try noOtherShipper()
        let waiting = try queued()
        #expect(waiting > 0)
        let failing = try server.call("POST", "/api/ship")
        let failed = try server.finished(try #require(failing.body["job_id"] as? String, "\(failing.text)"))
        #expect(failed["state"] as? String == "failed", "\(failed)")
        let error = failed["error"] as? String ?? ""
        #expect(
            error.hasPrefix("could not ship: store \"offsite\": ") && error.contains("; \(waiting) objects stay queued, nothing is lost"), "\(failed)"
        )
        #expect(failed["error_code"] as? String == "store.transient", "\(failed)")
        #expect(try queued() == waiting)

        chmod(directory, 0o755)
        try noOtherShipper()
        let shipping = try server.call("POST", "/api/ship")
        let shipped = try server.finished(try #require(shipping.body["job_id"] as? String, "\(shipping.text)"))
        #expect(shipped["state"] as? String == "succeeded", "\(shipped)")
        #expect(try queued() == 0)
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory).filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        #expect(files.count >= waiting, "\(files)")

        let page = try server.call("GET", "/")
        #expect(page.text.contains("<button type=\"button\" id=\"ship-now\" data-post=\"/api/ship\">Ship to the async stores now</button>"))
        let bytes = try InfoReport.gather(context: context).stores.first { $0.name == "offsite" }?.bytes ?? 0
        let cost = StorageCost.text(StorageCost.monthly(bytes: bytes, pricePerGBMonth: 1000) ?? -1)
        #expect(page.text.contains("<td class=\"cost\">\(cost)</td>"), "\(cost): \(page.text)")
    }
}
