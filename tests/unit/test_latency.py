# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/_latency.py: rt-tests parsers, percentiles, the bucket rule, the probe run and the judges."""

from __future__ import annotations

import copy
import os
import shutil

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _latency as L
from ansible_collections.quantbot.hft.plugins.module_utils._validate import ValidateError

HERE = os.path.dirname(os.path.abspath(__file__))
LAT = os.path.join(HERE, "fixtures", "latency")
NODE8 = os.path.join(LAT, "node8")
BOT = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d/bot"


def text(*parts):
    with open(os.path.join(LAT, *parts)) as handle:
        return handle.read()


# --- oslat ------------------------------------------------------------------------------
def test_oslat_default_histogram_captured():
    parsed = L.parse_oslat(text("oslat-default-32-cpu1.txt"))
    cpu = parsed["per_cpu"]["1"]
    assert parsed["version"] == "2.40" and parsed["bias_us"] == 0 and parsed["cpus"] == "1"
    assert cpu["bucket_size"] == 32 and cpu["overflow_from_us"] == 32
    assert cpu["buckets"][0] == [1, 62594225] and cpu["buckets"][-1] == [32, 502]
    assert cpu["counter_mhz"] == 2100
    assert (cpu["min_us"], cpu["max_us"], cpu["avg_us"], cpu["duration_s"]) == (1, 7717, 1.005, 2.998)


def test_oslat_auto_histogram_with_bias_and_zero_omit_captured():
    parsed = L.parse_oslat(text("oslat-b1024-B-z-cpu1.txt"))
    cpu = parsed["per_cpu"]["1"]
    assert parsed["bias_us"] == 1
    # With the bias the first bucket is labelled 002 and the last one 1025: 1024 buckets.
    assert cpu["buckets"][0][0] == 2 and cpu["overflow_from_us"] == 1025 and cpu["bucket_size"] == 1024
    # -z left the empty buckets out ("..."), so labels jump.
    labels = [label for label, _count in cpu["buckets"]]
    assert labels == sorted(labels) and len(labels) < 1024


def test_oslat_two_cpu_columns_captured():
    parsed = L.parse_oslat(text("oslat-b64-z-cpu0-1.txt"))
    assert parsed["cpus"] == "0-1"
    assert parsed["per_cpu"]["0"]["buckets"][0] == [1, 18180690]
    assert parsed["per_cpu"]["1"]["buckets"][0] == [1, 19435606]
    assert parsed["per_cpu"]["1"]["buckets"][-1][0] == 64
    assert parsed["per_cpu"]["0"]["buckets"][31] == [32, 2]
    assert parsed["per_cpu"]["0"]["max_us"] == 274573 and parsed["per_cpu"]["1"]["max_us"] == 240726


@pytest.mark.parametrize("output, needle", [
    ("oslat V 2.40\nIllegal bucket size: 4 (should be: 4-1024)\n", "Illegal bucket size: 4"),
    ("\n\nFATAL: oslat: numa_parse_cpustring_all failed.\noslat V 2.40\n", "numa_parse_cpustring_all"),
    ("oslat V 2.40\nTest starts...\n", "no result table"),
    ("oslat V 2.40\n        Core:\t 1\n    001 (us):\t 5\n     Minimum:\t 1 (us)\n     Maximum:\t 1 (us)\n",
     "no overflow bucket"),
    ("oslat V 2.40\n        Core:\t 1 2\n    001 (us):\t 5 (including overflows)\n     Minimum:\t 1 1 (us)\n"
     "     Maximum:\t 1 1 (us)\n", "bucket 1 has 1 counts for 2 CPUs"),
    ("oslat V 2.40\n        Core:\t 1 2\n     Minimum:\t 1 (us)\n", "Minimum has 1 values for 2 CPUs"),
])
def test_oslat_failures_are_named(output, needle):
    with pytest.raises(L.LatencyError, match=needle):
        L.parse_oslat(output)


