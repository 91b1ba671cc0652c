#!/bin/bash
# Runs inside the VM (see vm-run.sh; stuck-run.sh starts it): a stuck adapter (issue #23).
# bm6-sim serves a BM6 on hci0; collectd reads it on hci1. Then every connect is made to
# fail while the monitor is still there: the peripheral's controller goes non-connectable
# and advertises non-connectably (the kernel on hci1 then never starts a connection, so each
# connect times out, as on a controller that stopped making links). With ResetAdapter true
# the plugin says so once and power-cycles hci1 through mgmt; the test then makes the
# peripheral connectable again (a VM's controller cannot be wedged for real, nor unwedged by
# a reset) and the links come back. Without the option: said once, no reset.
# usage: stuck-guest.sh BUILD_DIR
set -u
B=$1
OUT=/bm6out
ulimit -c unlimited
echo "$OUT/core.%e.%p" >/proc/sys/kernel/core_pattern 2>/dev/null
PERIPHERAL=00:AA:01:00:00:00
RUN=/run/bm6
mkdir -p "$RUN/plugins" "$RUN/csv"
now() { date +%s.%N; }
T0=$(now)
say() { printf '[%6.2f] %s\n' "$(echo "$(now) - $T0" | bc)" "$*"; }
BTMON=
stop_btmon() {
  [ -n "$BTMON" ] || return 0
  kill -INT "$BTMON" 2>/dev/null
  wait "$BTMON" 2>/dev/null
  cp "$RUN/hci.btsnoop" "$OUT/" 2>/dev/null
  BTMON=
}
fail() {
  say "FAIL: $*"
  stop_btmon
  cp "$RUN"/collectd-*.log "$OUT/" 2>/dev/null
  exit 1
}
mkfifo "$RUN/no-input" && exec 9<>"$RUN/no-input"
btmgmt_() { timeout 10 btmgmt "$@" <&9; }
mgmt() { btmgmt_ "$@" >/dev/null 2>&1; }
wait_for() {  # seconds, command...
  local limit=$1; shift
  local end=$(( $(date +%s) + limit ))
  until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done
}

modprobe bluetooth && modprobe hci_vhci || fail "no Bluetooth modules in this kernel"
all_ready() {
  for i in 0 1; do mgmt --index $i power on; mgmt --index $i le on; done
  [ "$(btmgmt_ info 2>/dev/null | grep -c 'current settings: powered.* le')" = 2 ]
}
up=0
for attempt in 1 2 3; do
  btvirt -l2 >"$OUT/btvirt.log" 2>&1 &
  BTVIRT=$!
  if wait_for 10 test -e /sys/class/bluetooth/hci1 && wait_for 25 all_ready; then
    up=1
    break
  fi
  say "controllers did not come up (attempt $attempt), restarting btvirt"
  kill $BTVIRT; wait $BTVIRT 2>/dev/null
  wait_for 10 test ! -e /sys/class/bluetooth/hci0 -a ! -e /sys/class/bluetooth/hci1
done
[ $up = 1 ] || fail "the controllers did not come up powered with LE"
btmon -w "$RUN/hci.btsnoop" >/dev/null 2>&1 &
BTMON=$!
say "controllers up"

# The monitor, connectable (bm6-sim advertises through mgmt, connectable, every 150 ms).
connectable_monitor() {
  mgmt --index 0 connectable on
  "$B/tools/bm6-sim" --period 0.5 --voltage 12.66 --temperature 14 --soc 77 --state charging \
    --l2cap hci0 >>"$OUT/sim.log" 2>&1 &
  SIM=$!
  wait_for 5 grep -q "serving l2cap:hci0" "$OUT/sim.log" || fail "bm6-sim did not start"
}
# Still there, advertising, but nobody can connect: the simulator gone (its instances
# removed), the controller not connectable and advertising without the connectable flag.
unconnectable_monitor() {
  kill $SIM; wait $SIM 2>/dev/null
  mgmt --index 0 connectable off
  mgmt --index 0 add-adv -u FFF0 -g -n 1 || mgmt --index 0 add-adv -u FFF0 -g -n 1 ||
    fail "non-connectable advertising refused"
}

cp /usr/lib/collectd/csv.so /usr/lib/collectd/logfile.so "$B/plugin/bm6.so" "$RUN/plugins/"
# A passive device on hci1 (an address nobody advertises) gives hci1 an advertisement
# scanner, which tells the adapter's watch whether "van" is still heard.
PASSIVE_DEVICE='  <Device "listener">
    Mode "passive"
    Address "00:AA:01:09:09:09"
    Adapter "hci1"
  </Device>'
