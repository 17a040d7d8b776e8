# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/_procstat.py on captured and constructed procfs files (fixtures/latency)."""

from __future__ import annotations

import ast
import os
import shutil

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _procstat as P

HERE = os.path.dirname(os.path.abspath(__file__))
LAT = os.path.join(HERE, "fixtures", "latency")
NODE8 = os.path.join(LAT, "node8")
BOT_UID = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"


def text(*parts):
    with open(os.path.join(LAT, *parts)) as handle:
        return handle.read()


def snap(kind, when, seconds):
    return {"time": seconds,
            "interrupts": P.parse_interrupts(text("interrupts-%s-%s.txt" % (kind, when))),
            "softirqs": P.parse_softirqs(text("softirqs-%s-%s.txt" % (kind, when))),
            "stat": P.parse_stat(text("stat-%s-%s.txt" % (kind, when)))}


# --- the module stays standalone ------------------------------------------------------
def test_procstat_imports_only_the_standard_library():
    with open(os.path.join(HERE, "..", "..", "plugins", "module_utils", "_procstat.py")) as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "json", "os", "re", "time"}


# --- cpulists -------------------------------------------------------------------------
@pytest.mark.parametrize("value, cpus", [("", []), ("3", [3]), ("0-1,4-5", [0, 1, 4, 5]), (" 2-3,6-7\n", [2, 3, 6, 7])])
def test_parse_cpulist(value, cpus):
    assert P.parse_cpulist(value) == cpus


@pytest.mark.parametrize("value, needle", [("3-2", "runs backwards"), ("2,,3", "item ''"), ("a", "item 'a'"),
                                           ("2 -3", "item '2 -3'")])
def test_parse_cpulist_refuses_naming_the_value(value, needle):
    with pytest.raises(P.ProcStatError, match="bad cpulist syntax in x: %r" % value.strip()) as exc:
        P.parse_cpulist(value, "x")
    assert needle in str(exc.value)


def test_format_cpulist():
    assert P.format_cpulist([7, 2, 3, 6, 0]) == "0,2-3,6-7"
    assert P.format_cpulist([]) == ""


# --- /proc/interrupts -----------------------------------------------------------------
def test_interrupts_captured_device_and_named_lines():
    parsed = P.parse_interrupts(text("interrupts-idle-before.txt"))
    assert parsed["cpus"] == [0, 1]
    virtio = parsed["device"]["36"]
    assert virtio["chip"] == "PCI-MSIX-0000:00:02.0" and virtio["hwirq"] == "1-edge"
    assert virtio["actions"] == "virtio1-req.0" and virtio["counts"][0] == 0 and virtio["counts"][1] > 0
    assert parsed["device"]["24"]["actions"] == "ACPI:Ged"
    assert parsed["other"]["LOC"]["desc"] == "Local timer interrupts"
    assert set(parsed["other"]["LOC"]["counts"]) == {0, 1}
    assert parsed["other"]["ERR"] == {"counts": {}, "total": 0, "desc": ""}
    assert parsed["other"]["MIS"]["counts"] == {}


def test_interrupts_offline_cpu_has_no_column_and_columns_follow_the_header():
    parsed = P.parse_interrupts(text("node8", "proc", "interrupts"))
    assert parsed["cpus"] == [0, 1, 2, 3, 4, 6, 7]
    # CPU 4's column is the fifth, CPU 6's the sixth: mapped by the header, not by position.
    assert parsed["device"]["121"]["counts"][4] == 48211
    assert 5 not in parsed["device"]["121"]["counts"]
    assert parsed["other"]["LOC"]["counts"][6] == 1045
    assert parsed["device"]["9"]["hwirq"] == "9-fasteoi"
    assert parsed["device"]["122"]["actions"] == "enp65s0-TxRx-1"


def test_interrupts_old_format_with_separate_trigger_column():
    parsed = P.parse_interrupts("           CPU0       CPU1\n"
                                " 11:         10          0   GICv3  27 Level     arch_timer\n"
                                "IPI0:      100        200       Rescheduling interrupts\n")
    assert parsed["device"]["11"]["hwirq"] == "27-level"
    assert parsed["device"]["11"]["actions"] == "arch_timer"
    assert parsed["other"]["IPI0"]["counts"] == {0: 100, 1: 200}


