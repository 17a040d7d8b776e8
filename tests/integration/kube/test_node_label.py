# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.node_label end to end: the module as a subprocess against the API."""

from __future__ import annotations

import pytest


def _taint(kube):
    return {"key": kube.label_key, "value": "true", "effect": "NoSchedule"}


def _args(kube, node, **extra):
    args = {"node_name": node, "labels": {kube.label_key: "true"}, "taints": [_taint(kube)]}
    args.update(extra)
    return args


@pytest.fixture
def node(kube):
    name = kube.seed_node("hft-node-07", labels={"topology.kubernetes.io/zone": "ld4"},
                          taints=[{"key": "node.example/maintenance", "value": "no", "effect": "PreferNoSchedule"}])
    yield name
    if kube.real:  # leave the real worker as found
        kube.run("node_label", _args(kube, name, state="absent"))


def test_apply_reports_exact_diff_then_is_idempotent(kube, node):
    before = kube.node(node)
    result = kube.run("node_label", _args(kube, node), diff=True)
    assert result["_rc"] == 0, result
    assert result["changed"] is True
    old_labels = before["metadata"].get("labels") or {}
    old_taints = (before.get("spec") or {}).get("taints") or []
    assert result["diff"]["before"] == {"labels": old_labels, "taints": old_taints}
    assert result["diff"]["after"]["labels"] == dict(old_labels, **{kube.label_key: "true"})
    assert result["diff"]["after"]["taints"] == old_taints + [_taint(kube)]
    assert result["patch"]["metadata"]["labels"] == {kube.label_key: "true"}

    after = kube.node(node)  # read back: applied, other labels and taints kept
    assert after["metadata"]["labels"][kube.label_key] == "true"
    assert after["metadata"]["labels"] == result["labels"]
    assert [t for t in after["spec"]["taints"] if t["key"] == kube.label_key] == [_taint(kube)]
    assert len(after["spec"]["taints"]) == len(old_taints) + 1

    again = kube.run("node_label", _args(kube, node), diff=True)
    assert again["_rc"] == 0 and again["changed"] is False
    assert again["patch"] is None
    assert again["diff"]["before"] == again["diff"]["after"]


def test_defaults_are_the_runbook_label_and_taint(kube):
    if kube.real:
        pytest.skip("the default key would label a real worker quantbot.io/hft")
    node = kube.seed_node("hft-node-08")
    result = kube.run("node_label", {"node_name": node})
    assert result["changed"] is True
    got = kube.node(node)
    assert got["metadata"]["labels"]["quantbot.io/hft"] == "true"
    assert got["spec"]["taints"] == [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]


def test_check_mode_changes_nothing(kube, node):
    before = kube.node(node)
    result = kube.run("node_label", _args(kube, node), check=True, diff=True)
    assert result["_rc"] == 0 and result["changed"] is True
    assert kube.label_key in result["diff"]["after"]["labels"]
    after = kube.node(node)
    assert after["metadata"].get("labels") == before["metadata"].get("labels")
    assert (after.get("spec") or {}).get("taints") == (before.get("spec") or {}).get("taints")


def test_state_absent_removes_label_and_taint_only(kube, node):
    kube.run("node_label", _args(kube, node))
    result = kube.run("node_label", _args(kube, node, state="absent", taints=[
        {"key": kube.label_key, "effect": "NoSchedule"}]), diff=True)  # value ignored, as kubectl taint key:effect-
    assert result["_rc"] == 0 and result["changed"] is True
    after = kube.node(node)
    assert kube.label_key not in (after["metadata"].get("labels") or {})
    assert all(t["key"] != kube.label_key for t in (after.get("spec") or {}).get("taints") or [])
    if not kube.real:
        assert after["metadata"]["labels"]["topology.kubernetes.io/zone"] == "ld4"
        assert after["spec"]["taints"] == [
            {"key": "node.example/maintenance", "value": "no", "effect": "PreferNoSchedule"}]
    again = kube.run("node_label", _args(kube, node, state="absent"))
    assert again["changed"] is False


def test_changed_taint_value_is_updated_not_duplicated(kube, node):
    kube.run("node_label", _args(kube, node))
    result = kube.run("node_label", _args(kube, node, taints=[dict(_taint(kube), value="draining")]))
    assert result["changed"] is True
    mine = [t for t in kube.node(node)["spec"]["taints"] if t["key"] == kube.label_key]
    assert mine == [dict(_taint(kube), value="draining")]


def test_missing_node_fails_clearly_and_secrets_stay_out(kube):
    result = kube.run("node_label", {"node_name": "no-such-node-xyz"})
    assert result["_rc"] != 0 and result["failed"] is True
    assert "no-such-node-xyz does not exist" in result["msg"]
    assert not kube.token or kube.token not in result["_raw"]


def test_kubeconfig_content_and_context(kube, node):
    with open(kube.kubeconfig) as handle:
        content = handle.read()
    result = kube.run("node_label", _args(kube, node, kubeconfig_content=content), auth=False, check=True)
    assert result["_rc"] == 0, result
    assert content not in result["_raw"]
    assert not kube.token or kube.token not in result["_raw"]
    assert result["invocation"]["module_args"]["kubeconfig_content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    if not kube.real:  # the "wrong" context points at a closed port: the context is honoured
        wrong = kube.run("node_label", _args(kube, node, context="wrong", api_timeout=3), check=True)
        assert wrong["failed"] is True and "127.0.0.1" in wrong["msg"]
