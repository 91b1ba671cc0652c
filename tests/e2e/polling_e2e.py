#!/usr/bin/env python3
"""Polling that follows the unit (issue #21), end to end: the real collectd at Interval 2
reads simulated BM6s that stop after N readings until the live-data request is written
again (bm6-sim --stop-after N, for N = 1, 5 and 30) and one that streams for ever. Each
stopping unit gets a reading written in at least 90 % of the intervals, on one link; the
streaming one gets the request once per link, as before, counted by bm6-sim."""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Collectd, E2ECase, require_built, wait_for  # noqa: E402

INTERVAL = 2
SECONDS = int(os.environ.get("POLLING_E2E_SECONDS", "80"))
STOPS = (1, 5, 30)


def live_requests(sim):
    """Live-data requests of each finished link, from bm6-sim's line before "disconnected"."""
    with open(sim.log_path) as f:
        return [int(m.group(1)) for line in f
                for m in [re.search(r": link: .*; (\d+) live-data requests$", line.rstrip())] if m]


class Polling(E2ECase):
    def test_units_that_stop_after_n_readings_get_a_reading_every_interval(self):
        sims = {f"stop{n}": self.sim(f"stop{n}", "--voltage", f"{12 + n / 100:.2f}",
                                     "--stop-after", str(n)) for n in STOPS}
        sims["streams"] = self.sim("streams", "--voltage", "13.33")
        block = "".join(self.device(name, sim) for name, sim in sims.items())
        self.collectd = c = Collectd(self.workdir, block, interval=INTERVAL)
        self.assertTrue(wait_for(lambda: all(c.rows(n, "voltage") for n in sims), 30),
                        {n: len(c.rows(n, "voltage")) for n in sims})
        first = {n: c.rows(n, "voltage")[0][0] for n in sims}
        wait_for(lambda: time.time() > max(first.values()) + SECONDS, SECONDS + 10, step=0.5)
        stopped = time.time()
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        # Each link's line comes when collectd has left.
        for name, s in sims.items():
            self.assertTrue(wait_for(lambda: s.events("disconnected") >= 1, 10), name)

        figures, shares = [], {}
        for name, sim in sims.items():
            rows = c.rows(name, "voltage")
            # The reads from the first reading on: each writes at most one value.
            reads = int((stopped - first[name]) // INTERVAL) + 1
            written = sum(1 for t, _ in rows if t >= first[name])
            shares[name] = (written, reads)
            figures.append(f"{name}: a reading in {written} of {reads} intervals "
                           f"({100 * written / reads:.0f} %), {sim.events('connected')} "
                           f"link(s), live-data requests per link {live_requests(sim)}")
        print("\n" + "\n".join(figures), file=sys.stderr)
        for name, sim in sims.items():
            volts = float(sim.args[sim.args.index("--voltage") + 1])
            self.assertEqual({v for _, v in c.rows(name, "voltage")}, {volts}, name)
            self.assertEqual(sim.events("connected"), 1, name)  # never closed as dead
            written, reads = shares[name]
            self.assertGreaterEqual(written, 0.9 * reads, name)
        # A unit that streams for ever gets the request once per link, as before.
        self.assertEqual(live_requests(sims["streams"]), [1])
        # A unit that stops after N readings is asked about once per N readings, not more
        # than once per reading.
        for n in STOPS:
            self.assertLessEqual(sum(live_requests(sims[f"stop{n}"])), 2 * SECONDS / n + 4, n)
        self.assertEqual(c.log_lines("link lost"), [])


if __name__ == "__main__":
    require_built()
    unittest.main(verbosity=2)
