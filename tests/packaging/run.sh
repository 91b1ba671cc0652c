#!/usr/bin/env bash
# Builds the Debian package with CPack, then, inside a throw-away VM overlay of this
# machine (the host is not touched), installs it with apt-get together with Debian's full
# collectd package (downloaded here: the guest has no network), runs the real collectd with
# the plugin from collectd's own plugin directory, then with the packaged service
# configuration reading the drop-in, reads the man pages, removes and purges it.
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
# Debian's collectd (its collectd.conf includes /etc/collectd/collectd.conf.d); what it
# depends on is installed here already (collectd-core, librrd8 through rrdtool).
(cd "$OUT" && apt-get download -q collectd >/dev/null 2>"$OUT/apt-download.log") ||
  { cat "$OUT/apt-download.log"; echo "FAIL: apt-get download collectd (apt-get update?)"; exit 1; }
COLLECTD_DEB=$(ls "$OUT"/collectd_*.deb)
status=0
"$HERE/../realstack/vm-run.sh" "$OUT/vm" "$HERE/guest-install.sh" "$DEB" "$COLLECTD_DEB" || status=$?
cat "$OUT/vm/guest.log" 2>/dev/null
exit $status
