#!/usr/bin/env bash
# Benchmark: a full base backup of a pgbench database (scale ${SCALE:-100}, about 1.5 GB) with
# walvault, pgBackRest (zstd level 3, process-max=1) and pg_basebackup -Ft -X none to a file, in
# one run; then the restore of the walvault and pgBackRest backups into empty directories.
# Prints throughput (MB/s of data directory), peak RSS and ratios. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc" bash scripts/setup.sh
source scripts/lib.sh

scale=${SCALE:-100}
bin_dir=$(build_release)
work=$(make_workdir bench-backup)
pgdata="$work/pgdata"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$work/wv-store" "$work/pgbr-repo"

write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/wv-store"
cat >"$work/pgbackrest.conf" <<CONF
[global]
repo1-path=$work/pgbr-repo
compress-type=zst
compress-level=3
process-max=1
log-level-console=warn
log-level-file=off
lock-path=$work/pgbr-lock
start-fast=y
repo1-retention-full=9

[bench]
pg1-path=$pgdata
pg1-socket-path=$work
pg1-port=$port
pg1-user=postgres
CONF
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

echo "== pgbench -i -s $scale into a PostgreSQL 15 cluster archiving through both tools"
start_archiving_cluster "$pgdata" "$work" "$port" \
  "$work/bin/walvault --config $work/walvault.toml archive-push %p && pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p" \
  "max_wal_size = 4GB"
as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "CHECKPOINT" -c "SELECT pg_switch_wal()" >/dev/null
data_bytes=$(du -sb --exclude=pg_wal "$pgdata" | cut -f1)
echo "data directory without pg_wal: $data_bytes bytes"

# Runs a command as postgres under GNU time; prints "seconds peak_kib".
measure() {
  as_pg /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/cmd.out" 2>&1 || { cat "$work/cmd.out" >&2; exit 1; }
  cat "$work/time.out" | tail -1
}
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
read -r wv_s wv_kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" backup)
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
read -r pb_s pb_kb < <(measure pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --type=full backup)
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
read -r bb_s bb_kb < <(measure bash -c "'$PG_BIN/pg_basebackup' -h '$work' -p $port -U postgres -Ft -X none -D - > '$work/base.tar'")

wv_stored=$(du -sb "$work/wv-store/bench/backup" | cut -f1)
pb_stored=$(du -sb "$work/pgbr-repo/backup" | cut -f1)

echo "== restore both into empty directories"
read -r wvr_s wvr_kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" restore --pgdata "$work/wv-restored" --target latest)
read -r pbr_s pbr_kb < <(measure pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --pg1-path="$work/pb-restored" restore)

mbps() { echo "scale=1; $data_bytes / 1000000 / $1" | bc -l; }
echo
echo "base backup of pgbench scale $scale ($((data_bytes / 1000000)) MB data directory), one run"
printf '  walvault backup           %7.2f s  %7.1f MB/s  peak RSS %6.1f MiB  stored %d bytes\n' "$wv_s" "$(mbps "$wv_s")" "$(echo "$wv_kb/1024" | bc -l)" "$wv_stored"
printf '  pgbackrest backup (zst 3) %7.2f s  %7.1f MB/s  peak RSS %6.1f MiB  stored %d bytes\n' "$pb_s" "$(mbps "$pb_s")" "$(echo "$pb_kb/1024" | bc -l)" "$pb_stored"
printf '  pg_basebackup -Ft -X none %7.2f s  %7.1f MB/s  peak RSS %6.1f MiB  (uncompressed tar)\n' "$bb_s" "$(mbps "$bb_s")" "$(echo "$bb_kb/1024" | bc -l)"
printf '  throughput ratio walvault/pgbackrest: %.2f (target >= 1.00)\n' "$(echo "$pb_s/$wv_s" | bc -l)"
printf '  restore: walvault %.2f s (peak RSS %.1f MiB), pgbackrest %.2f s (peak RSS %.1f MiB), time ratio %.2f\n' \
  "$wvr_s" "$(echo "$wvr_kb/1024" | bc -l)" "$pbr_s" "$(echo "$pbr_kb/1024" | bc -l)" "$(echo "$wvr_s/$pbr_s" | bc -l)"
