#!/usr/bin/env bash
# Benchmark (issue 31): synchronous archive-push against pgBackRest and against the floor, in one run.
#   ${COUNT:-24} real pgbench WAL segments, one process per segment as PostgreSQL's archiver runs
#   them, into a fresh local store each round, zstd level 3 for both tools, ${ROUNDS:-7} rounds
#   alternating which tool goes first.
# The floor: the CPU that zstd -3 and SHA-256 of the same bytes take in one process each, no start-up
# per segment (`zstd -3 -c`, `openssl dgst -sha256`, page cache warm). Each line prints walvault ÷
# floor beside walvault ÷ pgBackRest. Then the page cache each tool leaves behind: how much of what
# it wrote into its store is still cached after the pushes (fincore), memory taken from the database.
# Last (as root, with a memory cgroup), the database's page cache under pressure: a hot table
# (pgbench_accounts' file, read twice) and then ${CACHE_COUNT:-64} segments (1 GiB) pushed by each tool in
# turn, all inside a memory cgroup of the table's size plus ${HEADROOM_MIB:-256} MiB, caches dropped
# before; fincore tells how much of the table is still cached after the pushes.
# Not a test: nothing here passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc zstd openssl" bash scripts/setup.sh
source scripts/lib.sh

rounds=${ROUNDS:-7}
count=${COUNT:-24}
cache_count=${CACHE_COUNT:-64}
headroom_mib=${HEADROOM_MIB:-256}
bin_dir=$(build_release)
work=$(make_workdir bench-floor)
pgdata="$work/pgdata"; segments="$work/segments"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$segments"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
generate_wal "$pgdata" "$work" "$port" "$segments" "$(( count > cache_count ? count : cache_count ))"
cache_wal=("${wal[@]:0:$cache_count}"); wal=("${wal[@]:0:$count}")
table="$pgdata/$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -d postgres -c "SELECT pg_relation_filepath('pgbench_accounts')")"
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast stop >/dev/null

write_pgbackrest_conf "$work/pgbackrest.conf" "$work" "$work/pgbr-repo" "$pgdata" "$port" "archive-async=n"
write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/wv-store"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

# One loop: a fresh repository, then one process per segment, under GNU time (which counts the
# children's CPU). Prints "wall user system" in seconds.
cat >"$work/loop.sh" <<'LOOP'
set -euo pipefail
tool=$1; work=$2; shift 2
if [ "$tool" = walvault ]; then
  rm -rf "$work/wv-store"; mkdir -p "$work/wv-store"
else
  rm -rf "${work:?}/pgbr-repo" "${work:?}/pgbr-lock"; mkdir -p "$work/pgbr-repo"
  pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --no-online stanza-create >/dev/null
