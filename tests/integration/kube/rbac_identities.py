# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which identity runs which module calls: the registry test_rbac_conformance.py judges.

To add a module's calls to an identity: write a scenario (a function that seeds
a fresh lab API through ``api`` and runs the module once through ``run``,
asserting that it did its job), add it to ``SCENARIOS``, and name it in the
identity's ``scenarios``. To add an identity: its manifest in ``rbac/`` and one
``IDENTITIES`` entry. Every module that talks to the Kubernetes API must run in
some scenario (the conformance test fails otherwise), so a new module cannot
make calls no identity was checked for.

Every scenario gets its own lab API, so every request it records belongs to
the one module it runs. Seeding uses an admin token (``api``, also
``api.run(...)`` to seed with a module), the lab's controllers none; only the
identity's requests are judged.
"""

from __future__ import annotations

import collections
import json

from ansible_collections.quantbot.hft.plugins.filter.fleet import validation_annotations as annotations_filter

from conftest import wait_until
from hftlab import controlplane
from hftlab import fleet as labfleet

NAMESPACE = "quantbot-hft-system"  # of the service accounts (rbac/namespace.yml)
NODE = "hft-node-07"
OTHER_NODE = "hft-node-08"
HFT_LABELS = {"quantbot.io/hft": "true"}
HFT_TAINT = {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}
GATE_TAINT = {"key": "quantbot.io/hft-unverified", "value": "true", "effect": "NoSchedule"}
ALLOCATABLE = {"cpu": "8", "memory": "16Gi", "pods": "110", "hugepages-2Mi": "2Gi", "openshift.io/quantbot_hft_vf": "4"}
PLAN = {"isolated_cpus": "2-7", "housekeeping_cpus": "0-1", "numa_node": 0, "hugepages": {"2Mi": 1024}}
SRIOV_DP = "/api/v1/namespaces/kube-system"  # the device plugin's namespace (the sriov role's default)


def sriov_resources(pf):
    """The sriov role's sriov_device_plugin_config.resourceList for one PF with 4 VFs."""
    return [{"resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io", "deviceType": "netDevice",
             "selectors": [{"pfNames": ["%s#0-3" % pf], "vendors": ["8086"], "devices": ["1889"]}]}]


Identity = collections.namedtuple("Identity", "account manifests scenarios")


# --------------------------------------------------------------------------
# scenarios: (api, run, ctx) -> None; api seeds (admin), run(module, args, env=None) runs it as the identity
# --------------------------------------------------------------------------
def node_label_present(api, run, ctx):
    api.seed_node(NODE, allocatable=ALLOCATABLE)
    assert run("node_label", {"node_name": NODE})["changed"] is True


def node_label_absent(api, run, ctx):
    """offboard.yml: untaint and unlabel."""
    api.seed_node(NODE, labels={"quantbot.io/hft": "true"}, taints=[HFT_TAINT], allocatable=ALLOCATABLE)
    assert run("node_label", {"node_name": NODE, "state": "absent"})["changed"] is True


def node_drain_drained(api, run, ctx):
    """offboard.yml and the kubelet role's transition: cordon, evict a bot, skip the PTP DaemonSet pod."""
    api.seed_node(NODE, labels={"quantbot.io/hft": "true"}, allocatable=ALLOCATABLE)
    api.seed_pod("mm-bot-0", NODE, owner=("ReplicaSet", "mm-bot-7c9f6d5b8"))
    api.seed_pod("quantbot-ptp-x1", NODE, owner=("DaemonSet", "quantbot-ptp"))
    result = run("node_drain", {"node_name": NODE, "state": "drained", "timeout": 30, "poll_interval": 0.2})
    assert result["evicted"] == ["%s/mm-bot-0" % api.namespace] and result["cordoned"] is True


def node_drain_uncordoned(api, run, ctx):
    """The kubelet role's transition, last step."""
    api.seed_node(NODE, unschedulable=True, allocatable=ALLOCATABLE)
    assert run("node_drain", {"node_name": NODE, "state": "uncordoned"})["changed"] is True


def node_validate(api, run, ctx):
    """validate.yml and the end of onboard.yml: the Node, its pods, the kubelet's /configz."""
    api.seed_node(NODE, labels={"quantbot.io/hft": "true"}, taints=[HFT_TAINT], allocatable=ALLOCATABLE)
    api.seed_pod("quantbot-ptp-x1", NODE, owner=("DaemonSet", "quantbot-ptp"))
    result = run("node_validate", {"node_name": NODE, "gather_host": False})
    assert result["valid"] is True, result["failures"]
    assert "kubelet configz" not in result["skipped_checks"]