def test_oslat_summary_percentiles_from_captured_histogram():
    per_cpu = L.oslat_summary(L.parse_oslat(text("oslat-b1024-B-z-cpu1.txt")))
    cpu = per_cpu["1"]
    # 87763331 of the samples sit in the first bucket (label 2 us): p50 to p99.9 are 2 us.
    assert (cpu["p50_us"], cpu["p99_us"], cpu["p99_9_us"]) == (2, 2, 2)
    assert cpu["max_us"] == 54708 and cpu["unresolved"] == []
    assert cpu["overflow"] == 517 and 0 < cpu["overflow_percent"] < 0.001
    assert cpu["histogram"][0] == [2, 87763331]


def test_all_overflow_capture_reports_every_percentile_unresolved_as_the_max():
    per_cpu = L.oslat_summary(L.parse_oslat(text("oslat-all-overflow-tcg.txt")))
    assert sorted(per_cpu) == ["2", "3"]
    for cpu, peak in (("2", 23116), ("3", 9120)):
        figures = per_cpu[cpu]
        assert figures["overflow_percent"] == 100.0
        assert figures["unresolved"] == ["p50_us", "p99_us", "p99_9_us"]
        assert figures["p50_us"] == figures["p99_9_us"] == figures["max_us"] == peak


# --- percentiles --------------------------------------------------------------------------
def test_percentiles_nearest_rank_on_bucket_labels():
    # 1000 samples: 500 at 1 us, 490 at 2 us, 9 at 5 us, 1 at 40 us.
    result = L.percentiles([[1, 500], [2, 490], [5, 9], [40, 1]], 0, 40)
    assert (result["p50_us"], result["p99_us"], result["p99_9_us"], result["max_us"]) == (1, 2, 5, 40)
    assert result["samples"] == 1000 and result["unresolved"] == []


def test_percentiles_rank_is_ceiling_so_one_sample_beyond_p99_9_counts():
    # 1001 samples, 2 of them at 50 us: rank(p99.9) = ceil(1001 * 0.999) = 1000, which is the first 50 us sample.
    result = L.percentiles([[1, 999], [50, 2]], 0, 50)
    assert result["p99_9_us"] == 50
    result = L.percentiles([[1, 999], [50, 1]], 0, 50)  # 1000 samples: rank 999 is still 1 us
    assert result["p99_9_us"] == 1


def test_percentiles_in_overflow_are_reported_as_max_and_unresolved():
    result = L.percentiles([[1, 990], [2, 5]], 5, 7000)
    assert result["p99_us"] == 1 and result["p99_9_us"] == 7000
    assert result["unresolved"] == ["p99_9_us"] and result["overflow_percent"] == 0.5


def test_percentiles_refuse_an_empty_histogram():
    with pytest.raises(L.LatencyError, match="no samples"):
        L.percentiles([[1, 0]], 0, 0)


# --- the bucket rule ------------------------------------------------------------------------
def test_auto_histogram_is_the_widest_oslat_allows_from_the_minimum():
    hist = L.oslat_histogram()
    assert hist["bucket_size"] == 1024 and hist["bias"] is True
    assert hist["args"] == ["-b", "1024", "-B", "-z"]
    assert "1024" in hist["rule"] and "-B" in hist["rule"]


def test_given_histogram_and_no_bias():
    hist = L.oslat_histogram("64", False)
    assert hist["args"] == ["-b", "64", "-z"] and "starting at 1 us" in hist["rule"]


@pytest.mark.parametrize("size", ["4", "1025", "0", "wide"])
def test_histogram_refuses_sizes_oslat_refuses(size):
    with pytest.raises(L.LatencyError, match=repr(size)):
        L.oslat_histogram(size)


def test_histogram_refuses_a_bad_bias():
    with pytest.raises(L.LatencyError, match="bias 'maybe'"):
        L.oslat_histogram("auto", "maybe")


