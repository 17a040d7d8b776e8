# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/bench-fleet-audit.sh at a small size: it runs, is correct, and prints the issue's keys last."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEYS = ["nodes", "audit_s", "baseline_s", "speedup", "audit_requests", "baseline_requests", "correct",
        "modelled_audit_s", "modelled_baseline_s", "modelled_speedup"]


def _bench():
    path = os.path.join(ROOT, "scripts", "bench_fleet_audit.py")
    spec = importlib.util.spec_from_file_location("bench_fleet_audit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_run_prints_the_line_last():
    proc = subprocess.run([os.path.join(ROOT, "scripts", "bench-fleet-audit.sh"), "--nodes", "60",
                           "--baseline-sample", "30"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    summary, line = json.loads(lines[-2]), json.loads(lines[-1])
    assert list(line) == KEYS
    assert line["nodes"] == 60 and line["correct"] is True
    # nodes: 1 list + 1 GET (the unlabelled node), pods: 1 page, the DaemonSet: 1
    assert line["audit_requests"] == 4 == summary["audit"]["module_requests"]["total"]
    assert summary["audit"]["requests"] == {"node_list": 1, "node_get": 1, "pod_list": 1, "daemonset_get": 1}
    # the baseline: 3 requests per node plus the DaemonSet once, scaled from 30 sampled nodes to 60
    assert summary["baseline"]["sampled_nodes"] == 30 and summary["baseline"]["correct_on_sample"] is True
    assert line["baseline_requests"] == 3 * 60 + 1
    assert line["modelled_audit_s"] > line["audit_requests"] * 0.005
    assert line["modelled_baseline_s"] > line["baseline_requests"] * 0.005


def test_sample_keeps_every_broken_node_and_classify():
    bench = _bench()
    names = ["n%03d" % i for i in range(100)]
    expected = {"n007": ["gate"], "n050": ["taint"]}
    picked = bench.sample(names, expected, 10)
    assert set(expected) <= set(picked) and len(picked) == 10 and picked == sorted(picked)
    assert bench.sample(names, expected, 1000) == names
    assert bench.classify("GET", "/api/v1/nodes", {}) == "node_list"
    assert bench.classify("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=n1"}) == "pod_list_by_node"
    assert bench.classify("GET", "/api/v1/namespaces/a/pods/p", {}) == "pod_get"
    assert bench.classify("GET", "/apis/apps/v1/namespaces/a/daemonsets/d", {}) == "daemonset_get"
    assert bench.classify("GET", "/api/v1/nodes/n1/proxy/configz", {}) == "configz"
