#!/usr/bin/env bash
# Hunts the crash of issue 23 (bm6ctl read died of SIGSEGV once in the real-stack test's
# step 5): boots the VM once and runs crash-loop-guest.sh there, which restarts bm6-sim as
# another model on the same address and reads it with bm6ctl and collectd at once, round
# after round, until a crash or a sanitizer report (printed, with the core kept) or ROUNDS.
# Run by hand, not by ./scripts/test. BUILD_DIR should be a sanitizer build:
#   cmake -S . -B build-asan -DBM6_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
#   cmake --build build-asan -j2 --target bm6ctl bm6-sim bm6
# usage: crash-loop.sh BUILD_DIR [ROUNDS (100)] [OUT_DIR]
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${2:-100}
exec "$HERE/run.sh" --guest crash-loop-guest.sh --name "crash loop ($ROUNDS rounds)" \
  --out "${3:-$1/crash-loop}" --timeout $((120 + ROUNDS * 40)) "$1" "$ROUNDS"