def test_auto_rule_resolves_what_the_default_histogram_cannot():
    # Samples at 40-60 us (as under emulation): the default 32 buckets put all of them in the overflow bucket;
    # the auto window (1024 buckets from the minimum) holds them and resolves every percentile.
    samples = [40] * 500 + [45] * 490 + [60] * 10
    default = L.percentiles([[label, 0] for label in range(1, 32)], len(samples), 60)
    assert default["unresolved"] == ["p50_us", "p99_us", "p99_9_us"]
    bias = min(samples) - 1
    auto = L.percentiles([[label, samples.count(label)] for label in range(bias + 1, bias + 1024)], 0, 60)
    assert auto["unresolved"] == [] and (auto["p50_us"], auto["p99_us"], auto["p99_9_us"]) == (40, 45, 60)


def test_oslat_argv():
    argv = L.oslat_argv("/usr/bin/oslat", [3, 2], 0, 60, L.oslat_histogram(), rtprio=1)
    assert argv == ["/usr/bin/oslat", "--cpu-list", "2-3", "--cpu-main-thread", "0", "--duration", "60",
                    "--rtprio", "1", "-b", "1024", "-B", "-z"]


# --- cyclictest and hwlatdetect ----------------------------------------------------------------
def test_cyclictest_histogram_captured():
    parsed = L.parse_cyclictest(text("cyclictest-h100-cpu0-1.txt"), [0, 1])
    cpu0, cpu1 = parsed["per_cpu"]["0"], parsed["per_cpu"]["1"]
    assert cpu0["samples"] == 14897 + 11 and cpu0["overflow"] == 11
    assert (cpu0["min_us"], cpu0["avg_us"], cpu0["max_us"]) == (3, 7, 9418)
    assert cpu1["overflow"] == 16 and cpu1["max_us"] == 5489
    # 16 of 14927 samples overflowed (> 0.1 %): p99.9 lies beyond the 100 us histogram.
    assert cpu1["unresolved"] == ["p99_9_us"] and cpu1["p99_9_us"] == 5489
    assert cpu0["unresolved"] == [] and cpu0["p99_9_us"] < 100


def test_cyclictest_summary_captured_maps_threads_to_cpus():
    parsed = L.parse_cyclictest(text("cyclictest-summary-cpu1.txt"), [1])
    assert parsed["per_cpu"] == {"1": {"samples": 9996, "min_us": 5, "avg_us": 6, "max_us": 407}}


def test_cyclictest_without_results_is_refused():
    with pytest.raises(L.LatencyError, match="neither summary lines nor a histogram"):
        L.parse_cyclictest("# /dev/cpu_dma_latency set to 0us\n", [1])


def test_hwlatdetect_samples_and_below_threshold():
    report = L.parse_hwlatdetect(text("hwlatdetect-samples.txt"))
    assert report["max_us"] == 24 and report["samples_recorded"] == 3 and report["samples_exceeding"] == 3
    assert report["threshold_us"] == 10
    assert report["samples"][0] == {"ts": "1796120001.002231517", "inner_us": 12, "outer_us": 24}
    quiet = L.parse_hwlatdetect(text("hwlatdetect-below-threshold.txt"))
    assert quiet["max_us"] is None and quiet["samples_recorded"] == 0


def test_hwlatdetect_without_tracer_captured():
    with pytest.raises(L.LatencyError, match="hwlat tracer not available"):
        L.parse_hwlatdetect(text("hwlatdetect-run.txt"))


# --- isolated CPU input -------------------------------------------------------------------------
def test_isolated_cpus_accepted():
    assert L.validate_isolated_cpus("2-3,6-7", "0-4,6-7") == [2, 3, 6, 7]


@pytest.mark.parametrize("value, needle", [
    ("", "isolated_cpus is empty"),
    ("2-x", "bad cpulist syntax in isolated_cpus: '2-x'"),
    ("3-2", "'3-2' runs backwards"),
    ("0-3", "isolated_cpus '0-3' holds CPU 0"),
    ("2-3,5", r"isolated_cpus '2-3,5' names CPUs that are not online: 5 \(online: 0-4,6-7\)"),
    ("2-3,9", "not online: 9"),
])
def test_isolated_cpus_refused_naming_the_value(value, needle):
    with pytest.raises(L.LatencyError, match=needle):
        L.validate_isolated_cpus(value, "0-4,6-7")


