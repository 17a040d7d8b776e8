# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure tests of module_utils/_validate.py: each check from observed data to a record."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _validate as v

PLAN = {
    "reserved_cpus": "0-1,4-5",
    "isolated_cpus": "2-3,6-7",
    "hft_numa_node": 1,
    "hugepages": {"2M": {"0": 0, "1": 1024}, "1G": {"0": 0, "1": 0}},
    "kernel_args": ["isolcpus=managed_irq,2-3,6-7", "nohz_full=2-3,6-7", "rcu_nocbs=2-3,6-7",
                    "irqaffinity=0-1,4-5", "default_hugepagesz=2M", "hugepagesz=2M", "hugepages=1:1024"],
}
OPTS = {"label_key": "quantbot.io/hft", "label_value": "true", "ptp_namespace": "alphaswarm-bots",
        "ptp_daemonset": "quantbot-ptp", "hugepages_resource": "hugepages-2Mi", "hugepages_request": "1Gi",
        "vf_resource": "openshift.io/quantbot_hft_vf", "vf_request": 1, "cpu_manager_policy": "static",
        "topology_manager_policy": "single-numa-node", "bot_namespace": "alphaswarm-bots", "bot_selector": {},
        "nic": "ens1f0", "ptp_offset_threshold_ns": 100.0}


def node(labels=None, allocatable=None):
    return {"metadata": {"name": "hft-node-07", "labels": labels or {}},
            "status": {"allocatable": allocatable or {}}}


def pod(name, ns="alphaswarm-bots", owner=("StatefulSet", "s"), phase="Running", containers=None, qos=None):
    meta = {"name": name, "namespace": ns}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    status = {"phase": phase}
    if qos:
        status["qosClass"] = qos
    return {"metadata": meta, "spec": {"nodeName": "hft-node-07", "containers": containers or []},
            "status": status}


def container(name="bot", req=None, lim=None):
    return {"name": name, "resources": {"requests": req or {}, "limits": lim or {}}}


GOOD_BOT = pod("mm-bot-0", containers=[container(req={"cpu": "4", "memory": "4Gi"},
                                                 lim={"cpu": "4", "memory": "4Gi"})])
PTP = pod("quantbot-ptp-4kx7z", owner=("DaemonSet", "quantbot-ptp"))


@pytest.mark.parametrize("text, value", [
    ("2Gi", 2 * 2 ** 30), ("1024Mi", 2 ** 30), ("500m", Decimal("0.5")), ("4", 4), (3, 3),
    ("1e3", 1000), ("1k", 1000), ("1.5", Decimal("1.5")), ("2147483648", 2 ** 31),
])
def test_parse_quantity(text, value):
    assert v.parse_quantity(text) == value


def test_parse_quantity_rejects_junk():
    with pytest.raises(v.ValidateError):
        v.parse_quantity("2 GB")


def test_summarise_has_the_runbook_shape():
    records = [v.record("label", True, "a", "a"), v.record("ptp_pod", False, "x", "y", "do z")]
    out = v.summarise(records)
    assert out["valid"] is False
    assert out["failures"] == [{"check": "ptp_pod", "expected": "x", "actual": "y", "hint": "do z"}]
    assert out["checks"] == records
    assert v.summarise([records[0]]) == {"valid": True, "failures": [], "checks": [records[0]]}
    assert records[0]["hint"] == ""  # passing records carry no hint


def test_label():
    assert v.check_label(node({"quantbot.io/hft": "true"}), "quantbot.io/hft", "true")["ok"]
    rec = v.check_label(node({"quantbot.io/hft": "false"}), "quantbot.io/hft", "true")
    assert not rec["ok"] and rec["actual"] == "quantbot.io/hft=false"
    assert "kubectl label nodes hft-node-07 quantbot.io/hft=true" in rec["hint"]


def test_ptp_pod():
    assert v.check_ptp_pod([PTP], "alphaswarm-bots", "quantbot-ptp")["ok"]
    pending = dict(PTP, status={"phase": "Pending"})
    rec = v.check_ptp_pod([pending], "alphaswarm-bots", "quantbot-ptp")
    assert not rec["ok"] and rec["actual"] == "alphaswarm-bots/quantbot-ptp-4kx7z Pending"
    wrong_ns = pod("quantbot-ptp-1", ns="default", owner=("DaemonSet", "quantbot-ptp"))
    rec = v.check_ptp_pod([wrong_ns, GOOD_BOT], "alphaswarm-bots", "quantbot-ptp")
    assert not rec["ok"] and rec["actual"] == "no quantbot-ptp pod on the node"


