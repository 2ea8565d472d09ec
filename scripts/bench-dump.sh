#!/usr/bin/env bash
# Benchmark: walvault dump / dump restore against pg_dump and pg_restore run by hand on the same
# tenant schema (about ${ROWS:-5000000} order rows of text and JSON plus a customer table: some
# 1 GB on disk, compressing like real data, not like pgbench), and the rate and peak RSS of
# walvault export-logs on ${LOG_ROWS:-2000000} log rows. Page cache dropped before each run; one run
# each (the restore: the median of ${RESTORE_ROUNDS:-3} pairs). Reports wall time, MB/s and walvault's overhead over the hand-run command. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="time bc zstd" bash scripts/setup.sh
source scripts/lib.sh

rows=${ROWS:-5000000}
log_rows=${LOG_ROWS:-2000000}
bin_dir=$(build_release)
work=$(make_workdir bench-dump)
pgdata="$work/pgdata"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$work/store" "$work/plain-store" "$work/hand" "$work/enc-store"
write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/store"
echo "bench dump passphrase" >"$work/passphrase"; chmod 600 "$work/passphrase"
write_walvault_config "$work/encrypted.toml" bench "$pgdata" "$work" "$port" "$work/enc-store" "$work/passphrase"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
start_archiving_cluster "$pgdata" "$work" "$port" "/bin/true" "max_wal_size = 8GB" "shared_buffers = 256MB"
sql() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d "${DB:-postgres}" -c "$1"; }

echo "== a tenant schema of $rows orders (random text and JSON), and $log_rows log rows"
sql "CREATE SCHEMA tenant_big;
     CREATE TABLE tenant_big.customers (id serial PRIMARY KEY, name text, email text, created_at timestamptz);
     INSERT INTO tenant_big.customers (name, email, created_at) SELECT md5(g::text), g || '@example.com', now() - g * interval '1 minute' FROM generate_series(1, 200000) g;
     CREATE TABLE tenant_big.orders (id bigserial PRIMARY KEY, customer_id int, total numeric(10,2), placed_at timestamptz, note text, details jsonb);
     INSERT INTO tenant_big.orders (customer_id, total, placed_at, note, details)
       SELECT 1 + (random() * 199999)::int, round((random() * 1000)::numeric, 2), now() - random() * interval '365 days',
              md5(random()::text) || ' ' || md5(random()::text) || ' ' || substr(md5(random()::text), 1, (random() * 32)::int),
              jsonb_build_object('sku', substr(md5(random()::text), 1, 10), 'qty', (random() * 9)::int + 1, 'ip', '10.' || (random() * 255)::int || '.' || (random() * 255)::int || '.1',
                                 'agent', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.0', 'okhttp/4.9'])[1 + (random() * 2)::int])
       FROM generate_series(1, $rows);
     CREATE INDEX ON tenant_big.orders (customer_id); CREATE INDEX ON tenant_big.orders (placed_at);
     CREATE TABLE project_logs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, level text, message text, context jsonb);
     INSERT INTO project_logs (created_at, level, message, context)
       SELECT '2026-01-01'::timestamptz + g * interval '1 second', (ARRAY['info','warn','error'])[1 + g % 3],
              'GET /api/v1/items/' || g || ' took ' || (random() * 900)::int || ' ms',
              jsonb_build_object('request_id', md5(g::text), 'status', 200 + g % 5, 'user', (random() * 10000)::int)
       FROM generate_series(1, $log_rows) g;
     CHECKPOINT;"
schema_bytes=$(sql "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tenant_big' AND c.relkind = 'r'")
echo "tenant_big: $schema_bytes bytes on disk (tables with their indexes and TOAST)"

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
# Runs a shell command line as postgres; prints "seconds peakKiB".
measure() {
  drop_caches
  as_pg /usr/bin/time -f "%e %M" -o "$work/time.out" bash -c "$1" >"$work/cmd.out" 2>&1 || { cat "$work/cmd.out" >&2; exit 1; }
  tail -1 "$work/time.out"
}
W="$work/bin/walvault --config $work/walvault.toml"
E="$work/bin/walvault --config $work/encrypted.toml"
conn="-h $work -p $port -U postgres"

echo "== dump, custom format (pg_dump compresses; walvault adds SHA-256 and the store, no second compression)"
read -r hand_c_s hand_c_kb < <(measure "$PG_BIN/pg_dump $conn -d postgres --schema=tenant_big --format=custom > $work/hand/c.dump && sync -f $work/hand/c.dump")
custom_bytes=$(stat -c %s "$work/hand/c.dump")
read -r wv_c_s wv_c_kb < <(measure "$W dump --schema tenant_big")
read -r enc_c_s enc_c_kb < <(measure "$E dump --schema tenant_big")
echo "== dump, plain SQL with zstd -3"
read -r hand_p_s hand_p_kb < <(measure "$PG_BIN/pg_dump $conn -d postgres --schema=tenant_big --format=plain | zstd -q -3 > $work/hand/p.sql.zst && sync -f $work/hand/p.sql.zst")
plain_bytes=$(zstd -dc "$work/hand/p.sql.zst" | wc -c)
read -r wv_p_s wv_p_kb < <(measure "$W dump --schema tenant_big --format plain")

