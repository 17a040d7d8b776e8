# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.node_drain end to end (cordon, Eviction API, PDB retries, uncordon)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kmock_only  # seeds pods bound to a fake node and PDB refusals


@pytest.fixture
def busy_node(kube):
    node = kube.seed_node("hft-node-11")
    other = kube.seed_node("hft-node-12")
    refs = {
        "bot": kube.seed_pod("mm-bot-btcusd-0", node, owner=("StatefulSet", "mm-bot-btcusd")),
        "ptp": kube.seed_pod("quantbot-ptp-4kx7z", node, owner=("DaemonSet", "quantbot-ptp")),
        "mirror": kube.seed_pod("kube-proxy-hft-node-11", node, namespace="kube-system",
                                annotations={"kubernetes.io/config.mirror": "abc"},
                                owner=("Node", node)),
        "elsewhere": kube.seed_pod("mm-bot-ethusd-0", other, owner=("StatefulSet", "mm-bot-ethusd")),
    }
    return node, refs


def _exists(kube, ref):
    return kube.pod_exists(*ref.split("/"))


def test_drain_evicts_bots_and_keeps_daemonset_and_mirror_pods(kube, busy_node):
    node, refs = busy_node
    result = kube.run("node_drain", {"node_name": node, "poll_interval": 0.1, "timeout": 10})
    assert result["_rc"] == 0, result
    assert result["changed"] is True and result["cordoned"] is True
    assert result["evicted"] == [refs["bot"]]
    assert sorted(s["pod"] for s in result["skipped_pods"]) == sorted([refs["ptp"], refs["mirror"]])
    assert kube.node(node)["spec"]["unschedulable"] is True
    assert not _exists(kube, refs["bot"])
    assert _exists(kube, refs["ptp"]) and _exists(kube, refs["mirror"]) and _exists(kube, refs["elsewhere"])
    assert kube.server.evictions == [refs["bot"]]

    again = kube.run("node_drain", {"node_name": node, "poll_interval": 0.1})
    assert again["changed"] is False and again["evicted"] == []


def test_check_mode_reports_but_changes_nothing(kube, busy_node):
    node, refs = busy_node
    result = kube.run("node_drain", {"node_name": node}, check=True)
    assert result["changed"] is True and result["evicted"] == [refs["bot"]]
    assert not (kube.node(node).get("spec") or {}).get("unschedulable")
    assert _exists(kube, refs["bot"]) and kube.server.evictions == []


def test_pdb_refusal_is_retried_until_it_passes(kube, busy_node):
    node, refs = busy_node
    kube.server.refuse_evictions[refs["bot"]] = 2
    result = kube.run("node_drain", {"node_name": node, "poll_interval": 0.1, "timeout": 10})
    assert result["_rc"] == 0, result
    assert result["evicted"] == [refs["bot"]]
    assert kube.server.evictions == [refs["bot"]] * 3
    assert not _exists(kube, refs["bot"])


def test_pdb_refusal_times_out_with_the_pod_named(kube, busy_node):
    node, refs = busy_node
    kube.server.refuse_evictions[refs["bot"]] = 10 ** 6
    result = kube.run("node_drain", {"node_name": node, "poll_interval": 0.2, "timeout": 1})
    assert result["failed"] is True
    assert result["pending"] == [refs["bot"]]
    assert "PodDisruptionBudget" in result["msg"] and refs["bot"] in result["msg"]
    assert kube.node(node)["spec"]["unschedulable"] is True  # stays cordoned
    assert _exists(kube, refs["bot"])


def test_unmanaged_pod_blocks_before_any_change(kube):
    node = kube.seed_node("hft-node-13")
    ref = kube.seed_pod("debug-shell", node)
    result = kube.run("node_drain", {"node_name": node})
    assert result["failed"] is True and ref in result["msg"] and "force" in result["msg"]
    assert not (kube.node(node).get("spec") or {}).get("unschedulable")
    forced = kube.run("node_drain", {"node_name": node, "force": True, "poll_interval": 0.1})
    assert forced["_rc"] == 0 and forced["evicted"] == [ref]


def test_uncordon(kube):
    node = kube.seed_node("hft-node-14", unschedulable=True)
    result = kube.run("node_drain", {"node_name": node, "state": "uncordoned"})
    assert result["changed"] is True and result["cordoned"] is False
    assert not (kube.node(node).get("spec") or {}).get("unschedulable")
    again = kube.run("node_drain", {"node_name": node, "state": "uncordoned"})
    assert again["changed"] is False


@pytest.mark.parametrize("option, value, message", [
    ("timeout", 0, "timeout must be a number of seconds greater than 0, not 0"),
    ("timeout", -30, "timeout must be a number of seconds greater than 0, not -30"),
    ("poll_interval", -2, "poll_interval must be a number of seconds greater than 0 (a pause between two polls), "
                          "not -2.0"),
])
def test_bad_timing_is_refused_before_the_node_is_cordoned(kube, hft_node, option, value, message):
    kube.seed_pod("mm-bot-0", hft_node, owner=("ReplicaSet", "mm-bot-7c9f6d5b8"))
    before = len(kube.server.requests()) if kube.server else 0
    for check in (True, False):
        result = kube.run("node_drain", {"node_name": hft_node, option: value}, check=check)
        assert result["failed"] is True and result["msg"] == message
    if kube.server:  # refused before a single API request
        assert kube.server.requests()[before:] == []
    assert kube.node(hft_node)["spec"].get("unschedulable") is not True
    assert kube.pod_exists(kube.namespace, "mm-bot-0")
