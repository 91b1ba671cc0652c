#!/bin/bash
# Runs inside the VM (see vm-run.sh; soak.sh starts it): the real-stack soak of issue 23.
# Ten controllers from one btvirt: collectd reads through hci1 and hci2, six bm6-sim
# monitors serve on hci3-hci8, and hci9 is the owner's phone; hci0 is a spare (see
# controllers_up in guest-lib.sh: under load its first reset times out). On hci1: "persist"
# (a persistent link) and "pa1" (passive); on hci2: "pr1", "pr2", "pr3" (per-read, 20 s) and
# "pa2" (passive). bluetoothd runs throughout. Each monitor sends its own values, so a row of
# one device with another's value (or any value no simulator sent) is caught.
#
# One link per controller at a time: btvirt (BlueZ 5.66, emulator/btdev.c send_acl) forwards
# an ACL packet with the sender's connection handle, not the receiver's, so a link carries
# data only while both ends gave it the same handle. A controller's second link at once gets
# handle 2 while its peer's side is handle 1: the link comes up and carries nothing, and the
# peripheral keeps it for good (seen with two bm6ctl reads at once through one controller:
# the second never reads, and that monitor takes no link again). So hci2 has MaxLinks 1 here
# (on a radio the soak would use 2), the phone has a controller of its own, and no reader
# links twice at once. Before the plugin ended its per-read links through mgmt (issue #25),
# per-read monitors still wedged now and then: the kernel let an idle link go a little later
# than the 2 s the plugin waited before the next turn, so a turn could be a controller's
# second link (seen: pr3's link created 45 ms before pr2's had ended at its monitor). Now a
# turn's slot is free only once the kernel reports the previous link gone.
#
# Faults, in turn, until DURATION seconds of soak have passed (every kind at least once):
#   kill     a simulator killed (SIGKILL) and started again 5 s later (in turn: each device)
#   phone    bm6ctl read of a per-read monitor through hci9, as the owner's phone
#   range    persist and pa2 out of range for 10 s (bm6-sim SIGUSR1, then SIGUSR2: on L2CAP
#            an out-of-range bm6-sim stops advertising). Not a per-read monitor: there the
#            btvirt handle fault above struck (pr2 out of range on MaxLinks 1: pr1 and pr3
#            then had links up that carried nothing, their monitors wedged).
#   power    a reader controller (hci1, then hci2) powered off for 3 s and on (btmgmt)
#   bluetoothd  bluetoothd killed and started again
#   hotplug  every controller removed and added again: btvirt killed and started again.
#            One btvirt provides every controller because only controllers of one btvirt
#            process share its emulated radio; a controller of a second btvirt could not
#            reach the monitors. So the readers and the monitors go together, as after a
#            USB reset of a hub with every adapter on it.
# After each fault every device must read again (a row newer than the fault's end) within
# RECOVERY_BOUND seconds; collectd's lines from a fault's start to its recovery are counted
# (at most LOG_BOUND); collectd's open descriptors and RSS are sampled at each recovery and
# must stay within FD_SLACK and RSS_SLACK_KB of the highest sample of the warm-up (the
# first third of the soak). At the end: collectd alive, it stops with status 0, no core,
# every row a value its simulator sent. Figures go to $OUT/soak-metrics.
# usage: soak-guest.sh BUILD_DIR DURATION_SECONDS [FAULT,FAULT...] (default: every kind;
# bluetoothd runs only when "bluetoothd" is among them)
set -u
DURATION=$2
IFS=, read -r -a KINDS <<<"${3:-kill,phone,range,power,bluetoothd,hotplug}"
. "$(dirname "$0")/guest-lib.sh"
RECOVERY_BOUND=90
LOG_BOUND=40
FD_SLACK=4
RSS_SLACK_KB=2048
on_fail() {
  dmesg >"$OUT/dmesg.txt"
  cp "$RUN/collectd.log" "$OUT/" 2>/dev/null
  find "$RUN/csv" -type f -exec sh -c 'echo "== $1"; tail -n 3 "$1"' _ {} \; >"$OUT/csv.txt" 2>&1
  [ -f "$RUN/samples" ] && cp "$RUN/samples" "$OUT/"
  cp -r "$RUN/csv" "$OUT/"
}

