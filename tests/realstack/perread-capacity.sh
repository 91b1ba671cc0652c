#!/usr/bin/env bash
# Per-read capacity through the real stack (issue #25): boots the VM once and runs
# perread-capacity-guest.sh there (N monitors, MaxLinks LINKS, SECONDS per phase; the
# links lingering, then ended through mgmt). By hand, not in ctest: it prints figures.
#   tests/realstack/perread-capacity.sh build            # 12 monitors, MaxLinks 2, 60 s
# usage: perread-capacity.sh BUILD_DIR [N] [LINKS] [SECONDS] (OUT: BUILD_DIR/realstack-capacity)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(realpath "$1")
OUT=$BUILD/realstack-capacity
rm -rf "$OUT"
mkdir -p "$OUT"
BM6_VM_TIMEOUT=1200 "$HERE/vm-run.sh" "$OUT" "$HERE/perread-capacity-guest.sh" "$BUILD" "${@:2}"
status=$?
cat "$OUT/guest.log" 2>/dev/null
echo "per-read capacity: $([ $status = 0 ] && echo done || echo FAILED); logs in $OUT"
exit $status
