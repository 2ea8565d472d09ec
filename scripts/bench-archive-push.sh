#!/usr/bin/env bash
# Benchmark: archive-push of the same ${COUNT:-64} real 16 MiB WAL segments, one process per segment
# (as PostgreSQL's archiver runs it), with walvault and with pgBackRest (zstd level 3, local
# repository), each plain and encrypted, in one run. Prints the ratio of wall times, the cost of
# encryption on push and on archive-get, walvault's peak RSS, and start-up time.
# Not a test: nothing here passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="pgbackrest time bc hyperfine" bash scripts/setup.sh
source scripts/lib.sh

rounds=${ROUNDS:-3}
count=${COUNT:-64}
bin_dir=$(build_release)
work=$(make_workdir bench)
pgdata="$work/pgdata"; segments="$work/segments"; port=$(free_port)
prepare_workdir "$work" "$pgdata" "$bin_dir"
mkdir -p "$segments"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

generate_wal "$pgdata" "$work" "$port" "$segments" "$count"

write_pgbackrest_conf "$work/pgbackrest.conf" "$work" "$work/pgbr-repo" "$pgdata" "$port" "archive-async=n" "start-fast=y"
sed -e "s|^repo1-path=.*|repo1-path=$work/pgbr-enc-repo|" -e "s|^lock-path=.*|lock-path=$work/pgbr-enc-lock|" \
    -e "s|^\[global\]|[global]\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=$(head -c 24 /dev/urandom | base64)|" \
    "$work/pgbackrest.conf" >"$work/pgbackrest-enc.conf"
chmod 600 "$work/pgbackrest-enc.conf"
write_walvault_config "$work/walvault.toml" bench "$pgdata" "$work" "$port" "$work/wv-store"
head -c 24 /dev/urandom | base64 >"$work/passphrase"; chmod 600 "$work/passphrase"
mkdir -p "$work/keycache" "$work/wv-store" "$work/wv-enc-store"
write_walvault_config "$work/walvault-enc.toml" bench "$pgdata" "$work" "$port" "$work/wv-enc-store" "$work/passphrase" "$work/keycache"
sed 's|^key_cache = .*|key_cache = "off"|' "$work/walvault-enc.toml" >"$work/walvault-nocache.toml"; chmod 600 "$work/walvault-nocache.toml"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"

# One timed loop: a fresh repository, then one process per segment; prints milliseconds.
# Tools: walvault, walvault-enc, walvault-nocache (encrypted, no key cache), pgbackrest, pgbackrest-enc;
# get-walvault and get-walvault-enc fetch every segment back from the store the last push loop left.
cat >"$work/loop.sh" <<'LOOP'
set -euo pipefail
tool=$1; work=$2; shift 2
case $tool in
  walvault) config=walvault.toml store=wv-store ;;
  walvault-enc|get-walvault-enc) config=walvault-enc.toml store=wv-enc-store ;;
  walvault-nocache) config=walvault-nocache.toml store=wv-enc-store ;;
  get-walvault) config=walvault.toml store=wv-store ;;
  pgbackrest) config=pgbackrest.conf repo=pgbr-repo lock=pgbr-lock ;;
  pgbackrest-enc) config=pgbackrest-enc.conf repo=pgbr-enc-repo lock=pgbr-enc-lock ;;
esac
case $tool in
  walvault*) rm -rf "$work/$store"; mkdir -p "$work/$store" ;;
  pgbackrest*)
    rm -rf "${work:?}/$repo" "${work:?}/$lock"; mkdir -p "$work/$repo"
    pgbackrest --config="$work/$config" --stanza=bench stanza-create >/dev/null ;;
esac
sync
# In the page cache, as PostgreSQL's just-written WAL is (walvault drops a segment's pages once archived).
for seg in "$@"; do cat "$work/segments/$seg"; done >/dev/null
start=$(date +%s%N)
for seg in "$@"; do
  case $tool in
    walvault*) "$work/bin/walvault" --config "$work/$config" archive-push "$work/segments/$seg" ;;
    get-*) "$work/bin/walvault" --config "$work/$config" archive-get "$seg" "$work/fetched" ;;
    pgbackrest*) pgbackrest --config="$work/$config" --stanza=bench archive-push "$work/segments/$seg" ;;
  esac
done
end=$(date +%s%N)
echo $(( (end - start) / 1000000 ))
LOOP

