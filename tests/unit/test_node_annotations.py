# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_nodeops.annotation_change: the annotations part of node_label's patch."""

from __future__ import annotations

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._nodeops import NodeOpsError, annotation_change

NODE = {"metadata": {"name": "hft-node-07", "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                                            "quantbot.io/hft-valid": "false"}}}


def test_set_update_and_remove_in_one_patch():
    change = annotation_change(NODE, {"quantbot.io/hft-valid": "true", "quantbot.io/hft-plan": "5d41402abc4b",
                                      "quantbot.io/hft-failed-checks": None}, "present")
    assert change["patch"] == {"quantbot.io/hft-valid": "true", "quantbot.io/hft-plan": "5d41402abc4b"}
    assert change["after"] == {"node.alpha.kubernetes.io/ttl": "0", "quantbot.io/hft-valid": "true",
                               "quantbot.io/hft-plan": "5d41402abc4b"}
    assert change["before"] == NODE["metadata"]["annotations"] and change["changed"] is True


def test_null_removes_an_existing_annotation():
    change = annotation_change(NODE, {"quantbot.io/hft-valid": None}, "present")
    assert change["patch"] == {"quantbot.io/hft-valid": None}
    assert change["after"] == {"node.alpha.kubernetes.io/ttl": "0"}


def test_idempotent_and_bools_become_strings():
    same = annotation_change(NODE, {"quantbot.io/hft-valid": "false", "quantbot.io/absent": None}, "present")
    assert same == {"changed": False, "patch": None, "before": NODE["metadata"]["annotations"],
                    "after": NODE["metadata"]["annotations"]}
    assert annotation_change(NODE, {"quantbot.io/hft-valid": False}, "present")["changed"] is False
    assert annotation_change({"metadata": {}}, {"quantbot.io/hft-valid": True}, "present")["patch"] == {
        "quantbot.io/hft-valid": "true"}


def test_absent_removes_whatever_the_value():
    change = annotation_change(NODE, {"quantbot.io/hft-valid": "true", "quantbot.io/never-there": "x"}, "absent")
    assert change["patch"] == {"quantbot.io/hft-valid": None}
    assert change["after"] == {"node.alpha.kubernetes.io/ttl": "0"}


def test_bad_state():
    with pytest.raises(NodeOpsError, match="state must be present or absent"):
        annotation_change(NODE, {}, "gone")
