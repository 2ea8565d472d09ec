import Hummingbird
import WalvaultBackup
import WalvaultCatalog
import WalvaultKit
import WalvaultService
import WalvaultSystem

/// `POST /api/restore`: a backup (`backup_id`, or the one `target_time` needs) restored as a job
/// into a new data directory, never over the running cluster's. It needs the typed RESTORE and a
/// TOTP code newer than the login.
extension DashboardServer {
    struct RestoreRequest: Decodable {
        let backupId: String?
        let targetTime: String?
        let confirmation: String?
        let totp: String?
        let pgdata: String?
        /// Into the cluster's own directory, which must be stopped; the old one is renamed aside.
        let inPlace: Bool?
    }

    struct RestoreStarted: Encodable {
        let jobId: String
        let pgdata: String
        /// How to switch over once the job has succeeded.
        let next: [String]
    }

    func addRestoreRoutes(to router: Router<ServerRequestContext>) {
        router.post("/api/restore") { request, requestContext in
            let body: RestoreRequest
            let example =
                "{\"target_time\": \"2026-12-04 03:15:00+00\" or \"backup_id\": \"20261204T031500Z\", \"confirmation\": \"RESTORE\", \"totp\": \"123456\"}"
            switch await Self.decode(RestoreRequest.self, from: request, example: example) {
            case .success(let value): body = value
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
            let options: RestoreOptions
            switch restoreOptions(body) {
            case .success(let value): options = value
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
            if let refusal = jobs.conflict(for: .restore, context: context) { return APIResponse.problem(refusal) }
            if let refusal = destructive.refusal(
                word: "RESTORE", typed: body.confirmation, code: body.totp, action: "a restore", sessionToken: requestContext.sessionToken,
                now: clock())
            {
                audit("restore", subject: body.backupId ?? body.targetTime, failed: refusal, actor: actor(request, requestContext))
                return APIResponse.problem(refusal)
            }
            let aside = body.inPlace == true ? "\(options.pgdata).before-restore-\(UTCTime.compact(WallClock.nowMicros()))" : nil
            switch await jobs.start(
                RestoreOperation(options: options, setAsideTo: aside), context: context, actor: actor(request, requestContext),
                subject: body.backupId)
            {
            case .success(let id) where aside != nil:
                let next = [
                    "when the job has succeeded, start the cluster as before (systemctl start postgresql): it replays WAL from the stores, stops at the target and promotes",
                    "the previous data directory is kept at \(aside!), never deleted: remove it yourself once the restored cluster is right"
                ]
                return APIResponse.json(RestoreStarted(jobId: id, pgdata: options.pgdata, next: next), status: .accepted)
            case .success(let id):
                let next = [
                    "when the job has succeeded, start the restored copy as the postgres user: pg_ctl -D \(options.pgdata) -o '-p 5433' start",
                    "it replays WAL from the stores, stops at the target and promotes; SELECT pg_is_in_recovery() returns false then",
                    "to switch over: stop the old server, move its data directory aside, move \(options.pgdata) to its place, start it"
                ]
                return APIResponse.json(RestoreStarted(jobId: id, pgdata: options.pgdata, next: next), status: .accepted)
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
        }
    }

    /// `target_time` ("latest" when absent) and `backup_id` as a restore and a drill take them.
    static func recoveryTarget(targetTime: String?, backupId: String?) -> Result<RecoveryTarget, CommandError> {
        var target = RecoveryTarget.latest
        if let time = targetTime, time != "latest" {
            guard let micros = RecoveryTarget.parseTime(time) else {
                return .failure(
                    CommandError(
                        problem: "target_time \"\(time)\" is not a moment", fix: "use 'YYYY-MM-DD HH:MM:SS+00' or \"latest\"",
                        errorCode: "input.invalid"))
            }
            target = .time(micros)
        }
        if let label = backupId, !BackupLabel.isValid(label) {
            return .failure(
                CommandError(problem: "backup_id \"\(label)\" is not a backup label", fix: "GET /api/backups lists them", errorCode: "input.invalid"))
        }
        return .success(target)
    }

    /// The request's fields checked before a TOTP code is spent on it.
    func restoreOptions(_ body: RestoreRequest) -> Result<RestoreOptions, CommandError> {
        func refuse(_ problem: String, _ fix: String) -> Result<RestoreOptions, CommandError> {
            .failure(CommandError(problem: problem, fix: fix, errorCode: "input.invalid"))
        }
        let target: RecoveryTarget
        switch Self.recoveryTarget(targetTime: body.targetTime, backupId: body.backupId) {
        case .success(let value): target = value
        case .failure(let refusal): return .failure(refusal)
        }
        let ownDirectory = context.config.cluster.pgdata.map { FileSystem.realPath($0) ?? $0 }
        let config = FileSystem.realPath(context.config.path) ?? context.config.path
        if body.inPlace == true {
            guard let own = context.config.cluster.pgdata else {
                return refuse("an in-place restore needs [cluster] pgdata in the config", "set pgdata, or restore into a new directory")
            }
            if let pid = RestoreDestination.runningServer(in: own) {
                return .failure(
                    CommandError(
                        problem: "the cluster in \(own) is running (postmaster pid \(pid)): an in-place restore needs it stopped",
                        fix: "stop it (systemctl stop postgresql) and ask again, or restore into a new directory; nothing was changed",
                        errorCode: "command.refused"))
            }
            if let given = body.pgdata, given != own {
                return refuse("in_place restores into [cluster] pgdata (\(own)), not \(given)", "leave pgdata out, or in_place")
            }
            return .success(
                RestoreOptions(
                    pgdata: own, target: target, backupLabel: body.backupId, restoreCommand: "\(context.launcher.executable) --config \(config)"))
        }
        let directory: String
        if let given = body.pgdata {
            let components = given.split(separator: "/")
            guard given.hasPrefix("/"), !components.isEmpty, !components.contains(where: { $0 == ".." || $0 == "." }) else {
                return refuse("pgdata \"\(given)\" is not an absolute path without . or ..", "give the new directory's full path")
            }
            // Through the real path of its parent, so a symbolic link cannot name the cluster's own directory.
            let parent = "/" + components.dropLast().joined(separator: "/")
            directory = Paths.join(FileSystem.realPath(parent) ?? parent, String(components.last!))
        } else if let ownDirectory {
            directory = "\(ownDirectory)-restored-\(UTCTime.compact(WallClock.nowMicros()))"
        } else {
            return refuse("the config has no [cluster] pgdata to put a new directory beside", "give \"pgdata\": the new directory's full path")
        }
        if directory == ownDirectory {
            return .failure(
                CommandError(
                    problem: "pgdata \(directory) is the running cluster's own data directory",
                    fix: "restore into a new directory (leave pgdata out for one beside it), or stop the cluster and send \"in_place\": true",
                    errorCode: "command.refused"))
        }
        return .success(
            RestoreOptions(
                pgdata: directory, target: target, backupLabel: body.backupId, restoreCommand: "\(context.launcher.executable) --config \(config)"))
    }
}
