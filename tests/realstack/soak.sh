#!/usr/bin/env bash
# The real-stack soak (issue 23): boots the VM once and runs soak-guest.sh there: the real
# collectd reads six simulated monitors (persistent, per-read on MaxLinks 1, passive) through
# two controllers while faults hit it for DURATION seconds (every kind at least once).
# The 3-minute version is ctest's realstack_soak (label vm); the long run is by hand.
#   tests/realstack/soak.sh build 180     # the short version
#   tests/realstack/soak.sh build 1200    # the long run
# usage: soak.sh BUILD_DIR [DURATION_SECONDS (180)] [OUT_DIR]
DURATION=${2:-180}
# Boot and set-up take two to eight minutes under TCG on a busy host (2 cores, 8 agents),
# and a round of the six kinds of fault up to twelve minutes there.
exec "$(dirname "$0")/run.sh" --guest soak-guest.sh --name "real-stack soak ($DURATION s)" \
  --out "${3:-$1/realstack-soak}" --timeout $((DURATION + 1200)) "$1" "$DURATION" ${SOAK_FAULTS:-}
