#!/usr/bin/env python3
"""End-to-end (issue #13): the real collectd with bm6.so and per-read devices. Twenty
per-read simulated monitors in one bm6-sim process, MaxLinks 4 on the pseudo-adapter, a 10 s
interval: each delivers a reading every interval, the simulator never counts more than 4
links at once, and each link costs one ATT round trip after the first (the handle cache, the
CCCD write and the command pipelined, no MTU exchange: issue 25; 5 the first time), and a
monitor that ignores the pipelined form falls back and is read one step at a time. A
"phone" (bm6ctl) reads a per-read monitor between two reads. Persistent and per-read
devices mixed on one adapter; more persistent devices than MaxLinks refused. Issue 23: a
silent per-read monitor on MaxLinks 1 costs the healthy ones at most one reading; a
per-read monitor out of range (nobody answers its connects) and back gets its gap
backfilled."""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BM6_SIM, BUILD, Collectd, E2ECase, require_built,  # noqa: E402
                     wait_for)

BM6CTL = os.path.join(BUILD, "tools", "bm6ctl")


class MultiSim:
    """One bm6-sim process serving several sockets: its log counts links at once."""

    def __init__(self, workdir, name, names, *args):
        self.paths = {n: os.path.join(workdir, n + ".sock") for n in names}
        self.log_path = os.path.join(workdir, name + ".sim.log")
        cmd = [BM6_SIM]
        for n in names:
            cmd += [*args, "--socket", self.paths[n]]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        # The sockets appear once they accept (bm6-sim renames them into place).
        if not wait_for(lambda: all(os.path.exists(p) for p in self.paths.values()), 10):
            raise RuntimeError("bm6-sim did not create its sockets")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.log.close()

    def lines(self):
        with open(self.log_path) as f:
            return f.readlines()

    def max_links(self):
        counts = [int(m.group(1)) for line in self.lines()
                  for m in [re.search(r", (\d+) link\(s\) at once", line)] if m]
        return max(counts, default=0)

    def links(self, name, ignored=False):
        """(ATT requests up to the command, seconds connected) of each finished link, and
        with `ignored` the pipelined commands it ignored (--fault no-pipelining)."""
        out = []
        for line in self.lines():
            m = re.search(re.escape(self.paths[name]) +
                          r": link: \d+ ATT requests, (\d+) of them up to the first command;"
                          r" \d+ frames sent; connected ([0-9.]+) s;.*; (\d+) pipelined commands"
                          r" ignored", line)
            if m:
                link = (int(m.group(1)), float(m.group(2)))
                out.append(link + (int(m.group(3)),) if ignored else link)
        return out

    def events(self, name, what):
        return sum(1 for line in self.lines()
                   if line.rstrip().endswith(self.paths[name] + ": central " + what))


def device(name, path, extra=""):
    return f'  <Device "{name}">\n    Address "unix:{path}"\n{extra}  </Device>\n'


