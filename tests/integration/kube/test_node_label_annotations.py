# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.node_label annotations (the host-validation verdict) and its input checks,
end to end against the API."""

from __future__ import annotations

import pytest

VERDICT = {"quantbot.io/hft-validated-at": "2026-12-01T12:00:00Z", "quantbot.io/hft-valid": "false",
           "quantbot.io/hft-failed-checks": "kernel_cmdline,ptp_sync", "quantbot.io/hft-plan": "45a25a7423c5"}


@pytest.fixture
def node(kube):
    name = kube.seed_node("hft-node-07", labels={"topology.kubernetes.io/zone": "ld4"})
    yield name
    if kube.real:
        kube.run("node_label", {"node_name": name, "labels": {}, "taints": [], "annotations": dict.fromkeys(VERDICT)})


def _only_annotations(node, annotations, **extra):
    args = {"node_name": node, "labels": {}, "taints": [], "annotations": annotations}
    args.update(extra)
    return args


def test_write_the_verdict_then_idempotent(kube, node):
    before = kube.node(node)
    result = kube.run("node_label", _only_annotations(node, VERDICT), diff=True)
    assert result["_rc"] == 0 and result["changed"] is True, result
    old = before["metadata"].get("annotations") or {}
    assert result["diff"]["before"]["annotations"] == old
    assert result["diff"]["after"]["annotations"] == dict(old, **VERDICT)
    assert result["patch"] == {"metadata": {"annotations": VERDICT}}
    after = kube.node(node)
    assert dict((k, after["metadata"]["annotations"][k]) for k in VERDICT) == VERDICT
    assert after["metadata"]["labels"] == before["metadata"]["labels"]      # labels untouched
    assert result["annotations"] == after["metadata"]["annotations"]
    again = kube.run("node_label", _only_annotations(node, VERDICT), diff=True)
    assert again["changed"] is False and again["patch"] is None


def test_a_new_verdict_replaces_and_null_removes(kube, node):
    kube.run("node_label", _only_annotations(node, VERDICT))
    passing = dict(VERDICT, **{"quantbot.io/hft-valid": "true", "quantbot.io/hft-failed-checks": None})
    result = kube.run("node_label", _only_annotations(node, passing))
    assert result["changed"] is True
    notes = kube.node(node)["metadata"]["annotations"]
    assert notes["quantbot.io/hft-valid"] == "true" and "quantbot.io/hft-failed-checks" not in notes


def test_check_mode_shows_the_change_and_writes_nothing(kube, node):
    before = kube.node(node)
    result = kube.run("node_label", _only_annotations(node, VERDICT), check=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["annotations"]["quantbot.io/hft-valid"] == "false"
    assert kube.node(node)["metadata"].get("annotations") == before["metadata"].get("annotations")


def test_state_absent_removes_the_named_annotations_only(kube, node):
    kube.run("node_label", _only_annotations(node, dict(VERDICT, **{"quantbot.io/keep": "yes"})))
    result = kube.run("node_label", _only_annotations(node, dict.fromkeys(VERDICT, "ignored"), state="absent"))
    assert result["changed"] is True
    notes = kube.node(node)["metadata"]["annotations"]
    assert not set(VERDICT) & set(notes) and notes["quantbot.io/keep"] == "yes"


def test_labels_taints_and_annotations_in_one_patch(kube, node):
    args = {"node_name": node, "labels": {kube.label_key: "true"},
            "taints": [{"key": kube.label_key, "value": "true", "effect": "NoSchedule"}], "annotations": VERDICT}
    result = kube.run("node_label", args)
    assert result["changed"] is True
    assert set(result["patch"]) == {"metadata", "spec"} and set(result["patch"]["metadata"]) == {"labels", "annotations"}


def test_without_the_option_annotations_are_neither_read_into_the_diff_nor_returned(kube, node):
    result = kube.run("node_label", {"node_name": node, "labels": {kube.label_key: "true"}, "taints": []}, diff=True)
    assert "annotations" not in result and "annotations" not in result["diff"]["after"]


@pytest.mark.parametrize("args, words", [
    ({"labels": {"quantbot.io/hft pool": "true"}}, "label key 'quantbot.io/hft pool'"),
    ({"labels": {"Quantbot.io/hft": "true"}}, "prefix 'Quantbot.io' is not a DNS subdomain"),
    ({"labels": {"quantbot.io/" + "x" * 64: "true"}}, "is 64 characters long (at most 63)"),
    ({"labels": {"quantbot.io/hft": "yes please"}}, "value of label quantbot.io/hft 'yes please'"),
    ({"labels": {"quantbot.io/hft": "v" * 64}}, "is 64 characters long"),
    ({"taints": [{"key": "quantbot.io/hft=true:NoSchedule"}]},
     "looks like kubectl's key=value:Effect; give key: quantbot.io/hft, value: true, effect: NoSchedule"),
    ({"taints": [{"key": "quantbot.io/hft", "value": "not ok"}]}, "value of taint quantbot.io/hft 'not ok'"),
    ({"taints": [{"key": "quantbot.io/hft", "effect": "NoScheduleX"}]}, "NoScheduleX"),
    ({"annotations": {"quantbot.io/hft valid": "true"}}, "annotation key 'quantbot.io/hft valid'"),
])
@pytest.mark.parametrize("check", [False, True])
def test_values_the_api_would_reject_are_refused_before_any_request(kube, args, words, check):
    if kube.real:
        pytest.skip("counts the requests of the emulator")
    full = {"node_name": "hft-node-07", "labels": {}, "taints": []}
    full.update(args)
    result = kube.run("node_label", full, check=check)
    assert result["_rc"] != 0 and words in result["msg"], result["msg"]
    assert kube.server.requests() == []          # not even the GET of the Node
    assert "Traceback" not in result["_raw"]


def test_absent_checks_keys_only(kube, node):
    result = kube.run("node_label", {"node_name": node, "labels": {"quantbot.io/hft": "any value at all"},
                                     "taints": [], "state": "absent"})
    assert result["_rc"] == 0, result.get("msg")