@pytest.mark.parametrize("have, want, ok", [
    ("2Gi", "1Gi", True), ("1Gi", "1Gi", True), ("512Mi", "1Gi", False), (None, "1Gi", False),
    ("2147483648", "2Gi", True),
])
def test_hugepages_allocatable(have, want, ok):
    alloc = {"hugepages-2Mi": have} if have else {}
    rec = v.check_allocatable(node(allocatable=alloc), "hugepages-2Mi", want, "hugepages_allocatable")
    assert rec["ok"] is ok


def test_vf_allocatable():
    rec = v.check_allocatable(node(allocatable={"openshift.io/quantbot_hft_vf": "0"}),
                              "openshift.io/quantbot_hft_vf", 1, "sriov_vf_allocatable")
    assert not rec["ok"] and rec["actual"] == "openshift.io/quantbot_hft_vf = 0"
    assert "device plugin" in rec["hint"]


def test_kubelet_policies():
    conf = {"kubeletconfig": {"cpuManagerPolicy": "static"}}
    assert v.check_kubelet_policy(conf, "cpuManagerPolicy", "static", "cpu_manager_policy")["ok"]
    rec = v.check_kubelet_policy(conf, "topologyManagerPolicy", "single-numa-node", "topology_manager_policy")
    assert not rec["ok"] and "unset (kubelet default none)" in rec["actual"]
    assert v.check_kubelet_reserved({"kubeletconfig": {"reservedSystemCPUs": "0,1,4,5"}}, PLAN)["ok"]
    assert not v.check_kubelet_reserved({"kubeletconfig": {"reservedSystemCPUs": "0"}}, PLAN)["ok"]
    assert v.check_kubelet_reserved({"kubeletconfig": {}}, PLAN) is None


def host(cmdline=None, isolated="", nohz_full="2-3,6-7", pages=None, nic_node=1, balancing=0):
    """A host_facts result (quantbot.hft.host_facts) for the checks."""
    pages = pages if pages is not None else {"2M": {"0": 0, "1": 1024}, "1G": {"0": 0, "1": 0}}
    numa = {}
    for node, cpus in (("0", "0-1,4-5"), ("1", "2-3,6-7")):
        numa[node] = {"cpus": cpus, "memory_kb": 8 << 20,
                      "hugepages": dict((size, {"total": per_node.get(node, 0), "free": 0})
                                        for size, per_node in pages.items()),
                      "numastat": {"numa_hit": 9, "numa_miss": 3, "numa_foreign": 4}}
    return {"cmdline": cmdline if cmdline is not None else " ".join(PLAN["kernel_args"]),
            "cpus": {"online": "0-7", "isolated": isolated, "nohz_full": nohz_full},
            "numa": numa, "sysctl": {"kernel.numa_balancing": balancing},
            "nics": {"ens1f0": {"numa_node": nic_node, "sriov_numvfs": 2}},
            "tuned": {"active_profile": "quantbot-hft"}}


def test_cmdline():
    good = "BOOT_IMAGE=/vmlinuz ro " + " ".join(PLAN["kernel_args"])
    assert v.check_cmdline(good, PLAN["kernel_args"])["ok"]
    # hugepages=1:1024 counts only after hugepagesz=2M
    stale = good.replace("hugepagesz=2M hugepages=1:1024", "hugepages=1:1024 hugepagesz=2M")
    rec = v.check_cmdline(stale, PLAN["kernel_args"])
    assert not rec["ok"] and rec["actual"]["missing"] == ["hugepages=1:1024"]


def test_isolated_expectation_follows_isolcpus_flags():
    recs = v.check_isolated(host(), PLAN["kernel_args"])
    assert [(r["check"], r["ok"]) for r in recs] == [("isolated_cpus", True), ("nohz_full_cpus", True)]
    domain = ["isolcpus=domain,managed_irq,2-3,6-7"] + PLAN["kernel_args"][1:]
    rec = v.check_isolated(host(isolated=""), domain)[0]
    assert not rec["ok"] and rec["expected"] == "2-3,6-7"
    assert v.check_isolated(host(isolated="2-3,6-7"), ["isolcpus=2-3,6-7"])[0]["ok"]
    assert not v.check_isolated(host(isolated="2-3", nohz_full="2-3"), PLAN["kernel_args"])[0]["ok"]
    assert not v.check_isolated(host(nohz_full="2-3"), PLAN["kernel_args"])[1]["ok"]


def test_hugepages_per_numa():
    assert v.check_hugepages_numa(host(), PLAN["hugepages"])["ok"]
    rec = v.check_hugepages_numa(host(pages={"2M": {"0": 1024, "1": 0}}), PLAN["hugepages"])
    assert not rec["ok"]
    assert rec["actual"] == {"2M node0": {"planned": 0, "actual": 1024}, "2M node1": {"planned": 1024, "actual": 0}}


