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

# Real WAL for the archive benchmarks: a cluster in PGDATA that copies every segment it archives
# into SEGMENT_DIR, a pgbench load, then mixed OLTP until COUNT + 2 segments exist. Fills the
# array `wal` with COUNT of them (the first, written during initdb's checkpoint, is skipped).
# Leaves the cluster running. Usage: generate_wal PGDATA WORKDIR PORT SEGMENT_DIR COUNT
generate_wal() {
  local pgdata=$1 work=$2 port=$3 segments=$4 count=$5
  echo "== generating real WAL with pgbench (PostgreSQL 15, 16 MiB segments)"
  start_archiving_cluster "$pgdata" "$work" "$port" "cp %p $segments/%f" "max_wal_size = 4GB"
  as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s 10 -q postgres >/dev/null 2>&1
  while [ "$(ls "$segments" | grep -cE '^[0-9A-F]{24}$')" -lt $((count + 2)) ]; do
    as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -c 4 -j 2 -T 5 postgres >/dev/null 2>&1
    as_pg psql -X -q -h "$work" -p "$port" -U postgres -c "SELECT pg_switch_wal()" >/dev/null
  done
  mapfile -t wal < <(ls "$segments" | grep -E '^[0-9A-F]{24}$' | sort | sed -n "2,$((count + 1))p")
  echo "${#wal[@]} segments: ${wal[0]} .. ${wal[-1]}"
}

# pgBackRest's configuration for a benchmark: zstd level 3 as walvault's, logs to the console only,
# its lock in WORK, stanza "bench" on PGDATA through the socket in WORK. More [global] lines (a spool,
# process-max, archive-async) follow as arguments. Usage:
# write_pgbackrest_conf FILE WORK REPO PGDATA PORT [GLOBAL_LINE...]
write_pgbackrest_conf() {
  local file=$1 work=$2 repo=$3 pgdata=$4 port=$5
  shift 5
  {
    printf '[global]\nrepo1-path=%s\ncompress-type=zst\ncompress-level=3\n' "$repo"
    printf 'log-level-console=warn\nlog-level-file=off\nlock-path=%s/pgbr-lock\n' "$work"
    [ $# -eq 0 ] || printf '%s\n' "$@"
    printf '\n[bench]\npg1-path=%s\npg1-socket-path=%s\npg1-port=%s\npg1-user=postgres\n' "$pgdata" "$work" "$port"
  } >"$file"
}

# CPU seconds (user + system) a command takes, children included, its output thrown away; for
# the floor lines (zstd and openssl over the same bytes). Usage: cpu_seconds COMMAND [ARG...]
cpu_seconds() {
  { /usr/bin/time -f "%U %S" "$@" >/dev/null; } 2>&1 | tail -1 | awk '{ print $1 + $2 }'
}

# What the machine allows with no I/O: MB/s of SAMPLE (a file of real data) through SHA-256 and
# zstd -3 (MODE compress) or zstd decompression and SHA-256 (MODE decompress), with every core
# busy: cores / (1/sha256 + 1/zstd), from `openssl speed` and `zstd -b` (both in memory, one
# thread each). Usage: floor_mbps SAMPLE MODE
floor_mbps() {
  local sha zstd_line speed
  sha=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | awk '/^sha256/ { sub("k", "", $NF); print $NF / 1000 }')
  zstd_line=$(zstd -b3 -i2 "$1" 2>&1 | tr '\r' '\n' | grep -o "[0-9.]* MB/s" | tail -2 | tr '\n' ' ')
  if [ "$2" = compress ]; then speed=$(awk '{ print $1 }' <<<"$zstd_line"); else speed=$(awk '{ print $3 }' <<<"$zstd_line"); fi
  echo "$(nproc) / (1 / $sha + 1 / $speed)" | bc -l
}

# Up to 512 MB of a data directory's files (pg_wal left out), end to end in one file: the sample
# floor_mbps measures. Usage: data_sample PGDATA FILE
data_sample() {
  # head stops reading at 512 MB, so cat dies of SIGPIPE: only the sample's size says it worked.
  ( cd "$1" && find . -path ./pg_wal -prune -o -type f -print0 | xargs -0 cat 2>/dev/null ) | head -c $((512 << 20)) >"$2" || true
  [ -s "$2" ] || { echo "data_sample: no sample of $1" >&2; return 1; }
}
