#!/usr/bin/env bash
# Builds the Debian package with CPack, then, inside a throw-away VM overlay of this
# machine (the host is not touched), installs it with apt-get, runs the real collectd with
# the plugin from collectd's own plugin directory, reads the man page, and removes it.
# usage: run.sh BUILD_DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(realpath "$1")
OUT=$BUILD/package-test
rm -rf "$OUT"
mkdir -p "$OUT"
(cd "$BUILD" && cpack -G DEB -B "$OUT" >/dev/null)
DEB=$(ls "$OUT"/collectd-bm6_*.deb)
echo "built $(basename "$DEB"): $(du -k "$DEB" | cut -f1) kB"
dpkg-deb -f "$DEB" Depends
status=0
"$HERE/../realstack/vm-run.sh" "$OUT/vm" "$HERE/guest-install.sh" "$DEB" || status=$?
cat "$OUT/vm/guest.log" 2>/dev/null
exit $status
