#!/usr/bin/env bash
# A Raspberry Pi architecture, tested on this machine under qemu-user:
#  1. cross-builds bm6.so, bm6ctl, bm6-sim and the unit tests with Debian's cross compiler
#     (cmake/<triplet>.cmake) into BUILD_DIR (default build-ARCH);
#  2. runs the unit tests (GoogleTest, which also start this build's bm6-sim) under qemu;
#  3. loads this build's bm6.so into Debian's collectd-core of the same architecture
#     (downloaded with apt-get download, unpacked, not installed) under qemu, reading a
#     simulated BM6 (this build's bm6-sim under qemu): the exact values must reach its csv.
# usage: tests/cross/run.sh arm64|armhf [BUILD_DIR]
# CROSS_PART=build does step 1 only, CROSS_PART=test steps 2 and 3 on a build made so
# (scripts/test runs one architecture's tests beside the next one's build).
# Exits 0 when it passes, 1 when it fails, 77 (and one line) when this machine cannot run it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ARCH=$1
case $ARCH in
  arm64) TRIPLET=aarch64-linux-gnu QEMU_ARCH=aarch64 LOADER=/lib/ld-linux-aarch64.so.1 ;;
  armhf) TRIPLET=arm-linux-gnueabihf QEMU_ARCH=arm LOADER=/lib/ld-linux-armhf.so.3 ;;
  *) echo "usage: $0 arm64|armhf [BUILD_DIR]" >&2; exit 2 ;;
esac
BUILD=$(realpath -m "${2:-$ROOT/build-$ARCH}")
skip() { echo "cross $ARCH: skipped: $*"; exit 77; }
command -v "$TRIPLET-g++" >/dev/null || skip "no $TRIPLET-g++ (scripts/install-deps --tests installs crossbuild-essential-$ARCH)"
QEMU=$(command -v "qemu-$QEMU_ARCH-static" || command -v "qemu-$QEMU_ARCH" || true)
[ -n "$QEMU" ] || skip "no qemu-$QEMU_ARCH-static (apt-get install qemu-user-static)"
# The target's loader and libraries: the multiarch ones under /, or a sysroot of Debian's
# packages when apt could not install them beside this machine's.
TROOT=$("$ROOT/scripts/cross-sysroot" "$ARCH") || skip "the $ARCH libraries are neither installed nor downloadable"
[ -e "$TROOT$LOADER" ] || skip "no $ARCH loader in $TROOT"
SYSROOT_ARG=()
[ "$TROOT" = / ] || SYSROOT_ARG=(-DBM6_SYSROOT="$TROOT")
run() { "$QEMU" -L "$TROOT" "$@"; }

PART=${CROSS_PART:-all}
t0=$SECONDS
if [ "$PART" != test ]; then
  echo "== cross $ARCH: build ($TRIPLET)"
  # The same optimisation as the native build, without its debug information: a third of
  # the compile time, and the packages made from this build are stripped anyway
  # (CPACK_STRIP_FILES).
  NODEBUG="-O2 -DNDEBUG"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/$TRIPLET.cmake" "${SYSROOT_ARG[@]}" \
    -DBM6_WERROR=ON -DBM6_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="$NODEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$NODEBUG" >/dev/null
  cmake --build "$BUILD" -j "${JOBS:-2}" --target bm6 bm6ctl bm6-sim unit_tests man changelog \
    >"$BUILD/build.log" 2>&1 || { cat "$BUILD/build.log"; echo "FAIL: cross build $ARCH"; exit 1; }
  file -b "$BUILD/plugin/bm6.so" | grep -q "$( [ $ARCH = arm64 ] && echo aarch64 || echo 'ARM, EABI5')" ||
    { echo "FAIL: $BUILD/plugin/bm6.so is not $ARCH: $(file -b "$BUILD/plugin/bm6.so")"; exit 1; }
  echo "built in $((SECONDS - t0)) s ($(grep -c 'Building C' "$BUILD/build.log" || true) translation units compiled): $(file -b "$BUILD/plugin/bm6.so" | cut -d, -f1-2); libraries: $([ "$TROOT" = / ] && echo "multiarch, /" || echo "sysroot, $TROOT")"
fi
[ "$PART" != build ] || exit 0

# The tests exec this build's bm6-sim: without binfmt_misc the kernel cannot run an $ARCH
# binary, so for the run it is a script that starts it under qemu.
SIM=$BUILD/tools/bm6-sim
if ! head -c 2 "$SIM" | grep -q '#!'; then mv "$SIM" "$SIM.$ARCH"; fi
printf '#!/bin/sh\nexec %s -L %s %s "$@"\n' "$QEMU" "$TROOT" "$SIM.$ARCH" >"$SIM"
chmod +x "$SIM"
restore() { [ -e "$SIM.$ARCH" ] && mv -f "$SIM.$ARCH" "$SIM"; }
trap restore EXIT

