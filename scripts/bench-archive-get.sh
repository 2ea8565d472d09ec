#!/usr/bin/env bash
# Benchmark: archive-get of the same 64 real 16 MiB WAL segments, one process per segment in order
# as PostgreSQL's startup process calls restore_command, with walvault's look-ahead
# ([performance] prefetch = 8) and without, from a local store and from an S3 store (moto on
# loopback), against pgBackRest from a local repository, synchronous and with archive-async=y
# (archive-get-queue-max = 128 MiB). zstd level 3 everywhere. Each loop runs in the data directory
# the WAL came from (its pg_control is what ties the look-ahead to the cluster), with the page
# cache dropped first (when run as root); the loops alternate order over ${ROUNDS:-3} rounds, median reported.
# Each fetched segment is compared with its original, which waits in a tmpfs copy so that the check
# costs both tools the same few milliseconds of CPU and no disk reads (dropping the cache made each
# check read its original from disk, a constant that hid both tools' times); the time reported is
# the archive-get calls' own (bash's EPOCHREALTIME around each call), with the whole loop beside it.
# Not a test: nothing here passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc zstd openssl" bash scripts/setup.sh
source scripts/lib.sh

rounds=${ROUNDS:-3}
count=64
bin_dir=$(build_release)
work=$(make_workdir bench-get)
pgdata="$work/pgdata"; segments="$work/segments"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$segments" "$work/wv-store" "$work/pgbr-repo" "$work/spool" "$work/spool-s3" "$work/pgbr-spool" "$work/fetched"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

generate_wal "$pgdata" "$work" "$port" "$segments" "$count"

echo "== the S3 test server (moto, signatures checked) on loopback"
coproc MOTO { sleep 100000 | python3 scripts/testing/s3-server.py bench-get; }
# The server and its sleep go with the script (a caller reading our output waits for them otherwise).
reference=$(mktemp -d /dev/shm/walvault-bench-get.XXXXXX)
trap 'pkill -P "$MOTO_PID" 2>/dev/null || true; rm -rf "$reference"; _cleanup_workdir' EXIT
read -r announcement <&"${MOTO[0]}"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$announcement" "$1"; }
printf '%s\n' "$(field access_key_id)" >"$work/s3-key"; printf '%s\n' "$(field secret_access_key)" >"$work/s3-secret"
chmod 600 "$work/s3-key" "$work/s3-secret"

write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/wv-store"
cat >"$work/walvault-s3.toml" <<TOML
[cluster]
name = "bench"
spool = "$work/spool-s3"

[compression]
algorithm = "zstd"
level = 3

[[stores]]
name = "cloud"
type = "s3"
endpoint = "$(field endpoint)"
region = "$(field region)"
bucket = "$(field bucket)"
prefix = "get"
path_style = true
access_key_id_file = "$work/s3-key"
secret_access_key_file = "$work/s3-secret"
TOML
for cfg in walvault walvault-s3; do
  sed "s|^\[cluster\]|[cluster]|" "$work/$cfg.toml" >"$work/$cfg-prefetch.toml"
  printf '\n[performance]\nprefetch = 8\n' >>"$work/$cfg-prefetch.toml"
  printf '\n[performance]\nprefetch = 0\n' >>"$work/$cfg.toml"
done
sed -i "s|^\[cluster\]|[cluster]\nspool = \"$work/spool\"|" "$work/walvault-prefetch.toml"
chmod 600 "$work"/walvault*.toml
write_pgbackrest_conf "$work/pgbackrest.conf" "$work" "$work/pgbr-repo" "$pgdata" "$port" "spool-path=$work/pgbr-spool" "archive-async=n" "archive-get-queue-max=128MiB" "process-max=2"
sed 's/^archive-async=n/archive-async=y/' "$work/pgbackrest.conf" >"$work/pgbackrest-async.conf"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
# Recovery reads a stopped cluster's directory: archive-get runs there, as PostgreSQL runs it.
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
for seg in "${wal[@]}"; do
  as_pg "$work/bin/walvault" --config "$work/walvault.toml" archive-push "$segments/$seg"
  as_pg "$work/bin/walvault" --config "$work/walvault-s3.toml" archive-push "$segments/$seg"
  as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench archive-push "$segments/$seg"
done

