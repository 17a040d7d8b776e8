# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_deviceplugin.py: the device plugin's ConfigMap over several nodes, and its pod restart."""

from __future__ import annotations

import json

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._deviceplugin import (
    NODES_ANNOTATION, DevicePluginError, configmap_change, live_pods, replacement, wait_for_replacement)
from ansible_collections.quantbot.hft.plugins.module_utils._sriov import validate_resources

NS, NAME, KEY = "kube-system", "sriovdp-config", "config.json"


def res(*pf_names, **sel):
    sel = dict({"pfNames": list(pf_names), "vendors": ["8086"]}, **sel)
    return validate_resources([{"resourceName": "quantbot_hft_vf", "selectors": [sel]}])


def apply(configmap, change):
    """The ConfigMap after the module sent change["body"] (create, or merge patch)."""
    if change["body"] is None:
        return configmap
    if change["create"]:
        return json.loads(json.dumps(change["body"]))
    out = json.loads(json.dumps(configmap))
    out.setdefault("metadata", {}).setdefault("annotations", {}).update(change["body"]["metadata"]["annotations"])
    out.setdefault("data", {}).update(change["body"]["data"])
    return out


def onboard(configmap, node, resources, state="present"):
    change = configmap_change(configmap, resources, NS, NAME, KEY, node, state)
    return apply(configmap, change), change


def selector(configmap):
    return json.loads(configmap["data"][KEY])["resourceList"][0]["selectors"][0]


def test_first_node_creates_the_configmap_with_its_contribution():
    cm, change = onboard(None, "hft-lab-1", res("enp65s0#0-1"))
    assert change["changed"] and change["create"] and change["before"] is None
    assert change["body"]["metadata"]["name"] == NAME and change["body"]["metadata"]["namespace"] == NS
    assert selector(cm) == {"pfNames": ["enp65s0#0-1"], "vendors": ["8086"]}
    assert json.loads(cm["metadata"]["annotations"][NODES_ANNOTATION]) == {"hft-lab-1": res("enp65s0#0-1")}
    assert change["nodes"] == ["hft-lab-1"]


def test_every_node_is_in_the_union_and_a_rerun_changes_nothing():
    cm, dummy = onboard(None, "n1", res("enp65s0#0-1"))
    cm, change = onboard(cm, "n2", res("ens1f0#0-3", devices=["1889"]))
    assert selector(cm) == {"pfNames": ["enp65s0#0-1", "ens1f0#0-3"], "vendors": ["8086"]}  # devices: n1 has none
    assert change["nodes"] == ["n1", "n2"]
    again = configmap_change(cm, res("ens1f0#0-3", devices=["1889"]), NS, NAME, KEY, "n2")
    assert again["changed"] is False and again["body"] is None


def test_a_node_new_resources_replace_its_old_ones():
    # The wrong-selector case: the override names a PF that does not exist, so this node's VFs drop out.
    cm, dummy = onboard(None, "hft-lab-1", res("enp65s0#0-1"))
    cm, change = onboard(cm, "hft-lab-1", res("nosuch0"))
    assert change["changed"] and selector(cm)["pfNames"] == ["nosuch0"]
    cm, change = onboard(cm, "hft-lab-1", res("enp65s0#0-1"))
    assert selector(cm)["pfNames"] == ["enp65s0#0-1"]


def test_absent_takes_the_node_out_and_the_last_one_removes_the_entry():
    cm, dummy = onboard(None, "n1", res("enp65s0#0-1"))
    cm, dummy = onboard(cm, "n2", res("ens1f0#0-3"))
    cm, change = onboard(cm, "n1", None, state="absent")
    assert selector(cm)["pfNames"] == ["ens1f0#0-3"] and change["nodes"] == ["n2"]
    cm, change = onboard(cm, "n2", None, state="absent")
    assert json.loads(cm["data"][KEY]) == {"resourceList": []} and change["nodes"] == []
    assert configmap_change(cm, None, NS, NAME, KEY, "n2", "absent")["changed"] is False
    assert configmap_change(None, None, NS, NAME, KEY, "n2", "absent")["changed"] is False


