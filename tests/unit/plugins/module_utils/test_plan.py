# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The planner: reserved/isolated CPUs, HFT node, HugePages, kernel args, cmdline diff."""

from __future__ import annotations

import os

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    TopologyError,
    build,
    make_plan,
    missing_args,
    parse_cpulist,
)

CMDLINES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "fixtures", "cmdline")
XEON_NICS = ["ens1f0", "ens1f1"]
XEON_ISO = "2-39,42-79"
# The latency settings' kernel arguments on a CPU without an invariant TSC (the
# fixtures plan without a cpuinfo: vendor and flags unknown).
LATENCY_ARGS = ["nmi_watchdog=0", "nosoftlockup", "skew_tick=1"]


@pytest.fixture
def plan_for(sysfs, no_cmdline):
    """plan_for(shape, **options) -> (plan, warnings, topology)."""
    def _plan(shape, cmdline_path=no_cmdline, **options):
        options.setdefault("cpuinfo_path", no_cmdline)
        result = build(sysfs(shape), cmdline_path=cmdline_path, **options)
        return result["plan"], result["warnings"], result["topology"]
    return _plan


def assert_smt_whole(plan, topology):
    reserved = set(parse_cpulist(plan["reserved_cpus"]))
    isolated = set(parse_cpulist(plan["isolated_cpus"]))
    assert not reserved & isolated
    assert reserved | isolated == set(parse_cpulist(topology["online_cpus"]))
    for core in topology["smt_siblings"]:
        assert set(core) <= reserved or set(core) <= isolated, core


# ---------------------------------------------------------------- defaults
def test_xeon_default_plan(plan_for):
    plan, warnings, topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS)
    assert warnings == []
    # The cores holding cpu0 (0,40) and cpu1 (1,41): one per NUMA node, never "0-3".
    assert plan["reserved_cpus"] == "0-1,40-41"
    assert plan["isolated_cpus"] == XEON_ISO
    assert plan["hft_numa_node"] == 1
    assert plan["hugepages"] == {"2M": {"0": 0, "1": 1024}, "1G": {"0": 0, "1": 0}}
    assert plan["kernel_args"] == [
        "isolcpus=managed_irq," + XEON_ISO,
        "nohz_full=" + XEON_ISO,
        "rcu_nocbs=" + XEON_ISO,
        "irqaffinity=0-1,40-41",
        "default_hugepagesz=2M",
        "hugepagesz=2M",
        "hugepages=1:1024",
    ] + LATENCY_ARGS
    assert plan["cmdline_read"] is False
    assert plan["cmdline_missing"] == plan["kernel_args"]
    assert plan["reboot_required"] is True
    assert_smt_whole(plan, topo)


def test_xeon_two_cores_per_node_follow_node_numbering(plan_for):
    plan, _warnings, topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS, reserved_cores_per_node=2)
    # node0's first two cores are (0,40) and (2,42); node1's are (1,41) and (3,43).
    assert plan["reserved_cpus"] == "0-3,40-43"
    assert plan["isolated_cpus"] == "4-39,44-79"
    assert_smt_whole(plan, topo)


def test_epyc_nps4_reserves_one_core_on_every_node(plan_for):
    plan, warnings, topo = plan_for("epyc-nps4", nics=["ens3f0np0", "ens3f1np1"])
    assert warnings == []
    assert plan["reserved_cpus"] == "0,8,16,24,32,40,48,56"
    assert plan["isolated_cpus"] == "1-7,9-15,17-23,25-31,33-39,41-47,49-55,57-63"
    assert plan["hft_numa_node"] == 2
    assert plan["hugepages"]["2M"] == {"0": 0, "1": 0, "2": 1024, "3": 0}
    assert plan["kernel_args"][-6:] == ["default_hugepagesz=2M", "hugepagesz=2M", "hugepages=2:1024"] + LATENCY_ARGS
    assert_smt_whole(plan, topo)


def test_small_box_numa_minus_one_is_node_zero_without_warning(plan_for):
    plan, warnings, topo = plan_for("small-4cpu", nics=["eth0"])
    assert warnings == []
    assert plan["hft_numa_node"] == 0
    assert plan["reserved_cpus"] == "0"
    assert plan["isolated_cpus"] == "1-3"
    assert plan["kernel_args"] == [
        "isolcpus=managed_irq,1-3", "nohz_full=1-3", "rcu_nocbs=1-3", "irqaffinity=0",
        "default_hugepagesz=2M", "hugepagesz=2M", "hugepages=0:1024",
    ] + LATENCY_ARGS
    assert_smt_whole(plan, topo)