write_conf() {  # NAME RESET(true|false) [EXTRA-DEVICE-BLOCK]
  cat >"$RUN/$1.conf" <<CONF
Hostname "vm"
FQDNLookup false
Interval 1
BaseDir "$RUN"
PIDFile "$RUN/collectd.pid"
PluginDir "$RUN/plugins"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$RUN/collectd-$1.log"
  Timestamp true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$RUN/csv"
</Plugin>
LoadPlugin bm6
<Plugin bm6>
  <Adapter "hci1">
    ResetAdapter $2
    StuckAfter 10
  </Adapter>
  <Device "van">
    Address "$PERIPHERAL"
    Adapter "hci1"
    ConnectTimeout 2
    ResponseTimeout 3
    StreamTimeout 1
    ReconnectMin 0.5
    ReconnectMax 2
  </Device>
${3:-}
</Plugin>
CONF
}
rows() { cat "$RUN/csv/vm/bm6-van/voltage"-* 2>/dev/null | grep -v '^epoch'; }
value_after() { rows | awk -F, -v t="$1" '$1 > t' | grep -q ',12.66'; }
said() { grep -c "$2" "$RUN/collectd-$1.log"; }

# Reads, then every connect fails: the adapter is called stuck once, with what was seen.
stuck_spell() {  # NAME
  local name=$1 t
  t=$(now)
  collectd -f -C "$RUN/$name.conf" >"$OUT/collectd-$name.out" 2>&1 &
  COLLECTD=$!
  wait_for 40 value_after "$t" || fail "$name: no value from collectd"
  say "$name: reading"
  unconnectable_monitor
  T_BREAK=$(now)
  wait_for 60 grep -q 'adapter hci1 looks stuck' "$RUN/collectd-$name.log" ||
    fail "$name: the stuck adapter was not noticed"
  say "$name: noticed $(echo "$(now) - $T_BREAK" | bc) s after connects began to fail:"
  grep 'looks stuck' "$RUN/collectd-$name.log" | sed 's/^/    /'
  grep 'looks stuck' "$RUN/collectd-$name.log" | grep -q '"van" read through it before' ||
    fail "$name: the line does not say what was seen"
}

# 1. ResetAdapter true: noticed, reset through mgmt, links back.
write_conf reset true "$PASSIVE_DEVICE"
connectable_monitor
stuck_spell reset
wait_for 15 grep -q 'adapter hci1: reset done (powered off and on)' "$RUN/collectd-reset.log" ||
  fail "reset: no reset done: $(grep 'hci1' "$RUN/collectd-reset.log" | tail -n 3)"
T_RESET=$(now)
grep 'adapter hci1: \(power-cycling\|reset done\)' "$RUN/collectd-reset.log" | sed 's/^/    /'
# Told, not asserted: btvirt reports an advertiser only when scanning or advertising starts.
say "reset: \"van\" heard advertising while its connects failed: $(grep -q 'looks stuck.*"van" still heard' "$RUN/collectd-reset.log" && echo yes || echo no)"
btmgmt_ --index 1 info | grep -q 'current settings: powered.* le' || fail "reset: hci1 not powered with LE after the reset"
mgmt --index 0 clr-adv
connectable_monitor
wait_for 40 value_after "$T_RESET" || fail "reset: no value after the reset"
say "reset: values again $(echo "$(now) - $T_RESET" | bc) s after the reset"
wait_for 5 grep -q 'adapter hci1 makes links again (after 1 reset' "$RUN/collectd-reset.log" ||
  fail "reset: the recovery was not said"
[ "$(said reset 'looks stuck')" = 1 ] && [ "$(said reset 'power-cycling')" = 1 ] ||
  fail "reset: stuck said $(said reset 'looks stuck') times, reset $(said reset 'power-cycling') times"
kill $COLLECTD; wait $COLLECTD || fail "collectd (reset) exited with $?"

# 2. ResetAdapter false: noticed and said once, never reset.
write_conf noreset false
stuck_spell noreset
sleep 8  # more failed connects: no second line, no reset
kill $COLLECTD; wait $COLLECTD || fail "collectd (noreset) exited with $?"
[ "$(said noreset 'looks stuck')" = 1 ] || fail "noreset: stuck said $(said noreset 'looks stuck') times"
[ "$(said noreset 'power-cycling\|reset done')" = 0 ] || fail "noreset: the adapter was reset"
grep -q 'set ResetAdapter true' "$RUN/collectd-noreset.log" || fail "noreset: the line does not say what to do"
stop_btmon
# The trace: exactly one power cycle (Set Powered off, then on) on hci1, from the first run.
POWERED=$(btmon -r "$OUT/hci.btsnoop" 2>/dev/null | grep -c 'MGMT Command: Set Powered')
say "mgmt Set Powered commands in the trace (started after set-up): $POWERED (the reset's off and on)"
cp "$RUN"/collectd-*.log "$OUT/"
say "PASS"
exit 0
