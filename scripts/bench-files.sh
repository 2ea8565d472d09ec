#!/usr/bin/env bash
# Benchmark: walvault files backup against restic (Debian's) on the same trees, in one run (issue 30).
#   tree A: ${FILES:-10000} files copied from /usr/share and /usr/lib (text, scripts, binaries, as an
#           application's uploads mix them) in nested directories, plus a ${BIG_MB:-3072} MiB file of
#           bytes that do not compress (AES-CTR, like video);
#   1 % of the files rewritten and one byte inserted at the front of the large file, then a second
#   snapshot of each tool;
#   tree B: ${MANY:-100000} small files, snapshotted twice unchanged (the second is the nightly case),
#           and with the large file hard-linked in, for peak memory.
# Both tools encrypt (walvault [encryption], restic always), both compress (walvault zstd 3, restic
# its default "auto"), both store on the same local disk. Caches are dropped before every step.
# The floor: reading tree A cold with two readers and writing its bytes with fsync (dd, through the
# page cache, as the local store writes packs), what this machine's disk allows a first snapshot
# whatever the CPU does; for the restore, the store read while the tree is written with O_DIRECT.
# Prints time, peak RSS (GNU time) and stored bytes, and the ratios. Not a test: nothing here
# passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="restic time bc" bash scripts/setup.sh
source scripts/lib.sh

files=${FILES:-10000}
big_mb=${BIG_MB:-3072}
many=${MANY:-100000}
bin_dir=$(build_release)
work=$(make_workdir bench-files)
prepare_workdir "$work" "" "$bin_dir"
walvault="$work/bin/walvault"
drop_caches() { sync; { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null || true; }
# Runs a command under GNU time; prints "seconds peak_kib".
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/cmd.out" 2>&1 || { cat "$work/cmd.out" >&2; exit 1; }
  tail -1 "$work/time.out"
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }
report=()
say() { report+=("$1"); echo "$1" >&2; }

