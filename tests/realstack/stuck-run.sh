#!/usr/bin/env bash
# The stuck-adapter test in the VM (optional; about three minutes under TCG): see
# stuck-guest.sh. usage: stuck-run.sh BUILD_DIR [OUT_DIR]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(realpath "$1")
OUT=${2:-$BUILD/realstack-stuck}
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s.%N)
"$HERE/vm-run.sh" "$OUT" "$HERE/stuck-guest.sh" "$BUILD"
status=$?
cat "$OUT/guest.log" 2>/dev/null
printf 'stuck-adapter VM test: %s in %.1f s wall time%s\n' \
  "$([ $status = 0 ] && echo passed || echo FAILED)" "$(echo "$(date +%s.%N) - $start" | bc)" \
  "$([ $status = 0 ] || echo "; HCI trace and logs kept in $OUT")"
[ $status = 0 ] && rm -f "$OUT/hci.btsnoop" "$OUT/initramfs.cpio.gz"
exit $status
