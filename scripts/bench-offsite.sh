#!/usr/bin/env bash
# Benchmark: off-site shipping to a loopback S3 server (moto, signatures checked), in one run:
#   1. archive-push wall time of 32 real 16 MiB segments to local + S3-async vs local alone (the
#      queue's cost; the shipper held off), and with the background shipper running;
#   2. upload throughput of `walvault ship` for a 64-segment backlog, and download throughput of
#      archive-get from the bucket alone (MB/s, peak RSS);
#   3. a `pgbench -i -s $SCALE` base backup shipped to the bucket, and restored from it alone;
#   4. the off-site lag (queue length and oldest age, sampled each second) under pgbench -c 2 -T 60.
# Not a test: nothing here passes or fails on a number. moto is an in-memory Python server on the
# same machine, so throughputs are a floor set by it, not by the network a real bucket adds.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="time bc" bash scripts/setup.sh
source scripts/lib.sh

rounds=${ROUNDS:-3}
scale=${SCALE:-100}
lag_seconds=${LAG_SECONDS:-60}
bin_dir=$(build_release)
work=$(make_workdir offsite)
pgdata="$work/pgdata"; segments="$work/segments"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$segments" "$work/spool" "$work/keycache"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

# The S3 server lives as long as fd 3 is open.
exec 3> >(exec python3 scripts/testing/s3-server.py walvault-bench >"$work/s3.json" 2>"$work/s3.log")
for _ in $(seq 100); do [ -s "$work/s3.json" ] && break; sleep 0.2; done
s3() { python3 -c "import json,sys; print(json.load(open('$work/s3.json'))[sys.argv[1]])" "$1"; }
endpoint=$(s3 endpoint); s3 access_key_id >"$work/s3-key-id"; s3 secret_access_key >"$work/s3-secret"
chmod 600 "$work/s3-key-id" "$work/s3-secret"; [ "$(id -u)" -ne 0 ] || chown postgres: "$work/s3-key-id" "$work/s3-secret"
echo "== S3 server (moto) at $endpoint"

echo "== generating real WAL with pgbench (PostgreSQL 15, 16 MiB segments)"
start_archiving_cluster "$pgdata" "$work" "$port" "cp %p $segments/%f" "max_wal_size = 4GB"
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s 10 -q postgres >/dev/null 2>&1
while [ "$(ls "$segments" | grep -cE '^[0-9A-F]{24}$')" -lt 98 ]; do
  as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -c 4 -j 2 -T 5 postgres >/dev/null 2>&1
  as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "SELECT pg_switch_wal()" >/dev/null
done
mapfile -t wal < <(ls "$segments" | grep -E '^[0-9A-F]{24}$' | sort | sed -n '2,33p')
mapfile -t backlog < <(ls "$segments" | grep -E '^[0-9A-F]{24}$' | sort | sed -n '34,97p')