# The floor: the CPU that decompressing and hashing the stored objects takes, one process each.
floor_ms=$(cpu_seconds bash -c 'for f in "$@"; do zstd -q -d -c "$f" | openssl dgst -sha256; done' _ "$work"/wv-store/bench/wal/*/*.zst | awk '{ printf "%d", $1 * 1000 }')
cp "$segments"/* "$reference/"; chmod 755 "$reference"; [ "$(id -u)" -ne 0 ] || chown -R postgres: "$reference"

# One timed loop in the data directory, one process per segment; prints the milliseconds spent in
# the archive-get calls, then the whole loop's (checks included).
cat >"$work/loop.sh" <<'LOOP'
set -euo pipefail
tool=$1; work=$2; reference=$3; shift 3
rm -rf "$work/spool/prefetch" "$work/spool-s3/prefetch" "$work/pgbr-spool/archive"
cd "$work/pgdata"
micros() { local t=${EPOCHREALTIME/./}; echo $(( 10#$t )); }
loop_start=$(micros); in_get=0
for seg in "$@"; do
  start=$(micros)
  case $tool in
    pgbackrest*) pgbackrest --config="$work/$tool.conf" --stanza=bench archive-get "$seg" "$work/fetched/RECOVERYXLOG" ;;
    *) "$work/bin/walvault" --config "$work/$tool.toml" archive-get "$seg" "$work/fetched/RECOVERYXLOG" ;;
  esac
  in_get=$(( in_get + $(micros) - start ))
  cmp -s "$work/fetched/RECOVERYXLOG" "$reference/$seg" || { echo "$tool: $seg differs" >&2; exit 1; }
done
echo $(( in_get / 1000 )) $(( ($(micros) - loop_start) / 1000 ))
LOOP
chmod 755 "$work/loop.sh"; [ "$(id -u)" -ne 0 ] || chown postgres: "$work/loop.sh"
tools=(walvault walvault-prefetch walvault-s3 walvault-s3-prefetch pgbackrest pgbackrest-async)
declare -A times loops
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then order=("${tools[@]}"); else order=($(printf '%s\n' "${tools[@]}" | tac)); fi
  line="round $r:"
  for tool in "${order[@]}"; do
    sync; { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || true   # as root, before each loop
    read -r ms loop_ms < <(as_pg bash "$work/loop.sh" "$tool" "$work" "$reference" "${wal[@]}")
    times[$tool]+="$ms "; loops[$tool]+="$loop_ms "
    line+=" $tool $ms ms ($loop_ms);"
    # A worker left lingering by the last call must not overlap the next loop.
    sleep 3
  done
  echo "$line"
done
median() { printf '%s\n' $1 | sort -n | sed -n "$(( ($(echo $1 | wc -w) + 1) / 2 ))p"; }
mb=$(( count * 16 ))
echo
echo "archive-get of $count segments ($mb MiB), one process per segment, median of $rounds rounds"
echo "(time in the archive-get calls; the whole loop with each segment's check in brackets):"
for tool in "${tools[@]}"; do
  ms=$(median "${times[$tool]}")
  printf '  %-22s %6d ms  %6.1f MiB/s  %5.1f ms per segment  (loop %d ms)\n' "$tool" "$ms" "$(echo "$mb * 1000 / $ms" | bc -l)" "$(echo "$ms / $count" | bc -l)" "$(median "${loops[$tool]}")"
done
r() { echo "scale=2; $(median "${times[$1]}") / $(median "${times[$2]}")" | bc -l; }
echo "  floor: zstd -d | openssl dgst -sha256 of the 64 stored objects, CPU $floor_ms ms; walvault local prefetch / floor $(echo "scale=2; $(median "${times[walvault-prefetch]}") / $floor_ms" | bc -l)"
echo "  whole loops: walvault local prefetch / pgbackrest async $(echo "scale=2; $(median "${loops[walvault-prefetch]}") / $(median "${loops[pgbackrest-async]}")" | bc -l)"
echo "  ratios: walvault local prefetch / pgbackrest async $(r walvault-prefetch pgbackrest-async); walvault local no prefetch / pgbackrest sync $(r walvault pgbackrest);"
echo "          walvault S3 prefetch / S3 no prefetch $(r walvault-s3-prefetch walvault-s3); walvault S3 prefetch / pgbackrest async (local) $(r walvault-s3-prefetch pgbackrest-async)"