def test_lab_vm_plan_matches_the_contract_example(plan_for):
    plan, warnings, _topo = plan_for("lab-vm", nics=["eth1", "eth2"], hugepages_2m=64)
    assert warnings == []
    assert plan["reserved_cpus"] == "0-1,4-5"
    assert plan["isolated_cpus"] == "2-3,6-7"
    assert plan["hft_numa_node"] == 1
    assert plan["hugepages"] == {"2M": {"0": 0, "1": 64}, "1G": {"0": 0, "1": 0}}
    assert plan["kernel_args"] == [
        "isolcpus=managed_irq,2-3,6-7", "nohz_full=2-3,6-7", "rcu_nocbs=2-3,6-7",
        "irqaffinity=0-1,4-5", "default_hugepagesz=2M", "hugepagesz=2M", "hugepages=1:64",
    ] + LATENCY_ARGS


def test_contract_shaped_topology_without_physical_cores(plan_for):
    """make_plan also works on a recorded topology that has only the contract keys."""
    _plan, _warnings, topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8)
    del topo["physical_cores"]
    plan, _warnings = make_plan(topo, nics=["eth1"], hugepages_2m=8)
    assert plan["reserved_cpus"] == "0-1,4-5"
    with pytest.raises(TopologyError, match=r"SMT siblings must not be split: .*CPUs 4,5"):
        make_plan(topo, nics=["eth1"], hugepages_2m=8, reserved_cpus="0-1,4")


# ------------------------------------------------------------ HFT NUMA node
def test_nics_on_different_nodes_are_named(plan_for):
    with pytest.raises(TopologyError) as err:
        plan_for("xeon-2s-interleaved", nics=["ens1f0", "eno1"])
    assert "different NUMA nodes: ens1f0 (node 1), eno1 (node 0)" in str(err.value)


def test_unknown_nic_is_named_with_the_known_ones(plan_for):
    with pytest.raises(TopologyError) as err:
        plan_for("xeon-2s-interleaved", nics=["ens1f0", "ens9f9"])
    msg = str(err.value)
    assert "unknown NIC ens9f9" in msg
    assert "eno1, ens1f0, ens1f1" in msg


def test_numa_minus_one_on_multi_node_falls_back_to_zero_with_warning(plan_for):
    plan, warnings, _topo = plan_for("lab-vm", nics=["eth0"], hugepages_2m=8)
    assert plan["hft_numa_node"] == 0
    assert len(warnings) == 1
    assert "eth0" in warnings[0] and "numa_node -1" in warnings[0] and "hft_numa_node" in warnings[0]


def test_numa_minus_one_on_multi_node_uses_hft_numa_node(plan_for):
    plan, warnings, _topo = plan_for("lab-vm", nics=["eth0"], hft_numa_node=1, hugepages_2m=8)
    assert plan["hft_numa_node"] == 1
    assert plan["hugepages"]["2M"] == {"0": 0, "1": 8}
    assert warnings == []


def test_unlocated_nic_next_to_a_located_one_uses_the_located_node(plan_for):
    plan, warnings, _topo = plan_for("lab-vm", nics=["eth1", "eth0"], hugepages_2m=8)
    assert plan["hft_numa_node"] == 1
    assert len(warnings) == 1 and "eth0" in warnings[0]


def test_explicit_hft_numa_node_overrides_nic_locality_with_warning(plan_for):
    plan, warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS, hft_numa_node=0)
    assert plan["hft_numa_node"] == 0
    assert plan["hugepages"]["2M"] == {"0": 1024, "1": 0}
    assert warnings == ["hft_numa_node=0 overrides NIC locality: ens1f0, ens1f1 on NUMA node 1"]


def test_hft_numa_node_must_exist(plan_for):
    with pytest.raises(TopologyError, match=r"hft_numa_node names NUMA node 5, which does not exist \(NUMA nodes: 0, 1\)"):
        plan_for("xeon-2s-interleaved", hft_numa_node=5)