# The key cache is warmed once, as the first push after a boot would: timed rounds are the steady state.
as_pg "$work/bin/walvault" --config "$work/walvault-enc.toml" archive-push "$work/segments/${wal[0]}"

declare -a wv_ms pb_ms we_ms pe_ms gw_ms ge_ms
for r in $(seq 1 "$rounds"); do
  # Alternate the order so that no tool always gets the warmer page cache.
  if (( r % 2 )); then order=(walvault walvault-enc pgbackrest pgbackrest-enc); else order=(pgbackrest-enc pgbackrest walvault-enc walvault); fi
  for tool in "${order[@]}"; do
    ms=$(as_pg bash "$work/loop.sh" "$tool" "$work" "${wal[@]}")
    case $tool in
      walvault) wv_ms+=("$ms") ;; walvault-enc) we_ms+=("$ms") ;;
      pgbackrest) pb_ms+=("$ms") ;; pgbackrest-enc) pe_ms+=("$ms") ;;
    esac
  done
  # Fetch back from the stores the walvault loops just filled.
  if (( r % 2 )); then gets=(get-walvault get-walvault-enc); else gets=(get-walvault-enc get-walvault); fi
  for tool in "${gets[@]}"; do
    ms=$(as_pg bash "$work/loop.sh" "$tool" "$work" "${wal[@]}")
    if [ "$tool" = get-walvault ]; then gw_ms+=("$ms"); else ge_ms+=("$ms"); fi
  done
  echo "round $r: push walvault ${wv_ms[-1]} ms, encrypted ${we_ms[-1]} ms; pgbackrest ${pb_ms[-1]} ms, encrypted ${pe_ms[-1]} ms; get walvault ${gw_ms[-1]} ms, encrypted ${ge_ms[-1]} ms"
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
wv=$(median "${wv_ms[@]}"); pb=$(median "${pb_ms[@]}"); we=$(median "${we_ms[@]}"); pe=$(median "${pe_ms[@]}")
gw=$(median "${gw_ms[@]}"); ge=$(median "${ge_ms[@]}")
# Encryption's own cost is a few percent, less than the spread between rounds of the loops above, so
# it is measured paired: each segment is pushed plain and encrypted back to back (alternating which
# goes first), into fresh stores per round, and then fetched back the same way.
cat >"$work/paired.sh" <<'PAIRED'
set -euo pipefail
work=$1; shift
rm -rf "$work/wv-store" "$work/wv-enc-store"; mkdir -p "$work/wv-store" "$work/wv-enc-store"
sync
declare -A total=([push-plain]=0 [push-enc]=0 [get-plain]=0 [get-enc]=0)
i=0
for op in push get; do
  for seg in "$@"; do
    i=$((i + 1))
    if (( i % 2 )); then pair=(plain enc); else pair=(enc plain); fi
    for kind in "${pair[@]}"; do
      config=walvault.toml; [ "$kind" = enc ] && config=walvault-enc.toml
      [ "$op" = get ] || cat "$work/segments/$seg" >/dev/null
      start=$(date +%s%N)
      if [ "$op" = push ]; then
        "$work/bin/walvault" --config "$work/$config" archive-push "$work/segments/$seg"
      else
        "$work/bin/walvault" --config "$work/$config" archive-get "$seg" "$work/fetched-$kind"
      fi
      end=$(date +%s%N)
      total[$op-$kind]=$(( ${total[$op-$kind]} + (end - start) / 1000 ))
    done
  done
done
echo "${total[push-plain]} ${total[push-enc]} ${total[get-plain]} ${total[get-enc]}"
PAIRED
declare -a pp pe_ gp ge_
for r in $(seq 1 "$rounds"); do
  read -r a b c d < <(as_pg bash "$work/paired.sh" "$work" "${wal[@]}")
  pp+=("$a"); pe_+=("$b"); gp+=("$c"); ge_+=("$d")
  echo "paired round $r: push plain $((a / 1000)) ms, encrypted $((b / 1000)) ms; get plain $((c / 1000)) ms, encrypted $((d / 1000)) ms"
done
sum() { local t=0 v; for v in "$@"; do t=$((t + v)); done; echo "$t"; }
push_overhead=$(echo "($(sum "${pe_[@]}") / $(sum "${pp[@]}") - 1) * 100" | bc -l)
get_overhead=$(echo "($(sum "${ge_[@]}") / $(sum "${gp[@]}") - 1) * 100" | bc -l)
we_bytes=$(du -sb "$work/wv-enc-store" | cut -f1)
salts=$(find "$work/wv-enc-store" -type f -exec sh -c 'head -c 32 "$1" | tail -c 16 | od -An -tx1' _ {} \; | sort -u | wc -l)
# One round without the key cache: every process pays PBKDF2 (600,000 iterations).
nc=$(as_pg bash "$work/loop.sh" walvault-nocache "$work" "${wal[@]}")

