#!/usr/bin/env python3
"""Faults from the air, end to end: one real collectd reads a healthy simulated BM6 and one
per fault mode of bm6-sim. Faults that break the link clear after two connections. The
healthy device keeps its pace, nothing bogus is written for anybody, every faulty device
recovers, and each says so in the log at most once each way."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Collectd, E2ECase, require_built, wait_for  # noqa: E402

# fault, clears after N connections (None: for good). A drop mid-stream is an episode of
# its own each time (down, then back): one such connection keeps the log at three lines.
FAULTS = [
    ("drop-at-mtu", 2), ("drop-at-discovery", 2), ("drop-after-cccd", 2),
    ("drop-mid-stream", 1), ("silent", 2), ("error-discovery", 2), ("error-cccd", 2),
    ("error-command", 2), ("garbage", None), ("peer-requests", None),
    ("firmware-update", None), ("flood", None), ("late", 2),
]


class Faults(E2ECase):
    def test_every_fault_at_once(self):
        devices = {"healthy": (self.sim("healthy", "--period", "0.5", "--voltage", "12.00",
                                        "--soc", "50"), 12.00)}
        for i, (fault, clears) in enumerate(FAULTS, start=1):
            volts = round(12.0 + 0.05 * i, 2)
            spec = fault if clears is None else f"{fault}:{clears}"
            name = fault.replace("-", "_")
            devices[name] = (self.sim(name, "--period", "0.5", "--voltage", f"{volts:.2f}",
                                      "--soc", str(50 + i), "--fault", spec), volts)
        # The server's MTU at both ends of the range: 23 for all above, 517 here.
        devices["mtu517"] = (self.sim("mtu517", "--period", "0.5", "--voltage", "13.50",
                                      "--soc", "90", "--mtu", "517"), 13.50)
        # A device that never accepts: never any value, one line in the log, nobody stalls.
        never = self.sim("never", "--fault", "never-accept")
        # A device whose link drops after three frames on every connection, all test long:
        # a loss about every second and a half.
        flapper = self.sim("flapper", "--period", "0.3", "--voltage", "12.90",
                           "--fault", "drop-mid-stream")
        block = ("  ConnectTimeout 2\n  ResponseTimeout 1\n  StreamTimeout 1\n"
                 "  ReconnectMin 0.2\n  ReconnectMax 0.5\n")
        block += "".join(self.device(n, s) for n, (s, _) in devices.items())
        block += self.device("never", never) + self.device("flapper", flapper)
        self.collectd = c = Collectd(self.workdir, block)
        started = time.time()
        self.assertTrue(wait_for(lambda: all(len(c.rows(n, "voltage")) >= 3 for n in devices), 40),
                        {n: len(c.rows(n, "voltage")) for n in devices})
        # And enough flapping to have flooded the log before (a line per loss, per return).
        self.assertTrue(wait_for(lambda: flapper.events("disconnected") >= 10, 40),
                        flapper.events("disconnected"))
        elapsed = time.time() - started
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        for name, (sim, volts) in devices.items():
            rows = c.rows(name, "voltage")
            # Nothing bogus: every value written is the device's own.
            self.assertEqual({v for _, v in rows}, {volts}, name)
            self.assertTrue(all(0 <= v <= 100 for _, v in c.rows(name, "percent-charged")), name)
            # Each device says it went and came back at most once (and what model it is).
            lines = [l for l in c.log_lines(f'device "{name}" (') if "bm6 plugin:" in l]
            self.assertLessEqual(len(lines), 3, lines)
        # The healthy one kept its pace while the others misbehaved.
        self.assertGreaterEqual(len(c.rows("healthy", "voltage")), int(elapsed) - 3)
        self.assertEqual(c.rows("never", "voltage"), [])
        never_lines = [l for l in c.log_lines('device "never"') if "bm6 plugin:" in l]
        self.assertEqual(len(never_lines), 1, never_lines)
        # The flapper: connected, lost, back, and nothing more while it keeps flapping (the
        # first summary is due two minutes in); one FAILURE and one OKAY notification.
        losses = flapper.events("disconnected")
        flapper_lines = [l for l in c.log_lines('device "flapper" (') if "bm6 plugin:" in l]
        notifications = [l for l in c.log_lines("Notification: severity =")
                         if "plugin_instance = flapper" in l]
        failures = [l for l in notifications if "severity = FAILURE" in l]
        print(f"\nflapper: {losses} links lost in {elapsed:.0f} s; {len(flapper_lines)} log "
              f"lines (one per loss and per return before: about {2 * losses}), "
              f"{len(failures)} FAILURE and {len(notifications)} notifications in all",
              file=sys.stderr)
        self.assertLessEqual(len(flapper_lines), 3, flapper_lines)
        self.assertLessEqual(len(failures), 2, failures)
        self.assertLessEqual(len(notifications), 2, notifications)
        self.assertEqual({v for _, v in c.rows("flapper", "voltage")}, {12.90})
        # Garbage was dropped and counted.
        dropped = c.rows("garbage", "derive-frames_dropped")
        self.assertTrue(dropped and dropped[-1][1] > 0, dropped)

    def test_shutdown_with_half_open_links_is_prompt(self):
        # Twenty devices that accept and then never answer (links half set up, requests in
        # flight) and twenty that are not there at all (reconnects pending): stopping
        # collectd must not wait for any of them.
        block = "  ResponseTimeout 30\n  ConnectTimeout 30\n  ReconnectMin 0.05\n  ReconnectMax 0.1\n"
        for i in range(20):
            block += self.device(f"silent{i}", self.sim(f"silent{i}", "--fault", "silent"))
            block += f'  <Device "gone{i}">\n    Address "unix:{self.workdir}/gone{i}.sock"\n  </Device>\n'
        self.collectd = c = Collectd(self.workdir, block)
        self.assertTrue(wait_for(lambda: len(c.log_lines("is unreachable")) >= 20, 20))
        time.sleep(1)
        rc, took, err = c.stop()
        self.assertEqual(rc, 0, err)
        self.assertLess(took, 1.0, f"collectd took {took:.2f} s to stop")
        print(f"\nshutdown with 40 devices half-open or pending: {took:.3f} s", file=sys.stderr)

    def test_restarted_collectd_reconnects(self):
        van = self.sim("van", "--period", "0.3", "--voltage", "12.44")
        for run in (1, 2):
            workdir = os.path.join(self.workdir, f"run{run}")
            os.makedirs(workdir)
            self.collectd = c = Collectd(workdir, self.device("van", van))
            self.assertTrue(wait_for(lambda: len(c.rows("van", "voltage")) >= 2, 15), f"run {run}")
            rc, _, err = c.stop()
            self.assertEqual(rc, 0, err)
        # One connection per collectd, each closed when it stopped (the simulator says so a
        # moment after collectd has exited).
        wait_for(lambda: van.events("disconnected") >= 2, 5)
        self.assertEqual(van.events("connected"), 2)
        self.assertEqual(van.events("disconnected"), 2)


if __name__ == "__main__":
    require_built()
    unittest.main(verbosity=2)
