# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.node_validate end to end against a seeded API (kmock only: it seeds Node status)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kmock_only

PLAN = {
    "reserved_cpus": "0-1,4-5",
    "isolated_cpus": "2-3,6-7",
    "hft_numa_node": 1,
    "hugepages": {"2M": {"0": 0, "1": 1024}, "1G": {"0": 0, "1": 0}},
    "kernel_args": ["isolcpus=managed_irq,2-3,6-7", "nohz_full=2-3,6-7", "rcu_nocbs=2-3,6-7",
                    "irqaffinity=0-1,4-5", "default_hugepagesz=2M", "hugepagesz=2M", "hugepages=1:1024"],
}


def host_facts(cmdline=None, isolated="", pages=(0, 1024), nic_node=1, balancing=0, ptp=None):
    """A quantbot.hft.host_facts result, plus the pmc probe of ens1f0."""
    return {
        "cmdline": cmdline or "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro " + " ".join(PLAN["kernel_args"]),
        "cpus": {"online": "0-7", "isolated": isolated, "nohz_full": "2-3,6-7"},
        "numa": {"0": {"cpus": "0-1,4-5", "memory_kb": 8 << 20, "hugepages": {"2M": {"total": pages[0], "free": 0}},
                       "numastat": {"numa_miss": 0, "numa_foreign": 12}},
                 "1": {"cpus": "2-3,6-7", "memory_kb": 8 << 20, "hugepages": {"2M": {"total": pages[1], "free": 0}},
                       "numastat": {"numa_miss": 12, "numa_foreign": 0}}},
        "sysctl": {"kernel.numa_balancing": balancing},
        "nics": {"ens1f0": {"numa_node": nic_node}},
        "ptp": {"ens1f0": ptp or {"port_state": "SLAVE", "offset_ns": -12.0}},
    }


GOOD_HOST = host_facts()


def _validate(kube, node, **extra):
    args = {"node_name": node, "plan": PLAN, "host_facts": GOOD_HOST, "nic": "ens1f0"}
    args.update(extra)
    return kube.run("node_validate", args)


def _seed_pods(kube, node):
    kube.seed_pod("quantbot-ptp-4kx7z", node, owner=("DaemonSet", "quantbot-ptp"))
    kube.seed_pod("mm-bot-btcusd-0", node, owner=("StatefulSet", "mm-bot-btcusd"),
                  cpu="4", memory="4Gi", cpu_limit="4", memory_limit="4Gi")


def _failed(result):
    return dict((f["check"], f) for f in result["failures"])


def test_everything_present_is_valid(kube, hft_node):
    kube.run("node_label", {"node_name": hft_node})
    _seed_pods(kube, hft_node)
    result = _validate(kube, hft_node)
    assert result["_rc"] == 0, result
    assert result["failures"] == []
    assert result["valid"] is True
    names = [c["check"] for c in result["checks"]]
    for check in ("label", "ptp_pod", "hugepages_allocatable", "sriov_vf_allocatable", "cpu_manager_policy",
                  "topology_manager_policy", "kubelet_reserved_cpus", "kernel_cmdline", "isolated_cpus",
                  "nohz_full_cpus", "hugepages_per_numa", "nic_numa_node", "numa_balancing", "numastat",
                  "ptp_sync", "bot_pod_qos"):
        assert check in names, check
    numastat = [c for c in result["checks"] if c["check"] == "numastat"][0]
    assert numastat["actual"]["1"]["numa_miss"] == 12