# config NAME STORE_DIR PREFIX [async]: local store, and with "async" an S3 store shipped in the background.
config() {
  write_walvault_config "$work/$1.toml" bench "$pgdata" "$work" "$port" "$2"
  if [ "${4:-}" = async ]; then
    sed -i "s|^\[cluster\]|[cluster]\nspool = \"$work/spool-$1\"|" "$work/$1.toml"
    mkdir -p "$work/spool-$1"
    cat >>"$work/$1.toml" <<TOML

[[stores]]
name = "cloud"
type = "s3"
mode = "async"
endpoint = "$endpoint"
region = "us-east-1"
bucket = "walvault-bench"
prefix = "$3"
path_style = true
access_key_id_file = "$work/s3-key-id"
secret_access_key_file = "$work/s3-secret"
TOML
  fi
  mkdir -p "$2"; [ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
}
# cloud-only NAME PREFIX: the bucket alone, as on a new machine.
cloud_only() {
  cat >"$work/$1.toml" <<TOML
[cluster]
name = "bench"
[[stores]]
name = "cloud"
type = "s3"
endpoint = "$endpoint"
region = "us-east-1"
bucket = "walvault-bench"
prefix = "$2"
path_style = true
access_key_id_file = "$work/s3-key-id"
secret_access_key_file = "$work/s3-secret"
TOML
  chmod 600 "$work/$1.toml"; [ "$(id -u)" -ne 0 ] || chown postgres: "$work/$1.toml"
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
queued() {  # objects waiting for the cloud store, from info --json
  as_pg "$work/bin/walvault" --config "$1" info --json 2>/dev/null | python3 -c \
    'import json,sys; print(next((s.get("queuedObjects") or 0) for s in json.load(sys.stdin)["stores"] if s["name"] == "cloud"))'
}
oldest() {
  as_pg "$work/bin/walvault" --config "$1" info --json 2>/dev/null | python3 -c \
    'import json,sys; print(next((s.get("oldestQueuedSeconds") or 0) for s in json.load(sys.stdin)["stores"] if s["name"] == "cloud"))'
}

echo "== 1. archive-push: local alone vs local + S3 async ($rounds rounds x 32 segments)"
declare -a local_ms queue_ms ship_ms
for r in $(seq 1 "$rounds"); do
  for variant in local queue shipping; do
    rm -rf "$work/store-$variant" "$work/spool-$variant"
    case $variant in local) config "$variant" "$work/store-$variant" x ;; *) config "$variant" "$work/store-$variant" "r$r-$variant" async ;; esac
    sync
    holder=""
    if [ "$variant" = queue ]; then  # hold the shipper's lock: archive-push queues and starts nothing
      as_pg flock -o "$work/spool-$variant/ship.lock" sleep 3600 2>/dev/null & holder=$!
      sleep 0.2
    fi
    # In the page cache, as PostgreSQL's just-written WAL is (walvault drops a segment's pages once archived).
    for seg in "${wal[@]}"; do cat "$segments/$seg"; done >/dev/null
    start=$(date +%s%N)
    for seg in "${wal[@]}"; do as_pg "$work/bin/walvault" --config "$work/$variant.toml" archive-push "$segments/$seg"; done
    ms=$(ms_since "$start")
    [ -z "$holder" ] || { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true; pkill -f "flock -o $work/spool-$variant" || true; }
    case $variant in local) local_ms+=("$ms") ;; queue) queue_ms+=("$ms") ;; shipping) ship_ms+=("$ms") ;; esac
    # Untimed: let the shippers this variant started finish before the next one is timed.
    if [ "$variant" = shipping ]; then for _ in $(seq 120); do [ "$(queued "$work/$variant.toml")" = 0 ] && break; sleep 1; done; fi
  done
  echo "round $r: local ${local_ms[-1]} ms, local + S3 async (queue only) ${queue_ms[-1]} ms, with the shipper running ${ship_ms[-1]} ms"
done
lm=$(median "${local_ms[@]}"); qm=$(median "${queue_ms[@]}"); sm=$(median "${ship_ms[@]}")

echo "== 2. a 64-segment backlog: ship, then archive-get from the bucket alone"
config backlog "$work/store-backlog" backlog async
as_pg flock -o "$work/spool-backlog/ship.lock" sleep 3600 2>/dev/null & holder=$!; sleep 0.2
for seg in "${backlog[@]}"; do as_pg "$work/bin/walvault" --config "$work/backlog.toml" archive-push "$segments/$seg"; done
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true; pkill -f "flock -o $work/spool-backlog" || true
stored=$(du -sb "$work/store-backlog/bench/wal" | cut -f1)
start=$(date +%s%N)
rss_up=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/backlog.toml" ship 2>&1 >/dev/null | tail -1)
up_ms=$(ms_since "$start")
[ "$(queued "$work/backlog.toml")" = 0 ] || echo "WARNING: the backlog did not drain"
cloud_only backlog-cloud backlog
mkdir -p "$work/fetched"; [ "$(id -u)" -ne 0 ] || chown postgres: "$work/fetched"
start=$(date +%s%N); rss_down=0
for seg in "${backlog[@]}"; do
  kb=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/backlog-cloud.toml" archive-get "$seg" "$work/fetched/$seg" 2>&1 >/dev/null | tail -1)
  (( kb > rss_down )) && rss_down=$kb
done
down_ms=$(ms_since "$start")
for seg in "${backlog[@]}"; do cmp -s "$segments/$seg" "$work/fetched/$seg" || echo "WARNING: $seg differs"; done

