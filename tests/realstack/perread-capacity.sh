#!/usr/bin/env bash
# Per-read capacity through the real stack (issue #25): boots the VM once and runs
# perread-capacity-guest.sh there (N monitors, MaxLinks LINKS, SECONDS per phase; the
# links lingering, then ended through mgmt). By hand, not in ctest: it prints figures.
#   tests/realstack/perread-capacity.sh build            # 12 monitors, MaxLinks 1, 120 s a phase
# usage: perread-capacity.sh BUILD_DIR [N] [LINKS] [SECONDS] (OUT: BUILD_DIR/realstack-capacity)
exec "$(dirname "$0")/run.sh" --guest perread-capacity-guest.sh --name "per-read capacity" \
  --out "$1/realstack-capacity" --timeout 1200 "$@"
