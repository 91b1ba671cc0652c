#!/usr/bin/env bash
# Inside the VM (perread-capacity.sh): what a per-read link costs the adapter, before and
# after the plugin ends its links through the management interface, in one boot. N
# simulated BM6s, one per controller (hci1 .. hciN), one reading a second each; the real
# collectd on hci(N+1) reads them all per-read with MaxLinks LINKS at a 10 s interval, for
# SECONDS in each of two phases:
#   linger: collectd without CAP_NET_ADMIN (setpriv), so the kernel keeps each idle link
#           about 2 s after the socket closes and the link budget holds its slot 2.5 s;
#   ended:  collectd as root: mgmt Disconnect ends each link once its reading is in, and the
#           slot is freed when the kernel reports the link gone.
# Each phase starts its simulators afresh: a monitor that btvirt wedged (below) in one phase
# does not cost the other.
# Per phase: readings per interval (of N), the plugin's time on air per reading (connect to
# close, its duration-time_on_air), each link's life at the monitor (connect to the
# monitor's disconnection, from bm6-sim), and the difference: how long a link outlived its
# reading; and the links that came up and carried nothing (collectd's "no reading for 3 s
# after the link came up"). btvirt (BlueZ 5.66) forwards a link's data under the sender's
# connection handle, so a controller's second link at once carries nothing and its monitor
# keeps it for good (soak-guest.sh): LINKS above 1 cannot be measured here, and with 1 a
# turn that starts while the kernel still has the previous link wedges a monitor.
# hci0 stays a spare (see controllers_up in guest-lib.sh).
# usage: perread-capacity-guest.sh BUILD_DIR [N (12)] [LINKS (1)] [SECONDS (120)]
. "$(dirname "$0")/guest-lib.sh"
N=${2:-12} LINKS=${3:-1} SECONDS_EACH=${4:-120}
READER=hci$((N + 1))
INTERVAL=10
on_fail() { cp "$RUN"/collectd-*.log "$OUT/" 2>/dev/null; }

controllers_up $((N + 2)) 1
declare -A ADDR SIM
for i in $(seq 1 "$N"); do
  mgmt --index "$i" connectable on
  ADDR[$i]=$(address_of "$i")
  [ -n "${ADDR[$i]}" ] || fail "no address for hci$i"
done
start_sims() {  # each advertises itself (bm6-sim's own instances), its log appended to
  local i mark
  for i in $(seq 1 "$N"); do
    mark=$(cat "$OUT/sim-$i.log" 2>/dev/null | wc -l)
    echo "$mark" >"$RUN/sim-$i.mark"
    "$B/tools/bm6-sim" --period 1 --voltage "12.$((40 + i))" --l2cap "hci$i" >>"$OUT/sim-$i.log" 2>&1 &
    SIM[$i]=$!
    wait_for 10 sh -c "tail -n +$((mark + 1)) '$OUT/sim-$i.log' | grep -q 'serving l2cap:hci$i'" ||
      fail "bm6-sim on hci$i did not start"
  done
}
stop_sims() {
  local i
  for i in $(seq 1 "$N"); do kill "${SIM[$i]}" 2>/dev/null; wait "${SIM[$i]}" 2>/dev/null; done
  sleep 3  # the kernel lets the links the simulators held go
}
say "$N controllers for simulated BM6s (hci1..hci$N); collectd reads on $READER, MaxLinks $LINKS"
install_plugins

phase() {  # NAME COMMAND-PREFIX...
  local name=$1 conf=$RUN/collectd-$1.conf log=$RUN/collectd-$1.log pid i t0 rows=0 v
  shift
  {
    collectd_conf_head "$log" | sed -e "s/^Interval 1\$/Interval $INTERVAL/" -e "s/^Hostname \"vm\"/Hostname \"$name\"/"
    printf '  <Adapter "%s">\n    MaxLinks %s\n  </Adapter>\n' "$READER" "$LINKS"
    for i in $(seq 1 "$N"); do
      printf '  <Device "m%s">\n    Address "%s"\n    AddressType "public"\n    Adapter "%s"\n    Link "per-read"\n  </Device>\n' \
        "$i" "${ADDR[$i]}" "$READER"
    done
    echo "</Plugin>"
  } >"$conf"
  start_sims
  t0=$(now)
  "$@" collectd -f -C "$conf" >"$OUT/collectd-$name.out" 2>&1 &
  pid=$!
  sleep "$SECONDS_EACH"
  kill "$pid"
  wait "$pid"
  # Links still up at a monitor once collectd is gone and the kernel has let its idle links
  # go: ones btvirt wedged (carrying nothing).
  sleep 4
  local held=0 since_mark
  for i in $(seq 1 "$N"); do
    since_mark=$(tail -n +"$(($(cat "$RUN/sim-$i.mark") + 1))" "$OUT/sim-$i.log")
    held=$((held + $(grep -c 'central connected' <<<"$since_mark") - $(grep -c ': link: ' <<<"$since_mark")))
  done
  stop_sims
  cp "$log" "$OUT/"
  # The first interval fills the budget from nothing: count whole intervals after it.
  local from to
  from=$(echo "$t0 + $INTERVAL" | bc)
  to=$(echo "$t0 + $SECONDS_EACH" | bc)
  for i in $(seq 1 "$N"); do
    v=$(cat "$RUN/csv/$name/bm6-m$i"/voltage-* 2>/dev/null | awk -F, -v a="$from" -v b="$to" '$1 >= a && $1 < b' | wc -l)
    rows=$((rows + v))
  done
  local intervals on_air life
  intervals=$(echo "($SECONDS_EACH - $INTERVAL) / $INTERVAL" | bc -l)
  on_air=$(cat "$RUN/csv/$name"/bm6-m*/duration-time_on_air-* 2>/dev/null | grep -v '^epoch' |
    awk -F, '$2 > 0 { s += $2; n++ } END { if (n) printf "%.3f", s / n; else print "?" }')
  life=$(for i in $(seq 1 "$N"); do tail -n +"$(($(cat "$RUN/sim-$i.mark") + 1))" "$OUT/sim-$i.log"; done |
    sed -n 's/.*: link: .* connected \([0-9.]*\) s;.*/\1/p' |
    awk '{ s += $1; n++ } END { if (n) printf "%.3f %d", s / n, n; else print "? 0" }')
  local lingers=no
  grep -q 'keeps each Bluetooth link up' "$log" && lingers=yes
  say "phase $name: $(printf '%.2f' "$(echo "$rows / $intervals" | bc -l)") readings per ${INTERVAL} s interval (of $N); time on air $on_air s per reading (the plugin's); link life at the monitor ${life% *} s (${life#* } links); the log says links linger: $lingers; links wedged at their monitor: $held"
  printf '%s readings_per_interval=%.2f time_on_air_s=%s link_life_s=%s links=%s wedged=%s\n' "$name" \
    "$(echo "$rows / $intervals" | bc -l)" "$on_air" "${life% *}" "${life#* }" "$held" >>"$OUT/capacity-metrics"
}
phase linger setpriv --bounding-set=-net_admin --inh-caps=-net_admin
phase ended
cat "$OUT/capacity-metrics"