def test_nic_numa():
    assert v.check_nic_numa(host(), PLAN, "ens1f0")["ok"]
    rec = v.check_nic_numa(host(nic_node=0), PLAN, "ens1f0")
    assert not rec["ok"] and rec["actual"]["isolated_cpus_on_node"] == ""
    # -1 (no locality) on a two-node host is unknown, not node 0.
    assert not v.check_nic_numa(host(nic_node=-1), PLAN, "ens1f0")["ok"]
    rec = v.check_nic_numa(host(), PLAN, "ens9f9")
    assert not rec["ok"] and "ens9f9 is not a network interface" in rec["hint"]


def test_numa_balancing_and_numastat():
    assert v.check_numa_balancing(0)["ok"] and not v.check_numa_balancing(1)["ok"]
    assert not v.check_numa_balancing(None)["ok"]
    rec = v.numastat_record(host())
    assert rec["ok"] and rec["actual"]["0"] == {"numa_miss": 3, "numa_foreign": 4}


def test_tuned_profile_and_vfs():
    assert v.check_tuned_profile(host(), "quantbot-hft")["ok"]
    rec = v.check_tuned_profile(dict(host(), tuned={"active_profile": None}), "quantbot-hft")
    assert not rec["ok"] and "none" in rec["actual"]
    assert v.check_sriov_numvfs(host(), {"ens1f0": 2})["ok"]
    rec = v.check_sriov_numvfs(host(), {"ens1f0": 4, "ens2f0": 1})
    assert not rec["ok"] and rec["actual"] == {"ens1f0": 2, "ens2f0": "no such interface"}


def test_ptp_sync():
    assert v.check_ptp_sync({"port_state": "SLAVE", "offset_ns": -40.0}, 100)["ok"]
    rec = v.check_ptp_sync({"port_state": "SLAVE", "offset_ns": 250.0}, 100)
    assert not rec["ok"] and "exceeds" in rec["actual"]["reasons"][0]
    assert not v.check_ptp_sync({"port_state": "LISTENING", "offset_ns": 0.0}, 100)["ok"]
    assert not v.check_ptp_sync({"error": "pmc exited 1"}, 100)["ok"]
    assert not v.check_ptp_sync({}, 100)["ok"]


def test_qos_class_and_cpu_problems():
    assert v.qos_class(GOOD_BOT) == "Guaranteed" and v.pod_cpu_problems(GOOD_BOT) == []
    limits_only = pod("b", containers=[container(lim={"cpu": "2", "memory": "1Gi"})])
    assert v.qos_class(limits_only) == "Guaranteed" and v.pod_cpu_problems(limits_only) == []
    best = pod("c", containers=[container()])
    assert v.qos_class(best) == "BestEffort"
    assert v.pod_cpu_problems(best) == ["QoS BestEffort, not Guaranteed", "container bot: no cpu request"]
    frac = pod("d", containers=[container(req={"cpu": "1500m", "memory": "1Gi"},
                                          lim={"cpu": "1500m", "memory": "1Gi"})])
    assert v.pod_cpu_problems(frac) == ["container bot: cpu request 1500m is not an integer"]
    burst = pod("e", containers=[container(req={"cpu": "2", "memory": "1Gi"}, lim={"cpu": "4", "memory": "1Gi"})])
    assert v.qos_class(burst) == "Burstable"
    assert "container bot: cpu limit 4 != request 2" in v.pod_cpu_problems(burst)
    assert v.qos_class(pod("f", qos="Burstable", containers=GOOD_BOT["spec"]["containers"])) == "Burstable"
    millis = pod("g", containers=[container(req={"cpu": "2000m", "memory": "1Gi"}, lim={"cpu": "2", "memory": "1Gi"})])
    assert v.pod_cpu_problems(millis) == []


def test_bot_selection_and_records():
    other_ns = pod("web", ns="default")
    done = pod("job", phase="Succeeded")
    ds = pod("sriov-cni-x", owner=("DaemonSet", "sriov-cni"))
    best = pod("mm-bot-ethusd-0", containers=[container()])
    bots = v.select_bot_pods([GOOD_BOT, PTP, other_ns, done, ds, best], "alphaswarm-bots", "quantbot-ptp")
    assert [b["metadata"]["name"] for b in bots] == ["mm-bot-0", "mm-bot-ethusd-0"]
    labelled = dict(GOOD_BOT, metadata=dict(GOOD_BOT["metadata"], labels={"quantbot.io/bot": "true"}))
    assert v.select_bot_pods([labelled, best], "alphaswarm-bots", "quantbot-ptp",
                             {"quantbot.io/bot": "true"}) == [labelled]
    recs = v.check_bot_pods(bots)
    assert [(r["ok"], r["actual"]["pod"]) for r in recs] == [(False, "alphaswarm-bots/mm-bot-ethusd-0")]
    assert v.check_bot_pods([])[0]["ok"] and v.check_bot_pods([GOOD_BOT])[0]["actual"] == {
        "pods": ["alphaswarm-bots/mm-bot-0"]}


