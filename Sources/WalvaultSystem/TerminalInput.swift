#if canImport(Glibc)
    import Glibc
#endif

/// Questions asked at a terminal: `walvault init` fills in what its flags left out, and the owner
/// commands read passwords. Prompts go to stderr, so stdout stays the command's result.
public enum TerminalInput {
    public static var isInteractive: Bool { isatty(0) == 1 }

    /// One line from standard input, without echo when it is a terminal.
    public static func secretLine(prompt: String) -> String? {
        let terminal = isatty(0) == 1
        var saved = termios()
        if terminal {
            // Echo off before the prompt: whatever is typed once the prompt shows is never echoed.
            tcgetattr(0, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSANOW, &quiet)
            say(prompt)
        }
        defer {
            if terminal {
                tcsetattr(0, TCSANOW, &saved)
                say("\n")
            }
        }
        return readLine(strippingNewline: true)
    }

    /// The answer, or `suggested` when the line is empty; nil at end of input.
    public static func ask(_ question: String, suggested: String? = nil) -> String? {
        say(question + (suggested.map { " [\($0)]" } ?? "") + ": ")
        guard let line = readLine(strippingNewline: true) else { return nil }
        let answer = String(line.drop { $0 == " " })
        return answer.isEmpty ? suggested : answer
    }

    public static func confirm(_ question: String, suggested: Bool) -> Bool {
        while true {
            guard let answer = ask(question + (suggested ? " (Y/n)" : " (y/N)")) else { return suggested }
            switch answer.lowercased() {
            case "": return suggested
            case "y", "yes": return true
            case "n", "no": return false
            default: continue
            }
        }
    }

    private static func say(_ text: String) {
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
