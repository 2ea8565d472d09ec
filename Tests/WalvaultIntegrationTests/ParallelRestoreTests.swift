import Foundation
import Testing
import WalvaultCatalog
import WalvaultTesting

/// Restore with several workers writing at once (`[performance] restore_parallel`) against a real
/// PostgreSQL 15: hundreds of small files, relation files that span several backup parts, a
/// tablespace, pg_wal on another directory and a symlink of the user's own. Every restored file
/// is compared with the checksum the manifest recorded when it was backed up, and the restored
/// server must recover and hold the rows.
@Suite struct ParallelRestoreTests {
    @Test func manySmallFilesLargeFilesLinksAndATablespaceComeBackByteForByte() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let tablespaceDir = try ws.mkdir("tablespace")
        let walDir = ws.file("waldir")
        let pgdata = ws.file("pgdata")
        let linkTarget = try ws.write("outside/notes.txt", "kept outside the data directory\n")
        // More workers than cores, so pieces of one file really arrive out of order.
        let config = try ws.config(
            stores: [store],
            extra:
                "pgdata = \"\(pgdata)\"\nconninfo = \"host=\(ws.path) port=PORT user=postgres dbname=postgres\"\n[performance]\nrestore_parallel = 4\n"
        )
        let cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(
            settings: [
                "wal_level": "replica",
                "archive_mode": "on",
                "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
            ], arguments: ["--waldir", walDir])
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: pgdata + "/notes.link", withDestinationPath: linkTarget)
        try ws.giveToPostgres()
        try cluster.start()

        try cluster.sql("CREATE TABLESPACE extra LOCATION '\(tablespaceDir)'")
        // About 60 MB in one relation file: it spans four 16 MiB parts.
        try cluster.sql("CREATE TABLE big (id int, payload text) TABLESPACE extra")
        try cluster.sql("INSERT INTO big SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 6) FROM generate_series(1, 250000) g")
        try cluster.sql("CREATE TABLE wide (id int, payload text)")
        try cluster.sql("INSERT INTO wide SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 120000) g")
        // Hundreds of small files: a table, its index, its TOAST table and TOAST index each.
        try cluster.sql(
            """
            DO $$ BEGIN FOR i IN 1..300 LOOP
              EXECUTE format('CREATE TABLE small_%s (id int PRIMARY KEY, note text)', i);
              EXECUTE format('INSERT INTO small_%s VALUES (%s, %L)', i, i, 'small table ' || i);
            END LOOP; END $$
            """)
        try cluster.sql("CHECKPOINT")
        let backup = try ws.walvault(["--config", config, "backup"], asPostgres: true)
        #expect(backup.status == 0, "\(backup.stderr)")
        let expected = try cluster.sql(
            "SELECT (SELECT count(*) FROM big) || ',' || (SELECT sum(length(payload)) FROM wide) || ',' || (SELECT sum(id) FROM small_300)")
        try cluster.stop(mode: "immediate")

        let label = try #require(try FileManager.default.contentsOfDirectory(atPath: store + "/main/backup").sorted().last)
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: "\(store)/main/backup/\(label)/backup.manifest"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        let entries = try #require(manifest["entries"] as? [[String: Any]])
        let parts = try #require(manifest["parts"] as? [[String: Any]])
        let files = entries.filter { $0["kind"] as? String == "file" }
        #expect(files.count > 1200, "many small files: \(files.count)")
        let spanning = try files.filter { file in
            Set(try PackedRanges.decode(file["packedRanges"] as? String ?? "").map(\.part)).count >= 3
        }
        #expect(!spanning.isEmpty, "a relation file spanning three or more parts (of \(parts.count))")

        try FileManager.default.removeItem(atPath: pgdata)
        try FileManager.default.removeItem(atPath: tablespaceDir)
        try FileManager.default.removeItem(atPath: walDir)
        let restore = try ws.walvault(["--config", config, "restore", "--pgdata", pgdata, "--target", "latest"], asPostgres: true)
        #expect(restore.status == 0, "\(restore.stderr)")

        // Every file's bytes against the manifest: one sha256sum run over all of them.
        let listed = files.compactMap { $0["path"] as? String }
        let sums = try run("/usr/bin/sha256sum", listed.map { pgdata + "/" + $0 })
        #expect(sums.status == 0, "\(sums.stderr.prefix(500))")
        var restored: [String: String] = [:]
        for line in sums.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1)
            restored[String(fields[1].drop { $0 == " " || $0 == "*" }.dropFirst(pgdata.count + 1))] = String(fields[0])
        }
        var mismatched: [String] = []
        // postgresql.auto.conf is the one file restore changes on purpose: it adds its recovery block.
        #expect(fileContains(pgdata + "/postgresql.auto.conf", "# walvault restore: begin"))
        for file in files where file["path"] as? String != "postgresql.auto.conf" {
            let path = file["path"] as! String
            if restored[path] != file["sha256"] as? String { mismatched.append(path) }
            let attributes = try FileManager.default.attributesOfItem(atPath: pgdata + "/" + path)
            #expect((attributes[.size] as? Int) == file["size"] as? Int, "\(path)")
            #expect((attributes[.posixPermissions] as? Int) == (file["mode"] as? Int).map { $0 & 0o7777 }, "\(path)")
        }
        #expect(mismatched.isEmpty, "files differing from the manifest: \(mismatched.prefix(10))")
        #expect(restored.count == files.count)
        let tablespaceLink = try FileManager.default.destinationOfSymbolicLink(
            atPath: pgdata + "/pg_tblspc/" + (try #require((manifest["tablespaces"] as? [[String: Any]])?.first?["oid"] as? String)))
        #expect(tablespaceLink == tablespaceDir)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: pgdata + "/notes.link") == linkTarget)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: pgdata + "/pg_wal", isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(
            (try? FileManager.default.destinationOfSymbolicLink(atPath: pgdata + "/pg_wal")) == nil,
            "pg_wal comes back as a directory, not a link to the old disk")

        let restoredCluster = PostgresCluster(workspace: ws, pgdata: pgdata, port: cluster.port)
        try ws.giveToPostgres()
        try restoredCluster.start()
        try restoredCluster.waitForPromotion()
        #expect(
            try restoredCluster.sql(
                "SELECT (SELECT count(*) FROM big) || ',' || (SELECT sum(length(payload)) FROM wide) || ',' || (SELECT sum(id) FROM small_300)")
                == expected)
        try restoredCluster.stop()
    }
}
