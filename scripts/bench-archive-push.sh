#!/usr/bin/env bash
# Benchmark: archive-push of the same 32 real 16 MiB WAL segments, one process per segment
# (as PostgreSQL's archiver runs it), with walvault and with pgBackRest (zstd level 3, local
# repository), in one run. Prints the ratio of wall times, walvault's peak RSS, and start-up time.
# Not a test: nothing here passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc hyperfine" bash scripts/setup.sh
source scripts/lib.sh

rounds=${ROUNDS:-3}
bin_dir=$(build_release)
work=$(make_workdir bench)
pgdata="$work/pgdata"; segments="$work/segments"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$segments"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

echo "== generating real WAL with pgbench (PostgreSQL 15, 16 MiB segments)"
start_archiving_cluster "$pgdata" "$work" "$port" "cp %p $segments/%f" "max_wal_size = 4GB"
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s 10 -q postgres >/dev/null 2>&1
# Mixed OLTP WAL on top of the bulk load, until there are enough segments.
while [ "$(ls "$segments" | grep -cE '^[0-9A-F]{24}$')" -lt 34 ]; do
  as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -c 4 -j 2 -T 5 postgres >/dev/null 2>&1
  as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "SELECT pg_switch_wal()" >/dev/null
  sleep 1
done
mapfile -t wal < <(ls "$segments" | grep -E '^[0-9A-F]{24}$' | sort | sed -n '2,33p')
echo "${#wal[@]} segments: ${wal[0]} .. ${wal[31]}"

cat >"$work/pgbackrest.conf" <<CONF
[global]
repo1-path=$work/pgbr-repo
compress-type=zst
compress-level=3
log-level-console=warn
log-level-file=off
lock-path=$work/pgbr-lock
archive-async=n
start-fast=y

[bench]
pg1-path=$pgdata
pg1-socket-path=$work
pg1-port=$port
pg1-user=postgres
CONF
write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/wv-store"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

# One timed loop: a fresh repository, then one process per segment; prints milliseconds.
cat >"$work/loop.sh" <<'LOOP'
set -euo pipefail
tool=$1; work=$2; shift 2
if [ "$tool" = walvault ]; then
  rm -rf "$work/wv-store"; mkdir -p "$work/wv-store"
else
  rm -rf "$work/pgbr-repo" "$work/pgbr-lock"; mkdir -p "$work/pgbr-repo"
  pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
fi
sync
start=$(date +%s%N)
for seg in "$@"; do
  if [ "$tool" = walvault ]; then
    "$work/bin/walvault" --config "$work/walvault.toml" archive-push "$work/segments/$seg"
  else
    pgbackrest --config="$work/pgbackrest.conf" --stanza=bench archive-push "$work/segments/$seg"
  fi
done
end=$(date +%s%N)
echo $(( (end - start) / 1000000 ))
LOOP

declare -a wv_ms pb_ms
for r in $(seq 1 "$rounds"); do
  # Alternate which tool goes first so neither always gets the warmer cache.
  if (( r % 2 )); then order=(walvault pgbackrest); else order=(pgbackrest walvault); fi
  for tool in "${order[@]}"; do
    ms=$(as_pg bash "$work/loop.sh" "$tool" "$work" "${wal[@]}")
    if [ "$tool" = walvault ]; then wv_ms+=("$ms"); else pb_ms+=("$ms"); fi
  done
  echo "round $r: walvault ${wv_ms[-1]} ms, pgbackrest ${pb_ms[-1]} ms"
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
wv=$(median "${wv_ms[@]}"); pb=$(median "${pb_ms[@]}")

wv_bytes=$(du -sb "$work/wv-store" | cut -f1); pb_bytes=$(du -sb "$work/pgbr-repo" | cut -f1)

# Peak RSS, in a separate untimed pass so that /usr/bin/time does not weigh on the timings.
rm -rf "$work/wv-store"; mkdir -p "$work/wv-store"; [ "$(id -u)" -ne 0 ] || chown postgres: "$work/wv-store"
peak=0
for seg in "${wal[@]}"; do
  kb=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/walvault.toml" archive-push "$work/segments/$seg" 2>&1 >/dev/null | tail -1)
  (( kb > peak )) && peak=$kb
done

startup() {  # mean wall time in microseconds, measured by hyperfine without a shell
  hyperfine -N --warmup 10 --runs 200 --export-json "$work/startup.json" "$*" >/dev/null 2>&1
  python3 -c "import json; print(int(json.load(open('$work/startup.json'))['results'][0]['mean'] * 1e6))"
}
wv_start=$(startup "$work/bin/walvault" --version)
pb_start=$(startup pgbackrest version)

echo
echo "archive-push, 32 x 16 MiB real WAL segments, one process per segment (median of $rounds rounds)"
printf '  walvault    %6d ms   %5.1f MB/s   stored %d bytes\n' "$wv" "$(echo "32*16.777216/($wv/1000)" | bc -l)" "$wv_bytes"
printf '  pgbackrest  %6d ms   %5.1f MB/s   stored %d bytes\n' "$pb" "$(echo "32*16.777216/($pb/1000)" | bc -l)" "$pb_bytes"
printf '  ratio walvault/pgbackrest wall time: %.2f (target <= 0.80)\n' "$(echo "$wv/$pb" | bc -l)"
printf '  walvault peak RSS: %.1f MiB (target <= 32 MiB)\n' "$(echo "$peak/1024" | bc -l)"
printf '  start-up (hyperfine, 200 runs): walvault --version %d us, pgbackrest version %d us\n' "$wv_start" "$pb_start"
