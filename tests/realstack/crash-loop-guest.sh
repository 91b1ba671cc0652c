#!/bin/bash
# Runs inside the VM (see crash-loop.sh): the real-stack test's step 5 in a loop. Each round
# bm6-sim is restarted on hci0 as the next model (bm2, bm7, bm6, ...) on the same address,
# then bm6ctl read and collectd (bm6.so) on hci1 read it at once. Stops at the first crash or
# sanitizer report (printed; cores kept in the out folder), or after ROUNDS rounds; also
# after the current round when the host creates OUT/stop.
# usage: crash-loop-guest.sh BUILD_DIR ROUNDS
set -u
B=$1
ROUNDS=$2
OUT=/bm6out
RUN=/run/bm6
PERIPHERAL=00:AA:01:00:00:00
mkdir -p "$RUN/plugins" "$RUN/csv"
ulimit -c unlimited
echo "$OUT/core.%e.%p" >/proc/sys/kernel/core_pattern
# Sanitizer reports stop the program (abort: a core, without the shadow memory).
export ASAN_OPTIONS=abort_on_error=1:disable_coredump=0:use_madv_dontdump=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:abort_on_error=1
# collectd itself is not instrumented: the ASan runtime goes first, its own leaks are not ours.
COLLECTD_PRELOAD=$(gcc -print-file-name=libasan.so)
COLLECTD_ASAN=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}
say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
fail() { say "FAIL: $*"; exit 1; }
mkfifo "$RUN/no-input" && exec 9<>"$RUN/no-input"
btmgmt_() { timeout 10 btmgmt "$@" <&9; }
mgmt() { btmgmt_ "$@" >/dev/null 2>&1; }
wait_for() {  # seconds, command...
  local end=$(($(date +%s) + $1))
  shift
  until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done
}

modprobe bluetooth && modprobe hci_vhci || fail "no Bluetooth modules"
ready() {
  for i in 0 1; do mgmt --index $i power on; mgmt --index $i le on; done
  [ "$(btmgmt_ info 2>/dev/null | grep -c 'current settings: powered.* le')" = 2 ]
}
up=0
for attempt in 1 2 3; do
  btvirt -l2 >"$OUT/btvirt.log" 2>&1 &
  BTVIRT=$!
  if wait_for 10 test -e /sys/class/bluetooth/hci1 && wait_for 25 ready; then
    up=1
    break
  fi
  say "controllers did not come up (attempt $attempt), restarting btvirt"
  kill $BTVIRT
  wait $BTVIRT 2>/dev/null
  wait_for 10 test ! -e /sys/class/bluetooth/hci0
done
[ $up = 1 ] || fail "the controllers did not come up"
mgmt --index 0 connectable on
mgmt --index 0 name BM6

cp /usr/lib/collectd/csv.so /usr/lib/collectd/logfile.so "$B/plugin/bm6.so" "$RUN/plugins/"
cat >"$RUN/collectd.conf" <<CONF
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
  File "$RUN/collectd.log"
  Timestamp true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$RUN/csv"
</Plugin>
LoadPlugin bm6
<Plugin bm6>
  <Device "van">
    Address "$PERIPHERAL"
    Adapter "hci1"
    ConnectTimeout 10
    ResponseTimeout 3
    StreamTimeout 1
    ReconnectMin 0.5
    ReconnectMax 2
  </Device>
</Plugin>
CONF

# A sanitizer's report or a death by signal ends the hunt.
# 143 is the SIGTERM this script sends; 134 a hang ended by timeout's SIGABRT (a core too).
crashed() {  # NAME STATUS LOG
  if { [ "$2" -ge 128 ] && [ "$2" != 143 ]; } || grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$3"; then
    say "CRASH in round $ROUND ($MODEL): $1 exited with status $2"
    echo "----- $3"
    cat "$3"
    echo "-----"
    cp "$3" "$OUT/" 2>/dev/null
    [ -f "$RUN/collectd.log" ] && cp "$RUN/collectd.log" "$OUT/collectd-round$ROUND.log"
    ls -l "$OUT"/core.* 2>/dev/null
    say "CRASH after $ROUND rounds"
    exit 1
  fi
}

MODELS=(bm2 bm7 bm6)
VOLTS=(12.71 11.94 12.66)
SIM=
FAILED_READS=0
SILENT=0
ROUND=0
while [ "$ROUND" -lt "$ROUNDS" ] && [ ! -e "$OUT/stop" ]; do
  ROUND=$((ROUND + 1))
  i=$(((ROUND - 1) % 3))
  MODEL=${MODELS[$i]}
  V=${VOLTS[$i]}
  # The simulator restarted as the next model on the same address, as in step 5.
  if [ -n "$SIM" ]; then
    kill $SIM 2>/dev/null
    wait $SIM
    crashed bm6-sim $? "$RUN/sim.log"
  fi
  "$B/tools/bm6-sim" --model "$MODEL" --period 0.5 --voltage "$V" --soc 50 --state normal \
    --l2cap hci0 >"$RUN/sim.log" 2>&1 &
  SIM=$!
  # Sanitizer builds start slowly under emulation.
  wait_for 30 grep -q "serving l2cap:hci0" "$RUN/sim.log" ||
    { cat "$RUN/sim.log"; kill -0 $SIM || wait $SIM; fail "bm6-sim did not start (status $?)"; }
  mgmt --index 0 add-adv -u FFF0 -c -g -n 1
  # bm6ctl read and collectd at once, racing for the one peripheral.
  : >"$RUN/collectd.log"
  rm -rf "$RUN/csv"
  since=$(date +%s.%N)
  # Odd rounds both start at once (collectd mostly wins, and bm6ctl's link is reset at once),
  # even rounds collectd follows a second later (bm6ctl mostly reads, as in step 5).
  timeout -s ABRT 60 "$B/tools/bm6ctl" read "$PERIPHERAL" --adapter hci1 --timeout 15 --json \
    >"$RUN/read.out" 2>&1 &
  CTL=$!
  [ $((ROUND % 2)) = 1 ] || sleep 1
  LD_PRELOAD=$COLLECTD_PRELOAD ASAN_OPTIONS=$COLLECTD_ASAN \
    collectd -f -C "$RUN/collectd.conf" >"$RUN/collectd.out" 2>&1 &
  COLLECTD=$!
  wait $CTL
  st=$?
  crashed bm6ctl $st "$RUN/read.out"
  grep -q "\"voltage\":$V" "$RUN/read.out" || FAILED_READS=$((FAILED_READS + 1))
  fresh() {
    cat "$RUN"/csv/vm/bm6-van/voltage-* 2>/dev/null | awk -F, -v t="$since" '$1 > t' | grep -q ",$V"
  }
  if ! wait_for 25 fresh; then
    SILENT=$((SILENT + 1))
    cp "$RUN/collectd.log" "$OUT/collectd-silent-round$ROUND.log"
    say "round $ROUND: collectd read nothing within 25 s (log kept)"
  fi
  kill $COLLECTD 2>/dev/null
  wait $COLLECTD
  st=$?
  cat "$RUN/collectd.log" >>"$RUN/collectd.out"
  crashed collectd $st "$RUN/collectd.out"
  say "round $ROUND ($MODEL): bm6ctl $(head -c 160 "$RUN/read.out" | tr '\n' ' ')"
done
kill $SIM 2>/dev/null
wait $SIM
crashed bm6-sim $? "$RUN/sim.log"
say "NO CRASH in $ROUND rounds ($FAILED_READS bm6ctl reads failed, $SILENT rounds collectd read nothing in 25 s)"
exit 0
