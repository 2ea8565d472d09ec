#!/usr/bin/env bash
# walvault's main job on an embedded default: a throwaway PostgreSQL 15 cluster archives its WAL
# through `walvault archive-push` into a local store in a temporary directory; every archived
# segment is fetched back with `walvault archive-get` and compared byte for byte; then a base
# backup, a dropped table, and a point-in-time restore to just before the drop. `walvault init`
# sets it all up; the store is encrypted with the passphrase init makes, and searched for a value
# written into the database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/lib.sh

bin_dir=$(build_release)
work=$(make_workdir demo)
pgdata="$work/pgdata"; store="$work/store"; config="$work/walvault.toml"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$store"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

echo "== initdb a throwaway cluster in $pgdata (port $port), with nothing configured for archiving"
as_pg "$PG_BIN/initdb" -D "$pgdata" -U postgres --no-sync >/dev/null 2>&1
printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\n" "$port" "$work" >>"$pgdata/postgresql.conf"
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$work/server.log" -w start >/dev/null

echo "== walvault init: an encrypted local store, the archive settings, a restart, and a check with a real round trip"
"$work/bin/walvault" init --config "$config" --pgdata "$pgdata" --store "local:$store" --encrypt --yes --restart --spool "$work/spool"

psql_() { as_pg psql -X -q -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
echo "== write some data and switch WAL three times"
psql_ -c "CREATE TABLE demo AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 200000) g"
marker="demo-secret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
psql_ -c "INSERT INTO demo VALUES (0, '$marker')"
for _ in 1 2 3; do psql_ -c "INSERT INTO demo SELECT g, md5(g::text) FROM generate_series(1, 20000) g" -c "SELECT pg_switch_wal()" >/dev/null; done
last=$(psql_ -At -c "SELECT pg_walfile_name(pg_current_wal_lsn() - 1)")
for _ in $(seq 1 100); do
  done_=$(psql_ -At -c "SELECT coalesce(last_archived_wal >= '$last', false) FROM pg_stat_archiver")
  [ "$done_" = t ] && break; sleep 0.2
done
psql_ -At -c "SELECT 'archived ' || archived_count || ' files, ' || failed_count || ' failures' FROM pg_stat_archiver"

echo "== the store"
(cd "$store" && find . -type f -printf '%8s  %p\n' | sort -k2)
objects=$(find "$store" -type f | wc -l)
headed=$(find "$store" -type f -exec sh -c 'head -c 8 "$1" | grep -q "^WALVAULT"' _ {} \; -print | wc -l)
echo "$headed of $objects objects begin with walvault's encryption header"
if grep -rqF "$marker" "$store"; then echo "the value '$marker' is readable in the store" >&2; exit 1; fi
echo "the value '$marker' written into the database appears nowhere in the store"
[ "$headed" = "$objects" ]

echo "== fetch every archived segment back with archive-get and compare"
checked=0
for object in $(cd "$store" && find . -path '*/wal/*' -type f -name '0*' | sort); do
  name=$(basename "$object"); wal=${name%%-*}
  [ -f "$pgdata/pg_wal/$wal" ] || continue            # recycled since: nothing to compare with
  as_pg "$work/bin/walvault" --config "$config" archive-get "$wal" "$work/fetched"
  cmp "$work/fetched" "$pgdata/pg_wal/$wal"
  checked=$((checked + 1))
done
echo "$checked segments came back byte for byte identical to pg_wal"

wv() { as_pg "$work/bin/walvault" --config "$config" "$@"; }
echo "== walvault backup"
wv backup
psql_ -c "INSERT INTO demo SELECT g, 'after the backup' FROM generate_series(1, 1000) g"
psql_ -c "SELECT pg_switch_wal()" >/dev/null
sleep 1.1
target=$(psql_ -At -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1.1
rows=$(psql_ -At -c "SELECT count(*) FROM demo")
echo "== $rows rows at $target; now the mistake: DROP TABLE demo"
psql_ -c "DROP TABLE demo"
last=$(psql_ -At -c "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 100); do
  [ "$(psql_ -At -c "SELECT coalesce(last_archived_wal >= '$last', false) FROM pg_stat_archiver")" = t ] && break; sleep 0.2
done
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null
rm -rf "$pgdata"
echo "== server gone; walvault info"
wv info
echo "== walvault restore --target-time '$target'"
wv restore --pgdata "$pgdata" --target-time "$target"
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$work/restored.log" -w start >/dev/null
for _ in $(seq 1 300); do [ "$(psql_ -At -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break; sleep 0.2; done
back=$(psql_ -At -c "SELECT count(*) FROM demo")
echo "== restored server promoted on timeline $(psql_ -At -c 'SELECT timeline_id FROM pg_control_checkpoint()'): table demo is back with $back rows (had $rows at the target)"
[ "$back" = "$rows" ]
if grep -rqF "$marker" "$store"; then echo "the value '$marker' is readable in the store" >&2; exit 1; fi
echo "== after the backup and the restore, '$marker' still appears nowhere in the store ($(find "$store" -type f | wc -l) objects)"
