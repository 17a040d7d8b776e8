# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""host_facts on captured host trees (tests/unit/fixtures/hosts, scripts/capture-host-tree.py), and the
validation's host checks on what it reads there.

- lab-before: the lab VM before onboarding; lab-after: the same VM after
  `onboard.yml` (one reboot), both captured with host_facts record=true.
- Replaying a tree gives back exactly the facts the live run returned.
- The validation's host scope (node_validate scope=host, the post-boot checks)
  finds the onboarded tree valid and names what the fresh one lacks.
- NUMA -1: a NIC without a NUMA node on a one-node host is node 0 for the
  planner and for the validation alike.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._hostfacts import Reader, gather
from ansible_collections.quantbot.hft.plugins.module_utils._topology import build
from ansible_collections.quantbot.hft.plugins.module_utils import _validate as v

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
HOSTS = os.path.join(UNIT_DIR, "fixtures", "hosts")
SYSFS = os.path.join(UNIT_DIR, "fixtures", "sysfs")
TREES = sorted(name for name in os.listdir(HOSTS) if os.path.isfile(os.path.join(HOSTS, name, "replay.json")))

# The lab's plan (inventory/lab/group_vars/lab.yml: the HFT NIC on node 1, 64 x 2 MiB there), made from
# the planner's tree of the same VM shape (fixtures/sysfs/lab-vm, where that NIC is eth1): a host tree
# holds what host_facts reads, not every planner input (test_fixtures.py keeps those apart).
LAB_PLAN_OPTIONS = {"nics": ["eth1"], "hugepages_2m": 64, "hugepages_1g": 0, "isolcpus_flags": ["managed_irq", "domain"]}
# ... and what the roles were given for the lab's NIC name.
LAB_EXPECT = {"nics": ["enp65s0"], "vfs": {"enp65s0": 2}}


def load(name):
    """(Reader over the captured tree, the facts the live run returned)."""
    root = os.path.join(HOSTS, name)
    with open(os.path.join(root, "replay.json")) as handle:
        replay = json.load(handle)
    options = dict((k, v) for k, v in replay["options"].items() if k != "record")
    reader = Reader(sysfs_root=os.path.join(root, "sys"), procfs_root=os.path.join(root, "proc"),
                    fs_root=os.path.join(root, "root"), replay=replay, options=options)
    return reader, replay["host_facts"]


def lab_plan(name):
    root = os.path.join(HOSTS, name)
    return build(sysfs_root=os.path.join(SYSFS, "lab-vm"), cmdline_path=os.path.join(root, "proc", "cmdline"),
                 cpuinfo_path=os.path.join(root, "proc", "cpuinfo"), **LAB_PLAN_OPTIONS)["plan"]


def test_the_lab_trees_are_there():
    assert {"lab-before", "lab-after"} <= set(TREES)


# lab-before was captured with an earlier host_facts (before the nics reader gained
# irqs_not_requested): its live facts hold one key less per NIC than a replay gives today. The
# readers it had must still give the same answers.
READERS_THEN = {"lab-before": {"nics": ("irqs_not_requested",)}}


@pytest.mark.parametrize("name", TREES)
def test_a_captured_tree_replays_to_the_live_facts(name):
    reader, live = load(name)
    facts, errors = gather(reader, sorted(live))
    assert errors == {}
    newer = READERS_THEN.get(name, {})
    for key in sorted(live):
        # ptp: sampled over time (pmc or the collector's window); ptp_owners: the process table and
        # /sys/class/ptp are read outside the recording. Neither is a replayable constant.
        if key in ("ptp", "ptp_owners"):
            continue
        got = facts[key]
        if key in newer:
            got = dict((nic, dict((k, val) for k, val in info.items() if k not in newer[key]))
                       for nic, info in got.items())
        assert got == live[key], key


