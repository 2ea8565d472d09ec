import Foundation
import PackagePlugin

/// Writes the commit being built, and when that commit was first built here, into a Swift file
/// of the target it is applied to, before every build. The file is rewritten only when the commit
/// changes, so an unchanged tree recompiles nothing; a manifest's own git information is cached
/// with the manifest and would go on naming an old commit.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "GeneratedBuildInfo.swift")
        let script = """
            commit=$(git -C "$1" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
            if [ "$commit" != unknown ] && [ -n "$(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null | head -1)" ]; then
              commit="$commit+changes"
            fi
            if [ -f "$2" ] && grep -qF "commit = \\"$commit\\"" "$2"; then exit 0; fi
            printf 'enum GeneratedBuildInfo {\\n    static let commit = "%s"\\n    static let date = "%s"\\n}\\n' "$commit" "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >"$2.tmp"
            mv "$2.tmp" "$2"
            """
        return [
            .prebuildCommand(
                displayName: "Recording the commit walvault is built from",
                executable: URL(filePath: "/bin/sh"),
                arguments: ["-c", script, "build-info", context.package.directoryURL.path(), output.path()],
                outputFilesDirectory: context.pluginWorkDirectoryURL)
        ]
    }
}
