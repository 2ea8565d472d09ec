/// Every stable error code walvault gives, in one table: what it means, where to look first, the
/// CLI's exit status and the HTTP status the server will answer with. `docs/troubleshooting.md` is
/// rendered from it (`markdown`), and a test keeps the two and the codes the sources give in step.
public enum ErrorRegistry {
    public struct Entry: Sendable, Equatable {
        public let code: String
        public let meaning: String
        public let firstSteps: String
        public let exitStatus: Int32
        public let httpStatus: Int
    }

    /// 1: a failure (archive-push: PostgreSQL keeps the segment and retries); 130: cancelled;
    /// 255: archive-get could not deliver a file that may exist (recovery stops, 1 in a standby).
    public static let entries: [Entry] = [
        Entry(
            code: "internal", meaning: "an error walvault has no code for: a bug", firstSteps: "report it with the line walvault printed",
            exitStatus: 1, httpStatus: 500),
        Entry(
            code: "config.invalid", meaning: "the config file, or a secret it names, is missing, unreadable or wrong",
            firstSteps: "the message names the file and key; fix that key", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "input.invalid", meaning: "an argument or name given to the command is not usable",
            firstSteps: "the message names the option; see walvault <command> --help", exitStatus: 1, httpStatus: 400),
        Entry(
            code: "command.refused", meaning: "walvault refused rather than guess: the state it found does not allow the operation",
            firstSteps: "the message says what it found and what to do", exitStatus: 1, httpStatus: 409),
        Entry(
            code: "command.child_failed", meaning: "a PostgreSQL program walvault ran (pg_dump, pg_restore, psql, pg_ctl) failed",
            firstSteps: "the message carries the program's last error line", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "operation.cancelled", meaning: "stopped on request (SIGINT, SIGTERM, a cancel call) between two units of work",
            firstSteps: "nothing half-done was kept; run it again", exitStatus: 130, httpStatus: 409),
        Entry(
            code: "operation.interrupted", meaning: "a job's process stopped (killed, the machine restarted) before the job finished",
            firstSteps: "nothing it wrote is reported as done; run it again (expire removes what a backup left)", exitStatus: 1,
            httpStatus: 409),
        Entry(
            code: "operation.conflict", meaning: "another job that must not overlap this one is running (two restores, a restore and an expire)",
            firstSteps: "the message names the running job; wait for it (GET /api/jobs, walvault status)", exitStatus: 1, httpStatus: 409),
        Entry(
            code: "drill.failed", meaning: "a restore drill restored, but the copy did not start or its checks failed",
            firstSteps: "the drill's report names the database, table or index", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "auth.required", meaning: "the dashboard or API was asked without an owner login, an owner token or a valid session",
            firstSteps: "log in again (password and TOTP code), or send the API token", exitStatus: 1, httpStatus: 401),
        Entry(
            code: "auth.forbidden", meaning: "the request was authenticated but may not do this: not the owner, no CSRF token, or no fresh TOTP code",
            firstSteps: "the message says which; destructive actions need a new code from the authenticator app", exitStatus: 1, httpStatus: 403),
        Entry(
            code: "auth.confirmation", meaning: "a destructive action (restore, delete) came without its typed confirmation word",
            firstSteps: "type the word the dialog asks for (RESTORE, DELETE) exactly", exitStatus: 1, httpStatus: 400),
        Entry(
            code: "auth.throttled", meaning: "too many failed logins from this address",
            firstSteps: "wait the seconds the message gives; each further failure doubles the wait", exitStatus: 1, httpStatus: 429),
        Entry(
            code: "store.not_found", meaning: "the store has no such object or location",
            firstSteps: "check the store's path, bucket or chat, and walvault info", exitStatus: 1, httpStatus: 404),
        Entry(
            code: "store.conflict", meaning: "an object of that name exists with other contents",
            firstSteps: "walvault never overwrites: see which run wrote it", exitStatus: 1, httpStatus: 409),
        Entry(
            code: "store.transient", meaning: "the store could not be reached or was busy, after retries",
            firstSteps: "check the network and the service; walvault check probes every store", exitStatus: 1, httpStatus: 503),
        Entry(
            code: "store.permanent", meaning: "the store refused the request", firstSteps: "the message carries the store's own answer",
            exitStatus: 1, httpStatus: 502),
        Entry(
            code: "store.auth", meaning: "the store refused the credentials", firstSteps: "check the key, secret or bot token the config names",
            exitStatus: 1, httpStatus: 502),
        Entry(
            code: "system.not_found", meaning: "a file or directory does not exist", firstSteps: "check the path in the message", exitStatus: 1,
            httpStatus: 500),
        Entry(
            code: "system.permission", meaning: "the operating system refused access",
            firstSteps: "check owner and mode; the archiver runs as postgres", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "system.no_space", meaning: "a file system or quota is full", firstSteps: "free space where the message says", exitStatus: 1,
            httpStatus: 507),
        Entry(
            code: "system.read_only", meaning: "the file system is mounted read-only", firstSteps: "remount it read-write or use another place",
            exitStatus: 1, httpStatus: 500),
        Entry(
            code: "system.wrong_kind", meaning: "a directory where a file was expected, or the other way round", firstSteps: "check the path",
            exitStatus: 1, httpStatus: 500),
        Entry(
            code: "system.exists", meaning: "something already exists under a name walvault must create",
            firstSteps: "see what it is before removing it", exitStatus: 1, httpStatus: 409),
        Entry(
            code: "system.other_file_system", meaning: "a rename or link across file systems",
            firstSteps: "keep the spool and its temporary files on one file system", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "system.io", meaning: "another operating-system error (I/O, too many files)",
            firstSteps: "the message names the call and the path; check the system log", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "pipeline.bad_data", meaning: "stored bytes do not decompress or do not match their checksum",
            firstSteps: "walvault verify names every damaged object; restore from another store", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "encryption.undecryptable", meaning: "the passphrase is wrong, or the object's header is damaged",
            firstSteps: "check [encryption] names the passphrase the archive was written with", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "encryption.not_encrypted", meaning: "an object is plaintext where the config expects encryption",
            firstSteps: "the store holds another archive, or [encryption] was added later", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "encryption.no_key", meaning: "an object is encrypted and the config has no [encryption]",
            firstSteps: "add the [encryption] section the archive was written with", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "encryption.unsupported", meaning: "an object was encrypted in a format this walvault does not read",
            firstSteps: "use the walvault version that wrote it, or a newer one", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "http.transient", meaning: "an HTTP call failed, timed out or was cut, after retries",
            firstSteps: "check the network and the endpoint", exitStatus: 1, httpStatus: 503),
        Entry(
            code: "http.permanent", meaning: "an HTTP call was refused", firstSteps: "the message carries the answer", exitStatus: 1, httpStatus: 502),
        Entry(
            code: "postgres.unreachable", meaning: "no connection to PostgreSQL", firstSteps: "check [cluster] conninfo and that the server runs",
            exitStatus: 1, httpStatus: 503),
        Entry(
            code: "postgres.refused", meaning: "PostgreSQL refused a statement", firstSteps: "the message carries the server's error; see its log",
            exitStatus: 1, httpStatus: 500),
        Entry(
            code: "repository.damaged", meaning: "what the stores hold is inconsistent (a manifest, an info file, a part)",
            firstSteps: "walvault verify; restore from another store or backup", exitStatus: 1, httpStatus: 500),
        Entry(
            code: "catalog.refused", meaning: "a backup, timeline or file name does not fit the rules recovery follows",
            firstSteps: "the message names it", exitStatus: 1, httpStatus: 409),
        Entry(
            code: "archive_get.undeliverable", meaning: "archive-get found the file but could not deliver it intact",
            firstSteps: "recovery stops rather than promote early; walvault verify", exitStatus: 255, httpStatus: 500),
        Entry(
            code: "archive_get.destination", meaning: "archive-get could not write the file where PostgreSQL asked",
            firstSteps: "check the data directory's space and permissions", exitStatus: 255, httpStatus: 500),
        Entry(
            code: "ship.queue_full", meaning: "a history row: an archived object was not queued for an async store whose queue was full",
            firstSteps: "the object is safe in the sync stores; the next ship catches up by listing", exitStatus: 0, httpStatus: 200)
    ]

    public static func entry(_ code: String) -> Entry {
        entries.first { $0.code == code } ?? entries[0]
    }

    /// The CLI's exit status for an error: its code's, or 1 for one with no code.
    public static func exitStatus(of error: Error) -> Int32 { entry(ErrorCodes.of(error)).exitStatus }

    /// docs/troubleshooting.md.
    public static func markdown() -> String {
        var lines = [
            "# Troubleshooting: walvault's error codes",
            "",
            "Every walvault error is one line: what failed (naming the file, key, store or object) and what to do.",
            "Each also has a stable code, recorded in the history table's `error_code` and in `walvault status --json`;",
            "the code decides the exit status, and will decide the HTTP API's status. This file is generated from",
            "`Sources/WalvaultSystem/ErrorRegistry.swift` (`WALVAULT_REGENERATE_DOCS=1 swift test --filter ErrorRegistryTests`).",
            "",
            "| Code | What it means | Look first at | Exit | HTTP |",
            "|---|---|---|---|---|"
        ]
        for entry in entries {
            lines.append("| `\(entry.code)` | \(entry.meaning) | \(entry.firstSteps) | \(entry.exitStatus) | \(entry.httpStatus) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