@pytest.mark.parametrize("name", TREES)
def test_a_captured_tree_holds_what_node_validate_reads(name):
    reader, live = load(name)
    facts, dummy = gather(reader, [])
    for key in ("cmdline", "cpus", "numa", "sysctl", "nics", "thp", "swap", "units", "kubelet", "state"):
        assert key in facts, key
    assert set(facts["cpus"]) >= {"online", "isolated", "nohz_full"}
    for node in facts["numa"].values():
        assert {"cpus", "memory_kb", "hugepages"} <= set(node)
    assert facts["nics"]["enp65s0"]["numa_node"] == 1


def test_the_fresh_lab_fails_the_host_checks_the_onboarding_fixes():
    reader, dummy = load("lab-before")
    facts, dummy = gather(reader, [])
    records, dummy = v.run_host_checks(facts, lab_plan("lab-before"), {"nic": "enp65s0"}, LAB_EXPECT)
    failed = sorted(set(r["check"] for r in records if not r["ok"]))
    assert {"kernel_cmdline", "nohz_full_cpus", "hugepages_per_numa", "latency_sysctls"} <= set(failed), failed
    assert "nic_numa_node" not in failed


def test_the_onboarded_lab_passes_every_host_check():
    reader, dummy = load("lab-after")
    facts, dummy = gather(reader, [])
    plan = lab_plan("lab-after")
    records, dummy = v.run_host_checks(facts, plan, {"nic": "enp65s0", "ptp_offset_threshold_ns": 1e7,
                                                     "ptp_offset_max_ns": 2e7}, LAB_EXPECT)
    # The tree was captured 50 s after a restart of ptp4l: ptp_sync judges the samples since its lock
    # (the lock-in left out, every sample SLAVE); the first ones after the lock hold the servo's
    # settling offset (12.6 ms here), which a 35-sample p99 cannot hide.
    failed = [r for r in records if not r["ok"]]
    assert [r["check"] for r in failed] == ["ptp_sync"], failed
    ptp = failed[0]["actual"]["interfaces"]["enp65s0"]
    assert ptp["lock_in_samples"] > 0 and ptp["states"] == {"SLAVE": ptp["samples"]}
    assert failed[0]["actual"]["problems"] == ["enp65s0: p99 |offset| 12581793 ns exceeds 10000000 ns"]
    checks = set(r["check"] for r in records)
    assert {"kernel_cmdline", "isolated_cpus", "nohz_full_cpus", "hugepages_per_numa", "nic_numa_node",
            "numa_balancing", "numastat", "sriov_numvfs"} <= checks, checks


def test_numa_minus_one_is_node_0_for_the_planner_and_the_validation(tmp_path):
    # small-4cpu: one NUMA node, eth0 with numa_node -1 (a VM's virtio NIC, a BIOS that reports none).
    tree = str(tmp_path / "sys")
    shutil.copytree(os.path.join(SYSFS, "small-4cpu"), tree, symlinks=True)
    with open(os.path.join(tree, "class/net/eth0/device/numa_node")) as handle:
        assert handle.read().strip() == "-1"
    plan = build(sysfs_root=tree, cmdline_path=str(tmp_path / "no-cmdline"),
                 cpuinfo_path=str(tmp_path / "no-cpuinfo"), nics=["eth0"])["plan"]
    assert plan["hft_numa_node"] == 0
    facts, errors = gather(Reader(sysfs_root=tree, procfs_root=str(tmp_path / "proc"),
                                  fs_root=str(tmp_path / "root")), ["cpus", "numa", "nics"])
    assert facts["nics"]["eth0"]["numa_node"] == -1
    record = v.check_nic_numa(facts, plan, "eth0")
    assert record["ok"] is True and record["actual"]["numa_node"] == 0
    # The same record through the host scope (node_validate scope=host, the post-boot checks).
    records, dummy = v.run_host_checks(facts, plan, {"nic": "eth0"})
    assert [r for r in records if r["check"] == "nic_numa_node"] == [record]
    # On a two-node host -1 is not guessed: the check fails and says so.
    two = dict(facts, numa={"0": facts["numa"]["0"], "1": facts["numa"]["0"]})
    assert v.check_nic_numa(two, plan, "eth0")["ok"] is False
