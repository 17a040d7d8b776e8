# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet audit's judging (_fleet): every check passing and failing, the host-validation
annotations (missing, false, stale, in the future), the plan hash, the summary, and the reads
(collect) against a fake API that counts and pages."""

from __future__ import annotations

import copy
import datetime
import json
import threading

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _fleet
from ansible_collections.quantbot.hft.plugins.module_utils._fleet import FleetError

NOW = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=_fleet.UTC)
PLAN = {"reserved_cpus": "0-1,4-5", "isolated_cpus": "2-3,6-7", "hft_numa_node": 1,
        "hugepages": {"2M": {"0": 0, "1": 1024}, "1G": {"0": 0, "1": 0}},
        "kernel_args": ["isolcpus=managed_irq,2-3,6-7", "nohz_full=2-3,6-7", "hugepages=1:1024"],
        "cmdline_read": True, "cmdline_missing": [], "reboot_required": False}
DS_UID = "0a6e8c1e-1111-4c4c-9c9c-000000000001"
DAEMONSET = {"apiVersion": "apps/v1", "kind": "DaemonSet",
             "metadata": {"name": "quantbot-ptp", "namespace": "alphaswarm-bots", "uid": DS_UID},
             "spec": {"selector": {"matchLabels": {"app": "quantbot-ptp"}}}}
VF = "openshift.io/quantbot_hft_vf"


def annotations(valid="true", at=NOW - datetime.timedelta(hours=2), failed="", plan="5d41402abc4b"):
    return {"quantbot.io/hft-validated-at": _fleet.to_rfc3339(at), "quantbot.io/hft-valid": valid,
            "quantbot.io/hft-failed-checks": failed, "quantbot.io/hft-plan": plan}


def node(name="hft-node-07", **changes):
    body = {"metadata": {"name": name, "labels": {"quantbot.io/hft": "true"}, "annotations": annotations()},
            "spec": {"taints": [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "allocatable": {"hugepages-2Mi": "4Gi", VF: "4", "cpu": "30"}}}
    for path, value in changes.items():
        target = body
        keys = path.split("__")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(keys[-1], None)
        else:
            target[keys[-1]] = value
    return body


def pod(name, node_name="hft-node-07", namespace="alphaswarm-bots", owner=None, phase="Running", requests=None,
        limits=None, labels=None, qos=None):
    meta = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
    if owner:
        kind, oname, uid = owner
        meta["ownerReferences"] = [{"kind": kind, "name": oname, "uid": uid, "controller": True}]
    resources = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    body = {"metadata": meta, "spec": {"nodeName": node_name, "containers": [{"name": "c", "resources": resources}]},
            "status": {"phase": phase}}
    if qos:
        body["status"]["qosClass"] = qos
    return body


def ptp_pod(node_name="hft-node-07", phase="Running"):
    return pod("quantbot-ptp-%s" % node_name, node_name, owner=("DaemonSet", "quantbot-ptp", DS_UID), phase=phase,
               labels={"app": "quantbot-ptp"})


BOT_RES = {"cpu": "4", "memory": "8Gi", "hugepages-2Mi": "1Gi", VF: "1"}


def bot(name="mm-bot-btcusd-0", node_name="hft-node-07", **kwargs):
    kwargs.setdefault("requests", dict(BOT_RES))
    kwargs.setdefault("limits", dict(BOT_RES))
    return pod(name, node_name, owner=("StatefulSet", name[:-2], "u-" + name), **kwargs)


def fit_pods(node_name="hft-node-07"):
    return [ptp_pod(node_name), bot(node_name=node_name)]


MISSING = object()


def judge(the_node=None, pods=None, daemonset=MISSING, now=NOW, configz=None, **opts):
    the_node = the_node or node()
    daemonset = DAEMONSET if daemonset is MISSING else daemonset
    return _fleet.judge_node(the_node, fit_pods() if pods is None else pods, daemonset, _fleet.options(opts), now,
                             configz)


def failed(result):
    return sorted(set(f["check"] for f in result["failures"]))


# --------------------------------------------------------------------------
# every check passes on a fit node, and each can fail
# --------------------------------------------------------------------------
def test_a_fit_node_passes_every_check():
    records, skipped = _fleet.judge_records(node(), fit_pods(), DAEMONSET, _fleet.options(), NOW)
    assert [r["check"] for r in records] == list(_fleet.FLEET_CHECKS)
    assert all(r["ok"] for r in records), [r for r in records if not r["ok"]]
    assert skipped == []
    result = judge()
    assert result == {"name": "hft-node-07", "valid": True, "failures": [], "skipped": [], "plan_hash": "5d41402abc4b"}


BREAKS = {
    "node_ready": (lambda n, p: n["status"].update(conditions=[{"type": "Ready", "status": "False",
                                                               "reason": "KubeletNotReady"}]),
                   "Ready=False (KubeletNotReady)"),
    "node_schedulable": (lambda n, p: n["spec"].update(unschedulable=True), "cordoned"),
    "label": (lambda n, p: n["metadata"]["labels"].update({"quantbot.io/hft": "false"}), "quantbot.io/hft=false"),
    "taint": (lambda n, p: n["spec"].update(taints=[]), "no quantbot.io/hft taint"),
    "ptp_pod": (lambda n, p: p.pop(0), "no quantbot-ptp pod on the node"),
    "hugepages_free": (lambda n, p: p.append(pod("backtest-0", namespace="research", owner=("Job", "bt", "u1"),
                                                 requests={"hugepages-2Mi": "3Gi"}, limits={"hugepages-2Mi": "3Gi"})),
                       '"free": "0"'),
    "vf_free": (lambda n, p: n["status"]["allocatable"].update({VF: "1"}), '"free": "0"'),
    "bot_pod_qos": (lambda n, p: p.append(bot("mm-bot-ethusd-0", requests=dict(BOT_RES, cpu="3500m"))),
                    "cpu request 3500m is not an integer"),
    "host_validation": (lambda n, p: n["metadata"].update(annotations={}), "no host validation recorded"),
    "gate": (lambda n, p: n["spec"]["taints"].append({"key": "quantbot.io/hft-unverified", "value": "true",
                                                      "effect": "NoSchedule"}),
             "quantbot.io/hft-unverified=true:NoSchedule"),
}


def test_every_fleet_check_has_a_breaking_case():
    assert sorted(BREAKS) == sorted(_fleet.FLEET_CHECKS)


@pytest.mark.parametrize("check", sorted(BREAKS))
def test_each_check_fails_alone_and_says_why(check):
    breaker, words = BREAKS[check]
    the_node, pods = node(), fit_pods()
    breaker(the_node, pods)
    result = judge(the_node, pods)
    assert result["valid"] is False
    assert failed(result) == [check]
    failure = next(f for f in result["failures"] if f["check"] == check)
    assert words in json.dumps(failure["actual"]) if not isinstance(failure["actual"], str) else words in failure["actual"]
    assert failure["expected"] and failure["hint"]


def test_unknown_ready_and_missing_condition_fail_node_ready():
    unknown = node(status__conditions=[{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}])
    assert failed(judge(unknown)) == ["node_ready"]
    assert "Ready=Unknown (NodeStatusUnknown)" in judge(unknown)["failures"][0]["actual"]
    assert failed(judge(node(status__conditions=[]))) == ["node_ready"]


def test_taint_with_another_value_or_effect_fails():
    for taint in ({"key": "quantbot.io/hft", "value": "false", "effect": "NoSchedule"},
                  {"key": "quantbot.io/hft", "value": "true", "effect": "PreferNoSchedule"}):
        result = judge(node(spec__taints=[taint]))
        assert failed(result) == ["taint"]
    custom = judge(node(spec__taints=[{"key": "example.com/dedicated", "effect": "NoExecute"}]),
                   taint_key="example.com/dedicated", taint_value="", taint_effect="NoExecute")
    assert custom["valid"] is True


def test_gate_fails_whatever_the_effect():
    gated = node()
    gated["spec"]["taints"].append({"key": "quantbot.io/hft-unverified", "effect": "NoExecute"})
    assert failed(judge(gated)) == ["gate"]


def test_ptp_pod_pending_or_missing_daemonset_fail():
    pending = judge(pods=[ptp_pod(phase="Pending"), bot()])
    assert failed(pending) == ["ptp_pod"] and "Pending" in pending["failures"][0]["actual"]
    gone = judge(daemonset=None)
    assert failed(gone) == ["ptp_pod"]
    assert "DaemonSet alphaswarm-bots/quantbot-ptp does not exist" in gone["failures"][0]["actual"]


def test_ptp_pod_is_recognised_by_ownership_and_selector_not_by_name():
    # a pod that only looks like the DaemonSet's (same name prefix, another owner) does not count
    impostor = pod("quantbot-ptp-hft-node-07", owner=("ReplicaSet", "quantbot-ptp-x", "other"),
                   labels={"app": "quantbot-ptp"})
    assert failed(judge(pods=[impostor, bot()])) == ["ptp_pod"]
    # a pod of a recreated DaemonSet with the same name (another uid) does not count either
    stale = ptp_pod()
    stale["metadata"]["ownerReferences"][0]["uid"] = "old-uid"
    assert failed(judge(pods=[stale, bot()])) == ["ptp_pod"]
    # an orphan that matches the selector is the DaemonSet's (it would adopt it), whatever its name
    orphan = pod("ptp-manual", labels={"app": "quantbot-ptp"})
    assert judge(pods=[orphan, bot()])["valid"] is True
    # in another namespace it is not
    elsewhere = pod("quantbot-ptp-x", namespace="default", labels={"app": "quantbot-ptp"})
    assert failed(judge(pods=[elsewhere, bot()])) == ["ptp_pod"]


def test_free_capacity_counts_every_pod_on_the_node_but_not_finished_ones():
    other_ns = pod("capture-0", namespace="research", owner=("ReplicaSet", "capture", "u2"), requests={VF: "3"})
    assert failed(judge(pods=fit_pods() + [other_ns])) == ["vf_free"]
    done = pod("capture-1", namespace="research", owner=("Job", "capture", "u3"), requests={VF: "3"}, phase="Succeeded")
    assert judge(pods=fit_pods() + [done])["valid"] is True
    # limits stand in for missing requests, as the API server defaults them
    by_limit = pod("bt-0", namespace="research", owner=("Job", "bt", "u4"), limits={"hugepages-2Mi": "3Gi"})
    result = judge(pods=fit_pods() + [by_limit])
    assert failed(result) == ["hugepages_free"]
    actual = result["failures"][0]["actual"]
    assert actual == {"allocatable": "4Gi", "requested": "4Gi", "free": "0",
                      "pods": ["alphaswarm-bots/mm-bot-btcusd-0 1Gi", "research/bt-0 3Gi"]}


def test_free_capacity_against_the_bot_request_option():
    assert judge(hugepages_request="3Gi")["valid"] is True       # 4Gi - 1Gi = 3Gi free
    assert failed(judge(hugepages_request="3073Mi")) == ["hugepages_free"]
    assert failed(judge(vf_request=4)) == ["vf_free"]
    assert failed(judge(node(status__allocatable={VF: "4"}))) == ["hugepages_free"]  # absent counts as 0


def test_bot_pod_qos_names_every_bad_bot_and_ignores_non_bots():
    burstable = bot("mm-bot-a-0", requests=dict(BOT_RES, cpu="2"), limits=dict(BOT_RES, cpu="4"))
    besteffort = bot("mm-bot-b-0", requests={}, limits={})
    daemon = pod("node-exporter-x", owner=("DaemonSet", "node-exporter", "u5"))      # a DaemonSet pod is no bot
    research = pod("notebook-0", namespace="research", owner=("StatefulSet", "notebook", "u6"))  # nor elsewhere
    result = judge(pods=[ptp_pod(), burstable, besteffort, daemon, research])
    assert failed(result) == ["bot_pod_qos"]
    assert sorted(f["actual"]["pod"] for f in result["failures"]) == ["alphaswarm-bots/mm-bot-a-0",
                                                                      "alphaswarm-bots/mm-bot-b-0"]
    assert judge(pods=[ptp_pod()])["valid"] is True   # no bot pods at all is fine


# --------------------------------------------------------------------------
# host validation annotations
# --------------------------------------------------------------------------
def host_validation(annotations_, max_age_s=24 * 3600, now=NOW):
    return _fleet.check_host_validation({"metadata": {"name": "n", "annotations": annotations_}}, now, max_age_s)


def test_host_validation_missing_false_stale_future_and_garbled():
    assert host_validation(annotations())["ok"] is True
    missing = host_validation({})
    assert not missing["ok"] and "quantbot.io/hft-validated-at, quantbot.io/hft-valid absent" in missing["actual"]
    half = host_validation({"quantbot.io/hft-valid": "true"})
    assert not half["ok"] and "quantbot.io/hft-validated-at absent" in half["actual"]
    false = host_validation(annotations(valid="false", failed="kernel_cmdline,ptp_sync"))
    assert not false["ok"] and "failed checks: kernel_cmdline,ptp_sync" in false["actual"]
    assert "(kernel_cmdline,ptp_sync)" in false["hint"]
    stale = host_validation(annotations(at=NOW - datetime.timedelta(hours=30)))
    assert not stale["ok"] and "30h00m ago" in stale["actual"] and "too old" in stale["hint"]
    assert host_validation(annotations(at=NOW - datetime.timedelta(hours=30)), max_age_s=48 * 3600)["ok"] is True
    future = host_validation(annotations(at=NOW + datetime.timedelta(hours=1)))
    assert not future["ok"] and "in the future" in future["actual"]
    assert host_validation(annotations(at=NOW + datetime.timedelta(seconds=60)))["ok"] is True  # clock skew
    garbled = host_validation(dict(annotations(), **{"quantbot.io/hft-validated-at": "yesterday"}))
    assert not garbled["ok"] and "not an RFC 3339 timestamp: 'yesterday'" in garbled["actual"]


def test_max_age_boundary():
    at = NOW - datetime.timedelta(hours=24)
    assert host_validation(annotations(at=at))["ok"] is True
    assert host_validation(annotations(at=at - datetime.timedelta(seconds=1)))["ok"] is False


def test_parse_rfc3339_offsets_and_fractions():
    assert _fleet.parse_rfc3339("2026-12-01T12:00:00Z") == NOW
    assert _fleet.parse_rfc3339("2026-12-01T13:30:00+01:30") == NOW
    assert _fleet.parse_rfc3339("2026-12-01T12:00:00.250Z") == NOW + datetime.timedelta(milliseconds=250)
    for bad in ("2026-12-01 12:00", "2026-13-01T00:00:00Z", "", None):
        with pytest.raises(FleetError):
            _fleet.parse_rfc3339(bad)


# --------------------------------------------------------------------------
# the annotations a validation writes
# --------------------------------------------------------------------------
def test_validation_annotations_of_a_failed_and_a_passing_validation():
    failures = [{"check": "ptp_sync"}, {"check": "bot_pod_qos"}, {"check": "bot_pod_qos"}, {"check": "kernel_cmdline"}]
    result = {"valid": False, "checks": [], "failures": failures}
    got = _fleet.validation_annotations(result, PLAN, NOW)
    assert got == {"quantbot.io/hft-validated-at": "2026-12-01T12:00:00Z", "quantbot.io/hft-valid": "false",
                   "quantbot.io/hft-failed-checks": "bot_pod_qos,kernel_cmdline,ptp_sync",
                   "quantbot.io/hft-plan": _fleet.plan_hash(PLAN)}
    ok = _fleet.validation_annotations({"valid": True, "failures": [], "checks": []}, PLAN,
                                       datetime.datetime(2026, 12, 1, 13, 0, tzinfo=datetime.timezone(
                                           datetime.timedelta(hours=1))))
    assert ok["quantbot.io/hft-valid"] == "true" and ok["quantbot.io/hft-failed-checks"] == ""
    assert ok["quantbot.io/hft-validated-at"] == "2026-12-01T12:00:00Z"   # converted to UTC
    assert all(isinstance(v, str) for v in ok.values())


def test_written_annotations_are_what_the_audit_accepts():
    result = {"valid": True, "failures": [], "checks": []}
    fresh = node(metadata__annotations=_fleet.validation_annotations(result, PLAN, NOW - datetime.timedelta(hours=1)))
    judged = judge(fresh)
    assert judged["valid"] is True and judged["plan_hash"] == _fleet.plan_hash(PLAN)
    bad = node(metadata__annotations=_fleet.validation_annotations({"valid": False, "failures": [{"check": "x"}]}, PLAN,
                                                                   NOW))
    assert failed(judge(bad)) == ["host_validation"]


@pytest.mark.parametrize("result, words", [
    ({"failures": []}, "boolean 'valid'"),
    ({"valid": "true", "failures": []}, "boolean 'valid'"),
    ({"valid": True, "failures": [{"check": "ptp_sync"}]}, "valid: true but lists 1 failure"),
    ({"valid": False, "failures": []}, "valid: false but lists 0 failure"),
    ({"valid": False, "failures": [{"expected": 1}]}, "needs a 'check' name"),
    (None, "boolean 'valid'"),
])
def test_validation_annotations_refuse_a_result_not_in_the_runbook_shape(result, words):
    with pytest.raises(FleetError, match=words):
        _fleet.validation_annotations(result, PLAN, NOW)


def test_plan_hash_is_short_stable_and_ignores_run_keys():
    first = _fleet.plan_hash(PLAN)
    assert len(first) == 12 and int(first, 16) >= 0
    reordered = json.loads(json.dumps(dict(reversed(list(PLAN.items())))))
    assert _fleet.plan_hash(reordered) == first
    after_reboot = dict(PLAN, cmdline_missing=["nohz_full=2-3,6-7"], reboot_required=True, cmdline_read=False)
    assert _fleet.plan_hash(after_reboot) == first
    # the value is pinned: a change of the hashing would re-mark every node of a fleet as on another plan
    assert first == _fleet.plan_hash(copy.deepcopy(PLAN)) == "45a25a7423c5"
    other = dict(PLAN, isolated_cpus="2-3")
    assert _fleet.plan_hash(other) != first
    assert _fleet.plan_hash(dict(PLAN, kernel_args=list(reversed(PLAN["kernel_args"])))) != first  # order matters


def test_plan_hash_refuses_what_is_not_a_plan():
    with pytest.raises(FleetError, match="not the whole result"):
        _fleet.plan_hash({"topology": {}, "plan": PLAN, "warnings": []})
    with pytest.raises(FleetError, match="must be a mapping"):
        _fleet.plan_hash(None)
    with pytest.raises(FleetError, match="not plain JSON"):
        _fleet.plan_hash({"when": datetime.datetime(2026, 1, 1)})


# --------------------------------------------------------------------------
# the fleet: missing nodes, configz, summary
# --------------------------------------------------------------------------
def test_judge_fleet_sorts_summarises_and_counts_plans():
    nodes = [node("b"), node("a"), node("c", metadata__annotations=annotations(plan="7d793037a076"))]
    nodes[1]["spec"]["unschedulable"] = True
    pods = fit_pods("a") + fit_pods("b") + fit_pods("c") + [ptp_pod("elsewhere")]
    results, summary = _fleet.judge_fleet(nodes, pods, DAEMONSET, _fleet.options(), NOW, expected=["a", "ghost"])
    assert [r["name"] for r in results] == ["a", "b", "c", "ghost"]
    assert summary == {"total": 4, "valid": 2, "invalid": 2,
                       "failed_checks": {"node_ready": 1, "node_schedulable": 1},
                       "plan_hashes": {"5d41402abc4b": 2, "7d793037a076": 1, "none": 1}}
    ghost = results[-1]
    assert ghost["failures"][0]["actual"] == "no Node named ghost"
    assert ghost["skipped"] == [c for c in _fleet.FLEET_CHECKS if c != "node_ready"]


def test_configz_checks_pass_fail_and_skip():
    good = {"kubeletconfig": {"cpuManagerPolicy": "static", "topologyManagerPolicy": "single-numa-node"}}
    records, skipped = _fleet.judge_records(node(), fit_pods(), DAEMONSET, _fleet.options(), NOW, good)
    assert [r["check"] for r in records][-3:] == ["kubelet_configz", "cpu_manager_policy", "topology_manager_policy"]
    assert all(r["ok"] for r in records) and skipped == []
    policy = judge(configz={"kubeletconfig": {"cpuManagerPolicy": "none"}})
    assert failed(policy) == ["cpu_manager_policy", "topology_manager_policy"]
    down = judge(configz="GET nodes/hft-node-07/proxy/configz: 503 kubelet unreachable")
    assert failed(down) == ["kubelet_configz"]
    assert down["skipped"] == ["cpu_manager_policy", "topology_manager_policy"]
    no_topology = _fleet.options({"topology_manager_policy": ""})
    assert _fleet.audit_checks(no_topology, True)[-2:] == ["kubelet_configz", "cpu_manager_policy"]


@pytest.mark.parametrize("opts, words", [
    ({"hugepages_request": "lots"}, "hugepages_request"),
    ({"vf_request": -1}, "vf_request must not be negative"),
    ({"validation_max_age_s": 0}, "must be positive"),
    ({"validation_max_age_s": "a day"}, "number of seconds"),
    ({"no_such": 1}, "unknown fleet audit option 'no_such'"),
])
def test_bad_options_are_refused(opts, words):
    with pytest.raises(FleetError, match=words):
        _fleet.options(opts)


def test_format_age():
    assert [_fleet.format_age(s) for s in (5, 600, 3 * 3600 + 60, 3 * 86400)] == ["5s", "10m", "3h01m", "3d00h"]


# --------------------------------------------------------------------------
# reading: a fake API that pages like the server and counts
# --------------------------------------------------------------------------
class FakeApi(object):
    """list_paged / get_node / get_daemonset / node_configz over lists of dicts, counting each request."""

    def __init__(self, nodes, pods, daemonset=None, page=500, configz=None):
        self.nodes, self.pods, self.daemonset, self.page = nodes, pods, daemonset or DAEMONSET, page
        self.configz = configz or {}
        self.calls = []
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0

    def _log(self, *call):
        with self.lock:
            self.calls.append(call)

    def list_paged(self, what, path, label_selector=None, field_selector=None, limit=500):
        items = self.nodes if path == "/api/v1/nodes" else self.pods
        if label_selector:
            key, value = label_selector.split("=")
            items = [i for i in items if (i["metadata"].get("labels") or {}).get(key) == value]
        pages = max(1, -(-len(items) // limit))
        for number in range(pages):
            self._log("list", path, label_selector, number)
        return list(items), pages

    def get_node(self, name):
        self._log("get_node", name)
        return next((n for n in self.nodes if n["metadata"]["name"] == name), None)

    def get_daemonset(self, namespace, name):
        self._log("get_daemonset", namespace, name)
        return self.daemonset

    def node_configz(self, name):
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            self._log("configz", name)
            threading.Event().wait(0.01)
            value = self.configz.get(name, {"kubeletconfig": {"cpuManagerPolicy": "static",
                                                              "topologyManagerPolicy": "single-numa-node"}})
            if isinstance(value, Exception):
                raise value
            return value
        finally:
            with self.lock:
                self.in_flight -= 1


def fleet(count):
    nodes = [node("hft-%04d" % i) for i in range(count)]
    pods = []
    for n in nodes:
        pods.extend(fit_pods(n["metadata"]["name"]))
    return nodes, pods


def test_collect_makes_one_paged_list_each_and_one_daemonset_get():
    nodes, pods = fleet(1201)
    api = FakeApi(nodes, pods)
    out = _fleet.audit(api, "quantbot.io/hft=true", {}, now=NOW)
    assert out["requests"] == {"nodes": 3, "pods": 5, "daemonset": 1, "total": 9, "configz": 0}
    assert out["summary"]["total"] == 1201 and out["summary"]["valid"] == 1201
    assert sorted(set(c[0] for c in api.calls)) == ["get_daemonset", "list"]
    assert out["checks"] == list(_fleet.FLEET_CHECKS)


def test_expected_nodes_the_selector_misses_cost_a_get_each_or_one_list():
    nodes, pods = fleet(30)
    for n in nodes[:2]:
        del n["metadata"]["labels"]["quantbot.io/hft"]
    api = FakeApi(nodes, pods)
    out = _fleet.audit(api, "quantbot.io/hft=true", {}, now=NOW, expected=[n["metadata"]["name"] for n in nodes] +
                       ["ghost"])
    assert [c for c in api.calls if c[0] == "get_node"] == [("get_node", "ghost"), ("get_node", "hft-0000"),
                                                            ("get_node", "hft-0001")]
    assert out["requests"]["nodes"] == 1 + 3
    bad = dict((n["name"], failed(n)) for n in out["nodes"] if not n["valid"])
    assert bad == {"hft-0000": ["label"], "hft-0001": ["label"], "ghost": ["node_ready"]}
    many = FakeApi(*fleet(40))
    for n in many.nodes:
        del n["metadata"]["labels"]["quantbot.io/hft"]
    out = _fleet.audit(many, "quantbot.io/hft=true", {}, now=NOW, expected=[n["metadata"]["name"] for n in many.nodes])
    assert not [c for c in many.calls if c[0] == "get_node"]
    assert out["requests"]["nodes"] == 2 and out["summary"]["failed_checks"] == {"label": 40}


def test_configz_reads_are_bounded_and_counted_apart():
    nodes, pods = fleet(24)
    name = nodes[3]["metadata"]["name"]
    api = FakeApi(nodes, pods, configz={name: RuntimeError("503 kubelet unreachable")})
    out = _fleet.audit(api, "quantbot.io/hft=true", {}, now=NOW, configz=True, configz_workers=4)
    assert out["requests"]["configz"] == 24 and out["requests"]["total"] == 3
    assert 1 <= api.peak <= 4
    broken = next(n for n in out["nodes"] if n["name"] == name)
    assert failed(broken) == ["kubelet_configz"] and "503 kubelet unreachable" in broken["failures"][0]["actual"]
    assert out["checks"][-3:] == ["kubelet_configz", "cpu_manager_policy", "topology_manager_policy"]


def test_api_errors_propagate():
    class Down(FakeApi):
        def get_daemonset(self, namespace, name):
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        _fleet.audit(Down(*fleet(3)), "quantbot.io/hft=true", {}, now=NOW)
