#!/usr/bin/env bash
# Benchmark: walvault verify against pgbackrest verify on the same data, in one run: a pgbench
# database (scale ${SCALE:-100}, about 1.5 GB) backed up by both tools (zstd level 3) with the WAL
# both archived; then the end-to-end time of walvault drill on that backup. Verify throughput is
# MB/s of stored data (backups plus WAL, as each tool stores them). Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc" bash scripts/setup.sh
source scripts/lib.sh

scale=${SCALE:-100}
workers=$(nproc)
bin_dir=$(build_release)
work=$(make_workdir bench-verify)
pgdata="$work/pgdata"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$work/wv-store" "$work/pgbr-repo" "$work/drills"

write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/wv-store"
write_pgbackrest_conf "$work/pgbackrest.conf" "$work" "$work/pgbr-repo" "$pgdata" "$port" "process-max=$workers" "start-fast=y" "repo1-retention-full=9"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

echo "== pgbench -i -s $scale into a PostgreSQL 15 cluster archiving through both tools"
start_archiving_cluster "$pgdata" "$work" "$port" \
  "$work/bin/walvault --config $work/walvault.toml archive-push %p && pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p" \
  "max_wal_size = 4GB"
as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "CHECKPOINT" -c "SELECT pg_switch_wal()" >/dev/null
as_pg "$work/bin/walvault" --config "$work/walvault.toml" backup >/dev/null
as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --type=full backup
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -c 2 -t 2000 postgres >/dev/null 2>&1
last=$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 300); do
  done_file=$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT last_archived_wal FROM pg_stat_archiver")
  [ "$done_file" \> "$last" ] || [ "$done_file" = "$last" ] && break
  sleep 0.2
done

measure() {
  as_pg /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/cmd.out" 2>&1 || { cat "$work/cmd.out" >&2; exit 1; }
  tail -1 "$work/time.out"
}
wv_bytes=$(du -sb "$work/wv-store/bench" | cut -f1)
pb_bytes=$(du -sb "$work/pgbr-repo" | cut -f1)
# Rounds alternate the two tools, each from a cold page cache; the medians are reported.
rounds=${ROUNDS:-3}
wv_times=(); pb_times=(); wv_kb=0; pb_kb=0
for round in $(seq 1 "$rounds"); do
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  read -r s kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" verify)
  wv_times+=("$s"); [ "$kb" -gt "$wv_kb" ] && wv_kb=$kb
  cp "$work/cmd.out" "$work/wv-verify.out"
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  # At info level pgBackRest's verify ends with how many WAL files and backup files it checked.
  read -r s kb < <(measure pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --log-level-console=info verify)
  pb_times+=("$s"); [ "$kb" -gt "$pb_kb" ] && pb_kb=$kb
  cp "$work/cmd.out" "$work/pb-verify.out"
  echo "round $round: walvault ${wv_times[-1]} s, pgbackrest ${pb_times[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wv_s=$(median "${wv_times[@]}"); pb_s=$(median "${pb_times[@]}")
read -r dr_s dr_kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" drill --directory "$work/drills")
cp "$work/cmd.out" "$work/drill.out"

echo
echo "walvault verify output (last lines):"; tail -3 "$work/wv-verify.out"
echo "pgbackrest verify output (last lines):"; tail -4 "$work/pb-verify.out"
echo "walvault drill output:"; cat "$work/drill.out"
mbps() { echo "scale=1; $1 / 1000000 / $2" | bc -l; }
# The floor: the bytes walvault checksummed (its own count) through zstd decompression and
# SHA-256 on every core with no I/O (lib.sh floor_mbps on a sample of the data directory).
checksummed_mb=$(grep -o '[0-9.]* MB checksummed' "$work/wv-verify.out" | awk '{ print $1 }')
data_sample "$pgdata" "$work/sample"
floor_rate=$(floor_mbps "$work/sample" decompress)
rm -f "$work/sample"
floor_s=$(echo "$checksummed_mb / $floor_rate" | bc -l)
echo
echo "verify of pgbench scale $scale: backup plus WAL, cold page cache, $workers workers each, median of $rounds rounds"
printf '  walvault verify    %7.2f s  %7.1f MB/s of %d stored bytes  peak RSS %6.1f MiB\n' "$wv_s" "$(mbps "$wv_bytes" "$wv_s")" "$wv_bytes" "$(echo "$wv_kb/1024" | bc -l)"
printf '  pgbackrest verify  %7.2f s  %7.1f MB/s of %d stored bytes  peak RSS %6.1f MiB\n' "$pb_s" "$(mbps "$pb_bytes" "$pb_s")" "$pb_bytes" "$(echo "$pb_kb/1024" | bc -l)"
printf '  floor: the %s MB walvault checksummed, through zstd -d and SHA-256 on every core, no I/O  %7.2f s\n' "$checksummed_mb" "$floor_s"
printf '  throughput ratio walvault/pgbackrest (MB/s): %.2f (target >= 1.0), walvault/floor %.2f\n' "$(echo "($wv_bytes/$wv_s)/($pb_bytes/$pb_s)" | bc -l)" "$(echo "$floor_s/$wv_s" | bc -l)"
printf '  walvault drill end to end %.2f s, peak RSS %.1f MiB\n' "$dr_s" "$(echo "$dr_kb/1024" | bc -l)"