def test_missing_label_and_besteffort_bot_are_named(kube, hft_node):
    _seed_pods(kube, hft_node)
    kube.seed_pod("mm-bot-ethusd-0", hft_node, owner=("StatefulSet", "mm-bot-ethusd"))  # BestEffort
    kube.seed_pod("mm-bot-solusd-0", hft_node, owner=("StatefulSet", "mm-bot-solusd"),
                  cpu="1500m", memory="1Gi", cpu_limit="1500m", memory_limit="1Gi")  # fractional CPU
    kube.seed_pod("other-team-web", hft_node, namespace="default", owner=("ReplicaSet", "web"))  # not a bot
    result = _validate(kube, hft_node)
    assert result["_rc"] == 0
    assert result["valid"] is False
    failed = _failed(result)
    assert failed["label"]["actual"] == "quantbot.io/hft absent"
    assert failed["label"]["expected"] == "quantbot.io/hft=true"
    assert all(set(f) == {"check", "expected", "actual", "hint"} for f in result["failures"])
    bots = sorted(f["actual"]["pod"] for f in result["failures"] if f["check"] == "bot_pod_qos")
    assert bots == ["alphaswarm-bots/mm-bot-ethusd-0", "alphaswarm-bots/mm-bot-solusd-0"]
    ethusd = [f for f in result["failures"] if f["check"] == "bot_pod_qos"
              and f["actual"]["pod"].endswith("ethusd-0")][0]
    assert "QoS BestEffort, not Guaranteed" in ethusd["actual"]["problems"]


def test_one_api_request_per_kind_of_object(kube, hft_node):
    _seed_pods(kube, hft_node)
    for i in range(5):
        kube.seed_pod("mm-bot-%d" % i, hft_node, owner=("StatefulSet", "mm-bot-%d" % i),
                      cpu="2", memory="1Gi", cpu_limit="2", memory_limit="1Gi")
    start = len(kube.server.requests())
    result = _validate(kube, hft_node)
    assert result["_rc"] == 0
    made = kube.server.requests()[start:]
    assert [(m, p) for m, p, q in made] == [
        ("GET", "/api/v1/nodes/%s" % hft_node),
        ("GET", "/api/v1/pods"),
        ("GET", "/api/v1/nodes/%s/proxy/configz" % hft_node),
    ]
    assert made[1][2] == {"fieldSelector": "spec.nodeName=%s" % hft_node}


def test_node_side_failures(kube):
    node = kube.seed_node("hft-node-09", labels={"quantbot.io/hft": "true"},
                          allocatable={"hugepages-2Mi": "512Mi"})  # no VF resource
    kube.seed_pod("quantbot-ptp-x1", node, phase="Pending", owner=("DaemonSet", "quantbot-ptp"))
    kube.server.configz[node] = {"kubeletconfig": {"cpuManagerPolicy": "none"}}
    host = host_facts(balancing=1, isolated="2-3,6-7", nic_node=0, pages=(1024, 0),
                      ptp={"port_state": "LISTENING", "offset_ns": None}, cmdline="BOOT_IMAGE=/vmlinuz ro")
    result = _validate(kube, node, host_facts=host)
    failed = _failed(result)
    assert set(failed) >= {"ptp_pod", "hugepages_allocatable", "sriov_vf_allocatable", "cpu_manager_policy",
                           "topology_manager_policy", "kernel_cmdline", "isolated_cpus", "hugepages_per_numa",
                           "nic_numa_node", "numa_balancing", "ptp_sync"}
    assert "label" not in failed
    assert failed["ptp_pod"]["actual"] == "alphaswarm-bots/quantbot-ptp-x1 Pending"
    assert failed["sriov_vf_allocatable"]["actual"] == "openshift.io/quantbot_hft_vf = absent"
    assert failed["hugepages_allocatable"]["actual"] == "hugepages-2Mi = 512Mi"
    assert failed["cpu_manager_policy"]["actual"] == "cpuManagerPolicy: none"
    assert failed["isolated_cpus"]["expected"] == ""  # managed_irq only: the kernel leaves the file empty
    assert "hugepages=1:1024" in failed["kernel_cmdline"]["actual"]["missing"]


def test_unreachable_kubelet_is_a_failure_not_a_crash(kube, hft_node):
    kube.server.configz[hft_node] = 503
    result = _validate(kube, hft_node, fail_on_invalid=True)
    assert result["failed"] is True
    assert "kubelet_configz" in [f["check"] for f in result["failures"]]
    assert "not valid for HFT bots" in result["msg"]


