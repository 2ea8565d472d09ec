#!/usr/bin/env bash
# Sets up this machine and runs every test: unit tests and the integration tests that start
# their own PostgreSQL 15 clusters (as the postgres user when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's time, on one line at the end: CI must stay under 20 minutes.
times=""
step() {
  local name=$1 started=$SECONDS
  shift
  "$@"
  times+="${times:+, }$name $((SECONDS - started)) s"
}
step setup env WALVAULT_SETUP_TESTS=1 bash scripts/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
# Every import declared in Package.swift and pointing down docs/architecture.md's layer list, and
# the check shown to refuse a planted upward import.
python3 scripts/check-imports.py
bash scripts/check-imports-test.sh
# The style in .swift-format (lines up to 150 characters, imports in order): one line per finding;
# `swift format format -i -r Sources Tests Package.swift` fixes them.
swift format lint --strict -r Sources Tests Package.swift Plugins postgres-conf/Schedules.swift
step build swift build --build-tests
step swift-test swift test --skip-build
# PostgreSQL 15's own recovery TAP tests with walvault as archive_command and restore_command.
step tap bash scripts/pg-recovery-tests.sh
step tap-spool env WALVAULT_TAP_SPOOL=1 bash scripts/pg-recovery-tests.sh
# The release binary's start-up budget: no ICU, no libcurl/libxml2/libpq linked.
step check-binary bash scripts/check-binary.sh
# The Debian package: dpkg -i, --version, man pages, completions, init with the installed binary,
# dpkg -r and -P. It installs a package, so root only; CI runs as root. walvault-server is left out
# here: its release compile alone takes about six minutes on CI's two cores.
if [ "$(id -u)" -eq 0 ]; then
  step package-test env WALVAULT_PACKAGE_SERVER=0 bash scripts/package-test.sh
else
  echo "test: scripts/package-test.sh not run: it installs a package, which needs root"
fi
echo "test: every step passed ($times)"