def node_join_create_token(api, run, ctx):
    """node_join with create_token: the bootstrap-token Secret, cluster-info, then the wait for Ready."""
    api.seed_cluster_info(ctx.lab_ca())
    standin = ctx.standin()
    result = run("node_join", {"node_name": NODE, "create_token": True, "token_ttl": 600,
                               "kubeadm_path": standin.kubeadm, "kubelet_conf": standin.kubelet_conf,
                               "wait_timeout": 20, "poll_interval": 0.2}, env=standin.env)
    assert result["token_created"] is True and result["ready"] is True


def validation_annotations(api, run, ctx):
    """validate_node.yml records the verdict on the Node: node_label with labels {}, taints [] and the
    quantbot.hft.validation_annotations filter's output."""
    api.seed_node(NODE, labels=HFT_LABELS, taints=[HFT_TAINT, GATE_TAINT], allocatable=ALLOCATABLE)
    verdict = {"valid": False, "failures": [{"check": "ptp_sync"}, {"check": "kernel_cmdline"}],
               "checks": [{"check": "ptp_sync"}, {"check": "kernel_cmdline"}]}
    notes = annotations_filter(verdict, PLAN)
    result = run("node_label", {"node_name": NODE, "labels": {}, "taints": [], "annotations": notes})
    assert result["changed"] is True and result["patch"] == {"metadata": {"annotations": notes}}, result
    node = api.node(NODE)
    assert dict((k, node["metadata"]["annotations"].get(k)) for k in notes) == notes
    assert notes["quantbot.io/hft-failed-checks"] == "kernel_cmdline,ptp_sync"
    assert node["spec"]["taints"] == [HFT_TAINT, GATE_TAINT]  # taints: [] leaves them as they are


def lift_gate(api, run, ctx):
    """lift_gate.yml (from validate_node.yml, once the node is valid): the gate taint goes, the HFT taint stays."""
    api.seed_node(NODE, labels=HFT_LABELS, taints=[HFT_TAINT, GATE_TAINT], allocatable=ALLOCATABLE)
    result = run("node_label", {"node_name": NODE, "labels": {}, "taints": [GATE_TAINT], "state": "absent"})
    assert result["changed"] is True and api.node(NODE)["spec"]["taints"] == [HFT_TAINT]


def _fleet_failures(result):
    return dict((n["name"], sorted(set(f["check"] for f in n["failures"]))) for n in result["nodes"] if not n["valid"])


def fleet_audit_paged(api, run, ctx):
    """audit.yml with hft_audit_configz: each list over several pages (pages of 2 here, 500 in the playbook:
    the same requests a fleet of more than 500 nodes makes), the PTP DaemonSet, then every node's /configz."""
    made = labfleet.make_fleet(5, broken=False)
    api.server.load(made.objects)  # stored directly: no request in the log
    result = run("fleet_audit", {"page_size": 2, "configz": True, "configz_workers": 2})
    assert result["requests"] == {"nodes": 3, "pods": 8, "daemonset": 1, "total": 12, "configz": 5}, result["requests"]
    assert [n["name"] for n in result["nodes"]] == made.names
    assert result["summary"]["valid"] == 5, _fleet_failures(result)
    assert result["checks"][-3:] == ["kubelet_configz", "cpu_manager_policy", "topology_manager_policy"]


def fleet_audit_named_nodes(api, run, ctx):
    """audit.yml with hft_audit_nodes: the unlabelled node the label selector misses is read by name."""
    made = labfleet.make_fleet(len(labfleet.BROKEN_CASES) + 2)
    api.server.load(made.objects)
    result = run("fleet_audit", {"nodes": made.names})
    assert _fleet_failures(result) == made.expected
    assert result["requests"]["nodes"] == 2  # one page of the HFT Nodes, one GET of the unlabelled one


def _configmap(api):
    data = api.v1.read_namespaced_config_map("sriovdp-config", "kube-system", _preload_content=False).data
    return json.loads(data)


def sriov_device_plugin_config_created(api, run, ctx):
    """The sriov role (configmap mode) on the first HFT node: sriovdp-config does not exist yet."""
    result = run("sriov_device_plugin_config", {"node_name": NODE, "resources": sriov_resources("ens1f0")})
    assert result["changed"] is True and result["configmap"]["created"] is True and result["nodes"] == [NODE]
    assert json.loads(_configmap(api)["data"]["config.json"]) == {"resourceList": sriov_resources("ens1f0")}


def sriov_device_plugin_config_merged(api, run, ctx):
    """The sriov role on the next HFT node: another node's PFs are there, this node's are merged in (a patch)."""
    seeded = api.run("sriov_device_plugin_config", {"node_name": OTHER_NODE, "resources": sriov_resources("ens2f0")})
    assert seeded["_rc"] == 0 and seeded["configmap"]["created"] is True, seeded
    result = run("sriov_device_plugin_config", {"node_name": NODE, "resources": sriov_resources("ens1f0")})
    assert result["changed"] is True and result["configmap"]["created"] is False
    assert result["nodes"] == [OTHER_NODE, NODE]
    entry = json.loads(_configmap(api)["data"]["config.json"])["resourceList"][0]
    assert entry["selectors"][0]["pfNames"] == ["ens2f0#0-3", "ens1f0#0-3"]


