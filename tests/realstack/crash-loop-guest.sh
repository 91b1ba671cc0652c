#!/bin/bash
# Runs inside the VM (see crash-loop.sh): the real-stack test's step 5 in a loop. Each round
# bm6-sim is restarted on hci0 as the next model (bm2, bm7, bm6, ...) on the same address,
# then bm6ctl read and collectd (bm6.so) on hci1 read it at once. Stops at the first crash or
# sanitizer report (printed; cores kept in the out folder), or after ROUNDS rounds; also
# after the current round when the host creates OUT/stop.
# usage: crash-loop-guest.sh BUILD_DIR ROUNDS
set -u
ROUNDS=$2
. "$(dirname "$0")/guest-lib.sh"
# Sanitizer reports stop the program (abort: a core, without the shadow memory).
export ASAN_OPTIONS=abort_on_error=1:disable_coredump=0:use_madv_dontdump=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:abort_on_error=1
# collectd itself is not instrumented: the ASan runtime goes first, its own leaks are not ours.
COLLECTD_PRELOAD=$(gcc -print-file-name=libasan.so)
COLLECTD_ASAN=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}

controllers_up 2
mgmt --index 0 connectable on
mgmt --index 0 name BM6

install_plugins
{
  collectd_conf_head "$RUN/collectd.log"
  cat <<CONF
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
} >"$RUN/collectd.conf"

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
