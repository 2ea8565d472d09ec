#!/usr/bin/env bash
# Benchmark: the Telegram store against the Bot API stand-in (scripts/testing/telegram-bot-api.py,
# enforcing Telegram's documented limits), in one run:
#   1. shipping throughput of a 64-segment backlog of real 16 MiB segments (the driver's own speed:
#      the stand-in's limit is lifted; at the default 18 messages a minute a backlog needs one
#      message per 19 MiB document, so the pace, not the driver, bounds a long one), and documents
#      per 100 segments (bundling);
#   2. pgbench -c 2 -T 60 with the chat taking one message per 5 s, far below walvault's pace (30 a
#      minute): the 429s served, the seconds Telegram asked walvault to wait, archiver failures,
#      documents per 100 segments while WAL trickles in, the drain time;
#   3. pgbench -i -s $SCALE: backup, ship, and the time to restore it from the chat alone (a config
#      with an empty spool and only the Telegram store, encrypted).
# Not a test: nothing here passes or fails on a number. The stand-in is a Python server on the same
# machine, holding documents in memory: throughputs are a floor it sets, not Telegram's network.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="time bc" bash scripts/setup.sh
source scripts/lib.sh

scale=${SCALE:-10}
bench_seconds=${BENCH_SECONDS:-60}
bin_dir=$(build_release)
work=$(make_workdir telegram)
pgdata="$work/pgdata"; segments="$work/segments"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$segments" "$work/keycache"
echo "telegram bench passphrase" >"$work/passphrase"; chmod 600 "$work/passphrase"
token="424242:BENCH-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$token" >"$work/bot-token"; chmod 600 "$work/bot-token"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

# One stand-in per part (a fresh chat each); each lives as long as its fd is open.
standins=()
start_standin() {  # NAME -> sets $api and $control
  control="$work/$1.control"
  exec {fd}> >(exec python3 scripts/testing/telegram-bot-api.py "$token" -1001234567890 "$control" >"$work/$1.port" 2>"$work/$1.log")
  for _ in $(seq 100); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
  api="http://127.0.0.1:$(cat "$work/$1.port")"
  standins+=("$fd")
}
set_standin() { echo "$2" >"$1.new" && mv "$1.new" "$1"; }
stat_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1] + '.stats')).get(sys.argv[2], 0))" "$1" "$2" 2>/dev/null || echo 0; }

