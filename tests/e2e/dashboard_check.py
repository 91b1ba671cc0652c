"""What the dashboards' queries must return, shared by the InfluxDB (forwarding_e2e.py) and
Prometheus (prometheus_e2e.py) tests: three simulated monitors that between them carry every
value the plugin dispatches, what each query must give for each of them, and the data the
queries returned, kept for dashboards/draw.py when BM6_DASHBOARD_DATA names a folder."""
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "dashboards"))
import grafana_queries  # noqa: E402  (the tests take it from here)
import harness  # noqa: E402

__all__ = ["grafana_queries", "DEVICES", "EXPECTED", "fleet_block", "with_shim", "check",
           "longer_for_pictures", "keep"]

CAPTURE = os.path.join(HERE, "..", "captures", "rafciq-bm6-16.jsonl")
CAPTURE_ADDRESS = "3C:AB:72:CB:13:F4"
# van: a persistent link, fixed values; house: per-read (time on air), values swinging
# through a 20 s charge cycle (the pictures show movement); boat: passive, the public
# capture's advertisements through the mgmt shim (RSSI; no temperature).
VAN = ("--period", "0.5", "--voltage", "12.74", "--temperature", "-4", "--soc", "81",
       "--state", "charging")
HOUSE = ("--period", "0.5", "--voltage", "13.12", "--temperature", "23", "--soc", "90",
         "--cycle", "20")
DEVICES = ["boat", "house", "van"]


def fleet_block(case, workdir):
    """The <Plugin bm6> block for the three devices (starts van's and house's simulators)."""
    van = case.sim("van", *VAN)
    house = case.sim("house", *HOUSE)
    return (f'  StateDir "{workdir}/state"\n' + case.device("van", van)
            + case.device("house", house, '    Link "per-read"\n')
            + f'  <Device "boat">\n    Address "{CAPTURE_ADDRESS}"\n    Mode "passive"\n'
            f'    Adapter "hci0"\n  </Device>\n')


def with_shim(shim, start):
    """start() with the mgmt shim preloaded and replaying the capture (boat)."""
    return harness.with_mgmt_shim(shim, CAPTURE, start)


def between(lo, hi):
    return lambda v: lo - 1e-9 <= v <= hi + 1e-9


# Per collectd type-instance: the devices that have it and what their values may be.
EXPECTED = {
    "voltage": {"van": between(12.74, 12.74), "house": between(12.72, 13.52),
                "boat": between(12.84, 12.85)},
    "temperature": {"van": between(-4, -4), "house": between(23, 23)},
    "percent-charged": {"van": between(81, 81), "house": between(75, 100),
                        "boat": between(100, 100)},
    "gauge-state": {"van": between(2, 2), "house": lambda v: v in (0, 2),
                    "boat": between(0, 0)},
    "signal_power": {"boat": between(-48, -48)},
    # Healthy links: no reconnect, no frame dropped (a count or an increase of 0).
    "derive-reconnects": {d: between(0, 0) for d in DEVICES},
    "derive-frames_dropped": {d: between(0, 0) for d in DEVICES},
    # The simulator's first frame comes 100 ms after the command; a read that no link
    # came up for since the previous one counts 0.
    "duration-time_on_air": {"house": between(0, 1.0)},
}


def key_of(query):
    """The collectd type(-instance) a dashboard query reads, from its text."""
    m = re.search(r"collectd_bm6_(\w+?)(?:_total|_seconds)?\{([^}]*)\}", query)
    if m:
        ti = re.search(r"\btype=\"(\w+)\"", m.group(2))
        return m.group(1) + ("-" + ti.group(1) if ti else "")
    t = re.search(r"\"type\" = '(\w+)'", query)
    ti = re.search(r"\"type_instance\" = '(\w+)'", query)
    if t:
        return t.group(1) + ("-" + ti.group(1) if ti else "")
    raise AssertionError(f"cannot tell which value {query!r} reads")


def check(case, query, series):
    """series: device -> [(time, value)] as a query returned them. Each device that has the
    value is there with a point, nothing else is, and every value is one it may take."""
    key = key_of(query.text)
    expected = EXPECTED.get(key)
    case.assertIsNotNone(expected, f"{query.panel}: no expectation for {key}: add it here")
    where = f"{query.panel} ({query.ref}): {query.text}"
    case.assertEqual(set(series), set(expected), where)
    for device, points in series.items():
        case.assertTrue(points, f"{where}: no point for {device}")
        bad = [v for _, v in points if not expected[device](v)]
        case.assertEqual(bad, [], f"{where}: {device}")


def longer_for_pictures():
    """When the data is kept for pictures, a minute of it (two of house's charge cycles);
    the test alone needs a few seconds."""
    if os.environ.get("BM6_DASHBOARD_DATA"):
        time.sleep(float(os.environ.get("BM6_DASHBOARD_SECONDS", "60")))


def keep(dashboard, results):
    """results: [(Query, {device: [(t, v)]})] -> BM6_DASHBOARD_DATA/<dashboard>.json."""
    folder = os.environ.get("BM6_DASHBOARD_DATA")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    out = [{"panel": q.panel, "ref": q.ref, "unit": q.unit, "series": s} for q, s in results]
    with open(os.path.join(folder, dashboard + ".json"), "w") as f:
        json.dump(out, f)
