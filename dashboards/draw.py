#!/usr/bin/python3
"""Draws a picture of each dashboard from the query results an e2e test kept, laid out as
the dashboard's grid. Grafana is not available here: the pictures are drawn with
matplotlib from the tests' data (simulated monitors), not Grafana screenshots.

  BM6_DASHBOARD_DATA=/tmp/bm6-dash ctest -R 'e2e_prometheus|e2e_forwarding'
  dashboards/draw.py /tmp/bm6-dash    # writes dashboards/bm6-<name>.png
(matplotlib: Debian's python3-matplotlib, hence /usr/bin/python3.)
"""
import datetime
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grafana_queries  # noqa: E402

UNITS = {"volt": "V", "percent": "%", "celsius": "°C", "dBm": "dBm", "s": "s", "short": ""}
COLOURS = {"van": "#1f77b4", "house": "#2ca02c", "boat": "#d62728"}


def state_names(panel):
    for m in panel.get("fieldConfig", {}).get("defaults", {}).get("mappings", []):
        if m.get("type") == "value":
            return {int(k): v["text"] for k, v in m["options"].items()}
    return None


def draw_panel(ax, panel, results):
    names = state_names(panel)
    for r in results:
        for device, points in sorted(r["series"].items()):
            if not points:
                continue
            times = [datetime.datetime.fromtimestamp(t) for t, _ in points]
            label = device + (f" {r['ref_label']}" if r.get("ref_label") else "")
            style = "--" if r["ref"] == "B" else "-"
            draw = ax.step if names else ax.plot
            kwargs = {"where": "post"} if names else {}
            draw(times, [v for _, v in points], style, label=label,
                 color=COLOURS.get(device), linewidth=1.6, **kwargs)
    if names:
        ax.set_yticks(sorted(names))
        ax.set_yticklabels([names[k] for k in sorted(names)])
        ax.set_ylim(-0.5, max(names) + 0.5)
    unit = UNITS.get(results[0]["unit"], results[0]["unit"]) if results else ""
    ax.set_ylabel(unit)
    ax.set_title(panel["title"], fontsize=9, loc="left")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def draw(name, data_dir, out):
    dashboard = grafana_queries.load(name)
    with open(os.path.join(data_dir, name + ".json")) as f:
        data = json.load(f)
    panels = list(grafana_queries.panels(dashboard))
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    fig = plt.figure(figsize=(16, rows * 0.5 + 1))
    grid = fig.add_gridspec(rows, 24, hspace=6, wspace=6, top=0.95)
    for p in panels:
        g = p["gridPos"]
        ax = fig.add_subplot(grid[g["y"]:g["y"] + g["h"], g["x"]:g["x"] + g["w"]])
        results = [r for r in data if r["panel"] == p["title"]]
        if len(results) > 1:  # several targets: say which line is which
            for r, t in zip(results, p["targets"]):
                r["ref_label"] = t.get("legendFormat", t.get("alias", "")).split("}} ")[-1]
                r["ref_label"] = r["ref_label"].replace("$tag_instance ", "")
        draw_panel(ax, p, results)
    fig.suptitle(f"{dashboard['title']}: drawn with matplotlib from the e2e test's data "
                 "(simulated monitors), not a Grafana screenshot", fontsize=10)
    fig.savefig(out, dpi=80, bbox_inches="tight")
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name in grafana_queries.DASHBOARDS:
        out = os.path.join(grafana_queries.HERE, f"bm6-{name}.png")
        draw(name, sys.argv[1], out)
        print(out)


if __name__ == "__main__":
    main()