def test_target_cpus_skip_what_a_pod_holds():
    state = {"entries": {"uid-1": {"bot": [6, 7]}}}
    free, held = L.target_cpus([2, 3, 6, 7], state)
    assert free == [2, 3] and held == {"6": "uid-1/bot", "7": "uid-1/bot"}
    assert L.target_cpus([2, 3], None) == ([2, 3], {})


def test_housekeeping_cpu():
    assert L.housekeeping_cpu([0, 1, 2, 3], [2, 3]) == 0
    assert L.housekeeping_cpu([1, 2, 3], [2, 3]) == 1
    with pytest.raises(L.LatencyError, match="every online CPU is isolated"):
        L.housekeeping_cpu([2, 3], [2, 3])


# --- run_probe on the constructed node -------------------------------------------------------------
class Runner:
    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []
        self.raw = []

    def __call__(self, argv):
        # The probe runs every tool under coreutils timeout; calls holds the tool's own argv.
        self.raw.append(list(argv))
        if os.path.basename(argv[0]) == "timeout":
            assert argv[1] == "--kill-after=10s" and argv[2].endswith("s"), argv
            argv = argv[3:]
        self.calls.append(list(argv))
        return self.outputs[os.path.basename(argv[0])]


def params(**over):
    base = dict(isolated_cpus="2-3,6-7", window=10, oslat_duration=5, bucket_size="auto", bias=True, rtprio=0,
                cyclictest_duration=0, hwlatdetect_duration=0, hwlatdetect_threshold=10)
    base.update(over)
    return base


@pytest.fixture
def node(tmp_path):
    """A writable copy of node8's procfs and a sleep that swaps in the chosen 'after' files."""
    root = tmp_path / "proc"
    shutil.copytree(os.path.join(NODE8, "proc"), str(root))

    def make(interrupts="interrupts-quiet", stat="stat-quiet"):
        def sleep(seconds):
            assert seconds == 10
            for src, dest in ((interrupts, "interrupts"), ("softirqs", "softirqs"), (stat, "stat")):
                shutil.copy(os.path.join(NODE8, "after", src), str(root / dest))
        clock = iter([100.0, 110.0])
        return sleep, (lambda: next(clock))
    make.root = str(root)
    return make


def probe(node, runner, bins=None, state=None, **over):
    sleep, clock = node(**{k: over.pop(k) for k in ("interrupts", "stat") if k in over})
    return L.run_probe(params(**over), runner, sleep, bins if bins is not None else {"oslat": "/usr/bin/oslat", "timeout": "/usr/bin/timeout"},
                       procfs_root=node.root, sysfs_root=os.path.join(NODE8, "sys"),
                       cpu_manager_state=state or os.path.join(NODE8, "kubelet", "cpu_manager_state"), clock=clock)


def test_run_probe_never_runs_oslat_on_the_bots_cpus(node):
    runner = Runner({"oslat": (0, text("oslat-all-overflow-tcg.txt"), "")})
    result = probe(node, runner)
    assert runner.calls == [["/usr/bin/oslat", "--cpu-list", "2-3", "--cpu-main-thread", "0", "--duration", "5",
                             "-b", "1024", "-B", "-z"]]
    assert result["free_cpus"] == "2-3" and result["held_cpus"] == {"6": BOT, "7": BOT}
    assert result["window"]["per_cpu"]["6"]["held_by"] == BOT
    assert result["oslat"]["ran"] is True and sorted(result["oslat"]["per_cpu"]) == ["2", "3"]
    assert result["oslat"]["overflowed_cpus"] == ["2", "3"] == result["oslat"]["unresolved_cpus"]
    # The capture was made with 32 buckets: the result reports what oslat did, not what was asked.
    assert result["oslat"]["bucket_size"] == 32
    assert result["cpu_manager_state"]["policy"] == "static"