def test_no_nics_on_multi_node_warns(plan_for):
    plan, warnings, _topo = plan_for("epyc-nps4")
    assert plan["hft_numa_node"] == 0
    assert len(warnings) == 1 and "no NICs named" in warnings[0]


def test_nic_reporting_a_missing_node_is_refused(sysfs_copy, no_cmdline):
    root = sysfs_copy("lab-vm")
    (root / "class/net/eth1/device/numa_node").write_text("3\n")
    with pytest.raises(TopologyError, match=r"NIC eth1 reports NUMA node 3, which does not exist"):
        build(str(root), cmdline_path=no_cmdline, nics=["eth1"])


# ------------------------------------------------- reserved_cores_per_node
@pytest.mark.parametrize("bad", [0, -1, True, "1"])
def test_reserved_cores_per_node_below_one(plan_for, bad):
    with pytest.raises(TopologyError, match=r"reserved_cores_per_node must be an integer >= 1"):
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, reserved_cores_per_node=bad)


def test_reserved_cores_per_node_more_than_a_node_has(plan_for):
    with pytest.raises(TopologyError) as err:
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, reserved_cores_per_node=21)
    assert "reserved_cores_per_node=21 is more than NUMA node 0 has: it has 20 physical cores" in str(err.value)


def test_reserving_every_core_of_the_hft_node_is_refused(plan_for):
    with pytest.raises(TopologyError) as err:
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, reserved_cores_per_node=20)
    msg = str(err.value)
    assert "every core of the HFT NUMA node 1" in msg
    assert "nothing would be isolated there" in msg


def test_lab_vm_two_cores_per_node_leaves_nothing_on_node_one(plan_for):
    with pytest.raises(TopologyError, match=r"every core of the HFT NUMA node 1 \(it has 2 physical cores, CPUs 4-7\)"):
        plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, reserved_cores_per_node=2)


# ------------------------------------------------------ explicit CPU sets
def test_only_reserved_given(plan_for):
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS, reserved_cpus="0-3,40-43")
    assert plan["reserved_cpus"] == "0-3,40-43"
    assert plan["isolated_cpus"] == "4-39,44-79"


def test_only_isolated_given(plan_for):
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS, isolated_cpus=XEON_ISO)
    assert plan["reserved_cpus"] == "0-1,40-41"


def test_both_given_disjoint_and_complete(plan_for):
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8,
                                      reserved_cpus="0-1,4-5", isolated_cpus="2-3,6-7")
    assert (plan["reserved_cpus"], plan["isolated_cpus"]) == ("0-1,4-5", "2-3,6-7")


def test_overlapping_sets_are_named(plan_for):
    with pytest.raises(TopologyError, match=r"reserved_cpus and isolated_cpus overlap on CPUs 4-5"):
        plan_for("lab-vm", nics=["eth1"], reserved_cpus="0-1,4-5", isolated_cpus="2-7")


def test_sets_leaving_cpus_in_neither_are_named(plan_for):
    with pytest.raises(TopologyError, match=r"CPUs 6-7 are in neither"):
        plan_for("lab-vm", nics=["eth1"], reserved_cpus="0-1,4-5", isolated_cpus="2-3")


@pytest.mark.parametrize("option", ["reserved_cpus", "isolated_cpus"])
def test_cpus_not_online_are_named(plan_for, option):
    with pytest.raises(TopologyError) as err:
        plan_for("lab-vm", nics=["eth1"], **{option: "0-1,4-5,8-9"})
    assert "%s names CPUs that are not online: 8-9 (online CPUs: 0-7)" % option in str(err.value)


def test_split_smt_core_is_named(plan_for):
    with pytest.raises(TopologyError) as err:
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, reserved_cpus="0-1,40")
    msg = str(err.value)
    assert "SMT siblings must not be split" in msg
    assert "core 0 of socket 1 (CPUs 1,41)" in msg
    assert "CPUs 1 reserved and CPUs 41 isolated" in msg


def test_node_without_housekeeping_is_named(plan_for):
    with pytest.raises(TopologyError) as err:
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, reserved_cpus="0,40")
    assert "NUMA node 1 (CPUs 1,3,5," in str(err.value)
    assert "no housekeeping CPU" in str(err.value)


