#!/bin/bash
# In the VM: apt-get install ./collectd-bm6_*.deb, then collectd loads bm6 from its own
# PluginDir and writes values of a simulated BM6; then apt-get remove.
set -u
DEB=$1
fail() { echo "FAIL: $*"; exit 1; }
cp "$DEB" /root/ && cd /root
apt-get install -y "/root/$(basename "$DEB")" >/root/apt.log 2>&1 || { cat /root/apt.log; fail "apt-get install"; }
echo "installed: $(dpkg-query -W -f='${Package} ${Version} ${Status}' collectd-bm6)"
test -f /usr/lib/collectd/bm6.so || fail "no /usr/lib/collectd/bm6.so"
MANWIDTH=80 man 5 collectd-bm6 2>/dev/null | grep -q "ReconnectMax" || fail "man 5 collectd-bm6 does not document ReconnectMax"
bm6ctl --help | grep -q "scan" || fail "bm6ctl not installed"
RUN=/run/bm6pkg
mkdir -p "$RUN"
bm6-sim --period 0.5 --voltage 12.31 --socket "$RUN/van.sock" >"$RUN/sim.log" 2>&1 &
cat >"$RUN/collectd.conf" <<CONF
Hostname "pkg"
FQDNLookup false
Interval 1
BaseDir "$RUN"
PIDFile "$RUN/collectd.pid"
TypesDB "/usr/share/collectd/types.db"
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
collectd -f -C "$RUN/collectd.conf" >"$RUN/collectd.out" 2>&1 &
C=$!
for i in $(seq 100); do
  ls "$RUN"/csv/pkg/bm6-van/voltage-* >/dev/null 2>&1 && grep -q ',12.31' "$RUN"/csv/pkg/bm6-van/voltage-* && break
  sleep 0.2
done
kill $C; wait $C
grep -q ',12.31' "$RUN"/csv/pkg/bm6-van/voltage-* 2>/dev/null || { cat "$RUN/collectd.log" "$RUN/collectd.out"; fail "no value from the installed plugin"; }
grep -q 'plugin "bm6" successfully loaded' "$RUN/collectd.log" || fail "bm6 not loaded from the PluginDir"
echo "collectd loaded bm6 from /usr/lib/collectd and wrote: $(tail -n 1 "$RUN"/csv/pkg/bm6-van/voltage-*)"
apt-get remove -y collectd-bm6 >/root/apt-remove.log 2>&1 || fail "apt-get remove"
test ! -e /usr/lib/collectd/bm6.so || fail "bm6.so left behind after remove"
echo "PASS"
