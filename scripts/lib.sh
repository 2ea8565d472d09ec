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

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

build_release() {
  swift build -c release --static-swift-stdlib --product walvault >&2
  swift build -c release --static-swift-stdlib --show-bin-path
}
