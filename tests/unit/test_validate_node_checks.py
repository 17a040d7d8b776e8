# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node-wide API checks of _validate that the fleet audit added: label selectors, DaemonSet
pod ownership, what the scheduler counts for a pod, free capacity, quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _validate as v
from ansible_collections.quantbot.hft.plugins.module_utils._validate import ValidateError


@pytest.mark.parametrize("selector, labels, want", [
    ({"matchLabels": {"app": "ptp"}}, {"app": "ptp", "x": "1"}, True),
    ({"matchLabels": {"app": "ptp"}}, {"app": "bot"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, {"tier": "b"}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}, {}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {"tier": "a"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"tier": ""}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": ""}, False),
    ({"matchLabels": {"app": "ptp"}, "matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]},
     {"app": "ptp", "canary": "1"}, False),
    ({}, {"app": "ptp"}, False),       # an empty selector matches nothing here
    (None, {"app": "ptp"}, False),
])
def test_selector_matches(selector, labels, want):
    assert v.selector_matches(selector, labels) is want


def test_selector_with_an_unknown_operator_is_an_error():
    with pytest.raises(ValidateError, match="'Gt'"):
        v.selector_matches({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, {"a": "2"})


DS = {"metadata": {"name": "quantbot-ptp", "namespace": "alphaswarm-bots", "uid": "u-ds"},
      "spec": {"selector": {"matchLabels": {"app": "quantbot-ptp"}}}}


def _pod(refs=None, labels=None, namespace="alphaswarm-bots"):
    return {"metadata": {"name": "p", "namespace": namespace, "labels": labels or {}, "ownerReferences": refs or []}}


def test_is_daemonset_pod_by_uid_name_or_selector():
    assert v.is_daemonset_pod(_pod([{"kind": "DaemonSet", "name": "quantbot-ptp", "uid": "u-ds", "controller": True}]),
                              DS)
    assert not v.is_daemonset_pod(_pod([{"kind": "DaemonSet", "name": "quantbot-ptp", "uid": "u-old",
                                         "controller": True}]), DS)
    # no uid on one side: the name decides
    assert v.is_daemonset_pod(_pod([{"kind": "DaemonSet", "name": "quantbot-ptp", "controller": True}]), DS)
    assert not v.is_daemonset_pod(_pod([{"kind": "DaemonSet", "name": "other", "controller": True}]), DS)
    # another controller owns it, whatever its labels
    assert not v.is_daemonset_pod(_pod([{"kind": "ReplicaSet", "name": "x", "controller": True}],
                                       {"app": "quantbot-ptp"}), DS)
    # an orphan matching the selector is the DaemonSet's; in another namespace it is not
    assert v.is_daemonset_pod(_pod(labels={"app": "quantbot-ptp"}), DS)
    assert not v.is_daemonset_pod(_pod(labels={"app": "quantbot-ptp"}, namespace="default"), DS)
    # a non-controller owner reference does not make it owned
    assert v.is_daemonset_pod(_pod([{"kind": "ConfigMap", "name": "x"}], {"app": "quantbot-ptp"}), DS)


def _spec(containers=(), init=(), overhead=None):
    spec = {"containers": [{"name": "c%d" % i, "resources": r} for i, r in enumerate(containers)],
            "initContainers": [dict({"name": "i%d" % i}, **c) for i, c in enumerate(init)]}
    if overhead:
        spec["overhead"] = overhead
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}


def test_pod_request_follows_the_scheduler():
    hp = "hugepages-2Mi"
    two = _spec([{"requests": {hp: "1Gi"}}, {"limits": {hp: "512Mi"}}])       # the limit stands in for the request
    assert v.pod_request(two, hp) == Decimal(1536 * 2 ** 20)
    init = _spec([{"requests": {hp: "1Gi"}}], init=[{"resources": {"requests": {hp: "2Gi"}}}])
    assert v.pod_request(init, hp) == Decimal(2 * 2 ** 30)                     # the larger init container wins
    sidecar = _spec([{"requests": {hp: "1Gi"}}],
                    init=[{"restartPolicy": "Always", "resources": {"requests": {hp: "256Mi"}}},
                          {"resources": {"requests": {hp: "1Gi"}}}])
    assert v.pod_request(sidecar, hp) == Decimal(1280 * 2 ** 20)               # sidecars run along the app
    overhead = _spec([{"requests": {"cpu": "2"}}], overhead={"cpu": "250m"})
    assert v.pod_request(overhead, "cpu") == Decimal("2.25")
    assert v.pod_request(_spec([{}]), hp) == 0


def test_free_capacity_record_shape():
    node = {"metadata": {"name": "n"}, "status": {"allocatable": {"x/vf": "4"}}}
    pods = [dict(_spec([{"requests": {"x/vf": "3"}}]), status={"phase": "Running"}),
            dict(_spec([{"requests": {"x/vf": "3"}}]), status={"phase": "Failed"})]
    ok = v.check_free_capacity(node, pods, "x/vf", 1, "vf_free")
    assert ok["ok"] and ok["actual"] == {"allocatable": "4", "requested": "3", "free": "1"}
    short = v.check_free_capacity(node, pods, "x/vf", 2, "vf_free")
    assert not short["ok"] and short["expected"] == "free x/vf >= 2" and short["actual"]["pods"] == ["ns/p 3"]
    assert "VF" in short["hint"]
    absent = v.check_free_capacity({"status": {}}, [], "x/vf", 1, "vf_free")
    assert not absent["ok"] and absent["actual"]["allocatable"] == "absent"
    with pytest.raises(ValidateError):
        v.check_free_capacity(node, [], "x/vf", "lots", "vf_free")


def test_check_allocatable_kept_its_behaviour():
    node = {"status": {"allocatable": {"hugepages-2Mi": "2Gi"}}}
    assert v.check_allocatable(node, "hugepages-2Mi", "1Gi", "hugepages_allocatable") == {
        "check": "hugepages_allocatable", "ok": True, "expected": "hugepages-2Mi >= 1Gi",
        "actual": "hugepages-2Mi = 2Gi", "hint": ""}
    assert v.check_allocatable({}, "openshift.io/quantbot_hft_vf", 1, "sriov_vf_allocatable")["actual"] == \
        "openshift.io/quantbot_hft_vf = absent"


def test_check_ptp_pod_kept_its_behaviour():
    pods = [{"metadata": {"name": "quantbot-ptp-abc", "namespace": "alphaswarm-bots"}, "status": {"phase": "Running"}}]
    assert v.check_ptp_pod(pods, "alphaswarm-bots", "quantbot-ptp")["ok"] is True
    assert v.check_ptp_pod([], "alphaswarm-bots", "quantbot-ptp")["actual"] == "no quantbot-ptp pod on the node"


@pytest.mark.parametrize("value, text", [(Decimal(2 ** 30), "1Gi"), (Decimal(1536 * 2 ** 20), "1536Mi"),
                                         (Decimal(0), "0"), (Decimal(4), "4"), (Decimal("0.25"), "0.25"),
                                         (Decimal(-(2 ** 30)), "-1Gi"), (Decimal(1000), "1000")])
def test_format_quantity(value, text):
    assert v.format_quantity(value) == text


QUANTITIES = ["0", "1", "4", "100m", "1500m", "1Gi", "512Mi", "2048Ki", "1.5Gi", "1k", "2M", "3G", "1e3", "10E",
              "0.5", "1Ti", "2Pi", "1Ei", "5n", "7u"]


@pytest.mark.parametrize("text", QUANTITIES)
def test_parse_quantity_agrees_with_the_official_client(text):
    quantity = pytest.importorskip("kubernetes.utils.quantity")
    assert v.parse_quantity(text) == quantity.parse_quantity(text)
    assert v._quantity(text) == quantity.parse_quantity(text)   # the remembered form too


def test_our_parser_refuses_what_the_official_client_would_let_through():
    # The official parser turns these into Decimal NaN/Infinity, which then break every comparison.
    for text in ("NaN", "Infinity", "inf"):
        with pytest.raises(ValidateError):
            v.parse_quantity(text)


def test_shared_check_options_match_their_doc_fragment():
    import yaml
    from ansible_collections.quantbot.hft.plugins.doc_fragments.hft_checks import ModuleDocFragment
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(documented) == sorted(v.CHECK_ARG_SPEC)
    for name, spec in v.CHECK_ARG_SPEC.items():
        assert documented[name]["type"] == spec["type"] and documented[name]["default"] == spec["default"], name
