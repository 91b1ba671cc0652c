# shellcheck shell=bash
# Sourced by the guest scripts (guest-test.sh, stuck-guest.sh, crash-loop-guest.sh,
# soak-guest.sh, perread-capacity-guest.sh) inside the VM (see vm-run.sh): what they share.
# Sets B (the build, from the first argument of the script), OUT (the host's folder), RUN (the guest's own) and
# PERIPHERAL (hci0's address); a script may define on_fail, run by fail before it exits.
B=$1
OUT=/bm6out
RUN=/run/bm6
PERIPHERAL=00:AA:01:00:00:00
mkdir -p "$RUN/plugins" "$RUN/csv"
# A program that crashes leaves its core in $OUT, for gdb on the host (run.sh prints the
# backtrace). A process killed inside a system call by a kernel crash leaves none: run.sh
# shows the guest kernel's own crash from the console.
ulimit -c unlimited
echo "$OUT/core.%e.%p" >/proc/sys/kernel/core_pattern 2>/dev/null

now() { date +%s.%N; }
T0=$(now)
say() { printf '[%6.2f] %s\n' "$(echo "$(now) - $T0" | bc)" "$*"; }
since() { echo "$(now) - $1" | bc; }  # seconds since a now()

BTMON=
start_btmon() {
  btmon -w "$RUN/hci.btsnoop" >/dev/null 2>&1 &
  BTMON=$!
}
stop_btmon() {  # btmon buffers: stop it before the trace is read
  [ -n "$BTMON" ] || return 0
  kill -INT "$BTMON" 2>/dev/null
  wait "$BTMON" 2>/dev/null
  cp "$RUN/hci.btsnoop" "$OUT/" 2>/dev/null
  BTMON=
}
fail() {
  say "FAIL: $*"
  stop_btmon
  declare -F on_fail >/dev/null && on_fail
  exit 1
}

# btmgmt's stdin must never reach EOF: its shell then quits before the command's reply
# arrives, and its status (and output) depends on that race. A FIFO held open for reading
# and writing gives no input and no EOF, whatever the VM's console is connected to.
mkfifo "$RUN/no-input" && exec 9<>"$RUN/no-input"
btmgmt_() { timeout 10 btmgmt "$@" <&9; }
mgmt() { btmgmt_ "$@" >/dev/null 2>&1; }
wait_for() {  # seconds, command...
  local limit=$1
  shift
  local end=$(($(date +%s) + limit))
  until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done
}
# Under emulation on a busy host a mgmt command can time out: try again before giving up.
retry3() { "$@" || { sleep 1; "$@"; } || { sleep 2; "$@"; }; }
# A controller's Bluetooth address, from mgmt.
address_of() { btmgmt_ --index "$1" info | sed -n 's/.*addr \([0-9A-F:]*\) .*/\1/p' | head -n 1; }

modprobe bluetooth && modprobe hci_vhci || fail "no Bluetooth modules in this kernel"

# COUNT dual-mode 5.0 controllers (hci0 ... hciCOUNT-1) from one btvirt, linked by its
# emulated radio; hciFIRST (0) and up powered with LE on, those below FIRST spares that may
# stay down. BTVIRT is its pid. Dual mode: btvirt implements HCI Read RSSI only for
# controllers with BR/EDR. A controller shows in sysfs before its initialisation ends
# (slowly under emulation on a busy host); until then mgmt commands fail, so ask again until
# all are powered with LE on. Under emulation a virtual controller's start-up sometimes never
# ends (missing from mgmt's index list): the kernel resets hci0 while btvirt still creates
# the others, and under load that reset times out (dmesg: "hci0: Opcode 0x0c03 failed") and
# never recovers, so a script with many controllers keeps hci0 as a spare. A needed one that
# fails: start btvirt again.
controllers_up() {  # COUNT [FIRST]
  local count=$1 first=${2:-0} last=$(($1 - 1)) attempt resets_before needed
  needed="hci($(seq -s '|' "$first" "$last"))"
  resets() { dmesg | grep -cE "$needed: Opcode 0x0c03 failed"; }
  all_ready() {
    local i
    for i in $(seq "$first" "$last"); do
      btmgmt_ --index "$i" info 2>/dev/null | grep -q 'current settings: powered.* le' && continue
      mgmt --index "$i" power on
      mgmt --index "$i" le on
      btmgmt_ --index "$i" info 2>/dev/null | grep -q 'current settings: powered.* le' || return 1
    done
  }
  reset_failed() { [ "$(resets)" -gt "$resets_before" ]; }
  ready_or_failed() { all_ready || reset_failed; }
  for attempt in 1 2 3; do
    resets_before=$(resets)
    btvirt -l"$count" >>"$OUT/btvirt.log" 2>&1 &
    BTVIRT=$!
    if wait_for 20 test -e "/sys/class/bluetooth/hci$last" && wait_for 40 ready_or_failed && all_ready; then
      return 0
    fi
    { btmgmt_ info; dmesg | tail -n 20; } >"$OUT/controllers-$attempt.txt" 2>&1
    say "controllers did not come up (attempt $attempt), restarting btvirt"
    controllers_down
  done
  fail "the controllers did not come up powered with LE (see controllers-*.txt)"
}
controllers_down() {  # every controller of BTVIRT removed (Index Removed for each)
  kill "$BTVIRT" 2>/dev/null
  wait "$BTVIRT" 2>/dev/null
  wait_for 10 test ! -e /sys/class/bluetooth/hci0 || say "hci0 still there after btvirt ended"
}

# The real collectd's configuration up to the bm6 plugin's block, which the caller goes on
# with (its devices, then </Plugin>): logfile at LOG, csv under $RUN/csv, Interval 1.
install_plugins() { cp /usr/lib/collectd/csv.so /usr/lib/collectd/logfile.so "$B/plugin/bm6.so" "$RUN/plugins/"; }
collectd_conf_head() {  # LOG
  cat <<CONF
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
  File "$1"
  Timestamp true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$RUN/csv"
</Plugin>
LoadPlugin bm6
<Plugin bm6>
CONF
}
