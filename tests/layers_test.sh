#!/usr/bin/env bash
# scripts/check-layers passes on the tree and refuses each kind of upward include.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
check="$src/scripts/check-layers"
"$check" "$src"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect_refused() {  # FILE LINE
  rm -rf "$tmp/t" && mkdir "$tmp/t"
  cp -r "$src"/{protocol,transport,device,plugin,tools} "$tmp/t/"
  echo "$2" >>"$tmp/t/$1"
  if "$check" "$tmp/t" >"$tmp/out"; then
    echo "FAIL: $1 with '$2' was not refused"; exit 1
  fi
  grep -q "layer violation" "$tmp/out" || { echo "FAIL: no reason given"; exit 1; }
  echo "refused: $1 + $2"
}
expect_refused transport/att.h '#include "device/bm6_link.h"'
expect_refused transport/att.cpp '#include "protocol/bm6_frame.h"'
expect_refused protocol/bm6_frame.h '#include "transport/att.h"'
expect_refused device/bm6_link.cpp '#include "plugin/bm6_config.h"'
expect_refused tools/bm6ctl.cpp '#include "plugin/bm6_values.h"'
expect_refused device/bm6_engine.cpp '#include "collectd/core/daemon/plugin.h"'
expect_refused transport/gatt_client.h 'struct Bm6Thing {};'
echo "layers: ok"
