#!/usr/bin/env python3
"""Backfill end to end: the real collectd with bm6.so, csv and rrdtool, simulated BM6s that
store a record every 2 s. (a) The devices go out of range for a while and come back: the
gap is filled from the monitor's history, at the right times (within one record period),
followed by live values, nothing twice, no rrdtool error, also from a monitor whose answer
has live frames among its blocks; a truncated and a corrupt history answer are rejected once
each and live readings go on. (b) collectd itself stops for a
while and starts again: the state file says where the gap starts, and it is filled the same
way; a corrupt state file is logged and ignored. (c) collectd is killed (kill -9) after a
fill and live values: the next start writes none of them again."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, Collectd, E2ECase, require_built, wait_for  # noqa: E402

PERIOD = 2  # the simulators' record period, s
RRDTOOL = shutil.which("rrdtool")
# A charge cycle makes neighbouring records differ, so a value says which record it is.
SIM_ARGS = ("--period", "0.5", "--record-period", str(PERIOD), "--cycle", "37",
            "--voltage", "12.60", "--soc", "60")
DEVICE_OPTIONS = (f"    Backfill true\n    RecordPeriod {PERIOD}\n    StreamTimeout 2\n"
                  "    ReconnectMin 0.2\n    ReconnectMax 1\n")
# RRAs of 1 s steps: the test reads single records back.
RRD_CONF = """LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir "{dir}"
  StepSize 1
  HeartBeat {heartbeat}
  RRARows 600
