#!/usr/bin/env bash
# Hunts the crash of issue 23 (bm6ctl read died of SIGSEGV once in the real-stack test's
# step 5): boots the VM once and runs crash-loop-guest.sh there, which restarts bm6-sim as
# another model on the same address and reads it with bm6ctl and collectd at once, round
# after round, until a crash or a sanitizer report (printed, with the core kept) or ROUNDS.
# Run by hand, not by ./scripts/test. BUILD_DIR should be a sanitizer build:
#   cmake -S . -B build-asan -DBM6_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
#   cmake --build build-asan -j2 --target bm6ctl bm6-sim bm6
# usage: crash-loop.sh BUILD_DIR [ROUNDS (100)] [OUT_DIR]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(realpath "$1")
ROUNDS=${2:-100}
OUT=${3:-$BUILD/crash-loop}
rm -rf "$OUT"
mkdir -p "$OUT"
# About 15 s a round under TCG, plus the boot: the VM's own limit grows with the rounds.
BM6_VM_TIMEOUT=$((120 + ROUNDS * 40)) "$HERE/vm-run.sh" "$OUT" "$HERE/crash-loop-guest.sh" \
  "$BUILD" "$ROUNDS"
status=$?
cat "$OUT/guest.log" 2>/dev/null
for core in "$OUT"/core.*; do
  [ -e "$core" ] || continue
  prog=$(basename "$core" | cut -d. -f2)
  bin=$(find "$BUILD/tools" "$BUILD/plugin" -maxdepth 1 -name "$prog*" -type f | head -n 1)
  [ "$prog" = collectd ] && bin=$(command -v collectd)
  echo "core dump: $core ($prog)"
  if command -v gdb >/dev/null && [ -n "$bin" ]; then
    gdb -batch -ex 'thread apply all bt' "$bin" "$core" 2>/dev/null | tail -n 60
  fi
done
[ $status = 0 ] && rm -f "$OUT/initramfs.cpio.gz"
exit $status
