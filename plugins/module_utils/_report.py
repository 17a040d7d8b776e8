# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evidence bundle of a validated node: validation.json, validation.md and latency.svg.

Pure functions that build the three files' contents from the validation
records, the plan and the latency probe's result, plus one function that
writes them (or says what it would write). No AnsibleModule here; problems
raise :class:`ReportError`.

The picture is drawn with matplotlib (a bare Figure rendered to SVG, no GUI
backend, text kept as text and a fixed hash salt so that the same figures give
the same file).
matplotlib is imported only when a picture is asked for, so that the JSON and
Markdown files do not depend on it.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import io
import json
import math
import os
import re
import tempfile

REPORT_VERSION = 1
FILES = ("validation.json", "validation.md", "latency.svg")
# Per isolated CPU in the set_stats summary.
SUMMARY_KEYS = ("held_by", "busy_percent", "device_irqs", "p99_9_us", "max_us")
_NODE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
# A table cell longer than this is cut in validation.md (validation.json keeps everything).
MD_CELL_LIMIT = 1200
PLAN_KEYS = ("reserved_cpus", "isolated_cpus", "hft_numa_node", "hugepages", "kernel_args", "reboot_required")


class ReportError(ValueError):
    """The report cannot be built or written; the message names the value or the path."""


def validate_node(node):
    if not isinstance(node, str) or not _NODE.match(node) or ".." in node:
        raise ReportError("node %r is not a usable directory name (letters, digits, '.', '_', '-'; no '/' or '..')"
                          % (node,))
    return node


def _by_cpu(mapping):
    return sorted((mapping or {}).items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else -1)


def _count_kinds(tasks):
    counts = {}
    for task in tasks:
        counts[task.get("kind")] = counts.get(task.get("kind"), 0) + 1
    return counts


def latency_summary(probe):
    """Per isolated CPU: who holds it, the window's figures and oslat's percentiles (one flat row each)."""
    probe = probe or {}
    window = (probe.get("window") or {}).get("per_cpu") or {}
    oslat = (probe.get("oslat") or {}).get("per_cpu") or {}
    held = probe.get("held_cpus") or {}
    cpus = sorted(set(window) | set(oslat) | set(held), key=int)
    rows = {}
    for cpu in cpus:
        win = window.get(cpu) or {}
        lat = oslat.get(cpu) or {}
        irqs = win.get("other_irqs") or {}
        rows[cpu] = {
            "held_by": held.get(cpu),
            "busy_percent": win.get("busy_percent"),
            "device_irqs": sum(e.get("count", 0) for e in (win.get("device_irqs") or {}).values()),
            "loc_per_s": (irqs.get("LOC") or {}).get("per_s"),
            "p50_us": lat.get("p50_us"), "p99_us": lat.get("p99_us"), "p99_9_us": lat.get("p99_9_us"),
            "max_us": lat.get("max_us"), "overflow_percent": lat.get("overflow_percent"),
            "unresolved": lat.get("unresolved") or [],
        }
    return {
        "window_s": (probe.get("window") or {}).get("seconds"),
        "oslat": dict((k, (probe.get("oslat") or {}).get(k)) for k in
                      ("ran", "skipped", "duration_s", "bucket_size", "bias_us", "rule", "version")),
        "tasks_by_kind": _count_kinds(probe.get("tasks") or []),
        "per_cpu": rows,
    }


def build_report(node, checks, plan=None, probe=None, generated_at=None):
    """The content of validation.json."""
    validate_node(node)
    records = []
    for i, check in enumerate(checks or []):
        if not isinstance(check, dict) or "check" not in check or "ok" not in check:
            raise ReportError("checks[%d] is not a check record {check, ok, expected, actual, hint}: %r"
                              % (i, check))
        records.append(dict((k, check.get(k, "")) for k in ("check", "ok", "expected", "actual", "hint")))
    failures = [r for r in records if not r["ok"]]
    return {
        "report_version": REPORT_VERSION, "node": node, "generated_at": generated_at,
        "valid": bool(records) and not failures, "checks": records,
        "failed_checks": [r["check"] for r in failures],
        "plan": plan or {}, "latency": latency_summary(probe), "latency_probe": probe or {},
    }


def _cell(value, limit=MD_CELL_LIMIT):
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True)
    if limit and len(text) > limit:
        text = text[:limit] + " ... (%d more characters in validation.json)" % (len(text) - limit)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        value = ("%.3f" % value).rstrip("0").rstrip(".")
    return "%s%s" % (value, unit)