def test_reads_host_files_when_no_host_facts(kube, hft_node, tmp_path):
    sysfs = tmp_path / "sys"
    proc = tmp_path / "proc"
    (proc / "sys/kernel").mkdir(parents=True)
    (proc / "cmdline").write_text(GOOD_HOST["cmdline"] + "\n")
    (proc / "sys/kernel/numa_balancing").write_text("1\n")
    cpu = sysfs / "devices/system/cpu"
    cpu.mkdir(parents=True)
    (cpu / "isolated").write_text("\n")
    (cpu / "nohz_full").write_text("2-3,6-7\n")
    for node, cpus, pages in (("0", "0-1,4-5", 0), ("1", "2-3,6-7", 1024)):
        ndir = sysfs / ("devices/system/node/node" + node)
        (ndir / "hugepages/hugepages-2048kB").mkdir(parents=True)
        (ndir / "hugepages/hugepages-2048kB/nr_hugepages").write_text("%d\n" % pages)
        (ndir / "cpulist").write_text(cpus + "\n")
        (ndir / "numastat").write_text("numa_hit 100\nnuma_miss 3\nnuma_foreign 4\n")
    nic = sysfs / "class/net/ens1f0/device"
    nic.mkdir(parents=True)
    (nic / "numa_node").write_text("1\n")
    result = kube.run("node_validate", {"node_name": hft_node, "plan": PLAN, "nic": "ens1f0",
                                        "sysfs_root": str(sysfs), "procfs_root": str(proc)})
    assert result["_rc"] == 0, result
    assert result["host_facts"]["numa"]["1"]["hugepages"]["2M"]["total"] == 1024
    assert result["host_facts"]["nics"]["ens1f0"]["numa_node"] == 1
    assert [f["check"] for f in result["failures"]] == ["label", "ptp_pod", "numa_balancing"]
    assert "ptp sync (no ptp4l instance to ask)" in result["skipped_checks"]


def test_host_scope_needs_no_api(kube, tmp_path):
    """scope=host: the post-boot checks on the node, no Node, no API call."""
    start = len(kube.server.requests())
    result = kube.run("node_validate", {"node_name": "no-such-node", "plan": PLAN, "nic": "ens1f0",
                                        "scope": "host", "host_facts": GOOD_HOST})
    assert result["_rc"] == 0, result
    assert result["valid"] is True, result["failures"]
    assert len(kube.server.requests()) == start
    assert "label" not in [c["check"] for c in result["checks"]]
    bad = kube.run("node_validate", {"node_name": "no-such-node", "plan": PLAN, "scope": "host",
                                     "host_facts": host_facts(pages=(0, 512)), "fail_on_invalid": True})
    assert bad["failed"] is True
    assert "hugepages_per_numa" in bad["msg"] and "'planned': 1024, 'actual': 512" in bad["msg"]


def test_through_ansible_adhoc(kube, hft_node):
    """AnsiballZ packaging of the module_utils, and a result Ansible does not misread (no `skipped` key)."""
    status, result = kube.run_adhoc("node_validate", {"node_name": hft_node, "gather_host": False})
    assert status == "SUCCESS", result
    assert result["valid"] is False
    assert [f["check"] for f in result["failures"]] == ["label", "ptp_pod"]


@pytest.mark.parametrize("extra, message", [
    ({"plan": {"changed": False, "plan": PLAN, "topology": {}}},
     "plan looks like the whole registered result of quantbot.hft.node_topology (keys: changed, plan, topology)"),
    ({"plan": dict(PLAN, hugepages={"2M": {"0": 0, "1": "1k"}})}, "plan.hugepages.2M.1 is '1k', not a whole number"),
    ({"plan": dict(PLAN, hugepages={"2M": {"0": 0, "1": 1.5}})}, "plan.hugepages.2M.1 is 1.5, not a whole number"),
    ({"vf_request": -1}, "vf_request must be a whole number of VFs (0 or more), not -1"),
])
def test_bad_input_is_refused_before_any_api_request(kube, hft_node, extra, message):
    before = len(kube.server.requests())
    result = _validate(kube, hft_node, **extra)
    assert result["failed"] is True and message in result["msg"], result["msg"]
    assert "Traceback" not in result["_raw"]
    assert kube.server.requests()[before:] == []
