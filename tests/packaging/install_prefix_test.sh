#!/usr/bin/env bash
# `cmake --install BUILD --prefix DIR` after the demo's partial build (a build directory
# without tests, only bm6.so and bm6-sim built, as scripts/demo does): every file lands
# under DIR, bm6.so among them in DIR/lib/collectd, the drop-in in DIR/etc, and the tools
# the demo did not build are skipped, not an error.
# The partial build is not compiled again: a build directory configured as the demo's gets
# bm6.so and bm6-sim from MAIN_BUILD_DIR (the same flags compile them to the same files;
# install only copies what is there).
# usage: install_prefix_test.sh SOURCE_DIR MAIN_BUILD_DIR WORK_DIR
set -euo pipefail
SRC=$1 MAIN=$(realpath "$2") WORK=$(realpath -m "$3")
rm -rf "$WORK"
mkdir -p "$WORK"
B=$WORK/build P=$WORK/prefix
cmake -S "$SRC" -B "$B" -DBM6_WERROR=ON -DBM6_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$MAIN/CMakeCache.txt")" >/dev/null
for f in plugin/bm6.so tools/bm6-sim; do
  [ -f "$MAIN/$f" ] || { echo "FAIL: $MAIN/$f is not built"; exit 1; }
  cp -p "$MAIN/$f" "$B/$f"
done
cmake --install "$B" --prefix "$P" >"$WORK/install.log"
fail() { echo "FAIL: $*"; cat "$WORK/install.log"; exit 1; }
outside=$(grep -v -x -F -f <(find "$P" -mindepth 1 -not -type d) "$B/install_manifest.txt" || true)
[ -z "$outside" ] || fail "installed outside $P: $outside"
for f in lib/collectd/bm6.so lib/collectd-bm6/bm6-sim etc/collectd/collectd.conf.d/bm6.conf \
         share/doc/collectd-bm6/copyright; do
  [ -f "$P/$f" ] || fail "missing $P/$f"
done
[ ! -e "$P/bin/bm6ctl" ] || fail "bm6ctl installed though the demo's build did not build it"
active=$(grep -v -E '^[[:space:]]*(#|$)' "$P/etc/collectd/collectd.conf.d/bm6.conf" || true)
[ -z "$active" ] || fail "the drop-in has active lines before the user uncomments any: $active"
echo "PASS: $(wc -l <"$B/install_manifest.txt") files, all under $P"
