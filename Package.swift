// swift-tools-version:6.0
import PackageDescription

/// One target per layer, in the order docs/architecture.md lists them; every import is declared here,
/// and scripts/check-imports.py checks both.
let package = Package(
    name: "walvault",
    products: [
        .executable(name: "walvault", targets: ["walvault"]),
        .executable(name: "walvault-server", targets: ["WalvaultServerExecutable"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The CLI's lines on stderr, as text or JSON (--log-format).
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The web stack, linked only into walvault-server.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/JohnSundell/Ink", from: "0.6.0")
    ],
    targets: [
        // System C libraries, found through pkg-config.
        // No pkgConfig for libpq: SwiftPM would add pkg-config's -lpq to every binary importing it, and
        // WalvaultPostgres loads libpq with dlopen instead (see LibPQ.swift). The header is found by path.
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        // No pkgConfig for libcurl either: WalvaultHTTP loads it with dlopen (see LibCurl.swift).
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The TOTP enrolment's QR code, for walvault-server only.
        .systemLibrary(name: "CQREncode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        // Typed wrappers for the variadic and macro C APIs Swift cannot call directly. libcurl's
        // are apart so that the archive-push binary does not load libcurl (and its ~25 dependent
        // libraries) at every start until a store actually speaks HTTP.
        .target(name: "CShims", dependencies: ["CZlib"]),
        .target(name: "CCurlShims", dependencies: ["CCurl"]),

        .target(name: "WalvaultSystem", dependencies: ["CShims"]),
        // Decisions with no I/O at all: it imports nothing, so the compiler keeps it pure.
        .target(name: "WalvaultPolicy"),
        .target(name: "WalvaultConfig", dependencies: ["WalvaultSystem", "WalvaultPipeline", "TOMLKit"]),
        .target(
            name: "WalvaultPipeline",
            dependencies: ["WalvaultSystem", "COpenSSL", "CZstd", "CLZ4", "CZlib", "CShims"]),
        // HTTP for the network stores, over libcurl loaded on first use.
        .target(name: "WalvaultHTTP", dependencies: ["WalvaultSystem", "CCurl", "CCurlShims"]),
        .target(name: "WalvaultStores", dependencies: ["WalvaultSystem", "WalvaultPipeline", "WalvaultHTTP"]),
        .target(name: "WalvaultPostgres", dependencies: ["WalvaultSystem", "CLibPQ"]),
        // The control-plane schema: Migrations/*.sql compiled into the binary.
        .target(
            name: "WalvaultMigrations", path: "Migrations", exclude: ["README.md"],
            resources: [
                .embedInCode("0001_control_plane.sql"), .embedInCode("0002_expiry.sql"), .embedInCode("0003_exports.sql"),
                .embedInCode("0004_actor.sql"), .embedInCode("0005_dashboard.sql")
            ]),
        // The documentation: docs/*.md compiled into walvault-server for its Docs page.
        .target(
            name: "WalvaultDocs", path: "docs", exclude: ["architecture.md", "images"],
            resources: [
                .embedInCode("backup-strategy.md"), .embedInCode("admin-guide.md"), .embedInCode("cloud-setup.md"),
                .embedInCode("disaster-recovery.md"), .embedInCode("restore.md"),
                .embedInCode("encryption.md"), .embedInCode("troubleshooting.md")
            ]),
        // The cron files and systemd units of postgres-conf/, compiled into walvault for `init --schedule`.
        .target(
            name: "WalvaultSchedules", path: "postgres-conf", exclude: ["README.md", "archiving.conf"],
            resources: [
                .embedInCode("walvault-backup.cron"), .embedInCode("walvault-checks.cron"), .embedInCode("walvault-backup.service"),
                .embedInCode("walvault-backup.timer"), .embedInCode("walvault-check.service"), .embedInCode("walvault-check.timer"),
                .embedInCode("walvault-verify.service"), .embedInCode("walvault-verify.timer"), .embedInCode("walvault-drill.service"),
                .embedInCode("walvault-drill.timer"), .embedInCode("walvault-ship.service"), .embedInCode("walvault-files.service"),
                .embedInCode("walvault-files.timer")
            ]),
        .target(
            name: "WalvaultHistory",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultCatalog", "WalvaultPostgres", "WalvaultMigrations", "COpenSSL"
            ]),
        // What the bytes mean: formats and pure planners, no store I/O.
        .target(
            name: "WalvaultCatalog",
            dependencies: ["WalvaultSystem", "WalvaultPolicy", "WalvaultPipeline", "TOMLKit"]),
        // Where things live in the stores and how they are read back: layout, object names, the
        // archive binding, the inventory every command reads through, verified fetching.
        .target(
            name: "WalvaultRepository",
            dependencies: ["WalvaultSystem", "WalvaultPolicy", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog"]),
        // The kit every capability below stands on: the context, errors, events and progress, the
        // worker pool, the lock, status files, queueing for async stores and the child programs.
        .target(
            name: "WalvaultKit",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog",
                "WalvaultRepository", "WalvaultPostgres", "WalvaultPolicy", "CShims"
            ]),
        // One module per capability. archive-push's links neither alerts, history nor exports.
        .target(
            name: "WalvaultAlerts",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog",
                "WalvaultRepository", "WalvaultHTTP", "WalvaultPolicy", "WalvaultKit"
            ]),
        .target(
            name: "WalvaultShipping",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultStores", "WalvaultCatalog", "WalvaultRepository", "WalvaultPolicy", "WalvaultKit"
            ]),
        .target(
            name: "WalvaultArchive",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog",
                "WalvaultRepository", "WalvaultPolicy", "WalvaultKit"
            ]),
        .target(
            name: "WalvaultBackup",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog",
                "WalvaultRepository", "WalvaultPostgres", "WalvaultPolicy", "WalvaultKit"
            ]),
        // [[storage]] trees: content-defined chunks in packs, snapshots, restore.
        .target(
            name: "WalvaultFiles",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog", "WalvaultRepository", "WalvaultKit"
            ]),
        .target(
            name: "WalvaultExports",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog",
                "WalvaultRepository", "WalvaultPostgres", "WalvaultHistory", "WalvaultKit", "WalvaultShipping"
            ]),
        .target(
            name: "WalvaultDrill",
            dependencies: ["WalvaultSystem", "WalvaultCatalog", "WalvaultPostgres", "WalvaultKit", "WalvaultBackup"]),
        .target(
            name: "WalvaultMaintenance",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog",
                "WalvaultRepository", "WalvaultPostgres", "WalvaultHistory", "WalvaultPolicy", "WalvaultKit",
                "WalvaultAlerts", "WalvaultBackup", "WalvaultExports", "WalvaultFiles"
            ]),
        // The lifecycle around every operation (history, alerts, expire, shipper, status files),
        // shared by the CLI and the coming server.
        .target(
            name: "WalvaultService",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog", "WalvaultRepository",
                "WalvaultHistory", "WalvaultPolicy", "WalvaultKit", "WalvaultAlerts", "WalvaultShipping", "WalvaultArchive", "WalvaultBackup",
                "WalvaultExports", "WalvaultDrill", "WalvaultMaintenance", "WalvaultFiles"
            ]),
        // `--version`: the commit and build date, written by BuildInfoPlugin before each build.
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),
        .target(name: "WalvaultBuildInfo", dependencies: ["WalvaultSystem", "WalvaultCatalog"], plugins: ["BuildInfoPlugin"]),
        // walvault init: finding a cluster, checking stores, the archive settings, restart and schedules.
        .target(
            name: "WalvaultSetup",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultStores", "WalvaultCatalog", "WalvaultPolicy", "WalvaultPostgres", "WalvaultKit",
                "WalvaultSchedules"
            ]),
        // The owner's dashboard and HTTP API over the runner: Hummingbird, bcrypt and TOTP from hummingbird-auth,
        // jwt-kit for the host application's tokens, swift-mustache for the pages.
        .target(
            name: "WalvaultServer",
            dependencies: [
                "WalvaultSystem", "WalvaultPolicy", "WalvaultConfig", "WalvaultCatalog", "WalvaultRepository", "WalvaultHistory", "WalvaultKit",
                "WalvaultBackup", "WalvaultExports", "WalvaultDrill", "WalvaultDocs",
                "WalvaultMaintenance", "WalvaultService", "CQREncode",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Ink", package: "Ink")
            ],
            // The API's description, served at /api/openapi.json from the binary.
            resources: [
                .embedInCode("openapi.json"), .embedInCode("Pages/layout.mustache"), .embedInCode("Pages/login.mustache"),
                .embedInCode("Pages/overview.mustache"), .embedInCode("Pages/backups.mustache"), .embedInCode("Pages/backup.mustache"),
                .embedInCode("Pages/restore.mustache"), .embedInCode("Pages/job.mustache"), .embedInCode("Pages/exports.mustache"),
                .embedInCode("Pages/export.mustache"),
                .embedInCode("Pages/docs.mustache"),
                .embedInCode("Pages/app.js"),
                .embedInCode("Pages/app.css"), .embedInCode("Pages/favicon.svg")
            ]),
        .executableTarget(
            name: "WalvaultServerExecutable",
            dependencies: [
                "WalvaultServer", "WalvaultSystem", "WalvaultConfig", "WalvaultKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]),
        .executableTarget(
            name: "walvault",
            dependencies: [
                "WalvaultService", "WalvaultKit", "WalvaultAlerts", "WalvaultShipping", "WalvaultArchive", "WalvaultBackup", "WalvaultExports",
                "WalvaultDrill", "WalvaultMaintenance", "WalvaultPolicy", "WalvaultConfig", "WalvaultSystem", "WalvaultCatalog", "WalvaultHistory",
                "WalvaultPipeline",
                "WalvaultRepository", "WalvaultStores", "WalvaultSetup", "WalvaultBuildInfo", "WalvaultFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log")
            ]),

        // Pure logic and single-process behaviour: it starts no server.
        .testTarget(
            name: "WalvaultUnitTests",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultStores", "WalvaultCatalog", "WalvaultRepository",
                "WalvaultKit", "WalvaultAlerts", "WalvaultShipping", "WalvaultArchive", "WalvaultBackup", "WalvaultExports", "WalvaultDrill",
                "WalvaultMaintenance", "WalvaultService", "WalvaultPolicy", "WalvaultPostgres", "WalvaultHistory", "WalvaultMigrations", "CLibPQ",
                "CCurl", "CCurlShims", "WalvaultHTTP", "WalvaultServer", "WalvaultTesting", "WalvaultSetup", "WalvaultSchedules", "WalvaultFiles",
                .product(name: "JWTKit", package: "jwt-kit")
            ], linkerSettings: [.linkedLibrary("pq")]),
        // Needs the real servers .ci/run starts (PostgreSQL 15, moto) or the test starts (the Telegram
        // stand-in, the fault proxy, the alert sinks), and the built `walvault` executable.
        .testTarget(
            name: "WalvaultIntegrationTests",
            dependencies: [
                "walvault", "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultHTTP", "WalvaultStores", "WalvaultCatalog",
                "WalvaultRepository", "WalvaultPolicy", "WalvaultKit", "WalvaultArchive", "WalvaultShipping", "WalvaultMaintenance",
                "WalvaultService", "WalvaultServer", "WalvaultTesting", "WalvaultFiles", .product(name: "JWTKit", package: "jwt-kit")
            ]),
        // The stand-ins (moto for S3, the Telegram Bot API stand-in, the fault proxy, the alert sinks)
        // and the local-server helper, once for both test targets.
        .target(
            name: "WalvaultTesting",
            dependencies: [
                "WalvaultSystem", "WalvaultConfig", "WalvaultPipeline", "WalvaultHTTP",
                "WalvaultStores", "WalvaultCatalog", "WalvaultKit", .product(name: "JWTKit", package: "jwt-kit")
            ],
            path: "Tests/WalvaultTesting")
    ]
)
