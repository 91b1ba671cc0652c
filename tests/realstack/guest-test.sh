#!/bin/bash
# Runs inside the VM (see vm-run.sh): two virtual controllers linked by an emulated radio,
# bm6-sim as a BM6 on hci0, and on hci1 bm6ctl and the real collectd with bm6.so.
# usage: guest-test.sh BUILD_DIR
set -u
. "$(dirname "$0")/guest-lib.sh"
on_fail() {
  [ -f "$RUN/collectd.log" ] && cp "$RUN/collectd.log" "$OUT/"
  find "$RUN/csv" -type f -exec sh -c 'echo "== $1"; tail -n 3 "$1"' _ {} \; >"$OUT/csv.txt" 2>&1
}
# The kernel keeps an idle LE link about 2 s after its last socket closed; a connect in that
# time reuses it (and is reset if the peripheral's side went). True when hci1 has none left.
no_links() { ! btmgmt_ --index 1 con 2>/dev/null | grep -q "$PERIPHERAL"; }

# hci0 serves the simulated BM6, hci1 reads; hci2 is a second monitor, read passively (from
# its advertisements) by collectd on hci1.
controllers_up 3
mgmt --index 0 connectable on
mgmt --index 0 name BM6
# Advertise as a BM6 does: service FFF0 in the advertisement, the name in the scan response.
retry3 mgmt --index 0 add-adv -u FFF0 -c -g -n 1 || fail "btmgmt add-adv failed"
start_btmon
say "controllers up"

start_sim() {
  "$B/tools/bm6-sim" --period 0.5 --voltage 12.66 --temperature 14 --soc 77 --state charging \
    --l2cap hci0 >>"$OUT/sim.log" 2>&1 &
  SIM=$!
  wait_for 5 grep -q "serving l2cap:hci0" "$OUT/sim.log" || fail "bm6-sim did not start"
}
start_sim
say "simulated BM6 serving on hci0 ($PERIPHERAL)"

# 1. bm6ctl scan finds it, through the kernel's mgmt discovery.
"$B/tools/bm6ctl" scan --adapter hci1 --timeout 4 >"$OUT/scan.txt" 2>&1 || fail "bm6ctl scan: $(cat "$OUT/scan.txt")"
grep -q "^$PERIPHERAL  public  BM6" "$OUT/scan.txt" || fail "scan did not list the BM6: $(cat "$OUT/scan.txt")"
say "bm6ctl scan: $(grep "$PERIPHERAL" "$OUT/scan.txt")"
# --- passive-tools (issue #11): scan decodes what bm6-sim advertises, values exact ---
# Byte 10 (the simulator puts its temperature there) is shown raw, never as a temperature.
grep -q "^$PERIPHERAL  public  BM6 .* BM6, 12.66 V, 77 %, charging, byte10 (unconfirmed) 14\$" "$OUT/scan.txt" ||
  fail "scan did not decode the advertised reading: $(cat "$OUT/scan.txt")"
"$B/tools/bm6ctl" scan --adapter hci1 --timeout 3 --json >"$OUT/scan.json" 2>&1 || fail "bm6ctl scan --json: $(cat "$OUT/scan.json")"
grep -q "\"address\":\"$PERIPHERAL\".*\"model\":\"BM6\",\"voltage\":12.66,\"soc\":77,\"state\":\"charging\",\"byte10_unconfirmed\":14,\"source\":\"advertisement\"" \
  "$OUT/scan.json" || fail "scan --json did not decode the advertised reading: $(cat "$OUT/scan.json")"
say "bm6ctl scan --json: $(grep "$PERIPHERAL" "$OUT/scan.json")"
# --- end passive-tools ---

# 2. bm6ctl read reads one value.
"$B/tools/bm6ctl" read "$PERIPHERAL" --adapter hci1 --timeout 15 --json >"$OUT/read.json" 2>&1 || fail "bm6ctl read: $(cat "$OUT/read.json")"
grep -q '"voltage":12.66,"temperature":14,"soc":77,"state":"charging","rssi":-\?[0-9]' "$OUT/read.json" || fail "bm6ctl read printed $(cat "$OUT/read.json")"
say "bm6ctl read: $(cat "$OUT/read.json")"

