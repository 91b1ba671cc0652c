#!/usr/bin/env python3
"""dashboards/grafana_queries.py, which the e2e tests trust to find every query of a
dashboard: targets inside collapsed rows and variables' queries are found, Grafana's
variables are filled as Grafana writes them, and one the tests do not know is an error."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dashboards"))
import grafana_queries as g  # noqa: E402


class GrafanaQueries(unittest.TestCase):
    def test_every_target_also_in_rows_and_the_variables(self):
        dashboard = {
            "templating": {"list": [
                {"name": "DS", "type": "datasource", "query": "prometheus"},
                {"name": "device", "type": "query", "query": {"query": "label_values(m, bm6)"}},
                {"name": "host", "type": "query", "query": "SHOW TAG VALUES WITH KEY = host"}]},
            "panels": [
                {"title": "a",
                 "targets": [{"refId": "A", "expr": "x"}, {"refId": "B", "expr": "y"}]},
                {"title": "row", "type": "row", "panels": [
                    {"title": "b", "fieldConfig": {"defaults": {"unit": "volt"}},
                     "targets": [{"refId": "A", "query": "SELECT 1"}]}]}]}
        got = [(q.kind, q.panel, q.ref, q.text, q.unit) for q in g.queries(dashboard)]
        self.assertEqual(got, [
            ("variable", "variable device", "device", "label_values(m, bm6)", ""),
            ("variable", "variable host", "host", "SHOW TAG VALUES WITH KEY = host", ""),
            ("panel", "a", "A", "x", ""), ("panel", "a", "B", "y", ""),
            ("panel", "b", "A", "SELECT 1", "volt")])

    def test_a_target_without_a_query_is_an_error(self):
        with self.assertRaises(ValueError):
            g.queries({"panels": [{"title": "a", "targets": [{"refId": "A"}]}]})

    def test_fill(self):
        values = {"device": ["van", "a.b"], "__interval": "1s"}
        self.assertEqual(g.fill('m{bm6=~"$device"}[$__interval]', values),
                         r'm{bm6=~"(van|a\.b)"}[1s]')
        self.assertEqual(g.fill("/^${device}$/ ${__interval:raw}", values), r"/^(van|a\.b)$/ 1s")
        with self.assertRaises(KeyError):
            g.fill("$timeFilter", values)

    def test_the_dashboards_hold_queries_for_every_value(self):
        for name in g.DASHBOARDS:
            panels = [q for q in g.queries(g.load(name)) if q.kind == "panel"]
            self.assertGreaterEqual(len(panels), 8, name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
