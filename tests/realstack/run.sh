#!/usr/bin/env bash
# The real-stack test: boots Debian's kernel in QEMU and runs guest-test.sh there against
# this build. On failure the HCI trace (btmon) and logs stay in $OUT.
# usage: run.sh BUILD_DIR [OUT_DIR]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(realpath "$1")
OUT=${2:-$BUILD/realstack}
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s.%N)
"$HERE/vm-run.sh" "$OUT" "$HERE/guest-test.sh" "$BUILD"
status=$?
wall=$(echo "$(date +%s.%N) - $start" | bc)
cat "$OUT/guest.log" 2>/dev/null
printf 'real-stack test: %s in %.1f s wall time%s\n' "$([ $status = 0 ] && echo passed || echo FAILED)" \
  "$wall" "$([ $status = 0 ] || echo "; HCI trace and logs kept in $OUT")"
# A crash in the guest: its backtrace, from the core and this build's binary.
for core in "$OUT"/core.*; do
  [ -e "$core" ] || continue
  prog=$(basename "$core" | cut -d. -f2)
  bin=$(find "$BUILD/tools" "$BUILD/plugin" -maxdepth 1 -name "$prog*" -type f | head -n 1)
  echo "core dump: $core ($prog)"
  if command -v gdb >/dev/null && [ -n "$bin" ]; then
    gdb -batch -ex 'thread apply all bt' "$bin" "$core" 2>/dev/null | tail -n 60
  fi
done
[ $status = 0 ] && rm -f "$OUT/hci.btsnoop" "$OUT/initramfs.cpio.gz"
exit $status
