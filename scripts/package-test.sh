#!/usr/bin/env bash
# The Debian package as an owner meets it: dpkg -i, then `walvault --version`, `man
# walvault-backup` and the bash completion; `walvault init` protecting a fresh PostgreSQL 15
# cluster with the installed binary (a restart, a check with its round trip, a first backup that
# restores every row); then dpkg -r and dpkg -P, which must leave the config, the passphrase and the store
# alone. As root on a machine where nothing else installs walvault (CI).
#   WALVAULT_PACKAGE_SERVER=0  tests the package without walvault-server (what CI builds)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "package-test: must run as root (dpkg -i)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' walvault 2>/dev/null | grep -q "ok installed"; then
  echo "package-test: walvault is already installed here; the test installs and removes it" >&2; exit 1
fi
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/walvault-package.XXXXXX)
chmod 755 "$work"
deb=$(bash scripts/package.sh 2>"$work/package.log") || { tail -30 "$work/package.log" >&2; fail "scripts/package.sh"; }
echo "package-test: $deb, $(du -k "$deb" | cut -f1) KiB"
cleanup() {
  [ -f "$work/pgdata/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pgdata" -m immediate stop >/dev/null 2>&1
  [ -f "$work/restored/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/restored" -m immediate stop >/dev/null 2>&1
  dpkg -P walvault >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

dpkg -i "$deb" >/dev/null
[ "$(command -v walvault)" = /usr/bin/walvault ] || fail "walvault is not /usr/bin/walvault after dpkg -i"
version=$(walvault --version)
grep -q "^supports PostgreSQL 15$" <<<"$version" || fail "walvault --version: $version"
page=$(MANPAGER=cat MANWIDTH=100 man walvault-backup 2>/dev/null) || fail "man walvault-backup"
grep -q "Take a base backup of \[cluster\]" <<<"$page" || fail "man walvault-backup does not describe the backup: $page"
bash -c 'source /usr/share/bash-completion/completions/walvault && complete -p walvault' >/dev/null || fail "the bash completion"
[ -f /usr/share/zsh/vendor-completions/_walvault ] && [ -f /usr/share/fish/vendor_completions.d/walvault.fish ] || fail "zsh or fish completion"
[ -f /usr/lib/systemd/system/walvault-backup.timer ] || fail "the systemd timer"
! systemctl is-enabled walvault-backup.timer >/dev/null 2>&1 || fail "walvault-backup.timer is enabled by installing"
dpkg -L walvault >"$work/installed"
outside=$(grep -vE '^/(usr|etc)(/|$)|^/\.$' "$work/installed" || true)
[ -z "$outside" ] || fail "the package installs outside /usr and /etc: $outside"
echo "package-test: installed; --version, man walvault-backup, completions and units are there"

# A fresh cluster, nothing configured: init protects it with the installed binary. From $work,
# which the postgres user can enter (runuser keeps the directory; CI's clone is private).
cd "$work"
port=$(free_port)
mkdir -p "$work/store"
chown postgres: "$work" "$work/store"
runuser -u postgres -- "$PG_BIN/initdb" -D "$work/pgdata" -U postgres --no-sync >/dev/null 2>&1
printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\n" "$port" "$work" >>"$work/pgdata/postgresql.conf"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pgdata" -l "$work/server.log" -w start >/dev/null
runuser -u postgres -- psql -X -q -h "$work" -p "$port" -U postgres -c "CREATE TABLE kept AS SELECT g FROM generate_series(1, 12345) g"
config="$work/etc/walvault.toml"
walvault init --config "$config" --pgdata "$work/pgdata" --store "local:$work/store" --encrypt --yes --restart --backup \
  --spool "$work/spool" >"$work/init.out" 2>&1 || { cat "$work/init.out" >&2; fail "walvault init"; }
grep -q "archive_command = '/usr/bin/walvault --config $config archive-push %p'" "$work/init.out" || fail "init did not archive with /usr/bin/walvault"
grep -q "walvault init: protected" "$work/init.out" || fail "init did not end protected: $(cat "$work/init.out")"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pgdata" -m immediate stop >/dev/null
runuser -u postgres -- walvault --config "$config" restore --pgdata "$work/restored" --target latest >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/restored" -l "$work/restored.log" -w start >/dev/null
for _ in $(seq 1 300); do
  [ "$(runuser -u postgres -- psql -X -At -h "$work" -p "$port" -U postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  sleep 0.2
done
rows=$(runuser -u postgres -- psql -X -At -h "$work" -p "$port" -U postgres -c "SELECT count(*) FROM kept")
[ "$rows" = 12345 ] || fail "the restored cluster has $rows rows of 12345"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/restored" -m immediate stop >/dev/null
echo "package-test: walvault init protected a fresh cluster with /usr/bin/walvault, and its backup restored every row"

# Removing the package keeps what it did not install: the config, the passphrase, the store.
dpkg -r walvault >/dev/null
[ ! -e /usr/bin/walvault ] || fail "dpkg -r left /usr/bin/walvault"
dpkg -P walvault >/dev/null 2>&1  # with no conffiles, -r left nothing for -P: dpkg says so on stderr
for kept in "$config" "$work/etc/passphrase" "$work/store/pgdata/archive.info"; do
  [ -f "$kept" ] || fail "dpkg -P removed $kept"
done
left=$(while read -r path; do if [ -f "$path" ]; then echo "$path"; fi; done <"$work/installed")
[ -z "$left" ] || fail "files left after dpkg -P: $left"
echo "package-test: dpkg -r and dpkg -P removed the package and left the config, the passphrase and the store"