def test_run_checks_all_good_and_skips():
    ok_node = node({"quantbot.io/hft": "true"}, {"hugepages-2Mi": "2Gi", "openshift.io/quantbot_hft_vf": "4"})
    conf = {"kubeletconfig": {"cpuManagerPolicy": "static", "topologyManagerPolicy": "single-numa-node"}}
    facts = dict(host(), ptp={"ens1f0": {"port_state": "SLAVE", "offset_ns": 3.0}})
    records, skipped = v.run_checks(ok_node, [PTP, GOOD_BOT], conf, facts, PLAN, OPTS)
    assert v.summarise(records)["valid"] is True and skipped == []
    assert [r["check"] for r in records if r["check"] == "ptp_sync"] == ["ptp_sync"]
    records, skipped = v.run_checks(ok_node, [PTP], None, {}, None, OPTS)
    assert skipped == ["kubelet configz", "plan-based host checks (no plan given)",
                       "ptp sync (no ptp4l instance to ask)"]
    assert [r["check"] for r in records] == ["label", "ptp_pod", "hugepages_allocatable", "sriov_vf_allocatable",
                                             "bot_pod_qos"]
    # The API scope only (no host checks at all).
    records, skipped = v.run_checks(ok_node, [PTP], conf, None, PLAN, OPTS)
    assert "kernel_cmdline" not in [r["check"] for r in records] and skipped == []


def test_host_scope_uses_the_roles_inputs_over_the_plan():
    facts = host(cmdline=" ".join(PLAN["kernel_args"] + ["nosoftlockup"]))
    expect = {"kernel_args": PLAN["kernel_args"] + ["nosoftlockup"], "tuned_profile": "quantbot-hft",
              "vfs": {"ens1f0": 2}}
    records, dummy = v.run_host_checks(facts, PLAN, OPTS, expect)
    assert v.summarise(records)["valid"], v.summarise(records)["failures"]
    assert {"kernel_cmdline", "isolated_cpus", "nohz_full_cpus", "hugepages_per_numa", "nic_numa_node",
            "numa_balancing", "numastat", "tuned_profile", "sriov_numvfs"} <= set(r["check"] for r in records)
    records, dummy = v.run_host_checks(host(), PLAN, OPTS, dict(expect, vfs={"ens1f0": 3}))
    assert [f["check"] for f in v.summarise(records)["failures"]] == ["kernel_cmdline", "sriov_numvfs"]


SETTINGS_PLAN = dict(PLAN, settings={"thp": {"value": "never"}, "cstates": {"value": "n/a"},
                                     "timer_migration": {"value": 0}, "stat_interval": {"value": 10}})


def test_a_knob_a_role_turns_off_is_not_checked_against_the_plan():
    # tuned_thp: null (or false) on the role: the plan's "never" is not what the host must show.
    want = v.expectations(SETTINGS_PLAN, {"thp": None, "timer_migration": False, "kernel_args": None})
    assert want["thp"] is None and want["timer_migration"] is False
    # For the other keys null keeps the plan's value.
    assert want["kernel_args"] == PLAN["kernel_args"] and want["cstates"] == "n/a"
    facts = {"thp": {"enabled": "always"}, "sysctl": {"kernel.timer_migration": 1, "vm.stat_interval": 10}}
    checks = [r["check"] for r in v.settings_checks(facts, want)]
    assert "thp" not in checks and checks.count("latency_sysctls") == 1
    record = [r for r in v.settings_checks(facts, want) if r["check"] == "latency_sysctls"][0]
    assert record["ok"] and "timer_migration" not in str(record["expected"])


def test_cstates_0_and_timer_migration_0_are_values_not_off():
    want = v.expectations(SETTINGS_PLAN, {"cstates": 0, "timer_migration": 0})
    facts = {"cpus": {"pm_qos_resume_latency_us": {"2": "n/a", "3": "0", "6": "0", "7": "0"}},
             "sysctl": {"kernel.timer_migration": 1, "vm.stat_interval": 10}}
    records = dict((r["check"], r) for r in v.settings_checks(facts, want))
    assert not records["cstates"]["ok"] and records["cstates"]["actual"] == {"cpu2": "n/a"}
    assert not records["latency_sysctls"]["ok"] and "kernel.timer_migration" in str(records["latency_sysctls"]["actual"])