echo "bench-files: building tree A ($files files and a $big_mb MiB file)" >&2
mkdir -p "$work/a" "$work/b"
# head closes the pipes early on purpose: their writers' SIGPIPE is not a failure here.
set +o pipefail
find /usr/share /usr/lib -type f -size -4M -readable 2>/dev/null | head -"$files" >"$work/list"
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt -in /dev/zero 2>/dev/null | head -c $((big_mb << 20)) >"$work/a/video.bin"
set -o pipefail
tar -cf - -T "$work/list" 2>/dev/null | tar -xf - -C "$work/a"
tree_bytes=$(du -sb "$work/a" | cut -f1)
echo "bench-files: building tree B ($many files)" >&2
python3 - "$work/b" "$many" <<'PY'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    d = os.path.join(root, "d%03d" % (i % 1000), "e%d" % (i // 1000 % 10))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.txt" % i), "w") as f:
        f.write("attachment %d\n" % i * (1 + i % 7))
PY

passphrase="$work/passphrase"; echo "bench files passphrase" >"$passphrase"; chmod 600 "$passphrase"
export RESTIC_PASSWORD_FILE="$passphrase"
for t in a b; do
  mkdir -p "$work/wv-$t"
  cat >"$work/wv-$t.toml" <<CONF
[cluster]
name = "bench"
[[stores]]
name = "local"
type = "local"
path = "$work/wv-$t"
[encryption]
passphrase_file = "$passphrase"
[[storage]]
name = "$t"
path = "$work/$t"
CONF
  chmod 600 "$work/wv-$t.toml"
  restic init -q -r "$work/restic-$t" >/dev/null
done

# The floor for tree A: two cold readers, and its bytes written durably once.
drop_caches
read_s=$( { /usr/bin/time -f "%e" sh -c "find '$work/a' -type f -print0 | xargs -0 -P2 -n 200 cat >/dev/null"; } 2>&1 | tail -1)
write_s=$( { /usr/bin/time -f "%e" dd if=/dev/zero of="$work/dd.out" bs=16M count=$((tree_bytes >> 24)) conv=fsync status=none; } 2>&1 | tail -1)
rm -f "$work/dd.out"
floor_s=$(echo "if ($read_s > $write_s) $read_s else $write_s" | bc -l)

step() { # tool label command...
  local tool=$1 label=$2; shift 2
  drop_caches
  local out; out=$(measure "$@")
  echo "$out"
}

wv_first=$(step walvault first "$walvault" --config "$work/wv-a.toml" files backup)
rs_first=$(step restic first restic -r "$work/restic-a" backup -q "$work/a")

# 1 % of the files rewritten, one byte in front of the large file.
find "$work/a" -type f ! -name video.bin | awk "NR % 100 == 0" | while read -r f; do echo "rewritten $(date +%N)" >"$f"; done
{ printf 'X'; cat "$work/a/video.bin"; } >"$work/video.new" && mv "$work/video.new" "$work/a/video.bin"
sleep 1
wv_second=$(step walvault second "$walvault" --config "$work/wv-a.toml" files backup)
rs_second=$(step restic second restic -r "$work/restic-a" backup -q "$work/a")
wv_stored=$(du -sb "$work/wv-a" | cut -f1)
rs_stored=$(du -sb "$work/restic-a" | cut -f1)

# The floor for a restore: the store read cold by two readers while the tree's bytes are written
# past the page cache (dd oflag=direct), both at once, as a restore does them.
drop_caches
restore_floor_s=$( { /usr/bin/time -f "%e" sh -c "find '$work/wv-a' -type f -print0 | xargs -0 -P2 -n 50 cat >/dev/null & dd if=/dev/zero of='$work/dd.out' bs=16M count=$((tree_bytes >> 24)) oflag=direct conv=fsync status=none; wait"; } 2>&1 | tail -1)
rm -f "$work/dd.out"

mkdir -p "$work/wv-restored" "$work/rs-restored"
wv_restore=$(step walvault restore "$walvault" --config "$work/wv-a.toml" files restore --name a --into "$work/wv-restored")
sync_s=$( { /usr/bin/time -f "%e" sync; } 2>&1 | tail -1)
rs_restore=$(step restic restore sh -c "restic -r '$work/restic-a' restore latest -q --target '$work/rs-restored' && sync")
cmp "$work/a/video.bin" "$work/wv-restored/video.bin"
rm -rf "$work/wv-restored" "$work/rs-restored"

# Tree B: 100,000 files, then the same unchanged; then with the large file linked in, for memory.
wv_b1=$(step walvault b-first "$walvault" --config "$work/wv-b.toml" files backup)
rs_b1=$(step restic b-first restic -r "$work/restic-b" backup -q "$work/b")
sleep 1
wv_b2=$(step walvault b-unchanged "$walvault" --config "$work/wv-b.toml" files backup)
rs_b2=$(step restic b-unchanged restic -r "$work/restic-b" backup -q "$work/b")
ln "$work/a/video.bin" "$work/b/video.bin"
sleep 1
wv_b3=$(step walvault b-big "$walvault" --config "$work/wv-b.toml" files backup)
rs_b3=$(step restic b-big restic -r "$work/restic-b" backup -q "$work/b")

t() { echo "$1" | cut -d' ' -f1; }
m() { echo "$(( $(echo "$1" | cut -d' ' -f2) / 1024 ))"; }
gib=$(echo "scale=2; $tree_bytes / 1073741824" | bc -l)
say "tree A: $files files and a $big_mb MiB file, $gib GiB; restic $(restic version | cut -d' ' -f2)"
say "| measure | walvault | restic | ratio (restic ÷ walvault time, walvault ÷ restic bytes) | target |"
say "| --- | --- | --- | --- | --- |"
say "| first snapshot | $(t "$wv_first") s, $(m "$wv_first") MiB | $(t "$rs_first") s, $(m "$rs_first") MiB | $(ratio "$(t "$rs_first")" "$(t "$wv_first")")× | ≥ 1.5× |"
say "| second snapshot, 1 % changed and 1 byte inserted | $(t "$wv_second") s | $(t "$rs_second") s | $(ratio "$(t "$rs_second")" "$(t "$wv_second")")× | ≥ 2× |"
say "| stored after both | $wv_stored B | $rs_stored B | $(ratio "$wv_stored" "$rs_stored") | ≤ 1.0 |"
say "| restore (with sync) | $(t "$wv_restore") s + sync $sync_s s | $(t "$rs_restore") s | $(ratio "$(t "$rs_restore")" "$(echo "$(t "$wv_restore") + $sync_s" | bc -l)")× | ≥ 1.5× |"
say "| $many files, first snapshot | $(t "$wv_b1") s, $(m "$wv_b1") MiB | $(t "$rs_b1") s, $(m "$rs_b1") MiB | $(ratio "$(t "$rs_b1")" "$(t "$wv_b1")")× | |"
say "| $many files unchanged | $(t "$wv_b2") s, $(m "$wv_b2") MiB | $(t "$rs_b2") s, $(m "$rs_b2") MiB | $(ratio "$(t "$rs_b2")" "$(t "$wv_b2")")× | ≤ 2 s |"
say "| $many files and the large file: peak RSS | $(m "$wv_b3") MiB ($(t "$wv_b3") s) | $(m "$rs_b3") MiB ($(t "$rs_b3") s) | | ≤ 128 MiB |"
say "floor for tree A's first snapshot on this machine: read cold with two readers $read_s s, write its bytes through the page cache with fsync $write_s s: $floor_s s; walvault ÷ floor $(ratio "$(t "$wv_first")" "$floor_s")"
say "floor for the restore: the store read cold by two readers while the tree's bytes are written with O_DIRECT, at once, $restore_floor_s s; walvault ÷ floor $(ratio "$(echo "$(t "$wv_restore") + $sync_s" | bc -l)" "$restore_floor_s"); 1.5× restic would be $(ratio "$(t "$rs_restore")" 1.5) s"
printf '%s\n' "${report[@]}"
