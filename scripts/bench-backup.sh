#!/usr/bin/env bash
# Benchmark: full base backup and full restore of two data sets of the same size, then incremental
# backups (issue 28), in one run:
#   pgbench  `pgbench -i -s ${SCALE:-100}` (about 1.5 GB of highly compressible pages);
#   mixed    a table of text and JSON documents that compresses like real data (about 5:1, where
#            pgbench's pages compress about 20:1).
# Tools: walvault (zstd 3), pgBackRest (zstd 3, process-max=2) and pg_basebackup -Ft -X none
# (uncompressed tar; its restore is tar -x then a sync of the file system, as the others sync).
# The page cache is dropped before every backup and every restore. Prints time, MB/s of data
# directory, peak RSS (GNU time), stored size and the ratios. DATASETS picks the data sets.
# Incremental: after `pgbench -T ${INCR_SECONDS:-60} -c 2` (the mixed set: random updates of its
# documents), walvault --type incr against pgBackRest --type=incr with repo-bundle and repo-block
# (block incremental; a beta feature in Debian 12's pgBackRest 2.45, hence beta=y), stored bytes and time; then 5 more incrementals (a chain of 6) with ${CHAIN_SECONDS:-10} s
# of load between them, a full of the same moment, and walvault's restore of the chain against its
# restore of that full.
# The floor: the same bytes through SHA-256 and zstd -3 on every core with no I/O (lib.sh
# floor_mbps: openssl speed and zstd -b on a 512 MB sample of the data directory), what this
# machine's CPUs allow a backup; each walvault figure is also given as a fraction of it.
# Not a test: nothing here passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc" bash scripts/setup.sh
source scripts/lib.sh

scale=${SCALE:-100}
datasets=${DATASETS:-pgbench mixed}
bin_dir=$(build_release)
work=$(make_workdir bench-backup)
pgdata="$work/pgdata"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"