def render_markdown(report, picture=None):
    """validation.md: verdict, the checks as a table, the plan, the latency summary and the picture."""
    out = ["# HFT validation of %s" % report["node"], ""]
    verdict = "**valid**" if report["valid"] else "**not valid** (failed: %s)" % ", ".join(report["failed_checks"])
    out += ["- verdict: %s" % verdict]
    if report.get("generated_at"):
        out += ["- generated: %s" % report["generated_at"]]
    out += ["- checks: %d, failed: %d" % (len(report["checks"]), len(report["failed_checks"])), "",
            "## Checks", "", "| check | ok | expected | actual | hint |", "| --- | --- | --- | --- | --- |"]
    for rec in report["checks"]:
        ok = "yes" if rec["ok"] else "**no**"
        out.append("| %s | %s | %s | %s | %s |" % (
            _cell(rec["check"]), ok, _cell(rec["expected"]), _cell(rec["actual"]), _cell(rec["hint"])))
    out += ["", "## Plan", ""]
    plan = report.get("plan") or {}
    if plan:
        out += ["| key | value |", "| --- | --- |"]
        for key in PLAN_KEYS:
            if key in plan:
                out.append("| %s | %s |" % (key, _cell(plan[key], limit=None)))
    else:
        out.append("No plan was given.")
    lat = report["latency"]
    out += ["", "## Latency of the isolated CPUs", ""]
    if not lat["per_cpu"]:
        out.append("No latency probe result was given.")
    else:
        oslat = lat["oslat"]
        if oslat.get("ran"):
            how = "%s s, %s buckets of 1 us from %s us (%s)" % (
                oslat["duration_s"], oslat["bucket_size"], _fmt((oslat.get("bias_us") or 0) + 1), oslat["rule"])
        else:
            how = "not run (%s)" % (oslat.get("skipped") or "no result")
        out.append("Window: %s s. oslat: %s." % (_fmt(lat["window_s"]), how))
        out += ["", "| CPU | held by | busy | device IRQs | LOC/s | p50 | p99 | p99.9 | max | overflow |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for cpu, row in _by_cpu(lat["per_cpu"]):
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                cpu, _cell(row["held_by"] or "-"), _fmt(row["busy_percent"], " %"), row["device_irqs"],
                _fmt(row["loc_per_s"]), _fmt(row["p50_us"], " us"), _fmt(row["p99_us"], " us"),
                _fmt(row["p99_9_us"], " us") + (" (>= histogram)" if "p99_9_us" in row["unresolved"] else ""),
                _fmt(row["max_us"], " us"), _fmt(row["overflow_percent"], " %")))
        out += ["", "Percentiles are oslat bucket labels (upper bounds within 1 us); one beyond the histogram's last "
                "bucket is shown as the max."]
    if picture:
        out += ["", "![latency per isolated CPU](%s)" % picture]
    return "\n".join(out) + "\n"


def _curve(figures):
    """Step points (x, y) of the percentile curve of an oslat histogram.

    x is the share of samples below, on a scale of nines (``-log10(1 - F)``:
    0 is 0 %, 2 is 99 %, 3 is 99.9 %), y the latency in us. Bucket i's label
    holds from the share below it to the share up to it; the samples beyond
    the histogram's last bucket are drawn at the max, the bound they are known by.
    """
    hist = figures.get("histogram") or []
    total = sum(count for _value, count in hist)
    if total <= 0:
        points = [(0.0, figures.get("p50_us")), (0.5, figures.get("p99_us")), (0.99, figures.get("p99_9_us")),
                  (0.999, figures.get("max_us"))]
        points = [(-math.log10(1 - f), v) for f, v in points if v is not None]
        if not points:
            return [], []
        return [x for x, _y in points] + [4.0], [y for _x, y in points] + [points[-1][1]]

    def nines(fraction):
        return -math.log10(max(1.0 - fraction, 1.0 / total))

    xs, ys, below = [], [], 0
    for value, count in hist[:-1]:
        if count:
            xs.append(nines(below / total))
            ys.append(value)
            below += count
    overflow = hist[-1][1]
    if overflow:
        xs.append(nines(below / total))
        ys.append(figures.get("max_us") if figures.get("max_us") is not None else hist[-1][0])
    xs.append(nines(1.0))
    ys.append(ys[-1])
    return xs, ys