@pytest.mark.parametrize("bad, needle", [("", "is empty"), ("  CPU0 core1\n", "not a list of CPUn columns"),
                                         ("  CPU0\nno colon here\n", "unrecognised line")])
def test_interrupts_refuses_bad_input(bad, needle):
    with pytest.raises(P.ProcStatError, match=needle):
        P.parse_interrupts(bad)


# --- /proc/softirqs and /proc/stat ------------------------------------------------------
def test_softirqs_keep_offline_cpu_columns():
    parsed = P.parse_softirqs(text("node8", "proc", "softirqs"))
    assert parsed["cpus"] == list(range(8))
    assert parsed["counts"]["TIMER"][5] == 5001


def test_softirqs_captured():
    parsed = P.parse_softirqs(text("softirqs-idle-before.txt"))
    assert set(parsed["counts"]) >= {"HI", "TIMER", "NET_RX", "SCHED", "RCU"}
    assert parsed["counts"]["TIMER"][1] > 0


def test_softirqs_refuse_a_short_line():
    with pytest.raises(P.ProcStatError, match="one count per CPU column"):
        P.parse_softirqs("   CPU0   CPU1\n  TIMER:   1\n")


def test_stat_lists_online_cpus_only():
    parsed = P.parse_stat(text("node8", "proc", "stat"))
    assert sorted(parsed) == [0, 1, 2, 3, 4, 6, 7]
    assert parsed[2]["idle"] == 960000 and parsed[2]["guest_nice"] == 0


def test_stat_refuses_garbage():
    with pytest.raises(P.ProcStatError, match="no cpuN lines"):
        P.parse_stat("intr 1 2 3\n")
    with pytest.raises(P.ProcStatError, match="not a cpu line"):
        P.parse_stat("cpu0 1 2 x 4\n")


# --- diffs ------------------------------------------------------------------------------
def test_diff_of_captured_busy_window_shows_the_busy_loop_and_device_irqs():
    diff = P.diff_snapshots(snap("busy", "before", 10.0), snap("busy", "after", 13.0), [1])
    cpu1 = diff["per_cpu"]["1"]
    assert diff["seconds"] == 3.0
    assert cpu1["busy_percent"] > 95
    assert cpu1["total_ticks"] > 250
    # virtio-blk's queue interrupt fired on CPU 1 during the capture.
    assert cpu1["device_irqs"]["36"]["actions"] == "virtio1-req.0"
    assert cpu1["device_irqs"]["36"]["count"] > 0
    assert cpu1["other_irqs"]["LOC"]["per_s"] > 0
    assert set(cpu1["softirqs"]) >= {"TIMER", "SCHED", "RCU"}


def test_diff_quiet_node_has_no_device_irq_on_isolated_cpus():
    before = {"time": 0.0, "interrupts": P.parse_interrupts(text("node8", "proc", "interrupts")),
              "softirqs": P.parse_softirqs(text("node8", "proc", "softirqs")),
              "stat": P.parse_stat(text("node8", "proc", "stat"))}
    after = {"time": 10.0, "interrupts": P.parse_interrupts(text("node8", "after", "interrupts-quiet")),
             "softirqs": P.parse_softirqs(text("node8", "after", "softirqs")),
             "stat": P.parse_stat(text("node8", "after", "stat-quiet"))}
    diff = P.diff_snapshots(before, after, [2, 3, 4, 6, 7])
    for cpu in ("2", "3", "6", "7"):
        assert diff["per_cpu"][cpu]["device_irqs"] == {}
    assert diff["per_cpu"]["4"]["device_irqs"]["121"] == {
        "count": 300, "per_s": 30.0, "desc": "IR-PCI-MSIX-0000:41:00.0 1-edge enp65s0-TxRx-0",
        "actions": "enp65s0-TxRx-0"}
    assert diff["per_cpu"]["3"]["busy_percent"] == 0.0
    assert diff["per_cpu"]["2"]["busy_percent"] == 0.1
    assert diff["per_cpu"]["6"]["busy_percent"] == 100.0
    assert diff["per_cpu"]["3"]["other_irqs"]["LOC"] == {"count": 20, "per_s": 2.0}


