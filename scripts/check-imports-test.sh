#!/usr/bin/env bash
# The import check must fail where it should: a copy of the repository with an upward import planted
# (System importing the kit), a sideways one (Archive importing Alerts) and an undeclared downward
# one (Catalog importing HTTP), each named.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
tar cf - --exclude='./.build*' --exclude=./.git . | tar xf - -C "$copy"
python3 scripts/check-imports.py --root "$copy" >/dev/null || { echo "check-imports-test: the unchanged copy should pass" >&2; exit 1; }
printf '\nimport WalvaultKit\n' >>"$copy/Sources/WalvaultSystem/Paths.swift"
printf '\nimport WalvaultHTTP\n' >>"$copy/Sources/WalvaultCatalog/LSN.swift"
# archive-push's module must not reach the alerts beside it.
printf '\nimport WalvaultAlerts\n' >>"$copy/Sources/WalvaultArchive/ArchivePush.swift"
if output=$(python3 scripts/check-imports.py --root "$copy"); then
  echo "check-imports-test: a planted upward import passed the check" >&2; exit 1
fi
grep -q "Sources/WalvaultSystem/Paths.swift: imports WalvaultKit (layer 7) from WalvaultSystem (layer 3): an arrow up" <<<"$output" \
  || { echo "check-imports-test: the upward import was not named: $output" >&2; exit 1; }
grep -q "Sources/WalvaultCatalog/LSN.swift: imports WalvaultHTTP, which Package.swift does not declare for WalvaultCatalog" <<<"$output" \
  || { echo "check-imports-test: the undeclared import was not named: $output" >&2; exit 1; }
grep -q "Sources/WalvaultArchive/ArchivePush.swift: imports WalvaultAlerts (layer 8) from WalvaultArchive (layer 8): an arrow up or sideways" <<<"$output" \
  || { echo "check-imports-test: the sideways import was not named: $output" >&2; exit 1; }
echo "check-imports-test: a planted upward, sideways and undeclared import are each refused by name"
