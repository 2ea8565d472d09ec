#!/usr/bin/env bash
# Benchmark: draining a backlog of 64 ready 16 MiB WAL segments as PostgreSQL's archiver does
# (one archive-push per segment, oldest first, .ready renamed to .done after each success), with
# walvault's push-ahead ([performance] push_parallel = cores) and without it (push_parallel = 1),
# against pgBackRest synchronous and with archive-async=y process-max=2. zstd level 3, local
# stores, fresh store per loop, ${ROUNDS:-3} rounds in alternating order, median reported.
# The floor: the CPU that zstd -3 and SHA-256 of the same segments take (`zstd -3 -c`, `openssl dgst
# -sha256`, one process each, page cache warm), spread over every core with nothing else to do.
# Not a test: nothing here passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc zstd openssl" bash scripts/setup.sh
source scripts/lib.sh

rounds=${ROUNDS:-3}
count=64
bin_dir=$(build_release)
work=$(make_workdir bench-drain)
pgdata="$work/pgdata"; segments="$work/segments"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$segments"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

generate_wal "$pgdata" "$work" "$port" "$segments" "$count"
write_pgbackrest_conf "$work/pgbackrest.conf" "$work" "$work/pgbr-repo" "$work/drain" "$port" "spool-path=$work/pgbr-spool" "archive-async=n" "process-max=2"
sed 's/^archive-async=n/archive-async=y/' "$work/pgbackrest.conf" >"$work/pgbackrest-async.conf"
# The backlog lives in a copy of the data directory's identity: PG_VERSION, pg_control, pg_wal.
mkdir -p "$work/drain/global" "$work/drain/pg_wal/archive_status"
cp "$pgdata/PG_VERSION" "$work/drain/"; cp "$pgdata/global/pg_control" "$work/drain/global/"
for seg in "${wal[@]}"; do cp "$segments/$seg" "$work/drain/pg_wal/"; done
sed -i "s|^pg1-path=.*|pg1-path=$pgdata|" "$work/pgbackrest.conf"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
mkdir -p "$work/pgbr-repo"; chown -R postgres: "$work/pgbr-repo" 2>/dev/null || true
as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
sed -i "s|^pg1-path=.*|pg1-path=$work/drain|" "$work/pgbackrest.conf"
for n in 1 "$(nproc)"; do
  write_walvault_config "$work/walvault-$n.toml" bench "$work/drain" "$work" "$port" "$work/wv-store"
  sed -i "s|^\[cluster\]|[cluster]\nspool = \"$work/wv-spool\"|" "$work/walvault-$n.toml"
  printf '\n[performance]\npush_parallel = %s\n' "$n" >>"$work/walvault-$n.toml"
done
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

cat >"$work/loop.sh" <<'LOOP'
set -euo pipefail
tool=$1; work=$2; shift 2
status="$work/drain/pg_wal/archive_status"
rm -f "$status"/*; for seg in "$@"; do : >"$status/$seg.ready"; done
rm -rf "$work/wv-store" "$work/wv-spool" "$work/pgbr-spool"; mkdir -p "$work/wv-store" "$work/wv-spool"
if [ "${tool#pgbackrest}" != "$tool" ]; then
  find "$work/pgbr-repo/archive" -name '*.zst' -delete 2>/dev/null || true
fi
cd "$work/drain"
sync
# In the page cache, as PostgreSQL's just-written WAL is (walvault drops a segment's pages once archived).
for seg in "$@"; do cat "pg_wal/$seg"; done >/dev/null
start=$(date +%s%N)
for seg in "$@"; do
  case $tool in
    pgbackrest*) pgbackrest --config="$work/$tool.conf" --stanza=bench archive-push "pg_wal/$seg" ;;
    *) "$work/bin/walvault" --config "$work/$tool.toml" archive-push "pg_wal/$seg" ;;
  esac
  mv "$status/$seg.ready" "$status/$seg.done"
done
end=$(date +%s%N)
echo $(( (end - start) / 1000000 ))
LOOP
chmod 755 "$work/loop.sh"
cd "$segments"
cat "${wal[@]}" >/dev/null
floor_cpu=$(cpu_seconds bash -c 'zstd -3 -q -c "$@" >/dev/null; openssl dgst -sha256 "$@" >/dev/null' _ "${wal[@]}")
cd - >/dev/null
floor_ms=$(echo "$floor_cpu * 1000 / $(nproc)" | bc)
tools=(walvault-1 "walvault-$(nproc)" pgbackrest pgbackrest-async)
declare -A times
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then order=("${tools[@]}"); else order=($(printf '%s\n' "${tools[@]}" | tac)); fi
  line="round $r:"
  for tool in "${order[@]}"; do
    ms=$(as_pg bash "$work/loop.sh" "$tool" "$work" "${wal[@]}")
    times[$tool]+="$ms "; line+=" $tool $ms ms;"
    sleep 2
  done
  echo "$line"
done
median() { printf '%s\n' $1 | sort -n | sed -n "$(( ($(echo $1 | wc -w) + 1) / 2 ))p"; }
echo
echo "draining $count ready segments ($((count * 16)) MiB), one archive-push per segment, median of $rounds rounds:"
for tool in "${tools[@]}"; do
  ms=$(median "${times[$tool]}")
  printf '  %-18s %6d ms  %6.1f MiB/s\n' "$tool" "$ms" "$(echo "$count * 16 * 1000 / $ms" | bc -l)"
done
echo "  floor: zstd -3 and SHA-256 of the $count segments, $floor_cpu s of CPU over $(nproc) cores: $floor_ms ms"
echo "  ratio walvault push-ahead / pgbackrest async: $(echo "scale=2; $(median "${times[walvault-$(nproc)]}") / $(median "${times[pgbackrest-async]}")" | bc -l); walvault push-ahead / floor $(echo "scale=2; $(median "${times[walvault-$(nproc)]}") / $floor_ms" | bc -l); pgbackrest async / floor $(echo "scale=2; $(median "${times[pgbackrest-async]}") / $floor_ms" | bc -l)"
echo "  ratio walvault push-ahead / walvault without: $(echo "scale=2; $(median "${times[walvault-$(nproc)]}") / $(median "${times[walvault-1]}")" | bc -l)"
