import Dispatch
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT (Ctrl-C) and SIGTERM (systemd, kill) cancel the running operation at its next safe
/// point instead of killing it mid-write; a second signal ends the process at once, as the default
/// would (what it leaves is what a kill leaves, which every operation is built to survive).
/// Dispatch sources receive the signals on a queue, so nothing runs inside a signal handler.
enum SignalCancellation {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install(command: String) -> Cancellation {
        let cancellation = Cancellation()
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                guard !cancellation.isCancelled else { _exit(128 + number) }
                cancellation.cancel()
                Output.info(
                    command, "\(number == SIGINT ? "interrupted" : "terminated"): stopping at the next safe point (a second signal stops at once)")
            }
            source.resume()
            sources.append(source)
        }
        return cancellation
    }
}
