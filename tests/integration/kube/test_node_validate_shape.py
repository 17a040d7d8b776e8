# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_validate's output shape; read-only, so it also runs against a real cluster."""

from __future__ import annotations


def test_output_has_the_runbook_shape(kube, hft_node):
    result = kube.run("node_validate", {"node_name": hft_node, "gather_host": False})
    assert result["_rc"] == 0, result
    assert isinstance(result["valid"], bool) and result["changed"] is False
    assert result["valid"] is (result["failures"] == [])
    for failure in result["failures"]:
        assert set(failure) == {"check", "expected", "actual", "hint"} and failure["hint"]
    checks = [c["check"] for c in result["checks"]]
    assert checks[:4] == ["label", "ptp_pod", "hugepages_allocatable", "sriov_vf_allocatable"] or \
        checks[0] == "kubelet_configz"
    assert "plan-based host checks (no plan given)" in result["skipped_checks"]
