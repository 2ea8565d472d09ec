# Shared helpers for the demo and benchmark scripts (sourced, not run).
export PATH="/opt/swift/usr/bin:$PATH"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

# PostgreSQL refuses to run as root: run server tools as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A directory the postgres user can use; removed on exit unless KEEP=1.
make_workdir() {
  local dir
  dir=$(mktemp -d "/tmp/walvault-$1.XXXXXX")
  chmod 755 "$dir"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
  echo "$dir"
}

# Gives WORKDIR a copy of the release binary (the archiver runs as postgres, who may not reach the
# checkout) and, on exit, stops the cluster in PGDATA and removes WORKDIR unless KEEP=1.
# Usage: prepare_workdir WORKDIR PGDATA BIN_DIR
prepare_workdir() {
  _workdir=$1
  _pgdata=$2
  mkdir -p "$_workdir/bin"
  cp "$3/walvault" "$_workdir/bin/walvault"
  trap _cleanup_workdir EXIT
}

_cleanup_workdir() {
  as_pg "$PG_BIN/pg_ctl" -D "$_pgdata" -m immediate stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $_workdir"; else rm -rf "$_workdir"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

build_release() {
  swift build -c release --static-swift-stdlib --product walvault >&2
  swift build -c release --static-swift-stdlib --show-bin-path
}

# initdb a cluster that archives with ARCHIVE_COMMAND, listening only on a socket in WORKDIR, and start it.
# Usage: start_archiving_cluster PGDATA WORKDIR PORT ARCHIVE_COMMAND [EXTRA_SETTING_LINE...]
start_archiving_cluster() {
  local pgdata=$1 work=$2 port=$3 command=$4
  shift 4
  as_pg "$PG_BIN/initdb" -D "$pgdata" -U postgres --no-sync >/dev/null 2>&1
  {
    printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\n" "$port" "$work"
    printf "wal_level = replica\narchive_mode = on\narchive_command = '%s'\n" "$command"
    printf '%s\n' "$@"
  } >>"$pgdata/postgresql.conf"
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$work/server.log" -w start >/dev/null
}

# The config every script uses: one cluster, zstd level 3, one local store, the server on a socket in WORKDIR.
# Usage: write_walvault_config FILE CLUSTER_NAME PGDATA WORKDIR PORT STORE_DIR [PASSPHRASE_FILE [KEY_CACHE]]
# With a passphrase file, the store is encrypted; the config is made private either way.
write_walvault_config() {
  cat >"$1" <<TOML
[cluster]
name = "$2"
pgdata = "$3"
conninfo = "host=$4 port=$5 user=postgres dbname=postgres"

[compression]
algorithm = "zstd"
level = 3

[[stores]]
name = "local"
type = "local"
path = "$6"
TOML
  if [ -n "${7:-}" ]; then
    printf '\n[encryption]\npassphrase_file = "%s"\nkey_cache = "%s"\n' "$7" "${8:-/dev/shm}" >>"$1"
  fi
  chmod 600 "$1"
}
