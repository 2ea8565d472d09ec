#!/usr/bin/env bash
# From "PostgreSQL runs, nothing is protected" to "a base backup is stored and archiving is proven":
# the wall time of `dpkg -i` of the package plus one `walvault init --yes --restart --backup` on a
# pgbench -s 10 cluster (about 160 MB), with an encrypted local store. Prints the figures; not a test.
# As root, on a machine where walvault is not installed. Usage: bash scripts/bench-protect.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench-protect: must run as root (dpkg -i)" >&2; exit 1; }
deb=$(bash scripts/package.sh 2>/dev/null)
work=$(mktemp -d /tmp/walvault-protect.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -f "$work/pgdata/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pgdata" -m immediate stop >/dev/null 2>&1
  dpkg -P walvault >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(free_port)
mkdir -p "$work/store"
chown postgres: "$work" "$work/store"
runuser -u postgres -- "$PG_BIN/initdb" -D "$work/pgdata" -U postgres >/dev/null 2>&1
printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\n" "$port" "$work" >>"$work/pgdata/postgresql.conf"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pgdata" -l "$work/server.log" -w start >/dev/null
runuser -u postgres -- "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s 10 -q postgres >/dev/null 2>&1
size=$(runuser -u postgres -- psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT pg_size_pretty(pg_database_size('postgres'))")
start=$(date +%s.%N)
dpkg -i "$deb" >/dev/null
installed=$(date +%s.%N)
walvault init --config "$work/etc/walvault.toml" --pgdata "$work/pgdata" --store "local:$work/store" --encrypt --yes --restart --backup \
  --spool "$work/spool" >"$work/init.out" 2>&1 || { cat "$work/init.out" >&2; exit 1; }
done_=$(date +%s.%N)
grep -q "walvault init: protected" "$work/init.out"
grep -E "restarting|backup .* complete|protected" "$work/init.out"
echo "package: $deb, $(du -h "$deb" | cut -f1)"
echo "database: pgbench -s 10, $size"
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
echo "dpkg -i: $(seconds "$start" "$installed") s"
echo "walvault init --yes --restart --backup: $(seconds "$installed" "$done_") s"
echo "fresh to protected: $(seconds "$start" "$done_") s"
