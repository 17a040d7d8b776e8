# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/_report.py: the evidence bundle's contents, the picture and the writer."""

from __future__ import annotations

import builtins
import json
import math
import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _latency as L
from ansible_collections.quantbot.hft.plugins.module_utils import _report as R

LAT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "latency")
SVG_NS = "{http://www.w3.org/2000/svg}"


def oslat_probe(name="oslat-b64-z-cpu0-1.txt", cpus=("2", "3")):
    with open(os.path.join(LAT, name)) as handle:
        per_cpu = L.oslat_summary(L.parse_oslat(handle.read()))
    per_cpu = dict(zip(cpus, [per_cpu[k] for k in sorted(per_cpu, key=int)]))
    return {"isolated_cpus": "2-3,6-7", "held_cpus": {"6": "uid/bot"},
            "window": {"seconds": 60.0, "per_cpu": {
                "2": {"busy_percent": 0.0, "device_irqs": {}, "other_irqs": {"LOC": {"count": 60, "per_s": 1.0}}},
                "3": {"busy_percent": 0.1, "device_irqs": {"122": {"count": 4, "per_s": 0.067}},
                      "other_irqs": {}},
                "6": {"busy_percent": 100.0, "device_irqs": {}, "other_irqs": {}}}},
            "tasks": [{"kind": "pinned"}, {"kind": "host"}],
            "oslat": {"ran": True, "per_cpu": per_cpu, "duration_s": 60, "bucket_size": 1024, "bias_us": 1,
                      "rule": "auto"}}


def checks():
    return [{"check": "label", "ok": True, "expected": "a|b", "actual": "line1\nline2", "hint": ""},
            {"check": "latency", "ok": False, "expected": {"max_us": 20, "p99_9_us": 10, "on": "x"},
             "actual": {"failures": ["CPU 2: max 274573 us > 20 us"]}, "hint": "look"}]


def svg_texts(svg):
    return " ".join(t.text or "" for t in ET.fromstring(svg).iter(SVG_NS + "text"))


@pytest.mark.parametrize("node", ["hft-node-01", "hft-lab-1", "node.example.com", "a"])
def test_node_names_accepted(node):
    assert R.validate_node(node) == node


@pytest.mark.parametrize("node", ["", "../etc", "a/b", ".hidden", "x..y", "-dash", None])
def test_node_names_refused(node):
    with pytest.raises(R.ReportError, match="not a usable directory name"):
        R.validate_node(node)


def test_latency_summary_joins_window_oslat_and_holders():
    rows = R.latency_summary(oslat_probe())
    assert sorted(rows["per_cpu"]) == ["2", "3", "6"]
    assert rows["per_cpu"]["3"]["device_irqs"] == 4 and rows["per_cpu"]["2"]["loc_per_s"] == 1.0
    assert rows["per_cpu"]["6"]["held_by"] == "uid/bot" and rows["per_cpu"]["6"]["p99_9_us"] is None
    assert rows["per_cpu"]["2"]["max_us"] == 274573
    assert rows["tasks_by_kind"] == {"pinned": 1, "host": 1}


def test_build_report_verdict_and_records():
    report = R.build_report("hft-lab-1", checks(), {"isolated_cpus": "2-3,6-7"}, oslat_probe(), "T")
    assert report["valid"] is False and report["failed_checks"] == ["latency"]
    assert report["generated_at"] == "T" and report["plan"]["isolated_cpus"] == "2-3,6-7"
    assert report["latency_probe"]["oslat"]["ran"] is True
    assert R.build_report("n", [checks()[0]])["valid"] is True
    # No record at all is not a valid node.
    assert R.build_report("n", [])["valid"] is False


def test_markdown_escapes_table_cells_and_names_failures():
    report = R.build_report("hft-lab-1", checks(), {"isolated_cpus": "2-3,6-7"}, oslat_probe(), "T")
    md = R.render_markdown(report, "latency.svg")
    assert "- verdict: **not valid** (failed: latency)" in md
    assert "| label | yes | a\\|b | line1 line2 |  |" in md
    assert "| isolated_cpus | 2-3,6-7 |" in md
    assert "| 6 | uid/bot | 100 % | 0 | - | - | - | - | - | - |" in md
    assert "| 2 | - | 0 % | 0 | 1 | 1 us | 1 us | 1 us | 274573 us | 0.002 % |" in md
    assert md.rstrip().endswith("![latency per isolated CPU](latency.svg)")


def test_markdown_without_plan_or_probe_says_so():
    md = R.render_markdown(R.build_report("n", checks()))
    assert "No plan was given." in md and "No latency probe result was given." in md and "latency.svg" not in md


