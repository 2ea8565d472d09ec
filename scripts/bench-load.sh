#!/usr/bin/env bash
# Benchmark, end to end: PostgreSQL 15 under `pgbench -c 4 -T ${DURATION:-120}` with archive_timeout
# off and a small max_wal_size, archiving through walvault (push-ahead, [performance] defaults)
# and then, on a fresh cluster with the same load, through pgBackRest (archive-async=y,
# process-max=2). Samples the archive lag (segments .ready in pg_wal/archive_status) every second
# and reports its peak and mean; then restores each cluster's result (the full backup taken
# before the load plus all its WAL) and reports the restore time and the recovery time until the
# server is promoted (walvault archive-get with prefetch, pgBackRest with archive-async
# archive-get). zstd level 3, local stores. Not a test: nothing here passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc" bash scripts/setup.sh
source scripts/lib.sh

duration=${DURATION:-120}
scale=${SCALE:-20}
bin_dir=$(build_release)
work=$(make_workdir bench-load)
pgdata="$work/pgdata"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
psql_() { as_pg psql -X -q -At -h "$work" -p "$port" -U postgres "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
report=()

for tool in walvault pgbackrest; do
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgdata" "$work/store" "$work/spool" "$work/pgbr-"*
  mkdir -p "$work/store" "$work/spool"
  write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/store"
  sed -i "s|^\[cluster\]|[cluster]\nspool = \"$work/spool\"|" "$work/walvault.toml"
  write_pgbackrest_conf "$work/pgbackrest.conf" "$work" "$work/store" "$pgdata" "$port" "process-max=2" "archive-async=y" "archive-get-queue-max=1GiB" "spool-path=$work/spool" "start-fast=y"
  [ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
  case $tool in
    walvault) push="$work/bin/walvault --config $work/walvault.toml archive-push %p" ;;
    pgbackrest) push="pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p" ;;
  esac
  echo "== $tool: pgbench -i -s $scale, a full backup, then pgbench -c 4 -T $duration"
  start_archiving_cluster "$pgdata" "$work" "$port" "$push" "archive_timeout = 0" "max_wal_size = 64MB" "min_wal_size = 32MB"
  [ "$tool" = walvault ] || as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
  as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
  case $tool in
    walvault) as_pg "$work/bin/walvault" --config "$work/walvault.toml" backup >/dev/null ;;
    pgbackrest) as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --type=full backup >/dev/null ;;
  esac
  start_lsn=$(psql_ -c "SELECT pg_current_wal_lsn()")
  as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -c 4 -j 2 -T "$duration" postgres >"$work/pgbench.out" 2>&1 &
  load=$!
  : >"$work/lag"
  while kill -0 "$load" 2>/dev/null; do
    (ls "$pgdata/pg_wal/archive_status" | grep -c '\.ready$' || true) >>"$work/lag"
    sleep 1
  done
  wait "$load"
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.out" | head -1)
  wal_mb=$(psql_ -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$start_lsn') / 1048576)")
  last=$(psql_ -c "SELECT pg_walfile_name(pg_switch_wal())")
  drained_from=$(now_ms)
  until [ "$(psql_ -c "SELECT coalesce(last_archived_wal, '') >= '$last' FROM pg_stat_archiver")" = t ]; do sleep 0.2; done
  drain_ms=$(( $(now_ms) - drained_from ))
  failed=$(psql_ -c "SELECT failed_count FROM pg_stat_archiver")
  peak=$(sort -n "$work/lag" | tail -1)
  mean=$(awk '{ s += $1 } END { printf "%.1f", s / NR }' "$work/lag")
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null
  rm -rf "$pgdata"

  sync; { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || true
  began=$(now_ms)
  case $tool in
    walvault) as_pg "$work/bin/walvault" --config "$work/walvault.toml" restore --pgdata "$pgdata" --target latest >/dev/null ;;
    pgbackrest) as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench restore >/dev/null ;;
  esac
  restored=$(now_ms)
  # The restored server must not archive into the store it recovers from.
  printf "archive_mode = off\n" >>"$pgdata/postgresql.conf"
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$work/recovery-$tool.log" start >/dev/null
  until [ "$(psql_ -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ]; do sleep 0.1; done
  promoted=$(now_ms)
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
  report+=("$(printf '  %-10s tps %7.0f  WAL %5d MB  lag peak %3d mean %5.1f segments  drain after load %5d ms  failed %d  restore %6.2f s  recovery %6.2f s  (%.0f MB/s replayed)' \
    "$tool" "$tps" "$wal_mb" "$peak" "$mean" "$drain_ms" "$failed" "$(echo "($restored - $began)/1000" | bc -l)" \
    "$(echo "($promoted - $restored)/1000" | bc -l)" "$(echo "$wal_mb * 1000 / ($promoted - $restored)" | bc -l)")")
  eval "${tool}_peak=$peak ${tool}_total=$((promoted - began))"
done
echo
echo "pgbench -c 4 -T $duration (scale $scale), archive_timeout 0, max_wal_size 64MB; lag sampled each second"
printf '%s\n' "${report[@]}"
printf '  peak archive lag: walvault %d, pgbackrest %d segments (target <= 2); restore + recovery ratio walvault/pgbackrest %.2f\n' \
  "$walvault_peak" "$pgbackrest_peak" "$(echo "$walvault_total / $pgbackrest_total" | bc -l)"
