#!/usr/bin/env bash
# The release binary archive-push runs once per segment: no ICU in it (one String.contains on a
# Foundation-importing file pulled 36 MB of ICU data into it twice; docs/architecture.md, Start-up),
# and none of libcurl, libxml2 or libpq linked (they are dlopened on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
map=$(mktemp /tmp/walvault-link-map.XXXXXX)
trap 'rm -f "$map"' EXIT
swift build -c release --static-swift-stdlib --product walvault -Xlinker -Map="$map" >/dev/null
binary="$(swift build -c release --static-swift-stdlib --show-bin-path)/walvault"
status=0
if grep -q 'libFoundationInternationalization\.a(' "$map"; then
  echo "check-binary: ICU is linked into walvault; what pulled it in (Foundation members and who needs them):" >&2
  grep -A1 '^/.*libFoundation\.a(NSStringAPI' "$map" | head -4 >&2
  status=1
fi
for library in libcurl libxml2 libpq; do
  if ldd "$binary" | grep -q "$library"; then echo "check-binary: walvault links $library; it must be dlopened on first use" >&2; status=1; fi
done
echo "check-binary: $(du -m "$binary" | cut -f1) MB, links: $(ldd "$binary" | awk '{print $1}' | tr '\n' ' ')"
exit $status