</Plugin>
"""


def sim_records(sim):
    """(time taken, volts) of every record the simulator stored, oldest first."""
    out = []
    with open(sim.log_path) as f:
        for line in f:
            m = re.search(r": record ([0-9.]+) V, .* at ([0-9.]+)$", line.strip())
            if m:
                out.append((float(m.group(2)), float(m.group(1))))
    return out


class Backfill(E2ECase):
    def start_collectd(self, block):
        rrd_dir = os.path.join(self.workdir, "rrd")
        return Collectd(self.workdir, block, interval=1, plugins=("rrdtool",),
                        extra_conf=RRD_CONF.format(dir=rrd_dir, heartbeat=2 * PERIOD + 1))

    def filled(self, c, name):
        """How many records the log says filled `name`'s gaps, per download."""
        out = []
        for line in c.log_lines(f'device "{name}": backfill: '):
            m = re.search(r": (\d+) of (\d+) stored records fill the gap", line)
            if m:
                out.append(int(m.group(1)))
        return out

    def records_after(self, c, name, before, fill=0):
        """How many rows after the first `before` are records (at whole seconds: live values
        carry the arrival's milliseconds), checked against what the log says the `fill`th
        download put out."""
        rows = c.rows(name, "voltage")[before:]
        count = next((i for i, (t, _) in enumerate(rows) if t != int(t)), len(rows))
        self.assertEqual(count, self.filled(c, name)[fill], (name, rows))
        return count

    def check_series(self, rows, name):
        times = [t for t, _ in rows]
        self.assertEqual(times, sorted(times), f"{name}: times go back")
        self.assertEqual(len(set(times)), len(times), f"{name}: a time twice")

    def check_backfill(self, c, sim, name, before, count):
        """The `count` rows after the first `before` voltage rows are the simulator's
        records, in order, each at its time within one record period, then live rows."""
        rows = c.rows(name, "voltage")
        self.check_series(rows, name)
        self.assertGreater(len(rows), before + count, f"{name}: no live value after the fill")
        fill = rows[before:before + count]
        # rrdtool files a value under its time rounded to the second: the first record's
        # second comes after the last live value's.
        self.assertGreater(int(fill[0][0]), round(rows[before - 1][0]), f"{name}: {rows}")
        records = sim_records(sim)
        # The records dispatched are the last ones the monitor had when it was asked: find
        # where they start by their values, then check every time.
        starts = [k for k in range(len(records) - count + 1)
                  if [v for _, v in records[k:k + count]] == [v for _, v in fill]]
        self.assertTrue(starts, f"{name}: backfilled {fill} are not a run of records {records}")
        k = starts[-1]
        for (t, v), (taken, volts) in zip(fill, records[k:k + count]):
            self.assertEqual(t, int(t), f"{name}: a record's estimated time is whole seconds")
            self.assertLessEqual(abs(t - taken), PERIOD + 0.2,
                                 f"{name}: record of {volts} V taken at {taken:.3f}, shown at {t}")
        # Live values after the fill, later than its newest record.
        self.assertGreater(rows[before + count][0], fill[-1][0])
        # The other types of a record went out with it, at the same times.
        charged = {t for t, _ in c.rows(name, "percent-charged")}
        self.assertTrue(all(t in charged for t, _ in fill), f"{name}: percent-charged missing")
        # rrdtool took every record: one-second rows read back as the record's value.
        if RRDTOOL:
            rrd = os.path.join(self.workdir, "rrd", HOST, f"bm6-{name}", "voltage.rrd")
            out = subprocess.run([RRDTOOL, "fetch", rrd, "AVERAGE", "-r", "1", "-s",
                                  str(int(fill[0][0]) - 1), "-e", str(int(fill[-1][0]))],
                                 capture_output=True, text=True, check=True).stdout
            stored = {}
            for line in out.splitlines():
                m = re.match(r"\s*(\d+):\s+(\S+)", line)
                if m and m.group(2) not in ("nan", "-nan"):
                    stored[int(m.group(1))] = float(m.group(2))
            for i, (t, v) in enumerate(fill):
                # A one-second row holds the record's value alone unless the value before
                # it (a live one, at a fraction of a second) shares that second.
                previous = rows[before + i - 1][0]
                if previous > int(t) - 1:
                    continue
                self.assertAlmostEqual(stored.get(int(t), float("nan")), v, places=2,
                                       msg=f"{name}: rrd at {int(t)}")
        return fill

    def check_log_clean(self, c):
        # The series backfill writes to. (The health counters, stamped with each read's
        # time, can meet rrdtool's one-second step when reads 1 s apart jitter: not ours.)
        bad = [l for l in c.log_lines("") if re.search(
            r"(rrdtool plugin.*(illegal|failed|error|last_value)|Value too old|uc_update)"
            r".*(voltage|temperature|percent-charged)", l, re.I)]
        self.assertEqual(bad, [])
        # Nothing else refused by the cache either.
        self.assertEqual(c.log_lines("Value too old"), [])

    def test_link_cut_then_back(self):
        good = self.sim("good", *SIM_ARGS)
        interleaved = self.sim("interleaved", *SIM_ARGS, "--fault", "history-interleaved")
        truncated = self.sim("truncated", *SIM_ARGS, "--fault", "history-truncated")
        corrupt = self.sim("corrupt", *SIM_ARGS, "--fault", "history-corrupt")
        sims = {"good": good, "interleaved": interleaved, "truncated": truncated,
                "corrupt": corrupt}
        block = "".join(self.device(n, s, DEVICE_OPTIONS) for n, s in sims.items())
        self.collectd = c = self.start_collectd(block)
        self.assertTrue(wait_for(lambda: all(len(c.rows(n, "voltage")) >= 4 for n in sims), 20))
        for s in sims.values():
            s.proc.send_signal(signal.SIGUSR1)  # out of range
        time.sleep(1.5)  # what was in flight is written
        before = {n: len(c.rows(n, "voltage")) for n in sims}
        cut = time.time()
        time.sleep(10)
        back = time.time()
        for s in sims.values():
            s.proc.send_signal(signal.SIGUSR2)  # back
        # The truncated answer waits out the download's bound (12 s for one page).
        self.assertTrue(wait_for(lambda: all(len(self.filled(c, n)) == 1
                                             for n in ("good", "interleaved")) and all(
            len(c.log_lines(f'device "{n}": history download failed')) == 1
            for n in ("truncated", "corrupt")), 25), c.log_lines("backfill"))
        # Live values again from every device, for a few seconds.
        counts = {n: len(c.rows(n, "voltage")) for n in sims}
        self.assertTrue(wait_for(lambda: all(len(c.rows(n, "voltage")) >= counts[n] + 3
                                             for n in sims), 15))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        for name, sim in (("good", good), ("interleaved", interleaved)):
            count = self.records_after(c, name, before[name])
            # About one record per period of the cut (the link was away ~11.5 s).
            self.assertGreaterEqual(count, 10 // PERIOD - 1, name)
            fill = self.check_backfill(c, sim, name, before[name], count)
            self.assertLess(fill[0][0], cut + PERIOD, name)
        count = self.records_after(c, "good", before["good"])
        for n in ("truncated", "corrupt"):
            line = c.log_lines(f'device "{n}": history download failed')[0]
            self.assertIn("truncated" if n == "truncated" else "garbage record", line)
            rows = c.rows(n, "voltage")
            self.check_series(rows, n)
            # Nothing from the refused answer: every row after the cut is a live one.
            self.assertTrue(all(t > back for t, _ in rows[before[n]:]), (n, back, rows))
        # The live readings of the truncated answer's 12 s went out once it failed: one a
        # read (1 s) in the first 10 s back.
        held = [t for t, _ in c.rows("truncated", "voltage") if back < t < back + 10]
        self.assertGreaterEqual(len(held), 7, held)
        print(f"\ntruncated download: {len(held)} live values in the first 10 s back, written "
              "once it failed", file=sys.stderr)
        self.check_log_clean(c)
        print(f"\nlink cut: {count} records backfilled; " + self.filled_line(c), file=sys.stderr)

    def filled_line(self, c):
        lines = c.log_lines('device "good": backfill: ')
        return lines[0].split("backfill: ", 1)[1].strip() if lines else ""

    def test_collectd_restarted(self):
        good = self.sim("good", *SIM_ARGS)
        broken = self.sim("broken", *SIM_ARGS)
        block = self.device("good", good, DEVICE_OPTIONS) + self.device("broken", broken,
                                                                        DEVICE_OPTIONS)
        self.collectd = c = self.start_collectd(block)
        self.assertTrue(wait_for(lambda: all(len(c.rows(n, "voltage")) >= 4
                                             for n in ("good", "broken")), 20))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        state = os.path.join(self.workdir, "bm6", "good.state")
        self.assertTrue(os.path.exists(state), "the state file is written at shutdown")
        with open(state) as f:
            last = float(f.read().split()[-1])
        self.assertAlmostEqual(last, c.rows("good", "voltage")[-1][0], delta=0.01)
        before = {n: len(c.rows(n, "voltage")) for n in ("good", "broken")}
        stopped = time.time()
        with open(os.path.join(self.workdir, "bm6", "broken.state"), "w") as f:
            f.write("bm6-collectd state 1\nlast_dispatched yesterday\n")
        time.sleep(10)
        self.collectd = c = self.start_collectd(block)
        self.assertTrue(wait_for(lambda: len(self.filled(c, "good")) == 1, 20),
                        c.log_lines("bm6 plugin"))
        counts = {n: len(c.rows(n, "voltage")) for n in ("good", "broken")}
        self.assertTrue(wait_for(lambda: all(len(c.rows(n, "voltage")) >= counts[n] + 3
                                             for n in ("good", "broken")), 15))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        count = self.records_after(c, "good", before["good"])
        self.assertGreaterEqual(count, 10 // PERIOD - 1)
        self.check_backfill(c, good, "good", before["good"], count)
        # The corrupt state file: said once, ignored (no gap known), live values as usual.
        ignored = c.log_lines('device "broken": state file')
        self.assertEqual(len(ignored), 1, ignored)
        self.assertIn("is ignored", ignored[0])
        self.assertEqual(c.log_lines('device "broken": backfill'), [])
        rows = c.rows("broken", "voltage")
        self.check_series(rows, "broken")
        self.assertTrue(all(t > stopped + 10 for t, _ in rows[before["broken"]:]))
        # And it was rewritten at shutdown, whole.
        with open(os.path.join(self.workdir, "bm6", "broken.state")) as f:
            self.assertRegex(f.read(), r"^bm6-collectd state 1\nlast_dispatched \d+\.\d{9}\n$")
        self.check_log_clean(c)
        print(f"\ncollectd restarted: {count} records backfilled; " + self.filled_line(c),
              file=sys.stderr)

    def state_time(self, name):
        with open(os.path.join(self.workdir, "bm6", f"{name}.state")) as f:
            return float(f.read().split()[-1])

    def test_killed_collectd_writes_nothing_twice(self):
        """collectd killed (kill -9) after it filled a gap and wrote live values: the state
        file was ahead of everything written, so the next start writes none of it again,
        only records after it, then live values."""
        good = self.sim("good", *SIM_ARGS)
        block = self.device("good", good, DEVICE_OPTIONS)
        self.collectd = c = self.start_collectd(block)
        self.assertTrue(wait_for(lambda: len(c.rows("good", "voltage")) >= 4, 20))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        time.sleep(6)
        # A gap filled, live values, then killed.
        self.collectd = c = self.start_collectd(block)
        self.assertTrue(wait_for(lambda: len(self.filled(c, "good")) == 1, 20),
                        c.log_lines("bm6 plugin"))
        count = len(c.rows("good", "voltage"))
        self.assertTrue(wait_for(lambda: len(c.rows("good", "voltage")) >= count + 3, 15))
        c.proc.kill()  # SIGKILL
        c.proc.communicate()
        written = c.rows("good", "voltage")
        self.assertGreaterEqual(self.state_time("good"), written[-1][0],
                                "the state file is behind what was written")
        time.sleep(6)
        self.collectd = c = self.start_collectd(block)
        self.assertTrue(wait_for(lambda: len(self.filled(c, "good")) == 2, 20),
                        c.log_lines("bm6 plugin"))
        count = len(c.rows("good", "voltage"))
        self.assertTrue(wait_for(lambda: len(c.rows("good", "voltage")) >= count + 3, 15))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        for type_name in ("voltage", "percent-charged", "temperature"):
            rows = c.rows("good", type_name)
            self.check_series(rows, f"good {type_name}")
        rows = c.rows("good", "voltage")
        self.assertEqual(rows[:len(written)], written)
        # The gap after the kill was filled (from the state file's time on), then live values.
        after = self.records_after(c, "good", len(written), fill=1)
        self.assertGreaterEqual(after, 1, rows[len(written) - 3:])
        self.check_log_clean(c)
        print(f"\nkilled and restarted: {after} records backfilled after the kill; "
              + c.log_lines('device "good": backfill: ')[-1].split("backfill: ", 1)[1].strip(),
              file=sys.stderr)


if __name__ == "__main__":
    require_built()
    unittest.main(verbosity=2)
