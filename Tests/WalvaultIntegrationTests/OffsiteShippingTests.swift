import Foundation
import Testing
import WalvaultTesting

/// A local sync store and an S3 bucket shipped to in the background, against real PostgreSQL 15,
/// moto (signatures checked) and a proxy that can make the bucket unreachable.
@Suite(.serialized) struct OffsiteShippingTests {
    struct Rig {
        let ws: Workspace
        let store: String
        let spool: String
        let prefix: String
        let config: String
        let cluster: PostgresCluster
        let server: S3TestServer

        /// - Parameter endpoint: where the async S3 store is reached (the proxy, or moto itself).
        init(endpoint: (S3TestServer) throws -> String) throws {
            ws = try Workspace()
            store = try ws.mkdir("store")
            spool = try ws.mkdir("spool")
            server = try S3TestServer.get()
            prefix = "ship-\(UUID().uuidString.prefix(8).lowercased())"
            let keyFile = try ws.write("s3-key-id", server.accessKeyID + "\n")
            let secretFile = try ws.write("s3-secret", server.secretAccessKey + "\n")
            let passphraseFile = try ws.write("passphrase", "shipping passphrase\n")
            let cacheParent = try ws.mkdir("keycache")
            chmod(cacheParent, 0o1777)
            let pgdata = ws.file("pgdata")
            config = try ws.config(
                stores: [store],
                extra: """
                    pgdata = "\(pgdata)"
                    conninfo = "host=\(ws.path) port=PORT user=postgres dbname=postgres"
                    spool = "\(spool)"
                    [encryption]
                    passphrase_file = "\(passphraseFile)"
                    key_cache = "\(cacheParent)"
                    """,
                storeSections: """
                    [[stores]]
                    name = "local"
                    type = "local"
                    path = "\(store)"

                    \(server.storeSection(prefix: prefix, keyFile: keyFile, secretFile: secretFile, endpoint: try endpoint(server), extra: "mode = \"async\""))

                    """)
            cluster = PostgresCluster(workspace: ws, name: "pgdata")
            try cluster.initdb(settings: [
                "wal_level": "replica", "archive_mode": "on", "archive_timeout": "60",
                "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
            ])
            try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
                .write(toFile: config, atomically: true, encoding: .utf8)
            try ws.giveToPostgres()
            for secret in ["passphrase", "s3-key-id", "s3-secret", "walvault.toml"] { chmod(ws.file(secret), 0o600) }
        }

        func walvault(_ arguments: [String]) throws -> ProcessResult {
            try ws.walvault(["--config", config] + arguments, asPostgres: true)
        }

        /// What `info --json` says of the cloud store's queue.
        func queued() throws -> Int {
            let info = try walvault(["info", "--json"])
            guard info.status == 0, let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any],
                let stores = json["stores"] as? [[String: Any]], let cloud = stores.first(where: { $0["name"] as? String == "cloud" })
            else {
                throw TestFailure("info failed: \(info.stderr)")
            }
            return cloud["queuedObjects"] as? Int ?? -1
        }

        /// Every object of the cluster in the bucket, by store key, with its SHA-256 (boto3, the
        /// IAM user's key: what anyone with the bucket would see).
        func bucketObjects() throws -> [String: String] {
            let script = """
                import boto3, hashlib, sys
                s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4])
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[5], Prefix=sys.argv[6] + "/"):
                    for item in page.get("Contents", []):
                        body = s3.get_object(Bucket=sys.argv[5], Key=item["Key"])["Body"].read()
                        print(item["Key"][len(sys.argv[6]) + 1:], hashlib.sha256(body).hexdigest())
                """
            let result = try run(
                "/usr/bin/env",
                [
                    "python3", "-c", script, server.endpoint, server.region, server.accessKeyID, server.secretAccessKey,
                    server.bucket, prefix
                ])
            guard result.status == 0 else { throw TestFailure("listing the bucket failed: \(result.stderr)") }
            var objects: [String: String] = [:]
            for line in result.stdout.split(separator: "\n") {
                let fields = line.split(separator: " ")
                objects[String(fields[0])] = String(fields[1])
            }
            return objects
        }

