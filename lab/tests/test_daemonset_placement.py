"""The emulated DaemonSet controller's placement: nodeSelector, taints and tolerations as Kubernetes decides."""

import pytest

from hftlab import controlplane as cp

HFT = {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}
GATE = {"key": "quantbot.io/hft-unverified", "value": "true", "effect": "NoSchedule"}


def node(taints=(), labels=None):
    return {"metadata": {"name": "n1", "labels": {"quantbot.io/hft": "true"} if labels is None else labels},
            "spec": {"taints": list(taints)}}


@pytest.mark.parametrize("toleration, taint, expected", [
    ({"key": "quantbot.io/hft", "operator": "Equal", "value": "true", "effect": "NoSchedule"}, HFT, True),
    ({"key": "quantbot.io/hft", "value": "true"}, HFT, True),                   # operator defaults to Equal, any effect
    ({"key": "quantbot.io/hft", "operator": "Equal", "value": "false"}, HFT, False),
    ({"key": "quantbot.io/hft", "operator": "Equal"}, HFT, False),              # empty value != "true"
    ({"key": "quantbot.io/hft", "operator": "Exists"}, HFT, True),
    ({"key": "quantbot.io/hft", "operator": "Exists", "effect": "NoExecute"}, HFT, False),
    ({"key": "quantbot.io/other", "operator": "Exists"}, HFT, False),
    ({"operator": "Exists"}, HFT, True),                                         # tolerates everything
    ({"operator": "Exists", "effect": "NoExecute"}, HFT, False),
    ({"operator": "Equal", "value": "true"}, HFT, False),                        # no key needs Exists
    ({"key": "quantbot.io/hft-unverified", "operator": "Exists", "effect": "NoSchedule"}, GATE, True),
])
def test_tolerates_like_kubernetes(toleration, taint, expected):
    assert cp.tolerates(toleration, taint) is expected


def test_a_pod_lands_only_where_it_tolerates_every_noschedule_and_noexecute_taint():
    spec = {"nodeSelector": {"quantbot.io/hft": "true"}, "tolerations": cp.hft_tolerations()}
    assert cp.daemon_placement(node([HFT, GATE]), spec) == (True, True)
    only_hft = dict(spec, tolerations=[cp.hft_tolerations()[0]])
    assert cp.daemon_placement(node([HFT, GATE]), only_hft) == (False, True)  # NoSchedule: a running pod stays
    assert cp.daemon_placement(node([HFT]), {"nodeSelector": {"quantbot.io/hft": "true"}}) == (False, True)
    evict = {"key": "maintenance", "value": "now", "effect": "NoExecute"}
    assert cp.daemon_placement(node([evict]), spec) == (False, False)
    prefer = {"key": "soft", "effect": "PreferNoSchedule"}
    assert cp.daemon_placement(node([prefer]), {}) == (True, True)
    assert cp.daemon_placement(node([], labels={}), spec) == (False, False)  # nodeSelector


def test_the_controller_default_tolerations_apply():
    cordoned = node([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                     {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])
    assert cp.daemon_placement(cordoned, {}) == (True, True)
    no_net = node([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}])
    assert cp.daemon_placement(no_net, {}) == (False, True)
    assert cp.daemon_placement(no_net, {"hostNetwork": True}) == (True, True)


def test_seeded_daemonsets_tolerate_the_runbook_and_the_gate_taints():
    for ds in (cp.ptp_daemonset(), cp.sriov_dp_daemonset("configmap"), cp.sriov_dp_daemonset("hostfile")):
        spec = ds["spec"]["template"]["spec"]
        assert cp.daemon_placement(node([HFT, GATE]), spec) == (True, True), ds["metadata"]["name"]
    volumes = cp.sriov_dp_daemonset("hostfile")["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "config-volume", "hostPath": {"path": "/etc/pcidp", "type": "DirectoryOrCreate"}}]
    with pytest.raises(cp.LabError, match="unknown SR-IOV device plugin config source 'file'"):
        cp.sriov_dp_daemonset("file")
