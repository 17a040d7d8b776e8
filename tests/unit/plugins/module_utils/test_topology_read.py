# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading sockets, cores, NUMA nodes and NICs from captured sysfs trees."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    TopologyError,
    read_cmdline,
    read_topology,
)


def test_xeon_interleaved_numa(sysfs):
    topo = read_topology(sysfs("xeon-2s-interleaved"))
    evens = list(range(0, 80, 2))
    odds = list(range(1, 80, 2))
    assert topo["online_cpus"] == "0-79"
    assert topo["sockets"] == [0, 1]
    assert sorted(topo["numa_nodes"]) == ["0", "1"]
    node0, node1 = topo["numa_nodes"]["0"], topo["numa_nodes"]["1"]
    assert node0["cpu_list"] == evens
    assert node1["cpu_list"] == odds
    # No ranges can be formed from every other CPU: the kernel prints them one by one.
    assert node0["cpus"] == ",".join(str(c) for c in evens)
    assert node0["memory_kb"] == 197700124
    assert node1["memory_kb"] == 198174504
    assert node0["cores"][:2] == [[0, 40], [2, 42]]
    assert node1["cores"][:2] == [[1, 41], [3, 43]]
    assert len(node0["cores"]) == len(node1["cores"]) == 20
    assert len(topo["smt_siblings"]) == 40
    assert all(pair[1] == pair[0] + 40 for pair in topo["smt_siblings"])
    assert topo["threads_per_core"] == 2
    assert topo["nics"] == {
        "eno1": {"numa_node": 0, "sriov_totalvfs": 0},   # no sriov_totalvfs file -> 0
        "ens1f0": {"numa_node": 1, "sriov_totalvfs": 64},
        "ens1f1": {"numa_node": 1, "sriov_totalvfs": 64},
    }


def test_xeon_physical_cores_keep_socket_and_core_id(sysfs):
    cores = read_topology(sysfs("xeon-2s-interleaved"))["physical_cores"]
    by_first = dict((c["cpus"][0], c) for c in cores)
    assert by_first[1] == {"socket": 1, "core_id": 0, "cpus": [1, 41], "node": 1}
    # Cascade Lake core_ids skip fused-off cores: the 6th core of socket 0 is core_id 8.
    assert by_first[10] == {"socket": 0, "core_id": 8, "cpus": [10, 50], "node": 0}


def test_epyc_nps4(sysfs):
    topo = read_topology(sysfs("epyc-nps4"))
    assert topo["sockets"] == [0]
    assert sorted(topo["numa_nodes"]) == ["0", "1", "2", "3"]
    assert topo["numa_nodes"]["2"]["cpus"] == "16-23,48-55"
    assert topo["numa_nodes"]["2"]["cores"][0] == [16, 48]
    assert topo["threads_per_core"] == 2
    assert topo["nics"]["ens3f0np0"] == {"numa_node": 2, "sriov_totalvfs": 8}


def test_small_box_without_smt(sysfs):
    topo = read_topology(sysfs("small-4cpu"))
    assert topo["online_cpus"] == "0-3"
    assert topo["smt_siblings"] == [[0], [1], [2], [3]]
    assert topo["threads_per_core"] == 1
    assert list(topo["numa_nodes"]) == ["0"]
    assert topo["nics"] == {"eth0": {"numa_node": -1, "sriov_totalvfs": 0}}


def test_lab_vm_matches_the_contract_example(sysfs):
    topo = read_topology(sysfs("lab-vm"))
    assert topo["online_cpus"] == "0-7"
    assert topo["sockets"] == [0, 1]
    assert topo["numa_nodes"]["0"] == {
        "cpus": "0-3", "cpu_list": [0, 1, 2, 3], "memory_kb": 1441788, "cores": [[0, 1], [2, 3]]}
    assert topo["numa_nodes"]["1"]["cpus"] == "4-7"
    assert topo["smt_siblings"] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert topo["threads_per_core"] == 2
    assert topo["nics"]["eth1"] == {"numa_node": 1, "sriov_totalvfs": 7}
    assert topo["nics"]["eth0"] == {"numa_node": -1, "sriov_totalvfs": 0}


def test_missing_tree_names_the_path(tmp_path):
    root = str(tmp_path / "nothing-here")
    with pytest.raises(TopologyError) as err:
        read_topology(root)
    assert os.path.join(root, "devices/system/cpu/online") in str(err.value)
    assert "sysfs_root" in str(err.value)