def test_run_probe_skips_oslat_when_every_isolated_cpu_is_held(node, tmp_path):
    state = tmp_path / "state"
    state.write_text('{"policyName":"static","defaultCpuSet":"0-1,4","entries":{"u":{"a":"2-3","b":"6-7"}}}')
    runner = Runner({})
    result = probe(node, runner, state=str(state))
    assert runner.calls == []
    assert result["oslat"]["ran"] is False and "every isolated CPU is held by a pod" in result["oslat"]["skipped"]
    assert "2: u/a" in result["oslat"]["skipped"]


def test_run_probe_refuses_an_offline_cpu_before_measuring(node):
    runner = Runner({})
    with pytest.raises(L.LatencyError, match="not online: 5"):
        probe(node, runner, isolated_cpus="2-3,5")
    assert runner.calls == []


def test_run_probe_needs_oslat_installed(node):
    with pytest.raises(L.LatencyError, match="oslat is not installed on this node: install Debian's rt-tests"):
        probe(node, Runner({}), bins={"oslat": None})


def test_run_probe_needs_timeout_to_bound_the_tools(node):
    runner = Runner({})
    with pytest.raises(L.LatencyError, match="coreutils timeout is not on this node's PATH"):
        probe(node, runner, bins={"oslat": "/usr/bin/oslat"})
    assert runner.calls == []


@pytest.mark.parametrize("rc, how", [(124, "stopped \\(SIGTERM\\)"), (137, "stopped \\(SIGTERM, then SIGKILL 10 s later\\)")])
def test_run_probe_stops_an_oslat_that_outlives_its_duration(node, rc, how):
    # Seen in the lab: an oslat that ignored --duration 60 and SIGINT for 7 minutes.
    runner = Runner({"oslat": (rc, "oslat V 2.40\n", "")})
    with pytest.raises(L.LatencyError, match="oslat did not finish within 35 s \\(its duration 5 s plus tool_grace "
                                             "30 s\\) and was %s: no measurement" % how):
        probe(node, runner, tool_grace=30)
    assert runner.raw[0][:3] == ["/usr/bin/timeout", "--kill-after=10s", "35s"]


def test_run_probe_without_timeout_reads_124_as_an_exit_code_of_the_tool(node):
    # Only the bounded call maps 124 and 137 to "timed out"; the message names the tool's own exit.
    with pytest.raises(L.LatencyError, match="oslat exited 124: boom"):
        L._tool(Runner({"oslat": (124, "", "boom")}), ["/usr/bin/oslat"], "oslat")


@pytest.mark.parametrize("grace", [0, -5, True, "soon"])
def test_run_probe_refuses_a_bad_tool_grace(node, grace):
    with pytest.raises(L.LatencyError, match="tool_grace .* must be a positive number of seconds"):
        probe(node, Runner({}), tool_grace=grace)


def test_run_probe_without_oslat_duration_needs_no_tool(node):
    result = probe(node, Runner({}), bins={}, oslat_duration=0)
    assert result["oslat"]["ran"] is False and result["oslat"]["skipped"] == "oslat_duration is 0"


def test_run_probe_reports_an_oslat_failure(node):
    runner = Runner({"oslat": (1, "", "FATAL: oslat: numa_parse_cpustring_all failed.")})
    with pytest.raises(L.LatencyError, match="oslat exited 1: FATAL"):
        probe(node, runner)


@pytest.mark.parametrize("over, needle", [({"window": 0}, "window 0 must be a positive"),
                                          ({"oslat_duration": -1}, "oslat_duration -1 is negative"),
                                          ({"bucket_size": "2000"}, "bucket_size '2000'")])
def test_run_probe_refuses_bad_settings(node, over, needle):
    with pytest.raises(L.LatencyError, match=needle):
        probe(node, Runner({}), **over)