NAMES=(persist pr1 pr2 pr3 pa1 pa2)
CTRL=(3 4 5 6 7 8)                                # the monitor's controller
VOLT=(12.21 12.32 12.43 12.54 12.65 12.76)
SOC=(61 62 63 64 65 66)
TEMP=(11 12 13 14 15 16)                           # passive devices write no temperature
CONNECTED=(0 1 2 3)                                # indexes of devices that take links
ADDR=()
SIMPID=()

CONTROLLERS=10
PHONE=hci9
controllers_up $CONTROLLERS 1
for i in "${!NAMES[@]}"; do ADDR[$i]=$(address_of "${CTRL[$i]}"); done
say "controllers up; monitors at ${ADDR[*]}"

# bluetoothd first: it creates an ATT listener on every controller when it registers it, and
# the kernel gives an incoming link's ATT channel to the newest listener, so the simulators
# start after it (and again after it restarts).
mkdir -p /run/dbus
dbus-daemon --system --fork || fail "dbus-daemon did not start"
BLUETOOTHD=
registered() {  # bluetoothd has an object for each controller but the spare
  [ "$(timeout 10 dbus-send --system --print-reply --dest=org.bluez / \
    org.freedesktop.DBus.ObjectManager.GetManagedObjects 2>/dev/null |
    grep -c 'object path "/org/bluez/hci[1-9]"$')" -ge $((CONTROLLERS - 1)) ]
}
start_bluetoothd() {
  /usr/libexec/bluetooth/bluetoothd -n >>"$OUT/bluetoothd.log" 2>&1 &
  BLUETOOTHD=$!
  wait_for 60 registered || fail "bluetoothd did not register the $CONTROLLERS controllers"
}
stop_bluetoothd() { kill "$BLUETOOTHD"; wait "$BLUETOOTHD" 2>/dev/null; }

start_sim() {  # INDEX
  local i=$1 log="$OUT/sim-${NAMES[$1]}.log" mark
  mark=$(cat "$log" 2>/dev/null | wc -l)
  mgmt --index "${CTRL[$i]}" connectable on
  "$B/tools/bm6-sim" --period 0.5 --voltage "${VOLT[$i]}" --temperature "${TEMP[$i]}" \
    --soc "${SOC[$i]}" --state normal --l2cap "hci${CTRL[$i]}" >>"$log" 2>&1 &
  SIMPID[$i]=$!
  started() { tail -n "+$((mark + 1))" "$log" | grep -q "serving l2cap:hci${CTRL[$i]}"; }
  wait_for 20 started || fail "bm6-sim ${NAMES[$i]} did not start: $(tail -n 3 "$log")"
}
stop_sim() { kill "${1:--TERM}" "${SIMPID[$2]}" 2>/dev/null; wait "${SIMPID[$2]}" 2>/dev/null; }
start_sims() { for i in "$@"; do start_sim "$i"; done; }

with_bluetoothd() { [[ " ${KINDS[*]} " == *" bluetoothd "* ]]; }
with_bluetoothd && start_bluetoothd
start_sims "${!NAMES[@]}"
say "$(with_bluetoothd && echo "bluetoothd runs; ")six simulated monitors serve"

install_plugins
{
  collectd_conf_head "$RUN/collectd.log"
  cat <<CONF
  <Adapter "hci2">
    MaxLinks 1
  </Adapter>
  <Device "persist">
    Address "${ADDR[0]}"
    Adapter "hci1"
    ConnectTimeout 10
    ResponseTimeout 10
    StreamTimeout 3
    ReconnectMin 1
    ReconnectMax 10
  </Device>
CONF
  for i in 1 2 3; do
    cat <<CONF
  <Device "${NAMES[$i]}">
    Address "${ADDR[$i]}"
    Adapter "hci2"
    Link "per-read"
    Interval 20
    ConnectTimeout 10
    ResponseTimeout 10
    ReconnectMin 1
    ReconnectMax 10
  </Device>
CONF
  done
  for i in 4 5; do
    cat <<CONF
  <Device "${NAMES[$i]}">
    Mode "passive"
    Address "${ADDR[$i]}"
    Adapter "hci$((i - 3))"
    PassiveTimeout 5
  </Device>
CONF
  done
  echo "</Plugin>"
} >"$RUN/collectd.conf"

