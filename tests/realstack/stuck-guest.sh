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
. "$(dirname "$0")/guest-lib.sh"
on_fail() { cp "$RUN"/collectd-*.log "$OUT/" 2>/dev/null; }

controllers_up 2
start_btmon
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

install_plugins
# A passive device on hci1 (an address nobody advertises) gives hci1 an advertisement
# scanner, which tells the adapter's watch whether "van" is still heard.
PASSIVE_DEVICE='  <Device "listener">
    Mode "passive"
    Address "00:AA:01:09:09:09"
    Adapter "hci1"
  </Device>'
write_conf() {  # NAME RESET(true|false) [EXTRA-DEVICE-BLOCK]
  {
    collectd_conf_head "$RUN/collectd-$1.log"
    cat <<CONF
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
  } >"$RUN/$1.conf"
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