def test_isolating_every_cpu_is_refused(plan_for):
    with pytest.raises(TopologyError, match=r"isolating every online CPU \(0-79\)"):
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, isolated_cpus="0-79")
    with pytest.raises(TopologyError, match=r"isolating every online CPU"):
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, reserved_cpus="")


def test_isolating_the_boot_cpu_is_refused(plan_for):
    with pytest.raises(TopologyError, match=r"CPU 0 cannot be isolated: it is the boot CPU"):
        plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, reserved_cpus="2-3,4-5", isolated_cpus="0-1,6-7")


@pytest.mark.parametrize("option, bad", [("reserved_cpus", "0-1,,40-41"), ("isolated_cpus", "2-")])
def test_bad_cpulist_option_is_quoted(plan_for, option, bad):
    with pytest.raises(TopologyError) as err:
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, **{option: bad})
    assert "bad cpulist syntax in %s: %r" % (option, bad) in str(err.value)


def test_nothing_isolated_emits_no_isolation_args(plan_for):
    plan, warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, isolated_cpus="")
    assert plan["reserved_cpus"] == "0-7"
    assert plan["isolated_cpus"] == ""
    assert plan["kernel_args"] == ["default_hugepagesz=2M", "hugepagesz=2M", "hugepages=1:8"] + LATENCY_ARGS
    assert any("no CPU of the HFT NUMA node 1 is isolated" in w for w in warnings)


# ---------------------------------------------------------------- HugePages
def test_lab_vm_default_pages_do_not_fit(plan_for):
    with pytest.raises(TopologyError) as err:
        plan_for("lab-vm", nics=["eth1"])
    msg = str(err.value)
    assert "hugepages do not fit NUMA node 1" in msg
    assert "2M x 1024 (2048 MiB)" in msg
    assert "MemTotal 1511 MiB" in msg
    assert "at most 1255 MiB" in msg


def test_memory_limit_boundary(plan_for):
    # node1 MemTotal 1547836 kB; headroom max(10%, 256 MiB) = 262144 kB;
    # limit 1285692 kB = 627 pages of 2048 kB (+ a remainder).
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=627)
    assert plan["hugepages"]["2M"]["1"] == 627
    with pytest.raises(TopologyError, match=r"2M x 628"):
        plan_for("lab-vm", nics=["eth1"], hugepages_2m=628)


def test_ten_percent_headroom_on_big_nodes(plan_for):
    # node1 MemTotal 198174504 kB -> limit 178357054 kB: 170 x 1G fit, 171 do not.
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS, hugepages_2m=0, hugepages_1g=170)
    assert plan["hugepages"]["1G"]["1"] == 170
    with pytest.raises(TopologyError) as err:
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, hugepages_2m=1024, hugepages_1g=169)
    assert "NUMA node 1: 2M x 1024 (2048 MiB) + 1G x 169 (173056 MiB) = 175104 MiB" in str(err.value)
    assert "MemTotal 193529 MiB" in str(err.value)


def test_only_1g_pages_make_1g_the_default_size(plan_for):
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS, hugepages_2m=0, hugepages_1g=4)
    assert plan["kernel_args"][4:-3] == ["default_hugepagesz=1G", "hugepagesz=1G", "hugepages=1:4"]


def test_both_sizes_keep_2m_default_and_order(plan_for):
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS, hugepages_1g=4)
    assert plan["kernel_args"][4:-3] == [
        "default_hugepagesz=2M", "hugepagesz=2M", "hugepages=1:1024", "hugepagesz=1G", "hugepages=1:4"]


def test_no_pages_no_hugepage_args(plan_for):
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS, hugepages_2m=0)
    assert not [a for a in plan["kernel_args"] if "hugepage" in a]
    assert plan["hugepages"] == {"2M": {"0": 0, "1": 0}, "1G": {"0": 0, "1": 0}}


def test_per_node_override(plan_for):
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS,
                                      hugepages={"2M": {"0": 0, "1": 512}, "1G": {"1": 2}})
    assert plan["hugepages"] == {"2M": {"0": 0, "1": 512}, "1G": {"0": 0, "1": 2}}
    assert plan["kernel_args"][4:-3] == [
        "default_hugepagesz=2M", "hugepagesz=2M", "hugepages=1:512", "hugepagesz=1G", "hugepages=1:2"]


