#!/usr/bin/env bash
# The dashboard under load, as issue 26 asks to measure it: wrk on loopback against the overview,
# /api/backups, /api/history and the backups page, with 10,000 rows in the history table; the
# server's RSS idle, after the load and during a restore job it runs. One PostgreSQL 15 cluster
# (pgbench scale ${SCALE:-10}) archiving into one local store; release builds of both executables.
# Usage: bash scripts/bench-dashboard.sh   (KEEP=1 keeps the work directory)
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="wrk" bash scripts/setup.sh
source scripts/lib.sh
swift build -c release --static-swift-stdlib --product walvault >&2
swift build -c release --static-swift-stdlib --product walvault-server >&2
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

work=$(make_workdir dashboard)
pgdata="$work/pgdata"
prepare_workdir "$work" "$pgdata" "$bin"
cp "$bin/walvault-server" "$work/bin/walvault-server"
port=$(free_port)
web=$(free_port)
config="$work/walvault.toml"
mkdir -p "$work/store" "$work/spool" "$work/etc"
write_walvault_config "$config" main "$pgdata" "$work" "$port" "$work/store"
sed -i "s|^\[cluster\]$|[cluster]\nspool = \"$work/spool\"|" "$config"
cat >>"$config" <<TOML

[history]
conninfo = "host=$work port=$port user=postgres dbname=postgres"
project_id = "shop"
journal = "$work/journal.jsonl"

[dashboard]
listen = "127.0.0.1:$web"
owner_password_file = "$work/etc/owner.hash"
totp_secret_file = "$work/etc/owner.totp"
TOML
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
walvault="$work/bin/walvault"
start_archiving_cluster "$pgdata" "$work" "$port" "$walvault --config $config archive-push %p"
psql_pg() { as_pg psql -X -q -h "$work" -p "$port" -U postgres -At "$@"; }
as_pg "$walvault" --config "$config" migrate >/dev/null
echo "== pgbench scale ${SCALE:-10}, one backup"
as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s "${SCALE:-10}" -q postgres >/dev/null 2>&1
as_pg "$walvault" --config "$config" backup >/dev/null
echo "== 10,000 rows in control_plane.backups"
psql_pg -c "INSERT INTO control_plane.backups (record_id, project_id, type, operation, status, store_name, object_name, size,
  stored_size, sha256, cluster_name, created_at, actor, origin)
  SELECT gen_random_uuid(), 'shop', 'wal', 'archive-push', 'succeeded', 'local', lpad(to_hex(g), 24, '0'), 16777216, 4000000,
         md5(g::text) || md5(g::text), 'main', now() - g * interval '4 minutes', 'postgres', 'cli'
  FROM generate_series(1, 10000) g"
echo "$(psql_pg -c "SELECT count(*) FROM control_plane.backups") history rows"

password="bench-password-$(date +%s)"
printf '%s\n%s\n' "$password" "$password" | as_pg "$walvault" --config "$config" owner set-password >/dev/null
as_pg "$walvault" --config "$config" owner enroll-2fa >/dev/null
as_pg "$walvault" --config "$config" serve >"$work/serve.log" 2>&1 &
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$web/login" && break; sleep 0.1; done
server=$(pgrep -f "walvault-server serve --config $config" | head -1)
code() { python3 - "$work/etc/owner.totp" "$1" <<'PY'
import hashlib, hmac, struct, sys, time
key = open(sys.argv[1]).read().split("\n")[0].encode()
step = int(time.time()) // 30 + int(sys.argv[2])
d = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
o = d[-1] & 15
print("%06d" % ((struct.unpack(">I", d[o:o + 4])[0] & 0x7FFFFFFF) % 1000000))
PY
}
rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$server/status"; }
login=$(curl -s -i -H 'Content-Type: application/json' --data "{\"password\": \"$password\", \"totp\": \"$(code 0)\"}" "http://127.0.0.1:$web/api/session")
cookie=$(printf '%s' "$login" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(walvault_session=[^;]*\).*/\1/p')
csrf=$(printf '%s' "$login" | tr -d '\r' | sed -n 's/.*"csrf_token" *: *"\([^"]*\)".*/\1/p')
[ -n "$cookie" ] || { echo "bench-dashboard: the login failed: $login" >&2; exit 1; }
sleep 2
idle=$(rss)

echo "== wrk -d${SECONDS_PER_PATH:-15}s --latency on loopback, one connection and eight (2 cores shared with the server and PostgreSQL)"
printf '%-34s %6s %10s %10s %10s %10s %8s\n' path conns requests/s p50 p90 p99 "RSS MB"
for path in / /api/backups "/api/history?limit=50" "/api/history?limit=50&offset=9000" "/backups"; do
 for conns in 1 8; do
  out=$(wrk -t"$(( conns < 2 ? 1 : 2 ))" -c"$conns" -d"${SECONDS_PER_PATH:-15}s" --latency -H "Cookie: $cookie" "http://127.0.0.1:$web$path")
  if printf '%s' "$out" | grep -q "Non-2xx"; then echo "bench-dashboard: $path answered errors: $out" >&2; exit 1; fi
  printf '%-34s %6s %10s %10s %10s %10s %8s\n' "$path" "$conns" "$(printf '%s' "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(printf '%s' "$out" | awk '$1 == "50%" {print $2}')" "$(printf '%s' "$out" | awk '$1 == "90%" {print $2}')" \
    "$(printf '%s' "$out" | awk '$1 == "99%" {print $2}')" "$(rss)"
 done
done
loaded=$(rss)
# Whether that is a plateau or a leak: ${SOAK_ROUNDS:-6} more rounds of the history's last pages and
# the backups page (the paths whose RSS grew), RSS after each.
soak=""
for _ in $(seq "${SOAK_ROUNDS:-6}"); do
  wrk -t2 -c8 -d"${SECONDS_PER_PATH:-15}s" -H "Cookie: $cookie" "http://127.0.0.1:$web/api/history?limit=50&offset=9000" >/dev/null
  wrk -t2 -c8 -d"${SECONDS_PER_PATH:-15}s" -H "Cookie: $cookie" "http://127.0.0.1:$web/backups" >/dev/null
  soak="$soak $(rss)"
done
echo "RSS after each further round of the history's last page and /backups, 8 connections (MB):$soak"

echo "== a restore job in the server, RSS sampled every 0.1 s"
started=$(curl -s -H 'Content-Type: application/json' -H "Cookie: $cookie" -H "X-CSRF-Token: $csrf" \
  --data "{\"target_time\": \"latest\", \"confirmation\": \"RESTORE\", \"totp\": \"$(code 1)\", \"pgdata\": \"$work/restored\"}" \
  "http://127.0.0.1:$web/api/restore")
job=$(printf '%s' "$started" | sed -n 's/.*"job_id" *: *"\([^"]*\)".*/\1/p')
[ -n "$job" ] || { echo "bench-dashboard: the restore did not start: $started" >&2; exit 1; }
peak=0
while :; do
  now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
  state=$(curl -s -H "Cookie: $cookie" "http://127.0.0.1:$web/api/jobs/$job" | sed -n 's/.*"state" *: *"\([^"]*\)".*/\1/p')
  [ "$state" = running ] || break
  sleep 0.1
done
[ "$state" = succeeded ] || { echo "bench-dashboard: the restore job ended $state" >&2; exit 1; }
echo "restored $(du -sm "$work/restored" | cut -f1) MB into $work/restored"
echo "== walvault-server RSS: idle ${idle} MB, after the load ${loaded} MB, peak during the restore ${peak} MB"
kill "$server" 2>/dev/null || true