def test_diff_moved_irq_is_named_on_its_cpu():
    before = P.parse_interrupts(text("node8", "proc", "interrupts"))
    after = P.parse_interrupts(text("node8", "after", "interrupts-irq122-on-cpu3"))
    diff = P.diff_interrupts(before, after, [2, 3])
    assert diff[3]["device"] == {"122": {"count": 40, "desc": "IR-PCI-MSIX-0000:41:00.0 2-edge enp65s0-TxRx-1",
                                         "actions": "enp65s0-TxRx-1"}}
    assert diff[2]["device"] == {}


def test_diff_counts_a_new_irq_from_zero_and_a_reset_counter_from_zero():
    before = P.parse_interrupts("      CPU0  CPU1\n 40:  5  100  PCI-MSI 1-edge old\n")
    after = P.parse_interrupts("      CPU0  CPU1\n 40:  5  3  PCI-MSI 1-edge reused\n 41:  0  7  PCI-MSI 2-edge new\n")
    diff = P.diff_interrupts(before, after, [1])
    assert diff[1]["device"]["40"]["count"] == 3
    assert diff[1]["device"]["41"]["count"] == 7


def test_diff_offline_cpu_is_reported_offline_and_without_busy_time():
    before = P.parse_stat(text("node8", "proc", "stat"))
    assert P.diff_stat(before, before, [5])[5]["busy_percent"] is None
    irqs = P.parse_interrupts(text("node8", "proc", "interrupts"))
    assert P.diff_interrupts(irqs, irqs, [5])[5]["online"] is False


def test_diff_refuses_snapshots_out_of_order():
    first = snap("idle", "before", 5.0)
    with pytest.raises(P.ProcStatError, match="not later"):
        P.diff_snapshots(first, snap("idle", "after", 5.0), [1])


def test_snapshot_reads_a_root(tmp_path):
    shutil.copytree(os.path.join(NODE8, "proc"), str(tmp_path / "proc"))
    taken = P.snapshot(str(tmp_path / "proc"), clock=lambda: 42.0)
    assert taken["time"] == 42.0
    assert taken["interrupts"]["cpus"] == [0, 1, 2, 3, 4, 6, 7]
    with pytest.raises(P.ProcStatError, match="cannot read .*/interrupts"):
        P.snapshot(str(tmp_path / "nowhere"))


# --- cpu_manager_state --------------------------------------------------------------------
def test_cpu_manager_state_static_with_a_pinned_bot():
    state = P.read_cpu_manager_state(os.path.join(NODE8, "kubelet", "cpu_manager_state"))
    assert state == {"policy": "static", "default_cpus": [0, 1, 2, 3, 4],
                     "entries": {BOT_UID: {"bot": [6, 7]}}, "pinned_cpus": [6, 7]}
    assert P.cpu_holders(state) == {6: BOT_UID + "/bot", 7: BOT_UID + "/bot"}


def test_cpu_manager_state_none_policy_and_missing_file(tmp_path):
    state = P.parse_cpu_manager_state(text("cpu_manager_state-none.json"))
    assert state == {"policy": "none", "default_cpus": [], "entries": {}, "pinned_cpus": []}
    assert P.read_cpu_manager_state(str(tmp_path / "absent")) is None
    assert P.cpu_holders(None) == {}


@pytest.mark.parametrize("content, needle", [
    ("not json", "is not JSON"),
    ("[]", "no policyName"),
    ('{"policyName": "static", "entries": []}', "entries is not a mapping"),
    ('{"policyName": "static", "entries": {"u": "2-3"}}', r"entries\[u\] is not a mapping"),
])
def test_cpu_manager_state_refuses_bad_content(content, needle):
    with pytest.raises(P.ProcStatError, match=needle):
        P.parse_cpu_manager_state(content, "state")


def test_cpu_manager_state_names_the_bad_cpuset():
    with pytest.raises(P.ProcStatError, match=r"entries\[abc\]\[bot\]: '7-6' \(range '7-6' runs backwards\)"):
        P.parse_cpu_manager_state(text("cpu_manager_state-malformed.json"), "cpu_manager_state")


# --- tasks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path, expected", [
    ("/kubepods.slice/kubepods-pod1b2c3d4e_5f60_4a7b_8c9d_0e1f2a3b4c5d.slice/cri-containerd-" + "ab" * 32 + ".scope",
     (BOT_UID, "ab" * 32)),
    ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_4a7b_8c9d_0e1f2a3b4c5d.slice/"
     "crio-" + "cd" * 32 + ".scope", (BOT_UID, "cd" * 32)),
    ("/kubepods/besteffort/pod" + BOT_UID + "/" + "ef" * 32, (BOT_UID, "ef" * 32)),
    ("/kubepods/pod" + BOT_UID, (BOT_UID, None)),
    ("/system.slice/containerd.service", (None, None)),
    ("/kubepods.slice", (None, None)),
])
def test_pod_of_cgroup(path, expected):
    assert P.pod_of_cgroup(path) == expected