# config NAME PACE [telegram-only]: local + Telegram async (encrypted), or the Telegram store alone.
config() {
  local file="$work/$1.toml"
  mkdir -p "$work/spool-$1" "$work/store-$1"
  if [ "${3:-}" = telegram-only ]; then
    printf '[cluster]\nname = "bench"\nspool = "%s"\n' "$work/spool-$1" >"$file"
  else
    write_walvault_config "$file" bench "$pgdata" "$work" "$port" "$work/store-$1"
    sed -i "s|^\[cluster\]|[cluster]\nspool = \"$work/spool-$1\"|" "$file"
  fi
  cat >>"$file" <<TOML

[encryption]
passphrase_file = "$work/passphrase"
key_cache = "$work/keycache"

[[stores]]
name = "telegram"
type = "telegram"
mode = "async"
api_base = "$api"
bot_token_file = "$work/bot-token"
chat_id = "-1001234567890"
messages_per_minute = $2
TOML
  chmod 600 "$file"; [ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
queued() {
  as_pg "$work/bin/walvault" --config "$1" info --json 2>/dev/null | python3 -c \
    'import json,sys; print(next((s.get("queuedObjects") or 0) for s in json.load(sys.stdin)["stores"] if s["name"] == "telegram"))'
}
drain() {  # until the queue is empty and no shipper holds the lock
  for _ in $(seq 900); do
    if [ "$(queued "$1")" = 0 ] && ! as_pg "$work/bin/walvault" --config "$1" ship --verbose 2>&1 | grep -q "another"; then
      [ "$(queued "$1")" = 0 ] && return 0
    fi
    sleep 1
  done
  echo "WARNING: the queue of $1 did not drain"
}

echo "== generating real WAL with pgbench (PostgreSQL 15, 16 MiB segments)"
start_archiving_cluster "$pgdata" "$work" "$port" "cp %p $segments/%f" "max_wal_size = 4GB"
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s 10 -q postgres >/dev/null 2>&1
while [ "$(ls "$segments" | grep -cE '^[0-9A-F]{24}$')" -lt 66 ]; do
  as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -c 4 -j 2 -T 5 postgres >/dev/null 2>&1
  as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "SELECT pg_switch_wal()" >/dev/null
done
mapfile -t backlog < <(ls "$segments" | grep -E '^[0-9A-F]{24}$' | sort | sed -n '2,65p')

declare -A ship_ms ship_docs ship_bytes ship_rss
for variant in unpaced; do
  echo "== 1. a 64-segment backlog shipped"
  start_standin "ship-$variant"
  set_standin "$control" '{"rate": 100000}'; config "$variant" 600
  as_pg flock -o "$work/spool-$variant/ship.lock" sleep 3600 2>/dev/null & holder=$!; sleep 0.2
  for seg in "${backlog[@]}"; do as_pg "$work/bin/walvault" --config "$work/$variant.toml" archive-push "$segments/$seg"; done
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true; pkill -f "flock -o $work/spool-$variant" || true
  ship_bytes[$variant]=$(du -sb "$work/store-$variant/bench/wal" | cut -f1)
  start=$(date +%s%N)
  ship_rss[$variant]=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/$variant.toml" ship 2>&1 >/dev/null | tail -1)
  ship_ms[$variant]=$(ms_since "$start")
  ship_docs[$variant]=$(stat_of "$control" documents)
  [ "$(queued "$work/$variant.toml")" = 0 ] || echo "WARNING: the $variant backlog did not drain"
done
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
rm -rf "$pgdata" "$segments"

echo "== 2. pgbench -c 2 -T $bench_seconds, the chat taking one message per 5 s, walvault pacing at 30 a minute"
start_standin busy
config busy 30
start_archiving_cluster "$pgdata" "$work" "$port" "$work/bin/walvault --config $work/busy.toml archive-push %p" "max_wal_size = 4GB"
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s 10 -q postgres >/dev/null 2>&1
drain "$work/busy.toml"
set_standin "$control" '{"rate": 1, "window": 5}'
segment_objects() { find "$work/store-busy/bench/wal" -type f | sed 's|.*/||' | grep -cE '^[0-9A-F]{24}-' || true; }
before_docs=$(stat_of "$control" documents); before_segments=$(segment_objects); before_429=$(stat_of "$control" served_429); before_wait=$(stat_of "$control" retry_after_total)
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -c 2 -T "$bench_seconds" postgres >/dev/null 2>&1
as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "SELECT pg_switch_wal()" postgres >/dev/null
sleep 2
failed=$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT failed_count FROM pg_stat_archiver" postgres)
start=$(date +%s%N)
drain "$work/busy.toml"
busy_drain_ms=$(ms_since "$start")
busy_segments=$(( $(segment_objects) - before_segments ))
busy_docs=$(( $(stat_of "$control" documents) - before_docs ))
busy_429=$(( $(stat_of "$control" served_429) - before_429 )); busy_wait=$(( $(stat_of "$control" retry_after_total) - before_wait ))
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
rm -rf "$pgdata"

echo "== 3. pgbench -i -s $scale: backup, ship, restore from the chat alone"
start_standin db
set_standin "$control" '{"rate": 100000}'
config db 600
config db-only 600 telegram-only
start_archiving_cluster "$pgdata" "$work" "$port" "$work/bin/walvault --config $work/db.toml archive-push %p" "max_wal_size = 4GB"
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
as_pg "$work/bin/walvault" --config "$work/db.toml" backup >/dev/null
db_size=$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT pg_database_size('postgres')" postgres)
sums=$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT count(*), sum(abalance) FROM pgbench_accounts" postgres)
as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "SELECT pg_switch_wal()" postgres >/dev/null
sleep 2
drain "$work/db.toml"
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
start=$(date +%s%N)
rss_restore=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/db-only.toml" restore --pgdata "$work/restored" --target latest 2>&1 >/dev/null | tail -1)
restore_ms=$(ms_since "$start")
sed -i "s/^port = .*/port = $port/" "$work/restored/postgresql.conf"
as_pg "$PG_BIN/pg_ctl" -D "$work/restored" -l "$work/restored.log" -w start >/dev/null
for _ in $(seq 120); do [ "$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c 'SELECT pg_is_in_recovery()' postgres 2>/dev/null)" = f ] && break; sleep 0.5; done
restored_ms=$(ms_since "$start")
check=$(as_pg psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT count(*), sum(abalance) FROM pgbench_accounts" postgres)
as_pg "$PG_BIN/pg_ctl" -D "$work/restored" -m fast -w stop >/dev/null

for fd in "${standins[@]}"; do exec {fd}>&-; done
sleep 1
echo
for variant in unpaced; do
  mbps=$(echo "${ship_bytes[$variant]}/1000/${ship_ms[$variant]}" | bc -l)
  per100=$(echo "${ship_docs[$variant]}*100/64" | bc -l)
  printf 'ship 64 segments (%.1f MB stored)%.0s: %7d ms  %6.2f MB/s  %d documents (%.1f per 100 segments, catalogs included)  peak RSS %.1f MiB\n' \
    "$(echo "${ship_bytes[$variant]}/1000000" | bc -l)" "$variant:" "${ship_ms[$variant]}" "$mbps" "${ship_docs[$variant]}" "$per100" "$(echo "${ship_rss[$variant]}/1024" | bc -l)"
done
printf 'pgbench -c 2 -T %d: %d segments, %d documents (%.1f per 100 segments), %d x 429 served, %d s of retry_after asked, archiver failed_count %s, drained %d ms after\n' \
  "$bench_seconds" "$busy_segments" "$busy_docs" "$(echo "$busy_docs*100/($busy_segments+0.0001)" | bc -l)" "$busy_429" "$busy_wait" "$failed" "$busy_drain_ms"
printf 'pgbench -i -s %d (%d MB database): restore from the chat alone %d ms (peak RSS %.1f MiB); promoted %d ms after the restore began; accounts %s (expected %s)\n' \
  "$scale" "$((db_size / 1000000))" "$restore_ms" "$(echo "$rss_restore/1024" | bc -l)" "$restored_ms" "$check" "$sums"
