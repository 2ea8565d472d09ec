#!/usr/bin/env bash
# What loading a network library costs a process: dlopen + (for libcurl) curl_global_init, timed
# in a small C probe, next to the number of shared libraries each pulls in. It is the measurement
# behind docs/architecture.md's "Start-up" decision: libcurl, like libpq, is loaded on first use.
# Not a test: it prints figures, nothing passes or fails.
set -euo pipefail
cd "$(dirname "$0")/.."
WALVAULT_EXTRA_PACKAGES="gcc libc6-dev" bash scripts/setup.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/probe.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>
int main(int argc, char **argv) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror()); return 1; }
  int (*init)(long) = (int (*)(long))dlsym(h, "curl_global_init");
  if (init) init(3);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.2f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
  return 0;
}
C
gcc -O2 -o "$work/probe" "$work/probe.c" -ldl
for lib in libcurl.so.4 libpq.so.5; do
  times=$(for _ in 1 2 3 4 5 6 7; do "$work/probe" "$lib"; done | sort -n | tr '\n' ' ')
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
  echo "$lib: dlopen (+ global init) ms, 7 runs sorted: $times; shared libraries it brings: $(ldd "$path" | wc -l)"
done