def test_override_with_int_keys_on_several_nodes_and_default_for_other_size(plan_for):
    plan, _warnings, _topo = plan_for("epyc-nps4", nics=["ens3f0np0"], hugepages_1g=2,
                                      hugepages={"2M": {0: 128, 2: "256"}})
    assert plan["hugepages"]["2M"] == {"0": 128, "1": 0, "2": 256, "3": 0}
    assert plan["hugepages"]["1G"] == {"0": 0, "1": 0, "2": 2, "3": 0}
    assert "hugepages=0:128,2:256" in plan["kernel_args"]


@pytest.mark.parametrize("override, message", [
    ({"4M": {"1": 1}}, r"hugepages: unknown page size '4M'; use 2M or 1G"),
    ({"2MB": {"1": 1}}, r"unknown page size '2MB'"),
    ({"2M": {"7": 1}}, r"hugepages\[2M\] names NUMA node 7, which does not exist \(NUMA nodes: 0, 1\)"),
    ({"2M": {"one": 1}}, r"hugepages\[2M\]: 'one' is not a NUMA node number"),
    ({"2M": {"1": -1}}, r"hugepages\[2M\]\[1\] must be a non-negative integer, got -1"),
    ({"1G": {"1": "lots"}}, r"hugepages\[1G\]\[1\] must be a non-negative integer, got 'lots'"),
    ({"1G": {"1": True}}, r"must be a non-negative integer, got True"),
    ({"1G": {"1": 1.5}}, r"must be a non-negative integer, got 1.5"),
    ({"2M": [1024]}, r"hugepages\[2M\] must map NUMA node to a count"),
    ("2M=1024", r"hugepages must be a dict"),
])
def test_bad_hugepages_override(plan_for, override, message):
    with pytest.raises(TopologyError, match=message):
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, hugepages=override)


@pytest.mark.parametrize("option", ["hugepages_2m", "hugepages_1g"])
def test_negative_page_counts(plan_for, option):
    with pytest.raises(TopologyError, match=r"%s must be a non-negative integer, got -2" % option):
        plan_for("xeon-2s-interleaved", nics=XEON_NICS, **{option: -2})


# ------------------------------------------------------------ kernel args
def test_isolcpus_flags_in_order_without_duplicates(plan_for):
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8,
                                      isolcpus_flags=["managed_irq", "domain", "managed_irq"])
    assert plan["kernel_args"][0] == "isolcpus=managed_irq,domain,2-3,6-7"


def test_empty_isolcpus_flags_leave_isolcpus_out(plan_for):
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, isolcpus_flags=[])
    assert not [a for a in plan["kernel_args"] if a.startswith("isolcpus=")]
    assert plan["kernel_args"][:2] == ["nohz_full=2-3,6-7", "rcu_nocbs=2-3,6-7"]


def test_unknown_isolcpus_flag(plan_for):
    with pytest.raises(TopologyError, match=r"isolcpus_flags: unknown flag 'io_queue'"):
        plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, isolcpus_flags=["io_queue"])


@pytest.mark.parametrize("vendor, wanted", [
    ("GenuineIntel", ["intel_iommu=on", "iommu=pt"]),
    # The AMD IOMMU is on by default; amd_iommu=on is not a valid value.
    ("AuthenticAMD", ["iommu=pt"]),
    (None, ["iommu=pt"]),
])
def test_iommu_args_follow_the_cpu_vendor(plan_for, tmp_path, vendor, wanted):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(("vendor_id\t: %s\n" % vendor if vendor else "") + "flags\t\t: fpu sse2\n")
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, iommu=True,
                                      cpuinfo_path=str(cpuinfo))
    assert plan["iommu_args"] == wanted
    index = plan["kernel_args"].index("hugepages=1:8")
    assert plan["kernel_args"][index + 1:index + 1 + len(wanted)] == wanted
    assert "amd_iommu=on" not in plan["kernel_args"]
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, iommu=True, iommu_args=["iommu=pt"],
                                      cpuinfo_path=str(cpuinfo))
    assert "iommu=pt" in plan["kernel_args"] and "intel_iommu=on" not in plan["kernel_args"]
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, iommu=False,
                                      cpuinfo_path=str(cpuinfo))
    assert "iommu=pt" not in plan["kernel_args"] and plan["settings"]["iommu"]["value"] is None