def render_svg(probe, thresholds=None, title=None):
    """latency.svg: oslat's percentile curve, one series per measured isolated CPU; None without figures.

    ``thresholds``: ``{max_us, p99_9_us}`` drawn as reference lines.
    """
    per_cpu = ((probe or {}).get("oslat") or {}).get("per_cpu") or {}
    if not per_cpu:
        return None
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot, no GUI backend: the figure renders straight to SVG

    params = {"svg.hashsalt": "quantbot.hft", "svg.fonttype": "none"}
    with matplotlib.rc_context(params):
        fig = Figure(figsize=(11, 5))
        axes = fig.add_subplot(1, 1, 1)
        styles = ("-", "--", "-.")
        colors = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color") or ["C0"]
        for index, (cpu, figures) in enumerate(_by_cpu(per_cpu)):
            xs, ys = _curve(figures)
            label = "CPU %s: p99.9 %s us, max %s us" % (cpu, figures.get("p99_9_us"), figures.get("max_us"))
            if figures.get("unresolved"):
                label += " (%s%% beyond the histogram)" % figures.get("overflow_percent")
            axes.step(xs, ys, where="post", marker="o", markersize=3, label=label,
                      color=colors[index % len(colors)], linestyle=styles[(index // len(colors)) % len(styles)])
        for key, style, name in (("p99_9_us", ":", "p99.9 limit"), ("max_us", "--", "max limit")):
            if thresholds and thresholds.get(key) is not None:
                axes.axhline(thresholds[key], linestyle=style, color="grey", linewidth=1,
                             label="%s %s us" % (name, thresholds[key]))
        ticks = [0.30103, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        labels = ["50%", "90%", "99%", "99.9%", "99.99%", "99.999%", "6 nines", "7 nines", "8 nines",
                  "9 nines", "10 nines"]
        top = max(max(_curve(f)[0] or [1]) for f in per_cpu.values())
        keep = [i for i, t in enumerate(ticks) if t <= max(top, 3) + 0.01]
        axes.set_xticks([ticks[i] for i in keep])
        axes.set_xticklabels([labels[i] for i in keep])
        axes.set_xlim(left=0)
        axes.set_yscale("log")
        axes.set_xlabel("percentile of samples")
        axes.set_ylabel("latency (us, oslat)")
        axes.set_title(title or "oslat latency per isolated CPU")
        axes.grid(True, which="both", linewidth=0.3)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
        fig.tight_layout()
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def summary(report, files):
    """The small summary the playbook hands to set_stats (AWX keeps artifacts, not the files)."""
    lat = report["latency"]
    return {
        "node": report["node"], "valid": report["valid"], "generated_at": report.get("generated_at"),
        "checks": len(report["checks"]), "failed_checks": report["failed_checks"],
        "hints": dict((r["check"], r["hint"]) for r in report["checks"] if not r["ok"]),
        "latency": dict((cpu, dict((k, row[k]) for k in SUMMARY_KEYS)) for cpu, row in _by_cpu(lat["per_cpu"])),
        "files": files,
    }


def _current(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_files(directory, contents, check_mode=False):
    """Write ``{name: text}`` under ``directory`` (created if needed); returns the names whose content changed.

    In check mode nothing is written or created; the names that would change are returned.
    """
    changed = []
    for name, text in sorted(contents.items()):
        data = text.encode("utf-8")
        path = os.path.join(directory, name)
        if _current(path) == data:
            continue
        changed.append(name)
        if check_mode:
            continue
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory)
            handle, tmp = tempfile.mkstemp(prefix=".%s." % name, dir=directory)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except (IOError, OSError) as exc:
            raise ReportError("cannot write %s: %s" % (path, getattr(exc, "strerror", None) or exc))
    return changed


def thresholds_from(checks):
    """The latency check's thresholds ``{max_us, p99_9_us}``, if a latency record is among the checks."""
    for rec in checks or []:
        if isinstance(rec, dict) and rec.get("check") == "latency" and isinstance(rec.get("expected"), dict):
            return dict((k, rec["expected"].get(k)) for k in ("max_us", "p99_9_us"))
    return None


def build_bundle(dest, node, checks, plan=None, probe=None, generated_at=None, picture=True):
    """``(directory, {file name: content}, report, warnings)`` for ``dest/node``."""
    directory = os.path.join(dest, validate_node(node))
    report = build_report(node, checks, plan, probe, generated_at)
    warnings, svg = [], None
    if picture and (probe or {}).get("oslat", {}).get("per_cpu"):
        try:
            svg = render_svg(probe, thresholds_from(checks), "oslat latency per isolated CPU on %s" % node)
        except ImportError:
            warnings.append("matplotlib is not installed on the controller: latency.svg not written "
                            "(pip install matplotlib, see requirements.txt)")
    contents = {"validation.json": json.dumps(report, indent=2, sort_keys=True) + "\n",
                "validation.md": render_markdown(report, "latency.svg" if svg else None)}
    if svg:
        contents["latency.svg"] = svg
    return directory, contents, report, warnings