def test_run_probe_runs_cyclictest_and_hwlatdetect_on_the_free_cpus(node):
    runner = Runner({"oslat": (0, text("oslat-b64-z-cpu0-1.txt"), ""),
                     "cyclictest": (0, text("cyclictest-h100-cpu0-1.txt"), ""),
                     "hwlatdetect": (1, text("hwlatdetect-samples.txt"), "")})
    bins = {"oslat": "/usr/bin/oslat", "cyclictest": "/usr/bin/cyclictest", "hwlatdetect": "/usr/sbin/hwlatdetect",
            "timeout": "/usr/bin/timeout"}
    result = probe(node, runner, bins=bins, cyclictest_duration=3, hwlatdetect_duration=10)
    # Each tool is bounded by its own duration plus tool_grace (default 120 s).
    assert [raw[:3] for raw in runner.raw] == [["/usr/bin/timeout", "--kill-after=10s", "%ds" % (d + 120)]
                                               for d in (5, 3, 10)]
    assert runner.calls[1] == ["/usr/bin/cyclictest", "--quiet", "--mlockall", "--priority", "95", "--threads",
                               "--affinity", "2-3", "--mainaffinity", "0", "--interval", "200", "--duration", "3",
                               "--histogram", "1000"]
    assert runner.calls[2] == ["/usr/sbin/hwlatdetect", "--duration=10", "--threshold=10", "--cpu-list=2,3"]
    assert sorted(result["cyclictest"]["per_cpu"]) == ["2", "3"] and result["cyclictest"]["ran"] is True
    # hwlatdetect exits 1 when its max passes its threshold: that is a result, not an error.
    assert result["hwlatdetect"]["max_us"] == 24 and result["hwlatdetect"]["ran"] is True


# --- the judges ---------------------------------------------------------------------------------
@pytest.fixture
def quiet_probe(node):
    two = text("oslat-b64-z-cpu0-1.txt").replace("Core:\t 0 1", "Core:\t 2 3")
    return probe(node, Runner({"oslat": (0, two, "")}))


def _without_strays(result):
    result = copy.deepcopy(result)
    result["tasks"] = [t for t in result["tasks"] if t["kind"] in ("pinned", "pod_sandbox")]
    return result


def test_quiet_passes_on_a_quiet_node_without_strays(quiet_probe):
    rec = L.isolated_cpus_quiet(_without_strays(quiet_probe))
    assert rec["check"] == "isolated_cpus_quiet" and rec["ok"] is True, rec["actual"]["failures"]
    assert rec["hint"] == ""
    assert rec["actual"]["per_cpu"]["3"]["irq_per_s"] == {"LOC": 2.0}
    assert rec["actual"]["tasks_allowed"] == 3  # the bot's two threads and its pause process
    assert rec["expected"]["irq_per_s_max"] == {"CAL": 1.0, "LOC": 20.0, "RES": 1.0, "TLB": 1.0}


def test_quiet_fails_naming_each_stray_task(quiet_probe):
    rec = L.isolated_cpus_quiet(quiet_probe)
    assert rec["ok"] is False
    failures = rec["actual"]["failures"]
    assert "CPU 2: stray pid 7000 (spin), host task: allowed on 2, last ran on CPU 2" in failures
    assert any(f.startswith("CPU 2-3,6-7: stray pid 640 (chronyd)") for f in failures)
    assert any("pid 9100 (ptp4l), pod 7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d" in f for f in failures)
    assert not any("(bot" in f or "(pause)" in f for f in failures)
    assert "systemd CPUAffinity" in rec["hint"] and "shared pool" in rec["hint"]


def test_quiet_fails_naming_the_cpu_and_the_device_irq(node):
    result = probe(node, Runner({"oslat": (0, text("oslat-all-overflow-tcg.txt"), "")}),
                   interrupts="interrupts-irq122-on-cpu3")
    rec = L.isolated_cpus_quiet(_without_strays(result))
    assert rec["ok"] is False
    assert rec["actual"]["failures"] == ["CPU 3: device IRQ 122 (enp65s0-TxRx-1) fired 40 times"]
    assert rec["actual"]["per_cpu"]["3"]["device_irqs"] == {"122": 40}
    assert "smp_affinity_list" in rec["hint"]


