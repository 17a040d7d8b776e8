# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.sriov_device_plugin_config and sriov_device_plugin_pod end to end, with the lab's emulation.

The modules run as subprocesses against kmock; the lab's Controllers play the
device plugin's DaemonSet (one pod per HFT node, recreated when deleted, taints
honoured), and the kubelet stand-in's DevicePlugin reads the configuration the
way the plugin does - only when its pod's uid changes - and counts the VFs of a
fake sysfs. Together they show the lab's "VF allocatable" following the role's
selectors: a selector that matches nothing gives 0 and validation fails
sriov_vf_allocatable naming the resource.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time

import pytest

pytestmark = pytest.mark.kmock_only

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
try:
    from hftlab import controlplane as cp
except ImportError:  # a checkout without the lab installed
    sys.path.insert(0, os.path.join(REPO_ROOT, "lab"))
    from hftlab import controlplane as cp
sys.path.insert(0, os.path.join(REPO_ROOT, "lab", "tests"))
from vf_sysfs import make_sysfs  # noqa: E402  pylint: disable=wrong-import-position

NODE = "hft-lab-1"
VF = "openshift.io/quantbot_hft_vf"
HFT_TAINT = {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}
GATE_TAINT = {"key": "quantbot.io/hft-unverified", "value": "true", "effect": "NoSchedule"}
ROLE = [{"resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io", "deviceType": "netDevice",
         "selectors": [{"pfNames": ["enp65s0#0-1"], "vendors": ["8086"], "devices": ["10ca"]}]}]
WRONG = [{"resourceName": "quantbot_hft_vf", "selectors": [{"pfNames": ["nosuch0"]}]}]


