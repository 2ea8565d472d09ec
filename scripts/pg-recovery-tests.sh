#!/usr/bin/env bash
# PostgreSQL 15's own recovery tests (src/test/recovery, the TAP suite PostgreSQL runs on every
# change) with walvault as both archive_command and restore_command: every test file that archives
# or restores WAL. The source comes from Debian's postgresql-15 source package.
#
# PostgreSQL::Test::Cluster's enable_archiving and enable_restoring are changed to write one
# walvault config per archive directory (a local store inside it) and to call
# `walvault archive-push` and `walvault archive-get`. Three tests reach into the archive
# directory's flat layout by hand; each is changed to go through walvault instead:
#   002_archiving          waits for 00000002.history in the archive: looks in walvault's store
#   025_stuck_on_old_timeline  archives history files only: through walvault, history files only
#   043_no_contrecord_switch   copies a damaged segment into the archive: walvault archive-push
#
# Usage: bash scripts/pg-recovery-tests.sh [TEST_FILE ...]   (default: every file that archives)
# Environment: WALVAULT_BIN (default: a debug build of this checkout), WALVAULT_TAP_SPOOL=1 adds a
# [cluster] spool, so prefetch and push-ahead take part too.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
WALVAULT_EXTRA_PACKAGES="libipc-run-perl ${WALVAULT_EXTRA_PACKAGES:-}" bash scripts/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
source scripts/lib.sh

if [ -z "${WALVAULT_BIN:-}" ]; then
  swift build --product walvault >/dev/null
  WALVAULT_BIN="$(swift build --show-bin-path)/walvault"
fi

# The source tree of the installed PostgreSQL 15, cached between runs.
cache=${WALVAULT_PG_SOURCE_CACHE:-/var/cache/walvault-pg-source}
if ! ls "$cache"/postgresql-15_*.orig.tar.bz2 >/dev/null 2>&1; then
  if ! apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -q '^Sources$'; then
    echo "pg-recovery-tests: adding Debian's source lists (deb-src) to fetch postgresql-15's source"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    sed -e 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/walvault-deb-src.sources >/dev/null
    "${sudo_cmd[@]}" apt-get update -qq
  fi
  mkdir -p "$cache" 2>/dev/null || { cache=$HOME/.cache/walvault-pg-source; mkdir -p "$cache"; }
  installed=$(dpkg-query -W -f='${Version}' postgresql-15)
  # The installed version first; a mirror may lack that version's source, so then any other 15.x.
  fetched=no
  for version in "$installed" $(apt-cache showsrc postgresql-15 | sed -n 's/^Version: //p' | sort -rV); do
    if (cd "$cache" && apt-get source --download-only -qq "postgresql-15=$version" >/dev/null 2>&1); then fetched=yes; break; fi
  done
  [ "$fetched" = yes ] || { echo "pg-recovery-tests: could not download postgresql-15's source package" >&2; exit 1; }
fi
tarball=$(ls "$cache"/postgresql-15_*.orig.tar.bz2 | sort -V | tail -1)