rows() { cat "$RUN/csv/vm/bm6-$1/$2"-* 2>/dev/null | grep -v '^epoch'; }
first_after() { rows "$1" voltage | awk -F, -v t="$2" '$1 > t { print $1; exit }'; }  # NAME SINCE
log_lines() { wc -l <"$RUN/collectd.log"; }
# Seen once here: the guest kernel (Debian 6.1) oopsed in hci_chan_del, from
# l2cap_sock_release, as collectd's thread closed a socket during the out-of-range fault;
# Bluetooth is dead after that. Said as what it is, not as a slow device.
kernel_oops() {
  local oops
  oops=$(dmesg | grep -E -m 3 'general protection fault|BUG:|Oops|list_del corruption|RIP:')
  [ -z "$oops" ] || fail "the guest kernel oopsed ($1; trace in dmesg.txt): $oops"
}

# Every device reading again after SINCE: the seconds each took go to RECOVERED (name=s).
all_recover() {  # KIND SINCE
  local kind=$1 t=$2 i left=("${!NAMES[@]}") next first
  RECOVERED=
  local end=$(($(date +%s) + RECOVERY_BOUND))
  while [ "${#left[@]}" -gt 0 ]; do
    next=()
    for i in "${left[@]}"; do
      first=$(first_after "${NAMES[$i]}" "$t")
      if [ -n "$first" ]; then  # the time of the row, not of this look at it
        RECOVERED="$RECOVERED ${NAMES[$i]}=$(printf '%.1f' "$(echo "$first - $t" | bc)")"
      else
        next+=("$i")
      fi
    done
    left=("${next[@]}")
    [ "${#left[@]}" = 0 ] && break
    kernel_oops "$kind"
    [ "$(date +%s)" -lt "$end" ] ||
      fail "$kind: no reading from$(for i in "${left[@]}"; do printf ' %s' "${NAMES[$i]}"; done) within $RECOVERY_BOUND s"
    sleep 0.5
  done
}