def _standin():
    spec = importlib.util.spec_from_file_location(
        "hftlab_kubelet_standin_it", os.path.join(REPO_ROOT, "lab", "hftlab", "kube", "kubelet_standin.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wait(fn, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.fixture
def cluster(kube, tmp_path):
    """The device plugin's DaemonSet (ConfigMap mode) and the PTP one, an HFT node, and the controllers running."""
    api = cp.Api(kube.server.url)
    api.create("/apis/apps/v1/namespaces/kube-system/daemonsets", cp.sriov_dp_daemonset("configmap"))
    api.create("/apis/apps/v1/namespaces/alphaswarm-bots/daemonsets", cp.ptp_daemonset())
    kube.seed_node(NODE, labels={"quantbot.io/hft": "true"}, taints=[HFT_TAINT, GATE_TAINT])
    controllers = cp.Controllers(api, interval=0.2, log=lambda msg: None)
    controllers.start()
    try:
        yield api
    finally:
        controllers.stopping.set()
        controllers.join(5)


def _plugin_pods(api, node=NODE):
    return [p for p in api.items("/api/v1/namespaces/kube-system/pods")
            if p["spec"].get("nodeName") == node and (p.get("status") or {}).get("phase") == "Running"]


def _configmap(api):
    return api.get("/api/v1/namespaces/kube-system/configmaps/sriovdp-config")


# --- the ConfigMap module -----------------------------------------------------------------------
def test_configmap_is_created_merged_over_nodes_and_idempotent(kube):
    api = cp.Api(kube.server.url)
    first = kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": ROLE}, diff=True)
    assert first["_rc"] == 0, first
    assert first["changed"] is True and first["configmap"]["created"] is True
    assert first["diff"]["before"] is None and first["diff"]["after"] == {"resourceList": ROLE}
    assert json.loads(_configmap(api)["data"]["config.json"]) == {"resourceList": ROLE}

    other = [{"resourceName": "quantbot_hft_vf", "selectors": [{"pfNames": ["ens1f0#0-3"], "vendors": ["8086"]}]}]
    check = kube.run("sriov_device_plugin_config", {"node_name": "hft-node-07", "resources": other}, check=True)
    assert check["changed"] is True
    assert json.loads(_configmap(api)["data"]["config.json"]) == {"resourceList": ROLE}  # check mode wrote nothing

    second = kube.run("sriov_device_plugin_config", {"node_name": "hft-node-07", "resources": other})
    assert second["changed"] is True and second["nodes"] == [NODE, "hft-node-07"]
    merged = json.loads(_configmap(api)["data"]["config.json"])["resourceList"][0]["selectors"]
    assert merged == [{"pfNames": ["enp65s0#0-1", "ens1f0#0-3"], "vendors": ["8086"]}]

    again = kube.run("sriov_device_plugin_config", {"node_name": "hft-node-07", "resources": other}, diff=True)
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"]

    gone = kube.run("sriov_device_plugin_config", {"node_name": "hft-node-07", "state": "absent"})
    assert gone["changed"] is True and gone["nodes"] == [NODE]
    assert json.loads(_configmap(api)["data"]["config.json"]) == {"resourceList": ROLE}


@pytest.mark.parametrize("resources, message", [
    ([{"resourceName": "quantbot_hft_vf", "selectors": [{"pfNames": ["enp65s0#1-0"]}]}],
     "pfNames item 'enp65s0#1-0': VF range 1-0 runs backwards"),
    ([{"resourceName": "quantbot_hft_vf", "selectors": [{"vendor": ["8086"]}]}], "unknown or unsupported keys: vendor"),
    ([{"resourceName": "quantbot hft", "selectors": [{}]}], "got 'quantbot hft'"),
])
def test_bad_resources_are_refused_before_the_configmap_is_touched(kube, resources, message):
    api = cp.Api(kube.server.url)
    kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": ROLE})
    before = _configmap(api)
    result = kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": resources})
    assert result["_rc"] == 1 and result["failed"] is True
    assert message in result["msg"] and result["msg"].startswith("invalid resources")
    assert _configmap(api) == before
    assert kube.token not in result["_raw"]


def test_a_hand_edited_entry_is_refused(kube):
    api = cp.Api(kube.server.url)
    kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": ROLE})
    edited = json.loads(_configmap(api)["data"]["config.json"])
    edited["resourceList"][0]["selectors"][0]["pfNames"] = ["ens9f0"]
    api.merge("/api/v1/namespaces/kube-system/configmaps/sriovdp-config",
              {"data": {"config.json": json.dumps(edited)}})
    result = kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": ROLE})
    assert result["failed"] is True and "was changed outside quantbot.hft" in result["msg"]


def test_state_present_needs_resources(kube):
    result = kube.run("sriov_device_plugin_config", {"node_name": NODE})
    assert result["failed"] is True and "resources" in result["msg"]


def test_a_node_without_vfs_contributes_nothing(kube):
    api = cp.Api(kube.server.url)
    kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": ROLE})
    result = kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": []})
    assert result["_rc"] == 0 and result["changed"] is True and result["nodes"] == [NODE]
    assert json.loads(_configmap(api)["data"]["config.json"]) == {"resourceList": []}


# --- the DaemonSet controller and taints --------------------------------------------------------
def test_daemonset_pods_land_on_a_gated_hft_node_only_with_the_tolerations(kube, cluster):
    api = cluster
    assert _wait(lambda: _plugin_pods(api))
    ptp = _wait(lambda: [p for p in api.items("/api/v1/namespaces/alphaswarm-bots/pods")
                         if p["spec"].get("nodeName") == NODE])
    assert [p["metadata"]["name"] for p in ptp] == ["quantbot-ptp-" + NODE]
    # A DaemonSet that tolerates the runbook's taint but not the gate: no pod while the gate is on.
    strict = cp.ptp_daemonset()
    strict["metadata"].update(name="strict", uid="strict-uid")
    strict["spec"]["template"]["spec"]["tolerations"] = [HFT_TAINT]
    api.create("/apis/apps/v1/namespaces/alphaswarm-bots/daemonsets", strict)

    def strict_pods():
        return [p for p in api.items("/api/v1/namespaces/alphaswarm-bots/pods") if p["metadata"]["name"] == "strict-" + NODE]

    time.sleep(1.0)
    assert strict_pods() == []
    kube.run("node_label", {"node_name": NODE, "labels": {}, "taints": [GATE_TAINT], "state": "absent"})
    assert _wait(strict_pods)  # validation passed, the gate went: now it lands
    # NoExecute evicts a running DaemonSet pod that does not tolerate it.
    kube.run("node_label", {"node_name": NODE, "labels": {},
                            "taints": [{"key": "maintenance", "value": "now", "effect": "NoExecute"}]})
    assert _wait(lambda: not strict_pods() and not _plugin_pods(api))


# --- restarting the plugin: the stand-in re-reads only then ----------------------------------------
def test_restart_makes_the_standin_read_the_new_configuration(kube, cluster, tmp_path):
    api = cluster
    kubelet = _standin()
    plugin = kubelet.DevicePlugin(kubelet.Api(kube.kubeconfig), NODE,
                                  sys_root=make_sysfs(tmp_path / "sys", {"enp65s0": {"bus": 0x41, "vfs": 2}}),
                                  host_root=str(tmp_path / "host"))
    assert _wait(lambda: _plugin_pods(api))
    assert plugin.sync() == {}  # the pod runs, but sriovdp-config does not exist yet: crash-looping

    def configure_and_restart(resources):
        change = kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": resources})
        assert change["_rc"] == 0 and change["changed"] is True, change
        return kube.run("sriov_device_plugin_pod", {"node_name": NODE, "wait_timeout": 20, "poll_interval": 0.2})

    kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": ROLE})
    assert plugin.sync() == {VF: 2}  # the ConfigMap appeared: the crash-looping container starts

    first_uid = _plugin_pods(api)[0]["metadata"]["uid"]
    kube.run("sriov_device_plugin_config", {"node_name": NODE, "resources": WRONG})
    assert plugin.sync() == {VF: 2}  # written, but the running plugin has not read it

    check = kube.run("sriov_device_plugin_pod", {"node_name": NODE}, check=True)
    assert check["changed"] is True and [d["uid"] for d in check["deleted"]] == [first_uid]
    assert _plugin_pods(api)[0]["metadata"]["uid"] == first_uid  # check mode deleted nothing

    restart = kube.run("sriov_device_plugin_pod", {"node_name": NODE, "wait_timeout": 20, "poll_interval": 0.2})
    assert restart["_rc"] == 0 and restart["changed"] is True, restart
    assert restart["deleted"][0]["uid"] == first_uid
    assert restart["pod"]["uid"] != first_uid and restart["pod"]["phase"] == "Running"
    assert plugin.sync() == {VF: 0}  # a selector that matches nothing

    # What validation then sees (the stand-in posts these counts as the Node's allocatable).
    kube.v1.patch_node_status(NODE, {"status": {"allocatable": {VF: "0", "hugepages-2Mi": "2Gi"}}},
                              _preload_content=False)
    result = kube.run("node_validate", {"node_name": NODE})
    failed = dict((f["check"], f) for f in result["failures"])
    assert failed["sriov_vf_allocatable"]["actual"] == "openshift.io/quantbot_hft_vf = 0"

    back = configure_and_restart(ROLE)
    assert back["changed"] is True and back["pod"]["uid"] not in (first_uid, restart["pod"]["uid"])
    assert plugin.sync() == {VF: 2}


def test_restart_on_a_node_without_the_plugin_is_no_change(kube, cluster):
    result = kube.run("sriov_device_plugin_pod", {"node_name": "not-an-hft-node"})
    assert result["_rc"] == 0 and result["changed"] is False and result["deleted"] == [] and result["pod"] is None


def test_restart_fails_naming_the_node_when_no_pod_comes_back(kube, cluster):
    api = cluster
    assert _wait(lambda: _plugin_pods(api))
    api.delete("/apis/apps/v1/namespaces/kube-system/daemonsets/sriov-device-plugin")  # nothing recreates it
    result = kube.run("sriov_device_plugin_pod", {"node_name": NODE, "wait_timeout": 2, "poll_interval": 0.2})
    assert result["failed"] is True
    assert "the SR-IOV device plugin pod on %s did not come back Running within 2s" % NODE in result["msg"]
