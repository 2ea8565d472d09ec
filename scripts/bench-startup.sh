#!/usr/bin/env bash
# archive-push's start-up, before and after a change, in one run: the release walvault built at
# BEFORE (default cddb370, the last commit before the dashboard's web stack) and at the work tree,
# timed by hyperfine without a shell: `--version` (loading and starting the binary alone) and
# archive-push of a real 16 MiB segment already in the store (the whole command: config, store,
# checksum of the segment, the identical-content answer). Not a test: it prints figures.
# Usage: bash scripts/bench-startup.sh [BEFORE_REV]   (RUNS=300 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="hyperfine" bash scripts/setup.sh
source scripts/lib.sh
before=${1:-cddb370}
runs=${RUNS:-300}
after_bin=$(build_release)
# The older binary is built once per revision and kept in /var/tmp for the next run.
before_bin="/var/tmp/walvault-at-$(git rev-parse --short "$before")"
if [ ! -x "$before_bin/walvault" ]; then
  tree=$(mktemp -d /tmp/walvault-before.XXXXXX)
  git worktree add -q --detach "$tree" "$before"
  (cd "$tree" && swift build -c release --static-swift-stdlib --product walvault >&2)
  mkdir -p "$before_bin"
  cp "$(cd "$tree" && swift build -c release --static-swift-stdlib --show-bin-path)/walvault" "$before_bin/walvault"
  git worktree remove --force "$tree"
fi
trap 'rm -rf "$work"' EXIT

work=$(make_workdir startup)
pgdata="$work/pgdata"; segments="$work/segments"; port=$(free_port)
mkdir -p "$segments" "$work/store" "$work/bin"
cp "$before_bin/walvault" "$work/bin/walvault-before"
cp "$after_bin/walvault" "$work/bin/walvault-after"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
generate_wal "$pgdata" "$work" "$port" "$segments" 1
write_walvault_config "$work/walvault.toml" main "$pgdata" "$work" "$port" "$work/store"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
segment="$segments/${wal[0]}"
as_pg "$work/bin/walvault-after" --config "$work/walvault.toml" archive-push "$segment"
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast stop >/dev/null

echo "== before: $(git rev-parse --short "$before") ($(du -m "$work/bin/walvault-before" | cut -f1) MB); after: $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes') ($(du -m "$work/bin/walvault-after" | cut -f1) MB)"
for what in "--version" "--config $work/walvault.toml archive-push $segment"; do
  as_pg hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/result.json" \
    -n before "$work/bin/walvault-before $what" -n after "$work/bin/walvault-after $what" >/dev/null
  python3 - "$work/result.json" "${what%% *}" <<'PY'
import json, statistics, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
b, a = results["before"], results["after"]
ms = lambda r, k: r[k] * 1e3
print("%-14s before median %.2f ms (mean %.2f ± %.2f), after median %.2f ms (mean %.2f ± %.2f): after/before %.3f" % (
    "archive-push" if sys.argv[2] == "--config" else sys.argv[2], ms(b, "median"), ms(b, "mean"), ms(b, "stddev"),
    ms(a, "median"), ms(a, "mean"), ms(a, "stddev"), a["median"] / b["median"]))
PY
done
