import WalvaultPolicy

extension ArchiverCheck {
    /// `judge`, with a refusal thrown as the one-line `CommandError` every command prints.
    /// - Returns: warnings to print before the backup starts.
    public func verdict(configPath: String, forBackup: Bool = true, sameFile: (String, String) -> Bool) throws -> [String] {
        switch judge(configPath: configPath, forBackup: forBackup, sameFile: sameFile) {
        case .ready(let warnings): return warnings
        case .refused(let problem, let fix): throw CommandError(problem: problem, fix: fix)
        }
    }
}