COLLECTD=
fds() { ls "/proc/$COLLECTD/fd" | wc -l; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$COLLECTD/status"; }
sample() {  # LABEL
  kill -0 "$COLLECTD" 2>/dev/null || fail "collectd died (${1})"
  echo "$1 $(fds) $(rss_kb)" >>"$RUN/samples"
}

# The faults. Each ends with T_END: when the fault was taken away.
KILL_TURN=0
fault_kill() {
  local i=$((KILL_TURN % ${#NAMES[@]}))
  KILL_TURN=$((KILL_TURN + 1))
  FAULT_WHAT=${NAMES[$i]}
  stop_sim -KILL "$i"
  sleep 5
  start_sim "$i"
  T_END=$(now)
}
PHONE_TURN=0
PHONE_READS=0
PHONE_TRIES=0
fault_phone() {  # the phone reads a per-read monitor, up to 3 tries
  local i=$((1 + PHONE_TURN % 3)) try
  PHONE_TURN=$((PHONE_TURN + 1))
  FAULT_WHAT=${NAMES[$i]}
  for try in 1 2 3; do
    PHONE_TRIES=$((PHONE_TRIES + 1))
    "$B/tools/bm6ctl" read "${ADDR[$i]}" --adapter $PHONE --timeout 15 --json >"$RUN/phone.out" 2>&1
    if grep -q "\"voltage\":${VOLT[$i]}," "$RUN/phone.out"; then
      PHONE_READS=$((PHONE_READS + 1))
      FAULT_WHAT="$FAULT_WHAT, read on try $try"
      break
    fi
    grep -q '"voltage"' "$RUN/phone.out" && fail "phone: ${NAMES[$i]} read as $(cat "$RUN/phone.out")"
    FAULT_WHAT="$FAULT_WHAT, try $try: $(head -c 100 "$RUN/phone.out" | tr '\n' ' ')"
    sleep 2
  done
  T_END=$(now)
}
fault_range() {  # persist and pa2 out of range for 10 s
  FAULT_WHAT="persist, pa2"
  kill -USR1 "${SIMPID[0]}" "${SIMPID[5]}"
  sleep 10
  kill -USR2 "${SIMPID[0]}" "${SIMPID[5]}"
  T_END=$(now)
}
POWER_TURN=0
fault_power() {  # a reader controller powered off for 3 s
  local hci=$((1 + POWER_TURN % 2))
  POWER_TURN=$((POWER_TURN + 1))
  FAULT_WHAT=hci$hci
  retry3 mgmt --index $hci power off || fail "power off hci$hci failed"
  sleep 3
  retry3 mgmt --index $hci power on || fail "power on hci$hci failed"
  T_END=$(now)
  btmgmt_ --index $hci info | grep -q 'current settings: powered.* le' || fail "hci$hci not powered with LE"
}
fault_bluetoothd() {  # restarted; then the monitors' listeners again (see start_bluetoothd)
  FAULT_WHAT="and the connected monitors' simulators after it"
  stop_bluetoothd
  start_bluetoothd
  for i in "${CONNECTED[@]}"; do stop_sim -TERM "$i"; done
  start_sims "${CONNECTED[@]}"
  T_END=$(now)
}
fault_hotplug() {  # every controller removed and added again
  local i a
  FAULT_WHAT="$CONTROLLERS controllers"
  for i in "${!NAMES[@]}"; do stop_sim -TERM "$i"; done
  controllers_down
  sleep 3
  controllers_up $CONTROLLERS 1
  for i in "${!NAMES[@]}"; do
    a=$(address_of "${CTRL[$i]}")
    [ "$a" = "${ADDR[$i]}" ] || fail "hotplug: hci${CTRL[$i]} came back as $a, not ${ADDR[$i]}"
  done
  if with_bluetoothd; then wait_for 60 registered || fail "hotplug: bluetoothd did not register the controllers again"; fi
  start_sims "${!NAMES[@]}"
  T_END=$(now)
}

FAULT_N=0
run_fault() {  # KIND
  local kind=$1 l0 t0 lines worst
  FAULT_N=$((FAULT_N + 1))
  l0=$(log_lines)
  t0=$(now)
  "fault_$kind"
  all_recover "$kind" "$T_END"
  sleep 3  # what the fault still makes collectd say (a return, a summary) counts with it
  lines=$(($(log_lines) - l0))
  worst=$(echo "$RECOVERED" | tr ' ' '\n' | cut -d= -f2 | sort -g | tail -n 1)
  say "fault $FAULT_N $kind ($FAULT_WHAT): $(printf '%.1f' "$(echo "$T_END - $t0" | bc)") s; every device read again within $worst s:$RECOVERED; $lines log lines"
  { echo "== fault $FAULT_N $kind ($FAULT_WHAT)"; sed -n "$((l0 + 1)),$((l0 + lines))p" "$RUN/collectd.log"; } >>"$OUT/fault-log.txt"
  echo "$kind $worst $lines" >>"$RUN/faults"
  [ "$lines" -le "$LOG_BOUND" ] || fail "$kind: $lines log lines (bound $LOG_BOUND): see fault-log.txt"
  sample "$(printf '%.0f' "$(since "$SOAK_START")") $kind"
}

: >"$RUN/samples"
: >"$RUN/faults"
T_COLLECTD=$(now)
collectd -f -C "$RUN/collectd.conf" >"$OUT/collectd.out" 2>&1 &
COLLECTD=$!
RECOVERY_BOUND=90 all_recover start "$T_COLLECTD"
say "collectd: every device read:$RECOVERED"
sleep 10
SOAK_START=$(now)
sample "0 start"
say "soak: $DURATION s of faults"
ROUND=0
while :; do
  for kind in "${KINDS[@]}"; do
    if [ "$ROUND" -gt 0 ] && [ "$(printf '%.0f' "$(since "$SOAK_START")")" -ge "$DURATION" ]; then break 2; fi
    run_fault "$kind"
  done
  ROUND=$((ROUND + 1))
done
sleep 10
SOAK_S=$(printf '%.0f' "$(since "$SOAK_START")")
sample "$SOAK_S end"

# Descriptors and RSS flat after the warm-up (the samples of the first third of the soak).
read -r BASE_FD BASE_RSS <<<"$(awk -v w="$((DURATION / 3))" '$1 <= w { if ($3 > f) f = $3; if ($4 > r) r = $4 } END { print f, r }' "$RUN/samples")"
read -r MAX_FD MAX_RSS <<<"$(awk -v w="$((DURATION / 3))" '$1 > w { if ($3 > f) f = $3; if ($4 > r) r = $4 } END { print f + 0, r + 0 }' "$RUN/samples")"
read -r _ _ END_FD END_RSS <<<"$(tail -n 1 "$RUN/samples")"
say "collectd: warm-up $BASE_FD fds, $BASE_RSS kB RSS; after it at most $MAX_FD fds, $MAX_RSS kB; at the end $END_FD fds, $END_RSS kB"
[ "$MAX_FD" -le $((BASE_FD + FD_SLACK)) ] || fail "descriptors grew: $BASE_FD after the warm-up, $MAX_FD later (slack $FD_SLACK)"
[ "$MAX_RSS" -le $((BASE_RSS + RSS_SLACK_KB)) ] || fail "RSS grew: $BASE_RSS kB after the warm-up, $MAX_RSS kB later (slack $RSS_SLACK_KB kB)"

kill "$COLLECTD"
wait "$COLLECTD"
status=$?
[ "$status" = 0 ] || fail "collectd exited with $status"
cp "$RUN/collectd.log" "$RUN/samples" "$OUT/"
ls "$OUT"/core.* >/dev/null 2>&1 && fail "a program left a core: $(ls "$OUT"/core.*)"

# Nothing written that the simulators did not send: each device's rows hold its own values.
only() {  # NAME TYPE VALUE: every row of TYPE is VALUE
  local bad
  bad=$(rows "$1" "$2" | awk -F, -v v="$3" '$2 + 0 != v + 0' | head -n 3)
  [ -z "$bad" ] || fail "$1: $2 rows no simulator sent: $bad"
}
extra=$(ls "$RUN/csv/vm" | grep -vxE "bm6-($(IFS='|'; echo "${NAMES[*]}"))")
[ -z "$extra" ] || fail "rows for devices nobody configured: $extra"
READINGS=
for i in "${!NAMES[@]}"; do
  n=${NAMES[$i]}
  only "$n" voltage "${VOLT[$i]}"
  only "$n" percent-charged "${SOC[$i]}"
  only "$n" gauge-state 0
  if [ "$i" -lt 4 ]; then only "$n" temperature "${TEMP[$i]}"; else [ -z "$(rows "$n" temperature)" ] || fail "$n: a passive temperature"; fi
  READINGS="$READINGS $n=$(rows "$n" voltage | wc -l)"
done
say "every row holds its simulator's values; readings per device:$READINGS"
say "phone: $PHONE_READS reads in $PHONE_TRIES tries"
# Round trips before the first reading (issue #25), as the per-read monitors counted the ATT
# requests of each link up to its first command: collectd's first link to each discovers (5),
# every later one is one round trip (its handles cached); the phone's bm6ctl discovers too.
TRIPS=$(for i in 1 2 3; do cat "$OUT/sim-${NAMES[$i]}.log"; done |
  sed -n 's/.*: link: [0-9]* ATT requests, \([0-9]*\) of them up to the first command.*/\1/p')
ONE=$(grep -cx 1 <<<"$TRIPS")
MORE=$(grep -cvx 1 <<<"$TRIPS")
say "per-read links: $ONE made one round trip before the command, $MORE more ($(sort -n <<<"$TRIPS" | uniq -c | awk '{ printf "%s%s with %s", (NR > 1 ? ", " : ""), $1, $2 }') ATT requests)"
[ "$MORE" -le $((3 + PHONE_TRIES)) ] || fail "per-read links: $MORE made more than one round trip before the command (at most the 3 first links and the phone's $PHONE_TRIES)"

# Per fault kind: how many, the slowest recovery, the most log lines.
SUMMARY=$(awk '{ n[$1]++; if ($2 > r[$1]) r[$1] = $2; if ($3 > l[$1]) l[$1] = $3 }
  END { for (k in n) printf "%s: %d faults, every device back within %.1f s, at most %d log lines\n", k, n[k], r[k], l[k] }' "$RUN/faults" | sort)
echo "$SUMMARY" | sed 's/^/    /'
{
  echo "soak_s=$SOAK_S"
  echo "faults=$FAULT_N"
  echo "warmup_fds=$BASE_FD warmup_rss_kb=$BASE_RSS"
  echo "end_fds=$END_FD end_rss_kb=$END_RSS max_fds_after_warmup=$MAX_FD max_rss_kb_after_warmup=$MAX_RSS"
  echo "readings:$READINGS"
  echo "phone_reads=$PHONE_READS phone_tries=$PHONE_TRIES"
  echo "perread_links_one_round_trip=$ONE perread_links_more=$MORE"
  echo "$SUMMARY"
} >"$OUT/soak-metrics"
say "PASS"
exit 0