def test_an_entry_that_was_there_before_is_kept_as_the_base():
    existing = {"metadata": {"name": NAME, "namespace": NS, "resourceVersion": "41"}, "data": {KEY: json.dumps({
        "resourceList": [
            {"resourceName": "intel_sriov_dpdk", "selectors": {"drivers": ["vfio-pci"]}},
            {"resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io",
             "selectors": {"pfNames": ["ens9f0"], "vendors": ["8086"]}}]})}}
    change = configmap_change(existing, res("enp65s0#0-1"), NS, NAME, KEY, "n1")
    assert change["body"]["metadata"]["resourceVersion"] == "41"  # a concurrent writer gets 409
    cm = apply(existing, change)
    entries = json.loads(cm["data"][KEY])["resourceList"]
    assert entries[0] == {"resourceName": "intel_sriov_dpdk", "selectors": {"drivers": ["vfio-pci"]}}
    assert entries[1]["selectors"] == {"pfNames": ["ens9f0", "enp65s0#0-1"], "vendors": ["8086"]}  # object form kept
    assert list(json.loads(cm["metadata"]["annotations"][NODES_ANNOTATION])) == ["", "n1"]
    cm, dummy = onboard(cm, "n1", None, state="absent")
    assert json.loads(cm["data"][KEY]) == json.loads(existing["data"][KEY])  # back to what it was


def test_a_managed_entry_changed_by_hand_is_refused():
    cm, dummy = onboard(None, "n1", res("enp65s0#0-1"))
    config = json.loads(cm["data"][KEY])
    config["resourceList"][0]["selectors"][0]["pfNames"].append("ens2f0")
    cm["data"][KEY] = json.dumps(config)
    with pytest.raises(DevicePluginError) as err:
        configmap_change(cm, res("enp65s0#0-1"), NS, NAME, KEY, "n2")
    assert "resource openshift.io/quantbot_hft_vf in ConfigMap kube-system/sriovdp-config key config.json was " \
           "changed outside quantbot.hft" in str(err.value)


def test_formatting_alone_is_no_change():
    cm, dummy = onboard(None, "n1", res("enp65s0#0-1"))
    cm["data"][KEY] = json.dumps(json.loads(cm["data"][KEY]), separators=(",", ":"))
    assert configmap_change(cm, res("enp65s0#0-1"), NS, NAME, KEY, "n1")["changed"] is False


@pytest.mark.parametrize("data, annotation, message", [
    ("{not json", None, "ConfigMap kube-system/sriovdp-config key config.json is not JSON"),
    (json.dumps({"resourceList": {"a": 1}}), None, "does not hold a device plugin configuration"),
    (json.dumps({"resourceList": []}), "[1, 2]", "annotation quantbot.io/sriov-device-plugin-nodes is not a JSON object"),
])
def test_unreadable_configmaps_are_refused(data, annotation, message):
    cm = {"metadata": {"annotations": {NODES_ANNOTATION: annotation} if annotation else {}}, "data": {KEY: data}}
    with pytest.raises(DevicePluginError, match=message.replace(".", r"\.")):
        configmap_change(cm, res("enp65s0"), NS, NAME, KEY, "n1")


def test_an_unmergeable_contribution_names_the_node():
    cm, dummy = onboard(None, "n1", res("enp65s0#0-1", isRdma=True))
    with pytest.raises(DevicePluginError) as err:
        configmap_change(cm, res("ens1f0", isRdma=False), NS, NAME, KEY, "n2")
    assert "isRdma is true there but false for this node" in str(err.value) and "resources of n2" in str(err.value)


# --- the plugin pod ------------------------------------------------------------------------------
def pod(uid, node="hft-lab-1", phase="Running", deleting=False):
    meta = {"name": "sriov-device-plugin-" + uid, "namespace": NS, "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": node}, "status": {"phase": phase}}


def test_live_pods_are_on_the_node_and_not_terminating():
    pods = [pod("a"), pod("b", node="other"), pod("c", deleting=True)]
    assert [p["metadata"]["uid"] for p in live_pods(pods, "hft-lab-1")] == ["a"]


def test_the_replacement_is_another_uid_and_running():
    assert replacement([pod("old")], "hft-lab-1", {"old"}) is None
    assert replacement([pod("new", phase="Pending")], "hft-lab-1", {"old"}) is None
    assert replacement([pod("new")], "hft-lab-1", {"old"})["metadata"]["uid"] == "new"


def test_waiting_returns_the_new_pod_or_fails_naming_what_is_there():
    answers = [[pod("old")], [], [pod("new", phase="Pending")], [pod("new")]]
    clock = iter(range(100))
    found = wait_for_replacement(lambda: answers.pop(0), "hft-lab-1", {"old"}, timeout=10,
                                 clock=lambda: next(clock), sleep=lambda s: None)
    assert found["metadata"]["uid"] == "new"
    clock = iter(range(100))
    with pytest.raises(DevicePluginError) as err:
        wait_for_replacement(lambda: [pod("new", phase="Pending")], "hft-lab-1", {"old"}, timeout=3,
                             clock=lambda: next(clock), sleep=lambda s: None)
    assert "did not come back Running within 3s" in str(err.value)
    assert "sriov-device-plugin-new (uid new, Pending)" in str(err.value)