wv_bytes=$(du -sb "$work/wv-store" | cut -f1); pb_bytes=$(du -sb "$work/pgbr-repo" | cut -f1)

# Peak RSS, in a separate untimed pass so that /usr/bin/time does not weigh on the timings.
peak_rss() {  # config, store: the largest maximum RSS (KiB) of the pushes into an emptied store, then of the gets back
  rm -rf "${work:?}/$2"; mkdir -p "$work/$2"; [ "$(id -u)" -ne 0 ] || chown postgres: "$work/$2"
  local peak=0 kb
  for seg in "${wal[@]}"; do
    kb=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/$1" archive-push "$work/segments/$seg" 2>&1 >/dev/null | tail -1)
    (( kb > peak )) && peak=$kb
  done
  local get_peak=0
  for seg in "${wal[@]}"; do
    kb=$(as_pg /usr/bin/time -f %M "$work/bin/walvault" --config "$work/$1" archive-get "$seg" "$work/fetched" 2>&1 >/dev/null | tail -1)
    (( kb > get_peak )) && get_peak=$kb
  done
  echo "$peak $get_peak"
}
read -r peak peak_get < <(peak_rss walvault.toml wv-store)
read -r peak_enc peak_get_enc < <(peak_rss walvault-enc.toml wv-enc-store)

startup() {  # mean wall time in microseconds, measured by hyperfine without a shell
  hyperfine -N --warmup 10 --runs 200 --export-json "$work/startup.json" "$*" >/dev/null 2>&1
  python3 -c "import json; print(int(json.load(open('$work/startup.json'))['results'][0]['mean'] * 1e6))"
}
wv_start=$(startup "$work/bin/walvault" --version)
pb_start=$(startup pgbackrest version)

echo
echo "archive-push, $count x 16 MiB real WAL segments, one process per segment (median of $rounds rounds)"
printf '  walvault    %6d ms   %5.1f MB/s   stored %d bytes\n' "$wv" "$(echo "$count*16.777216/($wv/1000)" | bc -l)" "$wv_bytes"
printf '  pgbackrest  %6d ms   %5.1f MB/s   stored %d bytes\n' "$pb" "$(echo "$count*16.777216/($pb/1000)" | bc -l)" "$pb_bytes"
printf '  ratio walvault/pgbackrest wall time: %.2f (target <= 0.60)\n' "$(echo "$wv/$pb" | bc -l)"
echo
echo "encryption (AES-256-GCM, key cache warm), same segments"
printf '  walvault encrypted   %6d ms   stored %d bytes\n' "$we" "$we_bytes"
printf '  pgbackrest aes-256-cbc %4d ms   overhead on push %+.1f %%\n' "$pe" "$(echo "($pe/$pb - 1)*100" | bc -l)"
printf '  ratio encrypted walvault/encrypted pgbackrest wall time: %.2f\n' "$(echo "$we/$pe" | bc -l)"
printf '  encryption overhead, paired (%d rounds x %d segments): archive-push %+.1f %% (target <= 10 %%), archive-get %+.1f %%\n' "$rounds" "$count" "$push_overhead" "$get_overhead"
printf '  archive-get of all %d, unpaired loops: plain %d ms, encrypted %d ms\n' "$count" "$gw" "$ge"
printf '  without the key cache (key_cache = "off", one round): %d ms, %+.0f %% over plain\n' "$nc" "$(echo "($nc/$wv - 1)*100" | bc -l)"
echo "  distinct KDF salts in the encrypted store: $salts"
printf '  walvault peak RSS: archive-push %.1f MiB, encrypted %.1f MiB; archive-get %.1f MiB, encrypted %.1f MiB (target <= 32 MiB)\n' \
  "$(echo "$peak/1024" | bc -l)" "$(echo "$peak_enc/1024" | bc -l)" "$(echo "$peak_get/1024" | bc -l)" "$(echo "$peak_get_enc/1024" | bc -l)"
printf '  start-up (hyperfine, 200 runs): walvault --version %d us, pgbackrest version %d us\n' "$wv_start" "$pb_start"
