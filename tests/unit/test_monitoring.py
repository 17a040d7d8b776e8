# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""monitoring/: the Grafana dashboard and the alert rules name only metrics the collector writes.

The metric list is _ptpmon.METRICS (the collector cannot write any other family),
so the dashboard, the rules and the collector cannot drift apart. The rule tests
are run by scripts/check-monitoring.sh (promtool test rules); the mutation tests
below prove that they notice a rule that never fires or always fires.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import exposed_names

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(REPO, "monitoring", "grafana", "quantbot-hft.json")
RULES = os.path.join(REPO, "monitoring", "prometheus", "quantbot-hft.rules.yml")
RULE_TESTS = os.path.join(REPO, "monitoring", "prometheus", "tests")

# PromQL words that look like metric names but are not.
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan", "atan2"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'|`[^`]*`")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def metric_names(expr):
    """Metric names in a PromQL expression (or a Grafana ``label_values(expr, label)`` query).

    Strings, label matchers, ranges, grouping label lists, function names,
    keywords, numbers with units (5m, 1e6) and Grafana variables are not names.
    """
    text = _STRING.sub('""', expr)
    label_values = re.match(r"^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", text, re.S)
    if label_values:
        text = label_values.group(1)
    text = re.sub(r"\{[^}]*\}", " ", text)       # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)      # ranges and subqueries, $__rate_interval
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        word, call = match.groups()
        if call or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def dashboard_queries(node, where="dashboard"):
    """(where, query) for every PromQL expression and query variable of a dashboard."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                found.append((where, value))
            elif key == "query" and node.get("type") == "query":
                found.append((where + ".query", value["query"] if isinstance(value, dict) else value))
            else:
                found.extend(dashboard_queries(value, "%s.%s" % (where, node.get("title") or key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(dashboard_queries(item, "%s[%d]" % (where, index)))
    return found


def rule_exprs(path):
    with open(path) as handle:
        doc = yaml.safe_load(handle)
    return [(rule.get("alert") or rule.get("record"), rule["expr"])
            for group in doc["groups"] for rule in group["rules"]]


def unknown_metrics(queries):
    allowed = exposed_names()
    problems = []
    for where, query in queries:
        names = metric_names(query)
        if not names:
            problems.append("%s: names no metric: %s" % (where, query))
        for name in sorted(names - allowed):
            problems.append("%s: %s is not written by the collector" % (where, name))
    return problems


# --- the extractor itself -----------------------------------------------------------
@pytest.mark.parametrize("expr, names", [
    ('quantbot_ptp_port_state{state="SLAVE"} == 0', {"quantbot_ptp_port_state"}),
    ('count by (instance, job, interface) (max_over_time(quantbot_ptp_grandmaster_info[15m])) > 1',
     {"quantbot_ptp_grandmaster_info"}),
    ('rate(quantbot_isolated_cpu_device_interrupts_total{instance=~"$instance"}[$__rate_interval]) > 0',
     {"quantbot_isolated_cpu_device_interrupts_total"}),
    ('a > ignoring(quantile) (b or max without (quantile) (c{quantile="0.99"}) * 0 + 1e6)', {"a", "b", "c"}),
    ('time() - quantbot_collector_last_run_timestamp_seconds offset 5m > 60',
     {"quantbot_collector_last_run_timestamp_seconds"}),
    ('x and on (instance) y{state="by (z)"} unless bool w', {"x", "y", "w"}),
    ('label_values(quantbot_ptp_port_state{instance=~"$instance"}, interface)', {"quantbot_ptp_port_state"}),
    ('sum by (instance) (node:quantbot_x:rate5m)', {"node:quantbot_x:rate5m"}),
])
def test_metric_names(expr, names):
    assert metric_names(expr) == names


def test_the_check_reports_a_metric_the_collector_does_not_write():
    problems = unknown_metrics([("panel A", 'rate(node_cpu_seconds_total[5m]) + quantbot_ptp_offset_ns'),
                                ("panel B", 'quantbot_ptp_offset_abs_ns_count'), ("panel C", "vector(1)")])
    assert problems == ["panel A: node_cpu_seconds_total is not written by the collector",
                        "panel C: names no metric: vector(1)"]


# --- the dashboard ---------------------------------------------------------------------
def test_dashboard_is_valid_json_with_panels_and_variables():
    with open(DASHBOARD) as handle:
        dash = json.load(handle)
    assert dash["uid"] == "quantbot-hft-ptp" and dash["title"]
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert len(panels) >= 10 and all(p.get("targets") for p in panels)
    assert len(set(p["id"] for p in dash["panels"])) == len(dash["panels"])
    assert {v["name"] for v in dash["templating"]["list"]} == {"datasource", "instance", "interface"}


def test_dashboard_names_only_collector_metrics():
    with open(DASHBOARD) as handle:
        queries = dashboard_queries(json.load(handle))
    assert len(queries) >= 15
    assert unknown_metrics(queries) == []


def test_dashboard_shows_every_metric_family():
    with open(DASHBOARD) as handle:
        queries = dashboard_queries(json.load(handle))
    used = set().union(*(metric_names(q) for dummy, q in queries))
    from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import METRICS
    assert {name for name, dummy_kind, dummy_help in METRICS} - used == set()


def test_dashboard_expressions_parse(promtool, tmp_path):
    """Every panel expression is valid PromQL (as promtool sees it in a recording rule)."""
    with open(DASHBOARD) as handle:
        queries = [q for where, q in dashboard_queries(json.load(handle)) if not where.endswith(".query")]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:expr%d" % i, "expr": q.replace("$__rate_interval", "5m")}
        for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the rules -------------------------------------------------------------------------
EXPECTED_ALERTS = {"QuantbotPtpPortNotSlave", "QuantbotPtpOffsetP99High", "QuantbotPtpGrandmasterChanged",
                   "QuantbotPtpTimeNotTraceable", "QuantbotPtpUtcOffsetNotValid", "QuantbotTimeDaemonConflict",
                   "QuantbotIsolatedCpuDeviceInterrupts", "QuantbotCollectorAbsent", "QuantbotCollectorGone",
                   "QuantbotCollectorStale"}


def test_rules_name_only_collector_metrics():
    exprs = rule_exprs(RULES)
    assert {name for name, dummy in exprs} == EXPECTED_ALERTS
    assert unknown_metrics(exprs) == []


def test_every_alert_has_a_promtool_test():
    tested = set()
    for name in os.listdir(RULE_TESTS):
        with open(os.path.join(RULE_TESTS, name)) as handle:
            doc = yaml.safe_load(handle)
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                tested.add((case["alertname"], bool(case["exp_alerts"])))
    for alert in EXPECTED_ALERTS:
        assert (alert, True) in tested, "%s: no case where it fires" % alert
        assert (alert, False) in tested, "%s: no case where it stays silent" % alert


def _promtool_test(promtool, tmp_path, mutate=None):
    """promtool test rules on a copy of monitoring/prometheus, with one alert's expr replaced."""
    root = tmp_path / "prometheus"
    shutil.copytree(os.path.dirname(RULES), str(root))
    if mutate:
        alert, expr = mutate
        path = root / os.path.basename(RULES)
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == alert:
                    rule["expr"] = expr
        path.write_text(yaml.safe_dump(doc))
    tests = sorted(str(p) for p in (root / "tests").glob("*.yml")
                   if not mutate or "alertname: %s\n" % mutate[0] in p.read_text())
    return subprocess.run([promtool, "test", "rules"] + tests, capture_output=True, text=True, check=False,
                          cwd=str(root))


def test_rule_tests_pass(promtool, tmp_path):
    proc = _promtool_test(promtool, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("alert", sorted(EXPECTED_ALERTS))
@pytest.mark.parametrize("kind, expr", [("never fires", "vector(1) > 2"), ("always fires", "vector(1)")])
def test_rule_tests_catch_a_broken_rule(promtool, tmp_path, alert, kind, expr):
    proc = _promtool_test(promtool, tmp_path, mutate=(alert, expr))
    assert proc.returncode != 0, "%s: the tests pass although the rule %s" % (alert, kind)
    assert alert in proc.stdout + proc.stderr
