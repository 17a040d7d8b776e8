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
import sys
import time

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
    # Both sides are timed alike: from the end of the same imports to the exit of the process.
    assert "imports" in summary["timing"]
    for side in ("audit", "baseline"):
        times = summary[side]
        assert times["imports_s"] > 0 and 0 < times["wall_s"] < times["process_wall_s"]
        assert abs(times["imports_s"] + times["wall_s"] - times["process_wall_s"]) <= 0.002
        assert 0 < times["cpu_s"] < times["process_cpu_s"]
    assert line["audit_s"] == summary["audit"]["wall_s"]
    assert abs(line["modelled_audit_s"] - (line["audit_requests"] * 0.005 + summary["audit"]["cpu_s"])) <= 0.002
    # 30 of 60 nodes sampled: the loop counts twice, the set-up once
    base = summary["baseline"]
    assert 0 < base["loop_s"] < base["wall_s"]
    assert abs(line["baseline_s"] - (base["wall_s"] + base["loop_s"])) <= 0.002
    assert abs(base["process_wall_s_at_n"] - (base["imports_s"] + line["baseline_s"])) <= 0.003


def test_scaled_baseline_counts_the_loop_per_node_and_the_rest_once():
    bench = _bench()
    times = {"wall_s": 3.0, "cpu_s": 1.5, "imports_s": 0.5, "marks": {"loop": {"loop_s": 2.0, "loop_cpu_s": 1.0}}}
    assert bench.scaled(times, 1.0) == {"wall_s": 3.0, "cpu_s": 1.5, "process_wall_s": 3.5}
    assert bench.scaled(times, 5.0) == {"wall_s": 11.0, "cpu_s": 5.5, "process_wall_s": 11.5}


def test_marks_are_read_from_stderr_among_other_lines():
    bench = _bench()
    stderr = "a warning\n%s{\"mark\": \"ready\", \"at\": 1.5, \"cpu\": 0.25}\nmore\n" % bench.MARK
    assert bench.marks(stderr) == {"ready": {"mark": "ready", "at": 1.5, "cpu": 0.25}}
    assert bench.marks("nothing here\n") == {}


def test_preload_imports_the_whole_list_then_marks_ready():
    bench = _bench()
    assert "kubernetes.client" in bench.PRELOAD and bench.MODULE not in bench.PRELOAD  # runpy runs it afresh
    code = ("import importlib.util, json, sys; spec = importlib.util.spec_from_file_location('b', %r); "
            "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b); "
            "before = set(b.PRELOAD) - set(sys.modules); b.preload(); "
            "print(json.dumps([sorted(before), sorted(set(b.PRELOAD) - set(sys.modules))]))"
            % os.path.join(ROOT, "scripts", "bench_fleet_audit.py"))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=bench.child_env(),
                          timeout=120, check=True)
    missing_before, missing_after = json.loads(proc.stdout)
    assert missing_before == sorted(bench.PRELOAD) and missing_after == []
    ready = bench.marks(proc.stderr)["ready"]
    assert started < ready["at"] < time.monotonic() and ready["cpu"] > 0


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
