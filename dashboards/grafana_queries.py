"""Every query a Grafana dashboard of this folder holds, and Grafana's variables filled in as
Grafana would, so that the e2e tests run each one against the real database
(tests/e2e/prometheus_e2e.py, tests/e2e/forwarding_e2e.py) and draw.py draws them. A query
added to a dashboard is picked up here, and so tested, without touching the tests."""
import json
import os
import re
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARDS = {"prometheus": os.path.join(HERE, "bm6-prometheus.json"),
              "influxdb": os.path.join(HERE, "bm6-influxdb.json")}


@dataclass
class Query:
    panel: str  # the panel's title ("variable NAME" for a template variable's query)
    ref: str  # the target's refId
    text: str  # as the dashboard holds it, variables not filled in
    unit: str  # the panel's unit (Grafana's name for it), "" when none
    kind: str  # "panel" or "variable"


def load(name):
    with open(DASHBOARDS[name]) as f:
        return json.load(f)


def panels(dashboard):
    """Every panel, also those inside collapsed rows."""
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


def queries(dashboard):
    """The template variables' queries, then every target of every panel."""
    out = []
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        text = q.get("query") if isinstance(q, dict) else q
        out.append(Query(f"variable {v['name']}", v["name"], text, "", "variable"))
    for p in panels(dashboard):
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        for t in p.get("targets", []):
            text = t.get("expr") if "expr" in t else t.get("query")
            if not text:
                raise ValueError(f"panel {p.get('title')!r} target {t.get('refId')}: no query")
            out.append(Query(p["title"], t.get("refId", "A"), text, unit, "panel"))
    return out


def fill(text, values):
    """`text` with Grafana's variables replaced by `values` (name -> string, or a list for a
    multi-value variable, which Grafana writes as a regex alternation "(a|b)"). A variable
    left over is an error: a dashboard may not use one the tests do not know."""
    def one(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"variable ${name} in {text!r}: the test does not fill it")
        v = values[name]
        if isinstance(v, (list, tuple)):
            return "(" + "|".join(re.escape(x) for x in v) + ")"
        return str(v)
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", one, text)
