import CShims

public enum ProcessHardening {
    /// Called once a passphrase is in memory: a crash then leaves no core file to carry it,
    /// and other processes of the same user cannot attach to read it.
    @discardableResult
    public static func disableCoreDumps() -> Bool { wv_disable_core_dumps() == 0 }
}