def test_quiet_fails_on_a_busy_loop_on_a_free_cpu_but_not_on_the_bots(node):
    result = probe(node, Runner({"oslat": (0, text("oslat-all-overflow-tcg.txt"), "")}), stat="stat-busy-cpu2")
    rec = L.isolated_cpus_quiet(_without_strays(result))
    assert rec["actual"]["failures"] == ["CPU 2: busy 100.0% of the window > 1.0%"]
    # CPUs 6-7 are 100 % busy too, but a pod holds them: reported, not judged.
    assert rec["actual"]["per_cpu"]["6"]["busy_percent"] == 100.0
    assert rec["actual"]["per_cpu"]["6"]["held_by"] == BOT


def test_quiet_rates_fail_against_thresholds_and_report_without(quiet_probe):
    clean = _without_strays(quiet_probe)
    rec = L.isolated_cpus_quiet(clean, max_irq_rates={"LOC": 1.5})
    assert rec["actual"]["failures"] == ["CPU 2: LOC 2.0/s > 1.5/s", "CPU 3: LOC 2.0/s > 1.5/s"]
    assert "nohz_full" in rec["hint"]
    assert L.isolated_cpus_quiet(clean, max_irq_rates={"LOC": None})["ok"] is True
    clean["window"]["per_cpu"]["2"]["softirqs"]["TIMER"] = {"count": 30, "per_s": 3.0}
    rec = L.isolated_cpus_quiet(clean, max_softirq_rates={"TIMER": 2})
    assert rec["actual"]["failures"] == ["CPU 2: softirq TIMER 3.0/s > 2/s"]


def test_quiet_can_allow_shared_pool_pods(quiet_probe):
    result = copy.deepcopy(quiet_probe)
    result["tasks"] = [t for t in result["tasks"] if t["kind"] != "host"]
    assert L.isolated_cpus_quiet(result)["ok"] is False
    assert L.isolated_cpus_quiet(result, allowed_task_kinds=("pinned", "pod_sandbox", "pod"))["ok"] is True


def test_quiet_without_window_figures_fails():
    rec = L.isolated_cpus_quiet({})
    assert rec["ok"] is False and "latency_probe" in rec["hint"]


@pytest.mark.parametrize("kwargs, needle", [({"max_busy_percent": -1}, "max_busy_percent -1"),
                                            ({"max_irq_rates": {"LOC": "x"}}, r"max_irq_rates\[LOC\] 'x'"),
                                            ({"allowed_task_kinds": ("friends",)}, "friends")])
def test_quiet_refuses_bad_thresholds(kwargs, needle):
    with pytest.raises(ValidateError, match=needle):
        L.isolated_cpus_quiet({}, **kwargs)


def test_latency_passes_within_thresholds(quiet_probe):
    rec = L.latency(quiet_probe, max_us=300000, max_p99_9_us=10)
    assert rec["check"] == "latency" and rec["ok"] is True and rec["hint"] == ""
    assert rec["actual"]["per_cpu"]["2"]["p99_9_us"] == 1 and rec["actual"]["per_cpu"]["3"]["max_us"] == 240726
    assert rec["actual"]["not_measured"] == {"6": BOT, "7": BOT}


def test_latency_fails_with_production_defaults_naming_the_cpu(quiet_probe):
    rec = L.latency(quiet_probe)
    assert rec["expected"] == {"max_us": 20, "p99_9_us": 10, "on": "every isolated CPU no pod holds"}
    assert rec["ok"] is False
    assert rec["actual"]["failures"] == ["CPU 2: max 274573 us > 20 us", "CPU 3: max 240726 us > 20 us"]


def test_latency_fails_on_p99_9_and_says_when_it_is_only_bounded(node):
    result = probe(node, Runner({"oslat": (0, text("oslat-all-overflow-tcg.txt"), "")}))
    rec = L.latency(result, max_us=10 ** 6, max_p99_9_us=10)
    assert rec["actual"]["failures"] == [
        "CPU 2: p99.9 23116 us > 10 us (beyond oslat's histogram, >= 32 us; the max is the bound)",
        "CPU 3: p99.9 9120 us > 10 us (beyond oslat's histogram, >= 32 us; the max is the bound)"]