work=$(mktemp -d /tmp/walvault-pg-recovery.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
top=$(basename "$tarball" .orig.tar.bz2 | sed "s/^postgresql-15_/postgresql-/")
tar xjf "$tarball" -C "$work" "$top/src/test/perl" "$top/src/test/recovery"
src="$work/$top/src/test"
mkdir -p "$work/bin"
cp "$WALVAULT_BIN" "$work/bin/walvault"

cluster_pm="$src/perl/PostgreSQL/Test/Cluster.pm"
grep -q 'qq{cp "%p" "$path/%f"}' "$cluster_pm" && grep -q 'qq{cp "$path/%f" "%p"}' "$cluster_pm" \
  || { echo "pg-recovery-tests: $cluster_pm no longer has the cp commands this script replaces" >&2; exit 1; }
perl -0pi -e 's/qq\{cp "%p" "\$path\/%f"\}/walvault_command(\$path, q{archive-push "%p"})/; s/qq\{cp "\$path\/%f" "%p"\}/walvault_command(\$path, q{archive-get %f "%p"})/' "$cluster_pm"
# The helper goes before enable_archiving, inside package PostgreSQL::Test::Cluster (the module ends
# with packages of its own for older versions).
WALVAULT_SUB=$(cat <<'PERL'
# walvault: one config per archive directory, its local store inside it.
sub walvault_command
{
	my ($path, $arguments) = @_;
	my $config = "$path/walvault.toml";
	unless (-e $config)
	{
		mkdir "$path/store";
		open my $fh, '>', $config or die "cannot write $config: $!";
		print $fh "[cluster]\nname = \"tap\"\n";
		print $fh "spool = \"$path/spool\"\n" if $ENV{WALVAULT_TAP_SPOOL};
		print $fh "\n[[stores]]\nname = \"local\"\ntype = \"local\"\npath = \"$path/store\"\n";
		close $fh;
		chmod 0600, $config;
	}
	return "$ENV{WALVAULT_BIN} --config $config $arguments";
}
PERL
)
WALVAULT_SUB="$WALVAULT_SUB" perl -0pi -e 's/^sub enable_archiving$/$ENV{WALVAULT_SUB}\n\nsub enable_archiving/m' "$cluster_pm"

t="$src/recovery/t"
replace() { # FILE FROM TO: a literal replacement that must happen
  FROM=$2 TO=$3 perl -0pi -e '$n = s/\Q$ENV{FROM}\E/$ENV{TO}/g; die "not found\n" unless $n' "$1" \
    || { echo "pg-recovery-tests: $(basename "$1") no longer has: $2" >&2; exit 1; }
}
replace "$t/002_archiving.pl" \
  "SELECT size IS NOT NULL FROM pg_stat_file('\$primary_archive/00000002.history', true)" \
  "SELECT count(*) > 0 FROM pg_ls_dir('\$primary_archive/store/tap/wal', true, false) AS f WHERE f LIKE '00000002.history-%'"
replace "$t/025_stuck_on_old_timeline.pl" \
  "archive_command = '\"\$perlbin\" \"\$FindBin::RealBin/cp_history_files\" \"%p\" \"\$archivedir_primary/%f\"'" \
  "archive_command = 'if expr \"%f\" : \".*history\" >/dev/null; then \$ENV{WALVAULT_BIN} --config \$archivedir_primary/walvault.toml archive-push \"%p\"; fi'"
replace "$t/043_no_contrecord_switch.pl" \
  'copy($wal_file, $primary->archive_dir);' \
  "PostgreSQL::Test::Utils::system_or_bail(\$ENV{WALVAULT_BIN}, '--config', \$primary->archive_dir . '/walvault.toml', 'archive-push', \$wal_file);"

if (($#)); then
  tests=("$@")
else
  tests=()
  for f in "$t"/*.pl; do
    grep -qiE 'archiv|restore_command' "$f" && tests+=("t/$(basename "$f")")
  done
fi
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$work"
echo "== PostgreSQL's recovery tests ($(basename "$tarball" .orig.tar.bz2)) with walvault as archive_command and restore_command: ${#tests[@]} files"
cd "$src/recovery"
as_pg env PATH="$PG_BIN:$PATH" PG_REGRESS=/bin/true TESTDIR="$src/recovery" \
  WALVAULT_BIN="$work/bin/walvault" WALVAULT_TAP_SPOOL="${WALVAULT_TAP_SPOOL:-}" \
  prove -j "${WALVAULT_TAP_JOBS:-2}" -I ../perl -I . "${tests[@]}" || {
    for log in tmp_check/log/regress_log_*; do
      grep -q "not ok\|Bail out\|died" "$log" 2>/dev/null && { echo "---- $log"; tail -40 "$log"; }
    done
    exit 1
  }
