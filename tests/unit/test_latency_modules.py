# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.latency_probe and quantbot.hft.validation_report through main()."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest
from module_main import call_main

from ansible_collections.quantbot.hft.plugins.module_utils import _latency
from ansible_collections.quantbot.hft.plugins.modules import latency_probe, validation_report

HERE = os.path.dirname(os.path.abspath(__file__))
LAT = os.path.join(HERE, "fixtures", "latency")
NODE8 = os.path.join(LAT, "node8")


def text(*parts):
    with open(os.path.join(LAT, *parts)) as handle:
        return handle.read()


class Runner:
    """Stands in for AnsibleModule.run_command and records every argv."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []
        self.raw = []

    def __call__(self, args, **kwargs):
        # The probe runs every tool under coreutils timeout; calls holds the tool's own argv.
        self.raw.append(list(args))
        if os.path.basename(args[0]) == "timeout":
            assert args[1] == "--kill-after=10s" and args[2].endswith("s"), args
            args = args[3:]
        self.calls.append(list(args))
        return self.outputs[os.path.basename(args[0])]


def run(capsys, monkeypatch, module, args, runner=None, bins=None):
    bins = bins if bins is not None else {"oslat": "/usr/bin/oslat", "cyclictest": "/usr/bin/cyclictest",
                                          "hwlatdetect": "/usr/sbin/hwlatdetect", "timeout": "/usr/bin/timeout"}
    return call_main(capsys, monkeypatch, module, args, runner or Runner({}), bins)


@pytest.fixture
def node(tmp_path, monkeypatch):
    """node8's procfs copied; the window's sleep swaps in the 'after' files (IRQ 122 on CPU 3)."""
    root = tmp_path / "proc"
    shutil.copytree(os.path.join(NODE8, "proc"), str(root))
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        for src, dest in (("interrupts-irq122-on-cpu3", "interrupts"), ("softirqs", "softirqs"),
                          ("stat-quiet", "stat")):
            shutil.copy(os.path.join(NODE8, "after", src), str(root / dest))
    monkeypatch.setattr(latency_probe.time, "sleep", sleep)
    clock = iter([50.0, 52.5])
    monkeypatch.setattr(_latency, "snapshot",
                        lambda procfs_root, clock_=None, _real=_latency.snapshot: _real(procfs_root, lambda: next(clock)))
    args = {"isolated_cpus": "2-3,6-7", "window": 2.5, "oslat_duration": 5, "procfs_root": str(root),
            "sysfs_root": os.path.join(NODE8, "sys"),
            "cpu_manager_state": os.path.join(NODE8, "kubelet", "cpu_manager_state")}
    return args, slept, root


# --- latency_probe ------------------------------------------------------------------------
def test_probe_in_check_mode_measures_and_changes_nothing(capsys, monkeypatch, node, digest):
    args, slept, root = node
    before = digest(os.path.join(NODE8))
    runner = Runner({"oslat": (0, text("oslat-all-overflow-tcg.txt"), "")})
    code, result = run(capsys, monkeypatch, latency_probe, dict(args, _ansible_check_mode=True), runner)
    assert code == 0 and result["changed"] is False
    assert slept == [2.5]
    assert runner.calls == [["/usr/bin/oslat", "--cpu-list", "2-3", "--cpu-main-thread", "0", "--duration", "5",
                             "-b", "1024", "-B", "-z"]]
    assert result["window"]["seconds"] == 2.5
    assert result["window"]["per_cpu"]["3"]["device_irqs"]["122"]["count"] == 40
    assert result["window"]["per_cpu"]["3"]["device_irqs"]["122"]["per_s"] == 16.0
    assert result["held_cpus"]["6"].endswith("/bot")
    assert {t["comm"] for t in result["tasks"] if t["kind"] == "host"} == {"chronyd", "spin"}
    assert result["oslat"]["per_cpu"]["2"]["unresolved"] == ["p50_us", "p99_us", "p99_9_us"]
    assert "oslat's histogram overflowed on CPU 2,3" in json.dumps(result["warnings"])
    assert digest(os.path.join(NODE8)) == before


def test_probe_result_feeds_both_judges(capsys, monkeypatch, node):
    args, _slept, _root = node
    runner = Runner({"oslat": (0, text("oslat-b64-z-cpu0-1.txt").replace("Core:\t 0 1", "Core:\t 2 3"), "")})
    code, result = run(capsys, monkeypatch, latency_probe, args, runner)
    assert code == 0
    quiet = _latency.isolated_cpus_quiet(result)
    assert "CPU 3: device IRQ 122 (enp65s0-TxRx-1) fired 40 times" in quiet["actual"]["failures"]
    lat = _latency.latency(result)
    assert lat["actual"]["failures"][0] == "CPU 2: max 274573 us > 20 us"


@pytest.mark.parametrize("cpus, needle", [
    ("2-3,5", "isolated_cpus '2-3,5' names CPUs that are not online: 5"),
    ("0,2", "isolated_cpus '0,2' holds CPU 0"),
    ("3-2", "bad cpulist syntax in isolated_cpus: '3-2'"),
    ("2,x", "item 'x'"),
])
def test_probe_refuses_bad_cpu_lists_before_measuring(capsys, monkeypatch, node, cpus, needle):
    args, slept, _root = node
    runner = Runner({})
    code, result = run(capsys, monkeypatch, latency_probe, dict(args, isolated_cpus=cpus), runner)
    assert code == 1 and needle in result["msg"]
    assert slept == [] and runner.calls == []


def test_probe_without_rt_tests_fails_with_the_package_name(capsys, monkeypatch, node):
    args, slept, _root = node
    code, result = run(capsys, monkeypatch, latency_probe, args, bins={})
    assert code == 1 and "install Debian's rt-tests" in result["msg"] and slept == []


def test_probe_bounds_oslat_with_tool_grace(capsys, monkeypatch, node):
    args, _slept, _root = node
    runner = Runner({"oslat": (137, "", "")})
    code, result = run(capsys, monkeypatch, latency_probe, dict(args, tool_grace=45), runner)
    assert runner.raw[0][:4] == ["/usr/bin/timeout", "--kill-after=10s", "50s", "/usr/bin/oslat"]
    assert code == 1 and result["msg"].startswith("oslat did not finish within 50 s (its duration 5 s plus "
                                                  "tool_grace 45 s) and was stopped (SIGTERM, then SIGKILL")


def test_probe_refuses_a_bad_rtprio(capsys, monkeypatch, node):
    args, _slept, _root = node
    code, result = run(capsys, monkeypatch, latency_probe, dict(args, rtprio=120))
    assert code == 1 and result["msg"] == "rtprio 120 is outside 0-99"


def test_probe_reports_an_oslat_failure_with_its_output(capsys, monkeypatch, node):
    args, _slept, _root = node
    runner = Runner({"oslat": (1, "oslat V 2.40\n", "FATAL: oslat: numa_parse_cpustring_all failed.")})
    code, result = run(capsys, monkeypatch, latency_probe, args, runner)
    assert code == 1 and result["msg"].startswith("oslat exited 1: FATAL: oslat: numa_parse_cpustring_all failed.")
    assert "Traceback" not in json.dumps(result)


# --- validation_report -----------------------------------------------------------------------
@pytest.fixture
def probe_result(capsys, monkeypatch, node):
    args, _slept, _root = node
    runner = Runner({"oslat": (0, text("oslat-b64-z-cpu0-1.txt").replace("Core:\t 0 1", "Core:\t 2 3"), "")})
    code, result = run(capsys, monkeypatch, latency_probe, args, runner)
    assert code == 0
    for key in ("changed", "invocation", "warnings"):
        result.pop(key, None)
    return result


def report_args(tmp_path, probe_result, **over):
    checks = [{"check": "label", "ok": True, "expected": "quantbot.io/hft=true", "actual": "quantbot.io/hft=true",
               "hint": ""},
              _latency.isolated_cpus_quiet(probe_result),
              _latency.latency(probe_result, max_us=100000, max_p99_9_us=10000)]
    args = {"dest": str(tmp_path / "reports"), "node": "hft-lab-1", "checks": checks,
            "plan": {"reserved_cpus": "0-1,4-5", "isolated_cpus": "2-3,6-7", "hft_numa_node": 1,
                     "kernel_args": ["isolcpus=managed_irq,2-3,6-7", "nohz_full=2-3,6-7"]},
            "latency": probe_result, "generated_at": "2026-12-01T10:00:00Z"}
    args.update(over)
    return args


def test_report_writes_the_three_files(capsys, monkeypatch, tmp_path, probe_result):
    args = report_args(tmp_path, probe_result)
    code, result = run(capsys, monkeypatch, validation_report, args)
    assert code == 0 and result["changed"] is True
    base = tmp_path / "reports" / "hft-lab-1"
    assert result["directory"] == str(base)
    assert result["files"] == [str(base / n) for n in ("latency.svg", "validation.json", "validation.md")]
    assert result["written"] == result["files"]
    data = json.loads((base / "validation.json").read_text())
    assert data["valid"] is False and data["failed_checks"] == ["isolated_cpus_quiet", "latency"]
    assert [c["check"] for c in data["checks"]] == ["label", "isolated_cpus_quiet", "latency"]
    assert all(set(c) == {"check", "ok", "expected", "actual", "hint"} for c in data["checks"])
    assert data["plan"]["isolated_cpus"] == "2-3,6-7"
    assert data["latency"]["per_cpu"]["3"]["device_irqs"] == 40
    md = (base / "validation.md").read_text()
    assert "| isolated_cpus_quiet | **no** |" in md and "CPU 3: device IRQ 122 (enp65s0-TxRx-1)" in md
    assert "| kernel_args |" in md and "![latency per isolated CPU](latency.svg)" in md
    svg = ET.fromstring((base / "latency.svg").read_text())
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "CPU 2: p99.9 1 us, max 274573 us" in texts and "CPU 3: p99.9 1 us, max 240726 us" in texts
    assert result["summary"]["failed_checks"] == ["isolated_cpus_quiet", "latency"]
    assert result["summary"]["latency"]["3"] == {"held_by": None, "busy_percent": 0.0, "device_irqs": 40,
                                                 "p99_9_us": 1, "max_us": 240726}


def test_report_is_unchanged_when_rewritten_with_the_same_figures(capsys, monkeypatch, tmp_path, probe_result):
    args = report_args(tmp_path, probe_result)
    run(capsys, monkeypatch, validation_report, args)
    code, again = run(capsys, monkeypatch, validation_report, args)
    assert code == 0 and again["changed"] is False and again["written"] == []


def test_report_check_mode_writes_nothing(capsys, monkeypatch, tmp_path, probe_result):
    args = report_args(tmp_path, probe_result, _ansible_check_mode=True)
    code, result = run(capsys, monkeypatch, validation_report, args)
    assert code == 0 and result["changed"] is True
    assert len(result["written"]) == 3
    assert not (tmp_path / "reports").exists()


def test_report_refuses_a_node_name_that_is_a_path(capsys, monkeypatch, tmp_path, probe_result):
    code, result = run(capsys, monkeypatch, validation_report, report_args(tmp_path, probe_result, node="../etc"))
    assert code == 1 and result["msg"].startswith("node '../etc' is not a usable directory name")
    assert not (tmp_path / "reports").exists()


def test_report_refuses_a_record_without_its_keys(capsys, monkeypatch, tmp_path, probe_result):
    code, result = run(capsys, monkeypatch, validation_report,
                       report_args(tmp_path, probe_result, checks=[{"ok": True}]))
    assert code == 1 and "checks[0] is not a check record" in result["msg"]


# --- node_validate with a latency_probe result ------------------------------------------------------
def _node_validate(capsys, monkeypatch, **args):
    from ansible_collections.quantbot.hft.plugins.modules import node_validate
    base = {"node_name": "hft-lab-1", "scope": "host", "host_facts": {}, "gather_host": False}
    base.update(args)
    return call_main(capsys, monkeypatch, node_validate, base, lambda argv, **kw: (127, "", ""), {})


def test_node_validate_judges_a_failed_probe_as_two_failed_checks(capsys, monkeypatch):
    probe = {"failed": False, "failed_when_result": False, "msg": "oslat is not installed on this node"}
    code, result = _node_validate(capsys, monkeypatch, latency=probe)
    assert code == 0 and result["valid"] is False
    failed = dict((f["check"], f["actual"]) for f in result["failures"])
    assert "oslat is not installed" in failed["isolated_cpus_quiet"] and "oslat is not installed" in failed["latency"]


def test_node_validate_without_a_probe_names_the_skipped_checks(capsys, monkeypatch):
    code, result = _node_validate(capsys, monkeypatch)
    assert code == 0
    assert "isolated_cpus_quiet, latency (no latency_probe result)" in result["skipped_checks"]
    assert not [c for c in result["checks"] if c["check"] in ("isolated_cpus_quiet", "latency")]


def test_node_validate_refuses_an_unknown_latency_limit(capsys, monkeypatch):
    code, result = _node_validate(capsys, monkeypatch, latency={"msg": "x"}, latency_limits={"max_ms": 1})
    assert code == 1 and result["failed"] is True
    assert "latency_limits has unknown key(s) max_ms" in result["msg"]
