#!/usr/bin/env bash
# Installs what walvault needs to build and to run its tests on a fresh Debian machine.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
  postgresql-15 postgresql-contrib   # the real server the tests and demo run (initdb, pg_ctl, pgbench)
  libpq-dev libcurl4-openssl-dev libssl-dev libzstd-dev liblz4-dev zlib1g-dev pkg-config
  libqrencode-dev                    # walvault-server draws the TOTP enrolment's QR code at a terminal
  util-linux                         # runuser, to start PostgreSQL as an unprivileged user
  strace                             # the expire test kills walvault at an exact deletion (fault injection)
  time                               # GNU time: peak RSS of a command (the export test's memory bound)
  libxml2                            # S3 answers are parsed with it (loaded only by commands that speak S3)
  libxxhash0                         # block fingerprints of diff and incr backups (loaded only by backup)
  python3                            # the S3 test server (moto) runs on it
  ${WALVAULT_EXTRA_PACKAGES:-}
)
# Only for the tests (scripts/test.sh sets WALVAULT_SETUP_TESTS=1): the browser the dashboard's
# pages are tested in, headless.
if [ -n "${WALVAULT_SETUP_TESTS:-}" ]; then
  packages+=(chromium chromium-driver)
  # scripts/package-test.sh: man walvault-backup, and package.sh's strip and strings.
  packages+=(man-db binutils)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || [ -x /opt/swift/usr/bin/swift ] || {
  echo "setup: Swift 6 toolchain not found (expected on PATH or at /opt/swift)" >&2; exit 1; }

# The S3-compatible server the tests run against: moto, pinned to the release whose conditional
# PUT answers 412 (5.2.0 answers 500). Into whichever python3 is first on PATH.
moto_version="5.2.1"
if ! python3 -c "import moto, sys; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; then
  echo "setup: installing moto[server]==$moto_version"
  python3 -m pip install -q "moto[server]==$moto_version" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "moto[server]==$moto_version"
fi
if [ -n "${WALVAULT_SETUP_TESTS:-}" ]; then
  # The API conformance test: schemathesis against the OpenAPI description and a running server.
  schemathesis_version="4.32.5"
  if ! python3 -c "import schemathesis, sys; sys.exit(schemathesis.__version__ != '$schemathesis_version')" 2>/dev/null; then
    echo "setup: installing schemathesis==$schemathesis_version"
    python3 -m pip install -q "schemathesis==$schemathesis_version" 2>/dev/null \
      || python3 -m pip install -q --break-system-packages "schemathesis==$schemathesis_version"
  fi
  # The dashboard's browser tests drive Chromium with Selenium.
  selenium_version="4.27.1"
  if ! python3 -c "import selenium, sys; sys.exit(selenium.__version__ != '$selenium_version')" 2>/dev/null; then
    echo "setup: installing selenium==$selenium_version"
    python3 -m pip install -q "selenium==$selenium_version" 2>/dev/null \
      || python3 -m pip install -q --break-system-packages "selenium==$selenium_version"
  fi
fi
# The SMTP server the alert tests send e-mail to, on loopback.
aiosmtpd_version="1.4.6"
if ! python3 -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$aiosmtpd_version')" 2>/dev/null; then
  echo "setup: installing aiosmtpd==$aiosmtpd_version"
  python3 -m pip install -q "aiosmtpd==$aiosmtpd_version" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "aiosmtpd==$aiosmtpd_version"
fi