        /// The local store's objects of the cluster, the same way.
        func localObjects() throws -> [String: String] {
            var objects: [String: String] = [:]
            for file in filesRecursively(store) where file.hasPrefix("main/") && !file.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
                let result = try run("/usr/bin/sha256sum", [store + "/" + file])
                objects[file] = String(result.stdout.prefix(64))
            }
            return objects
        }

        func waitUntilShipped(seconds: Int = 120) throws {
            for _ in 0..<(seconds * 2) {
                if try queued() == 0 { return }
                usleep(500_000)
            }
            throw TestFailure(
                "the queue did not drain; ship.log: \((try? String(contentsOfFile: spool + "/ship.log", encoding: .utf8))?.suffix(2000) ?? "")")
        }
    }

    @Test func anUnreachableCloudNeverStallsArchivingAndTheBucketAloneRestores() throws {
        let proxy = try FaultProxy()
        let rig = try Rig { _ in proxy.endpoint }
        try proxy.inject("refuse")
        try rig.cluster.start()

        // WAL while the bucket is unreachable: PostgreSQL never sees a failure.
        try run(
            Fixture.postgresBin + "/pgbench", ["-i", "-s", "4", "-h", rig.ws.path, "-p", "\(rig.cluster.port)", "-U", "postgres", "postgres"],
            asPostgres: true)
        try run(
            Fixture.postgresBin + "/pgbench", ["-c", "2", "-t", "300", "-h", rig.ws.path, "-p", "\(rig.cluster.port)", "-U", "postgres", "postgres"],
            asPostgres: true)
        let backup = try rig.walvault(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(backup.stdout.contains("queued for cloud"))
        try rig.cluster.sql("CREATE TABLE after_backup AS SELECT g FROM generate_series(1, 777) g")
        let last = try rig.cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        let stats = try rig.cluster.waitForArchive(of: last)
        #expect(stats.failed == 0, "archive_command failed while the cloud was unreachable")
        #expect(try rig.cluster.sql("SELECT failed_count FROM pg_stat_archiver") == "0")
        let backlog = try rig.queued()
        #expect(backlog > 10, "the queue holds what could not be shipped")
        #expect(try proxy.injected() >= 0)
        #expect(try rig.bucketObjects().isEmpty)

        // The bucket comes back: the next push starts a shipper, and the queue drains.
        try proxy.inject("clear")
        let next = try rig.cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        _ = try rig.cluster.waitForArchive(of: next)
        try rig.waitUntilShipped()
        #expect(try rig.cluster.sql("SELECT failed_count FROM pg_stat_archiver") == "0")
        let local = try rig.localObjects()
        let cloud = try rig.bucketObjects()
        #expect(Set(cloud.keys) == Set(local.keys), "missing: \(Set(local.keys).subtracting(cloud.keys).sorted().prefix(5))")
        for (key, sha) in local { #expect(cloud[key] == sha, "\(key) differs in the bucket") }

        // A new machine with nothing but a config naming the bucket.
        let expected =
            try rig.cluster.sql("SELECT count(*) FROM after_backup") + "|" + (try rig.cluster.sql("SELECT sum(abalance) FROM pgbench_accounts"))
        try rig.cluster.stop(mode: "immediate")
        let text = try String(contentsOfFile: rig.config, encoding: .utf8)
        let cloudOnly =
            text.components(separatedBy: "[[stores]]\nname = \"local\"")[0]
            + "[[stores]]"
            + text.components(separatedBy: "[[stores]]").last!
            .replacingOccurrences(of: "mode = \"async\"\n", with: "")
            .replacingOccurrences(of: proxy.endpoint, with: rig.server.endpoint)
        let cloudConfig = try rig.ws.write("cloud-only.toml", cloudOnly.replacingOccurrences(of: "spool = \"\(rig.spool)\"\n", with: ""))
        try rig.ws.giveToPostgres()
        chmod(cloudConfig, 0o600)
        let newData = rig.ws.file("restored")
        let restore = try rig.ws.walvault(["--config", cloudConfig, "restore", "--pgdata", newData, "--target", "latest"], asPostgres: true)
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        // Recovery must fetch from the bucket too: point restore_command at the cloud-only config.
        let restored = PostgresCluster(workspace: rig.ws, pgdata: newData, port: rig.cluster.port)
        try FileManager.default.removeItem(atPath: rig.store)
        try restored.start()
        try restored.waitForPromotion()
        #expect(
            try restored.sql("SELECT count(*) FROM after_backup") + "|" + (try restored.sql("SELECT sum(abalance) FROM pgbench_accounts")) == expected
        )
        try restored.stop()
    }

    @Test func killingTheShipperAtRandomMomentsLosesNothing() throws {
        let proxy = try FaultProxy()
        let rig = try Rig { _ in proxy.endpoint }
        try proxy.inject("refuse")
        try rig.cluster.start()
        try run(
            Fixture.postgresBin + "/pgbench", ["-i", "-s", "3", "-h", rig.ws.path, "-p", "\(rig.cluster.port)", "-U", "postgres", "postgres"],
            asPostgres: true)
        for _ in 0..<6 {
            try rig.cluster.sql("INSERT INTO pgbench_history SELECT 1, 1, 1, g, now() FROM generate_series(1, 20000) g")
            _ = try rig.cluster.waitForArchive(of: try rig.cluster.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        }
        let backup = try rig.walvault(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        try rig.cluster.stop()
        // Let shippers started while the bucket was unreachable give up before the kills begin: a
        // ship run exits 0 at once while another holds the lock, and 1 once it can try and fail.
        var gaveUp = false
        for _ in 0..<100 where !gaveUp { gaveUp = try rig.walvault(["ship"]).status != 0 }
        #expect(gaveUp)
        let queuedBefore = try rig.queued()
        #expect(queuedBefore > 10)
        try proxy.inject("clear")

        var kills = 0
        for round in 0..<8 {
            let pid = try spawn(rig.ws.walvault, ["--config", rig.config, "ship"], asPostgres: true)
            usleep(useconds_t(UInt32.random(in: 20_000...(round < 4 ? 150_000 : 600_000))))
            // runuser forwards nothing on SIGKILL: kill the walvault process itself.
            let found = try run("/usr/bin/pkill", ["-9", "-f", "--", "--config \(rig.config) ship"])
            if found.status == 0 { kills += 1 }
            _ = waitFor(pid)
        }
        #expect(kills >= 4, "the shipper was killed mid-run \(kills) times")
        let finish = try rig.walvault(["ship"])
        #expect(finish.status == 0, "\(finish.stderr)")
        #expect(try rig.queued() == 0)
        let local = try rig.localObjects()
        let cloud = try rig.bucketObjects()
        #expect(Set(cloud.keys) == Set(local.keys), "missing: \(Set(local.keys).subtracting(cloud.keys).sorted().prefix(5))")
        for (key, sha) in local { #expect(cloud[key] == sha, "\(key) differs in the bucket") }
    }
}
