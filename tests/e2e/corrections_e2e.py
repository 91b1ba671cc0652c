#!/usr/bin/env python3
"""The owner's corrections through the real collectd with bm6.so and csv: VoltageOffset and
TemperatureOffset added to every value, live and backfilled; Chemistry adding
percent-charged_estimated (the rest-voltage estimate from the corrected voltage) beside the
monitor's own percent-charged, which stays as it is; a device without them unchanged. And
what the README says of collectd's target_scale beside it: it scales the live values, but
backfilled records go to the writers directly and keep the monitor's value."""
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Collectd, E2ECase, require_built, wait_for  # noqa: E402

PERIOD = 2  # the simulators' record period, s
SIM = ("--period", "0.5", "--record-period", str(PERIOD), "--voltage", "12.65",
       "--temperature", "25", "--soc", "60")
BACKFILL = (f"    Backfill true\n    RecordPeriod {PERIOD}\n    StreamTimeout 2\n"
            "    ReconnectMin 0.2\n    ReconnectMax 1\n")
VAN = ("    VoltageOffset -0.2\n    TemperatureOffset -18\n"
       '    Chemistry "lead-acid"\n' + BACKFILL)
# The README's calibration, for the device "scaled".
SCALE = """LoadPlugin match_regex
LoadPlugin target_scale
<Chain "PreCache">
  <Rule "bm6_scaled_voltage">
    <Match "regex">
      Plugin "^bm6$"
      PluginInstance "^scaled$"
      Type "^voltage$"
    </Match>
    <Target "scale">
      Factor 1.02
    </Target>
  </Rule>
</Chain>
"""


def sim_record_volts(sim):
    with open(sim.log_path) as f:
        return {float(m.group(1)) for m in
                (re.search(r": record ([0-9.]+) V, ", line) for line in f) if m}


class Corrections(E2ECase):
    def records(self, c, name, type_name, before):
        """The backfilled rows of one series: the log's count of them, after the `before`
        rows written before the cut."""
        line = c.log_lines(f'device "{name}": backfill: ')[0]
        count = int(re.search(r": (\d+) of \d+ stored records fill the gap", line).group(1))
        rows = c.rows(name, type_name)[before:before + count]
        self.assertEqual(len(rows), count, (name, type_name, line))
        # Records are stamped at whole seconds (live values at their arrival's millisecond).
        self.assertTrue(all(t == int(t) for t, _ in rows), (name, type_name, rows))
        return rows

    def test_offsets_and_estimate_live_and_backfilled(self):
        van = self.sim("van", *SIM)
        scaled = self.sim("scaled", *SIM)
        lfp = self.sim("lfp", "--period", "0.5", "--voltage", "13.25", "--soc", "90")
        plain = self.sim("plain", *SIM)
        block = (self.device("van", van, VAN) + self.device("scaled", scaled, BACKFILL)
                 + self.device("lfp", lfp, '    Chemistry "LiFePO4"\n')
                 + self.device("plain", plain))
        self.collectd = c = Collectd(self.workdir, block, interval=1,
                                     plugins=("match_regex", "target_scale"), extra_conf=SCALE)
        names = ("van", "scaled", "lfp", "plain")
        self.assertTrue(wait_for(lambda: all(len(c.rows(n, "voltage")) >= 3 for n in names), 20),
                        c.log_lines("bm6 plugin"))
        for s in (van, scaled):
            s.proc.send_signal(signal.SIGUSR1)  # out of range: a gap to fill
        time.sleep(1.5)  # what was in flight is written
        before = {n: {t: len(c.rows(n, t)) for t in ("voltage", "temperature",
                                                      "percent-charged_estimated")}
                  for n in ("van", "scaled")}
        time.sleep(3 * PERIOD)
        for s in (van, scaled):
            s.proc.send_signal(signal.SIGUSR2)
        filled = lambda n: c.log_lines(f'device "{n}": backfill: ')  # noqa: E731
        self.assertTrue(wait_for(lambda: filled("van") and filled("scaled"), 20),
                        c.log_lines("bm6 plugin"))
        counts = {n: len(c.rows(n, "voltage")) for n in names}
        self.assertTrue(wait_for(lambda: all(len(c.rows(n, "voltage")) >= counts[n] + 2
                                             for n in names), 15))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)

        # The monitors stored and sent 12.65 V, 25 C, 60 %.
        self.assertEqual(sim_record_volts(van), {12.65})
        values = lambda n, t: {v for _, v in c.rows(n, t)}  # noqa: E731
        # van: every value corrected, live and backfilled; the estimate beside the charge.
        self.assertEqual(values("van", "voltage"), {12.45})
        self.assertEqual(values("van", "temperature"), {7})
        self.assertEqual(values("van", "percent-charged"), {60})
        self.assertEqual(values("van", "percent-charged_estimated"), {75})  # BCI: 12.45 V
        # The records (the rows written after the cut, before the live ones: as many as the
        # log says filled the gap) are corrected like the rest.
        for t in ("voltage", "temperature", "percent-charged_estimated"):
            records = self.records(c, "van", t, before["van"][t])
            self.assertGreaterEqual(len(records), 2, (t, c.rows("van", t)))
        # target_scale: live values scaled, the records it never sees are not.
        records = self.records(c, "scaled", "voltage", before["scaled"]["voltage"])
        rows = c.rows("scaled", "voltage")
        live = rows[:before["scaled"]["voltage"]] + rows[before["scaled"]["voltage"]
                                                        + len(records):]
        self.assertEqual({v for _, v in records}, {12.65})
        self.assertEqual({round(v, 4) for _, v in live}, {12.903})
        # lfp: a Chemistry alone; 13.25 V is half-way from 40 to 70 % on the LiFePO4 table.
        self.assertEqual(values("lfp", "voltage"), {13.25})
        self.assertEqual(values("lfp", "percent-charged"), {90})
        self.assertEqual(values("lfp", "percent-charged_estimated"), {55})
        # plain: as the monitor says, and no estimate.
        self.assertEqual(values("plain", "voltage"), {12.65})
        self.assertEqual(values("plain", "temperature"), {25})
        self.assertEqual(c.rows("plain", "percent-charged_estimated"), [])
        print(f"\nvan: {len(c.rows('van', 'voltage'))} voltage rows, all 12.45 V; "
              + filled("van")[0].split("backfill: ", 1)[1].strip(), file=sys.stderr)


if __name__ == "__main__":
    require_built()
    unittest.main(verbosity=2)
