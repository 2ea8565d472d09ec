import Foundation
import Testing
import WalvaultTesting

/// walvault verify over a local store and an S3 bucket (moto, signatures checked), encrypted,
/// against real PostgreSQL 15: healthy, then one fault at a time, each named by store and object.
@Suite(.serialized) struct VerifyTests {
    @Test func verifyPassesWhenHealthyAndNamesEachDamagedObject() throws {
        let rig = try OffsiteShippingTests.Rig { $0.endpoint }
        try rig.cluster.start()
        try run(
            Fixture.postgresBin + "/pgbench", ["-i", "-s", "2", "-h", rig.ws.path, "-p", "\(rig.cluster.port)", "-U", "postgres", "postgres"],
            asPostgres: true)
        let backup = try rig.walvault(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        for _ in 0..<3 {
            try rig.cluster.sql("INSERT INTO pgbench_history SELECT 1, 1, 1, g, now() FROM generate_series(1, 20000) g")
            _ = try rig.cluster.waitForArchive(of: try rig.cluster.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        }
        try rig.waitUntilShipped()
        try rig.cluster.stop()

        let healthy = try rig.walvault(["verify"])
        #expect(healthy.status == 0, "\(healthy.stdout) \(healthy.stderr)")
        #expect(!healthy.stdout.contains("FAIL"))
        #expect(healthy.stdout.contains("in 2 stores"), "\(healthy.stdout)")
        #expect(healthy.stdout.contains("1 backup, "), "\(healthy.stdout)")
        #expect(healthy.stdout.contains(": no problems"))
        #expect(healthy.stderr.isEmpty, "no progress line when stderr is not a terminal: \(healthy.stderr)")
        let json = try rig.walvault(["verify", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((report?["problems"] as? [Any])?.isEmpty == true)
        #expect((report?["files"] as? Int ?? 0) > 500, "every file of the backup was checked: \(report?["files"] ?? "")")
        let onlyCloud = try rig.walvault(["verify", "--store", "cloud"])
        #expect(onlyCloud.status == 0 && onlyCloud.stdout.contains("in 1 store "), "\(onlyCloud.stdout)")

        let walDirectory = try #require(filesRecursively(rig.store).first { $0.hasPrefix("main/wal/0000000100000000/") })
            .components(separatedBy: "/").dropLast().joined(separator: "/")
        let backupDirectory = try #require(filesRecursively(rig.store).first { $0.hasSuffix("/backup.manifest") })
            .components(separatedBy: "/").dropLast().joined(separator: "/")
        let label = String(backupDirectory.split(separator: "/").last!)
        // Segments after the backup's start and before the newest one: a gap there stops a restore.
        let segments = filesRecursively(rig.store + "/" + walDirectory).filter { $0.count > 40 && !$0.contains(".backup") && !$0.hasPrefix(".") }
            .sorted()
        let victim = segments[segments.count - 2]
        let victimPath = rig.store + "/" + walDirectory + "/" + victim

        func verifyFails(_ what: String, naming expected: [String]) throws {
            let result = try rig.walvault(["verify"])
            #expect(result.status == 1, "\(what): \(result.stdout)")
            let failures = result.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL ") }
            for text in expected {
                #expect(failures.contains { $0.contains(text) }, "\(what): no FAIL line with \(text) in:\n\(result.stdout)")
            }
            #expect(result.stdout.contains("problem"), "\(what): \(result.stdout)")
        }

        // One byte flipped in the middle of an encrypted segment.
        let original = try Data(contentsOf: URL(fileURLWithPath: victimPath))
        var flipped = original
        flipped[flipped.count / 2] ^= 0x01
        try flipped.write(to: URL(fileURLWithPath: victimPath))
        try verifyFails("a flipped byte", naming: ["store \"local\" main/wal/\(walDirectory.split(separator: "/").last!)/\(victim): "])
        try original.write(to: URL(fileURLWithPath: victimPath))

        // The segment deleted: a gap in this store, and missing here while the bucket has it.
        try FileManager.default.moveItem(atPath: victimPath, toPath: rig.ws.file("saved-segment"))
        let segmentName = String(victim.prefix(24))
        try verifyFails(
            "a deleted segment",
            naming: [
                "store \"local\" \(segmentName): gap: segment \(segmentName) is missing; backup \(label)",
                "store \"local\" \(segmentName): in store \"cloud\" but not in this one"
            ])
        try FileManager.default.moveItem(atPath: rig.ws.file("saved-segment"), toPath: victimPath)

        // The manifest truncated (its copy still reads: restore would use it; verify names it).
        let manifestPath = rig.store + "/" + backupDirectory + "/backup.manifest"
        let manifest = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
        try manifest.prefix(manifest.count / 2).write(to: URL(fileURLWithPath: manifestPath))
        try verifyFails("a truncated manifest", naming: ["store \"local\" \(backupDirectory)/backup.manifest: cannot be read"])
        try manifest.write(to: URL(fileURLWithPath: manifestPath))

        // A part deleted.
        let part = try #require(filesRecursively(rig.store + "/" + backupDirectory).filter { $0.hasPrefix("data-") }.sorted().first)
        try FileManager.default.moveItem(atPath: rig.store + "/" + backupDirectory + "/" + part, toPath: rig.ws.file("saved-part"))
        try verifyFails(
            "a deleted part", naming: ["store \"local\" \(backupDirectory)/\(part): missing: backup \(label) cannot be restored from this store"])
        try FileManager.default.moveItem(atPath: rig.ws.file("saved-part"), toPath: rig.store + "/" + backupDirectory + "/" + part)

        // The same segment deleted from the bucket.
        let bucketKey = "\(walDirectory)/\(victim)"
        let delete = try run(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import boto3, sys
                s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4])
                s3.delete_object(Bucket=sys.argv[5], Key=sys.argv[6])
                """, rig.server.endpoint, rig.server.region, rig.server.accessKeyID, rig.server.secretAccessKey, rig.server.bucket,
                rig.prefix + "/" + bucketKey
            ])
        #expect(delete.status == 0, "\(delete.stderr)")
        try verifyFails(
            "a segment deleted from the bucket",
            naming: [
                "store \"cloud\" \(segmentName): gap: segment \(segmentName) is missing",
                "store \"cloud\" \(segmentName): in store \"local\" but not in this one"
            ])
        let onlyLocal = try rig.walvault(["verify", "--store", "local"])
        #expect(onlyLocal.status == 0, "the local store alone is whole again: \(onlyLocal.stdout)")
        let unknown = try rig.walvault(["verify", "--store", "nowhere"])
        #expect(unknown.status == 1 && unknown.stderr.contains("--store nowhere") && unknown.stderr.contains("local, cloud"), "\(unknown.stderr)")
        let noBackup = try rig.walvault(["verify", "--backup", "20990101T000000Z"])
        #expect(noBackup.status == 1 && noBackup.stderr.contains("no store holds a backup of that name"), "\(noBackup.stderr)")
        let oneBackup = try rig.walvault(["verify", "--backup", label, "--store", "local"])
        #expect(oneBackup.status == 0 && oneBackup.stdout.contains("1 backup, "), "\(oneBackup.stdout)")
    }
}