def sriov_device_plugin_config_absent(api, run, ctx):
    """offboard.yml (the sriov role's absent entry point): this node's PFs go, the other node's stay."""
    for node, pf in ((OTHER_NODE, "ens2f0"), (NODE, "ens1f0")):
        seeded = api.run("sriov_device_plugin_config", {"node_name": node, "resources": sriov_resources(pf)})
        assert seeded["_rc"] == 0, seeded
    result = run("sriov_device_plugin_config", {"node_name": NODE, "state": "absent"})
    assert result["changed"] is True and result["nodes"] == [OTHER_NODE]
    assert json.loads(_configmap(api)["data"]["config.json"]) == {"resourceList": sriov_resources("ens2f0")}


def sriov_device_plugin_pod_restarted(api, run, ctx):
    """The sriov role's handler: the plugin's pod on the node goes, and its DaemonSet (the lab's controller,
    which has no token, so its requests are not judged) makes a new one; the module waits for it."""
    lab = controlplane.Api(api.server.url)
    lab.create("/apis/apps/v1/namespaces/kube-system/daemonsets", controlplane.sriov_dp_daemonset("configmap"))
    api.seed_node(NODE, labels=HFT_LABELS, taints=[HFT_TAINT], allocatable=ALLOCATABLE)
    controllers = controlplane.Controllers(lab, interval=0.2, log=lambda msg: None)
    controllers.start()
    try:
        old = wait_until(lambda: [p["metadata"]["uid"] for p in lab.items(SRIOV_DP + "/pods")
                                  if p["spec"].get("nodeName") == NODE and (p.get("status") or {}).get("phase") == "Running"],
                         timeout=20)
        assert old, "the lab's DaemonSet controller made no device plugin pod on %s" % NODE
        result = run("sriov_device_plugin_pod", {"node_name": NODE, "wait_timeout": 20, "poll_interval": 0.2})
        assert result["changed"] is True and [d["uid"] for d in result["deleted"]] == old, result
        assert result["pod"]["phase"] == "Running" and result["pod"]["uid"] not in old
    finally:
        controllers.stopping.set()
        controllers.join(5)


SCENARIOS = dict((fn.__name__, fn) for fn in (
    node_label_present, node_label_absent, node_drain_drained, node_drain_uncordoned, node_validate,
    node_join_create_token, validation_annotations, lift_gate, fleet_audit_paged, fleet_audit_named_nodes,
    sriov_device_plugin_config_created, sriov_device_plugin_config_merged, sriov_device_plugin_config_absent,
    sriov_device_plugin_pod_restarted))


# --------------------------------------------------------------------------
# the identities
# --------------------------------------------------------------------------
# playbooks/validate.yml and the end of playbooks/onboard.yml (playbooks/tasks/validate_node.yml, lift_gate.yml)
VALIDATE = ("node_validate", "validation_annotations", "lift_gate", "node_drain_uncordoned")
# onboard.yml, offboard.yml, the kubelet role's transition, and the validation at the end of onboard.yml
ONBOARD = ("node_label_present", "node_label_absent", "node_drain_drained", "node_drain_uncordoned",
           "node_validate", "validation_annotations", "lift_gate")
# the sriov role's cluster side (configmap mode; the pod restart in either mode)
SRIOV_DEVICE_PLUGIN = ("sriov_device_plugin_config_created", "sriov_device_plugin_config_merged",
                       "sriov_device_plugin_config_absent", "sriov_device_plugin_pod_restarted")
IDENTITIES = {
    # each key is one way playbooks/rbac.yml can set the account up; account: the ServiceAccount's name
    "quantbot-hft-onboard": Identity(
        account="quantbot-hft-onboard",
        manifests=("rbac/onboard.yml",),
        scenarios=ONBOARD),
    "quantbot-hft-onboard with bootstrap tokens": Identity(
        account="quantbot-hft-onboard",
        manifests=("rbac/onboard.yml", "rbac/onboard-bootstrap-token.yml"),
        scenarios=ONBOARD + ("node_join_create_token",)),
    "quantbot-hft-onboard with the SR-IOV device plugin ConfigMap": Identity(
        account="quantbot-hft-onboard",
        manifests=("rbac/onboard.yml", "rbac/onboard-sriov-device-plugin.yml"),
        scenarios=ONBOARD + SRIOV_DEVICE_PLUGIN),
    "quantbot-hft-validate": Identity(
        account="quantbot-hft-validate",
        manifests=("rbac/validate.yml",),
        scenarios=VALIDATE),
    "quantbot-hft-audit": Identity(
        account="quantbot-hft-audit",
        manifests=("rbac/audit.yml",),
        scenarios=("fleet_audit_paged", "fleet_audit_named_nodes")),
}