echo "== 3. pgbench -i -s $scale: backup, ship, restore from the bucket alone"
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
rm -rf "$pgdata" "$segments"; mkdir -p "$work/spool-db"
config db "$work/store-db" db async
start_archiving_cluster "$pgdata" "$work" "$port" "$work/bin/walvault --config $work/db.toml archive-push %p" "max_wal_size = 4GB"
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
while [ "$(queued "$work/db.toml")" != 0 ]; do sleep 1; done
as_pg flock -o "$work/spool-db/ship.lock" sleep 3600 2>/dev/null & holder=$!; sleep 0.2
backup_out=$(as_pg "$work/bin/walvault" --config "$work/db.toml" backup)
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true; pkill -f "flock -o $work/spool-db" || true
label=$(echo "$backup_out" | sed -n 's/^backup \([0-9TZ]*\) complete.*/\1/p')
backup_stored=$(du -sb "$work/store-db/bench/backup/$label" | cut -f1)
db_size=$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT pg_database_size('postgres')" postgres)
start=$(date +%s%N)
rss_ship_db=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/db.toml" ship 2>&1 >/dev/null | tail -1)
ship_db_ms=$(ms_since "$start")
cloud_only db-cloud db
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
start=$(date +%s%N)
rss_restore=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/db-cloud.toml" restore --pgdata "$work/restored" --target latest 2>&1 >/dev/null | tail -1)
restore_ms=$(ms_since "$start")

echo "== 4. off-site lag under pgbench -c 2 -T $lag_seconds (local + S3 async, shipper started by archive-push)"
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$work/server.log" -w start >/dev/null
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -c 2 -T "$lag_seconds" postgres >/dev/null 2>&1 &
bench=$!
max_q=0; max_age=0; samples=0
while kill -0 "$bench" 2>/dev/null; do
  q=$(queued "$work/db.toml"); a=$(oldest "$work/db.toml"); samples=$((samples + 1))
  (( q > max_q )) && max_q=$q; (( a > max_age )) && max_age=$a
  sleep 1
done
as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "SELECT pg_switch_wal()" postgres >/dev/null
start=$(date +%s%N)
for _ in $(seq 300); do [ "$(queued "$work/db.toml")" = 0 ] && break; sleep 1; done
drain_ms=$(ms_since "$start")
failed=$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT failed_count FROM pg_stat_archiver" postgres)

mb() { echo "$1 / 1000000" | bc -l; }
echo
echo "archive-push, 32 x 16 MiB real WAL segments, one process per segment (median of $rounds rounds)"
printf '  local alone                          %6d ms\n' "$lm"
printf '  local + S3 async, queue only         %6d ms   ratio %.2f (target <= 1.10)\n' "$qm" "$(echo "$qm/$lm" | bc -l)"
printf '  local + S3 async, shipper running    %6d ms   ratio %.2f (moto shares the CPU)\n' "$sm" "$(echo "$sm/$lm" | bc -l)"
echo "64-segment backlog ($(printf '%.1f' "$(mb "$stored")") MB stored)"
printf '  ship (upload):        %6d ms   %6.1f MB/s stored bytes   peak RSS %.1f MiB\n' "$up_ms" "$(echo "$stored/1000/$up_ms" | bc -l)" "$(echo "$rss_up/1024" | bc -l)"
printf '  archive-get x 64 from the bucket alone: %6d ms   %6.1f MB/s of WAL   peak RSS %.1f MiB\n' "$down_ms" "$(echo "64*16.777216*1000/$down_ms" | bc -l)" "$(echo "$rss_down/1024" | bc -l)"
echo "pgbench -i -s $scale base backup ($(printf '%.0f' "$(mb "$db_size")") MB database, $(printf '%.1f' "$(mb "$backup_stored")") MB stored)"
printf '  ship (upload):        %6d ms   %6.1f MB/s stored bytes   peak RSS %.1f MiB\n' "$ship_db_ms" "$(echo "$backup_stored/1000/$ship_db_ms" | bc -l)" "$(echo "$rss_ship_db/1024" | bc -l)"
printf '  restore from the bucket alone: %6d ms   %6.1f MB/s of database   peak RSS %.1f MiB\n' "$restore_ms" "$(echo "$db_size/1000/$restore_ms" | bc -l)" "$(echo "$rss_restore/1024" | bc -l)"
echo "off-site lag under pgbench -c 2 -T $lag_seconds ($samples samples, one a second)"
echo "  largest queue: $max_q objects; oldest queued object at most $max_age s old; drained ${drain_ms} ms after the load stopped; archiver failed_count $failed"
