#!/usr/bin/env python3
"""End-to-end, captures as regression tests (issue 21): each public advertisement capture in
tests/captures/ through the real collectd with bm6.so in Mode "passive", Model "auto", to
exactly the values its source states (tests/captures_test.py says which), and no temperature
(PassiveTemperature is off by default).

No radio can replay these advertisements (their encrypted block carries the original unit's
address, which a virtual controller cannot take), so collectd runs with
tests/shim/mgmt_shim.cpp preloaded: a stand-in for the kernel's Bluetooth management socket
that answers the passive scanner as a powered hci0 and reports the capture's advertisements,
from the capture's address, in order, round and round. The real mgmt path is the VM
real-stack test's (with bm6-sim's own advertisements).

usage: advertisements_e2e.py LIBBM6_MGMT_SHIM.so
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Collectd, E2ECase, require_built, wait_for, with_mgmt_shim  # noqa: E402

SHIM = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else None
CAPTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "captures")
SHIM_RSSI = -70  # what the shim reports for an advertisement captured without one

# Per capture: the voltages its encrypted advertisements state (each must be written), the
# charge, the state gauge (0 normal, 1 low; None: a BM2's advertisement has none) and the
# family detected. The sources' values, as in tests/captures_test.py.
EXPECTED = {
    "rafciq-bm6-16.jsonl": ({12.84, 12.85}, 100, 0, "BM6"),
    "theengs-decoder-420-bm2.jsonl": ({12.83}, 93, None, "BM2"),
    "theengs-decoder-420-bm6.jsonl": ({12.83}, 17, 1, "BM6"),
    "ble-monitor-1430-bm6.jsonl": ({12.81}, 41, 1, "BM6"),
}


def header_and_rssi(path):
    """The capture's address, and the RSSI of its encrypted advertisements (or the shim's)."""
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    encrypted = [r for r in lines if r["type"] == "advertisement" and "manufacturer_data" in r
                 and len(r["manufacturer_data"]) == 32]
    return lines[0]["address"], {r.get("rssi", SHIM_RSSI) for r in encrypted}


def has_advertisements(name):
    with open(os.path.join(CAPTURES, name)) as f:
        return any(json.loads(line)["type"] == "advertisement" for line in f if line.strip())


class CapturedAdvertisements(E2ECase):
    def run_capture(self, name):
        path = os.path.join(CAPTURES, name)
        address, rssi = header_and_rssi(path)
        volts, soc, state, family = EXPECTED[name]
        workdir = os.path.join(self.workdir, name[:-len(".jsonl")])
        os.makedirs(workdir)
        block = (f'  StateDir "{workdir}/state"\n  <Device "bat">\n'
                 f'    Address "{address}"\n    Mode "passive"\n    Model "auto"\n'
                 f'    Adapter "hci0"\n  </Device>\n')
        self.collectd = c = with_mgmt_shim(SHIM, path, lambda: Collectd(workdir, block))

        def written():
            got = {round(v, 2) for _, v in c.rows("bat", "voltage")}
            return got >= volts and len(c.rows("bat", "voltage")) >= 4
        self.assertTrue(wait_for(written, 30), (c.rows("bat", "voltage"), c.log_lines("bm6")))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual({round(v, 2) for _, v in c.rows("bat", "voltage")}, volts)
        self.assertEqual({v for _, v in c.rows("bat", "percent-charged")}, {soc})
        self.assertEqual({v for _, v in c.rows("bat", "gauge-state")},
                         set() if state is None else {state})
        self.assertEqual({v for _, v in c.rows("bat", "signal_power")}, rssi)
        self.assertEqual(c.rows("bat", "temperature"), [])  # PassiveTemperature is off
        self.assertEqual(len(c.log_lines(f'device "bat" is a {family}')), 1,
                         c.log_lines('"bat"'))
        self.assertEqual({v for _, v in c.rows("bat", "derive-frames_dropped")} - {0.0}, set())

    def test_each_public_advertisement_capture_through_collectd_exactly(self):
        # Every capture with advertisements has its values here.
        self.assertEqual(set(EXPECTED), {n for n in os.listdir(CAPTURES)
                                         if n.endswith(".jsonl") and has_advertisements(n)})
        for name in EXPECTED:
            with self.subTest(capture=name):
                self.run_capture(name)
                self.collectd = None


if __name__ == "__main__":
    require_built()
    if not SHIM or not os.path.exists(SHIM):
        sys.exit("usage: advertisements_e2e.py LIBBM6_MGMT_SHIM.so (built)")
    unittest.main()