def test_offline_cpus_are_not_read(sysfs_copy):
    root = sysfs_copy("lab-vm")
    # CPU 7 goes offline: its topology directory disappears and siblings shrink.
    (root / "devices/system/cpu/online").write_text("0-6\n")
    shutil.rmtree(str(root / "devices/system/cpu/cpu7"))
    (root / "devices/system/cpu/cpu6/topology/thread_siblings_list").write_text("6\n")
    (root / "devices/system/node/node1/cpulist").write_text("4-6\n")
    topo = read_topology(str(root))
    assert topo["online_cpus"] == "0-6"
    assert topo["smt_siblings"][-1] == [6]
    assert topo["numa_nodes"]["1"]["cores"] == [[4, 5], [6]]


def test_cpu_in_no_node_is_refused(sysfs_copy):
    root = sysfs_copy("lab-vm")
    (root / "devices/system/node/node1/cpulist").write_text("4-5\n")
    with pytest.raises(TopologyError, match=r"online CPUs 6-7 belong to no NUMA node"):
        read_topology(str(root))


def test_inconsistent_siblings_are_refused(sysfs_copy):
    root = sysfs_copy("lab-vm")
    (root / "devices/system/cpu/cpu1/topology/thread_siblings_list").write_text("1\n")
    with pytest.raises(TopologyError, match=r"inconsistent SMT siblings: CPU 0 lists 0,1 but CPU 1 lists 1"):
        read_topology(str(root))


def test_core_spanning_nodes_is_refused(sysfs_copy):
    root = sysfs_copy("lab-vm")
    (root / "devices/system/node/node0/cpulist").write_text("0-2\n")
    (root / "devices/system/node/node1/cpulist").write_text("3-7\n")
    with pytest.raises(TopologyError, match=r"core 1 of socket 0 \(CPUs 2,3\) spans NUMA nodes 0, 1"):
        read_topology(str(root))


def test_bad_cpulist_in_sysfs_names_the_file(sysfs_copy):
    root = sysfs_copy("lab-vm")
    (root / "devices/system/cpu/online").write_text("0-\n")
    with pytest.raises(TopologyError) as err:
        read_topology(str(root))
    assert "devices/system/cpu/online" in str(err.value)
    assert "'0-'" in str(err.value)


def test_meminfo_without_memtotal_is_refused(sysfs_copy):
    root = sysfs_copy("lab-vm")
    (root / "devices/system/node/node1/meminfo").write_text("Node 1 MemFree: 1 kB\n")
    with pytest.raises(TopologyError, match=r"no 'Node 1 MemTotal: \.\.\. kB' line"):
        read_topology(str(root))


def test_non_integer_sysfs_value_is_named(sysfs_copy):
    root = sysfs_copy("lab-vm")
    (root / "class/net/eth1/device/numa_node").write_text("one\n")
    with pytest.raises(TopologyError, match=r"numa_node holds 'one', not an integer"):
        read_topology(str(root))


def test_virtual_interfaces_are_skipped_and_missing_numa_node_reads_minus_one(sysfs_copy):
    root = sysfs_copy("small-4cpu")
    (root / "class/net/lo").mkdir()                     # lo: no device behind it
    (root / "class/net/br0").mkdir()
    (root / "class/net/eth1/device").mkdir(parents=True)  # a device without numa_node
    nics = read_topology(str(root))["nics"]
    assert sorted(nics) == ["eth0", "eth1"]
    assert nics["eth1"] == {"numa_node": -1, "sriov_totalvfs": 0}


def test_tree_without_nics(sysfs_copy):
    root = sysfs_copy("small-4cpu")
    shutil.rmtree(str(root / "class"))
    assert read_topology(str(root))["nics"] == {}


def test_read_cmdline(tmp_path):
    path = tmp_path / "cmdline"
    path.write_text("BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro  isolcpus=1\n")
    assert read_cmdline(str(path)) == ["BOOT_IMAGE=/boot/vmlinuz", "root=/dev/vda1", "ro", "isolcpus=1"]
    assert read_cmdline(str(tmp_path / "absent")) is None
    with pytest.raises(TopologyError, match="cannot read the kernel command line"):
        read_cmdline(str(tmp_path))  # a directory
