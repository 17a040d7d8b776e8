# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Latency on the isolated CPUs: rt-tests output, percentiles, the probe's run, and the two judges.

Pure functions over plain data (no AnsibleModule); problems raise
:class:`LatencyError`, a :class:`ValidateError`, with a message that names the
value. Four parts:

* parsers for rt-tests 2.4 as Debian bookworm ships it: ``oslat`` (the
  per-thread table and its histogram), ``cyclictest`` (``-q`` summary lines and
  the ``-h`` histogram) and ``hwlatdetect``;
* percentiles from a histogram, and the rule that picks oslat's histogram;
* :func:`run_probe`, what ``quantbot.hft.latency_probe`` does on the node,
  with the commands, the clock and the sleep passed in;
* the judges :func:`isolated_cpus_quiet` and :func:`latency`, which turn the
  probe's result into the project's check records ``{check, ok, expected,
  actual, hint}``.

**oslat's histogram (rt-tests 2.4).** Every bucket is 1 us wide and the width
cannot be changed: ``-b/--bucket-size`` sets the number of buckets (5 to
1024) and ``-B`` is ``--bias`` (it takes no value: it starts the histogram
at the smallest latency seen during oslat's 1 s pre-heat). oslat rounds each
sample up to whole microseconds (``us = floor(cycles / MHz) + 1``); the bucket
labelled ``L (us)`` holds the samples of L us, that is latencies in
[L-1, L) us. With a bias B the first bucket also holds every sample below its
label, and the last bucket, ``L (us) (including overflows)`` with
``L = B + bucket_size``, holds every sample of L us or more. So a percentile
is the label of the first bucket where the cumulative count reaches its rank
(nearest rank, ``ceil(p * N)``), an upper bound within 1 us, reported in the
same rounding as oslat's own Minimum and Maximum. A rank that falls in the
last bucket is not resolved by the histogram: it is reported as the CPU's
Maximum (an upper bound, so a judge can only err on the safe side) and named
in ``unresolved``.

**The bucket rule.** Under software emulation most samples would overflow
oslat's default 32 buckets. Since the width is fixed, the widest window oslat
2.4 can give is 1024 buckets starting at the pre-heat minimum, and that is
what ``auto`` picks (``-b 1024 -B``, with ``-z`` so that empty buckets are
not printed). When the last bucket still holds samples the result says so per
CPU (``overflow``, ``overflow_percent``, ``unresolved``).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re

from ansible_collections.quantbot.hft.plugins.module_utils._procstat import (
    KIND_PINNED,
    KIND_SANDBOX,
    TASK_KINDS,
    ProcStatError,
    cpu_holders,
    diff_snapshots,
    format_cpulist,
    parse_cpulist,
    read_cpu_manager_state,
    scan_tasks,
    snapshot,
)
from ansible_collections.quantbot.hft.plugins.module_utils._validate import ValidateError, record

OSLAT_MIN_BUCKETS = 5
OSLAT_MAX_BUCKETS = 1024
OSLAT_DEFAULT_BUCKETS = 32
# (key, numerator, denominator): nearest-rank percentiles, exact in integers.
PERCENTILES = (("p50_us", 1, 2), ("p99_us", 99, 100), ("p99_9_us", 999, 1000))

# Production thresholds (issue 12): on every isolated CPU, max <= 20 us and p99.9 <= 10 us.
DEFAULT_MAX_US = 20
DEFAULT_MAX_P99_9_US = 10
# A free isolated CPU should be idle: at most 1 % of the window busy.
DEFAULT_MAX_BUSY_PERCENT = 1.0
DEFAULT_TOOL_GRACE_S = 120  # seconds a tool may run past its own duration before the probe stops it
# Per isolated CPU, per second. nohz_full stops the tick on an idle or
# single-task CPU (about 1/s remains), while a ticking CPU shows HZ (100 to
# 1000) local timer interrupts per second; rescheduling, function-call and
# TLB-shootdown IPIs should be rare there. Other named interrupts and every
# softirq are reported without a threshold unless one is given.
DEFAULT_IRQ_RATES = {"LOC": 20.0, "RES": 1.0, "CAL": 1.0, "TLB": 1.0}
DEFAULT_SOFTIRQ_RATES = {}
DEFAULT_ALLOWED_KINDS = (KIND_PINNED, KIND_SANDBOX)
# The per-CPU oslat figures the latency record shows.
JUDGED_KEYS = ("p50_us", "p99_us", "p99_9_us", "max_us", "overflow_percent", "unresolved")

_OSLAT_VERSION = re.compile(r"^oslat V\s*([0-9.]+)")
_OSLAT_ROW = re.compile(r"^\s*([A-Za-z][A-Za-z -]*?|[0-9]+ \(us\)):\s*(.*?)\s*$")
_OSLAT_BUCKET = re.compile(r"^([0-9]+) \(us\)$")
_CYC_SUMMARY = re.compile(r"^T:\s*([0-9]+)\s*\(\s*([0-9]+)\)\s*P:\s*([0-9]+)\s*I:\s*([0-9]+)\s*C:\s*([0-9]+)\s*"
                          r"Min:\s*([0-9]+)\s*Act:\s*([0-9]+)\s*Avg:\s*([0-9]+)\s*Max:\s*([0-9]+)")
_HWLAT_SAMPLE = re.compile(r"^ts:\s*(\S+),\s*inner:\s*([0-9]+),\s*outer:\s*([0-9]+)")


class LatencyError(ValidateError):
    """Unusable input or tool output; the message names the value."""


def _cpus(text, what):
    try:
        return parse_cpulist(text, what)
    except ProcStatError as exc:
        raise LatencyError(str(exc))


# --------------------------------------------------------------------------
# the CPUs to probe
# --------------------------------------------------------------------------
def validate_isolated_cpus(text, online_text):
    """The isolated CPUs as a sorted list; refuses a malformed, empty, backwards or offline set, and CPU 0."""
    if not isinstance(text, str) or not text.strip():
        raise LatencyError("isolated_cpus is empty: give the plan's isolated CPUs, e.g. \"2-3,6-7\"")
    cpus = _cpus(text, "isolated_cpus")
    online = set(_cpus(online_text or "", "the online CPU list"))
    if 0 in cpus:
        raise LatencyError("isolated_cpus %r holds CPU 0, which stays a housekeeping CPU (boot CPU, timers, "
                           "unmovable IRQs)" % text)
    offline = [cpu for cpu in cpus if cpu not in online]
    if offline:
        raise LatencyError("isolated_cpus %r names CPUs that are not online: %s (online: %s)"
                           % (text, format_cpulist(offline), format_cpulist(online)))
    return cpus


def target_cpus(isolated, state):
    """Split the isolated CPUs into the ones no pod holds (``free``) and ``held`` ``{"cpu": "podUID/container"}``."""
    holders = cpu_holders(state)
    held = dict((str(cpu), holders[cpu]) for cpu in isolated if cpu in holders)
    free = [cpu for cpu in isolated if cpu not in holders]
    return free, held


def housekeeping_cpu(online, isolated):
    """The lowest online CPU that is not isolated (oslat's main thread and cyclictest's main thread)."""
    rest = sorted(set(online) - set(isolated))
    if not rest:
        raise LatencyError("every online CPU is isolated: no housekeeping CPU left for the tools' main thread")
    return rest[0]


# --------------------------------------------------------------------------
# oslat
# --------------------------------------------------------------------------
def oslat_histogram(bucket_size="auto", bias="auto"):
    """The histogram oslat is asked for: ``{bucket_size, bias, args, rule}`` (see the module docstring)."""
    if bucket_size in (None, "auto"):
        size = OSLAT_MAX_BUCKETS
        rule = "auto: the widest window oslat 2.4 allows (1024 buckets of 1 us)"
    else:
        try:
            size = int(str(bucket_size))
        except ValueError:
            raise LatencyError("bucket_size %r is neither 'auto' nor a number of buckets" % (bucket_size,))
        if not OSLAT_MIN_BUCKETS <= size <= OSLAT_MAX_BUCKETS:
            raise LatencyError("bucket_size %r is outside oslat's %d-%d buckets"
                               % (bucket_size, OSLAT_MIN_BUCKETS, OSLAT_MAX_BUCKETS))
        rule = "given: %d buckets of 1 us" % size
    if bias in (None, "auto"):
        use_bias = True
        rule += ", starting at the pre-heat minimum (-B)"
    elif isinstance(bias, bool):
        use_bias = bias
        rule += ", starting at the pre-heat minimum (-B)" if bias else ", starting at 1 us"
    else:
        raise LatencyError("bias %r is neither 'auto' nor a boolean" % (bias,))
    args = ["-b", str(size)] + (["-B"] if use_bias else []) + ["-z"]
    return {"bucket_size": size, "bias": use_bias, "args": args, "rule": rule}


def oslat_argv(oslat, cpus, main_cpu, duration_s, histogram, rtprio=0):
    argv = [oslat, "--cpu-list", format_cpulist(cpus), "--cpu-main-thread", str(main_cpu),
            "--duration", "%d" % int(duration_s)]
    if rtprio:
        argv += ["--rtprio", str(int(rtprio))]
    return argv + list(histogram["args"])


def _numbers(text, what):
    tokens = text.split()
    values = []
    for token in tokens:
        if token.startswith("("):
            break
        try:
            values.append(float(token) if "." in token else int(token))
        except ValueError:
            raise LatencyError("oslat output: %s has %r, not a number" % (what, token))
    return values


def parse_oslat(text):
    """oslat 2.4 output as ``{version, bias_us, cpus, per_cpu: {"N": {...}}}``.

    Per CPU: ``buckets`` [[label_us, count], ...] (the printed buckets, the
    last one being the overflow bucket), ``overflow_from_us`` (its label),
    ``bucket_size``, ``counter_mhz``, ``min_us``, ``avg_us``, ``max_us``,
    ``duration_s``. oslat's Average counts thread 0's overflow sum in every
    thread (rt-tests 2.4), so use it for a one-CPU run only.
    """
    lines = (text or "").splitlines()
    version, bias = None, 0
    for line in lines:
        stripped = line.strip()
        match = _OSLAT_VERSION.match(stripped)
        if match:
            version = match.group(1)
        if stripped.startswith("Global bias set to"):
            bias = int(stripped.split()[4])
        if stripped.startswith(("FATAL", "ERROR", "Illegal", "Bucket ", "Accumulated overflow")):
            raise LatencyError("oslat failed: %s" % stripped)
    rows, table = {}, False
    buckets = []
    for line in lines:
        match = _OSLAT_ROW.match(line)
        if not match:
            continue
        label, values = match.group(1).strip(), match.group(2)
        if label == "Core":
            table = True
        if not table:
            continue
        bucket = _OSLAT_BUCKET.match(label)
        if bucket:
            buckets.append((int(bucket.group(1)), _numbers(values, label), "including overflows" in values))
        else:
            rows[label] = _numbers(values, label)
    if "Core" not in rows:
        raise LatencyError("oslat output has no result table (no 'Core:' line): %r"
                           % (text or "").strip()[-300:])
    cpus = rows["Core"]
    for label in ("Minimum", "Maximum"):
        if len(rows.get(label) or []) != len(cpus):
            raise LatencyError("oslat output: %s has %d values for %d CPUs" % (label, len(rows.get(label) or []),
                                                                               len(cpus)))
    if not buckets or not buckets[-1][2]:
        raise LatencyError("oslat output has no overflow bucket line ('(including overflows)')")
    freq = rows.get("Counter Freq") or rows.get("CPU Freq") or [None] * len(cpus)
    per_cpu = {}
    for i, cpu in enumerate(cpus):
        hist = []
        for label, values, _last in buckets:
            if len(values) != len(cpus):
                raise LatencyError("oslat output: bucket %d has %d counts for %d CPUs" % (label, len(values),
                                                                                          len(cpus)))
            hist.append([label, values[i]])
        per_cpu[str(cpu)] = {
            "buckets": hist, "overflow_from_us": buckets[-1][0], "bucket_size": buckets[-1][0] - bias,
            "counter_mhz": freq[i] if i < len(freq) else None,
            "min_us": rows["Minimum"][i], "max_us": rows["Maximum"][i],
            "avg_us": (rows.get("Average") or [None] * len(cpus))[i],
            "duration_s": (rows.get("Duration") or [None] * len(cpus))[i],
        }
    return {"version": version, "bias_us": bias, "cpus": format_cpulist(cpus), "per_cpu": per_cpu}


def percentiles(buckets, overflow, max_us):
    """Nearest-rank p50/p99/p99.9 of a histogram, and its max.

    ``buckets``: [[value_us, count], ...] in increasing value, the in-range
    buckets only; ``overflow``: the count of samples beyond them; ``max_us``:
    the largest sample. A rank beyond the in-range buckets is reported as
    ``max_us`` and named in ``unresolved``.
    """
    total = sum(count for _value, count in buckets) + overflow
    if total <= 0:
        raise LatencyError("the histogram holds no samples")
    out = {"samples": total, "overflow": overflow,
           "overflow_percent": round(100.0 * overflow / total, 4), "unresolved": []}
    for key, num, den in PERCENTILES:
        rank = -(-total * num // den)  # ceil(total * p)
        seen, value = 0, None
        for bucket_value, count in buckets:
            seen += count
            if seen >= rank:
                value = bucket_value
                break
        if value is None:
            value = max_us
            out["unresolved"].append(key)
        out[key] = value
    out["max_us"] = max_us
    return out


def oslat_summary(parsed):
    """Per CPU: percentiles (:func:`percentiles`, the last bucket as overflow), min, avg, and the histogram."""
    per_cpu = {}
    for cpu, figures in sorted(parsed["per_cpu"].items(), key=lambda kv: int(kv[0])):
        buckets = figures["buckets"]
        try:
            result = percentiles(buckets[:-1], buckets[-1][1], figures["max_us"])
        except LatencyError:
            raise LatencyError("oslat recorded no samples on CPU %s" % cpu)
        result.update(min_us=figures["min_us"], avg_us=figures["avg_us"], duration_s=figures["duration_s"],
                      overflow_from_us=figures["overflow_from_us"], histogram=buckets)
        per_cpu[cpu] = result
    return per_cpu


# --------------------------------------------------------------------------
# cyclictest and hwlatdetect
# --------------------------------------------------------------------------
def cyclictest_argv(cyclictest, cpus, main_cpu, duration_s, histogram_us=1000, priority=95, interval_us=200):
    return [cyclictest, "--quiet", "--mlockall", "--priority", str(priority), "--threads",
            "--affinity", format_cpulist(cpus), "--mainaffinity", str(main_cpu), "--interval", str(interval_us),
            "--duration", "%d" % int(duration_s), "--histogram", str(histogram_us)]


def parse_cyclictest(text, cpus):
    """cyclictest ``-q`` output (summary lines, or the ``-h`` histogram) as ``{per_cpu: {"N": {...}}}``.

    Thread i ran on the i-th CPU of ``cpus`` (``--threads --affinity`` places
    one thread per CPU of the set, in order). Histogram bucket i holds the
    samples of i us (cyclictest truncates to whole microseconds); samples of
    the histogram size or more are counted as overflows.
    """
    cpus = list(cpus)
    threads, hist, summary = {}, [], {}
    for line in (text or "").splitlines():
        stripped = line.strip()
        match = _CYC_SUMMARY.match(stripped)
        if match:
            thread = int(match.group(1))
            summary[thread] = {"samples": int(match.group(5)), "min_us": int(match.group(6)),
                               "avg_us": int(match.group(8)), "max_us": int(match.group(9))}
        elif stripped.startswith("# "):
            key, _sep, values = stripped[2:].partition(":")
            if key in ("Min Latencies", "Avg Latencies", "Max Latencies", "Histogram Overflows", "Total"):
                threads[key] = [int(v) for v in values.split()]
        elif stripped and stripped[0].isdigit():
            values = [int(v) for v in stripped.split()]
            hist.append(values)
        elif stripped.startswith(("ERROR", "FATAL", "Unable", "cyclictest:")):
            raise LatencyError("cyclictest failed: %s" % stripped)
    per_cpu = {}
    if "Max Latencies" in threads:
        count = len(threads["Max Latencies"])
        for i in range(count):
            buckets = [[row[0], row[i + 1]] for row in hist if len(row) > i + 1]
            overflow = (threads.get("Histogram Overflows") or [0] * count)[i]
            result = percentiles(buckets, overflow, threads["Max Latencies"][i])
            result.update(min_us=threads["Min Latencies"][i], avg_us=threads["Avg Latencies"][i])
            per_cpu[str(cpus[i] if i < len(cpus) else i)] = result
    else:
        for i, figures in sorted(summary.items()):
            per_cpu[str(cpus[i] if i < len(cpus) else i)] = figures
    if not per_cpu:
        raise LatencyError("cyclictest output has neither summary lines nor a histogram: %r"
                           % (text or "").strip()[-300:])
    return {"per_cpu": per_cpu}


def hwlatdetect_argv(hwlatdetect, cpus, duration_s, threshold_us=10):
    return [hwlatdetect, "--duration=%d" % int(duration_s), "--threshold=%d" % int(threshold_us),
            "--cpu-list=%s" % ",".join(str(c) for c in cpus)]


def parse_hwlatdetect(text):
    """hwlatdetect's report: ``{max_us, samples_recorded, samples_exceeding, smis, samples}``.

    ``max_us`` is None when hwlatdetect printed "Below threshold". Its exit
    status 1 only means that the max passed its hard limit, so the caller
    judges the text, not the status.
    """
    out = {"max_us": None, "samples_recorded": None, "samples_exceeding": None, "smis": None,
           "threshold_us": None, "samples": []}
    for line in (text or "").splitlines():
        stripped = line.strip()
        key, _sep, value = stripped.partition(":")
        value = value.strip()
        if key == "Max Latency":
            out["max_us"] = None if value.startswith("Below") else int(value.rstrip("us"))
        elif key == "Samples recorded":
            out["samples_recorded"] = int(value)
        elif key == "Samples exceeding threshold":
            out["samples_exceeding"] = int(value)
        elif key == "SMIs during run":
            out["smis"] = int(value)
        elif key == "Latency threshold":
            out["threshold_us"] = int(value.rstrip("us"))
        elif stripped.startswith("ts:"):
            match = _HWLAT_SAMPLE.match(stripped)
            if match:
                out["samples"].append({"ts": match.group(1), "inner_us": int(match.group(2)),
                                       "outer_us": int(match.group(3))})
    if out["samples_recorded"] is None:
        last = [line for line in (text or "").splitlines() if line.strip()]
        raise LatencyError("hwlatdetect did not report: %s" % (last[-1].strip() if last else "no output"))
    return out


# --------------------------------------------------------------------------
# the probe (quantbot.hft.latency_probe)
# --------------------------------------------------------------------------
def _read_text(path, what):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError) as exc:
        raise LatencyError("cannot read %s (%s): %s" % (path, what, getattr(exc, "strerror", None) or exc))


# coreutils timeout(1): 124 when the command ran out of time and died of the
# first signal, 137 (128 + SIGKILL) when it had to be killed.
TIMED_OUT_RCS = (124, 137)
KILL_AFTER_S = 10


def bounded_argv(timeout_bin, argv, limit_s):
    """``argv`` under coreutils timeout: SIGTERM after ``limit_s``, SIGKILL 10 s later."""
    return [timeout_bin, "--kill-after=%ds" % KILL_AFTER_S, "%ds" % int(limit_s)] + list(argv)


def _tool(run, argv, name, ok_rcs=(0,), bound=None):
    """Run one tool; ``bound`` is ``(timeout_bin, duration_s, grace_s)`` or None.

    A tool that outlives its own duration by more than the grace (an oslat
    that ignored its --duration and SIGINT under emulation, seen in the lab)
    is stopped and the probe fails, naming the tool and the limit.
    """
    command = argv
    if bound:
        timeout_bin, duration, grace = bound
        limit = int(duration) + int(grace)
        command = bounded_argv(timeout_bin, argv, limit)
    rc, out, err = run(command)
    if bound and rc in TIMED_OUT_RCS:
        raise LatencyError(
            "%s did not finish within %d s (its duration %d s plus tool_grace %d s) and was stopped (%s): no "
            "measurement; the isolated CPUs may be starved, or the tool hung"
            % (name, limit, int(duration), int(grace),
               "SIGTERM" if rc == 124 else "SIGTERM, then SIGKILL %d s later" % KILL_AFTER_S))
    if rc not in ok_rcs:
        raise LatencyError("%s exited %s: %s" % (name, rc, ((err or "") + (out or "")).strip()[-400:]))
    return out


def run_probe(params, run, sleep, bins, procfs_root="/proc", sysfs_root="/sys",
              cpu_manager_state="/var/lib/kubelet/cpu_manager_state", self_pid=None, clock=None):
    """Measure the isolated CPUs; returns the latency_probe result (see its RETURN).

    ``params``: isolated_cpus, window, oslat_duration, bucket_size, bias,
    rtprio, cyclictest_duration, hwlatdetect_duration, hwlatdetect_threshold.
    ``run(argv) -> (rc, stdout, stderr)``; ``sleep(seconds)``; ``bins``:
    ``{tool: path or None}``. The window comes first and the tools after it,
    so their busy loops do not count as the CPUs' own busy time.
    """
    online = _cpus(_read_text(os.path.join(sysfs_root, "devices/system/cpu/online"), "online CPUs"),
                   "devices/system/cpu/online")
    isolated = validate_isolated_cpus(params["isolated_cpus"], format_cpulist(online))
    for key in ("window", "oslat_duration", "cyclictest_duration", "hwlatdetect_duration"):
        if params.get(key) is not None and params[key] < 0:
            raise LatencyError("%s %r is negative" % (key, params[key]))
    if params["window"] <= 0:
        raise LatencyError("window %r must be a positive number of seconds" % params["window"])
    grace = params.get("tool_grace", DEFAULT_TOOL_GRACE_S)
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace <= 0:
        raise LatencyError("tool_grace %r must be a positive number of seconds" % (grace,))
    histogram = oslat_histogram(params.get("bucket_size", "auto"), params.get("bias", "auto"))
    wanted = [("oslat", params["oslat_duration"]), ("cyclictest", params.get("cyclictest_duration") or 0),
              ("hwlatdetect", params.get("hwlatdetect_duration") or 0)]
    for tool, duration in wanted:
        if duration and not bins.get(tool):
            raise LatencyError("%s is not installed on this node: install Debian's rt-tests (apt-get install "
                               "rt-tests), or set %s_duration to 0" % (tool, tool))
    if any(duration for _tool_name, duration in wanted) and not bins.get("timeout"):
        raise LatencyError("coreutils timeout is not on this node's PATH: the probe does not run a tool unbounded")
    try:
        state = read_cpu_manager_state(cpu_manager_state)
    except ProcStatError as exc:
        raise LatencyError(str(exc))
    free, held = target_cpus(isolated, state)
    main_cpu = housekeeping_cpu(online, isolated)
    try:
        before = snapshot(procfs_root, clock)
        sleep(params["window"])
        after = snapshot(procfs_root, clock)
        window = diff_snapshots(before, after, isolated)
        tasks = scan_tasks(isolated, procfs_root, state, exclude_pids=[self_pid] if self_pid else ())
    except ProcStatError as exc:
        raise LatencyError(str(exc))
    for cpu, figures in window["per_cpu"].items():
        figures["held_by"] = held.get(cpu)
    result = {
        "isolated_cpus": format_cpulist(isolated), "free_cpus": format_cpulist(free), "held_cpus": held,
        "main_cpu": main_cpu,
        "cpu_manager_state": {"path": cpu_manager_state, "present": state is not None,
                              "policy": (state or {}).get("policy")},
        "window": window, "tasks": tasks["tasks"], "kernel_threads": tasks["kernel_threads"],
        "tasks_scanned": tasks["scanned"],
    }
    result["oslat"] = _run_oslat(params, run, bins, free, held, main_cpu, histogram, grace)
    cyc = params.get("cyclictest_duration") or 0
    result["cyclictest"] = _run_optional(
        "cyclictest", cyc, free, run,
        lambda: cyclictest_argv(bins.get("cyclictest"), free, main_cpu, cyc),
        lambda out: parse_cyclictest(out, free), bound=(bins.get("timeout"), cyc, grace))
    hwlat = params.get("hwlatdetect_duration") or 0
    result["hwlatdetect"] = _run_optional(
        "hwlatdetect", hwlat, free, run,
        lambda: hwlatdetect_argv(bins.get("hwlatdetect"), free, hwlat, params.get("hwlatdetect_threshold", 10)),
        parse_hwlatdetect, ok_rcs=(0, 1), bound=(bins.get("timeout"), hwlat, grace))
    return result


def _skipped(why, **extra):
    return dict(ran=False, skipped=why, **extra)


def _no_free_cpu(held):
    return "every isolated CPU is held by a pod (%s): no CPU to measure without disturbing a bot" % ", ".join(
        "%s: %s" % (cpu, who) for cpu, who in sorted(held.items(), key=lambda kv: int(kv[0])))


def _run_oslat(params, run, bins, free, held, main_cpu, histogram, grace):
    base = {"bucket_size": histogram["bucket_size"], "bias": histogram["bias"], "rule": histogram["rule"],
            "duration_s": params["oslat_duration"], "per_cpu": {}}
    if not params["oslat_duration"]:
        return _skipped("oslat_duration is 0", **base)
    if not free:
        return _skipped(_no_free_cpu(held), **base)
    argv = oslat_argv(bins["oslat"], free, main_cpu, params["oslat_duration"], histogram, params.get("rtprio", 0))
    parsed = parse_oslat(_tool(run, argv, "oslat", bound=(bins.get("timeout"), params["oslat_duration"], grace)))
    per_cpu = oslat_summary(parsed)
    overflowed = [cpu for cpu, figures in sorted(per_cpu.items(), key=lambda kv: int(kv[0])) if figures["overflow"]]
    sizes = sorted(set(f["bucket_size"] for f in parsed["per_cpu"].values()))
    base.update(ran=True, command=argv, cpus=parsed["cpus"], version=parsed["version"], bias_us=parsed["bias_us"],
                bucket_size=sizes[0] if len(sizes) == 1 else sizes,
                per_cpu=per_cpu, overflowed_cpus=overflowed,
                unresolved_cpus=[cpu for cpu in overflowed if per_cpu[cpu]["unresolved"]])
    return base


def _run_optional(name, duration, free, run, argv, parse, ok_rcs=(0,), bound=None):
    if not duration:
        return _skipped("%s_duration is 0" % name)
    if not free:
        return _skipped("no isolated CPU is free of pods")
    command = argv()
    result = parse(_tool(run, command, name, ok_rcs, bound=bound))
    result.update(ran=True, command=command, duration_s=duration)
    return result


# --------------------------------------------------------------------------
# the judges
# --------------------------------------------------------------------------
def _threshold(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise LatencyError("threshold %s %r is not a non-negative number" % (what, value))
    return value


def _rates(thresholds, defaults, what):
    merged = dict(defaults)
    merged.update(thresholds or {})
    out = {}
    for name, value in merged.items():
        out[name] = None if value is None else _threshold(value, "%s[%s]" % (what, name))
    return out


def _by_cpu(mapping):
    return sorted((mapping or {}).items(), key=lambda kv: int(kv[0]))


def _task_line(task):
    who = "pid %s" % task["pid"] if task["pid"] == task["tid"] else "pid %s tid %s" % (task["pid"], task["tid"])
    where = "pod %s container %s" % (task["pod_uid"], task.get("container_id") or "?") if task.get("pod_uid") \
        else "host task"
    return "%s (%s), %s: allowed on %s, last ran on CPU %s" % (
        who, task["comm"], where, task["allowed"], task["last_cpu"])


def isolated_cpus_quiet(probe, max_busy_percent=DEFAULT_MAX_BUSY_PERCENT, max_irq_rates=None,
                        max_softirq_rates=None, allowed_task_kinds=DEFAULT_ALLOWED_KINDS):
    """The ``isolated_cpus_quiet`` record from a latency_probe result.

    Fails on any device interrupt on an isolated CPU during the window (naming
    the CPU and the IRQ), any task of a kind outside ``allowed_task_kinds``
    that may run on an isolated CPU (naming pid, comm and CPU), a free
    isolated CPU busier than ``max_busy_percent`` (a CPU a pod holds is
    reported, not judged: a spinning bot is busy by design), and a named
    interrupt or softirq rate above its threshold (``max_irq_rates`` over
    :data:`DEFAULT_IRQ_RATES`, ``max_softirq_rates`` over
    :data:`DEFAULT_SOFTIRQ_RATES`; a threshold of None only reports).
    """
    busy_max = _threshold(max_busy_percent, "max_busy_percent")
    irq_max = _rates(max_irq_rates, DEFAULT_IRQ_RATES, "max_irq_rates")
    soft_max = _rates(max_softirq_rates, DEFAULT_SOFTIRQ_RATES, "max_softirq_rates")
    unknown = [k for k in allowed_task_kinds if k not in TASK_KINDS]
    if unknown:
        raise LatencyError("allowed_task_kinds has %s; known kinds: %s" % (", ".join(unknown), ", ".join(TASK_KINDS)))
    window = probe.get("window") or {}
    held = probe.get("held_cpus") or {}
    failures, kinds, per_cpu = [], set(), {}
    for cpu, figures in _by_cpu(window.get("per_cpu")):
        shown = {"held_by": held.get(cpu), "busy_percent": figures.get("busy_percent"),
                 "device_irqs": dict((irq, e["count"]) for irq, e in (figures.get("device_irqs") or {}).items()),
                 "irq_per_s": dict((n, e["per_s"]) for n, e in (figures.get("other_irqs") or {}).items()
                                   if e["count"]),
                 "softirq_per_s": dict((n, e["per_s"]) for n, e in (figures.get("softirqs") or {}).items()
                                       if e["count"])}
        per_cpu[cpu] = shown
        for irq, entry in sorted((figures.get("device_irqs") or {}).items(), key=lambda kv: int(kv[0])):
            failures.append("CPU %s: device IRQ %s (%s) fired %d times" % (cpu, irq, entry.get("actions") or
                                                                           entry.get("desc"), entry["count"]))
            kinds.add("irq")
        busy = figures.get("busy_percent")
        if cpu not in held and busy is not None and busy > busy_max:
            failures.append("CPU %s: busy %.1f%% of the window > %s%%" % (cpu, busy, busy_max))
            kinds.add("busy")
        for name, limit in sorted(irq_max.items()):
            rate = ((figures.get("other_irqs") or {}).get(name) or {}).get("per_s")
            if limit is not None and rate is not None and rate > limit:
                failures.append("CPU %s: %s %.1f/s > %s/s" % (cpu, name, rate, limit))
                kinds.add("rate")
        for name, limit in sorted(soft_max.items()):
            rate = ((figures.get("softirqs") or {}).get(name) or {}).get("per_s")
            if limit is not None and rate is not None and rate > limit:
                failures.append("CPU %s: softirq %s %.1f/s > %s/s" % (cpu, name, rate, limit))
                kinds.add("rate")
    stray = [t for t in probe.get("tasks") or [] if t.get("kind") not in allowed_task_kinds]
    for task in stray:
        failures.append("CPU %s: stray %s" % (task["on_cpus"], _task_line(task)))
        kinds.add("pod" if task.get("pod_uid") else "task")
    hints = {
        "irq": "move the IRQ to the housekeeping CPUs (/proc/irq/N/smp_affinity_list; the NIC's IRQ pinning unit) "
               "and keep irqbalance off the isolated CPUs",
        "task": "confine the task to the housekeeping CPUs (systemd CPUAffinity, taskset) or stop it",
        "pod": "a pod that kubelet did not pin may run on free isolated CPUs (kubelet's shared pool): make the bot "
               "Guaranteed with whole CPUs, or keep other pods off the node",
        "busy": "something runs on a free isolated CPU: see the stray tasks, then kernel threads (ps -eLo psr,comm)",
        "rate": "the tick or IPIs still reach the CPU: check nohz_full/rcu_nocbs on the running cmdline and what "
                "runs there",
        "missing": "pass the result of quantbot.hft.latency_probe (its window.per_cpu)",
    }
    expected = {"device_irqs": 0, "stray_tasks": 0, "allowed_task_kinds": list(allowed_task_kinds),
                "busy_percent_max": busy_max, "applies_busy_to": "isolated CPUs no pod holds",
                "irq_per_s_max": dict((k, v) for k, v in sorted(irq_max.items()) if v is not None),
                "softirq_per_s_max": dict((k, v) for k, v in sorted(soft_max.items()) if v is not None)}
    actual = {"window_s": window.get("seconds"), "failures": failures, "per_cpu": per_cpu,
              "stray_tasks": [_task_line(t) for t in stray],
              "tasks_allowed": len(probe.get("tasks") or []) - len(stray)}
    if not per_cpu:
        failures.append("no per-CPU window figures in the probe result")
        kinds.add("missing")
    return record("isolated_cpus_quiet", not failures, expected, actual,
                  "; ".join(hints[k] for k in ("irq", "task", "pod", "busy", "rate", "missing") if k in kinds))


def latency(probe, max_us=DEFAULT_MAX_US, max_p99_9_us=DEFAULT_MAX_P99_9_US, require_measurement=True):
    """The ``latency`` record: oslat's max and p99.9 per isolated CPU at or below the thresholds.

    CPUs a pod holds are not measured (listed in ``not_measured``). Without
    any oslat figure the record fails when ``require_measurement``.
    """
    limit_max = _threshold(max_us, "max_us")
    limit_p999 = _threshold(max_p99_9_us, "max_p99_9_us")
    oslat = probe.get("oslat") or {}
    measured = oslat.get("per_cpu") or {}
    failures, per_cpu = [], {}
    for cpu, figures in _by_cpu(measured):
        per_cpu[cpu] = dict((k, figures.get(k)) for k in JUDGED_KEYS)
        if figures["max_us"] > limit_max:
            failures.append("CPU %s: max %s us > %s us" % (cpu, figures["max_us"], limit_max))
        if figures["p99_9_us"] > limit_p999:
            note = " (beyond oslat's histogram, >= %s us; the max is the bound)" % figures.get("overflow_from_us") \
                if "p99_9_us" in (figures.get("unresolved") or []) else ""
            failures.append("CPU %s: p99.9 %s us > %s us%s" % (cpu, figures["p99_9_us"], limit_p999, note))
    if measured:
        free = _cpus(probe.get("free_cpus") or "", "free_cpus")
        for cpu in free:
            if str(cpu) not in measured:
                failures.append("CPU %s: free, but oslat reported no figures for it" % cpu)
    hint = "look at the CPU's interrupts and tasks (isolated_cpus_quiet), its C-states and frequency; under " \
           "emulation these figures mean nothing: use the lab's thresholds"
    if not measured:
        why = oslat.get("skipped") or "no oslat figures in the probe result"
        if require_measurement:
            failures.append("not measured: %s" % why)
            hint = "run the latency probe with oslat before bots hold the isolated CPUs (the gate taint keeps them " \
                   "off until validation passes), and install rt-tests on the node"
        else:
            per_cpu["skipped"] = why
    expected = {"max_us": limit_max, "p99_9_us": limit_p999, "on": "every isolated CPU no pod holds"}
    actual = {"failures": failures, "per_cpu": per_cpu, "not_measured": probe.get("held_cpus") or {},
              "duration_s": oslat.get("duration_s"), "rule": oslat.get("rule")}
    return record("latency", not failures, expected, actual, hint)


LIMIT_KEYS = ("max_us", "max_p99_9_us", "max_busy_percent", "max_irq_rates", "max_softirq_rates",
              "allowed_task_kinds")


def latency_records(probe, limits=None):
    """Both latency checks (``isolated_cpus_quiet``, ``latency``) of one probe result, with ``limits``.

    ``limits`` holds any of :data:`LIMIT_KEYS` (node_validate's
    ``latency_limits``); an unknown key raises :class:`LatencyError` naming it.
    A probe that did not run (``skipped``) fails both checks with its reason.
    """
    limits = dict(limits or {})
    unknown = sorted(k for k in limits if k not in LIMIT_KEYS)
    if unknown:
        raise LatencyError("latency_limits has unknown key(s) %s; known: %s" % (", ".join(unknown),
                                                                                ", ".join(LIMIT_KEYS)))
    if not isinstance(probe, dict):
        raise LatencyError("latency must be the result of quantbot.hft.latency_probe, not %r" % (probe,))
    # A failed probe, registered with failed_when false, keeps its msg and has no window.
    if probe.get("failed") or ("window" not in probe and probe.get("msg")):
        why = probe.get("msg") or "the latency probe failed"
        hint = "run quantbot.hft.latency_probe on the node and fix what it reports"
        return [record("isolated_cpus_quiet", False, "a latency_probe window", "probe failed: %s" % why, hint),
                record("latency", False, "oslat figures per isolated CPU", "probe failed: %s" % why, hint)]
    for key in ("max_irq_rates", "max_softirq_rates"):
        if limits.get(key) is not None and not isinstance(limits[key], dict):
            raise LatencyError("latency_limits.%s must be a mapping of interrupt name to rate per second, not %r"
                               % (key, limits[key]))
    quiet = {}
    for key in ("max_busy_percent", "max_irq_rates", "max_softirq_rates"):
        if limits.get(key) is not None:
            quiet[key] = limits[key]
    if limits.get("allowed_task_kinds") is not None:
        kinds = limits["allowed_task_kinds"]
        if isinstance(kinds, str) or not isinstance(kinds, (list, tuple)):
            raise LatencyError("latency_limits.allowed_task_kinds must be a list, not %r" % (kinds,))
        quiet["allowed_task_kinds"] = tuple(kinds)
    lat = dict((k, limits[k]) for k in ("max_us", "max_p99_9_us") if limits.get(k) is not None)
    return [isolated_cpus_quiet(probe, **quiet), latency(probe, **lat)]