def test_task_stat_with_spaces_and_parens_in_comm():
    line = "4242 (tmux: (server)) S 1 4242 4242 0 -1 4194560 " + " ".join(["0"] * 29) + " 3 " + " ".join(["0"] * 13)
    parsed = P.parse_task_stat(line)
    assert parsed == {"pid": 4242, "comm": "tmux: (server)", "state": "S", "flags": 4194560, "processor": 3}


def test_task_stat_captured_busy_loop():
    parsed = P.parse_task_stat(text("proc-busy", "29215", "stat"))
    assert parsed["comm"] == "python3" and parsed["state"] == "R" and parsed["processor"] == 1
    assert not parsed["flags"] & P.PF_KTHREAD


def test_task_stat_refuses_a_truncated_line():
    with pytest.raises(P.ProcStatError, match="expected at least 37"):
        P.parse_task_stat("1 (init) S 0 1")


def test_scan_captured_busy_loop_is_a_stray_host_task():
    found = P.scan_tasks([1], os.path.join(LAT, "proc-busy"))
    assert found["tasks"] == [{"pid": 29215, "tid": 29215, "comm": "python3", "allowed": "1", "last_cpu": 1,
                               "on_cpus": "1", "kind": "host", "pod_uid": None, "container_id": None,
                               "container": None, "cgroup": "/"}]


def test_scan_node8_tells_pinned_pod_from_stray_tasks():
    state = P.read_cpu_manager_state(os.path.join(NODE8, "kubelet", "cpu_manager_state"))
    found = P.scan_tasks([2, 3, 6, 7], os.path.join(NODE8, "proc"), state)
    kinds = dict(((t["pid"], t["tid"]), (t["comm"], t["kind"])) for t in found["tasks"])
    assert kinds == {
        (640, 640): ("chronyd", "host"),        # allowed everywhere: stray
        (7000, 7000): ("spin", "host"),         # a busy loop pinned to isolated CPU 2: stray
        (9000, 9000): ("pause", "pod_sandbox"),
        (9001, 9001): ("bot", "pinned"),        # kubelet pinned the bot container to 6-7
        (9001, 9002): ("bot-md", "pinned"),     # one of its threads narrowed to 7: still pinned
        (9100, 9100): ("ptp4l", "pod"),         # a Burstable pod in the shared pool 0-4: stray
    }
    bot = [t for t in found["tasks"] if t["tid"] == 9001][0]
    assert bot["container"] == "bot" and bot["pod_uid"] == BOT_UID and bot["container_id"] == "4f1c" * 16
    # kthreadd (allowed everywhere) and kworker/2:1 are kernel threads: counted, not listed.
    assert found["kernel_threads"] == 2
    # systemd and sshd stay on the housekeeping CPUs and are not listed.
    assert not [t for t in found["tasks"] if t["comm"] in ("systemd", "sshd")]


def test_scan_without_kubelet_state_makes_the_bot_stray():
    found = P.scan_tasks([6, 7], os.path.join(NODE8, "proc"), None)
    assert [t["kind"] for t in found["tasks"] if t["comm"] == "bot"] == ["pod"]


def test_scan_excludes_given_pids_and_skips_vanished_tasks(tmp_path):
    root = tmp_path / "proc"
    shutil.copytree(os.path.join(NODE8, "proc"), str(root))
    os.remove(str(root / "640" / "stat"))  # chronyd exited between the listing and the read
    found = P.scan_tasks([2, 3], str(root), exclude_pids=[7000])
    assert sorted(t["comm"] for t in found["tasks"]) == ["pause", "ptp4l"]


def test_scan_refuses_a_status_without_affinity(tmp_path):
    root = tmp_path / "proc"
    shutil.copytree(os.path.join(NODE8, "proc"), str(root))
    (root / "812" / "status").write_text("Name:\tsshd\n")
    with pytest.raises(P.ProcStatError, match="812/status has no Cpus_allowed_list"):
        P.scan_tasks([2], str(root))