def test_curve_starts_at_zero_and_ends_at_the_max():
    figures = L.percentiles([[1, 990], [5, 9]], 1, 3000)
    figures["histogram"] = [[1, 990], [5, 9], [32, 1]]
    xs, ys = R._curve(figures)
    assert xs[0] == 0 and ys[0] == 1
    assert math.isclose(xs[1], 2.0) and ys[1] == 5           # 99 % of the samples are at 1 us
    assert math.isclose(xs[2], 3.0) and ys[2] == 3000        # the overflow sample, at the max
    assert math.isclose(xs[-1], 3.0) and ys[-1] == 3000


def test_curve_from_percentiles_only():
    xs, ys = R._curve({"p50_us": 5, "p99_us": 7, "p99_9_us": 9, "max_us": 40})
    assert ys == [5, 7, 9, 40, 40] and xs[0] == 0 and xs[-1] == 4.0


def test_svg_has_one_labelled_series_per_cpu_and_the_thresholds():
    probe = oslat_probe()
    probe["oslat"]["per_cpu"].update(dict(zip(("4", "5"), [
        v for _k, v in sorted(oslat_probe("oslat-all-overflow-tcg.txt", ("4", "5"))["oslat"]["per_cpu"].items())])))
    svg = R.render_svg(probe, {"max_us": 20, "p99_9_us": 10}, "title on hft-lab-1")
    texts = svg_texts(svg)
    for cpu in ("2", "3", "4", "5"):
        assert "CPU %s: p99.9" % cpu in texts
    assert "(100.0% beyond the histogram)" in texts
    assert "p99.9 limit 10 us" in texts and "max limit 20 us" in texts and "title on hft-lab-1" in texts
    # One drawn line per CPU, plus the two threshold lines.
    lines = [g for g in ET.fromstring(svg).iter(SVG_NS + "g") if (g.get("id") or "").startswith("line2d_")]
    assert len([g for g in lines if g.find(SVG_NS + "path") is not None]) >= 6


def test_svg_is_deterministic_and_none_without_figures():
    probe = oslat_probe()
    assert R.render_svg(probe) == R.render_svg(probe)
    assert R.render_svg({"oslat": {"ran": False, "per_cpu": {}}}) is None


def test_bundle_without_matplotlib_writes_json_and_markdown_and_warns(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    directory, contents, report, warnings = R.build_bundle("reports", "hft-lab-1", checks(), None, oslat_probe())
    assert directory == os.path.join("reports", "hft-lab-1")
    assert sorted(contents) == ["validation.json", "validation.md"]
    assert "latency.svg" not in contents["validation.md"]
    assert warnings and "matplotlib is not installed" in warnings[0]


def test_bundle_uses_the_latency_checks_thresholds():
    assert R.thresholds_from(checks()) == {"max_us": 20, "p99_9_us": 10}
    assert R.thresholds_from([checks()[0]]) is None
    _directory, contents, _report, warnings = R.build_bundle("r", "n", checks(), None, oslat_probe())
    assert warnings == [] and "max limit 20 us" in svg_texts(contents["latency.svg"])
    assert json.loads(contents["validation.json"])["node"] == "n"


def test_write_files_check_mode_then_write_then_unchanged(tmp_path, digest):
    target = tmp_path / "reports" / "n"
    contents = {"a.txt": "one\n", "b.txt": "two\n"}
    assert R.write_files(str(target), contents, check_mode=True) == ["a.txt", "b.txt"]
    assert not target.exists()
    assert R.write_files(str(target), contents) == ["a.txt", "b.txt"]
    assert (target / "a.txt").read_text() == "one\n" and oct((target / "a.txt").stat().st_mode & 0o777) == "0o644"
    before = digest(str(target))
    assert R.write_files(str(target), contents) == []
    assert R.write_files(str(target), dict(contents, b="x"), check_mode=True) == ["b"]
    assert digest(str(target)) == before


def test_write_files_names_the_path_it_cannot_write(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(R.ReportError, match="cannot write .*file/n/a.txt"):
        R.write_files(str(blocker / "n"), {"a.txt": "x"})


def test_summary_is_small_and_names_the_failures():
    report = R.build_report("hft-lab-1", checks(), None, oslat_probe(), "T")
    out = R.summary(report, ["reports/hft-lab-1/validation.json"])
    assert out["valid"] is False and out["failed_checks"] == ["latency"] and out["hints"] == {"latency": "look"}
    assert out["latency"]["3"] == {"held_by": None, "busy_percent": 0.1, "device_irqs": 4, "p99_9_us": 1,
                                   "max_us": 240726}
    assert "histogram" not in json.dumps(out)


def test_markdown_cuts_a_huge_cell_and_json_keeps_it():
    records = [{"check": "isolated_cpus_quiet", "ok": False, "expected": {},
                "actual": {"failures": ["CPU 1: stray pid %d (sleep)" % pid for pid in range(1000, 1300)]},
                "hint": "h"}]
    report = R.build_report("n", records)
    md = R.render_markdown(report)
    row = [line for line in md.splitlines() if line.startswith("| isolated_cpus_quiet")][0]
    assert len(row) < 1500 and "more characters in validation.json" in row
    assert "pid 1299" in json.dumps(report)
