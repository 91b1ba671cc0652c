#!/usr/bin/env python3
"""End-to-end: the real collectd with bm6.so reads one bm6-sim of each family (BM6, BM7,
BM2) with Model "auto" and logs what each one is; a device configured with the wrong Model
gets one clear error and no values."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Collectd, E2ECase, require_built, wait_for  # noqa: E402


class Families(E2ECase):
    def test_each_family_is_detected_logged_and_read_exactly(self):
        bm6 = self.sim("bm6", "--model", "bm6", "--period", "0.5", "--voltage", "12.74",
                       "--temperature", "-4", "--soc", "81", "--state", "charging")
        bm7 = self.sim("bm7", "--model", "bm7", "--period", "0.5", "--voltage", "11.94",
                       "--temperature", "-7", "--soc", "23", "--state", "low")
        bm2 = self.sim("bm2", "--model", "bm2", "--period", "0.5", "--voltage", "12.71",
                       "--soc", "87", "--state", "floating")
        self.collectd = c = Collectd(
            self.workdir, '  Model "auto"\n' + self.device("van", bm6) +
            self.device("house", bm7) + self.device("boat", bm2))
        expected = {
            "van": {"voltage": 12.74, "temperature": -4, "percent-charged": 81, "gauge-state": 2},
            "house": {"voltage": 11.94, "temperature": -7, "percent-charged": 23,
                      "gauge-state": 1},
            "boat": {"voltage": 12.71, "percent-charged": 87, "gauge-state": 4},
        }
        self.assertTrue(wait_for(lambda: all(len(c.rows(d, "voltage")) >= 4 for d in expected),
                                 20),
                        "values did not arrive: " +
                        str({d: len(c.rows(d, "voltage")) for d in expected}))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        for device, series in expected.items():
            for name, value in series.items():
                rows = c.rows(device, name)
                self.assertGreaterEqual(len(rows), 4, f"{device} {name}")
                for _, v in rows:
                    self.assertAlmostEqual(v, value, places=6, msg=f"{device} {name}")
        # A BM2 has no temperature sensor: no temperature series at all.
        self.assertEqual(c.rows("boat", "temperature"), [])
        for device, model in (("van", "BM6"), ("house", "BM7"), ("boat", "BM2")):
            self.assertEqual(len(c.log_lines(f'device "{device}" is a {model}')), 1,
                             "".join(c.log_lines(f'device "{device}"')))
        self.assertEqual(c.log_lines("unreachable"), [])
        for s in (bm6, bm7, bm2):
            self.assertEqual(s.events("connected"), 1, s.path)

    def test_wrong_model_gets_one_clear_error_and_no_values(self):
        bm2 = self.sim("bm2", "--model", "bm2", "--period", "0.2", "--voltage", "12.71",
                       "--soc", "87")
        good = self.sim("good", "--period", "0.5", "--voltage", "13.12", "--temperature", "19",
                        "--soc", "97")
        self.collectd = c = Collectd(
            self.workdir,
            '  StreamTimeout 0.5\n' +
            self.device("wrong", bm2, '    Model "BM6"\n') + self.device("good", good))
        needle = 'device "wrong"'
        self.assertTrue(wait_for(lambda: c.log_lines("configured as BM6 but its frames decode "
                                                     "as BM2"), 15),
                        "".join(c.log_lines(needle)) or "no log line about the device")
        # The other device is unaffected; the wrong one dispatches nothing but its counters.
        self.assertTrue(wait_for(lambda: len(c.rows("good", "voltage")) >= 3, 10))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        errors = c.log_lines("bm6 plugin: device \"wrong\"")
        self.assertEqual(len(errors), 1, "".join(errors))
        self.assertIn("configured as BM6 but its frames decode as BM2", errors[0])
        for name in ("voltage", "temperature", "percent-charged", "gauge-state"):
            self.assertEqual(c.rows("wrong", name), [], name)
        self.assertEqual(c.log_lines('"wrong" is a'), [])

    def test_a_bad_model_is_refused_naming_device_and_option(self):
        sim = self.sim("x")
        self.collectd = c = Collectd(self.workdir, self.device("x", sim, '    Model "BM8"\n'))
        self.assertTrue(wait_for(lambda: c.log_lines("is not a monitor model"), 10))
        line = c.log_lines("is not a monitor model")[0]
        self.assertIn('device "x": option "Model": "BM8" is not a monitor model', line)
        c.stop()


if __name__ == "__main__":
    require_built()
    unittest.main(verbosity=2)