# 3. The real collectd with bm6.so reaches it by its Bluetooth address.
install_plugins
{
  collectd_conf_head "$RUN/collectd.log"
  cat <<CONF
  <Device "van">
    Address "$PERIPHERAL"
    AddressType "public"
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
rows() { cat "$RUN/csv/vm/bm6-van/$1"-* 2>/dev/null | grep -v '^epoch' ; }
count() { rows "$1" | wc -l; }
has_rows() { [ -n "$(rows "$1")" ]; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
# bm6ctl's link ends for good (and the simulator reports what it cost) only once the kernel
# drops the idle link, about 2 s after bm6ctl closed it; collectd starts on a link of its own.
wait_for 10 no_links || say "a link to the peripheral is still up"
T_COLLECTD=$(now)
collectd -f -C "$RUN/collectd.conf" >"$OUT/collectd.out" 2>&1 &
COLLECTD=$!
wait_for 60 has_rows voltage || fail "no value from collectd within 60 s"
T_FIRST=$(now)
say "collectd: first value after $(echo "$T_FIRST - $T_COLLECTD" | bc) s"
wait_for 30 at_least voltage 3 || fail "values stopped"
rows voltage | tail -n 1 | grep -q ',12.66' || fail "wrong voltage $(rows voltage | tail -n 1)"
rows temperature | tail -n 1 | grep -q ',14' || fail "wrong temperature"
rows percent-charged | tail -n 1 | grep -q ',77' || fail "wrong state of charge"
rows gauge-state | tail -n 1 | grep -q ',2' || fail "wrong state"
wait_for 10 has_rows signal_power || fail "no signal_power (RSSI) dispatched"
say "collectd values: $(rows voltage | tail -n 1) V, RSSI $(rows signal_power | tail -n 1) dBm"

# --- perf (issue #17): RSSI on the first reading, CPU per reading, ATT requests per link ---
# The first reading of the link carries its RSSI: the first signal_power row is dispatched
# with the first voltage row.
first_time() { rows "$1" | head -n 1 | cut -d, -f1; }
[ "$(first_time signal_power)" = "$(first_time voltage)" ] ||
  fail "the first reading had no RSSI: first voltage at $(first_time voltage), first signal_power at $(first_time signal_power)"
# collectd's CPU (utime + stime, all threads) over a window, per reading in that window.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$COLLECTD/stat"; }
HZ=$(getconf CLK_TCK)
C0=$(cpu_ticks); N0=$(count voltage)
sleep 8
C1=$(cpu_ticks); N1=$(count voltage)
READINGS=$((N1 - N0))
[ "$READINGS" -gt 0 ] || fail "no readings in the CPU window"
CPU_MS=$(echo "scale=2; ($C1 - $C0) * 1000 / $HZ / $READINGS" | bc)
say "perf: collectd CPU per reading: $CPU_MS ms ($((C1 - C0)) ticks of 1/$HZ s over $READINGS readings; TCG-emulated)"
echo "cpu_ms_per_reading=$CPU_MS" >>"$OUT/perf-metrics"
# bm6ctl's link ended already: the simulator told what it cost.
LINK=$(grep ': link: [0-9]* ATT requests' "$OUT/sim.log" | head -n 1)
REQ=$(echo "$LINK" | sed -n 's/.* ATT requests, \([0-9]*\) of them up to the first command.*/\1/p')
say "perf: bm6ctl read's link: ${REQ:-?} ATT requests up to the command ($LINK)"
[ -n "$REQ" ] && [ "$REQ" -le 8 ] || fail "ATT requests per link: ${REQ:-none reported} (expected <= 8)"
echo "att_requests_bm6ctl_link=$REQ" >>"$OUT/perf-metrics"
# --- end perf ---

# 4. The peripheral goes away (its radio off, as when a BM6 loses power or range) and
# comes back: the plugin reconnects by itself.
kill -9 $SIM; wait $SIM 2>/dev/null
mgmt --index 0 power off
T_KILL=$(now)
wait_for 40 grep -q 'link lost' "$RUN/collectd.log" || fail "the plugin did not notice the link loss"
say "link loss noticed after $(echo "$(now) - $T_KILL" | bc) s"
sleep 2
mgmt --index 0 power on
start_sim
# A BM6 that comes back starts advertising again.
mgmt --index 0 add-adv -u FFF0 -c -g -n 1
T_BACK=$(now)
after_back() { rows voltage | awk -F, -v t="$T_BACK" '$1 > t' | grep -q .; }
wait_for 60 after_back || fail "values did not resume after the BM6 came back"
say "values resumed $(echo "$(now) - $T_BACK" | bc) s after the BM6 came back"
grep -q 'is back: readings flow again' "$RUN/collectd.log" || fail "no 'is back' message"

kill $COLLECTD; wait $COLLECTD
status=$?
[ $status = 0 ] || fail "collectd exited with $status"
# --- perf (issue #17): what collectd's (re)connected link cost, told by the simulator ---
collectd_link() { grep ': link: [0-9]* ATT requests' "$OUT/sim.log" | sed -n '2,$p' | tail -n 1 | grep .; }
if wait_for 10 collectd_link >/dev/null; then
  REQ=$(collectd_link | sed -n 's/.* ATT requests, \([0-9]*\) of them up to the first command.*/\1/p')
  say "perf: collectd's link: ${REQ:-?} ATT requests up to the command ($(collectd_link))"
  [ -n "$REQ" ] && [ "$REQ" -le 8 ] || fail "collectd's link: ${REQ:-no} ATT requests (expected <= 8)"
  echo "att_requests_collectd_link=$REQ" >>"$OUT/perf-metrics"
else
  fail "the simulator did not report collectd's link"
fi
# --- end perf ---
cp "$RUN/collectd.log" "$OUT/"
grep -q 'device "van" is a BM6' "$RUN/collectd.log" || fail "collectd did not log the model"

# 5. The other families, one after another on the one peripheral address: bm6-sim as a BM2,
# then a BM7, each read by bm6ctl and by collectd with the model detected (auto).
read_family() {  # MODEL EXPECTED-JSON SIM-OPTIONS...
  local model=$1 expected=$2 volts=$3
  shift 3
  kill $SIM 2>/dev/null; wait $SIM 2>/dev/null
  "$B/tools/bm6-sim" --model "$model" "$@" --l2cap hci0 >"$OUT/sim-$model.log" 2>&1 &
  SIM=$!
  wait_for 5 grep -q "serving l2cap:hci0" "$OUT/sim-$model.log" || fail "bm6-sim --model $model did not start"
  mgmt --index 0 add-adv -u FFF0 -c -g -n 1 >/dev/null 2>&1 || true
  wait_for 10 no_links || say "a link to the peripheral is still up"
  local t0
  t0=$(now)
  "$B/tools/bm6ctl" read "$PERIPHERAL" --adapter hci1 --timeout 15 --json >"$OUT/read-$model.json" 2>&1 ||
    fail "bm6ctl read ($model): $(cat "$OUT/read-$model.json")"
  grep -q "$expected" "$OUT/read-$model.json" || fail "bm6ctl read ($model) printed $(cat "$OUT/read-$model.json")"
  READ_S=$(echo "$(now) - $t0" | bc)
  say "bm6ctl read ($model, detected) in $READ_S s: $(cat "$OUT/read-$model.json")"
  collectd_reads "${model^^}" "$volts"
}
# The real collectd, with the same Model-auto device, reads it too and logs its model.
collectd_reads() {  # MODEL VOLTS
  local model=$1 volts=$2 since pid
  wait_for 10 no_links || say "a link to the peripheral is still up"
  since=$(date +%s.%N)
  collectd -f -C "$RUN/collectd.conf" >>"$OUT/collectd-$model.out" 2>&1 &
  pid=$!
  fresh() { rows voltage | awk -F, -v t="$since" '$1 > t' | grep -q ",$volts"; }
  wait_for 30 fresh || { kill $pid; fail "collectd read no $model voltage ($volts V)"; }
  wait_for 5 grep -q "device \"van\" is a $model" "$RUN/collectd.log" ||
    { kill $pid; fail "collectd did not log that van is a $model"; }
  say "collectd: van is a $model, $(rows voltage | tail -n 1) V, $(echo "$(now) - $since" | bc) s after start"
  kill $pid; wait $pid
}
read_family bm2 '"model":"BM2","voltage":12.71,"soc":87,"state":"floating","rssi":' 12.71 \
  --period 0.5 --voltage 12.71 --soc 87 --state floating
READ_BM2=$READ_S
read_family bm7 '"model":"BM7","voltage":11.94,"temperature":-7,"soc":23,"state":"low","rssi":' 11.94 \
  --period 0.5 --voltage 11.94 --temperature -7 --soc 23 --state low
READ_BM7=$READ_S

# 6. Passive mode (issue #11): a second bm6-sim, on hci2, that nobody connects to advertises (encrypted
# manufacturer data and the iBeacon, in turn, as a BM6 does); collectd on hci1 reads it with
# no link, beside a connected-mode device on the same adapter, while bluetoothd runs with a
# scan of its own; the advertiser goes away and comes back; hci1 goes down and comes back.
SOLAR=$(address_of 2)
[ -n "$SOLAR" ] || fail "no address for hci2"
# bm6-sim advertises its reading (encrypted data, then the iBeacon) through mgmt Add
# Advertising, re-added every 150 ms: btvirt reports an advertiser only when advertising
# starts. SIGTERM removes its instances, as a monitor that loses power stops advertising.
start_solar() {  # VOLTS SOC STATE TEMPERATURE
  local log="$OUT/sim-solar-$1.log"
  "$B/tools/bm6-sim" --period 0.5 --voltage "$1" --soc "$2" --state "$3" --temperature "$4" \
    --l2cap hci2 >"$log" 2>&1 &
  ADV=$!
  wait_for 10 grep -q "serving l2cap:hci2" "$log" || fail "bm6-sim on hci2 did not start: $(cat "$log")"
}
stop_solar() {
  kill $ADV
  wait $ADV 2>/dev/null
}
T6=$(now)
start_solar 12.84 91 normal 17
kill $SIM 2>/dev/null; wait $SIM 2>/dev/null
start_sim
mgmt --index 0 add-adv -u FFF0 -c -g -n 1
sed -n '1,/^<Plugin bm6>/p' "$RUN/collectd.conf" >"$RUN/passive.conf"
cat >>"$RUN/passive.conf" <<CONF
  <Device "van">
    Address "$PERIPHERAL"
    Adapter "hci1"
    ConnectTimeout 10
    ResponseTimeout 3
    StreamTimeout 1
    ReconnectMin 0.5
    ReconnectMax 2
  </Device>
  <Device "solar">
    Mode "passive"
    Address "$SOLAR"
    Adapter "hci1"
    PassiveTimeout 5
  </Device>
</Plugin>
CONF
prows() { cat "$RUN/csv/vm/bm6-$1/$2"-* 2>/dev/null | grep -v '^epoch'; }
fresh() {  # DEVICE TYPE SINCE VALUE: a row newer than SINCE with VALUE
  prows "$1" "$2" | awk -F, -v t="$3" -v v="$4" '$1 > t && $2 + 0 == v + 0' | grep -q .
}
: >"$RUN/collectd.log"
wait_for 10 no_links || say "a link to the peripheral is still up"
collectd -f -C "$RUN/passive.conf" >"$OUT/collectd-passive.out" 2>&1 &
COLLECTD=$!
wait_for 30 fresh solar voltage "$T6" 12.84 || fail "no passive value from collectd within 30 s"
say "passive: first value $(echo "$(now) - $T6" | bc) s after the advertiser started"
# Without PassiveTemperature the advertisement's byte 10 is no temperature.
[ -z "$(prows solar temperature)" ] || fail "passive: a temperature without PassiveTemperature: $(prows solar temperature | tail -n 1)"
fresh solar percent-charged "$T6" 91 || fail "passive: wrong charge: $(prows solar percent-charged | tail -n 1)"
fresh solar gauge-state "$T6" 0 || fail "passive: wrong state: $(prows solar gauge-state | tail -n 1)"
wait_for 30 fresh van voltage "$T6" 12.66 || fail "the connected device beside the passive one read nothing"
say "passive: solar $(prows solar voltage | tail -n 1) V beside connected van $(prows van voltage | tail -n 1) V, both on hci1"

# The advertiser goes away: said once (a healthy device's first loss: LinkLog says a loss
# that follows a recent return only in summaries); it comes back with other values.
silences() { grep -c 'device "solar" .* is silent' "$RUN/collectd.log"; }
S0=$(silences)
stop_solar
T_AWAY=$(now)
went_silent() { [ "$(silences)" -gt "$S0" ]; }
wait_for 20 went_silent || fail "passive: the silence was not logged"
say "passive: silence logged $(echo "$(now) - $T_AWAY" | bc) s after the advertiser went away"
sleep 3
[ "$(( $(silences) - S0 ))" = 1 ] || fail "passive: silence logged more than once"
start_solar 12.85 92 charging 18
T_BACK=$(now)
wait_for 30 fresh solar voltage "$T_BACK" 12.85 || fail "passive: no value after the advertiser came back"
fresh solar percent-charged "$T_BACK" 92 && fresh solar gauge-state "$T_BACK" 2 || fail "passive: wrong values after the return"
grep -q 'device "solar" .* is back' "$RUN/collectd.log" || fail "passive: the return was not logged"
say "passive: values again $(echo "$(now) - $T_BACK" | bc) s after the advertiser came back"

# bluetoothd starts (it removes every Add Device entry and monitor: the plugin registers
# them again) and scans on hci1 itself, as `bluetoothctl scan on` does, for the rest.
mkdir -p /run/dbus
dbus-daemon --system --fork || fail "dbus-daemon did not start"
/usr/libexec/bluetooth/bluetoothd -n >"$OUT/bluetoothd.log" 2>&1 &
BLUETOOTHD=$!
mkfifo "$RUN/btctl-in" && exec 8<>"$RUN/btctl-in"
bluetoothctl <&8 >"$OUT/bluetoothctl.log" 2>&1 &
BTCTL=$!
HCI1=$(address_of 1)
wait_for 30 grep -q "Controller $HCI1" "$OUT/bluetoothctl.log" || fail "bluetoothd did not register hci1"
echo "select $HCI1" >&8
echo "scan on" >&8
wait_for 20 grep -q "Controller $HCI1 Discovering: yes" "$OUT/bluetoothctl.log" ||
  fail "bluetoothd's scan did not start: $(tail -n 5 "$OUT/bluetoothctl.log")"
T_SCAN=$(now)
say "passive: bluetoothd runs and scans on hci1 ($HCI1)"
wait_for 30 fresh solar voltage "$T_SCAN" 12.85 || fail "passive: no value while bluetoothd scans"
say "passive: values flow with bluetoothd running and scanning on hci1"
[ "$(grep -c 'Discovering: no' "$OUT/bluetoothctl.log")" = 0 ] || fail "bluetoothd's scan was stopped"

# hci1 goes down and comes back: said once each way, and reading resumes.
downs() { grep -c 'adapter hci1 is down' "$RUN/collectd.log"; }
ups() { grep -c 'passive: adapter hci1 is up' "$RUN/collectd.log"; }
D0=$(downs); U0=$(ups)
mgmt --index 1 power off
went_down() { [ "$(downs)" -gt "$D0" ]; }
came_up() { [ "$(ups)" -gt "$U0" ]; }
wait_for 10 went_down || fail "passive: hci1 going down was not logged"
mgmt --index 1 power on
T_UP=$(now)
wait_for 10 came_up || fail "passive: hci1 coming back was not logged"
wait_for 30 fresh solar voltage "$T_UP" 12.85 || fail "passive: no value after hci1 came back"
[ "$(( $(downs) - D0 ))" = 1 ] && [ "$(( $(ups) - U0 ))" = 1 ] || fail "passive: adapter down/up not logged once each way"
say "passive: hci1 down and up logged once each; values resumed $(echo "$(now) - $T_UP" | bc) s after"
stop_solar
kill $COLLECTD
wait $COLLECTD || fail "collectd (passive) exited with $?"
cp "$RUN/collectd.log" "$OUT/collectd-passive.log"
kill $BTCTL $BLUETOOTHD 2>/dev/null
PASSIVE_S=$(echo "$(now) - $T6" | bc)
say "passive part: $PASSIVE_S s"

{
  echo "passive_s=$PASSIVE_S"
  echo "first_value_s=$(echo "$T_FIRST - $T_COLLECTD" | bc)"
  echo "read_bm2_s=$READ_BM2"
  echo "read_bm7_s=$READ_BM7"
} >"$OUT/metrics"
say "PASS"
exit 0