drop_caches() { sync; { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || true; }
# Runs a command as postgres under GNU time; prints "seconds peak_kib".
measure() {
  as_pg /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/cmd.out" 2>&1 || { cat "$work/cmd.out" >&2; exit 1; }
  tail -1 "$work/time.out"
}
psql_() { as_pg psql -X -q -h "$work" -p "$port" -U postgres "$@"; }
report=()

for dataset in $datasets; do
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgdata" "$work"/wv-* "$work"/pgbr-* "$work"/pb-restored "$work"/bb-restored "$work/base.tar"
  mkdir -p "$work/wv-store" "$work/pgbr-repo"
  write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/wv-store"
  write_pgbackrest_conf "$work/pgbackrest.conf" "$work" "$work/pgbr-repo" "$pgdata" "$port" "process-max=2" "start-fast=y" "repo1-retention-full=9" "repo1-bundle=y" "repo1-block=y" "beta=y"
  [ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

  echo "== $dataset data set into a PostgreSQL 15 cluster archiving through both tools"
  start_archiving_cluster "$pgdata" "$work" "$port" \
    "$work/bin/walvault --config $work/walvault.toml archive-push %p && pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p" \
    "max_wal_size = 4GB"
  as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
  case $dataset in
    pgbench) as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1 ;;
    mixed)
      # Orders with free text and a JSON document each: words, numbers, dates and identifiers,
      # about 500 bytes a row, as many rows as make the same size as pgbench at this scale.
      psql_ -c "CREATE TABLE orders (id bigint PRIMARY KEY, customer text, note text, doc jsonb)"
      rows=$((scale * 34000))
      for start in $(seq 1 1000000 "$rows"); do
        stop=$((start + 999999 < rows ? start + 999999 : rows))
        psql_ -c "INSERT INTO orders SELECT g,
            (ARRAY['Ada','Grace','Linus','Edsger','Barbara','Ken','Dennis','Margaret'])[1 + g % 8] || ' ' || md5((g * 31)::text),
            'order ' || g || ' shipped to ' || (ARRAY['Berlin','Lagos','Lima','Osaka','Oslo','Perth','Quito','Tunis'])[1 + (g * 7) % 8]
              || ' on ' || (date '2024-01-01' + (random() * 700)::int) || ': ' || md5(random()::text) || ' ' || substr(md5(random()::text), 1, (random() * 32)::int),
            jsonb_build_object('id', g, 'sku', 'SKU-' || (random() * 99999)::int, 'qty', (random() * 20)::int,
              'price', round((random() * 500)::numeric, 2), 'paid', random() < 0.8, 'ref', md5(random()::text),
              'tags', jsonb_build_array((ARRAY['gift','express','bulk','return','promo'])[1 + (g * 3) % 5], 'batch-' || (g / 1000)),
              'at', now() - random() * interval '700 days')
          FROM generate_series($start, $stop) g"
      done
      ;;
  esac
  psql_ -c "CHECKPOINT" -c "SELECT pg_switch_wal()" >/dev/null
  data_bytes=$(du -sb --exclude=pg_wal "$pgdata" | cut -f1)
  echo "data directory without pg_wal: $data_bytes bytes"

  drop_caches
  # The floor: SHA-256 and zstd -3 of this data on every core, in memory (lib.sh floor_mbps).
  data_sample "$pgdata" "$work/sample"
  floor_rate=$(floor_mbps "$work/sample" compress)
  floor_s=$(echo "$data_bytes / 1000000 / $floor_rate" | bc -l)
  rm -f "$work/sample"

  drop_caches
  read -r wv_s wv_kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" backup --type full)
  drop_caches
  read -r pb_s pb_kb < <(measure pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --type=full backup)
  drop_caches
  read -r bb_s bb_kb < <(measure bash -c "'$PG_BIN/pg_basebackup' -h '$work' -p $port -U postgres -Ft -X none -D - > '$work/base.tar'")
  wv_stored=$(du -sb "$work/wv-store/bench/backup" | cut -f1)
  pb_stored=$(du -sb "$work/pgbr-repo/backup" | cut -f1)
  bb_stored=$(stat -c %s "$work/base.tar")

  echo "== restore each into an empty directory"
  drop_caches
  read -r wvr_s wvr_kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" restore --pgdata "$work/wv-restored" --target latest)
  drop_caches
  read -r pbr_s pbr_kb < <(measure pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --pg1-path="$work/pb-restored" restore)
  drop_caches
  as_pg mkdir -m 700 "$work/bb-restored"
  read -r bbr_s bbr_kb < <(measure bash -c "tar -xf '$work/base.tar' -C '$work/bb-restored' && sync -f '$work/bb-restored'")
  rm -rf "$work/wv-restored" "$work/pb-restored" "$work/bb-restored" "$work/base.tar"

  echo "== incremental after ${INCR_SECONDS:-60} s of load"
  load() {
    case $dataset in
      pgbench) as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -n -c 2 -T "$1" postgres >/dev/null 2>&1 ;;
      mixed)
        printf '\\set id random(1, %d)\nUPDATE orders SET note = note || %s, doc = doc || %s WHERE id = :id;\n' \
          "$((scale * 34000))" "' updated'" "'{\"seen\": true}'" >"$work/mixed.sql"
        as_pg "$PG_BIN/pgbench" -h "$work" -p "$port" -U postgres -n -c 2 -T "$1" -f "$work/mixed.sql" postgres >/dev/null 2>&1 ;;
    esac
    psql_ -c "CHECKPOINT" -c "SELECT pg_switch_wal()" >/dev/null
  }
  newest_dir() { ls -1dt "$1"/*/ | head -1; }
  load "${INCR_SECONDS:-60}"
  drop_caches
  read -r wvi_s wvi_kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" backup --type incr --no-expire)
  wvi_stored=$(du -sb "$(newest_dir "$work/wv-store/bench/backup")" | cut -f1)
  drop_caches
  read -r pbi_s pbi_kb < <(measure pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --type=incr backup)
  pbi_stored=$(du -sb "$(newest_dir "$work/pgbr-repo/backup/bench")" | cut -f1)

  echo "== 5 more incrementals (6 in the chain), a full of the same moment, and both restored"
  for _ in 1 2 3 4 5; do
    load "${CHAIN_SECONDS:-10}"
    as_pg "$work/bin/walvault" --config "$work/walvault.toml" backup --type incr --no-expire >/dev/null
  done
  chain_label=$(basename "$(newest_dir "$work/wv-store/bench/backup")")
  as_pg "$work/bin/walvault" --config "$work/walvault.toml" backup --type full --no-expire >/dev/null
  full_label=$(basename "$(newest_dir "$work/wv-store/bench/backup")")
  drop_caches
  read -r wvc_s wvc_kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" restore --pgdata "$work/wv-chain" --backup "$chain_label" --target latest)
  rm -rf "$work/wv-chain"
  drop_caches
  read -r wvf_s wvf_kb < <(measure "$work/bin/walvault" --config "$work/walvault.toml" restore --pgdata "$work/wv-full" --backup "$full_label" --target latest)
  rm -rf "$work/wv-full"
  # What each restore decompresses (its plan says): a chain's parts hold the pages later backups
  # replaced as well, so its time follows these bytes, not the files' size.
  decompressed_mb() {
    as_pg "$work/bin/walvault" --config "$work/walvault.toml" restore --dry-run --pgdata "$work/wv-plan" --backup "$1" --target latest |
      grep -o '[0-9.]* MB to decompress' | awk '{ print $1 }'
  }
  chain_mb=$(decompressed_mb "$chain_label"); full_mb=$(decompressed_mb "$full_label")

  mbps() { echo "scale=1; $data_bytes / 1000000 / $1" | bc -l; }
  mib() { echo "$1/1024" | bc -l; }
  report+=("" "$dataset data set ($((data_bytes / 1000000)) MB data directory), one run, caches dropped before each step")
  report+=("$(printf '  backup   walvault             %6.2f s %7.1f MB/s  peak RSS %6.1f MiB  stored %5d MB' "$wv_s" "$(mbps "$wv_s")" "$(mib "$wv_kb")" $((wv_stored / 1000000)))")
  report+=("$(printf '           pgbackrest (pm=2)    %6.2f s %7.1f MB/s  peak RSS %6.1f MiB  stored %5d MB' "$pb_s" "$(mbps "$pb_s")" "$(mib "$pb_kb")" $((pb_stored / 1000000)))")
  report+=("$(printf '           pg_basebackup -Ft    %6.2f s %7.1f MB/s  peak RSS %6.1f MiB  stored %5d MB (tar)' "$bb_s" "$(mbps "$bb_s")" "$(mib "$bb_kb")" $((bb_stored / 1000000)))")
  report+=("$(printf '  restore  walvault             %6.2f s %7.1f MB/s  peak RSS %6.1f MiB' "$wvr_s" "$(mbps "$wvr_s")" "$(mib "$wvr_kb")")")
  report+=("$(printf '           pgbackrest (pm=2)    %6.2f s %7.1f MB/s  peak RSS %6.1f MiB' "$pbr_s" "$(mbps "$pbr_s")" "$(mib "$pbr_kb")")")
  report+=("$(printf '           tar -x + sync        %6.2f s %7.1f MB/s  peak RSS %6.1f MiB' "$bbr_s" "$(mbps "$bbr_s")" "$(mib "$bbr_kb")")")
  report+=("$(printf '  floor: SHA-256 + zstd -3 of this data on every core, no I/O       %6.2f s %7.1f MB/s' "$floor_s" "$(mbps "$floor_s")")")
  report+=("$(printf '  backup throughput walvault/pgbackrest %.2fx (target >= 2.5), walvault/pg_basebackup %.2fx, walvault/floor %.2f' "$(echo "$pb_s/$wv_s" | bc -l)" "$(echo "$bb_s/$wv_s" | bc -l)" "$(echo "$floor_s/$wv_s" | bc -l)")")
  report+=("$(printf '  incr     walvault             %6.2f s  peak RSS %6.1f MiB  stored %9d bytes' "$wvi_s" "$(mib "$wvi_kb")" "$wvi_stored")")
  report+=("$(printf '           pgbackrest block incr %6.2f s  peak RSS %6.1f MiB  stored %9d bytes' "$pbi_s" "$(mib "$pbi_kb")" "$pbi_stored")")
  report+=("$(printf '  incr stored walvault/pgbackrest %.2f (target <= 1.0), incr time walvault/pgbackrest %.2f (target <= 0.5), incr read rate walvault/floor %.2f' "$(echo "$wvi_stored/$pbi_stored" | bc -l)" "$(echo "$wvi_s/$pbi_s" | bc -l)" "$(echo "$floor_s/$wvi_s" | bc -l)")")
  report+=("$(printf '  restore  full + 6 incrementals %6.2f s  peak RSS %6.1f MiB; one full of the same data %6.2f s  peak RSS %6.1f MiB; ratio %.2f (target <= 1.1)' "$wvc_s" "$(mib "$wvc_kb")" "$wvf_s" "$(mib "$wvf_kb")" "$(echo "$wvc_s/$wvf_s" | bc -l)")")
  report+=("$(printf '  the chain decompresses %.0f MB, the full %.0f MB: ratio %.2f, what the restore ratio is when time follows the bytes decoded' "$chain_mb" "$full_mb" "$(echo "$chain_mb/$full_mb" | bc -l)")")
  report+=("$(printf '  restore time walvault/pgbackrest %.2f (target <= 0.6), walvault/untar %.2f' "$(echo "$wvr_s/$pbr_s" | bc -l)" "$(echo "$wvr_s/$bbr_s" | bc -l)")")
done
printf '%s\n' "${report[@]}"