@pytest.mark.parametrize("flags, tsc", [("constant_tsc nonstop_tsc", True), ("constant_tsc", False), ("", False)])
def test_tsc_reliable_only_with_an_invariant_tsc(plan_for, tmp_path, flags, tsc):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("vendor_id\t: GenuineIntel\nflags\t\t: fpu %s\n" % flags)
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, cpuinfo_path=str(cpuinfo))
    assert ("tsc=reliable" in plan["kernel_args"]) is tsc
    decision = plan["settings"]["tsc_reliable"]["decision"]
    assert ("invariant TSC" in decision) if tsc else ("skipped" in decision and "nonstop_tsc" in decision)


def test_latency_settings_can_be_turned_off_one_by_one(plan_for):
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8,
                                      settings={"watchdogs": False, "skew_tick": False})
    assert not [a for a in plan["kernel_args"] if a in LATENCY_ARGS]
    assert plan["settings"]["watchdogs"]["value"] is None and "not managed" in plan["settings"]["watchdogs"]["decision"]
    plan, _warnings, _topo = plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, settings={"thp": False, "cstates": 5})
    assert plan["settings"]["thp"]["value"] is None and plan["settings"]["cstates"]["value"] == 5
    # No cpufreq in the fixture trees (as in a VM): the governor is a named skip.
    assert plan["settings"]["governor"]["value"] is None
    assert "skipped: no cpufreq" in plan["settings"]["governor"]["decision"]


@pytest.mark.parametrize("settings, needle", [
    ({"thp": "sometimes"}, "thp must be one of"),
    ({"watchdogs": "yes"}, "watchdogs must be true or false"),
    ({"cstates": -1}, "cstates must be n/a"),
    ({"timer_migration": "x"}, "timer_migration must be an integer"),
    ({"bogus": 1}, "unknown latency setting bogus"),
])
def test_bad_latency_settings_are_refused(plan_for, settings, needle):
    with pytest.raises(TopologyError, match=needle):
        plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, settings=settings)


@pytest.mark.parametrize("bad", ["intel_iommu=on iommu=pt", "", " iommu=pt"])
def test_iommu_args_must_be_single_tokens(plan_for, bad):
    with pytest.raises(TopologyError, match=r"iommu_args: .* is not a single kernel argument"):
        plan_for("lab-vm", nics=["eth1"], hugepages_2m=8, iommu=True, iommu_args=[bad])


# ------------------------------------------------------------- cmdline diff
def test_applied_cmdline_needs_no_reboot(plan_for):
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS,
                                      cmdline_path=os.path.join(CMDLINES, "xeon-2s-applied.txt"))
    assert plan["cmdline_read"] is True
    assert plan["cmdline_missing"] == []
    assert plan["reboot_required"] is False


def test_default_debian_cmdline_misses_everything(plan_for):
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS,
                                      cmdline_path=os.path.join(CMDLINES, "debian12-default.txt"))
    assert plan["cmdline_read"] is True
    assert plan["cmdline_missing"] == plan["kernel_args"]
    assert plan["reboot_required"] is True


def test_stale_cmdline_reports_only_what_differs(plan_for):
    # isolcpus lacks managed_irq, and hugepages=1:1024 follows hugepagesz=1G, not 2M.
    plan, _warnings, _topo = plan_for("xeon-2s-interleaved", nics=XEON_NICS,
                                      cmdline_path=os.path.join(CMDLINES, "xeon-2s-stale.txt"))
    assert plan["cmdline_missing"] == ["isolcpus=managed_irq," + XEON_ISO, "hugepages=1:1024"] + LATENCY_ARGS
    assert plan["reboot_required"] is True


def test_missing_args_helper():
    planned = ["nohz_full=1-3", "hugepagesz=2M", "hugepages=0:8"]
    assert missing_args(planned, None) == planned
    assert missing_args(planned, ["ro", "nohz_full=1-3", "hugepagesz=2M", "hugepages=0:8"]) == []
    assert missing_args(planned, ["hugepages=0:8", "hugepagesz=2M", "nohz_full=1-3"]) == ["hugepages=0:8"]
    assert missing_args([], None) == []
