import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// PostgreSQL's programs joined to walvault by pipes, with an argument vector (never a shell),
/// stderr kept aside and reported as one line when the program fails.
package enum PipedProgram {
    /// Runs `executable` and hands its stdout to `body` in 1 MiB pieces as it comes. A program
    /// that ends with a status other than 0, or is killed, is a failure even when it wrote a lot:
    /// `onFailure` runs first (the caller throws away what it received), then the error is thrown.
    /// When `body` throws, the program is killed and waited for before the error goes on.
    package static func read(
        _ executable: String, _ arguments: [String], environment: [String], what: String,
        input: ChildProcess.Redirect = .devNull,
        _ body: (UnsafeRawBufferPointer) throws -> Void, onFailure: () -> Void
    ) throws {
        let errors = try CapturedOutput()
        let pipe = try ChildProcess.pipe()
        let env = PostgresPrograms.cEnvironment(environment)
        defer { PostgresPrograms.release(env) }
        let child: pid_t
        do {
            child = try ChildProcess.spawn(
                executable, arguments, input: input, output: .descriptor(pipe.write.raw),
                error: .descriptor(errors.file.raw), environment: env)
        } catch {
            onFailure()
            throw error
        }
        try? pipe.write.close()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        do {
            while true {
                let n = try pipe.read.read(into: buffer)
                if n == 0 { break }
                try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
        } catch {
            kill(child, SIGKILL)
            _ = try? ChildProcess.wait(child, executable: executable)
            onFailure()
            throw error
        }
        let status = try ChildProcess.wait(child, executable: executable)
        guard status == 0 else {
            onFailure()
            throw failure(what, status: status, errors: errors)
        }
    }

    package static func failure(
        _ what: String, status: Int32, errors: CapturedOutput,
        fix: String = "nothing was stored under a final name; fix what it says and run it again"
    ) -> CommandError {
        let said = errors.line()
        let how = status > 128 ? "was killed by signal \(status - 128)" : "failed (exit status \(status))"
        return CommandError(
            problem: "\(what) \(how)\(said.isEmpty ? "" : ": " + said)",
            fix: fix, errorCode: "command.child_failed")
    }
}
