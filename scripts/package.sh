#!/usr/bin/env bash
# Builds dist/walvault_<version>_<arch>.deb with dpkg-deb: both binaries (static Swift standard
# library) in /usr/bin, the systemd units and timers of postgres-conf/ (installed, not enabled),
# its cron files under /usr/share/walvault/cron (`walvault init --schedule cron` installs them),
# a man page per subcommand, bash, zsh and fish completions, and an example config.
# Depends: is read from the binaries (ldd) and the libraries they dlopen (the sonames they name),
# each mapped to its Debian package by dpkg -S, never written by hand.
#   WALVAULT_PACKAGE_SERVER=0  leaves walvault-server out: CI's package test, since the server's
#                              release compile (BoringSSL) alone takes about six minutes there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
with_server=${WALVAULT_PACKAGE_SERVER:-1}
build=(swift build -c release --static-swift-stdlib)
"${build[@]}" --product walvault >&2
[ "$with_server" = 0 ] || "${build[@]}" --product walvault-server >&2
bin=$("${build[@]}" --show-bin-path)
binaries=(walvault)
[ "$with_server" = 0 ] || binaries+=(walvault-server)

version=$("$bin/walvault" --version | sed -n '1s/^walvault //p')
arch=$(dpkg --print-architecture)
name="walvault_${version}_${arch}"
maintainer="walvault maintainers <walvault@users.noreply.github.com>"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"

for binary in "${binaries[@]}"; do
  install -D -m 755 "$bin/$binary" "$root/usr/bin/$binary"
  strip --strip-unneeded --remove-section=.comment "$root/usr/bin/$binary"
done

# systemd: installed where the package manager's units live, enabled by no one but
# `walvault init --schedule systemd` (or the owner).
install -d "$root/usr/lib/systemd/system" "$root/usr/share/walvault/cron"
install -m 644 postgres-conf/*.service postgres-conf/*.timer "$root/usr/lib/systemd/system/"
install -m 644 postgres-conf/*.cron "$root/usr/share/walvault/cron/"

# Man pages from swift-argument-parser's generate-manual: walvault.backup.1 becomes
# walvault-backup.1, so `man walvault-backup` finds it; walvault-server's own page is its root one.
# The pages come from the options, the same in every configuration: debug saves a release compile.
swift package --allow-writing-to-package-directory generate-manual --multi-page --configuration debug >&2
install -d "$root/usr/share/man/man1"
manuals=.build/plugins/GenerateManual/outputs
# whatis (lexgrog) reads the NAME line, which must be one word; the synopsis keeps the spaced command.
for page in "$manuals"/walvault/*.1; do
  dotted=$(basename "$page" .1)
  dashed=$(tr . - <<<"$dotted")
  spaced=$(tr . ' ' <<<"$dotted")
  sed -e "0,/^\.Nm .*/s//.Nm $dashed/" -e "s/^\.Nm\$/.Nm \"$spaced\"/" -e "s/^\.Dt [^ ]*/.Dt ${dashed^^}/" "$page" |
    gzip -9n >"$root/usr/share/man/man1/$dashed.1.gz"
done
if [ "$with_server" != 0 ]; then
  sed -e 's/^\.Dt WALVAULT /.Dt WALVAULT-SERVER /' -e 's/^\.Nm walvault$/.Nm walvault-server/' \
    "$manuals/WalvaultServerExecutable/walvault.1" | gzip -9n >"$root/usr/share/man/man1/walvault-server.1.gz"
fi

install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"
# bash-completion sources the file: no #! line.
"$bin/walvault" --generate-completion-script bash | sed '1{/^#!/d}' >"$root/usr/share/bash-completion/completions/walvault"
"$bin/walvault" --generate-completion-script zsh >"$root/usr/share/zsh/vendor-completions/_walvault"
"$bin/walvault" --generate-completion-script fish >"$root/usr/share/fish/vendor_completions.d/walvault.fish"

doc="$root/usr/share/doc/walvault"
install -d "$doc"
"$bin/walvault" init --print-example >"$doc/walvault.toml.example"
install -m 644 README.md "$doc/README.md"
for page in docs/*.md; do [ "$(basename "$page")" = architecture.md ] || install -m 644 "$page" "$doc/"; done
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: walvault
Source: https://github.com/walvault/walvault

Files: *
Copyright: 2026 the walvault authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
# A native package (no Debian revision): its changelog is changelog.gz.
printf 'walvault (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
  "$version" "$("$bin/walvault" --version | sed -n 's/^commit //p')" "$maintainer" "$(date -R)" | gzip -9n >"$doc/changelog.gz"
find "$root" -type d -exec chmod 755 {} +
find "$root/usr/share" -type f -exec chmod 644 {} +

# Depends: the package of every library the binaries link (ldd) or dlopen (the sonames in them).
package_of() {
  local path=$1 owner
  for candidate in "$path" "$(readlink -f "$path")" "${path/#\/lib\//\/usr\/lib\/}" "${path/#\/usr\/lib\//\/lib\/}"; do
    owner=$(dpkg -S "$candidate" 2>/dev/null | awk -F: 'NR == 1 {print $1}') || true
    [ -n "$owner" ] && { echo "$owner"; return; }
  done
  echo "package.sh: no Debian package holds $path" >&2
  return 1
}
declare -A packages=()
while read -r path; do
  packages[$(package_of "$path")]=1
done < <(
  {
    ldd "$root"/usr/bin/* | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
    for soname in $(strings -a "$root"/usr/bin/* | grep -E '^lib[[:alnum:]_+-]+\.so\.[0-9]+$' | sort -u); do
      # awk reads to the end: exiting early would kill ldconfig with SIGPIPE, which pipefail reports.
      found=$(ldconfig -p | awk -v s="$soname" '$1 == s && $0 ~ /x86-64|x86_64|aarch64|AArch64/ && !seen {print $NF; seen = 1}')
      [ -n "$found" ] || { echo "package.sh: $soname is dlopened but not installed here (install its package first)" >&2; exit 1; }
      echo "$found"
    done
  } | sort -u
)
depends=""
for package in $(printf '%s\n' "${!packages[@]}" | sort); do
  upstream=$(dpkg-query -W -f='${Version}' "$package" | sed -e 's/-[^-]*$//' -e 's/^[0-9]*://')
  depends+="${depends:+, }$package (>= $upstream)"
done

install -d "$root/DEBIAN"
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
cat >"$root/DEBIAN/control" <<EOF
Package: walvault
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Recommends: postgresql-15, cron | systemd
Section: database
Priority: optional
Homepage: https://github.com/walvault/walvault
Description: point-in-time recovery for PostgreSQL
 walvault archives every WAL segment PostgreSQL completes and takes nightly
 base backups, checksummed, compressed and encrypted, into local, S3 and
 Telegram stores, so that a database can be brought back to any second of
 its retention window. "walvault init" protects a running cluster in one
 command; walvault-server is the owner's web dashboard and HTTP API.
EOF
mkdir -p dist
dpkg-deb --build --root-owner-group -Zxz "$root" "dist/$name.deb" >&2
echo "dist/$name.deb"