fi
sync
[ "${WARM:-1}" = 0 ] || cat "$work"/segments/* >/dev/null
/usr/bin/time -f "%e %U %S" -o "$work/time-$tool" bash -c '
  tool=$1; work=$2; shift 2
  for seg in "$@"; do
    if [ "$tool" = walvault ]; then "$work/bin/walvault" --config "$work/walvault.toml" archive-push "$work/segments/$seg"
    else pgbackrest --config="$work/pgbackrest.conf" --stanza=bench archive-push "$work/segments/$seg"; fi
  done' _ "$tool" "$work" "$@"
cat "$work/time-$tool"
LOOP

cd "$segments"
cat "${wal[@]}" >/dev/null
floor_zstd=$(cpu_seconds zstd -3 -q -c "${wal[@]}")
floor_sha=$(cpu_seconds openssl dgst -sha256 "${wal[@]}")
cd - >/dev/null
floor=$(echo "$floor_zstd + $floor_sha" | bc -l)

declare -a wv_wall wv_cpu pb_wall pb_cpu
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then order=(walvault pgbackrest); else order=(pgbackrest walvault); fi
  for tool in "${order[@]}"; do
    read -r wall user sys < <(as_pg bash "$work/loop.sh" "$tool" "$work" "${wal[@]}" | tail -1)
    cpu=$(echo "$user + $sys" | bc -l)
    if [ "$tool" = walvault ]; then wv_wall+=("$wall"); wv_cpu+=("$cpu"); else pb_wall+=("$wall"); pb_cpu+=("$cpu"); fi
  done
  echo "round $r: walvault ${wv_wall[-1]} s wall, ${wv_cpu[-1]} s CPU; pgbackrest ${pb_wall[-1]} s wall, ${pb_cpu[-1]} s CPU" >&2
done
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
r2() { printf '%.2f' "$(echo "$1" | bc -l)"; }
wvw=$(median "${wv_wall[@]}"); wvc=$(median "${wv_cpu[@]}"); pbw=$(median "${pb_wall[@]}"); pbc=$(median "${pb_cpu[@]}")

# What each tool left in the page cache of what it wrote (the last round's store), in KiB.
cached_kib() { find "$1" -type f -print0 | xargs -0 -r fincore -b -n -o RES 2>/dev/null | awk '{ s += $1 } END { printf "%d", s / 1024 }'; }
stored_kib() { du -sk "$1" | cut -f1; }
wv_cached=$(cached_kib "$work/wv-store"); pb_cached=$(cached_kib "$work/pgbr-repo")

mb=$(echo "$count * 16" | bc)
echo
echo "archive-push, $count real 16 MiB WAL segments ($mb MiB), one process each, local store, zstd 3; median of $rounds rounds"
echo "floor on one core: zstd -3 ${floor_zstd} s + SHA-256 ${floor_sha} s = $(r2 "$floor") s of CPU"
echo "| measure | walvault | pgBackRest | walvault ÷ floor | walvault ÷ pgBackRest | target |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| CPU, all segments | ${wvc} s ($(r2 "$wvc * 1000 / $count") ms a segment) | ${pbc} s | $(r2 "$wvc / $floor") | $(r2 "$wvc / $pbc") | ÷ floor ≤ 1.2 |"
echo "| wall, all segments | ${wvw} s | ${pbw} s | $(r2 "$wvw / $floor") | $(r2 "$wvw / $pbw") | ÷ pgBackRest ≤ 0.6 |"
echo "| left in the page cache of what it stored | ${wv_cached} KiB of $(stored_kib "$work/wv-store") KiB | ${pb_cached} KiB of $(stored_kib "$work/pgbr-repo") KiB | | | not the database's memory |"

# The database's page cache under memory pressure: everything from the table's first read on runs
# in a memory cgroup (v2 memory.max or v1 memory.limit_in_bytes) that holds the table and
# HEADROOM_MIB more; the segments are read cold by the tool, as a server short of memory would.
cgroup_root=""
if [ "$(id -u)" -eq 0 ]; then
  if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then cgroup_root=/sys/fs/cgroup; limit_file=memory.max
  elif [ -d /sys/fs/cgroup/memory ]; then cgroup_root=/sys/fs/cgroup/memory; limit_file=memory.limit_in_bytes; fi
fi
if [ -z "$cgroup_root" ]; then
  echo "| the database's page cache after pushing $cache_count segments | not measured: needs root and a memory cgroup | | | | |"
  exit 0
fi
table_kib=$(( $(stat -c %s "$table") / 1024 ))
declare -A table_cached
for tool in walvault pgbackrest; do
  cg="$cgroup_root/walvault-bench-$$-$tool"
  mkdir "$cg"
  echo $(( (table_kib + headroom_mib * 1024) * 1024 )) >"$cg/$limit_file"
  sync; echo 3 >/proc/sys/vm/drop_caches
  ( echo "$BASHPID" >"$cg/cgroup.procs"
    cat "$table" >/dev/null; cat "$table" >/dev/null
    as_pg env WARM=0 bash "$work/loop.sh" "$tool" "$work" "${cache_wal[@]}" >/dev/null )
  table_cached[$tool]=$(fincore -b -n -o RES "$table" | awk '{ printf "%d", $1 / 1024 }')
  rmdir "$cg" 2>/dev/null || true
done
pct() { printf '%.0f' "$(echo "${table_cached[$1]} * 100 / $table_kib" | bc -l)"; }
echo "| hot table (pgbench_accounts, $table_kib KiB, read twice) still cached after pushing $cache_count segments in a cgroup of it + $headroom_mib MiB | ${table_cached[walvault]} KiB ($(pct walvault) %) | ${table_cached[pgbackrest]} KiB ($(pct pgbackrest) %) | | | not evicted |"
