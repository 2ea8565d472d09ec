#!/usr/bin/env python3
"""The import check: every `import` of one of the package's own targets in Sources/<target>/ must be
declared in Package.swift, and must point down the layer list that docs/architecture.md carries
between <!-- layers --> and <!-- /layers -->. One line per violation; exit 1 when there is any.

Usage: check-imports.py [--root DIR]   (default: the repository this script is in)
"""
import json
import pathlib
import re
import subprocess
import sys

IMPORT = re.compile(r"^\s*(?:@testable\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def layers(architecture: pathlib.Path) -> dict:
    text = architecture.read_text()
    match = re.search(r"<!-- layers -->(.*?)<!-- /layers -->", text, re.S)
    if not match:
        sys.exit(f"check-imports: {architecture} has no <!-- layers --> list; add it (lowest layer first, one line per layer)")
    found = {}
    for number, line in enumerate(l for l in match.group(1).splitlines() if re.match(r"^\s*\d+\.", l)):
        for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", line):
            found[name] = number
    return found


def main() -> int:
    root = pathlib.Path(sys.argv[sys.argv.index("--root") + 1]) if "--root" in sys.argv else pathlib.Path(__file__).resolve().parent.parent
    package = json.loads(subprocess.run(["swift", "package", "--package-path", str(root), "dump-package"],
                                        check=True, capture_output=True, text=True).stdout)
    layer = layers(root / "docs" / "architecture.md")
    targets = {t["name"]: t for t in package["targets"]}
    declared = {}
    for name, target in targets.items():
        deps = set()
        for dependency in target.get("dependencies", []):
            for value in dependency.values():
                deps.add(value[0])
        declared[name] = deps
    problems = []
    for name, target in sorted(targets.items()):
        if target["type"] == "test" or not (root / "Sources" / name).is_dir():
            continue
        if name not in layer:
            problems.append(f"target {name} is not in the layer list of docs/architecture.md: add it to its layer")
            continue
        for source in sorted((root / "Sources" / name).rglob("*.swift")):
            for imported in sorted(set(IMPORT.findall(source.read_text()))):
                if imported not in targets or imported == name:
                    continue  # the toolchain's modules and other packages' products
                where = source.relative_to(root)
                if imported not in declared[name]:
                    problems.append(f"{where}: imports {imported}, which Package.swift does not declare for {name}: add it to its dependencies")
                if imported not in layer:
                    problems.append(f"{where}: imports {imported}, which is in no layer of docs/architecture.md")
                elif layer[imported] >= layer[name]:
                    problems.append(f"{where}: imports {imported} (layer {layer[imported] + 1}) from {name} (layer {layer[name] + 1}): "
                                    "an arrow up or sideways the layer list; move the code down, or the type it needs")
    for line in problems:
        print(f"check-imports: {line}")
    if problems:
        return 1
    print(f"check-imports: {sum(1 for t in targets.values() if t['type'] != 'test')} targets, every import declared and pointing down the layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