def test_latency_lab_thresholds_pass_emulated_figures(node):
    result = probe(node, Runner({"oslat": (0, text("oslat-all-overflow-tcg.txt"), "")}))
    assert L.latency(result, max_us=100000, max_p99_9_us=100000)["ok"] is True


def test_latency_without_measurement(node, tmp_path):
    state = tmp_path / "state"
    state.write_text('{"policyName":"static","defaultCpuSet":"0-1,4","entries":{"u":{"a":"2-3,6-7"}}}')
    result = probe(node, Runner({}), state=str(state))
    rec = L.latency(result)
    assert rec["ok"] is False and rec["actual"]["failures"][0].startswith("not measured: every isolated CPU is held")
    assert "gate taint" in rec["hint"]
    relaxed = L.latency(result, require_measurement=False)
    assert relaxed["ok"] is True and "every isolated CPU is held" in relaxed["actual"]["per_cpu"]["skipped"]


def test_latency_fails_for_a_free_cpu_without_figures(quiet_probe):
    result = copy.deepcopy(quiet_probe)
    del result["oslat"]["per_cpu"]["3"]
    rec = L.latency(result, max_us=300000, max_p99_9_us=10)
    assert rec["actual"]["failures"] == ["CPU 3: free, but oslat reported no figures for it"]


def test_latency_refuses_bad_thresholds():
    with pytest.raises(ValidateError, match="max_us True"):
        L.latency({}, max_us=True)


# --- latency_records: both checks with node_validate's latency_limits ------------------------------
def test_latency_records_pass_with_loose_limits_and_fail_with_the_defaults(quiet_probe):
    clean = _without_strays(quiet_probe)
    loose = L.latency_records(clean, {"max_us": 1000000, "max_p99_9_us": 1000000})
    assert [r["check"] for r in loose] == ["isolated_cpus_quiet", "latency"]
    assert [r["ok"] for r in loose] == [True, True], [r["actual"] for r in loose]
    strict = L.latency_records(clean, {"max_us": 0, "max_p99_9_us": 0})
    assert strict[1]["ok"] is False and "CPU 2: max" in " ".join(strict[1]["actual"]["failures"])


def test_latency_records_pass_the_quiet_limits_through(quiet_probe):
    clean = _without_strays(quiet_probe)
    rec = L.latency_records(clean, {"max_busy_percent": 0.0, "max_irq_rates": {"LOC": 0.0}})[0]
    assert rec["expected"]["busy_percent_max"] == 0.0 and rec["expected"]["irq_per_s_max"]["LOC"] == 0.0
    stray = L.latency_records(quiet_probe, {"allowed_task_kinds": ["pinned", "pod_sandbox", "host", "pod"]})[0]
    assert stray["actual"]["stray_tasks"] == []


@pytest.mark.parametrize("limits, needle", [
    ({"max_usec": 5}, "unknown key(s) max_usec"),
    ({"max_irq_rates": 5}, "max_irq_rates must be a mapping"),
    ({"allowed_task_kinds": "host"}, "allowed_task_kinds must be a list"),
    ({"max_us": "fast"}, "threshold max_us 'fast'"),
])
def test_latency_records_refuse_bad_limits_naming_them(quiet_probe, limits, needle):
    with pytest.raises(L.LatencyError) as exc:
        L.latency_records(quiet_probe, limits)
    assert needle in str(exc.value)


def test_latency_records_turn_a_failed_probe_into_two_failed_checks():
    # What `register` holds for a probe that failed under failed_when: false.
    failed = {"failed": False, "failed_when_result": False, "changed": False,
              "msg": "oslat is not installed on this node: install Debian's rt-tests"}
    records = L.latency_records(failed)
    assert [(r["check"], r["ok"]) for r in records] == [("isolated_cpus_quiet", False), ("latency", False)]
    assert all("oslat is not installed" in r["actual"] for r in records)


def test_latency_records_refuse_a_result_that_is_not_a_mapping():
    with pytest.raises(L.LatencyError, match="latency must be the result of quantbot.hft.latency_probe"):
        L.latency_records(["not", "a", "probe"])