class PerRead(E2ECase):
    def multisim(self, name, names, *args):
        s = MultiSim(self.workdir, name, names, *args)
        self.sims.append(s)
        return s

    def test_twenty_per_read_monitors_on_four_links_each_read_every_interval(self):
        names = [f"m{i:02d}" for i in range(20)]
        fleet = self.multisim("fleet", names)
        phoned = self.multisim("phoned", ["phoned"], "--voltage", "12.55")
        stepwise = self.multisim("stepwise", ["stepwise"], "--fault", "no-pipelining")
        block = '  Link "per-read"\n  <Adapter "unix">\n    MaxLinks 4\n  </Adapter>\n'
        block += "".join(device(n, fleet.paths[n]) for n in names)
        block += device("phoned", phoned.paths["phoned"])
        block += device("stepwise", stepwise.paths["stepwise"])
        self.collectd = c = Collectd(self.workdir, block, interval=10)
        t0 = c.started

        # The phone: between two reads (just after collectd's link for the monitor went
        # down), it connects and gets its data; collectd's next reading still comes.
        self.assertTrue(wait_for(lambda: phoned.events("phoned", "disconnected") >= 2, 30))
        phone = subprocess.run([BM6CTL, "read", "unix:" + phoned.paths["phoned"], "--timeout",
                                "5"], capture_output=True, text=True, timeout=15)
        self.assertEqual(phone.returncode, 0, phone.stdout + phone.stderr)
        self.assertIn("12.55 V", phone.stdout)
        phone_done = time.time()

        wait_for(lambda: time.time() > t0 + 41, 60, step=0.5)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)

        for n in names + ["phoned", "stepwise"]:
            rows = c.rows(n, "voltage")
            # The reads at about 20, 30 and 40 s each dispatched a reading of their own.
            recent = [t for t, _ in rows if t > t0 + 12]
            self.assertGreaterEqual(len(recent), 3, f"{n}: {rows}")
            gaps = [b - a for (a, _), (b, _) in zip(rows, rows[1:])]
            self.assertTrue(all(g < 15 for g in gaps), f"{n}: a reading was missed: {rows}")
            for _, v in rows:
                self.assertAlmostEqual(v, 12.55 if n == "phoned" else 13.40, places=6)
            air = c.rows(n, "duration-time_on_air")
            self.assertTrue(air, n)
            self.assertTrue(all(0 <= s < 2 for _, s in air), f"{n}: {air}")
        self.assertTrue(any(t > phone_done for t, _ in c.rows("phoned", "voltage")))

        # Never more than MaxLinks links at once, counted by the simulator.
        self.assertLessEqual(fleet.max_links(), 4, "".join(fleet.lines()[-20:]))
        self.assertGreaterEqual(fleet.max_links(), 1)
        # ATT requests up to the command (each a round trip: one is in flight at a time, the
        # command rides behind the CCCD write): 5 the first time (discovery, CCCD), 1 after
        # (7 and 3 before issue 25: MTU exchange, CCCD write, command one after the other).
        for n in names:
            links = fleet.links(n)
            self.assertGreaterEqual(len(links), 3, n)
            self.assertEqual(links[0][0], 5, n)
            self.assertTrue(all(r == 1 for r, _ in links[1:]), f"{n}: {links}")
        # The monitor that ignores the pipelined form: its first link's pipelined command
        # ignored, the same link read one step at a time; the later links go that way at once.
        links = stepwise.links("stepwise", ignored=True)
        self.assertGreaterEqual(len(links), 3, links)
        self.assertEqual((links[0][0], links[0][2]), (7, 1), links)
        self.assertTrue(all(r == 2 and i == 0 for r, _, i in links[1:]), links)
        on_air = sorted(s for n in names for _, s in fleet.links(n)[1:])
        print(f"\nper-read links: {len(on_air)}, connected median {on_air[len(on_air) // 2]:.3f} s,"
              f" max {on_air[-1]:.3f} s; at most {fleet.max_links()} at once; ATT round trips"
              f" before the reading: first link {fleet.links(names[0])[0][0]}, cached"
              f" {max(r for n in names for r, _ in fleet.links(n)[1:])} (was 7 and 3); a monitor"
              f" ignoring the pipelined form: first {links[0][0]}, then {links[1][0]}",
              file=sys.stderr)
        # Per-read closes are not losses: nothing bad said.
        self.assertEqual(c.log_lines("link lost"), [])
        self.assertEqual(c.log_lines("unreachable"), [])
        self.assertEqual(c.log_lines("too short"), [])

    def test_persistent_and_per_read_share_an_adapter(self):
        names = ["p1", "p2", "r1", "r2", "r3", "r4", "r5", "r6"]
        sims = self.multisim("mixed", names, "--period", "0.5")
        block = '  <Adapter "unix">\n    MaxLinks 4\n  </Adapter>\n'
        block += "".join(device(n, sims.paths[n]) for n in names[:2])
        block += "".join(device(n, sims.paths[n], '    Link "per-read"\n') for n in names[2:])
        self.collectd = c = Collectd(self.workdir, block, interval=3)
        wait_for(lambda: all(len(c.rows(n, "voltage")) >= 4 for n in names), 25)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        for n in names:
            self.assertGreaterEqual(len(c.rows(n, "voltage")), 4, n)
        for n in names[:2]:  # one link each, for good
            self.assertEqual(sims.events(n, "connected"), 1, n)
            self.assertEqual(c.rows(n, "duration-time_on_air"), [], n)
        for n in names[2:]:  # a link per reading
            self.assertGreaterEqual(sims.events(n, "connected"), 3, n)
            self.assertTrue(c.rows(n, "duration-time_on_air"), n)
        # Two held for good, the six per-read ones sharing the other two.
        self.assertLessEqual(sims.max_links(), 4)

    def test_a_monitor_the_phone_holds_is_logged_once_and_once_back(self):
        # The phone holds it for 5 s of every 12 (from the simulator's start): three busy
        # spells in 29 s. The first is said, and the return; the next ones, within 10 min
        # of coming back, are the flapping summary's business (after 2 min): not a line
        # each interval.
        sim = self.multisim("held", ["held"], "--busy", "12:5")
        block = device("held", sim.paths["held"], '    Link "per-read"\n    Interval 2\n'
                       '    ReconnectMin 0.5\n    ReconnectMax 2\n')
        self.collectd = c = Collectd(self.workdir, block, interval=2)
        started = c.started
        wait_for(lambda: time.time() > started + 29, 40, step=0.5)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        # The plugin's lines about the link (the model line aside; the logfile plugin also
        # writes the notifications, which are not counted here).
        said = [line for line in c.log_lines('bm6 plugin: device "held"')
                if "is a BM6" not in line]
        self.assertEqual(len(said), 2, "".join(said))
        self.assertIn("it is busy", said[0])
        self.assertIn("is back: readings flow again", said[1])
        self.assertGreaterEqual(sim.events("held", "turned away"), 3)
        # Readings between the spells: the free 5-12 s and 17-24 s at least.
        rows = c.rows("held", "voltage")
        self.assertTrue(any(started + 5 < t < started + 12 for t, _ in rows), rows)
        self.assertTrue(any(started + 17 < t < started + 24 for t, _ in rows), rows)

    def test_a_silent_per_read_monitor_costs_the_others_at_most_one_reading(self):
        # Three healthy per-read monitors and one that accepts the link and answers nothing,
        # all on one link (MaxLinks 1), a 10 s interval, for a minute. Each turn of the
        # silent one holds the link for the set-up bound (3 s), not the 30 s ATT timeout.
        names = ["h1", "h2", "h3"]
        fleet = self.multisim("healthy", names)
        silent = self.multisim("silent", ["silent"], "--fault", "silent")
        block = '  Link "per-read"\n  <Adapter "unix">\n    MaxLinks 1\n  </Adapter>\n'
        block += "".join(device(n, fleet.paths[n]) for n in names)
        block += device("silent", silent.paths["silent"])
        self.collectd = c = Collectd(self.workdir, block, interval=10)
        t0 = c.started
        wait_for(lambda: time.time() > t0 + 66, 80, step=0.5)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        figures = []
        for n in names:
            # Every read dispatches the counters. The first, at the start, cannot have a
            # reading yet; each later one should (a row stamped when the reading came).
            reads = [t for t, _ in c.rows(n, "derive-reconnects")][1:]
            got = [t for t, _ in c.rows(n, "voltage")]
            figures.append(f"{n} {len(got)} for {len(reads)}")
            self.assertGreaterEqual(len(reads), 5, n)
            self.assertGreaterEqual(len(got), len(reads) - 1, f"{n}: {got} for reads {reads}")
        turns = silent.events("silent", "connected")
        print(f"\nsilent monitor on MaxLinks 1, 10 s interval, 66 s: readings for the reads "
              f"after the first: {', '.join(figures)}; the silent one had {turns} turns",
              file=sys.stderr)
        self.assertGreaterEqual(turns, 2)
        self.assertEqual(c.rows("silent", "voltage"), [])
        # Said once that it does not answer; its turns' bound in the sentence.
        said = c.log_lines('bm6 plugin: device "silent"')
        self.assertGreaterEqual(len(said), 1)
        self.assertIn("no reading for 3 s after the link came up", said[0])

    def test_a_per_read_monitor_out_of_range_and_back_gets_its_gap_backfilled(self):
        # Records every 2 s; a 2 s interval. Out of range (SIGUSR1) nobody answers its
        # connects; back (SIGUSR2), its first link finds the gap and fills it.
        sim = self.sim("away", "--period", "0.5", "--record-period", "2", "--cycle", "37")
        block = device("away", sim.path, '    Link "per-read"\n    Backfill true\n'
                       '    RecordPeriod 2\n    ConnectTimeout 1\n    ReconnectMin 0.5\n'
                       '    ReconnectMax 2\n')
        self.collectd = c = Collectd(self.workdir, block, interval=2)
        self.assertTrue(wait_for(lambda: len(c.rows("away", "voltage")) >= 3, 20))
        sim.proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
        before = len(c.rows("away", "voltage"))
        cut = time.time()
        time.sleep(12)
        sim.proc.send_signal(signal.SIGUSR2)
        back = time.time()
        filled = lambda: [int(m.group(1)) for line in c.log_lines('device "away": backfill: ')
                          for m in [re.search(r": (\d+) of \d+ stored records fill", line)]
                          if m]
        self.assertTrue(wait_for(lambda: filled(), 15), c.log_lines("away"))
        self.assertTrue(wait_for(lambda: len(c.rows("away", "voltage")) >= before + 8, 20))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        rows = c.rows("away", "voltage")
        times = [t for t, _ in rows]
        self.assertEqual(times, sorted(times))
        self.assertEqual(len(set(times)), len(times))
        # Records at whole seconds (live values carry the milliseconds), in the hole.
        records = [t for t in times[before:] if t == int(t)]
        self.assertEqual(len(records), filled()[0], rows)
        self.assertGreaterEqual(len(records), 12 // 2 - 2, rows)
        self.assertTrue(all(cut - 2 <= t <= back + 2 for t in records), (cut, back, records))
        # Out of range is not busy: the connects were not answered.
        said = "".join(c.log_lines('bm6 plugin: device "away"'))
        self.assertNotIn("busy", said)
        hole = max(b - a for a, b in zip(times, times[1:]))
        print(f"\nper-read out of range {back - cut:.1f} s: {len(records)} records backfilled, "
              f"largest step between values {hole:.1f} s", file=sys.stderr)
        self.assertLess(hole, 2 * 2 + 1)

    def test_more_persistent_devices_than_max_links_is_refused_naming_the_adapter(self):
        block = '  MaxLinks 2\n' + "".join(
            device(n, os.path.join(self.workdir, n + ".sock")) for n in ("a", "b", "c"))
        self.collectd = c = Collectd(self.workdir, block)
        self.assertTrue(wait_for(lambda: c.log_lines("persistent devices"), 10))
        line = c.log_lines("persistent devices")[0]
        self.assertIn('adapter "unix" has 3 persistent devices ("a", "b", "c") but MaxLinks 2',
                      line)
        c.stop()


if __name__ == "__main__":
    require_built()
    unittest.main(verbosity=2)