# One restore varies by a second or more between runs (17.0 to 17.7 s for pg_restore alone), so the
# restore is timed in ${RESTORE_ROUNDS:-3} pairs, each into new empty databases, and the medians compared.
echo "== restore of the custom dump into an empty database, ${RESTORE_ROUNDS:-3} rounds"
id=$($W dump list | awk '/custom/ {print $1; exit}')
hand_rs=(); wv_rs=()
for r in $(seq 1 "${RESTORE_ROUNDS:-3}"); do
  sql "CREATE DATABASE hand_restore"; sql "CREATE DATABASE wv_restore"
  read -r s hand_r_kb < <(measure "$PG_BIN/pg_restore $conn -d hand_restore --single-transaction $work/hand/c.dump"); hand_rs+=("$s")
  read -r s wv_r_kb < <(measure "$W dump restore --id $id --database wv_restore --into-schema tenant_big"); wv_rs+=("$s")
  cp "$work/cmd.out" "$work/wv-restore.out"
  same=$(DB=hand_restore sql "SELECT count(*) || ' ' || sum(total) FROM tenant_big.orders")
  theirs=$(DB=wv_restore sql "SELECT count(*) || ' ' || sum(total) FROM tenant_big.orders")
  [ "$same" = "$theirs" ] || { echo "restored contents differ: $same vs $theirs" >&2; exit 1; }
  echo "round $r: pg_restore -1 ${hand_rs[-1]} s, walvault dump restore ${wv_rs[-1]} s"
  sql "DROP DATABASE hand_restore"; sql "DROP DATABASE wv_restore"
done
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
hand_r_s=$(median "${hand_rs[@]}"); wv_r_s=$(median "${wv_rs[@]}")

echo "== export-logs of $log_rows rows (JSON lines, zstd -3), and the same rows by hand (COPY | zstd -3)"
read -r wv_l_s wv_l_kb < <(measure "$W export-logs --until '2027-01-01 00:00:00+00'")
read -r enc_l_s enc_l_kb < <(measure "$E export-logs --until '2027-01-01 00:00:00+00'")
read -r hand_l_s hand_l_kb < <(measure "psql -X -q $conn -d postgres -c \"COPY (SELECT row_to_json(t)::text FROM project_logs t ORDER BY created_at) TO STDOUT\" | zstd -q -3 > $work/hand/logs.zst && sync -f $work/hand/logs.zst")
log_bytes=$(ls -l "$work"/store/bench/logs/project_logs/*.jsonl.zst | awk '{print $5}' | head -1)

mb() { echo "scale=1; $1 / 1000000 / $2" | bc -l; }
pct() { echo "scale=1; ($1 - $2) * 100 / $2" | bc -l; }
mib() { echo "scale=1; $1 / 1024" | bc -l; }
echo
echo "tenant_big: $schema_bytes bytes on disk; custom dump $custom_bytes bytes; plain SQL $plain_bytes bytes"
printf '  pg_dump -Fc > file (by hand)      %7.2f s  %6.1f MB/s of dump   peak RSS %6.1f MiB\n' "$hand_c_s" "$(mb "$custom_bytes" "$hand_c_s")" "$(mib "$hand_c_kb")"
printf '  walvault dump (custom)            %7.2f s  %6.1f MB/s of dump   peak RSS %6.1f MiB  overhead %s %%\n' "$wv_c_s" "$(mb "$custom_bytes" "$wv_c_s")" "$(mib "$wv_c_kb")" "$(pct "$wv_c_s" "$hand_c_s")"
printf '  walvault dump (custom, encrypted) %7.2f s  %6.1f MB/s of dump   peak RSS %6.1f MiB  overhead %s %%\n' "$enc_c_s" "$(mb "$custom_bytes" "$enc_c_s")" "$(mib "$enc_c_kb")" "$(pct "$enc_c_s" "$hand_c_s")"
printf '  pg_dump -Fp | zstd -3 (by hand)   %7.2f s  %6.1f MB/s of SQL    peak RSS %6.1f MiB\n' "$hand_p_s" "$(mb "$plain_bytes" "$hand_p_s")" "$(mib "$hand_p_kb")"
printf '  walvault dump --format plain      %7.2f s  %6.1f MB/s of SQL    peak RSS %6.1f MiB  overhead %s %%\n' "$wv_p_s" "$(mb "$plain_bytes" "$wv_p_s")" "$(mib "$wv_p_kb")" "$(pct "$wv_p_s" "$hand_p_s")"
printf '  pg_restore -1 (by hand), median   %7.2f s  %6.1f MB/s of dump\n' "$hand_r_s" "$(mb "$custom_bytes" "$hand_r_s")"
printf '  walvault dump restore, median     %7.2f s  %6.1f MB/s of dump   peak RSS %6.1f MiB  overhead %s %% (includes fetch, checksum, count(*) of each table)\n' "$wv_r_s" "$(mb "$custom_bytes" "$wv_r_s")" "$(mib "$wv_r_kb")" "$(pct "$wv_r_s" "$hand_r_s")"
printf '  walvault export-logs              %7.2f s  %8.0f rows/s  peak RSS %6.1f MiB  (%s bytes stored)\n' "$wv_l_s" "$(echo "$log_rows / $wv_l_s" | bc -l)" "$(mib "$wv_l_kb")" "$log_bytes"
printf '  walvault export-logs, encrypted   %7.2f s  %8.0f rows/s  peak RSS %6.1f MiB\n' "$enc_l_s" "$(echo "$log_rows / $enc_l_s" | bc -l)" "$(mib "$enc_l_kb")"
printf '  COPY row_to_json | zstd (by hand) %7.2f s  %8.0f rows/s\n' "$hand_l_s" "$(echo "$log_rows / $hand_l_s" | bc -l)"
