#!/usr/bin/env bash
# The whole performance benchmark in one invocation, walvault against pgBackRest from Debian's
# package on this machine, zstd level 3, every number a ratio of the same run:
#   1. archive-push of 64 real segments, one process per segment      (bench-archive-push.sh)
#   2. draining a backlog of 64 ready segments: push-ahead vs async    (bench-push-ahead.sh)
#   3. archive-get of the 64 segments with prefetch, local and S3      (bench-archive-get.sh)
#   4. full backup and restore, pgbench and a mixed text/JSON data set (bench-backup.sh)
#   5. pgbench -c 4 -T 120: peak archive lag, restore and recovery    (bench-load.sh)
# Each part's full output goes to $LOG (default /tmp/walvault-bench-<time>.log); the summaries are
# printed together at the end. Takes about half an hour. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
log=${LOG:-/tmp/walvault-bench-$(date +%Y%m%d-%H%M%S).log}
: >"$log"
parts=(bench-archive-push bench-push-ahead bench-archive-get bench-backup bench-load)
summaries=()
for part in "${parts[@]}"; do
  echo "== $part (output in $log)"
  out=$(mktemp)
  started=$(date +%s)
  if ! bash "scripts/$part.sh" 2>&1 | tee -a "$log" >"$out"; then
    echo "$part failed; its output:" >&2
    tail -30 "$out" >&2
    exit 1
  fi
  summaries+=("$(awk '/^archive-push, |^draining |^archive-get of |data set \(|^pgbench -c 4/ { p = 1 } p' "$out")")
  summaries+=("  ($part took $(( $(date +%s) - started )) s)")
  rm -f "$out"
done
echo
echo "walvault $(git describe --always --dirty 2>/dev/null || echo '?') on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%s\n' "${summaries[@]}"
