#!/usr/bin/env python3
"""Prometheus end to end: the real collectd with bm6.so and write_prometheus, scraped every
second by a real Prometheus server (Debian's prometheus, a plain process on loopback with its
own storage), read back through Prometheus' HTTP query API. (a) Every series has the name and
labels the README gives and carries the simulators' values; every query of
dashboards/bm6-prometheus.json returns each device that has the value, with its values.
The owner's corrections (offsets, the chemistry's estimate) reach the exported series.
(b) Backfill: a monitor out of range and back has its gap filled in collectd's writers;
Prometheus refuses no sample (no time goes back), holds only values collectd wrote, at
their times, and gets at most a few of the gap's records (write_prometheus keeps the
latest value of a series, and records replace one another between two scrapes).

usage: prometheus_e2e.py LIBBM6_MGMT_SHIM.so
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_check  # noqa: E402
from dashboard_check import DEVICES, grafana_queries  # noqa: E402
from forwarding_e2e import example_section  # noqa: E402
from harness import HOST, Collectd, E2ECase, free_port, require_built, wait_for  # noqa: E402

SHIM = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else None
PERIOD = 2  # the backfilling simulator's record period, s
# collectd.conf.example's section as written, on a free port of loopback.
WRITE_PROMETHEUS = example_section("Prometheus").replace('  Port "9103"\n',
                                                         '  Host "127.0.0.1"\n  Port "{port}"\n')


class Prometheus:
    """A Prometheus server scraping one target every second."""

    def __init__(self, case, target_port):
        prometheus = shutil.which("prometheus")
        if not prometheus:
            case.fail("prometheus not installed (apt-get install prometheus)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = os.path.join(case.workdir, "prometheus.yml")
        with open(conf, "w") as f:
            # honor_labels: collectd's own instance label (its host name) is kept.
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: collectd
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
""")
        with open(os.path.join(case.workdir, "prometheus.log"), "w") as log:
            self.proc = subprocess.Popen(
                [prometheus, f"--config.file={conf}",
                 f"--storage.tsdb.path={case.workdir}/prometheus-data",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT)
        case.servers.append(self.proc)
        case.assertTrue(wait_for(self.ready, 30), "prometheus did not start")

    def ready(self):
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        url = f"{self.url}/api/v1/{path}?" + urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        if body["status"] != "success":
            raise AssertionError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, q):
        return self.api("query", query=q)["result"]

    def own_metric(self, name):
        """A figure from Prometheus' own /metrics (summed over its labels)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        found = [float(m.group(1)) for m in
                 re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)]
        if not found:
            raise AssertionError(f"Prometheus does not count {name}")
        return sum(found)


class PrometheusE2E(E2ECase):
    def start(self, block):
        port = free_port()
        self.assertIn('{port}', WRITE_PROMETHEUS)
        start = lambda: Collectd(self.workdir, block, plugins=("write_prometheus",),
                                 extra_conf=WRITE_PROMETHEUS.format(port=port))
        self.collectd = dashboard_check.with_shim(SHIM, start) if "passive" in block else start()
        self.exporter_port = port
        return self.collectd, Prometheus(self, port)

    def test_series_and_every_dashboard_query(self):
        c, prom = self.start(dashboard_check.fleet_block(self, self.workdir))
        started = time.time()
        ours = {"match[]": '{__name__=~"collectd_bm6_.*"}'}
        names = lambda: {(s["__name__"], s["bm6"], s.get("type", ""))
                         for s in prom.api("series", **ours)}
        expected = {
            ("collectd_bm6_voltage", d, "") for d in DEVICES} | {
            ("collectd_bm6_temperature", d, "") for d in ("van", "house")} | {
            ("collectd_bm6_percent", d, "charged") for d in DEVICES} | {
            ("collectd_bm6_gauge", d, "state") for d in DEVICES} | {
            ("collectd_bm6_signal_power", "boat", "")} | {
            ("collectd_bm6_derive_total", d, t) for d in DEVICES
            for t in ("reconnects", "frames_dropped")} | {
            ("collectd_bm6_duration_seconds", "house", "time_on_air")}
        # A few scrapes of every series: increase() over the counters needs two.
        self.assertTrue(wait_for(lambda: names() == expected, 30),
                        f"{sorted(names() ^ expected)}\n{c.log_lines('bm6')}")
        time.sleep(4)
        dashboard_check.longer_for_pictures()
        # The exact values, and the labels: the device as "bm6", collectd's host as instance.
        for name, device, value in (("voltage", "van", 12.74), ("temperature", "van", -4),
                                    ("percent", "van", 81), ("gauge", "van", 2),
                                    ("signal_power", "boat", -48), ("voltage", "boat", None)):
            result = prom.query(f'collectd_bm6_{name}{{bm6="{device}"}}')
            self.assertEqual(len(result), 1, result)
            self.assertEqual(result[0]["metric"]["instance"], HOST)
            self.assertEqual(result[0]["metric"]["job"], "collectd")
            if value is not None:
                self.assertAlmostEqual(float(result[0]["value"][1]), value, places=6)
        self.check_dashboard(prom, started)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)

    def check_dashboard(self, prom, started):
        values = {"device": DEVICES, "__rate_interval": "15s", "__interval": "1s"}
        results = []
        queries = grafana_queries.queries(grafana_queries.load("prometheus"))
        self.assertGreaterEqual(len([q for q in queries if q.kind == "panel"]), 8)
        for q in queries:
            text = grafana_queries.fill(q.text, values)
            m = re.fullmatch(r"label_values\((\S+), (\w+)\)", text)
            if q.kind == "variable":
                # Grafana's label_values(): the label's values over the matching series.
                self.assertTrue(m, text)
                got = prom.api(f"label/{m.group(2)}/values", **{"match[]": m.group(1)})
                self.assertEqual(sorted(got), DEVICES, text)
                continue
            # As Grafana asks for a time series panel: a range, one step a second.
            data = prom.api("query_range", query=text, start=f"{started:.3f}",
                            end=f"{time.time():.3f}", step="1")
            series = {}
            for s in data["result"]:
                self.assertNotIn(s["metric"]["bm6"], series, f"{text}: two series")
                series[s["metric"]["bm6"]] = [(float(t), float(v)) for t, v in s["values"]]
            dashboard_check.check(self, q, series)
            results.append((q, series))
        dashboard_check.keep("prometheus", results)
        print(f"\nprometheus dashboard: {len(results)} queries, each with its devices",
              file=sys.stderr)

    def test_corrections_reach_the_exported_series(self):
        """VoltageOffset, TemperatureOffset and Chemistry as Prometheus gets them: the
        corrected values, and the estimate as its own series beside the monitor's charge."""
        sim = self.sim("cal", "--period", "0.5", "--voltage", "12.65", "--temperature", "25",
                       "--soc", "60")
        options = ('    VoltageOffset -0.2\n    TemperatureOffset -18\n'
                   '    Chemistry "lead-acid"\n')
        c, prom = self.start(self.device("cal", sim, options))
        expected = {("voltage", ""): 12.45, ("temperature", ""): 7,
                    ("percent", "charged"): 60, ("percent", "charged_estimated"): 75}

        def exported():
            got = {}
            for (name, type_name) in expected:
                selector = f'collectd_bm6_{name}{{bm6="cal",type="{type_name}"}}'
                result = prom.query(selector)
                if len(result) == 1:
                    got[(name, type_name)] = float(result[0]["value"][1])
            return got
        self.assertTrue(wait_for(lambda: len(exported()) == len(expected), 30),
                        f"{exported()}\n{c.log_lines('bm6')}")
        for key, value in exported().items():
            self.assertAlmostEqual(value, expected[key], places=6, msg=key)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)

    def test_backfill_does_not_move_a_series_back(self):
        sim = self.sim("van", "--period", "0.5", "--record-period", str(PERIOD), "--cycle", "37",
                       "--voltage", "12.60", "--soc", "60")
        options = (f"    Backfill true\n    RecordPeriod {PERIOD}\n    StreamTimeout 2\n"
                   "    ReconnectMin 0.2\n    ReconnectMax 1\n")
        c, prom = self.start(self.device("van", sim, options))
        series = 'collectd_bm6_voltage{bm6="van"}'
        self.assertTrue(wait_for(lambda: len(c.rows("van", "voltage")) >= 4
                                 and prom.query(series), 30), c.log_lines("bm6"))
        sim.proc.send_signal(signal.SIGUSR1)  # out of range
        time.sleep(1.5)
        before = len(c.rows("van", "voltage"))
        last_before = c.rows("van", "voltage")[-1]
        time.sleep(8)
        # Away: the series has left /metrics (collectd's Timeout, 2 intervals), but its
        # samples carried their own times, so Prometheus marks nothing stale: an instant
        # query still gives the last value, for its lookback of 5 minutes.
        exporter = f"http://127.0.0.1:{self.exporter_port}/metrics"
        with urllib.request.urlopen(exporter, timeout=5) as r:
            self.assertNotIn('collectd_bm6_voltage{bm6="van"', r.read().decode())
        now = prom.api("query", query=series)["result"]
        self.assertEqual(len(now), 1, now)
        self.assertAlmostEqual(float(now[0]["value"][1]), last_before[1], places=6)
        age = prom.query(f"time() - timestamp({series})")
        self.assertGreater(float(age[0]["value"][1]), 8, age)
        sim.proc.send_signal(signal.SIGUSR2)  # back
        self.assertTrue(wait_for(lambda: c.log_lines('device "van": backfill: '), 20),
                        c.log_lines("van"))
        self.assertTrue(wait_for(lambda: len(c.rows("van", "voltage")) >= before + 8, 20))
        time.sleep(3)  # scraped
        rows = c.rows("van", "voltage")
        records = [(t, v) for t, v in rows[before:] if t == int(t)]
        self.assertGreaterEqual(len(records), 3, rows[before:])
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        # What Prometheus holds: raw samples of the last minutes, with their times.
        stored = prom.query(series + "[5m]")
        self.assertEqual(len(stored), 1, stored)
        samples = [(float(t), float(v)) for t, v in stored[0]["values"]]
        # Each is a value collectd wrote, at the time collectd gave it (ms).
        written = {round(t * 1000): v for t, v in rows}
        for t, v in samples:
            self.assertIn(round(t * 1000), written, (t, v))
            self.assertAlmostEqual(written[round(t * 1000)], v, places=6)
        # Nothing refused: no time went back, no time twice with another value.
        for name in ("prometheus_target_scrapes_sample_out_of_order_total",
                     "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                     "prometheus_target_scrapes_sample_out_of_bounds_total"):
            self.assertEqual(prom.own_metric(name), 0, name)
        # Of the gap's records, Prometheus got at most the one or two a scrape saw.
        record_times = {round(t * 1000) for t, _ in records}
        got = [t for t, _ in samples if round(t * 1000) in record_times]
        print(f"\nbackfill: {len(records)} records written, {len(got)} of them in Prometheus",
              file=sys.stderr)
        self.assertLessEqual(len(got), 2, (records, samples))
        # Live values before and after the gap are there.
        self.assertTrue(any(t < records[0][0] for t, _ in samples))
        self.assertTrue(any(t > records[-1][0] for t, _ in samples))


if __name__ == "__main__":
    require_built()
    if not SHIM or not os.path.exists(SHIM):
        sys.exit("usage: prometheus_e2e.py LIBBM6_MGMT_SHIM.so (built)")
    unittest.main(verbosity=2)
