# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The human-readable reports (plugins/module_utils/_textreport.py).

The plans come from the real planner on the captured sysfs trees, the
validation results from _validate's own record()/summarise(), so the reports
are checked on the shapes the playbooks print.
"""

from __future__ import annotations

import os

from ansible_collections.quantbot.hft.plugins.module_utils._textreport import plan_lines, validation_lines
from ansible_collections.quantbot.hft.plugins.module_utils._topology import build
from ansible_collections.quantbot.hft.plugins.module_utils._validate import record, summarise

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
SYSFS = os.path.join(UNIT_DIR, "fixtures", "sysfs")
CMDLINES = os.path.join(UNIT_DIR, "fixtures", "cmdline")


def plan_for(shape, cmdline, **options):
    result = build(os.path.join(SYSFS, shape), cmdline_path=cmdline, **options)
    return result["plan"], result["topology"]


# --- plan_lines ------------------------------------------------------------------------------------
def test_plan_of_the_lab_vm_without_a_command_line(tmp_path):
    missing = str(tmp_path / "no-cmdline")
    plan, topology = plan_for("lab-vm", missing, nics=["eth1"], hugepages_2m=256)
    lines = plan_lines(plan, topology, missing)
    assert lines[:9] == [
        "Topology: 2 socket(s), 2 NUMA node(s), 2 thread(s) per core, online CPUs 0-7",
        "  node 0: CPUs 0-3, 1407 MiB, 2 cores",
        "  node 1 (HFT): CPUs 4-7, 1511 MiB, 2 cores, NICs eth1, eth2",
        "  NICs without NUMA information: eth0",
        "Reserved for housekeeping: 0-1,4-5",
        "Isolated for HFT pods:     2-3,6-7",
        "HFT NUMA node:             1",
        "HugePages:                 256 x 2M on node 1",
        "Kernel arguments:          " + " ".join(plan["kernel_args"]),
    ]
    settings = [line for line in lines if line.startswith("Setting ")]
    assert [line.split(":")[0][len("Setting "):] for line in settings] == sorted(plan["settings"])
    skew = [s for s in settings if s.startswith("Setting skew_tick: ")]
    assert len(skew) == 1 and skew[0].endswith("(owner boot_args, kernel args skew_tick=1)"), skew
    assert lines[-2] == "Reboot required: yes, the running kernel lacks: " + " ".join(plan["kernel_args"])
    assert lines[-1] == ("Kernel command line not read (%s does not exist): every planned argument counts as missing"
                         % missing)


def test_plan_compared_with_a_running_command_line():
    cmdline = os.path.join(CMDLINES, "xeon-2s-applied.txt")
    plan, topology = plan_for("xeon-2s-interleaved", cmdline, nics=["ens1f0"])
    lines = plan_lines(plan, topology, cmdline)
    assert lines[1].startswith("  node 0: CPUs 0,2,4,") and lines[1].endswith(", 193066 MiB, 20 cores, NICs eno1")
    assert lines[2].endswith(", 193529 MiB, 20 cores, NICs ens1f0, ens1f1") and "(HFT)" in lines[2]
    assert not any(line.startswith("  NICs without NUMA") for line in lines)
    # The applied fixture lacks only what the planner added since.
    assert lines[-2] == "Reboot required: yes, the running kernel lacks: " + " ".join(plan["cmdline_missing"])
    assert plan["cmdline_missing"]
    assert lines[-1] == "Compared with the running kernel command line in " + cmdline


def test_plan_without_reboot_and_without_pages_or_arguments():
    topology = {"sockets": [0], "numa_nodes": {"0": {"cpus": "0-3", "memory_kb": 8046532, "cores": [0, 1, 2, 3]}},
                "threads_per_core": 1, "online_cpus": "0-3", "nics": {}}
    plan = {"hft_numa_node": 0, "reserved_cpus": "0", "isolated_cpus": "", "hugepages": {"2M": {"0": 0}},
            "kernel_args": [], "settings": {"none": {}}, "reboot_required": False, "cmdline_read": True}
    lines = plan_lines(plan, topology)
    assert lines == [
        "Topology: 1 socket(s), 1 NUMA node(s), 1 thread(s) per core, online CPUs 0-3",
        "  node 0 (HFT): CPUs 0-3, 7857 MiB, 4 cores",
        "Reserved for housekeeping: 0",
        "Isolated for HFT pods:     none",
        "HFT NUMA node:             0",
        "HugePages:                 none",
        "Kernel arguments:          none",
        "Setting none: none",
        "Reboot required: no, the running kernel has every planned argument",
        "Compared with the running kernel command line in /proc/cmdline",
    ]


def test_plan_pages_of_both_sizes_in_node_order():
    topology = {"numa_nodes": {}, "nics": {}}
    plan = {"hugepages": {"1G": {"10": 2, "2": 1}, "2M": {"1": 64, "0": 0}}}
    pages = [line for line in plan_lines(plan, topology) if line.startswith("HugePages:")]
    assert pages == ["HugePages:                 64 x 2M on node 1, 1 x 1G on node 2, 2 x 1G on node 10"]


# --- validation_lines ------------------------------------------------------------------------------
def test_a_passing_validation():
    records = [record("label", True, "quantbot.io/hft=true", "quantbot.io/hft=true"),
               record("isolated_cpus", True, "2-3,6-7", "2-3,6-7")]
    result = dict(summarise(records), scope="host", skipped_checks=[])
    lines = validation_lines(result, "hft-node-01")
    assert lines == ["validation of hft-node-01 (host scope)",
                     "PASS %-24s %s" % ("label", "quantbot.io/hft=true"),
                     "PASS %-24s %s" % ("isolated_cpus", "2-3,6-7"),
                     "valid: true"]


def test_a_failing_validation_names_expected_actual_hint_and_the_failed_checks():
    records = [record("sriov_numvfs", False, 2, 0, "run the sriov role"),
               record("label", True, "quantbot.io/hft=true", "quantbot.io/hft=true"),
               record("kernel_cmdline", False, ["nohz_full=2-3"], ["quiet"], "reboot"),
               record("kernel_cmdline", False, "x", "y", "again")]
    result = dict(summarise(records), skipped_checks=["ptp sync (no ptp4l instance to ask)"])
    lines = validation_lines(result)
    assert lines[0] == "FAIL %-24s expected 2, actual 0; hint: run the sriov role" % "sriov_numvfs"
    assert lines[1].startswith("PASS label")
    assert lines[2] == "FAIL %-24s expected [\"nohz_full=2-3\"], actual [\"quiet\"]; hint: reboot" % "kernel_cmdline"
    assert lines[4] == "SKIP ptp sync (no ptp4l instance to ask)"
    # Each failed check once, sorted.
    assert lines[-1] == "valid: false (failed checks: kernel_cmdline, sriov_numvfs)"
    assert not any(line.startswith("validation of") for line in lines)


def test_long_values_are_shortened():
    actual = {"cpus": list(range(100))}
    lines = validation_lines(summarise([record("cpus", True, None, actual)]))
    value = lines[0][len("PASS %-24s " % "cpus"):]
    assert len(value) == 160 and value.endswith("...")
    assert value.startswith('{"cpus": [0, 1, 2')


def test_an_empty_result():
    assert validation_lines({}) == ["valid: false"]
    assert validation_lines({"valid": True}, "n1") == ["validation of n1 (all scope)", "valid: true"]