t1=$SECONDS
echo "== cross $ARCH: unit tests under $(basename "$QEMU")"
run "$BUILD/tests/unit_tests" --gtest_brief=1 >"$BUILD/unit_tests.log" 2>&1 ||
  { tail -n 60 "$BUILD/unit_tests.log"; echo "FAIL: unit tests on $ARCH"; exit 1; }
echo "$(grep -E '^\[  PASSED  \]' "$BUILD/unit_tests.log") in $((SECONDS - t1)) s"

t2=$SECONDS
echo "== cross $ARCH: Debian's collectd-core:$ARCH loading this bm6.so, under qemu"
SYSROOT=$BUILD/collectd-sysroot
if [ ! -x "$SYSROOT/usr/sbin/collectd" ]; then
  rm -rf "$SYSROOT" "$BUILD/debs"
  mkdir -p "$SYSROOT" "$BUILD/debs"
  # collectd-core and the runtime libraries it needs that are not installed for $ARCH.
  pkgs=("collectd-core:$ARCH" "libcap2:$ARCH")
  (cd "$BUILD/debs" && apt-get download -q "${pkgs[@]}" >/dev/null 2>&1) ||
    skip "apt-get download ${pkgs[*]} failed (apt-get update?)"
  for d in "$BUILD"/debs/*.deb; do dpkg-deb -x "$d" "$SYSROOT"; done
fi
RUN=$BUILD/collectd-run
rm -rf "$RUN"
mkdir -p "$RUN/plugins"
cp "$SYSROOT/usr/lib/collectd/csv.so" "$SYSROOT/usr/lib/collectd/logfile.so" \
  "$BUILD/plugin/bm6.so" "$RUN/plugins/"
"$SIM" --period 0.5 --voltage 12.47 --temperature -7 --soc 63 --state charging \
  --socket "$RUN/van.sock" >"$RUN/sim.log" 2>&1 &
SIMPID=$!
cat >"$RUN/collectd.conf" <<CONF
Hostname "pi"
FQDNLookup false
Interval 1
BaseDir "$RUN"
PIDFile "$RUN/collectd.pid"
PluginDir "$RUN/plugins"
TypesDB "$SYSROOT/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  File "$RUN/collectd.log"
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$RUN/csv"
</Plugin>
LoadPlugin bm6
<Plugin bm6>
  <Device "van">
    Address "unix:$RUN/van.sock"
  </Device>
</Plugin>
CONF
LIBPATH=$SYSROOT/lib/$TRIPLET:$SYSROOT/usr/lib/$TRIPLET
"$QEMU" -L "$TROOT" -E "LD_LIBRARY_PATH=$LIBPATH" "$SYSROOT/usr/sbin/collectd" -f -C "$RUN/collectd.conf" \
  >"$RUN/collectd.out" 2>&1 &
C=$!
D=$RUN/csv/pi/bm6-van
ok=""
for _ in $(seq 150); do
  if grep -qsx '[0-9.]*,12\.470000' "$D"/voltage-* && grep -qsx '[0-9.]*,-7\.000000' "$D"/temperature-* &&
     grep -qsx '[0-9.]*,63\.000000' "$D"/percent-charged-* && grep -qsx '[0-9.]*,2\.000000' "$D"/gauge-state-*; then ok=1; break; fi
  kill -0 $C 2>/dev/null || break
  sleep 0.2
done
kill $C 2>/dev/null && wait $C 2>/dev/null || true
kill $SIMPID 2>/dev/null && wait $SIMPID 2>/dev/null || true
if [ -z "$ok" ]; then
  cat "$RUN/collectd.out" "$RUN/collectd.log" 2>/dev/null | tail -n 30
  ls -R "$RUN/csv" 2>/dev/null | head
  echo "FAIL: collectd:$ARCH did not write the simulated values"; exit 1
fi
file -b "$SYSROOT/usr/sbin/collectd" | grep -q "$( [ $ARCH = arm64 ] && echo aarch64 || echo ARM)" ||
  { echo "FAIL: the collectd run is not $ARCH"; exit 1; }
echo "collectd-core:$ARCH $(dpkg-deb -f "$BUILD"/debs/collectd-core_*.deb Version) wrote, in $((SECONDS - t2)) s:" \
  "voltage $(tail -n1 "$D"/voltage-* | cut -d, -f2), temperature $(tail -n1 "$D"/temperature-* | cut -d, -f2)," \
  "charge $(tail -n1 "$D"/percent-charged-* | cut -d, -f2), state $(tail -n1 "$D"/gauge-state-* | cut -d, -f2)"
echo "cross $ARCH: PASS in $((SECONDS - t0)) s"
