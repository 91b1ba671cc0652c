#!/bin/bash
# In the VM: apt-get install ./collectd-bm6_*.deb with Debian's collectd, then
#  1. collectd loads bm6 from its own PluginDir and writes values of a simulated BM6;
#  2. the drop-in /etc/collectd/collectd.conf.d/bm6.conf is a conffile and loads nothing;
#     with one device uncommented, the packaged service configuration
#     (collectd -C /etc/collectd/collectd.conf) reads it and its rrdtool files get values;
#  3. apt-get remove leaves the edited conffile, purge removes it.
set -u
DEB=$1
COLLECTD_DEB=$2
fail() { echo "FAIL: $*"; exit 1; }
cp "$DEB" "$COLLECTD_DEB" /root/ && cd /root
# As in a chroot: no service starts from a maintainer script (collectd's would); and no
# man-db index rebuild (minutes under TCG; man reads the pages without it).
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
rm -f /var/lib/man-db/auto-update
# The guest has no network: apt works from the installed packages and the two .debs, with
# no package lists (building its cache from the host's lists takes minutes under TCG).
APT=(apt-get -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/nonexistent
     -o Dir::State::Lists=/tmp/no-lists -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
mkdir -p /tmp/no-lists/partial
# A named host, as an installed Debian has (collectd's FQDNLookup resolves it).
hostname bm6-pkg && echo "127.0.1.1 bm6-pkg.localdomain bm6-pkg" >>/etc/hosts
T0=$(date +%s)
"${APT[@]}" install -y --no-install-recommends "/root/$(basename "$DEB")" "/root/$(basename "$COLLECTD_DEB")" \
  >/root/apt.log 2>&1 || { cat /root/apt.log; fail "apt-get install"; }
echo "installed: $(dpkg-query -W -f='${Package} ${Version} ${Architecture} ${Status}' collectd-bm6)," \
  "with $(dpkg-query -W -f='${Package} ${Version}' collectd), in $(( $(date +%s) - T0 )) s"
test -f /usr/lib/collectd/bm6.so || fail "no /usr/lib/collectd/bm6.so"
MANWIDTH=80 man 5 collectd-bm6 2>/dev/null | grep -q "ReconnectMax" || fail "man 5 collectd-bm6 does not document ReconnectMax"
MANWIDTH=80 man 1 bm6ctl 2>/dev/null | grep -q "EXIT STATUS" || fail "no man page bm6ctl(1)"
MANWIDTH=80 man 1 bm6-sim 2>/dev/null | grep -q "simulated" || fail "no man page bm6-sim(1)"
bm6ctl --help | grep -q "scan" || fail "bm6ctl not installed"
SIM=/usr/lib/collectd-bm6/bm6-sim
test -x "$SIM" || fail "no $SIM"
test ! -e /usr/bin/bm6-sim || fail "bm6-sim is in /usr/bin"
test -s /usr/share/doc/collectd-bm6/copyright || fail "no copyright file"
RUN=/run/bm6pkg
mkdir -p "$RUN"
"$SIM" --period 0.5 --voltage 12.31 --socket "$RUN/van.sock" >"$RUN/sim.log" 2>&1 &
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

# The drop-in: a conffile, included by Debian's collectd.conf, loading nothing as shipped.
DROPIN=/etc/collectd/collectd.conf.d/bm6.conf
test -f "$DROPIN" || fail "no $DROPIN"
dpkg-query -W -f='${Conffiles}\n' collectd-bm6 | grep -q " $DROPIN " || fail "$DROPIN is not a conffile"
grep -q '^<Include "/etc/collectd/collectd.conf.d">' /etc/collectd/collectd.conf ||
  fail "Debian's collectd.conf does not include collectd.conf.d"
active=$(grep -vE '^[[:space:]]*(#|$)' "$DROPIN")
[ -z "$active" ] || fail "the drop-in as shipped is not all comments: $active"
echo "$DROPIN: a conffile, all comments"
# Uncomment the block and its first device, with the simulator's address.
sed -i -e 's/^#\(LoadPlugin bm6\)$/\1/' -e 's/^#\(<Plugin bm6>\)$/\1/' -e 's/^#\(<\/Plugin>\)$/\1/' \
  -e '0,/^#  <Device /s/^#\(  <Device "van">\)$/\1/' \
  -e "0,/^#    Address /s|^#    Address \".*\"|    Address \"unix:$RUN/van.sock\"|" \
  -e '0,/^#  <\/Device>/s/^#\(  <\/Device>\)$/\1/' "$DROPIN"
echo "uncommented:"; grep -vE '^[[:space:]]*(#|$)' "$DROPIN" | sed 's/^/    /'
collectd -t -C /etc/collectd/collectd.conf >"$RUN/collectd-t.out" 2>&1 ||
  { cat "$RUN/collectd-t.out"; fail "collectd -t rejects the packaged configuration with the drop-in"; }
rm -rf /var/lib/collectd/rrd
# The packaged configuration logs to syslog (none runs here): a second drop-in adds a log file.
printf 'LoadPlugin logfile\n<Plugin logfile>\n  File "%s"\n</Plugin>\n' "$RUN/collectd-pkg.log" \
  >/etc/collectd/collectd.conf.d/zz-test-log.conf
collectd -f -C /etc/collectd/collectd.conf >"$RUN/collectd-pkg.out" 2>&1 &
C=$!
found=""
for i in $(seq 150); do  # Debian's Interval is 10 s
  rrd=$(find /var/lib/collectd/rrd -path '*/bm6-van/voltage.rrd' 2>/dev/null | head -n 1)
  if [ -n "$rrd" ]; then
    v=$(rrdtool lastupdate "$rrd" | awk -F': ' 'NF == 2 {print $2 + 0}')
    [ "$v" = 12.31 ] && { found=1; break; }
  fi
  kill -0 $C 2>/dev/null || { wait $C; echo "collectd exited with status $?"; break; }
  sleep 0.2
done
kill $C 2>/dev/null; wait $C
rm -f /etc/collectd/collectd.conf.d/zz-test-log.conf
[ -n "$found" ] || { cat "$RUN/collectd-pkg.out" "$RUN/collectd-pkg.log"; find /var/lib/collectd/rrd | head -20; fail "the packaged configuration did not read the drop-in's device"; }
echo "collectd -C /etc/collectd/collectd.conf read the drop-in: $rrd last update $v V (at $(( $(date +%s) - T0 )) s)"

"${APT[@]}" remove -y collectd-bm6 >/root/apt-remove.log 2>&1 || fail "apt-get remove"
test ! -e /usr/lib/collectd/bm6.so || fail "bm6.so left behind after remove"
test -f "$DROPIN" || fail "remove deleted the edited conffile"
"${APT[@]}" purge -y collectd-bm6 >/root/apt-purge.log 2>&1 || fail "apt-get purge"
test ! -e "$DROPIN" || fail "$DROPIN left behind after purge"
echo "removed (the edited drop-in kept), purged (drop-in gone)"
echo "PASS"
