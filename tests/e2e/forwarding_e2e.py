#!/usr/bin/env python3
"""Where the values go: the real collectd with bm6.so and a simulated BM6, forwarding to
real servers started here on loopback: InfluxDB 1.x through collectd's network plugin,
carbon-cache through write_graphite, and RRD files through the rrdtool plugin (then a
graph). Each test reads the values back from the server's own storage."""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_check  # noqa: E402
from dashboard_check import grafana_queries  # noqa: E402
from harness import HOST, TYPES_DB, Collectd, E2ECase, free_port, require_built, wait_for  # noqa: E402

VAN = ("--period", "0.5", "--voltage", "12.74", "--temperature", "-4", "--soc", "81",
       "--state", "charging")


class Forwarding(E2ECase):
    def start_server(self, argv, log_name):
        with open(os.path.join(self.workdir, log_name), "w") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.servers.append(p)
        return p

    def start_influxdb(self):
        """influxd with its collectd input on loopback: (the input's UDP port, a query
        function)."""
        influxd = shutil.which("influxd")
        if not influxd:
            self.fail("influxd not installed (apt-get install influxdb)")
        base = os.path.join(self.workdir, "influx")
        http, udp, rpc = free_port(), free_port(socket.SOCK_DGRAM), free_port()
        conf = os.path.join(self.workdir, "influxdb.conf")
        with open(conf, "w") as f:
            f.write(f"""
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{base}/meta"
[data]
  dir = "{base}/data"
  wal-dir = "{base}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
[[collectd]]
  enabled = true
  bind-address = "127.0.0.1:{udp}"
  database = "collectd"
  typesdb = "{TYPES_DB}"
  batch-size = 1
  batch-timeout = "100ms"
""")
        self.start_server([influxd, "-config", conf], "influxd.log")

        def query(q, **params):  # epoch="ms": times as numbers
            url = f"http://127.0.0.1:{http}/query?" + urllib.parse.urlencode(
                {"db": "collectd", "q": q, **params})
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)

        def influx_up():
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http}/ping", timeout=1)
                return True
            except OSError:
                return False

        self.assertTrue(wait_for(influx_up, 30), "influxd did not start")
        return udp, query

    def test_influxdb_through_the_network_plugin(self):
        udp, query = self.start_influxdb()
        van = self.sim("van", *VAN)
        # The same monitor with the owner's corrections: offsets and an AGM estimate.
        house = self.sim("house", *VAN)
        corrected = self.device("house", house, "    VoltageOffset -0.2\n"
                                "    TemperatureOffset 2.5\n" '    Chemistry "agm"\n')
        self.collectd = c = Collectd(
            self.workdir, self.device("van", van) + corrected, plugins=("network",),
            extra_conf=f'LoadPlugin network\n<Plugin network>\n  Server "127.0.0.1" "{udp}"\n</Plugin>\n')

        def last(type_name, type_instance="", device="van"):
            where = (f"\"type\" = '{type_name}' AND \"instance\" = '{device}' AND "
                     f"\"host\" = '{HOST}'")
            if type_instance:
                where += f" AND \"type_instance\" = '{type_instance}'"
            r = query(f"SELECT last(value) FROM bm6_value WHERE {where}")
            series = r["results"][0].get("series")
            return series[0]["values"][0][1] if series else None

        self.assertTrue(wait_for(lambda: last("voltage") is not None, 30),
                        "no voltage in InfluxDB: " + json.dumps(query("SHOW SERIES")))
        self.assertAlmostEqual(last("voltage"), 12.74, places=4)
        # Each value is its own UDP packet and InfluxDB write: all of them, waited for.
        van_values = (("temperature",), ("percent", "charged"), ("gauge", "state"))
        self.assertTrue(wait_for(lambda: all(last(*v) is not None for v in van_values), 10),
                        json.dumps(query("SHOW SERIES")))
        self.assertEqual(last("temperature"), -4)
        self.assertEqual(last("percent", "charged"), 81)
        self.assertEqual(last("gauge", "state"), 2)
        # The corrected device: 12.74 - 0.2 V, -4 + 2.5 C, the monitor's own 81 %, and AGM's
        # estimate at 12.54 V (Lifeline: 12.20 V 50 %, 12.55 V 75 %).
        house_values = (("voltage", "", "house"), ("temperature", "", "house"),
                        ("percent", "charged", "house"), ("percent", "charged_estimated", "house"))
        self.assertTrue(wait_for(lambda: all(last(*v) is not None for v in house_values), 10),
                        json.dumps(query("SHOW SERIES")))
        self.assertAlmostEqual(last("voltage", device="house"), 12.54, places=6)
        self.assertEqual(last("temperature", device="house"), -1.5)
        self.assertEqual(last("percent", "charged", "house"), 81)
        self.assertAlmostEqual(last("percent", "charged_estimated", "house"),
                               50 + 0.34 / 0.35 * 25, places=6)
        self.assertIsNone(last("percent", "charged_estimated"))  # van has no Chemistry
        # The tags say where each value came from.
        tags = query("SHOW TAG VALUES FROM bm6_value WITH KEY IN (\"host\", \"instance\")")
        pairs = {tuple(v) for v in tags["results"][0]["series"][0]["values"]}
        self.assertIn(("host", HOST), pairs)
        self.assertIn(("instance", "van"), pairs)
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)

    def test_every_influxdb_dashboard_query(self):
        # dashboards/bm6-influxdb.json against what the collectd input stored: every query,
        # Grafana's variables filled in, returns each device that has the value.
        shim = os.environ.get("BM6_MGMT_SHIM")
        self.assertTrue(shim and os.path.exists(shim), "BM6_MGMT_SHIM: the built mgmt shim")
        udp, query = self.start_influxdb()
        block = dashboard_check.fleet_block(self, self.workdir)
        extra = f'LoadPlugin network\n<Plugin network>\n  Server "127.0.0.1" "{udp}"\n</Plugin>\n'
        self.collectd = c = dashboard_check.with_shim(shim, lambda: Collectd(
            self.workdir, block, plugins=("network",), extra_conf=extra))
        # Every value of every device stored, a few times over (differences need two).
        counts = lambda: {tuple(s["tags"].values())[0]: s["values"][0][1] for s in query(
            'SELECT count("value") FROM "bm6_value" GROUP BY "instance"')["results"][0].get(
                "series", [])}
        self.assertTrue(wait_for(lambda: len(counts()) == 3 and min(counts().values()) >= 30,
                                 40), (counts(), c.log_lines("bm6")))
        time.sleep(3)
        dashboard_check.longer_for_pictures()
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)
        values = {"device": dashboard_check.DEVICES, "timeFilter": "time >= now() - 10m",
                  "__interval": "1s"}
        results = []
        for q in grafana_queries.queries(grafana_queries.load("influxdb")):
            text = grafana_queries.fill(q.text, values)
            r = query(text, epoch="ms")["results"][0]
            self.assertNotIn("error", r, text)
            if q.kind == "variable":
                got = sorted(v[1] for v in r["series"][0]["values"])
                self.assertEqual(got, dashboard_check.DEVICES, text)
                continue
            series = {}
            for s in r.get("series", []):
                series[s["tags"]["instance"]] = [(t / 1000, v) for t, v in s["values"]
                                                 if v is not None]
            dashboard_check.check(self, q, series)
            results.append((q, series))
        self.assertGreaterEqual(len(results), 8)
        dashboard_check.keep("influxdb", results)
        print(f"\ninfluxdb dashboard: {len(results)} queries, each with its devices",
              file=sys.stderr)

    def test_graphite_through_write_graphite(self):
        carbon = shutil.which("carbon-cache")
        if not carbon:
            self.fail("carbon-cache not installed (apt-get install graphite-carbon)")
        root = os.path.join(self.workdir, "carbon")
        conf_dir = os.path.join(root, "conf")
        os.makedirs(conf_dir)
        line, pickle, cache = free_port(), free_port(), free_port()
        with open(os.path.join(conf_dir, "carbon.conf"), "w") as f:
            f.write(f"""[cache]
STORAGE_DIR = {root}/storage/
LOCAL_DATA_DIR = {root}/storage/whisper/
WHITELISTS_DIR = {root}/storage/lists/
CONF_DIR = {conf_dir}/
LOG_DIR = {root}/log/
PID_DIR = {root}/run/
ENABLE_LOGROTATION = False
ENABLE_TAGS = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 1000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {cache}
LOG_UPDATES = False
WHISPER_AUTOFLUSH = True
""")
        with open(os.path.join(conf_dir, "storage-schemas.conf"), "w") as f:
            f.write("[everything]\npattern = .*\nretentions = 1s:1h\n")
        self.start_server([carbon, f"--config={conf_dir}/carbon.conf", "--nodaemon",
                           f"--pidfile={root}/carbon.pid", "start"], "carbon.log")

        def carbon_up():
            try:
                socket.create_connection(("127.0.0.1", line), timeout=1).close()
                return True
            except OSError:
                return False

        self.assertTrue(wait_for(carbon_up, 30), "carbon-cache did not start")
        van = self.sim("van", *VAN)
        self.collectd = c = Collectd(
            self.workdir, self.device("van", van), plugins=("write_graphite",),
            extra_conf=f"""LoadPlugin write_graphite
<Plugin write_graphite>
  <Node "carbon">
    Host "127.0.0.1"
    Port "{line}"
    Protocol "tcp"
    Prefix "collectd."
    StoreRates true
  </Node>
</Plugin>
""")
        whisper = os.path.join(root, "storage", "whisper", "collectd", HOST, "bm6-van")

        def values(metric):
            path = os.path.join(whisper, metric + ".wsp")
            if not os.path.exists(path):
                return []
            out = subprocess.run(["whisper-fetch", f"--from={int(time.time()) - 120}", path],
                                 capture_output=True, text=True).stdout
            return [float(v) for _, v in (l.split() for l in out.splitlines()) if v != "None"]

        self.assertTrue(wait_for(lambda: len(values("voltage")) >= 2, 30),
                        "no voltage in whisper: " + str(glob.glob(whisper + "/*")))
        self.assertTrue(wait_for(lambda: values("percent-charged") and values("gauge-state")
                                 and values("temperature"), 10))
        self.assertTrue(all(abs(v - 12.74) < 1e-6 for v in values("voltage")))
        self.assertEqual(set(values("temperature")), {-4.0})
        self.assertEqual(set(values("percent-charged")), {81.0})
        self.assertEqual(set(values("gauge-state")), {2.0})
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)

    def test_rrd_files_and_a_graph(self):
        van = self.sim("van", *VAN)
        rrd = os.path.join(self.workdir, "rrd")
        self.collectd = c = Collectd(
            self.workdir, self.device("van", van), plugins=("rrdtool",),
            extra_conf=f'LoadPlugin rrdtool\n<Plugin rrdtool>\n  DataDir "{rrd}"\n</Plugin>\n')
        files = os.path.join(rrd, HOST, "bm6-van")
        voltage = os.path.join(files, "voltage.rrd")
        soc = os.path.join(files, "percent-charged.rrd")
        self.assertTrue(wait_for(lambda: os.path.exists(voltage) and os.path.exists(soc), 20))
        time.sleep(6)  # a few intervals into the files
        rc, _, err = c.stop()  # collectd flushes its RRD cache on the way out
        self.assertEqual(rc, 0, err)
        for name in ("voltage", "temperature", "percent-charged", "gauge-state"):
            self.assertTrue(os.path.exists(os.path.join(files, name + ".rrd")), name)

        def last(path):
            out = subprocess.run(
                ["rrdtool", "graph", "/dev/null", "--start", "-60", f"DEF:v={path}:value:AVERAGE",
                 "PRINT:v:LAST:%.2lf"], capture_output=True, text=True, check=True).stdout
            return float(out.splitlines()[-1])

        self.assertAlmostEqual(last(voltage), 12.74, places=2)
        self.assertAlmostEqual(last(soc), 81, places=2)
        png = os.path.join(self.workdir, "bm6.png")
        subprocess.run(
            ["rrdtool", "graph", png, "--start", "-60", "--title", "BM6 van",
             f"DEF:v={voltage}:value:AVERAGE", f"DEF:s={soc}:value:AVERAGE",
             "LINE2:v#1f77b4:voltage (V)", "LINE2:s#2ca02c:charged (%)"],
            check=True, capture_output=True)
        with open(png, "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(data), 2000)

    def test_health_counters_survive_a_restart_without_a_spike(self):
        # The health counters restart at 0 with collectd. Dispatched as COUNTER, rrdtool
        # would take the drop for a wrap and store ~4e9/s; as DERIVE (min 0) it stores an
        # unknown. A device dropping its link every ~1 s makes them grow fast; collectd is
        # restarted within the heartbeat, so the drop lands in one RRD update.
        flaky = self.sim("flaky", "--period", "0.3", "--fault", "drop-mid-stream")
        rrd = os.path.join(self.workdir, "rrd")
        extra = (f'LoadPlugin rrdtool\n<Plugin rrdtool>\n  DataDir "{rrd}"\n'
                 "  HeartBeat 60\n</Plugin>\n")
        block = "  ReconnectMin 0.2\n  ReconnectMax 0.5\n" + self.device("flaky", flaky)
        files = os.path.join(rrd, HOST, "bm6-flaky")
        raw = []  # (time, reconnects) as dispatched, from the csv writer of each run
        for run in (1, 2):
            workdir = os.path.join(self.workdir, f"run{run}")
            os.makedirs(workdir)
            self.collectd = c = Collectd(workdir, block, plugins=("rrdtool",), extra_conf=extra)
            self.assertTrue(wait_for(lambda: len(c.rows("flaky", "derive-reconnects")) >= 6
                                     and c.rows("flaky", "derive-reconnects")[-1][1] >= 3, 30),
                            f"run {run}: {c.rows('flaky', 'derive-reconnects')}")
            rc, _, err = c.stop()
            self.assertEqual(rc, 0, err)
            rows = c.rows("flaky", "derive-reconnects")
            if run == 2:  # the counter did start again: the case under test
                self.assertLess(rows[0][1], raw[-1][1], (raw[-1], rows[:3]))
            raw += rows
        for name in ("derive-reconnects", "derive-frames_dropped"):
            path = os.path.join(files, name + ".rrd")
            info = subprocess.run(["rrdtool", "info", path], capture_output=True, text=True,
                                  check=True).stdout
            self.assertIn('ds[value].type = "DERIVE"', info, name)
            self.assertIn("ds[value].min = 0.0", info, name)
            rates = fetch_rates(path)
            self.assertTrue(rates, name)
            print(f"\n{name}: highest rate stored {max(rates):.3g}/s", file=sys.stderr)
            self.assertLessEqual(max(rates), 1000, f"{name}: a spike was stored: {max(rates)}/s")
        self.assertFalse(glob.glob(os.path.join(files, "counter-*")))

        # The same check catches the old type: the values collectd dispatched, written to a
        # COUNTER RRD as collectd would have created it (types.db: counter value:COUNTER:U:U).
        control = os.path.join(self.workdir, "control.rrd")
        t0 = int(raw[0][0]) - 1
        subprocess.run(["rrdtool", "create", control, "--start", str(t0), "--step", "1",
                        "DS:value:COUNTER:60:U:U", "RRA:AVERAGE:0.5:1:3600"], check=True)
        last = t0
        for t, v in raw:
            if int(t) > last:
                last = int(t)
                subprocess.run(["rrdtool", "update", control, f"{last}:{int(v)}"], check=True)
        spike = max(fetch_rates(control))
        print(f"the same values as a COUNTER: {spike:.3g}/s", file=sys.stderr)
        self.assertGreater(spike, 1e6, "a COUNTER would have spiked")

    def test_low_voltage_threshold_raises_a_notification(self):
        # The threshold section of collectd.conf.example, against a battery at 11.5 V.
        van = self.sim("van", "--period", "0.5", "--voltage", "11.50", "--soc", "10")
        self.collectd = c = Collectd(self.workdir, self.device("van", van), plugins=("threshold",),
                                     extra_conf=example_section("An alert when a battery runs low"))
        low = lambda: [l for l in c.log_lines("Notification: severity = FAILURE")
                       if "type = voltage" in l]
        self.assertTrue(wait_for(lambda: low(), 15), c.log_lines("Notification"))
        self.assertIn("plugin_instance = van", low()[0])
        self.assertIn("below the failure threshold of 11.8", low()[0])
        soc = [l for l in c.log_lines("Notification: severity = FAILURE") if "type = percent" in l]
        self.assertTrue(soc and "type_instance = charged" in soc[0], c.log_lines("Notification"))
        rc, _, err = c.stop()
        self.assertEqual(rc, 0, err)

    def test_fleet_sends_encrypted_values_to_a_central_collectd(self):
        # The fleet section of collectd.conf.example: a van sends, encrypted, to a collector.
        port = free_port(socket.SOCK_DGRAM)
        fleet = example_section("A fleet").replace("collector.example.net", "127.0.0.1")
        fleet = fleet.replace('"25826"', f'"{port}"').replace('"0.0.0.0"', '"127.0.0.1"')
        sender_conf, collector_conf = fleet.split("#\n", 1) if "#\n" in fleet else fleet.split(
            "LoadPlugin network", 2)[1:]
        passwd = os.path.join(self.workdir, "passwd")
        with open(passwd, "w") as f:
            f.write("van: a long secret\n")
        collector_conf = collector_conf.replace("/etc/collectd/passwd", passwd)
        central_dir = os.path.join(self.workdir, "central")
        os.makedirs(central_dir)
        central = Collectd(central_dir, "", plugins=("network",),
                           extra_conf="LoadPlugin network\n" + collector_conf)
        van = self.sim("van", *VAN)
        self.collectd = c = Collectd(self.workdir, self.device("van", van), plugins=("network",),
                                     extra_conf="LoadPlugin network\n" + sender_conf)
        try:
            # The collector writes what it received under the sender's host name.
            self.assertTrue(wait_for(lambda: len(central.rows("van", "voltage")) >= 2, 20),
                            central.log_lines(""))
            self.assertEqual({v for _, v in central.rows("van", "voltage")}, {12.74})
            self.assertEqual({v for _, v in central.rows("van", "percent-charged")}, {81.0})
        finally:
            rc_c, _, err_c = central.stop()
            rc, _, err = c.stop()
        self.assertEqual((rc, rc_c), (0, 0), err + err_c)


def fetch_rates(path):
    """The known AVERAGE values of the last ten minutes of an RRD's value DS."""
    out = subprocess.run(["rrdtool", "fetch", path, "AVERAGE", "--start", "-600"],
                         capture_output=True, text=True, check=True).stdout
    rates = []
    for line in out.splitlines():
        if ":" not in line:
            continue
        v = line.split(":", 1)[1].strip()
        if v and v.lower() not in ("nan", "-nan"):
            rates.append(float(v))
    return rates


def example_section(title):
    """The commented section of collectd.conf.example under `# --- <title>`, uncommented."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                        "collectd.conf.example")
    lines, inside = [], False
    with open(path) as f:
        for line in f:
            if line.startswith("# ---"):
                inside = title in line
                continue
            # Config is "#LoadPlugin ..." or indented "#  <Type ...>"; prose is "# Text".
            if inside and line.startswith("#") and (line[1:2] != " " or line[1:3] == "  "):
                lines.append(line[1:])
    if not lines:
        raise AssertionError(f"no section '{title}' in collectd.conf.example")
    return "".join(lines)


if __name__ == "__main__":
    require_built()
    unittest.main(verbosity=2)
