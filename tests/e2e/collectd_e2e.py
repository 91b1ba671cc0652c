#!/usr/bin/env python3
"""End-to-end: the real collectd daemon loads bm6.so, reads bm6-sim devices over Unix
sockets and writes CSV files; the tests assert on those files, on collectd's log and on
what the simulators saw."""
import glob
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, Collectd, E2ECase, require_built, wait_for  # noqa: E402


class E2E(E2ECase):
    def test_values_arrive_for_each_device_over_one_connection(self):
        van = self.sim("van", "--period", "0.5", "--voltage", "12.74", "--temperature", "-4",
                       "--soc", "81", "--state", "charging")
        house = self.sim("house", "--period", "0.5", "--voltage", "13.12", "--temperature", "19",
                         "--soc", "97")
        boat = self.sim("boat", "--period", "0.5", "--voltage", "11.61", "--temperature", "8",
                        "--soc", "12", "--state", "low")
        self.collectd = c = Collectd(self.workdir, self.device("van", van) +
                                     self.device("house", house) + self.device("boat", boat))
        expected = {
            "van": {"voltage": 12.74, "temperature": -4, "percent-charged": 81, "gauge-state": 2},
            "house": {"voltage": 13.12, "temperature": 19, "percent-charged": 97, "gauge-state": 0},
            "boat": {"voltage": 11.61, "temperature": 8, "percent-charged": 12, "gauge-state": 1},
        }
        self.assertTrue(wait_for(lambda: all(len(c.rows(d, "voltage")) >= 6 for d in expected), 15),
                        "values did not arrive: " + str({d: len(c.rows(d, "voltage")) for d in expected}))
        rc, stop_time, err = c.stop()
        self.assertEqual(rc, 0, err)
        self.assertLess(stop_time, 3.0, "collectd took too long to stop")
        for device, series in expected.items():
            for series_name, value in series.items():
                rows = c.rows(device, series_name)
                self.assertGreaterEqual(len(rows), 6, f"{device} {series_name}")
                for t, v in rows:
                    self.assertAlmostEqual(v, value, places=6, msg=f"{device} {series_name}")
                # No value repeated: every row has its own frame time.
                times = [t for t, _ in rows]
                self.assertEqual(len(times), len(set(times)), f"{device} {series_name}")
        # The link held across every interval: one connection per device, never dropped.
        for s in (van, house, boat):
            self.assertEqual(s.events("connected"), 1, s.path)
            self.assertEqual(s.events("disconnected"), 1, s.path)  # collectd's shutdown
        self.assertEqual(c.log_lines("unreachable"), [])
        self.assertEqual(c.log_lines("link lost"), [])

    def test_killed_device_is_reconnected_and_values_resume(self):
        van = self.sim("van", "--period", "0.3", "--voltage", "12.50")
        self.collectd = c = Collectd(self.workdir,
                                     "  ReconnectMin 0.2\n  ReconnectMax 1\n" + self.device("van", van))
        self.assertTrue(wait_for(lambda: len(c.rows("van", "voltage")) >= 2, 10))
        van.kill()
        killed = time.time()
        time.sleep(2.5)
        van.start()
        restarted = time.time()
        self.assertTrue(wait_for(lambda: any(t > restarted for t, _ in c.rows("van", "voltage")), 10),
                        "values did not resume after the device came back")
        # Let a failing reconnect or two more show in the log, if they were going to.
        time.sleep(1.5)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        rows = c.rows("van", "voltage")
        self.assertFalse([t for t, _ in rows if killed + 0.5 < t < restarted],
                         "values were written while the device was gone")
        # Link lines (connected, lost, back); the model is said once more, by itself.
        self.assertEqual(len(c.log_lines('device "van" (')), 3, c.log_lines('device "van"'))
        self.assertEqual(len(c.log_lines('device "van" is a BM6')), 1)
        self.assertEqual(len([l for l in c.log_lines("link lost") if "bm6 plugin:" in l]), 1)
        self.assertEqual(len([l for l in c.log_lines("is back") if "bm6 plugin:" in l]), 1)
        # collectd notifications, as the logfile plugin writes them: one each way.
        failures = c.log_lines("Notification: severity = FAILURE")
        okays = c.log_lines("Notification: severity = OKAY")
        self.assertEqual(len(failures), 1, failures)
        self.assertEqual(len(okays), 1, okays)
        for line in failures + okays:
            self.assertIn(f"host = {HOST}", line)
            self.assertIn("plugin = bm6", line)
            self.assertIn("plugin_instance = van", line)

    def test_dead_device_neither_stalls_others_nor_floods_the_log(self):
        van = self.sim("van", "--period", "0.5")
        ghost_path = os.path.join(self.workdir, "ghost.sock")
        self.collectd = c = Collectd(
            self.workdir,
            "  ReconnectMin 0.05\n  ReconnectMax 0.2\n" + self.device("van", van) +
            f'  <Device "ghost">\n    Address "unix:{ghost_path}"\n  </Device>\n')
        # Counted from van's first value (a loaded machine starts collectd late).
        deadline = time.monotonic() + 30
        while not c.rows("van", "voltage") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(8)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        rows = c.rows("van", "voltage")
        # About one a second for 8 s, despite dozens of failed connects next door.
        self.assertGreaterEqual(len(rows), 6, rows)
        self.assertEqual(len(c.log_lines('device "ghost"')), 1, c.log_lines('device "ghost"'))
        self.assertIn("is unreachable", c.log_lines('device "ghost"')[0])
        # Nothing but its health counters: no reading was ever made up for it.
        ghost_files = glob.glob(os.path.join(c.csv_dir, HOST, "bm6-ghost", "*"))
        self.assertTrue(all("/derive-" in f for f in ghost_files), ghost_files)
        # collectd never backed off the healthy device's read.
        self.assertEqual(c.log_lines("read-function of plugin"), [])

    def test_no_value_is_written_while_the_device_sends_nothing(self):
        van = self.sim("van", "--period", "0.3")
        self.collectd = c = Collectd(self.workdir, self.device("van", van))
        self.assertTrue(wait_for(lambda: len(c.rows("van", "voltage")) >= 2, 10))
        van.proc.send_signal(signal.SIGSTOP)
        stopped = time.time()
        time.sleep(3.5)  # below the stream timeout: the link is kept
        van.proc.send_signal(signal.SIGCONT)
        resumed = time.time()
        self.assertTrue(wait_for(lambda: any(t > resumed for t, _ in c.rows("van", "voltage")), 10))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        silent = [t for t, _ in c.rows("van", "voltage") if stopped + 0.5 < t < resumed]
        self.assertEqual(silent, [], "a value was written while the device sent nothing")
        self.assertEqual(van.events("connected"), 1)

    def test_calibration_chain_of_the_example_scales_one_device(self):
        # The calibration section of collectd.conf.example, uncommented as a user would:
        # collectd's match_regex and target_scale multiply van's voltage by its Factor.
        example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                               "collectd.conf.example")
        section, inside = [], False
        with open(example) as f:
            for line in f:
                if line.startswith("# --- "):
                    inside = line.startswith("# --- Calibration")
                # "#LoadPlugin", "#  <Rule": configuration; "# The plugin": a comment.
                elif inside and line.startswith("#") and not (line[1:2] == " " != line[2:3]):
                    section.append(line[1:])
        chain = "".join(section)
        self.assertIn("Factor", chain)
        factor = float(chain.split("Factor")[1].split()[0])
        van = self.sim("van", "--period", "0.5", "--voltage", "12.50")
        house = self.sim("house", "--period", "0.5", "--voltage", "13.10")
        self.collectd = c = Collectd(self.workdir, self.device("van", van) +
                                     self.device("house", house),
                                     plugins=("match_regex", "target_scale"), extra_conf=chain)
        self.assertTrue(wait_for(lambda: len(c.rows("van", "voltage")) >= 2 and
                                 len(c.rows("house", "voltage")) >= 2, 15),
                        "".join(c.log_lines("")))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        for _, v in c.rows("van", "voltage"):
            self.assertAlmostEqual(v, 12.50 * factor, places=6)
        self.assertEqual({v for _, v in c.rows("house", "voltage")}, {13.10})
        # Only the voltage: the state of charge of van is the monitor's own.
        self.assertEqual({v for _, v in c.rows("van", "percent-charged")}, {100})

    def test_collectd_refuses_a_bad_bm6_block(self):
        self.collectd = c = Collectd(
            self.workdir,
            '  <Device "van">\n    Adress "unix:/tmp/x.sock"\n  </Device>\n'
            '  <Device "boat">\n    Address "not-an-address"\n  </Device>\n')
        try:
            _, err = c.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            c.proc.kill()
            self.fail("collectd ran with a broken bm6 configuration")
        self.assertNotEqual(c.proc.returncode, 0)
        err = err.decode(errors="replace") + "".join(c.log_lines("bm6 plugin"))
        self.assertIn('bm6 plugin: device "van": unknown option "Adress"', err)
        self.assertIn('bm6 plugin: device "van": option "Address" is missing', err)
        self.assertIn('bm6 plugin: device "boat": option "Address": "not-an-address" is neither', err)


if __name__ == "__main__":
    require_built()
    unittest.main(verbosity=2)
